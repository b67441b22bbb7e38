//! `imagegate`: judges the images of every Helm chart × environment of a GitOps repository.
//!
//! This crate is the only one that prints. It parses the command line, drives the pipeline
//! (config → cells → renders → image sites → findings → report) and maps the outcome to the exit
//! status: 0 clean, 1 error-level findings, 2 usage, configuration or infrastructure errors.

mod cache;
mod cli;
mod cmd;
mod convert;
mod output;
mod pipeline;

use clap::Parser;
use std::process::ExitCode;

/// An error that ends the run with exit status 2 (configuration, usage or infrastructure).
#[derive(Debug)]
pub struct Fatal(pub String);

impl std::fmt::Display for Fatal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Fatal {}

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    imagegate_render::install_interrupt_handler();
    match cmd::run(args) {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            let mut msg = format!("{err:#}");
            if let Some(f) = err.downcast_ref::<Fatal>() {
                msg = f.0.clone();
            }
            eprintln!("imagegate: error: {}", output::sanitize_terminal(&msg));
            ExitCode::from(2)
        }
    }
}
