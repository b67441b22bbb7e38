//! `imagegate-fuzz TARGET [--seconds N] [--seed S] [--max-execs N]`: fuzzes one target with the
//! corpus in `fuzz/corpus/<target>/`, saving findings under `fuzz/artifacts/<target>/`.
//! Exit status 1 when anything was found. Usually run as `cargo xtask fuzz TARGET`.

use imagegate_fuzz::engine::{self, Settings};
use imagegate_fuzz::targets::by_name;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

fn usage() -> ExitCode {
    let names: Vec<_> = imagegate_fuzz::TARGETS.iter().map(|t| t.name).collect();
    eprintln!(
        "usage: imagegate-fuzz TARGET [--seconds N] [--seed S] [--max-execs N] [--root DIR]\n  targets: {}",
        names.join(", ")
    );
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(target) = args.first().and_then(|n| by_name(n)) else {
        return usage();
    };
    let mut seconds = 60u64;
    let mut seed = 0x1a6e_6a7eu64;
    let mut max_execs = u64::MAX;
    let mut root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    let mut it = args[1..].iter();
    while let Some(flag) = it.next() {
        let value = it.next();
        let parsed = match (flag.as_str(), value) {
            ("--seconds", Some(v)) => v.parse().map(|v| seconds = v).is_ok(),
            ("--seed", Some(v)) => v.parse().map(|v| seed = v).is_ok(),
            ("--max-execs", Some(v)) => v.parse().map(|v| max_execs = v).is_ok(),
            ("--root", Some(v)) => {
                root = PathBuf::from(v);
                true
            }
            _ => false,
        };
        if !parsed {
            return usage();
        }
    }
    let corpus_dir = root.join("corpus").join(target.name);
    let corpus = match engine::load_corpus(&corpus_dir) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("imagegate-fuzz: cannot read {}: {e}", corpus_dir.display());
            return ExitCode::from(2);
        }
    };
    eprintln!(
        "{}: seed {seed}, {} corpus inputs from {}, {seconds}s",
        target.name,
        corpus.len(),
        corpus_dir.display()
    );
    let summary = engine::run(
        target,
        corpus,
        Settings {
            seed,
            duration: Duration::from_secs(seconds),
            max_execs,
            artifacts: Some(root.join("artifacts").join(target.name)),
            report_every: Duration::from_secs(30),
        },
    );
    println!(
        "{}: {} executions in {:.1}s ({:.0}/s), {} outcome shapes, {} inputs kept, {} findings",
        target.name,
        summary.execs,
        summary.elapsed.as_secs_f64(),
        summary.execs as f64 / summary.elapsed.as_secs_f64().max(0.001),
        summary.shapes,
        summary.kept,
        summary.findings.len()
    );
    for f in &summary.findings {
        println!("  {}: {}", f.kind, f.message);
    }
    if summary.findings.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
