//! The imagegate report: the `imagegate/report/v1` model and every output format.
//!
//! The CLI builds a [`Report`] from the findings and cells of a run ([`Report::new`] sorts
//! everything and computes the summary), then hands it to one [`Renderer`] per requested
//! [`Format`]. Renderers never print: they write to a `&mut dyn std::io::Write` (or return a
//! `String` through [`render_to_string`]), so the CLI alone decides where output goes.
//!
//! ```
//! use imagegate_report::{
//!     render_to_string, CellReport, CellStatus, Format, FormatOptions, Generator, Report,
//!     ReportFinding, Severity,
//! };
//!
//! let cell = CellReport::new("dev", "dev-api", "charts/api", vec![], CellStatus::Rendered, 3, 1);
//! let finding = ReportFinding::new(
//!     "digest-required", Severity::Error, "pin the image by digest", "dev", "dev-api", "charts/api",
//! );
//! let report = Report::new(Generator::new("imagegate", "0.1.0"), vec![finding], vec![cell]);
//! assert_eq!(report.exit_code(false), 1);
//!
//! let format: Format = "github".parse().unwrap();
//! let out = render_to_string(&*format.renderer(&FormatOptions::default()), &report).unwrap();
//! assert!(out.starts_with("::error "));
//! ```

#![warn(clippy::print_stdout, clippy::print_stderr)]

mod color;
pub mod diff;
pub mod fixes;
pub mod format;
pub mod model;
pub mod progress;
mod rules;
mod sanitize;
pub mod shard;

pub use color::ColorChoice;
pub use fixes::{Fix, FixCounts, FixedFinding};
pub use format::github::GithubRenderer;
pub use format::gitlab::GitlabRenderer;
pub use format::json::{inert_string, JsonRenderer};
pub use format::junit::JunitRenderer;
pub use format::markdown::text as markdown_text;
pub use format::markdown::MarkdownRenderer;
pub use format::sarif::SarifRenderer;
pub use format::text::{TextOptions, TextRenderer};
pub use format::{
    render_to_string, Format, FormatOptions, ParseFormatError, RenderError, Renderer,
};
pub use model::{
    CellReport, CellStatus, EnvironmentCounts, ExceptionRef, Generator, NotJudgedApp, ObjectRef,
    Origin, Parts, Report, ReportFinding, Severity, Snippet, Summary, TemplateLocation, Verdict,
    RENDER_FAILED, SCHEMA,
};
pub use rules::RuleMeta;
pub use sanitize::{cut_at_line, terminal_block, terminal_line};
pub use shard::{FindingDetail, LineageSite, ShardRecord};
