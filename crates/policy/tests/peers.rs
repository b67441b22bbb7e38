//! The peer tools' own test fixtures for image digest, tag and pull policy, under `tests/peers/`
//! (one folder per tool: the fixtures at their upstream paths, the tool's licence, and
//! `SOURCES.yaml` with the commit, the checks and each object's verdict by the peer), judged by
//! imagegate with the default policy:
//!
//! - every object a peer fails yields at least one finding of the rules its check maps to;
//! - every object a peer passes is reported as agreeing (no finding of those rules) or as one
//!   where imagegate is stricter;
//! - every fixture file, with each image rewritten to a digest-pinned reference without a tag and
//!   `imagePullPolicy: IfNotPresent`, yields no finding at all.
//!
//! The counts are docs/peers.md, which this test renders and compares; run it with
//! `IMAGEGATE_UPDATE_DOCS=1` to rewrite the page.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use imagegate_policy::RuleId;
use imagegate_yaml::Limits;
use serde::Deserialize;
use serde_json::Value;

mod common;
use common::judge;

/// A folder's `SOURCES.yaml`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Sources {
    tool: String,
    repo: String,
    commit: String,
    license: String,
    checks: Vec<Check>,
    fixtures: Vec<Fixture>,
}

/// One check of the peer, and the imagegate rules that answer the same risk.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Check {
    id: String,
    says: String,
    source: String,
    verdicts: String,
    rules: Vec<String>,
}

/// One fixture file and the peer's verdict on each of its objects (`Kind/name`).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Fixture {
    file: String,
    check: String,
    /// The upstream file the manifests were taken from, when they are not a file of their own
    /// upstream (examples in block strings, inputs built in test code).
    #[serde(default)]
    derived: Option<String>,
    /// The peer's configuration for this fixture, when its test sets one.
    #[serde(default)]
    settings: Option<BTreeMap<String, Vec<String>>>,
    #[serde(default)]
    fail: Vec<String>,
    #[serde(default)]
    pass: Vec<String>,
}

/// What imagegate said of one check's fixtures.
#[derive(Default)]
struct Tally {
    objects: usize,
    peer_fails: usize,
    imagegate_fails: usize,
    peer_passes: usize,
    stricter: Vec<String>,
    failing_files: usize,
    compliant_pass: usize,
}

impl Tally {
    fn add(&mut self, t: &Tally) {
        self.objects += t.objects;
        self.peer_fails += t.peer_fails;
        self.imagegate_fails += t.imagegate_fails;
        self.peer_passes += t.peer_passes;
        self.stricter.extend(t.stricter.iter().cloned());
        self.failing_files += t.failing_files;
        self.compliant_pass += t.compliant_pass;
    }

    /// The table row: `label` holds the first three cells.
    fn row(&self, label: &str) -> String {
        format!(
            "| {label} | {} | {} | {} | {} | {} | {} | {} |\n",
            self.objects,
            self.peer_fails,
            self.imagegate_fails,
            self.peer_passes,
            self.stricter.len(),
            self.failing_files,
            self.compliant_pass,
        )
    }
}

const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

fn peers_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers")
}

/// The reference without its tag and digest, pinned to [`DIGEST`].
fn pinned(image: &str) -> String {
    let name = image.split('@').next().unwrap_or_default();
    let name = match (name.rfind(':'), name.rfind('/')) {
        (Some(colon), slash) if slash.is_none_or(|s| colon > s) => &name[..colon],
        _ => name,
    };
    format!("{name}@{DIGEST}")
}

/// Every map with a string `image` gets a pinned image and `imagePullPolicy: IfNotPresent`.
fn make_compliant(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(image)) = map.get("image") {
                let image = pinned(image);
                map.insert("image".into(), Value::String(image));
                map.insert("imagePullPolicy".into(), "IfNotPresent".into());
            }
            map.values_mut().for_each(make_compliant);
        }
        Value::Array(items) => items.iter_mut().for_each(make_compliant),
        _ => {}
    }
}

/// The fixture with every image made compliant, as a stream of JSON documents.
fn compliant(text: &str, path: &str) -> String {
    let docs = imagegate_yaml::load_all(text, &Limits::default())
        .unwrap_or_else(|e| panic!("{path}: {e}"));
    docs.iter()
        .map(|d| {
            let mut json = d.to_json();
            make_compliant(&mut json);
            serde_json::to_string(&json).expect("JSON serialises")
        })
        .collect::<Vec<_>>()
        .join("\n---\n")
}

fn key(kind: &str, name: &str) -> String {
    format!("{kind}/{name}")
}

/// Every file of a tool's folder but its licence and sources, relative to the folder.
fn files_under(root: &Path, dir: &Path, out: &mut BTreeSet<String>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            files_under(root, &path, out);
        } else {
            let rel = path.strip_prefix(root).expect("under root");
            let rel = rel.to_string_lossy().into_owned();
            if !matches!(rel.as_str(), "LICENSE" | "NOTICE" | "SOURCES.yaml") {
                out.insert(rel);
            }
        }
    }
}

struct Judged {
    sources: Sources,
    tallies: BTreeMap<String, Tally>,
}

/// Judges one tool's folder; returns what it found and the list of disagreements that are
/// imagegate's misses or wrong bookkeeping (each one a test failure).
fn judge_tool(dir: &Path, problems: &mut Vec<String>) -> Judged {
    let tool = dir
        .file_name()
        .expect("name")
        .to_string_lossy()
        .into_owned();
    let text = std::fs::read_to_string(dir.join("SOURCES.yaml"))
        .unwrap_or_else(|e| panic!("{tool}/SOURCES.yaml: {e}"));
    let sources: Sources = imagegate_yaml::from_str(&text, &Limits::default())
        .unwrap_or_else(|e| panic!("{tool}/SOURCES.yaml: {}", e.describe()));
    assert!(
        dir.join("LICENSE").is_file(),
        "{tool}: the tool's LICENSE is vendored beside its fixtures"
    );
    assert_eq!(sources.commit.len(), 40, "{tool}: a full commit id");

    let mut on_disk = BTreeSet::new();
    files_under(dir, dir, &mut on_disk);
    let listed: BTreeSet<String> = sources.fixtures.iter().map(|f| f.file.clone()).collect();
    assert_eq!(
        on_disk.difference(&listed).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "{tool}: files without a verdict in SOURCES.yaml"
    );
    assert_eq!(
        listed.difference(&on_disk).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "{tool}: SOURCES.yaml names missing files"
    );

    let mut rules: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for check in &sources.checks {
        let mut set = BTreeSet::new();
        for r in &check.rules {
            let id: RuleId = r
                .parse()
                .unwrap_or_else(|_| panic!("{tool}: {}: unknown rule {r}", check.id));
            set.insert(id.to_string());
        }
        rules.insert(&check.id, set);
    }

    let mut tallies: BTreeMap<String, Tally> = BTreeMap::new();
    for fixture in &sources.fixtures {
        let path = format!("{tool}/{}", fixture.file);
        let rules = rules
            .get(fixture.check.as_str())
            .unwrap_or_else(|| panic!("{path}: unknown check {}", fixture.check));
        let text = std::fs::read_to_string(dir.join(&fixture.file))
            .unwrap_or_else(|e| panic!("{path}: {e}"));
        let (decoded, findings) = judge(&text);
        let tally = tallies.entry(fixture.check.clone()).or_default();
        // Every fixture reads as a manifest, so no verdict below rests on failing closed.
        for e in &decoded.errors {
            problems.push(format!("{path}: imagegate cannot read it: {e:?}"));
        }

        // Every object with an image has a verdict, and every verdict names an object.
        let with_images: BTreeSet<String> = decoded
            .objects
            .iter()
            .filter(|o| !o.sites.is_empty())
            .map(|o| key(&o.object.kind, &o.object.name))
            .collect();
        let verdicts: BTreeSet<String> =
            fixture.fail.iter().chain(&fixture.pass).cloned().collect();
        for unlisted in with_images.difference(&verdicts) {
            problems.push(format!("{path}: {unlisted} has images but no verdict"));
        }
        for unseen in verdicts.difference(&with_images) {
            problems.push(format!("{path}: imagegate sees no image in {unseen}"));
        }

        // Each object is judged on its own: objects of one name in several documents (a file
        // applied three times with one Pod name changed) are told apart by document.
        for o in decoded.objects.iter().filter(|o| !o.sites.is_empty()) {
            let object = key(&o.object.kind, &o.object.name);
            let found: Vec<String> = findings
                .iter()
                .filter(|f| f.document == Some(o.document) && f.object.as_ref() == Some(&o.object))
                .map(|f| f.rule.to_string())
                .filter(|r| rules.contains(r))
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect();
            tally.objects += 1;
            if fixture.fail.contains(&object) {
                tally.peer_fails += 1;
                if found.is_empty() {
                    problems.push(format!(
                        "{path}: {} fails {object} (document {}), imagegate reports none of \
                         {rules:?} on it",
                        fixture.check, o.document
                    ));
                } else {
                    tally.imagegate_fails += 1;
                }
            } else if fixture.pass.contains(&object) {
                tally.peer_passes += 1;
                if !found.is_empty() {
                    let settings = fixture
                        .settings
                        .iter()
                        .flatten()
                        .map(|(k, v)| format!("; the peer is configured with `{k}: {v:?}`"))
                        .collect::<String>();
                    tally.stricter.push(format!(
                        "`{object}` ({}): {}{settings}",
                        fixture.file,
                        found.join(", ")
                    ));
                }
            }
        }

        if !fixture.fail.is_empty() {
            tally.failing_files += 1;
        }
        let fixed = compliant(&text, &path);
        let (decoded, findings) = judge(&fixed);
        let images = decoded.image_count();
        if images == 0 {
            problems.push(format!("{path}: the compliant version has no image"));
        } else if findings.is_empty() {
            if !fixture.fail.is_empty() {
                tally.compliant_pass += 1;
            }
        } else {
            let got: Vec<String> = findings
                .iter()
                .map(|f| format!("{} {}", f.rule, f.field.as_deref().unwrap_or_default()))
                .collect();
            problems.push(format!(
                "{path}: the compliant version yields findings: {got:?}"
            ));
        }
    }
    Judged { sources, tallies }
}

fn render(judged: &[Judged]) -> String {
    let mut out = String::from(
        "<!-- generated by crates/policy/tests/peers.rs from crates/policy/tests/peers/; do not edit \
         (IMAGEGATE_UPDATE_DOCS=1 cargo test -p imagegate-policy --test peers rewrites it) -->\n\
         # imagegate and the peer tools' own fixtures\n\n\
         Seven tools check container images for a digest, a mutable tag or the pull policy. Each \
         ships test fixtures: manifests with the verdict its check must reach. Those about image \
         digest, image tag (`latest`, none, mutable) and `imagePullPolicy` are vendored in \
         [`crates/policy/tests/peers/`](../crates/policy/tests/peers/), one folder per tool with \
         its licence and a `SOURCES.yaml` giving the upstream commit, the checks, and the \
         peer's verdict on every object. `crates/policy/tests/peers.rs` judges each object with \
         imagegate's default policy and asserts:\n\n\
         - every object the peer **fails**, imagegate fails too, with a finding of the rules \
         that answer the same risk (the *rules* column);\n\
         - every object the peer **passes** is counted as *agreeing* (no finding of those rules) \
         or *stricter* (imagegate fails it, listed below);\n\
         - every fixture file, rewritten to be compliant (each image pinned by digest with no \
         tag, `imagePullPolicy: IfNotPresent`), yields **no finding at all**.\n\n\
         Every fixture reads as a manifest: no verdict rests on failing closed \
         (`invalid-manifest`). Counts are of objects (a Deployment with three containers is one object, \
         failed when any container fails); *files* are the fixture files with an object the \
         peer fails, and *compliant* those whose compliant version passes.\n\n\
         Where the peer demands `imagePullPolicy: Always` (checkov CKV_K8S_15, Polaris \
         `pullPolicyNotAlways`, Kyverno `imagepullpolicy-always`, kubescape C-0075), its aim is \
         that a mutable tag is pulled afresh; imagegate forbids the mutable tag itself and \
         requires the digest, with which `IfNotPresent` is exact and needs no registry at \
         start-up. So an object such a peer fails for a missing `Always` is failed by imagegate \
         for its tag or missing digest, and `Always` next to a digest is reported by imagegate \
         (`pull-policy-not-ifnotpresent`) where the peer passes it.\n\n\
         | tool | check | rules | objects | peer fails | imagegate fails | peer passes | stricter | files | compliant |\n\
         |---|---|---|---|---|---|---|---|---|---|\n",
    );
    let mut total = Tally::default();
    for j in judged {
        for check in &j.sources.checks {
            let t = &j.tallies[&check.id];
            let rules: Vec<String> = check.rules.iter().map(|r| format!("`{r}`")).collect();
            let label = format!("{} | `{}` | {}", j.sources.tool, check.id, rules.join(", "));
            out.push_str(&t.row(&label));
            total.add(t);
        }
    }
    out.push_str(&total.row("**all** | |"));
    out.push_str("\n## Sources\n\n");
    for j in judged {
        let s = &j.sources;
        let _ = writeln!(
            out,
            "- **{}**: [`{}`](https://github.com/{}) at `{}` ({}).",
            s.tool, s.repo, s.repo, s.commit, s.license
        );
        for check in &s.checks {
            let _ = writeln!(
                out,
                "  - `{}`: {} ({}; verdicts from {}).",
                check.id, check.says, check.source, check.verdicts
            );
        }
        let derived: Vec<&Fixture> = s.fixtures.iter().filter(|f| f.derived.is_some()).collect();
        for f in derived {
            let _ = writeln!(
                out,
                "  - `{}` is taken from `{}`.",
                f.file,
                f.derived.as_deref().unwrap_or_default()
            );
        }
    }
    out.push_str(
        "\n## Where imagegate is stricter\n\n\
         Objects the peer passes and imagegate fails, with the rules that fire. They are \
         imagegate's policy, not disagreements to fix: a tag such as `1.12` or `v1` without a \
         digest (`digest-required`; partial versions are also `mutable-tag`), `latest` next to \
         a digest (`mutable-tag`), a digest that is not a full `sha256` (`invalid-image-ref`), \
         a repository the peer's configuration exempts, and `Always` or no pull policy \
         (`pull-policy-*`) where the peer only asks about the tag.\n",
    );
    for j in judged {
        for check in &j.sources.checks {
            let t = &j.tallies[&check.id];
            if t.stricter.is_empty() {
                continue;
            }
            let _ = writeln!(out, "\n### {} `{}`\n", j.sources.tool, check.id);
            for s in &t.stricter {
                let _ = writeln!(out, "- {s}");
            }
        }
    }
    out
}

#[test]
fn peers_fixtures_failed_by_a_peer_are_failed_by_imagegate_and_their_compliant_versions_pass() {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(peers_dir())
        .expect("tests/peers")
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    assert_eq!(dirs.len(), 7, "one folder per peer tool");
    let mut problems = Vec::new();
    let judged: Vec<Judged> = dirs.iter().map(|d| judge_tool(d, &mut problems)).collect();
    assert!(problems.is_empty(), "{}", problems.join("\n"));

    let page = render(&judged);
    let doc = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/peers.md");
    if std::env::var_os("IMAGEGATE_UPDATE_DOCS").is_some() {
        std::fs::write(&doc, &page).expect("write docs/peers.md");
    }
    let current = std::fs::read_to_string(&doc).unwrap_or_default();
    assert!(
        current == page,
        "docs/peers.md is stale: run `IMAGEGATE_UPDATE_DOCS=1 cargo test -p imagegate-policy --test peers`"
    );
}

#[test]
fn compliant_rewrite_pins_by_digest_and_drops_the_tag() {
    assert_eq!(pinned("nginx"), format!("nginx@{DIGEST}"));
    assert_eq!(pinned("nginx:1.25@sha256:abc"), format!("nginx@{DIGEST}"));
    assert_eq!(
        pinned("registry.example.com:5000/myapp:1.0"),
        format!("registry.example.com:5000/myapp@{DIGEST}")
    );
    assert_eq!(
        pinned("openpolicyagent:443/opa"),
        format!("openpolicyagent:443/opa@{DIGEST}")
    );
}
