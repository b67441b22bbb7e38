//! `imagegate check`: render the matrix (or one chart) and judge it.

use crate::cli::CheckArgs;
use crate::fleet::{Coverage, Plan};
use crate::output::Outputs;
use crate::Fatal;
use anyhow::Result;
use imagegate_engine::Config;

pub fn run(args: CheckArgs) -> Result<u8> {
    let outputs = Outputs::parse(&args.output)?;
    let shard = crate::shard::parse(args.fleet.shard.as_deref())?;
    let cfg = match &args.chart {
        Some(chart) => one_chart_config(&args, chart)?,
        None => super::load_config(&super::config_path(&args.matrix.config))?,
    };
    let outputs = outputs.relative_to(cfg.repo.root());
    let mut cells = super::select_cells(&cfg, &args.matrix)?;
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
    let report =
        outputs.prepare(super::run_fleet(&cfg, &cells, &args.helm, plan, &observer)?.report);
    outputs.emit(&report)?;
    Ok(outputs.exit_code(&report))
}

/// A configuration for `check --chart DIR -f VALUES…`: the current folder is the repository,
/// one inline component, one environment.
fn one_chart_config(args: &CheckArgs, chart: &std::path::Path) -> Result<Config> {
    let repo =
        imagegate_fleet::Repo::open(std::path::Path::new(".")).map_err(|e| Fatal(e.to_string()))?;
    let rel = |p: &std::path::Path| -> Result<String> {
        let abs = std::fs::canonicalize(p).map_err(|e| Fatal(format!("{}: {e}", p.display())))?;
        let rel = abs.strip_prefix(repo.root()).map_err(|_| {
            Fatal(format!(
                "{} is outside the current folder; run imagegate from the repository root",
                p.display()
            ))
        })?;
        Ok(rel.to_string_lossy().into_owned())
    };
    let chart_rel = rel(chart)?;
    let values = args
        .values
        .iter()
        .map(|v| rel(v))
        .collect::<Result<Vec<_>>>()?;
    let env = args
        .matrix
        .envs
        .first()
        .cloned()
        .unwrap_or_else(|| "default".into());
    let model = serde_json::json!({
        "version": 1,
        "helm": { "kubeVersion": args.kube_version },
        "environments": [ { "name": env } ],
        "components": [ { "name": args.release, "chart": chart_rel, "valueFiles": values, "namespace": args.namespace } ],
        "naming": { "app": "{name}", "release": "{name}" },
        "missingValueFiles": "error"
    });
    let text = serde_json::to_string(&model)?;
    Config::from_text(repo, "(--chart)", &text).map_err(|e| Fatal(e.to_string()).into())
}
