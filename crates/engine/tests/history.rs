//! `--history N` over a real git history and a fake helm: a digest staging ran in one of the last
//! N commits is promoted. One test in its own binary, since the history is found from the
//! current folder, which belongs to the whole process.

mod common;
use common::*;
use imagegate_engine::cache::CacheChoice;
use imagegate_engine::fleet::{self, Context, Coverage, Plan};
use imagegate_engine::observer::Collect;
use std::path::Path;
use std::process::Command;

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args([
            "-c",
            "user.name=imagegate tests",
            "-c",
            "user.email=tests@imagegate.invalid",
            "-c",
            "commit.gpgsign=false",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn history_accepts_a_digest_staging_ran_in_an_earlier_commit() {
    // The fleet lives in a subfolder of the git repository, so each commit is read at `fleet/`.
    let mut files = files();
    for (path, text) in std::mem::take(&mut files) {
        files.insert(format!("fleet/{path}"), text);
    }
    let repo = Fleet::of(&files);
    let fleet_dir = repo.root().join("fleet");
    let staging_api = "fleet/values/staging/api.yaml";
    // Commit 1: staging ran the digest production runs today.
    repo.write(
        staging_api,
        &format!("image: ghcr.io/acme/api@{}\n", digest('3')),
    );
    // production's web runs a digest staging never ran, in any commit.
    repo.write(
        "fleet/values/production/web.yaml",
        &format!("image: ghcr.io/acme/web@{}\n", digest('5')),
    );
    git(repo.root(), &["init", "-q"]);
    git(repo.root(), &["add", "-A"]);
    git(repo.root(), &["commit", "-q", "-m", "staging runs api 3"]);
    // Commit 2: staging moved on.
    repo.write(
        staging_api,
        &format!("image: ghcr.io/acme/api@{}\n", digest('2')),
    );
    git(repo.root(), &["commit", "-q", "-am", "staging moves on"]);
    std::env::set_current_dir(repo.root()).unwrap();

    let cfg = imagegate_engine::Config::load(&fleet_dir.join("imagegate.yaml")).unwrap();
    let cells = cfg.cells().unwrap();
    let calls = std::sync::atomic::AtomicUsize::new(0);
    let r = renderer(&calls);
    let observer = Collect::default();
    let drift = |history: usize| {
        let ctx = Context {
            config: &cfg,
            renderer: &r,
            render: render_options(&cfg),
            cache: CacheChoice::Off,
            today: today(),
            observer: &observer,
            remote: None,
        };
        let run = fleet::run(
            &ctx,
            &cells,
            Plan {
                coverage: Coverage::Full,
                history,
                inventory: false,
            },
        )
        .unwrap_or_else(|e| panic!("{e:#}"));
        run.report
            .findings
            .into_iter()
            .filter(|f| f.rule == "promotion-drift")
            .collect::<Vec<_>>()
    };
    let apps_of = |found: &[imagegate_report::ReportFinding]| {
        found.iter().map(|f| f.app.clone()).collect::<Vec<_>>()
    };

    assert_eq!(apps_of(&drift(0)), ["production-api", "production-web"]);
    let history = drift(2);
    assert_eq!(
        apps_of(&history),
        ["production-web"],
        "api 3 ran in staging one commit ago: accepted; web 5 never ran there"
    );
    assert!(
        history[0]
            .message
            .contains("(today or in the last 2 commits)"),
        "{}",
        history[0].message
    );
    // One commit back is only HEAD, where staging runs api 2: still drift.
    assert_eq!(apps_of(&drift(1)), ["production-api", "production-web"]);
    // Past the history there is: a warning, and the same answer.
    assert_eq!(apps_of(&drift(5)), ["production-web"]);
    let warnings = observer.warnings.lock().unwrap().clone();
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("--history 5: only 2 commit(s) available")),
        "{warnings:?}"
    );
    // Commits are read with git archive: the checkout is untouched.
    assert_eq!(git(repo.root(), &["status", "--porcelain"]), "");
}
