//! Without `--config`, imagegate uses the `imagegate.yaml` of the working folder or the nearest
//! folder above it, never one above the git repository root; reports read the same from
//! anywhere inside the fleet. Real helm, on copies of the test fleet.

mod common;
use common::*;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// A copy of charts-testdata at `dir/sub` (`sub` may be empty).
fn fleet_at(dir: &Path, sub: &str) -> PathBuf {
    let fleet = dir.join(sub);
    copy_tree(&root().join("charts-testdata"), &fleet);
    fleet
}

fn json(out: &std::process::Output) -> Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}); stderr: {}", stderr(out)))
}

/// `check --env dev` in JSON and SARIF from `cwd`, no `--config`.
fn check_dev(cwd: &Path) -> (Value, Value) {
    let reports = tempfile::tempdir().unwrap();
    let sarif = reports.path().join("imagegate.sarif");
    let out = imagegate(
        &[
            "check",
            "--env",
            "dev",
            "--no-progress",
            "--format",
            "json",
            "--output",
            sarif.to_str().unwrap(),
        ],
        cwd,
    );
    assert_eq!(out.status.code(), Some(1), "stderr: {}", stderr(&out));
    let sarif: Value = serde_json::from_str(&std::fs::read_to_string(&sarif).unwrap()).unwrap();
    (json(&out), sarif)
}

fn uris(sarif: &Value) -> Vec<String> {
    sarif["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| {
            let located = r["locations"].as_array().unwrap().iter();
            let related = r["relatedLocations"].as_array().into_iter().flatten();
            located.chain(related).map(|l| {
                l["physicalLocation"]["artifactLocation"]["uri"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
        })
        .collect()
}

#[test]
fn helm_a_run_from_a_nested_folder_uses_the_fleet_configuration_above_it() {
    let dir = tempfile::tempdir().unwrap();
    let fleet = fleet_at(dir.path(), "gitops");
    git(dir.path(), &["init", "-q"]);
    git(dir.path(), &["add", "-A"]);
    git(dir.path(), &["commit", "-q", "-m", "fleet"]);

    let (at_root, sarif_at_root) = check_dev(&fleet);
    let nested = fleet.join("environments/_shared/components");
    let (from_nested, sarif_from_nested) = check_dev(&nested);
    assert!(!at_root["findings"].as_array().unwrap().is_empty());
    // The same run: findings, their configuration-relative paths and the SARIF locations.
    assert_eq!(at_root["findings"], from_nested["findings"]);
    // The second run reads renders from the cache: the status says so, the rest is the same.
    let cells = |r: &Value| -> Vec<Value> {
        let mut cells = r["cells"].as_array().unwrap().clone();
        for c in &mut cells {
            c.as_object_mut().unwrap().remove("status");
        }
        cells
    };
    assert_eq!(cells(&at_root), cells(&from_nested));
    let (a, b) = (uris(&sarif_at_root), uris(&sarif_from_nested));
    assert_eq!(a, b);
    // SARIF names the files from the checkout's root, where git has them.
    let tracked = git(dir.path(), &["ls-files"]);
    for uri in &a {
        assert!(uri.starts_with("gitops/"), "{uri}");
        assert!(tracked.lines().any(|t| t == uri), "{uri} is not tracked");
    }

    // diff reads the configuration's place in the history from the same search.
    let out = imagegate(&["diff", "--base", "HEAD", "--no-progress"], &nested);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    // Both sides found: the base's configuration is read at `gitops/imagegate.yaml` of HEAD.
    assert!(
        stdout(&out).contains("cells: 52 unchanged, 0 changed, 0 added, 0 removed"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn helm_outside_any_repository_the_search_goes_up_to_the_filesystem_root() {
    let dir = tempfile::tempdir().unwrap();
    let fleet = fleet_at(dir.path(), "");
    let (at_root, _) = check_dev(&fleet);
    let (from_nested, _) = check_dev(&fleet.join("sources/values/env/dev"));
    assert_eq!(at_root["findings"], from_nested["findings"]);
}

#[test]
fn helm_a_configuration_above_the_repository_root_is_never_used() {
    let dir = tempfile::tempdir().unwrap();
    let outer = dir.path().canonicalize().unwrap();
    fleet_at(&outer, "");
    let repo = outer.join("project");
    let nested = repo.join("deploy");
    std::fs::create_dir_all(&nested).unwrap();
    git(&repo, &["init", "-q"]);

    let out = imagegate(&["check", "--no-progress"], &nested);
    assert_eq!(out.status.code(), Some(2), "stdout: {}", stdout(&out));
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "no imagegate.yaml in {}, {} (the search stops at the git repository root)",
            nested.display(),
            repo.display()
        )),
        "{err}"
    );
    assert!(err.contains("hint: "), "{err}");
    // The one above it is still there for an explicit `--config`.
    let explicit = outer.join("imagegate.yaml");
    let out = imagegate(
        &[
            "cells",
            "--env",
            "dev",
            "--config",
            explicit.to_str().unwrap(),
        ],
        &nested,
    );
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    assert!(stdout(&out).contains("dev/dev-agents"), "{}", stdout(&out));
}
