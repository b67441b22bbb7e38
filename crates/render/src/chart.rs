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

/// Whether any file of chart folder `chart_rel` of `repo`, walked as helm reads the chart
/// (links followed inside the repository), holds `needle` in any case (ASCII), but its own
/// `Chart.yaml`: templates see that as `.Chart`, never as text (it is not one of `.Files`). At most
/// `max_bytes` of it are read; a chart larger than that, or one that cannot be walked or read,
/// is taken to hold it.
pub fn chart_mentions(repo: &Repo, chart_rel: &str, needle: &str, max_bytes: u64) -> bool {
    let Ok(Some(chart)) = repo.resolve(chart_rel) else {
        return true;
    };
    let needle = needle.to_ascii_lowercase();
    let mut left = max_bytes;
    let mut found = false;
    let walked = walk(repo, chart_rel, &chart, |entry, rel| {
        if found || !entry.file_type().is_file() || rel == Path::new("Chart.yaml") {
            return Ok(());
        }
        let bytes = std::fs::read(entry.path()).map_err(|e| e.to_string())?;
        left = left
            .checked_sub(bytes.len() as u64)
            .ok_or_else(|| "the chart is larger than the scan reads".to_string())?;
        found = bytes
            .to_ascii_lowercase()
            .windows(needle.len())
            .any(|w| w == needle.as_bytes());
        Ok(())
    });
    found || walked.is_err()
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
    fn a_word_anywhere_in_the_chart_is_found_through_links_and_odd_folder_names() {
        let (dir, repo) = repo();
        std::fs::write(
            dir.path().join("charts/web/Chart.yaml"),
            "name: web\nappVersion: 1.0\n",
        )
        .unwrap();
        assert!(!chart_mentions(&repo, "charts/web", "appVersion", 1 << 20));
        // In a folder the chart links to, and in any case.
        std::fs::create_dir_all(dir.path().join("shared")).unwrap();
        std::fs::write(
            dir.path().join("shared/_l.tpl"),
            "{{ .Chart.APPVERSION }}\n",
        )
        .unwrap();
        std::os::unix::fs::symlink(
            "../../../shared",
            dir.path().join("charts/web/templates/lib"),
        )
        .unwrap();
        assert!(chart_mentions(&repo, "charts/web", "appversion", 1 << 20));
        // A file outside `templates/` (read with `.Files`), in a folder named like a glob.
        std::fs::create_dir_all(dir.path().join("charts/w[1]/files")).unwrap();
        std::fs::write(dir.path().join("charts/w[1]/Chart.yaml"), "name: w\n").unwrap();
        assert!(!chart_mentions(&repo, "charts/w[1]", "appversion", 1 << 20));
        std::fs::write(dir.path().join("charts/w[1]/files/x.tpl"), "appVersion\n").unwrap();
        assert!(chart_mentions(&repo, "charts/w[1]", "appversion", 1 << 20));
        // What cannot be read whole is taken to hold it.
        assert!(chart_mentions(&repo, "charts/web", "nowhere", 4));
        assert!(chart_mentions(&repo, "charts/missing", "nowhere", 1 << 20));
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
