//! `imagegate pin` end to end: real helm renders a copy of charts-testdata whose `local` images
//! live in a real registry on the loopback interface (`docker-registry`, images pushed with
//! `skopeo`). Pinning `local` rewrites exactly the values lines that set those images to the
//! digests the registry serves, every other byte of the repository stays, and `check --env local`
//! has no `digest-required` or `mutable-tag` finding left for them. A registry that is down is
//! exit 2 with nothing edited; an image the registry lacks is refused, the others pinned.

mod common;
#[path = "../crates/registry/tests/support/mod.rs"]
mod support;

use common::*;
use serde_json::Value;
use support::{free_port, Layout, TestRegistry};

/// The two files of charts-testdata that set `local`'s unpinned images, and what they set.
const MIGRATIONS_FILE: &str = "sources/values/env/local/apps/transformation-v0.yaml";
const WWW_FILE: &str = "sources/values/env/local/apps/www.yaml";

/// A copy of charts-testdata whose two unpinned `local` images come from registry `host`
/// (`migrations:dev`, a channel tag, and `busybox`, no tag at all).
fn fleet_on(host: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&root().join("charts-testdata"), dir.path());
    let edit = |file: &str, from: &str, to: &str| {
        let path = dir.path().join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(from), "{file} no longer holds {from}");
        std::fs::write(&path, text.replace(from, to)).unwrap();
    };
    edit(
        MIGRATIONS_FILE,
        "ghcr.io/ameideio/migrations:dev",
        &format!("{host}/ameideio/migrations:dev"),
    );
    edit(
        WWW_FILE,
        "image: busybox",
        &format!("image: {host}/library/busybox"),
    );
    dir
}

/// `(rule, image)` of the not-excepted `digest-required` and `mutable-tag` findings of
/// `check --env local`.
fn unpinned(dir: &std::path::Path) -> Vec<(String, String)> {
    let out = imagegate(
        &[
            "check",
            "--env",
            "local",
            "--no-progress",
            "--no-cache",
            "--format",
            "json",
        ],
        dir,
    );
    let report: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}{}", stdout(&out), stderr(&out)));
    let mut found: Vec<(String, String)> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| {
            matches!(f["rule"].as_str(), Some("digest-required" | "mutable-tag"))
                && f["excepted"] != true
        })
        .map(|f| {
            (
                f["rule"].as_str().unwrap().to_owned(),
                f["image"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    found.sort();
    found
}

/// Pushes `local`'s migration job image, `ameideio/migrations:dev`; returns its digest.
fn push_migrations(registry: &TestRegistry) -> String {
    registry.push(
        &Layout::single("linux/amd64", "migrations"),
        "ameideio/migrations",
        "dev",
    )
}

fn pin(dir: &std::path::Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["pin", "--env", "local"];
    args.extend_from_slice(extra);
    imagegate(&args, dir)
}

#[test]
fn helm_pin_local_pins_what_the_registry_has_and_changes_nothing_else() {
    let registry = TestRegistry::start();
    let host = registry.host.clone();
    let migrations = push_migrations(&registry);
    let busybox = registry.push(
        &Layout::index(&["linux/amd64", "linux/arm64"], "busybox"),
        "library/busybox",
        "latest",
    );
    let dir = fleet_on(&host);
    let d = dir.path();
    assert_eq!(
        unpinned(d),
        [
            (
                "digest-required".into(),
                format!("{host}/ameideio/migrations:dev")
            ),
            ("digest-required".into(), format!("{host}/library/busybox")),
            (
                "mutable-tag".into(),
                format!("{host}/ameideio/migrations:dev")
            ),
        ]
    );
    let before = snapshot(d);

    // --dry-run asks the registry, shows the diff, writes nothing.
    let out = pin(d, &["--dry-run"]);
    assert_exit(&out, 0);
    let text = stdout(&out);
    assert!(
        text.contains("pin local: 2 image(s) to pin, 0 not pinned")
            && text.contains(&format!(
                "+    migrationJobImage: {host}/ameideio/migrations@{migrations}"
            ))
            && text.contains(&format!("+  image: {host}/library/busybox@{busybox}"))
            && text.ends_with("dry run: nothing written\n"),
        "{text}"
    );
    assert_eq!(changed(&before, &snapshot(d)), Vec::<String>::new());

    let out = pin(d, &[]);
    assert_exit(&out, 0);
    assert!(
        stdout(&out).contains("2 file(s) written; local rendered again"),
        "{}",
        stdout(&out)
    );
    let after = snapshot(d);
    // The two lines, and not one other byte of the repository.
    assert_eq!(changed(&before, &after), [MIGRATIONS_FILE, WWW_FILE]);
    let was = String::from_utf8(before[MIGRATIONS_FILE].clone()).unwrap();
    assert_eq!(
        String::from_utf8(after[MIGRATIONS_FILE].clone()).unwrap(),
        was.replace(
            &format!("{host}/ameideio/migrations:dev"),
            &format!("{host}/ameideio/migrations@{migrations}")
        )
    );
    let was = String::from_utf8(before[WWW_FILE].clone()).unwrap();
    assert_eq!(
        String::from_utf8(after[WWW_FILE].clone()).unwrap(),
        was.replace(
            &format!("image: {host}/library/busybox"),
            &format!("image: {host}/library/busybox@{busybox}")
        )
    );
    assert_eq!(unpinned(d), Vec::<(String, String)>::new());

    // Pinned: nothing more to do.
    let out = pin(d, &["--format", "json"]);
    assert_exit(&out, 0);
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["pins"][0]["pins"], serde_json::json!([]), "{doc}");
    assert_eq!(changed(&after, &snapshot(d)), Vec::<String>::new());
}

#[test]
fn helm_pin_refuses_what_the_registry_lacks_and_pins_the_rest() {
    let registry = TestRegistry::start();
    let host = registry.host.clone();
    let migrations = push_migrations(&registry);
    let dir = fleet_on(&host);
    let d = dir.path();
    let before = snapshot(d);
    let out = pin(d, &[]);
    assert_exit(&out, 1);
    let text = stdout(&out);
    assert!(
        text.contains("pin local: 1 image(s) to pin, 1 not pinned")
            && text.contains(&format!(
                "{host}/library/busybox: the registry has no `{host}/library/busybox`"
            )),
        "{text}"
    );
    assert_eq!(changed(&before, &snapshot(d)), [MIGRATIONS_FILE]);
    assert_eq!(
        unpinned(d),
        [("digest-required".into(), format!("{host}/library/busybox"))]
    );
    assert!(std::fs::read_to_string(d.join(MIGRATIONS_FILE))
        .unwrap()
        .contains(&migrations));
}

/// `pin --env local` on the fleet of registry `host` is exit 2 and writes nothing; its
/// stderr, for more checks.
fn pin_fails_closed(host: &str) -> String {
    let dir = fleet_on(host);
    let d = dir.path();
    let before = snapshot(d);
    let out = pin(d, &[]);
    assert_exit(&out, 2);
    let err = stderr(&out);
    assert!(
        err.contains("could not be resolved in their registry, so nothing was pinned")
            && err.contains(&format!("{host}/ameideio/migrations:dev")),
        "{err}"
    );
    assert_eq!(changed(&before, &snapshot(d)), Vec::<String>::new());
    err
}

#[test]
fn helm_pin_with_a_registry_that_is_down_is_exit_2_and_edits_nothing() {
    // Nothing listens on this port.
    let host = format!("127.0.0.1:{}", free_port());
    let err = pin_fails_closed(&host);
    assert!(
        err.contains("2 image(s) could not be resolved")
            && err.contains(&format!("{host}/library/busybox")),
        "{err}"
    );
}

/// A chart that splits repository, tag and digest: the digest goes into the `digest` key, as
/// an override in the environment's own values file (the chart's defaults are every
/// environment's); a mutable tag the chart cannot drop is refused, with why.
#[test]
fn helm_pin_a_split_chart_overrides_its_digest_key_in_the_environments_own_file() {
    let registry = TestRegistry::start();
    let host = registry.host.clone();
    let web = registry.push(&Layout::single("linux/amd64", "web"), "acme/web", "v1.2.3");
    registry.push(&Layout::single("linux/amd64", "side"), "acme/side", "main");
    let template = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\nspec:\n  containers:\n{{- range $name := list \"web\" \"side\" }}\n{{- $i := index $.Values $name }}\n    - name: {{ $name }}\n      image: \"{{ $i.repository }}:{{ $i.tag }}{{ with $i.digest }}@{{ . }}{{ end }}\"\n      imagePullPolicy: IfNotPresent\n{{- end }}\n";
    let defaults = format!(
        "# Both images, unpinned.\nweb:\n  repository: {host}/acme/web\n  tag: v1.2.3\n  digest: \"\"\nside:\n  repository: {host}/acme/side\n  tag: main\n  digest: \"\"\n"
    );
    let local = "# local's own values\nreplicas: 1\n";
    let dir = tree(&[
        (
            "imagegate.yaml",
            "version: 1\nenvironments:\n  - name: dev\n  - name: local\ncomponents:\n  - name: web\n    chart: charts/web\n    valueFiles: [\"values/{env}.yaml\"]\n",
        ),
        ("charts/web/Chart.yaml", "apiVersion: v2\nname: web\nversion: 0.1.0\n"),
        ("charts/web/templates/pod.yaml", template),
        ("charts/web/values.yaml", &defaults),
        ("values/dev.yaml", "replicas: 1\n"),
        ("values/local.yaml", local),
    ]);
    let d = dir.path();
    let before = snapshot(d);
    let out = pin(d, &[]);
    assert_exit(&out, 1);
    let text = stdout(&out);
    assert!(
        text.contains("pin local: 1 image(s) to pin, 1 not pinned")
            && text.contains("values/local.yaml:4 web.digest (new override)")
            && text.contains("writes `main` for `side.tag`, and the new tag cannot be put into it"),
        "{text}"
    );
    assert_eq!(changed(&before, &snapshot(d)), ["values/local.yaml"]);
    assert_eq!(
        std::fs::read_to_string(d.join("values/local.yaml")).unwrap(),
        format!("{local}web:\n  digest: {web}\n")
    );
    let images = |env: &str| -> Vec<String> {
        let out = imagegate(
            &["images", "--env", env, "--format", "json", "--no-progress"],
            d,
        );
        assert_exit(&out, 0);
        let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
        let mut all: Vec<String> = doc["images"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["image"].as_str().unwrap().to_owned())
            .collect();
        all.sort();
        all
    };
    assert_eq!(
        images("local"),
        [
            format!("{host}/acme/side:main"),
            format!("{host}/acme/web:v1.2.3@{web}")
        ]
    );
    // dev reads the same defaults and is not touched.
    assert_eq!(
        images("dev"),
        [
            format!("{host}/acme/side:main"),
            format!("{host}/acme/web:v1.2.3")
        ]
    );
    // Without --env every environment, one after another: dev gets its own override; local,
    // read again after its own edit, has nothing more to pin.
    let out = imagegate(&["pin"], d);
    assert_exit(&out, 1);
    let text = stdout(&out);
    assert!(
        text.contains("pin dev: 1 image(s) to pin, 1 not pinned")
            && text.contains("pin local: 0 image(s) to pin, 1 not pinned"),
        "{text}"
    );
    assert_eq!(
        std::fs::read_to_string(d.join("values/dev.yaml")).unwrap(),
        format!("replicas: 1\nweb:\n  digest: {web}\n")
    );
    assert_eq!(
        images("dev"),
        [
            format!("{host}/acme/side:main"),
            format!("{host}/acme/web:v1.2.3@{web}")
        ]
    );
}

/// A registry that wants credentials the run does not have: exit 2, nothing edited.
#[test]
fn helm_pin_refused_by_the_registry_is_exit_2_and_edits_nothing() {
    let registry = TestRegistry::start_with_login("ci", "s3cret-pass");
    push_migrations(&registry);
    let err = pin_fails_closed(&registry.host);
    assert!(!err.contains("s3cret-pass"), "{err}");
}

/// A registry whose stored manifest does not hash to the digest it names for the tag (a
/// corrupted store, a tampering proxy): exit 2, nothing edited, never a pin to those bytes.
#[test]
fn helm_pin_from_a_registry_serving_other_bytes_is_exit_2_and_edits_nothing() {
    let registry = TestRegistry::start();
    let digest = push_migrations(&registry);
    registry.corrupt_blob(&digest);
    let err = pin_fails_closed(&registry.host);
    assert!(err.contains("does not match"), "{err}");
}
