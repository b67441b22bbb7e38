//! The render cache: content-addressed renders on disk, outside the repository under check.
//!
//! A cell's [`CacheKey`] is a SHA-256 over everything that decides what `helm template` prints for
//! it: every file of its chart folder (raw path bytes, kind and content, vendored dependencies
//! included), each present values file of its stack (path and content, in order), the helm
//! arguments that matter (release, namespace, kube version, API versions, `--include-crds`), the
//! helm version, the bounds the render had to finish within (timeout, output and memory limits)
//! and the cache format; every variable-length field is length-prefixed. Chart folders and values
//! files are hashed once per run, however many cells share them ([`cell_keys`]). A chart whose
//! templates can render differently from the same files (the clock, randomness, `tpl`: see
//! [`crate::volatile`]) gets a key that is not [reusable](CacheKey::reusable): it is never stored
//! nor served.
//!
//! An entry holds the rendered stream (or helm's own refusal: a chart that fails the same way
//! every time). Timeouts, oversized output, sandbox problems and helm crashes are never stored.
//! Entries are written to a temporary file in the same folder and renamed into place, so a
//! concurrent reader sees the old entry, the new one, or none, never half of one. Each entry
//! carries its key and a checksum of its content: a corrupt or foreign entry is ignored (and
//! overwritten by the next render), and so is one larger than the run's output limit. Nothing in
//! the folder is read, written or removed through a symbolic link, and a folder holding one is
//! refused when it is opened. [`RenderCache::trim`] keeps the folder under its size bound by
//! removing the least recently used entries.

use crate::volatile::{Scanner, Volatile, MAX_SCANNED_FILE_BYTES};
use crate::{RenderFailure, RenderOptions, Rendered};
use imagegate_fleet::{Cell, Repo};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

/// Version of the key derivation and of the entry layout; bumping it orphans old entries.
pub const CACHE_FORMAT: u32 = 1;
/// Default size bound of the cache folder: 1 GiB.
pub const DEFAULT_MAX_BYTES: u64 = 1 << 30;
/// Most bytes hashed in one chart folder; a larger chart renders uncached.
const MAX_HASHED_BYTES: u64 = 1 << 30;
/// Largest entry we read back.
const MAX_ENTRY_BYTES: u64 = 512 * 1024 * 1024;
/// Temporary files older than this are leftovers of a crashed run.
const STALE_TEMP: Duration = Duration::from_secs(3600);
const MAGIC: &[u8; 8] = b"IGRCACHE";
/// magic, format, key, kind, three lengths, checksum.
const HEADER_LEN: usize = 8 + 4 + 32 + 1 + 3 * 8 + 32;

/// The content address of one cell's render.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CacheKey {
    hash: [u8; 32],
    /// False when the chart's templates can render differently from the same inputs (they call
    /// the clock, a random source or `tpl`): such a render is never stored nor served.
    reusable: bool,
}

impl CacheKey {
    /// The key as 64 lowercase hex digits.
    pub fn hex(&self) -> String {
        hex::encode(self.hash)
    }

    /// Whether a render under this key may be stored and served again. Two cells with equal
    /// keys still have the same inputs, reusable or not.
    pub fn reusable(&self) -> bool {
        self.reusable
    }

    /// The key of `variant`, a render of the cell this is the key of with only its values
    /// rewritten: its [`Cell::value_texts`], inline values and parameters replace the values
    /// files' and parameters' part of this key (the chart, helm and the bounds stay this
    /// key's). A marker render's key, without hashing the chart again.
    pub fn variant(&self, variant: &Cell) -> CacheKey {
        let mut h = Sha256::new();
        field(&mut h, b"imagegate-render-variant");
        h.update(self.hash);
        hash_texts(&mut h, variant);
        for p in &variant.parameters {
            field(&mut h, p.flag().as_bytes());
            field(&mut h, p.name.as_bytes());
            field(&mut h, p.value.as_bytes());
        }
        CacheKey {
            hash: h.finalize().into(),
            reusable: self.reusable,
        }
    }
}

/// A cell's values given as text ([`Cell::value_texts`], inline values), counted and
/// length-prefixed.
fn hash_texts(h: &mut Sha256, cell: &Cell) {
    h.update((cell.value_texts.len() as u64).to_le_bytes());
    for t in &cell.value_texts {
        field(h, t.as_bytes());
    }
    match &cell.inline_values {
        Some(inline) => {
            h.update([1]);
            field(h, inline.text.as_bytes());
        }
        None => h.update([0]),
    }
    h.update((cell.parameters.len() as u64).to_le_bytes());
}

/// Why the cache folder could not be used.
#[derive(Debug, thiserror::Error)]
#[error("render cache {}: {message}", path.display())]
pub struct CacheError {
    /// The file or folder concerned.
    pub path: PathBuf,
    /// What went wrong.
    pub message: String,
    /// Where `path` leads, when the problem is that it is a symbolic link: imagegate never
    /// creates one in its cache, so a link is a sign of tampering (it could lead into the
    /// repository under check, which could then forge entries), not an inconvenience.
    pub link: Option<PathBuf>,
}

impl CacheError {
    fn new(path: &Path, message: impl std::fmt::Display) -> Self {
        Self {
            path: path.to_path_buf(),
            message: message.to_string(),
            link: None,
        }
    }

    fn link(path: &Path) -> Self {
        let target = std::fs::read_link(path).unwrap_or_default();
        Self {
            path: path.to_path_buf(),
            message: format!(
                "is a symbolic link (to {}); imagegate never creates links in its cache, and an \
                 entry read or written through one could be anywhere, such as in the repository \
                 under check",
                target.display()
            ),
            link: Some(target),
        }
    }
}

/// Refuses `path` if it is a symbolic link (it need not exist).
fn no_link(path: &Path) -> Result<Option<std::fs::Metadata>, CacheError> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => Err(CacheError::link(path)),
        Ok(m) => Ok(Some(m)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(CacheError::new(path, e)),
    }
}

/// Refuses a cache folder in which anything imagegate would read, write or remove is a symbolic
/// link: the tag file, the format folder, a fan-out folder or an entry. Nothing is followed.
fn refuse_links(dir: &Path, root: &Path) -> Result<(), CacheError> {
    no_link(&dir.join("CACHEDIR.TAG"))?;
    if no_link(root)?.is_none() {
        return Ok(());
    }
    let fans = std::fs::read_dir(root).map_err(|e| CacheError::new(root, e))?;
    for fan in fans {
        let fan = fan.map_err(|e| CacheError::new(root, e))?;
        let kind = fan
            .file_type()
            .map_err(|e| CacheError::new(&fan.path(), e))?;
        if kind.is_symlink() {
            return Err(CacheError::link(&fan.path()));
        }
        if !kind.is_dir() {
            continue;
        }
        let files = std::fs::read_dir(fan.path()).map_err(|e| CacheError::new(&fan.path(), e))?;
        for file in files {
            let file = file.map_err(|e| CacheError::new(&fan.path(), e))?;
            let kind = file
                .file_type()
                .map_err(|e| CacheError::new(&file.path(), e))?;
            if kind.is_symlink() {
                return Err(CacheError::link(&file.path()));
            }
        }
    }
    Ok(())
}

/// What [`RenderCache::trim`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TrimStats {
    /// Entries left.
    pub entries: usize,
    /// Bytes left.
    pub bytes: u64,
    /// Entries (and stale temporary files) removed.
    pub removed: usize,
}

/// A render cache folder.
#[derive(Debug)]
pub struct RenderCache {
    /// `<dir>/v<format>`: entries live under two-hex-digit fan-out folders.
    root: PathBuf,
    max_bytes: u64,
    hits: AtomicUsize,
    write_errors: AtomicUsize,
    first_write_error: Mutex<Option<String>>,
    /// Fan-out folders this cache has made (or found) and checked: a `put` into one only
    /// checks it is not a link since, instead of making it again.
    ready: Mutex<std::collections::HashSet<PathBuf>>,
}

impl RenderCache {
    /// The default folder: `$XDG_CACHE_HOME/imagegate`, else `$HOME/.cache/imagegate`.
    pub fn default_dir() -> Option<PathBuf> {
        let non_empty = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
        if let Some(x) = non_empty("XDG_CACHE_HOME").map(PathBuf::from) {
            if x.is_absolute() {
                return Some(x.join("imagegate"));
            }
        }
        non_empty("HOME").map(|h| PathBuf::from(h).join(".cache").join("imagegate"))
    }

    /// Opens (creating it if needed) the cache in `dir`, bounded to `max_bytes`. A cache folder
    /// in which the tag file, the format folder, a fan-out folder or an entry is a symbolic link
    /// is refused before anything is created or written (the error's `link` says where it
    /// leads).
    pub fn open(dir: &Path, max_bytes: u64) -> Result<Self, CacheError> {
        let root = dir.join(format!("v{CACHE_FORMAT}"));
        refuse_links(dir, &root)?;
        std::fs::create_dir_all(&root).map_err(|e| CacheError::new(dir, e))?;
        // Backup and indexing tools skip folders tagged this way. `create_new` never follows a
        // link that appeared since the check.
        let tag = dir.join("CACHEDIR.TAG");
        if let Ok(mut f) = std::fs::File::options()
            .write(true)
            .create_new(true)
            .open(&tag)
        {
            let _ = f.write_all(
                b"Signature: 8a477f597d28d172789f06886806bc55\n# imagegate render cache; safe to delete.\n",
            );
        }
        let probe = tempfile::Builder::new()
            .prefix(".tmp-probe-")
            .tempfile_in(&root)
            .map_err(|e| CacheError::new(&root, format!("not writable: {e}")))?;
        drop(probe);
        Ok(Self {
            root,
            max_bytes,
            hits: AtomicUsize::new(0),
            write_errors: AtomicUsize::new(0),
            first_write_error: Mutex::new(None),
            ready: Mutex::default(),
        })
    }

    /// The folder entries are stored in.
    pub fn dir(&self) -> &Path {
        &self.root
    }

    /// Cells served from the cache so far.
    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::Relaxed)
    }

    /// Entries that could not be written so far, and the first reason.
    pub fn write_errors(&self) -> (usize, Option<String>) {
        let first = self
            .first_write_error
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        (self.write_errors.load(Ordering::Relaxed), first)
    }

    fn path_of(&self, key: &CacheKey) -> PathBuf {
        let hex = key.hex();
        self.root.join(&hex[..2]).join(hex)
    }

    /// The stored render of `key`, if there is a sound one that a fresh render under today's
    /// bounds could have produced: a corrupt, truncated or foreign entry, one whose output is
    /// larger than `max_stdout` (the run's `limits.maxRenderedMib`), one reached through a
    /// symbolic link, and any entry of a key that is not [reusable](CacheKey::reusable) are
    /// treated as absent, so the cell renders afresh.
    pub fn get(
        &self,
        key: &CacheKey,
        max_stdout: usize,
    ) -> Option<Result<Rendered, RenderFailure>> {
        use std::io::Read;
        use std::os::unix::fs::OpenOptionsExt;
        if !key.reusable {
            return None;
        }
        let path = self.path_of(key);
        // Never through a link: neither the fan-out folder nor the entry may be one.
        let fan = std::fs::symlink_metadata(path.parent()?).ok()?;
        let meta = std::fs::symlink_metadata(&path).ok()?;
        // helm's stderr is bounded at 1 MiB; a failure's message and hint are smaller still.
        let bound = (max_stdout as u64)
            .saturating_add(HEADER_LEN as u64 + (4 << 20))
            .min(MAX_ENTRY_BYTES);
        if !fan.is_dir() || !meta.is_file() || meta.len() > bound {
            return None;
        }
        let mut file = std::fs::File::options()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&path)
            .ok()?;
        let mut bytes = Vec::new();
        (&mut file).take(bound + 1).read_to_end(&mut bytes).ok()?;
        let entry = decode(key, &bytes)?;
        if matches!(&entry, Ok(r) if r.stdout.len() > max_stdout) {
            return None;
        }
        // Least recently *used*: a hit refreshes the entry's time for trim.
        let _ = file.set_modified(SystemTime::now());
        self.hits.fetch_add(1, Ordering::Relaxed);
        Some(entry)
    }

    /// Stores `result` under `key`, atomically, unless the key is not
    /// [reusable](CacheKey::reusable). Errors are counted (see [`RenderCache::write_errors`])
    /// rather than returned: the cache is an optimisation and never fails a run.
    pub fn put(&self, key: &CacheKey, result: &Result<Rendered, RenderFailure>) {
        if !key.reusable {
            return;
        }
        if let Err(e) = self.try_put(key, result) {
            self.write_errors.fetch_add(1, Ordering::Relaxed);
            let mut first = self
                .first_write_error
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            first.get_or_insert_with(|| e.to_string());
        }
    }

    fn try_put(
        &self,
        key: &CacheKey,
        result: &Result<Rendered, RenderFailure>,
    ) -> Result<(), CacheError> {
        let path = self.path_of(key);
        let dir = path.parent().unwrap_or(&self.root);
        let ready = |dir: &Path| -> Result<(), CacheError> {
            no_link(dir)?;
            std::fs::create_dir_all(dir).map_err(|e| CacheError::new(dir, e))?;
            // Created just now or earlier: either way never written through a link.
            no_link(dir)?;
            let mut known = self.ready.lock().unwrap_or_else(|e| e.into_inner());
            known.insert(dir.to_path_buf());
            Ok(())
        };
        // A folder made sure of before is looked at again (never written through a link made
        // since), but not made again.
        let known = (self.ready.lock().unwrap_or_else(|e| e.into_inner())).contains(dir);
        if !known || no_link(dir)?.is_none() {
            ready(dir)?;
        }
        let mut tmp = tempfile::Builder::new()
            .prefix(".tmp-")
            .tempfile_in(dir)
            .map_err(|e| CacheError::new(dir, e))?;
        let bytes = encode(key, result);
        tmp.write_all(&bytes)
            .map_err(|e| CacheError::new(tmp.path(), e))?;
        // A rename replaces a link at `path` itself; it never writes where the link leads.
        tmp.persist(&path)
            .map_err(|e| CacheError::new(&path, e.error))?;
        Ok(())
    }

    /// Brings the folder under its size bound: removes stale temporary files, then the least
    /// recently used entries until at most 90% of the bound is used. Safe while other runs read
    /// and write (a removed entry is just a miss for them).
    pub fn trim(&self) -> Result<TrimStats, CacheError> {
        let mut entries: Vec<(SystemTime, u64, PathBuf)> = Vec::new();
        let mut stats = TrimStats::default();
        let now = SystemTime::now();
        let fans = std::fs::read_dir(&self.root).map_err(|e| CacheError::new(&self.root, e))?;
        for fan in fans.flatten() {
            // A link is never walked: trim removes files only in the cache's own folders.
            if !fan.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            let Ok(files) = std::fs::read_dir(fan.path()) else {
                continue;
            };
            for file in files.flatten() {
                // Not followed: a link is not a file here.
                let Ok(meta) = file.metadata() else { continue };
                if !meta.is_file() {
                    continue;
                }
                let mtime = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
                if file.file_name().to_string_lossy().starts_with(".tmp-") {
                    let age = now.duration_since(mtime).unwrap_or_default();
                    if age > STALE_TEMP && std::fs::remove_file(file.path()).is_ok() {
                        stats.removed += 1;
                    }
                    continue;
                }
                entries.push((mtime, meta.len(), file.path()));
            }
        }
        let mut total: u64 = entries.iter().map(|e| e.1).sum();
        if total > self.max_bytes {
            let target = self.max_bytes / 10 * 9;
            entries.sort();
            let mut kept = Vec::new();
            for (mtime, len, path) in entries {
                if total > target {
                    match std::fs::remove_file(&path) {
                        Ok(()) => {
                            total -= len;
                            stats.removed += 1;
                            continue;
                        }
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                            total -= len;
                            continue;
                        }
                        Err(_) => {}
                    }
                }
                kept.push((mtime, len, path));
            }
            entries = kept;
        }
        stats.entries = entries.len();
        stats.bytes = total;
        Ok(stats)
    }
}

fn encode(key: &CacheKey, result: &Result<Rendered, RenderFailure>) -> Vec<u8> {
    let (kind, a, b, c): (u8, &[u8], &[u8], &[u8]) = match result {
        Ok(r) => (1, r.stdout.as_bytes(), r.stderr.as_bytes(), b""),
        Err(f) => match &f.hint {
            None => (2, f.message.as_bytes(), b"", b""),
            Some(h) => (3, f.message.as_bytes(), h.as_bytes(), b""),
        },
    };
    let mut out = Vec::with_capacity(HEADER_LEN + a.len() + b.len() + c.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&CACHE_FORMAT.to_le_bytes());
    out.extend_from_slice(&key.hash);
    out.push(kind);
    for part in [a, b, c] {
        out.extend_from_slice(&(part.len() as u64).to_le_bytes());
    }
    let sum = checksum(&out, &[a, b, c]);
    out.extend_from_slice(&sum);
    for part in [a, b, c] {
        out.extend_from_slice(part);
    }
    out
}

fn checksum(head: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(head);
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

fn decode(key: &CacheKey, bytes: &[u8]) -> Option<Result<Rendered, RenderFailure>> {
    if bytes.len() < HEADER_LEN || &bytes[..8] != MAGIC {
        return None;
    }
    let format = u32::from_le_bytes(bytes[8..12].try_into().ok()?);
    if format != CACHE_FORMAT || bytes[12..44] != key.hash {
        return None;
    }
    let kind = bytes[44];
    let len = |at: usize| -> Option<usize> {
        usize::try_from(u64::from_le_bytes(bytes[at..at + 8].try_into().ok()?)).ok()
    };
    let (la, lb, lc) = (len(45)?, len(53)?, len(61)?);
    let body = &bytes[HEADER_LEN..];
    if la.checked_add(lb)?.checked_add(lc)? != body.len() {
        return None;
    }
    let (a, rest) = body.split_at(la);
    let (b, c) = rest.split_at(lb);
    if checksum(&bytes[..69], &[a, b, c])[..] != bytes[69..HEADER_LEN] {
        return None;
    }
    let text = |p: &[u8]| String::from_utf8(p.to_vec()).ok();
    match kind {
        1 => Some(Ok(Rendered {
            stdout: text(a)?,
            stderr: text(b)?,
            elapsed: Duration::ZERO,
        })),
        2 | 3 => Some(Err(RenderFailure {
            message: text(a)?,
            hint: if kind == 3 { Some(text(b)?) } else { None },
            exceeded: None,
        })),
        _ => None,
    }
}

/// Hashes `s` with its length, so that adjacent fields can never run into each other.
fn field(h: &mut Sha256, s: &[u8]) {
    h.update((s.len() as u64).to_le_bytes());
    h.update(s);
}

fn file_digest(path: &Path) -> Result<[u8; 32], String> {
    let mut f = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut h = Sha256::new();
    std::io::copy(&mut f, &mut h).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(h.finalize().into())
}

/// What the files of a chart folder decide about its renders.
struct ChartInputs {
    digest: [u8; 32],
    /// Why a render of the chart may differ from one run to the next (see [`crate::volatile`]).
    volatile: Option<Volatile>,
}

/// SHA-256 over every file of a chart folder (relative path as raw bytes, kind and content
/// digest, in sorted order), walked as [`crate::chart`] walks it for helm. A chart that walk
/// refuses (a link out of the repository or into its git folder, a loop), an unreadable file or
/// a folder over the size bounds has no digest (the error says why), so its cells have no key.
pub fn chart_digest(repo: &Repo, chart_rel: &str) -> Result<[u8; 32], String> {
    chart_inputs(repo, chart_rel, false).map(|c| c.digest)
}

/// [`chart_digest`], and with `scan` whether the chart's templates call anything that makes a
/// render differ over time ([`crate::volatile`]).
fn chart_inputs(repo: &Repo, chart_rel: &str, scan: bool) -> Result<ChartInputs, String> {
    let chart = match repo.resolve(chart_rel) {
        Ok(Some(p)) => p,
        Ok(None) => return Err(format!("chart folder {chart_rel} does not exist")),
        Err(m) => return Err(m),
    };
    let mut h = Sha256::new();
    let mut scanner = Scanner::default();
    let mut bytes: u64 = 0;
    crate::chart::walk(repo, chart_rel, &chart, |entry, rel| {
        // The raw bytes of the name: two names that differ only in bytes that are not UTF-8
        // are two different files to helm, so they are two different keys.
        let kind: &[u8] = if entry.file_type().is_dir() {
            b"d"
        } else if entry.file_type().is_file() {
            b"f"
        } else {
            b"o"
        };
        field(&mut h, kind);
        h.update([u8::from(entry.path_is_symlink())]);
        field(&mut h, rel.as_os_str().as_bytes());
        if !entry.file_type().is_file() {
            return Ok(());
        }
        let len = entry.metadata().map(|m| m.len()).unwrap_or(0);
        bytes += len;
        if bytes > MAX_HASHED_BYTES {
            return Err(format!(
                "chart {chart_rel} is larger than {} MiB",
                MAX_HASHED_BYTES >> 20
            ));
        }
        let shown = || format!("{chart_rel}/{}", rel.display());
        if !scan || scanner.found() {
            h.update(file_digest(entry.path())?);
        } else if len > MAX_SCANNED_FILE_BYTES {
            scanner.give_up(format!(
                "{} is larger than {} MiB, which is not scanned",
                shown(),
                MAX_SCANNED_FILE_BYTES >> 20
            ));
            h.update(file_digest(entry.path())?);
        } else {
            let content = read_bounded(entry.path(), MAX_SCANNED_FILE_BYTES)?;
            h.update(Sha256::digest(&content));
            scanner.file(&shown(), &content);
        }
        Ok(())
    })
    .map_err(crate::chart::Stop::message)?;
    Ok(ChartInputs {
        digest: h.finalize().into(),
        volatile: scanner.finish(),
    })
}

/// The whole file, refusing one that grew past `max` since it was measured.
fn read_bounded(path: &Path, max: u64) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let f = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut out = Vec::new();
    f.take(max + 1)
        .read_to_end(&mut out)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    if out.len() as u64 > max {
        return Err(format!("{} changed while it was read", path.display()));
    }
    Ok(out)
}

/// SHA-256 of one values file of the repository.
fn values_digest(repo: &Repo, rel: &str) -> Result<[u8; 32], String> {
    match repo.resolve(rel) {
        Ok(Some(p)) => file_digest(&p),
        Ok(None) => Err(format!("values file {rel} does not exist")),
        Err(m) => Err(m),
    }
}

/// The repository files an Argo CD cell's `--set-file` parameters read.
fn set_files(cell: &Cell) -> impl Iterator<Item = &str> {
    cell.parameters
        .iter()
        .filter(|p| p.kind == imagegate_fleet::ParameterKind::SetFile)
        .map(|p| p.value.as_str())
}

/// One input file or folder to hash.
#[derive(Clone, PartialEq, Eq, Hash)]
enum Input {
    Chart(String),
    Values(String),
}

/// The cache key of every cell (same order), hashing each distinct chart folder and values file
/// once, on up to `opts.jobs` threads. A cell that cannot have a key (it has configuration
/// problems, its chart links outside the repository, a file is unreadable) gets the reason
/// instead: it renders uncached, and the render reports the actual problem. The bounds of `opts`
/// (timeout, output and memory limits) are part of every key: a render is only ever reused by a
/// run that would have let it finish. A chart whose templates can render differently from the
/// same files ([`crate::volatile`]) gets a key that is not [reusable](CacheKey::reusable).
pub fn cell_keys(
    repo: &Repo,
    cells: &[Cell],
    helm_version: &str,
    opts: &RenderOptions,
) -> Vec<Result<CacheKey, String>> {
    let mut inputs: Vec<Input> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for cell in cells.iter().filter(|c| c.problems.is_empty()) {
        let wanted = std::iter::once(Input::Chart(cell.chart.clone()))
            .chain(cell.present_value_files().map(|v| Input::Values(v.into())))
            .chain(set_files(cell).map(|v| Input::Values(v.into())));
        for input in wanted {
            if seen.insert(input.clone()) {
                inputs.push(input);
            }
        }
    }
    let digests = hash_inputs(repo, &inputs, opts.jobs);
    cells
        .iter()
        .map(|cell| cell_key(cell, helm_version, opts, &digests))
        .collect()
}

/// An input's digest, and whether renders that read it are volatile.
type Digested = Result<([u8; 32], bool), String>;

fn hash_inputs(repo: &Repo, inputs: &[Input], jobs: usize) -> HashMap<Input, Digested> {
    crate::pool::ordered(
        inputs.len(),
        jobs,
        || (),
        |_, i| {
            let input = &inputs[i];
            let d = match input {
                Input::Chart(c) => {
                    chart_inputs(repo, c, true).map(|c| (c.digest, c.volatile.is_some()))
                }
                Input::Values(v) => values_digest(repo, v).map(|d| (d, false)),
            };
            (input.clone(), d)
        },
    )
    .into_iter()
    .collect()
}

fn cell_key(
    cell: &Cell,
    helm_version: &str,
    opts: &RenderOptions,
    digests: &HashMap<Input, Digested>,
) -> Result<CacheKey, String> {
    if let Some(p) = cell.problems.first() {
        return Err(p.clone());
    }
    let digest = |input: Input| -> Digested {
        digests
            .get(&input)
            .cloned()
            .unwrap_or_else(|| Err("input was not hashed".into()))
    };
    let mut h = Sha256::new();
    field(&mut h, b"imagegate-render-cache");
    h.update(CACHE_FORMAT.to_le_bytes());
    field(&mut h, helm_version.as_bytes());
    field(&mut h, cell.chart.as_bytes());
    let (chart, volatile) = digest(Input::Chart(cell.chart.clone()))?;
    h.update(chart);
    let values: Vec<&str> = cell.present_value_files().collect();
    h.update((values.len() as u64).to_le_bytes());
    for v in values {
        field(&mut h, v.as_bytes());
        h.update(digest(Input::Values(v.to_string()))?.0);
    }
    // Values given as text, only when there are any, so every other cell's key stays what it
    // was.
    if !cell.value_texts.is_empty() {
        field(&mut h, b"value-texts");
        h.update((cell.value_texts.len() as u64).to_le_bytes());
        for t in &cell.value_texts {
            field(&mut h, t.as_bytes());
        }
    }
    // An Argo CD cell's inline values and parameters (and the files `--set-file` reads), only
    // when it has any, so the keys of every other cell stay what they were.
    if cell.inline_values.is_some() || !cell.parameters.is_empty() {
        field(&mut h, b"argocd-helm-inputs");
        match &cell.inline_values {
            Some(inline) => {
                h.update([1]);
                field(&mut h, inline.text.as_bytes());
            }
            None => h.update([0]),
        }
        h.update((cell.parameters.len() as u64).to_le_bytes());
        for p in &cell.parameters {
            field(&mut h, p.flag().as_bytes());
            field(&mut h, p.name.as_bytes());
            field(&mut h, p.value.as_bytes());
            if p.kind == imagegate_fleet::ParameterKind::SetFile {
                h.update(digest(Input::Values(p.value.clone()))?.0);
            }
        }
    }
    field(&mut h, cell.release.as_bytes());
    field(&mut h, cell.namespace.as_bytes());
    field(&mut h, cell.kube_version.as_bytes());
    h.update((cell.api_versions.len() as u64).to_le_bytes());
    for a in &cell.api_versions {
        field(&mut h, a.as_bytes());
    }
    h.update([u8::from(cell.include_crds)]);
    h.update([
        u8::from(cell.skip_tests),
        u8::from(cell.skip_schema_validation),
    ]);
    // The bounds a render had to finish within.
    h.update(opts.timeout.as_secs().to_le_bytes());
    h.update(opts.timeout.subsec_nanos().to_le_bytes());
    h.update((opts.max_output_bytes as u64).to_le_bytes());
    match opts.max_memory_bytes {
        Some(m) => {
            h.update([1]);
            h.update(m.to_le_bytes());
        }
        None => h.update([0]),
    }
    Ok(CacheKey {
        hash: h.finalize().into(),
        reusable: !volatile,
    })
}

#[cfg(test)]
#[path = "cache_tests.rs"]
mod tests;
