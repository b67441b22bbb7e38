//! Revisions as folders, read from the one repository the CI checked out.
//!
//! Everything a revision holds was written by someone we do not trust, so git is used only as a
//! reader of objects:
//! - The repository is discovered once, from the working directory imagegate was started in
//!   (which the CI chose), with `safe.bareRepository=explicit`: a fake bare repository committed
//!   into a folder of the checkout (`HEAD`, `config`, `objects/`, `refs/`) is never used, so its
//!   `config` (filters, hooks, `core.fsmonitor`) never runs and its commits never become the base.
//!   Every later call names `--git-dir` and `--work-tree` explicitly.
//! - A revision is unpacked from raw objects (`ls-tree -r -z` + `cat-file --batch`), never with
//!   `git archive` or a checkout, so no filter, `export-ignore` or `export-subst` in the
//!   revision's `.gitattributes` changes what is judged.
//! - Every git runs through the bounded process runner (deadline, capped output, its own process
//!   group, dies with imagegate, no terminal prompt).
//!
//! The user's checkout, index and `.git` are never written.

use crate::Fatal;
use imagegate_render::{run_bounded, Bounds};
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// Largest revision folder we unpack (the sum of its blobs).
const MAX_TREE_BYTES: u64 = 4 << 30;
/// Most entries of one revision folder.
const MAX_TREE_ENTRIES: usize = 1_000_000;
/// Most bytes of blobs read by one `cat-file --batch` (the output is held in memory).
const BATCH_BYTES: u64 = 256 << 20;
/// Deadline of one git call.
const GIT_TIMEOUT: Duration = Duration::from_secs(300);

/// The git repository the CI checked out.
pub struct Git {
    git_dir: PathBuf,
    top: PathBuf,
}

/// A revision unpacked into a temporary folder, removed on drop.
pub struct Unpacked {
    dir: imagegate_render::PrivateDir,
    submodules: Vec<String>,
    files: Vec<String>,
    commit: String,
    subdir: String,
}

impl Unpacked {
    /// The folder the revision's files are in.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The submodules of the revision's folder (paths relative to it), unpacked as empty
    /// folders: git keeps only a commit id for each.
    pub fn submodules(&self) -> &[String] {
        &self.submodules
    }

    /// The revision's files (relative to its folder).
    pub fn files(&self) -> &[String] {
        &self.files
    }

    /// Of `files` (relative to the folder), those a checkout of this revision writes otherwise
    /// than git stores them, each with the attribute that does it: `ident` (expands `$Id$`),
    /// `eol=crlf`, `working-tree-encoding`. Argo CD checks revisions out; a revision read from
    /// its objects has the stored bytes.
    pub fn rewritten_on_checkout(
        &self,
        git: &Git,
        files: &[&str],
    ) -> Result<Vec<(String, String)>, Fatal> {
        if files.is_empty() {
            return Ok(Vec::new());
        }
        let full = |f: &str| {
            if self.subdir.is_empty() {
                f.to_string()
            } else {
                format!("{}/{f}", self.subdir)
            }
        };
        let mut input = Vec::new();
        for f in files {
            input.extend_from_slice(full(f).as_bytes());
            input.push(0);
        }
        // The revision's attributes, as git applies them when it checks the revision out: its
        // tree in an index of its own, asked with `--cached` (`check-attr --source` needs git
        // 2.40; this works with any).
        let scratch = imagegate_render::private_temp_dir("imagegate-attr-")
            .map_err(|e| Fatal(format!("cannot create a temporary folder: {e}")))?;
        let index = scratch.path().join("index");
        let mut read = git.git();
        read.env("GIT_INDEX_FILE", &index)
            .args(["read-tree", &self.commit]);
        run(read, "read-tree", 1024 * 1024, None)?;
        let mut cmd = git.git();
        cmd.env("GIT_INDEX_FILE", &index).args([
            "check-attr",
            "--cached",
            "-z",
            "--stdin",
            "ident",
            "eol",
            "working-tree-encoding",
        ]);
        let out = run(cmd, "check-attr", 512 << 20, Some(input))?;
        let fields: Vec<&[u8]> = out.split(|b| *b == 0).collect();
        let mut hits = Vec::new();
        for triple in fields.chunks(3) {
            let [path, attr, value] = triple else {
                continue;
            };
            let (attr, value) = (
                String::from_utf8_lossy(attr),
                String::from_utf8_lossy(value),
            );
            let rewrites = match attr.as_ref() {
                "ident" => value == "set",
                "eol" => value == "crlf",
                "working-tree-encoding" => !matches!(value.as_ref(), "unspecified" | "unset"),
                _ => false,
            };
            if rewrites {
                let path = String::from_utf8_lossy(path).into_owned();
                let rel = match self.subdir.is_empty() {
                    true => path,
                    false => path
                        .strip_prefix(&format!("{}/", self.subdir))
                        .map_or(path.clone(), str::to_string),
                };
                let shown = if value == "set" {
                    attr.into_owned()
                } else {
                    format!("{attr}={value}")
                };
                hits.push((rel, shown));
            }
        }
        Ok(hits)
    }
}

/// `git` with the options every call carries: no bare repository found by discovery, no
/// fsmonitor or hooks, no replace objects, no prompt, no optional locks.
fn base_command() -> Command {
    let mut cmd = Command::new("git");
    cmd.args([
        "-c",
        "safe.bareRepository=explicit",
        "-c",
        "core.fsmonitor=false",
        "-c",
        "core.hooksPath=/dev/null",
        "--no-replace-objects",
    ])
    .env("GIT_TERMINAL_PROMPT", "0")
    .env("GIT_OPTIONAL_LOCKS", "0")
    .env_remove("GIT_EXTERNAL_DIFF");
    cmd
}

/// Runs `cmd` bounded, returning stdout, or an error naming `what` with git's stderr.
fn run(
    cmd: Command,
    what: &str,
    max_stdout: usize,
    stdin: Option<Vec<u8>>,
) -> Result<Vec<u8>, Fatal> {
    let out = run_bounded(
        cmd,
        &Bounds {
            timeout: GIT_TIMEOUT,
            max_stdout,
            stdin,
            max_address_space: None,
            inherit_env: true,
        },
    )
    .map_err(|e| {
        Fatal(format!(
            "git {what}: {e}\n  hint: imagegate needs git on PATH"
        ))
    })?;
    if !out.status_ok {
        return Err(Fatal(format!(
            "git {what} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(out.stdout)
}

fn text(bytes: Vec<u8>) -> String {
    String::from_utf8_lossy(&bytes).trim().to_string()
}

impl Git {
    /// The repository imagegate's working directory is in (the CI's checkout), discovered once
    /// with `safe.bareRepository=explicit`.
    pub fn discover() -> Result<Self, Fatal> {
        let cwd = std::env::current_dir()
            .map_err(|e| Fatal(format!("cannot read the current folder: {e}")))?;
        let mut cmd = base_command();
        cmd.current_dir(&cwd)
            .args(["rev-parse", "--absolute-git-dir", "--show-toplevel"]);
        let out = run(cmd, "rev-parse", 64 * 1024, None).map_err(|e| {
            Fatal(format!(
                "{}: not inside a git repository ({})\n  hint: imagegate compares git revisions; run it from the GitOps repository's checkout",
                cwd.display(),
                e.0
            ))
        })?;
        let out = text(out);
        let mut lines = out.lines();
        let (Some(git_dir), Some(top)) = (lines.next(), lines.next()) else {
            return Err(Fatal(format!(
                "{}: inside a git directory, not a checkout\n  hint: run imagegate from the repository's working tree",
                cwd.display()
            )));
        };
        let canon = |p: &str| {
            PathBuf::from(p)
                .canonicalize()
                .map_err(|e| Fatal(format!("git repository {p}: {e}")))
        };
        Ok(Self {
            git_dir: canon(git_dir)?,
            top: canon(top)?,
        })
    }

    /// The root of the working tree.
    pub fn top(&self) -> &Path {
        &self.top
    }

    /// `git --git-dir=… --work-tree=… ARGS`.
    fn git(&self) -> Command {
        let mut cmd = base_command();
        cmd.arg("--git-dir")
            .arg(&self.git_dir)
            .arg("--work-tree")
            .arg(&self.top)
            .current_dir(&self.top);
        cmd
    }

    /// The repository-relative path of `dir` (a real path), `/`-separated, empty for the root;
    /// an error when it is outside the checkout.
    pub fn prefix_of(&self, dir: &Path) -> Result<String, Fatal> {
        let rel = dir.strip_prefix(&self.top).map_err(|_| {
            Fatal(format!(
                "{} is outside the git checkout {} that imagegate was started in\n  hint: run imagegate from the checkout that holds the configuration",
                dir.display(),
                self.top.display()
            ))
        })?;
        rel.to_str()
            .map(|s| s.replace('\\', "/"))
            .ok_or_else(|| Fatal(format!("{}: the path is not valid UTF-8", rel.display())))
    }

    /// The commit `rev` names (a branch, tag, commit or any revision expression).
    pub fn commit_of(&self, rev: &str) -> Result<String, Fatal> {
        if rev.is_empty() || rev.starts_with('-') {
            return Err(Fatal(format!(
                "`{rev}` is not a revision: a revision names a branch, tag or commit"
            )));
        }
        let mut cmd = self.git();
        cmd.args(["rev-parse", "--verify", "--quiet", "--end-of-options"])
            .arg(format!("{rev}^{{commit}}"));
        run(cmd, "rev-parse", 64 * 1024, None).map(text).map_err(|_| {
            Fatal(format!(
                "`{rev}` names no commit in {}\n  hint: in CI, fetch the base branch first (for example `git fetch origin main` and pass --base origin/main; a shallow clone needs fetch-depth: 0)",
                self.top.display()
            ))
        })
    }

    /// The last `depth` commits of the first-parent history of `HEAD`, newest first.
    pub fn first_parents(&self, depth: usize) -> Result<Vec<String>, Fatal> {
        let mut cmd = self.git();
        cmd.args(["rev-list", "--first-parent"])
            .arg(format!("--max-count={depth}"))
            .args(["HEAD", "--"]);
        Ok(text(run(cmd, "rev-list", 16 << 20, None)?)
            .lines()
            .map(str::to_string)
            .collect())
    }

    /// Whether the checkout is a shallow clone.
    pub fn is_shallow(&self) -> bool {
        let mut cmd = self.git();
        cmd.args(["rev-parse", "--is-shallow-repository"]);
        run(cmd, "rev-parse", 1024, None).is_ok_and(|o| text(o) == "true")
    }

    /// The submodules the index holds under `subdir` (repository-relative, empty for the root),
    /// relative to it: the working tree's, as `ls-files --stage` lists gitlinks (mode 160000).
    pub fn index_submodules(&self, subdir: &str) -> Result<Vec<String>, Fatal> {
        let mut cmd = self.git();
        cmd.args(["ls-files", "--stage", "-z", "--"]);
        cmd.arg(if subdir.is_empty() { "." } else { subdir });
        let listing = run(cmd, "ls-files --stage", 512 << 20, None)?;
        let prefix = if subdir.is_empty() {
            String::new()
        } else {
            format!("{subdir}/")
        };
        Ok(listing
            .split(|b| *b == 0)
            .filter_map(|entry| {
                let (meta, path) = entry.split_at(entry.iter().position(|b| *b == b'\t')?);
                meta.starts_with(b"160000 ").then(|| {
                    let path = String::from_utf8_lossy(&path[1..]).into_owned();
                    path.strip_prefix(&prefix)
                        .map_or(path.clone(), str::to_string)
                })
            })
            .collect())
    }

    /// Unpacks the folder `subdir` (repository-relative, empty for the root) of `commit` into a
    /// new private temporary folder, from the raw objects. `Ok(None)` when the commit has no
    /// such folder.
    pub fn unpack(&self, commit: &str, subdir: &str) -> Result<Option<Unpacked>, Fatal> {
        let tree = if subdir.is_empty() {
            format!("{commit}^{{tree}}")
        } else {
            format!("{commit}:{subdir}")
        };
        let mut probe = self.git();
        probe.args(["cat-file", "-t", "--end-of-options", &tree]);
        match run(probe, "cat-file -t", 1024, None).map(text) {
            Ok(t) if t == "tree" => {}
            _ => return Ok(None),
        }
        let mut list = self.git();
        list.args(["ls-tree", "-r", "-z", "-l", "--end-of-options", &tree]);
        let listing = run(list, "ls-tree", 512 << 20, None)?;
        let entries = parse_ls_tree(&listing).map_err(|e| Fatal(format!("{tree}: {e}")))?;
        let dir = imagegate_render::private_temp_dir("imagegate-rev-")
            .map_err(|e| Fatal(format!("cannot create a temporary folder: {e}")))?;
        let submodules = entries
            .iter()
            .filter(|e| e.kind == EntryKind::Submodule)
            .map(|e| String::from_utf8_lossy(&e.path).into_owned())
            .collect();
        let files = entries
            .iter()
            .filter(|e| e.kind != EntryKind::Submodule)
            .map(|e| String::from_utf8_lossy(&e.path).into_owned())
            .collect();
        let unpacked = Unpacked {
            dir,
            submodules,
            files,
            commit: commit.to_string(),
            subdir: subdir.to_string(),
        };
        self.write_entries(&entries, unpacked.path())
            .map_err(|e| Fatal(format!("cannot unpack {tree}: {e}")))?;
        Ok(Some(unpacked))
    }

    /// Writes the entries' contents under `root`: folders and files first, symlinks last (so no
    /// file is ever written through a link), submodules as empty folders.
    fn write_entries(&self, entries: &[Entry], root: &Path) -> Result<(), String> {
        let mut blobs: Vec<&Entry> = Vec::new();
        for e in entries {
            let path = root.join(OsStr::from_bytes(&e.path));
            match e.kind {
                EntryKind::Submodule => {
                    std::fs::create_dir_all(&path).map_err(|err| err.to_string())?;
                }
                EntryKind::File | EntryKind::Executable | EntryKind::Symlink => blobs.push(e),
            }
        }
        let total: u64 = blobs.iter().map(|e| e.size).sum();
        if total > MAX_TREE_BYTES {
            return Err(format!(
                "the revision's files hold {total} bytes, more than the limit of {MAX_TREE_BYTES}"
            ));
        }
        let (links, files): (Vec<&Entry>, Vec<&Entry>) = blobs
            .into_iter()
            .partition(|e| e.kind == EntryKind::Symlink);
        for batch in batches(&files).chain(batches(&links)) {
            let contents = self.cat_batch(batch)?;
            for (e, content) in batch.iter().zip(contents) {
                let path = root.join(OsStr::from_bytes(&e.path));
                if let Some(parent) = path.parent() {
                    std::fs::create_dir_all(parent).map_err(|err| err.to_string())?;
                }
                if e.kind == EntryKind::Symlink {
                    std::os::unix::fs::symlink(OsStr::from_bytes(&content), &path)
                        .map_err(|err| format!("{}: {err}", path.display()))?;
                    continue;
                }
                use std::io::Write;
                use std::os::unix::fs::OpenOptionsExt;
                let mut f = std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(if e.kind == EntryKind::Executable {
                        0o700
                    } else {
                        0o600
                    })
                    .open(&path)
                    .map_err(|err| format!("{}: {err}", path.display()))?;
                f.write_all(&content)
                    .map_err(|err| format!("{}: {err}", path.display()))?;
            }
        }
        Ok(())
    }

    /// The contents of `batch`'s blobs, in order, from one `cat-file --batch`.
    fn cat_batch(&self, batch: &[&Entry]) -> Result<Vec<Vec<u8>>, String> {
        let mut input = Vec::new();
        for e in batch {
            input.extend_from_slice(e.object.as_bytes());
            input.push(b'\n');
        }
        let expected: u64 = batch
            .iter()
            .map(|e| e.size + e.object.len() as u64 + 64)
            .sum();
        let mut cmd = self.git();
        cmd.args(["cat-file", "--batch"]);
        let out = run(cmd, "cat-file --batch", expected as usize, Some(input)).map_err(|e| e.0)?;
        parse_batch(&out, batch)
    }
}

/// What a tree entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EntryKind {
    File,
    Executable,
    Symlink,
    Submodule,
}

/// One entry of `ls-tree -r -l`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    kind: EntryKind,
    object: String,
    size: u64,
    /// The raw path bytes, relative to the unpacked folder.
    path: Vec<u8>,
}

/// Parses `ls-tree -r -z -l` output (`<mode> SP <type> SP <object> SP+ <size> TAB <path> NUL`).
/// A path git would never check out (`..`, `.git`, an empty or absolute component) refuses the
/// whole revision.
fn parse_ls_tree(out: &[u8]) -> Result<Vec<Entry>, String> {
    let mut entries = Vec::new();
    for record in out.split(|b| *b == 0).filter(|r| !r.is_empty()) {
        if entries.len() >= MAX_TREE_ENTRIES {
            return Err(format!("more than {MAX_TREE_ENTRIES} files"));
        }
        let tab = record
            .iter()
            .position(|b| *b == b'\t')
            .ok_or("unexpected ls-tree output")?;
        let (meta, path) = (&record[..tab], &record[tab + 1..]);
        let meta = std::str::from_utf8(meta).map_err(|_| "unexpected ls-tree output")?;
        let fields: Vec<&str> = meta.split_ascii_whitespace().collect();
        let [mode, _type, object, size] = fields[..] else {
            return Err(format!("unexpected ls-tree line `{meta}`"));
        };
        let kind = match mode {
            "100644" | "100664" => EntryKind::File,
            "100755" => EntryKind::Executable,
            "120000" => EntryKind::Symlink,
            "160000" => EntryKind::Submodule,
            other => return Err(format!("unexpected file mode {other}")),
        };
        check_path(path)?;
        entries.push(Entry {
            kind,
            object: object.to_string(),
            size: if kind == EntryKind::Submodule {
                0
            } else {
                size.parse()
                    .map_err(|_| format!("unexpected size `{size}`"))?
            },
            path: path.to_vec(),
        });
    }
    Ok(entries)
}

/// Refuses a tree path that could leave the unpacked folder or name a git folder.
fn check_path(path: &[u8]) -> Result<(), String> {
    let shown = String::from_utf8_lossy(path);
    if path.first() == Some(&b'/') {
        return Err(format!("the revision holds an absolute path `{shown}`"));
    }
    for part in path.split(|b| *b == b'/') {
        if part.is_empty() || part == b"." || part == b".." || part.eq_ignore_ascii_case(b".git") {
            return Err(format!(
                "the revision holds a path git would not check out: `{shown}`"
            ));
        }
    }
    Ok(())
}

/// Groups entries so no batch reads more than [`BATCH_BYTES`] (a larger blob is a batch alone).
fn batches<'a>(entries: &'a [&'a Entry]) -> impl Iterator<Item = &'a [&'a Entry]> + 'a {
    let mut start = 0;
    std::iter::from_fn(move || {
        if start >= entries.len() {
            return None;
        }
        let mut end = start;
        let mut bytes = 0u64;
        while end < entries.len() && (end == start || bytes + entries[end].size <= BATCH_BYTES) {
            bytes += entries[end].size;
            end += 1;
        }
        let batch = &entries[start..end];
        start = end;
        Some(batch)
    })
}

/// Parses `cat-file --batch` output for `batch`: each object is `<oid> SP blob SP <size> LF
/// <content> LF`, and must be the blob asked for, of the size `ls-tree` said.
fn parse_batch(out: &[u8], batch: &[&Entry]) -> Result<Vec<Vec<u8>>, String> {
    let mut at = 0;
    let mut contents = Vec::with_capacity(batch.len());
    for e in batch {
        let nl = out[at..]
            .iter()
            .position(|b| *b == b'\n')
            .ok_or("cat-file output ended early")?;
        let header = std::str::from_utf8(&out[at..at + nl]).map_err(|_| "bad cat-file header")?;
        let fields: Vec<&str> = header.split(' ').collect();
        match fields[..] {
            [oid, "blob", size] if oid == e.object && size.parse() == Ok(e.size) => {}
            _ => {
                return Err(format!(
                    "unexpected cat-file header `{header}` for {}",
                    e.object
                ))
            }
        }
        let start = at + nl + 1;
        let end = start + e.size as usize;
        if out.len() < end + 1 || out[end] != b'\n' {
            return Err("cat-file output ended early".into());
        }
        contents.push(out[start..end].to_vec());
        at = end + 1;
    }
    Ok(contents)
}

/// Where `dir` (a real path) sits inside its checkout: its path relative to the nearest folder
/// at or above it that holds `.git`, `/`-separated; empty at the root or outside any checkout.
/// SARIF and annotations resolve paths from the checkout's root, the report's are relative to
/// the configuration's folder.
pub fn checkout_prefix(dir: &Path) -> String {
    dir.ancestors()
        .find(|a| a.join(".git").symlink_metadata().is_ok())
        .and_then(|root| dir.strip_prefix(root).ok())
        .and_then(Path::to_str)
        .unwrap_or_default()
        .replace('\\', "/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ls_tree_records_are_parsed_and_hostile_paths_refused() {
        let out = b"100644 blob aaaa      12\tcharts/web/values.yaml\x00100755 blob bbbb 3\trun.sh\x00120000 blob cccc 9\tlink\x00160000 commit dddd       -\tsub\0";
        let e = parse_ls_tree(out).unwrap();
        assert_eq!(e.len(), 4);
        assert_eq!(
            e[0],
            Entry {
                kind: EntryKind::File,
                object: "aaaa".into(),
                size: 12,
                path: b"charts/web/values.yaml".to_vec()
            }
        );
        assert_eq!(
            (e[1].kind, e[2].kind, e[3].kind, e[3].size),
            (
                EntryKind::Executable,
                EntryKind::Symlink,
                EntryKind::Submodule,
                0
            )
        );
        for bad in [
            &b"100644 blob aaaa 1\t../x\0"[..],
            b"100644 blob aaaa 1\ta/.git/config\0",
            b"100644 blob aaaa 1\ta/.GIT/config\0",
            b"100644 blob aaaa 1\t/etc/passwd\0",
            b"100644 blob aaaa 1\ta//b\0",
            b"100644 blob aaaa 1\ta/./b\0",
            b"040000 tree aaaa -\ta\0",
            b"garbage\0",
        ] {
            assert!(
                parse_ls_tree(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        // Non-UTF-8 names are kept as bytes, not dropped or merged.
        let e = parse_ls_tree(b"100644 blob aaaa 1\tv/\xff.yaml\0").unwrap();
        assert_eq!(e[0].path, b"v/\xff.yaml");
    }

    #[test]
    fn batches_are_bounded_and_cover_every_entry() {
        let entry = |size| Entry {
            kind: EntryKind::File,
            object: "x".into(),
            size,
            path: b"f".to_vec(),
        };
        let all = [
            entry(BATCH_BYTES / 2),
            entry(BATCH_BYTES / 2),
            entry(1),
            entry(BATCH_BYTES * 2),
            entry(0),
        ];
        let refs: Vec<&Entry> = all.iter().collect();
        let sizes: Vec<usize> = batches(&refs).map(<[_]>::len).collect();
        assert_eq!(sizes, vec![2, 1, 1, 1]);
        assert_eq!(batches(&[]).count(), 0);
    }

    #[test]
    fn batch_output_must_match_what_was_asked() {
        let e = Entry {
            kind: EntryKind::File,
            object: "ab".into(),
            size: 3,
            path: b"f".to_vec(),
        };
        let batch = [&e];
        assert_eq!(
            parse_batch(b"ab blob 3\nxyz\n", &batch).unwrap(),
            vec![b"xyz".to_vec()]
        );
        for bad in [
            &b"ab blob 4\nxyzw\n"[..],
            b"cd blob 3\nxyz\n",
            b"ab missing\n",
            b"ab blob 3\nxy",
            b"ab tree 3\nxyz\n",
        ] {
            assert!(
                parse_batch(bad, &batch).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
