//! A scratch copy of one chart, outside the repository, for renders with rewritten inputs (the
//! marker render of causal provenance).
//!
//! The copy is a repository of its own ([`ScratchChart::repo`]): the chart in folder
//! [`ScratchChart::chart`] and the cell's other inputs as flat files beside it
//! ([`ScratchChart::write_input`]), so a cell whose paths point there renders through the same
//! runner and cache as any render. The layout is flat because every folder and file the copy
//! makes is a new inode, and on a file system that allocates them slowly (ext4 without a
//! journal checks each free inode against recent deletions) the folders a mirror of the
//! repository's layout needs were most of imagegate's own work on a fleet where every cell has
//! findings. Vendored `charts/*.tgz` subcharts are unpacked into folders (helm loads a folder
//! subchart exactly like its archive), so their `values.yaml` and `Chart.yaml` can be rewritten
//! too; [`ScratchChart::shown`] names the chart's files by their repository path, and a file of
//! an archive as `<archive>:<path inside it>`.

use imagegate_fleet::Repo;
use std::io::Read;
use std::path::{Component, Path, PathBuf};

/// Most files and folders one scratch copy holds, archives' contents included.
const MAX_ENTRIES: usize = 200_000;
/// Most bytes one scratch copy holds, archives' contents included.
const MAX_BYTES: u64 = 512 * 1024 * 1024;
/// Archives inside archives deeper than this are copied as they are.
const MAX_DEPTH: usize = 4;
/// The copy's folder of the chart. helm names a chart by its `Chart.yaml`, never by its folder.
const CHART_DIR: &str = "chart";

/// A folder from an unpacked archive: files under `folder` (scratch-relative) are shown as
/// `<archive>:<inner>/…`.
#[derive(Debug, Clone)]
struct Unpacked {
    folder: String,
    archive: String,
    inner: String,
}

/// A chart copied into a private temporary folder, removed on drop.
pub struct ScratchChart {
    dir: crate::process::PrivateDir,
    repo: Repo,
    /// The chart's folder in the repository.
    chart_rel: String,
    charts: Vec<String>,
    unpacked: Vec<Unpacked>,
    /// `(input of the copy, repository file)` of each [`ScratchChart::write_input`].
    inputs: std::cell::RefCell<Vec<(String, String)>>,
    entries: usize,
    bytes: u64,
}

impl std::fmt::Debug for ScratchChart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScratchChart")
            .field("dir", &self.dir.path())
            .field("charts", &self.charts)
            .finish_non_exhaustive()
    }
}

impl ScratchChart {
    /// Copies chart folder `chart_rel` of `repo` as helm reads it (walked, and refused, as
    /// [`crate::chart`] walks it for every render), unpacking every `charts/*.tgz`.
    ///
    /// # Errors
    /// Why the chart cannot be copied: a folder that cannot be read, a link out of the
    /// repository, an archive that does not unpack, a chart over the size bounds.
    pub fn copy(repo: &Repo, chart_rel: &str) -> Result<Self, String> {
        let source = repo
            .resolve(chart_rel)?
            .ok_or_else(|| format!("chart folder {chart_rel} does not exist"))?;
        let dir = crate::process::private_temp_dir("imagegate-markers-")
            .map_err(|e| format!("cannot create a temporary folder: {e}"))?;
        let scratch_repo = Repo::open(dir.path()).map_err(|e| e.to_string())?;
        let mut me = Self {
            dir,
            repo: scratch_repo,
            chart_rel: chart_rel.to_string(),
            charts: Vec::new(),
            unpacked: Vec::new(),
            inputs: std::cell::RefCell::new(Vec::new()),
            entries: 0,
            bytes: 0,
        };
        let target = me.dir.path().join(CHART_DIR);
        let mut archives = Vec::new();
        let mut link = true;
        crate::chart::walk(repo, chart_rel, &source, |entry, rel| {
            me.count(0)?;
            let to = target.join(rel);
            if entry.file_type().is_dir() {
                // The walk visits a folder before its entries.
                std::fs::create_dir(&to)
                    .map_err(|e| format!("{chart_rel}/{}: {e}", rel.display()))?;
            } else if entry.file_type().is_file() {
                me.count(entry.metadata().map(|m| m.len()).unwrap_or(0))?;
                if is_vendored_archive(rel) {
                    archives.push((format!("{chart_rel}/{}", rel.display()), to.clone()));
                }
                copy_file(entry, &to, &mut link)
                    .map_err(|e| format!("{chart_rel}/{}: {e}", rel.display()))?;
            }
            Ok(())
        })
        .map_err(crate::chart::Stop::message)?;
        for (archive, at) in archives {
            me.unpack(&archive, &at, 0)?;
        }
        me.charts = me.find_charts(CHART_DIR);
        Ok(me)
    }

    /// The chart's folder in the copy (scratch-relative), whatever its path in the repository.
    pub fn chart(&self) -> &str {
        CHART_DIR
    }

    /// Where repository file `rel` is in the copy, when it is a file of the chart (a values
    /// file an Argo CD source keeps beside its chart, which the chart's templates can also read
    /// with `.Files`): `chart/<its path in the chart>`.
    pub fn in_chart(&self, rel: &str) -> Option<String> {
        let rest = rel
            .strip_prefix(self.chart_rel.as_str())?
            .strip_prefix('/')?;
        (!rest.is_empty()).then(|| format!("{CHART_DIR}/{rest}"))
    }

    /// `text` (a message of helm's or of the copy's) with the copy's paths named as the
    /// repository's: the chart folder by the chart's path, and each input by the repository
    /// file it was written for.
    pub fn unscratch(&self, text: &str) -> String {
        // helm is given the resolved paths (the repository's root); the folder as made may be
        // reached through a symlink (a `TMPDIR` that is one).
        let mut roots = vec![self.repo.root().display().to_string()];
        let made = self.dir.path().display().to_string();
        if made != roots[0] {
            roots.push(made);
        }
        let mut out = text.to_string();
        for root in &roots {
            for (input, file) in self.inputs.borrow().iter() {
                out = out.replace(&format!("{root}/{input}"), file);
            }
            out = out.replace(&format!("{root}/{CHART_DIR}"), &self.chart_rel);
            out = out.replace(root.as_str(), "<scratch copy>");
        }
        out
    }

    /// Writes `text` for repository file `file`, an input of the cell (a values file, a file a
    /// `--set-file` parameter reads), as the next flat file of the copy beside the chart, and
    /// returns its scratch-relative path for the cell to render with. Its repository path says
    /// nothing to helm; reports and [`ScratchChart::unscratch`] name it by `file`.
    ///
    /// # Errors
    /// The file cannot be written.
    pub fn write_input(&self, file: &str, text: &str) -> Result<String, String> {
        let mut inputs = self.inputs.borrow_mut();
        let rel = format!("input-{}.yaml", inputs.len());
        write_new(&self.dir.path().join(&rel), text.as_bytes())
            .map_err(|e| format!("{file}: {e}"))?;
        inputs.push((rel.clone(), file.to_string()));
        Ok(rel)
    }

    /// The scratch folder as a repository: cells render from it as from the real one.
    pub fn repo(&self) -> &Repo {
        &self.repo
    }

    /// Every chart folder of the copy, scratch-relative: the chart itself first, then its
    /// subcharts (folders and unpacked archives alike) at any depth, parents before children.
    pub fn charts(&self) -> &[String] {
        &self.charts
    }

    /// Removes the `values.schema.json` of the chart and of every subchart of the copy (folders
    /// and unpacked archives alike), so helm validates no values against them: a render whose
    /// values are markers would fail a schema's types, enums and patterns (`pullPolicy` must be
    /// `Always`, `IfNotPresent` or `Never`) before a template runs. Only the copy loses them;
    /// the real render is validated as always. Returns how many were removed.
    ///
    /// # Errors
    /// A schema that exists but cannot be removed.
    pub fn drop_schemas(&self) -> Result<usize, String> {
        let mut removed = 0;
        for chart in &self.charts {
            let rel = format!("{chart}/values.schema.json");
            let path = self.inside(&rel)?;
            match std::fs::remove_file(&path) {
                Ok(()) => removed += 1,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(format!("{}: {e}", self.shown(&rel))),
            }
        }
        Ok(removed)
    }

    /// How reports name scratch-relative file `rel` of the chart: its repository path, or for
    /// a file of an unpacked archive `<archive>:<path inside it>`.
    pub fn shown(&self, rel: &str) -> String {
        let from = self
            .unpacked
            .iter()
            .filter(|u| rel.starts_with(&format!("{}/", u.folder)))
            .max_by_key(|u| u.folder.len());
        if let Some(u) = from {
            return format!("{}:{}{}", u.archive, u.inner, &rel[u.folder.len()..]);
        }
        match rel.strip_prefix(CHART_DIR) {
            Some(rest) if rest.is_empty() || rest.starts_with('/') => {
                format!("{}{rest}", self.chart_rel)
            }
            _ => rel.to_string(),
        }
    }

    /// Reads scratch-relative file `rel`, at most `max` bytes.
    ///
    /// # Errors
    /// The file is missing, unreadable or larger.
    pub fn read(&self, rel: &str, max: u64) -> Result<String, String> {
        self.repo
            .read_to_string(rel, max)
            .map_err(|e| e.to_string())
    }

    /// Replaces (or creates) scratch-relative file `rel` with `text`.
    ///
    /// # Errors
    /// The path is not inside the copy, or the file cannot be written.
    ///
    /// The copy's files may be hard links to the repository's own: the old entry is removed
    /// first, so the new text goes to a new file and never through the link into the
    /// repository.
    pub fn write(&self, rel: &str, text: &str) -> Result<(), String> {
        let path = self.inside(rel)?;
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if let Some(parent) = path.parent() {
                    std::fs::create_dir_all(parent).map_err(|e| format!("{rel}: {e}"))?;
                }
            }
            Err(e) => return Err(format!("{rel}: {e}")),
        }
        write_new(&path, text.as_bytes()).map_err(|e| format!("{rel}: {e}"))
    }

    fn inside(&self, rel: &str) -> Result<PathBuf, String> {
        let p = Path::new(rel);
        if p.components().any(|c| !matches!(c, Component::Normal(_))) {
            return Err(format!("{rel}: not a plain relative path"));
        }
        Ok(self.dir.path().join(p))
    }

    fn count(&mut self, bytes: u64) -> Result<(), String> {
        self.entries += 1;
        self.bytes += bytes;
        if self.entries > MAX_ENTRIES {
            return Err(format!("the chart has more than {MAX_ENTRIES} files"));
        }
        if self.bytes > MAX_BYTES {
            return Err(format!(
                "the chart and its archives hold more than {} MiB",
                MAX_BYTES >> 20
            ));
        }
        Ok(())
    }

    /// Unpacks archive `at` (shown as `archive`) into its `charts/` folder, in place of the
    /// archive, when no folder of the same name is there already (helm would load both).
    fn unpack(&mut self, archive: &str, at: &Path, depth: usize) -> Result<(), String> {
        let folder = at.parent().unwrap_or(at).to_path_buf();
        let bytes = std::fs::read(at).map_err(|e| format!("{archive}: {e}"))?;
        // The top folders the archive holds, and its files, read fully before writing any.
        let mut files: Vec<(PathBuf, Vec<u8>)> = Vec::new();
        let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(&bytes[..]));
        let entries = tar
            .entries()
            .map_err(|e| format!("{archive} cannot be unpacked: {e}"))?;
        for entry in entries {
            let mut entry = entry.map_err(|e| format!("{archive} cannot be unpacked: {e}"))?;
            if !entry.header().entry_type().is_file() {
                continue;
            }
            let path = entry
                .path()
                .map_err(|e| format!("{archive} cannot be unpacked: {e}"))?
                .into_owned();
            if path
                .components()
                .any(|c| !matches!(c, Component::Normal(_)))
            {
                return Err(format!(
                    "{archive} holds a path that leaves it: {}",
                    path.display()
                ));
            }
            let size = entry.header().size().unwrap_or(0);
            self.count(size)?;
            let mut data = Vec::new();
            entry
                .by_ref()
                .take(MAX_BYTES + 1)
                .read_to_end(&mut data)
                .map_err(|e| format!("{archive} cannot be unpacked: {e}"))?;
            files.push((path, data));
        }
        let mut tops: Vec<String> = files
            .iter()
            .filter_map(|(p, _)| p.components().next())
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        tops.sort();
        tops.dedup();
        if tops.iter().any(|t| folder.join(t).exists()) {
            // Left as an archive: helm loads it as it is, and its values stay unmarked.
            return Ok(());
        }
        std::fs::remove_file(at).map_err(|e| format!("{archive}: {e}"))?;
        let mut nested = Vec::new();
        for (path, data) in files {
            let to = folder.join(&path);
            if let Some(parent) = to.parent() {
                std::fs::create_dir_all(parent).map_err(|e| format!("{archive}: {e}"))?;
            }
            // A new file even where an entry of the same name is there (the archive named a
            // path twice): never through a link into the repository.
            match std::fs::remove_file(&to) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(format!("{archive}: {e}")),
            }
            write_new(&to, &data).map_err(|e| format!("{archive}: {e}"))?;
            if is_vendored_archive(&path) {
                nested.push((format!("{archive}:{}", path.display()), to));
            }
        }
        let root = self.dir.path().to_path_buf();
        for top in tops {
            let rel = folder.join(&top);
            let rel = rel.strip_prefix(&root).unwrap_or(&rel);
            self.unpacked.push(Unpacked {
                folder: rel.display().to_string(),
                archive: archive.to_string(),
                inner: top,
            });
        }
        if depth < MAX_DEPTH {
            for (archive, at) in nested {
                self.unpack(&archive, &at, depth + 1)?;
            }
        }
        Ok(())
    }

    /// The chart folders under `chart_rel`: those holding a `Chart.yaml` and the chart itself.
    fn find_charts(&self, chart_rel: &str) -> Vec<String> {
        let root = self.dir.path();
        let mut out = vec![chart_rel.to_string()];
        let mut queue = vec![chart_rel.to_string()];
        while let Some(chart) = queue.pop() {
            let Ok(read) = std::fs::read_dir(root.join(&chart).join("charts")) else {
                continue;
            };
            let mut subs: Vec<String> = read
                .filter_map(Result::ok)
                .filter(|e| e.path().join("Chart.yaml").is_file())
                .map(|e| format!("{chart}/charts/{}", e.file_name().to_string_lossy()))
                .collect();
            subs.sort();
            out.extend(subs.iter().cloned());
            queue.extend(subs);
        }
        out
    }
}

/// Writes `bytes` to a file that must not exist yet.
fn write_new(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)?
        .write_all(bytes)
}

/// Puts a copy of the walked file `entry` at `to`: a hard link to it while `link` holds (no
/// bytes copied and no new inode: most of a scratch copy's cost on a file system that allocates
/// inodes slowly), else, or once linking fails (another file system, a file the kernel's
/// `protected_hardlinks` will not let this user link), a copy, and `link` is cleared. A file the
/// walk reached through a symlink is always copied: a link would be of the symlink itself, whose
/// relative target means something else in the copy. Everything that changes a file of the
/// copy replaces it ([`ScratchChart::write`], the unpacking of an archive), never writes
/// through it.
fn copy_file(entry: &walkdir::DirEntry, to: &Path, link: &mut bool) -> std::io::Result<()> {
    if *link && !entry.path_is_symlink() {
        match std::fs::hard_link(entry.path(), to) {
            Ok(()) => return Ok(()),
            Err(_) => *link = false,
        }
    }
    std::fs::copy(entry.path(), to).map(drop)
}

/// Whether `rel` (inside a chart) is a vendored dependency archive: `charts/<name>.tgz`.
fn is_vendored_archive(rel: &Path) -> bool {
    let parent_is_charts = rel
        .parent()
        .and_then(Path::file_name)
        .is_some_and(|n| n == "charts");
    parent_is_charts && rel.extension().is_some_and(|e| e == "tgz")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tgz(files: &[(&str, &str)]) -> Vec<u8> {
        let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
            Vec::new(),
            flate2::Compression::fast(),
        ));
        for (path, text) in files {
            let mut header = tar::Header::new_gnu();
            header.set_size(text.len() as u64);
            header.set_mode(0o644);
            header.set_cksum();
            builder
                .append_data(&mut header, path, text.as_bytes())
                .unwrap();
        }
        builder.into_inner().unwrap().finish().unwrap()
    }

    #[test]
    fn a_copy_unpacks_vendored_archives_and_names_their_files() {
        let dir = tempfile::tempdir().unwrap();
        let chart = dir.path().join("charts/app");
        std::fs::create_dir_all(chart.join("charts/local")).unwrap();
        std::fs::create_dir_all(chart.join("templates")).unwrap();
        std::fs::write(chart.join("Chart.yaml"), "name: app\n").unwrap();
        std::fs::write(chart.join("templates/a.yaml"), "x").unwrap();
        std::fs::write(chart.join("charts/local/Chart.yaml"), "name: local\n").unwrap();
        std::fs::write(
            chart.join("charts/redis-1.0.0.tgz"),
            tgz(&[
                ("redis/Chart.yaml", "name: redis\n"),
                ("redis/values.yaml", "image:\n  tag: \"7\"\n"),
            ]),
        )
        .unwrap();
        let repo = Repo::open(dir.path()).unwrap();
        let scratch = ScratchChart::copy(&repo, "charts/app").unwrap();
        assert_eq!(
            scratch.charts(),
            ["chart", "chart/charts/local", "chart/charts/redis"]
        );
        assert_eq!(
            scratch
                .read("chart/charts/redis/values.yaml", 1024)
                .unwrap(),
            "image:\n  tag: \"7\"\n"
        );
        assert!(scratch
            .read("chart/charts/redis-1.0.0.tgz", 1 << 20)
            .is_err());
        assert_eq!(
            scratch.shown("chart/charts/redis/values.yaml"),
            "charts/app/charts/redis-1.0.0.tgz:redis/values.yaml"
        );
        assert_eq!(scratch.shown("chart/values.yaml"), "charts/app/values.yaml");
        assert_eq!(scratch.shown("chart"), "charts/app");
        assert_eq!(scratch.shown("charted/x.yaml"), "charted/x.yaml");
        scratch.write("chart/values.yaml", "{}").unwrap();
        assert!(scratch.write("../escape.yaml", "x").is_err());
        // The original is untouched.
        assert!(!chart.join("values.yaml").exists());
        assert!(chart.join("charts/redis-1.0.0.tgz").exists());
    }

    #[test]
    fn the_copy_is_flat_whatever_the_charts_path_and_inputs_sit_beside_it() {
        let dir = tempfile::tempdir().unwrap();
        let chart = dir.path().join("sources/charts/apps/web");
        std::fs::create_dir_all(chart.join("templates")).unwrap();
        std::fs::write(chart.join("Chart.yaml"), "name: web\n").unwrap();
        std::fs::write(chart.join("templates/a.yaml"), "x").unwrap();
        let repo = Repo::open(dir.path()).unwrap();
        let scratch = ScratchChart::copy(&repo, "sources/charts/apps/web").unwrap();
        assert_eq!(scratch.chart(), "chart");
        assert_eq!(scratch.read("chart/templates/a.yaml", 16).unwrap(), "x");
        let first = scratch
            .write_input("sources/values/dev.yaml", "tag: MARKER\n")
            .unwrap();
        let second = scratch
            .write_input("sources/values/dev.yaml", "{}")
            .unwrap();
        assert_eq!(
            (first.as_str(), second.as_str()),
            ("input-0.yaml", "input-1.yaml")
        );
        assert_eq!(scratch.read(&first, 64).unwrap(), "tag: MARKER\n");
        assert_eq!(scratch.read(&second, 64).unwrap(), "{}");
        // The repository's folders are not mirrored: the copy holds the chart folder and the
        // inputs, nothing else.
        let mut top: Vec<String> = std::fs::read_dir(scratch.repo().root())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        top.sort();
        assert_eq!(top, ["chart", "input-0.yaml", "input-1.yaml"]);
        assert_eq!(
            scratch.shown("chart/templates/a.yaml"),
            "sources/charts/apps/web/templates/a.yaml"
        );
        assert_eq!(
            scratch.in_chart("sources/charts/apps/web/values-prod.yaml"),
            Some("chart/values-prod.yaml".to_string())
        );
        assert_eq!(scratch.in_chart("sources/charts/apps/web"), None);
        assert_eq!(scratch.in_chart("sources/charts/apps/website/v.yaml"), None);
        assert_eq!(scratch.in_chart("sources/values/dev.yaml"), None);
        // Messages name the repository's files, never the copy's.
        let root = scratch.repo().root().display().to_string();
        let message = format!(
            "Error: {root}/chart/templates/a.yaml: bad; values {root}/{first}: line 2; {root}/other"
        );
        assert_eq!(
            scratch.unscratch(&message),
            "Error: sources/charts/apps/web/templates/a.yaml: bad; values sources/values/dev.yaml: line 2; <scratch copy>/other"
        );
    }

    #[test]
    fn writing_a_file_of_the_copy_never_writes_through_to_the_repository() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().unwrap();
        let chart = dir.path().join("c");
        std::fs::create_dir_all(chart.join("templates")).unwrap();
        std::fs::write(chart.join("Chart.yaml"), "name: c\nappVersion: 1.0\n").unwrap();
        std::fs::write(chart.join("values.yaml"), "tag: v1\n").unwrap();
        std::fs::write(chart.join("values.schema.json"), "{}").unwrap();
        std::fs::write(chart.join("templates/a.yaml"), "x").unwrap();
        let repo = Repo::open(dir.path()).unwrap();
        let scratch = ScratchChart::copy(&repo, "c").unwrap();
        // Same file system: the copy's files are the repository's, linked.
        let nlink = std::fs::metadata(chart.join("values.yaml"))
            .unwrap()
            .nlink();
        assert_eq!(nlink, 2, "the copy links the repository's file");
        scratch.write("chart/values.yaml", "tag: MARKER\n").unwrap();
        scratch.write("chart/Chart.yaml", "{}").unwrap();
        scratch.write("chart/templates/new.yaml", "y").unwrap();
        assert_eq!(scratch.drop_schemas().unwrap(), 1);
        assert_eq!(
            scratch.read("chart/values.yaml", 1024).unwrap(),
            "tag: MARKER\n"
        );
        let read = |rel: &str| std::fs::read_to_string(chart.join(rel)).unwrap();
        assert_eq!(read("values.yaml"), "tag: v1\n");
        assert_eq!(read("Chart.yaml"), "name: c\nappVersion: 1.0\n");
        assert_eq!(read("values.schema.json"), "{}");
        assert!(!chart.join("templates/new.yaml").exists());
        // The untouched template is still shared; the rewritten file is not any more.
        assert_eq!(
            std::fs::metadata(chart.join("values.yaml"))
                .unwrap()
                .nlink(),
            1
        );
        assert_eq!(scratch.read("chart/templates/a.yaml", 16).unwrap(), "x");
    }

    #[test]
    fn a_file_reached_through_a_symlink_is_copied_with_its_content() {
        let dir = tempfile::tempdir().unwrap();
        let chart = dir.path().join("c");
        std::fs::create_dir_all(chart.join("templates")).unwrap();
        std::fs::create_dir_all(dir.path().join("shared")).unwrap();
        std::fs::write(chart.join("Chart.yaml"), "name: c\n").unwrap();
        std::fs::write(dir.path().join("shared/values.yaml"), "tag: v1\n").unwrap();
        std::os::unix::fs::symlink("../shared/values.yaml", chart.join("values.yaml")).unwrap();
        let repo = Repo::open(dir.path()).unwrap();
        let scratch = ScratchChart::copy(&repo, "c").unwrap();
        // A link of the symlink itself would lead to `<scratch>/shared/values.yaml`, absent.
        assert_eq!(
            scratch.read("chart/values.yaml", 1024).unwrap(),
            "tag: v1\n"
        );
        scratch.write("chart/values.yaml", "tag: MARKER\n").unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.path().join("shared/values.yaml")).unwrap(),
            "tag: v1\n"
        );
    }

    #[test]
    fn schemas_leave_the_copy_and_stay_in_the_chart() {
        let dir = tempfile::tempdir().unwrap();
        let chart = dir.path().join("c");
        std::fs::create_dir_all(chart.join("charts/local")).unwrap();
        let schema = r#"{"properties":{"tag":{"pattern":"^v"}}}"#;
        std::fs::write(chart.join("Chart.yaml"), "name: c\n").unwrap();
        std::fs::write(chart.join("values.schema.json"), schema).unwrap();
        std::fs::write(chart.join("charts/local/Chart.yaml"), "name: local\n").unwrap();
        std::fs::write(chart.join("charts/local/values.schema.json"), schema).unwrap();
        std::fs::write(
            chart.join("charts/packed-1.0.0.tgz"),
            tgz(&[
                ("packed/Chart.yaml", "name: packed\n"),
                ("packed/values.schema.json", schema),
            ]),
        )
        .unwrap();
        let repo = Repo::open(dir.path()).unwrap();
        let scratch = ScratchChart::copy(&repo, "c").unwrap();
        assert_eq!(scratch.drop_schemas().unwrap(), 3);
        for rel in [
            "chart/values.schema.json",
            "chart/charts/local/values.schema.json",
            "chart/charts/packed/values.schema.json",
        ] {
            assert!(
                scratch.read(rel, 1024).is_err(),
                "{rel} is still in the copy"
            );
        }
        // Everything else of the copy stays; the chart itself keeps its schemas.
        assert!(scratch.read("chart/charts/packed/Chart.yaml", 1024).is_ok());
        assert!(chart.join("values.schema.json").is_file());
        assert!(chart.join("charts/local/values.schema.json").is_file());
        assert_eq!(scratch.drop_schemas().unwrap(), 0);
    }

    #[test]
    fn an_archive_that_would_write_outside_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let chart = dir.path().join("c");
        std::fs::create_dir_all(chart.join("charts")).unwrap();
        // tar::Builder refuses `..` itself, so write the header by hand.
        let mut header = tar::Header::new_gnu();
        header.as_gnu_mut().unwrap().name[..9].copy_from_slice(b"../x.yaml");
        header.set_size(1);
        header.set_mode(0o644);
        header.set_cksum();
        let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
            Vec::new(),
            flate2::Compression::fast(),
        ));
        builder.append(&header, &b"x"[..]).unwrap();
        let bytes = builder.into_inner().unwrap().finish().unwrap();
        std::fs::write(chart.join("charts/bad-1.tgz"), bytes).unwrap();
        let repo = Repo::open(dir.path()).unwrap();
        let err = ScratchChart::copy(&repo, "c").unwrap_err();
        assert!(err.contains("leaves it"), "{err}");
    }
}
