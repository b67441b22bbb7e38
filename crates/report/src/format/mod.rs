//! The output formats: one file each, all behind the [`Renderer`] interface.

use std::fmt;
use std::io::{self, Write};
use std::str::FromStr;

use crate::model::Report;
use crate::rules::RuleMeta;

pub mod github;
pub mod json;
pub mod junit;
pub mod markdown;
pub mod sarif;
pub mod text;

/// Why a report could not be written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RenderError {
    /// The writer failed.
    #[error("cannot write the report: {0}")]
    Io(#[from] io::Error),
    /// JSON serialization failed.
    #[error("cannot serialize the report as JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// JUnit XML serialization failed.
    #[error("cannot serialize the report as JUnit XML: {0}")]
    Junit(#[from] quick_junit::SerializeError),
    /// A renderer produced text that is not UTF-8 (only [`render_to_string`] checks).
    #[error("the report is not valid UTF-8: {0}")]
    Utf8(#[from] std::string::FromUtf8Error),
}

/// One output format: writes a whole report.
pub trait Renderer {
    /// Writes `report` to `out`. Never prints anywhere else.
    fn render(&self, report: &Report, out: &mut dyn Write) -> Result<(), RenderError>;
}

/// `report` rendered by `renderer`, as a string.
pub fn render_to_string(renderer: &dyn Renderer, report: &Report) -> Result<String, RenderError> {
    let mut buf = Vec::new();
    renderer.render(report, &mut buf)?;
    Ok(String::from_utf8(buf)?)
}

/// The formats `--format` accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Format {
    /// Human-readable, for a terminal.
    Text,
    /// The `imagegate/report/v1` model.
    Json,
    /// SARIF 2.1.0, for GitHub code scanning.
    Sarif,
    /// JUnit XML, one test case per cell.
    Junit,
    /// GitHub Actions workflow commands (annotations).
    Github,
    /// Markdown, for a pull-request comment or the job summary.
    Markdown,
}

impl Format {
    /// Every format, in the order of the documentation.
    pub const ALL: [Format; 6] = [
        Self::Text,
        Self::Json,
        Self::Sarif,
        Self::Junit,
        Self::Github,
        Self::Markdown,
    ];

    /// The name `--format` takes.
    pub fn name(self) -> &'static str {
        match self {
            Self::Text => "text",
            Self::Json => "json",
            Self::Sarif => "sarif",
            Self::Junit => "junit",
            Self::Github => "github",
            Self::Markdown => "markdown",
        }
    }

    /// The renderer of this format, set up from `options`.
    pub fn renderer<'a>(self, options: &FormatOptions<'a>) -> Box<dyn Renderer + 'a> {
        match self {
            Self::Text => Box::new(text::TextRenderer::new(options.text)),
            Self::Json => Box::new(json::JsonRenderer),
            Self::Sarif => Box::new(
                sarif::SarifRenderer::new(options.rules).with_path_prefix(options.path_prefix),
            ),
            Self::Junit => Box::new(junit::JunitRenderer),
            Self::Github => Box::new(github::GithubRenderer {
                path_prefix: options.path_prefix,
            }),
            Self::Markdown => Box::new(markdown::MarkdownRenderer::default()),
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A `--format` value that names no format.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown format `{0}`: expected one of text, json, sarif, junit, github, markdown")]
pub struct ParseFormatError(pub String);

impl FromStr for Format {
    type Err = ParseFormatError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|f| f.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| ParseFormatError(s.to_owned()))
    }
}

/// Everything some format needs besides the report.
#[derive(Debug, Clone, Copy, Default)]
pub struct FormatOptions<'a> {
    /// Colour and verbosity of the text format.
    pub text: text::TextOptions,
    /// Rule documentation, for the formats that describe rules (SARIF).
    pub rules: &'a [RuleMeta],
    /// Where the report's repository-relative paths sit inside the checkout (`gitops` for a
    /// configuration in `gitops/imagegate.yaml`; empty at the root). SARIF and GitHub
    /// annotations put it in front of every path, since code scanning and annotations resolve
    /// paths from the checkout's root.
    pub path_prefix: &'a str,
}

/// `path` as seen from the checkout's root: `prefix/path` (an absolute path, or an empty
/// prefix, leaves it as it is).
pub(crate) fn from_checkout_root(prefix: &str, path: &str) -> String {
    let prefix = prefix.trim_matches('/');
    let path = path.trim_start_matches("./");
    if prefix.is_empty() || path.starts_with('/') {
        path.to_string()
    } else {
        format!("{prefix}/{path}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_format_round_trips_through_its_name() {
        for format in Format::ALL {
            assert_eq!(format.name().parse::<Format>(), Ok(format));
            assert_eq!(format.to_string(), format.name());
        }
        assert_eq!("SARIF".parse::<Format>(), Ok(Format::Sarif));
    }

    #[test]
    fn unknown_format_is_an_error_that_lists_the_choices() {
        let err = "xml".parse::<Format>().unwrap_err();
        assert!(err
            .to_string()
            .contains("text, json, sarif, junit, github, markdown"));
    }
}
