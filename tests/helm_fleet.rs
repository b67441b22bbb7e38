//! End to end on charts-testdata with real helm: the findings must equal `expected.json`
//! exactly (no missing, no extra), failed cells are `render-failed`, and every other cell is
//! still judged. Every output format comes from the same run: snapshots of each, the SARIF
//! validated against the SARIF 2.1.0 schema, the JUnit parsed with one test case per cell, and
//! the GitHub annotations pointing at files that exist.

mod common;
use common::*;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

fn key(v: &Value) -> String {
    // A repository-level finding (an exception's hygiene) has no cell: null and "" both say so.
    let s = |k: &str| {
        v.get(k)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .unwrap_or("-")
            .to_string()
    };
    let obj = v.get("object").filter(|o| !o.is_null());
    let kind = obj
        .and_then(|o| o.get("kind"))
        .or_else(|| v.get("kind"))
        .and_then(Value::as_str)
        .unwrap_or("-");
    let name = obj
        .and_then(|o| o.get("name"))
        .or_else(|| v.get("name"))
        .and_then(Value::as_str)
        .unwrap_or("-");
    format!(
        "{} | {} | {} | {kind}/{name} | {} | {} | excepted={}",
        s("rule"),
        s("environment"),
        s("app"),
        s("container"),
        s("image"),
        v.get("excepted").and_then(Value::as_bool).unwrap_or(false)
    )
}

/// `check --format json ARGS` on the fleet: (exit status, report).
fn check_json(args: &[&str]) -> (Option<i32>, Value) {
    let mut all = vec![
        "check",
        "--config",
        "charts-testdata/imagegate.yaml",
        "--format",
        "json",
        "--no-progress",
    ];
    all.extend_from_slice(args);
    let out = imagegate(&all, &root());
    let report = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{args:?}: {e}; stderr: {}", stderr(&out)));
    (out.status.code(), report)
}

const FORMATS: [(&str, &str); 7] = [
    ("text", "report.txt"),
    ("json", "report.json"),
    ("sarif", "report.sarif"),
    ("junit", "junit.xml"),
    ("github", "annotations.txt"),
    ("markdown", "summary.md"),
    ("gitlab", "gl-code-quality-report.json"),
];

/// The one run of the whole fleet the checks below share (uncached, so every cell's status is
/// `rendered` or `failed` in the snapshots): the JSON report of its stdout, and each format it
/// wrote with `--output`, the helm version normalised (the suite runs on Helm 3 and Helm 4;
/// everything else must be identical).
struct FleetRun {
    report: Value,
    outputs: BTreeMap<&'static str, String>,
}

fn fleet_run() -> &'static FleetRun {
    static RUN: OnceLock<FleetRun> = OnceLock::new();
    RUN.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let mut args = vec!["--no-cache".to_string()];
        for (format, file) in FORMATS {
            args.push("--output".into());
            args.push(format!("{format}={}", dir.path().join(file).display()));
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (code, report) = check_json(&args);
        assert_eq!(code, Some(1), "the fleet has error findings");
        let version = helm_version();
        let outputs = FORMATS
            .iter()
            .map(|(format, file)| {
                let text = std::fs::read_to_string(dir.path().join(file)).unwrap();
                (*format, text.replace(&version, "[helm-version]"))
            })
            .collect();
        FleetRun { report, outputs }
    })
}

/// The whole fleet's report.
fn check_fleet() -> Value {
    fleet_run().report.clone()
}

/// Each format's output of the fleet's run.
fn outputs() -> &'static BTreeMap<&'static str, String> {
    &fleet_run().outputs
}

fn helm_fleet_findings_equal_expected() {
    let report = check_fleet();
    assert_eq!(report["schema"], "imagegate/report/v1");
    let expected: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("charts-testdata/expected.json")).unwrap(),
    )
    .unwrap();
    let want: Vec<String> = expected.as_array().unwrap().iter().map(key).collect();
    let got: Vec<String> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(key)
        .collect();
    let want_set: BTreeSet<_> = want.iter().cloned().collect();
    let got_set: BTreeSet<_> = got.iter().cloned().collect();
    let missing: Vec<_> = want_set.difference(&got_set).collect();
    let extra: Vec<_> = got_set.difference(&want_set).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "missing findings:\n{missing:#?}\nextra findings:\n{extra:#?}"
    );
    assert_eq!(
        want.len(),
        got.len(),
        "same findings, but some are reported more than once"
    );
}

fn helm_fleet_failed_cells_are_reported_and_the_rest_judged() {
    let report = check_fleet();
    let cells = report["cells"].as_array().unwrap();
    assert_eq!(cells.len(), 52);
    let failed: Vec<_> = cells.iter().filter(|c| c["status"] == "failed").collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["app"], "dev-agents");
    assert!(failed[0]["error"]
        .as_str()
        .unwrap()
        .contains("image.ref is required"));
    assert!(cells
        .iter()
        .filter(|c| c["status"] == "rendered")
        .all(|c| c["documents"].as_u64().unwrap() > 0
            || c["app"].as_str().unwrap().contains("agents")));
    assert_eq!(report["summary"]["cells"], 52);
    assert_eq!(report["summary"]["failed"], 1);
    let rf: Vec<_> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"] == "render-failed")
        .collect();
    assert_eq!(rf.len(), 1);
    assert_eq!(rf[0]["app"], "dev-agents");
}

fn helm_fleet_every_image_finding_says_where_to_fix_it() {
    let report = check_fleet();
    for f in report["findings"].as_array().unwrap() {
        if f["image"].is_null() {
            continue;
        }
        assert!(
            f["template"].is_string(),
            "image finding without a template: {f}"
        );
    }
}

/// The rules of `check ARGS --format json` on the fleet.
fn rules_of_narrowed(args: &[&str]) -> (Option<i32>, Vec<String>) {
    let (code, report) = check_json(args);
    let rules = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap().to_string())
        .collect();
    (code, rules)
}

#[test]
fn helm_narrowed_runs_answer_for_their_selection_only() {
    // The expired exception is scoped to the cluster cells of ameide-operators: a run narrowed
    // to staging's www is not about it (it used to fail that run).
    let (code, rules) = rules_of_narrowed(&["--env", "staging", "--app", "www"]);
    assert!(
        !rules.contains(&"exception-expired".to_string()),
        "{rules:?}"
    );
    assert_eq!(code, Some(0), "staging/www is clean: {rules:?}");
    // Narrowed to the cells the exception is about, it is reported.
    let (code, rules) = rules_of_narrowed(&["--env", "cluster-azure", "--app", "ameide-operators"]);
    assert!(
        rules.contains(&"exception-expired".to_string()),
        "{rules:?}"
    );
    assert_eq!(code, Some(1));
}

/// The four `invalid-image-ref` scenarios (README #17–#20): each finding points at the values
/// line that causes it, and the empty image a template writes itself points at none.
fn helm_fleet_invalid_image_refs_point_at_their_values_line_or_at_none() {
    let report = check_fleet();
    let invalid: Vec<&Value> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"] == "invalid-image-ref")
        .collect();
    let find = |app: &str, container: &str| -> &Value {
        let hits: Vec<&&Value> = invalid
            .iter()
            .filter(|f| f["app"] == app && f["container"] == container)
            .collect();
        assert_eq!(hits.len(), 1, "{app}/{container} in {invalid:#?}");
        hits[0]
    };
    // The values line, checked against the file itself so a moved line cannot pass.
    let at = |f: &Value, file: &str, line: u64, text: &str| {
        assert_eq!(f["origin"]["file"], file, "{f}");
        assert_eq!(f["origin"]["line"], line, "{f}");
        let source = std::fs::read_to_string(root().join("charts-testdata").join(file)).unwrap();
        assert_eq!(
            source.lines().nth(line as usize - 1).map(str::trim),
            Some(text),
            "{file}:{line}"
        );
    };

    // #17: the empty metrics image comes from the dev overlay's `image: ""`, not from the chart's
    // own `metrics.image: ""` default nor from any other empty value of the stack.
    let metrics = find("dev-graph", "metrics");
    assert_eq!(metrics["image"], "");
    assert_eq!(metrics["object"]["kind"], "Deployment");
    at(
        metrics,
        "sources/values/env/dev/apps/graph.yaml",
        8,
        "image: \"\"",
    );
    assert!(
        metrics["message"]
            .as_str()
            .unwrap()
            .starts_with("`\"\"` in container `metrics` of Deployment/graph"),
        "{metrics}"
    );

    // #18: `default ""` in the template. The stack has empty values under image-like keys (the
    // chart defaults `image.ref: ""` and `modelCache.image: ""`, both overridden; the base
    // globals' `imagePullPolicy: ""`): none of them may be blamed.
    let tokenizer = find("dev-inference", "tokenizer");
    assert_eq!(tokenizer["image"], "");
    assert!(tokenizer["origin"].is_null(), "{tokenizer}");
    assert_eq!(
        tokenizer["template"],
        "inference/templates/statefulset.yaml"
    );

    // #19: the nulled tag of a `repository:{{ tag }}@digest` template.
    let reloader = find("dev-observability-agent", "config-reloader");
    assert_eq!(
        reloader["image"],
        "ghcr.io/lumen/config-reloader:@sha256:8feacb393107ce6c16073de7675329bdd90c42e2f6d5afd70044800fead8c9cb"
    );
    at(
        reloader,
        "sources/values/env/dev/observability/observability-agent.yaml",
        5,
        "tag: null",
    );

    // #20: the truncated digest, at the line that holds the whole reference.
    let mirror = find("dev-registry-mirror", "registry");
    at(
        mirror,
        "sources/values/env/dev/foundation/registry-mirror.yaml",
        3,
        "ref: ameide.azurecr.io/team/registry-mirror@sha256:08f02647b025",
    );
    assert!(
        mirror["message"]
            .as_str()
            .unwrap()
            .contains("12 hex digits where exactly 64 are required"),
        "{mirror}"
    );

    assert_eq!(invalid.len(), 4, "no other invalid-image-ref: {invalid:#?}");
    // Reported alone for that reference: no digest-required or mutable-tag on the same sites.
    for f in report["findings"].as_array().unwrap() {
        let same_site = invalid.iter().any(|i| {
            i["app"] == f["app"] && i["container"] == f["container"] && i["rule"] != f["rule"]
        });
        assert!(!same_site, "another finding on an invalid reference: {f}");
    }
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
    let github = &outputs()["github"];
    let (annotations, notice) = match github.trim_end().rsplit_once('\n') {
        Some((head, last)) if last.starts_with("::notice ") => (head, Some(last)),
        _ => (github.as_str(), None),
    };
    // The fleet fails with more errors than GitHub shows: ten of them, then the notice.
    let errors = annotations
        .lines()
        .filter(|l| l.starts_with("::error "))
        .count();
    assert_eq!(errors, 10, "{github}");
    assert!(
        notice.is_some_and(|n| n.contains("errors not annotated")),
        "{github}"
    );
    for line in annotations.lines() {
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

/// The fix list's headline agrees with the findings: every failing finding with an origin is
/// cleared by exactly one edit, at its origin, and the others are counted apart; text and
/// markdown lead with the same numbers.
fn helm_fleet_fix_list_clears_each_failing_finding_once() {
    let report = check_fleet();
    let failing: Vec<&Value> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["excepted"] == false && f["severity"] == "error")
        .collect();
    let located: Vec<&&Value> = failing.iter().filter(|f| !f["origin"].is_null()).collect();
    let fixes = report["fixes"].as_array().unwrap();
    let counts = &report["summary"]["fixes"];
    assert_eq!(counts["edits"], fixes.len());
    assert_eq!(counts["findings"], located.len());
    assert_eq!(counts["withoutOrigin"], failing.len() - located.len());
    assert!(
        fixes.len() < located.len(),
        "some values line causes several findings"
    );

    // Each cleared finding, with the edit's place, as a multiset.
    let id = |f: &Value| {
        serde_json::json!([
            f["rule"],
            f["environment"],
            f["app"],
            f["object"],
            f["container"],
            f["image"]
        ])
        .to_string()
    };
    let mut cleared: BTreeMap<String, Vec<(Value, Value)>> = BTreeMap::new();
    let mut edits = BTreeSet::new();
    for fix in fixes {
        assert!(
            edits.insert((fix["file"].to_string(), fix["line"].to_string())),
            "two edits of one line: {fix}"
        );
        assert!(!fix["actions"].as_array().unwrap().is_empty(), "{fix}");
        for f in fix["findings"].as_array().unwrap() {
            cleared
                .entry(id(f))
                .or_default()
                .push((fix["file"].clone(), fix["line"].clone()));
        }
    }
    for f in &located {
        let places = cleared.get_mut(&id(f)).and_then(Vec::pop);
        let origin = (f["origin"]["file"].clone(), f["origin"]["line"].clone());
        assert_eq!(places, Some(origin), "not cleared at its origin: {f}");
    }
    let left: Vec<_> = cleared.values().flatten().collect();
    assert!(
        left.is_empty(),
        "edits clear findings that do not fail: {left:?}"
    );

    // Most findings first, ties by file and line.
    let order: Vec<(usize, String, u64)> = fixes
        .iter()
        .map(|f| {
            (
                usize::MAX - f["findings"].as_array().unwrap().len(),
                f["file"].as_str().unwrap().to_string(),
                f["line"].as_u64().unwrap(),
            )
        })
        .collect();
    let mut sorted = order.clone();
    sorted.sort();
    assert_eq!(order, sorted);

    let headline = format!("{} edits fix {} findings", fixes.len(), located.len());
    assert!(
        outputs()["text"].starts_with(&format!("fix list: {headline}")),
        "{}",
        &outputs()["text"][..200]
    );
    assert!(outputs()["markdown"].contains(&format!("**{headline}")));
}

/// One test, one run of the whole fleet: nextest runs each test in a process of its own, so
/// separate tests would each render the whole fleet again for the same report.
#[test]
fn helm_fleet_whole_run() {
    helm_fleet_findings_equal_expected();
    helm_fleet_failed_cells_are_reported_and_the_rest_judged();
    helm_fleet_every_image_finding_says_where_to_fix_it();
    helm_fleet_invalid_image_refs_point_at_their_values_line_or_at_none();
    helm_snapshot_every_format();
    helm_sarif_is_valid_sarif_2_1_0();
    helm_junit_has_one_test_case_per_cell();
    helm_github_annotations_point_at_files();
    helm_gitlab_code_quality_points_at_tracked_lines_with_unique_fingerprints();
    helm_fleet_fix_list_clears_each_failing_finding_once();
}
