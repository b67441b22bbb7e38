//! Helm as the oracle for YAML decoding.
//!
//! Argo CD, kubectl and Helm read manifests with `sigs.k8s.io/yaml` (go-yaml v2 underneath, a
//! YAML 1.1 reader). imagegate reads them with its own loader, so every document of
//! `tests/oracle/` (and a batch of generated ones) is given to the real helm as well: a scratch
//! chart holds each document under `files/` and one template per document prints
//! `{{ .Files.Get "files/…" | fromYaml | toJson }}`, so one `helm template` run decodes them all
//! with exactly the code Kubernetes clients use. For every document one of these must hold:
//!
//! - helm decodes it and imagegate's JSON of the document ([`imagegate_yaml::Node::to_json_checked`])
//!   is the same value;
//! - helm cannot decode it (`fromYaml` answers `{"Error": …}`) and imagegate refuses it too: the
//!   decoder reports an error for the document, so it becomes an `invalid-manifest` finding;
//! - the document is marked `# oracle: refuse` (a deliberate, documented fail-closed case:
//!   imagegate refuses what helm accepts) and imagegate does refuse it.
//!
//! Two artefacts of the oracle itself are allowed for: `fromYaml` decodes JSON numbers into
//! `float64` (Kubernetes' own decoders keep integers exact), so numbers compare as `f64`; and it
//! answers `{}` for a `null` document, which Kubernetes clients skip, as imagegate must.
//!
//! A document marked `# decode: clean` must also decode without any error: a valid manifest
//! read as invalid is a false alarm.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use imagegate_decode::{decode_stream, DecodeOptions};
use imagegate_yaml::{load, split_stream, Limits};
use proptest::prop_oneof;
use proptest::strategy::{Just, Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use serde_json::Value;

/// The workspace root.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .unwrap()
        .to_path_buf()
}

/// The helm to ask: `IMAGEGATE_TEST_HELM`, else the Helm 3 `cargo xtask helm` installs. No helm
/// fails the test loudly; it never skips.
fn helm() -> PathBuf {
    if let Some(p) = std::env::var_os("IMAGEGATE_TEST_HELM") {
        let p = PathBuf::from(p);
        assert!(
            p.is_file(),
            "IMAGEGATE_TEST_HELM={} does not exist",
            p.display()
        );
        return p;
    }
    let p = root().join("target/tools/helm-3.17.3/helm");
    assert!(
        p.is_file(),
        "no helm for the oracle tests: run `cargo xtask helm`, or set IMAGEGATE_TEST_HELM"
    );
    p
}

/// What helm's `fromYaml` made of one document.
#[derive(Debug)]
enum Helm {
    Json(Value),
    Error(String),
}

/// Decodes every document with the real helm in one `helm template` run.
fn helm_decode(docs: &[String]) -> Vec<Helm> {
    let dir = tempfile::tempdir().unwrap();
    let chart = dir.path();
    std::fs::create_dir_all(chart.join("files")).unwrap();
    std::fs::create_dir_all(chart.join("templates")).unwrap();
    std::fs::write(
        chart.join("Chart.yaml"),
        "apiVersion: v2\nname: oracle\nversion: 0.1.0\n",
    )
    .unwrap();
    for (i, doc) in docs.iter().enumerate() {
        std::fs::write(chart.join(format!("files/d{i}.yaml")), doc).unwrap();
        std::fs::write(
            chart.join(format!("templates/d{i}.yaml")),
            format!("# ORACLE {i}\n{{{{ .Files.Get \"files/d{i}.yaml\" | fromYaml | toJson }}}}\n"),
        )
        .unwrap();
    }
    let helm = helm();
    let out = Command::new(&helm)
        .args(["template", "oracle"])
        .arg(chart)
        .env("HELM_CACHE_HOME", chart.join(".cache"))
        .env("HELM_CONFIG_HOME", chart.join(".config"))
        .env("HELM_DATA_HOME", chart.join(".data"))
        .output()
        .unwrap_or_else(|e| panic!("{} does not run: {e}", helm.display()));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "helm template failed: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut found: BTreeMap<usize, Helm> = BTreeMap::new();
    let mut lines = stdout.lines();
    while let Some(line) = lines.next() {
        let Some(id) = line.strip_prefix("# ORACLE ") else {
            continue;
        };
        let id: usize = id.trim().parse().unwrap();
        let json: Value = serde_json::from_str(lines.next().unwrap()).unwrap();
        let answer = match json.as_object() {
            Some(map) if map.len() == 1 && map.contains_key("Error") => {
                Helm::Error(map["Error"].as_str().unwrap_or_default().to_owned())
            }
            _ => Helm::Json(json),
        };
        found.insert(id, answer);
    }
    assert_eq!(found.len(), docs.len(), "helm printed every document once");
    found.into_values().collect()
}

/// Numbers as `f64`, as `fromYaml`'s `encoding/json` round trip leaves them.
fn normalize(v: &Value) -> Value {
    match v {
        Value::Number(n) => n
            .as_f64()
            .and_then(serde_json::Number::from_f64)
            .map_or_else(|| v.clone(), Value::Number),
        Value::Array(items) => Value::Array(items.iter().map(normalize).collect()),
        Value::Object(map) => {
            Value::Object(map.iter().map(|(k, v)| (k.clone(), normalize(v))).collect())
        }
        other => other.clone(),
    }
}

/// What imagegate made of one document.
#[derive(Debug)]
enum Ours {
    /// Nothing: an empty or `null` document, skipped like Kubernetes clients skip it.
    Nothing,
    Json(Value),
    /// The loader or the JSON conversion refused it.
    Refused(String),
}

fn ours(doc: &str) -> Ours {
    match load(doc, &Limits::default()) {
        Err(e) => Ours::Refused(e.to_string()),
        Ok(None) => Ours::Nothing,
        Ok(Some(node)) if node.is_null() => Ours::Nothing,
        Ok(Some(node)) => match node.to_json_checked() {
            Ok(json) => Ours::Json(json),
            Err(e) => Ours::Refused(e.to_string()),
        },
    }
}

/// The decoder's errors for one document.
fn decode_errors(doc: &str) -> Vec<String> {
    decode_stream(doc, &DecodeOptions::default())
        .errors
        .into_iter()
        .map(|e| e.message)
        .collect()
}

/// How one document came out; `Err` describes a disagreement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Agree,
    BothRefuse,
    WeRefuse,
}

fn judge(doc: &str, helm: &Helm, may_refuse: bool) -> Result<Outcome, String> {
    let ours = ours(doc);
    match (helm, ours) {
        (Helm::Json(h), Ours::Json(o)) => {
            if normalize(h) == normalize(&o) {
                Ok(Outcome::Agree)
            } else {
                Err(format!(
                    "different objects\n  helm:      {h}\n  imagegate: {o}"
                ))
            }
        }
        (Helm::Json(h), Ours::Nothing) => {
            let errors = decode_errors(doc);
            let decoded = decode_stream(doc, &DecodeOptions::default());
            if *h == serde_json::json!({}) && errors.is_empty() && decoded.objects.is_empty() {
                Ok(Outcome::Agree)
            } else {
                Err(format!(
                    "imagegate sees no object, helm sees {h} (decoder errors: {errors:?})"
                ))
            }
        }
        (Helm::Json(h), Ours::Refused(why)) => {
            if may_refuse && !decode_errors(doc).is_empty() {
                Ok(Outcome::WeRefuse)
            } else {
                Err(format!(
                    "imagegate refuses what helm reads as {h}: {why} (mark it `# oracle: refuse` if deliberate)"
                ))
            }
        }
        (Helm::Error(e), Ours::Refused(_)) => {
            // The refusal must reach the decoder's report, or it would pass silently.
            if decode_errors(doc).is_empty() {
                Err(format!(
                    "helm refuses ({e}); imagegate's loader does, but the decoder reports nothing"
                ))
            } else {
                Ok(Outcome::BothRefuse)
            }
        }
        // `fromYaml` reads a mapping; a document that is none is refused by the decoder too.
        (Helm::Error(_), Ours::Json(o)) if !o.is_object() && !decode_errors(doc).is_empty() => {
            Ok(Outcome::BothRefuse)
        }
        (Helm::Error(e), ours) => Err(format!(
            "helm refuses ({e}) but imagegate reads it: {ours:?}"
        )),
    }
}

/// One corpus document: its name and text.
struct Case {
    name: String,
    text: String,
    may_refuse: bool,
    clean: bool,
}

/// The corpus: every file of `tests/oracle/`, streams split into their documents.
fn corpus() -> Vec<Case> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oracle");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    let mut cases = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        let may_refuse = text.lines().any(|l| l.trim() == "# oracle: refuse");
        let clean = text.lines().any(|l| l.trim() == "# decode: clean");
        let docs = split_stream(&text);
        let several = docs.len() > 1;
        for doc in docs {
            cases.push(Case {
                name: if several {
                    format!("{name}#{}", doc.index)
                } else {
                    name.clone()
                },
                text: doc.text,
                may_refuse,
                clean,
            });
        }
    }
    assert!(cases.len() >= 30, "the corpus is there: {}", cases.len());
    cases
}

#[test]
fn helm_oracle_corpus() {
    let start = Instant::now();
    let cases = corpus();
    let texts: Vec<String> = cases.iter().map(|c| c.text.clone()).collect();
    let answers = helm_decode(&texts);
    let mut failures = String::new();
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for (case, answer) in cases.iter().zip(&answers) {
        match judge(&case.text, answer, case.may_refuse) {
            Ok(outcome) => {
                *counts.entry(format!("{outcome:?}").leak()).or_default() += 1;
                if outcome == Outcome::Agree && case.may_refuse {
                    let _ = writeln!(
                        failures,
                        "{}: marked `# oracle: refuse` but imagegate agrees with helm: drop the mark",
                        case.name
                    );
                }
            }
            Err(why) => {
                let _ = writeln!(failures, "{}: {why}", case.name);
            }
        }
        if case.clean {
            let errors = decode_errors(&case.text);
            if !errors.is_empty() {
                let _ = writeln!(failures, "{}: a valid manifest, but {errors:?}", case.name);
            }
        }
    }
    eprintln!(
        "{} documents in {:?}: {counts:?}",
        cases.len(),
        start.elapsed()
    );
    assert!(failures.is_empty(), "disagreements with helm:\n{failures}");
}

/// Pieces of manifest-like YAML that stress the places where YAML readers differ.
fn scalar() -> impl Strategy<Value = String> {
    proptest::sample::select(vec![
        "nginx",
        "repo/app:1.10",
        "\"repo/app:1.10\"",
        "'repo/app:010'",
        "1.10",
        "010",
        "08",
        "0x1F",
        "0o17",
        "0b11",
        "1_000",
        "1e3",
        ".5",
        "yes",
        "No",
        "on",
        "OFF",
        "y",
        "n",
        "true",
        "null",
        "~",
        "",
        "2001-12-14",
        "12:30",
        "\"a\\tb\"",
        "'it''s'",
        "!!str 10",
        "!!int \"7\"",
        "!!binary aW1hZ2U=",
        "IfNotPresent",
        "Always",
        "sha256:abc",
        "\"multi\n  line\"",
        "-1",
        "+.5",
        "a b",
        "\"\"",
        "*s",
        "&t 010",
    ])
    .prop_map(str::to_owned)
}

fn key() -> impl Strategy<Value = String> {
    proptest::sample::select(vec![
        "image",
        "imagePullPolicy",
        "name",
        "tag",
        "\"image\"",
        "'tag'",
        "yes",
        "on",
        "y",
        "010",
        "1.10",
        "0x1F",
        "? !!binary aW1hZ2U=\n",
        "labels",
    ])
    .prop_map(str::to_owned)
}

/// A separator between a key and its value: usually a space, sometimes a tab.
fn sep() -> impl Strategy<Value = &'static str> {
    proptest::sample::select(vec![" ", " ", " ", "\t", "  "])
}

/// One small mapping entry at `indent`, in block style.
fn entry(indent: usize) -> impl Strategy<Value = String> {
    let pad = " ".repeat(indent);
    prop_oneof![
        4 => (key(), sep(), scalar()).prop_map(move |(k, s, v)| {
            if k.starts_with('?') {
                format!("{pad}{k}{pad}:{s}{v}\n")
            } else {
                format!("{pad}{k}:{s}{v}\n")
            }
        }),
        1 => (key(), proptest::collection::vec(scalar(), 0..3)).prop_map({
            let pad = " ".repeat(indent);
            move |(k, items)| {
                let k = if k.starts_with('?') { "image".to_owned() } else { k };
                let items: Vec<String> = items.into_iter().map(|i| i.replace('\n', " ")).collect();
                format!("{pad}{k}: [{}]\n", items.join(", "))
            }
        }),
        1 => (key(), scalar(), scalar()).prop_map({
            let pad = " ".repeat(indent);
            move |(k, a, b)| {
                let k = if k.starts_with('?') { "tag".to_owned() } else { k };
                let a = a.replace('\n', " ");
                let b = b.replace('\n', " ");
                format!("{pad}{k}: {{x: {a}, y: {b}}}\n")
            }
        }),
        1 => (key(), scalar(), scalar()).prop_map({
            let pad = " ".repeat(indent);
            move |(k, a, b)| {
                // A flow sequence whose lines and `]` sit at the key's column.
                let k = if k.starts_with('?') { "args".to_owned() } else { k };
                let a = a.replace('\n', " ");
                let b = b.replace('\n', " ");
                format!("{pad}{k}: [{a},\n{pad}{b}\n{pad}]\n")
            }
        }),
        1 => (scalar(), scalar()).prop_map({
            let pad = " ".repeat(indent);
            move |(k, v)| format!("{pad}? {}\n{pad}: {v}\n", k.replace('\n', " "))
        }),
        1 => Just(format!("{}<<: *base\n", " ".repeat(indent))),
        1 => Just(format!("{}<<: [*base, *other]\n", " ".repeat(indent))),
        1 => Just(format!("{}<<: {{image: merged, imagePullPolicy: Always}}\n", " ".repeat(indent))),
    ]
}

/// A manifest-like document: two anchored mappings to merge from, then a Pod-like object whose
/// container entries are drawn from the pieces above.
fn document() -> impl Strategy<Value = String> {
    (
        proptest::collection::vec(entry(2), 1..4),
        proptest::collection::vec(entry(2), 1..4),
        proptest::collection::vec(entry(6), 1..7),
        proptest::bool::ANY,
    )
        .prop_map(|(base, other, container, flow_args)| {
            let mut doc = String::from("base: &base\n  anchored: &s on\n");
            // A merge inside an anchored base would refer to itself: keep the bases plain.
            for e in base.iter().filter(|e| !e.contains("<<")) {
                doc.push_str(e);
            }
            doc.push_str("  z: 1\nother: &other\n");
            for e in other.iter().filter(|e| !e.contains("<<")) {
                doc.push_str(e);
            }
            doc.push_str("  z: 2\napiVersion: v1\nkind: Pod\nmetadata:\n  name: gen\nspec:\n  containers:\n    - name: app\n");
            for e in container {
                doc.push_str(&e);
            }
            if flow_args {
                doc.push_str("      args: [\n        \"a\",\n        b\n      ]\n");
            }
            doc
        })
}

#[test]
fn helm_oracle_generated() {
    const DOCS: usize = 200;
    let start = Instant::now();
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &[7; 32]),
    );
    let strategy = document();
    let docs: Vec<String> = (0..DOCS)
        .map(|_| strategy.new_tree(&mut runner).unwrap().current())
        .collect();
    let answers = helm_decode(&docs);
    let mut failures = String::new();
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for (i, (doc, answer)) in docs.iter().zip(&answers).enumerate() {
        match judge(doc, answer, true) {
            Ok(outcome) => *counts.entry(format!("{outcome:?}")).or_default() += 1,
            Err(why) => {
                let _ = writeln!(failures, "document {i}:\n{doc}\n=> {why}\n");
            }
        }
    }
    eprintln!(
        "{DOCS} generated documents in {:?}: {counts:?}",
        start.elapsed()
    );
    assert!(failures.is_empty(), "disagreements with helm:\n{failures}");
    // The generator must mostly produce documents both sides read, or it tests nothing.
    assert!(
        counts.get("Agree").copied().unwrap_or(0) >= DOCS / 2,
        "too few agreeing documents: {counts:?}"
    );
}
