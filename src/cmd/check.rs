//! `imagegate check`: render the matrix (or one chart) and judge it.

use crate::cli::CheckArgs;
use crate::fleet::{Coverage, Plan};
use crate::output::Outputs;
use anyhow::Result;
use imagegate_engine::config::OneChart;
use imagegate_engine::Config;
use std::path::Path;

pub fn run(args: CheckArgs) -> Result<u8> {
    let outputs = Outputs::parse(&args.output)?;
    let shard = crate::shard::parse(args.fleet.shard.as_deref())?;
    /// Where the matrix comes from.
    enum Source<'a> {
        Chart(&'a std::path::PathBuf),
        File(std::path::PathBuf),
    }
    let source = match &args.chart {
        Some(chart) => Source::Chart(chart),
        None => Source::File(super::config_path(&args.matrix.config)?),
    };
    // The repository is the configuration file's (the current folder for `--chart`).
    let root = match &source {
        Source::File(path) => imagegate_engine::config::repository_root(path),
        Source::Chart(_) => Path::new("."),
    };
    let (cfg, mut cells, helm) = super::located_meanwhile(args.helm.helm.as_deref(), root, || {
        let cfg = match &source {
            Source::Chart(chart) => Config::one_chart(&OneChart {
                chart,
                values: &args.values,
                environment: args.matrix.envs.first().map_or("default", String::as_str),
                release: &args.release,
                namespace: &args.namespace,
                kube_version: &args.kube_version,
            })?,
            Source::File(path) => super::load_config(path, args.helm.helm.as_deref())?,
        };
        let cells = super::select_cells(&cfg, &args.matrix)?;
        Ok((cfg, cells))
    })?;
    if let Source::File(_) = &source {
        imagegate_engine::diff::refuse_absent_submodules(root, &cells)?;
    }
    let outputs = outputs.relative_to(cfg.repo.root());
    // One chart is not a fleet: nothing there can be unused or drifted.
    let coverage = match shard {
        Some(s) => {
            cells = s.select(cells);
            Coverage::Shard(s)
        }
        None if args.chart.is_none() && args.matrix.is_whole() => Coverage::Full,
        None => Coverage::Narrowed,
    };
    let plan = Plan {
        coverage,
        history: args.fleet.history,
        inventory: false,
    };
    let observer =
        crate::progress::Terminal::new(!args.output.no_progress).quiet(args.output.quiet);
    // Opt-in: without --registry nothing here opens a connection.
    let remote = match args.registry.registry {
        true => Some(super::registry::Remote::new(
            &cfg,
            &args.registry,
            &args.helm.cache.choice(),
        )?),
        false => None,
    };
    let run = super::run_fleet_with(
        &cfg,
        &cells,
        &args.helm,
        &helm,
        plan,
        &observer,
        remote
            .as_ref()
            .map(|r| r as &dyn imagegate_engine::pipeline::RemoteLookup),
    )?;
    if let Some(remote) = &remote {
        remote.save(&observer);
        remote.fail_on_errors()?;
    }
    let report = outputs.prepare(run.report);
    outputs.emit(&report)?;
    Ok(outputs.exit_code(&report))
}
