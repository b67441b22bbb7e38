//! imagegate runs helm with `LC_MESSAGES` set ([`imagegate_render::HELM_MESSAGES_LOCALE`]), so
//! that the kubectl code linked into helm loads a small message catalogue at start-up instead of
//! its largest. That is only sound if nothing `helm template` writes depends on it. helm is the
//! oracle: every cell of both bundled fleets (`imagegate cells --format json`), and charts that
//! fail in the ways helm reports (`required`, `fail`, a values file that is not YAML, a template
//! that does not parse), render with and without it, and the exit status, stdout and stderr must
//! be the same bytes.

mod common;
use common::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Longest one helm render may take before the test fails.
const RENDER_TIMEOUT: Duration = Duration::from_secs(120);

/// What one helm run wrote.
#[derive(Debug, PartialEq, Eq)]
struct Written {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Runs helm with `args` in a cleared environment whose helm homes are under `home`, with or
/// without imagegate's message locale, bounded by [`RENDER_TIMEOUT`].
fn helm_run(args: &[String], cwd: &Path, home: &Path, locale: bool) -> Written {
    let out = tempfile::tempdir().unwrap();
    let (out_path, err_path) = (out.path().join("out"), out.path().join("err"));
    let mut cmd = Command::new(helm());
    cmd.args(args)
        .current_dir(cwd)
        .env_clear()
        .env("HOME", home.join("home"))
        .env("HELM_CACHE_HOME", home.join("cache"))
        .env("HELM_CONFIG_HOME", home.join("config"))
        .env("HELM_DATA_HOME", home.join("data"))
        .env("HELM_NO_PLUGINS", "1")
        .env("KUBECONFIG", home.join("no-kubeconfig"))
        .env("PATH", "/usr/bin:/bin")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap());
    if locale {
        cmd.env("LC_MESSAGES", imagegate_render::HELM_MESSAGES_LOCALE);
    }
    let mut child = cmd.spawn().unwrap();
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > RENDER_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("helm {args:?} took longer than {RENDER_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    Written {
        code: status.code(),
        stdout: std::fs::read_to_string(&out_path).unwrap(),
        stderr: std::fs::read_to_string(&err_path).unwrap(),
    }
}

/// `helm template` arguments of every cell of the fleet at `fleet` (paths relative to it).
fn cell_args(fleet: &Path) -> Vec<Vec<String>> {
    let out = imagegate(&["cells", "--format", "json"], fleet);
    assert_exit(&out, 0);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let s = |c: &Value, k: &str| c[k].as_str().unwrap().to_string();
    report["cells"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let mut a = vec![
                "template".to_string(),
                s(c, "release"),
                s(c, "chart"),
                "--namespace".into(),
                s(c, "namespace"),
                "--kube-version".into(),
                s(c, "kubeVersion"),
            ];
            for v in c["apiVersions"].as_array().into_iter().flatten() {
                a.extend(["--api-versions".into(), v.as_str().unwrap().to_string()]);
            }
            for f in c["valueFiles"].as_array().unwrap() {
                if f["present"] == true {
                    a.extend(["--values".into(), f["path"].as_str().unwrap().to_string()]);
                }
            }
            if c["includeCrds"] == true {
                a.push("--include-crds".into());
            }
            a
        })
        .collect()
}

fn assert_same(args: &[String], cwd: &Path) -> Written {
    let home = tempfile::tempdir().unwrap();
    let bare = helm_run(args, cwd, home.path(), false);
    let with = helm_run(args, cwd, home.path(), true);
    assert_eq!(
        bare,
        with,
        "helm {args:?} in {} wrote something else with LC_MESSAGES={}",
        cwd.display(),
        imagegate_render::HELM_MESSAGES_LOCALE
    );
    bare
}

#[test]
fn helm_writes_the_same_bytes_for_every_bundled_cell_with_imagegates_message_locale() {
    let mut rendered = 0;
    let mut documents = 0;
    for fleet in ["charts-testdata", "charts-upstream"] {
        let dir: PathBuf = root().join(fleet);
        for args in cell_args(&dir) {
            let w = assert_same(&args, &dir);
            if w.code == Some(0) {
                rendered += 1;
                documents += w.stdout.matches("# Source: ").count();
            }
        }
    }
    // Not vacuous: most cells render, with their documents.
    assert!(rendered >= 40, "only {rendered} cells rendered");
    assert!(documents >= 200, "only {documents} documents rendered");
    eprintln!("{rendered} cells, {documents} documents: the same bytes");
}

#[test]
fn helm_fails_with_the_same_words_with_imagegates_message_locale() {
    let fleet = tree(&[
        ("c/Chart.yaml", "apiVersion: v2\nname: c\nversion: 1.0.0\n"),
        ("c/values.yaml", "image: {}\n"),
        (
            "c/templates/required.yaml",
            "image: {{ required \"image.tag is required: set it in your values\" .Values.image.tag }}\n",
        ),
        (
            "d/Chart.yaml",
            "apiVersion: v2\nname: d\nversion: 1.0.0\n",
        ),
        ("d/templates/fail.yaml", "{{ fail \"this chart refuses\" }}\n"),
        (
            "e/Chart.yaml",
            "apiVersion: v2\nname: e\nversion: 1.0.0\n",
        ),
        ("e/templates/broken.yaml", "{{ if .Values.x }}\nno end\n"),
        ("bad-values.yaml", "image: [unclosed\n"),
        ("missing-key.yaml", "image:\n  repository: r\n"),
    ]);
    let cases: [&[&str]; 5] = [
        &["template", "r", "c"],
        &["template", "r", "c", "--values", "missing-key.yaml"],
        &["template", "r", "d"],
        &["template", "r", "e"],
        &["template", "r", "c", "--values", "bad-values.yaml"],
    ];
    for case in cases {
        let args: Vec<String> = case.iter().map(|s| s.to_string()).collect();
        let w = assert_same(&args, fleet.path());
        assert_ne!(w.code, Some(0), "helm {args:?} was meant to fail");
        assert!(w.stderr.contains("Error"), "helm {args:?}: {}", w.stderr);
    }
}
