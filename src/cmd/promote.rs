//! `imagegate promote SOURCE TARGET`: promotion by digest, through the values line.

use crate::cli::PromoteArgs;
use crate::output::{sanitize_terminal, stdout};
use crate::Fatal;
use anyhow::Result;
use imagegate_engine::fleet::RenderOverrides;
use imagegate_engine::promote::{self, Applied, Request, Tools};
use imagegate_render::Helm;
use std::io::Write;

pub fn run(args: PromoteArgs) -> Result<u8> {
    let path = super::config_path(&args.config)?;
    let cfg = super::load_config(&path, args.helm.as_deref())?;
    let helm =
        Helm::locate(args.helm.as_deref(), cfg.repo.root()).map_err(|e| Fatal(e.to_string()))?;
    let renderer = imagegate_engine::HelmRenderer::new(&helm);
    let opts = crate::fleet::render_options(
        &cfg,
        &RenderOverrides {
            jobs: args.jobs,
            timeout_seconds: args.timeout,
        },
    );
    let tools = Tools {
        renderer: &renderer,
        opts: &opts,
    };
    let req = Request {
        source: &args.source,
        target: &args.target,
        apps: &args.apps,
    };
    let plan = promote::plan(&cfg, &req, &tools)?;
    let applied = if args.dry_run || plan.is_empty() {
        None
    } else {
        Some(promote::apply(&path, &plan, &req, &tools, &|_| {})?)
    };
    if let Some(md) = &args.markdown {
        let mut body = plan.markdown(&req);
        if let Some(Applied::Undone(why)) = &applied {
            body.push_str(&format!("\n**Not applied:** {why}\n"));
        }
        std::fs::write(md, body)
            .map_err(|e| Fatal(format!("{}: cannot write: {e}", md.display())))?;
    }
    let mut out = stdout();
    if args.format.eq_ignore_ascii_case("json") {
        writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&plan.json(&req, applied.as_ref()))?
        )?;
    } else {
        write_lines(&mut out, &plan.text(&req))?;
        if args.dry_run {
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

/// Writes `text` line by line, each made safe for a terminal (a values file's text is not
/// trusted).
fn write_lines(out: &mut impl Write, text: &str) -> std::io::Result<()> {
    for line in text.lines() {
        writeln!(out, "{}", sanitize_terminal(line))?;
    }
    Ok(())
}
