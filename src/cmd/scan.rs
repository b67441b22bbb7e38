//! `imagegate scan`: judge manifests that are already rendered (`imagegate_engine::scan`).

use crate::cli::ScanArgs;
use crate::output::{today, Outputs};
use anyhow::Result;

pub fn run(args: ScanArgs) -> Result<u8> {
    let outputs = Outputs::parse(&args.output)?;
    let outputs = match std::env::current_dir().and_then(|d| d.canonicalize()) {
        Ok(cwd) => outputs.relative_to(&cwd),
        Err(_) => outputs,
    };
    let config = args
        .config
        .as_deref()
        .map(|c| super::load_config(c, None))
        .transpose()?;
    let report = outputs.prepare(imagegate_engine::scan::scan(
        config.as_ref(),
        &args.files,
        &args.env,
        today()?,
    )?);
    outputs.emit(&report)?;
    Ok(outputs.exit_code(&report))
}
