//! From the policy's findings and the decoder's sites to the report's model.

use crate::provenance::{Trace, Verdict};
use imagegate_decode::{Decoded, PullPolicy};
use imagegate_fleet::Cell;
use imagegate_origin::markers::Part;
use imagegate_origin::{LayerKind, Stack};
use imagegate_policy::{
    CellContext, ExceptionSettings, Finding, ImageRef, Offending, RuleId, Severity,
};
use imagegate_report::{
    ObjectRef, Origin, Parts, ReportFinding, Severity as ReportSeverity, Snippet,
};
use serde::{Deserialize, Serialize};

/// One row of the image inventory.
#[derive(
    Debug, Clone, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord, schemars::JsonSchema,
)]
#[serde(rename_all = "camelCase")]
pub struct InventoryRow {
    /// Environment.
    pub environment: String,
    /// App.
    pub app: String,
    /// Object kind.
    pub kind: String,
    /// Object namespace.
    pub namespace: Option<String>,
    /// Object name.
    pub name: String,
    /// Container name (custom fields: none).
    pub container: Option<String>,
    /// container, initContainer, ephemeralContainer, customField, unclassified.
    pub site: String,
    /// Field path.
    pub field: String,
    /// The image as rendered.
    pub image: String,
    /// Repository (registry included), when the reference parses.
    pub repository: Option<String>,
    /// Tag, when written.
    pub tag: Option<String>,
    /// Digest, when pinned.
    pub digest: Option<String>,
    /// Pull policy as rendered (`(absent)` when not set).
    pub pull_policy: Option<String>,
    /// `# Source:` template.
    pub template: Option<String>,
    /// Object `apiVersion` (for promotion findings; not part of the inventory formats).
    #[serde(skip)]
    pub api_version: String,
    /// Index of the document in the rendered stream (not part of the inventory formats).
    #[serde(skip)]
    pub document: usize,
    /// 1-based line of the image in its rendered document (not part of the inventory formats).
    #[serde(skip)]
    pub line: Option<u32>,
}

/// Writes inventory rows as CSV (header first), every cell safe to open in a spreadsheet.
pub fn write_inventory_csv(w: impl std::io::Write, rows: &[InventoryRow]) -> anyhow::Result<()> {
    let mut c = csv::Writer::from_writer(w);
    for r in rows {
        c.serialize(r.spreadsheet_safe())?;
    }
    c.flush()?;
    Ok(())
}

/// A CSV cell a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, or a tab or carriage
/// return first), prefixed with `'` so it is shown as text (OWASP's CSV-injection advice).
/// Names, images and field paths from a chart never legitimately start with one of these.
fn spreadsheet_text(s: &str) -> String {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_string()
    }
}

impl InventoryRow {
    /// The row with every text cell made safe for a spreadsheet ([`spreadsheet_text`]).
    fn spreadsheet_safe(&self) -> Self {
        let t = |s: &String| spreadsheet_text(s);
        let o = |s: &Option<String>| s.as_deref().map(spreadsheet_text);
        Self {
            environment: t(&self.environment),
            app: t(&self.app),
            kind: t(&self.kind),
            namespace: o(&self.namespace),
            name: t(&self.name),
            container: o(&self.container),
            site: t(&self.site),
            field: t(&self.field),
            image: t(&self.image),
            repository: o(&self.repository),
            tag: o(&self.tag),
            digest: o(&self.digest),
            pull_policy: o(&self.pull_policy),
            template: o(&self.template),
            ..self.clone()
        }
    }
}

/// The inventory rows of one decoded cell.
pub fn inventory(ctx: &CellContext, decoded: &Decoded) -> Vec<InventoryRow> {
    let mut rows = Vec::new();
    for obj in &decoded.objects {
        for site in &obj.sites {
            let parsed = ImageRef::parse(&site.image).ok();
            rows.push(InventoryRow {
                environment: ctx.environment.clone(),
                app: ctx.app.clone(),
                kind: obj.object.kind.clone(),
                namespace: obj.object.namespace.clone(),
                name: obj.object.name.clone(),
                container: site.container.clone(),
                site: site.kind.name().into(),
                field: site.field.clone(),
                image: site.image.clone(),
                repository: parsed.as_ref().map(|r| r.repository().to_string()),
                tag: parsed.as_ref().and_then(|r| r.tag().map(str::to_string)),
                digest: parsed.as_ref().and_then(|r| r.digest().map(str::to_string)),
                pull_policy: match &site.pull_policy {
                    PullPolicy::Absent => Some("(absent)".into()),
                    PullPolicy::Set(p) => Some(p.clone()),
                    PullPolicy::NotApplicable => None,
                },
                template: obj.template.clone(),
                api_version: obj.object.api_version.clone(),
                document: obj.document,
                line: site.line,
            });
        }
    }
    rows
}

/// The report severity of a policy severity.
pub fn severity(s: Severity) -> ReportSeverity {
    match s {
        Severity::Error => ReportSeverity::Error,
        Severity::Warning => ReportSeverity::Warning,
    }
}

/// Converts a finding with no origin resolution.
pub fn finding(
    f: &Finding,
    origin: Option<&imagegate_origin::Origin>,
    cell: Option<&Cell>,
) -> ReportFinding {
    let mut r = ReportFinding::new(
        f.rule.as_str(),
        severity(f.severity),
        &f.message,
        &f.cell.environment,
        &f.cell.app,
        &f.cell.chart,
    );
    r.object = f
        .object
        .as_ref()
        .map(|o| ObjectRef::new(&o.api_version, &o.kind, o.namespace.clone(), &o.name));
    r.container = f.container.clone();
    r.field = f.field.clone();
    r.image = f.image.clone();
    r.template = f.template.clone();
    r.rendered_line = f.line;
    r.excepted = f.is_excepted();
    r.fix = Some(f.rule.info().fix.to_string());
    // A finding about a repository file itself (values-file-unused) points at that file.
    if let (Some(file), None) = (&f.file, origin) {
        r.origin = Some(Origin::new(file, 1));
    }
    if let (Some(t), Some(cell)) = (&f.template, cell) {
        r.template_path_in_repo = imagegate_render::template_in_repo(&cell.chart, t);
    }
    if let Some(o) = origin {
        r.origin = Some(Origin::new(&o.file, o.line));
        r.origin_value = Some(o.value.clone());
        r.snippet = Some(Snippet::new(o.line, vec![o.text.clone()], o.line));
        // A digest-required origin that is not a `digest` key is the value to append one to.
        let digest_key = imagegate_yaml::path::last_key(&o.key)
            .is_some_and(|k| k.to_ascii_lowercase().contains("digest"));
        if f.rule == RuleId::DigestRequired && !digest_key {
            r.fix = Some(
                "append `@sha256:<digest>` to the value (the chart has no `digest` key beside it), \
                 or patch the chart"
                    .to_string(),
            );
        }
        r.origin_note = match o.layer {
            LayerKind::ValueStack => None,
            LayerKind::ChartDefault => Some(format!(
                "chart default (`{}`), not overridden by any values file of this cell",
                o.key
            )),
            LayerKind::SubchartDefault => Some(format!(
                "subchart default (`{}`): override it from the parent chart's values",
                o.key
            )),
        };
    } else if f.offending.is_some() && cell.is_some() {
        // Only a cell has a value stack to search; `scan` input has none to blame.
        r.origin_note = Some(match &f.template {
            Some(t) => format!("no values file sets it: hard-coded in the template {t}"),
            None => "no values file sets it".to_string(),
        });
    }
    r
}

/// Converts a finding, resolving its origin in the cell's value stack.
pub fn finding_with_stack(
    f: &Finding,
    stack: Option<&Stack>,
    cell: Option<&Cell>,
    exceptions: &ExceptionSettings,
) -> ReportFinding {
    finding_traced(f, &|| stack, cell, exceptions, None)
}

/// Converts a finding: its origin is what helm confirmed (`trace`), else the text search's
/// answer in the cell's value stack, said to be unconfirmed when helm was asked and could not
/// tell.
pub fn finding_traced<'s>(
    f: &Finding,
    stack: &dyn Fn() -> Option<&'s Stack>,
    cell: Option<&Cell>,
    exceptions: &ExceptionSettings,
    trace: Option<&Trace>,
) -> ReportFinding {
    let searched = || match (stack(), &f.offending) {
        (Some(stack), Some(off)) => {
            let object = f.object.as_ref().map(|o| o.name.as_str()).unwrap_or("");
            let container = f.container.as_deref().unwrap_or("");
            let words = [object, container];
            stack.find(
                off,
                &imagegate_origin::Hints {
                    image: f.image.as_deref(),
                    words: &words,
                },
            )
        }
        _ => None,
    };
    let verdict = trace.and_then(|t| t.verdict(f));
    let mut r = match verdict {
        Some(Verdict::Line(o, note)) => {
            let mut r = finding(f, Some(&o), cell);
            if let Some(note) = note {
                r.origin_note = Some(match r.origin_note.take() {
                    Some(layer) => format!("{layer}; {note}"),
                    None => note,
                });
            }
            r
        }
        Some(Verdict::Template(note)) => {
            // A line the text search found but helm was never asked about (a value inside a
            // block of YAML text, say) stays, unconfirmed: only a refuted line is dropped.
            let origin =
                searched().filter(|o| trace.is_some_and(|t| !t.asked_about(&o.file, o.line)));
            let mut r = finding(f, origin.as_ref(), cell);
            r.origin_note = Some(match origin {
                Some(_) => {
                    "found by text search; helm did not confirm it (its value carried no marker)"
                        .to_string()
                }
                None => note,
            });
            r
        }
        Some(Verdict::Unknown(why)) => {
            let origin = searched();
            let mut r = finding(f, origin.as_ref(), cell);
            r.origin_note = Some(match origin {
                Some(_) => format!("found by text search, not confirmed by helm: {why}"),
                None => {
                    format!("no values line found by text search, and helm could not tell: {why}")
                }
            });
            r
        }
        None => finding(f, searched().as_ref(), cell),
    };
    if let Some(t) = trace {
        r.parts = parts(t.parts(f));
    }
    if let Some(i) = f.excepted_by {
        if let Some(e) = exceptions.list.get(i) {
            r.exception_note = Some(format!("excepted until {}: {}", e.expires, e.reason));
            r.exception = Some(imagegate_report::ExceptionRef {
                reason: e.reason.clone(),
                expires: e.expires.to_string(),
            });
        }
    }
    // The float-tag trap deserves its own words: the values line says 1.10, the image says 1.1.
    if let (Some(Offending::Tag(t)), Some(s)) = (&f.offending, &r.snippet) {
        if let Some(line) = s.lines.first() {
            if t.parse::<f64>().is_ok() && !line.contains(t.as_str()) {
                r.origin_note = Some(format!(
                    "the value is a YAML number and renders as `{t}`: quote it (\"…\") or, better, pin the image by digest"
                ));
            }
        }
    }
    r
}

/// The report's parts of what helm showed for a finding's image.
fn parts(found: Vec<(Part, imagegate_origin::Origin)>) -> Parts {
    let mut parts = Parts::default();
    for (part, o) in found {
        let slot = match part {
            Part::Registry => &mut parts.registry,
            Part::Repository => &mut parts.repository,
            Part::Tag => &mut parts.tag,
            Part::Digest => &mut parts.digest,
            Part::PullPolicy => &mut parts.pull_policy,
        };
        *slot = Some(Origin::new(&o.file, o.line));
    }
    parts
}

/// Rule metadata for the formats that describe rules, from the policy registry.
pub fn rule_meta() -> Vec<imagegate_report::RuleMeta> {
    imagegate_policy::registry::rules()
        .iter()
        .map(|r| {
            let sev = severity(r.default_severity);
            imagegate_report::RuleMeta::new(r.id.as_str(), r.summary, r.doc, sev)
                .with_help_uri(format!(
                    "https://github.com/imagegate/imagegate/blob/main/docs/rules/{}.md",
                    r.id
                ))
                .with_code_scanning(r.security_severity, r.tags)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_report_names_render_failed_as_the_policy_does() {
        // The report crate depends on no other crate, so it keeps the id as a string.
        assert_eq!(
            imagegate_report::RENDER_FAILED,
            imagegate_policy::RuleId::RenderFailed.as_str()
        );
    }

    #[test]
    fn csv_cells_that_a_spreadsheet_would_run_are_neutralised() {
        let row = InventoryRow {
            environment: "=HYPERLINK(\"http://x\")".into(),
            app: "+1".into(),
            kind: "-2".into(),
            namespace: Some("@SUM(A1)".into()),
            name: "\tx".into(),
            container: Some("web".into()),
            site: "container".into(),
            field: "spec.containers[0].image".into(),
            image: "ghcr.io/acme/web:1".into(),
            repository: None,
            tag: None,
            digest: None,
            pull_policy: Some("(absent)".into()),
            template: None,
            api_version: "v1".into(),
            document: 0,
            line: None,
        };
        let mut out = Vec::new();
        write_inventory_csv(&mut out, &[row]).unwrap();
        let text = String::from_utf8(out).unwrap();
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        let rec = reader.records().next().unwrap().unwrap();
        for cell in rec.iter() {
            assert!(
                !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
                "{cell:?} in {text}"
            );
        }
        assert_eq!(&rec[0], "'=HYPERLINK(\"http://x\")");
        assert!(text.contains("ghcr.io/acme/web:1"), "{text}");
    }
}
