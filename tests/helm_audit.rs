//! The nightly audit on the test fleet with real helm: `--history` over a real git history,
//! sharding and merging, and the audit folder with its trend. Promotion lineage, unused and
//! missing overlays and narrowed runs are judged without helm in `crates/engine/tests/`.

mod common;
use common::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

const WWW_STAGING: &str = "sha256:7c2ecd07f155648431e0f94b89247d713c5786e1e73e953f2fe7eca39534cd6d";
const WWW_HOTFIX: &str = "sha256:4bd7a2700ca3da1a2821ee53646a9e6655b7dda312b7e761b3d9770b32023dcd";

/// A fresh copy of charts-testdata under `dir/sub`.
fn fleet_copy(dir: &Path, sub: &str) -> PathBuf {
    let root = dir.join(sub);
    copy_tree(&root_dir().join("charts-testdata"), &root);
    root
}

fn root_dir() -> PathBuf {
    root()
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn json(out: &std::process::Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}); stderr: {}\nstdout: {}",
            stderr(out),
            stdout(out)
        )
    })
}

fn findings<'a>(report: &'a Value, rule: &str) -> Vec<&'a Value> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"] == rule)
        .collect()
}

fn apps(findings: &[&Value]) -> Vec<String> {
    let mut v: Vec<String> = findings
        .iter()
        .map(|f| f["app"].as_str().unwrap().to_string())
        .collect();
    v.sort();
    v
}

#[test]
fn helm_history_accepts_a_digest_staging_ran_in_an_earlier_commit() {
    // A git repository whose fleet lives in a subfolder (so the history reads `commit:fleet`).
    let dir = tempfile::tempdir().unwrap();
    let fleet = fleet_copy(dir.path(), "fleet");
    let staging_www = fleet.join("sources/values/env/staging/apps/www.yaml");
    // Commit 1: staging ran the hotfix digest that production runs today.
    write(
        &staging_www,
        &format!("image:\n  ref: ghcr.io/ameideio/www@{WWW_HOTFIX}\n"),
    );
    git(dir.path(), &["init", "-q"]);
    git(dir.path(), &["add", "-A"]);
    git(
        dir.path(),
        &["commit", "-q", "-m", "staging runs the hotfix"],
    );
    // Commit 2: staging moved on; production still runs the hotfix.
    write(
        &staging_www,
        &format!("image:\n  ref: ghcr.io/ameideio/www@{WWW_STAGING}\n"),
    );
    git(dir.path(), &["commit", "-q", "-am", "staging moves on"]);
    let before = std::fs::read_to_string(dir.path().join(".git/HEAD")).unwrap();

    let run = |extra: &[&str]| {
        let mut args = vec![
            "check",
            "--env",
            "staging",
            "--env",
            "production",
            "--format",
            "json",
            "--no-progress",
        ];
        args.extend_from_slice(extra);
        let out = imagegate(&args, &fleet);
        assert_eq!(out.status.code(), Some(1), "stderr: {}", stderr(&out));
        json(&out)
    };
    // Without the history, or with one commit (only HEAD), all three are drift: judged over the
    // fake helm in crates/engine/tests/history.rs.
    let history = run(&["--history", "2"]);
    assert_eq!(
        apps(&findings(&history, "promotion-drift")),
        ["production-graph", "production-transformation-v0"],
        "the hotfix ran in staging one commit ago: accepted; the others never ran there"
    );
    let graph = findings(&history, "promotion-drift")[0]["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        graph.contains("(today or in the last 2 commits)"),
        "{graph}"
    );

    // Read with git archive only: the checkout is as it was.
    assert_eq!(
        std::fs::read_to_string(dir.path().join(".git/HEAD")).unwrap(),
        before
    );
    let status = Command::new("git")
        .args(["status", "--porcelain"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(status.stdout.is_empty(), "{}", stdout(&status));
}

/// Findings as compared across runs: the whole serialized finding.
fn finding_list(report: &Value) -> Vec<String> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.to_string())
        .collect()
}

/// The cells of a report, a cell served from the cache counted as rendered.
fn cells_rendered(report: &Value) -> Value {
    let mut cells = report["cells"].clone();
    for c in cells.as_array_mut().unwrap() {
        if c["status"] == "cached" {
            c["status"] = "rendered".into();
        }
    }
    cells
}

/// The shards are served from the cache the full run fills (the cache changes nothing in a
/// report: helm_diff's warm-cache test): the merge is what this is about.
fn helm_shards_merged_equal_one_full_run() {
    let root = root();
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name).to_string_lossy().into_owned();
    let full = imagegate(
        &[
            "check",
            "-c",
            "charts-testdata/imagegate.yaml",
            "--format",
            "json",
            "--output",
            &format!("sarif={}", path("full.sarif")),
            "--no-progress",
        ],
        &root,
    );
    assert_eq!(full.status.code(), Some(1), "stderr: {}", stderr(&full));
    let full = json(&full);
    assert!(
        full.get("shard").is_none(),
        "a full run has no shard record"
    );

    let mut cells = 0;
    for k in 1..=3 {
        let shard = format!("{k}/3");
        let file = path(&format!("shard-{k}.json"));
        let out = imagegate(
            &[
                "check",
                "-c",
                "charts-testdata/imagegate.yaml",
                "--shard",
                &shard,
                "--format",
                "json",
                "--output",
                &format!("json={file}"),
                "--no-progress",
                "--quiet",
            ],
            &root,
        );
        assert!(
            matches!(out.status.code(), Some(0 | 1)),
            "stderr: {}",
            stderr(&out)
        );
        let report: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        assert_eq!(report["shard"]["index"], k);
        let n = report["cells"].as_array().unwrap().len();
        assert!(n > 0 && n < 52, "shard {shard} has {n} cells");
        assert!(
            cells_with_status(&report, "cached") > 0,
            "shard {shard} renders from the cache"
        );
        cells += n;
        // Whole-fleet rules are left to the merge.
        for rule in ["promotion-drift", "values-file-unused", "exception-unused"] {
            assert!(
                findings(&report, rule).is_empty(),
                "{rule} in shard {shard}"
            );
        }
    }
    assert_eq!(cells, 52, "every cell in exactly one shard");

    let merged = imagegate(
        &[
            "merge",
            "-c",
            "charts-testdata/imagegate.yaml",
            &path("shard-2.json"),
            &path("shard-1.json"),
            &path("shard-3.json"),
            "--format",
            "json",
            "--output",
            &format!("sarif={}", path("merged.sarif")),
        ],
        &root,
    );
    assert_eq!(merged.status.code(), Some(1), "stderr: {}", stderr(&merged));
    let merged = json(&merged);
    assert_eq!(finding_list(&merged), finding_list(&full));
    assert_eq!(cells_rendered(&merged), cells_rendered(&full));
    assert_eq!(merged["summary"], full["summary"]);
    assert!(merged.get("shard").is_none());
    // Every format is rendered from the merged report as from the full one.
    assert_eq!(
        std::fs::read_to_string(path("merged.sarif")).unwrap(),
        std::fs::read_to_string(path("full.sarif")).unwrap()
    );

    // A merge that misses a shard would judge exception-unused on part of the fleet: refused.
    let partial = imagegate(
        &[
            "merge",
            "-c",
            "charts-testdata/imagegate.yaml",
            &path("shard-1.json"),
            &path("shard-3.json"),
        ],
        &root,
    );
    assert_eq!(partial.status.code(), Some(2));
    assert!(
        stderr(&partial).contains("2/3 missing"),
        "{}",
        stderr(&partial)
    );
    // So is a report that is not a shard's.
    let full_file = path("full.json");
    std::fs::write(&full_file, serde_json::to_string(&full).unwrap()).unwrap();
    let not_shard = imagegate(
        &["merge", "-c", "charts-testdata/imagegate.yaml", &full_file],
        &root,
    );
    assert_eq!(not_shard.status.code(), Some(2));
    assert!(stderr(&not_shard).contains("not a shard report"));
}

/// Its renders come from the cache the shards' full run filled, where the inputs are the same.
fn helm_audit_writes_every_file_and_the_trend() {
    let dir = tempfile::tempdir().unwrap();
    let fleet = fleet_copy(dir.path(), "fleet");
    let first = dir.path().join("audit-1");
    let out = imagegate(
        &["audit", "--out", first.to_str().unwrap(), "--no-progress"],
        &fleet,
    );
    assert_eq!(out.status.code(), Some(1), "stderr: {}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("52 cells (1 failed)"), "{text}");
    assert!(text.contains("promotion-drift"), "{text}");

    let read = |name: &str| std::fs::read_to_string(first.join(name)).unwrap();
    let report: Value = serde_json::from_str(&read("report.json")).unwrap();
    assert_eq!(report["schema"], "imagegate/report/v1");
    assert_eq!(findings(&report, "promotion-drift").len(), 3);
    assert_eq!(findings(&report, "values-file-unused").len(), 1);
    let sarif: Value = serde_json::from_str(&read("report.sarif")).unwrap();
    assert_eq!(sarif["version"], "2.1.0");
    let junit = read("junit.xml");
    assert!(junit.starts_with("<?xml"), "{junit}");
    // One test case per cell, and one for the repository-level findings.
    assert_eq!(junit.matches("<testcase ").count(), 53, "{junit}");
    assert!(junit.contains("name=\"(repository)\""), "{junit}");
    let summary = read("summary.md");
    assert!(summary.contains("promotion-drift"), "{summary}");
    let images: Value = serde_json::from_str(&read("images.json")).unwrap();
    assert_eq!(images["schema"], "imagegate/images/v1");
    let rows = images["images"].as_array().unwrap();
    assert_eq!(
        rows.len() as u64,
        report["summary"]["images"].as_u64().unwrap()
    );
    assert_eq!(images["failedCells"], serde_json::json!(["dev/dev-agents"]));
    let csv = read("images.csv");
    assert_eq!(
        csv.lines().count(),
        rows.len() + 1,
        "a header and one line per image"
    );
    assert!(csv.starts_with("environment,app,kind,"), "{csv}");
    assert!(!first.join("trend.json").exists());

    // Promote properly: production www takes staging's digest. The next audit sees one drift
    // fixed, and the digest change.
    write(
        &fleet.join("sources/values/env/production/apps/www.yaml"),
        &format!("image:\n  ref: ghcr.io/ameideio/www@{WWW_STAGING}\n"),
    );
    let second = dir.path().join("audit-2");
    let out = imagegate(
        &[
            "audit",
            "--out",
            second.to_str().unwrap(),
            "--baseline",
            first.to_str().unwrap(),
            "--no-progress",
        ],
        &fleet,
    );
    assert_eq!(out.status.code(), Some(1), "stderr: {}", stderr(&out));
    assert!(
        stdout(&out).contains(": 0 new, 1 fixed, 1 digest changes"),
        "{}",
        stdout(&out)
    );
    let trend: Value =
        serde_json::from_str(&std::fs::read_to_string(second.join("trend.json")).unwrap()).unwrap();
    assert_eq!(trend["schema"], "imagegate/trend/v1");
    // Checked by `imagegate` too (every JSON file of `--out`); said here, where it is read.
    common::assert_schema_valid(&trend, "trend.json");
    assert_eq!(trend["newFindings"], serde_json::json!([]));
    let fixed = trend["fixedFindings"].as_array().unwrap();
    assert_eq!(fixed.len(), 1);
    assert_eq!(fixed[0]["rule"], "promotion-drift");
    assert_eq!(fixed[0]["app"], "production-www");
    let changes = trend["digestChanges"].as_array().unwrap();
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0]["app"], "production-www");
    assert_eq!(changes[0]["object"], "Deployment/www");
    assert_eq!(
        changes[0]["before"],
        format!("ghcr.io/ameideio/www@{WWW_HOTFIX}").as_str()
    );
    assert_eq!(
        changes[0]["after"],
        format!("ghcr.io/ameideio/www@{WWW_STAGING}").as_str()
    );
    let summary = std::fs::read_to_string(second.join("summary.md")).unwrap();
    assert!(summary.contains("## Since the last audit"), "{summary}");
}

/// One test, one render of the whole fleet: nextest runs each test in a process of its own,
/// whose render cache the shards' full run fills and the rest reads.
#[test]
fn helm_shards_then_audit_over_one_cache() {
    helm_shards_merged_equal_one_full_run();
    helm_audit_writes_every_file_and_the_trend();
}
