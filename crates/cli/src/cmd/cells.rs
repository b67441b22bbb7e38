//! `imagegate cells`: the matrix, with each cell's resolved value stack.

use crate::cli::CellsArgs;
use crate::output::{sanitize_terminal, stdout};
use anyhow::Result;
use std::io::Write;

pub fn run(args: CellsArgs) -> Result<u8> {
    let cfg = super::load_config(&super::config_path(&args.matrix.config))?;
    let cells = super::select_cells(&cfg, &args.matrix)?;
    let mut out = stdout();
    match args.format.to_ascii_lowercase().as_str() {
        "json" => {
            let doc = imagegate_engine::schemas::CellsDocument::new(cells);
            writeln!(out, "{}", serde_json::to_string_pretty(&doc)?)?;
        }
        _ => {
            for c in &cells {
                writeln!(
                    out,
                    "{}/{}  release={} namespace={} chart={}",
                    sanitize_terminal(&c.environment),
                    sanitize_terminal(&c.app),
                    sanitize_terminal(&c.release),
                    sanitize_terminal(&c.namespace),
                    sanitize_terminal(&c.chart)
                )?;
                for v in &c.value_files {
                    let mark = if v.present {
                        "  -f"
                    } else {
                        "  (missing, skipped)"
                    };
                    writeln!(out, "{mark} {}", sanitize_terminal(&v.path))?;
                }
                for p in &c.problems {
                    writeln!(out, "  problem: {}", sanitize_terminal(p))?;
                }
            }
            writeln!(out, "{} cells", cells.len())?;
        }
    }
    Ok(0)
}
