//! One module per subcommand.

mod audit;
mod cells;
mod check;
mod completions;
mod diff;
mod exceptions;
mod explain;
mod images;
mod init;
mod merge;
mod pin;
mod promote;
mod registry;
mod scan;

use crate::cli::{Cli, Command, EditArgs, HelmArgs, MatrixArgs};
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
        Command::Promote(a) => promote::run(a),
        Command::Pin(a) => pin::run(a),
        Command::Explain(a) => explain::run(a),
        Command::Exceptions(c) => exceptions::run(c),
        Command::Init(a) => init::run(a),
        Command::Completions(a) => completions::run(a),
    }
}

/// What an editing command (`promote`, `pin`) works with: its configuration file and what it
/// says, the helm that renders, and the render bounds.
pub struct Editing {
    pub path: PathBuf,
    pub cfg: Config,
    pub helm: imagegate_render::Helm,
    pub opts: imagegate_render::RenderOptions,
}

impl Editing {
    /// Loads the configuration and locates helm as `args` say.
    pub fn open(args: &EditArgs) -> Result<Self> {
        let path = config_path(&args.config)?;
        let cfg = load_config(&path, args.helm.as_deref())?;
        let helm = imagegate_render::Helm::locate(args.helm.as_deref(), cfg.repo.root())
            .map_err(|e| Fatal(e.to_string()))?;
        let opts = crate::fleet::render_options(
            &cfg,
            &imagegate_engine::fleet::RenderOverrides {
                jobs: args.jobs,
                timeout_seconds: args.timeout,
            },
        );
        Ok(Self {
            path,
            cfg,
            helm,
            opts,
        })
    }
}

/// The configuration file: `--config`, else `imagegate.yaml` in the working folder or the
/// nearest one above it, up to the git repository root (`imagegate_engine::config::find_default`).
pub fn config_path(arg: &Option<PathBuf>) -> Result<PathBuf> {
    if let Some(path) = arg {
        return Ok(path.clone());
    }
    let cwd = std::env::current_dir()
        .and_then(|d| d.canonicalize())
        .map_err(|e| Fatal(format!("cannot read the working folder: {e}")))?;
    Ok(imagegate_engine::config::find_default(&cwd)?)
}

/// Loads the configuration, turning every problem into an exit-2 error that names the file;
/// `helm` (`--helm`) evaluates the Go templates of `goTemplate` ApplicationSets.
pub fn load_config(path: &Path, helm: Option<&Path>) -> Result<Config> {
    Ok(Config::open_with_helm(path, helm)?)
}

/// The cells selected by `--env` / `--app` / `--skip-cell` (see
/// `imagegate_engine::select::select`).
pub fn select_cells(cfg: &Config, m: &MatrixArgs) -> Result<Vec<Cell>> {
    let cells = cfg.cells().map_err(|e| Fatal(e.to_string()))?;
    let selected = imagegate_engine::select::select(
        &cells,
        &imagegate_engine::select::Selection {
            envs: &m.envs,
            apps: &m.apps,
            skip_cells: &m.skip_cells,
        },
    );
    match selected {
        // With no cell at all, what was passed over is the whole story: say it here.
        Err(Fatal(mut message)) if cells.is_empty() => {
            for app in imagegate_engine::fleet::not_judged(cfg) {
                message.push_str("\n  ");
                message.push_str(&imagegate_report::terminal_line(&app.sentence()));
            }
            Err(Fatal(message).into())
        }
        other => Ok(other?),
    }
}

/// Renders and judges `cells` with the helm, limits and render cache of the `--helm`, `-j`,
/// `--timeout` and cache flags.
pub fn run_fleet(
    cfg: &Config,
    cells: &[Cell],
    args: &HelmArgs,
    plan: crate::fleet::Plan,
    observer: &dyn imagegate_engine::Observer,
) -> Result<crate::fleet::Run> {
    let helm = imagegate_render::Helm::locate(args.helm.as_deref(), cfg.repo.root())
        .map_err(|e| Fatal(e.to_string()))?;
    run_fleet_with(cfg, cells, args, &helm, plan, observer, None)
}

/// [`run_fleet`] with `helm` already located, asking `remote` about pinned images
/// (`check --registry`).
pub fn run_fleet_with(
    cfg: &Config,
    cells: &[Cell],
    args: &HelmArgs,
    helm: &imagegate_render::Helm,
    plan: crate::fleet::Plan,
    observer: &dyn imagegate_engine::Observer,
    remote: Option<&dyn imagegate_engine::pipeline::RemoteLookup>,
) -> Result<crate::fleet::Run> {
    let renderer = imagegate_engine::HelmRenderer::new(helm);
    let ctx = crate::fleet::Context::new(
        cfg,
        &renderer,
        &args.overrides(),
        args.cache.choice(),
        observer,
    )?;
    let ctx = crate::fleet::Context { remote, ..ctx };
    crate::fleet::run(&ctx, cells, plan)
}

/// `work` (loading the configuration and its matrix) with helm located meanwhile on another
/// thread: asking helm its version is a process start as long as a small chart's render,
/// and it needs nothing of the configuration but the repository root, `root` (the folder of the
/// configuration file). A helm inside that root is refused before it runs, as always; if the
/// configuration's repository turns out to be another folder, helm is located again for it.
pub fn located_meanwhile<T>(
    explicit: Option<&Path>,
    root: &Path,
    work: impl FnOnce() -> Result<(Config, T)>,
) -> Result<(Config, T, imagegate_render::Helm)> {
    let (loaded, probed) = std::thread::scope(|s| {
        let probe = std::thread::Builder::new()
            .name("helm-version".into())
            .spawn_scoped(s, || {
                let real = root.canonicalize().ok()?;
                Some((imagegate_render::Helm::locate(explicit, &real), real))
            });
        let loaded = work();
        let probed = match probe {
            Ok(h) => h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)),
            Err(_) => None,
        };
        (loaded, probed)
    });
    let (cfg, rest) = loaded?;
    let helm = match probed {
        Some((helm, real)) if real == cfg.repo.root() => helm,
        _ => imagegate_render::Helm::locate(explicit, cfg.repo.root()),
    }
    .map_err(|e| Fatal(e.to_string()))?;
    Ok((cfg, rest, helm))
}
