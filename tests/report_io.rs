//! A report that cannot be written is exit 2, never a silent pass (no helm needed: `scan`).

use std::process::{Command, Stdio};

fn scan(args: &[&str], stdout: Stdio) -> std::process::Output {
    let dir = tempfile::tempdir().unwrap();
    let digest = format!("ghcr.io/acme/web@sha256:{}", "a".repeat(64));
    std::fs::write(
        dir.path().join("m.yaml"),
        format!("apiVersion: v1\nkind: Pod\nmetadata: {{name: p}}\nspec: {{containers: [{{name: a, image: \"{digest}\", imagePullPolicy: IfNotPresent}}]}}\n"),
    )
    .unwrap();
    Command::new(env!("CARGO_BIN_EXE_imagegate"))
        .args(args)
        .current_dir(dir.path())
        .env("NO_COLOR", "1")
        .stdout(stdout)
        .stderr(Stdio::piped())
        .output()
        .unwrap()
}

#[test]
fn a_clean_scan_whose_report_file_cannot_be_written_is_exit_2() {
    let ok = scan(&["scan", "m.yaml"], Stdio::piped());
    assert_eq!(ok.status.code(), Some(0), "the input itself is clean");
    let out = scan(
        &["scan", "m.yaml", "--output", "json=/dev/full"],
        Stdio::piped(),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("No space left on device"), "{stderr}");
    let out = scan(
        &["scan", "m.yaml", "--output", "json=/nonexistent/dir/r.json"],
        Stdio::piped(),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("cannot write /nonexistent/dir/r.json"),
        "{stderr}"
    );
}

#[test]
fn a_clean_scan_whose_stdout_cannot_be_written_is_exit_2() {
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let out = scan(&["scan", "m.yaml", "--format", "json"], Stdio::from(full));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("No space left on device"), "{stderr}");
}

#[test]
fn a_run_started_with_stdout_closed_is_exit_2_not_a_lost_verdict() {
    let dir = tempfile::tempdir().unwrap();
    // A clean input: before, the closed stdout swallowed the report and the run exited 0.
    let digest = format!("ghcr.io/acme/web@sha256:{}", "a".repeat(64));
    std::fs::write(
        dir.path().join("m.yaml"),
        format!("apiVersion: v1\nkind: Pod\nmetadata: {{name: p}}\nspec: {{containers: [{{name: a, image: \"{digest}\", imagePullPolicy: IfNotPresent}}]}}\n"),
    )
    .unwrap();
    let bin = env!("CARGO_BIN_EXE_imagegate");
    let closed = Command::new("sh")
        .args(["-c", "exec \"$0\" scan m.yaml >&-", bin])
        .current_dir(dir.path())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&closed.stderr);
    assert_eq!(closed.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("standard output is closed"), "{stderr}");
    // Variant: stdout sent to /dev/null on purpose is a choice, not an error.
    let null = Command::new("sh")
        .args(["-c", "exec \"$0\" scan m.yaml >/dev/null", bin])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(null.status.code(), Some(0));
    // Variant: `/dev/null` opened read-write, as Python's `subprocess.DEVNULL` opens it (and as
    // the runtime reopens a closed descriptor), is a choice too.
    let null_rw = Command::new("sh")
        .args(["-c", "exec \"$0\" scan m.yaml 1<>/dev/null", bin])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(null_rw.status.code(), Some(0));
}
