//! Opening the render cache from `--cache-dir` / `--no-cache`, and closing it after a run.

use crate::cli::CacheArgs;
use crate::Fatal;
use imagegate_render::{RenderCache, DEFAULT_MAX_BYTES};
use std::path::{Path, PathBuf};

/// The render cache of this run, or `None` with `--no-cache`.
///
/// An explicit `--cache-dir` that cannot be used (inside a repository under check, not writable)
/// is a usage error. The default folder is only a convenience: when it cannot be used the run
/// goes on uncached, with a warning.
pub fn open(args: &CacheArgs, repo_roots: &[&Path]) -> Result<Option<RenderCache>, Fatal> {
    if args.no_cache {
        return Ok(None);
    }
    let (dir, explicit) = match &args.cache_dir {
        Some(d) => (d.clone(), true),
        None => match RenderCache::default_dir() {
            Some(d) => (d, false),
            None => return Ok(None),
        },
    };
    let opened = match inside_repository(&dir, repo_roots) {
        Some(root) => Err(format!(
            "{} is inside the repository under check ({}); imagegate never writes into the repository it checks",
            dir.display(),
            root.display()
        )),
        None => RenderCache::open(&dir, DEFAULT_MAX_BYTES).map_err(|e| e.to_string()),
    };
    match (opened, explicit) {
        (Ok(cache), _) => Ok(Some(cache)),
        (Err(p), true) => Err(Fatal(format!(
            "--cache-dir: {p}\n  hint: pick a folder outside the repository (or pass --no-cache)"
        ))),
        (Err(p), false) => {
            warn(&format!("render cache off: {p}"));
            Ok(None)
        }
    }
}

/// After a run: says once if entries could not be written, and trims the folder to its bound.
pub fn close(cache: &RenderCache) {
    if let (n, Some(first)) = cache.write_errors() {
        if n > 0 {
            warn(&format!(
                "{n} render(s) could not be stored in the cache: {first}"
            ));
        }
    }
    if let Err(e) = cache.trim() {
        warn(&format!("cannot trim the render cache: {e}"));
    }
}

fn warn(message: &str) {
    eprintln!(
        "imagegate: warning: {}",
        crate::output::sanitize_stderr(message)
    );
}

/// The repository root that `dir` lies in, if any. `dir` need not exist yet: its nearest
/// existing ancestor is resolved (symlinks included) and the rest appended.
fn inside_repository<'a>(dir: &Path, roots: &[&'a Path]) -> Option<&'a Path> {
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
        let args = CacheArgs {
            cache_dir: Some(repo.path().join("not-yet/.cache")),
            no_cache: false,
        };
        let err = open(&args, &[repo.path()]).unwrap_err();
        assert!(err.0.contains("inside the repository"), "{}", err.0);
        assert!(
            !repo.path().join("not-yet").exists(),
            "nothing was created in the repository"
        );
        let outside = tempfile::tempdir().unwrap();
        let args = CacheArgs {
            cache_dir: Some(outside.path().join("c")),
            no_cache: false,
        };
        assert!(open(&args, &[repo.path()]).unwrap().is_some());
        let off = CacheArgs {
            cache_dir: Some(outside.path().join("c")),
            no_cache: true,
        };
        assert!(open(&off, &[repo.path()]).unwrap().is_none());
    }
}
