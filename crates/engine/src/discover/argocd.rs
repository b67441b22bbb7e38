//! `imagegate init` in a repository that holds its Argo CD manifests: the configuration is an
//! `argocd:` section naming them, so the matrix is what Argo CD generates and nothing is
//! described twice.
//!
//! What is derived, and from where:
//! - `manifests`: every YAML file (outside charts) with an `argoproj.io` `Application` or
//!   `ApplicationSet`; a folder whose YAML files all are manifests is written as `folder/*.yaml`.
//! - `repoURL`: the `repoURL`s the manifests name (sources and git generators, templated ones
//!   left out) that are this checkout's own remotes (read from `.git/config`, no git run). A URL
//!   no remote confirms is written as an open question, never silently taken for this
//!   repository.
//! - `clusters`: when an ApplicationSet has a `clusters` generator, Argo CD's cluster Secrets
//!   decide its cells and they are not in the repository: an open question.

use super::write_questions;
use super::{file_name, is_yaml, parent, q, write_common_tail, write_header, write_helm};
use super::{Proposal, Question, Tree, MAX_FILE_BYTES};
use imagegate_fleet::normalise_repo_url;
use serde_json::Value as Json;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;

/// Whether a YAML text holds an Argo CD Application or ApplicationSet (a cheap look at the text;
/// the `argocd:` reader passes over documents of other kinds anyway).
fn holds_argo_objects(text: &str) -> bool {
    text.contains("argoproj.io/")
        && text.lines().any(|l| {
            let l = l.trim().trim_start_matches("- ").trim();
            let kind = l.strip_prefix("kind:").map(|k| {
                k.split('#')
                    .next()
                    .unwrap_or_default()
                    .trim()
                    .trim_matches(['"', '\''])
            });
            matches!(kind, Some("Application" | "ApplicationSet"))
        })
}

/// What the manifests of a repository say that init needs.
#[derive(Default)]
struct Found {
    /// Manifest files, repository-relative.
    files: Vec<String>,
    /// Every literal `repoURL` of a git source or git generator, with the files naming it.
    repo_urls: BTreeMap<String, BTreeSet<String>>,
    /// Files with a `clusters` generator.
    cluster_generators: BTreeSet<String>,
}

/// Walks a manifest document for the `repoURL`s of git sources and generators, and for
/// `clusters` generators.
fn scan(node: &Json, file: &str, found: &mut Found, depth: usize) {
    if depth > 64 {
        return;
    }
    match node {
        Json::Object(map) => {
            if let Some(Json::String(url)) = map.get("repoURL") {
                // A Helm repository source (`chart:`) is no git repository.
                if !map.contains_key("chart") && !url.contains("{{") && !url.trim().is_empty() {
                    found
                        .repo_urls
                        .entry(url.trim().to_string())
                        .or_default()
                        .insert(file.to_string());
                }
            }
            if let Some(Json::Array(gens)) = map.get("generators") {
                if gens.iter().any(|g| g.get("clusters").is_some()) {
                    found.cluster_generators.insert(file.to_string());
                }
            }
            for v in map.values() {
                scan(v, file, found, depth + 1);
            }
        }
        Json::Array(items) => {
            for v in items {
                scan(v, file, found, depth + 1);
            }
        }
        _ => {}
    }
}

/// The URLs of the remotes of the checkout at `root`, read from its git config file (a `.git`
/// folder, or the `gitdir:` a `.git` file names, and its `commondir`). Nothing is run.
fn remote_urls(root: &Path) -> Vec<String> {
    let dot_git = root.join(".git");
    let git_dir = if dot_git.is_dir() {
        dot_git
    } else {
        let Ok(text) = std::fs::read_to_string(&dot_git) else {
            return Vec::new();
        };
        let Some(dir) = text.trim().strip_prefix("gitdir:") else {
            return Vec::new();
        };
        let dir = root.join(dir.trim());
        match std::fs::read_to_string(dir.join("commondir")) {
            Ok(common) => dir.join(common.trim()),
            Err(_) => dir,
        }
    };
    let config = git_dir.join("config");
    let Ok(meta) = std::fs::metadata(&config) else {
        return Vec::new();
    };
    if meta.len() > MAX_FILE_BYTES {
        return Vec::new();
    }
    let Ok(text) = std::fs::read_to_string(config) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut in_remote = false;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_remote = line.starts_with("[remote ");
            continue;
        }
        if in_remote {
            if let Some((k, v)) = line.split_once('=') {
                if k.trim() == "url" {
                    out.push(v.trim().trim_matches('"').to_string());
                }
            }
        }
    }
    out
}

/// What the Argo CD manifests of a repository say: the globs naming them, and the repository
/// URLs they use, split by whether a remote of the checkout confirms them.
pub(super) struct Facts {
    found: Found,
    /// Globs (or files) of the manifests, repository-relative.
    pub manifests: Vec<String>,
    /// URLs a remote of this checkout confirms.
    pub confirmed: Vec<String>,
    /// URLs no remote confirms.
    pub unconfirmed: Vec<String>,
    /// Whether an ApplicationSet has a `clusters` generator.
    pub has_clusters_generator: bool,
}

/// The facts of the repository's Argo CD manifests; `None` when it holds none.
pub(super) fn facts(root: &Path, tree: &Tree) -> Option<Facts> {
    let mut found = Found::default();
    for f in tree.files.iter().filter(|f| is_yaml(f)) {
        if file_name(f) == "imagegate.yaml" {
            continue;
        }
        let path = root.join(f);
        if std::fs::metadata(&path).map_or(true, |m| m.len() > MAX_FILE_BYTES) {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        if !holds_argo_objects(&text) {
            continue;
        }
        found.files.push(f.clone());
        // A manifest that does not parse is still listed: the `argocd:` reader names its line.
        if let Ok(docs) = imagegate_yaml::load_all(&text, &imagegate_yaml::Limits::default()) {
            for d in docs {
                scan(&d.to_json(), f, &mut found, 0);
            }
        }
    }
    if found.files.is_empty() {
        return None;
    }

    // Globs: a folder whose YAML files are all manifests is one `folder/*.yaml` (the files of
    // each extension), else the files one by one.
    let mut manifests: Vec<String> = Vec::new();
    let mut by_dir: BTreeMap<&str, Vec<&String>> = BTreeMap::new();
    for f in &found.files {
        by_dir.entry(parent(f)).or_default().push(f);
    }
    for (dir, files) in by_dir {
        let yaml_here = tree
            .files
            .iter()
            .filter(|f| parent(f) == dir && is_yaml(f) && file_name(f) != "imagegate.yaml")
            .count();
        if files.len() > 1 && files.len() == yaml_here {
            let at = if dir.is_empty() {
                String::new()
            } else {
                format!("{dir}/")
            };
            for ext in ["yaml", "yml"] {
                if files.iter().any(|f| f.ends_with(&format!(".{ext}"))) {
                    manifests.push(format!("{at}*.{ext}"));
                }
            }
        } else {
            manifests.extend(files.into_iter().cloned());
        }
    }

    let remotes: BTreeSet<String> = remote_urls(root)
        .iter()
        .map(|u| normalise_repo_url(u))
        .collect();
    let (confirmed, unconfirmed): (Vec<String>, Vec<String>) = found
        .repo_urls
        .keys()
        .cloned()
        .partition(|u| remotes.contains(&normalise_repo_url(u)));
    Some(Facts {
        has_clusters_generator: !found.cluster_generators.is_empty(),
        found,
        manifests,
        confirmed,
        unconfirmed,
    })
}

/// The `argocd:` proposal, when the repository holds Argo CD manifests; `None` otherwise.
pub(super) fn propose(root: &Path, tree: &Tree) -> Option<Proposal> {
    let Facts {
        found,
        manifests,
        confirmed,
        unconfirmed,
        ..
    } = facts(root, tree)?;
    let mut questions = Vec::new();
    let mut notes = Vec::new();
    let repo_urls: Vec<String> = if confirmed.is_empty() {
        // Nothing confirms which URL is this repository: list them all, and ask.
        if !unconfirmed.is_empty() {
            questions.push(Question {
                question: format!(
                    "Which of these repository URLs are this repository? No remote of this checkout confirms any of them: {}. Keep in argocd.repoURL the ones that are (their sources are rendered from this checkout) and delete the others (their applications are then listed as not judged).",
                    unconfirmed.join(", ")
                ),
                from: unconfirmed
                    .iter()
                    .flat_map(|u| found.repo_urls[u].iter().cloned())
                    .collect::<BTreeSet<_>>()
                    .into_iter()
                    .collect(),
            });
        }
        unconfirmed.clone()
    } else {
        if !unconfirmed.is_empty() {
            notes.push(format!(
                "repository URLs that are not this checkout's remotes, whose applications are not judged: {}",
                unconfirmed.iter().map(|u| u.as_str()).collect::<Vec<_>>().join(", ")
            ));
        }
        confirmed
    };
    if repo_urls.is_empty() {
        questions.push(Question {
            question: "Which URLs are this repository? The manifests name no repository URL as written (templated ones are not resolved here). List them under argocd.repoURL; until then no source is read from this checkout and every application is listed as not judged.".into(),
            from: found.files.clone(),
        });
    }
    if !found.cluster_generators.is_empty() {
        questions.push(Question {
            question: "Which clusters does Argo CD know? A `clusters` generator makes one application per cluster Secret it selects, and those Secrets are not in this repository. List each under argocd.clusters (name, server, labels) as its Secret declares it.".into(),
            from: found.cluster_generators.iter().cloned().collect(),
        });
    }

    let mut o = String::new();
    let w = &mut o;
    write_header(
        w,
        "the Argo CD manifests of this repository: the cells are the Helm applications they generate",
    );
    write_helm(w);
    let _ = writeln!(w, "argocd:");
    let _ = writeln!(
        w,
        "  # The files holding Application and ApplicationSet objects."
    );
    let _ = writeln!(w, "  manifests:");
    for m in &manifests {
        let _ = writeln!(w, "    - {}", q(m));
    }
    let _ = writeln!(
        w,
        "  # The URLs that mean this repository: their sources are rendered from this checkout."
    );
    if repo_urls.is_empty() {
        let _ = writeln!(w, "  repoURL: []");
    } else {
        let _ = writeln!(w, "  repoURL:");
        for u in &repo_urls {
            let _ = writeln!(w, "    - {}", q(u));
        }
    }
    if !found.cluster_generators.is_empty() {
        let _ = writeln!(
            w,
            "  # The clusters of the `clusters` generators (see openQuestions), e.g."
        );
        let _ = writeln!(
            w,
            "  # - {{ name: prod-eu, server: https://eu.example, labels: {{ env: prod }} }}"
        );
        let _ = writeln!(w, "  clusters: []");
    }
    let _ = writeln!(w);
    write_questions(w, &questions);
    write_common_tail(w);
    Some(Proposal {
        text: o,
        notes,
        questions,
        layout: "Argo CD manifests",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argo_objects_are_recognised_by_kind() {
        assert!(holds_argo_objects(
            "apiVersion: argoproj.io/v1alpha1\nkind: Application\n"
        ));
        assert!(holds_argo_objects(
            "apiVersion: v1\nkind: List\nitems:\n- apiVersion: argoproj.io/v1alpha1\n  kind: \"ApplicationSet\" # fleet\n"
        ));
        assert!(!holds_argo_objects(
            "apiVersion: argoproj.io/v1alpha1\nkind: AppProject\n"
        ));
        assert!(!holds_argo_objects("kind: Application\n"));
    }

    #[test]
    fn remotes_are_read_from_the_git_config() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join(".git")).unwrap();
        std::fs::write(
            dir.path().join(".git/config"),
            "[core]\n\turl = not-a-remote\n[remote \"origin\"]\n\turl = git@github.com:acme/gitops.git\n\tfetch = +refs/heads/*:refs/remotes/origin/*\n[remote \"mirror\"]\n\turl = https://gitlab.example/acme/gitops\n",
        )
        .unwrap();
        assert_eq!(
            remote_urls(dir.path()),
            [
                "git@github.com:acme/gitops.git",
                "https://gitlab.example/acme/gitops"
            ]
        );
        assert!(remote_urls(&dir.path().join("nowhere")).is_empty());
    }
}
