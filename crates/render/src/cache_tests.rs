use super::*;
use std::fs;

fn rendered(stdout: &str) -> Result<Rendered, RenderFailure> {
    Ok(Rendered {
        stdout: stdout.into(),
        stderr: "warning: x".into(),
        elapsed: Duration::from_millis(40),
    })
}

fn key(n: u8) -> CacheKey {
    CacheKey {
        hash: [n; 32],
        reusable: true,
    }
}

/// No output bound: the tests of the entry format are not about limits.
const ANY: usize = usize::MAX;

fn stdout_of(r: Option<Result<Rendered, RenderFailure>>) -> Option<String> {
    r.and_then(|r| r.ok()).map(|r| r.stdout)
}

#[test]
fn entries_round_trip_successes_and_helm_refusals() {
    let dir = tempfile::tempdir().unwrap();
    let cache = RenderCache::open(dir.path(), DEFAULT_MAX_BYTES).unwrap();
    assert!(cache.get(&key(1), ANY).is_none());
    cache.put(&key(1), &rendered("kind: Pod\n"));
    let failure = RenderFailure {
        message: "Error: execution error: image.tag is required".into(),
        hint: Some("set it".into()),
        exceeded: None,
    };
    cache.put(&key(2), &Err(failure.clone()));
    let bare = RenderFailure {
        message: "Error: parse error".into(),
        hint: None,
        exceeded: None,
    };
    cache.put(&key(3), &Err(bare.clone()));

    let hit = cache.get(&key(1), ANY).unwrap().unwrap();
    assert_eq!(hit.stdout, "kind: Pod\n");
    assert_eq!(hit.stderr, "warning: x");
    assert_eq!(hit.elapsed, Duration::ZERO);
    assert_eq!(cache.get(&key(2), ANY).unwrap().unwrap_err(), failure);
    assert_eq!(cache.get(&key(3), ANY).unwrap().unwrap_err(), bare);
    assert_eq!(cache.hits(), 3);
    assert_eq!(cache.write_errors().0, 0);
    assert!(dir.path().join("CACHEDIR.TAG").is_file());
}

#[test]
fn corrupt_truncated_and_foreign_entries_are_ignored_then_rewritten() {
    let dir = tempfile::tempdir().unwrap();
    let cache = RenderCache::open(dir.path(), DEFAULT_MAX_BYTES).unwrap();
    cache.put(&key(7), &rendered("image: a\n"));
    let path = cache.path_of(&key(7));
    let good = fs::read(&path).unwrap();

    // One flipped bit in the body: the checksum no longer matches.
    let mut flipped = good.clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 0x01;
    fs::write(&path, &flipped).unwrap();
    assert!(
        cache.get(&key(7), ANY).is_none(),
        "a flipped byte is never trusted"
    );

    // Truncated (a crash of a writer that did not use rename would leave this).
    fs::write(&path, &good[..good.len() - 3]).unwrap();
    assert!(cache.get(&key(7), ANY).is_none());
    fs::write(&path, &good[..10]).unwrap();
    assert!(cache.get(&key(7), ANY).is_none());
    fs::write(&path, b"").unwrap();
    assert!(cache.get(&key(7), ANY).is_none());

    // A sound entry of another key placed under this key's name.
    cache.put(&key(8), &rendered("image: b\n"));
    fs::copy(cache.path_of(&key(8)), &path).unwrap();
    assert!(
        cache.get(&key(7), ANY).is_none(),
        "an entry is bound to its key"
    );

    // The next render overwrites the bad entry.
    cache.put(&key(7), &rendered("image: a\n"));
    assert_eq!(
        stdout_of(cache.get(&key(7), ANY)).as_deref(),
        Some("image: a\n")
    );
    assert_eq!(cache.hits(), 1, "only the sound entry counted as a hit");
}

#[test]
fn concurrent_writers_and_readers_never_see_half_an_entry() {
    let dir = tempfile::tempdir().unwrap();
    let big = "x".repeat(256 * 1024);
    std::thread::scope(|s| {
        for t in 0..8u8 {
            let dir = dir.path();
            let big = &big;
            s.spawn(move || {
                // Separate handles, as separate processes would have.
                let cache = RenderCache::open(dir, DEFAULT_MAX_BYTES).unwrap();
                for round in 0..20u8 {
                    let k = key(round % 4);
                    if (t + round) % 2 == 0 {
                        cache.put(&k, &rendered(&format!("{}{big}", round % 4)));
                    } else if let Some(got) = stdout_of(cache.get(&k, ANY)) {
                        assert_eq!(got, format!("{}{big}", round % 4), "a torn read");
                    }
                }
                assert_eq!(cache.write_errors().0, 0);
            });
        }
    });
    let cache = RenderCache::open(dir.path(), DEFAULT_MAX_BYTES).unwrap();
    for n in 0..4u8 {
        assert_eq!(
            stdout_of(cache.get(&key(n), ANY)),
            Some(format!("{n}{big}"))
        );
    }
    // No temporary file is left behind.
    let leftovers: Vec<_> = walkdir::WalkDir::new(cache.dir())
        .into_iter()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(".tmp-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

fn age(path: &Path, secs_ago: u64) {
    let f = fs::File::options().write(true).open(path).unwrap();
    f.set_modified(SystemTime::now() - Duration::from_secs(secs_ago))
        .unwrap();
}

#[test]
fn trim_evicts_least_recently_used_entries_down_to_the_bound() {
    let dir = tempfile::tempdir().unwrap();
    let body = "y".repeat(10_000);
    // Room for about four entries.
    let cache = RenderCache::open(dir.path(), 45_000).unwrap();
    for n in 0..6u8 {
        cache.put(&key(n), &rendered(&body));
        age(&cache.path_of(&key(n)), 1000 - u64::from(n) * 100);
    }
    // Entry 0 is the oldest written, but a hit makes it the most recently used.
    assert!(cache.get(&key(0), ANY).is_some());
    let stale = cache.dir().join("00").join(".tmp-crashed");
    fs::write(&stale, b"half").unwrap();
    age(&stale, 2 * 3600);

    let stats = cache.trim().unwrap();
    assert!(stats.bytes <= 45_000 / 10 * 9, "{stats:?}");
    assert!(!stale.exists(), "stale temporary files are removed");
    let alive: Vec<u8> = (0..6u8)
        .filter(|n| cache.path_of(&key(*n)).exists())
        .collect();
    assert_eq!(alive, vec![0, 3, 4, 5], "the least recently used go first");
    assert_eq!(stats.entries, 4);
    assert_eq!(stats.removed, 3, "two entries and the stale temporary file");

    // Under the bound, trim removes nothing.
    assert_eq!(cache.trim().unwrap().removed, 0);
}

fn cell(chart: &str, values: &[&str]) -> Cell {
    let app = format!("dev-{}", chart.rsplit('/').next().unwrap_or(chart));
    Cell {
        release: "dev-web".into(),
        namespace: "web".into(),
        component: "web".into(),
        ..Cell::new("dev", &app, chart).with_values(values)
    }
}

fn fleet() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let files = [
        (
            "charts/web/Chart.yaml",
            "apiVersion: v2\nname: web\nversion: 1.0.0\n",
        ),
        ("charts/web/templates/deploy.yaml", "kind: Deployment\n"),
        (
            "charts/api/Chart.yaml",
            "apiVersion: v2\nname: api\nversion: 1.0.0\n",
        ),
        ("values/globals.yaml", "a: 1\n"),
        ("values/dev.yaml", "b: 2\n"),
    ];
    for (p, t) in files {
        let p = dir.path().join(p);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, t).unwrap();
    }
    dir
}

fn opts() -> RenderOptions {
    RenderOptions {
        jobs: 2,
        ..RenderOptions::default()
    }
}

fn keys(dir: &Path, cells: &[Cell]) -> Vec<CacheKey> {
    let repo = Repo::open(dir).unwrap();
    cell_keys(&repo, cells, "v3.17.3", &opts())
        .into_iter()
        .map(|k| k.unwrap())
        .collect()
}

#[test]
fn keys_depend_on_content_not_on_where_the_repository_is() {
    let a = fleet();
    let b = fleet();
    let cells = [
        cell("charts/web", &["values/globals.yaml", "values/dev.yaml"]),
        cell("charts/api", &["values/globals.yaml"]),
    ];
    let ka = keys(a.path(), &cells);
    assert_eq!(
        ka,
        keys(b.path(), &cells),
        "two copies of one fleet share keys"
    );
    assert_ne!(ka[0], ka[1]);

    // A template change moves only the cells of that chart.
    fs::write(
        b.path().join("charts/web/templates/deploy.yaml"),
        "kind: StatefulSet\n",
    )
    .unwrap();
    let kb = keys(b.path(), &cells);
    assert_ne!(ka[0], kb[0]);
    assert_eq!(ka[1], kb[1]);

    // A renamed template moves it too (the `# Source:` comment changes).
    let b = fleet();
    fs::rename(
        b.path().join("charts/web/templates/deploy.yaml"),
        b.path().join("charts/web/templates/deployment.yaml"),
    )
    .unwrap();
    assert_ne!(ka[0], keys(b.path(), &cells)[0]);

    // A shared values file moves every cell that reads it.
    let b = fleet();
    fs::write(b.path().join("values/globals.yaml"), "a: 2\n").unwrap();
    let kb = keys(b.path(), &cells);
    assert_ne!(ka[0], kb[0]);
    assert_ne!(ka[1], kb[1]);

    // The order of the value stack, the helm version and the arguments all count.
    let swapped = [cell(
        "charts/web",
        &["values/dev.yaml", "values/globals.yaml"],
    )];
    assert_ne!(keys(a.path(), &swapped)[0], ka[0]);
    let repo = Repo::open(a.path()).unwrap();
    let v4 = cell_keys(&repo, &cells[..1], "v4.1.4", &opts());
    assert_ne!(v4[0].as_ref().unwrap(), &ka[0]);
    let mut other_ns = cells[0].clone();
    other_ns.namespace = "other".into();
    assert_ne!(keys(a.path(), &[other_ns])[0], ka[0]);
    let mut crds = cells[0].clone();
    crds.include_crds = true;
    assert_ne!(keys(a.path(), &[crds])[0], ka[0]);
}

#[test]
fn cells_with_problems_or_escaping_links_have_no_key() {
    let a = fleet();
    let repo = Repo::open(a.path()).unwrap();
    let mut broken = cell("charts/web", &[]);
    broken.problems = vec!["values file x does not exist (missingValueFiles: error)".into()];
    let outside = tempfile::tempdir().unwrap();
    fs::write(outside.path().join("secret"), "s").unwrap();
    std::os::unix::fs::symlink(
        outside.path().join("secret"),
        a.path().join("charts/api/templates-link"),
    )
    .unwrap();
    let got = cell_keys(
        &repo,
        &[broken, cell("charts/api", &[]), cell("charts/missing", &[])],
        "v3",
        &opts(),
    );
    assert!(got[0].as_ref().unwrap_err().contains("missingValueFiles"));
    assert!(got[1]
        .as_ref()
        .unwrap_err()
        .contains("outside the repository"));
    assert!(got[2].as_ref().unwrap_err().contains("does not exist"));

    // A link into the git folder stays inside the repository, but helm must not read it: the
    // walk that makes the key refuses it, so the render (which skips its own walk for a keyed
    // cell) never trusts such a chart.
    fs::create_dir_all(a.path().join(".git")).unwrap();
    fs::write(a.path().join(".git/config"), "[http] extraheader = token\n").unwrap();
    std::os::unix::fs::symlink(
        a.path().join(".git/config"),
        a.path().join("charts/web/config-link"),
    )
    .unwrap();
    let repo = Repo::open(a.path()).unwrap();
    let got = cell_keys(&repo, &[cell("charts/web", &[])], "v3", &opts());
    assert!(
        got[0].as_ref().unwrap_err().contains("into the git folder"),
        "{got:?}"
    );
}

/// A chart folder of `files` (path as raw bytes, content) under a fresh repository.
fn chart_of(files: &[(&[u8], &str)]) -> tempfile::TempDir {
    use std::os::unix::ffi::OsStrExt;
    let dir = tempfile::tempdir().unwrap();
    let chart = dir.path().join("charts/web");
    fs::create_dir_all(&chart).unwrap();
    fs::write(
        chart.join("Chart.yaml"),
        "apiVersion: v2\nname: web\nversion: 1.0.0\n",
    )
    .unwrap();
    for (path, text) in files {
        let p = chart.join(std::ffi::OsStr::from_bytes(path));
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, text).unwrap();
    }
    dir
}

#[test]
fn names_that_differ_only_in_bytes_that_are_not_utf8_have_different_keys() {
    // `.Files.Get "f\xfe"` finds the file in one chart and not in the other: helm renders them
    // differently, so one chart's render must never stand for the other's (nor may `diff`
    // call the change "unchanged").
    let body = "kind: ConfigMap\n";
    let cells = [cell("charts/web", &[])];
    let fe = keys(chart_of(&[(b"templates/f\xfe.yaml", body)]).path(), &cells)[0];
    let ff = keys(chart_of(&[(b"templates/f\xff.yaml", body)]).path(), &cells)[0];
    // What a lossy conversion turns both names into, spelled out in valid UTF-8.
    let replacement = keys(
        chart_of(&[("templates/f\u{FFFD}.yaml".as_bytes(), body)]).path(),
        &cells,
    )[0];
    assert_ne!(fe, ff);
    assert_ne!(fe, replacement);
    assert_ne!(ff, replacement);
    // Same names, same key: the raw bytes are stable.
    assert_eq!(
        fe,
        keys(chart_of(&[(b"templates/f\xfe.yaml", body)]).path(), &cells)[0]
    );
}

#[test]
fn a_backslash_in_a_name_is_not_a_folder_separator() {
    // On unix `templates\x.yaml` is one file at the chart's root, which helm does not render;
    // `templates/x.yaml` is a template. An empty `templates` folder next to the first made the
    // two walks hash alike when `\` was rewritten to `/`.
    let cells = [cell("charts/web", &[])];
    let template = chart_of(&[(b"templates/x.yaml", "kind: ConfigMap\n")]);
    let flat = chart_of(&[(b"templates\\x.yaml", "kind: ConfigMap\n")]);
    fs::create_dir_all(flat.path().join("charts/web/templates")).unwrap();
    assert_ne!(
        keys(template.path(), &cells)[0],
        keys(flat.path(), &cells)[0]
    );
}

#[test]
fn a_link_and_the_file_it_leads_to_have_different_keys() {
    let cells = [cell("charts/web", &[])];
    let copy = chart_of(&[(b"templates/x.yaml", "kind: ConfigMap\n")]);
    let linked = chart_of(&[(b"shared/x.yaml", "kind: ConfigMap\n")]);
    fs::create_dir_all(linked.path().join("charts/web/templates")).unwrap();
    std::os::unix::fs::symlink(
        "../shared/x.yaml",
        linked.path().join("charts/web/templates/x.yaml"),
    )
    .unwrap();
    let copy_keys = keys(copy.path(), &cells);
    let linked_keys = keys(linked.path(), &cells);
    assert_ne!(copy_keys[0], linked_keys[0]);
}

#[test]
fn the_bounds_a_render_finished_within_are_part_of_its_key() {
    let a = fleet();
    let repo = Repo::open(a.path()).unwrap();
    let cells = [cell("charts/web", &[])];
    let base = cell_keys(&repo, &cells, "v3", &opts()).remove(0).unwrap();
    let variants = [
        RenderOptions {
            max_output_bytes: opts().max_output_bytes / 2,
            ..opts()
        },
        RenderOptions {
            timeout: opts().timeout / 2,
            ..opts()
        },
        RenderOptions {
            max_memory_bytes: None,
            ..opts()
        },
        RenderOptions {
            max_memory_bytes: Some(1 << 30),
            ..opts()
        },
    ];
    for v in &variants {
        let k = cell_keys(&repo, &cells, "v3", v).remove(0).unwrap();
        assert_ne!(k, base, "{v:?}");
    }
    // The number of threads is not a bound: it changes nothing.
    let one = RenderOptions { jobs: 1, ..opts() };
    assert_eq!(
        cell_keys(&repo, &cells, "v3", &one).remove(0).unwrap(),
        base
    );
}

#[test]
fn an_entry_larger_than_todays_output_limit_is_not_served() {
    // Stored by a run with a higher limits.maxRenderedMib; a fresh render under today's lower
    // limit would have been killed, so the cell must render again (and fail the same way).
    let dir = tempfile::tempdir().unwrap();
    let cache = RenderCache::open(dir.path(), DEFAULT_MAX_BYTES).unwrap();
    let body = "x".repeat(1000);
    cache.put(&key(1), &rendered(&body));
    assert!(cache.get(&key(1), 999).is_none());
    assert_eq!(cache.hits(), 0, "a refused entry is no hit");
    assert_eq!(stdout_of(cache.get(&key(1), 1000)), Some(body));
    // A stored helm refusal has no output to measure: it is still the same refusal.
    let refusal = RenderFailure {
        message: "Error: execution error".into(),
        hint: None,
        exceeded: None,
    };
    cache.put(&key(2), &Err(refusal.clone()));
    assert_eq!(cache.get(&key(2), 0).unwrap().unwrap_err(), refusal);
}

#[test]
fn charts_that_call_the_clock_randomness_or_tpl_get_keys_that_are_never_reused() {
    let cells = [cell("charts/web", &[])];
    let cases: [(&[u8], &str); 4] = [
        (
            b"templates/deploy.yaml",
            "image: app{{ if gt (now | unixEpoch) 1767225600 }}:latest{{ else }}@sha256:0{{ end }}\n",
        ),
        (
            b"templates/_helpers.tpl",
            "{{- define \"web.tag\" -}}{{ randAlphaNum 8 }}{{- end -}}\n",
        ),
        (
            b"charts/sub/templates/cm.yaml",
            "data: {id: {{ uuidv4 | quote }}}\n",
        ),
        (b"templates/raw.yaml", "{{ tpl .Values.raw . }}\n"),
    ];
    let dir = tempfile::tempdir().unwrap();
    let cache = RenderCache::open(dir.path(), DEFAULT_MAX_BYTES).unwrap();
    for (path, text) in cases {
        let repo = chart_of(&[(path, text)]);
        let k = keys(repo.path(), &cells)[0];
        assert!(!k.reusable(), "{text}");
        // Same inputs still mean the same key (diff compares them), but nothing is stored.
        assert_eq!(k, keys(repo.path(), &cells)[0]);
        cache.put(&k, &rendered("image: app:latest\n"));
        assert!(!cache.path_of(&k).exists(), "{text}: nothing is stored");
        assert!(cache.get(&k, ANY).is_none());
    }
    // The same charts without the call are cached as before.
    let calm = chart_of(&[(b"templates/deploy.yaml", "image: app@sha256:0\n")]);
    assert!(keys(calm.path(), &cells)[0].reusable());
}

#[test]
fn a_cache_folder_with_a_link_inside_is_refused_before_anything_is_written() {
    use std::os::unix::fs::symlink;
    let repo = tempfile::tempdir().unwrap();
    let target = repo.path().join("seeded");
    let forged = encode(&key(9), &rendered("image: app:latest\n"));
    let hex = key(9).hex();
    type Plant = fn(&Path, &Path, &str, &[u8]);
    let plants: [(&str, Plant); 4] = [
        ("the format folder", |cache, target, _, _| {
            fs::create_dir_all(target).unwrap();
            symlink(target, cache.join("v1")).unwrap();
        }),
        ("a fan-out folder", |cache, target, hex, _| {
            fs::create_dir_all(target).unwrap();
            fs::create_dir_all(cache.join("v1")).unwrap();
            symlink(target, cache.join("v1").join(&hex[..2])).unwrap();
        }),
        ("an entry", |cache, target, hex, forged| {
            fs::write(target, forged).unwrap();
            let fan = cache.join("v1").join(&hex[..2]);
            fs::create_dir_all(&fan).unwrap();
            symlink(target, fan.join(hex)).unwrap();
        }),
        ("the tag file, dangling", |cache, target, _, _| {
            symlink(target, cache.join("CACHEDIR.TAG")).unwrap();
        }),
    ];
    for (what, plant) in plants {
        let cache = tempfile::tempdir().unwrap();
        let _ = fs::remove_dir_all(&target);
        let _ = fs::remove_file(&target);
        plant(cache.path(), &target, &hex, &forged);
        let before = walkdir::WalkDir::new(repo.path())
            .into_iter()
            .flatten()
            .count();
        let err = RenderCache::open(cache.path(), DEFAULT_MAX_BYTES)
            .expect_err(&format!("{what}: a link is refused"));
        assert!(err.link.is_some(), "{what}: {err}");
        assert!(err.to_string().contains("symbolic link"), "{what}: {err}");
        assert!(err.path.starts_with(cache.path()), "{what}: {err}");
        let after = walkdir::WalkDir::new(repo.path())
            .into_iter()
            .flatten()
            .count();
        assert_eq!(
            before, after,
            "{what}: nothing was created through the link"
        );
    }
}

#[test]
fn links_that_appear_after_opening_are_not_followed() {
    use std::os::unix::fs::symlink;
    let repo = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cache = RenderCache::open(dir.path(), 30_000).unwrap();
    let hex = key(9).hex();
    let fan = cache.dir().join(&hex[..2]);

    // An entry that is a link to a forged entry in the repository: not served.
    let forged = repo.path().join("forged");
    fs::write(&forged, encode(&key(9), &rendered("image: app:latest\n"))).unwrap();
    fs::create_dir_all(&fan).unwrap();
    symlink(&forged, fan.join(&hex)).unwrap();
    assert!(cache.get(&key(9), ANY).is_none());
    // Storing replaces the link itself; the repository's file is untouched.
    cache.put(&key(9), &rendered("image: app@sha256:0\n"));
    assert!(!fs::symlink_metadata(fan.join(&hex))
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(
        fs::read(&forged).unwrap(),
        encode(&key(9), &rendered("image: app:latest\n"))
    );

    // A fan-out folder that is a link into the repository: nothing is read, written or trimmed
    // there.
    let seeded = repo.path().join("seeded");
    fs::create_dir_all(&seeded).unwrap();
    let k = key(0x42);
    fs::write(
        seeded.join(k.hex()),
        encode(&k, &rendered("image: app:latest\n")),
    )
    .unwrap();
    fs::write(seeded.join("big"), "z".repeat(100_000)).unwrap();
    symlink(&seeded, cache.dir().join("42")).unwrap();
    assert!(cache.get(&k, ANY).is_none());
    cache.put(&k, &rendered("image: app@sha256:0\n"));
    assert_eq!(
        cache.write_errors().0,
        1,
        "the write through the link is refused"
    );
    assert!(cache.write_errors().1.unwrap().contains("symbolic link"));
    for n in 0..4u8 {
        cache.put(&key(n), &rendered(&"y".repeat(10_000)));
    }
    cache.trim().unwrap();
    let mut left: Vec<_> = fs::read_dir(&seeded)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    left.sort();
    assert_eq!(left, vec![k.hex().into(), std::ffi::OsString::from("big")]);
}

/// An Argo CD cell's inline values, its parameters and the files its `--set-file` reads are all
/// inputs of its key.
#[test]
fn inline_values_and_parameters_are_part_of_the_key() {
    let a = fleet();
    let base = cell("charts/web", &["values/globals.yaml"]);
    let inline = |text: &str| imagegate_fleet::InlineValues {
        text: text.into(),
        file: "argocd/web.yaml".into(),
        line: 9,
        field: "spec.source.helm.values".into(),
    };
    let param = |kind, name: &str, value: &str| imagegate_fleet::HelmParameter {
        name: name.into(),
        value: value.into(),
        kind,
        file: "argocd/web.yaml".into(),
        line: 12,
    };
    let with = |values: Option<&str>, params: Vec<imagegate_fleet::HelmParameter>| Cell {
        inline_values: values.map(inline),
        parameters: params,
        ..base.clone()
    };
    use imagegate_fleet::ParameterKind::{Set, SetFile, SetString};
    let cells = [
        base.clone(),
        with(Some("a: 1\n"), vec![]),
        with(Some("a: 2\n"), vec![]),
        with(None, vec![param(Set, "image.tag", "1")]),
        with(None, vec![param(SetString, "image.tag", "1")]),
        with(None, vec![param(Set, "image.tag", "2")]),
        with(None, vec![param(SetFile, "cfg", "values/dev.yaml")]),
    ];
    let ka = keys(a.path(), &cells);
    for i in 0..ka.len() {
        for j in 0..i {
            assert_ne!(ka[i], ka[j], "cells {j} and {i} share a key");
        }
    }
    // The file a `--set-file` reads moves the key when it changes; the other cells stay.
    fs::write(a.path().join("values/dev.yaml"), "b: 3\n").unwrap();
    let kb = keys(a.path(), &cells);
    assert_ne!(ka[6], kb[6]);
    assert_eq!(ka[..6], kb[..6]);
}

/// A render of a cell with its values given as text (a marker render in place) is keyed by
/// those texts: in a key of its own ([`cell_keys`]) and in a variant of the cell's key
/// ([`CacheKey::variant`]), which moves with every text, its order, the inline values and the
/// parameters, and stays apart from the cell's own key.
#[test]
fn values_given_as_text_are_part_of_the_key_and_of_its_variants() {
    let a = fleet();
    let base = cell("charts/web", &["values/globals.yaml"]);
    let texts = |t: &[&str]| Cell {
        value_texts: t.iter().map(|s| (*s).to_string()).collect(),
        value_files: Vec::new(),
        ..base.clone()
    };
    let variants = [
        texts(&[]),
        texts(&["a: 1\n"]),
        texts(&["a: 2\n"]),
        texts(&["a: 1\n", "b: 1\n"]),
        texts(&["b: 1\n", "a: 1\n"]),
        texts(&["a: 1\nb: 1\n"]),
        Cell {
            parameters: vec![imagegate_fleet::HelmParameter {
                name: "image.tag".into(),
                value: "igm1q".into(),
                kind: imagegate_fleet::ParameterKind::Set,
                file: "argocd/web.yaml".into(),
                line: 12,
            }],
            ..texts(&["a: 1\n"])
        },
    ];
    let own = keys(a.path(), std::slice::from_ref(&base))[0];
    let derived: Vec<CacheKey> = variants.iter().map(|v| own.variant(v)).collect();
    let keyed = keys(a.path(), &variants[1..6]);
    for (i, k) in derived.iter().enumerate() {
        assert_ne!(*k, own, "variant {i} has the cell's own key");
        assert_eq!(*k, own.variant(&variants[i]), "variant {i} is not stable");
        for (j, other) in derived.iter().enumerate().take(i) {
            assert_ne!(k, other, "variants {j} and {i} share a key");
        }
    }
    for i in 0..keyed.len() {
        for j in 0..i {
            assert_ne!(keyed[i], keyed[j], "cells {j} and {i} share a key");
        }
    }
    // A chart that calls the clock keeps its variants from being stored.
    assert_eq!(own.variant(&variants[1]).reusable(), own.reusable());
}

/// A fan-out folder the cache made earlier in the run and that is then replaced by a link, or
/// removed: the next `put` into it is refused, or makes it again.
#[test]
fn a_fan_out_folder_changed_after_a_put_is_checked_again() {
    use std::os::unix::fs::symlink;
    let elsewhere = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cache = RenderCache::open(dir.path(), 1 << 20).unwrap();
    let mut hash = [7; 32];
    hash[31] = 8;
    let (a, b) = (
        key(7),
        CacheKey {
            hash,
            reusable: true,
        },
    );
    let fan = cache.dir().join(&a.hex()[..2]);
    assert_eq!(
        &b.hex()[..2],
        &a.hex()[..2],
        "both keys share a fan-out folder"
    );

    cache.put(&a, &rendered("image: a@sha256:0\n"));
    assert_eq!(cache.write_errors().0, 0);
    fs::remove_dir_all(&fan).unwrap();
    cache.put(&b, &rendered("image: b@sha256:0\n"));
    assert_eq!(cache.write_errors().0, 0, "a removed folder is made again");
    assert_eq!(
        stdout_of(cache.get(&b, ANY)).as_deref(),
        Some("image: b@sha256:0\n")
    );

    fs::remove_dir_all(&fan).unwrap();
    symlink(elsewhere.path(), &fan).unwrap();
    cache.put(&a, &rendered("image: a@sha256:0\n"));
    assert_eq!(
        cache.write_errors().0,
        1,
        "the write through the link is refused"
    );
    assert_eq!(fs::read_dir(elsewhere.path()).unwrap().count(), 0);
}
