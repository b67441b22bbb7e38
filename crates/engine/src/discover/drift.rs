//! `imagegate init --check`: the drift between a configuration and the repository's Argo CD
//! manifests. The manifests' side is the matrix an `argocd:` section over every manifest of the
//! repository makes (with the configuration's own `helm:` defaults, and its `argocd:` repository
//! URLs, clusters and environment template when it has them); the configuration's side is its
//! own matrix. Cells are paired by environment and application name and compared field by field:
//! the chart, the values files helm reads (present ones, in order), the release name, the
//! namespace, inline values and parameters.

use super::{walk, Tree};
use crate::{Config, Fatal};
use imagegate_fleet::{Cell, Repo};
use serde_json::json;
use std::collections::BTreeMap;
use std::path::Path;

/// The outcome of a drift check.
pub struct Drift {
    /// One line per cell that differs (missing on one side, or a field that differs).
    pub differences: Vec<String>,
    /// How many cells the manifests generate.
    pub manifest_cells: usize,
    /// How many cells the configuration makes.
    pub config_cells: usize,
    /// Applications of the manifests that are not rendered, with their reason.
    pub not_judged: Vec<String>,
}

/// The fields of a cell the check compares, named as the report names them.
fn fields(c: &Cell) -> Vec<(&'static str, String)> {
    let files: Vec<&str> = c.present_value_files().collect();
    let params: Vec<String> = c
        .parameters
        .iter()
        .map(|p| format!("{}={} ({:?})", p.name, p.value, p.kind))
        .collect();
    vec![
        ("chart", c.chart.clone()),
        ("values", format!("[{}]", files.join(", "))),
        ("release", c.release.clone()),
        ("namespace", c.namespace.clone()),
        (
            "inline values",
            c.inline_values
                .as_ref()
                .map_or_else(|| "none".to_string(), |v| v.text.trim().to_string()),
        ),
        ("parameters", format!("[{}]", params.join(", "))),
    ]
}

/// Where a cell came from, for the report.
fn origin(c: &Cell) -> String {
    match &c.argocd {
        Some(o) => o.describe(),
        None => format!("component {} ({})", c.component, c.source),
    }
}

/// The configuration text of the manifests' side.
fn manifests_config(cfg: &Config, facts: &super::argocd::Facts) -> Result<String, Fatal> {
    let own = cfg.model.argocd.as_ref();
    let mut repo_url: Vec<String> = facts.confirmed.clone();
    if let Some(a) = own {
        for u in &a.repo_url {
            if !repo_url.contains(u) {
                repo_url.push(u.clone());
            }
        }
    }
    if repo_url.is_empty() && !facts.unconfirmed.is_empty() {
        return Err(Fatal(format!(
            "cannot tell which repository URL is this repository: no remote of this checkout is one of {}, and {} has no argocd.repoURL\n  hint: add `argocd: {{repoURL: [...]}}` to the configuration, or run the check in a checkout whose remote is the repository",
            facts.unconfirmed.join(", "),
            cfg.file
        )));
    }
    let mut argocd = json!({
        "manifests": facts.manifests,
        "repoURL": repo_url,
    });
    if let Some(a) = own {
        argocd["environment"] = json!(a.environment);
        argocd["newGitFileGlobbing"] = json!(a.new_git_file_globbing);
        if let Some(clusters) = &a.clusters {
            argocd["clusters"] = clusters
                .iter()
                .map(|c| {
                    json!({
                        "name": c.name,
                        "server": c.server,
                        "project": c.project,
                        "labels": c.labels,
                        "annotations": c.annotations,
                    })
                })
                .collect();
        }
    }
    if facts.has_clusters_generator && own.and_then(|a| a.clusters.as_ref()).is_none() {
        return Err(Fatal(format!(
            "an ApplicationSet has a `clusters` generator, and {} lists no argocd.clusters: the clusters it selects are not in this repository\n  hint: list Argo CD's clusters under argocd.clusters (name, server, labels)",
            cfg.file
        )));
    }
    let helm = &cfg.model.helm;
    Ok(json!({
        "version": 1,
        "helm": {
            "kubeVersion": helm.kube_version,
            "apiVersions": helm.api_versions,
            "includeCrds": helm.include_crds,
            "timeoutSeconds": helm.timeout_seconds,
        },
        "argocd": argocd,
        "missingValueFiles": "skip",
    })
    .to_string())
}

/// Compares the configuration `cfg` of the repository at `root` with what its Argo CD manifests
/// generate. An error when the repository holds no manifests or they do not resolve.
pub fn drift(root: &Path, cfg: &Config, helm: Option<&Path>) -> Result<Drift, Fatal> {
    let tree: Tree = walk(root).map_err(|e| Fatal(e.to_string()))?;
    let Some(facts) = super::argocd::facts(root, &tree) else {
        return Err(Fatal(format!(
            "{}: no Argo CD Application or ApplicationSet manifest found: there is nothing to compare {} with",
            root.display(),
            cfg.file
        )));
    };
    let text = manifests_config(cfg, &facts)?;
    let repo = Repo::open(root).map_err(|e| Fatal(e.to_string()))?;
    let templates = crate::config::LazyHelmTemplates::new(helm, repo.root());
    let theirs = Config::from_text_with(repo, "(the Argo CD manifests)", &text, Some(&templates))
        .and_then(|c| Ok((c.cells()?, c.argocd.not_judged.clone())))
        .map_err(|e| Fatal(format!("the Argo CD manifests do not resolve: {e}")))?;
    let (theirs, not_judged) = theirs;
    let ours = cfg.cells().map_err(|e| Fatal(e.to_string()))?;
    let key = |c: &Cell| format!("{}/{}", c.environment, c.app);
    let ours_by: BTreeMap<String, &Cell> = ours.iter().map(|c| (key(c), c)).collect();
    let theirs_by: BTreeMap<String, &Cell> = theirs.iter().map(|c| (key(c), c)).collect();
    let mut differences = Vec::new();
    let mut keys: Vec<&String> = ours_by.keys().chain(theirs_by.keys()).collect();
    keys.sort();
    keys.dedup();
    for k in keys {
        match (ours_by.get(k), theirs_by.get(k)) {
            (Some(o), None) => differences.push(format!(
                "{k}: only in {} ({}); the Argo CD manifests generate no such application",
                cfg.file,
                origin(o)
            )),
            (None, Some(t)) => differences.push(format!(
                "{k}: only in the Argo CD manifests ({}); {} has no such cell",
                origin(t),
                cfg.file
            )),
            (Some(o), Some(t)) => {
                for ((name, a), (_, b)) in fields(o).into_iter().zip(fields(t)) {
                    if a != b {
                        differences.push(format!(
                            "{k}: {name} differs: {} has {a}, the Argo CD manifests ({}) {b}",
                            cfg.file,
                            origin(t)
                        ));
                    }
                }
            }
            (None, None) => {}
        }
    }
    Ok(Drift {
        differences,
        manifest_cells: theirs.len(),
        config_cells: ours.len(),
        not_judged: not_judged
            .iter()
            .map(|n| format!("{}:{}: {} ({})", n.manifest, n.line, n.app, n.reason))
            .collect(),
    })
}
