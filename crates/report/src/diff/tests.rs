use super::*;
use crate::model::{ObjectRef, Severity};
use crate::{render_to_string, FormatOptions};

fn finding(rule: &str, severity: Severity, app: &str) -> ReportFinding {
    let mut f = ReportFinding::new(rule, severity, "pin the image", "dev", app, "charts/web");
    f.object = Some(ObjectRef::new("apps/v1", "Deployment", None, "web"));
    f.container = Some("web".into());
    f.image = Some("nginx:1.27".into());
    f
}

fn report(strict: bool) -> DiffReport {
    let mut r = DiffReport::new(
        Generator::new("imagegate", "0.1.0"),
        Side {
            git_ref: Some("main".into()),
            commit: Some("0123456789abcdef0123".into()),
        },
        Side {
            git_ref: None,
            commit: None,
        },
    );
    r.strict = strict;
    r.rendered = PerSide { base: 1, head: 1 };
    r.cells.changed = 1;
    r.changes.push(CellChange {
        kind: ChangeKind::Changed,
        environment: "dev".into(),
        app: "dev-web".into(),
        chart: "charts/web".into(),
        inputs: vec!["values values/dev.yaml".into()],
        base: None,
        head: None,
        image_changes: vec![ImageChange {
            object: ObjectRef::new("apps/v1", "Deployment", None, "web"),
            container: Some("web".into()),
            field: "spec.template.spec.containers[0].image".into(),
            old: Some("nginx@sha256:aa".into()),
            new: Some("nginx:1.27".into()),
        }],
        diff: Some("--- base\n+++ head\n-  image: a\n+  image: ```` @team\u{1b}[31m\n".into()),
        diff_truncated: false,
    });
    r.new = vec![finding("digest-required", Severity::Error, "dev-web")];
    r.fixed = vec![finding("mutable-tag", Severity::Error, "dev-web")];
    r.unchanged = vec![finding("pull-policy-missing", Severity::Error, "dev-web")];
    r.finish()
}

#[test]
fn new_error_findings_fail_and_strict_also_counts_unchanged_ones() {
    let r = report(false);
    assert_eq!(r.exit_code(), 1);
    assert_eq!(r.summary.new_failing, 1);
    assert_eq!(r.summary.image_changes, 1);

    let mut only_fixed = report(false);
    only_fixed.new.clear();
    assert_eq!(only_fixed.exit_code(), 0, "fixed and unchanged do not fail");
    only_fixed.strict = true;
    assert_eq!(
        only_fixed.exit_code(),
        1,
        "--strict fails on unchanged errors"
    );

    let mut excepted = report(false);
    excepted.new[0].excepted = true;
    assert_eq!(excepted.exit_code(), 0);
    excepted.new[0].excepted = false;
    excepted.new[0].severity = Severity::Warning;
    assert_eq!(excepted.exit_code(), 0);
    excepted.warnings_as_errors = true;
    assert_eq!(excepted.exit_code(), 1);
}

fn render(format: DiffFormat, r: &DiffReport) -> String {
    let mut out = Vec::new();
    render_diff(format, r, &FormatOptions::default(), &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

#[test]
fn json_has_the_schema_and_the_three_lists() {
    let v: serde_json::Value =
        serde_json::from_str(&render(DiffFormat::Json, &report(false))).unwrap();
    assert_eq!(v["schema"], DIFF_SCHEMA);
    assert_eq!(v["base"]["ref"], "main");
    assert!(v["head"]["ref"].is_null());
    assert_eq!(v["rendered"]["base"], 1);
    assert_eq!(v["new"][0]["rule"], "digest-required");
    assert_eq!(v["fixed"][0]["rule"], "mutable-tag");
    assert_eq!(v["unchanged"][0]["rule"], "pull-policy-missing");
    assert_eq!(v["changes"][0]["kind"], "changed");
    assert_eq!(v["changes"][0]["imageChanges"][0]["new"], "nginx:1.27");
    // The checked-in schema (generated from these types by `cargo xtask docs`) holds it.
    let schema: serde_json::Value =
        serde_json::from_str(include_str!("../../../../docs/schemas/diff.schema.json")).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator.iter_errors(&v).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{errors:#?}");
}

#[test]
fn markdown_is_a_comment_whose_chart_text_cannot_escape() {
    let md = render(DiffFormat::Markdown, &report(false));
    assert!(
        md.starts_with("## ❌ imagegate: 1 new finding fails this change"),
        "{md}"
    );
    assert!(md.contains("### New findings (1)"));
    assert!(md.contains("### Fixed findings (1)"));
    assert!(md.contains("<details><summary>changed dev / dev-web"));
    // The diff's fence outgrows the four backticks inside it; mentions and ESC are defused.
    assert!(md.contains("`````diff\n"), "{md}");
    assert!(!md.contains('\u{1b}'));
    assert!(md.contains("\\x1b[31m"));
    let fixed = report(false);
    let mut ok = fixed.clone();
    ok.new.clear();
    assert!(render(DiffFormat::Markdown, &ok).starts_with("## ✅"));
}

#[test]
fn sarif_and_github_carry_new_findings_only() {
    let r = report(false);
    let gh = render(DiffFormat::Github, &r);
    assert!(gh.contains("digest-required"), "{gh}");
    assert!(!gh.contains("mutable-tag") && !gh.contains("pull-policy-missing"));
    let sarif: serde_json::Value = serde_json::from_str(&render(DiffFormat::Sarif, &r)).unwrap();
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    assert_eq!(results.len(), 1);
    assert_eq!(results[0]["ruleId"], "digest-required");
    let same = render_to_string(
        &*crate::Format::Github.renderer(&FormatOptions::default()),
        &r.new_findings_report(),
    )
    .unwrap();
    assert_eq!(gh, same);
    let gitlab: serde_json::Value = serde_json::from_str(&render(DiffFormat::Gitlab, &r)).unwrap();
    let issues = gitlab.as_array().unwrap();
    assert_eq!(issues.len(), 1);
    assert_eq!(issues[0]["check_name"], "digest-required");
}

#[test]
fn text_lists_changes_and_the_verdict() {
    let t = render(DiffFormat::Text, &report(false));
    assert!(
        t.starts_with("imagegate diff: main (0123456789ab) -> working tree\n"),
        "{t}"
    );
    assert!(t.contains("changed dev/dev-web (charts/web)"));
    assert!(t.contains("image Deployment/web [web] spec.template.spec.containers[0].image: nginx@sha256:aa -> nginx:1.27"));
    assert!(t.contains("new findings (1):"));
    assert!(t.contains("FAILED: 1 new finding fails the check"));
    assert!(!t.contains('\u{1b}'));
}

#[test]
fn formats_parse() {
    assert_eq!("JSON".parse::<DiffFormat>(), Ok(DiffFormat::Json));
    for f in DiffFormat::ALL {
        assert_eq!(f.name().parse::<DiffFormat>(), Ok(f));
    }
    assert!("junit"
        .parse::<DiffFormat>()
        .unwrap_err()
        .contains("text, json, markdown, sarif, github"));
}

#[test]
fn the_failing_new_findings_are_grouped_by_the_edit_that_fixes_them() {
    let at = |file: &str, line| {
        Some(crate::model::Origin {
            file: file.into(),
            line,
        })
    };
    let mut r = report(false);
    // Two new findings from one values line (two apps), one from another, one without a line,
    // and a fixed finding, which is not the change's to fix.
    let mut a = finding("digest-required", Severity::Error, "dev-web");
    a.origin = at("values/dev.yaml", 3);
    let mut b = finding("digest-required", Severity::Error, "dev-api");
    b.origin = at("values/dev.yaml", 3);
    let mut c = finding("pull-policy-not-ifnotpresent", Severity::Error, "dev-web");
    c.origin = at("values/dev.yaml", 7);
    let d = finding("mutable-tag", Severity::Error, "dev-job");
    r.new = vec![a, b, c, d];
    r.fixed[0].origin = at("values/dev.yaml", 9);
    let r = r.finish();
    assert_eq!(r.summary.fixes.edits, 2);
    assert_eq!(r.summary.fixes.findings, 3);
    assert_eq!(r.summary.fixes.without_origin, 1);
    assert_eq!(r.fixes[0].line, 3, "most findings first");
    assert_eq!(r.fixes[0].findings.len(), 2);

    let text = render(DiffFormat::Text, &r);
    assert!(
        text.contains("fix list: 2 edits fix 3 findings; 1 more finding has no values line"),
        "{text}"
    );
    assert!(text.contains("values/dev.yaml:3"), "{text}");
    let md = render(DiffFormat::Markdown, &r);
    assert!(md.contains("### Fix list"), "{md}");
    assert!(md.contains("**2 edits fix 3 findings"), "{md}");
    let v: serde_json::Value = serde_json::from_str(&render(DiffFormat::Json, &r)).unwrap();
    assert_eq!(v["summary"]["fixes"]["edits"], 2);
    assert_eq!(v["fixes"][0]["file"], "values/dev.yaml");

    // Nothing fails: no fix list.
    let mut clean = report(false);
    clean.new.clear();
    let clean = clean.finish();
    assert_eq!(clean.summary.fixes.edits, 0);
    assert!(!render(DiffFormat::Text, &clean).contains("fix list"));
}
