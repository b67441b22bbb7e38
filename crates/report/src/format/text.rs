//! `--format text`: the human-readable report for a terminal.
//!
//! The fix list leads (its headline, then the edits clearing the most findings; see
//! [`crate::fixes`]). Findings follow, grouped by environment, then app. Each finding shows its
//! severity and rule, the message, the object, container, image and template, and where to fix
//! it: the values file and line with the line itself (and a few around it) underlined, or the
//! origin note when no values line explains the finding, and the line of each part of the
//! image. A summary table per environment closes the report.
//!
//! The snippet is drawn by a small renderer here rather than `annotate-snippets`: a finding is a
//! list of facts plus one underlined line, so the rustc-style layout machinery (multi-line
//! spans, folding, labels) would go unused, while its own styling would fight the requirement
//! that an excepted finding be dimmed as a whole. Keeping it here also keeps every piece of
//! chart-controlled text visibly passing through the control-character escaping.
//! Column alignment of the underline counts characters, so it can be off under wide (CJK)
//! characters; values files rarely hold them on the lines that matter.

use std::collections::BTreeMap;
use std::fmt::Display;
use std::io::Write;

use anstyle::{AnsiColor, Effects, Style};

use super::{RenderError, Renderer};
use crate::model::{
    CellReport, CellStatus, EnvironmentCounts, Report, ReportFinding, Severity, Snippet, Verdict,
    RENDER_FAILED,
};
use crate::sanitize::{block, one_line};

/// How the text format looks. The CLI decides (terminal or not, `NO_COLOR`, `--quiet`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TextOptions {
    /// Use ANSI colours and effects.
    pub color: bool,
    /// Nothing but what fails the run: one line per failing finding (an error, or a warning
    /// when warnings count as errors; a failed render with helm's first line). No snippets,
    /// no excepted findings, no table, no verdict line: the exit status is the verdict.
    pub quiet: bool,
}

/// Writes the human-readable report.
#[derive(Debug, Clone, Copy, Default)]
pub struct TextRenderer {
    options: TextOptions,
}

impl TextRenderer {
    /// A text renderer with `options`.
    pub fn new(options: TextOptions) -> Self {
        Self { options }
    }
}

impl Renderer for TextRenderer {
    fn render(&self, report: &Report, out: &mut dyn Write) -> Result<(), RenderError> {
        let palette = if self.options.color {
            Palette::colored()
        } else {
            Palette::plain()
        };
        if self.options.quiet {
            return write_quiet(report, &palette, out);
        }
        write_full(report, &palette, out)?;
        write_verdict(report, &palette, out)?;
        Ok(())
    }
}

/// The styles of the text format; all empty when colour is off.
#[derive(Debug, Clone, Copy)]
struct Palette {
    enabled: bool,
    error: Style,
    warning: Style,
    rule: Style,
    heading: Style,
    label: Style,
    gutter: Style,
    caret: Style,
    ok: Style,
}

impl Palette {
    fn plain() -> Self {
        let none = Style::new();
        Self {
            enabled: false,
            error: none,
            warning: none,
            rule: none,
            heading: none,
            label: none,
            gutter: none,
            caret: none,
            ok: none,
        }
    }

    fn colored() -> Self {
        let bold = Style::new().effects(Effects::BOLD);
        Self {
            enabled: true,
            error: bold.fg_color(Some(AnsiColor::Red.into())),
            warning: bold.fg_color(Some(AnsiColor::Yellow.into())),
            rule: bold,
            heading: bold.effects(Effects::BOLD | Effects::UNDERLINE),
            label: Style::new().effects(Effects::DIMMED),
            gutter: bold.fg_color(Some(AnsiColor::Blue.into())),
            caret: bold.fg_color(Some(AnsiColor::Red.into())),
            ok: bold.fg_color(Some(AnsiColor::Green.into())),
        }
    }

    /// `text` in `style` (unstyled when colour is off).
    fn paint(&self, style: Style, text: impl Display) -> String {
        let text = text.to_string();
        if self.enabled && style != Style::new() && !text.is_empty() {
            format!("{}{}{}", style.render(), text, style.render_reset())
        } else {
            text
        }
    }

    fn severity(&self, severity: Severity) -> Style {
        match severity {
            Severity::Error => self.error,
            Severity::Warning => self.warning,
        }
    }
}

/// One app's part of the report: its cell (if the report has it) and its findings.
#[derive(Default)]
struct Group<'r> {
    cell: Option<&'r CellReport>,
    findings: Vec<&'r ReportFinding>,
}

/// The report grouped by environment, then app (both sorted). Only cells with something to say
/// (findings or a failure) appear.
fn groups(report: &Report) -> BTreeMap<&str, BTreeMap<&str, Group<'_>>> {
    let mut groups: BTreeMap<&str, BTreeMap<&str, Group<'_>>> = BTreeMap::new();
    for cell in report
        .cells
        .iter()
        .filter(|c| c.status == CellStatus::Failed)
    {
        groups
            .entry(&cell.environment)
            .or_default()
            .entry(&cell.app)
            .or_default()
            .cell = Some(cell);
    }
    for finding in &report.findings {
        let group = groups
            .entry(&finding.environment)
            .or_default()
            .entry(&finding.app)
            .or_default();
        group.findings.push(finding);
        if group.cell.is_none() {
            group.cell = report.cell_of(finding);
        }
    }
    groups
}

/// Most edits the text's fix list shows, and most findings under each (the JSON report's
/// `fixes` has them all, and every finding is listed below the fix list anyway).
const MAX_TEXT_EDITS: usize = 10;
const MAX_TEXT_CLEARED: usize = 5;
/// Most characters of an edit's current value the text shows (a values file may hold a
/// manifest-sized string).
const MAX_TEXT_VALUE_CHARS: usize = 200;

fn write_full(report: &Report, p: &Palette, out: &mut dyn Write) -> Result<(), RenderError> {
    write_fix_list(report, p, out)?;
    for (environment, apps) in groups(report) {
        let title = if environment.is_empty() {
            "repository".to_owned()
        } else {
            format!("environment {}", one_line(environment))
        };
        writeln!(out, "{}", p.paint(p.heading, &title))?;
        writeln!(out)?;
        for (app, group) in apps {
            write_group_header(app, &group, p, out)?;
            for finding in &group.findings {
                write_finding(finding, p, out)?;
            }
        }
    }
    write_not_judged(report, p, out)?;
    write_table(report, p, out)
}

/// `1 edit fixes 3 findings`, `52 edits fix 183 findings`: the fix list's headline (the
/// markdown format says the same).
pub(crate) fn fix_headline(report: &Report) -> Option<String> {
    let c = report.summary.fixes;
    if c.edits == 0 && c.without_origin == 0 {
        return None;
    }
    let plural = |n: u64, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    let verb = if c.edits == 1 { "fixes" } else { "fix" };
    let mut line = format!(
        "{} {verb} {}",
        plural(c.edits, "edit"),
        plural(c.findings, "finding")
    );
    if c.without_origin > 0 {
        let have = if c.without_origin == 1 { "has" } else { "have" };
        line.push_str(&format!(
            "; {} {have} no values line (hard-coded in a template, or not caused by a value)",
            plural(c.without_origin, "more finding")
        ));
    }
    Some(line)
}

/// One cleared finding, in one line: rule, cell, object, container, image.
pub(crate) fn cleared(f: &crate::fixes::FixedFinding) -> String {
    let mut line = f.rule.clone();
    if !f.environment.is_empty() || !f.app.is_empty() {
        line.push_str(&format!(" {}/{}", f.environment, f.app));
    }
    if let Some(object) = &f.object {
        line.push_str(&format!(" {object}"));
    }
    if let Some(container) = &f.container {
        line.push_str(&format!(" container {container}"));
    }
    if let Some(image) = &f.image {
        line.push_str(&format!(" ({image})"));
    }
    line
}

/// The fix list of `report` in plain text, for another text document (the diff's).
pub(crate) fn write_plain_fix_list(
    report: &Report,
    out: &mut dyn Write,
) -> Result<(), RenderError> {
    write_fix_list(report, &Palette::plain(), out)
}

/// The fix list: its headline, then the edits that clear the most findings, each with its
/// file, line, current value, what to do and the findings it clears. Nothing when no finding
/// fails the run.
fn write_fix_list(report: &Report, p: &Palette, out: &mut dyn Write) -> Result<(), RenderError> {
    let Some(headline) = fix_headline(report) else {
        return Ok(());
    };
    writeln!(
        out,
        "{}",
        p.paint(p.heading, format!("fix list: {headline}"))
    )?;
    writeln!(out)?;
    for fix in report.fixes.iter().take(MAX_TEXT_EDITS) {
        let mut head = p.paint(p.rule, one_line(&format!("{}:{}", fix.file, fix.line)));
        if let Some(value) = &fix.value {
            let shown = if value.is_empty() { "(empty)" } else { value };
            let shown = super::markdown::clip(shown, MAX_TEXT_VALUE_CHARS);
            head.push_str(&format!(
                " {} {}",
                p.paint(p.label, "value"),
                one_line(&shown)
            ));
        }
        let n = fix.findings.len();
        head.push_str(&format!(
            " {}",
            p.paint(
                p.label,
                format!("(clears {n} finding{})", if n == 1 { "" } else { "s" })
            )
        ));
        writeln!(out, "  {head}")?;
        for action in &fix.actions {
            writeln!(out, "    {} {}", p.paint(p.label, "do:"), one_line(action))?;
        }
        for f in fix.findings.iter().take(MAX_TEXT_CLEARED) {
            writeln!(out, "    - {}", one_line(&cleared(f)))?;
        }
        if n > MAX_TEXT_CLEARED {
            writeln!(out, "    - … and {} more", n - MAX_TEXT_CLEARED)?;
        }
    }
    let more = report.fixes.len().saturating_sub(MAX_TEXT_EDITS);
    if more > 0 {
        writeln!(
            out,
            "  … and {more} more edit{}, each clearing fewer findings (the JSON report's `fixes` lists them all)",
            if more == 1 { "" } else { "s" }
        )?;
    }
    if !report.fixes.is_empty() {
        writeln!(out)?;
    }
    Ok(())
}

/// `registry a.yaml:2, repository b.yaml:5, tag c.yaml:4`: where each part of the image comes
/// from, in one line.
pub(crate) fn parts_line(parts: &crate::model::Parts) -> Option<String> {
    let shown: Vec<String> = parts
        .iter()
        .map(|(name, origin)| format!("{name} {origin}"))
        .collect();
    (!shown.is_empty()).then(|| shown.join(", "))
}

/// The Argo CD applications the run did not render, one line each.
fn write_not_judged(report: &Report, p: &Palette, out: &mut dyn Write) -> Result<(), RenderError> {
    if report.not_judged.is_empty() {
        return Ok(());
    }
    writeln!(out, "{}", p.paint(p.heading, "not judged"))?;
    writeln!(out)?;
    for app in &report.not_judged {
        writeln!(out, "  {}", one_line(&app.sentence()))?;
    }
    writeln!(out)?;
    Ok(())
}

fn write_group_header(
    app: &str,
    group: &Group<'_>,
    p: &Palette,
    out: &mut dyn Write,
) -> Result<(), RenderError> {
    // Repository-level findings have no app: no header, and no blank line for one.
    let mut wrote = false;
    if !app.is_empty() {
        wrote = true;
        let mut header = p.paint(p.rule, one_line(app));
        if let Some(cell) = group.cell {
            header.push_str(&format!(" (chart {}", one_line(&cell.chart)));
            match cell.status {
                CellStatus::Failed => {
                    header.push_str(&format!(", {})", p.paint(p.error, "failed to render")))
                }
                status => header.push_str(&format!(
                    ", {status}, {} documents, {} images)",
                    cell.documents, cell.images
                )),
            }
        }
        writeln!(out, "{header}")?;
    }
    if let Some(error) = group.cell.and_then(|c| c.error.as_deref()) {
        wrote = true;
        let label = "helm: ";
        for (i, line) in block(error).lines().enumerate() {
            let lead = if i == 0 {
                p.paint(p.label, label)
            } else {
                " ".repeat(label.len())
            };
            writeln!(out, "    {lead}{line}")?;
        }
    }
    if wrote {
        writeln!(out)?;
    }
    Ok(())
}

fn write_finding(f: &ReportFinding, p: &Palette, out: &mut dyn Write) -> Result<(), RenderError> {
    if f.excepted && p.enabled {
        // Shown, but not drawing the eye: the whole block dimmed, line by line (so no style
        // spans a line break), with no other colour inside.
        let mut plain = Vec::new();
        write_finding_body(f, &Palette::plain(), &mut plain)?;
        let dim = Style::new().effects(Effects::DIMMED);
        for line in String::from_utf8_lossy(&plain).lines() {
            writeln!(out, "{}", p.paint(dim, line))?;
        }
        return Ok(());
    }
    write_finding_body(f, p, out)
}

fn write_finding_body(
    f: &ReportFinding,
    p: &Palette,
    out: &mut dyn Write,
) -> Result<(), RenderError> {
    let severity = p.paint(
        p.severity(f.severity),
        format!("{}[{}]", f.severity, one_line(&f.rule)),
    );
    let excepted = if f.excepted { " (excepted)" } else { "" };
    writeln!(
        out,
        "  {severity}{}: {}",
        p.paint(p.rule, excepted),
        p.paint(p.rule, one_line(&f.message))
    )?;

    let mut facts: Vec<(&str, String)> = Vec::new();
    if let Some(object) = &f.object {
        facts.push(("object", one_line(&object.to_string()).into_owned()));
    }
    if let Some(container) = &f.container {
        facts.push(("container", one_line(container).into_owned()));
    }
    if let Some(image) = &f.image {
        facts.push(("image", one_line(image).into_owned()));
    }
    if let Some(template) = &f.template {
        let mut t = one_line(template).into_owned();
        if let Some(line) = f.rendered_line {
            t.push_str(&format!(" (rendered line {line})"));
        }
        facts.push(("template", t));
    }
    if let Some(at) = f.template_place() {
        facts.push(("at", one_line(&at.describe()).into_owned()));
    }
    match (&f.origin, &f.origin_note) {
        (Some(origin), Some(note)) => {
            facts.push((
                "origin",
                format!("{} ({})", one_line(&origin.to_string()), one_line(note)),
            ));
        }
        (Some(origin), None) => facts.push(("origin", one_line(&origin.to_string()).into_owned())),
        (None, Some(note)) => facts.push(("origin", one_line(note).into_owned())),
        (None, None) => {}
    }
    if let Some(parts) = parts_line(&f.parts) {
        facts.push(("parts", one_line(&parts).into_owned()));
    }
    if let Some(note) = f.exception_note.as_deref().filter(|_| f.excepted) {
        facts.push(("exception", one_line(note).into_owned()));
    }
    let width = facts.iter().map(|(k, _)| k.len() + 1).max().unwrap_or(0);
    for (key, value) in &facts {
        let key = format!("{key}:");
        writeln!(
            out,
            "    {} {value}",
            p.paint(p.label, format!("{key:<width$}"))
        )?;
    }
    if let Some(snippet) = &f.snippet {
        write_snippet(snippet, p, out)?;
    }
    writeln!(out)?;
    Ok(())
}

/// The snippet, rustc-style: a gutter with line numbers, the highlighted line underlined.
fn write_snippet(s: &Snippet, p: &Palette, out: &mut dyn Write) -> Result<(), RenderError> {
    if s.lines.is_empty() {
        return Ok(());
    }
    let last = s
        .start_line
        .saturating_add(u32::try_from(s.lines.len()).unwrap_or(u32::MAX) - 1);
    let width = last.to_string().len();
    let bar = p.paint(p.gutter, "|");
    writeln!(out, "    {:width$} {bar}", "")?;
    for (number, line) in (s.start_line..).zip(&s.lines) {
        let shown = display_line(line);
        let number_text = p.paint(p.gutter, format!("{number:>width$}"));
        writeln!(out, "    {number_text} {bar} {}", shown.trim_end())?;
        if number == s.highlight_line {
            let (start, len) = underline(line, s.highlight.clone());
            if len > 0 {
                let carets = p.paint(p.caret, "^".repeat(len));
                writeln!(out, "    {:width$} {bar} {}{carets}", "", " ".repeat(start))?;
            }
        }
    }
    Ok(())
}

/// A values line as shown: control characters escaped, tabs as four spaces.
fn display_line(line: &str) -> String {
    one_line(line).replace('\t', "    ")
}

/// Where the underline of `line` starts and how long it is, in displayed columns: the given byte
/// range (clamped to the line and to character boundaries) or else the trimmed line.
fn underline(line: &str, range: Option<std::ops::Range<usize>>) -> (usize, usize) {
    let (start, end) = match range {
        Some(r) => {
            let clamp = |mut i: usize| {
                i = i.min(line.len());
                while !line.is_char_boundary(i) {
                    i -= 1;
                }
                i
            };
            (clamp(r.start), clamp(r.end.max(r.start)))
        }
        None => {
            let trimmed = line.trim_end();
            let start = trimmed.len() - trimmed.trim_start().len();
            (start, trimmed.len())
        }
    };
    let columns = |s: &str| display_line(s).chars().count();
    (columns(&line[..start]), columns(&line[start..end]))
}

fn write_quiet(report: &Report, p: &Palette, out: &mut dyn Write) -> Result<(), RenderError> {
    let failing = report
        .findings
        .iter()
        .filter(|f| f.is_failing(report.summary.warnings_as_errors));
    for f in failing {
        let mut line = format!(
            "{} {}/{}",
            p.paint(
                p.severity(f.severity),
                format!("{}[{}]", f.severity, one_line(&f.rule))
            ),
            one_line(&f.environment),
            one_line(&f.app),
        );
        if let Some(object) = &f.object {
            line.push_str(&format!(" {}", one_line(&object.to_string())));
        }
        if let Some(container) = &f.container {
            line.push_str(&format!(" container {}", one_line(container)));
        }
        line.push_str(&format!(": {}", one_line(&f.message)));
        if let Some(origin) = &f.origin {
            line.push_str(&format!(" ({})", one_line(&origin.to_string())));
        }
        if f.rule == RENDER_FAILED {
            // helm's first line says what went wrong; the full text is in the other formats.
            let error = report.cell_of(f).and_then(|c| c.error.as_deref());
            if let Some(first) = error.and_then(|e| e.lines().find(|l| !l.trim().is_empty())) {
                line.push_str(&format!(" (helm: {})", one_line(first.trim())));
            }
        }
        writeln!(out, "{line}")?;
    }
    Ok(())
}

fn write_table(report: &Report, p: &Palette, out: &mut dyn Write) -> Result<(), RenderError> {
    let mut rows: Vec<[String; 6]> = vec![[
        "environment".into(),
        "cells".into(),
        "failed".into(),
        "errors".into(),
        "warnings".into(),
        "excepted".into(),
    ]];
    let row = |name: String, c: &EnvironmentCounts| {
        [
            name,
            c.cells.to_string(),
            c.failed.to_string(),
            c.errors.to_string(),
            c.warnings.to_string(),
            c.excepted.to_string(),
        ]
    };
    for counts in report.environment_counts() {
        let name = if counts.environment.is_empty() {
            "(repository)".to_owned()
        } else {
            one_line(&counts.environment).into_owned()
        };
        rows.push(row(name, &counts));
    }
    rows.push(row("total".to_owned(), &report.total_counts()));

    let mut widths = [0usize; 6];
    for r in &rows {
        for (w, cell) in widths.iter_mut().zip(r) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let last = rows.len() - 1;
    for (i, r) in rows.iter().enumerate() {
        let mut line = format!("{:<w$}", r[0], w = widths[0]);
        for (cell, w) in r.iter().zip(widths).skip(1) {
            line.push_str(&format!("  {cell:>w$}"));
        }
        let line = if i == 0 || i == last {
            p.paint(p.rule, line)
        } else {
            line
        };
        writeln!(out, "{}", line.trim_end())?;
    }
    writeln!(out)?;
    Ok(())
}

fn write_verdict(report: &Report, p: &Palette, out: &mut dyn Write) -> Result<(), RenderError> {
    let t = report.total_counts();
    let plural = |n: u64, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    let mut details = vec![plural(t.errors, "error"), plural(t.warnings, "warning")];
    if t.excepted > 0 {
        details.push(format!("{} excepted", t.excepted));
    }
    let mut line = format!("{} in {}", details.join(", "), plural(t.cells, "cell"));
    if t.failed > 0 {
        line.push_str(&format!(" ({} failed to render)", t.failed));
    }
    if !report.not_judged.is_empty() {
        line.push_str(&format!(
            "; {} not judged",
            plural(report.not_judged.len() as u64, "Argo CD application")
        ));
    }
    let verdict = match report.summary.verdict {
        Verdict::Pass => p.paint(p.ok, "passed"),
        Verdict::Fail => p.paint(p.error, "failed"),
    };
    writeln!(out, "{verdict}: {line}")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_verdict_and_quiet_follow_warnings_as_errors() {
        let warning = crate::model::ReportFinding::new(
            "pull-policy-missing",
            Severity::Warning,
            "set it",
            "dev",
            "api",
            "c",
        );
        let report = Report::new(
            crate::Generator::new("imagegate", "0"),
            vec![warning],
            vec![],
        );
        let render = |r: &Report, quiet| {
            let mut out = Vec::new();
            let options = TextOptions {
                color: false,
                quiet,
            };
            TextRenderer::new(options).render(r, &mut out).unwrap();
            String::from_utf8(out).unwrap()
        };
        assert!(render(&report, false).contains("passed: 0 errors, 1 warning"));
        assert_eq!(render(&report, true), "", "a warning does not fail the run");
        let strict = report.judged(true);
        assert!(render(&strict, false).contains("failed: 0 errors, 1 warning"));
        let quiet = render(&strict, true);
        assert!(
            quiet.starts_with("warning[pull-policy-missing] dev/api"),
            "{quiet}"
        );
        assert_eq!(quiet.lines().count(), 1, "no verdict line: {quiet}");
    }

    #[test]
    fn the_fix_list_leads_and_is_bounded() {
        // 12 edits: the first clears 7 findings, the others one each.
        let findings: Vec<ReportFinding> = (0..18)
            .map(|i| {
                let mut f =
                    ReportFinding::new("mutable-tag", Severity::Error, "m", "dev", "a", "c");
                f.container = Some(format!("c{i:02}"));
                let line = if i < 7 { 1 } else { i };
                f.origin = Some(crate::model::Origin::new("v.yaml", line));
                f.origin_value = Some("x".repeat(1000));
                f.fix = Some("do it".into());
                f
            })
            .collect();
        let report = Report::new(crate::Generator::new("imagegate", "0"), findings, vec![]);
        let mut out = Vec::new();
        TextRenderer::default().render(&report, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.starts_with("fix list: 12 edits fix 18 findings\n"),
            "{text}"
        );
        assert_eq!(text.matches("(clears ").count(), MAX_TEXT_EDITS, "{text}");
        assert!(text.contains("  … and 2 more edits,"), "{text}");
        assert!(text.contains("    - … and 2 more\n"), "{text}");
        // The value is clipped, not printed whole.
        assert!(text.contains(&format!("value {}…", "x".repeat(MAX_TEXT_VALUE_CHARS))));
        assert!(!text.contains(&"x".repeat(MAX_TEXT_VALUE_CHARS + 1)));
    }

    #[test]
    fn underline_defaults_to_the_trimmed_line() {
        assert_eq!(underline("    tag: v1  ", None), (4, 7));
        assert_eq!(underline("", None), (0, 0));
    }

    #[test]
    fn underline_counts_displayed_columns() {
        // `\t` shows as four columns, ESC as the four characters `\x1b`.
        assert_eq!(underline("\ttag: v1", Some(6..8)), (9, 2));
        assert_eq!(underline("\x1bx: y", Some(4..5)), (7, 1));
    }

    #[test]
    fn underline_clamps_bad_ranges() {
        assert_eq!(underline("ab", Some(1..99)), (1, 1));
        // A reversed range (as a caller bug might produce) underlines nothing.
        assert_eq!(
            underline("ab", Some(std::ops::Range { start: 5, end: 1 })),
            (2, 0)
        );
        // Byte 1 is inside `é`: clamped back to its start.
        assert_eq!(underline("é: x", Some(1..2)), (0, 1));
    }
}
