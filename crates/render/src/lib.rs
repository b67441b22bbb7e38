//! The render engine: runs `helm template` for every cell of the matrix.
//!
//! - Cells render in parallel on a bounded pool of worker threads; each result is handed to a
//!   callback on the worker that produced it, so decoding and judging overlap with other renders
//!   and no rendered output outlives its cell.
//! - Every helm runs in its own process group with a private `HELM_*_HOME`, plugins disabled and
//!   a scrubbed environment; stdout and stderr are read while it runs (a full pipe never blocks
//!   it), both bounded in size; on timeout the whole group gets SIGTERM, then SIGKILL.
//! - A cell that cannot render is a [`RenderFailure`] carrying helm's own message, never a skip.
//! - Renders can go through a content-addressed [`RenderCache`] outside the repository
//!   ([`render_all_cached`], keys from [`cell_keys`]); a chart whose templates can render
//!   differently from the same files (the clock, randomness, `tpl`) is never cached.

#![warn(clippy::print_stdout, clippy::print_stderr)]

mod cache;
mod chart;
mod gotemplate;
mod helm;
mod helm_error;
mod pool;
mod process;
mod run;
mod scratch;
mod spawn;
mod template_file;
pub mod volatile;

pub use cache::{
    cell_keys, chart_digest, CacheError, CacheKey, RenderCache, TrimStats, CACHE_FORMAT,
    DEFAULT_MAX_BYTES,
};
pub use chart::chart_mentions;
pub use gotemplate::HelmGoTemplates;
pub use helm::{Helm, HelmError};
pub use helm_error::{error_site, ErrorSite};
pub use process::{
    install_interrupt_handler, private_temp_dir, remove_stale_temp_dirs, run_bounded, settle,
    Bounds, Output, PrivateDir, ProcessError,
};
pub use run::{
    helm_args, render_all, render_all_cached, template_in_repo, CacheUse, Exceeded, Provenance,
    RenderFailure, RenderOptions, Rendered, HELM_MESSAGES_LOCALE,
};
pub use scratch::ScratchChart;
pub use template_file::{read_template, TemplateFile};
pub use volatile::{volatile_call, VOLATILE_FUNCTIONS};
