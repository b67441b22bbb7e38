//! Environments × components → cells.

use crate::model::{de_error, load_yaml};
use crate::model::{
    ComponentEntry, EnvironmentEntry, FleetFile, InlineComponent, MissingValueFiles, ScopeName,
};
use crate::{render_template, ConfigError, Fleet, Repo, MAX_CONFIG_BYTES};
use imagegate_yaml::{Node, Spanned, Value};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Whether a component (and so a cell) is per environment or per cluster.
pub type Scope = ScopeName;

/// One resolved environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Environment {
    /// The name (`{env}`).
    pub name: String,
    /// Every placeholder it provides, `env` included.
    pub vars: BTreeMap<String, String>,
    /// `--kube-version`.
    pub kube_version: String,
    /// `--api-versions`.
    pub api_versions: Vec<String>,
    /// Where it was declared (record file or the configuration file).
    pub source: String,
    /// The platforms of its nodes (`os/architecture[/variant]`), for `check --registry`;
    /// empty when it declares none.
    pub platforms: Vec<String>,
}

/// One resolved component.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Component {
    /// Name (`{name}`).
    pub name: String,
    /// Domain (`{domain}`).
    pub domain: String,
    /// Project (`{project}`).
    pub project: String,
    /// Namespace of its own, if it sets one.
    pub namespace: Option<String>,
    /// Per environment or per cluster.
    pub scope: Scope,
    /// Chart folder, repository-relative and normalised.
    pub chart: String,
    /// Own values files (templates, prefix stripped) that replace the default stack.
    pub value_files: Option<Vec<String>>,
    /// Only these environments, when set.
    pub environments: Option<Vec<String>>,
    /// Skip CRDs.
    pub skip_crds: bool,
    /// Where it was declared (component file or the configuration file).
    pub source: String,
    /// Line and column of the declaration in `source`: the inline entry, or the component
    /// file's `name`.
    pub position: Option<(u32, u32)>,
}

impl Component {
    /// An error in the file that declares this component, at its declaration.
    fn error(&self, message: impl Into<String>) -> ConfigError {
        ConfigError::new(&self.source, message)
            .at(self.position.map(|p| p.0), self.position.map(|p| p.1))
    }
}

/// One values file of a cell's stack.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ValueFile {
    /// Repository-relative path.
    pub path: String,
    /// Whether the file exists (a missing one is skipped or an error, per `missingValueFiles`).
    pub present: bool,
}

/// One chart × environment (or chart × cluster) render.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Cell {
    /// Environment name (cluster cells: the cluster environment name).
    pub environment: String,
    /// Argo CD application name.
    pub app: String,
    /// Helm release name.
    pub release: String,
    /// Namespace rendered into.
    pub namespace: String,
    /// Component name.
    pub component: String,
    /// Per environment or per cluster.
    pub scope: Scope,
    /// Chart folder, repository-relative.
    pub chart: String,
    /// The value stack, in order (later files win), missing ones included and marked.
    pub value_files: Vec<ValueFile>,
    /// `--kube-version`.
    pub kube_version: String,
    /// `--api-versions`.
    pub api_versions: Vec<String>,
    /// `--include-crds`.
    pub include_crds: bool,
    /// `--skip-tests` (an Argo CD source's `helm.skipTests`): the chart's test hooks are not
    /// rendered, so not applied.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub skip_tests: bool,
    /// `--skip-schema-validation` (an Argo CD source's `helm.skipSchemaValidation`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub skip_schema_validation: bool,
    /// Where the component was declared.
    pub source: String,
    /// Problems that stop this cell from rendering (missing chart, chart outside the repository,
    /// a missing values file when those are errors). Each becomes a `render-failed` finding.
    pub problems: Vec<String>,
    /// Values written inline in the Argo CD Application, read after every values file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inline_values: Option<crate::InlineValues>,
    /// The Application's `helm.parameters` and `helm.fileParameters`, applied by helm after
    /// every values layer, in the order `--set`, `--set-string`, `--set-file`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub parameters: Vec<crate::HelmParameter>,
    /// The Argo CD manifest (and generator element) the cell came from, for an `argocd:` cell.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub argocd: Option<crate::ArgoOrigin>,
    /// Values layers given as text instead of files, read before every values file: the
    /// rewritten layers of a marker render (causal provenance), written to the render's private
    /// folder. Empty for every cell of a fleet; never part of its description.
    #[serde(skip)]
    pub value_texts: Vec<String>,
}

impl Cell {
    /// A cell of environment `environment` for app `app` (also its release and component)
    /// rendering chart folder `chart` into namespace `default`, with an empty value stack and
    /// the default helm settings: the start of a cell built by hand, as tests do.
    pub fn new(environment: &str, app: &str, chart: &str) -> Self {
        Self {
            environment: environment.into(),
            app: app.into(),
            release: app.into(),
            namespace: "default".into(),
            component: app.into(),
            scope: Scope::Environment,
            chart: chart.into(),
            value_files: Vec::new(),
            kube_version: crate::HelmSettings::default().kube_version,
            api_versions: Vec::new(),
            include_crds: false,
            skip_tests: false,
            skip_schema_validation: false,
            source: "imagegate.yaml".into(),
            problems: Vec::new(),
            inline_values: None,
            parameters: Vec::new(),
            argocd: None,
            value_texts: Vec::new(),
        }
    }

    /// The same cell with the value stack `files` (lowest precedence first), all present.
    pub fn with_values(mut self, files: &[&str]) -> Self {
        self.value_files = files
            .iter()
            .map(|p| ValueFile {
                path: p.to_string(),
                present: true,
            })
            .collect();
        self
    }

    /// The values files that exist, in order: what helm gets as `-f`.
    pub fn present_value_files(&self) -> impl Iterator<Item = &str> {
        self.value_files
            .iter()
            .filter(|v| v.present)
            .map(|v| v.path.as_str())
    }
}

/// A record field as a placeholder value: a scalar typed by the configuration's rules (see
/// `imagegate_yaml::de`) and written back as text (`0x10` is `16`, `1.10` is `1.1`, `"1.10"`
/// stays `1.10`). `None` for null and for collections, which are no placeholders.
fn placeholder(node: &Node) -> Option<String> {
    match imagegate_yaml::from_node::<serde_json::Value>(node).ok()? {
        serde_json::Value::String(s) => Some(s),
        serde_json::Value::Bool(b) => Some(b.to_string()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// One environment record of a record file: its scalar fields, as placeholders, and its lists
/// of scalars.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Every field whose value is a scalar, as text (a nested record's own fields and those it
    /// inherits from the mappings it is nested in).
    pub fields: BTreeMap<String, String>,
    /// Every field whose value is a list of scalars, as text (`apiVersions: [...]`).
    pub lists: BTreeMap<String, Vec<String>>,
    /// Whether every field is a scalar or a list of scalars (no other nested mapping or list).
    pub flat: bool,
    /// Whether the record was nested in another mapping's `environments` list.
    pub nested: bool,
    /// How errors name it: `record 1`, `record 0.environments[2]`.
    pub what: String,
    /// Where the record starts.
    pub line: u32,
    /// Where the record starts.
    pub col: u32,
}

/// The key under which a mapping of a record file nests its environments' records.
pub const NESTED_RECORDS_KEY: &str = "environments";

/// How deep `environments` lists may nest (a record file is bounded like any input).
const MAX_RECORD_NESTING: usize = 8;

/// The records of an environment record file (a mapping, or a list of mappings), read as the
/// matrix reads them. `init` reads candidate files through this too, so what it proposes is
/// what the matrix will read.
///
/// A mapping with an `environments` list is no environment itself: each mapping of the list is
/// one, inheriting the parent's fields (its own win), recursively. So a file per cluster
/// type can say `clusterType: azure` once above the list of its environments.
pub fn read_records(repo: &Repo, rec_file: &str) -> Result<Vec<Record>, ConfigError> {
    let rec_text = repo.read_to_string(rec_file, MAX_CONFIG_BYTES)?;
    let rec_root = load_yaml(rec_file, &rec_text)?;
    let records: Vec<&Node> = match rec_root.as_ref().map(|n| &n.value) {
        Some(Value::Seq(items)) => items.iter().collect(),
        Some(Value::Map(_)) => rec_root.iter().collect(),
        None => Vec::new(),
        Some(Value::Scalar(s)) if s.is_null() => Vec::new(),
        Some(Value::Scalar(_)) => {
            return Err(
                ConfigError::new(rec_file, "expected a mapping or a list of mappings")
                    .at_node(rec_root.as_ref())
                    .hint(RECORD_EXAMPLE),
            )
        }
    };
    let mut out = Vec::new();
    for (ri, rec) in records.into_iter().enumerate() {
        let none = (&BTreeMap::new(), &BTreeMap::new());
        read_record(rec_file, rec, &format!("record {ri}"), none, 0, &mut out)?;
    }
    Ok(out)
}

const RECORD_EXAMPLE: &str = "each record is one environment, e.g. `{env: dev, clusterType: azure}`, or a mapping of shared fields with the `environments` list they apply to, e.g. `{clusterType: azure, environments: [{env: dev}, {env: prod}]}`";

/// Reads the record `rec` (named `what` in errors), or the records nested in it, inheriting
/// `inherited` (scalar fields, list fields; the record's own win); appends them to `out`.
fn read_record(
    rec_file: &str,
    rec: &Node,
    what: &str,
    inherited: (&BTreeMap<String, String>, &BTreeMap<String, Vec<String>>),
    depth: usize,
    out: &mut Vec<Record>,
) -> Result<(), ConfigError> {
    let Some(map) = rec.as_map() else {
        return Err(
            ConfigError::new(rec_file, format!("{what} is not a mapping"))
                .at_node(Some(rec))
                .hint(RECORD_EXAMPLE),
        );
    };
    let mut fields = inherited.0.clone();
    let mut lists = inherited.1.clone();
    let mut flat = true;
    let mut nested: Option<&Node> = None;
    for (k, v) in map {
        let Some(key) = placeholder(k) else {
            flat = false;
            continue;
        };
        if key == NESTED_RECORDS_KEY {
            nested = Some(v);
            continue;
        }
        if let Some(text) = placeholder(v) {
            fields.insert(key, text);
        } else if let Some(items) = v.as_seq() {
            let texts: Vec<String> = items.iter().filter_map(placeholder).collect();
            if texts.len() == items.len() {
                lists.insert(key, texts);
            } else {
                flat = false;
            }
        } else if !matches!(&v.value, Value::Scalar(s) if s.is_null()) {
            flat = false;
        }
    }
    let Some(children) = nested else {
        out.push(Record {
            fields,
            lists,
            flat,
            nested: depth > 0,
            what: what.to_string(),
            line: rec.line,
            col: rec.col,
        });
        return Ok(());
    };
    let Some(items) = children.as_seq() else {
        return Err(ConfigError::new(
            rec_file,
            format!("{what}: `{NESTED_RECORDS_KEY}` must be a list of records"),
        )
        .at_node(Some(children))
        .hint(RECORD_EXAMPLE));
    };
    if depth + 1 > MAX_RECORD_NESTING {
        return Err(ConfigError::new(
            rec_file,
            format!(
                "{what}: `{NESTED_RECORDS_KEY}` lists nest more than {MAX_RECORD_NESTING} deep"
            ),
        )
        .at_node(Some(children)));
    }
    for (i, child) in items.iter().enumerate() {
        read_record(
            rec_file,
            child,
            &format!("{what}.{NESTED_RECORDS_KEY}[{i}]"),
            (&fields, &lists),
            depth + 1,
            out,
        )?;
    }
    Ok(())
}

pub(crate) fn resolve_environments(
    repo: &Repo,
    file: &str,
    root: &Node,
    model: &FleetFile,
) -> Result<Vec<Environment>, ConfigError> {
    let mut envs: Vec<Environment> = Vec::new();
    let default_env = |name: String, vars: BTreeMap<String, String>, source: String| Environment {
        name,
        vars,
        kube_version: model.helm.kube_version.clone(),
        api_versions: model.helm.api_versions.clone(),
        source,
        platforms: Vec::new(),
    };
    for (i, entry) in model.environments.iter().enumerate() {
        let here = || root.at_path(&format!("environments[{i}]"));
        match entry {
            EnvironmentEntry::Discover(d) => {
                let files = repo
                    .glob(&d.from)
                    .map_err(|m| ConfigError::new(file, m).at_node(here()))?;
                if files.is_empty() {
                    return Err(ConfigError::new(file, format!("`{}` matches no file", d.from))
                        .at_node(here())
                        .hint("environment record files are matched relative to the repository root"));
                }
                for rec_file in files {
                    for rec in read_records(repo, &rec_file)? {
                        let at = |e: ConfigError| e.at(Some(rec.line), Some(rec.col));
                        let vars = rec.fields;
                        let name = render_template(&d.name, &vars).map_err(|p| {
                            ConfigError::new(
                                &rec_file,
                                format!(
                                    "{} has no field `{p}` for the name template `{}`",
                                    rec.what, d.name
                                ),
                            )
                            .at(Some(rec.line), Some(rec.col))
                            .hint(format!(
                                "fields available: {}",
                                vars.keys().cloned().collect::<Vec<_>>().join(", ")
                            ))
                        })?;
                        validate_name(&name).map_err(|m| at(ConfigError::new(&rec_file, m)))?;
                        if envs.iter().any(|e| e.name == name) {
                            return Err(at(ConfigError::new(
                                &rec_file,
                                format!("environment `{name}` is declared twice"),
                            )));
                        }
                        let mut vars = vars;
                        vars.insert("env".into(), name.clone());
                        let mut env = default_env(name, vars, rec_file.clone());
                        if let Some(k) = env.vars.get("kubeVersion") {
                            env.kube_version = k.clone();
                        }
                        if let Some(a) = rec.lists.get("apiVersions") {
                            env.api_versions = a.clone();
                        }
                        envs.push(env);
                    }
                }
            }
            EnvironmentEntry::Inline(inline) => {
                validate_name(&inline.name)
                    .map_err(|m| ConfigError::new(file, m).at_node(here()))?;
                let pos = match envs.iter().position(|e| e.name == inline.name) {
                    Some(p) => p,
                    None => {
                        let vars = BTreeMap::from([("env".to_string(), inline.name.clone())]);
                        envs.push(default_env(inline.name.clone(), vars, file.to_string()));
                        envs.len() - 1
                    }
                };
                let env = &mut envs[pos];
                env.vars
                    .extend(inline.vars.iter().map(|(k, v)| (k.clone(), v.clone())));
                if let Some(k) = &inline.kube_version {
                    env.kube_version = k.clone();
                }
                if let Some(a) = &inline.api_versions {
                    env.api_versions = a.clone();
                }
                if let Some(platforms) = &inline.platforms {
                    for (pi, p) in platforms.iter().enumerate() {
                        validate_platform(p).map_err(|m| {
                            ConfigError::new(file, m).at_node(
                                root.at_path(&format!("environments[{i}].platforms[{pi}]")),
                            )
                        })?;
                    }
                    env.platforms = platforms.clone();
                }
            }
        }
    }
    // Without environments, components would make no cell at all: only an `argocd:` fleet
    // may leave them out.
    if envs.is_empty() && (model.argocd.is_none() || !model.components.is_empty()) {
        return Err(
            ConfigError::new(file, "no environment is declared").at_node(root.get("environments"))
        );
    }
    Ok(envs)
}

/// A platform is `os/architecture[/variant]`, lowercase, as image indexes name them.
fn validate_platform(p: &str) -> Result<(), String> {
    let parts: Vec<&str> = p.split('/').collect();
    let plain = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    };
    if (2..=3).contains(&parts.len()) && parts.iter().all(|s| plain(s)) {
        Ok(())
    } else {
        Err(format!(
            "`{p}` is not a platform; write `os/architecture` or `os/architecture/variant`, \
             for example `linux/arm64` or `linux/arm/v7`"
        ))
    }
}

/// Names end up in file names, report keys and helm arguments: keep them plain.
pub(crate) fn validate_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > 253 {
        return Err(format!(
            "`{name}` is not a valid name (1 to 253 characters)"
        ));
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        || name.starts_with(['-', '.'])
    {
        return Err(format!(
            "`{name}` is not a valid name: use letters, digits, `-`, `_` and `.`"
        ));
    }
    Ok(())
}

/// A component file as Argo CD's ApplicationSet reads it. Unknown fields are allowed: these files
/// carry more than imagegate needs.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ComponentFile {
    name: Spanned<String>,
    #[serde(default)]
    project: Option<String>,
    #[serde(default)]
    domain: Option<String>,
    #[serde(default)]
    namespace: Option<String>,
    chart: Spanned<ComponentChart>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ComponentChart {
    #[serde(default, rename = "repoURL")]
    repo_url: Option<Spanned<String>>,
    #[serde(default)]
    version: Option<Spanned<String>>,
    #[serde(default)]
    path: Option<Spanned<String>>,
    #[serde(default)]
    value_files: Option<Vec<String>>,
    #[serde(default)]
    skip_crds: Option<bool>,
}

/// Reads and deserialises one component file.
fn component_file(repo: &Repo, cf: &str) -> Result<ComponentFile, ConfigError> {
    let ctext = repo.read_to_string(cf, MAX_CONFIG_BYTES)?;
    // An empty file is an empty mapping, so the error names `name` as missing.
    let croot = load_yaml(cf, &ctext)?.unwrap_or(Node {
        value: Value::Map(Vec::new()),
        line: 1,
        col: 1,
    });
    imagegate_yaml::from_node(&croot).map_err(|e| de_error(cf, &e))
}

/// What a component file says, read as the matrix reads it (`init` proposes configurations
/// from these).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComponentFacts {
    /// `name`.
    pub name: String,
    /// `domain`, or empty.
    pub domain: String,
    /// `project`, or empty.
    pub project: String,
    /// `chart.path`, when the chart is vendored in the repository.
    pub chart_path: Option<String>,
}

/// Reads one component file with the matrix's own reader.
pub fn read_component_file(repo: &Repo, path: &str) -> Result<ComponentFacts, ConfigError> {
    let c = component_file(repo, path)?;
    Ok(ComponentFacts {
        name: c.name.value,
        domain: c.domain.unwrap_or_default(),
        project: c.project.unwrap_or_default(),
        chart_path: c.chart.value.path.map(|p| p.value),
    })
}

pub(crate) fn resolve_components(
    repo: &Repo,
    file: &str,
    root: &Node,
    model: &FleetFile,
) -> Result<Vec<Component>, ConfigError> {
    let mut out: Vec<Component> = Vec::new();
    let strip = |v: &String| {
        v.strip_prefix(model.values_prefix.as_str())
            .unwrap_or(v)
            .to_string()
    };
    // Every component is checked, and every error kept: one run shows them all.
    let mut errors = Vec::new();
    for (i, entry) in model.components.iter().enumerate() {
        let here = || root.at_path(&format!("components[{i}]"));
        match entry {
            ComponentEntry::Discover(d) => {
                let files = match repo.glob(&d.from) {
                    Ok(f) => f,
                    Err(m) => {
                        errors.push(ConfigError::new(file, m).at_node(here()));
                        continue;
                    }
                };
                if files.is_empty() {
                    errors.push(
                        ConfigError::new(file, format!("`{}` matches no component file", d.from))
                            .at_node(here())
                            .hint("component files are matched relative to the repository root"),
                    );
                    continue;
                }
                // Every component file of an entry names the one repository its charts are in:
                // this one. One that names another is a chart this checkout does not hold.
                let mut urls: Vec<(String, String, String, u32, u32)> = Vec::new();
                for cf in files {
                    let mut one = || -> Result<Component, ConfigError> {
                        let c = component_file(repo, &cf)?;
                        let at = |s: &Spanned<String>| (Some(s.line), Some(s.col));
                        validate_name(&c.name).map_err(|m| {
                            let (line, col) = at(&c.name);
                            ConfigError::new(&cf, m).at(line, col)
                        })?;
                        let Some(path) = c.chart.path.as_ref() else {
                            return Err(ConfigError::new(&cf, "`chart.path` is missing")
                            .at(Some(c.chart.line), Some(c.chart.col))
                            .hint(format!(
                            "imagegate renders charts vendored in the repository; vendor {} and set chart.path",
                            c.chart.repo_url.as_ref().map_or("the chart", |u| u.value.as_str())
                        )));
                        };
                        let chart = repo.normalise(path).map_err(|m| {
                            let (line, col) = at(path);
                            ConfigError::new(&cf, format!("chart.path: {m}")).at(line, col)
                        })?;
                        if let Some(v) = &c.chart.version {
                            if !crate::argocd::is_checked_revision(&d.target_revisions, &v.value) {
                                let (line, col) = at(v);
                                return Err(ConfigError::new(
                                    &cf,
                                    format!(
                                        "chart.version `{}` is not the revision under check: Argo CD renders the chart at that revision, which this checkout does not show",
                                        v.value
                                    ),
                                )
                                .at(line, col)
                                .hint(format!(
                                    "point it at the branch this repository deploys from, or list that branch in the component entry's targetRevisions (now {})",
                                    d.target_revisions.join(", ")
                                )));
                            }
                        }
                        if let Some(u) = &c.chart.repo_url {
                            urls.push((
                                crate::argocd::normalise_repo_url(&u.value),
                                u.value.clone(),
                                cf.clone(),
                                u.line,
                                u.col,
                            ));
                        }
                        let chart_settings = c.chart.value;
                        let (name_line, name_col) = (c.name.line, c.name.col);
                        Ok(Component {
                            name: c.name.value,
                            domain: c.domain.unwrap_or_default(),
                            project: c.project.unwrap_or_default(),
                            namespace: c.namespace,
                            scope: d.scope,
                            chart,
                            value_files: chart_settings
                                .value_files
                                .map(|v| v.iter().map(strip).collect()),
                            environments: None,
                            skip_crds: chart_settings.skip_crds.unwrap_or(false),
                            position: Some((name_line, name_col)),
                            source: cf.clone(),
                        })
                    };
                    match one() {
                        Ok(c) => out.push(c),
                        Err(e) => errors.push(e),
                    }
                }
                let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
                for (url, ..) in &urls {
                    *counts.entry(url.as_str()).or_default() += 1;
                }
                if counts.len() > 1 {
                    // The repository most files name is taken for this one; the others err.
                    let (this, _) = counts
                        .iter()
                        .max_by_key(|(_, n)| **n)
                        .map(|(u, n)| (*u, *n))
                        .unwrap_or_default();
                    for (url, written, cf, line, col) in &urls {
                        if url != this {
                            errors.push(
                                ConfigError::new(
                                    cf,
                                    format!(
                                        "chart.repoURL `{written}` is not the repository the other component files name ({this}): Argo CD renders this chart from there, which this checkout does not hold"
                                    ),
                                )
                                .at(Some(*line), Some(*col))
                                .hint("vendor the chart into this repository and point repoURL here"),
                            );
                        }
                    }
                }
            }
            ComponentEntry::Inline(c) => {
                let InlineComponent {
                    name,
                    chart,
                    domain,
                    project,
                    namespace,
                    scope,
                    environments,
                    value_files,
                    skip_crds,
                } = c;
                if let Err(m) = validate_name(name) {
                    errors.push(ConfigError::new(file, m).at_node(here()));
                    continue;
                }
                let chart = match repo.normalise(chart) {
                    Ok(c) => c,
                    Err(m) => {
                        errors.push(ConfigError::new(file, format!("chart: {m}")).at_node(here()));
                        continue;
                    }
                };
                out.push(Component {
                    name: name.clone(),
                    domain: domain.clone(),
                    project: project.clone(),
                    namespace: namespace.clone(),
                    scope: *scope,
                    chart,
                    value_files: value_files.as_ref().map(|v| v.iter().map(strip).collect()),
                    environments: environments.clone(),
                    skip_crds: *skip_crds,
                    source: file.to_string(),
                    position: here().map(|n| (n.line, n.col)),
                });
            }
        }
    }
    out.sort_by(|a, b| (a.scope, &a.name).cmp(&(b.scope, &b.name)));
    for w in out.windows(2) {
        if w[0].scope == w[1].scope && w[0].name == w[1].name {
            errors.push(w[1].error(format!("component `{}` is also declared in {}", w[1].name, w[0].source))
                .hint("component names must be unique within their scope: they name the Argo CD applications"));
        }
    }
    ConfigError::collect(errors)?;
    Ok(out)
}

/// Where a component renders: (environment name of the cell, placeholders, the environment
/// whose helm settings apply).
type Target<'a> = (String, BTreeMap<String, String>, &'a Environment);

/// Every environment name a cell can have: the environments, and the cluster environments of
/// the cluster-scoped components (none when there are none).
pub(crate) fn environment_names(cfg: &Fleet) -> Result<Vec<String>, ConfigError> {
    let mut names: Vec<String> = cfg.environments.iter().map(|e| e.name.clone()).collect();
    if cfg.components.iter().any(|c| c.scope == Scope::Cluster) {
        names.extend(clusters(cfg)?.into_iter().map(|(name, _, _)| name));
    }
    for cell in &cfg.argocd.cells {
        if !names.contains(&cell.environment) {
            names.push(cell.environment.clone());
        }
    }
    Ok(names)
}

/// The distinct clusters: (cluster environment name, shared vars, first environment of it).
fn clusters(cfg: &Fleet) -> Result<Vec<Target<'_>>, ConfigError> {
    let key = &cfg.model.cluster_scope.key;
    let mut seen: Vec<(String, Vec<&Environment>)> = Vec::new();
    for env in &cfg.environments {
        let Some(v) = env.vars.get(key) else { continue };
        match seen.iter_mut().find(|(k, _)| k == v) {
            Some((_, list)) => list.push(env),
            None => seen.push((v.clone(), vec![env])),
        }
    }
    let mut out = Vec::new();
    for (_, members) in seen {
        // A cluster cell sees only the placeholders all of its environments agree on.
        let mut vars = members[0].vars.clone();
        vars.retain(|k, v| k != "env" && members.iter().all(|m| m.vars.get(k) == Some(v)));
        let name = render_template(&cfg.model.cluster_scope.environment, &vars).map_err(|p| {
            ConfigError::new(&cfg.file, format!("clusterScope.environment uses `{{{p}}}`, which the cluster's environments do not share"))
        })?;
        vars.insert("env".into(), name.clone());
        out.push((name, vars, members[0]));
    }
    Ok(out)
}

pub(crate) fn cells(cfg: &Fleet) -> Result<Vec<Cell>, ConfigError> {
    let model = &cfg.model;
    let has_cluster_components = cfg.components.iter().any(|c| c.scope == Scope::Cluster);
    let cluster_list = if has_cluster_components {
        clusters(cfg)?
    } else {
        Vec::new()
    };
    if has_cluster_components && cluster_list.is_empty() {
        return Err(ConfigError::new(
            &cfg.file,
            format!(
                "cluster-scoped components are declared, but no environment has the `{}` variable",
                model.cluster_scope.key
            ),
        ));
    }
    let mut out = Vec::new();
    for comp in &cfg.components {
        let targets: Vec<Target<'_>> = match comp.scope {
            Scope::Environment => cfg
                .environments
                .iter()
                .filter(|e| {
                    comp.environments
                        .as_ref()
                        .is_none_or(|only| only.contains(&e.name))
                })
                .map(|e| (e.name.clone(), e.vars.clone(), e))
                .collect(),
            Scope::Cluster => cluster_list.clone(),
        };
        for (env_name, mut vars, env) in targets {
            vars.insert("name".into(), comp.name.clone());
            vars.insert("domain".into(), comp.domain.clone());
            vars.insert("project".into(), comp.project.clone());
            let err = |what: &str, p: String| {
                comp.error(format!(
                    "{what} uses `{{{p}}}`, which cell {env_name}/{} does not provide",
                    comp.name
                ))
                .hint(format!(
                    "placeholders available: {}",
                    vars.keys().cloned().collect::<Vec<_>>().join(", ")
                ))
            };
            let (app_tpl, stack) = match comp.scope {
                Scope::Environment => (&model.naming.app, &model.value_stacks.environment),
                Scope::Cluster => (&model.naming.cluster_app, &model.value_stacks.cluster),
            };
            let app = render_template(app_tpl, &vars).map_err(|p| err("naming.app", p))?;
            let namespace = match (&comp.namespace, &model.naming.namespace) {
                (Some(ns), _) => ns.clone(),
                (None, Some(t)) => {
                    render_template(t, &vars).map_err(|p| err("naming.namespace", p))?
                }
                (None, None) => vars
                    .get("namespace")
                    .cloned()
                    .unwrap_or_else(|| "default".into()),
            };
            let mut vars_app = vars.clone();
            vars_app.insert("app".into(), app.clone());
            let release = render_template(&model.naming.release, &vars_app)
                .map_err(|p| err("naming.release", p))?;
            let templates = comp.value_files.as_ref().unwrap_or(stack);
            let mut value_files = Vec::new();
            let mut problems = Vec::new();
            for t in templates {
                let rel =
                    render_template(t, &vars).map_err(|p| err(&format!("value file `{t}`"), p))?;
                let path = cfg
                    .repo
                    .normalise(&rel)
                    .map_err(|m| comp.error(format!("value file: {m}")))?;
                let present = match cfg.repo.resolve(&path) {
                    Ok(Some(real)) => real.is_file(),
                    Ok(None) => false,
                    Err(m) => return Err(comp.error(format!("value file: {m}"))),
                };
                if !present && model.missing_value_files == MissingValueFiles::Error {
                    problems.push(format!(
                        "values file {path} does not exist (missingValueFiles: error)"
                    ));
                }
                if !value_files.iter().any(|v: &ValueFile| v.path == path) {
                    value_files.push(ValueFile { path, present });
                }
            }
            match cfg.repo.resolve(&comp.chart) {
                Ok(Some(real)) if real.join("Chart.yaml").is_file() => {}
                Ok(Some(_)) => problems.push(format!(
                    "{} is not a chart: it has no Chart.yaml",
                    comp.chart
                )),
                Ok(None) => problems.push(format!("chart folder {} does not exist", comp.chart)),
                Err(m) => problems.push(format!("chart refused: {m}")),
            }
            out.push(Cell {
                environment: env_name,
                app,
                release,
                namespace,
                component: comp.name.clone(),
                scope: comp.scope,
                chart: comp.chart.clone(),
                value_files,
                kube_version: env.kube_version.clone(),
                api_versions: env.api_versions.clone(),
                include_crds: model.helm.include_crds && !comp.skip_crds,
                skip_tests: false,
                skip_schema_validation: false,
                source: comp.source.clone(),
                problems,
                inline_values: None,
                parameters: Vec::new(),
                argocd: None,
                value_texts: Vec::new(),
            });
        }
    }
    out.extend(cfg.argocd.cells.iter().cloned());
    out.sort_by(|a, b| (&a.environment, &a.app).cmp(&(&b.environment, &b.app)));
    for w in out.windows(2) {
        if w[0].environment == w[1].environment && w[0].app == w[1].app {
            let from = |c: &Cell| match &c.argocd {
                Some(o) => o.describe(),
                None => format!("component {}", c.component),
            };
            return Err(ConfigError::new(
                &w[1].source,
                format!(
                    "two cells are both named {}/{} ({} and {})",
                    w[1].environment,
                    w[1].app,
                    from(&w[0]),
                    from(&w[1])
                ),
            ));
        }
    }
    if out.len() > model.limits.max_cells {
        return Err(ConfigError::new(
            &cfg.file,
            format!(
                "the matrix has {} cells, over limits.maxCells ({})",
                out.len(),
                model.limits.max_cells
            ),
        ));
    }
    Ok(out)
}
