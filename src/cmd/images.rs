//! `imagegate images`: what is deployed where.

use crate::cli::ImagesArgs;
use crate::output::{sanitize_terminal, stdout, today};
use crate::pipeline::{self, Judge};
use crate::Fatal;
use anyhow::Result;
use imagegate_engine::audit::Images;
use imagegate_render::Helm;
use std::io::Write;

pub fn run(args: ImagesArgs) -> Result<u8> {
    let cfg = super::load_config(
        &super::config_path(&args.matrix.config)?,
        args.helm.helm.as_deref(),
    )?;
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
    let inventory = Images::of_outcomes(outcomes);
    let mut out = stdout();
    match args.format.to_ascii_lowercase().as_str() {
        "json" => writeln!(out, "{}", serde_json::to_string_pretty(&inventory)?)?,
        "csv" => crate::convert::write_inventory_csv(&mut out, &inventory.images)?,
        _ => inventory.write_table(&mut out)?,
    }
    out.flush()?;
    drop(out);
    for f in &inventory.failed_cells {
        eprintln!(
            "imagegate: cell failed to render, its images are unknown: {}",
            sanitize_terminal(f)
        );
    }
    // An inventory with holes is not a complete answer.
    Ok(if inventory.failed_cells.is_empty() {
        0
    } else {
        1
    })
}
