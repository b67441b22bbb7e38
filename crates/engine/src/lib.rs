//! The engine of imagegate: everything a command does between reading its arguments and writing
//! its outputs. The command-line crate is thin over it.
//!
//! The flow runs one way: configuration → cells → renders ([`Renderer`]) → decoded image sites →
//! findings → report. Per cell that is [`pipeline::Judge`]; a run over (part of) the fleet, with
//! the whole-fleet rules, is [`fleet::run`]; shards and their merge are [`shard`] and
//! [`fleet::Whole`]; promotion lineage and its history are [`promotion`], and the edits of `imagegate promote`
//! are [`promote`]; the PR check's plan and
//! comparison are [`diff`]. Every finding is finished (severity → exceptions → provenance → report
//! model) by [`convert`].
//!
//! No function here prints: warnings and progress go to the [`Observer`] the caller passes in.

#![warn(clippy::print_stdout, clippy::print_stderr)]

pub mod audit;
pub mod cache;
pub mod config;
pub mod convert;
pub mod diagnostic;
pub mod diff;
pub mod discover;
pub mod fleet;
pub mod git;
pub mod merge;
pub mod observer;
pub mod overlays;
pub mod pin;
pub mod pipeline;
pub mod promote;
pub mod promotion;
pub mod provenance;
pub mod renderer;
pub mod rule_filter;
pub mod scan;
pub mod schemas;
pub mod select;
pub mod shard;
pub mod suggest;

pub use config::{Config, ConfigFile, OpenQuestion};
pub use observer::{Observer, Quiet};
pub use renderer::{HelmRenderer, Renderer};

/// An error that ends the run with exit status 2 (configuration, usage or infrastructure). The
/// message is complete: what failed, where, and (after `\n  hint: `) what to do.
#[derive(Debug)]
pub struct Fatal(pub String);

impl std::fmt::Display for Fatal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Fatal {}

/// The day exceptions are judged against: `IMAGEGATE_TODAY` (`YYYY-MM-DD`, for reproducible
/// runs and tests) or the local date.
pub fn today() -> Result<chrono::NaiveDate, Fatal> {
    match std::env::var("IMAGEGATE_TODAY") {
        Ok(s) if !s.is_empty() => chrono::NaiveDate::parse_from_str(&s, "%Y-%m-%d")
            .map_err(|e| Fatal(format!("IMAGEGATE_TODAY={s}: {e} (expected YYYY-MM-DD)"))),
        _ => Ok(chrono::Local::now().date_naive()),
    }
}
