//! `--format markdown`: for a pull-request comment or `$GITHUB_STEP_SUMMARY`.
//!
//! A heading with the verdict, a table of counts per environment, the fix list (its headline
//! and a table of the edits that clear the most findings), the table of failing findings
//! (rule, message, environment, app, object, container, image, where to fix), each failed cell
//! with helm's error in a collapsible `<details>`, and the excepted findings collapsed too.
//!
//! Every chart-controlled string is escaped for where it lands: table cells escape Markdown
//! punctuation, `|`, HTML and `@` (so a chart cannot ping people or inject markup); code spans
//! and fenced blocks are chosen so no backtick in the text can close them. Long reports are cut
//! to stay within GitHub's comment size (65,536 characters).

use std::io::Write;

use super::{RenderError, Renderer};
use crate::model::{CellStatus, EnvironmentCounts, Report, ReportFinding, Severity};
use crate::sanitize::{block, one_line};

/// The most bytes a comment may have: GitHub rejects comments over 65,536 characters, and a
/// character is at least a byte, so a comment of at most this many bytes always fits (with room
/// for what a workflow adds around it).
pub const MAX_COMMENT_BYTES: usize = 60_000;

/// Writes the Markdown summary.
#[derive(Debug, Clone, Copy)]
pub struct MarkdownRenderer {
    max_rows: usize,
    max_error_chars: usize,
    max_failed_cells: usize,
    max_message_chars: usize,
}

impl Default for MarkdownRenderer {
    /// At most 100 findings per table, 4,000 characters of each helm error, 20 failed cells and
    /// 500 characters of each message; whatever the report holds, the output is cut further
    /// until it fits [`MAX_COMMENT_BYTES`].
    fn default() -> Self {
        Self {
            max_rows: 100,
            max_error_chars: 4000,
            max_failed_cells: 20,
            max_message_chars: 500,
        }
    }
}

impl MarkdownRenderer {
    /// A renderer that lists at most `max_rows` findings per table and `max_error_chars`
    /// characters of each helm error.
    pub fn new(max_rows: usize, max_error_chars: usize) -> Self {
        Self {
            max_rows,
            max_error_chars,
            ..Self::default()
        }
    }

    /// The same renderer with every bound halved (at least 1), for a report that did not fit.
    fn tighter(self) -> Self {
        Self {
            max_rows: (self.max_rows / 2).max(1),
            max_error_chars: (self.max_error_chars / 2).max(1),
            max_failed_cells: (self.max_failed_cells / 2).max(1),
            max_message_chars: (self.max_message_chars / 2).max(1),
        }
    }
}

impl Renderer for MarkdownRenderer {
    /// Renders, then renders again with tighter bounds until the comment fits
    /// [`MAX_COMMENT_BYTES`]; when even the tightest does not (thousands of environments), only
    /// the verdict and a pointer to the full report are written.
    fn render(&self, report: &Report, out: &mut dyn Write) -> Result<(), RenderError> {
        let mut r = *self;
        for _ in 0..8 {
            let mut buf = Vec::new();
            r.render_once(report, &mut buf)?;
            if buf.len() <= MAX_COMMENT_BYTES {
                out.write_all(&buf)?;
                return Ok(());
            }
            r = r.tighter();
        }
        let failed = report.exit_code(false) != 0;
        writeln!(
            out,
            "## {} imagegate {}\n\n{}\n\nThe full summary is larger than a pull-request comment can hold; the job's text, JSON and SARIF reports have every finding.",
            if failed { "❌" } else { "✅" },
            if failed { "failed" } else { "passed" },
            headline(&report.total_counts())
        )?;
        if let Some(fixes) = super::text::fix_headline(report) {
            writeln!(out, "\n**{}**", text(&fixes))?;
        }
        Ok(())
    }
}

impl MarkdownRenderer {
    fn render_once(&self, report: &Report, out: &mut dyn Write) -> Result<(), RenderError> {
        let total = report.total_counts();
        let failed = report.exit_code(false) != 0;
        let (icon, verdict) = if failed {
            ("❌", "failed")
        } else {
            ("✅", "passed")
        };
        writeln!(out, "## {icon} imagegate {verdict}")?;
        writeln!(out)?;
        writeln!(out, "{}", headline(&total))?;
        writeln!(out)?;

        writeln!(
            out,
            "| Environment | Cells | Failed | Errors | Warnings | Excepted |"
        )?;
        writeln!(out, "|---|--:|--:|--:|--:|--:|")?;
        for c in report.environment_counts() {
            let name = if c.environment.is_empty() {
                "(repository)".to_owned()
            } else {
                text(&c.environment)
            };
            writeln!(out, "{}", counts_row(&name, &c))?;
        }
        writeln!(out, "{}", counts_row("**Total**", &total))?;
        writeln!(out)?;
        if !report.not_judged.is_empty() {
            writeln!(out, "### Not judged")?;
            writeln!(out)?;
            for app in &report.not_judged {
                writeln!(out, "- {}", text(&app.sentence()))?;
            }
            writeln!(out)?;
        }

        self.fix_list(report, out)?;

        let active: Vec<&ReportFinding> = report.findings.iter().filter(|f| !f.excepted).collect();
        if !active.is_empty() {
            writeln!(out, "### Findings")?;
            writeln!(out)?;
            self.findings_table(&active, out)?;
        }

        let failed_cells: Vec<_> = report
            .cells
            .iter()
            .filter(|c| c.status == CellStatus::Failed)
            .collect();
        if !failed_cells.is_empty() {
            writeln!(out, "### Cells that failed to render")?;
            writeln!(out)?;
            let more = failed_cells.len().saturating_sub(self.max_failed_cells);
            for cell in failed_cells.into_iter().take(self.max_failed_cells) {
                writeln!(
                    out,
                    "<details><summary>{} / {} ({})</summary>",
                    html(&cell.environment),
                    html(&cell.app),
                    html(&cell.chart)
                )?;
                writeln!(out)?;
                let error = cell
                    .error
                    .as_deref()
                    .unwrap_or("helm failed without a message");
                writeln!(out, "{}", fenced(&self.truncate(error.trim())))?;
                writeln!(out)?;
                writeln!(out, "</details>")?;
                writeln!(out)?;
            }
            if more > 0 {
                writeln!(
                    out,
                    "…and {more} more; the full list is in the job's text or JSON report."
                )?;
                writeln!(out)?;
            }
        }

        let excepted: Vec<&ReportFinding> = report.findings.iter().filter(|f| f.excepted).collect();
        if !excepted.is_empty() {
            let n = excepted.len();
            let plural = if n == 1 { "" } else { "s" };
            writeln!(
                out,
                "<details><summary>{n} excepted finding{plural}</summary>"
            )?;
            writeln!(out)?;
            self.findings_table(&excepted, out)?;
            writeln!(out, "</details>")?;
            writeln!(out)?;
        }
        Ok(())
    }
}

/// The fix list section of `report` with at most `max_rows / 5` edits, for another markdown
/// document (the diff's comment).
pub(crate) fn write_fix_list(
    report: &Report,
    max_rows: usize,
    out: &mut dyn Write,
) -> Result<(), RenderError> {
    MarkdownRenderer::new(max_rows, 0).fix_list(report, out)
}

impl MarkdownRenderer {
    /// The fix list: its headline, then a table of the edits clearing the most findings (a
    /// fifth of the findings table's rows), each with at most three of the findings it clears.
    fn fix_list(&self, report: &Report, out: &mut dyn Write) -> Result<(), RenderError> {
        let Some(headline) = super::text::fix_headline(report) else {
            return Ok(());
        };
        writeln!(out, "### Fix list")?;
        writeln!(out)?;
        writeln!(out, "**{}**", text(&headline))?;
        writeln!(out)?;
        if report.fixes.is_empty() {
            return Ok(());
        }
        let max = (self.max_rows / 5).max(1);
        writeln!(out, "| Edit | Value | What to do | Clears |")?;
        writeln!(out, "|---|---|---|---|")?;
        for fix in report.fixes.iter().take(max) {
            let value = match fix.value.as_deref() {
                Some("") => "(empty)".to_owned(),
                Some(v) => code(&clip(v, self.max_message_chars)),
                None => String::new(),
            };
            let actions: Vec<String> = fix
                .actions
                .iter()
                .map(|a| rich(&clip(a, self.max_message_chars)))
                .collect();
            let n = fix.findings.len();
            let mut clears = vec![format!("{n} finding{}", if n == 1 { "" } else { "s" })];
            clears.extend(fix.findings.iter().take(3).map(|f| {
                let mut c = code(&f.rule);
                if !f.environment.is_empty() || !f.app.is_empty() {
                    c.push_str(&format!(" {}/{}", text(&f.environment), text(&f.app)));
                }
                if let Some(object) = &f.object {
                    c.push_str(&format!(" {}", code(&object.to_string())));
                }
                c
            }));
            if n > 3 {
                clears.push(format!("… and {} more", n - 3));
            }
            let cells = [
                code(&format!("{}:{}", fix.file, fix.line)),
                value,
                actions.join("<br>"),
                clears.join("<br>"),
            ];
            writeln!(out, "| {} |", cells.join(" | "))?;
        }
        if report.fixes.len() > max {
            writeln!(out)?;
            writeln!(
                out,
                "…and {} more edits; the JSON report's `fixes` lists them all.",
                report.fixes.len() - max
            )?;
        }
        writeln!(out)?;
        Ok(())
    }

    fn findings_table(
        &self,
        findings: &[&ReportFinding],
        out: &mut dyn Write,
    ) -> Result<(), RenderError> {
        writeln!(
            out,
            "| Rule | Message | Env | App | Object | Container | Image | Where to fix |"
        )?;
        writeln!(out, "|---|---|---|---|---|---|---|---|")?;
        for f in findings.iter().take(self.max_rows) {
            let icon = match f.severity {
                Severity::Error => "❌",
                Severity::Warning => "⚠️",
            };
            let cells = [
                format!("{icon} {}", code(&f.rule)),
                rich(&clip(&f.message, self.max_message_chars)),
                text(&f.environment),
                text(&f.app),
                f.object
                    .as_ref()
                    .map(|o| code(&o.to_string()))
                    .unwrap_or_default(),
                f.container.as_deref().map(code).unwrap_or_default(),
                f.image.as_deref().map(code).unwrap_or_default(),
                where_to_fix(f),
            ];
            writeln!(out, "| {} |", cells.join(" | "))?;
        }
        if findings.len() > self.max_rows {
            writeln!(out)?;
            writeln!(
                out,
                "…and {} more; the full list is in the job's text or JSON report.",
                findings.len() - self.max_rows
            )?;
        }
        writeln!(out)?;
        Ok(())
    }

    /// At most `max_error_chars` characters, cut at a character boundary with a marker.
    fn truncate(&self, error: &str) -> String {
        match error.char_indices().nth(self.max_error_chars) {
            Some((cut, _)) => format!("{}\n… (cut)", &error[..cut]),
            None => error.to_owned(),
        }
    }
}

/// At most `max` characters of `s`, with `…` when cut.
pub(crate) fn clip(s: &str, max: usize) -> std::borrow::Cow<'_, str> {
    match s.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &s[..cut]).into(),
        None => s.into(),
    }
}

fn headline(t: &EnvironmentCounts) -> String {
    let plural = |n: u64, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    let mut line = format!(
        "{}, {} and {} excepted in {}",
        plural(t.errors, "error"),
        plural(t.warnings, "warning"),
        t.excepted,
        plural(t.cells, "cell")
    );
    if t.failed > 0 {
        line.push_str(&format!("; {} failed to render", t.failed));
    }
    line.push('.');
    line
}

fn counts_row(name: &str, c: &EnvironmentCounts) -> String {
    format!(
        "| {name} | {} | {} | {} | {} | {} |",
        c.cells, c.failed, c.errors, c.warnings, c.excepted
    )
}

/// The values line to change, else the origin note and template.
fn where_to_fix(f: &ReportFinding) -> String {
    let mut parts = Vec::new();
    if let Some(origin) = &f.origin {
        parts.push(code(&origin.to_string()));
    }
    if let Some(note) = &f.origin_note {
        parts.push(text(note));
    }
    let of_parts: Vec<String> = f
        .parts
        .iter()
        .map(|(name, origin)| format!("{name} {}", code(&origin.to_string())))
        .collect();
    if !of_parts.is_empty() {
        parts.push(format!("parts: {}", of_parts.join(", ")));
    }
    if f.origin.is_none() {
        match (f.template_place(), &f.template) {
            (Some(at), _) => parts.push(format!("at {}", text(&at.describe()))),
            (None, Some(template)) => parts.push(format!("template {}", code(template))),
            (None, None) => {}
        }
    }
    if parts.is_empty() && !f.chart.is_empty() {
        parts.push(format!("chart {}", code(&f.chart)));
    }
    parts.join("<br>")
}

/// User text in a table cell: controls made visible, Markdown punctuation and `|` escaped,
/// HTML neutralized, `@` kept from mentioning anyone. Every markdown imagegate writes (reports,
/// PR comments, the audit summary's trend tables) puts untrusted text through this.
pub fn text(s: &str) -> String {
    let s = one_line(s);
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '|' | '~' | '#' | '!' | '$' => {
                out.push('\\');
                out.push(c);
            }
            c => push_html(c, &mut out),
        }
    }
    out
}

/// A message whose `` `quoted` `` parts become code spans (as policy messages quote images and
/// values), the rest escaped as [`text`]. With an odd number of backticks nothing is quoted.
fn rich(s: &str) -> String {
    let s = one_line(s);
    let parts: Vec<&str> = s.split('`').collect();
    if parts.len() % 2 == 0 {
        return text(&s);
    }
    parts
        .iter()
        .enumerate()
        .map(|(i, part)| {
            if i % 2 == 1 && !part.is_empty() {
                code(part)
            } else {
                text(part)
            }
        })
        .collect()
}

/// User text as an inline code span in a table cell (literal, no mentions, no HTML), or as
/// escaped text when a backtick or `\|` in it could break the span or the table.
fn code(s: &str) -> String {
    let s = one_line(s);
    // A backslash before a `|` would escape the backslash instead of the pipe when the table
    // row is split, so such text is escaped as plain text instead.
    if s.is_empty() || s.contains('`') || s.contains("\\|") {
        return text(&s);
    }
    // Inside a table, `|` must be escaped even in a code span; GitHub shows it unescaped.
    format!("`{}`", s.replace('|', "\\|"))
}

/// User text in a Markdown-free HTML context (a `<summary>`).
pub(crate) fn html(s: &str) -> String {
    let s = one_line(s);
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        push_html(c, &mut out);
    }
    out
}

/// One character of user text, HTML-neutralized: entities for `&`, `<`, `>`, `"`, and a
/// zero-width space after `@` so GitHub reads no mention.
fn push_html(c: char, out: &mut String) {
    match c {
        '&' => out.push_str("&amp;"),
        '<' => out.push_str("&lt;"),
        '>' => out.push_str("&gt;"),
        '"' => out.push_str("&quot;"),
        '@' => out.push_str("@&#8203;"),
        c => out.push(c),
    }
}

/// A fenced code block in language `lang` holding `s` literally: the fence is longer than any
/// backtick run in it.
pub(crate) fn fenced_as(s: &str, lang: &str) -> String {
    let s = block(s);
    let longest = s.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest.max(2) + 1);
    format!("{fence}{lang}\n{s}\n{fence}")
}

fn fenced(s: &str) -> String {
    fenced_as(s, "text")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_text_is_inert() {
        assert_eq!(text("a|b"), "a\\|b");
        assert_eq!(text("<img src=x onerror=y>"), "&lt;img src=x onerror=y&gt;");
        assert_eq!(text("ping @org/team"), "ping @&#8203;org/team");
        assert_eq!(
            text("[x](javascript:1) **b**"),
            "\\[x\\](javascript:1) \\*\\*b\\*\\*"
        );
        assert_eq!(text("line\nbreak"), "line\\\\nbreak");
    }

    #[test]
    fn quoted_parts_of_messages_become_code() {
        assert_eq!(rich("image `a|b` is <bad>"), "image `a\\|b` is &lt;bad&gt;");
        assert_eq!(rich("odd ` count `x`"), "odd \\` count \\`x\\`");
        assert_eq!(rich("empty `` quote"), "empty  quote");
    }

    #[test]
    fn code_spans_cannot_be_closed_early() {
        assert_eq!(code("nginx:1.27|x"), "`nginx:1.27\\|x`");
        assert_eq!(code("a`b"), "a\\`b");
        assert_eq!(code(""), "");
        assert_eq!(code("a\\|b"), "a\\\\\\|b");
        assert_eq!(code("a\\x|b"), "`a\\x\\|b`");
    }

    #[test]
    fn fences_outgrow_the_content() {
        assert_eq!(fenced("plain"), "```text\nplain\n```");
        assert_eq!(fenced("has ```` four"), "`````text\nhas ```` four\n`````");
    }

    #[test]
    fn summaries_escape_html() {
        assert_eq!(
            html("</summary><b>@x"),
            "&lt;/summary&gt;&lt;b&gt;@&#8203;x"
        );
    }

    #[test]
    fn truncation_respects_characters() {
        let r = MarkdownRenderer::new(1, 3);
        assert_eq!(r.truncate("ééééé"), "ééé\n… (cut)");
        assert_eq!(r.truncate("abc"), "abc");
    }
}
