//! `imagegate.yaml`: the fleet configuration and the cell matrix it resolves to.
//!
//! The data flow starts here: the configuration names environments and components; [`Config::cells`]
//! crosses them into *cells* (one chart × one environment, or one cluster-scoped chart × one
//! cluster type), each with the ordered stack of values files Argo CD would pass to Helm.
//!
//! Everything that touches the file system goes through [`Repo`], which keeps every path inside
//! the repository under check: a configuration, component file or value stack that points outside
//! it (`..`, an absolute path, a symlink out) is a configuration error.

#![warn(clippy::print_stdout, clippy::print_stderr)]

mod error;
mod matrix;
mod model;
mod paths;
mod template;

pub use error::ConfigError;
pub use matrix::{Cell, Component, Environment, Scope, ValueFile};
pub use model::*;
pub use paths::Repo;
pub use template::render_template;

use std::path::Path;

/// Largest configuration or component file we read (hostile input is bounded).
pub const MAX_CONFIG_BYTES: u64 = 4 * 1024 * 1024;

/// A loaded, validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The repository the configuration describes.
    pub repo: Repo,
    /// Path of the configuration file relative to the repository root.
    pub file: String,
    /// The parsed file.
    pub model: ConfigFile,
    /// Resolved environments, in declaration order.
    pub environments: Vec<Environment>,
    /// Resolved components (discovered and inline), sorted by scope then name.
    pub components: Vec<Component>,
}

impl Config {
    /// Loads `path`; the repository root is the folder holding it.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let root = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let repo = Repo::open(root)?;
        let file_name = path
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default();
        let text = repo.read_to_string(&file_name, MAX_CONFIG_BYTES)?;
        Self::from_text(repo, &file_name, &text)
    }

    /// Parses configuration text belonging to `repo` (the file is named `file` in errors).
    pub fn from_text(repo: Repo, file: &str, text: &str) -> Result<Self, ConfigError> {
        let (model, root) = model::parse(file, text)?;
        model::check_bounds(file, &root, &model)?;
        let environments = matrix::resolve_environments(&repo, file, &root, &model)?;
        let components = matrix::resolve_components(&repo, file, &root, &model)?;
        if let Some(p) = &model.promotion {
            for (i, chain) in p.chains.iter().enumerate() {
                for env in chain {
                    if !environments.iter().any(|e| &e.name == env) {
                        return Err(ConfigError::new(
                            file,
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
                        )));
                    }
                }
            }
        }
        let cfg = Self {
            repo,
            file: file.to_string(),
            model,
            environments,
            components,
        };
        cfg.check_environment_names(&root)?;
        Ok(cfg)
    }

    /// Every environment the policy names (`policy.severity` per environment, an exception's
    /// `environments`, `exceptions.forbiddenEnvironments`) must be one a cell can have: a typo
    /// (`prod` for `production`) would silently apply nothing, or forbid nothing.
    fn check_environment_names(&self, root: &imagegate_yaml::Node) -> Result<(), ConfigError> {
        let known = matrix::environment_names(self)?;
        let ex = &self.model.exceptions;
        let mut named: Vec<(String, &str)> = Vec::new();
        for (rule, severity) in self.model.policy.severity.iter() {
            if let imagegate_policy::RuleSeverity::PerEnvironment(p) = severity {
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
        for (field, env) in named {
            if known.iter().any(|k| k == env) {
                continue;
            }
            let names: Vec<&str> = known.iter().map(String::as_str).collect();
            let close = closest(env, &names)
                .map(|k| format!(" (did you mean `{k}`?)"))
                .unwrap_or_default();
            return Err(ConfigError::new(
                &self.file,
                format!("{field} names `{env}`, which is no environment{close}"),
            )
            .at_node(root.at_path(&field))
            .hint(format!("known environments: {}", known.join(", "))));
        }
        Ok(())
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

    #[test]
    fn closest_suggests_only_what_is_close() {
        assert_eq!(closest("sarfi", &["text", "sarif"]), Some("sarif"));
        assert_eq!(closest("prod", &["dev", "production"]), Some("production"));
        assert_eq!(closest("foo", &["text", "json", "sarif"]), None);
        assert_eq!(closest("stagign", &["staging", "dev"]), Some("staging"));
    }
}
