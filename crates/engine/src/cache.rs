//! Opening the render cache a run asks for (`--cache-dir` / `--no-cache`), and closing it after
//! the run.

use crate::{Fatal, Observer};
use imagegate_render::{RenderCache, DEFAULT_MAX_BYTES};
use std::path::{Path, PathBuf};

/// The render cache of this run, or `None` with `--no-cache`.
///
/// An explicit `--cache-dir` that cannot be used (inside a repository under check, not writable)
/// is a usage error. The default folder is only a convenience: when it cannot be used the run
/// goes on uncached, with a warning. A cache folder holding a symbolic link where imagegate
/// keeps its entries is refused, default or not: imagegate never creates one, so it was planted,
/// and when it leads into the repository under check that repository could forge entries.
pub fn open(
    choice: &CacheChoice,
    repo_roots: &[&Path],
    observer: &dyn Observer,
) -> Result<Option<RenderCache>, Fatal> {
    match choice {
        CacheChoice::Off => Ok(None),
        CacheChoice::At(d) => open_at(d, true, repo_roots, observer),
        CacheChoice::Default => match RenderCache::default_dir() {
            Some(d) => open_at(&d, false, repo_roots, observer),
            None => Ok(None),
        },
    }
}

/// Which render cache a run uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CacheChoice {
    /// None (`--no-cache`).
    Off,
    /// The per-user default folder, when it can be used.
    Default,
    /// This folder (`--cache-dir`); a folder that cannot be used is a usage error.
    At(PathBuf),
}

/// Opens the cache folder `dir`, given with `--cache-dir` (`explicit`) or the default one.
fn open_at(
    dir: &Path,
    explicit: bool,
    repo_roots: &[&Path],
    observer: &dyn Observer,
) -> Result<Option<RenderCache>, Fatal> {
    let opened = match inside_repository(dir, repo_roots) {
        Some(root) => Err(format!(
            "{} is inside the repository under check ({}); imagegate never writes into the repository it checks",
            dir.display(),
            root.display()
        )),
        None => match RenderCache::open(dir, DEFAULT_MAX_BYTES) {
            Ok(cache) => Ok(cache),
            Err(e) if e.link.is_some() => return Err(planted_link(dir, &e, repo_roots)),
            Err(e) => Err(e.to_string()),
        },
    };
    match (opened, explicit) {
        (Ok(cache), _) => Ok(Some(cache)),
        (Err(p), true) => Err(Fatal(format!(
            "--cache-dir: {p}\n  hint: pick a folder outside the repository (or pass --no-cache)"
        ))),
        (Err(p), false) => {
            observer.warn(&format!("render cache off: {p}"));
            Ok(None)
        }
    }
}

/// The usage error for a symbolic link found in the cache folder `dir`.
fn planted_link(dir: &Path, e: &imagegate_render::CacheError, repo_roots: &[&Path]) -> Fatal {
    let target = e.link.clone().unwrap_or_default();
    let resolved = match e.path.parent() {
        Some(parent) if target.is_relative() => parent.join(&target),
        _ => target.clone(),
    };
    let into = match inside_repository(&resolved, repo_roots) {
        Some(root) => format!(
            ", which is inside the repository under check ({}): the repository could forge the \
             renders imagegate would judge",
            root.display()
        ),
        None => String::new(),
    };
    Fatal(format!(
        "render cache: {} is a symbolic link to {}{into}; imagegate never creates links in its \
         cache and does not follow them\n  hint: delete the cache folder {} (it only holds \
         renders imagegate can redo), or pass --cache-dir with another folder, or --no-cache",
        e.path.display(),
        target.display(),
        dir.display()
    ))
}

/// After a run: says once if entries could not be written, and trims the folder to its bound.
pub fn close(cache: &RenderCache, observer: &dyn Observer) {
    if let (n, Some(first)) = cache.write_errors() {
        if n > 0 {
            observer.warn(&format!(
                "{n} render(s) could not be stored in the cache: {first}"
            ));
        }
    }
    if let Err(e) = cache.trim() {
        observer.warn(&format!("cannot trim the render cache: {e}"));
    }
}

/// The repository root that `dir` lies in, if any. `dir` need not exist yet: its nearest
/// existing ancestor is resolved (symlinks included) and the rest appended.
pub fn inside_repository<'a>(dir: &Path, roots: &[&'a Path]) -> Option<&'a Path> {
    let abs = if dir.is_absolute() {
        dir.to_path_buf()
    } else {
        std::env::current_dir().ok()?.join(dir)
    };
    let mut existing = abs.as_path();
    let mut rest: Vec<&std::ffi::OsStr> = Vec::new();
    let real = loop {
        if let Ok(real) = existing.canonicalize() {
            break real;
        }
        rest.push(existing.file_name()?);
        existing = existing.parent()?;
    };
    let full: PathBuf = rest.iter().rev().fold(real, |p, c| p.join(c));
    roots.iter().copied().find(|root| {
        root.canonicalize()
            .map(|r| full.starts_with(r))
            .unwrap_or(false)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cache_folder_inside_the_repository_is_refused() {
        let repo = tempfile::tempdir().unwrap();
        let args = CacheChoice::At(repo.path().join("not-yet/.cache"));
        let err = open(&args, &[repo.path()], &crate::Quiet).unwrap_err();
        assert!(err.0.contains("inside the repository"), "{}", err.0);
        assert!(
            !repo.path().join("not-yet").exists(),
            "nothing was created in the repository"
        );
        let outside = tempfile::tempdir().unwrap();
        let args = CacheChoice::At(outside.path().join("c"));
        assert!(open(&args, &[repo.path()], &crate::Quiet)
            .unwrap()
            .is_some());
        let off = CacheChoice::Off;
        assert!(open(&off, &[repo.path()], &crate::Quiet).unwrap().is_none());
    }

    #[test]
    fn a_cache_folder_whose_subfolder_links_into_the_repository_is_refused() {
        let repo = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(repo.path().join("seeded/ab")).unwrap();
        let outside = tempfile::tempdir().unwrap();
        let dir = outside.path().join("c");
        std::fs::create_dir_all(&dir).unwrap();
        // Relative, as a planted link would likely be: both folders share the temporary folder.
        let rel = Path::new("../..")
            .join(repo.path().file_name().unwrap())
            .join("seeded");
        std::os::unix::fs::symlink(&rel, dir.join("v1")).unwrap();
        let args = CacheChoice::At(dir.clone());
        let before = tree_of(repo.path());
        let err = open(&args, &[repo.path()], &crate::Quiet).unwrap_err();
        let v1 = dir.join("v1");
        assert!(err.0.contains(&v1.display().to_string()), "{}", err.0);
        assert!(err.0.contains("symbolic link"), "{}", err.0);
        assert!(
            err.0.contains("inside the repository under check"),
            "{}",
            err.0
        );
        assert!(err.0.contains("hint: delete the cache folder"), "{}", err.0);
        assert_eq!(tree_of(repo.path()), before, "nothing written through it");
        // The default folder is refused the same way: a planted link is not an inconvenience
        // to work around with a warning.
        let err = open_at(&dir, false, &[repo.path()], &crate::Quiet).unwrap_err();
        assert!(err.0.contains("symbolic link"), "{}", err.0);
        assert_eq!(tree_of(repo.path()), before);

        // An entry's fan-out folder that leads elsewhere is refused too, without the note.
        let other = tempfile::tempdir().unwrap();
        std::fs::remove_file(dir.join("v1")).unwrap();
        std::fs::create_dir_all(dir.join("v1")).unwrap();
        std::os::unix::fs::symlink(other.path(), dir.join("v1/ab")).unwrap();
        let err = open(&args, &[repo.path()], &crate::Quiet).unwrap_err();
        assert!(err.0.contains("v1/ab is a symbolic link"), "{}", err.0);
        assert!(!err.0.contains("inside the repository"), "{}", err.0);
        // Without links the same folder opens.
        std::fs::remove_file(dir.join("v1/ab")).unwrap();
        assert!(open(&args, &[repo.path()], &crate::Quiet)
            .unwrap()
            .is_some());
    }

    /// Every path under `root`, sorted.
    fn tree_of(root: &Path) -> Vec<PathBuf> {
        let mut out = Vec::new();
        let mut stack = vec![root.to_path_buf()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap().flatten() {
                out.push(e.path());
                if e.file_type().unwrap().is_dir() {
                    stack.push(e.path());
                }
            }
        }
        out.sort();
        out
    }
}
