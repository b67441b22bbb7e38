//! Running one child process well: its own process group, both pipes drained while it runs,
//! output bounded, a deadline after which the whole group is terminated, and a registry of live
//! groups so an interrupt can stop them all.

use crate::spawn;
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use std::collections::BTreeSet;
use std::io::Read;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Time between SIGTERM and SIGKILL for a group that overran its deadline.
const GRACE: Duration = Duration::from_secs(2);

/// Process groups alive right now, and temporary folders to remove on interrupt. Children are
/// started and temporary folders created while holding this lock, so the interrupt handler (which
/// holds it until the process exits) never misses one that appears while it cleans up.
static LIVE: Mutex<(BTreeSet<i32>, Vec<PathBuf>)> = Mutex::new((BTreeSet::new(), Vec::new()));

/// Set by the interrupt handler: no child may start and no temporary folder be created after it.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// What a finished child left.
#[derive(Debug)]
pub struct Output {
    /// It exited with status 0.
    pub status_ok: bool,
    /// The exit code, when the child exited rather than being killed by a signal.
    pub code: Option<i32>,
    /// The exit status as text, for messages.
    pub status: String,
    /// Its standard output (at most the cap the caller set).
    pub stdout: Vec<u8>,
    /// Its standard error (at most 1 MiB).
    pub stderr: Vec<u8>,
    /// How long it ran.
    pub elapsed: Duration,
}

/// How one child runs, besides its command line.
#[derive(Debug, Clone, Default)]
pub struct Bounds {
    /// Deadline; past it the whole process group is terminated.
    pub timeout: Duration,
    /// Most bytes of stdout kept; past it the group is killed and the run fails.
    pub max_stdout: usize,
    /// Bytes written to the child's stdin (then closed); `None` gives it `/dev/null`.
    pub stdin: Option<Vec<u8>>,
    /// Largest address space of the child (`RLIMIT_AS`), in bytes: an allocation past it fails
    /// inside the child, which then dies instead of taking the machine's memory.
    pub max_address_space: Option<u64>,
    /// The child starts from imagegate's environment, with the command's changes (git);
    /// otherwise it gets exactly the variables set on the command (helm, whose sandbox sets
    /// every variable it passes). `Command` does not say whether `env_clear` was called, so
    /// this must agree with it: a command built with `env_clear` passes `false`.
    pub inherit_env: bool,
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
    /// Its output could not be read to the end (a read error, a reader that broke): what was
    /// read may be truncated, so none of it is used.
    #[error("its output could not be read to the end ({0}); nothing of it is used")]
    Unreadable(String),
    /// The run is being interrupted (Ctrl-C, SIGTERM): nothing new starts.
    #[error("interrupted")]
    Interrupted,
}

fn signal_group(pgid: i32, sig: Signal) {
    // The group may already be gone; that is fine.
    let _ = killpg(Pid::from_raw(pgid), sig);
}

/// Reads a pipe to its end, keeping at most `cap` bytes; on overflow it kills the group once
/// (the output is unusable anyway) and keeps draining so the writer is never blocked.
/// A read error ends the drain and is returned: the output is then incomplete.
fn drain(mut pipe: impl Read, cap: usize, pgid: i32) -> (Vec<u8>, bool, Option<String>) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 64 * 1024];
    let mut over = false;
    let mut failed = None;
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
            Err(e) => {
                failed = Some(e.to_string());
                signal_group(pgid, Signal::SIGKILL);
                break;
            }
        }
    }
    (buf, over, failed)
}

/// Runs `cmd` in a new process group with `timeout` and at most `max_stdout` bytes of stdout
/// (stderr is bounded at 1 MiB; the rest is dropped).
pub(crate) fn run(
    cmd: Command,
    timeout: Duration,
    max_stdout: usize,
) -> Result<Output, ProcessError> {
    run_bounded(
        cmd,
        &Bounds {
            timeout,
            max_stdout,
            ..Bounds::default()
        },
    )
}

/// Runs `cmd` in a new process group within `bounds`: both pipes drained while it runs, stdout
/// capped at `bounds.max_stdout` and stderr at 1 MiB, the whole group terminated at the
/// deadline, and the child tied to imagegate's life. Every child imagegate starts (helm, git)
/// goes through here.
pub fn run_bounded(cmd: Command, bounds: &Bounds) -> Result<Output, ProcessError> {
    let timeout = bounds.timeout;
    let max_stdout = bounds.max_stdout;
    let program = format!("{:?}", cmd.get_program());
    let start = Instant::now();
    let child = {
        let mut live = LIVE.lock().unwrap_or_else(|e| e.into_inner());
        if INTERRUPTED.load(Ordering::SeqCst) {
            return Err(ProcessError::Interrupted);
        }
        let child =
            spawn::spawn(&cmd, bounds).map_err(|source| ProcessError::Spawn { program, source })?;
        live.0.insert(child.pid);
        child
    };
    let spawn::Spawned {
        pid: pgid,
        stdin,
        stdout,
        stderr,
    } = child;
    // The input is written from its own thread: a child that reads slowly (or not at all, and
    // fills its stdout first) never blocks the readers. A child that exits early just closes
    // the pipe; the write error is of no interest.
    if let (Some(input), Some(mut pipe)) = (bounds.stdin.clone(), stdin) {
        std::thread::spawn(move || {
            use std::io::Write;
            let _ = pipe.write_all(&input);
        });
    }
    let out_reader = std::thread::spawn(move || drain(stdout, max_stdout, pgid));
    let err_reader = std::thread::spawn(move || drain(stderr, 1024 * 1024, pgid));
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(spawn::wait(pgid));
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
    forget_group(pgid);
    // A reader that panicked read nothing we can trust: never mistake that for empty output.
    let broken = || {
        (
            Vec::new(),
            false,
            Some("the reader thread failed".to_string()),
        )
    };
    let (stdout, out_over, out_failed) = out_reader.join().unwrap_or_else(|_| broken());
    let (stderr, _, err_failed) = err_reader.join().unwrap_or_else(|_| broken());
    let elapsed = start.elapsed();
    match waited {
        Err(()) => Err(ProcessError::Timeout(timeout, stderr)),
        Ok(_) if out_over => Err(ProcessError::OutputTooLarge(max_stdout)),
        Ok(_) if out_failed.is_some() || err_failed.is_some() => Err(ProcessError::Unreadable(
            out_failed.or(err_failed).unwrap_or_default(),
        )),
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

fn forget_group(pgid: i32) {
    LIVE.lock()
        .unwrap_or_else(|e| e.into_inner())
        .0
        .remove(&pgid);
}

/// The folder imagegate's temporary folders are made in: `TMPDIR` when it is an absolute path,
/// else `/tmp`. Never [`std::env::temp_dir`] as it is: that is `TMPDIR` verbatim, and an empty
/// or relative one names a place in the working folder, which is the repository under check.
pub fn temp_base() -> PathBuf {
    temp_base_from(std::env::var_os("TMPDIR"))
}

fn temp_base_from(tmpdir: Option<std::ffi::OsString>) -> PathBuf {
    tmpdir
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .unwrap_or_else(|| PathBuf::from("/tmp"))
}

/// Creates a private (mode 0700) temporary folder named `<prefix>…` in [`temp_base`] and
/// registers it for removal on interrupt, both under the lock the interrupt handler takes: no
/// folder can appear unseen while the handler cleans up. Fails once the run is interrupted.
pub fn private_temp_dir(prefix: &str) -> std::io::Result<PrivateDir> {
    let mut live = LIVE.lock().unwrap_or_else(|e| e.into_inner());
    if INTERRUPTED.load(Ordering::SeqCst) {
        return Err(std::io::Error::new(
            std::io::ErrorKind::Interrupted,
            "the run is being interrupted",
        ));
    }
    // tempfile makes folders with the default mode (0755 under the usual umask): ask for 0700,
    // so other users cannot read the rendered output or list helm's homes.
    // The pid in the name lets a later run tell a dead run's folder from a live one's.
    let dir = tempfile::Builder::new()
        .prefix(&format!("{prefix}{}-", std::process::id()))
        .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o700))
        .tempdir_in(temp_base())?;
    let path = dir.keep();
    live.1.push(path.clone());
    Ok(PrivateDir { path })
}

/// A folder made by [`private_temp_dir`]. Dropping it hands it to the janitor, a background
/// thread that removes it and then unregisters it, so the thread that used it does not wait for
/// the file system: removing a tree is slow where the file system discards freed blocks at once
/// (ext4 mounted with `discard`, as on this project's CI machines), and a scratch copy of a
/// chart is made and removed for every cell with findings. Until the janitor is done the folder
/// stays registered, so an interrupt still removes it; [`settle`] waits for the janitor at the
/// end of a run.
#[derive(Debug)]
pub struct PrivateDir {
    path: PathBuf,
}

impl PrivateDir {
    /// Where it is.
    pub fn path(&self) -> &std::path::Path {
        &self.path
    }
}

impl Drop for PrivateDir {
    fn drop(&mut self) {
        dispose(std::mem::take(&mut self.path));
    }
}

/// The folders waiting for removal, and whether the janitor is removing one now.
struct Janitor {
    queue: std::collections::VecDeque<PathBuf>,
    busy: bool,
    started: bool,
}

static JANITOR: Mutex<Janitor> = Mutex::new(Janitor {
    queue: std::collections::VecDeque::new(),
    busy: false,
    started: false,
});
/// Signalled when a folder is queued.
static QUEUED: std::sync::Condvar = std::sync::Condvar::new();
/// Signalled when the queue is empty and nothing is being removed.
static IDLE: std::sync::Condvar = std::sync::Condvar::new();

fn remove_now(path: &std::path::Path) {
    let _ = std::fs::remove_dir_all(path);
    unregister_temp(path);
}

fn dispose(path: PathBuf) {
    let mut j = JANITOR.lock().unwrap_or_else(|e| e.into_inner());
    if !j.started {
        let spawned = std::thread::Builder::new()
            .name("imagegate-janitor".into())
            .spawn(janitor);
        if spawned.is_err() {
            // No thread to hand it to: remove it here, as a plain TempDir would.
            drop(j);
            remove_now(&path);
            return;
        }
        j.started = true;
    }
    j.queue.push_back(path);
    QUEUED.notify_one();
}

fn janitor() {
    loop {
        let path = {
            let mut j = JANITOR.lock().unwrap_or_else(|e| e.into_inner());
            j.busy = false;
            while j.queue.is_empty() {
                IDLE.notify_all();
                j = QUEUED.wait(j).unwrap_or_else(|e| e.into_inner());
            }
            j.busy = true;
            j.queue.pop_front()
        };
        if let Some(path) = path {
            remove_now(&path);
        }
    }
}

/// Hands the idle helm sandboxes kept between render pools to the janitor, then waits until
/// every dropped [`PrivateDir`] is removed, at most `limit`; true when it is. A run calls it
/// before it exits, so no folder of a finished run is left behind.
pub fn settle(limit: Duration) -> bool {
    crate::run::release_spare_sandboxes();
    let deadline = Instant::now() + limit;
    let mut j = JANITOR.lock().unwrap_or_else(|e| e.into_inner());
    while !j.queue.is_empty() || j.busy {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return false;
        }
        j = IDLE
            .wait_timeout(j, left)
            .unwrap_or_else(|e| e.into_inner())
            .0;
    }
    true
}

/// The prefixes of the temporary folders imagegate makes (see [`private_temp_dir`]).
pub const TEMP_PREFIXES: [&str; 3] = ["imagegate-helm-", "imagegate-rev-", "imagegate-markers-"];

/// Removes the temporary folders of imagegate runs that died without cleaning up (SIGKILL, the
/// OOM killer, a CI hard timeout): folders in the temporary directory named
/// `<prefix><pid>-…`, owned by this user, whose process no longer exists. A folder of a live
/// run, of another user, or that is not a plain folder is left alone. Returns how many were
/// removed.
pub fn remove_stale_temp_dirs() -> usize {
    use std::os::unix::fs::MetadataExt;
    let Ok(entries) = std::fs::read_dir(temp_base()) else {
        return 0;
    };
    let me = nix::unistd::getuid().as_raw();
    let mut removed = 0;
    // Bounded: a temporary directory with millions of entries is looked at only so far.
    for entry in entries.take(100_000).flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some(rest) = TEMP_PREFIXES.iter().find_map(|p| name.strip_prefix(p)) else {
            continue;
        };
        let Some(pid) = rest
            .split_once('-')
            .and_then(|(pid, _)| pid.parse::<i32>().ok())
            .filter(|pid| *pid > 0)
        else {
            continue;
        };
        let Ok(meta) = entry.path().symlink_metadata() else {
            continue;
        };
        if !meta.is_dir() || meta.uid() != me {
            continue;
        }
        let alive = !matches!(
            nix::sys::signal::kill(Pid::from_raw(pid), None),
            Err(nix::errno::Errno::ESRCH)
        );
        if !alive && std::fs::remove_dir_all(entry.path()).is_ok() {
            removed += 1;
        }
    }
    removed
}

/// Unregisters a temporary folder (it was removed normally).
fn unregister_temp(path: &std::path::Path) {
    LIVE.lock()
        .unwrap_or_else(|e| e.into_inner())
        .1
        .retain(|p| p != path);
}

/// Installs a SIGINT/SIGTERM handler that kills every live helm process group, removes every
/// registered temporary folder, and exits with status 130.
#[allow(clippy::print_stderr)] // the one message of a run that is ending; nothing else can say it
pub fn install_interrupt_handler() {
    let _ = ctrlc::set_handler(|| {
        // Held until exit: no child starts and no folder is created after this point.
        let live = LIVE.lock().unwrap_or_else(|e| e.into_inner());
        INTERRUPTED.store(true, Ordering::SeqCst);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn registered(path: &std::path::Path) -> bool {
        LIVE.lock()
            .unwrap_or_else(|e| e.into_inner())
            .1
            .iter()
            .any(|p| p == path)
    }

    #[test]
    fn only_an_absolute_tmpdir_is_taken_as_the_temporary_folder() {
        let base = |v: Option<&str>| temp_base_from(v.map(std::ffi::OsString::from));
        assert_eq!(base(Some("/var/tmp/x")), PathBuf::from("/var/tmp/x"));
        // Unset, empty or relative: each would otherwise be the working folder, the repository.
        for v in [None, Some(""), Some("tmp"), Some("./tmp"), Some("../tmp")] {
            assert_eq!(base(v), PathBuf::from("/tmp"), "{v:?}");
        }
    }

    #[test]
    fn a_dropped_folder_is_removed_in_the_background_and_settle_waits_for_it() {
        let dirs: Vec<PrivateDir> = (0..20)
            .map(|i| {
                let d = private_temp_dir("imagegate-markers-").unwrap();
                std::fs::create_dir_all(d.path().join("a/b")).unwrap();
                std::fs::write(d.path().join(format!("a/b/{i}.yaml")), "x: 1\n").unwrap();
                d
            })
            .collect();
        let paths: Vec<PathBuf> = dirs.iter().map(|d| d.path().to_path_buf()).collect();
        for p in &paths {
            assert!(p.is_dir());
            assert!(registered(p), "a live folder is removed on interrupt");
        }
        drop(dirs);
        assert!(settle(Duration::from_secs(30)), "the janitor finished");
        for p in &paths {
            assert!(!p.exists(), "{} was removed", p.display());
            assert!(!registered(p), "and unregistered");
        }
        // Settling again, with only what other tests queued meanwhile, still finishes.
        assert!(settle(Duration::from_secs(30)));
    }
}
