//! `imagegate scan`: judge manifests that are already rendered.

use crate::cli::ScanArgs;
use crate::output::{today, Outputs};
use crate::pipeline::Judge;
use crate::Fatal;
use anyhow::Result;
use imagegate_policy::{ExceptionSettings, PolicySettings};
use imagegate_report::{Generator, Report};
use std::io::Read;

/// Largest input scanned (one file or stdin).
const MAX_INPUT: u64 = 256 * 1024 * 1024;

pub fn run(args: ScanArgs) -> Result<u8> {
    let outputs = Outputs::parse(&args.output)?;
    let outputs = match std::env::current_dir().and_then(|d| d.canonicalize()) {
        Ok(cwd) => outputs.relative_to(&cwd),
        Err(_) => outputs,
    };
    let (settings, exceptions, max_documents) = match &args.config {
        Some(path) => {
            let cfg = super::load_config(path)?;
            (
                cfg.model.policy.clone(),
                cfg.model.exceptions.clone(),
                cfg.model.limits.max_documents,
            )
        }
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
        today: today()?,
        inventory: false,
        sites: false,
        origin_budget: imagegate_origin::DEFAULT_BUDGET,
    };
    let mut findings = Vec::new();
    let mut cells = Vec::new();
    for file in &args.files {
        let (name, text) = read_input(file)?;
        let outcome = judge.scanned(&name, &args.env, &text, max_documents)?;
        findings.extend(outcome.findings);
        cells.push(outcome.report);
    }
    let report = outputs.prepare(Report::new(
        Generator::new("imagegate", env!("CARGO_PKG_VERSION")),
        findings,
        cells,
    ));
    outputs.emit(&report)?;
    Ok(outputs.exit_code(&report))
}

fn read_input(file: &std::path::Path) -> Result<(String, String)> {
    let (name, reader): (String, Box<dyn Read>) = if file.as_os_str() == "-" {
        ("(stdin)".into(), Box::new(std::io::stdin().lock()))
    } else {
        let f = std::fs::File::open(file).map_err(|e| Fatal(format!("{}: {e}", file.display())))?;
        (file.display().to_string(), Box::new(f))
    };
    let mut buf = Vec::new();
    reader
        .take(MAX_INPUT + 1)
        .read_to_end(&mut buf)
        .map_err(|e| Fatal(format!("{name}: {e}")))?;
    if buf.len() as u64 > MAX_INPUT {
        return Err(Fatal(format!(
            "{name}: larger than {} MiB; split it",
            MAX_INPUT / (1024 * 1024)
        ))
        .into());
    }
    let text = String::from_utf8(buf).map_err(|e| {
        Fatal(format!(
            "{name}: not valid UTF-8 (byte {}); Kubernetes manifests are UTF-8 text",
            e.utf8_error().valid_up_to()
        ))
    })?;
    Ok((name, text))
}
