//! The render cache fails closed, end to end with real helm: renders that differ from one run
//! to the next are never served, a cached render is held to today's limits, names that differ
//! only in bytes that are not UTF-8 are different inputs (also to `diff`, cache or not), and a
//! cache folder that links into the repository is refused.

mod common;
use common::*;
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

const DIGEST: &str =
    "registry.example/app@sha256:7c2ecd07f155648431e0f94b89247d713c5786e1e73e953f2fe7eca39534cd6d";

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

/// `images --format json`: the image of every app.
fn images(repo: &Path, cache: &Path) -> BTreeMap<String, String> {
    let out = run(repo, cache, &["images", "--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["failedCells"], serde_json::json!([]), "{v}");
    v["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["app"].as_str().unwrap().to_string(),
                i["image"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// `check --format json`: (exit status, status of every app's cell, report).
fn check(repo: &Path, cache: &Path, extra: &[&str]) -> (i32, BTreeMap<String, String>, Value) {
    let mut args = vec!["check", "--format", "json"];
    args.extend_from_slice(extra);
    let out = run(repo, cache, &args);
    let code = out.status.code().unwrap_or(-1);
    assert!(code == 0 || code == 1, "exit {code}: {}", stderr(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let statuses = v["cells"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["app"].as_str().unwrap().to_string(),
                c["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    (code, statuses, v)
}

/// Entries stored in the cache folder.
fn entries(cache: &Path) -> usize {
    let Ok(fans) = std::fs::read_dir(cache.join("v1")) else {
        return 0;
    };
    fans.flatten()
        .flat_map(|fan| std::fs::read_dir(fan.path()).unwrap().flatten())
        .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
        .count()
}

fn write(root: &Path, rel: &str, text: &[u8]) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(bytes).unwrap();
    gz.finish().unwrap()
}

/// One tar entry (header and padded data), as `helm package` writes it.
fn tar_entry(path: &str, data: &[u8]) -> Vec<u8> {
    let mut tar = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(tar::EntryType::Regular);
    h.set_size(data.len() as u64);
    h.set_mode(0o644);
    tar.append_data(&mut h, path, data).unwrap();
    let mut out = tar.into_inner().unwrap();
    // `into_inner` ends the archive with two zero blocks; an entry alone has none.
    out.truncate(out.len() - 1024);
    out
}

#[test]
fn helm_charts_that_render_differently_each_time_are_never_served_from_the_cache() {
    let repo = tree(&[
        (
            "imagegate.yaml",
            "version: 1\nenvironments:\n  - name: dev\ncomponents:\n  - { name: clock, chart: charts/clock }\n  - { name: helpers, chart: charts/helpers }\n  - { name: folder, chart: charts/folder }\n  - { name: vendored, chart: charts/vendored }\n  - { name: split, chart: charts/split }\n  - { name: tpl, chart: charts/tpl }\n  - { name: calm, chart: charts/calm }\n",
        ),
        // The time bomb's fuse, printed to the nanosecond so two renders always differ.
        ("charts/clock/Chart.yaml", &chart_yaml("clock")),
        (
            "charts/clock/templates/pod.yaml",
            &pod("registry.example/app:{{- now | date \"20060102150405.000000000\" }}"),
        ),
        // Called from a named template of `_helpers.tpl`.
        ("charts/helpers/Chart.yaml", &chart_yaml("helpers")),
        (
            "charts/helpers/templates/_helpers.tpl",
            "{{- define \"helpers.tag\" -}}\n{{ randAlphaNum 12 | lower }}\n{{- end }}\n",
        ),
        (
            "charts/helpers/templates/pod.yaml",
            &pod("registry.example/app:{{ include \"helpers.tag\" . }}"),
        ),
        // In a subchart folder, which helm renders with its parent.
        ("charts/folder/Chart.yaml", &chart_yaml("folder")),
        ("charts/folder/charts/sub/Chart.yaml", &chart_yaml("sub")),
        (
            "charts/folder/charts/sub/templates/pod.yaml",
            &pod("registry.example/app:{{ uuidv4 }}"),
        ),
        ("charts/vendored/Chart.yaml", &chart_yaml("vendored")),
        ("charts/split/Chart.yaml", &chart_yaml("split")),
        // `tpl` runs template text built at render time: here `now` is only a value.
        ("charts/tpl/Chart.yaml", &chart_yaml("tpl")),
        ("charts/tpl/values.yaml", "fn: now\n"),
        (
            "charts/tpl/templates/pod.yaml",
            &pod("registry.example/app:{{ tpl (printf \"{{ %s | date %q }}\" .Values.fn \"20060102150405.000000000\") . }}"),
        ),
        ("charts/calm/Chart.yaml", &chart_yaml("calm")),
        ("charts/calm/templates/pod.yaml", &pod(DIGEST)),
    ]);
    // A vendored dependency, packaged by real helm, whose template calls uuidv4.
    let lib = tree(&[
        ("lib/Chart.yaml", &chart_yaml("lib")),
        (
            "lib/templates/pod.yaml",
            &pod("registry.example/app:{{ uuidv4 }}"),
        ),
    ]);
    let packaged = Command::new(helm())
        .args(["package", "lib", "-d"])
        .arg(repo.path().join("charts/vendored/charts"))
        .current_dir(lib.path())
        .env("HOME", lib.path())
        .output()
        .unwrap();
    assert!(packaged.status.success(), "{packaged:?}");
    assert!(repo
        .path()
        .join("charts/vendored/charts/lib-0.1.0.tgz")
        .is_file());
    // A vendored archive in two gzip members: helm reads both (Go's gzip reader is
    // multistream), so the template of the second one is rendered too.
    let first = tar_entry("lib/Chart.yaml", chart_yaml("lib").as_bytes());
    let mut second = tar_entry(
        "lib/templates/pod.yaml",
        pod("registry.example/app:{{ uuidv4 }}").as_bytes(),
    );
    second.extend([0u8; 1024]);
    let mut two = gzip(&first);
    two.extend(gzip(&second));
    write(repo.path(), "charts/split/charts/lib-0.1.0.tgz", &two);

    let cache = tempfile::tempdir().unwrap();
    let first = images(repo.path(), cache.path());
    let second = images(repo.path(), cache.path());
    let volatile = ["clock", "helpers", "folder", "vendored", "split", "tpl"];
    for app in volatile {
        let app = format!("dev-{app}");
        let (a, b) = (&first[&app], &second[&app]);
        assert!(a.starts_with("registry.example/app:"), "{app}: {a}");
        assert_ne!(a, b, "{app} was rendered afresh, not served from the cache");
    }
    assert_eq!(first["dev-calm"], DIGEST);
    // The calm chart's render, and the one more render with markers that confirms the origins of
    // its findings; the volatile charts' marker renders are no more stored than their own.
    assert_eq!(
        entries(cache.path()),
        2,
        "only the calm chart (and its marker render) is stored"
    );
    let (_, statuses, _) = check(repo.path(), cache.path(), &[]);
    for app in volatile {
        assert_eq!(statuses[&format!("dev-{app}")], "rendered", "{app}");
    }
    assert_eq!(statuses["dev-calm"], "cached");
}

#[test]
fn helm_a_cached_render_is_held_to_todays_limits() {
    let config = |limits: &str| {
        format!(
            "version: 1\nenvironments:\n  - name: dev\ncomponents:\n  - {{ name: big, chart: charts/big }}\n  - {{ name: many, chart: charts/many }}\nlimits: {limits}\n"
        )
    };
    let repo = tree(&[
        (
            "imagegate.yaml",
            &config("{maxRenderedMib: 2, maxDocuments: 20}"),
        ),
        ("charts/big/Chart.yaml", &chart_yaml("big")),
        (
            "charts/big/templates/pod.yaml",
            &format!(
                "{}---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: blob}}\ndata: {{blob: {{{{ repeat 1500000 \"x\" | quote }}}}}}\n",
                pod(DIGEST)
            ),
        ),
        ("charts/many/Chart.yaml", &chart_yaml("many")),
        (
            "charts/many/templates/cms.yaml",
            "{{- range $i := until 12 }}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: \"cm-{{ $i }}\"}\n{{- end }}\n",
        ),
    ]);
    let cache = tempfile::tempdir().unwrap();
    let (code, statuses, _) = check(repo.path(), cache.path(), &[]);
    assert_eq!(code, 0);
    assert_eq!(statuses["dev-big"], "rendered");
    let (code, statuses, _) = check(repo.path(), cache.path(), &[]);
    assert_eq!((code, statuses["dev-big"].as_str()), (0, "cached"));
    assert_eq!(statuses["dev-many"], "cached");

    // Lower limits: both cells fail exactly as a fresh render would, cache or not.
    write(
        repo.path(),
        "imagegate.yaml",
        config("{maxRenderedMib: 1, maxDocuments: 10}").as_bytes(),
    );
    for extra in [&[][..], &["--no-cache"][..]] {
        let (code, statuses, report) = check(repo.path(), cache.path(), extra);
        assert_eq!(code, 1, "{extra:?}");
        assert_eq!(statuses["dev-big"], "failed", "{extra:?}");
        assert_eq!(statuses["dev-many"], "failed", "{extra:?}");
        let errors: Vec<&str> = report["cells"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["error"].as_str().unwrap())
            .collect();
        assert!(
            errors[0].contains("helm template wrote more than 1 MiB"),
            "{errors:?}"
        );
        assert!(
            errors[1].contains("rendered 12 documents, more than limits.maxDocuments (10)"),
            "{errors:?}"
        );
    }

    // Back to the first limits: the entries made under them serve again.
    write(
        repo.path(),
        "imagegate.yaml",
        config("{maxRenderedMib: 2, maxDocuments: 20}").as_bytes(),
    );
    let (code, statuses, _) = check(repo.path(), cache.path(), &[]);
    assert_eq!(code, 0);
    assert_eq!(statuses["dev-big"], "cached");
    // Another deadline is another bound: the render is not reused under it.
    let (_, statuses, _) = check(repo.path(), cache.path(), &["--timeout", "100"]);
    assert_eq!(statuses["dev-big"], "rendered");
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

/// `diff --base HEAD --format json ARGS`: (exit status, report).
fn diff(repo: &Path, cache: &Path, extra: &[&str]) -> (i32, Value) {
    let mut args = vec!["diff", "--base", "HEAD", "--format", "json"];
    args.extend_from_slice(extra);
    let out = run(repo, cache, &args);
    let code = out.status.code().unwrap_or(-1);
    assert!(code == 0 || code == 1, "exit {code}: {}", stderr(&out));
    (code, serde_json::from_slice(&out.stdout).unwrap())
}

#[test]
fn helm_diff_sees_a_rename_that_differs_only_in_bytes_that_are_not_utf8() {
    use std::os::unix::ffi::OsStrExt;
    // `.Files.Get` finds `files/f\xfe` on the base and nothing once it is renamed to
    // `files/f\xff`: the image becomes `:latest`. Read lossily, both names are `f\u{FFFD}` with
    // the same content, and the cell looked unchanged.
    let repo = tree(&[
        (
            "imagegate.yaml",
            "version: 1\nenvironments:\n  - name: dev\ncomponents:\n  - { name: web, chart: charts/web }\n",
        ),
        ("charts/web/Chart.yaml", &chart_yaml("web")),
        (
            "charts/web/templates/pod.yaml",
            &pod(&format!(
                "{{{{ if .Files.Get \"files/f\\xfe\" }}}}{DIGEST}{{{{ else }}}}registry.example/app:latest{{{{ end }}}}"
            )),
        ),
    ]);
    let file = |b: u8| {
        repo.path()
            .join("charts/web/files")
            .join(std::ffi::OsStr::from_bytes(&[b'f', b]))
    };
    std::fs::create_dir_all(file(0xfe).parent().unwrap()).unwrap();
    std::fs::write(file(0xfe), "present\n").unwrap();
    git(repo.path(), &["init", "-q"]);
    git(repo.path(), &["add", "-A"]);
    git(repo.path(), &["commit", "-q", "-m", "base"]);
    let cache = tempfile::tempdir().unwrap();
    let (code, r) = diff(repo.path(), cache.path(), &[]);
    assert_eq!((code, r["cells"]["unchanged"].as_u64()), (0, Some(1)));

    std::fs::rename(file(0xfe), file(0xff)).unwrap();
    for extra in [&[][..], &["--no-cache"][..]] {
        let (code, r) = diff(repo.path(), cache.path(), extra);
        assert_eq!(r["cells"]["changed"], 1, "{extra:?}: {r}");
        assert_eq!(code, 1, "{extra:?}: the new :latest fails the PR");
        let rules: Vec<&str> = r["new"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["rule"].as_str().unwrap())
            .collect();
        assert!(rules.contains(&"mutable-tag"), "{rules:?}");
    }
    // Committed and compared revision to revision, the same.
    git(repo.path(), &["add", "-A"]);
    git(repo.path(), &["commit", "-q", "-m", "rename"]);
    let out = run(
        repo.path(),
        cache.path(),
        &[
            "diff",
            "--base",
            "HEAD~1",
            "--head",
            "HEAD",
            "--format",
            "json",
            "--no-cache",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
}

#[test]
fn helm_diff_sees_a_change_of_max_documents() {
    // The base cannot judge the cell (too many documents); the head raises the limit and its
    // `:latest` images become visible: new findings, not an unchanged cell.
    let config = |max: u32| {
        format!(
            "version: 1\nenvironments:\n  - name: dev\ncomponents:\n  - {{ name: web, chart: charts/web }}\nlimits: {{maxDocuments: {max}}}\n"
        )
    };
    let mut docs = String::new();
    for i in 0..3 {
        docs.push_str(&format!(
            "---\n{}",
            pod("registry.example/app:latest").replace("name: app}", &format!("name: app-{i}}}"))
        ));
    }
    let repo = tree(&[
        ("imagegate.yaml", &config(2)),
        ("charts/web/Chart.yaml", &chart_yaml("web")),
        ("charts/web/templates/pods.yaml", &docs),
    ]);
    git(repo.path(), &["init", "-q"]);
    git(repo.path(), &["add", "-A"]);
    git(repo.path(), &["commit", "-q", "-m", "base"]);
    write(repo.path(), "imagegate.yaml", config(10).as_bytes());
    let cache = tempfile::tempdir().unwrap();
    for extra in [&[][..], &["--no-cache"][..]] {
        let (code, r) = diff(repo.path(), cache.path(), extra);
        assert_eq!(r["cells"]["changed"], 1, "{extra:?}: {r}");
        assert_eq!(
            r["changes"][0]["inputs"],
            serde_json::json!(["limits.maxDocuments"])
        );
        assert_eq!(code, 1, "{extra:?}");
    }
}
