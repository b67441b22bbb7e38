//! The bad-input corpus: every folder of `tests/bad-input/` is one hostile or broken input, run
//! through the real binary with real helm. Adding a case is adding files, never code.
//!
//! A case folder holds `repo/` (copied to a fresh temporary folder, which becomes the working
//! directory) and `expected`, one `key: value` per line (`#` starts a comment; `\xNN` in a value is
//! that byte, `\\` a backslash):
//!
//! - `args:` the command line (default `check --format json --no-progress`);
//! - `exit:` the exact exit status;
//! - `stderr:`, `stdout:` a substring that must appear (repeatable); `stdout-lacks:`,
//!   `stderr-lacks:` one that must not;
//! - `rules:` the exact rule ids of the JSON report's findings, sorted, space separated (`none`);
//! - `symlink: LINK -> TARGET` made before the run (`@outside` is a folder outside the repository
//!   holding `secret.txt` and `dir/leak.yaml`);
//! - `generate: PATH MIB KIND` appends MIB MiB to PATH: `configmap` (one document with one huge
//!   string), `comment` (comment lines);
//! - `write: PATH = TEXT` writes TEXT (escapes as above, `\x0a` is a newline) to PATH, made
//!   executable when it starts with `#!` (a `.git/config` with a token, a program the repository
//!   plants);
//! - `git: ARGS` runs git in the repository (with a fixed identity, no signing); the setup steps
//!   (`symlink`, `generate`, `write`, `git`) run in the order they are written;
//! - `cwd: PATH` runs imagegate in that folder of the repository (default its root);
//! - `absent: PATH` must not exist after the run (`@outside/…`: a marker a planted program writes);
//! - `env: NAME=VALUE` for imagegate (`@repo` is the repository folder; an empty VALUE removes
//!   the variable);
//! - `seconds:` the most the run may take (default 60).
//!
//! In every value, `@outside` and `@repo` are replaced by those folders. Every case also checks
//! that nothing in the repository changed and that no temporary folder was left behind.

mod common;
use common::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

#[derive(Default, Debug)]
struct Expected {
    args: Vec<String>,
    exit: Option<i32>,
    stderr: Vec<String>,
    stdout: Vec<String>,
    stdout_lacks: Vec<String>,
    stderr_lacks: Vec<String>,
    rules: Option<Vec<String>>,
    steps: Vec<Step>,
    cwd: Option<String>,
    absent: Vec<String>,
    env: Vec<(String, String)>,
    seconds: u64,
}

/// One setup step, run in order before imagegate.
#[derive(Debug)]
enum Step {
    Symlink(String, String),
    Generate(String, usize, String),
    Write(String, String),
    Git(Vec<String>),
}

/// `\xNN` is that byte and `\\` a backslash; everything else is taken literally.
fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.peek() {
            Some('\\') => {
                chars.next();
                out.push('\\');
            }
            Some('x') => {
                let mut probe = chars.clone();
                probe.next();
                let hex: String = probe.by_ref().take(2).collect();
                match u8::from_str_radix(&hex, 16) {
                    Ok(b) if hex.len() == 2 => {
                        out.push(b as char);
                        chars = probe;
                    }
                    _ => out.push('\\'),
                }
            }
            _ => out.push('\\'),
        }
    }
    out
}

fn parse_expected(text: &str) -> Result<Expected, String> {
    let mut e = Expected {
        args: ["check", "--format", "json", "--no-progress"]
            .map(String::from)
            .to_vec(),
        seconds: 60,
        ..Expected::default()
    };
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, value) = line
            .split_once(':')
            .ok_or(format!("line {}: no `key:`", n + 1))?;
        let value = unescape(value.trim());
        match key {
            "args" => e.args = value.split_whitespace().map(String::from).collect(),
            "exit" => e.exit = Some(value.parse().map_err(|_| format!("exit: {value}"))?),
            "stderr" => e.stderr.push(value),
            "stdout" => e.stdout.push(value),
            "stdout-lacks" => e.stdout_lacks.push(value),
            "stderr-lacks" => e.stderr_lacks.push(value),
            "rules" => {
                e.rules = Some(if value == "none" {
                    Vec::new()
                } else {
                    value.split_whitespace().map(String::from).collect()
                })
            }
            "symlink" => {
                let (l, t) = value.split_once(" -> ").ok_or("symlink: LINK -> TARGET")?;
                e.steps
                    .push(Step::Symlink(l.trim().into(), t.trim().into()));
            }
            "generate" => {
                let parts: Vec<&str> = value.split_whitespace().collect();
                let [path, mib, kind] = parts[..] else {
                    return Err("generate: PATH MIB KIND".into());
                };
                let mib = mib.parse().map_err(|_| format!("generate: {mib}"))?;
                e.steps.push(Step::Generate(path.into(), mib, kind.into()));
            }
            "write" => {
                let (p, t) = value.split_once(" = ").ok_or("write: PATH = TEXT")?;
                e.steps.push(Step::Write(p.trim().into(), t.into()));
            }
            "git" => e.steps.push(Step::Git(
                value.split_whitespace().map(String::from).collect(),
            )),
            "cwd" => e.cwd = Some(value),
            "absent" => e.absent.push(value),
            "env" => {
                let (k, v) = value.split_once('=').ok_or("env: NAME=VALUE")?;
                e.env.push((k.into(), v.into()));
            }
            "seconds" => e.seconds = value.parse().map_err(|_| format!("seconds: {value}"))?,
            other => return Err(format!("line {}: unknown key `{other}`", n + 1)),
        }
    }
    if e.exit.is_none() {
        return Err("no `exit:`".into());
    }
    Ok(e)
}

/// Every path under `dir` with its size (symlinks as their target), sorted.
fn listing(dir: &Path) -> BTreeMap<PathBuf, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in rd.flatten() {
            let p = entry.path();
            let meta = std::fs::symlink_metadata(&p).unwrap();
            let what = if meta.file_type().is_symlink() {
                format!("-> {}", std::fs::read_link(&p).unwrap().display())
            } else if meta.is_dir() {
                stack.push(p.clone());
                "dir".into()
            } else {
                format!("{} bytes", meta.len())
            };
            out.insert(p.strip_prefix(dir).unwrap().to_path_buf(), what);
        }
    }
    out
}

fn generate(path: &Path, mib: usize, kind: &str) {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    let bytes = mib * 1024 * 1024;
    match kind {
        "configmap" => {
            write!(
                f,
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: big}}\ndata:\n  big: "
            )
            .unwrap();
            let chunk = vec![b'x'; 1024 * 1024];
            for _ in 0..mib {
                f.write_all(&chunk).unwrap();
            }
            f.write_all(b"\n").unwrap();
        }
        "comment" => {
            let line = format!("# {}\n", "x".repeat(77));
            for _ in 0..bytes / line.len() + 1 {
                f.write_all(line.as_bytes()).unwrap();
            }
        }
        other => panic!("unknown generate kind {other}"),
    }
}

/// Runs one case; returns what did not match.
fn run_case(case: &Path) -> Vec<String> {
    let name = case.file_name().unwrap().to_string_lossy().into_owned();
    let text = std::fs::read_to_string(case.join("expected"))
        .unwrap_or_else(|e| panic!("{name}: cannot read expected: {e}"));
    let exp = parse_expected(&text).unwrap_or_else(|e| panic!("{name}/expected: {e}"));
    let work = tempfile::tempdir().unwrap();
    let repo = work.path().join("repo");
    let outside = work.path().join("outside");
    let tmp = work.path().join("tmp");
    std::fs::create_dir_all(outside.join("dir")).unwrap();
    std::fs::create_dir_all(&tmp).unwrap();
    std::fs::write(outside.join("secret.txt"), "TOP-SECRET-OUTSIDE\n").unwrap();
    std::fs::write(
        outside.join("dir/leak.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: leak}\ndata: {secret: TOP-SECRET-OUTSIDE}\n",
    )
    .unwrap();
    if case.join("repo").is_dir() {
        copy_tree(&case.join("repo"), &repo);
    } else {
        std::fs::create_dir_all(&repo).unwrap();
    }
    let at = |s: &str| {
        s.replace("@outside", &outside.to_string_lossy())
            .replace("@repo", &repo.to_string_lossy())
    };
    for step in &exp.steps {
        match step {
            Step::Symlink(link, target) => {
                let link = repo.join(link);
                std::fs::create_dir_all(link.parent().unwrap()).unwrap();
                std::os::unix::fs::symlink(at(target), link).unwrap();
            }
            Step::Generate(path, mib, kind) => {
                let p = repo.join(path);
                std::fs::create_dir_all(p.parent().unwrap()).unwrap();
                generate(&p, *mib, kind);
            }
            Step::Write(path, text) => {
                use std::os::unix::fs::PermissionsExt;
                let p = repo.join(path);
                std::fs::create_dir_all(p.parent().unwrap()).unwrap();
                let text = at(text);
                std::fs::write(&p, &text).unwrap();
                if text.starts_with("#!") {
                    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
                }
            }
            Step::Git(args) => {
                let out = git_command(&repo)
                    .args(args.iter().map(|a| at(a)))
                    .output()
                    .expect("git runs");
                assert!(
                    out.status.success(),
                    "{name}: git {args:?}: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
        }
    }
    let before = listing(&repo);
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_imagegate"));
    cmd.args(exp.args.iter().map(|a| at(a)))
        .current_dir(
            exp.cwd
                .as_deref()
                .map_or_else(|| repo.clone(), |c| repo.join(c)),
        )
        .env("IMAGEGATE_HELM", helm())
        .env("IMAGEGATE_TODAY", "2026-11-23")
        .env("NO_COLOR", "1")
        .env("TMPDIR", &tmp)
        .env_remove("IMAGEGATE_CACHE_DIR");
    for (k, v) in &exp.env {
        if v.is_empty() {
            cmd.env_remove(k);
        } else {
            cmd.env(k, at(v));
        }
    }
    let start = Instant::now();
    let out = cmd.output().expect("imagegate runs");
    let elapsed = start.elapsed();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    // Every configuration error class is also a snapshot of what a person sees: the
    // `file:line:col:` line, the hint, the marked source line and the fix.
    if (name.starts_with("config-") || name.starts_with("component-")) && !stderr.is_empty() {
        let shown = stderr
            .replace(&*work.path().to_string_lossy(), "[work]")
            .replace(&*std::env::temp_dir().to_string_lossy(), "[tmp]");
        insta::with_settings!({
            snapshot_path => "snapshots/config-errors",
            prepend_module_to_snapshot => false,
            omit_expression => true,
        }, {
            insta::assert_snapshot!(name.clone(), shown);
        });
    }
    let mut bad = Vec::new();
    if out.status.code() != exp.exit {
        bad.push(format!(
            "exit {:?}, expected {:?}",
            out.status.code(),
            exp.exit
        ));
    }
    for s in &exp.stderr {
        if !stderr.contains(s.as_str()) {
            bad.push(format!("stderr lacks {s:?}"));
        }
    }
    for s in &exp.stdout {
        if !stdout.contains(s.as_str()) {
            bad.push(format!("stdout lacks {s:?}"));
        }
    }
    for s in &exp.stdout_lacks {
        if stdout.contains(s.as_str()) {
            bad.push(format!("stdout contains {s:?}"));
        }
    }
    for s in &exp.stderr_lacks {
        if stderr.contains(s.as_str()) {
            bad.push(format!("stderr contains {s:?}"));
        }
    }
    if let Some(rules) = &exp.rules {
        match serde_json::from_str::<serde_json::Value>(&stdout) {
            Ok(report) => {
                assert_schema_valid(&report, &format!("{name} stdout"));
                let mut got: Vec<String> = report["findings"]
                    .as_array()
                    .map(|fs| {
                        fs.iter()
                            .map(|f| f["rule"].as_str().unwrap_or("?").to_string())
                            .collect()
                    })
                    .unwrap_or_default();
                got.sort();
                if &got != rules {
                    bad.push(format!("rules {got:?}, expected {rules:?}"));
                }
            }
            Err(e) => bad.push(format!("stdout is not a JSON report ({e})")),
        }
    }
    if elapsed > Duration::from_secs(exp.seconds) {
        bad.push(format!("took {elapsed:?}, more than {}s", exp.seconds));
    }
    if listing(&repo) != before {
        bad.push("the repository changed".into());
    }
    for p in &exp.absent {
        let p = at(p);
        if Path::new(&p).symlink_metadata().is_ok() || repo.join(&p).symlink_metadata().is_ok() {
            bad.push(format!("{p} exists: something the repository planted ran"));
        }
    }
    let left: Vec<_> = std::fs::read_dir(&tmp)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    if !left.is_empty() {
        bad.push(format!("temporary files left behind: {left:?}"));
    }
    if !bad.is_empty() {
        bad.push(format!(
            "stdout (first 1500 bytes): {}\nstderr: {}",
            stdout.chars().take(1500).collect::<String>(),
            stderr.chars().take(1500).collect::<String>()
        ));
    }
    bad.into_iter().map(|b| format!("{name}: {b}")).collect()
}

/// One trial per case folder, so the test runner runs the cases in parallel and names the one
/// that fails (`cargo nextest run -E 'binary(helm_bad_input)' CASE` runs one).
fn main() -> std::process::ExitCode {
    let args = libtest_mimic::Arguments::from_args();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bad-input");
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    let count = cases.len();
    let mut trials = vec![libtest_mimic::Trial::test(
        "corpus_has_every_case",
        move || {
            if count >= 80 {
                Ok(())
            } else {
                Err(format!("the corpus has {count} cases; a case folder went missing").into())
            }
        },
    )];
    trials.extend(cases.into_iter().map(|case| {
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        libtest_mimic::Trial::test(name, move || {
            let failures = run_case(&case);
            if failures.is_empty() {
                Ok(())
            } else {
                Err(failures.join("\n\n").into())
            }
        })
    }));
    libtest_mimic::run(&args, trials).exit_code()
}
