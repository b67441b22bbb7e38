//! The tag → digest answers of one run, kept in a file so that every imagegate process of the
//! run (`pin` then `check --registry` in one CI job, the shards of a matrix on one machine, a
//! retried step) sees the answer the first one got. A tag can move at any moment; within one run
//! it points where it pointed when the run first asked, so `pin` and the check after it cannot
//! disagree about it.
//!
//! The file is the caller's (the binary names it after the CI run, in the cache folder, never in
//! the repository under check). It is read once when the client starts, and written once at the
//! end ([`crate::Registry::save`]) by merging into what is there now and renaming a temporary
//! file over it, so concurrent processes never see half a file; one that wrote in between only
//! loses answers that are asked again. Answers older than the age limit are asked again, and
//! sibling files of earlier runs are removed once they are a day old.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// The `schema` of the file.
const SCHEMA: &str = "imagegate/registry-answers/v1";

/// The largest file read: answers are a few hundred bytes each.
const MAX_BYTES: u64 = 16 * 1024 * 1024;

/// Files of earlier runs older than this are removed when a run saves.
const STALE_RUN: Duration = Duration::from_secs(24 * 60 * 60);

/// How a tag was asked: a `HEAD` whose `Docker-Content-Digest` says where it points (`check
/// --registry`, which a registry's pull limit does not count), or a `GET` whose bytes were
/// hashed here (`pin`, which writes the digest into Git). One kind never answers for the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Head,
    Get,
}

impl Kind {
    fn word(self) -> &'static str {
        match self {
            Kind::Head => "head",
            Kind::Get => "get",
        }
    }

    /// The key of `reference` (`registry/repository:tag`) asked this way.
    pub(crate) fn key(self, reference: &str) -> String {
        format!("{} {reference}", self.word())
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
struct Answer {
    /// Where the tag pointed; `None` when the registry had no such tag.
    digest: Option<String>,
    /// When it was asked, in seconds since the epoch.
    asked: u64,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Document {
    schema: String,
    answers: BTreeMap<String, Answer>,
}

/// The answers file of one run.
pub(crate) struct Answers {
    path: PathBuf,
    max_age: Duration,
    /// What the file held when the run started, still young enough.
    known: BTreeMap<String, Answer>,
    /// What this process asked.
    new: Mutex<BTreeMap<String, Answer>>,
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// `path`'s document, `None` when there is no file. A symbolic link is refused (imagegate never
/// makes one, and reading through it could read anything); so is anything that is not a file of
/// valid answers.
fn read(path: &Path) -> Result<Option<Document>, String> {
    let what = |e: &dyn std::fmt::Display| {
        format!(
            "{}: {e}; the file only holds registry answers of one run: delete it",
            path.display()
        )
    };
    // The folder too: through a link there the file could be anywhere, such as in the
    // repository under check.
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        if std::fs::symlink_metadata(parent).is_ok_and(|m| m.file_type().is_symlink()) {
            return Err(format!(
                "{}: a symbolic link; imagegate never makes one in its cache folder and does not \
                 follow it: delete it",
                parent.display()
            ));
        }
    }
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(what(&e)),
    };
    if !meta.file_type().is_file() {
        return Err(what(
            &"not a regular file (imagegate never makes links or folders here)",
        ));
    }
    if meta.len() > MAX_BYTES {
        return Err(what(&format!("larger than {MAX_BYTES} bytes")));
    }
    let bytes = std::fs::read(path).map_err(|e| what(&e))?;
    let doc: Document = serde_json::from_slice(&bytes).map_err(|e| what(&e))?;
    if doc.schema != SCHEMA {
        return Err(what(&format!("schema `{}`, not `{SCHEMA}`", doc.schema)));
    }
    for (key, answer) in &doc.answers {
        let valid_key = key
            .split_once(' ')
            .is_some_and(|(kind, r)| matches!(kind, "head" | "get") && !r.is_empty());
        let valid_digest = answer.digest.as_deref().is_none_or(is_sha256);
        if !valid_key || !valid_digest {
            return Err(what(&format!("`{key}` is not a valid answer")));
        }
    }
    Ok(Some(doc))
}

/// `sha256:` and 64 lowercase hex digits.
fn is_sha256(digest: &str) -> bool {
    digest.strip_prefix("sha256:").is_some_and(|h| {
        h.len() == 64
            && h.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

impl Answers {
    /// The answers in `path` younger than `max_age` (none when there is no file yet).
    pub(crate) fn open(path: &Path, max_age: Duration) -> Result<Self, String> {
        let oldest = now().saturating_sub(max_age.as_secs());
        let known = read(path)?
            .map(|d| d.answers)
            .unwrap_or_default()
            .into_iter()
            .filter(|(_, a)| a.asked >= oldest)
            .collect();
        Ok(Self {
            path: path.to_owned(),
            max_age,
            known,
            new: Mutex::new(BTreeMap::new()),
        })
    }

    /// The run's answer for `key`, if one was asked already.
    pub(crate) fn get(&self, key: &str) -> Option<Option<String>> {
        self.known.get(key).map(|a| a.digest.clone())
    }

    /// Keeps what the registry answered for `key`.
    pub(crate) fn record(&self, key: &str, digest: Option<String>) {
        self.new.lock().unwrap_or_else(|e| e.into_inner()).insert(
            key.to_owned(),
            Answer {
                digest,
                asked: now(),
            },
        );
    }

    /// Merges this process's answers into the file (when there are any), then removes other
    /// runs' files older than a day.
    pub(crate) fn save(&self) -> Result<(), String> {
        let new = self.new.lock().unwrap_or_else(|e| e.into_inner()).clone();
        if !new.is_empty() {
            self.write(new)?;
        }
        self.remove_stale_runs();
        Ok(())
    }

    fn write(&self, new: BTreeMap<String, Answer>) -> Result<(), String> {
        let dir = self
            .path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let fail = |e: &dyn std::fmt::Display| format!("{}: {e}", self.path.display());
        std::fs::create_dir_all(dir).map_err(|e| fail(&e))?;
        // What another process of the run wrote since this one started counts too; a file that
        // cannot be read now is replaced.
        let oldest = now().saturating_sub(self.max_age.as_secs());
        let mut answers: BTreeMap<String, Answer> = read(&self.path)
            .ok()
            .flatten()
            .map(|d| d.answers)
            .unwrap_or_default();
        // First answers win: the run keeps where a tag pointed when it was first asked.
        for (key, answer) in new {
            answers.entry(key).or_insert(answer);
        }
        answers.retain(|_, a| a.asked >= oldest);
        let doc = Document {
            schema: SCHEMA.to_owned(),
            answers,
        };
        let bytes = serde_json::to_vec_pretty(&doc).map_err(|e| fail(&e))?;
        let mut tmp = tempfile::Builder::new()
            .prefix(".tmp-answers-")
            .tempfile_in(dir)
            .map_err(|e| fail(&e))?;
        tmp.write_all(&bytes).map_err(|e| fail(&e))?;
        // `rename` replaces a link planted at the path, never what it points at.
        tmp.persist(&self.path).map_err(|e| fail(&e.error))?;
        Ok(())
    }

    /// Removes `answers-*.json` files beside this one not touched for a day (a best effort: what
    /// cannot be removed stays).
    fn remove_stale_runs(&self) {
        let Some(dir) = self.path.parent() else {
            return;
        };
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if !(name.starts_with("answers-") && name.ends_with(".json"))
                || entry.path() == self.path
            {
                continue;
            }
            let old = entry
                .metadata()
                .ok()
                .filter(std::fs::Metadata::is_file)
                .and_then(|m| m.modified().ok())
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age > STALE_RUN);
            if old {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const B: &str = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

    #[test]
    fn answers_survive_the_process_and_the_first_one_wins() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("registry").join("answers-7.json");
        let hour = Duration::from_secs(3600);
        let first = Answers::open(&path, hour).unwrap();
        assert_eq!(first.get("get r/a:v1"), None);
        first.record("get r/a:v1", Some(A.into()));
        first.record("head r/gone:v1", None);
        // A second process of the run, started before the first saved, asks too.
        let second = Answers::open(&path, hour).unwrap();
        second.record("get r/a:v1", Some(B.into()));
        first.save().unwrap();
        second.save().unwrap();
        let third = Answers::open(&path, hour).unwrap();
        assert_eq!(third.get("get r/a:v1"), Some(Some(A.into())));
        assert_eq!(third.get("head r/gone:v1"), Some(None));
        // One kind never answers for the other.
        assert_eq!(third.get("head r/a:v1"), None);
        // Too old: asked again.
        let old = now() - 7200;
        std::fs::write(
            &path,
            format!(r#"{{"schema":"{SCHEMA}","answers":{{"get r/a:v1":{{"digest":"{A}","asked":{old}}}}}}}"#),
        )
        .unwrap();
        assert_eq!(Answers::open(&path, hour).unwrap().get("get r/a:v1"), None);
        assert_eq!(
            Answers::open(&path, 3 * hour).unwrap().get("get r/a:v1"),
            Some(Some(A.into()))
        );
    }

    #[test]
    fn a_damaged_or_linked_file_is_refused_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let hour = Duration::from_secs(3600);
        let path = dir.path().join("answers-1.json");
        for (text, says) in [
            ("{", "EOF"),
            (r#"{"schema":"other","answers":{}}"#, "schema `other`"),
            (
                r#"{"schema":"imagegate/registry-answers/v1","answers":{"get r:v1":{"digest":"sha256:1","asked":1}}}"#,
                "not a valid answer",
            ),
            (
                r#"{"schema":"imagegate/registry-answers/v1","answers":{"put r:v1":{"digest":null,"asked":1}}}"#,
                "not a valid answer",
            ),
        ] {
            std::fs::write(&path, text).unwrap();
            let err = Answers::open(&path, hour).err().unwrap();
            assert!(
                err.contains("answers-1.json") && err.contains(says),
                "{err}"
            );
            assert!(err.contains("delete it"), "{err}");
        }
        let target = dir.path().join("elsewhere.json");
        std::fs::write(
            &target,
            format!(
                r#"{{"schema":"{SCHEMA}","answers":{{"get r:v1":{{"digest":"{A}","asked":{}}}}}}}"#,
                now()
            ),
        )
        .unwrap();
        std::fs::remove_file(&path).unwrap();
        std::os::unix::fs::symlink(&target, &path).unwrap();
        let err = Answers::open(&path, hour).err().unwrap();
        assert!(err.contains("not a regular file"), "{err}");
        // A linked folder, whatever it holds.
        let linked = dir.path().join("registry");
        std::os::unix::fs::symlink(dir.path().join("real"), &linked).unwrap();
        let err = Answers::open(&linked.join("answers-1.json"), hour)
            .err()
            .unwrap();
        assert!(err.contains("registry: a symbolic link"), "{err}");
    }

    #[test]
    fn saving_replaces_a_planted_link_and_never_writes_through_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("answers-1.json");
        let answers = Answers::open(&path, Duration::from_secs(3600)).unwrap();
        let target = dir.path().join("target.txt");
        std::fs::write(&target, "untouched").unwrap();
        std::os::unix::fs::symlink(&target, &path).unwrap();
        answers.record("get r:v1", Some(A.into()));
        answers.save().unwrap();
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "untouched");
        assert!(std::fs::symlink_metadata(&path).unwrap().is_file());
    }

    #[test]
    fn other_runs_files_are_removed_after_a_day() {
        let dir = tempfile::tempdir().unwrap();
        let old = dir.path().join("answers-old.json");
        let young = dir.path().join("answers-young.json");
        let other = dir.path().join("notes.json");
        for p in [&old, &young, &other] {
            std::fs::write(p, "{}").unwrap();
        }
        let two_days = SystemTime::now() - Duration::from_secs(2 * 24 * 3600);
        for p in [&old, &other] {
            std::fs::File::options()
                .write(true)
                .open(p)
                .unwrap()
                .set_modified(two_days)
                .unwrap();
        }
        let answers = Answers::open(
            &dir.path().join("answers-now.json"),
            Duration::from_secs(60),
        )
        .unwrap();
        answers.save().unwrap();
        assert!(!old.exists());
        assert!(young.exists() && other.exists());
    }
}
