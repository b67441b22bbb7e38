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
        let model = model::parse(file, text)?;
        model::check_bounds(file, text, &model)?;
        let environments = matrix::resolve_environments(&repo, file, text, &model)?;
        let components = matrix::resolve_components(&repo, file, text, &model)?;
        if let Some(p) = &model.promotion {
            for (i, chain) in p.chains.iter().enumerate() {
                for env in chain {
                    if !environments.iter().any(|e| &e.name == env) {
                        return Err(ConfigError::new(
                            file,
                            format!("promotion.chains[{i}] names `{env}`, which is no environment"),
                        )
                        .at(model::locate(text, &format!("promotion.chains[{i}]")), None)
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
        Ok(Self {
            repo,
            file: file.to_string(),
            model,
            environments,
            components,
        })
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
