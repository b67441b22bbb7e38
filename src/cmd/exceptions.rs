//! `imagegate exceptions suggest`: exception stubs for the failing findings of a check (the
//! stubs are `imagegate_engine::suggest`'s).

use crate::cli::{ExceptionsCommand, SuggestArgs};
use crate::fleet::{Coverage, Plan};
use crate::output::{stdout, today};
use anyhow::Result;
use imagegate_engine::suggest::{lifetime, suggest};
use std::io::Write;

pub fn run(command: ExceptionsCommand) -> Result<u8> {
    match command {
        ExceptionsCommand::Suggest(args) => run_suggest(args),
    }
}

fn run_suggest(args: SuggestArgs) -> Result<u8> {
    let cfg = super::load_config(
        &super::config_path(&args.matrix.config)?,
        args.helm.helm.as_deref(),
    )?;
    let days = lifetime(args.days, &cfg.model.exceptions)?;
    let cells = super::select_cells(&cfg, &args.matrix)?;
    let plan = Plan {
        coverage: if args.matrix.is_whole() {
            Coverage::Full
        } else {
            Coverage::Narrowed
        },
        history: 0,
        inventory: false,
    };
    let observer = crate::progress::Terminal::new(!args.no_progress);
    let report = super::run_fleet(&cfg, &cells, &args.helm, plan, &observer)?.report;
    let s = suggest(
        &report,
        &cfg.model.exceptions,
        today()?,
        days,
        args.warnings_as_errors,
    );
    let mut out = stdout();
    out.write_all(s.yaml.as_bytes())?;
    out.flush()?;
    eprintln!(
        "imagegate: {} exception stub{} expiring {}; {} failing finding{} no exception may cover (fix those)",
        s.stubs,
        if s.stubs == 1 { "" } else { "s" },
        s.expires,
        s.left_out,
        if s.left_out == 1 { "" } else { "s" },
    );
    Ok(0)
}
