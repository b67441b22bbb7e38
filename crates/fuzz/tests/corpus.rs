//! Every corpus input (including the regressions of past findings) through its target, and a
//! short deterministic fuzz run of each target: both run with `cargo test`.

use imagegate_fuzz::engine::{self, Settings};
use std::path::Path;
use std::time::Duration;

fn corpus_dir(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(name)
}

#[test]
fn every_corpus_input_keeps_its_targets_promises() {
    for target in imagegate_fuzz::TARGETS {
        let corpus = engine::load_corpus(&corpus_dir(target.name)).unwrap();
        assert!(
            corpus.len() >= 5,
            "{}: the corpus has {} inputs",
            target.name,
            corpus.len()
        );
        for input in &corpus {
            if let Err(f) = engine::execute(target, input) {
                panic!(
                    "{}: {} on {:?}: {}",
                    target.name,
                    f.kind,
                    String::from_utf8_lossy(input),
                    f.message
                );
            }
        }
    }
}

#[test]
fn a_short_fuzz_run_of_every_target_finds_nothing() {
    let execs: u64 = std::env::var("IMAGEGATE_FUZZ_EXECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000);
    for target in imagegate_fuzz::TARGETS {
        let corpus = engine::load_corpus(&corpus_dir(target.name)).unwrap();
        let summary = engine::run(
            target,
            corpus,
            Settings {
                seed: 42,
                duration: Duration::from_secs(600),
                max_execs: execs,
                artifacts: None,
                report_every: Duration::from_secs(3600),
            },
        );
        assert!(
            summary.execs >= execs,
            "{}: {} execs",
            target.name,
            summary.execs
        );
        let found: Vec<String> = summary
            .findings
            .iter()
            .map(|f| {
                format!(
                    "{}: {} on {:?}",
                    f.kind,
                    f.message,
                    String::from_utf8_lossy(&f.input)
                )
            })
            .collect();
        assert!(found.is_empty(), "{}: {found:#?}", target.name);
    }
}
