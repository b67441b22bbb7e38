//! One module per subcommand.

mod audit;
mod cells;
mod check;
mod completions;
mod diff;
mod docs;
mod explain;
mod images;
mod init;
mod merge;
mod scan;

use crate::cli::{Cli, Command, MatrixArgs};
use crate::Fatal;
use anyhow::Result;
use imagegate_config::{Cell, Config};
use std::path::{Path, PathBuf};

/// Runs the command; the `u8` is the exit status.
pub fn run(cli: Cli) -> Result<u8> {
    match cli.command {
        Command::Check(a) => check::run(a),
        Command::Scan(a) => scan::run(a),
        Command::Images(a) => images::run(a),
        Command::Cells(a) => cells::run(a),
        Command::Audit(a) => audit::run(a),
        Command::Merge(a) => merge::run(a),
        Command::Diff(a) => diff::run(a),
        Command::Explain(a) => explain::run(a),
        Command::Init(a) => init::run(a),
        Command::Completions(a) => completions::run(a),
        Command::GenerateDocs(a) => docs::run(a),
    }
}

/// The configuration file: `--config`, else `./imagegate.yaml`.
pub fn config_path(arg: &Option<PathBuf>) -> PathBuf {
    arg.clone()
        .unwrap_or_else(|| PathBuf::from("imagegate.yaml"))
}

/// Loads the configuration, turning every problem into an exit-2 error that names the file.
pub fn load_config(path: &Path) -> Result<Config> {
    if !path.exists() {
        return Err(Fatal(format!(
            "{}: no such configuration file\n  hint: run imagegate in the repository root, pass --config FILE, or use `check --chart DIR` for one chart",
            path.display()
        ))
        .into());
    }
    Config::load(path).map_err(|e| Fatal(e.to_string()).into())
}

/// The cells selected by `--env` / `--app` (an unknown name is a usage error, not an empty pass).
pub fn select_cells(cfg: &Config, m: &MatrixArgs) -> Result<Vec<Cell>> {
    let cells = cfg.cells().map_err(|e| Fatal(e.to_string()))?;
    for env in &m.envs {
        if !cells.iter().any(|c| &c.environment == env) {
            let known: std::collections::BTreeSet<_> =
                cells.iter().map(|c| c.environment.as_str()).collect();
            return Err(Fatal(format!(
                "--env {env}: no such environment (known: {})",
                known.into_iter().collect::<Vec<_>>().join(", ")
            ))
            .into());
        }
    }
    for app in &m.apps {
        if !cells.iter().any(|c| &c.app == app || &c.component == app) {
            return Err(Fatal(format!(
                "--app {app}: no cell has this app or component name"
            ))
            .into());
        }
    }
    let env_ok = |c: &Cell| m.envs.is_empty() || m.envs.contains(&c.environment);
    let app_ok =
        |c: &Cell| m.apps.is_empty() || m.apps.contains(&c.app) || m.apps.contains(&c.component);
    let selected: Vec<Cell> = cells
        .iter()
        .filter(|c| env_ok(c) && app_ok(c))
        .cloned()
        .collect();
    // A selection of nothing would pass having judged nothing: the hook and the action are told
    // to narrow with exactly these flags, so an empty intersection is a usage error.
    if selected.is_empty() {
        let theirs: Vec<String> = cells
            .iter()
            .filter(|c| app_ok(c))
            .map(|c| format!("{}/{}", c.environment, c.app))
            .collect();
        let what = if m.apps.is_empty() {
            "no cell".to_string()
        } else {
            format!(
                "the cells of --app {} are {}",
                m.apps.join(", "),
                theirs.join(", ")
            )
        };
        return Err(Fatal(format!(
            "--env {} --app {} selects no cell ({what}); nothing would be judged\n  hint: pick an environment those cells are in (a cluster-scoped component's cells are in its cluster environment, for example cluster-<type>)",
            m.envs.join(","),
            m.apps.join(","),
        ))
        .into());
    }
    Ok(selected)
}
