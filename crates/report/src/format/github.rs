//! `--format github`: GitHub Actions workflow commands, one annotation per failing finding.
//!
//! Each non-excepted finding becomes `::error file=F,line=L,col=C,endColumn=E,title=T::message`
//! (or `::warning`), pointing at the values line to change when known, else the template line
//! (helm's error, an image the template hard-codes), else the template's repository path, else
//! the chart's `Chart.yaml`.
//!
//! GitHub shows at most 10 error, 10 warning and 10 notice annotations per step, and 50 per
//! job; the rest are dropped in the order they were printed
//! (<https://github.com/actions/toolkit/blob/main/docs/problem-matchers.md#limitations>, which
//! states the limits for every annotation a step makes). So the annotations go most important
//! first (errors, then warnings; within a level by the rule's `security-severity`, then file and
//! line), at most [`MAX_PER_LEVEL`] of each level are printed, and when any finding is left out
//! one closing `::notice` says how many and points at the job summary and the full reports.
//!
//! Escaping follows the runner's rules: in the message `%`, `\r` and `\n` are percent-encoded,
//! and in properties `:` and `,` are too. Since no newline survives the escaping,
//! chart-controlled text cannot start a workflow command of its own; other control characters
//! are made visible because the Actions log renders ANSI escapes.

use std::cmp::Reverse;
use std::io::Write;

use super::{RenderError, Renderer};
use crate::model::{Report, ReportFinding, Severity, RENDER_FAILED};
use crate::rules::RuleMeta;
use crate::sanitize::{block, one_line};

/// The most annotations of one level (error, warning) GitHub shows per step.
pub const MAX_PER_LEVEL: usize = 10;

/// Writes GitHub Actions annotations.
#[derive(Debug, Clone, Copy, Default)]
pub struct GithubRenderer<'a> {
    /// Where the report's paths sit in the checkout (see [`super::FormatOptions::path_prefix`]).
    pub path_prefix: &'a str,
    /// Rule documentation: a rule's `security-severity` orders the annotations of one level.
    pub rules: &'a [RuleMeta],
}

impl Renderer for GithubRenderer<'_> {
    fn render(&self, report: &Report, out: &mut dyn Write) -> Result<(), RenderError> {
        let mut findings: Vec<(&ReportFinding, Option<super::Place>)> = report
            .findings
            .iter()
            .filter(|f| !f.excepted)
            .map(|f| (f, super::where_to_fix(f)))
            .collect();
        // Stable: findings that tie keep the report's order.
        findings.sort_by_cached_key(|(f, place)| {
            (
                f.severity,
                Reverse(self.security_severity(&f.rule)),
                place.as_ref().map(|p| (p.file.clone(), p.line, p.column)),
            )
        });
        let mut shown = [0usize; 2];
        let mut left_out = [0usize; 2];
        for (f, place) in &findings {
            let (level, command) = match f.severity {
                Severity::Error => (0, "error"),
                Severity::Warning => (1, "warning"),
            };
            if shown[level] == MAX_PER_LEVEL {
                left_out[level] += 1;
                continue;
            }
            shown[level] += 1;
            let mut properties = Vec::new();
            if let Some(place) = place {
                let file = super::from_checkout_root(self.path_prefix, &place.file);
                properties.push(format!("file={}", escape_property(&one_line(&file))));
                if let Some(line) = place.line {
                    properties.push(format!("line={line}"));
                }
                if let Some(col) = place.column {
                    properties.push(format!("col={col}"));
                }
                if let Some(end) = place.end_column {
                    properties.push(format!("endColumn={end}"));
                }
            }
            let title = format!("imagegate {} in {}/{}", f.rule, f.environment, f.app);
            properties.push(format!("title={}", escape_property(&one_line(&title))));
            writeln!(
                out,
                "::{command} {}::{}",
                properties.join(","),
                escape_data(&message(report, f))
            )?;
        }
        if left_out.iter().any(|n| *n > 0) {
            writeln!(
                out,
                "::notice title=imagegate::{}",
                left_out_notice(left_out)
            )?;
        }
        Ok(())
    }
}

impl GithubRenderer<'_> {
    /// The rule's `security-severity` in tenths (0 for a rule without one).
    fn security_severity(&self, rule: &str) -> u32 {
        self.rules
            .iter()
            .find(|r| r.id == rule)
            .and_then(|r| r.security_severity.as_deref())
            .and_then(|s| s.parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map_or(0, |s| (s * 10.0).round() as u32)
    }
}

/// The closing notice: how many findings of each level were not annotated, and where they are.
fn left_out_notice([errors, warnings]: [usize; 2]) -> String {
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    let what = match (errors, warnings) {
        (e, 0) => plural(e, "error"),
        (0, w) => plural(w, "warning"),
        (e, w) => format!("{} and {}", plural(e, "error"), plural(w, "warning")),
    };
    format!(
        "{what} not annotated: GitHub shows at most {MAX_PER_LEVEL} error and {MAX_PER_LEVEL} \
         warning annotations per step, so only the most severe are annotated. See the job \
         summary (the markdown report written to $GITHUB_STEP_SUMMARY) or the JSON report for \
         every finding."
    )
}

/// The message, then one line of context (object, container, image, where the value comes
/// from), then helm's error for a failed render.
fn message(report: &Report, f: &ReportFinding) -> String {
    let mut text = one_line(&f.message).into_owned();
    let mut context = Vec::new();
    if let Some(object) = &f.object {
        context.push(format!("object {object}"));
    }
    if let Some(container) = &f.container {
        context.push(format!("container {container}"));
    }
    if let Some(image) = &f.image {
        context.push(format!("image {image}"));
    }
    match (&f.origin, f.template_place(), &f.template) {
        (None, Some(at), _) => context.push(format!("at {}", at.describe())),
        (None, None, Some(template)) => context.push(format!("template {template}")),
        _ => {}
    }
    if let (None, Some(note)) = (&f.origin, &f.origin_note) {
        context.push(note.clone());
    }
    if !context.is_empty() {
        text.push('\n');
        text.push_str(&one_line(&context.join(", ")));
    }
    if f.rule == RENDER_FAILED {
        if let Some(error) = report.cell_of(f).and_then(|c| c.error.as_deref()) {
            text.push_str("\nhelm: ");
            text.push_str(&block(error.trim()));
        }
    }
    text
}

/// A workflow command's message: `%`, `\r`, `\n` percent-encoded.
pub(crate) fn escape_data(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '%' => out.push_str("%25"),
            '\r' => out.push_str("%0D"),
            '\n' => out.push_str("%0A"),
            c => out.push(c),
        }
    }
    out
}

/// A workflow command's property value: as [`escape_data`], plus `:` and `,` (which
/// `escape_data` never produces, so encoding them afterwards is safe).
pub(crate) fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_escaping() {
        assert_eq!(escape_data("100% a:b,c\r\nd"), "100%25 a:b,c%0D%0Ad");
        // `%` first, so an already-encoded sequence stays literal.
        assert_eq!(escape_data("%0A"), "%250A");
    }

    #[test]
    fn property_escaping() {
        assert_eq!(escape_property("a:b,c%d\ne\rf"), "a%3Ab%2Cc%25d%0Ae%0Df");
        assert_eq!(escape_property("plain/path.yaml"), "plain/path.yaml");
    }

    #[test]
    fn injected_workflow_command_stays_on_its_line() {
        let f = ReportFinding::new(
            "mutable-tag",
            Severity::Error,
            "bad\n::set-output name=x::y\r\n::error::fake",
            "dev",
            "dev-api",
            "charts/api",
        );
        let report = Report::new(crate::Generator::new("imagegate", "0"), vec![f], vec![]);
        let out = crate::render_to_string(&GithubRenderer::default(), &report).unwrap_or_default();
        assert_eq!(out.lines().count(), 1, "{out}");
        assert!(out.starts_with(
            "::error file=charts/api/Chart.yaml,title=imagegate mutable-tag in dev/dev-api::"
        ));
    }
}
