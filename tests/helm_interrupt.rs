//! Ctrl-C and SIGTERM with real helm on a chart that never finishes: imagegate exits with 130
//! promptly, no helm of its process groups survives, and no temporary folder is left behind.

mod common;
use common::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Live (non-zombie) processes whose working directory is under `dir`: helm runs in its sandbox.
fn processes_under(dir: &Path) -> Vec<u32> {
    processes_in(|cwd| cwd.starts_with(dir))
}

/// Live (non-zombie) processes whose working directory satisfies `at`.
fn processes_in(at: impl Fn(&Path) -> bool) -> Vec<u32> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(cwd) = std::fs::read_link(entry.path().join("cwd")) else {
            continue;
        };
        let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        let zombie = stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| rest.starts_with('Z'));
        if at(&cwd) && !zombie {
            out.push(pid);
        }
    }
    out
}

fn wait_for<T>(limit: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if let Some(v) = f() {
            return Some(v);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

/// `imagegate` run in `dir` with the test helm and `tmp` as its temporary folder.
fn imagegate_in(dir: &Path, tmp: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_imagegate"));
    cmd.current_dir(dir)
        .env("IMAGEGATE_HELM", helm())
        .env("TMPDIR", tmp);
    cmd
}

/// Two cells (dev, prod) of a chart whose render never finishes.
fn hanging_fleet() -> tempfile::TempDir {
    tree(&[
        ("imagegate.yaml", "version: 1\nenvironments: [{name: dev}, {name: prod}]\ncomponents:\n  - { name: hang, chart: charts/hang }\n"),
        ("charts/hang/Chart.yaml", "apiVersion: v2\nname: hang\nversion: 0.1.0\n"),
        ("charts/hang/templates/loop.yaml", "{{- range $i := until 100000 }}{{- range $j := until 100000 }}{{- end }}{{- end }}\n"),
    ])
}

fn interrupted_by(signal: &str) {
    let dir = hanging_fleet();
    let tmp = tempfile::tempdir().unwrap();
    let tmp_real: PathBuf = tmp.path().canonicalize().unwrap();
    let mut child = imagegate_in(dir.path(), &tmp_real)
        .args([
            "check",
            "--no-progress",
            "--format",
            "json",
            "-j",
            "2",
            "--timeout",
            "600",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let helms = wait_for(Duration::from_secs(30), || {
        let p = processes_under(&tmp_real);
        (p.len() == 2).then_some(p)
    })
    .unwrap_or_else(|| {
        panic!(
            "two helm renders never started: {:?}",
            processes_under(&tmp_real)
        )
    });
    // The sandboxes helm runs in are private to the user.
    for entry in std::fs::read_dir(&tmp_real).unwrap().flatten() {
        use std::os::unix::fs::PermissionsExt;
        let mode = entry.metadata().unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700, "{} has mode {mode:o}", entry.path().display());
    }
    let sent = Instant::now();
    let st = Command::new("kill")
        .args([&format!("-{signal}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    let status =
        wait_for(Duration::from_secs(10), || child.try_wait().unwrap()).unwrap_or_else(|| {
            let _ = child.kill();
            panic!("imagegate did not exit within 10s of SIG{signal}")
        });
    let stderr = {
        use std::io::Read;
        let mut s = String::new();
        child.stderr.take().unwrap().read_to_string(&mut s).unwrap();
        s
    };
    assert_eq!(status.code(), Some(130), "SIG{signal}: {stderr}");
    assert!(
        sent.elapsed() < Duration::from_secs(5),
        "took {:?}",
        sent.elapsed()
    );
    assert!(
        stderr.contains("imagegate: interrupted; stopped 2 helm process(es)"),
        "{stderr}"
    );
    let gone = wait_for(Duration::from_secs(5), || all_gone(&helms).then_some(()));
    assert!(gone.is_some(), "helm {helms:?} outlived imagegate");
    assert_eq!(processes_under(&tmp_real), Vec::<u32>::new());
    let left: Vec<_> = std::fs::read_dir(&tmp_real)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert!(left.is_empty(), "temporary folders left: {left:?}");
}

#[test]
fn helm_sigint_stops_every_helm_and_removes_temporary_folders() {
    interrupted_by("INT");
}

#[test]
fn helm_sigterm_stops_every_helm_and_removes_temporary_folders() {
    interrupted_by("TERM");
}

/// True when every pid is gone or a zombie.
fn all_gone(pids: &[u32]) -> bool {
    pids.iter().all(|pid| {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        stat.is_empty()
            || stat
                .rsplit_once(") ")
                .is_some_and(|(_, r)| r.starts_with('Z'))
    })
}

#[test]
fn helm_sigkill_takes_every_helm_along_and_the_next_run_removes_the_folders() {
    // SIGKILL (the OOM killer, a CI hard timeout) cannot be handled: helm must die with
    // imagegate anyway, and the folders it could not remove are removed by the next run.
    let dir = hanging_fleet();
    let tmp = tempfile::tempdir().unwrap();
    let tmp_real: PathBuf = tmp.path().canonicalize().unwrap();
    let mut child = imagegate_in(dir.path(), &tmp_real)
        .args(["check", "--no-progress", "-j", "2", "--timeout", "600"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let helms = wait_for(Duration::from_secs(30), || {
        let p = processes_under(&tmp_real);
        (p.len() == 2).then_some(p)
    })
    .expect("two helm renders started");
    child.kill().unwrap();
    let _ = child.wait();
    assert!(
        wait_for(Duration::from_secs(5), || all_gone(&helms).then_some(())).is_some(),
        "helm {helms:?} outlived a SIGKILLed imagegate"
    );
    let left: Vec<PathBuf> = std::fs::read_dir(&tmp_real)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert_eq!(left.len(), 2, "the killed run's sandboxes: {left:?}");
    // A folder of a live run (this test's own pid) and one of another user's naming are kept.
    let live = tmp_real.join(format!("imagegate-helm-{}-keep", std::process::id()));
    std::fs::create_dir(&live).unwrap();
    let unrelated = tmp_real.join("imagegate-helm-notapid-x");
    std::fs::create_dir(&unrelated).unwrap();
    let next = imagegate_in(dir.path(), &tmp_real)
        .args(["cells"])
        .output()
        .unwrap();
    assert_eq!(next.status.code(), Some(0), "{}", stderr(&next));
    for p in &left {
        assert!(!p.exists(), "{} was not removed", p.display());
    }
    assert!(live.exists() && unrelated.exists());
}

#[test]
fn helm_ctrl_c_while_diff_unpacks_the_base_leaves_no_folder() {
    // A base revision with a couple of thousand files takes a while to unpack; an interrupt
    // that lands while it does (or at any later point) removes the unpacked folder. More files
    // only cost time: writing and committing them is most of this test.
    let dir = tree(&[
        ("imagegate.yaml", "version: 1\nenvironments: [{name: dev}]\ncomponents:\n  - { name: web, chart: charts/web }\n"),
        ("charts/web/Chart.yaml", "apiVersion: v2\nname: web\nversion: 0.1.0\n"),
        ("charts/web/templates/loop.yaml", "{{- range $i := until 100000 }}{{- range $j := until 100000 }}{{- end }}{{- end }}\n"),
    ]);
    for i in 0..2_000 {
        let sub = dir.path().join(format!("bulk/{}", i % 20));
        std::fs::create_dir_all(&sub).unwrap();
        std::fs::write(sub.join(format!("{i}.txt")), format!("{i}\n")).unwrap();
    }
    git(dir.path(), &["init", "-q"]);
    git(dir.path(), &["add", "-A"]);
    git(dir.path(), &["commit", "-q", "-m", "base"]);
    let tmp = tempfile::tempdir().unwrap();
    let tmp_real: PathBuf = tmp.path().canonicalize().unwrap();
    let mut child = imagegate_in(dir.path(), &tmp_real)
        .args([
            "diff",
            "--base",
            "HEAD",
            "--no-progress",
            "--no-cache",
            "--timeout",
            "600",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let unpacking = wait_for(Duration::from_secs(30), || {
        std::fs::read_dir(&tmp_real)
            .unwrap()
            .flatten()
            .any(|e| {
                e.file_name()
                    .to_string_lossy()
                    .starts_with("imagegate-rev-")
            })
            .then_some(())
    });
    assert!(unpacking.is_some(), "the base was never unpacked");
    let st = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    let status =
        wait_for(Duration::from_secs(15), || child.try_wait().unwrap()).unwrap_or_else(|| {
            let _ = child.kill();
            panic!("imagegate did not exit within 15s of SIGINT")
        });
    assert_eq!(status.code(), Some(130));
    let left: Vec<_> = std::fs::read_dir(&tmp_real)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert!(left.is_empty(), "temporary folders left: {left:?}");
    assert_eq!(processes_under(&tmp_real), Vec::<u32>::new());
}

#[test]
fn helm_an_empty_or_relative_tmpdir_never_puts_folders_in_the_repository() {
    // `TMPDIR=` (an empty variable a CI template left behind) or a relative one would name the
    // working folder, which is the repository under check: the run's folders go to /tmp.
    for tmpdir in ["", "tmp"] {
        let dir = hanging_fleet();
        let mut child = Command::new(env!("CARGO_BIN_EXE_imagegate"))
            .current_dir(dir.path())
            .env("IMAGEGATE_HELM", helm())
            .env("TMPDIR", tmpdir)
            .args(["check", "--no-progress", "-j", "2", "--timeout", "600"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let sandboxes = format!("/tmp/imagegate-helm-{}-", child.id());
        let helms = wait_for(Duration::from_secs(30), || {
            let p = processes_in(|cwd| cwd.to_string_lossy().starts_with(&sandboxes));
            (p.len() == 2).then_some(p)
        });
        let in_repo: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("imagegate-") || n == "tmp")
            .collect();
        let st = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(st.success());
        let status = wait_for(Duration::from_secs(10), || child.try_wait().unwrap());
        if status.is_none() {
            let _ = child.kill();
        }
        assert!(
            helms.is_some(),
            "TMPDIR={tmpdir:?}: two helms never ran in sandboxes under {sandboxes}"
        );
        assert_eq!(in_repo, Vec::<String>::new(), "TMPDIR={tmpdir:?}");
        assert_eq!(
            status.and_then(|s| s.code()),
            Some(130),
            "TMPDIR={tmpdir:?}"
        );
    }
}
