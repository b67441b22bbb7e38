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

/// One pipe of the child, read while it runs: at most `cap` bytes kept; past them the group is
/// killed once (the output is unusable anyway) and the rest is read and dropped, so the writer is
/// never blocked. A read error ends the reading and is kept: the output is then incomplete.
struct Sink {
    pipe: std::fs::File,
    cap: usize,
    buf: Vec<u8>,
    over: bool,
    failed: Option<String>,
    done: bool,
}

impl Sink {
    fn new(pipe: std::fs::File, cap: usize) -> Self {
        Self {
            pipe,
            cap,
            buf: Vec::new(),
            over: false,
            failed: None,
            done: false,
        }
    }

    /// Reads what the pipe holds (it was seen readable, so the read does not block).
    fn read(&mut self, chunk: &mut [u8], pgid: i32) {
        match self.pipe.read(chunk) {
            Ok(0) => self.done = true,
            Ok(n) => {
                if !self.over && self.buf.len() + n > self.cap {
                    self.over = true;
                    signal_group(pgid, Signal::SIGKILL);
                }
                if !self.over {
                    self.buf.extend_from_slice(&chunk[..n]);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                self.failed = Some(e.to_string());
                self.done = true;
                signal_group(pgid, Signal::SIGKILL);
            }
        }
    }
}

/// Without a descriptor for the child's exit (a kernel before 5.3), how often the loop of
/// [`run_bounded`] looks whether it has exited while its pipes stay open.
const EXIT_TICK: Duration = Duration::from_millis(20);

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
    run_watched(cmd, bounds, spawn::pidfd)
}

/// [`run_bounded`], the child's exit watched through `exit_fd` (a pidfd, or `None` to look
/// every [`EXIT_TICK`]).
fn run_watched(
    cmd: Command,
    bounds: &Bounds,
    exit_fd: impl Fn(i32) -> Option<std::os::fd::OwnedFd>,
) -> Result<Output, ProcessError> {
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
    // Both pipes and the child's exit are waited for on this thread, with `poll`: a render
    // starts no thread of its own (three per render were a twentieth of imagegate's CPU on a
    // fleet where every cell has findings).
    let exit = exit_fd(pgid);
    let mut sinks = [
        Sink::new(stdout, max_stdout),
        Sink::new(stderr, 1024 * 1024),
    ];
    let mut chunk = vec![0u8; 64 * 1024];
    // A deadline past what an `Instant` holds is no deadline (a `--timeout` of centuries).
    let deadline = start.checked_add(timeout);
    // When SIGTERM was sent (at the deadline) and SIGKILL is due.
    let mut kill_at: Option<Instant> = None;
    let mut killed = false;
    // Whether the leader has exited. It is reaped only after the group's last signal: until
    // then its zombie holds the group id, so no signal of ours can reach another process that
    // was given the same id as a new group.
    let mut exited = false;
    let mut wait_failed: Option<std::io::Error> = None;
    // Once the leader has exited: how long its pipes may stay open after the group was killed
    // (only a process that left the group can hold them).
    let mut drain_until: Option<Instant> = None;
    let mut lingered = false;
    loop {
        if !exited {
            let now_exited = spawn::has_exited(pgid).unwrap_or_else(|e| {
                wait_failed = Some(e);
                true
            });
            if now_exited {
                exited = true;
                // The leader is gone; make sure nothing it started lingers holding the pipes.
                signal_group(pgid, Signal::SIGKILL);
                let now = Instant::now();
                drain_until = Some(deadline.map_or(now, |d| d.max(now)) + GRACE);
            }
        }
        if sinks.iter().all(|s| s.done) && exited {
            break;
        }
        let now = Instant::now();
        let wake = match (exited, kill_at) {
            (true, _) => match drain_until {
                Some(until) if now >= until => {
                    lingered = true;
                    break;
                }
                Some(until) => until,
                None => now,
            },
            (false, None) if deadline.is_some_and(|d| now >= d) => {
                signal_group(pgid, Signal::SIGTERM);
                kill_at = Some(now + GRACE);
                now + GRACE
            }
            (false, None) => deadline.unwrap_or(now + Duration::from_secs(3600)),
            (false, Some(at)) if now >= at && !killed => {
                signal_group(pgid, Signal::SIGKILL);
                killed = true;
                now + GRACE
            }
            (false, Some(at)) if !killed => at,
            // Killed: SIGKILL cannot be caught, the exit is near.
            (false, Some(_)) => now + GRACE,
        };
        let mut wait = wake.saturating_duration_since(now);
        let mut fds: Vec<i32> = Vec::with_capacity(3);
        let mut which: Vec<Option<usize>> = Vec::with_capacity(3);
        for (i, s) in sinks.iter().enumerate() {
            if !s.done {
                fds.push(std::os::fd::AsRawFd::as_raw_fd(&s.pipe));
                which.push(Some(i));
            }
        }
        if !exited {
            match &exit {
                Some(pidfd) => {
                    fds.push(std::os::fd::AsRawFd::as_raw_fd(pidfd));
                    which.push(None);
                }
                None => wait = wait.min(EXIT_TICK),
            }
        }
        let ready = match spawn::poll_readable(&fds, wait) {
            Ok(ready) => ready,
            Err(e) => {
                // Nothing can be waited for any more: end the child, keep what was read.
                for s in sinks.iter_mut().filter(|s| !s.done) {
                    s.failed = Some(format!("waiting for its output failed: {e}"));
                    s.done = true;
                }
                signal_group(pgid, Signal::SIGKILL);
                break;
            }
        };
        for (r, w) in ready.iter().zip(&which) {
            if let (true, Some(i)) = (r, w) {
                sinks[*i].read(&mut chunk, pgid);
            }
        }
    }
    signal_group(pgid, Signal::SIGKILL);
    forget_group(pgid);
    // The group has had its last signal: the leader (exited, or killed just now) is reaped.
    let status = match wait_failed {
        Some(e) => Err(e),
        None => spawn::wait(pgid),
    };
    let [out, err] = sinks;
    let (stdout, stderr) = (out.buf, err.buf);
    let elapsed = start.elapsed();
    if kill_at.is_some() {
        return Err(ProcessError::Timeout(timeout, stderr));
    }
    if out.over {
        return Err(ProcessError::OutputTooLarge(max_stdout));
    }
    if lingered {
        return Err(ProcessError::Unreadable(
            "a process that left its process group kept its output open".into(),
        ));
    }
    if let Some(failed) = out.failed.or(err.failed) {
        return Err(ProcessError::Unreadable(failed));
    }
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

    /// `sh -c script` within `timeout`, stdout capped at `cap`, watched by a pidfd or not.
    fn sh(
        script: &str,
        timeout: Duration,
        cap: usize,
        pidfd: bool,
    ) -> Result<Output, ProcessError> {
        let mut cmd = Command::new("/bin/sh");
        cmd.args(["-c", script]);
        let bounds = Bounds {
            timeout,
            max_stdout: cap,
            inherit_env: true,
            ..Bounds::default()
        };
        if pidfd {
            run_bounded(cmd, &bounds)
        } else {
            run_watched(cmd, &bounds, |_| None)
        }
    }

    #[test]
    fn both_pipes_are_read_to_their_end_and_the_status_kept() {
        for pidfd in [true, false] {
            // More than a pipe holds, on both pipes at once, so neither may wait for the other.
            let out = sh(
                "head -c 300000 /dev/zero; head -c 200000 /dev/zero >&2; exit 3",
                Duration::from_secs(20),
                1 << 20,
                pidfd,
            )
            .unwrap();
            assert_eq!((out.stdout.len(), out.stderr.len()), (300_000, 200_000));
            assert_eq!((out.status_ok, out.code), (false, Some(3)));
        }
    }

    #[test]
    fn a_child_past_its_deadline_is_terminated_then_killed() {
        for pidfd in [true, false] {
            let started = Instant::now();
            let err = sh(
                "echo started >&2; sleep 30",
                Duration::from_millis(300),
                1 << 20,
                pidfd,
            )
            .unwrap_err();
            assert!(
                matches!(&err, ProcessError::Timeout(_, e) if e == b"started\n"),
                "{err:?}"
            );
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "{:?}",
                started.elapsed()
            );
            // One that ignores SIGTERM is killed after the grace period.
            let started = Instant::now();
            let err = sh(
                "trap '' TERM; while :; do sleep 1; done",
                Duration::from_millis(300),
                1 << 20,
                pidfd,
            )
            .unwrap_err();
            assert!(matches!(err, ProcessError::Timeout(..)), "{err:?}");
            let took = started.elapsed();
            assert!(
                took >= GRACE && took < GRACE + Duration::from_secs(8),
                "{took:?}"
            );
        }
    }

    #[test]
    fn output_past_the_cap_kills_the_child_at_once() {
        for pidfd in [true, false] {
            let started = Instant::now();
            let err = sh("exec yes", Duration::from_secs(60), 1 << 16, pidfd).unwrap_err();
            assert!(
                matches!(err, ProcessError::OutputTooLarge(65536)),
                "{err:?}"
            );
            assert!(started.elapsed() < Duration::from_secs(10));
        }
    }

    #[test]
    fn what_the_child_left_running_is_killed_with_it_and_does_not_hold_the_run() {
        for pidfd in [true, false] {
            // The background sleep holds both pipes open after the shell exits.
            let started = Instant::now();
            let out = sh(
                "sleep 30 & echo done",
                Duration::from_secs(60),
                1 << 20,
                pidfd,
            )
            .unwrap();
            assert_eq!(out.stdout, b"done\n");
            assert!(out.status_ok);
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "{:?}",
                started.elapsed()
            );
        }
    }

    #[test]
    fn a_process_that_left_the_group_cannot_hold_the_run_past_its_deadline() {
        let started = Instant::now();
        // `setsid` leaves the group, so the kill at the leader's exit misses it.
        let err = sh(
            "setsid sleep 5 & sleep 0.3; echo done",
            Duration::from_millis(500),
            1 << 20,
            true,
        )
        .unwrap_err();
        assert!(matches!(err, ProcessError::Unreadable(_)), "{err:?}");
        let took = started.elapsed();
        assert!(took < GRACE + Duration::from_secs(8), "{took:?}");
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
