//! Shared helpers of the CLI integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The workspace root (the CLI is its root package).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

/// The helm the suite runs against: `IMAGEGATE_TEST_HELM` (set by `cargo xtask test`), else the
/// Helm 3 that `cargo xtask helm` installs. Missing helm fails the test loudly: it never skips.
pub fn helm() -> PathBuf {
    if let Some(p) = std::env::var_os("IMAGEGATE_TEST_HELM") {
        let p = PathBuf::from(p);
        assert!(
            p.is_file(),
            "IMAGEGATE_TEST_HELM={} does not exist",
            p.display()
        );
        return p;
    }
    let p = root().join("target/tools/helm-3.17.3/helm");
    assert!(p.is_file(), "no helm for the integration tests: run `cargo xtask helm` (or `cargo xtask test`), or set IMAGEGATE_TEST_HELM");
    p
}

/// `imagegate ARGS` with the test helm, a fixed date, no colour. Every JSON document the run
/// writes (on stdout, to an `--output` file, into an `--out` folder) is checked against its
/// schema in docs/schemas/ (see [`assert_schema_valid`]).
pub fn imagegate(args: &[&str], cwd: &Path) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_imagegate"))
        .args(args)
        .current_dir(cwd)
        .env("IMAGEGATE_HELM", helm())
        .env("IMAGEGATE_TODAY", "2026-11-23")
        .env("NO_COLOR", "1")
        // Never the user's cache: one private, initially empty cache per test process.
        .env("IMAGEGATE_CACHE_DIR", cache_dir())
        // Each command its own run: no registry answers shared through the cache folder.
        .env_remove("IMAGEGATE_RUN_ID")
        .env_remove("GITHUB_RUN_ID")
        .env_remove("CI_PIPELINE_ID")
        .output()
        .expect("imagegate runs");
    check_written_documents(args, cwd, &out);
    out
}

/// `imagegate ARGS` for a command that must work without helm (`init`, `completions`): no helm
/// is located or offered, no colour; written documents are checked as [`imagegate`] does.
pub fn imagegate_without_helm(args: &[&str], cwd: &Path) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_imagegate"))
        .args(args)
        .current_dir(cwd)
        .env("NO_COLOR", "1")
        .env_remove("IMAGEGATE_HELM")
        .output()
        .expect("imagegate runs");
    check_written_documents(args, cwd, &out);
    out
}

/// Validates the imagegate JSON documents a run wrote: stdout, every `--output` file, every
/// `.json` file of an `--out` folder.
fn check_written_documents(args: &[&str], cwd: &Path, out: &Output) {
    if let Ok(doc) = serde_json::from_slice::<serde_json::Value>(&out.stdout) {
        assert_schema_valid(&doc, "stdout");
    }
    let mut files: Vec<PathBuf> = Vec::new();
    for pair in args.windows(2) {
        match pair[0] {
            "--output" | "-o" => {
                let path = pair[1].split_once('=').map_or(pair[1], |(_, p)| p);
                files.push(cwd.join(path));
            }
            "--out" => {
                if let Ok(entries) = std::fs::read_dir(cwd.join(pair[1])) {
                    files.extend(entries.flatten().map(|e| e.path()));
                }
            }
            _ => {}
        }
    }
    for file in files
        .iter()
        .filter(|f| f.extension().is_some_and(|e| e == "json"))
    {
        let Ok(text) = std::fs::read_to_string(file) else {
            continue;
        };
        if let Ok(doc) = serde_json::from_str::<serde_json::Value>(&text) {
            assert_schema_valid(&doc, &file.display().to_string());
        }
    }
}

/// Panics unless `doc` (an imagegate document, by its `schema` key) validates against the
/// checked-in schema of its kind; documents of no imagegate schema are left alone.
pub fn assert_schema_valid(doc: &serde_json::Value, what: &str) {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};
    let Some(id) = doc["schema"]
        .as_str()
        .filter(|s| s.starts_with("imagegate/"))
    else {
        return;
    };
    let kind = id
        .strip_prefix("imagegate/")
        .and_then(|k| k.split('/').next())
        .unwrap_or_default();
    static SCHEMAS: OnceLock<Mutex<HashMap<String, serde_json::Value>>> = OnceLock::new();
    let schema = SCHEMAS
        .get_or_init(Default::default)
        .lock()
        .unwrap()
        .entry(kind.to_string())
        .or_insert_with(|| {
            let path = root().join(format!("docs/schemas/{kind}.schema.json"));
            let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
                panic!("{what}: no schema for `{id}` ({}: {e})", path.display())
            });
            serde_json::from_str(&text).unwrap()
        })
        .clone();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(doc)
        .take(10)
        .map(|e| format!("{e} at {}", e.instance_path))
        .collect();
    assert!(
        errors.is_empty(),
        "{what}: `{id}` does not match docs/schemas/{kind}.schema.json: {errors:#?}"
    );
}

/// This test process's render cache folder (removed with the process's temp folder).
pub fn cache_dir() -> &'static Path {
    static DIR: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().expect("a temporary cache folder"))
        .path()
}

/// Writes `files` (path, content) under a fresh temporary folder.
pub fn tree(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (path, text) in files {
        let p = dir.path().join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    dir
}

/// How many cells of a JSON report have `status` (`rendered`, `cached`, `failed`).
pub fn cells_with_status(report: &serde_json::Value, status: &str) -> usize {
    report["cells"].as_array().map_or(0, |cells| {
        cells.iter().filter(|c| c["status"] == status).count()
    })
}

/// Stdout as UTF-8.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Stderr as UTF-8.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Copies the folder `from` into `to` (created), recursively; symlinks are copied as symlinks.
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        let kind = entry.file_type().unwrap();
        if kind.is_dir() {
            copy_tree(&entry.path(), &target);
        } else if kind.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(entry.path()).unwrap(), &target).unwrap();
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// `git ARGS` in `dir` with a fixed identity, no signing, `main` as the first branch and no
/// system or global configuration; panics with git's message when it fails. Returns stdout.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = git_command(dir).args(args).output().expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The `git` command [`git`] runs, for callers that pass other arguments (a bad-input case's).
pub fn git_command(dir: &Path) -> Command {
    let mut cmd = Command::new("git");
    cmd.args([
        "-c",
        "user.name=imagegate tests",
        "-c",
        "user.email=tests@imagegate.invalid",
        "-c",
        "commit.gpgsign=false",
        "-c",
        "init.defaultBranch=main",
    ])
    .current_dir(dir)
    .env("GIT_CONFIG_NOSYSTEM", "1")
    .env("GIT_CONFIG_GLOBAL", "/dev/null");
    cmd
}

/// A gzipped tar archive of `files` (path inside the archive, text), as `helm package` makes a
/// vendored `charts/*.tgz`.
pub fn tgz(files: &[(&str, &str)]) -> Vec<u8> {
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

/// Every file under `dir` (`.git` aside), by relative path.
pub fn snapshot(dir: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    let mut out = std::collections::BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let p = e.path();
            if e.file_name() == ".git" {
                continue;
            }
            if e.file_type().unwrap().is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(dir).unwrap().display().to_string();
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

/// The paths whose bytes differ (or that exist on one side only).
pub fn changed(
    a: &std::collections::BTreeMap<String, Vec<u8>>,
    b: &std::collections::BTreeMap<String, Vec<u8>>,
) -> Vec<String> {
    let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter(|k| a.get(*k) != b.get(*k))
        .cloned()
        .collect()
}

/// The run exited with `code`; otherwise fail showing what it printed.
pub fn assert_exit(out: &std::process::Output, code: i32) {
    assert_eq!(
        out.status.code(),
        Some(code),
        "{}{}",
        stdout(out),
        stderr(out)
    );
}
