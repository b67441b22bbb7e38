//! The report model: ordering, summary, exit status and the JSON shape of `imagegate/report/v1`.

mod common;

use imagegate_report::{
    CellReport, CellStatus, Generator, Report, ReportFinding, Severity, RENDER_FAILED, SCHEMA,
};

#[test]
fn cells_and_findings_are_sorted() {
    let report = common::report();
    let cells: Vec<(&str, &str)> = report
        .cells
        .iter()
        .map(|c| (c.environment.as_str(), c.app.as_str()))
        .collect();
    assert_eq!(
        cells,
        [
            ("cluster-azure", "cluster-ameide-operators"),
            ("dev", "dev-api"),
            ("dev", "dev-web"),
            ("staging", "staging-web"),
            ("staging", "staging-worker"),
        ]
    );
    let findings: Vec<(&str, &str)> = report
        .findings
        .iter()
        .map(|f| (f.app.as_str(), f.rule.as_str()))
        .collect();
    assert_eq!(
        findings,
        [
            ("cluster-ameide-operators", "digest-required"),
            // Same app: by template, so deployment.yaml before migrate-job.yaml.
            ("dev-api", "digest-required"),
            ("dev-api", "pull-policy-missing"),
            // Same object, container and template: by field.
            ("staging-web", "mutable-tag"),
            ("staging-web", "pull-policy-not-ifnotpresent"),
            ("staging-worker", "render-failed"),
        ]
    );
}

#[test]
fn order_does_not_depend_on_input_order() {
    let mut findings = common::findings();
    findings.reverse();
    let mut cells = common::cells();
    cells.reverse();
    let reversed = Report::new(common::report().generator, findings, cells);
    assert_eq!(reversed, common::report());
}

#[test]
fn summary_is_computed() {
    let summary = common::report().summary;
    assert_eq!((summary.cells, summary.failed, summary.images), (5, 1, 11));
    let counts: Vec<(&str, u64)> = summary
        .findings
        .iter()
        .map(|(k, v)| (k.as_str(), *v))
        .collect();
    assert_eq!(
        counts,
        [
            ("digest-required", 2),
            ("mutable-tag", 1),
            ("pull-policy-missing", 1),
            ("pull-policy-not-ifnotpresent", 1),
            ("render-failed", 1),
        ]
    );
}

#[test]
fn a_failed_cell_always_has_a_render_failed_finding() {
    let cell = CellReport::failed("dev", "dev-x", "charts/x", vec![], "boom");
    let report = Report::new(Generator::new("imagegate", "0"), vec![], vec![cell.clone()]);
    assert_eq!(report.findings.len(), 1);
    assert_eq!(report.findings[0].rule, RENDER_FAILED);
    assert_eq!(report.exit_code(false), 1);

    // One the caller already made (here excepted) is kept, and no second one is added.
    let mut own = ReportFinding::new(
        RENDER_FAILED,
        Severity::Error,
        "known",
        "dev",
        "dev-x",
        "charts/x",
    );
    own.excepted = true;
    let report = Report::new(Generator::new("imagegate", "0"), vec![own], vec![cell]);
    assert_eq!(report.findings.len(), 1);
    assert_eq!(report.findings[0].message, "known");
    assert_eq!(report.exit_code(false), 0);
}

#[test]
fn exit_code_follows_failing_findings() {
    let gen = || Generator::new("imagegate", "0");
    let cell = || CellReport::new("dev", "dev-a", "c", vec![], CellStatus::Rendered, 1, 1);
    let warning = ReportFinding::new(
        "values-file-unused",
        Severity::Warning,
        "w",
        "dev",
        "dev-a",
        "c",
    );
    let mut excepted = ReportFinding::new("mutable-tag", Severity::Error, "e", "dev", "dev-a", "c");
    excepted.excepted = true;

    let clean = Report::new(gen(), vec![], vec![cell()]);
    assert_eq!((clean.exit_code(false), clean.exit_code(true)), (0, 0));
    let warned = Report::new(gen(), vec![warning.clone(), excepted.clone()], vec![cell()]);
    assert_eq!((warned.exit_code(false), warned.exit_code(true)), (0, 1));
    let only_excepted = Report::new(gen(), vec![excepted], vec![cell()]);
    assert_eq!(only_excepted.exit_code(true), 0);
    assert_eq!(common::report().exit_code(false), 1);
}

#[test]
fn json_has_exactly_the_schema_keys() {
    let json = serde_json::to_value(common::report()).expect("serializes");
    let keys = |v: &serde_json::Value| -> Vec<String> {
        v.as_object()
            .map(|o| o.keys().cloned().collect())
            .unwrap_or_default()
    };
    assert_eq!(
        keys(&json),
        [
            "schema",
            "generator",
            "findings",
            "cells",
            "summary",
            "fixes"
        ]
    );
    assert_eq!(json["schema"], SCHEMA);
    assert_eq!(keys(&json["generator"]), ["name", "version", "helm"]);
    assert_eq!(
        keys(&json["findings"][0]),
        [
            "rule",
            "severity",
            "message",
            "environment",
            "app",
            "chart",
            "object",
            "container",
            "field",
            "image",
            "template",
            "origin",
            "excepted"
        ]
    );
    assert_eq!(
        keys(&json["findings"][0]["object"]),
        ["apiVersion", "kind", "namespace", "name"]
    );
    assert_eq!(keys(&json["findings"][0]["origin"]), ["file", "line"]);
    assert_eq!(
        keys(&json["cells"][0]),
        [
            "environment",
            "app",
            "chart",
            "valueFiles",
            "status",
            "documents",
            "images",
            "error"
        ]
    );
    assert_eq!(
        keys(&json["summary"]),
        [
            "cells", "failed", "images", "findings", "errors", "warnings", "excepted", "verdict",
            "fixes"
        ]
    );
    assert_eq!(
        keys(&json["summary"]["fixes"]),
        ["edits", "findings", "withoutOrigin"]
    );
    assert_eq!(
        keys(&json["fixes"][0]),
        ["file", "line", "value", "actions", "findings"]
    );
    assert_eq!(
        keys(&json["fixes"][0]["findings"][0]),
        ["rule", "environment", "app", "object", "container", "image"]
    );
    // Per-part origins only where some part has one, with only the parts that have one.
    let with_parts: Vec<&serde_json::Value> = json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f.get("parts").is_some())
        .collect();
    assert_eq!(with_parts.len(), 1, "{with_parts:#?}");
    assert_eq!(
        keys(&with_parts[0]["parts"]),
        ["registry", "repository", "tag", "digest"]
    );
    assert_eq!(keys(&with_parts[0]["parts"]["tag"]), ["file", "line"]);
    assert_eq!(json["summary"]["errors"], 4);
    assert_eq!(json["summary"]["warnings"], 1);
    assert_eq!(json["summary"]["excepted"], 1);
    assert_eq!(json["summary"]["verdict"], "fail");
    // Absent optional values are null, not missing.
    let render_failed = json["findings"]
        .as_array()
        .and_then(|f| f.last())
        .cloned()
        .unwrap_or_default();
    assert!(render_failed["object"].is_null() && render_failed["origin"].is_null());
    assert_eq!(json["cells"][4]["status"], "failed");
}

#[test]
fn json_reads_back_without_the_rust_only_fields() {
    let report = common::report();
    let text = serde_json::to_string(&report).expect("serializes");
    let back: Report = serde_json::from_str(&text).expect("deserializes");
    assert_eq!(back.findings.len(), report.findings.len());
    assert_eq!(back.cells, report.cells);
    assert_eq!(back.summary, report.summary);
    assert!(back
        .findings
        .iter()
        .all(|f| f.snippet.is_none() && f.template_path_in_repo.is_none()));
    let mut stripped = report.findings.clone();
    for f in &mut stripped {
        f.snippet = None;
        f.origin_note = None;
        f.rendered_line = None;
        f.template_path_in_repo = None;
        f.exception_note = None;
        f.origin_value = None;
        f.fix = None;
    }
    assert_eq!(back.findings, stripped);
    // The fix list is serialized whole, so it reads back as it was.
    assert_eq!(back.fixes, report.fixes);
    assert!(!back.fixes.is_empty() && back.fixes[0].value.is_some());
}

#[test]
fn environment_counts() {
    let report = common::report();
    let counts: Vec<(String, u64, u64, u64, u64, u64)> = report
        .environment_counts()
        .into_iter()
        .map(|c| {
            (
                c.environment,
                c.cells,
                c.failed,
                c.errors,
                c.warnings,
                c.excepted,
            )
        })
        .collect();
    assert_eq!(
        counts,
        [
            ("cluster-azure".to_owned(), 1, 0, 1, 0, 0),
            ("dev".to_owned(), 2, 0, 2, 0, 0),
            ("staging".to_owned(), 2, 1, 1, 1, 1),
        ]
    );
    let total = report.total_counts();
    assert_eq!(
        (
            total.cells,
            total.failed,
            total.errors,
            total.warnings,
            total.excepted
        ),
        (5, 1, 4, 1, 1)
    );
}

#[test]
fn the_json_report_matches_its_checked_in_schema() {
    let schema: serde_json::Value =
        serde_json::from_str(include_str!("../../../docs/schemas/report.schema.json")).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let report = serde_json::to_value(common::report()).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&report)
        .map(|e| format!("{e} at {}", e.instance_path))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    assert_eq!(report["findings"].as_array().map(Vec::len), Some(6));
}
