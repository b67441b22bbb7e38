//! The fleet sections of `imagegate.yaml`, as serde structs. The file's top level, which adds the
//! sections the policy owns, is assembled by the engine; the JSON schema for editors is generated
//! from these types, so the documentation on each field is what users see.

use crate::ConfigError;
use imagegate_yaml::Node;
use schemars::JsonSchema;
use serde::Deserialize;
use std::collections::BTreeMap;

/// The fleet sections of the configuration file: what is rendered, where, and within which
/// bounds. Each field is the top-level section of the same name (their documentation is in the
/// top-level file's type, which the schema is generated from).
#[derive(Debug, Clone)]
pub struct FleetFile {
    /// `helm`.
    pub helm: HelmSettings,
    /// `environments`.
    pub environments: Vec<EnvironmentEntry>,
    /// `clusterScope`.
    pub cluster_scope: ClusterScope,
    /// `components`.
    pub components: Vec<ComponentEntry>,
    /// `valueStacks`.
    pub value_stacks: ValueStacks,
    /// `valuesPrefix`.
    pub values_prefix: String,
    /// `missingValueFiles`.
    pub missing_value_files: MissingValueFiles,
    /// `naming`.
    pub naming: Naming,
    /// `limits`.
    pub limits: LimitSettings,
    /// `valueFolders`.
    pub value_folders: ValueFolders,
    /// `argocd`.
    pub argocd: Option<crate::ArgoCdSettings>,
}

/// Where the values files live that cells must read (`values-file-unused`).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase", default)]
pub struct ValueFolders {
    /// Folders (repository-relative) whose `*.yaml` and `*.yml` files must each be read by at
    /// least one cell. Default: the folders the value stacks and the components' own `valueFiles`
    /// point into (each template's path up to its first placeholder).
    pub include: Option<Vec<String>>,
    /// Globs of files under those folders that no cell needs to read.
    pub ignore: Vec<String>,
}

impl Default for ValueFolders {
    fn default() -> Self {
        Self {
            include: None,
            ignore: vec!["sources/charts/shared-values/**".into()],
        }
    }
}

/// How helm is invoked.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase", default)]
pub struct HelmSettings {
    /// `--kube-version` for every environment that sets none (charts branch on
    /// `.Capabilities.KubeVersion`; helm's built-in default is never used).
    pub kube_version: String,
    /// Extra `--api-versions` for every environment.
    pub api_versions: Vec<String>,
    /// Render the charts' `crds/` folders too (`--include-crds`). On by default: `helm install`
    /// and Argo CD apply everything in `crds/` (unless an Application sets `skipCrds`), and that
    /// folder can hold any object, a Deployment included. Turn a component's off with its
    /// `skipCrds`.
    pub include_crds: bool,
    /// Seconds one render may take before its whole process group is killed.
    pub timeout_seconds: u64,
}

impl Default for HelmSettings {
    fn default() -> Self {
        Self {
            kube_version: "1.31.0".into(),
            api_versions: Vec::new(),
            include_crds: true,
            timeout_seconds: 120,
        }
    }
}

/// An `environments:` entry.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum EnvironmentEntry {
    /// Environments discovered from record files.
    Discover(EnvironmentDiscovery),
    /// One environment listed inline (or overrides of a discovered one with the same name).
    Inline(InlineEnvironment),
}

/// Environments discovered from files: every record (a mapping) in every matching file is one
/// environment; its scalar fields become placeholders, its `kubeVersion` and `apiVersions` (a
/// list) its helm settings. A mapping with an `environments` list groups records: each inherits
/// the mapping's fields.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct EnvironmentDiscovery {
    /// Glob of record files, relative to the repository root (for example `config/clusters/*.yaml`).
    pub from: String,
    /// Template of the environment name, from the record's fields (for example `{env}`).
    pub name: String,
}

/// One environment listed inline.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct InlineEnvironment {
    /// The environment name (also the `{env}` placeholder).
    pub name: String,
    /// Placeholders for path templates (for example `clusterType`, `nodeProfile`, `namespace`).
    #[serde(default)]
    pub vars: BTreeMap<String, String>,
    /// `--kube-version` for this environment.
    #[serde(default)]
    pub kube_version: Option<String>,
    /// Extra `--api-versions` for this environment.
    #[serde(default)]
    pub api_versions: Option<Vec<String>>,
    /// The platforms of this environment's nodes, `os/architecture[/variant]` (for example
    /// `[linux/arm64]`): `check --registry` requires every pinned digest to cover each of them
    /// (`registry-platform-missing`).
    #[serde(default)]
    #[schemars(extend("items" = {"type": "string", "pattern": "^[a-z0-9]+/[a-z0-9_]+(/[a-z0-9]+)?$"}))]
    pub platforms: Option<Vec<String>>,
}

/// How cluster-scoped components are rendered.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase", default)]
pub struct ClusterScope {
    /// The environment variable whose distinct values are the clusters (for example `clusterType`).
    pub key: String,
    /// Template of the environment name cluster cells are reported under.
    pub environment: String,
}

impl Default for ClusterScope {
    fn default() -> Self {
        Self {
            key: "clusterType".into(),
            environment: "cluster-{clusterType}".into(),
        }
    }
}

/// Whether a component is rendered per environment or per cluster.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Deserialize,
    serde::Serialize,
    JsonSchema,
    Default,
)]
#[serde(rename_all = "camelCase")]
pub enum ScopeName {
    /// One cell per environment.
    #[default]
    Environment,
    /// One cell per distinct cluster (see `clusterScope`).
    Cluster,
}

/// A `components:` entry.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum ComponentEntry {
    /// Components discovered from component files.
    Discover(ComponentDiscovery),
    /// One component listed inline.
    Inline(InlineComponent),
}

/// Components discovered from component files (`name, project, domain, namespace, rolloutPhase,
/// chart: {repoURL, path, version, valueFiles, skipCrds}`).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ComponentDiscovery {
    /// Glob of component files, relative to the repository root.
    pub from: String,
    /// Rendered per environment or per cluster.
    #[serde(default)]
    pub scope: ScopeName,
    /// The `chart.version`s (the revision Argo CD's ApplicationSet renders the chart at) that
    /// mean the revision under check. A component file naming another (a commit, a tag, another
    /// branch) deploys what that revision holds, which this checkout does not show: a
    /// configuration error. An empty or missing `version` is `HEAD`.
    #[serde(default = "crate::argocd::default_target_revisions")]
    pub target_revisions: Vec<String>,
}

/// One component listed inline.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct InlineComponent {
    /// Component name (`{name}`).
    pub name: String,
    /// Chart folder, relative to the repository root.
    pub chart: String,
    /// Domain (`{domain}`), for example `apps`.
    #[serde(default)]
    pub domain: String,
    /// Project (`{project}`).
    #[serde(default)]
    pub project: String,
    /// Namespace override (else `naming.namespace`).
    #[serde(default)]
    pub namespace: Option<String>,
    /// Rendered per environment or per cluster.
    #[serde(default)]
    pub scope: ScopeName,
    /// Only these environments (by name); all when absent.
    #[serde(default)]
    pub environments: Option<Vec<String>>,
    /// Values files that replace the default stack (templates allowed).
    #[serde(default)]
    pub value_files: Option<Vec<String>>,
    /// Skip the chart's CRDs even when `helm.includeCrds` is set.
    #[serde(default)]
    pub skip_crds: bool,
}

/// The default value stacks.
#[derive(Debug, Clone, Deserialize, JsonSchema, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase", default)]
pub struct ValueStacks {
    /// Path templates for environment cells, in order (later files win).
    pub environment: Vec<String>,
    /// Path templates for cluster cells, in order.
    pub cluster: Vec<String>,
}

/// What a missing value-stack file means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "camelCase")]
pub enum MissingValueFiles {
    /// Skip it, as Argo CD's `ignoreMissingValueFiles: true` does.
    #[default]
    Skip,
    /// A configuration error for that cell.
    Error,
}

/// Name templates.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase", default)]
pub struct Naming {
    /// Application name of an environment cell.
    pub app: String,
    /// Application name of a cluster cell.
    pub cluster_app: String,
    /// Helm release name (`{app}` is available).
    pub release: String,
    /// Namespace when the component sets none. Default: the environment's `namespace`
    /// placeholder when it has one, else `default`.
    pub namespace: Option<String>,
}

impl Default for Naming {
    fn default() -> Self {
        Self {
            app: "{env}-{name}".into(),
            cluster_app: "cluster-{name}".into(),
            release: "{app}".into(),
            namespace: None,
        }
    }
}

/// Bounds on what one run may consume.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase", default)]
pub struct LimitSettings {
    /// Largest rendered output of one cell, in MiB.
    pub max_rendered_mib: u64,
    /// Most documents in one cell's rendered output.
    pub max_documents: usize,
    /// Most cells in one run; the applications of ApplicationSets count while their generators make them.
    pub max_cells: usize,
    /// Largest address space of one helm process, in MiB (at least 1024: the Go runtime
    /// reserves most of a gigabyte at start). A render that needs more fails as
    /// `render-failed` instead of taking the machine's memory.
    pub max_helm_memory_mib: u64,
}

impl Default for LimitSettings {
    fn default() -> Self {
        Self {
            max_rendered_mib: 64,
            max_documents: 20_000,
            max_cells: 20_000,
            max_helm_memory_mib: 4096,
        }
    }
}

/// The bounds `imagegate.yaml` may set, whatever the repository says: the configuration is
/// written by the pull request under check, so it must not be able to lift a bound out of reach
/// (a timeout of 2^64 − 1 seconds is a hang). The command line, which the CI owner writes, may
/// go further (`--timeout`).
pub mod caps {
    /// `helm.timeoutSeconds`: one hour.
    pub const TIMEOUT_SECONDS: u64 = 3600;
    /// `limits.maxRenderedMib`: 1 GiB of rendered output per cell.
    pub const MAX_RENDERED_MIB: u64 = 1024;
    /// `limits.maxDocuments`.
    pub const MAX_DOCUMENTS: usize = 1_000_000;
    /// `limits.maxCells`.
    pub const MAX_CELLS: usize = 100_000;
    /// `limits.maxHelmMemoryMib`: the range helm can run in, up to 16 GiB.
    pub const HELM_MEMORY_MIB: std::ops::RangeInclusive<u64> = 1024..=16384;
}

/// Checks every bound of the configuration against [`caps`]: a value past its cap (or zero,
/// which would judge nothing) is a configuration error naming the field and its line.
pub(crate) fn check_bounds(file: &str, root: &Node, model: &FleetFile) -> Result<(), ConfigError> {
    let l = &model.limits;
    let checks: [(&str, u64, std::ops::RangeInclusive<u64>); 5] = [
        (
            "helm.timeoutSeconds",
            model.helm.timeout_seconds,
            1..=caps::TIMEOUT_SECONDS,
        ),
        (
            "limits.maxRenderedMib",
            l.max_rendered_mib,
            1..=caps::MAX_RENDERED_MIB,
        ),
        (
            "limits.maxDocuments",
            l.max_documents as u64,
            1..=caps::MAX_DOCUMENTS as u64,
        ),
        (
            "limits.maxCells",
            l.max_cells as u64,
            1..=caps::MAX_CELLS as u64,
        ),
        (
            "limits.maxHelmMemoryMib",
            l.max_helm_memory_mib,
            caps::HELM_MEMORY_MIB,
        ),
    ];
    for (field, value, range) in checks {
        if !range.contains(&value) {
            return Err(ConfigError::new(
                file,
                format!(
                    "{field} is {value}; the configuration may set {} to {}",
                    range.start(),
                    range.end()
                ),
            )
            .at_node(root.at_path(field))
            .hint(
                "the bounds protect the run from the repository it checks; a CI owner who needs \
                 more passes it on the command line (for example --timeout SECONDS)",
            ));
        }
    }
    Ok(())
}

/// The default `valuesPrefix`: Argo CD's `$values/` source ref.
pub fn default_values_prefix() -> String {
    "$values/".into()
}

/// The hint of every error in the shape of `imagegate.yaml`.
pub const FORMAT_HINT: &str =
    "see docs/configuration.md for the format, or validate with docs/imagegate.schema.json";

/// Loads a configuration, environment record or component file into the span tree, bounded as
/// every YAML input is (`Ok(None)` for an empty file).
pub fn load_yaml(file: &str, text: &str) -> Result<Option<Node>, ConfigError> {
    imagegate_yaml::de::load_document(text, &imagegate_yaml::Limits::default())
        .map_err(|e| ConfigError::new(file, e.message).at(Some(e.line), Some(e.col)))
}

/// A deserialization error of `file`, at its node, with its path in front of the message.
pub fn de_error(file: &str, e: &imagegate_yaml::de::Error) -> ConfigError {
    ConfigError::new(file, e.describe()).at(Some(e.line()), Some(e.col()))
}

/// The error of a configuration that did not deserialize. serde's untagged enums say only "data
/// did not match any variant" at the entry; an `environments:` or `components:` entry is a
/// discovery when it has `from` and inline otherwise, so the error of the variant it was meant to
/// be is shown instead, at the node that is wrong (`components[2].skipCrds: invalid type …`).
pub fn explain_entry(file: &str, root: &Node, e: &imagegate_yaml::de::Error) -> ConfigError {
    let untagged = e.message().starts_with("data did not match any variant");
    let Some(node) = root.at_path(e.path()).filter(|_| untagged) else {
        return de_error(file, e);
    };
    let discovery = node.get("from").is_some();
    let inner = if e.path().starts_with("environments[") {
        if discovery {
            imagegate_yaml::from_node::<EnvironmentDiscovery>(node).err()
        } else {
            imagegate_yaml::from_node::<InlineEnvironment>(node).err()
        }
    } else if e.path().starts_with("components[") {
        if discovery {
            imagegate_yaml::from_node::<ComponentDiscovery>(node).err()
        } else {
            imagegate_yaml::from_node::<InlineComponent>(node).err()
        }
    } else {
        None
    };
    match inner {
        Some(inner) => {
            let path = match inner.path() {
                "" => e.path().to_owned(),
                p => format!("{}.{p}", e.path()),
            };
            ConfigError::new(file, format!("{path}: {}", inner.message()))
                .at(Some(inner.line()), Some(inner.col()))
        }
        None => de_error(file, e),
    }
}
