//! `imagegate merge REPORT.json…`: the reports of `--shard K/N` runs become one report.
//!
//! Each shard judged its own cells; what needs the whole fleet was recorded, not judged (see
//! [`imagegate_report::ShardRecord`]). The merge checks that the shards are exactly the N slices
//! of the configuration's matrix (none missing, none twice, none from another matrix), joins
//! them, and judges the whole-fleet rules once: exception hygiene over the summed exception
//! matches, promotion lineage over every shard's lineage sites, and values files no cell reads.

use super::audit::{read_report, write_set, Baseline, Images, Trend};
use crate::cli::MergeArgs;
use crate::fleet::Whole;
use crate::output::Outputs;
use crate::shard::Shard;
use crate::Fatal;
use anyhow::Result;
use imagegate_engine::Config;
use imagegate_policy::ExceptionOutcome;
use imagegate_render::{Helm, RenderOptions};
use imagegate_report::{CellStatus, Report, ShardRecord};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub fn run(args: MergeArgs) -> Result<u8> {
    let outputs = Outputs::parse(&args.output)?;
    let cfg = super::load_config(&super::config_path(&args.config))?;
    let outputs = outputs.relative_to(cfg.repo.root());
    let baseline = args.baseline.as_deref().map(Baseline::read).transpose()?;
    let mut shards = Vec::new();
    for path in &args.reports {
        let report = read_report(path)?;
        shards.push((path.clone(), report));
    }
    let merged = merge(&cfg, shards.clone(), &args)?;
    match &args.out {
        Some(dir) => {
            let images = merged_images(&shards, &merged)?;
            let trend = baseline.map(|b| Trend::between(&b, &merged, &images));
            write_set(dir, cfg.repo.root(), &merged, &images, trend.as_ref())?;
            outputs.emit_files(&merged)?;
        }
        None => outputs.emit(&merged)?,
    }
    Ok(merged.exit_code(args.output.warnings_as_errors) as u8)
}

/// Checks that `shards` are the N slices of `cfg`'s matrix and joins them, judging the
/// whole-fleet rules.
fn merge(cfg: &Config, shards: Vec<(PathBuf, Report)>, args: &MergeArgs) -> Result<Report> {
    let matrix = cfg.cells().map_err(|e| Fatal(e.to_string()))?;
    let mut records: Vec<(PathBuf, Report, ShardRecord)> = Vec::new();
    for (path, mut report) in shards {
        let Some(record) = report.shard.take() else {
            return Err(Fatal(format!(
                "{}: not a shard report (it has no `shard` key)\n  hint: merge the JSON reports of `check --shard K/N` or `audit --shard K/N` runs",
                path.display()
            ))
            .into());
        };
        records.push((path, report, record));
    }
    let count = records[0].2.count;
    let mut seen: BTreeMap<u32, &Path> = BTreeMap::new();
    for (path, report, r) in &records {
        let what = |m: String| Fatal(format!("{}: {m}", path.display()));
        if r.count != count {
            return Err(what(format!(
                "shard {}/{} does not belong with {}'s shards of {count}",
                r.index,
                r.count,
                records[0].0.display()
            ))
            .into());
        }
        if let Some(other) = seen.insert(r.index, path) {
            return Err(what(format!(
                "shard {}/{count} is also {}; pass each shard once",
                r.index,
                other.display()
            ))
            .into());
        }
        if r.matrix_cells != matrix.len() as u64
            || r.exception_matches.len() != cfg.model.exceptions.list.len()
        {
            return Err(what(format!(
                "made from a matrix of {} cells and {} exceptions, but {} has {} cells and {} exceptions\n  hint: run merge with the configuration (and checkout) the shards ran with",
                r.matrix_cells,
                r.exception_matches.len(),
                cfg.file,
                matrix.len(),
                cfg.model.exceptions.list.len()
            ))
            .into());
        }
        if r.details.len() != report.findings.len() {
            return Err(what(format!(
                "{} findings but {} finding details: the file was edited or truncated",
                report.findings.len(),
                r.details.len()
            ))
            .into());
        }
        for c in &report.cells {
            if !Shard::of(&c.environment, &c.app, count).eq(&r.index) {
                return Err(what(format!(
                    "cell {}/{} does not belong to shard {}/{count} of this matrix\n  hint: run merge with the configuration the shards ran with",
                    c.environment, c.app, r.index
                ))
                .into());
            }
        }
    }
    let missing: Vec<String> = (1..=count)
        .filter(|k| !seen.contains_key(k))
        .map(|k| format!("{k}/{count}"))
        .collect();
    if !missing.is_empty() {
        return Err(Fatal(format!(
            "shard(s) {} missing: a merge must see every shard, or unused exceptions and promotion drift would be judged on part of the fleet",
            missing.join(", ")
        ))
        .into());
    }

    let generator = records[0].1.generator.clone();
    let mut findings = Vec::new();
    let mut cells = Vec::new();
    let mut lineage = Vec::new();
    let mut matched = ExceptionOutcome::default();
    for (_, report, record) in records {
        for (mut f, d) in report.findings.into_iter().zip(record.details) {
            d.restore(&mut f);
            findings.push(f);
        }
        // Render failures are re-derived by Report::new from the cells, never doubled.
        cells.extend(report.cells);
        lineage.extend(record.lineage);
        matched.merge(
            &record
                .exception_matches
                .iter()
                .enumerate()
                .flat_map(|(i, n)| std::iter::repeat_n(i, *n as usize))
                .collect(),
        );
    }
    let judged: BTreeMap<(String, String), bool> = cells
        .iter()
        .map(|c| {
            (
                (c.environment.clone(), c.app.clone()),
                c.status == CellStatus::Failed,
            )
        })
        .collect();
    for c in &matrix {
        if !judged.contains_key(&(c.environment.clone(), c.app.clone())) {
            return Err(Fatal(format!(
                "no shard report holds cell {}/{}\n  hint: run merge with the configuration the shards ran with",
                c.environment, c.app
            ))
            .into());
        }
    }
    lineage.sort();
    let helm = if args.history > 0 {
        Some(
            Helm::locate(args.helm.as_deref(), cfg.repo.root())
                .map_err(|e| Fatal(e.to_string()))?,
        )
    } else {
        None
    };
    let opts = RenderOptions {
        timeout: std::time::Duration::from_secs(cfg.model.helm.timeout_seconds.max(1)),
        max_output_bytes: (cfg.model.limits.max_rendered_mib as usize).saturating_mul(1024 * 1024),
        max_memory_bytes: Some(
            cfg.model
                .limits
                .max_helm_memory_mib
                .saturating_mul(1024 * 1024),
        ),
        ..RenderOptions::default()
    };
    let renderer = helm.as_ref().map(imagegate_engine::HelmRenderer::new);
    let observer = crate::progress::Terminal::new(false);
    let whole = Whole {
        cfg,
        renderer: renderer
            .as_ref()
            .map(|r| r as &dyn imagegate_engine::Renderer),
        opts: &opts,
        observer: &observer,
        today: crate::output::today()?,
        history: args.history,
        full: true,
    };
    findings.extend(whole.judge(&lineage, &judged, matched)?);
    Ok(Report::new(generator, findings, cells))
}

/// The inventory of the merged run, from the images.json beside each shard report.
fn merged_images(shards: &[(PathBuf, Report)], merged: &Report) -> Result<Images> {
    let mut rows = Vec::new();
    for (path, _) in shards {
        let images = path.parent().unwrap_or(Path::new(".")).join("images.json");
        if !images.is_file() {
            return Err(Fatal(format!(
                "{}: missing; --out needs the images.json of every shard beside its report.json\n  hint: run the shards with `imagegate audit --shard K/N --out DIR`",
                images.display()
            ))
            .into());
        }
        rows.extend(Images::read(&images)?.images);
    }
    Ok(Images::new(rows, merged))
}
