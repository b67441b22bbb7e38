//! The fleet half of `imagegate.yaml` and the cell matrix it resolves to.
//!
//! The data flow starts here: the configuration names environments and components; [`Fleet::cells`]
//! crosses them into *cells* (one chart × one environment, or one cluster-scoped chart × one
//! cluster type), each with the ordered stack of values files Argo CD would pass to Helm.
//!
//! Everything that touches the file system goes through [`Repo`], which keeps every path inside
//! the repository under check: a configuration, component file or value stack that points outside
//! it (`..`, an absolute path, a symlink out) is a configuration error.
//!
//! This crate knows nothing of the image policy: the `policy:`, `exceptions:` and `promotion:`
//! sections belong to `imagegate-policy`, and the whole file is assembled by `imagegate-engine`.

#![warn(clippy::print_stdout, clippy::print_stderr)]

mod argocd;
mod error;
mod matrix;
mod model;
mod paths;
mod template;

pub use argocd::{
    clean_set_value, lex_go_template, normalise_repo_url, rename_function, ArgoCdFleet,
    ArgoCdSettings, ArgoCluster, ArgoOrigin, GoTemplateFailure, GoTemplateJob, GoTemplates,
    HelmParameter, InlineValues, NotJudged, ParameterKind, ARGO_ONLY,
};
pub use error::ConfigError;
pub use matrix::{
    read_component_file, read_records, Cell, Component, ComponentFacts, Environment, Record, Scope,
    ValueFile,
};
pub use model::*;
pub use paths::{path_glob, Repo};
pub use template::render_template;

use imagegate_yaml::Node;

/// Largest configuration or component file we read (hostile input is bounded).
pub const MAX_CONFIG_BYTES: u64 = 4 * 1024 * 1024;

/// The fleet of a loaded configuration: its repository, its fleet sections and the environments
/// and components they resolve to.
#[derive(Debug, Clone)]
pub struct Fleet {
    /// The repository the configuration describes.
    pub repo: Repo,
    /// Path of the configuration file relative to the repository root.
    pub file: String,
    /// The fleet sections of the parsed file.
    pub model: FleetFile,
    /// Resolved environments, in declaration order.
    pub environments: Vec<Environment>,
    /// Resolved components (discovered and inline), sorted by scope then name.
    pub components: Vec<Component>,
    /// The cells and not-judged applications of the `argocd:` section (empty without one).
    pub argocd: ArgoCdFleet,
}

impl Fleet {
    /// Resolves the fleet sections of the configuration `file` of `repo`, read from the tree
    /// `root` (whose nodes give errors their lines): the bounds are checked, environments and
    /// components discovered and validated.
    pub fn resolve(
        repo: Repo,
        file: &str,
        root: &Node,
        model: FleetFile,
    ) -> Result<Self, ConfigError> {
        Self::resolve_with(repo, file, root, model, None)
    }

    /// [`Fleet::resolve`] with what evaluates the Go templates of `goTemplate` ApplicationSets
    /// (without one, such an ApplicationSet with a templated string is an error).
    pub fn resolve_with(
        repo: Repo,
        file: &str,
        root: &Node,
        model: FleetFile,
        templates: Option<&dyn GoTemplates>,
    ) -> Result<Self, ConfigError> {
        model::check_bounds(file, root, &model)?;
        // The environments, the components and the Argo CD manifests are checked apart, and
        // every error of each kept, so one run shows them all.
        let environments = matrix::resolve_environments(&repo, file, root, &model);
        let components = matrix::resolve_components(&repo, file, root, &model);
        let argocd = match &model.argocd {
            Some(settings) => argocd::resolve(
                &repo,
                file,
                root,
                settings,
                &model.helm,
                templates,
                model.limits.max_cells,
            ),
            None => Ok(ArgoCdFleet::default()),
        };
        let (environments, components, argocd) = match (environments, components, argocd) {
            (Ok(e), Ok(c), Ok(a)) => (e, c, a),
            (e, c, a) => {
                let errors = [e.err(), c.err(), a.err()].into_iter().flatten().collect();
                return Err(ConfigError::collect(errors).err().unwrap_or_else(|| {
                    ConfigError::new(file, "the configuration did not resolve")
                }));
            }
        };
        Ok(Self {
            repo,
            file: file.to_string(),
            model,
            environments,
            components,
            argocd,
        })
    }

    /// Every environment name a cell can have: the environments, then (when a component is
    /// cluster-scoped) the cluster environments.
    pub fn environment_names(&self) -> Result<Vec<String>, ConfigError> {
        matrix::environment_names(self)
    }

    /// The full cell matrix, sorted by (environment, app).
    pub fn cells(&self) -> Result<Vec<Cell>, ConfigError> {
        matrix::cells(self)
    }

    /// The folders whose values files cells must read (`valueFolders.include`, else the folders
    /// the value stacks and the components' own `valueFiles` point into), repository-relative,
    /// without a trailing slash, sorted, none inside another. An empty string is the repository
    /// root (a template that starts with a placeholder points anywhere, so it adds nothing).
    pub fn value_folders(&self) -> Vec<String> {
        let mut folders: Vec<String> = match &self.model.value_folders.include {
            Some(list) => list
                .iter()
                .map(|f| f.trim_start_matches("./").trim_end_matches('/').to_string())
                .collect(),
            None => {
                let stacks = &self.model.value_stacks;
                let own = self
                    .components
                    .iter()
                    .flat_map(|c| c.value_files.iter().flatten());
                stacks
                    .environment
                    .iter()
                    .chain(&stacks.cluster)
                    .chain(own)
                    .filter_map(|t| {
                        let literal = &t[..t.find('{').unwrap_or(t.len())];
                        let folder = &literal[..literal.rfind('/')?];
                        let folder = folder.trim_start_matches("./");
                        (!folder.is_empty()).then(|| folder.to_string())
                    })
                    .collect()
            }
        };
        folders.sort();
        folders.dedup();
        let all = folders.clone();
        folders.retain(|f| {
            !all.iter().any(|other| {
                other != f && (other.is_empty() || f.starts_with(&format!("{other}/")))
            })
        });
        folders
    }
}

/// The candidate closest to `word` for a "did you mean" (at most two edits away, or one a
/// prefix of the other: `prod` for `production`), if any. Shared by every message that
/// suggests a name.
pub fn closest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let word = word.to_ascii_lowercase();
    candidates
        .iter()
        .map(|c| (edit_distance(&word, &c.to_ascii_lowercase()), *c))
        .filter(|(d, c)| {
            *d <= 2 || (word.len() >= 3 && (c.starts_with(word.as_str()) || word.starts_with(c)))
        })
        .min()
        .map(|(_, c)| c)
}

/// Levenshtein distance.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod name_tests {
    use super::*;

    /// A fleet with the default sections and these environments and components, read from `text`
    /// as the engine reads the whole file (their entries deserialized from the same tree).
    fn fleet(repo: Repo, text: &str) -> Result<Fleet, ConfigError> {
        let root = load_yaml("imagegate.yaml", text)?.expect("a document");
        let entries = |key: &str| root.get(key).expect(key);
        let model = FleetFile {
            helm: HelmSettings::default(),
            environments: imagegate_yaml::from_node(entries("environments")).unwrap(),
            cluster_scope: ClusterScope::default(),
            components: imagegate_yaml::from_node(entries("components")).unwrap(),
            value_stacks: ValueStacks::default(),
            values_prefix: default_values_prefix(),
            missing_value_files: MissingValueFiles::default(),
            naming: Naming::default(),
            limits: LimitSettings::default(),
            value_folders: ValueFolders::default(),
            argocd: None,
        };
        Fleet::resolve(repo, "imagegate.yaml", &root, model)
    }

    #[test]
    fn a_component_file_naming_another_revision_or_repository_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let write = |path: &str, text: &str| {
            let p = dir.path().join(path);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        };
        write(
            "charts/web/Chart.yaml",
            "apiVersion: v2\nname: web\nversion: 0.1.0\n",
        );
        let component = |name: &str, url: &str, version: &str| {
            format!("name: {name}\nchart:\n  repoURL: {url}\n  path: charts/web\n  version: {version}\n")
        };
        let ours = "https://github.com/acme/gitops.git";
        let text = "environments:\n  - {name: dev}\ncomponents:\n  - from: \"c/*.yaml\"\n";
        let resolve = || fleet(Repo::open(dir.path()).unwrap(), text);
        write("c/a.yaml", &component("a", ours, "main"));
        write(
            "c/b.yaml",
            &component("b", "git@github.com:acme/gitops", "refs/heads/main"),
        );
        write("c/c.yaml", &component("c", ours, "HEAD"));
        assert_eq!(resolve().unwrap().cells().unwrap().len(), 3);
        // A commit: Argo CD renders that revision, not this checkout.
        write("c/b.yaml", &component("b", ours, "0123456789abcdef"));
        let e = resolve().unwrap_err();
        assert!(
            e.message
                .contains("chart.version `0123456789abcdef` is not the revision under check"),
            "{e}"
        );
        assert_eq!((e.file.as_str(), e.line), ("c/b.yaml", Some(5)), "{e}");
        // Another repository than the one the other files name.
        write(
            "c/b.yaml",
            &component("b", "https://github.com/attacker/charts.git", "main"),
        );
        let e = resolve().unwrap_err();
        assert!(e.message.contains("chart.repoURL `https://github.com/attacker/charts.git` is not the repository the other component files name"), "{e}");
        assert_eq!((e.file.as_str(), e.line), ("c/b.yaml", Some(3)), "{e}");
        // targetRevisions names the branch the fleet deploys from.
        write("c/b.yaml", &component("b", ours, "production"));
        let text = "environments:\n  - {name: dev}\ncomponents:\n  - {from: \"c/*.yaml\", targetRevisions: [main, HEAD, production]}\n";
        assert!(fleet(Repo::open(dir.path()).unwrap(), text).is_ok());
    }

    #[test]
    fn a_fleet_resolves_without_any_policy() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("web")).unwrap();
        let repo = Repo::open(dir.path()).unwrap();
        let text = "environments:\n  - {name: dev, vars: {clusterType: c1}}\n  - {name: production, vars: {clusterType: c1}}\ncomponents:\n  - {name: web, chart: web}\n  - {name: crd, chart: web, scope: cluster}\n";
        let fleet = fleet(repo, text).unwrap();
        let cells = fleet.cells().unwrap();
        let apps: Vec<&str> = cells.iter().map(|c| c.app.as_str()).collect();
        assert_eq!(
            apps,
            ["cluster-crd", "dev-web", "production-web"],
            "{cells:?}"
        );
        let names = fleet.environment_names().unwrap();
        assert_eq!(names, ["dev", "production", "cluster-c1"]);
    }

    #[test]
    fn fleet_errors_point_at_their_entry() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repo::open(dir.path()).unwrap();
        let text = "environments: [{name: dev}]\ncomponents: [{name: web, chart: a}, {name: web, chart: b}]\n";
        let err = fleet(repo, text).unwrap_err().to_string();
        assert!(
            err.starts_with("imagegate.yaml:2:37: component `web` is also declared"),
            "{err}"
        );
    }

    /// A fleet of the record files `files` (path, text) and the environment entry `entry`.
    fn records_fleet(files: &[(&str, &str)], entry: &str) -> Result<Fleet, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        for (p, t) in files {
            let p = dir.path().join(p);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, t).unwrap();
        }
        let repo = Repo::open(dir.path()).unwrap();
        fleet(repo, &format!("environments: [{entry}]\ncomponents: []\n"))
    }

    #[test]
    fn nested_records_inherit_their_parents_fields() {
        let azure = "clusterType: azure\nkubeVersion: \"1.30.0\"\nregion: eu\nenvironments:\n  - env: dev\n    namespace: web-dev\n  - env: prod\n    region: us\n    apiVersions: [monitoring.coreos.com/v1, cert-manager.io/v1]\n";
        let local = "- clusterType: local\n  apiVersions: [a/v1]\n  environments:\n    - {env: local}\n    - {env: kind, apiVersions: []}\n";
        let f = records_fleet(
            &[
                ("clusters/azure.yaml", azure),
                ("clusters/local.yaml", local),
            ],
            "{from: \"clusters/*.yaml\", name: \"{env}\"}",
        )
        .unwrap();
        type Got<'a> = (&'a str, Vec<(&'a str, &'a str)>, &'a str, Vec<&'a str>);
        let got: Vec<Got<'_>> = f
            .environments
            .iter()
            .map(|e| {
                (
                    e.name.as_str(),
                    e.vars
                        .iter()
                        .map(|(k, v)| (k.as_str(), v.as_str()))
                        .collect(),
                    e.kube_version.as_str(),
                    e.api_versions.iter().map(String::as_str).collect(),
                )
            })
            .collect();
        let default_kube = HelmSettings::default().kube_version;
        assert_eq!(
            got,
            [
                (
                    "dev",
                    vec![
                        ("clusterType", "azure"),
                        ("env", "dev"),
                        ("kubeVersion", "1.30.0"),
                        ("namespace", "web-dev"),
                        ("region", "eu")
                    ],
                    "1.30.0",
                    vec![]
                ),
                (
                    "prod",
                    vec![
                        ("clusterType", "azure"),
                        ("env", "prod"),
                        ("kubeVersion", "1.30.0"),
                        ("region", "us")
                    ],
                    "1.30.0",
                    vec!["monitoring.coreos.com/v1", "cert-manager.io/v1"]
                ),
                (
                    "local",
                    vec![("clusterType", "local"), ("env", "local")],
                    default_kube.as_str(),
                    vec!["a/v1"]
                ),
                (
                    "kind",
                    vec![("clusterType", "local"), ("env", "kind")],
                    default_kube.as_str(),
                    vec![]
                ),
            ]
        );
    }

    #[test]
    fn nested_record_errors_name_the_record() {
        for (text, want) in [
            (
                "clusterType: azure\nenvironments: {env: dev}\n",
                "clusters/a.yaml:2:15: record 0: `environments` must be a list of records",
            ),
            (
                "clusterType: azure\nenvironments:\n  - env: dev\n  - just-a-name\n",
                "clusters/a.yaml:4:5: record 0.environments[1] is not a mapping",
            ),
            (
                "clusterType: azure\nenvironments:\n  - {clusterType: x}\n",
                "clusters/a.yaml:3:5: record 0.environments[0] has no field `env`",
            ),
        ] {
            let err = records_fleet(
                &[("clusters/a.yaml", text)],
                "{from: \"clusters/*.yaml\", name: \"{env}\"}",
            )
            .unwrap_err()
            .to_string();
            assert!(err.starts_with(want), "{err}");
        }
    }

    #[test]
    fn closest_suggests_only_what_is_close() {
        assert_eq!(closest("sarfi", &["text", "sarif"]), Some("sarif"));
        assert_eq!(closest("prod", &["dev", "production"]), Some("production"));
        assert_eq!(closest("foo", &["text", "json", "sarif"]), None);
        assert_eq!(closest("stagign", &["staging", "dev"]), Some("staging"));
    }
}
