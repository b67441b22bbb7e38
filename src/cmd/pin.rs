//! `imagegate pin`: pin by digest, through the values line and the registry.

use crate::cli::PinArgs;
use crate::output::{sanitize_terminal, stdout, write_lines};
use crate::Fatal;
use anyhow::Result;
use imagegate_engine::pin::{self, Request, Resolve};
use imagegate_engine::promote::{Applied, Tools};
use imagegate_registry::Registry;
use std::collections::BTreeSet;
use std::io::Write;

/// The registry client as the engine asks it.
struct Resolver(Registry);

impl Resolve for Resolver {
    fn digest(&self, image: &str) -> Result<Option<String>, String> {
        self.0.resolve(image).map_err(|e| e.message)
    }
}

pub fn run(args: PinArgs) -> Result<u8> {
    let today = imagegate_engine::today()?;
    let super::Editing {
        path,
        mut cfg,
        helm,
        opts,
    } = super::Editing::open(&args.edit)?;
    let helm_path = args.edit.helm.as_deref();
    let renderer = imagegate_engine::HelmRenderer::new(&helm);
    let tools = Tools {
        renderer: &renderer,
        opts: &opts,
    };
    let resolver = Resolver(super::registry::client(
        &args.insecure_registry,
        &answers_cache(),
        cfg.repo.root(),
    )?);
    let envs: Vec<String> = if args.envs.is_empty() {
        let cells = cfg.cells().map_err(|e| Fatal(e.to_string()))?;
        let all: BTreeSet<String> = cells.into_iter().map(|c| c.environment).collect();
        all.into_iter().collect()
    } else {
        args.envs.clone()
    };
    let json = args.edit.format.eq_ignore_ascii_case("json");
    let mut status = 0;
    let mut documents = Vec::new();
    let mut out = stdout();
    let mut body = String::new();
    let mut written = false;
    for env in &envs {
        // Each environment from the files as the previous one left them.
        if written {
            cfg = super::load_config(&path, helm_path)?;
        }
        let req = Request {
            env,
            apps: &args.edit.apps,
        };
        let plan = pin::plan(&cfg, &req, &tools, &resolver, today)?;
        let applied = if args.edit.dry_run || plan.is_empty() {
            None
        } else {
            Some(pin::apply(&path, &plan, &req, &tools)?)
        };
        written |= applied == Some(Applied::Verified);
        body.push_str(&pin::markdown(&plan, &req));
        if let Some(Applied::Undone(why)) = &applied {
            body.push_str(&format!("\n**Not applied:** {why}\n"));
        }
        if json {
            documents.push(pin::json(&plan, &req, applied.as_ref()));
        } else {
            write_lines(&mut out, &pin::text(&plan, &req))?;
            if args.edit.dry_run {
                write_lines(&mut out, &plan.diff())?;
            } else if applied == Some(Applied::Verified) {
                writeln!(
                    out,
                    "{} file(s) written; {} rendered again: it renders the pinned references",
                    plan.files.len(),
                    sanitize_terminal(env)
                )?;
            }
        }
        match &applied {
            Some(Applied::Undone(why)) => {
                eprintln!(
                    "imagegate: pin {}: nothing was changed: {}",
                    sanitize_terminal(env),
                    sanitize_terminal(why)
                );
                status = 1;
            }
            _ if !plan.refusals.is_empty() => status = 1,
            _ => {}
        }
    }
    if let Err(e) = resolver.0.save() {
        eprintln!(
            "imagegate: warning: registry answers not kept for the run: {}",
            sanitize_terminal(&e)
        );
    }
    if let Some(md) = &args.edit.markdown {
        std::fs::write(md, body)
            .map_err(|e| Fatal(format!("{}: cannot write: {e}", md.display())))?;
    }
    if json {
        let doc = serde_json::json!({ "pins": documents });
        writeln!(out, "{}", serde_json::to_string_pretty(&doc)?)?;
    } else if args.edit.dry_run {
        writeln!(out, "dry run: nothing written")?;
    }
    out.flush()?;
    Ok(status)
}

/// Where `pin` keeps the run's registry answers: `IMAGEGATE_CACHE_DIR`, else the default cache
/// folder (pin renders without the render cache, so it has no `--cache-dir`).
fn answers_cache() -> imagegate_engine::cache::CacheChoice {
    use imagegate_engine::cache::CacheChoice;
    match std::env::var_os("IMAGEGATE_CACHE_DIR") {
        Some(d) if !d.is_empty() => CacheChoice::At(d.into()),
        _ => CacheChoice::Default,
    }
}
