//! Property tests: whatever text a chart puts into a finding (message, image, names, helm's
//! error), every format stays well-formed and lets no control character through raw.

use imagegate_report::{
    render_to_string, CellReport, Format, FormatOptions, Generator, ObjectRef, Report,
    ReportFinding, Severity, TextOptions,
};
use proptest::prelude::*;

/// Strings rich in what breaks outputs: controls, newlines, Markdown and XML punctuation,
/// workflow-command syntax, bidi overrides, and some ordinary text.
fn hostile() -> impl Strategy<Value = String> {
    let pieces = prop_oneof![
        Just("\x1b[31m".to_owned()),
        Just("\x1b]0;t\x07".to_owned()),
        Just("\u{9b}".to_owned()),
        Just("\0".to_owned()),
        Just("\r\n".to_owned()),
        Just("\n::error::x".to_owned()),
        Just("%0A".to_owned()),
        Just("|".to_owned()),
        Just("`".to_owned()),
        Just("```".to_owned()),
        Just("<details>".to_owned()),
        Just("]]>".to_owned()),
        Just("&".to_owned()),
        Just("@team".to_owned()),
        Just(",:".to_owned()),
        Just("\u{202e}".to_owned()),
        Just("\u{fffe}".to_owned()),
        "[a-z0-9./:@-]{0,12}",
        any::<char>().prop_map(String::from),
    ];
    proptest::collection::vec(pieces, 0..8).prop_map(|v| v.concat())
}

fn report(text: &[String]) -> Report {
    let t = |i: usize| text[i % text.len()].clone();
    let mut finding =
        ReportFinding::new("digest-required", Severity::Error, t(0), t(1), t(2), t(3));
    finding.object = Some(ObjectRef::new("v1", t(4), Some(t(5)), t(6)));
    finding.container = Some(t(7));
    finding.image = Some(t(8));
    finding.template = Some(t(9));
    finding.origin_note = Some(t(10));
    let mut excepted = finding.clone();
    excepted.excepted = true;
    excepted.exception_note = Some(t(11));
    let failed = CellReport::failed(t(1), t(12), t(3), vec![t(13)], t(14));
    Report::new(
        Generator::new("imagegate", "0.1.0"),
        vec![finding, excepted],
        vec![failed],
    )
}

fn render(format: Format, report: &Report, color: bool) -> String {
    let options = FormatOptions {
        text: TextOptions {
            color,
            quiet: false,
        },
        rules: &[],
        path_prefix: "",
    };
    let renderer = format.renderer(&options);
    render_to_string(&*renderer, report).unwrap_or_else(|e| panic!("{format}: {e}"))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn outputs_stay_well_formed(text in proptest::collection::vec(hostile(), 15)) {
        let report = report(&text);
        for format in Format::ALL {
            let out = render(format, &report, false);
            let raw: Vec<char> =
                out.chars().filter(|c| c.is_control() && *c != '\n' && *c != '\t').collect();
            prop_assert!(raw.is_empty(), "{} leaks {:?}", format, raw);
            prop_assert!(!out.contains('\u{202e}'), "{} leaks a bidi override", format);
        }

        // Two failing findings (the finding and the failed render): two workflow commands.
        let github = render(Format::Github, &report, false);
        prop_assert_eq!(github.lines().count(), 2, "{}", github);
        prop_assert!(github.lines().all(|l| l.starts_with("::error ")));

        let json: serde_json::Value = serde_json::from_str(&render(Format::Json, &report, false))
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(&json["findings"][0]["message"], &serde_json::Value::from(report.findings[0].message.clone()));
        serde_json::from_str::<serde_json::Value>(&render(Format::Sarif, &report, false))
            .map_err(|e| TestCaseError::fail(e.to_string()))?;

        let junit = quick_junit::Report::deserialize_from_str(&render(Format::Junit, &report, false))
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let cases: usize = junit.test_suites.iter().map(|s| s.test_cases.len()).sum();
        prop_assert!(cases >= 1);

        // Markdown tables keep their column count whatever the cells hold.
        let markdown = render(Format::Markdown, &report, false);
        for row in markdown.lines().filter(|l| l.starts_with("| ") && !l.starts_with("| Environment")) {
            let columns = row.replace("\\\\", "").replace("\\|", "").matches('|').count();
            prop_assert!(columns == 9 || columns == 7, "{}", row);
        }

        // Coloured text: the only escape sequences are our own SGR ones.
        let colored = render(Format::Text, &report, true);
        let stripped = strip_sgr(&colored);
        prop_assert!(!stripped.contains('\x1b'), "{}", stripped);
    }
}

/// `s` without `ESC [ digits/; m` sequences.
fn strip_sgr(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find("\x1b[") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        let end = after.find(|c: char| !(c.is_ascii_digit() || c == ';'));
        match end {
            Some(e) if after[e..].starts_with('m') => rest = &after[e + 1..],
            _ => {
                out.push('\x1b');
                rest = &rest[i + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// A report as large as a hostile fleet can make one: many findings with huge messages and many
/// failed cells with huge helm errors.
fn huge_report() -> Report {
    let long = "x".repeat(200_000);
    let mut findings = Vec::new();
    let mut cells = Vec::new();
    for i in 0..600 {
        let mut f = ReportFinding::new(
            "digest-required",
            Severity::Error,
            format!("{i} {long}"),
            format!("env{}", i % 40),
            format!("app{i}"),
            "charts/x",
        );
        f.image = Some(format!("ghcr.io/acme/{i}:{}", "t".repeat(100)));
        // Two thirds with an origin, two findings per values file, each a hostile value: every
        // edit of the fix list is as large as it can be.
        if i % 3 != 0 {
            let file = format!("values/{}/{}.yaml", "d".repeat(200), i % 300);
            f.origin = Some(imagegate_report::Origin::new(file, 1));
            f.origin_value = Some(format!("`|@{long}"));
            f.fix = Some(format!("do {long}"));
        }
        findings.push(f);
        cells.push(CellReport::failed(
            format!("env{}", i % 40),
            format!("failed{i}"),
            "charts/x",
            vec![],
            format!("Error: {long}\n{long}"),
        ));
    }
    Report::new(Generator::new("imagegate", "0.1.0"), findings, cells)
}

#[test]
fn a_finding_and_a_helm_error_are_bounded_in_every_report() {
    let report = huge_report();
    assert!(report
        .findings
        .iter()
        .all(|f| f.message.len() <= imagegate_report::model::MAX_MESSAGE_BYTES + 64));
    assert!(report.findings[0].message.ends_with("more bytes cut)"));
    assert!(report.cells.iter().all(
        |c| c.error.as_ref().unwrap().len() <= imagegate_report::model::MAX_MESSAGE_BYTES + 64
    ));
}

#[test]
fn a_markdown_comment_always_fits_what_github_accepts() {
    // GitHub rejects comments over 65,536 characters: the comment must fit whatever the report.
    let report = huge_report();
    let md = render(Format::Markdown, &report, false);
    assert!(md.len() <= 65_536, "{} bytes", md.len());
    assert!(md.starts_with("## ❌ imagegate failed"), "{}", &md[..200]);
    // The fix list's headline survives any cut.
    assert!(
        md.contains("**200 edits fix 400 findings; 800 more findings have no values line"),
        "{md}"
    );
    // Its values are bounded in JSON too.
    assert!(report.fixes.iter().all(
        |f| f.value.as_ref().unwrap().len() <= imagegate_report::model::MAX_MESSAGE_BYTES + 64
    ));
    // The ordinary report is not cut at all.
    let small = report_of(3);
    let md = render(Format::Markdown, &small, false);
    assert!(!md.contains("larger than a pull-request comment"), "{md}");
    assert_eq!(md.matches("| ❌").count(), 3 + 3, "{md}");
}

fn report_of(n: usize) -> Report {
    let findings = (0..n)
        .map(|i| {
            ReportFinding::new(
                "mutable-tag",
                Severity::Error,
                "m",
                "dev",
                format!("a{i}"),
                "c",
            )
        })
        .collect();
    let cells = (0..n)
        .map(|i| CellReport::failed("dev", format!("f{i}"), "c", vec![], "Error: x"))
        .collect();
    Report::new(Generator::new("imagegate", "0.1.0"), findings, cells)
}

#[test]
fn a_diff_comment_always_fits_what_github_accepts() {
    use imagegate_report::diff::{
        render_diff, CellChange, ChangeKind, DiffFormat, DiffReport, Side,
    };
    let report = huge_report();
    let mut diff = DiffReport::new(
        Generator::new("imagegate", "0.1.0"),
        Side {
            git_ref: Some("main".into()),
            commit: None,
        },
        Side {
            git_ref: None,
            commit: None,
        },
    );
    diff.new = report.findings.clone();
    diff.fixed = report.findings.clone();
    diff.unchanged = report.findings;
    for i in 0..900 {
        diff.changes.push(CellChange {
            kind: ChangeKind::Changed,
            environment: format!("env{i}"),
            app: format!("app{i}"),
            chart: "charts/x".into(),
            inputs: vec!["x".repeat(300)],
            base: None,
            head: None,
            image_changes: Vec::new(),
            diff: Some("+x\n".repeat(20_000)),
            diff_truncated: false,
        });
    }
    let diff = diff.finish();
    let options = FormatOptions {
        text: TextOptions::default(),
        rules: &[],
        path_prefix: "",
    };
    let mut out = Vec::new();
    render_diff(DiffFormat::Markdown, &diff, &options, &mut out).unwrap();
    let md = String::from_utf8(out).unwrap();
    assert!(md.len() <= 65_536, "{} bytes", md.len());
    assert!(md.starts_with("## ❌ imagegate: "), "{}", &md[..200]);
}
