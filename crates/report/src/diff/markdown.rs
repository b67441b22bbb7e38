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
use crate::format::markdown::{html, text};
use crate::format::RenderError;
use crate::model::ReportFinding;
use crate::sanitize::block;

/// Characters of diff text the whole comment may hold.
const DIFF_BUDGET: usize = 40_000;
/// Rows per findings table.
const MAX_ROWS: usize = 100;

pub(super) fn render(r: &DiffReport, out: &mut dyn Write) -> Result<(), RenderError> {
    let failing = r.failing().count();
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
    findings_table("New findings", &r.new, out)?;
    findings_table("Fixed findings", &r.fixed, out)?;
    if !r.unchanged.is_empty() {
        let n = r.unchanged.len();
        writeln!(
            out,
            "<details><summary>{n} finding{} still present in the affected cells</summary>",
            plural(n)
        )?;
        writeln!(out)?;
        findings_rows(&r.unchanged, out)?;
        writeln!(out, "</details>")?;
        writeln!(out)?;
    }
    if !r.changes.is_empty() {
        writeln!(out, "### Affected cells")?;
        writeln!(out)?;
        let mut budget = DIFF_BUDGET;
        for change in &r.changes {
            write_change(change, &mut budget, out)?;
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
    out: &mut dyn Write,
) -> Result<(), RenderError> {
    if findings.is_empty() {
        return Ok(());
    }
    writeln!(out, "### {title} ({})", findings.len())?;
    writeln!(out)?;
    findings_rows(findings, out)
}

fn findings_rows(findings: &[ReportFinding], out: &mut dyn Write) -> Result<(), RenderError> {
    writeln!(
        out,
        "| Severity | Rule | Environment | App | Object | Image | Message | Where to fix |"
    )?;
    writeln!(out, "|---|---|---|---|---|---|---|---|")?;
    for f in findings.iter().take(MAX_ROWS) {
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
            text(f.message.lines().next().unwrap_or("")),
        )?;
    }
    if findings.len() > MAX_ROWS {
        writeln!(
            out,
            "\n…and {} more (see the JSON report).",
            findings.len() - MAX_ROWS
        )?;
    }
    writeln!(out)?;
    Ok(())
}

fn write_change(
    c: &CellChange,
    budget: &mut usize,
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
            writeln!(out, "{}", fenced(&cut(error.trim(), 2000).0, "text"))?;
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

/// At most `max` bytes of `s`, cut at a line end; true when something was cut.
fn cut(s: &str, max: usize) -> (String, bool) {
    if s.len() <= max {
        return (s.to_string(), false);
    }
    let mut boundary = max;
    while !s.is_char_boundary(boundary) {
        boundary -= 1;
    }
    let end = s[..boundary].rfind('\n').unwrap_or(0);
    (s[..end].to_string(), true)
}

/// A fenced block holding `s` literally: the fence is longer than any backtick run in it.
fn fenced(s: &str, lang: &str) -> String {
    let s = block(s);
    let longest = s.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest.max(2) + 1);
    format!("{fence}{lang}\n{s}\n{fence}")
}
