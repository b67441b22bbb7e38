//! `cargo xtask fuzz [TARGET|all] [--seconds N] [--seed S]`: the fuzz targets of `crates/fuzz`
//! on stable Rust, built with optimisations, over the corpus in `fuzz/corpus/<target>/`.
//! Findings are saved under `fuzz/artifacts/<target>/`; the command fails when there are any.

use anyhow::{bail, Result};
use std::path::Path;

const TARGETS: [&str; 7] = [
    "image_ref",
    "decode",
    "config",
    "origin",
    "argocd",
    "edit",
    "helm_error",
];

/// Runs one target, or all of them one after the other.
pub fn run(root: &Path, rest: &[String]) -> Result<()> {
    let (which, flags) = match rest.split_first() {
        Some((first, flags)) if !first.starts_with("--") => (first.as_str(), flags),
        _ => ("all", rest),
    };
    let targets: Vec<&str> = match which {
        "all" => TARGETS.to_vec(),
        t if TARGETS.contains(&t) => vec![t],
        other => bail!(
            "unknown fuzz target `{other}` (targets: all, {})",
            TARGETS.join(", ")
        ),
    };
    for t in targets {
        let mut cmd = crate::cargo();
        cmd.current_dir(root)
            .args([
                "run",
                "--quiet",
                "--release",
                "-p",
                "imagegate-fuzz",
                "--",
                t,
            ])
            .args(flags);
        crate::status(&mut cmd)?;
    }
    Ok(())
}
