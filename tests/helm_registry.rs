//! `check --registry` end to end: real helm renders a fleet whose images live in a real
//! registry on the loopback interface (`docker-registry`, images pushed with `skopeo`), and the
//! check finds the tag that lies, the digest that is missing and the platform an environment
//! lacks. Without `--registry` the same check never asks anything.

mod common;
#[path = "../crates/registry/tests/support/mod.rs"]
mod support;

use common::{imagegate, stderr, tree};
use serde_json::Value;
use support::{free_port, Layout, TestRegistry};

const CHART: &str = "apiVersion: v2\nname: web\nversion: 0.1.0\n";

const DEPLOYMENT: &str = r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  template:
    spec:
      containers:
{{- range $name, $image := .Values.images }}
        - name: {{ $name }}
          image: {{ $image | quote }}
          imagePullPolicy: IfNotPresent
{{- end }}
"#;

/// A fleet of `dev` (no platforms) and `local` (arm64 nodes), one chart with `images`.
fn fleet(images: &[(&str, String)]) -> tempfile::TempDir {
    let values: String = images
        .iter()
        .map(|(name, image)| format!("  {name}: {image}\n"))
        .collect();
    tree(&[
        (
            "imagegate.yaml",
            "version: 1\nenvironments:\n  - name: dev\n  - name: local\n    platforms: [linux/arm64]\ncomponents:\n  - { name: web, chart: charts/web }\n",
        ),
        ("charts/web/Chart.yaml", CHART),
        ("charts/web/templates/deployment.yaml", DEPLOYMENT),
        ("charts/web/values.yaml", &format!("images:\n{values}")),
    ])
}

/// `(rule, environment, image)` of every finding of a JSON report.
fn findings(report: &Value) -> Vec<(String, String, String)> {
    let mut out: Vec<_> = report["findings"]
        .as_array()
        .unwrap_or_else(|| panic!("no findings in {report}"))
        .iter()
        .map(|f| {
            (
                f["rule"].as_str().unwrap_or_default().to_owned(),
                f["environment"].as_str().unwrap_or_default().to_owned(),
                f["image"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    out.sort();
    out
}

fn check(repo: &std::path::Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["check", "--no-progress", "--no-cache", "--format", "json"];
    args.extend_from_slice(extra);
    imagegate(&args, repo)
}

#[test]
fn helm_check_registry_finds_a_lying_tag_a_missing_digest_and_a_missing_platform() {
    let registry = TestRegistry::start();
    let web = registry.push(
        &Layout::index(&["linux/amd64", "linux/arm64/v8"], "web"),
        "acme/web",
        "v1.2.3",
    );
    let api = registry.push(&Layout::single("linux/amd64", "api"), "acme/api", "v1.2.3");
    // jobs:v1.2.3 is pinned at the first push, then the tag moves to another image.
    let jobs = registry.push(
        &Layout::index(&["linux/arm64"], "jobs one"),
        "acme/jobs",
        "v1.2.3",
    );
    let moved = registry.push(
        &Layout::index(&["linux/arm64"], "jobs two"),
        "acme/jobs",
        "v1.2.3",
    );
    assert_ne!(jobs, moved);
    let missing = format!("sha256:{}", "0".repeat(64));
    let image =
        |repo: &str, tag: &str, digest: &str| format!("{}{tag}@{digest}", registry.repo(repo));
    let images = [
        ("web", image("acme/web", ":v1.2.3", &web)),
        ("api", image("acme/api", "", &api)),
        ("jobs", image("acme/jobs", ":v1.2.3", &jobs)),
        ("worker", image("acme/worker", "", &missing)),
    ];
    let repo = fleet(&images);

    // Offline, everything is pinned and passes.
    let offline = check(repo.path(), &[]);
    assert_eq!(offline.status.code(), Some(0), "{}", stderr(&offline));

    let out = check(repo.path(), &["--registry"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}"));
    let img = |name: &str| {
        images
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, i)| i.clone())
            .unwrap_or_default()
    };
    let want = |rule: &str, env: &str, name: &str| (rule.to_owned(), env.to_owned(), img(name));
    let mut expected = vec![
        want("registry-digest-missing", "dev", "worker"),
        want("registry-digest-missing", "local", "worker"),
        want("registry-tag-mismatch", "dev", "jobs"),
        want("registry-tag-mismatch", "local", "jobs"),
        // The amd64-only image on arm64 nodes; the index with arm64/v8 passes.
        want("registry-platform-missing", "local", "api"),
    ];
    expected.sort();
    assert_eq!(findings(&report), expected, "{report:#}");
    let messages: Vec<&str> = report["findings"]
        .as_array()
        .map(|a| a.iter().filter_map(|f| f["message"].as_str()).collect())
        .unwrap_or_default();
    assert!(
        messages
            .iter()
            .any(|m| m.contains(&format!("points at `{moved}`"))),
        "{messages:?}"
    );
    // The finding points at the values line that holds the image.
    let origin = report["findings"]
        .as_array()
        .and_then(|a| a.iter().find(|f| f["rule"] == "registry-digest-missing"))
        .map(|f| f["origin"].clone())
        .unwrap_or_default();
    assert!(
        origin.to_string().contains("charts/web/values.yaml"),
        "{origin}"
    );
}

#[test]
fn helm_check_without_registry_never_connects_and_a_dead_registry_is_exit_2() {
    // Nothing listens on this port.
    let dead = format!("127.0.0.1:{}", free_port());
    let a = format!("{dead}/acme/web:v1.2.3@sha256:{}", "a".repeat(64));
    let b = format!("{dead}/acme/api@sha256:{}", "b".repeat(64));
    let repo = fleet(&[("web", a.clone()), ("api", b.clone())]);

    let offline = check(repo.path(), &[]);
    assert_eq!(offline.status.code(), Some(0), "{}", stderr(&offline));
    let report: Value = serde_json::from_slice(&offline.stdout).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(findings(&report), Vec::new());

    let out = check(repo.path(), &["--registry"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("2 image(s) could not be checked"), "{err}");
    for image in [&a, &b] {
        assert!(
            err.contains(&format!("{image}: cannot reach the registry")),
            "{err}"
        );
    }
    // Nothing is reported as passing: no report on stdout.
    assert!(
        out.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn helm_check_registry_without_credentials_is_exit_2_naming_the_image() {
    let registry = TestRegistry::start_with_login("ci", "s3cret-pass");
    let digest = registry.push(
        &Layout::single("linux/arm64", "p"),
        "acme/private",
        "v1.2.3",
    );
    let image = format!("{}:v1.2.3@{digest}", registry.repo("acme/private"));
    let repo = fleet(&[("private", image.clone())]);
    let home = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_imagegate"))
        .args([
            "check",
            "--no-progress",
            "--no-cache",
            "--format",
            "json",
            "--registry",
        ])
        .current_dir(repo.path())
        .env("IMAGEGATE_HELM", common::helm())
        .env("HOME", home.path())
        .env_remove("DOCKER_CONFIG")
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains(&format!("{image}: the registry requires credentials")),
        "{err}"
    );

    // With `docker login`'s file, the same check passes.
    let docker = home.path().join(".docker");
    std::fs::create_dir_all(&docker).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(
        docker.join("config.json"),
        format!(
            r#"{{"auths": {{"{}": {{"username": "ci", "password": "s3cret-pass"}}}}}}"#,
            registry.host
        ),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_imagegate"))
        .args([
            "check",
            "--no-progress",
            "--no-cache",
            "--format",
            "json",
            "--registry",
        ])
        .current_dir(repo.path())
        .env("IMAGEGATE_HELM", common::helm())
        .env("HOME", home.path())
        .env_remove("DOCKER_CONFIG")
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(!stderr(&out).contains("s3cret-pass"));
    assert!(!String::from_utf8_lossy(&out.stdout).contains("s3cret-pass"));
}

/// `check --registry` run by run: within one CI run (`IMAGEGATE_RUN_ID`, or GitHub's run id) a
/// tag that moves after the first process asked keeps its first answer, so the processes of the
/// run judge alike; the next run sees the move. The answers live in the cache folder, and with
/// `--no-cache` each process asks for itself.
#[test]
fn helm_check_registry_keeps_a_runs_tag_answers_in_the_cache_folder() {
    let registry = TestRegistry::start();
    let first = registry.push(&Layout::single("linux/amd64", "one"), "acme/web", "v1.4.2");
    let image = format!("{}:v1.4.2@{first}", registry.repo("acme/web"));
    let repo = fleet(&[("web", image.clone())]);
    let cache = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let run = |id: &str, cached: bool| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_imagegate"));
        cmd.args([
            "check",
            "--no-progress",
            "--format",
            "json",
            "--registry",
            "--env",
            "dev",
        ])
        .current_dir(repo.path())
        .env("IMAGEGATE_HELM", common::helm())
        .env("IMAGEGATE_CACHE_DIR", cache.path())
        .env("IMAGEGATE_RUN_ID", id)
        .env_remove("GITHUB_RUN_ID")
        .env_remove("CI_PIPELINE_ID");
        if !cached {
            cmd.arg("--no-cache");
        }
        let out = cmd.output().unwrap_or_else(|e| panic!("{e}"));
        let report: Value =
            serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", stderr(&out)));
        (out.status.code(), findings(&report))
    };
    assert_eq!(run("nightly-1", true), (Some(0), vec![]));
    let answers = cache.path().join("registry").join("answers-nightly-1.json");
    assert!(
        answers.is_file(),
        "no answers file in {}",
        cache.path().display()
    );

    let moved = registry.push(&Layout::single("linux/amd64", "two"), "acme/web", "v1.4.2");
    assert_ne!(moved, first);
    assert_eq!(run("nightly-1", true), (Some(0), vec![]));
    let mismatch = (
        Some(1),
        vec![(
            "registry-tag-mismatch".to_owned(),
            "dev".to_owned(),
            image.clone(),
        )],
    );
    assert_eq!(run("nightly-2", true), mismatch);
    assert_eq!(run("nightly-1", false), mismatch);
}
