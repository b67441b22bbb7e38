//! `imagegate audit --out DIR`: the nightly fleet audit.
//!
//! One run over every cell (or one shard of them) that writes everything a nightly job keeps:
//! the JSON report, SARIF, JUnit, the markdown summary, the image inventory as JSON and CSV, and
//! with `--baseline` the trend since the previous audit (`trend.json`, and a section of the
//! summary). Stdout gets a short text summary; the exit status is `check`'s. The files are
//! `imagegate_engine::audit`'s.

use crate::cli::AuditArgs;
use crate::fleet::{Coverage, Plan};
use crate::output::stdout;
use anyhow::Result;
use imagegate_engine::audit::{write_set, write_summary, Baseline, Images, Trend};
use imagegate_report::Report;
use std::io::Write;
use std::path::PathBuf;

pub fn run(args: AuditArgs) -> Result<u8> {
    let shard = crate::shard::parse(args.fleet.shard.as_deref())?;
    let cfg = super::load_config(
        &super::config_path(&args.matrix.config)?,
        args.helm.helm.as_deref(),
    )?;
    let mut cells = super::select_cells(&cfg, &args.matrix)?;
    let coverage = match shard {
        Some(s) => {
            cells = s.select(cells);
            Coverage::Shard(s)
        }
        None if args.matrix.is_whole() => Coverage::Full,
        None => Coverage::Narrowed,
    };
    // Read the baseline before the long render: a wrong path is a usage error, found at once.
    let observer = crate::progress::Terminal::new(!args.no_progress);
    let baseline = args
        .baseline
        .as_deref()
        .map(|b| Baseline::read(b, &observer))
        .transpose()?;
    let plan = Plan {
        coverage,
        history: args.fleet.history,
        inventory: true,
    };
    let run = super::run_fleet(&cfg, &cells, &args.helm, plan, &observer)?;
    // The report's verdict is the exit status's.
    let report = run.report.judged(args.warnings_as_errors);
    let images = Images::new(run.inventory, &report);
    let trend = baseline.map(|b| Trend::between(&b, &report, &images));
    let written = write_set(&args.out, cfg.repo.root(), &report, &images, trend.as_ref())?;
    print_summary(&report, trend.as_ref(), &written)?;
    Ok(report.exit_code(args.warnings_as_errors) as u8)
}

/// The short summary on stdout (`imagegate_engine::audit::write_summary`).
pub fn print_summary(report: &Report, trend: Option<&Trend>, written: &[PathBuf]) -> Result<()> {
    let mut out = stdout();
    write_summary(&mut out, report, trend, written)?;
    out.flush()?;
    Ok(())
}
