//! `imagegate.yaml` as a whole: its top level, assembled from the sections each crate owns (the
//! fleet's from `imagegate-fleet`; `policy:`, `exceptions:` and `promotion:` from
//! `imagegate-policy`), and the loaded [`Config`]. The checks that need both halves (the
//! environments the policy names must exist) run here, once the environments are known.
//!
//! The JSON schema for editors is generated from [`ConfigFile`] (see [`schema`]), so the
//! documentation on each field is what users see.

use crate::Fatal;
use imagegate_fleet::{
    closest, default_values_prefix, explain_entry, load_yaml, ArgoCdSettings, ClusterScope,
    ComponentEntry, ConfigError, EnvironmentEntry, Fleet, FleetFile, GoTemplateFailure,
    GoTemplateJob, GoTemplates, HelmSettings, LimitSettings, MissingValueFiles, Naming, Repo,
    ValueFolders, ValueStacks, FORMAT_HINT, MAX_CONFIG_BYTES,
};
use imagegate_policy::{ExceptionSettings, PolicySettings, PromotionSettings, RuleSeverity};
use imagegate_yaml::Node;
use schemars::JsonSchema;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// The whole configuration file.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ConfigFile {
    /// Format version of this file; `1`.
    pub version: u32,
    /// How helm is invoked for every cell.
    #[serde(default)]
    pub helm: HelmSettings,
    /// The cells are the Helm applications these Argo CD manifests generate: `Application`s and
    /// the `ApplicationSet`s that make them. Alone, or beside `environments` and `components`.
    #[serde(default)]
    pub argocd: Option<ArgoCdSettings>,
    /// The environments: discovered from files, listed inline, or both. May be left out when
    /// `argocd` describes the fleet.
    #[serde(default)]
    pub environments: Vec<EnvironmentEntry>,
    /// How cluster-scoped components are rendered (once per distinct value of `key`).
    #[serde(default)]
    pub cluster_scope: ClusterScope,
    /// The components (charts): discovered from component files, listed inline, or both.
    #[serde(default)]
    pub components: Vec<ComponentEntry>,
    /// The default value stacks, as path templates; later files win.
    #[serde(default)]
    pub value_stacks: ValueStacks,
    /// Prefix stripped from a component's own `valueFiles` entries (Argo CD's `$values/` source ref).
    #[serde(default = "default_values_prefix")]
    pub values_prefix: String,
    /// What a value-stack file that does not exist means: `skip` it (as Argo CD's
    /// `ignoreMissingValueFiles` does) or make it an `error`.
    #[serde(default)]
    pub missing_value_files: MissingValueFiles,
    /// Templates for the names of apps, releases and namespaces.
    #[serde(default)]
    pub naming: Naming,
    /// The image policy: immutable tag shapes, severities, custom image fields.
    #[serde(default)]
    pub policy: PolicySettings,
    /// Time-boxed exceptions.
    #[serde(default)]
    pub exceptions: ExceptionSettings,
    /// Bounds on what one run may consume.
    #[serde(default)]
    pub limits: LimitSettings,
    /// Promotion lineage (`promotion-drift`): the chains environments are promoted along and
    /// which images are first-party. Absent: no lineage is judged.
    #[serde(default)]
    pub promotion: Option<PromotionSettings>,
    /// Which values files must each be read by some cell (`values-file-unused`).
    #[serde(default)]
    pub value_folders: ValueFolders,
    /// Questions about the fleet that its files do not answer (`imagegate init` writes them:
    /// the order of value layers described only in prose, the clusters a `clusters` generator
    /// sees). While one is listed, every command that resolves the matrix stops with exit status
    /// 2 and lists them: answer each by editing the configuration as it says, then delete it.
    #[serde(default)]
    pub open_questions: Vec<OpenQuestion>,
}

/// A question the configuration's author must answer before the matrix is trusted.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct OpenQuestion {
    /// What to decide, and how to write the answer into the configuration.
    pub question: String,
    /// Where the question came from: the files or folders that raise it.
    #[serde(default)]
    pub from: Vec<String>,
}

impl ConfigFile {
    /// The fleet sections, for the matrix.
    fn fleet(&self) -> FleetFile {
        FleetFile {
            helm: self.helm.clone(),
            environments: self.environments.clone(),
            cluster_scope: self.cluster_scope.clone(),
            components: self.components.clone(),
            value_stacks: self.value_stacks.clone(),
            values_prefix: self.values_prefix.clone(),
            missing_value_files: self.missing_value_files,
            naming: self.naming.clone(),
            limits: self.limits.clone(),
            value_folders: self.value_folders.clone(),
            argocd: self.argocd.clone(),
        }
    }
}

/// The JSON schema of `imagegate.yaml`.
pub fn schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(ConfigFile)).expect("a schema serialises")
}

/// A loaded, validated configuration: the whole file, and the fleet it resolves to.
///
/// It dereferences to its [`Fleet`], so `repo`, `file`, `environments`, `components`,
/// [`Fleet::cells`] and [`Fleet::value_folders`] are reached on it directly; `model` is the whole
/// file (the fleet keeps its own copy of the fleet sections, read from the same tree, and neither
/// is changed after loading).
#[derive(Debug, Clone)]
pub struct Config {
    /// The fleet: repository, file name, environments, components.
    pub fleet: Fleet,
    /// The parsed file.
    pub model: ConfigFile,
}

impl std::ops::Deref for Config {
    type Target = Fleet;

    fn deref(&self) -> &Fleet {
        &self.fleet
    }
}

/// One chart judged on its own (`check --chart`).
#[derive(Debug, Clone, Copy)]
pub struct OneChart<'a> {
    /// The chart folder, inside the current folder.
    pub chart: &'a Path,
    /// Its values files, lowest precedence first.
    pub values: &'a [std::path::PathBuf],
    /// The environment's name.
    pub environment: &'a str,
    /// The release name (also the component's).
    pub release: &'a str,
    /// The namespace.
    pub namespace: &'a str,
    /// The Kubernetes version helm renders for.
    pub kube_version: &'a str,
}

impl Config {
    /// Loads the configuration file of a run, every problem an error that names the file (a
    /// missing file with what to do instead).
    pub fn open(path: &Path) -> Result<Self, Fatal> {
        Self::open_with_helm(path, None)
    }

    /// [`Config::open`], with `helm` (from `--helm`; else `IMAGEGATE_HELM`, else `PATH`) as the
    /// helm that evaluates `goTemplate` ApplicationSets, located only when one needs it.
    pub fn open_with_helm(path: &Path, helm: Option<&Path>) -> Result<Self, Fatal> {
        if !path.exists() {
            return Err(Fatal(format!(
                "{}: no such configuration file\n  hint: run imagegate in the repository root, pass --config FILE, or use `check --chart DIR` for one chart",
                path.display()
            )));
        }
        Self::load_with_helm(path, helm).map_err(|e| {
            // The snippet is read back from the repository the error is in, under its guards.
            let repo = Repo::open(repository_root(path)).ok();
            Fatal(crate::diagnostic::render_config_error(repo.as_ref(), &e))
        })
    }

    /// Loads `path`; the repository root is the folder holding it.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        Self::load_with_helm(path, None)
    }

    /// [`Config::load`] with the helm of `goTemplate` ApplicationSets (see
    /// [`Config::open_with_helm`]).
    pub fn load_with_helm(path: &Path, helm: Option<&Path>) -> Result<Self, ConfigError> {
        let repo = Repo::open(repository_root(path))?;
        let file_name = path
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default();
        let text = repo.read_to_string(&file_name, MAX_CONFIG_BYTES)?;
        let templates = LazyHelmTemplates::new(helm, repo.root());
        Self::from_text_with(repo, &file_name, &text, Some(&templates))
    }

    /// The configuration of `check --chart DIR -f VALUES…`: the current folder is the
    /// repository, with one inline component in one environment.
    pub fn one_chart(chart: &OneChart<'_>) -> Result<Self, Fatal> {
        let repo = Repo::open(Path::new(".")).map_err(|e| Fatal(e.to_string()))?;
        let rel = |p: &Path| -> Result<String, Fatal> {
            let abs =
                std::fs::canonicalize(p).map_err(|e| Fatal(format!("{}: {e}", p.display())))?;
            let rel = abs.strip_prefix(repo.root()).map_err(|_| {
                Fatal(format!(
                    "{} is outside the current folder; run imagegate from the repository root",
                    p.display()
                ))
            })?;
            Ok(rel.to_string_lossy().into_owned())
        };
        let chart_rel = rel(chart.chart)?;
        let values = chart
            .values
            .iter()
            .map(|v| rel(v))
            .collect::<Result<Vec<_>, _>>()?;
        let model = serde_json::json!({
            "version": 1,
            "helm": { "kubeVersion": chart.kube_version },
            "environments": [ { "name": chart.environment } ],
            "components": [ { "name": chart.release, "chart": chart_rel, "valueFiles": values, "namespace": chart.namespace } ],
            "naming": { "app": "{name}", "release": "{name}" },
            "missingValueFiles": "error"
        });
        Self::from_text(repo, "(--chart)", &model.to_string()).map_err(|e| Fatal(e.to_string()))
    }

    /// Parses configuration text belonging to `repo` (the file is named `file` in errors). A
    /// configuration with open questions is an error that lists them.
    pub fn from_text(repo: Repo, file: &str, text: &str) -> Result<Self, ConfigError> {
        Self::from_text_with(repo, file, text, None)
    }

    /// [`Config::from_text`] with what evaluates the Go templates of `goTemplate`
    /// ApplicationSets.
    pub fn from_text_with(
        repo: Repo,
        file: &str,
        text: &str,
        templates: Option<&dyn GoTemplates>,
    ) -> Result<Self, ConfigError> {
        let (model, root) = parse(file, text)?;
        open_questions(file, &root, &model)?;
        Self::resolve(repo, file, model, &root, templates)
    }

    /// Parses configuration text as [`Config::from_text`] does, but resolves the matrix as
    /// written even while questions are open: what the configuration makes once each is
    /// answered by deleting it (`imagegate init` shows this before anyone answers).
    pub fn from_text_as_written(
        repo: Repo,
        file: &str,
        text: &str,
        templates: Option<&dyn GoTemplates>,
    ) -> Result<Self, ConfigError> {
        let (model, root) = parse(file, text)?;
        Self::resolve(repo, file, model, &root, templates)
    }

    fn resolve(
        repo: Repo,
        file: &str,
        model: ConfigFile,
        root: &Node,
        templates: Option<&dyn GoTemplates>,
    ) -> Result<Self, ConfigError> {
        let fleet = Fleet::resolve_with(repo, file, root, model.fleet(), templates)?;
        let cfg = Self { fleet, model };
        // Both checks run whatever the other finds: one run shows every error.
        let errors = [
            cfg.check_promotion_chains(root),
            cfg.check_environment_names(root),
        ];
        ConfigError::collect(errors.into_iter().filter_map(Result::err).collect())?;
        Ok(cfg)
    }

    /// Every environment a promotion chain names must be a declared environment.
    fn check_promotion_chains(&self, root: &Node) -> Result<(), ConfigError> {
        let Some(p) = &self.model.promotion else {
            return Ok(());
        };
        let environments = &self.fleet.environments;
        let mut errors = Vec::new();
        for (i, chain) in p.chains.iter().enumerate() {
            for env in chain {
                if !environments.iter().any(|e| &e.name == env) {
                    errors.push(
                        ConfigError::new(
                            &self.fleet.file,
                            format!("promotion.chains[{i}] names `{env}`, which is no environment"),
                        )
                        .at_node(root.at_path(&format!("promotion.chains[{i}]")))
                        .hint(format!(
                            "known environments: {}",
                            environments
                                .iter()
                                .map(|e| e.name.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        )),
                    );
                }
            }
        }
        ConfigError::collect(errors)
    }

    /// Every environment the policy names (`policy.severity` per environment, an exception's
    /// `environments`, `exceptions.forbiddenEnvironments`) must be one a cell can have: a typo
    /// (`prod` for `production`) would silently apply nothing, or forbid nothing.
    fn check_environment_names(&self, root: &Node) -> Result<(), ConfigError> {
        let known = self.fleet.environment_names()?;
        let ex = &self.model.exceptions;
        let mut named: Vec<(String, &str)> = Vec::new();
        for (rule, severity) in self.model.policy.severity.iter() {
            if let RuleSeverity::PerEnvironment(p) = severity {
                for env in p.environments.keys() {
                    named.push((format!("policy.severity.{rule}.environments"), env));
                }
            }
        }
        for env in &ex.forbidden_environments {
            named.push(("exceptions.forbiddenEnvironments".into(), env));
        }
        for (i, e) in ex.list.iter().enumerate() {
            for env in &e.environments {
                named.push((format!("exceptions.list[{i}].environments"), env));
            }
        }
        let mut errors = Vec::new();
        for (field, env) in named {
            if known.iter().any(|k| k == env) {
                continue;
            }
            let names: Vec<&str> = known.iter().map(String::as_str).collect();
            let close = closest(env, &names)
                .map(|k| format!(" (did you mean `{k}`?)"))
                .unwrap_or_default();
            errors.push(
                ConfigError::new(
                    &self.fleet.file,
                    format!("{field} names `{env}`, which is no environment{close}"),
                )
                .at_node(root.at_path(&field))
                .hint(format!("known environments: {}", known.join(", "))),
            );
        }
        ConfigError::collect(errors)
    }
}

/// The name a run without `--config` looks for.
pub const DEFAULT_FILE: &str = "imagegate.yaml";

/// The configuration of a run without `--config`: [`DEFAULT_FILE`] in `start` (the working
/// folder, a real path), else in the nearest folder above it that has one. The search stops at
/// the git repository root (the first folder holding `.git`, a folder or a file as in a worktree
/// or submodule), or at the filesystem root outside a repository: a configuration above the
/// repository belongs to some other project and is never used.
///
/// The path comes back relative to `start` (`imagegate.yaml`, `../imagegate.yaml`, …), so
/// messages name it as the user would. Reports are unaffected: their paths are relative to the
/// configuration's folder, and SARIF and annotations add the folder's place in the checkout.
/// None found is an error naming every folder searched.
pub fn find_default(start: &Path) -> Result<PathBuf, Fatal> {
    let mut searched: Vec<&Path> = Vec::new();
    let mut stopped_at_repository = false;
    for (up, dir) in start.ancestors().enumerate() {
        searched.push(dir);
        // `symlink_metadata`: a dangling link is found too, and opening it says what is wrong.
        if dir.join(DEFAULT_FILE).symlink_metadata().is_ok() {
            let mut rel: PathBuf = std::iter::repeat_n("..", up).collect();
            rel.push(DEFAULT_FILE);
            return Ok(rel);
        }
        if dir.join(".git").symlink_metadata().is_ok() {
            stopped_at_repository = true;
            break;
        }
    }
    let folders: Vec<String> = searched.iter().map(|d| d.display().to_string()).collect();
    let end = if stopped_at_repository {
        "the search stops at the git repository root"
    } else {
        "not inside a git repository, so the search went up to the filesystem root"
    };
    Err(Fatal(format!(
        "no {DEFAULT_FILE} in {} ({end})\n  hint: run imagegate inside the repository that holds {DEFAULT_FILE}, pass --config FILE, run `imagegate init` to write one, or use `check --chart DIR` for one chart",
        folders.join(", ")
    )))
}

/// The Go templates of `goTemplate` ApplicationSets, evaluated by helm
/// ([`imagegate_render::HelmGoTemplates`]), which is located (as for rendering: `--helm`, else
/// `IMAGEGATE_HELM`, else `PATH`, never inside the repository) the first time one is needed:
/// a configuration without them runs no helm to load.
pub struct LazyHelmTemplates {
    explicit: Option<std::path::PathBuf>,
    root: std::path::PathBuf,
    helm: std::sync::OnceLock<Result<imagegate_render::Helm, String>>,
}

impl LazyHelmTemplates {
    /// Templates evaluated by `explicit` (else the helm found), for the repository at `root`.
    pub fn new(explicit: Option<&Path>, root: &Path) -> Self {
        Self {
            explicit: explicit.map(Path::to_path_buf),
            root: root.to_path_buf(),
            helm: std::sync::OnceLock::new(),
        }
    }
}

impl GoTemplates for LazyHelmTemplates {
    fn evaluate(&self, job: &GoTemplateJob) -> Result<Vec<Vec<String>>, GoTemplateFailure> {
        let helm = self.helm.get_or_init(|| {
            imagegate_render::Helm::locate(self.explicit.as_deref(), &self.root)
                .map_err(|e| e.to_string())
        });
        match helm {
            Ok(helm) => imagegate_render::HelmGoTemplates::new(helm).evaluate(job),
            Err(e) => Err(GoTemplateFailure {
                element: None,
                template: None,
                message: format!("goTemplate is evaluated by helm, and {e}"),
            }),
        }
    }
}

/// The error of a configuration whose `openQuestions` are not all answered, listing each.
fn open_questions(file: &str, root: &Node, model: &ConfigFile) -> Result<(), ConfigError> {
    let list = &model.open_questions;
    if list.is_empty() {
        return Ok(());
    }
    let mut message = format!(
        "{} open question{} must be answered before the matrix can be trusted:",
        list.len(),
        if list.len() == 1 { "" } else { "s" }
    );
    for (i, q) in list.iter().enumerate() {
        message.push_str(&format!("\n  {}. {}", i + 1, q.question.trim()));
        if !q.from.is_empty() {
            message.push_str(&format!(" (from {})", q.from.join(", ")));
        }
    }
    Err(ConfigError::new(file, message)
        .at_node(root.get("openQuestions"))
        .hint(format!(
            "answer each in {file} as it says, then delete it from `openQuestions`; `imagegate init` wrote what it could derive around them"
        )))
}

/// The repository root of the configuration at `path`: the folder holding it (the current
/// folder for a bare file name).
pub fn repository_root(path: &Path) -> &Path {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// Parses the configuration text; errors carry the line and column. The tree it was read from
/// comes back too, so later checks point at the line of what they refuse.
fn parse(file: &str, text: &str) -> Result<(ConfigFile, Node), ConfigError> {
    let root = load_yaml(file, text)
        .map_err(|e| e.hint(FORMAT_HINT))?
        // An empty file is an empty mapping, so the error names the first missing field.
        .unwrap_or(Node {
            value: imagegate_yaml::Value::Map(Vec::new()),
            line: 1,
            col: 1,
        });
    let model: ConfigFile = imagegate_yaml::from_node(&root)
        .map_err(|e| explain_entry(file, &root, &e).hint(FORMAT_HINT))?;
    if let Some(p) = &model.promotion {
        p.check().map_err(|e| {
            ConfigError::new(file, e.message)
                .at_node(root.at_path(&e.path))
                .hint(e.hint)
        })?;
    }
    if model.version != 1 {
        return Err(
            ConfigError::new(file, format!("unsupported version {}", model.version))
                .at_node(root.get("version"))
                .hint("this imagegate understands `version: 1`"),
        );
    }
    Ok((model, root))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_configuration_is_found_upward_up_to_the_repository_root() {
        let tmp = tempfile::tempdir().unwrap();
        let top = tmp.path().canonicalize().unwrap();
        let repo = top.join("repo");
        let nested = repo.join("a/b");
        std::fs::create_dir_all(&nested).unwrap();
        // Outside any repository the search goes up to the filesystem root.
        std::fs::write(top.join(DEFAULT_FILE), "version: 1\n").unwrap();
        assert_eq!(
            find_default(&nested).unwrap(),
            Path::new("../../../imagegate.yaml")
        );
        assert!(nested.join(find_default(&nested).unwrap()).is_file());
        // A `.git` (here a file, as in a worktree) bounds it: the file above is not used.
        std::fs::write(repo.join(".git"), "gitdir: elsewhere\n").unwrap();
        let err = find_default(&nested).unwrap_err().0;
        let b = nested.display().to_string();
        let a = repo.join("a").display().to_string();
        let r = repo.display().to_string();
        assert!(
            err.starts_with(&format!(
                "no imagegate.yaml in {b}, {a}, {r} (the search stops at the git repository root)"
            )),
            "{err}"
        );
        assert!(!err.contains(&format!("{}, ", top.display())), "{err}");
        assert!(err.contains("pass --config FILE"), "{err}");
        // Inside it, the nearest one wins, the working folder's first.
        std::fs::write(repo.join(DEFAULT_FILE), "version: 1\n").unwrap();
        assert_eq!(
            find_default(&nested).unwrap(),
            Path::new("../../imagegate.yaml")
        );
        std::fs::write(nested.join(DEFAULT_FILE), "version: 1\n").unwrap();
        assert_eq!(find_default(&nested).unwrap(), Path::new(DEFAULT_FILE));
        assert_eq!(find_default(&repo).unwrap(), Path::new(DEFAULT_FILE));
    }

    fn load(extra: &str) -> Result<Config, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repo::open(dir.path()).unwrap();
        let text = format!(
            "version: 1\nenvironments: [{{name: dev}}, {{name: production}}]\ncomponents: []\n{extra}"
        );
        Config::from_text(repo, "imagegate.yaml", &text)
    }

    #[test]
    fn environments_the_policy_names_must_exist() {
        assert!(load("").is_ok());
        assert!(load("exceptions:\n  list:\n    - {rule: mutable-tag, environments: [dev], reason: r, expires: 2026-12-31}\n").is_ok());
        for (extra, field) in [
            (
                "exceptions:\n  list:\n    - {rule: mutable-tag, environments: [prod], reason: r, expires: 2026-12-31}\n",
                "exceptions.list[0].environments names `prod`",
            ),
            (
                "exceptions:\n  forbiddenEnvironments: [prod]\n",
                "exceptions.forbiddenEnvironments names `prod`",
            ),
            (
                "policy:\n  severity:\n    mutable-tag: {default: error, environments: {prod: warning}}\n",
                "policy.severity.mutable-tag.environments names `prod`",
            ),
        ] {
            let err = load(extra).unwrap_err().to_string();
            assert!(err.contains(field), "{err}");
            assert!(err.contains("did you mean `production`"), "{err}");
            assert!(err.contains("known environments: dev, production"), "{err}");
        }
    }

    #[test]
    fn errors_point_at_the_field_and_its_position() {
        for (extra, want) in [
            (
                "components:\n  - {name: web, chart: charts/web}\n  - name: api\n    chart: charts/api\n    skipCrds: \"yes\"\n",
                "imagegate.yaml:7:15: components[1].skipCrds: invalid type: string \"yes\", expected a boolean",
            ),
            (
                "components:\n  - {from: \"x/*.yaml\", scop: cluster}\n",
                "imagegate.yaml:4:24: components[0]: unknown field `scop`",
            ),
            (
                "components: []\nlimits: {maxCells: 0}\n",
                "imagegate.yaml:4:20: limits.maxCells is 0",
            ),
            (
                "components: [{name: web, chart: a}, {name: web, chart: b}]\n",
                "imagegate.yaml:3:37: component `web` is also declared in imagegate.yaml",
            ),
            (
                "components: []\nversion: 2\n",
                "imagegate.yaml:4:10: unsupported version 2",
            ),
            (
                "components: []\npromotion: {chains: [[dev]], firstParty: [ghcr.io/o/]}\n",
                "imagegate.yaml:4:22: promotion.chains[0] names 1 environment(s)",
            ),
            (
                "components: []\npromotion: {chains: [[dev, prod]], firstParty: [ghcr.io/o/]}\n",
                "imagegate.yaml:4:22: promotion.chains[0] names `prod`, which is no environment",
            ),
            (
                "components: []\npolicyy: {}\n",
                "imagegate.yaml:4:1: unknown field `policyy`",
            ),
        ] {
            let dir = tempfile::tempdir().unwrap();
            let repo = Repo::open(dir.path()).unwrap();
            let text = format!("version: 1\nenvironments: [{{name: dev}}]\n{extra}");
            let err = Config::from_text(repo, "imagegate.yaml", &text)
                .unwrap_err()
                .to_string();
            assert!(err.starts_with(want), "{err}");
        }
    }

    #[test]
    fn open_questions_stop_the_matrix_until_answered() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repo::open(dir.path()).unwrap();
        let text = "version: 1\nenvironments: [{name: dev}]\ncomponents: []\nopenQuestions:\n  - question: In which order are the layers read?\n    from: [values/common.yaml, \"values/{env}/web.yaml\"]\n  - question: Is web deployed in dev?\n";
        let err = Config::from_text(repo.clone(), "imagegate.yaml", text)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("imagegate.yaml:5:3: 2 open questions must be answered before the matrix can be trusted:\n  1. In which order are the layers read? (from values/common.yaml, values/{env}/web.yaml)\n  2. Is web deployed in dev?"),
            "{err}"
        );
        assert!(err.contains("then delete it from `openQuestions`"), "{err}");
        // As written, the rest of the file resolves; answered (deleted), it loads.
        assert!(Config::from_text_as_written(repo.clone(), "imagegate.yaml", text, None).is_ok());
        let answered = &text[..text.find("openQuestions").unwrap()];
        assert!(Config::from_text(repo.clone(), "imagegate.yaml", answered).is_ok());
        let empty = format!("{answered}openQuestions: []\n");
        assert!(Config::from_text(repo, "imagegate.yaml", &empty).is_ok());
    }

    #[test]
    fn cell_errors_point_at_the_component() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repo::open(dir.path()).unwrap();
        let text = "version: 1\nenvironments: [{name: dev}]\ncomponents:\n  - {name: web, chart: c, valueFiles: [/etc/passwd]}\n";
        let cfg = Config::from_text(repo, "imagegate.yaml", text).unwrap();
        let err = cfg.cells().unwrap_err().to_string();
        assert!(
            err.starts_with("imagegate.yaml:4:5: value file: `/etc/passwd` is absolute"),
            "{err}"
        );
    }

    #[test]
    fn record_fields_become_placeholders_as_text() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("envs")).unwrap();
        std::fs::write(
            dir.path().join("envs/a.yaml"),
            "- {env: dev, n: 0x10, f: 1.10, q: \"1.10\", b: true, y: yes, z: ~, l: [1]}\n",
        )
        .unwrap();
        let repo = Repo::open(dir.path()).unwrap();
        let text =
            "version: 1\nenvironments: [{from: envs/*.yaml, name: \"{env}\"}]\ncomponents: []\n";
        let cfg = Config::from_text(repo, "imagegate.yaml", text).unwrap();
        let vars = &cfg.environments[0].vars;
        let got: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(
            got,
            [
                ("b", "true"),
                ("env", "dev"),
                ("f", "1.1"),
                ("n", "16"),
                ("q", "1.10"),
                ("y", "yes")
            ]
        );
    }
}
