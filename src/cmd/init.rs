//! `imagegate init [--force] [--stdout] [PATH]`: inspects a GitOps repository and writes a
//! commented starting `imagegate.yaml` (the inference is `imagegate_engine::discover`; see its
//! documentation for what is looked for).

use crate::cli::InitArgs;
use crate::Fatal;
use anyhow::Result;
use imagegate_engine::discover::inspect;
use std::io::Write;
use std::path::PathBuf;

pub fn run(args: InitArgs) -> Result<u8> {
    let root = args.path.clone().unwrap_or_else(|| PathBuf::from("."));
    if !root.is_dir() {
        return Err(Fatal(format!("{}: not a folder", root.display())).into());
    }
    let target = root.join("imagegate.yaml");
    if !args.stdout && target.exists() && !args.force {
        return Err(Fatal(format!(
            "{} already exists; not overwriting it\n  hint: pass --force to replace it, or --stdout to print the proposal",
            target.display()
        ))
        .into());
    }
    let inspection = inspect(&root)?;
    let text = inspection.render();
    if args.stdout {
        let mut out = crate::output::stdout();
        out.write_all(text.as_bytes())?;
        out.flush()?;
    } else {
        std::fs::write(&target, &text)
            .map_err(|e| Fatal(format!("{}: cannot write: {e}", target.display())))?;
        eprintln!("wrote {}", target.display());
    }
    for note in &inspection.notes {
        eprintln!("note: {note}");
    }
    // The proposal must load: say so now rather than at the first `imagegate cells`.
    let made = inspection.check(&root, &text)?;
    eprintln!("{made}; next: `imagegate cells`, then `imagegate check`");
    Ok(0)
}
