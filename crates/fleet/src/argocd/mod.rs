//! Cells from Argo CD's own manifests (the `argocd:` section): every `Application` the manifest
//! files declare, and every one their `ApplicationSet`s generate, becomes a cell rendered as Argo
//! CD's repo server renders it, so the fleet is described once.
//!
//! What is followed, from Argo CD's `reposerver/repository/repository.go` (`helmTemplate`,
//! `getResolvedValueFiles`) and `util/helm/cmd.go` (`template`):
//!
//! - the chart is `source.path`, relative to the repository root; the source is a Helm chart when
//!   it says `helm:` or its folder holds a `Chart.yaml` (Argo CD's own discovery);
//! - `helm.valueFiles` in their order, each relative to the chart folder (`/…` to the repository
//!   root, `$ref/…` to the root of the source with `ref: ref`), globs expanded in lexical order
//!   with an explicitly listed file keeping its own place, duplicates dropped; a missing file is
//!   skipped with `ignoreMissingValueFiles` and an error otherwise;
//! - then one more values layer: `helm.valuesObject` when set, else `helm.values` (Argo CD writes
//!   it to a scratch file passed as the last `--values`);
//! - then `helm.parameters` as `--set` (`--set-string` with `forceString`) and
//!   `helm.fileParameters` as `--set-file`, which helm applies after every values file whatever
//!   their place on the command line;
//! - `helm.releaseName` else the Application's name; `helm.namespace` else the destination's
//!   namespace; `helm.kubeVersion` and `helm.apiVersions` else `helm:`'s defaults; `skipCrds`.
//!
//! An Application whose source is no Helm chart of this repository (kustomize, a plain
//! directory, a plugin, a chart from a Helm repository, another repository) is kept as
//! [`NotJudged`] with its reason, so every report can say so.
//!
//! This module reads the manifests as YAML trees with lines; it knows nothing of helm. Go
//! templates (`goTemplate: true`) need Go's own `text/template` and sprig: they are handed to a
//! [`GoTemplates`] evaluator (the engine runs them through helm), never approximated here.

mod appset;
mod clusters;
mod envsubst;
mod git;
pub(crate) mod gotemplate;
mod lines;
mod overrides;

pub use gotemplate::{
    lex as lex_go_template, rename_function, GoTemplateFailure, GoTemplateJob, GoTemplates,
    ARGO_ONLY,
};

use crate::{render_template, ConfigError, Repo, MAX_CONFIG_BYTES};
use imagegate_yaml::{Node, Value};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The `argocd:` section: the cells are the Helm applications these Argo CD manifests generate.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ArgoCdSettings {
    /// Globs of the files that hold `Application` and `ApplicationSet` objects, relative to the
    /// repository root (for example `argocd/**/*.yaml`). A file may hold several documents and
    /// `List`s; documents of other kinds are passed over.
    pub manifests: Vec<String>,
    /// The repository URLs that mean this repository (`https://github.com/acme/gitops`,
    /// `git@github.com:acme/gitops.git`, …). A source whose `repoURL` is one of them is read from
    /// this checkout; any other is not judged. Compared normalised: without scheme, user, `.git`
    /// suffix and trailing slash, the host without regard to case.
    #[serde(rename = "repoURL")]
    pub repo_url: Vec<String>,
    /// Template of the environment name of an Argo CD cell. Placeholders: `{destination}` (the
    /// destination's `name`, else `in-cluster` for `https://kubernetes.default.svc`, else the
    /// host of its `server`), `{namespace}` (the destination namespace), `{project}`, `{name}`
    /// (the Application's).
    #[serde(default = "default_environment")]
    pub environment: String,
    /// Match the `files` of ApplicationSet git generators as doublestar globs (`*` within a
    /// folder, `**` across folders), as Argo CD does with
    /// `applicationsetcontroller.enable.new.git.file.globbing`. Off (Argo CD's default): as
    /// `git ls-files` matches a pathspec, `*` crossing folders.
    #[serde(default)]
    pub new_git_file_globbing: bool,
    /// The clusters Argo CD knows (its cluster Secrets), for ApplicationSet `clusters`
    /// generators. Without this list a `clusters` generator is an error: imagegate reads no
    /// cluster Secrets.
    #[serde(default)]
    pub clusters: Option<Vec<ArgoCluster>>,
    /// The namespace Argo CD runs in. An Application in another namespace (apps in any
    /// namespace) reads its own override file as `.argocd-source-<namespace>_<name>.yaml`,
    /// one in this namespace (or with none) as `.argocd-source-<name>.yaml`.
    #[serde(default = "default_namespace")]
    pub namespace: String,
    /// The `targetRevision`s that mean the revision under check: a source of this repository
    /// at any other (a tag, a commit, another branch) deploys what that revision holds, which
    /// this checkout does not show, so it is not judged. An empty `targetRevision` is `HEAD`;
    /// `refs/heads/<branch>` is `<branch>`.
    #[serde(default = "default_target_revisions", rename = "targetRevisions")]
    pub target_revisions: Vec<String>,
}

/// The revisions that mean the one under check when a configuration names none.
pub(crate) fn default_target_revisions() -> Vec<String> {
    ["HEAD", "main", "master"].map(String::from).to_vec()
}

/// Whether `revision` (an Argo CD `targetRevision`, a component's `chart.version`) is one of
/// `checked`: empty is `HEAD`, `refs/heads/<branch>` is `<branch>`.
pub(crate) fn is_checked_revision(checked: &[String], revision: &str) -> bool {
    let r = revision.trim();
    let r = r.strip_prefix("refs/heads/").unwrap_or(r);
    r.is_empty() || checked.iter().any(|t| t == r)
}

impl ArgoCdSettings {
    /// Whether `revision` (a source's `targetRevision`) is one of [`Self::target_revisions`].
    pub fn is_checked_revision(&self, revision: &str) -> bool {
        is_checked_revision(&self.target_revisions, revision)
    }
}

fn default_namespace() -> String {
    "argocd".into()
}

/// One cluster Argo CD knows, as its cluster Secret declares it.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ArgoCluster {
    /// The Secret's `name` (`{{name}}`).
    pub name: String,
    /// The Secret's `server` (`{{server}}`).
    pub server: String,
    /// The Secret's `project` (`{{project}}`), if any.
    #[serde(default)]
    pub project: Option<String>,
    /// The Secret's labels (`{{metadata.labels.<key>}}`; what `selector` matches).
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// The Secret's annotations (`{{metadata.annotations.<key>}}`).
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
}

fn default_environment() -> String {
    "{destination}".into()
}

/// An Argo CD Application whose source imagegate does not render, and why: reported, never
/// silently skipped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NotJudged {
    /// The Application's name (with `.sourceN` for one source of several).
    pub app: String,
    /// The manifest file (repository-relative) and line it came from.
    pub manifest: String,
    /// 1-based line in `manifest`.
    pub line: u32,
    /// The ApplicationSet generator element it came from, if any (`list.elements[2]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub element: Option<String>,
    /// Why it is not rendered.
    pub reason: String,
}

/// Where an Argo CD cell came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ArgoOrigin {
    /// The manifest file, repository-relative.
    pub manifest: String,
    /// 1-based line of the Application (for a generated one, of its ApplicationSet).
    pub line: u32,
    /// `Application` or `ApplicationSet`.
    pub kind: String,
    /// The name of that object.
    pub name: String,
    /// The generator element (`list.elements[0]`), for an ApplicationSet.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub element: Option<String>,
    /// The index in `spec.sources`, for a multi-source Application.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<usize>,
}

impl ArgoOrigin {
    /// `file:line`, then the element when there is one: how `imagegate cells` shows it.
    pub fn describe(&self) -> String {
        let mut s = format!(
            "{}:{} {} {}",
            self.manifest, self.line, self.kind, self.name
        );
        if let Some(e) = &self.element {
            s.push_str(&format!(" {e}"));
        }
        if let Some(i) = self.source {
            s.push_str(&format!(" sources[{i}]"));
        }
        s
    }
}

/// Values written inline in an Application (`helm.valuesObject`, else `helm.values`): the last
/// values layer helm reads, after every values file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct InlineValues {
    /// The values as YAML helm reads, laid out so that every line is the line of the manifest
    /// it was written on (blank lines in front; a `valuesObject` written key by key, scalars
    /// as JSON), so an origin found in the text is a line of `file`.
    pub text: String,
    /// The manifest the values are written in.
    pub file: String,
    /// 1-based line in `file` where the values start (a `values: |` block's first line, a
    /// `valuesObject` mapping's first key).
    pub line: u32,
    /// `helm.values` or `helm.valuesObject` (with `sources[i].` in front for a multi-source one).
    pub field: String,
}

/// How a parameter reaches helm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum ParameterKind {
    /// `--set` (`helm.parameters`).
    Set,
    /// `--set-string` (`helm.parameters` with `forceString: true`).
    SetString,
    /// `--set-file` (`helm.fileParameters`; the value is a repository-relative path).
    SetFile,
}

/// One `helm.parameters` or `helm.fileParameters` entry of an Application.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HelmParameter {
    /// The values path (`image.tag`).
    pub name: String,
    /// The value as Argo CD passes it (commas escaped as Argo CD does; for `setFile` the
    /// repository-relative path of the file).
    pub value: String,
    /// `--set`, `--set-string` or `--set-file`.
    pub kind: ParameterKind,
    /// The manifest the parameter is written in.
    pub file: String,
    /// 1-based line of the entry.
    pub line: u32,
}

impl HelmParameter {
    /// A values layer that sets what this `--set` / `--set-string` parameter sets, its value on
    /// the parameter's line (blank lines in front), for the origin search and the marker
    /// render: `image.tag=1.2` is `{"image":{"tag":"1.2"}}`. `None` for a file parameter and
    /// for names helm reads with more than dots (list indexes, escapes).
    pub fn as_values_layer(&self) -> Option<String> {
        if self.kind == ParameterKind::SetFile
            || self.name.contains(['[', ']', '\\', '='])
            || self.name.split('.').any(str::is_empty)
        {
            return None;
        }
        let value = self.value.replace("\\,", ",");
        let mut json = serde_json::Value::String(value);
        for key in self.name.rsplit('.') {
            json = serde_json::Value::Object(serde_json::Map::from_iter([(key.to_string(), json)]));
        }
        Some(lines::pad_to(self.line, &format!("{json}\n")))
    }

    /// The helm flag.
    pub fn flag(&self) -> &'static str {
        match self.kind {
            ParameterKind::Set => "--set",
            ParameterKind::SetString => "--set-string",
            ParameterKind::SetFile => "--set-file",
        }
    }
}

/// Argo CD's `cleanSetParameters`: a value in braces is a helm list and passes as it is; in any
/// other, a comma not already escaped is escaped, so helm does not split it.
pub fn clean_set_value(value: &str) -> String {
    if value.starts_with('{') && value.ends_with('}') {
        return value.to_string();
    }
    let mut out = String::with_capacity(value.len());
    let mut prev = None;
    for c in value.chars() {
        if c == ',' && prev != Some('\\') {
            out.push_str("\\,");
        } else {
            out.push(c);
        }
        prev = Some(c);
    }
    out
}

/// What the `argocd:` section resolves to.
#[derive(Debug, Clone, Default)]
pub struct ArgoCdFleet {
    /// The cells of the Helm applications, unsorted.
    pub cells: Vec<crate::Cell>,
    /// The applications that are not rendered, in manifest order.
    pub not_judged: Vec<NotJudged>,
}

/// The fixed inputs of resolving the manifests.
pub(crate) struct Resolver<'a> {
    pub repo: &'a Repo,
    pub settings: &'a ArgoCdSettings,
    pub helm: &'a crate::HelmSettings,
    pub this_repo: Vec<String>,
    /// What evaluates `goTemplate` ApplicationSets, when there is one.
    pub templates: Option<&'a dyn GoTemplates>,
    /// `limits.maxCells`: the most applications (parameter sets) an ApplicationSet's
    /// generators may make. A matrix multiplies its children, so the bound is kept while the
    /// sets are made, never only counted afterwards.
    pub max_applications: usize,
    /// The parameter sets the ApplicationSets resolved so far made: the bound is the fleet's.
    pub generated: std::sync::atomic::AtomicUsize,
    /// The steps git generators took so far (a path compared with a pattern, a file read):
    /// bounded by `git::MAX_GENERATOR_WORK` for the fleet, as a matrix evaluates its second
    /// generator once per parameter set of its first.
    pub generator_work: std::sync::atomic::AtomicU64,
    /// The repository's folders, listed once for every git directories generator.
    pub folders: std::sync::OnceLock<Result<Vec<String>, String>>,
    /// The repository's files, listed once for every git files generator.
    pub files: std::sync::OnceLock<Result<Vec<String>, String>>,
}

/// A repository URL normalised for comparison (Argo CD's `NormalizeGitURL` in spirit): no
/// scheme, no user, `host:path` and `host/path` alike, no `.git` suffix or trailing slash, the
/// host lowercase.
pub fn normalise_repo_url(url: &str) -> String {
    let mut u = url.trim();
    if let Some(i) = u.find("://") {
        u = &u[i + 3..];
    }
    if let Some(at) = u.find('@') {
        if !u[..at].contains('/') {
            u = &u[at + 1..];
        }
    }
    let u = u.trim_end_matches('/');
    let u = u.strip_suffix(".git").unwrap_or(u);
    let (host, path) = match u.find(['/', ':']) {
        Some(i) => (&u[..i], &u[i + 1..]),
        None => (u, ""),
    };
    // `host:22/path` (a port) and `host:path` (scp syntax) both lose the separator.
    let path = path
        .split_once('/')
        .filter(|(port, _)| !port.is_empty() && port.chars().all(|c| c.is_ascii_digit()))
        .map_or(path, |(_, rest)| rest);
    format!(
        "{}/{}",
        host.to_ascii_lowercase(),
        path.trim_start_matches('/')
    )
}

/// Resolves the `argocd:` section of `file` into cells and not-judged applications.
pub(crate) fn resolve(
    repo: &Repo,
    file: &str,
    root: &Node,
    settings: &ArgoCdSettings,
    helm: &crate::HelmSettings,
    templates: Option<&dyn GoTemplates>,
    max_applications: usize,
) -> Result<ArgoCdFleet, ConfigError> {
    let here = |path: &str| root.at_path(path);
    if settings.manifests.is_empty() {
        return Err(
            ConfigError::new(file, "argocd.manifests lists no glob").at_node(here("argocd"))
        );
    }
    if settings.repo_url.is_empty() {
        return Err(ConfigError::new(file, "argocd.repoURL lists no URL")
            .at_node(here("argocd"))
            .hint("list the URLs Argo CD uses for this repository, so imagegate knows which sources it can read"));
    }
    let resolver = Resolver {
        repo,
        settings,
        helm,
        this_repo: settings
            .repo_url
            .iter()
            .map(|u| normalise_repo_url(u))
            .collect(),
        templates,
        max_applications,
        generated: std::sync::atomic::AtomicUsize::new(0),
        generator_work: std::sync::atomic::AtomicU64::new(0),
        folders: std::sync::OnceLock::new(),
        files: std::sync::OnceLock::new(),
    };
    let mut out = ArgoCdFleet::default();
    // Every glob, file and object is read, and every error kept: one run shows them all.
    let mut errors = Vec::new();
    let mut files = Vec::new();
    for (i, glob) in settings.manifests.iter().enumerate() {
        let at = here(&format!("argocd.manifests[{i}]"));
        match repo.glob(glob) {
            Err(m) => errors.push(ConfigError::new(file, m).at_node(at)),
            Ok(matched) if matched.is_empty() => errors.push(
                ConfigError::new(file, format!("`{glob}` matches no file"))
                    .at_node(at)
                    .hint("Argo CD manifest files are matched relative to the repository root"),
            ),
            Ok(matched) => files.extend(matched),
        }
    }
    files.sort();
    files.dedup();
    for manifest in files {
        let text = match repo.read_to_string(&manifest, MAX_CONFIG_BYTES) {
            Ok(t) => t,
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        let docs = match imagegate_yaml::load_all(&text, &imagegate_yaml::Limits::default()) {
            Ok(d) => d,
            Err(e) => {
                errors.push(ConfigError::new(&manifest, e.message).at(Some(e.line), Some(e.col)));
                continue;
            }
        };
        for doc in &docs {
            if let Err(e) = resolver.object(&manifest, doc, &mut out) {
                errors.push(e);
            }
        }
    }
    ConfigError::collect(errors)?;
    Ok(out)
}

/// The text of a scalar field, if it is one.
fn text<'n>(node: &'n Node, key: &str) -> Option<&'n str> {
    node.get(key)
        .filter(|n| !n.is_null())
        .and_then(|n| n.as_str())
}

/// Whether a field is `true`.
fn flag(node: &Node, key: &str) -> bool {
    node.get(key)
        .is_some_and(|n| n.to_json() == serde_json::Value::Bool(true))
}

/// The error of a manifest, at a node.
fn err(manifest: &str, node: &Node, message: impl Into<String>) -> ConfigError {
    ConfigError::new(manifest, message).at(Some(node.line), Some(node.col))
}

/// An Application with where it came from.
pub(crate) struct Generated<'a> {
    /// The Application (or the ApplicationSet's rendered template).
    pub app: &'a Node,
    /// Where to point: the Application, or the ApplicationSet.
    pub origin: ArgoOrigin,
}

impl Resolver<'_> {
    fn is_this_repo(&self, url: &str) -> bool {
        self.this_repo.contains(&normalise_repo_url(url))
    }

    /// One document: an Application, an ApplicationSet, a `List` of them, or anything else
    /// (passed over: manifest folders hold AppProjects and more).
    fn object(&self, manifest: &str, doc: &Node, out: &mut ArgoCdFleet) -> Result<(), ConfigError> {
        match text(doc, "kind") {
            Some("List") => {
                for item in doc.get("items").and_then(Node::as_seq).unwrap_or_default() {
                    self.object(manifest, item, out)?;
                }
                Ok(())
            }
            Some("Application") => {
                let name = app_name(manifest, doc)?;
                let origin = ArgoOrigin {
                    manifest: manifest.into(),
                    line: doc.line,
                    kind: "Application".into(),
                    name: name.clone(),
                    element: None,
                    source: None,
                };
                self.application(manifest, &Generated { app: doc, origin }, out)
            }
            Some("ApplicationSet") => appset::expand(self, manifest, doc, out),
            _ => Ok(()),
        }
    }

    /// One Application: its cells, or why it is not judged.
    pub(crate) fn application(
        &self,
        manifest: &str,
        g: &Generated<'_>,
        out: &mut ArgoCdFleet,
    ) -> Result<(), ConfigError> {
        let app = g.app;
        let name = app_name(manifest, app)?;
        let Some(spec) = app.get("spec").filter(|s| s.as_map().is_some()) else {
            return Err(err(
                manifest,
                app,
                format!("Application `{name}` has no spec"),
            ));
        };
        let sources: Vec<(&Node, Option<usize>)> = match (spec.get("sources"), spec.get("source")) {
            (Some(list), _) if list.as_seq().is_some_and(|l| !l.is_empty()) => list
                .as_seq()
                .unwrap_or_default()
                .iter()
                .enumerate()
                .map(|(i, s)| (s, Some(i)))
                .collect(),
            (_, Some(one)) if one.as_map().is_some() => vec![(one, None)],
            _ => {
                return Err(err(
                    manifest,
                    spec,
                    format!("Application `{name}` has neither spec.source nor spec.sources"),
                ))
            }
        };
        let refs: BTreeMap<&str, &Node> = sources
            .iter()
            .filter_map(|(s, _)| Some((text(s, "ref")?, *s)))
            .collect();
        // A source with `ref` and neither `path` nor `chart` only lends its files to the others.
        let rendering: Vec<&(&Node, Option<usize>)> = sources
            .iter()
            .filter(|(s, _)| {
                !(text(s, "ref").is_some()
                    && text(s, "path").is_none()
                    && text(s, "chart").is_none())
            })
            .collect();
        let destination = spec.get("destination");
        let dest_ns = destination.and_then(|d| text(d, "namespace")).unwrap_or("");
        let environment = self.environment(manifest, app, &name, spec)?;
        for (source, index) in rendering.iter().copied() {
            let index = index.filter(|_| rendering.len() > 1 || sources.len() > 1);
            let cell_app = match index {
                Some(i) if rendering.len() > 1 => format!("{name}.source{i}"),
                _ => name.clone(),
            };
            let mut origin = g.origin.clone();
            origin.source = index;
            let field = |f: &str| match index {
                Some(i) => format!("spec.sources[{i}].{f}"),
                None => format!("spec.source.{f}"),
            };
            let not_judged = |reason: String| NotJudged {
                app: cell_app.clone(),
                manifest: origin.manifest.clone(),
                line: origin.line,
                element: origin.element.clone(),
                reason,
            };
            let repo_url = text(source, "repoURL").unwrap_or("");
            // `IsHelm()`: a chart of a Helm repository is a non-empty `chart`.
            if let Some(chart) = text(source, "chart").filter(|c| !c.is_empty()) {
                out.not_judged.push(not_judged(format!(
                    "its source is chart `{chart}` from the Helm repository {repo_url}, not a chart vendored in this repository"
                )));
                continue;
            }
            if !self.is_this_repo(repo_url) {
                out.not_judged.push(not_judged(format!(
                    "its source is in another repository ({repo_url}); argocd.repoURL names this one"
                )));
                continue;
            }
            let revision = text(source, "targetRevision").unwrap_or("");
            if !self.settings.is_checked_revision(revision) {
                out.not_judged.push(not_judged(format!(
                    "its source is revision `{revision}` of this repository, which Argo CD renders instead of the one under check; argocd.targetRevisions lists the revisions that mean it"
                )));
                continue;
            }
            let path = text(source, "path").unwrap_or(".");
            let chart = match self.repo.normalise(path) {
                Ok(c) => c,
                Err(m) => {
                    let at = source.get("path").unwrap_or(source);
                    return Err(err(manifest, at, format!("{}: {m}", field("path"))));
                }
            };
            // As Argo CD stores the source, then with the override files of its folder merged
            // in, before anything else is read.
            let normalized = overrides::normalize(source);
            let instance = instance_name(app, &name, &self.settings.namespace);
            let overridden = overrides::apply(self.repo, &normalized, &chart, &instance)?;
            let source = overridden.as_ref().map_or(&normalized, |o| &o.source);
            let no_files = BTreeMap::new();
            let helm_files = overridden.as_ref().map_or(&no_files, |o| &o.helm_files);
            // Argo CD's `ExplicitType`: a field that is there and not null.
            let explicit: Vec<&str> = ["helm", "kustomize", "directory", "plugin"]
                .into_iter()
                .filter(|k| source.get(k).is_some_and(|n| !n.is_null()))
                .collect();
            if explicit.len() > 1 {
                out.not_judged.push(not_judged(format!(
                    "Argo CD refuses its source ({path}): multiple application sources defined ({})",
                    explicit.join(", ")
                )));
                continue;
            }
            if let Some(kind) = explicit.first().filter(|k| **k != "helm") {
                out.not_judged.push(not_judged(format!(
                    "its source is a {kind} application ({path}), not a Helm chart"
                )));
                continue;
            }
            let has_chart_yaml = matches!(self.repo.resolve(&format!("{chart}/Chart.yaml")), Ok(Some(p)) if p.is_file());
            let helm = source.get("helm").filter(|h| !h.is_null());
            if helm.is_none() {
                // No explicit type: Argo CD looks at the folder's files, as `Discover` does.
                let discovered = match self.repo.resolve(&chart) {
                    Ok(Some(real)) if real.is_dir() => overrides::discovered_type(&real),
                    _ => None,
                };
                match discovered {
                    Some("Helm") => {}
                    Some(_) if has_chart_yaml => {
                        out.not_judged.push(not_judged(format!(
                            "its source {path} is a kustomize application: Argo CD renders a \
                             folder with both Chart.yaml and a kustomization with Kustomize, \
                             not a Helm chart"
                        )));
                        continue;
                    }
                    Some(_) => {
                        out.not_judged.push(not_judged(format!(
                            "its source {path} is a kustomize application (no Chart.yaml), not a Helm chart"
                        )));
                        continue;
                    }
                    None => {
                        out.not_judged.push(not_judged(format!(
                            "its source {path} is a directory application (no Chart.yaml), not a Helm chart"
                        )));
                        continue;
                    }
                }
            }
            let empty = Node {
                value: Value::Map(Vec::new()),
                line: source.line,
                col: source.col,
            };
            let helm = helm.unwrap_or(&empty);
            let build_env = envsubst::variables(
                &instance,
                dest_ns,
                text(spec, "project").unwrap_or(""),
                repo_url,
                path,
                text(source, "targetRevision").unwrap_or(""),
            );
            let ctx = SourceCtx {
                manifest,
                chart: &chart,
                refs: &refs,
                field: &field,
                ignore_missing: flag(helm, "ignoreMissingValueFiles"),
                files: helm_files,
                mixed_values_object: overridden.as_ref().is_some_and(|o| o.mixed_values_object),
                env: &build_env,
            };
            let resolved = match self.helm_source(&ctx, helm) {
                Ok(r) => r,
                Err(Refused::Config(e)) => return Err(e),
                Err(Refused::NotJudged(reason)) => {
                    out.not_judged.push(not_judged(reason));
                    continue;
                }
            };
            let mut problems = Vec::new();
            if !has_chart_yaml {
                problems.push(match self.repo.resolve(&chart) {
                    Ok(Some(_)) => format!("{chart} is not a chart: it has no Chart.yaml"),
                    Ok(None) => format!("chart folder {chart} does not exist"),
                    Err(m) => format!("chart refused: {m}"),
                });
            }
            let namespace = text(helm, "namespace").filter(|n| !n.is_empty()).unwrap_or(
                if dest_ns.is_empty() {
                    "default"
                } else {
                    dest_ns
                },
            );
            let api_versions = helm
                .get("apiVersions")
                .and_then(Node::as_seq)
                .filter(|l| !l.is_empty())
                .map(|l| {
                    l.iter()
                        .filter_map(|n| n.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_else(|| self.helm.api_versions.clone());
            out.cells.push(crate::Cell {
                environment: environment.clone(),
                app: cell_app.clone(),
                release: text(helm, "releaseName")
                    .filter(|r| !r.is_empty())
                    .unwrap_or(&name)
                    .to_string(),
                namespace: namespace.to_string(),
                component: name.clone(),
                scope: crate::Scope::Environment,
                chart,
                value_files: resolved.value_files,
                kube_version: text(helm, "kubeVersion")
                    .filter(|k| !k.is_empty())
                    .map_or_else(|| self.helm.kube_version.clone(), str::to_string),
                api_versions,
                include_crds: self.helm.include_crds && !flag(helm, "skipCrds"),
                skip_tests: flag(helm, "skipTests"),
                skip_schema_validation: flag(helm, "skipSchemaValidation"),
                source: manifest.to_string(),
                problems,
                inline_values: resolved.inline_values,
                parameters: resolved.parameters,
                argocd: Some(origin),
                value_texts: Vec::new(),
            });
        }
        Ok(())
    }

    /// The environment name of an Application's cells, from `argocd.environment`.
    fn environment(
        &self,
        manifest: &str,
        app: &Node,
        name: &str,
        spec: &Node,
    ) -> Result<String, ConfigError> {
        let dest = spec.get("destination");
        let field = |k: &str| dest.and_then(|d| text(d, k)).unwrap_or("").to_string();
        let destination = match (field("name"), field("server")) {
            (n, _) if !n.is_empty() => n,
            (_, s) if normalise_repo_url(&s) == "kubernetes.default.svc/" => "in-cluster".into(),
            (_, s) if !s.is_empty() => {
                let host = normalise_repo_url(&s);
                host.split('/').next().unwrap_or_default().to_string()
            }
            _ => String::new(),
        };
        let vars = BTreeMap::from([
            ("destination".to_string(), destination),
            ("namespace".to_string(), field("namespace")),
            (
                "project".to_string(),
                text(spec, "project").unwrap_or("").to_string(),
            ),
            ("name".to_string(), name.to_string()),
        ]);
        let env = render_template(&self.settings.environment, &vars).map_err(|p| {
            err(
                manifest,
                app,
                format!(
                    "argocd.environment uses `{{{p}}}`, which Application `{name}` does not provide"
                ),
            )
            .hint("placeholders available: destination, namespace, project, name")
        })?;
        crate::matrix::validate_name(&env).map_err(|m| {
            err(manifest, app, format!("Application `{name}`: environment {m}")).hint(
                "give the destination a `name`, or set argocd.environment to a template that makes a plain name",
            )
        })?;
        Ok(env)
    }

    /// The value files, inline values and parameters of one Helm source.
    fn helm_source(&self, ctx: &SourceCtx<'_>, helm: &Node) -> Result<HelmInputs, Refused> {
        let mut value_files: Vec<crate::ValueFile> = Vec::new();
        let raw: Vec<&Node> = helm
            .get("valueFiles")
            .and_then(Node::as_seq)
            .unwrap_or_default()
            .iter()
            .collect();
        let resolved: Vec<(String, &Node)> = raw
            .iter()
            .enumerate()
            .map(|(i, n)| {
                let v = n.as_str().unwrap_or("");
                let at = format!("{}[{i}]", ctx.label("valueFiles"));
                self.file_path(ctx, ctx.file("valueFiles"), v, n, &at)
                    .map(|p| (p, *n))
            })
            .collect::<Result<_, _>>()?;
        let explicit: Vec<&str> = resolved
            .iter()
            .filter(|(p, _)| !is_glob(p))
            .map(|(p, _)| p.as_str())
            .collect();
        let mut push = |path: String, present: bool| {
            if !value_files.iter().any(|v| v.path == path) {
                value_files.push(crate::ValueFile { path, present });
            }
        };
        for (path, node) in &resolved {
            if is_glob(path) {
                let matches = self
                    .repo
                    .glob(path)
                    .map_err(|m| Refused::Config(err(ctx.file("valueFiles"), node, m)))?;
                if matches.is_empty() && !ctx.ignore_missing {
                    return Err(Refused::Config(
                        err(ctx.file("valueFiles"), node, format!("values file glob `{path}` matches no file"))
                            .hint("fix the pattern, or set helm.ignoreMissingValueFiles: true as Argo CD allows"),
                    ));
                }
                for m in matches {
                    if !explicit.contains(&m.as_str()) {
                        push(m, true);
                    }
                }
                continue;
            }
            let present = match self.repo.resolve(path) {
                Ok(Some(real)) => real.is_file(),
                Ok(None) => false,
                Err(m) => return Err(Refused::Config(err(ctx.file("valueFiles"), node, m))),
            };
            if !present && !ctx.ignore_missing {
                return Err(Refused::Config(
                    err(
                        ctx.file("valueFiles"),
                        node,
                        format!("values file {path} does not exist"),
                    )
                    .hint("create it, fix the path (valueFiles are relative to the chart folder, or `$ref/…` to a `ref:` source), or set helm.ignoreMissingValueFiles: true"),
                ));
            }
            push(path.clone(), present);
        }
        // valuesObject takes precedence over values (Argo CD's `ValuesYAML`), even an empty one
        // (`{}`, which sets nothing).
        let inline_values = match (helm.get("valuesObject"), helm.get("values")) {
            (Some(obj), _) if obj.as_map().is_some_and(<[(Node, Node)]>::is_empty) => None,
            (Some(obj), _) if !obj.is_null() && obj.as_map().is_some() => {
                Some(crate::InlineValues {
                    // Merged from two files, its keys are of both: one line, the file's.
                    text: if ctx.mixed_values_object {
                        lines::pad_to(obj.line, &format!("{}\n", obj.to_json()))
                    } else {
                        lines::line_preserving(obj)
                    },
                    file: ctx.file("valuesObject").to_string(),
                    line: obj.line,
                    field: ctx.label("valuesObject"),
                })
            }
            (Some(obj), _) if !obj.is_null() && obj.as_map().is_none() => {
                return Err(Refused::Config(err(
                    ctx.file("valuesObject"),
                    obj,
                    format!("{} must be a mapping", ctx.label("valuesObject")),
                )))
            }
            (_, Some(values)) if values.as_str().is_some_and(|t| !t.trim().is_empty()) => {
                Some(crate::InlineValues {
                    // Verbatim, as Argo CD passes it, behind blank lines so that each line of
                    // the text is its line in the manifest.
                    text: lines::pad_to(values.line, values.as_str().unwrap_or_default()),
                    file: ctx.file("values").to_string(),
                    line: values.line,
                    field: ctx.label("values"),
                })
            }
            (_, Some(values)) if values.as_map().is_some() => {
                return Err(Refused::Config(
                    err(
                        ctx.file("values"),
                        values,
                        format!("{} must be a string", ctx.label("values")),
                    )
                    .hint("write the values as a block (`values: |`) or use valuesObject"),
                ))
            }
            _ => None,
        };
        let mut parameters = Vec::new();
        let params = helm
            .get("parameters")
            .and_then(Node::as_seq)
            .unwrap_or_default();
        for (i, p) in params.iter().enumerate() {
            let Some(name) = text(p, "name").filter(|n| !n.is_empty()) else {
                return Err(Refused::Config(err(
                    ctx.file("parameters"),
                    p,
                    format!("{}[{i}] has no name", ctx.label("parameters")),
                )));
            };
            let value = p
                .get("value")
                .map(|v| match v.to_json() {
                    serde_json::Value::String(s) => s,
                    serde_json::Value::Null => String::new(),
                    other => other.to_string(),
                })
                .unwrap_or_default();
            parameters.push(crate::HelmParameter {
                name: name.to_string(),
                // Argo CD substitutes its variables, then escapes the commas.
                value: clean_set_value(&envsubst::envsubst(&value, ctx.env)),
                kind: if flag(p, "forceString") {
                    ParameterKind::SetString
                } else {
                    ParameterKind::Set
                },
                file: ctx.file("parameters").to_string(),
                line: p.line,
            });
        }
        let files = helm
            .get("fileParameters")
            .and_then(Node::as_seq)
            .unwrap_or_default();
        for (i, p) in files.iter().enumerate() {
            let at = format!("{}[{i}]", ctx.label("fileParameters"));
            let (Some(name), Some(path)) = (text(p, "name"), text(p, "path")) else {
                return Err(Refused::Config(err(
                    ctx.file("fileParameters"),
                    p,
                    format!("{at} needs both name and path"),
                )));
            };
            let node = p.get("path").unwrap_or(p);
            let resolved = self.file_path(ctx, ctx.file("fileParameters"), path, node, &at)?;
            if !matches!(self.repo.resolve(&resolved), Ok(Some(real)) if real.is_file()) {
                return Err(Refused::Config(err(
                    ctx.file("fileParameters"),
                    node,
                    format!("{at}: file {resolved} does not exist"),
                )));
            }
            parameters.push(crate::HelmParameter {
                name: name.to_string(),
                value: resolved,
                kind: ParameterKind::SetFile,
                file: ctx.file("fileParameters").to_string(),
                line: p.line,
            });
        }
        // helm applies --set, then --set-string, then --set-file, whatever their order.
        parameters.sort_by_key(|p| p.kind as u8);
        Ok(HelmInputs {
            value_files,
            inline_values,
            parameters,
        })
    }

    /// A value file or file parameter path as Argo CD resolves it: `$ref/…` from the root of the
    /// `ref:` source, `/…` from the repository root, anything else from the chart folder.
    fn file_path(
        &self,
        ctx: &SourceCtx<'_>,
        file: &str,
        raw: &str,
        node: &Node,
        at: &str,
    ) -> Result<String, Refused> {
        if raw.is_empty() {
            return Err(Refused::Config(err(file, node, format!("{at} is empty"))));
        }
        let first = raw.split('/').next().unwrap_or(raw);
        if let Some(name) = first.strip_prefix('$') {
            if let Some(source) = ctx.refs.get(name) {
                let url = text(source, "repoURL").unwrap_or("");
                if !self.is_this_repo(url) {
                    return Err(Refused::NotJudged(format!(
                        "its values file {raw} is in another repository ({url})"
                    )));
                }
                let revision = text(source, "targetRevision").unwrap_or("");
                if !self.settings.is_checked_revision(revision) {
                    return Err(Refused::NotJudged(format!(
                        "its values file {raw} is read at revision `{revision}`, not the one under check (argocd.targetRevisions)"
                    )));
                }
                // From the root of the `ref:` source; Argo CD's variables are substituted in
                // what follows the ref.
                let rest = envsubst::envsubst(&raw[first.len()..], ctx.env);
                return self
                    .repo
                    .normalise(rest.trim_start_matches('/'))
                    .map_err(|m| Refused::Config(err(file, node, format!("{at}: {m}"))));
            }
            // `$name/…` naming neither a ref nor a variable Argo CD sets: Argo CD would read the
            // path with the name made empty, which is never what was meant.
            let unknown = envsubst::unknown_names(first, ctx.env);
            if !unknown.is_empty() {
                let known: Vec<&str> = ctx.refs.keys().copied().collect();
                return Err(Refused::Config(
                    err(
                        file,
                        node,
                        format!("{at} `{raw}` names no source with `ref: {name}`"),
                    )
                    .hint(if known.is_empty() {
                        "add the repository holding the file to spec.sources with `ref:`"
                            .to_string()
                    } else {
                        format!("refs declared: {}", known.join(", "))
                    }),
                ));
            }
        }
        let substituted = envsubst::envsubst(raw, ctx.env);
        let raw = substituted.as_str();
        if raw.is_empty() {
            return Err(Refused::Config(err(
                file,
                node,
                format!("{at} is empty once Argo CD's variables are substituted"),
            )));
        }
        let joined = if raw.contains("://") {
            return Err(Refused::NotJudged(format!(
                "its values file {raw} is fetched from a URL, which imagegate does not read"
            )));
        } else if let Some(abs) = raw.strip_prefix('/') {
            abs.to_string()
        } else {
            format!("{}/{raw}", ctx.chart)
        };
        self.repo
            .normalise(&joined)
            .map_err(|m| Refused::Config(err(file, node, format!("{at}: {m}"))))
    }
}

fn is_glob(path: &str) -> bool {
    path.contains(['*', '?', '['])
}

/// The name of an Application, which every cell and message needs.
fn app_name(manifest: &str, app: &Node) -> Result<String, ConfigError> {
    let name = app
        .get("metadata")
        .and_then(|m| text(m, "name"))
        .filter(|n| !n.is_empty());
    match name {
        Some(n) => Ok(n.to_string()),
        None => Err(err(manifest, app, "Application has no metadata.name")),
    }
}

/// The fixed inputs of resolving one source.
struct SourceCtx<'a> {
    manifest: &'a str,
    chart: &'a str,
    refs: &'a BTreeMap<&'a str, &'a Node>,
    field: &'a dyn Fn(&str) -> String,
    ignore_missing: bool,
    /// For each `helm` field an override file set, that file (see `overrides`).
    files: &'a BTreeMap<String, String>,
    /// Whether `helm.valuesObject` is merged from more than one file.
    mixed_values_object: bool,
    /// Argo CD's build environment of the source (see `envsubst`).
    env: &'a BTreeMap<&'static str, String>,
}

impl SourceCtx<'_> {
    /// The file `helm.<key>` is written in: an override file that set it, else the manifest.
    fn file(&self, key: &str) -> &str {
        self.files.get(key).map_or(self.manifest, String::as_str)
    }

    /// How messages name `helm.<key>`: as a field of the Application, or of the override file.
    fn label(&self, key: &str) -> String {
        if self.files.contains_key(key) {
            format!("helm.{key}")
        } else {
            (self.field)(&format!("helm.{key}"))
        }
    }
}

/// The name Argo CD gives an Application when it asks for its manifests (`InstanceName`): its
/// name in Argo CD's own namespace (or with none), else `<namespace>_<name>`.
fn instance_name(app: &Node, name: &str, argocd_namespace: &str) -> String {
    match app.get("metadata").and_then(|m| text(m, "namespace")) {
        Some(ns) if !ns.is_empty() && ns != argocd_namespace => format!("{ns}_{name}"),
        _ => name.to_string(),
    }
}

/// What one Helm source gives its cell.
struct HelmInputs {
    value_files: Vec<crate::ValueFile>,
    inline_values: Option<InlineValues>,
    parameters: Vec<HelmParameter>,
}

/// Why a source gives no cell: a configuration error, or a reason to list it as not judged.
enum Refused {
    Config(ConfigError),
    NotJudged(String),
}

#[cfg(test)]
mod tests;
