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
use imagegate_engine::Config;
use imagegate_fleet::Cell;
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

/// A `--env`/`--app`/`--skip-cell` pattern: a glob (a plain name matches only itself).
fn pattern(flag: &str, p: &str) -> Result<globset::GlobMatcher, Fatal> {
    globset::Glob::new(p)
        .map(|g| g.compile_matcher())
        .map_err(|e| Fatal(format!("{flag} {p}: not a valid pattern ({e})")))
}

/// The cells selected by `--env` / `--app` (globs), less `--skip-cell` ones. A pattern that
/// matches nothing is a usage error (a typo must not narrow the run to nothing), and so is a
/// selection of no cell.
pub fn select_cells(cfg: &Config, m: &MatrixArgs) -> Result<Vec<Cell>> {
    let cells = cfg.cells().map_err(|e| Fatal(e.to_string()))?;
    let envs: Vec<_> = m
        .envs
        .iter()
        .map(|e| pattern("--env", e).map(|g| (e, g)))
        .collect::<Result<_, _>>()?;
    let apps: Vec<_> = m
        .apps
        .iter()
        .map(|a| pattern("--app", a).map(|g| (a, g)))
        .collect::<Result<_, _>>()?;
    let skips: Vec<_> = m
        .skip_cells
        .iter()
        .map(|s| pattern("--skip-cell", s).map(|g| (s, g)))
        .collect::<Result<_, _>>()?;
    for (env, g) in &envs {
        if !cells.iter().any(|c| g.is_match(&c.environment)) {
            let known: std::collections::BTreeSet<_> =
                cells.iter().map(|c| c.environment.as_str()).collect();
            let known: Vec<&str> = known.into_iter().collect();
            let close = imagegate_fleet::closest(env, &known)
                .map(|k| format!(" (did you mean `{k}`?)"))
                .unwrap_or_default();
            return Err(Fatal(format!(
                "--env {env}: no such environment{close} (known: {})",
                known.join(", ")
            ))
            .into());
        }
    }
    let app_of =
        |g: &globset::GlobMatcher, c: &Cell| g.is_match(&c.app) || g.is_match(&c.component);
    for (app, g) in &apps {
        if !cells.iter().any(|c| app_of(g, c)) {
            return Err(Fatal(format!(
                "--app {app}: no cell has this app or component name"
            ))
            .into());
        }
    }
    let cell_name = |c: &Cell| format!("{}/{}", c.environment, c.app);
    for (skip, g) in &skips {
        if !skip.contains('/') || !cells.iter().any(|c| g.is_match(cell_name(c))) {
            return Err(Fatal(format!(
                "--skip-cell {skip}: matches no cell (write ENV/APP, as `imagegate cells` names them)"
            ))
            .into());
        }
    }
    let env_ok = |c: &Cell| envs.is_empty() || envs.iter().any(|(_, g)| g.is_match(&c.environment));
    let app_ok = |c: &Cell| apps.is_empty() || apps.iter().any(|(_, g)| app_of(g, c));
    let kept = |c: &Cell| !skips.iter().any(|(_, g)| g.is_match(cell_name(c)));
    let selected: Vec<Cell> = cells
        .iter()
        .filter(|c| env_ok(c) && app_ok(c) && kept(c))
        .cloned()
        .collect();
    // A selection of nothing would pass having judged nothing: the hook and the action are told
    // to narrow with exactly these flags, so an empty intersection is a usage error.
    if selected.is_empty() {
        let theirs: Vec<String> = cells.iter().filter(|c| app_ok(c)).map(cell_name).collect();
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
