//! `--format github` within what GitHub shows: the annotations go most important first (errors,
//! warnings; by the rule's `security-severity`, then file and line), at most ten of each level,
//! and one closing notice counts the findings left out.

use imagegate_report::{
    render_to_string, Generator, GithubRenderer, Origin, Report, ReportFinding, RuleMeta, Severity,
    TemplateLocation,
};

/// Rules with the security severities of imagegate's own registry, and one without any.
fn rules() -> Vec<RuleMeta> {
    [
        ("digest-required", Some("8.0")),
        ("render-failed", Some("5.0")),
        ("pull-policy-missing", Some("4.0")),
        ("values-file-unused", None),
    ]
    .into_iter()
    .map(|(id, sev)| {
        let meta = RuleMeta::new(id, "summary", "doc", Severity::Error);
        match sev {
            Some(s) => meta.with_code_scanning(s, &[]),
            None => meta,
        }
    })
    .collect()
}

fn finding(rule: &str, severity: Severity, app: &str, file: &str, line: u32) -> ReportFinding {
    let mut f = ReportFinding::new(rule, severity, "m", "dev", app, "charts/web");
    f.origin = Some(Origin::new(file, line));
    f
}

fn render(findings: Vec<ReportFinding>) -> String {
    let rules = rules();
    let report = Report::new(Generator::new("imagegate", "0"), findings, vec![]);
    let renderer = GithubRenderer {
        path_prefix: "gitops",
        rules: &rules,
    };
    render_to_string(&renderer, &report).expect("renders")
}

/// `level file:line rule app` of every annotation, and the notice's text.
fn summary(out: &str) -> Vec<String> {
    out.lines()
        .map(|line| {
            let (command, rest) = line[2..].split_once(' ').expect("properties");
            let (properties, message) = rest.split_once("::").expect("message");
            let get = |key: &str| {
                properties
                    .split(',')
                    .find_map(|p| p.strip_prefix(&format!("{key}=")))
                    .unwrap_or("")
                    .to_owned()
            };
            if command == "notice" {
                return format!("notice {message}");
            }
            format!(
                "{command} {}:{} {}",
                get("file"),
                get("line"),
                get("title").replace("imagegate ", "")
            )
        })
        .collect()
}

#[test]
fn the_most_important_come_first_and_ties_go_by_file_and_line() {
    let out = render(vec![
        finding("values-file-unused", Severity::Warning, "a", "v/a.yaml", 1),
        finding("pull-policy-missing", Severity::Error, "b", "v/b.yaml", 9),
        finding("pull-policy-missing", Severity::Error, "c", "v/b.yaml", 2),
        finding("render-failed", Severity::Error, "d", "v/z.yaml", 1),
        finding("digest-required", Severity::Warning, "e", "v/e.yaml", 3),
        finding("digest-required", Severity::Error, "f", "v/y.yaml", 4),
        finding("mutable-tag", Severity::Error, "g", "v/a.yaml", 1),
    ]);
    insta::assert_snapshot!(summary(&out).join("\n"), @r"
    error gitops/v/y.yaml:4 digest-required in dev/f
    error gitops/v/z.yaml:1 render-failed in dev/d
    error gitops/v/b.yaml:2 pull-policy-missing in dev/c
    error gitops/v/b.yaml:9 pull-policy-missing in dev/b
    error gitops/v/a.yaml:1 mutable-tag in dev/g
    warning gitops/v/e.yaml:3 digest-required in dev/e
    warning gitops/v/a.yaml:1 values-file-unused in dev/a
    ");
    // Everything fitted: no notice.
    assert!(!out.contains("::notice"), "{out}");
}

#[test]
fn ten_of_each_level_and_one_notice_for_the_rest() {
    let mut findings = Vec::new();
    for i in 0..13 {
        let rule = if i % 2 == 0 {
            "digest-required"
        } else {
            "pull-policy-missing"
        };
        findings.push(finding(
            rule,
            Severity::Error,
            &format!("e{i:02}"),
            "v/e.yaml",
            i + 1,
        ));
    }
    for i in 0..11 {
        findings.push(finding(
            "values-file-unused",
            Severity::Warning,
            &format!("w{i:02}"),
            "v/w.yaml",
            i + 1,
        ));
    }
    // Excepted findings are never annotated, nor counted as left out.
    let mut excepted = finding("digest-required", Severity::Error, "x", "v/x.yaml", 1);
    excepted.excepted = true;
    findings.push(excepted);
    let out = render(findings);
    insta::assert_snapshot!(summary(&out).join("\n"), @r"
    error gitops/v/e.yaml:1 digest-required in dev/e00
    error gitops/v/e.yaml:3 digest-required in dev/e02
    error gitops/v/e.yaml:5 digest-required in dev/e04
    error gitops/v/e.yaml:7 digest-required in dev/e06
    error gitops/v/e.yaml:9 digest-required in dev/e08
    error gitops/v/e.yaml:11 digest-required in dev/e10
    error gitops/v/e.yaml:13 digest-required in dev/e12
    error gitops/v/e.yaml:2 pull-policy-missing in dev/e01
    error gitops/v/e.yaml:4 pull-policy-missing in dev/e03
    error gitops/v/e.yaml:6 pull-policy-missing in dev/e05
    warning gitops/v/w.yaml:1 values-file-unused in dev/w00
    warning gitops/v/w.yaml:2 values-file-unused in dev/w01
    warning gitops/v/w.yaml:3 values-file-unused in dev/w02
    warning gitops/v/w.yaml:4 values-file-unused in dev/w03
    warning gitops/v/w.yaml:5 values-file-unused in dev/w04
    warning gitops/v/w.yaml:6 values-file-unused in dev/w05
    warning gitops/v/w.yaml:7 values-file-unused in dev/w06
    warning gitops/v/w.yaml:8 values-file-unused in dev/w07
    warning gitops/v/w.yaml:9 values-file-unused in dev/w08
    warning gitops/v/w.yaml:10 values-file-unused in dev/w09
    notice 3 errors and 1 warning not annotated: GitHub shows at most 10 error and 10 warning annotations per step, so only the most severe are annotated. See the job summary (the markdown report written to $GITHUB_STEP_SUMMARY) or the JSON report for every finding.
    ");
    assert_eq!(
        out.lines()
            .last()
            .map(|l| l.starts_with("::notice title=imagegate::")),
        Some(true)
    );
}

#[test]
fn the_notice_counts_one_level_alone() {
    let findings = (0..12)
        .map(|i| finding("digest-required", Severity::Error, "a", "v/a.yaml", i + 1))
        .collect();
    let out = render(findings);
    let notice = out.lines().last().unwrap_or_default();
    assert!(
        notice.starts_with("::notice title=imagegate::2 errors not annotated: "),
        "{notice}"
    );
    assert_eq!(
        out.lines().filter(|l| l.starts_with("::error ")).count(),
        10
    );
}

#[test]
fn a_template_line_carries_its_columns() {
    let mut f = ReportFinding::new(
        "render-failed",
        Severity::Error,
        "m",
        "dev",
        "a",
        "charts/web",
    );
    f.template_location = Some(TemplateLocation {
        line: Some(5),
        column: Some(9),
        end_column: Some(20),
        ..TemplateLocation::file("charts/web/templates/app.yaml")
    });
    let mut tgz = ReportFinding::new(
        "render-failed",
        Severity::Error,
        "m",
        "dev",
        "b",
        "charts/web",
    );
    tgz.template_location = Some(TemplateLocation {
        line: Some(4),
        column: Some(9),
        ..TemplateLocation::file("charts/web/charts/sub-0.1.0.tgz:sub/templates/s.yaml")
    });
    let out = render(vec![f, tgz]);
    let of = |app: &str| {
        out.lines()
            .find(|l| l.contains(&format!("in dev/{app}::")))
            .unwrap_or_default()
    };
    assert!(
        of("a").starts_with(
            "::error file=gitops/charts/web/templates/app.yaml,line=5,col=9,endColumn=20,title="
        ),
        "{out}"
    );
    // A checkout has the archive, not the file inside it: the annotation names the archive and
    // the message the place inside it.
    assert!(
        of("b").starts_with("::error file=gitops/charts/web/charts/sub-0.1.0.tgz,title="),
        "{out}"
    );
    assert!(
        of("b").contains("at charts/web/charts/sub-0.1.0.tgz:sub/templates/s.yaml:4:9"),
        "{out}"
    );
}
