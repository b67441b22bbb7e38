//! `imagegate diff --format text`: for a terminal. Every chart-controlled string is escaped.

use std::io::Write;

use super::{finding_place, CellChange, ChangeKind, DiffReport, ImageChange};
use crate::format::RenderError;
use crate::model::ReportFinding;
use crate::sanitize::{block, one_line};

pub(super) fn render(r: &DiffReport, out: &mut dyn Write) -> Result<(), RenderError> {
    writeln!(
        out,
        "imagegate diff: {} -> {}",
        one_line(&r.base.label()),
        one_line(&r.head.label())
    )?;
    let c = &r.cells;
    writeln!(
        out,
        "cells: {} unchanged, {} changed, {} added, {} removed, {} renamed; rendered {} base + {} head ({} from the cache)",
        c.unchanged,
        c.changed,
        c.added,
        c.removed,
        c.renamed,
        r.rendered.base,
        r.rendered.head,
        r.cached.base + r.cached.head
    )?;
    if r.summary.fixes.edits + r.summary.fixes.without_origin > 0 {
        writeln!(out)?;
        crate::format::text::write_plain_fix_list(&r.fix_report(), out)?;
    }
    for change in &r.changes {
        writeln!(out)?;
        write_change(change, out)?;
    }
    writeln!(out)?;
    write_findings("new findings", &r.new, out)?;
    write_findings("fixed findings", &r.fixed, out)?;
    if !r.unchanged.is_empty() {
        let n = r.unchanged.len();
        writeln!(
            out,
            "{n} finding{} still present in the affected cells{}",
            if n == 1 { "" } else { "s" },
            if r.strict {
                " (--strict: they count)"
            } else {
                ""
            }
        )?;
        if r.strict {
            for f in r
                .unchanged
                .iter()
                .filter(|f| f.is_failing(r.warnings_as_errors))
            {
                write_finding(f, out)?;
            }
        }
    }
    for app in &r.not_judged {
        let new = r.new_not_judged.contains(app);
        writeln!(
            out,
            "{}{}",
            if new { "NEW, fails the check: " } else { "" },
            one_line(&app.sentence())
        )?;
    }
    let failing = r.failing().count();
    if failing > 0 || !r.new_not_judged.is_empty() {
        let n = r.new_not_judged.len();
        let apps = format!(
            "{n} Argo CD application{} the change takes out of judgement",
            if n == 1 { "" } else { "s" }
        );
        let findings = format!(
            "{failing} {}finding{} fail{} the check",
            if r.strict { "" } else { "new " },
            if failing == 1 { "" } else { "s" },
            if failing == 1 { "s" } else { "" },
        );
        match (failing, n) {
            (_, 0) => writeln!(out, "FAILED: {findings}")?,
            (0, _) => writeln!(out, "FAILED: {apps}")?,
            _ => writeln!(out, "FAILED: {findings}, and {apps}")?,
        }
    } else {
        writeln!(out, "passed: no new failing finding")?;
    }
    Ok(())
}

fn write_change(c: &CellChange, out: &mut dyn Write) -> Result<(), RenderError> {
    let name = match (c.kind, &c.base) {
        (ChangeKind::Renamed, Some(base)) => format!(
            "{}/{} -> {}",
            one_line(&c.environment),
            one_line(&base.app),
            one_line(&c.app)
        ),
        _ => format!("{}/{}", one_line(&c.environment), one_line(&c.app)),
    };
    writeln!(out, "{} {name} ({})", c.kind.as_str(), one_line(&c.chart))?;
    if !c.inputs.is_empty() {
        let inputs: Vec<_> = c.inputs.iter().map(|i| one_line(i).into_owned()).collect();
        writeln!(out, "  inputs: {}", inputs.join(", "))?;
    }
    for (side, s) in [("base", &c.base), ("head", &c.head)] {
        if let Some(error) = s.as_ref().and_then(|s| s.error.as_deref()) {
            let first = error.lines().next().unwrap_or("");
            writeln!(out, "  {side} failed to render: {}", one_line(first))?;
        }
    }
    for i in &c.image_changes {
        writeln!(out, "  image {}", image_change(i))?;
    }
    if let Some(diff) = &c.diff {
        for line in block(diff).lines() {
            writeln!(out, "    {line}")?;
        }
        if c.diff_truncated {
            writeln!(out, "    ... (diff cut; the JSON report has the same cut)")?;
        }
    }
    Ok(())
}

pub(super) fn image_change(i: &ImageChange) -> String {
    let side = |s: &Option<String>| match s {
        Some(s) => one_line(s).into_owned(),
        None => "(none)".into(),
    };
    let container = match &i.container {
        Some(c) => format!(" [{}]", one_line(c)),
        None => String::new(),
    };
    format!(
        "{}{container} {}: {} -> {}",
        one_line(&i.object.to_string()),
        one_line(&i.field),
        side(&i.old),
        side(&i.new)
    )
}

fn write_findings(
    title: &str,
    findings: &[ReportFinding],
    out: &mut dyn Write,
) -> Result<(), RenderError> {
    if findings.is_empty() {
        writeln!(out, "{title}: none")?;
        return Ok(());
    }
    writeln!(out, "{title} ({}):", findings.len())?;
    for f in findings {
        write_finding(f, out)?;
    }
    Ok(())
}

fn write_finding(f: &ReportFinding, out: &mut dyn Write) -> Result<(), RenderError> {
    let severity = if f.excepted {
        "excepted".to_string()
    } else {
        f.severity.to_string()
    };
    writeln!(
        out,
        "  {severity} {} {}/{} {}: {}",
        one_line(&f.rule),
        one_line(&f.environment),
        one_line(&f.app),
        one_line(&finding_place(f)),
        one_line(f.message.lines().next().unwrap_or(""))
    )?;
    if let Some(o) = &f.origin {
        writeln!(out, "      fix at {}", one_line(&o.to_string()))?;
    }
    Ok(())
}
