//! `imagegate diff` end to end with real helm, on a copy of charts-testdata committed into a
//! temporary git repository: one change (what re-renders, how its findings are classified, the
//! exit status, the formats, between two commits), the usage errors, and the render cache of
//! `check`. Each kind of change (fixed, refactor, promotion over the whole lineage, strict) is
//! planned and compared over the engine's fake helm in `crates/engine/tests/diff.rs`.

mod common;
use common::*;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::PathBuf;

/// A git repository holding a copy of the fleet, committed once.
struct Fleet {
    repo: tempfile::TempDir,
    cache: tempfile::TempDir,
}

impl Fleet {
    fn new() -> Self {
        let repo = tempfile::tempdir().unwrap();
        copy_tree(&root().join("charts-testdata"), repo.path());
        git(repo.path(), &["init", "-q"]);
        git(repo.path(), &["add", "-A"]);
        git(repo.path(), &["commit", "-q", "-m", "base"]);
        Self {
            repo,
            cache: tempfile::tempdir().unwrap(),
        }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.repo.path().join(rel)
    }

    fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path(rel)).unwrap()
    }

    fn write(&self, rel: &str, text: &str) {
        std::fs::write(self.path(rel), text).unwrap();
    }

    fn replace(&self, rel: &str, from: &str, to: &str) {
        let text = self.read(rel);
        assert!(text.contains(from), "{rel} does not contain {from:?}");
        self.write(rel, &text.replacen(from, to, 1));
    }

    /// `imagegate diff ARGS --format json`: (exit status, report).
    fn diff(&self, args: &[&str]) -> (i32, Value) {
        let cache = self.cache.path().to_str().unwrap();
        let mut all = vec![
            "diff",
            "--format",
            "json",
            "--no-progress",
            "--cache-dir",
            cache,
        ];
        all.extend_from_slice(args);
        let out = imagegate(&all, self.repo.path());
        let code = out.status.code().unwrap_or(-1);
        assert!(
            code == 0 || code == 1,
            "diff {args:?} exited {code}; stderr: {}",
            stderr(&out)
        );
        let report: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("diff JSON does not parse ({e}): {}", stdout(&out)));
        assert_eq!(report["schema"], "imagegate/diff/v1");
        (code, report)
    }
}

fn rendered(report: &Value) -> (u64, u64) {
    (
        report["rendered"]["base"].as_u64().unwrap(),
        report["rendered"]["head"].as_u64().unwrap(),
    )
}

/// `environment/app` of every affected cell.
fn affected(report: &Value) -> BTreeSet<String> {
    report["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            format!(
                "{}/{}",
                c["environment"].as_str().unwrap(),
                c["app"].as_str().unwrap()
            )
        })
        .collect()
}

fn rules_of(findings: &Value) -> BTreeSet<String> {
    findings
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            format!(
                "{} {}/{} {}",
                f["rule"].as_str().unwrap(),
                f["environment"].as_str().unwrap(),
                f["app"].as_str().unwrap(),
                f["container"].as_str().unwrap_or("-")
            )
        })
        .collect()
}

fn all_image_changes(report: &Value) -> Vec<Value> {
    report["changes"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c["imageChanges"].as_array().unwrap().clone())
        .collect()
}

const WWW_DIGEST: &str =
    "ghcr.io/ameideio/www@sha256:7c2ecd07f155648431e0f94b89247d713c5786e1e73e953f2fe7eca39534cd6d";

#[test]
fn helm_diff_new_violation_fails_and_is_new_also_between_two_commits() {
    let fleet = Fleet::new();
    fleet.replace(
        "sources/values/env/staging/apps/www.yaml",
        WWW_DIGEST,
        "ghcr.io/ameideio/www:main",
    );
    let (code, r) = fleet.diff(&["--base", "HEAD"]);
    assert_eq!(code, 1, "a new error finding fails the PR");
    assert_eq!(rendered(&r), (1, 1), "one cell per side");
    assert_eq!(
        affected(&r),
        BTreeSet::from(["staging/staging-www".to_string()])
    );
    assert_eq!(r["cells"]["unchanged"], 51);
    assert_eq!(r["cells"]["changed"], 1);
    let change = &r["changes"][0];
    assert_eq!(change["kind"], "changed");
    assert_eq!(
        change["inputs"],
        serde_json::json!(["values sources/values/env/staging/apps/www.yaml"])
    );
    let images = all_image_changes(&r);
    assert_eq!(images.len(), 1, "{images:?}");
    assert_eq!(images[0]["object"]["kind"], "Deployment");
    assert_eq!(images[0]["container"], "www");
    assert_eq!(images[0]["old"], WWW_DIGEST);
    assert_eq!(images[0]["new"], "ghcr.io/ameideio/www:main");
    let diff = change["diff"].as_str().unwrap();
    assert!(
        diff.contains(&format!("-          image: {WWW_DIGEST}")),
        "{diff}"
    );
    assert!(
        diff.contains("+          image: ghcr.io/ameideio/www:main"),
        "{diff}"
    );
    assert_eq!(
        rules_of(&r["new"]),
        BTreeSet::from([
            "digest-required staging/staging-www www".to_string(),
            "mutable-tag staging/staging-www www".to_string(),
        ])
    );
    assert_eq!(r["summary"]["newFailing"], 2);
    assert_eq!(r["fixed"], serde_json::json!([]));
    // The user's checkout is untouched: still exactly the one edit, no worktree, no stash.
    assert_eq!(
        git(fleet.repo.path(), &["status", "--porcelain"]).trim(),
        "M sources/values/env/staging/apps/www.yaml"
    );
    assert_eq!(
        git(fleet.repo.path(), &["worktree", "list"])
            .lines()
            .count(),
        1
    );

    // The same change committed, compared revision to revision (--head), from the cache; the
    // other formats from the same run: markdown is a failing PR comment, GitHub carries only
    // the new findings.
    git(fleet.repo.path(), &["commit", "-q", "-am", "unpin www"]);
    let out = tempfile::tempdir().unwrap();
    let md_file = out.path().join("diff.md");
    let gh_file = out.path().join("diff.txt");
    let md_arg = format!("markdown={}", md_file.display());
    let gh_arg = format!("github={}", gh_file.display());
    let (code, r2) = fleet.diff(&[
        "--base", "HEAD~1", "--head", "HEAD", "--output", &md_arg, "--output", &gh_arg,
    ]);
    assert_eq!(code, 1);
    assert_eq!(rules_of(&r2["new"]), rules_of(&r["new"]));
    assert_eq!(r2["cached"], serde_json::json!({"base": 1, "head": 1}));
    assert!(r2["head"]["commit"].as_str().unwrap().len() == 40);
    let md = std::fs::read_to_string(&md_file).unwrap();
    assert!(
        md.starts_with("## ❌ imagegate: 2 new findings fail this change"),
        "{md}"
    );
    assert!(md.contains("<details><summary>changed staging / staging-www"));
    assert!(md.contains("```diff\n"));
    let gh = std::fs::read_to_string(&gh_file).unwrap();
    assert_eq!(
        gh.lines().filter(|l| l.starts_with("::error ")).count(),
        2,
        "{gh}"
    );
    // --strict: the www cell's other findings do not exist, but render-failed cells are not
    // affected; the same two errors are all that fail.
    let (code, strict) = fleet.diff(&["--base", "HEAD~1", "--strict"]);
    assert_eq!(code, 1);
    assert_eq!(strict["strict"], true);
}

#[test]
fn helm_diff_usage_errors_exit_2() {
    let fleet = Fleet::new();
    let out = imagegate(&["diff", "--base", "no-such-branch"], fleet.repo.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("`no-such-branch` names no commit"),
        "{}",
        stderr(&out)
    );
    let out = imagegate(&["diff", "--base", "--help-me"], fleet.repo.path());
    assert_eq!(out.status.code(), Some(2));
    let inside = fleet.path("cache").to_str().unwrap().to_string();
    let out = imagegate(
        &["diff", "--base", "HEAD", "--cache-dir", &inside],
        fleet.repo.path(),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("inside the repository"),
        "{}",
        stderr(&out)
    );
    assert!(!fleet.path("cache").exists());
    let not_git = tempfile::tempdir().unwrap();
    copy_tree(&root().join("charts-testdata"), not_git.path());
    let out = imagegate(&["diff", "--base", "HEAD", "--no-cache"], not_git.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("not inside a git repository"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn helm_check_with_a_warm_cache_serves_every_sound_cell_from_it() {
    let cache = tempfile::tempdir().unwrap();
    let dir = cache.path().to_str().unwrap();
    let run = || {
        let out = imagegate(
            &[
                "check",
                "--config",
                "charts-testdata/imagegate.yaml",
                "--format",
                "json",
                "--no-progress",
                "--cache-dir",
                dir,
            ],
            &root(),
        );
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        serde_json::from_slice::<Value>(&out.stdout).unwrap()
    };
    let cold = run();
    let statuses = cells_with_status;
    // Content addressing: the two cluster types render image-prepuller from identical inputs
    // (same chart, values, release and namespace), so one may already serve the other.
    let cold_cached: Vec<_> = cold["cells"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] == "cached")
        .map(|c| c["app"].as_str().unwrap())
        .collect();
    assert!(
        cold_cached.iter().all(|a| *a == "cluster-image-prepuller") && cold_cached.len() <= 1,
        "{cold_cached:?}"
    );
    assert_eq!(statuses(&cold, "failed"), 1);
    // One entry per distinct key: 52 cells, one shared key, and helm's refusal of dev-agents
    // is stored too (it fails the same way every time). The 8 cells of raw-manifests are never
    // stored: its template calls `tpl`, whose template text comes from values at render time.
    let raw_manifests = |r: &Value| -> Vec<String> {
        r["cells"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["chart"] == "sources/charts/platform/raw-manifests")
            .map(|c| c["status"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(raw_manifests(&cold), vec!["rendered"; 8]);
    let entries = std::fs::read_dir(cache.path().join("v1"))
        .unwrap()
        .flatten()
        .flat_map(|fan| std::fs::read_dir(fan.path()).unwrap().flatten())
        .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
        .count();
    // Each stored cell with image findings also stored its one render with markers (the one
    // that confirms the origins), keyed by its own inputs.
    let traced = cold["cells"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| {
            c["chart"] != "sources/charts/platform/raw-manifests" && c["status"] != "failed"
        })
        .filter(|c| {
            cold["findings"].as_array().unwrap().iter().any(|f| {
                f["app"] == c["app"]
                    && f["environment"] == c["environment"]
                    && !f["image"].is_null()
                    && f["rule"] != "render-failed"
                    && f["rule"] != "promotion-drift"
            })
        })
        .count();
    assert!(traced > 0);
    assert_eq!(entries, 51 - 8 + traced);
    let warm = run();
    assert_eq!(
        statuses(&warm, "cached"),
        51 - 8,
        "every cell that rendered comes from the cache, but those that call tpl"
    );
    assert_eq!(
        raw_manifests(&warm),
        vec!["rendered"; 8],
        "a chart that calls tpl renders afresh every time"
    );
    assert_eq!(
        statuses(&warm, "failed"),
        1,
        "helm's refusal is cached too, and still failed"
    );
    assert_eq!(
        warm["findings"], cold["findings"],
        "the cache changes nothing in the report"
    );
    // --no-cache renders everything again, to the same findings; one environment shows it (the
    // whole fleet would only render the same cells once more).
    let out = imagegate(
        &[
            "check",
            "--config",
            "charts-testdata/imagegate.yaml",
            "--format",
            "json",
            "--no-progress",
            "--no-cache",
            "--env",
            "dev",
        ],
        &root(),
    );
    let fresh: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(statuses(&fresh, "rendered") > 1);
    assert_eq!(statuses(&fresh, "cached"), 0);
    let in_dev = |r: &Value| -> Vec<Value> {
        r["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["environment"] == "dev")
            .cloned()
            .collect()
    };
    assert!(!in_dev(&cold).is_empty());
    assert_eq!(in_dev(&fresh), in_dev(&cold));
}

/// A change that takes an Argo CD application out of judgement fails the check though no finding
/// is new: Argo CD still deploys it, and its images are no longer seen. Here a values file
/// fetched from a URL (which imagegate does not read), then a new Application of a Helm
/// repository's chart; an application not judged on both sides is listed and fails nothing.
#[test]
fn helm_diff_fails_a_change_that_takes_an_application_out_of_judgement() {
    let app = "apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: web, namespace: argocd}
spec:
  destination: {server: https://kubernetes.default.svc, namespace: web}
  source:
    repoURL: https://github.com/acme/gitops.git
    path: chart
    helm: {releaseName: web}
";
    let dir = tree(&[
        (
            "imagegate.yaml",
            "version: 1\nargocd:\n  manifests: [\"argocd/*.yaml\"]\n  repoURL: [\"https://github.com/acme/gitops.git\"]\n",
        ),
        ("argocd/app.yaml", app),
        ("chart/Chart.yaml", "apiVersion: v2\nname: c\nversion: 0.1.0\n"),
        (
            "chart/templates/pod.yaml",
            "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n    - name: a\n      image: ghcr.io/a/b@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n      imagePullPolicy: IfNotPresent\n",
        ),
    ]);
    let repo = dir.path();
    let commit = |m: &str| {
        git(repo, &["add", "-A"]);
        git(repo, &["commit", "-q", "-m", m]);
    };
    git(repo, &["init", "-q"]);
    commit("base");
    let diff = || {
        let out = last_commit_diff(repo);
        let report: Value =
            serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", stderr(&out)));
        (out.status.code(), report, stderr(&out))
    };
    let names = |v: &Value| -> Vec<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .map(|x| x["app"].as_str().unwrap().to_string())
                    .collect()
            })
            .unwrap_or_default()
    };
    std::fs::write(
        repo.join("argocd/app.yaml"),
        app.replace(
            "helm: {releaseName: web}",
            "helm: {releaseName: web, valueFiles: [\"https://evil.example/values.yaml\"]}",
        ),
    )
    .unwrap();
    commit("a values file from a URL");
    let (code, report, err) = diff();
    assert_eq!(code, Some(1), "{report:#}");
    assert!(report["new"].as_array().unwrap().is_empty(), "{report:#}");
    assert_eq!(names(&report["newNotJudged"]), ["web"]);
    assert!(
        err.contains("new in this change: it fails the check"),
        "{err}"
    );

    // Still not judged, a new one beside it.
    std::fs::write(
        repo.join("argocd/miner.yaml"),
        "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: miner, namespace: argocd}\nspec:\n  destination: {name: in-cluster}\n  source: {repoURL: https://charts.example.com, chart: nginx, targetRevision: 1.0.0}\n",
    )
    .unwrap();
    commit("a chart of a Helm repository");
    let (code, report, _) = diff();
    assert_eq!(code, Some(1), "{report:#}");
    assert_eq!(names(&report["notJudged"]), ["web", "miner"]);
    assert_eq!(names(&report["newNotJudged"]), ["miner"]);

    // Nothing taken out by this change: listed, and the check passes.
    std::fs::write(repo.join("README.md"), "x\n").unwrap();
    commit("unrelated");
    let (code, report, _) = diff();
    assert_eq!(code, Some(0), "{report:#}");
    assert_eq!(names(&report["notJudged"]).len(), 2);
    assert!(report.get("newNotJudged").is_none(), "{report:#}");
}

/// Each side renders under its own bounds: a change that lowers `limits.maxRenderedMib` below
/// what a chart renders (and swaps its image meanwhile) fails on the head alone, a new
/// `render-failed`, not an unchanged one that both sides share.
#[test]
fn helm_diff_renders_the_base_under_its_own_limits() {
    let big = "x".repeat(1_500_000);
    let dir = tree(&[
        (
            "imagegate.yaml",
            "version: 1\nenvironments: [{name: dev}]\ncomponents:\n  - {name: web, chart: charts/web}\nvalueStacks:\n  environment: [\"values/{env}/{name}.yaml\"]\n",
        ),
        ("charts/web/Chart.yaml", "apiVersion: v2\nname: web\nversion: 0.1.0\n"),
        ("charts/web/files/big.txt", &big),
        (
            "charts/web/templates/all.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: big}\ndata:\n  big: {{ .Files.Get \"files/big.txt\" | quote }}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n    - name: a\n      image: {{ .Values.image }}\n      imagePullPolicy: IfNotPresent\n",
        ),
        (
            "values/dev/web.yaml",
            "image: ghcr.io/a/b@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n",
        ),
    ]);
    let repo = dir.path();
    git(repo, &["init", "-q"]);
    git(repo, &["add", "-A"]);
    git(repo, &["commit", "-q", "-m", "base"]);
    let config = std::fs::read_to_string(repo.join("imagegate.yaml")).unwrap();
    std::fs::write(
        repo.join("imagegate.yaml"),
        format!("{config}limits:\n  maxRenderedMib: 1\n"),
    )
    .unwrap();
    std::fs::write(repo.join("values/dev/web.yaml"), "image: miner:latest\n").unwrap();
    git(repo, &["add", "-A"]);
    git(
        repo,
        &["commit", "-q", "-m", "lower the limit, swap the image"],
    );
    let out = last_commit_diff(repo);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        rules_of(&report["new"]),
        BTreeSet::from(["render-failed dev/dev-web -".to_string()])
    );
    assert!(
        report["unchanged"].as_array().unwrap().is_empty(),
        "{report:#}"
    );
}

/// A submodule inside a chart folder, or holding a values file, is refused (exit 2) on either
/// side: Argo CD checks submodules out and renders what they hold, a revision (or a checkout
/// without them) has an empty folder there.
#[test]
fn helm_diff_refuses_a_submodule_a_cell_reads() {
    let dir = tree(&[
        (
            "imagegate.yaml",
            "version: 1\nenvironments: [{name: dev}]\ncomponents:\n  - {name: web, chart: charts/web}\nvalueStacks:\n  environment: [\"values/{env}/{name}.yaml\"]\nmissingValueFiles: skip\n",
        ),
        ("charts/web/Chart.yaml", "apiVersion: v2\nname: web\nversion: 0.1.0\n"),
        (
            "charts/web/templates/pod.yaml",
            "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n    - name: a\n      image: ghcr.io/a/b@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n      imagePullPolicy: IfNotPresent\n",
        ),
        ("docs/README.md", "x\n"),
    ]);
    let repo = dir.path();
    git(repo, &["init", "-q"]);
    git(repo, &["add", "-A"]);
    git(repo, &["commit", "-q", "-m", "base"]);
    let commit = git(repo, &["rev-parse", "HEAD"]);
    let gitlink = |path: &str| {
        git(
            repo,
            &[
                "update-index",
                "--add",
                "--cacheinfo",
                &format!("160000,{},{path}", commit.trim()),
            ],
        );
    };
    let diff = |head: Option<&str>| {
        let mut args = vec![
            "diff",
            "--base",
            "HEAD~1",
            "--format",
            "json",
            "--no-progress",
        ];
        if let Some(h) = head {
            args.extend(["--head", h]);
        }
        imagegate(&args, repo)
    };
    // A submodule nothing reads is no concern.
    gitlink("docs/theme");
    git(repo, &["commit", "-q", "-m", "a theme"]);
    assert_eq!(diff(Some("HEAD")).status.code(), Some(0));
    for (path, reads) in [
        ("charts/web/templates/more", "charts/web"),
        ("values/dev", "values/dev/web.yaml"),
    ] {
        gitlink(path);
        // check on the working tree: refused while the submodule is not checked out (its
        // folder missing), read as it is once it is.
        let check = || imagegate(&["check", "--format", "json", "--no-progress"], repo);
        let out = check();
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        assert!(
            stderr(&out).contains("actions/checkout `submodules: true`"),
            "{}",
            stderr(&out)
        );
        std::fs::create_dir_all(repo.join(path)).unwrap();
        std::fs::write(repo.join(path).join("_kept.tpl"), "{{/* checked out */}}\n").unwrap();
        assert_eq!(check().status.code(), Some(0), "{}", stderr(&check()));
        std::fs::remove_dir_all(repo.join(path)).unwrap();
        // The working tree's index already holds it.
        let out = diff(None);
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        assert!(
            stderr(&out).contains(&format!(
                "{path} is a git submodule and cell dev/dev-web reads {reads}"
            )),
            "{}",
            stderr(&out)
        );
        git(repo, &["commit", "-q", "-m", "a submodule"]);
        let out = diff(Some("HEAD"));
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        assert!(
            stderr(&out).contains("Argo CD checks submodules out"),
            "{}",
            stderr(&out)
        );
        git(repo, &["rm", "-q", "--cached", path]);
        git(repo, &["commit", "-q", "-m", "no submodule"]);
    }
}

/// A file a cell reads that a checkout rewrites (`ident`, `eol=crlf`, `working-tree-encoding`)
/// is refused in a revision diff reads from git's objects: Argo CD renders the checked-out bytes,
/// and a template can tell them apart (`$Id$` expanded or not).
#[test]
fn helm_diff_refuses_a_chart_file_a_checkout_would_rewrite() {
    let dir = tree(&[
        (
            "imagegate.yaml",
            "version: 1\nenvironments: [{name: dev}]\ncomponents:\n  - {name: web, chart: charts/web}\n",
        ),
        ("charts/web/Chart.yaml", "apiVersion: v2\nname: web\nversion: 0.1.0\n"),
        ("charts/web/stamp.txt", "$Id$\n"),
        (
            "charts/web/templates/pod.yaml",
            "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n    - name: a\n      image: ghcr.io/a/b@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n      imagePullPolicy: IfNotPresent\n",
        ),
        ("docs/notes.txt", "$Id$\n"),
    ]);
    let repo = dir.path();
    git(repo, &["init", "-q"]);
    // An attribute on a file no cell reads is no concern.
    std::fs::write(repo.join(".gitattributes"), "docs/*.txt ident\n").unwrap();
    git(repo, &["add", "-A"]);
    git(repo, &["commit", "-q", "-m", "base"]);
    std::fs::write(repo.join("README.md"), "x\n").unwrap();
    git(repo, &["add", "-A"]);
    git(repo, &["commit", "-q", "-m", "readme"]);
    let diff = || last_commit_diff(repo);
    assert_eq!(diff().status.code(), Some(0), "{}", stderr(&diff()));
    for attr in ["ident", "eol=crlf", "working-tree-encoding=UTF-16"] {
        std::fs::write(
            repo.join(".gitattributes"),
            format!("docs/*.txt ident\ncharts/web/stamp.txt {attr}\n"),
        )
        .unwrap();
        // Only the attributes change: the file is stored as it was.
        git(repo, &["add", ".gitattributes"]);
        git(repo, &["commit", "-q", "-m", attr]);
        let out = diff();
        assert_eq!(out.status.code(), Some(2), "{attr}: {}", stderr(&out));
        let shown = attr.split('=').next().unwrap();
        assert!(
            stderr(&out).contains("charts/web/stamp.txt has the git attribute")
                && stderr(&out).contains(shown),
            "{attr}: {}",
            stderr(&out)
        );
    }
}

/// `imagegate diff --base HEAD~1 --head HEAD --format json` in `repo`: the last commit's change.
fn last_commit_diff(repo: &std::path::Path) -> std::process::Output {
    imagegate(
        &[
            "diff",
            "--base",
            "HEAD~1",
            "--head",
            "HEAD",
            "--format",
            "json",
            "--no-progress",
        ],
        repo,
    )
}
