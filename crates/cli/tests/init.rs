//! `imagegate init`: on a copy of charts-testdata without its imagegate.yaml, the written
//! configuration resolves to exactly the matrix of the hand-written one; it never overwrites a
//! file without `--force`; an unknown layout gets a template listing the charts. No helm needed.

mod common;
use common::{copy_tree, root};
use serde_json::Value;
use std::path::Path;
use std::process::Output;

const SCHEMA_LINE: &str = "# yaml-language-server: $schema=https://raw.githubusercontent.com/imagegate/imagegate/main/docs/imagegate.schema.json";

fn imagegate(args: &[&str], cwd: &Path) -> Output {
    common::imagegate_without_helm(args, cwd)
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A copy of charts-testdata without its configuration.
fn fleet_without_config() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&root().join("charts-testdata"), dir.path());
    std::fs::remove_file(dir.path().join("imagegate.yaml")).unwrap();
    dir
}

fn cells(config: &Path) -> Value {
    let out = imagegate(
        &[
            "cells",
            "--config",
            config.to_str().unwrap(),
            "--format",
            "json",
        ],
        &root(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let doc = serde_json::from_slice(&out.stdout).unwrap();
    common::assert_schema_valid(&doc, "cells --format json");
    doc
}

fn init(dir: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["init"];
    args.extend_from_slice(extra);
    args.push(dir.to_str().unwrap());
    imagegate(&args, &root())
}

#[test]
fn init_on_the_fleet_reproduces_the_hand_written_matrix() {
    let dir = fleet_without_config();
    let out = init(dir.path(), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("52 cells"),
        "{}",
        text(&out.stderr)
    );
    let written = std::fs::read_to_string(dir.path().join("imagegate.yaml")).unwrap();
    assert_eq!(written.lines().next(), Some(SCHEMA_LINE));

    let ours = cells(&dir.path().join("imagegate.yaml"));
    let theirs = cells(&root().join("charts-testdata/imagegate.yaml"));
    let (ours, theirs) = (
        ours["cells"].as_array().unwrap(),
        theirs["cells"].as_array().unwrap(),
    );
    assert_eq!(ours.len(), 52);
    // Same cells, same value stacks in the same order, same everything else.
    for (a, b) in ours.iter().zip(theirs) {
        assert_eq!(a, b, "cell {}/{} differs", b["environment"], b["app"]);
    }
    assert_eq!(ours, theirs);
    // The misplaced overlay is named as an outlier, not made a layer.
    assert!(
        written.contains("#   sources/values/env/staging/app/"),
        "{written}"
    );
}

#[test]
fn init_learns_layers_from_names_not_from_this_fleet() {
    // Rename the staging environment to `qa`: its record and its values folder.
    let dir = fleet_without_config();
    let records = dir.path().join("config/clusters/azure.yaml");
    let r = std::fs::read_to_string(&records).unwrap();
    std::fs::write(&records, r.replace("env: staging", "env: qa")).unwrap();
    std::fs::rename(
        dir.path().join("sources/values/env/staging"),
        dir.path().join("sources/values/env/qa"),
    )
    .unwrap();
    let out = init(dir.path(), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let v = cells(&dir.path().join("imagegate.yaml"));
    let cells = v["cells"].as_array().unwrap();
    assert_eq!(cells.len(), 52);
    let qa = cells
        .iter()
        .find(|c| c["app"] == "qa-www")
        .expect("a qa-www cell");
    let stack: Vec<&str> = qa["valueFiles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        stack,
        [
            "sources/values/base/globals.yaml",
            "sources/values/cluster/azure/globals.yaml",
            "sources/values/env/qa/globals.yaml",
            "config/node-profiles/general-pool.yaml",
            "sources/values/_shared/apps/www.yaml",
            "sources/values/env/qa/apps/www.yaml",
        ]
    );
}

#[test]
fn init_never_overwrites_without_force() {
    let dir = fleet_without_config();
    let config = dir.path().join("imagegate.yaml");
    std::fs::write(&config, "# mine\n").unwrap();
    let out = init(dir.path(), &[]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("already exists") && err.contains("--force"),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(&config).unwrap(), "# mine\n");

    // --stdout proposes without touching the file.
    let out = init(dir.path(), &["--stdout"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).starts_with(SCHEMA_LINE));
    assert_eq!(std::fs::read_to_string(&config).unwrap(), "# mine\n");

    let out = init(dir.path(), &["--force"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(std::fs::read_to_string(&config)
        .unwrap()
        .starts_with(SCHEMA_LINE));
}

#[test]
fn an_unknown_layout_gets_a_template_listing_its_charts() {
    let dir = tempfile::tempdir().unwrap();
    let files = [
        (
            "charts/web/Chart.yaml",
            "apiVersion: v2\nname: web\nversion: 0.1.0\n",
        ),
        (
            "charts/api/Chart.yaml",
            "apiVersion: v2\nname: api-server\nversion: 0.1.0\n",
        ),
        // A subchart is part of its parent chart, never a component of its own.
        (
            "charts/api/charts/db/Chart.yaml",
            "apiVersion: v2\nname: db\nversion: 0.1.0\n",
        ),
        ("values/common/globals.yaml", "replicas: 1\n"),
        ("values/env/dev/web.yaml", "image: {}\n"),
        ("values/env/prod/web.yaml", "image: {}\n"),
        ("values/env/prod/api-server.yaml", "image: {}\n"),
    ];
    for (p, t) in files {
        let p = dir.path().join(p);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, t).unwrap();
    }
    let out = init(dir.path(), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let v = cells(&dir.path().join("imagegate.yaml"));
    let got: Vec<(String, String, Vec<String>)> = v["cells"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["app"].as_str().unwrap().to_string(),
                c["chart"].as_str().unwrap().to_string(),
                c["valueFiles"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|f| f["path"].as_str().unwrap().to_string())
                    .collect(),
            )
        })
        .collect();
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    assert_eq!(
        got,
        [
            (
                "dev-api-server".into(),
                "charts/api".into(),
                s(&[
                    "values/common/globals.yaml",
                    "values/env/dev/api-server.yaml"
                ])
            ),
            (
                "dev-web".into(),
                "charts/web".into(),
                s(&["values/common/globals.yaml", "values/env/dev/web.yaml"])
            ),
            (
                "prod-api-server".into(),
                "charts/api".into(),
                s(&[
                    "values/common/globals.yaml",
                    "values/env/prod/api-server.yaml"
                ])
            ),
            (
                "prod-web".into(),
                "charts/web".into(),
                s(&["values/common/globals.yaml", "values/env/prod/web.yaml"])
            ),
        ]
    );
}

#[test]
fn every_command_that_resolves_the_matrix_stops_at_an_open_question() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("charts/web")).unwrap();
    std::fs::write(
        d.join("charts/web/Chart.yaml"),
        "apiVersion: v2\nname: web\nversion: 0.1.0\n",
    )
    .unwrap();
    let config = "version: 1\nenvironments: [{name: dev}]\ncomponents: [{name: web, chart: charts/web}]\nopenQuestions:\n  - question: Is web deployed in dev?\n    from: [charts/web]\n";
    std::fs::write(d.join("imagegate.yaml"), config).unwrap();
    common::git(d, &["init", "-q", "-b", "main"]);
    common::git(d, &["add", "-A"]);
    common::git(d, &["commit", "-qm", "fleet"]);
    let out_dir = d.join("audit-out");
    let out_dir = out_dir.to_str().unwrap();
    let commands: [&[&str]; 6] = [
        &["cells"],
        &["check"],
        &["images"],
        &["audit", "--out", out_dir],
        &["diff", "--base", "HEAD"],
        &["exceptions", "suggest"],
    ];
    for args in commands {
        let out = imagegate(args, d);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains("imagegate.yaml:5:3: 1 open question must be answered")
                && err.contains("1. Is web deployed in dev? (from charts/web)")
                && err.contains("delete it from `openQuestions`"),
            "{args:?}: {err}"
        );
    }
}

#[test]
fn completions_are_generated_for_every_shell() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let out = imagegate(&["completions", shell], &root());
        assert_eq!(out.status.code(), Some(0), "{shell}: {}", text(&out.stderr));
        let script = text(&out.stdout);
        assert!(script.contains("imagegate"), "{shell}");
        assert!(
            script.contains("warnings-as-errors"),
            "{shell}: flags are completed"
        );
    }
}
