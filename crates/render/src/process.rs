//! Running one child process well: its own process group, both pipes drained while it runs,
//! output bounded, a deadline after which the whole group is terminated, and a registry of live
//! groups so an interrupt can stop them all.

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use std::collections::BTreeSet;
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Time between SIGTERM and SIGKILL for a group that overran its deadline.
const GRACE: Duration = Duration::from_secs(2);

/// Process groups alive right now, and temporary folders to remove on interrupt.
static LIVE: Mutex<(BTreeSet<i32>, Vec<PathBuf>)> = Mutex::new((BTreeSet::new(), Vec::new()));

/// What a finished child left.
#[derive(Debug)]
pub(crate) struct Output {
    pub status_ok: bool,
    /// The exit code, when the child exited rather than being killed by a signal.
    pub code: Option<i32>,
    pub status: String,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub elapsed: Duration,
}

/// Why a child did not finish normally.
#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    /// It could not be started.
    #[error("could not start {program}: {source}")]
    Spawn {
        /// Program name.
        program: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// It ran past its deadline and was killed with its whole process group.
    #[error("timed out after {0:?}; the process group was killed")]
    Timeout(Duration, Vec<u8>),
    /// It wrote more than the allowed output and was killed.
    #[error("wrote more than {0} bytes of output; stopped")]
    OutputTooLarge(usize),
}

fn signal_group(pgid: i32, sig: Signal) {
    // The group may already be gone; that is fine.
    let _ = killpg(Pid::from_raw(pgid), sig);
}

/// Reads a pipe to its end, keeping at most `cap` bytes; on overflow it kills the group once
/// (the output is unusable anyway) and keeps draining so the writer is never blocked.
fn drain(mut pipe: impl Read, cap: usize, pgid: i32) -> (Vec<u8>, bool) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 64 * 1024];
    let mut over = false;
    loop {
        match pipe.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => {
                if !over && buf.len() + n > cap {
                    over = true;
                    signal_group(pgid, Signal::SIGKILL);
                }
                if !over {
                    buf.extend_from_slice(&chunk[..n]);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        }
    }
    (buf, over)
}

/// Runs `cmd` in a new process group with `timeout` and at most `max_stdout` bytes of stdout
/// (stderr is bounded at 1 MiB; the rest is dropped).
pub(crate) fn run(
    mut cmd: Command,
    timeout: Duration,
    max_stdout: usize,
) -> Result<Output, ProcessError> {
    let program = format!("{:?}", cmd.get_program());
    cmd.process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let start = Instant::now();
    let mut child = cmd
        .spawn()
        .map_err(|source| ProcessError::Spawn { program, source })?;
    let pgid = child.id() as i32;
    LIVE.lock()
        .unwrap_or_else(|e| e.into_inner())
        .0
        .insert(pgid);
    let stdout = child.stdout.take().expect("piped");
    let stderr = child.stderr.take().expect("piped");
    let out_reader = std::thread::spawn(move || drain(stdout, max_stdout, pgid));
    let err_reader = std::thread::spawn(move || drain(stderr, 1024 * 1024, pgid));
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait());
    });
    let waited = match rx.recv_timeout(timeout) {
        Ok(status) => Ok(status),
        Err(_) => {
            signal_group(pgid, Signal::SIGTERM);
            if rx.recv_timeout(GRACE).is_err() {
                signal_group(pgid, Signal::SIGKILL);
                let _ = rx.recv();
            }
            Err(())
        }
    };
    // The leader is gone; make sure nothing it started lingers holding the pipes open.
    signal_group(pgid, Signal::SIGKILL);
    LIVE.lock()
        .unwrap_or_else(|e| e.into_inner())
        .0
        .remove(&pgid);
    let (stdout, out_over) = out_reader.join().unwrap_or_default();
    let (stderr, _) = err_reader.join().unwrap_or_default();
    let elapsed = start.elapsed();
    match waited {
        Err(()) => Err(ProcessError::Timeout(timeout, stderr)),
        Ok(_) if out_over => Err(ProcessError::OutputTooLarge(max_stdout)),
        Ok(status) => {
            let (status_ok, code, status) = match status {
                Ok(s) => (s.success(), s.code(), s.to_string()),
                Err(e) => (false, None, format!("wait failed: {e}")),
            };
            Ok(Output {
                status_ok,
                code,
                status,
                stdout,
                stderr,
                elapsed,
            })
        }
    }
}

/// Registers a temporary folder to remove if the run is interrupted.
pub fn register_temp(path: PathBuf) {
    LIVE.lock().unwrap_or_else(|e| e.into_inner()).1.push(path);
}

/// Unregisters a temporary folder (it was removed normally).
pub fn unregister_temp(path: &std::path::Path) {
    LIVE.lock()
        .unwrap_or_else(|e| e.into_inner())
        .1
        .retain(|p| p != path);
}

/// Installs a SIGINT/SIGTERM handler that kills every live helm process group, removes every
/// registered temporary folder, and exits with status 130.
pub fn install_interrupt_handler() {
    let _ = ctrlc::set_handler(|| {
        let live = LIVE.lock().unwrap_or_else(|e| e.into_inner());
        for &pgid in &live.0 {
            signal_group(pgid, Signal::SIGKILL);
        }
        for dir in &live.1 {
            let _ = std::fs::remove_dir_all(dir);
        }
        eprintln!(
            "imagegate: interrupted; stopped {} helm process(es)",
            live.0.len()
        );
        std::process::exit(130);
    });
}
