//! The file behind a template name helm prints (`# Source:` comments, error messages), read
//! from the repository as helm loaded it: the chart's own templates, a subchart folder's, or a
//! vendored `charts/*.tgz` archive's (nested archives too).
//!
//! helm names a template `<chart>/templates/…`, and a subchart's `<chart>/charts/<sub>/…` where
//! `<sub>` is the dependency's alias when the parent's `Chart.yaml` gives one, else the
//! subchart's name, whatever its folder or archive is called. A file inside an archive is named
//! as the rest of the report names such files: `<archive>:<path inside it>`.

use imagegate_fleet::Repo;
use std::collections::BTreeMap;
use std::io::Read;
use std::rc::Rc;

/// Largest template (or `Chart.yaml`) read; helm read it already.
const MAX_FILE_BYTES: u64 = 8 * 1024 * 1024;
/// Largest archive read, and the most bytes its files may hold unpacked.
const MAX_ARCHIVE_BYTES: u64 = 64 * 1024 * 1024;
/// Most entries one archive may hold.
const MAX_ARCHIVE_ENTRIES: usize = 50_000;
/// Most subchart levels followed.
const MAX_DEPTH: usize = 8;

/// A template's text and how reports name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateFile {
    /// The repository path, or `<archive>:<path inside it>` for a file of a vendored archive.
    pub shown: String,
    /// The template's text.
    pub text: String,
}

/// The files of one unpacked archive, by their path inside it.
type Files = Rc<BTreeMap<String, Vec<u8>>>;

/// A chart: a folder of the repository, or a folder inside an archive.
enum Chart {
    Folder(String),
    Archive {
        /// How the archive is shown (`charts/web/charts/sub-1.0.0.tgz`, or for a nested one
        /// `…/a.tgz:a/charts/b.tgz`).
        name: String,
        files: Files,
        /// The chart's folder inside the archive (`sub`, or `a/charts/x`).
        root: String,
    },
}

/// The template helm names `name` in a render of chart folder `chart_rel`: its text and how to
/// name it. `None` when the name is not a template of that chart (or cannot be read).
pub fn read_template(repo: &Repo, chart_rel: &str, name: &str) -> Option<TemplateFile> {
    let (_, mut rest) = name.split_once('/')?;
    let mut chart = Chart::Folder(chart_rel.trim_end_matches('/').to_owned());
    for _ in 0..=MAX_DEPTH {
        let Some(after) = rest.strip_prefix("charts/") else {
            return chart.read(repo, rest);
        };
        let (sub, tail) = after.split_once('/')?;
        chart = chart.subchart(repo, sub)?;
        rest = tail;
    }
    None
}

impl Chart {
    fn read(&self, repo: &Repo, rel: &str) -> Option<TemplateFile> {
        match self {
            Chart::Folder(folder) => {
                let shown = format!("{folder}/{rel}");
                let text = repo.read_to_string(&shown, MAX_FILE_BYTES).ok()?;
                Some(TemplateFile { shown, text })
            }
            Chart::Archive { name, files, root } => {
                let inner = format!("{root}/{rel}");
                let bytes = files.get(&inner)?;
                Some(TemplateFile {
                    shown: format!("{name}:{inner}"),
                    text: String::from_utf8(bytes.clone()).ok()?,
                })
            }
        }
    }

    /// The chart's own `Chart.yaml`, parsed.
    fn chart_yaml(&self, repo: &Repo) -> Option<imagegate_yaml::Node> {
        let text = self.read(repo, "Chart.yaml")?.text;
        imagegate_yaml::load(&text, &imagegate_yaml::Limits::default())
            .ok()
            .flatten()
    }

    /// The subchart helm calls `sub` in this chart.
    fn subchart(&self, repo: &Repo, sub: &str) -> Option<Chart> {
        // An alias names the dependency whose chart is called something else.
        let name = self
            .chart_yaml(repo)
            .and_then(|c| {
                c.get("dependencies")?.as_seq()?.iter().find_map(|d| {
                    (d.get("alias")?.as_str()? == sub)
                        .then(|| d.get("name")?.as_str().map(str::to_owned))
                        .flatten()
                })
            })
            .unwrap_or_else(|| sub.to_owned());
        let named = |c: &Chart| {
            c.chart_yaml(repo)
                .and_then(|y| y.get("name")?.as_str().map(|n| n == name))
                .unwrap_or(false)
        };
        // The folder of that name first (the common case), then any folder or archive whose
        // `Chart.yaml` carries the name, in name order.
        let candidates = self.subcharts(repo, &name);
        candidates.into_iter().find(|c| named(c))
    }

    /// The charts under this chart's `charts/` folder, the one in folder `first` first.
    fn subcharts(&self, repo: &Repo, first: &str) -> Vec<Chart> {
        let mut out = Vec::new();
        match self {
            Chart::Folder(folder) => {
                let charts = format!("{folder}/charts");
                let Ok(Some(dir)) = repo.resolve(&charts) else {
                    return out;
                };
                let Ok(entries) = std::fs::read_dir(dir) else {
                    return out;
                };
                let mut names: Vec<String> = entries
                    .filter_map(Result::ok)
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect();
                names.sort_by_key(|n| (n != first, n.clone()));
                for n in names {
                    let rel = format!("{charts}/{n}");
                    if n.ends_with(".tgz") {
                        out.extend(archive_charts(repo, &rel));
                    } else {
                        out.push(Chart::Folder(rel));
                    }
                }
            }
            Chart::Archive { name, files, root } => {
                let prefix = format!("{root}/charts/");
                let mut subs: Vec<String> = files
                    .keys()
                    .filter_map(|k| k.strip_prefix(&prefix))
                    .filter_map(|k| {
                        let (sub, rest) = k.split_once('/')?;
                        (rest == "Chart.yaml").then(|| sub.to_owned())
                    })
                    .collect();
                subs.sort_by_key(|n| (n != first, n.clone()));
                for sub in subs {
                    out.push(Chart::Archive {
                        name: name.clone(),
                        files: files.clone(),
                        root: format!("{prefix}{sub}"),
                    });
                }
                for (path, bytes) in files.range(prefix.clone()..) {
                    let Some(file) = path.strip_prefix(&prefix) else {
                        break;
                    };
                    if file.ends_with(".tgz") && !file.contains('/') {
                        out.extend(unpack(&format!("{name}:{path}"), bytes));
                    }
                }
            }
        }
        out
    }
}

/// The charts of archive `rel` of the repository.
fn archive_charts(repo: &Repo, rel: &str) -> Vec<Chart> {
    let Ok(Some(path)) = repo.resolve(rel) else {
        return Vec::new();
    };
    let Ok(file) = std::fs::File::open(path) else {
        return Vec::new();
    };
    let mut bytes = Vec::new();
    if file
        .take(MAX_ARCHIVE_BYTES + 1)
        .read_to_end(&mut bytes)
        .is_err()
        || bytes.len() as u64 > MAX_ARCHIVE_BYTES
    {
        return Vec::new();
    }
    unpack(rel, &bytes)
}

/// The charts at the top of archive `bytes` (shown as `name`): one per top folder holding a
/// `Chart.yaml`. An archive that does not unpack, or is over the bounds, holds none.
fn unpack(name: &str, bytes: &[u8]) -> Vec<Chart> {
    let mut files = BTreeMap::new();
    let mut total = 0u64;
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(bytes));
    let Ok(entries) = tar.entries() else {
        return Vec::new();
    };
    for (n, entry) in entries.enumerate() {
        let Ok(mut entry) = entry else {
            return Vec::new();
        };
        if n >= MAX_ARCHIVE_ENTRIES {
            return Vec::new();
        }
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let Ok(path) = entry.path() else {
            return Vec::new();
        };
        let path = path.to_string_lossy().trim_start_matches("./").to_owned();
        let mut data = Vec::new();
        let left = MAX_ARCHIVE_BYTES.saturating_sub(total);
        if entry
            .by_ref()
            .take(left + 1)
            .read_to_end(&mut data)
            .is_err()
        {
            return Vec::new();
        }
        total += data.len() as u64;
        if total > MAX_ARCHIVE_BYTES {
            return Vec::new();
        }
        files.insert(path, data);
    }
    let files: Files = Rc::new(files);
    let tops: Vec<String> = files
        .keys()
        .filter_map(|k| k.strip_suffix("/Chart.yaml"))
        .filter(|k| !k.contains('/'))
        .map(str::to_owned)
        .collect();
    tops.into_iter()
        .map(|root| Chart::Archive {
            name: name.to_owned(),
            files: files.clone(),
            root,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tgz(files: &[(&str, &str)]) -> Vec<u8> {
        let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(
            Vec::new(),
            flate2::Compression::fast(),
        ));
        for (path, text) in files {
            let mut header = tar::Header::new_gnu();
            header.set_size(text.len() as u64);
            header.set_mode(0o644);
            header.set_cksum();
            tar.append_data(&mut header, path, text.as_bytes()).unwrap();
        }
        tar.into_inner().unwrap().finish().unwrap()
    }

    fn write(root: &std::path::Path, rel: &str, bytes: &[u8]) {
        let path = root.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }

    #[test]
    fn folders_aliases_and_archives_nested_or_not() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(
            root,
            "charts/web/Chart.yaml",
            b"name: web\ndependencies:\n  - name: db\n    alias: primary\n",
        );
        write(root, "charts/web/templates/a.yaml", b"a: 1\n");
        write(root, "charts/web/charts/database/Chart.yaml", b"name: db\n");
        write(
            root,
            "charts/web/charts/database/templates/d.yaml",
            b"d: 1\n",
        );
        let inner = tgz(&[
            ("leaf/Chart.yaml", "name: leaf\n"),
            ("leaf/templates/l.yaml", "l: 1\n"),
        ]);
        // The outer archive holds the inner one as bytes.
        let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(
            Vec::new(),
            flate2::Compression::fast(),
        ));
        for (path, data) in [
            ("cache/Chart.yaml", b"name: cache\n".as_slice()),
            ("cache/templates/c.yaml", b"c: 1\n".as_slice()),
            (
                "cache/charts/sidecar/Chart.yaml",
                b"name: sidecar\n".as_slice(),
            ),
            (
                "cache/charts/sidecar/templates/s.yaml",
                b"s: 1\n".as_slice(),
            ),
            ("cache/charts/leaf-0.1.0.tgz", inner.as_slice()),
        ] {
            let mut header = tar::Header::new_gnu();
            header.set_size(data.len() as u64);
            header.set_mode(0o644);
            header.set_cksum();
            tar.append_data(&mut header, path, data).unwrap();
        }
        let outer = tar.into_inner().unwrap().finish().unwrap();
        write(root, "charts/web/charts/cache-1.0.0.tgz", &outer);
        let repo = Repo::open(root).unwrap();
        let read = |name: &str| read_template(&repo, "charts/web", name).map(|t| (t.shown, t.text));
        let some = |shown: &str, text: &str| Some((shown.to_owned(), text.to_owned()));

        assert_eq!(
            read("web/templates/a.yaml"),
            some("charts/web/templates/a.yaml", "a: 1\n")
        );
        assert_eq!(
            read("web/charts/primary/templates/d.yaml"),
            some("charts/web/charts/database/templates/d.yaml", "d: 1\n")
        );
        assert_eq!(
            read("web/charts/cache/templates/c.yaml"),
            some(
                "charts/web/charts/cache-1.0.0.tgz:cache/templates/c.yaml",
                "c: 1\n"
            )
        );
        assert_eq!(
            read("web/charts/cache/charts/sidecar/templates/s.yaml"),
            some(
                "charts/web/charts/cache-1.0.0.tgz:cache/charts/sidecar/templates/s.yaml",
                "s: 1\n"
            )
        );
        assert_eq!(
            read("web/charts/cache/charts/leaf/templates/l.yaml"),
            some(
                "charts/web/charts/cache-1.0.0.tgz:cache/charts/leaf-0.1.0.tgz:leaf/templates/l.yaml",
                "l: 1\n"
            )
        );
        // Not there, or not a chart of this name: nothing.
        assert_eq!(read("web/templates/missing.yaml"), None);
        assert_eq!(read("web/charts/database/templates/d.yaml"), None);
        assert_eq!(read("web/charts/nope/templates/x.yaml"), None);
        assert_eq!(read("web"), None);
    }

    #[test]
    fn paths_out_of_the_repository_are_not_read() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "charts/web/Chart.yaml", b"name: web\n");
        let repo = Repo::open(dir.path()).unwrap();
        assert_eq!(
            read_template(&repo, "charts/web", "web/../../../etc/hostname"),
            None
        );
        assert_eq!(
            read_template(&repo, "charts/web", "web/charts/../../x/templates/y"),
            None
        );
    }
}
