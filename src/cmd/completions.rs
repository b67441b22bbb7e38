//! `imagegate completions SHELL`: the shell completion script, generated from the same clap
//! definition the binary parses with, so it never drifts from the real flags.

use crate::cli::{Cli, CompletionsArgs};
use anyhow::Result;
use clap::CommandFactory;
use std::io::Write;

pub fn run(args: CompletionsArgs) -> Result<u8> {
    let mut cmd = Cli::command();
    let mut out = crate::output::stdout();
    clap_complete::generate(args.shell, &mut cmd, "imagegate", &mut out);
    out.flush()?;
    Ok(0)
}
