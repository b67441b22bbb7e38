//! `imagegate promote` with real helm: on a copy of charts-testdata the planned line is the only
//! byte that changes and `check` no longer reports its `promotion-drift`; `--dry-run` writes
//! nothing; a value shared through an anchor is refused; a value only a shared layer sets gets
//! an override in TARGET's own values file.

mod common;
use common::*;
use serde_json::Value;
use std::path::Path;

fn helm_arg() -> String {
    helm().display().to_string()
}

fn fleet_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&root().join("charts-testdata"), dir.path());
    dir
}

fn promote(dir: &Path, extra: &[&str]) -> std::process::Output {
    let helm = helm_arg();
    let mut args = vec!["promote", "staging", "production", "--helm", &helm];
    args.extend_from_slice(extra);
    imagegate(&args, dir)
}

/// (rule, environment, app, kind/name) of every finding of `check` on `dir`, with images.
fn findings(dir: &Path) -> Vec<(String, String, String, String, String)> {
    let helm = helm_arg();
    let out = imagegate(
        &[
            "check",
            "--helm",
            &helm,
            "--format",
            "json",
            "--no-progress",
        ],
        dir,
    );
    let report: Value = serde_json::from_str(&stdout(&out)).expect("a JSON report");
    let s = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
    let mut out: Vec<_> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let obj = &f["object"];
            (
                s(f, "rule"),
                s(f, "environment"),
                s(f, "app"),
                format!("{}/{}", s(obj, "kind"), s(obj, "name")),
                s(f, "image"),
            )
        })
        .collect();
    out.sort();
    out
}

const WWW: &str = "sources/values/env/production/apps/www.yaml";

#[test]
fn helm_promote_on_the_fleet_edits_the_one_line_and_its_drift_is_gone() {
    let dir = fleet_copy();
    let before = snapshot(dir.path());
    let findings_before = findings(dir.path());
    let md = dir.path().join("body.md");
    let out = promote(dir.path(), &["--markdown", md.to_str().unwrap()]);
    // graph and transformation-v0: staging runs `:main`, no digest to copy forward.
    assert_exit(&out, 1);
    let text = stdout(&out);
    assert!(
        text.contains("1 image(s) to promote, 2 not promoted"),
        "{text}"
    );
    assert!(text.contains("which has no digest"), "{text}");
    let mut after = snapshot(dir.path());
    let body = String::from_utf8(after.remove("body.md").expect("the PR body")).unwrap();
    assert!(
        body.contains("| production-www | Deployment/www | www |"),
        "{body}"
    );
    assert!(body.contains("### Not promoted"), "{body}");
    assert_eq!(changed(&before, &after), [WWW]);
    let (old, new) = (
        String::from_utf8(before[WWW].clone()).unwrap(),
        String::from_utf8(after[WWW].clone()).unwrap(),
    );
    let differing: Vec<(&str, &str)> = old
        .lines()
        .zip(new.lines())
        .filter(|(a, b)| a != b)
        .collect();
    assert_eq!(old.lines().count(), new.lines().count());
    assert_eq!(
        differing,
        [(
            "  ref: ghcr.io/ameideio/www@sha256:4bd7a2700ca3da1a2821ee53646a9e6655b7dda312b7e761b3d9770b32023dcd",
            "  ref: ghcr.io/ameideio/www@sha256:7c2ecd07f155648431e0f94b89247d713c5786e1e73e953f2fe7eca39534cd6d"
        )]
    );
    // The drift of www is gone, and nothing else about the check changed.
    let findings_after = findings(dir.path());
    let www_drift = |f: &(String, String, String, String, String)| {
        f.0 == "promotion-drift" && f.2 == "production-www"
    };
    assert!(findings_before.iter().any(www_drift));
    let expected: Vec<_> = findings_before
        .iter()
        .filter(|f| !www_drift(f))
        .cloned()
        .collect();
    assert_eq!(findings_after, expected);
}

#[test]
fn helm_promote_after_staging_is_pinned_leaves_no_drift() {
    let dir = fleet_copy();
    let root = dir.path();
    // Pin staging first: graph's overlay where the stack reads it, a digest for the domain.
    std::fs::rename(
        root.join("sources/values/env/staging/app/graph.yaml"),
        root.join("sources/values/env/staging/apps/graph.yaml"),
    )
    .unwrap();
    let digest = format!("sha256:{}", "5".repeat(64));
    std::fs::write(
        root.join("sources/values/env/staging/apps/transformation-v0.yaml"),
        format!("primitives:\n  domain:\n    digest: {digest}\n"),
    )
    .unwrap();
    let before = snapshot(root);
    let out = promote(root, &[]);
    assert_exit(&out, 0);
    let after = snapshot(root);
    assert_eq!(
        changed(&before, &after),
        [
            "sources/values/env/production/apps/transformation-v0.yaml",
            WWW
        ]
    );
    let prod = String::from_utf8(
        after["sources/values/env/production/apps/transformation-v0.yaml"].clone(),
    )
    .unwrap();
    assert!(prod.contains(&digest), "{prod}");
    let drift: Vec<_> = findings(root)
        .into_iter()
        .filter(|f| f.0 == "promotion-drift")
        .collect();
    assert!(drift.is_empty(), "{drift:?}");
    // Promoted: a second run has nothing to do.
    let again = promote(root, &[]);
    assert_eq!(again.status.code(), Some(0), "{}", stdout(&again));
    assert!(stdout(&again).contains("0 image(s) to promote, 0 not promoted"));
}

#[test]
fn helm_promote_dry_run_shows_the_diff_and_writes_nothing() {
    let dir = fleet_copy();
    let before = snapshot(dir.path());
    let out = promote(dir.path(), &["--dry-run"]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(
        text.contains(&format!("--- a/{WWW}\n+++ b/{WWW}\n")),
        "{text}"
    );
    assert!(
        text.contains("+  ref: ghcr.io/ameideio/www@sha256:7c2e"),
        "{text}"
    );
    assert!(changed(&before, &snapshot(dir.path())).is_empty());
}

fn digest(c: char) -> String {
    format!("sha256:{}", c.to_string().repeat(64))
}

const CONFIG: &str = r#"version: 1
environments:
  - name: staging
  - name: production
components:
  - { name: web, chart: charts/web }
valueStacks:
  environment:
    - values/_shared/{name}.yaml
    - values/env/{env}/{name}.yaml
missingValueFiles: skip
promotion:
  chains: [[staging, production]]
  firstParty: ["ghcr.io/acme/"]
"#;

const DEPLOYMENT: &str = r#"apiVersion: apps/v1
kind: Deployment
metadata: { name: web }
spec:
  selector: { matchLabels: { app: web } }
  template:
    metadata: { labels: { app: web } }
    spec:
      containers:
        - name: web
          image: {{ .Values.image.ref }}
          imagePullPolicy: IfNotPresent
        - name: api
          image: "{{ .Values.api.repository }}@{{ .Values.api.digest }}"
          imagePullPolicy: IfNotPresent
"#;

fn small_fleet(production: Option<&str>) -> tempfile::TempDir {
    let shared = format!(
        "# shared by every environment\nimage:\n  ref: ghcr.io/acme/web@{}\napi:\n  digest: {}\n",
        digest('a'),
        digest('c')
    );
    let staging = format!(
        "image:\n  ref: \"ghcr.io/acme/web@{}\"\napi:\n  digest: {}\n",
        digest('b'),
        digest('d')
    );
    let mut files = vec![
        ("imagegate.yaml", CONFIG.to_owned()),
        (
            "charts/web/Chart.yaml",
            "apiVersion: v2\nname: web\nversion: 0.1.0\n".to_owned(),
        ),
        (
            "charts/web/values.yaml",
            "image:\n  ref: \"\"\napi:\n  repository: ghcr.io/acme/api\n  digest: \"\"\n"
                .to_owned(),
        ),
        ("charts/web/templates/d.yaml", DEPLOYMENT.to_owned()),
        ("values/_shared/web.yaml", shared),
        ("values/env/staging/web.yaml", staging),
    ];
    if let Some(p) = production {
        files.push(("values/env/production/web.yaml", p.to_owned()));
    }
    let refs: Vec<(&str, &str)> = files.iter().map(|(a, b)| (*a, b.as_str())).collect();
    tree(&refs)
}

#[test]
fn helm_promote_overrides_a_shared_layer_in_the_targets_own_file() {
    let dir = small_fleet(None);
    let before = snapshot(dir.path());
    let out = promote(dir.path(), &["--format", "json"]);
    assert_exit(&out, 0);
    let json: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(json["status"], "promoted");
    assert_eq!(json["promotions"].as_array().unwrap().len(), 2);
    let after = snapshot(dir.path());
    // The shared file is untouched; production gets its own overlay.
    assert_eq!(changed(&before, &after), ["values/env/production/web.yaml"]);
    assert_eq!(
        String::from_utf8(after["values/env/production/web.yaml"].clone()).unwrap(),
        format!(
            "api:\n  digest: {}\nimage:\n  ref: ghcr.io/acme/web@{}\n",
            digest('d'),
            digest('b')
        )
    );
}

#[test]
fn helm_promote_edits_in_place_keeping_comments_and_quotes() {
    let prod = format!(
        "# production\nimage:\n  ref: 'ghcr.io/acme/web@{}'   # pinned by the last promotion\napi:\n  digest: \"{}\"\n",
        digest('e'),
        digest('f')
    );
    let dir = small_fleet(Some(&prod));
    let out = promote(dir.path(), &[]);
    assert_exit(&out, 0);
    let now = std::fs::read_to_string(dir.path().join("values/env/production/web.yaml")).unwrap();
    assert_eq!(
        now,
        format!(
            "# production\nimage:\n  ref: 'ghcr.io/acme/web@{}'   # pinned by the last promotion\napi:\n  digest: \"{}\"\n",
            digest('b'),
            digest('d')
        )
    );
}

#[test]
fn helm_promote_refuses_an_anchor_other_keys_read() {
    let prod = format!(
        "pinned: &web ghcr.io/acme/web@{}\nimage:\n  ref: *web\nmirror:\n  ref: *web\napi:\n  digest: {}\n",
        digest('e'),
        digest('d')
    );
    let dir = small_fleet(Some(&prod));
    let before = snapshot(dir.path());
    let out = promote(dir.path(), &[]);
    assert_exit(&out, 1);
    let text = stdout(&out);
    assert!(text.contains("not promoted:"), "{text}");
    assert!(text.contains("alias"), "{text}");
    assert!(text.contains("values/env/production/web.yaml:3"), "{text}");
    assert!(changed(&before, &snapshot(dir.path())).is_empty());
}

#[test]
fn helm_promote_bad_input_is_exit_2() {
    let dir = small_fleet(None);
    let helm = helm_arg();
    let out = imagegate(
        &["promote", "staging", "staging", "--helm", &helm],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("the same environment"),
        "{}",
        stderr(&out)
    );
    let out = imagegate(&["promote", "staging", "prod", "--helm", &helm], dir.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("no environment `prod`"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn helm_promote_app_narrows_to_those_components() {
    let dir = fleet_copy();
    let before = snapshot(dir.path());
    let out = promote(dir.path(), &["--app", "graph", "--format", "json"]);
    // Only graph is judged: staging renders `graph:main`, so nothing is written.
    assert_exit(&out, 1);
    let json: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(json["status"], "planned");
    assert_eq!(json["promotions"].as_array().unwrap().len(), 0);
    let refusals = json["refusals"].as_array().unwrap();
    assert_eq!(refusals.len(), 1, "{refusals:?}");
    assert_eq!(refusals[0]["component"], "graph");
    assert!(changed(&before, &snapshot(dir.path())).is_empty());
    let out = promote(dir.path(), &["--app", "www"]);
    assert_exit(&out, 0);
    assert_eq!(changed(&before, &snapshot(dir.path())), [WWW]);
}
