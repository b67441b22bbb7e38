//! The render cache fails closed, end to end with real helm.

mod common;
use common::*;
use std::path::{Path, PathBuf};

fn chart_yaml(name: &str) -> String {
    format!("apiVersion: v2\nname: {name}\nversion: 0.1.0\n")
}

fn pod(image: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata: {{name: app}}\nspec:\n  containers:\n    - name: app\n      image: {image}\n      imagePullPolicy: IfNotPresent\n"
    )
}

/// `imagegate ARGS --cache-dir CACHE` in `repo`.
fn run(repo: &Path, cache: &Path, args: &[&str]) -> std::process::Output {
    let mut all: Vec<&str> = args.to_vec();
    all.extend(["--no-progress", "--cache-dir", cache.to_str().unwrap()]);
    imagegate(&all, repo)
}

#[test]
fn helm_a_cache_folder_that_links_into_the_repository_is_refused() {
    let repo = tree(&[
        (
            "imagegate.yaml",
            "version: 1\nenvironments:\n  - name: dev\ncomponents:\n  - { name: web, chart: charts/web }\n",
        ),
        ("charts/web/Chart.yaml", &chart_yaml("web")),
        ("charts/web/templates/pod.yaml", &pod("registry.example/app:latest")),
        ("seeded/README", "entries the repository would like imagegate to trust\n"),
    ]);
    let listing = |root: &Path| -> Vec<PathBuf> {
        let mut out: Vec<PathBuf> = walk(root);
        out.sort();
        out
    };
    let before = listing(repo.path());
    for link in ["v1", "v1/ab"] {
        let cache = tempfile::tempdir().unwrap();
        let at = cache.path().join(link);
        std::fs::create_dir_all(at.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(repo.path().join("seeded"), &at).unwrap();
        for args in [&["check"][..], &["images"][..]] {
            let out = run(repo.path(), cache.path(), args);
            assert_eq!(
                out.status.code(),
                Some(2),
                "{link} {args:?}: {}",
                stderr(&out)
            );
            let err = stderr(&out);
            assert!(
                err.contains(&format!("{} is a symbolic link", at.display())),
                "{err}"
            );
            assert!(err.contains("inside the repository under check"), "{err}");
            assert!(err.contains("hint: delete the cache folder"), "{err}");
            assert!(stdout(&out).is_empty(), "no verdict: {}", stdout(&out));
        }
        assert_eq!(
            listing(repo.path()),
            before,
            "nothing written into the repository"
        );
    }
}

fn walk(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(root).unwrap().flatten() {
        out.push(e.path());
        if e.file_type().unwrap().is_dir() {
            out.extend(walk(&e.path()));
        }
    }
    out
}
