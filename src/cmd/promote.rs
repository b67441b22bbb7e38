//! `imagegate promote SOURCE TARGET`: promotion by digest, through the values line.

use crate::cli::PromoteArgs;
use crate::output::{sanitize_terminal, stdout, write_lines};
use crate::Fatal;
use anyhow::Result;
use imagegate_engine::promote::{self, Applied, Request, Tools};
use std::io::Write;

pub fn run(args: PromoteArgs) -> Result<u8> {
    let super::Editing {
        path,
        cfg,
        helm,
        opts,
    } = super::Editing::open(&args.edit)?;
    let renderer = imagegate_engine::HelmRenderer::new(&helm);
    let tools = Tools {
        renderer: &renderer,
        opts: &opts,
    };
    let req = Request {
        source: &args.source,
        target: &args.target,
        apps: &args.edit.apps,
    };
    let plan = promote::plan(&cfg, &req, &tools)?;
    let applied = if args.edit.dry_run || plan.is_empty() {
        None
    } else {
        Some(promote::apply(&path, &plan, &req, &tools, &|_| {})?)
    };
    if let Some(md) = &args.edit.markdown {
        let mut body = plan.markdown(&req);
        if let Some(Applied::Undone(why)) = &applied {
            body.push_str(&format!("\n**Not applied:** {why}\n"));
        }
        std::fs::write(md, body)
            .map_err(|e| Fatal(format!("{}: cannot write: {e}", md.display())))?;
    }
    let mut out = stdout();
    if args.edit.format.eq_ignore_ascii_case("json") {
        writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&plan.json(&req, applied.as_ref()))?
        )?;
    } else {
        write_lines(&mut out, &plan.text(&req))?;
        if args.edit.dry_run {
            write_lines(&mut out, &plan.diff())?;
            writeln!(out, "dry run: nothing written")?;
        } else if applied == Some(Applied::Verified) {
            writeln!(
                out,
                "{} file(s) written; {} rendered again: it renders {}'s references",
                plan.files.len(),
                sanitize_terminal(&args.target),
                sanitize_terminal(&args.source)
            )?;
        }
    }
    out.flush()?;
    drop(out);
    match &applied {
        Some(Applied::Undone(why)) => {
            eprintln!(
                "imagegate: promote: nothing was changed: {}",
                sanitize_terminal(why)
            );
            Ok(1)
        }
        _ if !plan.refusals.is_empty() => Ok(1),
        _ => Ok(0),
    }
}
