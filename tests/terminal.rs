//! The command line as a terminal user meets it (no helm needed: `scan`): a closed pipe ends the
//! output quietly, `CLICOLOR_FORCE` colours output that is not a terminal, and the JSON written
//! holds to its schema.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

/// A folder with `m.yaml`: `pods` Pods, each with an unpinned image (two findings a Pod).
fn manifests(pods: usize) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let text: String = (0..pods)
        .map(|i| {
            format!("---\napiVersion: v1\nkind: Pod\nmetadata: {{name: p{i}}}\nspec: {{containers: [{{name: a, image: busybox}}]}}\n")
        })
        .collect();
    std::fs::write(dir.path().join("m.yaml"), text).unwrap();
    dir
}

fn imagegate(dir: &std::path::Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_imagegate"));
    cmd.args(args)
        .current_dir(dir)
        .env_remove("NO_COLOR")
        .env_remove("CLICOLOR_FORCE")
        .env_remove("CLICOLOR");
    cmd
}

#[test]
fn a_reader_that_stops_reading_ends_the_output_quietly() {
    // Far more than a pipe buffer holds, so imagegate is still writing when the reader leaves.
    let dir = manifests(2000);
    let mut child = imagegate(dir.path(), &["scan", "m.yaml"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    reader.read_line(&mut first).unwrap();
    drop(reader); // `| head -1`
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    // The text leads with the fix list's headline.
    assert!(first.starts_with("fix list: 2000 edits fix"), "{first}");
    // The verdict, as if the whole report had been read: findings are exit 1, not a crash (2)
    // nor a pass.
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.is_empty(), "nothing on stderr, got: {stderr}");
}

#[test]
fn clicolor_force_colours_a_pipe_and_no_color_wins_over_it() {
    let dir = manifests(1);
    let run = |env: &[(&str, &str)], args: &[&str]| {
        let mut cmd = imagegate(dir.path(), &[&["scan", "m.yaml", "-q"], args].concat());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        assert_eq!(out.status.code(), Some(1));
        String::from_utf8(out.stdout).unwrap()
    };
    assert!(!run(&[], &[]).contains('\x1b'), "a pipe is not a terminal");
    assert!(run(&[("CLICOLOR_FORCE", "1")], &[]).contains("\x1b[31m"));
    assert!(!run(&[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")], &[]).contains('\x1b'));
    assert!(!run(&[("CLICOLOR_FORCE", "1")], &["--color", "never"]).contains('\x1b'));
    assert!(run(&[("NO_COLOR", "1")], &["--color", "always"]).contains("\x1b[31m"));
}

#[test]
fn the_json_of_a_scan_matches_its_schema_and_the_summary_has_the_verdict() {
    let dir = manifests(3);
    let out = imagegate(dir.path(), &["scan", "m.yaml", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    common::assert_schema_valid(&report, "scan --format json");
    assert_eq!(report["summary"]["errors"], 6);
    assert_eq!(report["summary"]["verdict"], "fail");
    // Keeping only a rule with no finding passes, and says so.
    let out = imagegate(
        dir.path(),
        &[
            "scan",
            "m.yaml",
            "--format",
            "json",
            "--rule",
            "mutable-tag",
        ],
    )
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    common::assert_schema_valid(&report, "scan --rule");
    assert_eq!(report["summary"]["verdict"], "pass");
}
