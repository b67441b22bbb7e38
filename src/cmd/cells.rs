//! `imagegate cells`: the matrix, with each cell's resolved value stack.

use crate::cli::CellsArgs;
use crate::output::stdout;
use anyhow::Result;
use std::io::Write;

pub fn run(args: CellsArgs) -> Result<u8> {
    let cfg = super::load_config(&super::config_path(&args.matrix.config)?, None)?;
    let cells = super::select_cells(&cfg, &args.matrix)?;
    let not_judged = imagegate_engine::fleet::not_judged(&cfg);
    let mut out = stdout();
    match args.format.to_ascii_lowercase().as_str() {
        "json" => {
            let doc = imagegate_engine::schemas::CellsDocument::new(cells, not_judged);
            writeln!(out, "{}", serde_json::to_string_pretty(&doc)?)?;
        }
        _ => imagegate_engine::select::write_listing(&mut out, &cells, &not_judged)?,
    }
    out.flush()?;
    Ok(0)
}
