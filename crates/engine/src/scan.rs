//! `imagegate scan`: judging manifests that are already rendered (files, or standard input),
//! with a configuration's policy, exceptions and document limit or the defaults.

use crate::pipeline::Judge;
use crate::{Config, Fatal};
use anyhow::Result;
use imagegate_policy::{ExceptionSettings, PolicySettings};
use imagegate_report::{Generator, Report};
use std::io::Read;
use std::path::{Path, PathBuf};

/// Largest input scanned (one file or stdin).
pub const MAX_INPUT: u64 = 256 * 1024 * 1024;

/// Judges every file of `files` (`-` is standard input) as environment `env`: one cell per
/// file, findings at the file's own lines.
pub fn scan(
    config: Option<&Config>,
    files: &[PathBuf],
    env: &str,
    today: chrono::NaiveDate,
) -> Result<Report> {
    let (settings, exceptions, max_documents) = match config {
        Some(cfg) => (
            cfg.model.policy.clone(),
            cfg.model.exceptions.clone(),
            cfg.model.limits.max_documents,
        ),
        None => (
            PolicySettings::default(),
            ExceptionSettings::default(),
            imagegate_fleet::LimitSettings::default().max_documents,
        ),
    };
    let judge = Judge {
        config: None,
        settings: &settings,
        exceptions: &exceptions,
        decode: crate::pipeline::decode_options(&settings),
        today,
        inventory: false,
        sites: false,
        origin_budget: imagegate_origin::DEFAULT_BUDGET,
        remote: None,
    };
    let mut findings = Vec::new();
    let mut cells = Vec::new();
    for file in files {
        let (name, text) = read_input(file)?;
        let outcome = judge.scanned(&name, env, &text, max_documents)?;
        findings.extend(outcome.findings);
        cells.push(outcome.report);
    }
    Ok(Report::new(
        Generator::new("imagegate", env!("CARGO_PKG_VERSION")),
        findings,
        cells,
    ))
}

/// The name and text of one input: at most [`MAX_INPUT`] bytes of UTF-8.
pub fn read_input(file: &Path) -> Result<(String, String), Fatal> {
    let (name, reader): (String, Box<dyn Read>) = if file.as_os_str() == "-" {
        ("(stdin)".into(), Box::new(std::io::stdin().lock()))
    } else {
        let f = std::fs::File::open(file).map_err(|e| Fatal(format!("{}: {e}", file.display())))?;
        (file.display().to_string(), Box::new(f))
    };
    read_bounded(name, reader, MAX_INPUT)
}

fn read_bounded(name: String, reader: impl Read, max: u64) -> Result<(String, String), Fatal> {
    let mut buf = Vec::new();
    reader
        .take(max + 1)
        .read_to_end(&mut buf)
        .map_err(|e| Fatal(format!("{name}: {e}")))?;
    if buf.len() as u64 > max {
        return Err(Fatal(format!(
            "{name}: larger than {} MiB; split it",
            max / (1024 * 1024)
        )));
    }
    let text = String::from_utf8(buf).map_err(|e| {
        Fatal(format!(
            "{name}: not valid UTF-8 (byte {}); Kubernetes manifests are UTF-8 text",
            e.utf8_error().valid_up_to()
        ))
    })?;
    Ok((name, text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_are_bounded_utf8() {
        let ok = read_bounded("a.yaml".into(), &b"kind: Pod\n"[..], MAX_INPUT).unwrap();
        assert_eq!(ok, ("a.yaml".into(), "kind: Pod\n".into()));
        let err = read_bounded("b.yaml".into(), &b"ok\xff"[..], MAX_INPUT)
            .unwrap_err()
            .0;
        assert!(err.contains("b.yaml: not valid UTF-8 (byte 2)"), "{err}");
        let huge = std::io::repeat(b'x').take((2 << 20) + 1);
        let err = read_bounded("(stdin)".into(), huge, 2 << 20).unwrap_err().0;
        assert!(err.contains("(stdin): larger than 2 MiB"), "{err}");
        assert!(read_bounded("c".into(), std::io::repeat(b'x').take(2 << 20), 2 << 20).is_ok());
    }
}
