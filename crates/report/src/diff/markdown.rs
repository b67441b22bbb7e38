//! `imagegate diff --format markdown`: a ready pull-request comment.
//!
//! A verdict heading, one line on the matrix, the tables of new and fixed findings, and one
//! collapsible `<details>` per affected cell with its image changes and the unified diff of its
//! rendered documents. Chart-controlled text is escaped for where it lands (table cells, HTML
//! summaries, fenced blocks whose fence outgrows any backtick run), and the comment stays under
//! GitHub's 65,536-character limit: diffs are cut once the budget is spent.

use std::io::Write;

use super::text::image_change;
use super::{finding_place, CellChange, ChangeKind, DiffReport};
use crate::format::markdown::{clip, html, text, MAX_COMMENT_BYTES};
use crate::format::RenderError;
use crate::model::ReportFinding;

/// How much of the report one rendering shows.
#[derive(Debug, Clone, Copy)]
struct Limits {
    /// Characters of diff text the whole comment may hold.
    diff_budget: usize,
    /// Rows per findings table.
    rows: usize,
    /// Affected cells shown.
    cells: usize,
    /// Characters of a message or helm error shown.
    text: usize,
}

impl Limits {
    const START: Self = Self {
        diff_budget: 40_000,
        rows: 100,
        cells: 200,
        text: 2000,
    };

    fn tighter(self) -> Self {
        Self {
            diff_budget: self.diff_budget / 2,
            rows: (self.rows / 2).max(1),
            cells: (self.cells / 2).max(1),
            text: (self.text / 2).max(1),
        }
    }
}

/// Renders the comment, then again with tighter limits until it fits
/// [`MAX_COMMENT_BYTES`]; past that only the verdict and a pointer to the full report.
pub(super) fn render(r: &DiffReport, out: &mut dyn Write) -> Result<(), RenderError> {
    let mut limits = Limits::START;
    for _ in 0..8 {
        let mut buf = Vec::new();
        render_with(r, limits, &mut buf)?;
        if buf.len() <= MAX_COMMENT_BYTES {
            out.write_all(&buf)?;
            return Ok(());
        }
        limits = limits.tighter();
    }
    heading(r, out)?;
    writeln!(
        out,
        "The full comment is larger than a pull request can hold; the job's text, JSON and SARIF reports have every finding."
    )?;
    Ok(())
}

fn heading(r: &DiffReport, out: &mut dyn Write) -> Result<(), RenderError> {
    let failing = r.failing().count();
    let gone = r.new_not_judged.len();
    if gone > 0 {
        writeln!(
            out,
            "## ❌ imagegate: this change takes {gone} Argo CD application{} out of judgement",
            plural(gone)
        )?;
        writeln!(out)?;
        for app in &r.new_not_judged {
            writeln!(out, "- {}", text(&app.sentence()))?;
        }
        writeln!(out)?;
    }
    if failing > 0 {
        writeln!(
            out,
            "## ❌ imagegate: {failing} {}finding{} fail{} this change",
            if r.strict { "" } else { "new " },
            plural(failing),
            if failing == 1 { "s" } else { "" }
        )?;
    } else {
        writeln!(out, "## ✅ imagegate: no new failing finding")?;
    }
    writeln!(out)?;
    Ok(())
}

fn render_with(r: &DiffReport, limits: Limits, out: &mut dyn Write) -> Result<(), RenderError> {
    heading(r, out)?;
    let c = &r.cells;
    writeln!(
        out,
        "Base {} → head {}: {} cell{} affected ({} changed, {} added, {} removed, {} renamed; {} unchanged and not rendered). Rendered {} base + {} head cells, {} from the cache.",
        text(&r.base.label()),
        text(&r.head.label()),
        r.changes.len(),
        plural(r.changes.len()),
        c.changed,
        c.added,
        c.removed,
        c.renamed,
        c.unchanged,
        r.rendered.base,
        r.rendered.head,
        r.cached.base + r.cached.head
    )?;
    writeln!(out)?;
    if r.summary.fixes.edits + r.summary.fixes.without_origin > 0 {
        crate::format::markdown::write_fix_list(&r.fix_report(), limits.rows, out)?;
    }
    let old: Vec<_> = r
        .not_judged
        .iter()
        .filter(|a| !r.new_not_judged.contains(a))
        .collect();
    if !old.is_empty() {
        writeln!(
            out,
            "<details><summary>{} Argo CD application{} not judged on both sides</summary>",
            old.len(),
            plural(old.len())
        )?;
        writeln!(out)?;
        for app in old {
            writeln!(out, "- {}", text(&app.sentence()))?;
        }
        writeln!(out, "</details>")?;
        writeln!(out)?;
    }
    findings_table("New findings", &r.new, limits, out)?;
    findings_table("Fixed findings", &r.fixed, limits, out)?;
    if !r.unchanged.is_empty() {
        let n = r.unchanged.len();
        writeln!(
            out,
            "<details><summary>{n} finding{} still present in the affected cells</summary>",
            plural(n)
        )?;
        writeln!(out)?;
        findings_rows(&r.unchanged, limits, out)?;
        writeln!(out, "</details>")?;
        writeln!(out)?;
    }
    if !r.changes.is_empty() {
        writeln!(out, "### Affected cells")?;
        writeln!(out)?;
        let mut budget = limits.diff_budget;
        for change in r.changes.iter().take(limits.cells) {
            write_change(change, &mut budget, limits.text, out)?;
        }
        if r.changes.len() > limits.cells {
            writeln!(
                out,
                "…and {} more affected cells (see the JSON report).",
                r.changes.len() - limits.cells
            )?;
        }
    }
    Ok(())
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

fn findings_table(
    title: &str,
    findings: &[ReportFinding],
    limits: Limits,
    out: &mut dyn Write,
) -> Result<(), RenderError> {
    if findings.is_empty() {
        return Ok(());
    }
    writeln!(out, "### {title} ({})", findings.len())?;
    writeln!(out)?;
    findings_rows(findings, limits, out)
}

fn findings_rows(
    findings: &[ReportFinding],
    limits: Limits,
    out: &mut dyn Write,
) -> Result<(), RenderError> {
    let max_rows = limits.rows;
    writeln!(
        out,
        "| Severity | Rule | Environment | App | Object | Image | Message | Where to fix |"
    )?;
    writeln!(out, "|---|---|---|---|---|---|---|---|")?;
    for f in findings.iter().take(max_rows) {
        let severity = if f.excepted {
            "excepted".to_string()
        } else {
            f.severity.to_string()
        };
        let fix = match &f.origin {
            Some(o) => text(&o.to_string()),
            None => String::new(),
        };
        writeln!(
            out,
            "| {severity} | {} | {} | {} | {} | {} | {} | {fix} |",
            text(&f.rule),
            text(&f.environment),
            text(&f.app),
            text(&finding_place(f)),
            text(f.image.as_deref().unwrap_or("")),
            text(&clip(f.message.lines().next().unwrap_or(""), limits.text)),
        )?;
    }
    if findings.len() > max_rows {
        writeln!(
            out,
            "\n…and {} more (see the JSON report).",
            findings.len() - max_rows
        )?;
    }
    writeln!(out)?;
    Ok(())
}

fn write_change(
    c: &CellChange,
    budget: &mut usize,
    max_text: usize,
    out: &mut dyn Write,
) -> Result<(), RenderError> {
    let name = match (c.kind, &c.base) {
        (ChangeKind::Renamed, Some(base)) => format!(
            "{} / {} → {}",
            html(&c.environment),
            html(&base.app),
            html(&c.app)
        ),
        _ => format!("{} / {}", html(&c.environment), html(&c.app)),
    };
    let n = c.image_changes.len();
    writeln!(
        out,
        "<details><summary>{} {name} ({}; {n} image change{})</summary>",
        c.kind.as_str(),
        html(&c.chart),
        plural(n)
    )?;
    writeln!(out)?;
    if !c.inputs.is_empty() {
        let inputs: Vec<String> = c.inputs.iter().map(|i| text(i)).collect();
        writeln!(out, "Changed inputs: {}", inputs.join(", "))?;
        writeln!(out)?;
    }
    for (side, s) in [("base", &c.base), ("head", &c.head)] {
        if let Some(error) = s.as_ref().and_then(|s| s.error.as_deref()) {
            writeln!(out, "The {side} failed to render:")?;
            writeln!(out)?;
            writeln!(out, "{}", fenced(&cut(error.trim(), max_text).0, "text"))?;
            writeln!(out)?;
        }
    }
    for i in &c.image_changes {
        writeln!(out, "- {}", text(&image_change(i)))?;
    }
    if n > 0 {
        writeln!(out)?;
    }
    if let Some(diff) = &c.diff {
        let (shown, cut_here) = cut(diff, *budget);
        *budget -= shown.len();
        if !shown.is_empty() {
            writeln!(out, "{}", fenced(&shown, "diff"))?;
            writeln!(out)?;
        }
        if cut_here || c.diff_truncated {
            writeln!(out, "(diff cut; the JSON report holds more)")?;
            writeln!(out)?;
        }
    }
    writeln!(out, "</details>")?;
    writeln!(out)?;
    Ok(())
}

/// At most `max` bytes of `s`, cut at a line end (without it); true when something was cut.
fn cut(s: &str, max: usize) -> (String, bool) {
    let (kept, was_cut) = crate::sanitize::cut_at_line(s, max);
    (kept.strip_suffix('\n').unwrap_or(kept).to_string(), was_cut)
}

fn fenced(s: &str, lang: &str) -> String {
    crate::format::markdown::fenced_as(s, lang)
}
