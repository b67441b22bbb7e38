//! The output formats: one file each, all behind the [`Renderer`] interface.

use std::fmt;
use std::io::{self, Write};
use std::str::FromStr;

use sha2::{Digest, Sha256};

use crate::model::{Report, ReportFinding};
use crate::rules::RuleMeta;

pub mod github;
pub mod gitlab;
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
    /// GitLab Code Quality JSON (`artifacts:reports:codequality`).
    Gitlab,
}

impl Format {
    /// Every format, in the order of the documentation.
    pub const ALL: [Format; 7] = [
        Self::Text,
        Self::Json,
        Self::Sarif,
        Self::Junit,
        Self::Github,
        Self::Markdown,
        Self::Gitlab,
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
            Self::Gitlab => "gitlab",
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
                rules: options.rules,
            }),
            Self::Markdown => Box::new(markdown::MarkdownRenderer::default()),
            Self::Gitlab => Box::new(gitlab::GitlabRenderer {
                rules: options.rules,
                path_prefix: options.path_prefix,
            }),
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
#[error("unknown format `{0}`: expected one of text, json, sarif, junit, github, markdown, gitlab")]
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

/// Every format name any command knows (reports, diffs, inventories), for suggestions.
pub const FORMAT_NAMES: [&str; 8] = [
    "text", "json", "sarif", "junit", "github", "markdown", "gitlab", "csv",
];

/// The format a file's extension names, if any (`.sarif`, `.json`, `.xml` for JUnit, `.md`,
/// `.txt`, `.csv`; case-insensitive).
pub fn format_of_extension(path: &str) -> Option<&'static str> {
    let lower = path.to_ascii_lowercase();
    [
        (".sarif.json", "sarif"),
        (".sarif", "sarif"),
        (".json", "json"),
        (".xml", "junit"),
        (".md", "markdown"),
        (".markdown", "markdown"),
        (".txt", "text"),
        (".csv", "csv"),
    ]
    .into_iter()
    .find(|(ext, _)| lower.ends_with(ext))
    .map(|(_, f)| f)
}

/// The usual extension of a format's files.
pub fn extension_of(format: &str) -> &'static str {
    match format.to_ascii_lowercase().as_str() {
        "sarif" => "sarif",
        "json" => "json",
        "junit" => "xml",
        "markdown" => "md",
        "csv" => "csv",
        _ => "txt",
    }
}

/// Everything some format needs besides the report.
#[derive(Debug, Clone, Copy, Default)]
pub struct FormatOptions<'a> {
    /// Colour and verbosity of the text format.
    pub text: text::TextOptions,
    /// Rule documentation, for the formats that describe rules (SARIF) or rank them (GitLab).
    pub rules: &'a [RuleMeta],
    /// Where the report's repository-relative paths sit inside the checkout (`gitops` for a
    /// configuration in `gitops/imagegate.yaml`; empty at the root). SARIF, GitHub annotations
    /// and GitLab Code Quality put it in front of every path, since they resolve paths from the
    /// checkout's root.
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

/// Where to fix a finding, in a repository file: its path, and its line and columns when known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Place {
    /// Repository-relative path.
    pub file: String,
    /// 1-based line.
    pub line: Option<u32>,
    /// 1-based start column on `line`.
    pub column: Option<u32>,
    /// 1-based column just past the end, on `line`.
    pub end_column: Option<u32>,
}

/// Where to fix a finding: the values line, else the template line (helm's error, a hard-coded
/// image), else the template file (no line), else the chart's `Chart.yaml` (no line); `None`
/// for a finding about no file. A template inside a vendored `.tgz` is the archive, no line.
pub(crate) fn where_to_fix(f: &ReportFinding) -> Option<Place> {
    let place = |file: String, line: Option<u32>| Place {
        file,
        line,
        column: None,
        end_column: None,
    };
    match (&f.origin, &f.template_location, &f.template_path_in_repo) {
        (Some(origin), _, _) => Some(place(origin.file.clone(), Some(origin.line.max(1)))),
        (None, Some(at), _) => match at.checkout_file() {
            (archive, true) => Some(place(archive.to_owned(), None)),
            (file, false) => Some(Place {
                file: file.to_owned(),
                line: at.line.map(|l| l.max(1)),
                column: at.line.and(at.column),
                end_column: at.line.and(at.column).and(at.end_column),
            }),
        },
        (None, None, Some(template)) => Some(place(template.clone(), None)),
        (None, None, None) if !f.chart.is_empty() => Some(place(
            format!("{}/Chart.yaml", f.chart.trim_end_matches('/')),
            None,
        )),
        (None, None, None) => None,
    }
}

/// A stable identity of what the finding is about, independent of its line and message, so a
/// value moving inside a file does not make code scanning see a new alert.
pub(crate) fn fingerprint(f: &ReportFinding) -> String {
    let object = f.object.as_ref();
    let mut parts = vec![
        f.environment.as_str(),
        f.app.as_str(),
        object.map_or("", |o| o.kind.as_str()),
        object.and_then(|o| o.namespace.as_deref()).unwrap_or(""),
        object.map_or("", |o| o.name.as_str()),
        f.container.as_deref().unwrap_or(""),
        f.field.as_deref().unwrap_or(""),
        f.rule.as_str(),
    ];
    // A finding with no object is about a file of the repository (two unused values files are
    // two alerts): its file tells it apart. Object findings keep the fingerprints they had.
    if object.is_none() {
        if let Some(origin) = &f.origin {
            parts.push(origin.file.as_str());
        }
    }
    let mut hasher = Sha256::new();
    for part in parts {
        // Length-prefixed, so no choice of field contents can make two tuples hash alike.
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part.as_bytes());
    }
    hex::encode(hasher.finalize())
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
            .contains("text, json, sarif, junit, github, markdown, gitlab"));
    }

    #[test]
    fn a_format_s_usual_extension_names_it_again() {
        for name in ["sarif", "json", "junit", "markdown", "csv", "text"] {
            let file = format!("out/Report.{}", extension_of(name).to_uppercase());
            assert_eq!(format_of_extension(&file), Some(name), "{file}");
        }
        assert_eq!(format_of_extension("x.sarif.json"), Some("sarif"));
        assert_eq!(format_of_extension("Makefile"), None);
        for f in Format::ALL {
            assert!(FORMAT_NAMES.contains(&f.name()), "{}", f.name());
        }
    }
}
