//! `imagegate images`: what is deployed where.

use crate::cli::ImagesArgs;
use crate::convert::InventoryRow;
use crate::output::{sanitize_terminal, stdout, today};
use crate::pipeline::{self, Judge};
use crate::Fatal;
use anyhow::Result;
use imagegate_render::Helm;
use std::io::Write;

pub fn run(args: ImagesArgs) -> Result<u8> {
    let cfg = super::load_config(&super::config_path(&args.matrix.config))?;
    let cells = super::select_cells(&cfg, &args.matrix)?;
    let helm = Helm::locate(args.helm.helm.as_deref(), cfg.repo.root())
        .map_err(|e| Fatal(e.to_string()))?;
    let judge = Judge::of(&cfg, today()?, true);
    let opts = crate::fleet::render_options(&cfg, &args.helm.overrides());
    let observer = crate::progress::Terminal::new(!args.no_progress);
    let outcomes = pipeline::run_with_cache(
        &judge,
        &cfg,
        &imagegate_engine::HelmRenderer::new(&helm),
        &cells,
        &opts,
        &observer,
        &args.helm.cache.choice(),
    )?;
    let mut failed = Vec::new();
    let mut rows: Vec<InventoryRow> = Vec::new();
    for o in outcomes {
        if let Some(e) = &o.report.error {
            failed.push(format!(
                "{}/{}: {}",
                o.report.environment,
                o.report.app,
                e.lines().next().unwrap_or("")
            ));
        }
        rows.extend(o.inventory);
    }
    rows.sort();
    let mut out = stdout();
    match args.format.to_ascii_lowercase().as_str() {
        "json" => {
            let doc = imagegate_engine::audit::Images {
                schema: imagegate_engine::audit::IMAGES_SCHEMA.into(),
                images: rows,
                failed_cells: failed.clone(),
            };
            writeln!(out, "{}", serde_json::to_string_pretty(&doc)?)?;
        }
        "csv" => crate::convert::write_inventory_csv(&mut out, &rows)?,
        _ => write_table(&mut out, &rows)?,
    }
    out.flush()?;
    drop(out);
    for f in &failed {
        eprintln!(
            "imagegate: cell failed to render, its images are unknown: {}",
            sanitize_terminal(f)
        );
    }
    // An inventory with holes is not a complete answer.
    Ok(if failed.is_empty() { 0 } else { 1 })
}

fn write_table(out: &mut impl Write, rows: &[InventoryRow]) -> Result<()> {
    let header = [
        "ENVIRONMENT",
        "APP",
        "OBJECT",
        "CONTAINER",
        "IMAGE",
        "DIGEST",
        "PULL",
    ];
    let cells: Vec<[String; 7]> = rows
        .iter()
        .map(|r| {
            [
                r.environment.clone(),
                r.app.clone(),
                format!("{}/{}", r.kind, r.name),
                r.container.clone().unwrap_or_else(|| r.field.clone()),
                r.image.clone(),
                r.digest
                    .as_deref()
                    .map(|d| d.chars().take(19).collect())
                    .unwrap_or_else(|| "-".into()),
                r.pull_policy.clone().unwrap_or_else(|| "-".into()),
            ]
            .map(|s| sanitize_terminal(&s))
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &cells {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |out: &mut dyn Write, row: &[&str]| -> std::io::Result<()> {
        let mut s = String::new();
        for (i, (c, w)) in row.iter().zip(widths).enumerate() {
            if i + 1 == row.len() {
                s.push_str(c);
            } else {
                s.push_str(&format!("{c:w$}  "));
            }
        }
        writeln!(out, "{}", s.trim_end())
    };
    line(out, &header)?;
    for row in &cells {
        line(out, &row.iter().map(String::as_str).collect::<Vec<_>>())?;
    }
    writeln!(out, "{} image sites", rows.len())?;
    Ok(())
}
