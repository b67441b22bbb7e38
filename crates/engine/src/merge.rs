//! `imagegate merge`'s engine: joining the reports of `--shard K/N` runs into the report of the
//! whole fleet, after checking they are exactly the N slices of this configuration's matrix, and
//! judging the whole-fleet rules once over the union ([`crate::fleet::Whole`]).

use crate::audit::Images;
use crate::fleet::Whole;
use crate::shard::Shard;
use crate::Config;
use crate::{Fatal, Observer, Renderer};
use anyhow::Result;
use imagegate_policy::ExceptionOutcome;
use imagegate_report::{Report, ShardRecord};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Checks that `shards` are the N slices of `cfg`'s matrix and joins them, judging the
/// whole-fleet rules.
pub fn merge(
    cfg: &Config,
    shards: Vec<(PathBuf, Report)>,
    history: usize,
    renderer: Option<&dyn Renderer>,
    observer: &dyn Observer,
    today: chrono::NaiveDate,
) -> Result<Report> {
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
    let mut reached = std::collections::BTreeSet::new();
    // What the configuration does not judge is the same in every shard; the applications a
    // shard's cells rendered are that shard's.
    let mut not_judged = crate::fleet::not_judged(cfg);
    for (_, report, record) in records {
        not_judged.extend(report.not_judged.iter().cloned());
        reached.extend(
            record
                .custom_paths_reached
                .iter()
                .map(|(i, p)| (*i as usize, p.clone())),
        );
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
    let judged = crate::fleet::judged_cells(&cells);
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
    let fields = crate::pipeline::decode_options(&cfg.model.policy).custom_fields;
    for warning in crate::fleet::unreached_custom_paths(&fields, &reached, &cells) {
        observer.warn(&warning);
    }
    let opts = crate::fleet::render_options(cfg, &crate::fleet::RenderOverrides::default());
    let whole = Whole {
        cfg,
        renderer,
        opts: &opts,
        observer,
        today,
        history,
        full: true,
    };
    findings.extend(whole.judge(&lineage, &judged, matched)?);
    Ok(Report::new(generator, findings, cells).with_not_judged(not_judged))
}

/// The inventory of the merged run, from the images.json beside each shard report.
pub fn merged_images(shards: &[(PathBuf, Report)], merged: &Report) -> Result<Images> {
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
