//! Every output format over the whole test fleet, from one real `imagegate check` run: snapshots
//! of each, the SARIF validated against the SARIF 2.1.0 schema, the JUnit parsed with one test
//! case per cell, and the GitHub annotations pointing at files that exist.

mod common;
use common::*;
use std::collections::BTreeMap;
use std::sync::OnceLock;

const FORMATS: [(&str, &str); 7] = [
    ("text", "report.txt"),
    ("json", "report.json"),
    ("sarif", "report.sarif"),
    ("junit", "junit.xml"),
    ("github", "annotations.txt"),
    ("markdown", "summary.md"),
    ("gitlab", "gl-code-quality-report.json"),
];

/// Runs the check once and returns each format's output with the helm version normalised
/// (the suite runs on Helm 3 and Helm 4; everything else must be identical).
fn outputs() -> &'static BTreeMap<&'static str, String> {
    static OUT: OnceLock<BTreeMap<&'static str, String>> = OnceLock::new();
    OUT.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let mut args = vec![
            "check".to_string(),
            "--config".into(),
            "charts-testdata/imagegate.yaml".into(),
            "--no-progress".into(),
            "--no-cache".into(),
        ];
        for (format, file) in FORMATS {
            args.push("--output".into());
            args.push(format!("{format}={}", dir.path().join(file).display()));
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = imagegate(&args, &root());
        assert_eq!(out.status.code(), Some(1), "stderr: {}", stderr(&out));
        let version = helm_version();
        FORMATS
            .iter()
            .map(|(format, file)| {
                let text = std::fs::read_to_string(dir.path().join(file)).unwrap();
                (*format, text.replace(&version, "[helm-version]"))
            })
            .collect()
    })
}

fn helm_version() -> String {
    let out = std::process::Command::new(helm())
        .args(["version", "--template", "{{.Version}}"])
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

fn helm_snapshot_every_format() {
    let outs = outputs();
    for (format, _) in FORMATS {
        insta::assert_snapshot!(format!("fleet_{format}"), outs[format]);
    }
}

fn helm_sarif_is_valid_sarif_2_1_0() {
    let sarif: serde_json::Value = serde_json::from_str(&outputs()["sarif"]).unwrap();
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("crates/report/tests/sarif-schema-2.1.0.json"))
            .unwrap(),
    )
    .unwrap();
    let validator = jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&sarif)
        .map(|e| format!("{} at {}", e, e.instance_path))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    let report: serde_json::Value = serde_json::from_str(&outputs()["json"]).unwrap();
    assert_eq!(
        results.len(),
        report["findings"].as_array().unwrap().len(),
        "one result per finding"
    );
    for r in results {
        let location = &r["locations"][0]["physicalLocation"];
        let uri = location["artifactLocation"]["uri"].as_str().unwrap();
        let line = location["region"]["startLine"].as_u64().unwrap();
        // Relative to the checkout's root (the fleet is its charts-testdata folder here), so code
        // scanning can attach the alert: a tracked file, and a line it has.
        assert!(tracked_line(uri, line), "{uri}:{line}");
        assert!(r["partialFingerprints"]
            .as_object()
            .is_some_and(|m| !m.is_empty()));
    }
}

fn helm_junit_has_one_test_case_per_cell() {
    let xml = &outputs()["junit"];
    let doc = roxmltree::Document::parse(xml).expect("JUnit XML parses");
    let cases: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .collect();
    // One case per cell, plus one for the repository-level findings (an expired exception),
    // so that no error finding is missing from a JUnit view.
    let (repo_cases, cell_cases): (Vec<&roxmltree::Node>, Vec<&roxmltree::Node>) = cases
        .iter()
        .partition(|c| c.attribute("classname") == Some("repository"));
    assert_eq!(cell_cases.len(), 52);
    assert_eq!(repo_cases.len(), 1);
    let failed = cell_cases
        .iter()
        .filter(|c| c.children().any(|n| n.has_tag_name("failure")))
        .count();
    let report: serde_json::Value = serde_json::from_str(&outputs()["json"]).unwrap();
    let failing_cells: std::collections::BTreeSet<_> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| {
            f["severity"] == "error"
                && f["excepted"] == false
                && !f["app"].as_str().unwrap_or("").is_empty()
        })
        .map(|f| {
            (
                f["environment"].as_str().unwrap().to_string(),
                f["app"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(failed, failing_cells.len());
}

fn helm_github_annotations_point_at_files() {
    for line in outputs()["github"].lines() {
        assert!(
            line.starts_with("::error ") || line.starts_with("::warning "),
            "{line}"
        );
        let rest = line.split("file=").nth(1).unwrap();
        let file = rest.split([',', ':']).next().unwrap();
        let at = rest
            .split("line=")
            .nth(1)
            .and_then(|l| l.split([',', ':']).next())
            .map_or(1, |l| l.parse().unwrap());
        // From the checkout's root, as GitHub resolves annotations: a tracked file and a line it has.
        assert!(tracked_line(file, at), "{line}");
    }
}

fn helm_gitlab_code_quality_points_at_tracked_lines_with_unique_fingerprints() {
    let issues: Vec<serde_json::Value> = serde_json::from_str(&outputs()["gitlab"]).unwrap();
    let report: serde_json::Value = serde_json::from_str(&outputs()["json"]).unwrap();
    let unexcepted = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["excepted"] == false)
        .count();
    assert_eq!(
        issues.len(),
        unexcepted,
        "one issue per finding no exception covers"
    );
    let mut prints = std::collections::BTreeSet::new();
    for issue in &issues {
        let path = issue["location"]["path"].as_str().unwrap();
        let line = issue["location"]["lines"]["begin"].as_u64().unwrap();
        assert!(tracked_line(path, line), "{path}:{line}");
        assert!(
            ["info", "minor", "major", "critical", "blocker"]
                .contains(&issue["severity"].as_str().unwrap()),
            "{issue}"
        );
        assert!(!issue["description"].as_str().unwrap().is_empty());
        assert!(prints.insert(issue["fingerprint"].as_str().unwrap().to_string()));
    }
}

/// Whether `path` (from the checkout's root) is a file git tracks with at least `line` lines.
fn tracked_line(path: &str, line: u64) -> bool {
    let tracked = std::process::Command::new("git")
        .args(["ls-files", "--error-unmatch", "--", path])
        .current_dir(root())
        .output()
        .is_ok_and(|o| o.status.success());
    let lines = std::fs::read_to_string(root().join(path)).map_or(0, |t| t.lines().count());
    tracked && line >= 1 && line as usize <= lines.max(1)
}

/// One test, one fleet run: nextest runs each test in a process of its own, so separate tests
/// would each render the whole fleet again for the same outputs.
#[test]
fn helm_every_format_over_the_fleet() {
    helm_snapshot_every_format();
    helm_sarif_is_valid_sarif_2_1_0();
    helm_junit_has_one_test_case_per_cell();
    helm_github_annotations_point_at_files();
    helm_gitlab_code_quality_points_at_tracked_lines_with_unique_fingerprints();
}
