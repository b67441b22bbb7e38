//! `imagegate check`: render the matrix (or one chart) and judge it.

use crate::cli::CheckArgs;
use crate::output::{today, Outputs};
use crate::pipeline::{self, Judge};
use crate::{convert, Fatal};
use anyhow::Result;
use imagegate_config::Config;
use imagegate_render::{Helm, RenderOptions};
use imagegate_report::{Generator, Report};
use std::time::Duration;

pub fn run(args: CheckArgs) -> Result<u8> {
    let outputs = Outputs::parse(&args.output)?;
    let cfg = match &args.chart {
        Some(chart) => one_chart_config(&args, chart)?,
        None => super::load_config(&super::config_path(&args.matrix.config))?,
    };
    let cells = super::select_cells(&cfg, &args.matrix)?;
    let full_run = args.matrix.envs.is_empty() && args.matrix.apps.is_empty();
    let helm = Helm::locate(args.helm.helm.as_deref()).map_err(|e| Fatal(e.to_string()))?;
    let report = check(
        &cfg,
        &cells,
        &helm,
        &args.helm,
        !args.output.quiet && !args.output.no_progress,
        full_run,
    )?;
    outputs.emit(&report)?;
    Ok(report.exit_code(args.output.warnings_as_errors) as u8)
}

/// Renders and judges `cells`; exception hygiene is judged only on a full run.
pub fn check(
    cfg: &Config,
    cells: &[imagegate_config::Cell],
    helm: &Helm,
    h: &crate::cli::HelmArgs,
    progress: bool,
    full_run: bool,
) -> Result<Report> {
    let settings = &cfg.model.policy;
    let today = today()?;
    let judge = Judge {
        config: Some(cfg),
        settings,
        exceptions: &cfg.model.exceptions,
        decode: crate::pipeline::decode_options(settings),
        today,
        inventory: false,
    };
    let opts = RenderOptions {
        jobs: h
            .jobs
            .unwrap_or_else(|| RenderOptions::default().jobs)
            .max(1),
        timeout: Duration::from_secs(h.timeout.unwrap_or(cfg.model.helm.timeout_seconds).max(1)),
        max_output_bytes: (cfg.model.limits.max_rendered_mib as usize).saturating_mul(1024 * 1024),
    };
    let scope = if full_run {
        imagegate_policy::RunScope::Full
    } else {
        imagegate_policy::RunScope::Narrowed
    };
    let outcomes = pipeline::run_with_cache(&judge, cfg, helm, cells, &opts, progress, &h.cache)?;
    let mut findings = Vec::new();
    let mut reports = Vec::new();
    let mut matched = imagegate_policy::ExceptionOutcome::default();
    for o in outcomes {
        findings.extend(o.findings);
        reports.push(o.report);
        matched.merge(&o.matched_exceptions);
    }
    for f in
        imagegate_policy::exception_hygiene(&cfg.model.exceptions, &matched, scope, today, settings)
    {
        let mut r = convert::finding(&f, None, None);
        if let Some(line) = f.config_line {
            r.origin = Some(imagegate_report::Origin::new(&cfg.file, line));
        }
        findings.push(r);
    }
    Ok(Report::new(
        Generator::new("imagegate", env!("CARGO_PKG_VERSION")).with_helm(&helm.version),
        findings,
        reports,
    ))
}

/// A configuration for `check --chart DIR -f VALUES…`: the current folder is the repository,
/// one inline component, one environment.
fn one_chart_config(args: &CheckArgs, chart: &std::path::Path) -> Result<Config> {
    let repo = imagegate_config::Repo::open(std::path::Path::new("."))
        .map_err(|e| Fatal(e.to_string()))?;
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
