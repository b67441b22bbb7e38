//! Project automation, run as `cargo xtask <command>`.
//!
//! - `helm`: provision the two pinned Helm releases into `target/tools/` (verified by sha256).
//! - `demo`: provision helm, build imagegate and run `imagegate check` on `charts-testdata/`.
//! - `ci`: provision helm, check formatting and lints, run the whole test suite on Helm 3 and Helm 4.
//! - `docs`: regenerate the generated documentation (rule pages, config schema).
//! - `bench`: the side-by-side benchmark (see `docs/performance.md`).
//! - `fuzz`: run the fuzz targets of `crates/fuzz` (see `docs/security.md`).
//! - `dist`: build the release archive for one target, with its sha256 (see `dist.rs`).

mod bench;
mod dist;
mod docs;
mod fuzz;
mod helm;
mod lint;
mod precommit;
mod registry_tools;
mod sarif;

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    if let Err(err) = run() {
        eprintln!("xtask: error: {err:#}");
        std::process::exit(1);
    }
}

fn run() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = workspace_root();
    match args.first().map(String::as_str) {
        Some("helm") => {
            for h in helm::provision_all(&root)? {
                println!("{} {}", h.major_label(), h.path.display());
            }
            Ok(())
        }
        Some("demo") => demo(&root, &args[1..]),
        Some("ci") => ci(&root, &args[1..]),
        Some("test") => test(&root, &args[1..]),
        Some("docs") => docs(&root, &args[1..]),
        Some("bench") => bench(&root, &args[1..]),
        Some("lint") => lint::run(&root),
        Some("fuzz") => fuzz::run(&root, &args[1..]),
        Some("dist") => dist::run(&root, &args[1..]),
        Some("sarif") => sarif_step(&root),
        Some("pre-commit") => precommit::run(&root, &helm3(&root)?),
        _ => {
            eprintln!(
                "usage: cargo xtask <helm|demo|ci|test|docs|bench|lint|fuzz|dist|sarif|pre-commit>\n\
                 \n  helm    install Helm 3.17.3 and 4.1.4 into target/tools (sha256-verified)\
                 \n  demo    provision helm and run `imagegate check` on charts-testdata/\
                 \n  ci      provision helm; fmt, clippy, and the whole test suite on both Helm versions\
                 \n  test    the test suite only (both Helm versions), no fmt/clippy\
                 \n  docs    regenerate docs/rules/*.md and docs/imagegate.schema.json (--check: fail if stale)\
                 \n  bench   the benchmark (--quick for a small fleet)\
                 \n  lint    the workflows, action.yml and GitLab CI file against their schemas, and actionlint\
                 \n  fuzz    fuzz a reader of untrusted text: fuzz [image_ref|decode|config|origin|argocd|all] [--seconds N] [--seed S]\
                 \n  dist    the release archive and its sha256: dist [--target T] [--profile P] [--out DIR]\
                 \n  sarif   the SARIF of a fleet in a subfolder through Microsoft's validator (GitHub rules), and its locations against git\
                 \n  pre-commit  the language: rust hooks, installed and run by pre-commit try-repo on a small fleet"
            );
            bail!("unknown or missing command")
        }
    }
}

/// The workspace root: the parent of this crate's folder.
fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
}

fn status(cmd: &mut Command) -> Result<()> {
    eprintln!("xtask: running {cmd:?}");
    let st = cmd
        .status()
        .with_context(|| format!("could not start {cmd:?}"))?;
    if !st.success() {
        bail!("{cmd:?} failed with {st}");
    }
    Ok(())
}

fn demo(root: &Path, rest: &[String]) -> Result<()> {
    let helms = helm::provision_all(root)?;
    let helm3 = helms
        .iter()
        .find(|h| h.major == 3)
        .context("helm 3 missing after provisioning")?;
    let mut cmd = cargo();
    cmd.current_dir(root)
        .args([
            "run",
            "--quiet",
            "--release",
            "-p",
            "imagegate",
            "--",
            "check",
            "--config",
        ])
        .arg(root.join("charts-testdata/imagegate.yaml"))
        .arg("--helm")
        .arg(&helm3.path)
        .args(rest);
    eprintln!("xtask: running {cmd:?}");
    let st = cmd.status()?;
    // Exit status 1 means "the fleet has findings", which is the point of the demo fleet.
    match st.code() {
        Some(0) | Some(1) => Ok(()),
        _ => bail!("imagegate check failed with {st}"),
    }
}

fn ci(root: &Path, rest: &[String]) -> Result<()> {
    status(
        cargo()
            .current_dir(root)
            .args(["fmt", "--all", "--", "--check"]),
    )?;
    status(cargo().current_dir(root).args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]))?;
    lint::run(root)?;
    test(root, rest)?;
    docs(root, &["--check".to_string()])?;
    // Keep the benchmark from rotting: a small fleet, one run, on the debug binary the tests
    // already built (timings from CI are not meaningful and are never asserted).
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    let debug_bin = target.join("debug/imagegate");
    status(
        cargo()
            .current_dir(root)
            .args(["build", "-q", "-p", "imagegate"]),
    )?;
    bench(
        root,
        &[
            "--quick".to_string(),
            "--imagegate".to_string(),
            debug_bin.display().to_string(),
        ],
    )?;
    // The SARIF code scanning receives, from a fleet in a subfolder: Microsoft's validator with
    // GitHub's rules, and every location a tracked line (see sarif.rs).
    sarif::run(root, &debug_bin, &helm3(root)?)?;
    // The pre-commit hooks that build imagegate themselves, installed as pre-commit does.
    precommit::run(root, &helm3(root)?)?;
    // Keep the release archive from rotting too: the same packaging as a release, on the
    // debug build (the release workflow builds it with the release profile per target).
    dist::run(
        root,
        &[
            "--profile".to_string(),
            "dev".to_string(),
            "--out".to_string(),
            target.join("dist-ci").display().to_string(),
        ],
    )?;
    Ok(())
}

/// The pinned Helm 3, provisioned when missing.
fn helm3(root: &Path) -> Result<PathBuf> {
    helm::provision_all(root)?
        .into_iter()
        .find(|h| h.major == 3)
        .map(|h| h.path)
        .context("no pinned Helm 3")
}

/// `cargo xtask sarif`: builds imagegate and runs the SARIF step of `ci` alone.
fn sarif_step(root: &Path) -> Result<()> {
    status(
        cargo()
            .current_dir(root)
            .args(["build", "-q", "-p", "imagegate"]),
    )?;
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    sarif::run(root, &target.join("debug/imagegate"), &helm3(root)?)
}

/// Runs the whole suite once per Helm major version (or only for `--helm-major N`). Tests that
/// need helm read `IMAGEGATE_TEST_HELM` and fail (never skip) when it does not work.
fn test(root: &Path, rest: &[String]) -> Result<()> {
    let mut rest = rest.to_vec();
    let only: Option<u32> = match rest.iter().position(|a| a == "--helm-major") {
        Some(i) => {
            let v = rest
                .get(i + 1)
                .context("--helm-major needs a value (3 or 4)")?
                .parse()
                .context("--helm-major takes 3 or 4")?;
            rest.drain(i..i + 2);
            Some(v)
        }
        None => None,
    };
    // The `check --registry` tests start a real registry and push images with skopeo.
    registry_tools::provision()?;
    let helms: Vec<_> = helm::provision_all(root)?
        .into_iter()
        .filter(|h| only.is_none_or(|m| m == h.major))
        .collect();
    if helms.is_empty() {
        bail!("no pinned helm has major version {:?}", only);
    }
    let nextest = Command::new("cargo")
        .args(["nextest", "--version"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    for (i, h) in helms.iter().enumerate() {
        eprintln!(
            "xtask: === test suite with {} ({}) ===",
            h.major_label(),
            h.version
        );
        let mut cmd = cargo();
        cmd.current_dir(root).env("IMAGEGATE_TEST_HELM", &h.path);
        if nextest {
            cmd.args(["nextest", "run", "--workspace", "--no-fail-fast"]);
        } else {
            cmd.args(["test", "--workspace", "--no-fail-fast"]);
        }
        // Helm-independent tests need to run only once; later passes run the helm-backed ones,
        // which live in test binaries (or have names) containing `helm`.
        if i > 0 {
            if nextest {
                cmd.args(["-E", "binary(/helm/) | test(/helm/)"]);
            } else {
                cmd.arg("helm");
            }
        }
        cmd.args(&rest);
        status(&mut cmd)?;
    }
    if nextest {
        // nextest does not run doc tests.
        status(
            cargo()
                .current_dir(root)
                .args(["test", "--workspace", "--doc"]),
        )?;
    }
    Ok(())
}

fn docs(root: &Path, rest: &[String]) -> Result<()> {
    docs::run(&root.join("docs"), rest.iter().any(|a| a == "--check"))
}

/// `cargo xtask bench`: the side-by-side benchmark (see `bench` and `docs/performance.md`).
fn bench(root: &Path, rest: &[String]) -> Result<()> {
    bench::run(root, rest)
}
