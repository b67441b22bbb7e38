//! `cargo xtask pre-commit` (also a step of `cargo xtask ci`): the `language: rust` hooks of
//! .pre-commit-hooks.yaml work as pre-commit runs them.
//!
//! pre-commit (pinned, from PyPI, in target/tools/venv) runs `pre-commit try-repo` on this
//! checkout, uncommitted changes included, from a small fleet in a fresh git repository: it
//! clones the checkout, installs the hook with `cargo install --bins --root <env> --path .` (its
//! `language: rust` install, which needs the CLI to be the root package), and runs it. The fleet
//! passes with a pinned image and fails, naming the rule, once a values file sets a mutable tag;
//! `imagegate-diff-rust` fails on that change alone.
//!
//! To keep the build short, the release profile is relaxed through cargo's environment
//! (`CARGO_PROFILE_RELEASE_*`: no LTO, opt-level 0) and the build folder is kept in
//! target/pre-commit-build: the install command and the layout it needs are what is tested.

use anyhow::{bail, Context, Result};
use std::path::Path;
use std::process::Command;

/// The pinned pre-commit.
const PRE_COMMIT: &str = "pre-commit==4.7.0";

const CONFIG: &str = "\
version: 1
environments:
  - name: dev
components:
  - name: web
    chart: charts/web
    valueFiles: [values/web.yaml]
    namespace: web
";
const CHART: &str = "apiVersion: v2\nname: web\nversion: 0.1.0\n";
const DEPLOYMENT: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  selector: { matchLabels: { app: web } }
  template:
    metadata: { labels: { app: web } }
    spec:
      containers:
        - name: web
          image: {{ .Values.image | quote }}
          imagePullPolicy: IfNotPresent
";
const PINNED: &str = "image: ghcr.io/acme/web@sha256:4bd7a2700ca3da1a2821ee53646a9e6655b7dda312b7e761b3d9770b32023dcd\n";
const MUTABLE: &str = "image: ghcr.io/acme/web:latest\n";

/// Runs the check with `helm`.
pub fn run(root: &Path, helm: &Path) -> Result<()> {
    let pre_commit = crate::lint::venv_tool(root, PRE_COMMIT)?;
    let work = tempfile::Builder::new()
        .prefix("imagegate-pre-commit-")
        .tempdir()
        .context("creating a temporary folder")?;
    let fleet = work.path().join("fleet");
    for (path, text) in [
        ("imagegate.yaml", CONFIG),
        ("charts/web/Chart.yaml", CHART),
        ("charts/web/templates/deployment.yaml", DEPLOYMENT),
        ("values/web.yaml", PINNED),
    ] {
        let path = fleet.join(path);
        std::fs::create_dir_all(path.parent().unwrap())?;
        std::fs::write(&path, text)?;
    }
    git(&fleet, &["init", "-q"])?;
    git(&fleet, &["add", "-A"])?;
    git(&fleet, &["commit", "-q", "-m", "a pinned image"])?;

    let try_repo = |hook: &str, expect_pass: bool, expect: &str| -> Result<()> {
        let out = Command::new(&pre_commit)
            .current_dir(&fleet)
            .arg("try-repo")
            .arg(root)
            .args([hook, "--all-files", "--verbose", "--color", "never"])
            .env("PRE_COMMIT_HOME", work.path().join("pre-commit-home"))
            .env("IMAGEGATE_HELM", helm)
            .env("IMAGEGATE_CACHE_DIR", work.path().join("cache"))
            .env("CARGO_TARGET_DIR", root.join("target/pre-commit-build"))
            .env("CARGO_PROFILE_RELEASE_LTO", "false")
            .env("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "16")
            .env("CARGO_PROFILE_RELEASE_OPT_LEVEL", "0")
            .env("CARGO_PROFILE_RELEASE_STRIP", "false")
            .output()
            .context("running pre-commit")?;
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        if out.status.success() != expect_pass || !text.contains(expect) {
            bail!(
                "pre-commit try-repo {hook}: expected it to {} with `{expect}` in its output, it exited with {}:\n{text}",
                if expect_pass { "pass" } else { "fail" },
                out.status
            );
        }
        eprintln!(
            "xtask: pre-commit: {hook} {} as expected",
            if expect_pass { "passes" } else { "fails" }
        );
        Ok(())
    };
    eprintln!(
        "xtask: pre-commit: installing the language: rust hook (cargo install --path . of this checkout)"
    );
    try_repo("imagegate-rust", true, "Passed")?;
    std::fs::write(fleet.join("values/web.yaml"), MUTABLE)?;
    git(&fleet, &["add", "-A"])?;
    try_repo("imagegate-diff-rust", false, "mutable-tag")?;
    try_repo("imagegate-rust", false, "mutable-tag")?;
    Ok(())
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
            ])
            .args(args),
    )
}
