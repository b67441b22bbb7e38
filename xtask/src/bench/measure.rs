//! Timing and peak memory of child processes, and the plain-helm floor.

use super::fleet::Cell;
use anyhow::{bail, Context, Result};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// One measured run of one child process.
#[derive(Clone, Debug)]
pub struct Sample {
    /// Wall-clock seconds from spawn to exit.
    pub seconds: f64,
    /// Exit code, or `128 + signal` when it was killed by a signal.
    pub exit: i32,
    /// The process's own peak RSS in KiB (`VmHWM`, sampled every few milliseconds while it ran,
    /// so a spike in its last milliseconds can be missed: a lower bound).
    pub own_peak_kib: Option<u64>,
    /// `ru_maxrss` of `wait4`: the largest peak RSS of the process and of every descendant it
    /// waited for (for `imagegate check`, its helm children too): an upper bound of its own.
    pub tree_peak_kib: u64,
    /// User + system CPU seconds of the process and of every descendant it waited for.
    pub cpu_seconds: f64,
}

/// How often the sampler reads `/proc/<pid>/status`.
const SAMPLE_EVERY: Duration = Duration::from_millis(5);

/// Runs `cmd` to completion with stdout discarded and stderr written to `stderr_path`, and
/// measures its wall time and peak memory.
///
/// The child is waited for with `waitid(WNOWAIT)` first, so it stays a zombie (its pid cannot be
/// reused) until the `/proc` sampler has stopped, and then reaped with `wait4` for its rusage.
/// `wait4` is used instead of `getrusage(RUSAGE_CHILDREN)`, whose `ru_maxrss` is the maximum over
/// every child this process ever waited for (helm renders included), and instead of
/// `/usr/bin/time`, which is not installed everywhere.
pub fn run_measured(cmd: &mut Command, stderr_path: &Path) -> Result<Sample> {
    let stderr = std::fs::File::create(stderr_path)
        .with_context(|| format!("creating {}", stderr_path.display()))?;
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::from(stderr));
    let start = Instant::now();
    let child = cmd
        .spawn()
        .with_context(|| format!("could not start {cmd:?}"))?;
    let pid = child.id() as libc::pid_t;
    let stop = AtomicBool::new(false);
    let (seconds, own_peak_kib) = std::thread::scope(|s| -> Result<(f64, Option<u64>)> {
        let sampler = s.spawn(|| {
            let path = format!("/proc/{pid}/status");
            let mut peak: Option<u64> = None;
            while !stop.load(Ordering::Relaxed) {
                if let Some(kib) = std::fs::read_to_string(&path)
                    .ok()
                    .and_then(|st| vm_hwm_kib(&st))
                {
                    peak = Some(peak.map_or(kib, |p| p.max(kib)));
                }
                std::thread::sleep(SAMPLE_EVERY);
            }
            peak
        });
        let exited = wait_exited_no_reap(pid);
        let seconds = start.elapsed().as_secs_f64();
        stop.store(true, Ordering::Relaxed);
        let peak = sampler.join().expect("the sampler does not panic");
        exited?;
        Ok((seconds, peak))
    })?;
    let (exit, tree_peak_kib, cpu_seconds) = reap(pid)?;
    // `child` was reaped by wait4 above; dropping a std Child never waits, so this is sound.
    drop(child);
    Ok(Sample {
        seconds,
        exit,
        own_peak_kib,
        tree_peak_kib,
        cpu_seconds,
    })
}

/// `VmHWM:   12345 kB` of `/proc/<pid>/status` (absent once the process is a zombie).
fn vm_hwm_kib(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Blocks until `pid` has exited, leaving it unreaped.
fn wait_exited_no_reap(pid: libc::pid_t) -> Result<()> {
    loop {
        // SAFETY: siginfo_t is plain old data; waitid only writes into it.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: `info` is a valid, writable siginfo_t; `pid` is our own unreaped child.
        let rc = unsafe {
            libc::waitid(
                libc::P_PID,
                pid as libc::id_t,
                &mut info,
                libc::WEXITED | libc::WNOWAIT,
            )
        };
        if rc == 0 {
            return Ok(());
        }
        let err = std::io::Error::last_os_error();
        if err.kind() != std::io::ErrorKind::Interrupted {
            return Err(err).context("waitid on the measured child");
        }
    }
}

/// Reaps `pid` with `wait4`: its exit code, `ru_maxrss` (KiB on Linux) and CPU seconds.
fn reap(pid: libc::pid_t) -> Result<(i32, u64, f64)> {
    loop {
        let mut status: libc::c_int = 0;
        // SAFETY: rusage is plain old data; wait4 only writes into it.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: both pointers are valid and writable; `pid` is our own exited child.
        let rc = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if rc == pid {
            let exit = if libc::WIFEXITED(status) {
                libc::WEXITSTATUS(status)
            } else if libc::WIFSIGNALED(status) {
                128 + libc::WTERMSIG(status)
            } else {
                -1
            };
            return Ok((exit, usage.ru_maxrss.max(0) as u64, cpu_of(&usage)));
        }
        let err = std::io::Error::last_os_error();
        if err.kind() != std::io::ErrorKind::Interrupted {
            return Err(err).context("wait4 on the measured child");
        }
    }
}

fn cpu_of(u: &libc::rusage) -> f64 {
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(u.ru_utime) + tv(u.ru_stime)
}

/// CPU seconds of every child this process has waited for so far (`RUSAGE_CHILDREN`; its
/// times are sums, so the difference around a pass is that pass's CPU).
fn children_cpu() -> f64 {
    // SAFETY: rusage is plain old data; getrusage only writes into it.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `usage` is a valid, writable rusage.
    if unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) } != 0 {
        return f64::NAN;
    }
    cpu_of(&usage)
}

/// The start-up settings a floor pass gives helm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gc {
    /// As imagegate runs helm (`GOGC=400`, `GOMEMLIMIT` at half the default memory bound, and
    /// kubectl's message catalogue of `LC_MESSAGES`; see `imagegate_render`'s sandbox): the
    /// floor the targets are judged against.
    AsImagegate,
    /// Go's defaults and no locale, as helm runs from a bare shell: only reported, to show what
    /// the settings save.
    Stock,
}

/// A `helm` command in the process shape imagegate uses: a cleared environment whose helm
/// homes point into a private scratch folder (`home`), so the floor pays what imagegate's
/// renders pay and nothing of the user's helm configuration.
pub fn helm_command(helm: &Path, home: &Path, gc: Gc) -> Command {
    let mut cmd = Command::new(helm);
    cmd.env_clear()
        .current_dir(home)
        .env("HOME", home.join("home"))
        .env("HELM_CACHE_HOME", home.join("cache"))
        .env("HELM_CONFIG_HOME", home.join("config"))
        .env("HELM_DATA_HOME", home.join("data"))
        .env("HELM_PLUGINS", home.join("plugins"))
        .env("HELM_NO_PLUGINS", "1")
        .env("KUBECONFIG", home.join("no-kubeconfig"))
        .env("TMPDIR", home)
        .env("PATH", "/usr/bin:/bin");
    if gc == Gc::AsImagegate {
        cmd.env("GOGC", "400")
            .env("GOMEMLIMIT", format!("{}B", 4096u64 * 1024 * 1024 / 2))
            .env("LC_MESSAGES", imagegate_render::HELM_MESSAGES_LOCALE);
    }
    cmd
}

/// The arguments imagegate passes for a cell (see `imagegate_render::helm_args`).
pub fn helm_args(cell: &Cell, kube_version: &str) -> Vec<std::ffi::OsString> {
    let mut args: Vec<std::ffi::OsString> = vec![
        "template".into(),
        cell.release.clone().into(),
        cell.chart.clone().into(),
        "--namespace".into(),
        cell.namespace.clone().into(),
        "--kube-version".into(),
        kube_version.into(),
    ];
    for v in &cell.values {
        args.push("--values".into());
        args.push(v.clone().into());
    }
    args
}

/// One pass of plain helm over the matrix.
pub struct Pass {
    /// Wall time of the whole matrix.
    pub seconds: f64,
    /// CPU seconds of all the helm processes (nothing else runs children meanwhile).
    pub cpu_seconds: f64,
    /// Every cell's stdout, with `capture` (else empty).
    pub outputs: Vec<Vec<u8>>,
}

/// Renders every cell with plain `helm template`, `jobs` at a time; with `capture`, keeps every
/// cell's stdout (else it is discarded). Any failed render fails the call: the floor of a fleet
/// that does not render means nothing.
pub fn render_all(
    helm: &Path,
    home: &Path,
    cells: &[Cell],
    kube_version: &str,
    jobs: usize,
    capture: bool,
    gc: Gc,
) -> Result<Pass> {
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let first_error: Mutex<Option<String>> = Mutex::new(None);
    let cpu_before = children_cpu();
    let start = Instant::now();
    let mut outputs: Vec<Vec<u8>> = vec![Vec::new(); if capture { cells.len() } else { 0 }];
    let per_thread: Vec<Vec<(usize, Vec<u8>)>> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..jobs.max(1))
            .map(|_| {
                s.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= cells.len() || failed.load(Ordering::Relaxed) {
                            break;
                        }
                        let cell = &cells[i];
                        let mut cmd = helm_command(helm, home, gc);
                        cmd.args(helm_args(cell, kube_version)).stdin(Stdio::null());
                        if !capture {
                            cmd.stdout(Stdio::null());
                        }
                        match cmd.output() {
                            Ok(out) if out.status.success() => {
                                if capture {
                                    mine.push((i, out.stdout));
                                }
                            }
                            other => {
                                let why = match other {
                                    Ok(out) => format!(
                                        "{}: {}",
                                        out.status,
                                        String::from_utf8_lossy(&out.stderr).trim()
                                    ),
                                    Err(e) => format!("could not start {}: {e}", helm.display()),
                                };
                                failed.store(true, Ordering::Relaxed);
                                first_error
                                    .lock()
                                    .expect("no panics while holding it")
                                    .get_or_insert(format!(
                                        "helm template {} {} failed: {why}",
                                        cell.release,
                                        cell.chart.display()
                                    ));
                                break;
                            }
                        }
                    }
                    mine
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().expect("render workers do not panic"))
            .collect()
    });
    let seconds = start.elapsed().as_secs_f64();
    let cpu_seconds = children_cpu() - cpu_before;
    if let Some(e) = first_error.into_inner().expect("not poisoned") {
        bail!("{e}");
    }
    for (i, out) in per_thread.into_iter().flatten() {
        outputs[i] = out;
    }
    Ok(Pass {
        seconds,
        cpu_seconds,
        outputs,
    })
}

/// Number of YAML documents in a helm output stream (`---` separator lines; content before
/// the first separator counts as one document).
pub fn count_documents(stream: &[u8]) -> usize {
    let text = String::from_utf8_lossy(stream);
    let mut docs = 0;
    let mut open = false;
    for line in text.lines() {
        if line == "---" || line.starts_with("--- ") {
            open = false;
            continue;
        }
        if !open && !line.trim().is_empty() && !line.starts_with('#') {
            docs += 1;
            open = true;
        }
    }
    docs
}

/// The median of `xs` (mean of the middle two for an even count); `None` when empty.
pub fn median(xs: &[f64]) -> Option<f64> {
    if xs.is_empty() {
        return None;
    }
    let mut v = xs.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    let m = v.len() / 2;
    Some(if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_documents_like_helm_writes_them() {
        let s = b"---\n# Source: a/templates/x.yaml\napiVersion: v1\nkind: A\n---\n# Source: b\napiVersion: v1\nkind: B\n";
        assert_eq!(count_documents(s), 2);
        assert_eq!(count_documents(b"kind: A\n---\nkind: B\n"), 2);
        assert_eq!(count_documents(b"---\n# only a comment\n"), 0);
    }

    #[test]
    fn medians() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(&[]), None);
    }

    #[test]
    fn reads_vm_hwm() {
        assert_eq!(vm_hwm_kib("Name:\tx\nVmHWM:\t   12345 kB\n"), Some(12345));
        assert_eq!(vm_hwm_kib("Name:\tx\n"), None);
    }

    #[test]
    fn measures_a_child() {
        let dir = std::env::temp_dir();
        let err = dir.join(format!("xtask-bench-test-{}.err", std::process::id()));
        let s = run_measured(Command::new("sh").args(["-c", "exit 3"]), &err).unwrap();
        assert_eq!(s.exit, 3);
        assert!(s.tree_peak_kib > 0);
        let _ = std::fs::remove_file(err);
    }
}
