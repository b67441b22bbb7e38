//! `imagegate init [--force] [--stdout] [--check] [PATH]`: inspects a GitOps repository and
//! writes a commented `imagegate.yaml` derived from its files (the inference is
//! `imagegate_engine::discover`; see its documentation for what is looked for). What the files
//! do not say is written as open questions, never guessed. `--check` compares an existing
//! configuration with what the Argo CD manifests generate (`imagegate_engine::discover::drift`).

use crate::cli::InitArgs;
use crate::Fatal;
use anyhow::Result;
use imagegate_engine::discover::propose;
use std::io::Write;
use std::path::PathBuf;

/// Most cells listed after writing (the rest are counted).
const SHOWN_CELLS: usize = 40;

pub fn run(args: InitArgs) -> Result<u8> {
    let root = args.path.clone().unwrap_or_else(|| PathBuf::from("."));
    if !root.is_dir() {
        return Err(Fatal(format!("{}: not a folder", root.display())).into());
    }
    let target = root.join("imagegate.yaml");
    if args.check {
        return check(&root, &target, args.helm.as_deref());
    }
    if !args.stdout && target.exists() && !args.force {
        return Err(Fatal(format!(
            "{} already exists; not overwriting it\n  hint: pass --force to replace it, or --stdout to print the proposal",
            target.display()
        ))
        .into());
    }
    let proposal = propose(&root)?;
    if args.stdout {
        let mut out = crate::output::stdout();
        out.write_all(proposal.text.as_bytes())?;
        out.flush()?;
    } else {
        std::fs::write(&target, &proposal.text)
            .map_err(|e| Fatal(format!("{}: cannot write: {e}", target.display())))?;
        eprintln!("wrote {} (from {})", target.display(), proposal.layout);
    }
    for note in &proposal.notes {
        eprintln!("note: {note}");
    }
    // The proposal must load: say so now rather than at the first `imagegate cells`.
    let cells = match proposal.cells(&root, args.helm.as_deref()) {
        Ok(cells) => cells,
        Err(e) if !proposal.questions.is_empty() => {
            eprintln!("note: as written, before the open questions are answered: {e}");
            Vec::new()
        }
        Err(e) => return Err(e.into()),
    };
    let envs: std::collections::BTreeSet<&str> =
        cells.iter().map(|c| c.environment.as_str()).collect();
    eprintln!(
        "{} cells in {} environments{}",
        cells.len(),
        envs.len(),
        if proposal.questions.is_empty() {
            ""
        } else {
            " as written"
        }
    );
    for c in cells.iter().take(SHOWN_CELLS) {
        let files: Vec<&str> = c.value_files.iter().map(|v| v.path.as_str()).collect();
        eprintln!(
            "  {}/{}  {}  [{}]",
            c.environment,
            c.app,
            c.chart,
            files.join(", ")
        );
    }
    if cells.len() > SHOWN_CELLS {
        eprintln!("  … and {} more", cells.len() - SHOWN_CELLS);
    }
    if proposal.questions.is_empty() {
        eprintln!("next: `imagegate cells`, then `imagegate check`");
    } else {
        eprintln!(
            "{} open question{} (under openQuestions in imagegate.yaml): `imagegate cells` and `check` exit 2 until each is answered:",
            proposal.questions.len(),
            if proposal.questions.len() == 1 { "" } else { "s" }
        );
        for (i, q) in proposal.questions.iter().enumerate() {
            eprintln!("  {}. {}", i + 1, q.question);
        }
    }
    Ok(0)
}

/// `init --check`: the drift between `target` and the Argo CD manifests of `root`.
fn check(
    root: &std::path::Path,
    target: &std::path::Path,
    helm: Option<&std::path::Path>,
) -> Result<u8> {
    let cfg = crate::cmd::load_config(target, helm)?;
    let drift = imagegate_engine::discover::drift(root, &cfg, helm)?;
    for n in &drift.not_judged {
        eprintln!("not judged: {n}");
    }
    let mut out = crate::output::stdout();
    if drift.differences.is_empty() {
        writeln!(
            out,
            "no drift: {} and the Argo CD manifests make the same {} cells",
            cfg.file, drift.manifest_cells
        )?;
        out.flush()?;
        return Ok(0);
    }
    writeln!(
        out,
        "drift: {} difference{} between {} ({} cells) and the Argo CD manifests ({} cells)",
        drift.differences.len(),
        if drift.differences.len() == 1 {
            ""
        } else {
            "s"
        },
        cfg.file,
        drift.config_cells,
        drift.manifest_cells
    )?;
    for d in &drift.differences {
        writeln!(out, "  {d}")?;
    }
    out.flush()?;
    Ok(1)
}
