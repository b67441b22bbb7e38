//! The render engine with real helm: failures are findings, hangs are killed, missing
//! dependencies are explained, paths never leave the repository, and a missing helm is exit 2.

mod common;
use common::*;
use std::time::{Duration, Instant};

const CONFIG: &str = r#"version: 1
environments:
  - name: dev
    vars: { namespace: apps }
components:
  - { name: ok, chart: charts/ok }
  - { name: needs, chart: charts/needs }
  - { name: hang, chart: charts/hang }
  - { name: deps, chart: charts/deps }
"#;

const OK_DEPLOYMENT: &str = r#"apiVersion: apps/v1
kind: Deployment
metadata: { name: ok }
spec:
  selector: { matchLabels: { app: ok } }
  template:
    metadata: { labels: { app: ok } }
    spec:
      containers:
        - name: app
          image: {{ .Values.image }}
          imagePullPolicy: IfNotPresent
"#;

fn chart(name: &str) -> String {
    format!("apiVersion: v2\nname: {name}\nversion: 0.1.0\n")
}

fn fixture() -> tempfile::TempDir {
    let digest = "ghcr.io/acme/ok@sha256:".to_string() + &"a".repeat(64);
    tree(&[
        ("imagegate.yaml", CONFIG),
        ("charts/ok/Chart.yaml", &chart("ok")),
        ("charts/ok/values.yaml", &format!("image: {digest}\n")),
        ("charts/ok/templates/deploy.yaml", OK_DEPLOYMENT),
        ("charts/needs/Chart.yaml", &chart("needs")),
        ("charts/needs/templates/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: { name: x }\ndata:\n  ref: {{ required \"image.ref is required\" .Values.ref }}\n"),
        ("charts/hang/Chart.yaml", &chart("hang")),
        // 10^10 iterations of nothing: CPU-bound forever, little memory.
        ("charts/hang/templates/loop.yaml", "{{- range $i := until 100000 }}{{- range $j := until 100000 }}{{- end }}{{- end }}\n"),
        ("charts/deps/Chart.yaml", "apiVersion: v2\nname: deps\nversion: 0.1.0\ndependencies:\n  - name: redis\n    version: 1.0.0\n    repository: https://charts.example.com\n"),
        ("charts/deps/templates/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: { name: y }\n"),
    ])
}

#[test]
fn helm_failures_are_findings_and_the_rest_continue() {
    let dir = fixture();
    let start = Instant::now();
    let out = imagegate(
        &[
            "check",
            "--format",
            "json",
            "--timeout",
            "2",
            "-j",
            "4",
            "--no-progress",
        ],
        dir.path(),
    );
    let elapsed = start.elapsed();
    assert_eq!(out.status.code(), Some(1), "stderr: {}", stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let cell = |app: &str| {
        report["cells"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["app"] == app)
            .cloned()
            .unwrap()
    };
    assert_eq!(cell("dev-ok")["status"], "rendered");
    assert_eq!(cell("dev-ok")["images"], 1);
    assert_eq!(cell("dev-needs")["status"], "failed");
    assert!(cell("dev-needs")["error"]
        .as_str()
        .unwrap()
        .contains("image.ref is required"));
    let hang = cell("dev-hang");
    assert_eq!(hang["status"], "failed");
    assert!(
        hang["error"]
            .as_str()
            .unwrap()
            .contains("did not finish within 2s"),
        "{hang}"
    );
    let deps = cell("dev-deps");
    assert_eq!(deps["status"], "failed");
    let err = deps["error"].as_str().unwrap();
    assert!(
        err.contains("redis") && err.contains("helm dependency build"),
        "{err}"
    );
    // Killed at its deadline (2 s, plus the grace period), not left to run.
    assert!(elapsed < Duration::from_secs(30), "took {elapsed:?}");
    let failed: Vec<_> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"] == "render-failed")
        .map(|f| f["app"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(failed, vec!["dev-deps", "dev-hang", "dev-needs"]);
    // No finding on the clean cell.
    assert!(report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .all(|f| f["app"] != "dev-ok"));
}

#[test]
fn helm_never_writes_into_the_repository() {
    let dir = fixture();
    let before = listing(dir.path());
    let _ = imagegate(
        &[
            "check",
            "--app",
            "dev-ok",
            "--format",
            "json",
            "--no-progress",
        ],
        dir.path(),
    );
    assert_eq!(before, listing(dir.path()));
}

fn listing(p: &std::path::Path) -> Vec<String> {
    let mut v: Vec<String> = walk(p)
        .into_iter()
        .map(|x| x.strip_prefix(p).unwrap().display().to_string())
        .collect();
    v.sort();
    v
}

fn walk(p: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = vec![];
    for e in std::fs::read_dir(p).unwrap() {
        let e = e.unwrap().path();
        if e.is_dir() {
            out.extend(walk(&e));
        }
        out.push(e);
    }
    out
}

#[test]
fn helm_missing_is_exit_2_with_what_to_do() {
    let dir = fixture();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_imagegate"))
        .args(["check", "--helm", "/nonexistent/helm"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("helm not found") && err.contains("--helm") && err.contains("IMAGEGATE_HELM"),
        "{err}"
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_imagegate"))
        .args(["check"])
        .current_dir(dir.path())
        .env_remove("IMAGEGATE_HELM")
        .env("PATH", "")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("no helm on PATH"), "{}", stderr(&out));
}

#[test]
fn config_path_escaping_the_repository_is_a_config_error() {
    let outside = tree(&[("secret.yaml", "image: evil\n")]);
    let escape = format!(
        "../{}/secret.yaml",
        outside.path().file_name().unwrap().to_string_lossy()
    );
    let config = format!("version: 1\nenvironments:\n  - name: dev\ncomponents:\n  - name: ok\n    chart: charts/ok\n    valueFiles: [\"{escape}\"]\n");
    let dir = tree(&[
        ("imagegate.yaml", &config),
        ("charts/ok/Chart.yaml", &chart("ok")),
    ]);
    let out = imagegate(&["cells"], dir.path());
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("imagegate.yaml") && err.contains("leaves the repository"),
        "{err}"
    );
}

#[cfg(unix)]
#[test]
fn helm_chart_symlink_out_of_the_repository_is_refused_for_that_cell() {
    let outside = tree(&[("passwd", "root:x:0:0")]);
    let dir = fixture();
    std::os::unix::fs::symlink(
        outside.path().join("passwd"),
        dir.path().join("charts/ok/templates/leak.yaml"),
    )
    .unwrap();
    let out = imagegate(
        &[
            "check",
            "--app",
            "dev-ok",
            "--format",
            "json",
            "--no-progress",
        ],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let err = report["cells"][0]["error"].as_str().unwrap();
    assert!(
        err.contains("leak.yaml") && err.contains("outside the repository"),
        "{err}"
    );
}
