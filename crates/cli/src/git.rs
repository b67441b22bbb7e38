//! Revisions as folders: a committed revision unpacked from `git archive` into a private
//! temporary folder that is removed afterwards (also on error or interrupt). Used by
//! `imagegate diff` (the base side) and by `--history` (earlier commits of the upstream side).
//! The user's checkout, index and `.git` are never written.

use crate::Fatal;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Largest archive of one revision we unpack.
const MAX_ARCHIVE_BYTES: u64 = 4 << 30;

/// The git repository holding the configuration.
pub struct Git {
    top: PathBuf,
}

/// A revision unpacked into a temporary folder, removed on drop.
pub struct Unpacked {
    dir: tempfile::TempDir,
}

impl Unpacked {
    /// The folder the revision's files are in.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Unpacked {
    fn drop(&mut self) {
        imagegate_render::unregister_temp(self.dir.path());
    }
}

fn git(dir: &Path) -> Command {
    let mut cmd = Command::new("git");
    cmd.arg("-C")
        .arg(dir)
        .env("GIT_TERMINAL_PROMPT", "0")
        .stdin(Stdio::null());
    cmd
}

fn run(mut cmd: Command, what: &str) -> Result<String, Fatal> {
    let out = cmd.output().map_err(|e| {
        Fatal(format!(
            "cannot run git ({what}): {e}\n  hint: imagegate diff needs git on PATH"
        ))
    })?;
    if !out.status.success() {
        return Err(Fatal(format!(
            "git {what} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

impl Git {
    /// The repository that `dir` is in.
    pub fn discover(dir: &Path) -> Result<Self, Fatal> {
        let mut cmd = git(dir);
        cmd.args(["rev-parse", "--show-toplevel"]);
        let top = run(cmd, "rev-parse --show-toplevel").map_err(|e| {
            Fatal(format!(
                "{}: not inside a git repository ({})\n  hint: imagegate diff compares git revisions; run it in the GitOps repository's checkout",
                dir.display(),
                e.0
            ))
        })?;
        let top = PathBuf::from(top)
            .canonicalize()
            .map_err(|e| Fatal(format!("git repository root: {e}")))?;
        Ok(Self { top })
    }

    /// The root of the working tree.
    pub fn top(&self) -> &Path {
        &self.top
    }

    /// The commit `rev` names (a branch, tag, commit or any revision expression).
    pub fn commit_of(&self, rev: &str) -> Result<String, Fatal> {
        if rev.is_empty() || rev.starts_with('-') {
            return Err(Fatal(format!(
                "`{rev}` is not a revision: a revision names a branch, tag or commit"
            )));
        }
        let mut cmd = git(&self.top);
        cmd.args(["rev-parse", "--verify", "--quiet", "--end-of-options"])
            .arg(format!("{rev}^{{commit}}"));
        run(cmd, "rev-parse").map_err(|_| {
            Fatal(format!(
                "`{rev}` names no commit in {}\n  hint: in CI, fetch the base branch first (for example `git fetch origin main` and pass --base origin/main; a shallow clone needs fetch-depth: 0)",
                self.top.display()
            ))
        })
    }

    /// Unpacks the folder `subdir` (repository-relative, empty for the root) of `commit` into a
    /// new temporary folder. `Ok(None)` when the commit has no such folder.
    pub fn unpack(&self, commit: &str, subdir: &str) -> Result<Option<Unpacked>, Fatal> {
        let tree = if subdir.is_empty() {
            commit.to_string()
        } else {
            format!("{commit}:{subdir}")
        };
        let mut probe = git(&self.top);
        probe.args(["cat-file", "-t", "--end-of-options", &tree]);
        match run(probe, "cat-file") {
            Ok(t) if t == "tree" || t == "commit" => {}
            _ => return Ok(None),
        }
        let dir = imagegate_render::private_temp_dir("imagegate-rev-")
            .map_err(|e| Fatal(format!("cannot create a temporary folder: {e}")))?;
        let unpacked = Unpacked { dir };
        let mut cmd = git(&self.top);
        cmd.args(["archive", "--format=tar", "--end-of-options", &tree])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .map_err(|e| Fatal(format!("cannot run git archive: {e}")))?;
        let stderr = child.stderr.take().map(|mut s| {
            std::thread::spawn(move || {
                let mut buf = String::new();
                let _ = s.read_to_string(&mut buf);
                buf
            })
        });
        let unpack = match child.stdout.take() {
            Some(stdout) => {
                let mut archive = tar::Archive::new(stdout.take(MAX_ARCHIVE_BYTES));
                archive.set_preserve_permissions(false);
                archive.set_overwrite(false);
                archive.unpack(unpacked.path())
            }
            None => Err(std::io::Error::other("no output")),
        };
        let status = child.wait();
        let stderr = stderr.and_then(|h| h.join().ok()).unwrap_or_default();
        match (unpack, status) {
            (Ok(()), Ok(s)) if s.success() => Ok(Some(unpacked)),
            (Ok(()), _) => Err(Fatal(format!(
                "git archive {tree} failed: {}",
                stderr.trim()
            ))),
            (Err(e), _) => Err(Fatal(format!(
                "cannot unpack {tree} into {}: {e}{}",
                unpacked.path().display(),
                if stderr.trim().is_empty() {
                    String::new()
                } else {
                    format!(" (git: {})", stderr.trim())
                }
            ))),
        }
    }
}
