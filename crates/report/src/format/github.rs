//! `--format github`: GitHub Actions workflow commands, one annotation per failing finding.
//!
//! Each non-excepted finding becomes `::error file=F,line=L,title=T::message` (or `::warning`),
//! pointing at the values line to change when known, else the template's repository path, else
//! the chart's `Chart.yaml`. Escaping follows the runner's rules: in the message `%`, `\r` and
//! `\n` are percent-encoded, and in properties `:` and `,` are too. Since no newline survives
//! the escaping, chart-controlled text cannot start a workflow command of its own; other
//! control characters are made visible because the Actions log renders ANSI escapes.

use std::io::Write;

use super::{RenderError, Renderer};
use crate::model::{Report, ReportFinding, Severity, RENDER_FAILED};
use crate::sanitize::{block, one_line};

/// Writes GitHub Actions annotations.
#[derive(Debug, Clone, Copy, Default)]
pub struct GithubRenderer<'a> {
    /// Where the report's paths sit in the checkout (see [`super::FormatOptions::path_prefix`]).
    pub path_prefix: &'a str,
}

impl Renderer for GithubRenderer<'_> {
    fn render(&self, report: &Report, out: &mut dyn Write) -> Result<(), RenderError> {
        for f in report.findings.iter().filter(|f| !f.excepted) {
            let command = match f.severity {
                Severity::Error => "error",
                Severity::Warning => "warning",
            };
            let mut properties = Vec::new();
            let (file, line) = super::where_to_fix(f).unzip();
            let line = line.flatten();
            if let Some(file) = file.map(|f| super::from_checkout_root(self.path_prefix, &f)) {
                properties.push(format!("file={}", escape_property(&one_line(&file))));
            }
            if let Some(line) = line {
                properties.push(format!("line={line}"));
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
        Ok(())
    }
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
    if let (None, Some(template)) = (&f.origin, &f.template) {
        context.push(format!("template {template}"));
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
