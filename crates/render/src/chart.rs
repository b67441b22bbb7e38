//! The one walk over a chart folder.
//!
//! helm reads every file of a chart folder and follows symlinks, so whatever imagegate reads a
//! chart for (the check before a render, the render cache's digest, the scratch copy of causal
//! provenance) walks it here, in the same order and with the same refusals: a symlink that leads
//! outside the repository or into its git folder, a symlink loop, a folder that cannot be read,
//! more files than one chart may hold. A chart the walk refuses is never given to helm.
//!
//! A run walks each chart once: the render cache's key comes from this walk, so a cell with a
//! key was checked by it and [`crate::render_all_cached`] does not walk its chart again.

use imagegate_fleet::Repo;
use std::path::Path;

/// Most files and folders one chart may hold.
pub(crate) const MAX_ENTRIES: usize = 200_000;

/// Why a walk stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Stop {
    /// helm must not read this chart; the message says which file and why.
    Refused(String),
    /// The visitor stopped the walk (a bound of its own, a file it could not read).
    Visitor(String),
}

impl Stop {
    /// The message, whichever stop it is.
    pub(crate) fn message(self) -> String {
        match self {
            Stop::Refused(m) | Stop::Visitor(m) => m,
        }
    }
}

/// Walks chart folder `chart` (the resolved path of `chart_rel`) in file-name order, following
/// symlinks that stay inside the repository's content, and hands every entry with its path
/// relative to the chart folder to `visit`.
pub(crate) fn walk(
    repo: &Repo,
    chart_rel: &str,
    chart: &Path,
    mut visit: impl FnMut(&walkdir::DirEntry, &Path) -> Result<(), String>,
) -> Result<(), Stop> {
    let shown = |p: &Path| {
        p.strip_prefix(repo.root())
            .unwrap_or(p)
            .display()
            .to_string()
    };
    let entries = walkdir::WalkDir::new(chart)
        .follow_links(true)
        .sort_by_file_name();
    for (n, entry) in entries.into_iter().enumerate() {
        if n > MAX_ENTRIES {
            return Err(Stop::Refused(format!(
                "chart refused: {chart_rel} has more than {MAX_ENTRIES} files"
            )));
        }
        let entry = match entry {
            Ok(entry) => entry,
            Err(e) => {
                let at = e.path().map(shown).unwrap_or_else(|| chart_rel.to_string());
                let why = if e.loop_ancestor().is_some() {
                    "is a symlink loop".to_string()
                } else {
                    format!("cannot be checked ({e})")
                };
                return Err(Stop::Refused(format!("chart refused: {at} {why}")));
            }
        };
        if entry.path_is_symlink() {
            let real = match entry.path().canonicalize() {
                Ok(real) if real.starts_with(repo.root()) => real,
                _ => {
                    return Err(Stop::Refused(format!(
                        "chart refused: {} is a symlink that leads outside the repository",
                        shown(entry.path())
                    )))
                }
            };
            // `.Files.Get` would read git's own data (the CI token actions/checkout keeps in
            // `.git/config`) and print it in the report.
            if let Some(git) = repo.in_git_dir(&real) {
                return Err(Stop::Refused(format!(
                    "chart refused: {} is a symlink into the git folder `{git}`, which is git's \
                     data, not repository content",
                    shown(entry.path())
                )));
            }
        }
        let rel = entry.path().strip_prefix(chart).unwrap_or(entry.path());
        visit(&entry, rel).map_err(Stop::Visitor)?;
    }
    Ok(())
}

/// Why helm must not read chart folder `chart_rel`, if it must not (see the module).
///
/// A chart folder that does not exist is not refused here: helm's own error says so.
pub(crate) fn refusal(repo: &Repo, chart_rel: &str) -> Option<String> {
    let chart = repo.resolve(chart_rel).ok().flatten()?;
    match walk(repo, chart_rel, &chart, |_, _| Ok(())) {
        Err(Stop::Refused(m)) => Some(m),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo() -> (tempfile::TempDir, Repo) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("charts/web/templates")).unwrap();
        std::fs::write(dir.path().join("charts/web/Chart.yaml"), "name: web\n").unwrap();
        std::fs::write(dir.path().join("charts/web/templates/b.yaml"), "b\n").unwrap();
        std::fs::write(dir.path().join("charts/web/templates/a.yaml"), "a\n").unwrap();
        std::fs::create_dir_all(dir.path().join(".git")).unwrap();
        std::fs::write(dir.path().join(".git/config"), "token\n").unwrap();
        let repo = Repo::open(dir.path()).unwrap();
        (dir, repo)
    }

    #[test]
    fn every_entry_is_visited_in_name_order() {
        let (_dir, repo) = repo();
        let chart = repo.resolve("charts/web").unwrap().unwrap();
        let mut seen = Vec::new();
        walk(&repo, "charts/web", &chart, |_, rel| {
            seen.push(rel.display().to_string());
            Ok(())
        })
        .unwrap();
        assert_eq!(
            seen,
            [
                "",
                "Chart.yaml",
                "templates",
                "templates/a.yaml",
                "templates/b.yaml"
            ]
        );
        assert_eq!(refusal(&repo, "charts/web"), None);
        assert_eq!(refusal(&repo, "charts/missing"), None);
    }

    #[test]
    fn links_out_of_the_content_are_refused_and_the_visitor_can_stop() {
        let (dir, repo) = repo();
        let chart = repo.resolve("charts/web").unwrap().unwrap();
        let stop = walk(&repo, "charts/web", &chart, |_, _| Err("full".into()));
        assert_eq!(stop, Err(Stop::Visitor("full".into())));

        let link = dir.path().join("charts/web/templates/c.yaml");
        std::os::unix::fs::symlink(dir.path().join(".git/config"), &link).unwrap();
        let why = refusal(&repo, "charts/web").unwrap();
        assert!(
            why.contains("templates/c.yaml is a symlink into the git folder"),
            "{why}"
        );
        std::fs::remove_file(&link).unwrap();

        std::os::unix::fs::symlink("/etc/hostname", &link).unwrap();
        let why = refusal(&repo, "charts/web").unwrap();
        assert!(why.contains("leads outside the repository"), "{why}");
        std::fs::remove_file(&link).unwrap();

        std::os::unix::fs::symlink(dir.path().join("charts/web"), &link).unwrap();
        let why = refusal(&repo, "charts/web").unwrap();
        assert!(why.contains("is a symlink loop"), "{why}");
    }
}
