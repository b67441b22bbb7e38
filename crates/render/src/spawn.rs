//! Starting a child process without copying imagegate's address space.
//!
//! `std::process::Command` forks when it must run code in the child before `exec` (and it must,
//! for the death signal and the address-space limit below). A fork marks every page of
//! imagegate's memory copy-on-write; with two workers starting a helm every few milliseconds,
//! the page faults that follow in imagegate cost about as much as its own work on a cell
//! (measured with `perf` on the bench fleet: about 40 % of imagegate's CPU on a cold check).
//!
//! So children start the way glibc's `posix_spawn` starts them: `clone(CLONE_VM | CLONE_VFORK)`
//! on a small stack of their own. The child shares imagegate's memory and the calling thread
//! waits until the child has called `execve` (or failed to), so everything the child needs is
//! prepared before the clone: the program path, `argv`, `envp`, the descriptors. The child then
//! makes only system calls, in this order:
//!
//! 1. every caught signal back to its default action, and `SIGPIPE` too (imagegate ignores it;
//!    a child must not inherit that), while all signals are still blocked: a signal delivered
//!    before `exec` must not run one of imagegate's handlers in the child;
//! 2. `setpgid(0, 0)`: a process group of its own, so a deadline or an interrupt can end the
//!    child and everything it started;
//! 3. `dup2` of the three prepared descriptors onto 0, 1 and 2, then `chdir`;
//! 4. `prctl(PR_SET_PDEATHSIG, SIGKILL)`, then a check that imagegate is still its parent:
//!    when imagegate dies (the OOM killer, a CI hard timeout, SIGKILL) the kernel kills the
//!    child, and the check closes the race in which imagegate died before the request;
//! 5. `setrlimit(RLIMIT_AS)` when a memory bound is set;
//! 6. an empty signal mask, and `execve`.
//!
//! A step that fails stores its `errno` where the parent reads it after the clone returns, and
//! the child exits with 127 (the parent reaps it and reports the error).

#![allow(unsafe_code)]

use std::collections::BTreeMap;
use std::ffi::{CString, OsStr, OsString};
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::sync::atomic::{AtomicI32, Ordering};

use crate::process::Bounds;

/// Stack of the child between `clone` and `execve`: it runs a handful of system calls. Mapped
/// on its own with a guard page below it, so an overflow faults instead of writing over memory
/// imagegate's other threads are using.
const CHILD_STACK: usize = 64 * 1024;
const GUARD: usize = 4096;

// The child reads and writes signal dispositions with the raw system call (the libc wrappers
// may take a lock: musl's `sigaction` does for SIGABRT), in the kernel's layout of x86_64 and
// aarch64: handler, flags, restorer, a 64-bit mask.
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
compile_error!("spawn.rs knows the kernel's struct sigaction of x86_64 and aarch64 only");

#[repr(C)]
struct KernelSigaction {
    handler: usize,
    flags: u64,
    restorer: usize,
    mask: u64,
}

/// Size of the kernel's signal set, as `rt_sigprocmask` and `rt_sigaction` take it.
const KERNEL_SIGSET: usize = 8;
/// Signals the kernel knows (`_NSIG`).
const NSIG: libc::c_int = 64;

/// Sets this thread's signal mask with the raw system call (the libc wrappers leave libc's
/// internal signals unblocked; here all must be), returning the previous one.
///
/// # Safety
/// Plain system call on local integers.
unsafe fn set_mask(mask: u64) -> u64 {
    let mut old: u64 = 0;
    libc::syscall(
        libc::SYS_rt_sigprocmask,
        libc::SIG_SETMASK,
        std::ptr::addr_of!(mask),
        std::ptr::addr_of_mut!(old),
        KERNEL_SIGSET,
    );
    old
}

/// A started child: its pid (also its process group) and imagegate's ends of its pipes.
pub(crate) struct Spawned {
    pub pid: i32,
    pub stdin: Option<File>,
    pub stdout: File,
    pub stderr: File,
}

/// Everything the child reads, prepared by the parent; it lives on the parent's stack until the
/// clone returns, which is after the child's `execve`.
struct ChildArgs {
    program: *const libc::c_char,
    argv: *const *const libc::c_char,
    envp: *const *const libc::c_char,
    /// Null: stay in imagegate's working folder.
    cwd: *const libc::c_char,
    /// The descriptors that become 0, 1 and 2 (all above 2, so no `dup2` overwrites another).
    fds: [libc::c_int; 3],
    parent: libc::pid_t,
    rlimit: Option<libc::rlimit>,
    /// The `errno` of the step that failed; 0 when the child reached `execve` successfully.
    error: AtomicI32,
}

fn cstring(s: &OsStr) -> io::Result<CString> {
    CString::new(s.as_bytes()).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{s:?} contains a NUL byte"),
        )
    })
}

/// The environment the child gets: imagegate's (when inherited) with the command's changes.
fn environment(cmd: &Command, inherit: bool) -> io::Result<Vec<CString>> {
    let mut env: BTreeMap<OsString, OsString> = if inherit {
        std::env::vars_os().collect()
    } else {
        BTreeMap::new()
    };
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => env.insert(k.to_os_string(), v.to_os_string()),
            None => env.remove(k),
        };
    }
    env.into_iter()
        .map(|(k, v)| {
            let mut kv = k;
            kv.push("=");
            kv.push(v);
            cstring(&kv)
        })
        .collect()
}

/// The file `execve` is given: `program` itself when it names a path, else the first
/// executable of that name in an absolute entry of `PATH` (the child's `PATH` when the command
/// sets one, as `std::process::Command` does). An empty or relative entry would mean the
/// working folder, which is the repository under check: skipped.
fn resolve(program: &OsStr, cmd: &Command) -> io::Result<PathBuf> {
    if program.as_bytes().contains(&b'/') {
        return Ok(PathBuf::from(program));
    }
    let child_path = cmd
        .get_envs()
        .find(|(k, _)| *k == OsStr::new("PATH"))
        .map(|(_, v)| v.map(OsStr::to_os_string));
    let path = match child_path {
        Some(set) => set,
        None => std::env::var_os("PATH"),
    }
    .unwrap_or_default();
    first_on_path(&path, program).ok_or_else(|| io::Error::from_raw_os_error(libc::ENOENT))
}

/// The first executable `name` in an absolute entry of the search path `path` (an empty or
/// relative entry means the current folder to a shell, which is the repository under check
/// here: skipped).
pub(crate) fn first_on_path(path: &OsStr, name: &OsStr) -> Option<PathBuf> {
    std::env::split_paths(path)
        .filter(|d| d.is_absolute())
        .map(|d| d.join(name))
        .find(|p| executable(p))
}

fn executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

fn last_errno() -> i32 {
    io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EIO)
}

/// A pipe whose both ends are close-on-exec and above 2.
fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: pipe2 writes two new descriptors into the array, which we then own.
    let (r, w) = unsafe {
        if libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) != 0 {
            return Err(io::Error::last_os_error());
        }
        (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1]))
    };
    Ok((above_stdio(r)?, above_stdio(w)?))
}

/// `fd` itself when it is above 2, else a close-on-exec duplicate that is (imagegate may have
/// been started with 0, 1 or 2 closed, and then a pipe gets one of them).
fn above_stdio(fd: OwnedFd) -> io::Result<OwnedFd> {
    if fd.as_raw_fd() > 2 {
        return Ok(fd);
    }
    // SAFETY: fcntl on a descriptor we own; the result is a new descriptor we then own.
    let dup = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 3) };
    if dup < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `dup` was just returned by fcntl and is owned by nothing else.
    Ok(unsafe { OwnedFd::from_raw_fd(dup) })
}

/// The child's `RLIMIT_AS` for `bytes`: never above the hard limit imagegate itself runs under
/// (`ulimit -Hv`), which an unprivileged process cannot raise.
fn address_space_limit(bytes: u64) -> libc::rlimit {
    let mut current = libc::rlimit {
        rlim_cur: libc::RLIM_INFINITY,
        rlim_max: libc::RLIM_INFINITY,
    };
    // SAFETY: getrlimit writes into the local struct.
    unsafe { libc::getrlimit(libc::RLIMIT_AS, &mut current) };
    let limit = (bytes as libc::rlim_t).min(current.rlim_max);
    libc::rlimit {
        rlim_cur: limit,
        rlim_max: limit,
    }
}

/// The child's stack: an anonymous mapping with an inaccessible guard page at its low end.
struct Stack(*mut libc::c_void);

impl Stack {
    fn map() -> io::Result<Self> {
        // SAFETY: a fresh anonymous mapping; its first page is then made inaccessible.
        unsafe {
            let p = libc::mmap(
                std::ptr::null_mut(),
                GUARD + CHILD_STACK,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_STACK,
                -1,
                0,
            );
            if p == libc::MAP_FAILED {
                return Err(io::Error::last_os_error());
            }
            let stack = Self(p);
            if libc::mprotect(p, GUARD, libc::PROT_NONE) != 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(stack)
        }
    }

    /// The top of the stack (it grows down), 16-byte aligned as the ABI requires.
    fn top(&self) -> *mut libc::c_void {
        (self.0 as usize + GUARD + CHILD_STACK) as *mut libc::c_void
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping `map` made; no child runs on it any more (the
        // clone returned, which with CLONE_VFORK is after the child's execve or exit).
        unsafe { libc::munmap(self.0, GUARD + CHILD_STACK) };
    }
}

/// Starts `cmd` (program, arguments, environment changes, working folder) as described in the
/// module documentation. The caller owns the child: it must reap it with [`wait`].
pub(crate) fn spawn(cmd: &Command, bounds: &Bounds) -> io::Result<Spawned> {
    let program = resolve(cmd.get_program(), cmd)?;
    let program = cstring(program.as_os_str())?;
    let mut argv_c = vec![cstring(cmd.get_program())?];
    for a in cmd.get_args() {
        argv_c.push(cstring(a)?);
    }
    let envp_c = environment(cmd, bounds.inherit_env)?;
    let cwd = cmd
        .get_current_dir()
        .map(|d| cstring(d.as_os_str()))
        .transpose()?;
    let mut argv: Vec<*const libc::c_char> = argv_c.iter().map(|s| s.as_ptr()).collect();
    argv.push(std::ptr::null());
    let mut envp: Vec<*const libc::c_char> = envp_c.iter().map(|s| s.as_ptr()).collect();
    envp.push(std::ptr::null());

    let (stdin_child, stdin_parent) = if bounds.stdin.is_some() {
        let (r, w) = pipe()?;
        (r, Some(w))
    } else {
        let null = File::open("/dev/null")?;
        (above_stdio(OwnedFd::from(null))?, None)
    };
    let (stdout_parent, stdout_child) = pipe()?;
    let (stderr_parent, stderr_child) = pipe()?;

    let args = ChildArgs {
        program: program.as_ptr(),
        argv: argv.as_ptr(),
        envp: envp.as_ptr(),
        cwd: cwd.as_ref().map_or(std::ptr::null(), |c| c.as_ptr()),
        fds: [
            stdin_child.as_raw_fd(),
            stdout_child.as_raw_fd(),
            stderr_child.as_raw_fd(),
        ],
        parent: std::process::id() as libc::pid_t,
        rlimit: bounds.max_address_space.map(address_space_limit),
        error: AtomicI32::new(0),
    };
    let stack = Stack::map()?;

    // SAFETY: all signals are blocked on this thread around the clone, so no handler of
    // imagegate's runs in the child (it shares our memory); `child` only makes system calls on
    // the prepared `args`, which outlive it: with CLONE_VFORK this thread resumes only after the
    // child's execve or exit. The old mask is restored right after.
    let (pid, clone_errno) = unsafe {
        let old = set_mask(!0);
        let pid = libc::clone(
            child,
            stack.top(),
            libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD,
            std::ptr::addr_of!(args) as *mut libc::c_void,
        );
        let clone_errno = if pid < 0 { last_errno() } else { 0 };
        set_mask(old);
        (pid, clone_errno)
    };
    drop(stack);
    if pid < 0 {
        return Err(io::Error::from_raw_os_error(clone_errno));
    }
    let error = args.error.load(Ordering::SeqCst);
    if error != 0 {
        let _ = wait(pid);
        return Err(io::Error::from_raw_os_error(error));
    }
    drop((stdin_child, stdout_child, stderr_child));
    Ok(Spawned {
        pid,
        stdin: stdin_parent.map(File::from),
        stdout: File::from(stdout_parent),
        stderr: File::from(stderr_parent),
    })
}

/// The child between `clone` and `execve`: system calls only, no allocation, no locks.
extern "C" fn child(arg: *mut libc::c_void) -> libc::c_int {
    // SAFETY: `arg` is the parent's `ChildArgs`, alive until this function execs or exits; every
    // call below is a plain system-call wrapper on prepared values.
    unsafe {
        let a = &*(arg as *const ChildArgs);
        for sig in 1..=NSIG {
            if sig == libc::SIGKILL || sig == libc::SIGSTOP {
                continue;
            }
            let mut old: KernelSigaction = std::mem::zeroed();
            let none: *const KernelSigaction = std::ptr::null();
            if libc::syscall(
                libc::SYS_rt_sigaction,
                sig,
                none,
                std::ptr::addr_of_mut!(old),
                KERNEL_SIGSET,
            ) != 0
            {
                continue;
            }
            let caught = old.handler != libc::SIG_DFL && old.handler != libc::SIG_IGN;
            if caught || sig == libc::SIGPIPE {
                // All zero: SIG_DFL, no flags, nothing blocked while it runs.
                let dfl: KernelSigaction = std::mem::zeroed();
                let no_old: *mut KernelSigaction = std::ptr::null_mut();
                if libc::syscall(
                    libc::SYS_rt_sigaction,
                    sig,
                    std::ptr::addr_of!(dfl),
                    no_old,
                    KERNEL_SIGSET,
                ) != 0
                {
                    fail(a);
                }
            }
        }
        if libc::setpgid(0, 0) != 0 {
            fail(a);
        }
        for (target, &fd) in a.fds.iter().enumerate() {
            if libc::dup2(fd, target as libc::c_int) < 0 {
                fail(a);
            }
        }
        if !a.cwd.is_null() && libc::chdir(a.cwd) != 0 {
            fail(a);
        }
        if libc::prctl(
            libc::PR_SET_PDEATHSIG,
            libc::SIGKILL as libc::c_ulong,
            0,
            0,
            0,
        ) != 0
        {
            fail(a);
        }
        if libc::getppid() != a.parent {
            libc::_exit(137);
        }
        if let Some(limit) = &a.rlimit {
            if libc::setrlimit(libc::RLIMIT_AS, limit) != 0 {
                fail(a);
            }
        }
        set_mask(0);
        libc::execve(a.program, a.argv, a.envp);
        fail(a)
    }
}

/// Reports the failed step's `errno` to the parent and ends the child.
fn fail(a: &ChildArgs) -> ! {
    a.error.store(last_errno().max(1), Ordering::SeqCst);
    // SAFETY: `_exit` ends the child at once, running nothing of the parent's (no atexit).
    unsafe { libc::_exit(127) }
}

/// Waits for `pid` to end (retrying on EINTR) and returns how it ended.
pub(crate) fn wait(pid: i32) -> io::Result<ExitStatus> {
    loop {
        let mut status = 0;
        // SAFETY: waitpid on a child of ours, writing into a local integer.
        let r = unsafe { libc::waitpid(pid, &mut status, 0) };
        if r == pid {
            return Ok(ExitStatus::from_raw(status));
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// Whether the child `pid` has exited, without reaping it: its zombie keeps the pid, and with
/// it the process group id, from being given to another process until [`wait`] reaps it, so
/// the group can still be signalled safely after its leader ended.
pub(crate) fn has_exited(pid: i32) -> io::Result<bool> {
    loop {
        // SAFETY: siginfo_t is plain old data; an all-zero one reads as "no child changed".
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: waitid on a child of ours, writing into a local siginfo_t.
        let r = unsafe {
            libc::waitid(
                libc::P_PID,
                pid as libc::id_t,
                &mut info,
                libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
            )
        };
        if r == 0 {
            // SAFETY: waitid filled `info` (or left it zeroed: no child has exited).
            return Ok(unsafe { info.si_pid() } == pid);
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// A descriptor that becomes readable when child `pid` exits (`pidfd_open`, Linux 5.3), or
/// `None` where the kernel (or a seccomp filter) has none. `pid` must not have been reaped.
pub(crate) fn pidfd(pid: i32) -> Option<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    let fd = libc::c_int::try_from(fd).ok().filter(|fd| *fd >= 0)?;
    // SAFETY: the kernel just returned this descriptor to us; nothing else owns it.
    Some(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Waits at most `timeout` for any of `fds` to be readable (or at its end, or broken): for
/// each, whether it is. An interrupted wait is a wait that saw nothing.
pub(crate) fn poll_readable(
    fds: &[libc::c_int],
    timeout: std::time::Duration,
) -> io::Result<Vec<bool>> {
    let mut set: Vec<libc::pollfd> = fds
        .iter()
        .map(|&fd| libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    // Rounded up, so a wait never returns just before the deadline it was asked to reach.
    let ms = timeout.as_nanos().div_ceil(1_000_000).min(i32::MAX as u128) as libc::c_int;
    // SAFETY: `set` is a live array of `set.len()` pollfd structures.
    let r = unsafe { libc::poll(set.as_mut_ptr(), set.len() as libc::nfds_t, ms) };
    if r < 0 {
        let e = io::Error::last_os_error();
        if e.kind() == io::ErrorKind::Interrupted {
            return Ok(vec![false; fds.len()]);
        }
        return Err(e);
    }
    Ok(set.iter().map(|p| p.revents != 0).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    fn run(cmd: &Command, opts: &Bounds, input: &[u8]) -> (ExitStatus, String, String) {
        let mut s = spawn(cmd, opts).expect("spawn");
        if let Some(mut i) = s.stdin.take() {
            i.write_all(input).unwrap();
        }
        let (mut out, mut err) = (String::new(), String::new());
        s.stdout.read_to_string(&mut out).unwrap();
        s.stderr.read_to_string(&mut err).unwrap();
        (wait(s.pid).unwrap(), out, err)
    }

    fn opts() -> Bounds {
        Bounds::default()
    }

    #[test]
    fn the_child_gets_its_arguments_folder_pipes_and_exactly_the_environment_set() {
        let dir = tempfile::tempdir().unwrap();
        let mut cmd = Command::new("/bin/sh");
        cmd.args([
            "-c",
            "pwd; echo \"$1|$A|${HOME-unset}\"; env | wc -l; read x; echo \"in:$x\" >&2; exit 3",
            "sh",
            "a b",
        ])
        .current_dir(dir.path())
        .env("A", "1");
        let (status, out, err) = run(
            &cmd,
            &Bounds {
                stdin: Some(Vec::new()),
                ..opts()
            },
            b"hello\n",
        );
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(
            lines[0],
            dir.path().canonicalize().unwrap().to_str().unwrap()
        );
        assert_eq!(lines[1], "a b|1|unset");
        // A, and what sh itself exports (PWD, SHLVL, _): nothing of imagegate's environment.
        assert!(lines[2].trim().parse::<u32>().unwrap() <= 4, "{out}");
        assert_eq!(err, "in:hello\n");
        assert_eq!(status.code(), Some(3));
    }

    #[test]
    fn an_inherited_environment_keeps_imagegates_variables_with_the_commands_changes() {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "echo \"${PATH:+path}|${A}|${HOME-unset}\""])
            .env("A", "2")
            .env_remove("HOME");
        let (_, out, _) = run(
            &cmd,
            &Bounds {
                inherit_env: true,
                ..opts()
            },
            b"",
        );
        assert_eq!(out.trim(), "path|2|unset");
    }

    #[test]
    fn the_child_leads_its_own_process_group_with_default_signals_and_an_empty_mask() {
        // Each program reads its own /proc entry (no shell in between: a shell blocks signals
        // while it waits for a command).
        let mut cmd = Command::new("/usr/bin/awk");
        cmd.args(["{ print $1, $5 }", "/proc/self/stat"]);
        let (_, out, _) = run(&cmd, &opts(), b"");
        let ids: Vec<&str> = out.split_whitespace().collect();
        assert_eq!(ids[0], ids[1], "pid and process group: {out}");
        let mut cmd = Command::new("/bin/grep");
        cmd.args(["-E", "^Sig(Blk|Ign)", "/proc/self/status"]);
        let (_, out, _) = run(&cmd, &opts(), b"");
        let mask = |name: &str| {
            let line = out.lines().find(|l| l.starts_with(name)).expect(name);
            u64::from_str_radix(line.rsplit('\t').next().unwrap_or("").trim(), 16).unwrap()
        };
        assert_eq!(mask("SigBlk"), 0, "{out}");
        // imagegate ignores SIGPIPE; the child must not.
        assert_eq!(mask("SigIgn") & (1 << (libc::SIGPIPE - 1)), 0, "{out}");
    }

    /// The soft and hard `RLIMIT_AS` a child started with `bytes` reports for itself.
    fn address_space_of_child(bytes: u64) -> (String, String) {
        let mut cmd = Command::new("/bin/grep");
        cmd.args(["Max address space", "/proc/self/limits"]);
        let opts = Bounds {
            max_address_space: Some(bytes),
            ..opts()
        };
        let (_, out, _) = run(&cmd, &opts, b"");
        let mut words = out.split_whitespace().skip(3);
        let mut next = || words.next().unwrap_or_default().to_string();
        (next(), next())
    }

    #[test]
    fn the_address_space_limit_is_set_in_the_child() {
        let three = (3u64 << 30).to_string();
        assert_eq!(address_space_of_child(3 << 30), (three.clone(), three));
    }

    #[test]
    fn an_address_space_limit_above_imagegates_hard_limit_is_lowered_to_it() {
        // `ulimit -Hv` in a CI job: an unprivileged process cannot raise the hard limit, so
        // asking the child for more must give it the most it may have, not fail every spawn.
        // (Lowers this test process's own hard limit: 16 GiB leaves the harness plenty.)
        let hard: u64 = 16 << 30;
        let mut current = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: get/setrlimit on local structs.
        unsafe {
            libc::getrlimit(libc::RLIMIT_AS, &mut current);
            if current.rlim_max > hard {
                let lower = libc::rlimit {
                    rlim_cur: current.rlim_cur.min(hard),
                    rlim_max: hard,
                };
                assert_eq!(libc::setrlimit(libc::RLIMIT_AS, &lower), 0);
            }
        }
        let expected = current.rlim_max.min(hard).to_string();
        assert_eq!(
            address_space_of_child(32 << 30),
            (expected.clone(), expected)
        );
    }

    #[test]
    fn a_program_that_cannot_start_is_an_error_not_a_child() {
        let e = spawn(&Command::new("/nonexistent/helm"), &opts())
            .err()
            .expect("an error");
        assert_eq!(e.raw_os_error(), Some(libc::ENOENT));
        let e = spawn(&Command::new("no-such-program-imagegate"), &opts())
            .err()
            .expect("an error");
        assert_eq!(e.raw_os_error(), Some(libc::ENOENT));
        let dir = tempfile::tempdir().unwrap();
        let mut cmd = Command::new("/bin/true");
        cmd.current_dir(dir.path().join("missing"));
        let e = spawn(&cmd, &opts()).err().expect("an error");
        assert_eq!(e.raw_os_error(), Some(libc::ENOENT));
        let file = dir.path().join("not-executable");
        std::fs::write(&file, "#!/bin/sh\n").unwrap();
        let e = spawn(&Command::new(&file), &opts())
            .err()
            .expect("an error");
        assert_eq!(e.raw_os_error(), Some(libc::EACCES));
    }

    /// The state letter of `/proc/<pid>/stat` (`Z` for a zombie), `None` once the pid is gone.
    fn state(pid: i32) -> Option<char> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        stat.rsplit_once(')')?.1.trim_start().chars().next()
    }

    #[test]
    fn an_exited_child_is_seen_without_being_reaped_so_its_group_id_stays_ours() {
        let mut cmd = Command::new("/bin/sh");
        cmd.args(["-c", "read x; exit 4"]);
        let bounds = Bounds {
            stdin: Some(Vec::new()),
            ..opts()
        };
        let s = spawn(&cmd, &bounds).expect("spawn");
        // Running (blocked on its input): not exited, and asking again changes nothing.
        assert!(!has_exited(s.pid).unwrap());
        assert!(!has_exited(s.pid).unwrap());
        assert!(matches!(state(s.pid), Some(c) if c != 'Z'));
        drop(s.stdin);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while !has_exited(s.pid).unwrap() {
            assert!(
                std::time::Instant::now() < deadline,
                "the child never exited"
            );
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        // Seen to exit, still a zombie: the pid (and the group it led) cannot be reused, and a
        // signal to the group is still delivered to nobody else.
        assert!(has_exited(s.pid).unwrap());
        assert_eq!(state(s.pid), Some('Z'));
        // SAFETY: killpg with signal 0 only checks that the group exists.
        assert_eq!(unsafe { libc::killpg(s.pid, 0) }, 0);
        // Reaped only by `wait`, with its status.
        assert_eq!(wait(s.pid).unwrap().code(), Some(4));
        assert_eq!(state(s.pid), None);
        assert!(has_exited(s.pid).is_err());
    }
}
