//! The repository under check, and the only way to reach its files.
//!
//! Every path the configuration names is relative to the repository root. Before a file is read
//! we check, lexically, that the path has no `..` or root component that could leave the
//! repository, and then, after resolving symlinks, that the real path is still inside the real
//! root. A path that fails either check is a configuration error, never a read.

use crate::ConfigError;
use globset::{GlobBuilder, GlobMatcher};
use std::collections::HashMap;
use std::io::Read;
use std::path::{Component as PathComponent, Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Most files a single glob may match (hostile repositories are bounded).
const MAX_GLOB_MATCHES: usize = 100_000;
/// Most directory entries a single glob walk may visit.
const MAX_GLOB_VISITS: usize = 2_000_000;
/// Most real paths [`Repo::resolve`] remembers (a fleet names a few hundred files).
const MAX_REMEMBERED: usize = 1 << 16;

/// What walking a path below the root without following links found (see `Repo::plain`).
enum Plain {
    /// No component is a symlink: the path is real.
    Real(PathBuf),
    /// A component does not exist (and none before it is a symlink).
    Missing,
    /// A component is a symlink: the kernel must resolve the path.
    Link,
    /// A component could not be looked at (not a folder, no permission).
    Failed(std::io::Error),
}

/// The repository under check.
///
/// Clones share what [`Repo::resolve`] has found: a fleet names the same values files and
/// charts for many cells, and resolving a path asks the kernel about every folder of it, from
/// `/` down (a few hundred calls per cell otherwise).
#[derive(Debug, Clone)]
pub struct Repo {
    root: PathBuf,
    /// Paths below the root none of whose components is a symlink, by normalised relative
    /// path, with their real path. Only paths found are kept, so a file created later (an
    /// edit writing a new values file) is found; every answer still passes the `.git` check.
    /// The repository does not change under a run except by imagegate's own edits, which
    /// replace files where they are.
    resolved: Arc<Mutex<HashMap<String, PathBuf>>>,
}

impl PartialEq for Repo {
    fn eq(&self, other: &Self) -> bool {
        self.root == other.root
    }
}

impl Eq for Repo {}

impl Repo {
    /// Opens the repository rooted at `root` (resolved to its real path).
    pub fn open(root: &Path) -> Result<Self, ConfigError> {
        let root = root.canonicalize().map_err(|e| {
            ConfigError::new(
                root.display().to_string(),
                format!("cannot open the repository folder: {e}"),
            )
        })?;
        Ok(Self {
            root,
            resolved: Arc::default(),
        })
    }

    /// The real path of the repository root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Checks that `rel` is a relative path that stays inside the repository (lexically), and
    /// returns it normalised (no `.` components, `/` separators).
    pub fn normalise(&self, rel: &str) -> Result<String, String> {
        if rel.is_empty() {
            return Err("the path is empty".into());
        }
        if rel.contains('\0') {
            return Err("the path contains a NUL byte".into());
        }
        let mut parts: Vec<&str> = Vec::new();
        for c in Path::new(rel).components() {
            match c {
                PathComponent::Normal(p) => {
                    parts.push(p.to_str().ok_or("the path is not valid UTF-8")?)
                }
                PathComponent::CurDir => {}
                PathComponent::ParentDir => {
                    if parts.pop().is_none() {
                        return Err(format!("`{rel}` leaves the repository through `..`"));
                    }
                }
                PathComponent::RootDir | PathComponent::Prefix(_) => {
                    return Err(format!(
                        "`{rel}` is absolute; paths must be relative to the repository root"
                    ));
                }
            }
        }
        if parts.is_empty() {
            return Err(format!("`{rel}` names the repository root itself"));
        }
        Ok(parts.join("/"))
    }

    /// Resolves `rel` to a real path inside the repository. `Ok(None)` when it does not exist;
    /// an error when it escapes the repository lexically or through a symlink, or lies in a
    /// `.git` folder.
    ///
    /// The root is already real, so a path none of whose components below it is a symlink is
    /// real as it stands: each component is looked at once (`lstat`), from the deepest folder
    /// this repository has already seen, and only a path through a symlink is resolved by the
    /// kernel from `/` down.
    pub fn resolve(&self, rel: &str) -> Result<Option<PathBuf>, String> {
        let norm = self.normalise(rel)?;
        let accept = |real: PathBuf| match self.in_git_dir(&real) {
            Some(at) => Err(format!(
                "`{rel}` resolves into the git folder `{at}`, which is git's data, not \
                 repository content (it holds credentials such as the CI token)"
            )),
            None => Ok(Some(real)),
        };
        match self.plain(&norm) {
            Plain::Real(real) => return accept(real),
            Plain::Missing => return Ok(None),
            Plain::Failed(e) => return Err(format!("cannot resolve `{rel}`: {e}")),
            Plain::Link => {}
        }
        let joined = self.root.join(&norm);
        match joined.canonicalize() {
            Ok(real) if real.starts_with(&self.root) => accept(real),
            Ok(real) => Err(format!(
                "`{rel}` resolves through a symlink to {}, outside the repository",
                real.display()
            )),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                // A dangling symlink is not "missing": refuse it rather than skip it silently.
                if joined.symlink_metadata().is_ok() {
                    return Err(format!("`{rel}` is a symlink to nowhere"));
                }
                Ok(None)
            }
            Err(e) => Err(format!("cannot resolve `{rel}`: {e}")),
        }
    }

    /// `norm` (normalised) walked one component at a time below the root, without following
    /// anything: its real path when no component is a symlink, and what stopped the walk
    /// otherwise. Folders and files found real are remembered.
    fn plain(&self, norm: &str) -> Plain {
        // Where each component of `norm` ends, so that `&norm[..end]` is a folder or the path.
        let ends: Vec<usize> = norm
            .match_indices('/')
            .map(|(i, _)| i)
            .chain([norm.len()])
            .collect();
        let (mut path, mut from) = (self.root.clone(), 0);
        {
            let known = self.resolved.lock().unwrap_or_else(|e| e.into_inner());
            let mut deepest = ends.iter().enumerate().rev();
            if let Some((n, p)) = deepest.find_map(|(n, &end)| Some((n, known.get(&norm[..end])?)))
            {
                (path, from) = (p.clone(), n + 1);
            }
        }
        for n in from..ends.len() {
            let (start, end) = (if n == 0 { 0 } else { ends[n - 1] + 1 }, ends[n]);
            path.push(&norm[start..end]);
            match std::fs::symlink_metadata(&path) {
                Ok(m) if m.file_type().is_symlink() => return Plain::Link,
                Ok(_) => {
                    let mut known = self.resolved.lock().unwrap_or_else(|e| e.into_inner());
                    if known.len() < MAX_REMEMBERED {
                        known.insert(norm[..end].to_owned(), path.clone());
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Plain::Missing,
                Err(e) => return Plain::Failed(e),
            }
        }
        Plain::Real(path)
    }

    /// Whether the real path `real` (inside the root) lies in a `.git` folder (or is one): the
    /// repository-relative path up to that component, else `None`. Compared without regard to
    /// case, as a case-insensitive file system would.
    pub fn in_git_dir(&self, real: &Path) -> Option<String> {
        let rel = real.strip_prefix(&self.root).ok()?;
        let mut shown = PathBuf::new();
        for c in rel.components() {
            shown.push(c);
            if c.as_os_str().eq_ignore_ascii_case(".git") {
                return Some(shown.display().to_string());
            }
        }
        None
    }

    /// Reads a repository file as UTF-8 text, at most `max` bytes.
    pub fn read_to_string(&self, rel: &str, max: u64) -> Result<String, ConfigError> {
        let path = match self.resolve(rel) {
            Ok(Some(p)) => p,
            Ok(None) => return Err(ConfigError::new(rel, "file not found")),
            Err(msg) => return Err(ConfigError::new(rel, msg)),
        };
        let file = std::fs::File::open(&path)
            .map_err(|e| ConfigError::new(rel, format!("cannot read: {e}")))?;
        let mut buf = Vec::new();
        file.take(max + 1)
            .read_to_end(&mut buf)
            .map_err(|e| ConfigError::new(rel, format!("cannot read: {e}")))?;
        if buf.len() as u64 > max {
            return Err(ConfigError::new(
                rel,
                format!("file is larger than the limit of {max} bytes"),
            ));
        }
        String::from_utf8(buf).map_err(|e| {
            ConfigError::new(
                rel,
                format!(
                    "file is not valid UTF-8 (byte {})",
                    e.utf8_error().valid_up_to()
                ),
            )
        })
    }

    /// Every file whose repository-relative path matches `pattern` (globset syntax: `*`, `**`,
    /// `{a,b}`), sorted. Symlinks are not followed; `.git` is never entered.
    pub fn glob(&self, pattern: &str) -> Result<Vec<String>, String> {
        let pattern = pattern.trim_start_matches("./");
        if pattern.starts_with('/') || pattern.split('/').any(|p| p == "..") {
            return Err(format!(
                "glob `{pattern}` must be relative and must not contain `..`"
            ));
        }
        let matcher = path_glob(pattern).map_err(|e| format!("invalid glob `{pattern}`: {e}"))?;
        let prefix = literal_prefix(pattern);
        let start = self.root.join(prefix);
        if !start.is_dir() {
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        let mut visits = 0usize;
        // `.git` folders are git's data, never repository content: not entered at all.
        for entry in walkdir::WalkDir::new(&start)
            .follow_links(false)
            .sort_by_file_name()
            .into_iter()
            .filter_entry(|e| !e.file_name().eq_ignore_ascii_case(".git"))
        {
            visits += 1;
            if visits > MAX_GLOB_VISITS {
                return Err(format!(
                    "glob `{pattern}` visits more than {MAX_GLOB_VISITS} entries"
                ));
            }
            // An entry that cannot be read or named is not skipped silently: a component whose
            // folder cannot be listed, or whose name is not UTF-8, would vanish from the matrix.
            let entry = entry.map_err(|e| {
                format!(
                    "glob `{pattern}`: cannot read {}: {e}",
                    e.path()
                        .map_or_else(|| start.display().to_string(), |p| p.display().to_string())
                )
            })?;
            let Ok(rel) = entry.path().strip_prefix(&self.root) else {
                continue;
            };
            // Matched on the raw path, so a name that is not UTF-8 is found, then refused.
            if (entry.file_type().is_file() || entry.file_type().is_symlink())
                && matcher.is_match(rel)
            {
                let Some(rel) = rel.to_str() else {
                    return Err(format!(
                        "glob `{pattern}` matches {}, whose path is not valid UTF-8; rename it \
                         (imagegate names every file it judges in its reports)",
                        rel.display()
                    ));
                };
                out.push(rel.to_string());
                if out.len() > MAX_GLOB_MATCHES {
                    return Err(format!(
                        "glob `{pattern}` matches more than {MAX_GLOB_MATCHES} files"
                    ));
                }
            }
        }
        out.sort();
        Ok(out)
    }
}

/// The folder part of a glob before its first wildcard (where the walk can start).
fn literal_prefix(pattern: &str) -> &str {
    let first_wild = pattern.find(['*', '?', '[', '{']).unwrap_or(pattern.len());
    match pattern[..first_wild].rfind('/') {
        Some(slash) => &pattern[..slash + 1],
        None => "",
    }
}

/// A glob over `/`-separated repository paths, as every path pattern of the configuration is
/// read: `*` stays within one folder, `**` crosses folders.
pub fn path_glob(pattern: &str) -> Result<GlobMatcher, globset::Error> {
    Ok(GlobBuilder::new(pattern)
        .literal_separator(true)
        .build()?
        .compile_matcher())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalise_refuses_escapes() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repo::open(dir.path()).unwrap();
        assert_eq!(repo.normalise("./a/./b/../c.yaml").unwrap(), "a/c.yaml");
        assert!(repo
            .normalise("../x")
            .unwrap_err()
            .contains("leaves the repository"));
        assert!(repo
            .normalise("a/../../x")
            .unwrap_err()
            .contains("leaves the repository"));
        assert!(repo
            .normalise("/etc/passwd")
            .unwrap_err()
            .contains("absolute"));
    }

    #[cfg(unix)]
    #[test]
    fn resolve_refuses_symlink_out_and_globs_do_not_follow_links() {
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret.yaml"), "a: 1").unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("v/apps")).unwrap();
        std::fs::write(dir.path().join("v/apps/ok.yaml"), "a: 1").unwrap();
        std::os::unix::fs::symlink(
            outside.path().join("secret.yaml"),
            dir.path().join("v/apps/evil.yaml"),
        )
        .unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("v/linkdir")).unwrap();
        let repo = Repo::open(dir.path()).unwrap();
        assert!(repo.resolve("v/apps/ok.yaml").unwrap().is_some());
        assert!(repo.resolve("v/missing.yaml").unwrap().is_none());
        assert!(repo
            .resolve("v/apps/evil.yaml")
            .unwrap_err()
            .contains("outside the repository"));
        assert!(repo
            .resolve("v/linkdir/secret.yaml")
            .unwrap_err()
            .contains("outside the repository"));
        // The glob lists the symlink (so reading it is refused loudly) but never walks into linkdir.
        assert_eq!(
            repo.glob("v/**/*.yaml").unwrap(),
            vec!["v/apps/evil.yaml", "v/apps/ok.yaml"]
        );
    }

    #[cfg(unix)]
    #[test]
    fn remembered_paths_answer_as_the_kernel_does_and_never_turn_a_refusal_into_a_read() {
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret.yaml"), "a: 1").unwrap();
        let dir = tempfile::tempdir().unwrap();
        for p in [
            "v/env/dev/a.yaml",
            ".git/config",
            "sub/.Git/x.yaml",
            "file.yaml",
        ] {
            let f = dir.path().join(p);
            std::fs::create_dir_all(f.parent().unwrap()).unwrap();
            std::fs::write(f, "a: 1").unwrap();
        }
        std::os::unix::fs::symlink("env", dir.path().join("v/inner")).unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("v/out")).unwrap();
        std::os::unix::fs::symlink("nowhere", dir.path().join("v/dangling.yaml")).unwrap();
        let repo = Repo::open(dir.path()).unwrap();
        let clone = repo.clone();
        let rels = [
            "v/env/dev/a.yaml",
            "v/env/dev",
            "v/env/dev/missing.yaml",
            "v/missing/deeper/a.yaml",
            "v/inner/dev/a.yaml",
            "v/out/secret.yaml",
            "v/dangling.yaml",
            "file.yaml/below",
            ".git",
            ".git/config",
            "sub/.Git/x.yaml",
            "sub/.Git",
        ];
        // Each answer three times (the later ones from what was remembered), from the
        // repository and from a clone, in both orders.
        let first: Vec<_> = rels.iter().map(|r| repo.resolve(r)).collect();
        for _ in 0..2 {
            for (r, want) in rels.iter().rev().zip(first.iter().rev()) {
                assert_eq!(&clone.resolve(r), want, "{r}");
                assert_eq!(&repo.resolve(r), want, "{r}");
            }
        }
        let real = |p: &str| Ok(Some(dir.path().join(p).canonicalize().unwrap()));
        assert_eq!(first[0], real("v/env/dev/a.yaml"));
        assert_eq!(first[1], real("v/env/dev"));
        assert_eq!(first[2], Ok(None));
        assert_eq!(first[3], Ok(None));
        assert_eq!(first[4], real("v/env/dev/a.yaml"), "a link inside resolves");
        assert!(first[5].as_ref().unwrap_err().contains("outside"));
        assert!(first[6]
            .as_ref()
            .unwrap_err()
            .contains("symlink to nowhere"));
        assert!(first[7].as_ref().unwrap_err().contains("cannot resolve"));
        for (n, r) in [
            (8, ".git"),
            (9, ".git/config"),
            (10, "sub/.Git/x.yaml"),
            (11, "sub/.Git"),
        ] {
            assert!(first[n].as_ref().unwrap_err().contains("git folder"), "{r}");
        }
        // A miss is not remembered: a file made after it is found.
        std::fs::write(dir.path().join("v/env/dev/missing.yaml"), "a: 1").unwrap();
        assert_eq!(
            repo.resolve("v/env/dev/missing.yaml"),
            real("v/env/dev/missing.yaml")
        );
    }

    #[test]
    fn git_folders_are_not_repository_content() {
        let dir = tempfile::tempdir().unwrap();
        for p in [
            ".git/config",
            "sub/.git/config",
            "sub/.GIT/x.yaml",
            "v/a.yaml",
        ] {
            let f = dir.path().join(p);
            std::fs::create_dir_all(f.parent().unwrap()).unwrap();
            std::fs::write(f, "extraheader = AUTHORIZATION: basic c2VjcmV0").unwrap();
        }
        std::os::unix::fs::symlink("../.git/config", dir.path().join("v/leak.yaml")).unwrap();
        std::os::unix::fs::symlink("../.git", dir.path().join("v/gitdir")).unwrap();
        let repo = Repo::open(dir.path()).unwrap();
        for rel in [
            ".git/config",
            "v/leak.yaml",
            "v/gitdir/config",
            "sub/.git/config",
            "sub/.GIT/x.yaml",
            "v/../.git/config",
        ] {
            let err = repo.resolve(rel).unwrap_err();
            assert!(err.contains("git folder"), "{rel}: {err}");
            assert!(repo.read_to_string(rel, 1024).is_err(), "{rel}");
        }
        assert!(repo.resolve("v/a.yaml").unwrap().is_some());
        // Globs never enter a git folder (they count nothing there either).
        assert_eq!(
            repo.glob("**/*").unwrap(),
            vec!["v/a.yaml", "v/gitdir", "v/leak.yaml"]
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_matched_path_that_is_not_utf8_is_an_error_not_a_skip() {
        use std::os::unix::ffi::OsStrExt;
        let dir = tempfile::tempdir().unwrap();
        let odd = dir
            .path()
            .join("c")
            .join(std::ffi::OsStr::from_bytes(b"caf\xe9"));
        std::fs::create_dir_all(&odd).unwrap();
        std::fs::write(odd.join("component.yaml"), "").unwrap();
        std::fs::create_dir_all(dir.path().join("c/web")).unwrap();
        std::fs::write(dir.path().join("c/web/component.yaml"), "").unwrap();
        std::fs::write(
            dir.path()
                .join("c/web")
                .join(std::ffi::OsStr::from_bytes(b"notes\xff.txt")),
            "",
        )
        .unwrap();
        let repo = Repo::open(dir.path()).unwrap();
        let err = repo.glob("c/**/component.yaml").unwrap_err();
        assert!(err.contains("not valid UTF-8"), "{err}");
        // A name the glob does not match is no concern of it.
        assert_eq!(
            repo.glob("c/web/*.yaml").unwrap(),
            vec!["c/web/component.yaml"]
        );
    }

    #[test]
    fn glob_alternation_and_prefix() {
        let dir = tempfile::tempdir().unwrap();
        for p in [
            "c/apps/a/component.yaml",
            "c/data/b/component.yaml",
            "c/cluster/x/component.yaml",
        ] {
            let f = dir.path().join(p);
            std::fs::create_dir_all(f.parent().unwrap()).unwrap();
            std::fs::write(f, "").unwrap();
        }
        let repo = Repo::open(dir.path()).unwrap();
        assert_eq!(
            repo.glob("c/{apps,data}/**/component.yaml").unwrap(),
            vec!["c/apps/a/component.yaml", "c/data/b/component.yaml"]
        );
        assert_eq!(literal_prefix("c/{apps}/x"), "c/");
        assert_eq!(literal_prefix("*.yaml"), "");
    }
}
