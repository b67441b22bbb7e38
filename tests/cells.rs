//! `imagegate cells` on charts-testdata: the value stacks match the fleet's real composition.

mod common;
use common::*;
use serde_json::Value;

fn cells() -> Vec<Value> {
    let out = imagegate(
        &[
            "cells",
            "--config",
            "charts-testdata/imagegate.yaml",
            "--format",
            "json",
        ],
        &root(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    v["cells"].as_array().unwrap().clone()
}

fn stack(cells: &[Value], env: &str, app: &str) -> Vec<(String, bool)> {
    let c = cells
        .iter()
        .find(|c| c["environment"] == env && c["app"] == app)
        .unwrap_or_else(|| panic!("no cell {env}/{app}"));
    c["valueFiles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["path"].as_str().unwrap().to_string(),
                v["present"].as_bool().unwrap(),
            )
        })
        .collect()
}

#[test]
fn the_matrix_has_every_cell() {
    let cells = cells();
    assert_eq!(cells.len(), 52);
    let envs: std::collections::BTreeSet<_> = cells
        .iter()
        .map(|c| c["environment"].as_str().unwrap())
        .collect();
    assert_eq!(
        envs.into_iter().collect::<Vec<_>>(),
        [
            "cluster-azure",
            "cluster-local",
            "dev",
            "local",
            "production",
            "staging"
        ]
    );
}

#[test]
fn an_environment_cell_reads_the_six_layer_stack() {
    let cells = cells();
    let s = stack(&cells, "staging", "staging-www");
    let paths: Vec<_> = s.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(
        paths,
        [
            "sources/values/base/globals.yaml",
            "sources/values/cluster/azure/globals.yaml",
            "sources/values/env/staging/globals.yaml",
            "config/node-profiles/general-pool.yaml",
            "sources/values/_shared/apps/www.yaml",
            "sources/values/env/staging/apps/www.yaml",
        ]
    );
    let c = cells.iter().find(|c| c["app"] == "staging-www").unwrap();
    assert_eq!(c["namespace"], "ameide-staging");
    assert_eq!(c["release"], "staging-www");
}

#[test]
fn the_local_environment_skips_its_missing_node_profile() {
    let cells = cells();
    let s = stack(&cells, "local", "local-www");
    assert!(
        s.contains(&("config/node-profiles/none.yaml".to_string(), false)),
        "{s:?}"
    );
}

#[test]
fn a_misplaced_overlay_is_not_read() {
    let cells = cells();
    let s = stack(&cells, "staging", "staging-graph");
    assert!(
        s.contains(&(
            "sources/values/env/staging/apps/graph.yaml".to_string(),
            false
        )),
        "{s:?}"
    );
    assert!(!s.iter().any(|(p, _)| p.contains("/app/graph.yaml")));
}

#[test]
fn a_cluster_cell_reads_the_cluster_stack() {
    let cells = cells();
    let s = stack(&cells, "cluster-local", "cluster-ameide-operators");
    let paths: Vec<_> = s.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(
        paths,
        [
            "sources/values/cluster/globals.yaml",
            "sources/values/_shared/cluster/ameide-operators.yaml",
            "sources/values/cluster/local/ameide-operators.yaml",
        ]
    );
}

#[test]
fn a_component_with_its_own_value_files_replaces_the_stack() {
    let cells = cells();
    let s = stack(&cells, "production", "production-registry-mirror");
    assert_eq!(
        s,
        [
            ("sources/values/base/globals.yaml".to_string(), true),
            (
                "sources/values/_shared/foundation/registry-mirror.yaml".to_string(),
                true
            ),
            (
                "sources/values/_shared/foundation/registry-mirror-azure.yaml".to_string(),
                true
            ),
            (
                "sources/values/env/production/foundation/registry-mirror.yaml".to_string(),
                false
            ),
        ]
    );
}

#[test]
fn text_output_marks_missing_files() {
    let out = imagegate(
        &[
            "cells",
            "--config",
            "charts-testdata/imagegate.yaml",
            "--env",
            "local",
            "--app",
            "local-www",
        ],
        &root(),
    );
    let text = stdout(&out);
    assert!(
        text.contains("local/local-www  release=local-www namespace=ameide-local"),
        "{text}"
    );
    assert!(
        text.contains("(missing, skipped) config/node-profiles/none.yaml"),
        "{text}"
    );
    assert!(text.ends_with("1 cells\n"), "{text}");
}

#[test]
fn unknown_environment_is_a_usage_error() {
    let out = imagegate(
        &[
            "cells",
            "--config",
            "charts-testdata/imagegate.yaml",
            "--env",
            "prod",
        ],
        &root(),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("--env prod: no such environment"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_selection_of_no_cell_is_a_usage_error_naming_where_the_cells_are() {
    // ameide-operators is cluster-scoped: it has no cell in dev. Judging nothing must not pass.
    for cmd in ["cells", "check"] {
        let out = imagegate(
            &[
                cmd,
                "--config",
                "charts-testdata/imagegate.yaml",
                "--env",
                "dev",
                "--app",
                "ameide-operators",
            ],
            &root(),
        );
        assert_eq!(out.status.code(), Some(2), "{cmd}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(err.contains("selects no cell"), "{cmd}: {err}");
        assert!(
            err.contains("cluster-azure/cluster-ameide-operators"),
            "{cmd}: {err}"
        );
    }
    // Variant: two environments, one app that lives in neither.
    let out = imagegate(
        &[
            "check",
            "--config",
            "charts-testdata/imagegate.yaml",
            "--env",
            "dev",
            "--env",
            "staging",
            "--app",
            "cluster-image-prepuller",
        ],
        &root(),
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}

/// The (environment, app) of every cell `cells ARGS --format json` selects.
fn selected(args: &[&str]) -> Vec<(String, String)> {
    let mut all = vec![
        "cells",
        "--config",
        "charts-testdata/imagegate.yaml",
        "--format",
        "json",
    ];
    all.extend_from_slice(args);
    let out = imagegate(&all, &root());
    assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    v["cells"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["environment"].as_str().unwrap().to_string(),
                c["app"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn env_and_app_take_globs_and_skip_cell_leaves_cells_out() {
    let all = selected(&[]);
    let clusters = selected(&["--env", "cluster-*"]);
    assert!(!clusters.is_empty());
    assert!(clusters.iter().all(|(e, _)| e.starts_with("cluster-")));
    assert_eq!(
        clusters.len(),
        all.iter()
            .filter(|(e, _)| e.starts_with("cluster-"))
            .count()
    );
    let no_local = selected(&["--skip-cell", "local/*"]);
    assert_eq!(
        no_local.len(),
        all.iter().filter(|(e, _)| e != "local").count()
    );
    assert!(no_local.iter().all(|(e, _)| e != "local"));
    let one = selected(&[
        "--env",
        "dev",
        "--app",
        "dev-www*",
        "--skip-cell",
        "dev/dev-www-smoke",
    ]);
    assert_eq!(one, [("dev".to_string(), "dev-www".to_string())]);
    // Patterns that match nothing are usage errors, with a suggestion where one is close.
    for (args, says) in [
        (&["--skip-cell", "nowhere/*"][..], "matches no cell"),
        (&["--skip-cell", "dev-www"][..], "write ENV/APP"),
        (&["--env", "prod"][..], "did you mean `production`"),
        (&["--env", "[x"][..], "not a valid pattern"),
    ] {
        let mut all = vec!["cells", "--config", "charts-testdata/imagegate.yaml"];
        all.extend_from_slice(args);
        let out = imagegate(&all, &root());
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(stderr(&out).contains(says), "{args:?}: {}", stderr(&out));
    }
}
