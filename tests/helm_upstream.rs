//! Causal provenance on real upstream charts (`charts-upstream/`: prometheus with its four
//! dependencies vendored as `.tgz`, the blackbox exporter, metrics-server, traefik, and a local
//! umbrella holding kube-state-metrics as a folder subchart under an alias), checked
//! independently of imagegate's own provenance code.
//!
//! imagegate judges the fleet (`check --format json`) and names, per finding, the values or
//! `Chart.yaml` line that causes the field. This test then asks helm directly, with nothing of
//! imagegate's markers: for every finding with an origin (and every part of its image), it
//! changes that line's value in a scratch copy of the fleet and renders the cell again with the
//! release, namespace, values files and flags `imagegate cells --format json` reports; the
//! rendered field of that object and container must change. For every finding said to be
//! hard-coded, it changes every scalar of every values layer of the cell (the stack's files,
//! the chart's and its subcharts' `values.yaml`, every `appVersion`; strings, numbers, empty
//! values and nulls, not booleans, which switch objects on and off rather than write a field),
//! in groups split in halves where a group breaks the render or renames the object, and the
//! field must never change. A finding without an origin for any reason counts as said to be
//! hard-coded here, the strictest reading. The whole check is about a hundred renders: seconds.
//!
//! A second test pins the origin of one finding per way the fleet overrides an image, so a
//! regression names the shape it broke.

mod common;
use common::*;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Longest one helm render may take before the test fails.
const RENDER_TIMEOUT: Duration = Duration::from_secs(120);

/// One cell as `imagegate cells --format json` describes it.
#[derive(Debug, Clone)]
struct CellArgs {
    release: String,
    namespace: String,
    chart: String,
    values: Vec<String>,
    kube_version: String,
    api_versions: Vec<String>,
    include_crds: bool,
}

impl CellArgs {
    fn of(cell: &Value) -> Self {
        let s = |k: &str| cell[k].as_str().unwrap_or_default().to_string();
        Self {
            release: s("release"),
            namespace: s("namespace"),
            chart: s("chart"),
            values: cell["valueFiles"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|f| f["present"] == true)
                .map(|f| f["path"].as_str().unwrap().to_string())
                .collect(),
            kube_version: s("kubeVersion"),
            api_versions: cell["apiVersions"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default(),
            include_crds: cell["includeCrds"] == true,
        }
    }
}

/// The scratch copy of the fleet the edits are made in: every vendored `charts/*.tgz` unpacked
/// into its folder (helm loads a folder subchart exactly as its archive), so a line inside an
/// archive is edited like any other file.
struct Work {
    dir: tempfile::TempDir,
    helm_home: tempfile::TempDir,
    /// `<archive>` (fleet-relative) → the folder it was unpacked into.
    archives: HashMap<String, String>,
    renders: usize,
}

impl Work {
    fn new(fleet: &Path) -> Self {
        let dir = tempfile::tempdir().unwrap();
        copy_tree(fleet, dir.path());
        let mut archives = HashMap::new();
        let mut queue = vec![dir.path().to_path_buf()];
        while let Some(folder) = queue.pop() {
            for entry in std::fs::read_dir(&folder).unwrap().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    queue.push(path);
                    continue;
                }
                let in_charts = folder.file_name().is_some_and(|n| n == "charts");
                if !in_charts || path.extension().is_none_or(|e| e != "tgz") {
                    continue;
                }
                let bytes = std::fs::read(&path).unwrap();
                let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(&bytes[..]));
                archive.unpack(&folder).unwrap();
                std::fs::remove_file(&path).unwrap();
                let rel = |p: &Path| {
                    p.strip_prefix(dir.path())
                        .unwrap()
                        .to_string_lossy()
                        .into_owned()
                };
                archives.insert(rel(&path), rel(&folder));
                // Archives inside it are found by the walk of the folder.
                queue.push(folder.clone());
            }
        }
        Self {
            dir,
            helm_home: tempfile::tempdir().unwrap(),
            archives,
            renders: 0,
        }
    }

    /// The work-copy path of a file as imagegate names it (`<archive>:<path>` for a file inside
    /// a vendored archive).
    fn path_of(&self, file: &str) -> PathBuf {
        match file.split_once(".tgz:") {
            Some((archive, inner)) => {
                let archive = format!("{archive}.tgz");
                let folder = self
                    .archives
                    .get(&archive)
                    .unwrap_or_else(|| panic!("{archive} was not unpacked"));
                self.dir.path().join(folder).join(inner)
            }
            None => self.dir.path().join(file),
        }
    }

    /// The documents `helm template` renders for the cell, or helm's error.
    fn render(&mut self, cell: &CellArgs) -> Result<Vec<Value>, String> {
        self.renders += 1;
        let root = self.dir.path();
        let mut cmd = Command::new(helm());
        cmd.arg("template")
            .arg(&cell.release)
            .arg(root.join(&cell.chart))
            .args(["--namespace", &cell.namespace])
            .args(["--kube-version", &cell.kube_version]);
        for a in &cell.api_versions {
            cmd.args(["--api-versions", a]);
        }
        for v in &cell.values {
            cmd.arg("--values").arg(root.join(v));
        }
        if cell.include_crds {
            cmd.arg("--include-crds");
        }
        let home = self.helm_home.path();
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", home)
            .env("HELM_CACHE_HOME", home.join("cache"))
            .env("HELM_CONFIG_HOME", home.join("config"))
            .env("HELM_DATA_HOME", home.join("data"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let (ok, out, err) = run_bounded(cmd);
        if !ok {
            return Err(err);
        }
        let docs = imagegate_yaml::load_all(&out, &imagegate_yaml::Limits::default())
            .map_err(|e| format!("helm's output does not load: {e}"))?;
        Ok(docs.iter().map(imagegate_yaml::Node::to_json).collect())
    }
}

/// Runs `cmd` to its end or [`RENDER_TIMEOUT`]: (success, stdout, stderr). Output is read on
/// threads so a full pipe never stalls helm.
fn run_bounded(mut cmd: Command) -> (bool, String, String) {
    let mut child = cmd.spawn().expect("helm starts");
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut stdout, &mut s).ok();
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut stderr, &mut s).ok();
        s
    });
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > RENDER_TIMEOUT {
            child.kill().ok();
            child.wait().ok();
            panic!("helm template ran longer than {RENDER_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    (status.success(), out.join().unwrap(), err.join().unwrap())
}

/// What a finding is about, found in a render by object and container, never by index (an edit
/// may reorder nothing, but the finding's own field path is imagegate's answer, not helm's).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Field {
    /// The field's value (`None`: the container sets no pull policy).
    Value(Option<String>),
    /// The object or its container is not in the render.
    Gone,
}

/// The finding's field in `docs`: the container's `imagePullPolicy` for a pull-policy rule, its
/// `image` otherwise.
fn field_in(docs: &[Value], finding: &Value) -> Field {
    let key = match finding["rule"].as_str().unwrap().starts_with("pull-policy") {
        true => "imagePullPolicy",
        false => "image",
    };
    key_in(docs, finding, key)
}

/// Field `key` (`image`, `imagePullPolicy`) of the finding's container in `docs`.
fn key_in(docs: &[Value], finding: &Value, key: &str) -> Field {
    let object = &finding["object"];
    let container = finding["container"].as_str().unwrap_or_default();
    for doc in docs {
        if doc["kind"] != object["kind"] || doc["metadata"]["name"] != object["name"] {
            continue;
        }
        if let Some(found) = container_in(doc, container) {
            return Field::Value(found[key].as_str().map(str::to_string));
        }
    }
    Field::Gone
}

/// The container named `name` anywhere in `v`: an element of a `containers`, `initContainers`
/// or `ephemeralContainers` list.
fn container_in<'a>(v: &'a Value, name: &str) -> Option<&'a Value> {
    match v {
        Value::Object(map) => map.iter().find_map(|(k, child)| {
            let lists = ["containers", "initContainers", "ephemeralContainers"];
            let hit = lists
                .contains(&k.as_str())
                .then(|| child.as_array())
                .flatten()
                .and_then(|items| items.iter().find(|c| c["name"] == name));
            hit.or_else(|| container_in(child, name))
        }),
        Value::Array(items) => items.iter().find_map(|c| container_in(c, name)),
        _ => None,
    }
}

/// A values line split as `<indent><key>: <value><comment>`; `None` for anything else (a list
/// item without a key, a block scalar's text, a comment).
#[derive(Debug)]
struct Line<'a> {
    head: &'a str,
    value: &'a str,
    comment: &'a str,
}

fn split_line(line: &str) -> Option<Line<'_>> {
    let body = line.trim_start();
    if body.starts_with('#') || body.is_empty() {
        return None;
    }
    let after_dash = body.strip_prefix("- ").unwrap_or(body);
    let start = line.len() - after_dash.len();
    let rel = after_dash
        .char_indices()
        .find(|&(i, c)| c == ':' && matches!(after_dash[i + 1..].chars().next(), None | Some(' ')))
        .map(|(i, _)| i)?;
    let colon = start + rel;
    let head = &line[..colon + 1];
    let rest = &line[colon + 1..];
    // A comment starts at ` #` after the value; a quoted value ends at its closing quote.
    let lead = rest.len() - rest.trim_start().len();
    let from = match rest[lead..].chars().next() {
        Some(q @ ('"' | '\'')) => rest[lead + 1..]
            .find(q)
            .map_or(rest.len(), |i| lead + 1 + i + 1),
        _ => lead,
    };
    let (value, comment) = match rest[from..].find(" #") {
        Some(i) => (&rest[..from + i], &rest[from + i..]),
        None => (rest, ""),
    };
    Some(Line {
        head,
        value: value.trim(),
        comment,
    })
}

/// The value of a written scalar without its quotes.
fn unquote(v: &str) -> &str {
    let v = v.trim();
    for q in ['"', '\''] {
        if let Some(inner) = v.strip_prefix(q).and_then(|s| s.strip_suffix(q)) {
            return inner;
        }
    }
    v
}

/// Whether written value `v` is a scalar an edit may replace: not a mapping or list opener, a
/// block scalar, an anchor, alias or tag, and not a boolean (booleans switch whole objects on
/// and off; they steer what renders, they do not write a field).
fn editable(v: &str) -> bool {
    let bare = unquote(v).to_ascii_lowercase();
    !(v.starts_with(['{', '[', '|', '>', '&', '*', '!'])
        || matches!(
            bare.as_str(),
            "true" | "false" | "yes" | "no" | "on" | "off"
        ) && !v.starts_with(['"', '\'']))
}

/// A different value for the scalar of `key` written `v`, of a shape the chart still accepts:
/// another pull policy, another digest, the next patch version, or the text with a suffix.
fn changed(key: &str, v: &str) -> String {
    let key = key.trim_end_matches(':').trim().to_ascii_lowercase();
    let cur = unquote(v);
    let empty = cur.is_empty() || cur == "~" || cur == "null";
    if key.ends_with("pullpolicy") {
        return if cur == "Always" { "Never" } else { "Always" }.into();
    }
    if key.contains("digest") || key == "sha" {
        let d = if cur.ends_with('e') { 'f' } else { 'e' };
        return format!("sha256:{}", d.to_string().repeat(64));
    }
    if empty {
        return if key.contains("tag") || key.contains("version") {
            "9.9.9".into()
        } else {
            "edited.example.com".into()
        };
    }
    // The next patch (or minor) version keeps version checks of templates satisfied.
    let (prefix, core) = cur.split_at(usize::from(cur.starts_with('v')));
    let numbers: Vec<&str> = core.split('.').collect();
    if (2..=3).contains(&numbers.len())
        && numbers
            .iter()
            .all(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
    {
        let mut numbers: Vec<u64> = numbers.iter().map(|n| n.parse().unwrap()).collect();
        *numbers.last_mut().unwrap() += 1;
        let joined: Vec<String> = numbers.iter().map(u64::to_string).collect();
        return format!("{prefix}{}", joined.join("."));
    }
    format!("{cur}-edited")
}

/// `text` with the value of line `line` (1-based) replaced by `value`, or `None` when that line
/// holds no editable scalar.
fn edit_line(text: &str, line: usize, value: &str) -> Option<String> {
    let mut out = String::with_capacity(text.len() + 32);
    let mut done = false;
    for (i, l) in text.split_inclusive('\n').enumerate() {
        if i + 1 == line {
            let parsed = split_line(l.trim_end_matches(['\n', '\r']))?;
            out.push_str(parsed.head);
            out.push(' ');
            out.push_str(&serde_json::to_string(value).unwrap());
            out.push_str(parsed.comment);
            out.push('\n');
            done = true;
        } else {
            out.push_str(l);
        }
    }
    done.then_some(out)
}

/// An edit: `file` (fleet-relative, as imagegate names it), `line`, the new value.
type Edit = (String, usize, String);

/// The edit that changes the value of `file:line`, or `None` when the line holds no editable
/// scalar.
fn edit_of(work: &Work, file: &str, line: usize) -> Option<Edit> {
    let text = std::fs::read_to_string(work.path_of(file)).unwrap();
    let l = text.split('\n').nth(line - 1)?;
    let parsed = split_line(l)?;
    editable(parsed.value).then(|| (file.to_string(), line, changed(parsed.head, parsed.value)))
}

/// Every scalar edit of one values layer: each `key: value` line outside block scalars whose
/// value is editable (an empty value is a null unless a more indented line follows, which makes
/// it a mapping or a list). Of a `Chart.yaml` only `appVersion` is a value.
fn layer_edits(work: &Work, file: &str) -> Vec<Edit> {
    let Ok(text) = std::fs::read_to_string(work.path_of(file)) else {
        return Vec::new();
    };
    let lines: Vec<&str> = text.split('\n').collect();
    let indent = |l: &str| l.len() - l.trim_start().len();
    let meta = file.ends_with("Chart.yaml");
    let mut out = Vec::new();
    let mut block: Option<usize> = None;
    for (i, l) in lines.iter().enumerate() {
        if let Some(b) = block {
            if l.trim().is_empty() || indent(l) > b {
                continue;
            }
            block = None;
        }
        let Some(parsed) = split_line(l) else {
            continue;
        };
        if parsed.value.starts_with(['|', '>']) {
            block = Some(indent(l));
            continue;
        }
        if meta && !parsed.head.trim_start().starts_with("appVersion") {
            continue;
        }
        if parsed.value.is_empty() {
            let next = lines[i + 1..]
                .iter()
                .find(|n| !n.trim().is_empty() && !n.trim_start().starts_with('#'));
            let key_indent = l.len() - l.trim_start().trim_start_matches("- ").len();
            let parent = next.is_some_and(|n| {
                indent(n) > key_indent
                    || (indent(n) == key_indent && n.trim_start().starts_with('-'))
            });
            if parent {
                continue;
            }
        }
        if editable(parsed.value) {
            out.push((file.to_string(), i + 1, changed(parsed.head, parsed.value)));
        }
    }
    out
}

/// Applies `edits` to the work copy, renders `cell`, restores every file; the render's result.
fn render_with(work: &mut Work, cell: &CellArgs, edits: &[Edit]) -> Result<Vec<Value>, String> {
    let mut by_file: BTreeMap<&str, Vec<&Edit>> = BTreeMap::new();
    for e in edits {
        by_file.entry(e.0.as_str()).or_default().push(e);
    }
    let mut saved = Vec::new();
    for (file, edits) in &by_file {
        let path = work.path_of(file);
        let original = std::fs::read_to_string(&path).unwrap();
        let mut text = original.clone();
        for (_, line, value) in edits {
            text = edit_line(&text, *line, value)
                .unwrap_or_else(|| panic!("{file}:{line} holds no value to edit"));
        }
        std::fs::write(&path, text).unwrap();
        saved.push((path, original));
    }
    let result = work.render(cell);
    for (path, original) in saved {
        std::fs::write(path, original).unwrap();
    }
    result
}

/// Every values layer of a cell, lowest precedence first: each chart folder's `Chart.yaml` and
/// `values.yaml` (subcharts included, unpacked archives too), then the cell's values files.
fn layers(work: &Work, cell: &CellArgs) -> Vec<String> {
    let mut charts = vec![cell.chart.clone()];
    let mut i = 0;
    while i < charts.len() {
        let dir = work.dir.path().join(&charts[i]).join("charts");
        if let Ok(entries) = std::fs::read_dir(&dir) {
            let mut subs: Vec<String> = entries
                .flatten()
                .filter(|e| e.path().join("Chart.yaml").is_file())
                .map(|e| format!("{}/charts/{}", charts[i], e.file_name().to_string_lossy()))
                .collect();
            subs.sort();
            charts.extend(subs);
        }
        i += 1;
    }
    let mut out = Vec::new();
    for c in charts.iter().rev() {
        out.push(format!("{c}/Chart.yaml"));
        out.push(format!("{c}/values.yaml"));
    }
    out.extend(cell.values.iter().cloned());
    out
}

/// What changing every scalar of `edits` does to the finding's field: the edits (one each)
/// that change it. A group whose render fails, or that makes the object vanish, is split in
/// halves until each edit is tried alone; alone, a failing or vanishing edit writes no value of
/// the field (it breaks the chart or renames the object).
fn drivers(
    work: &mut Work,
    cell: &CellArgs,
    finding: &Value,
    before: &Field,
    edits: &[Edit],
    out: &mut Vec<Edit>,
) {
    if edits.is_empty() {
        return;
    }
    let after = render_with(work, cell, edits).map(|docs| field_in(&docs, finding));
    match after {
        Ok(f) if &f == before => {}
        Ok(Field::Value(_)) if edits.len() == 1 => out.push(edits[0].clone()),
        _ if edits.len() == 1 => {}
        _ => {
            let (a, b) = edits.split_at(edits.len() / 2);
            drivers(work, cell, finding, before, a, out);
            drivers(work, cell, finding, before, b, out);
        }
    }
}

/// imagegate's answer for one line: where it says a field comes from.
fn line_of(o: &Value) -> Option<(String, usize)> {
    Some((
        o["file"].as_str()?.to_string(),
        o["line"].as_u64()? as usize,
    ))
}

#[test]
fn every_origin_on_real_upstream_charts_is_causal_and_no_hard_coded_field_has_a_driver() {
    let fleet = root().join("charts-upstream");
    let out = imagegate(&["check", "--format", "json"], &fleet);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let findings = report["findings"].as_array().unwrap().clone();
    let out = imagegate(&["cells", "--format", "json"], &fleet);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let cells: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let cells: HashMap<String, CellArgs> = cells["cells"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["app"].as_str().unwrap().to_string(), CellArgs::of(c)))
        .collect();
    assert_eq!(cells.len(), 10, "two environments of five charts");

    let started = Instant::now();
    let mut work = Work::new(&fleet);
    assert_eq!(work.archives.len(), 4, "{:?}", work.archives);
    // Each rendered field, as helm renders the unedited cell: the same as imagegate saw.
    let mut base: HashMap<String, Vec<Value>> = HashMap::new();
    for (app, cell) in &cells {
        let docs = work
            .render(cell)
            .unwrap_or_else(|e| panic!("{app} does not render: {e}"));
        base.insert(app.clone(), docs);
    }
    // Each edit's render, shared by every finding that asks about the same line.
    let mut edited: HashMap<(String, Edit), Result<Vec<Value>, String>> = HashMap::new();
    let mut causal = 0;
    let mut hard_coded = 0;
    let mut false_hard_coded = Vec::new();
    let mut not_causal = Vec::new();
    let (mut parts_total, mut parts_causal) = (0, 0);
    let mut not_causal_parts = Vec::new();
    for f in &findings {
        let app = f["app"].as_str().unwrap();
        let cell = &cells[app];
        let name = format!(
            "{} {} on {}/{} container {}",
            app, f["rule"], f["object"]["kind"], f["object"]["name"], f["container"]
        );
        let before = field_in(&base[app], f);
        let Field::Value(ref now) = before else {
            panic!("{name}: not in helm's own render");
        };
        if !f["rule"].as_str().unwrap().starts_with("pull-policy") {
            assert_eq!(now.as_deref(), f["image"].as_str(), "{name}");
        }
        // Does changing `file:line` change field `key`?
        let mut moves = |work: &mut Work, file: &str, line: usize, key: &str| {
            let edit = edit_of(work, file, line)
                .ok_or_else(|| format!("{file}:{line} holds no scalar to change"))?;
            let docs = edited
                .entry((app.to_string(), edit.clone()))
                .or_insert_with(|| render_with(work, cell, std::slice::from_ref(&edit)))
                .clone()
                .map_err(|e| format!("{file}:{line} changed to {:?}: {e}", edit.2))?;
            Ok::<bool, String>(key_in(&docs, f, key) != key_in(&base[app], f, key))
        };
        let key = match f["rule"].as_str().unwrap().starts_with("pull-policy") {
            true => "imagePullPolicy",
            false => "image",
        };
        match f.get("origin").filter(|o| !o.is_null()) {
            Some(o) => {
                let (file, line) = line_of(o).unwrap();
                match moves(&mut work, &file, line, key) {
                    Ok(true) => causal += 1,
                    Ok(false) => not_causal.push(format!("{name}: {file}:{line} changes nothing")),
                    Err(e) => not_causal.push(format!("{name}: {e}")),
                }
            }
            None => {
                hard_coded += 1;
                let edits: Vec<Edit> = layers(&work, cell)
                    .iter()
                    .flat_map(|l| layer_edits(&work, l))
                    .collect();
                assert!(edits.len() > 3, "{name}: only {} scalars", edits.len());
                let mut found = Vec::new();
                drivers(&mut work, cell, f, &before, &edits, &mut found);
                if !found.is_empty() {
                    false_hard_coded.push(format!("{name}: hard-coded, yet {found:?} drive it"));
                }
            }
        }
        // Each part of the image names the line of that part; the pull policy's, the policy's.
        for (part, o) in f["parts"].as_object().into_iter().flatten() {
            let (file, line) = line_of(o).unwrap();
            let key = match part.as_str() {
                "pullPolicy" => "imagePullPolicy",
                _ => "image",
            };
            parts_total += 1;
            match moves(&mut work, &file, line, key) {
                Ok(true) => parts_causal += 1,
                Ok(false) => not_causal_parts.push(format!("{name} {part}: {file}:{line}")),
                Err(e) => not_causal_parts.push(format!("{name} {part}: {e}")),
            }
        }
    }
    let total = findings.len();
    let with_origin = total - hard_coded;
    println!(
        "charts-upstream: {total} findings; {causal} of {with_origin} origins causal, \
         {hard_coded} hard-coded ({} false); {parts_causal} of {parts_total} parts causal; \
         {} helm renders in {:.1?}",
        false_hard_coded.len(),
        work.renders,
        started.elapsed()
    );
    for n in not_causal.iter().chain(&not_causal_parts) {
        println!("  not causal: {n}");
    }
    assert!(total >= 20, "only {total} findings");
    assert!(hard_coded >= 1, "no hard-coded finding to check");
    assert!(false_hard_coded.is_empty(), "{false_hard_coded:#?}");
    // At least 97 % of the findings have a causal origin (a hard-coded field, checked above,
    // has none to have); the same of the parts.
    assert!(
        causal * 100 >= with_origin * 97,
        "{causal} of {with_origin} causal: {not_causal:#?}"
    );
    assert!(
        parts_causal * 100 >= parts_total * 97,
        "{parts_causal} of {parts_total} parts causal: {not_causal_parts:#?}"
    );
}

#[test]
fn line_edits_replace_only_the_value() {
    let text = "image:\n  tag: \"\"  # defaults to appVersion\n  - name: x\n";
    assert_eq!(
        edit_line(text, 2, "9.9.9").unwrap(),
        "image:\n  tag: \"9.9.9\" # defaults to appVersion\n  - name: x\n"
    );
    assert_eq!(changed("tag:", "v1.12.1"), "v1.12.2");
    assert_eq!(changed("appVersion:", "2.20"), "2.21");
    assert_eq!(changed("pullPolicy:", "Always"), "Never");
    assert_eq!(
        changed("digest:", "null"),
        format!("sha256:{}", "e".repeat(64))
    );
    assert_eq!(changed("repository:", "quay.io/x"), "quay.io/x-edited");
    assert!(!editable("true") && editable("\"true\"") && !editable("|"));
    let layer = "a:\n  b: |\n    c: d\n  e: f\n  g:\n  h:\n    - i\n";
    let dir = tree(&[("v.yaml", layer)]);
    let work = Work {
        dir,
        helm_home: tempfile::tempdir().unwrap(),
        archives: HashMap::new(),
        renders: 0,
    };
    let lines: Vec<usize> = layer_edits(&work, "v.yaml").iter().map(|e| e.1).collect();
    // `c: d` is text of a block scalar; `h` holds a list; `g` is a null.
    assert_eq!(lines, [4, 5]);
}

/// `file:line` of an origin or a part.
fn at(o: &Value) -> Option<String> {
    line_of(o).map(|(file, line)| format!("{file}:{line}"))
}

#[test]
fn each_way_teams_override_images_is_pointed_at_its_own_line() {
    let fleet = root().join("charts-upstream");
    let out = imagegate(&["check", "--format", "json"], &fleet);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let findings = report["findings"].as_array().unwrap();
    let find = |app: &str, rule: &str, container: &str| -> &Value {
        let hits: Vec<&Value> = findings
            .iter()
            .filter(|f| f["app"] == app && f["rule"] == rule && f["container"] == container)
            .collect();
        assert_eq!(hits.len(), 1, "{app} {rule} {container}: {hits:#?}");
        hits[0]
    };
    let origin = |f: &Value| f.get("origin").and_then(at);
    let part = |f: &Value, p: &str| f["parts"].get(p).and_then(at);
    let ksm_tgz = "charts/prometheus-community/prometheus/charts/kube-state-metrics-8.4.0.tgz:\
                   kube-state-metrics/values.yaml";

    // `global.imageRegistry` reaches a subchart vendored as .tgz; the digest belongs in its
    // `sha` key, a default inside the archive.
    let ksm = find("dev-prometheus", "digest-required", "kube-state-metrics");
    assert_eq!(
        part(ksm, "registry").as_deref(),
        Some("values/dev/prometheus.yaml:3")
    );
    assert_eq!(origin(ksm), Some(format!("{ksm_tgz}:8")));
    // An empty tag defaults to appVersion; `digest: null` removed the shared pin.
    let server = find("dev-prometheus", "digest-required", "prometheus-server");
    assert_eq!(
        part(server, "tag").as_deref(),
        Some("charts/prometheus-community/prometheus/Chart.yaml:4")
    );
    assert_eq!(
        origin(server).as_deref(),
        Some("values/dev/prometheus.yaml:7")
    );
    // Under `alias: ksm` of a folder subchart: `sha: null` is where the digest goes, and the
    // tag is the subchart's appVersion behind the `v` its template prints.
    let alias = find("dev-platform-metrics", "digest-required", "ksm");
    assert_eq!(
        origin(alias).as_deref(),
        Some("values/dev/platform-metrics.yaml:4")
    );
    assert_eq!(
        part(alias, "tag").as_deref(),
        Some("charts/platform-metrics/charts/kube-state-metrics/Chart.yaml:7")
    );
    // A version tag traefik passes through `semverCompare`, and its chart's digest default.
    let traefik = find("prod-traefik", "digest-required", "traefik");
    assert_eq!(
        part(traefik, "tag").as_deref(),
        Some("values/prod/traefik.yaml:2")
    );
    assert_eq!(
        origin(traefik).as_deref(),
        Some("charts/traefik/traefik/values.yaml:14")
    );
    // Traefik's `<version>@<digest>` tag: both parts from the one line, the version checked.
    let combo = find("dev-traefik", "pull-policy-not-ifnotpresent", "traefik");
    for p in ["tag", "digest"] {
        assert_eq!(
            part(combo, p).as_deref(),
            Some("values/dev/traefik.yaml:3"),
            "{p}"
        );
    }
    assert_eq!(origin(combo).as_deref(), Some("values/dev/traefik.yaml:4"));
    // Invalid references built from several lines: the line of the part that breaks them.
    let doubled = find("dev-prometheus", "invalid-image-ref", "kube-rbac-proxy");
    assert_eq!(
        origin(doubled).as_deref(),
        Some("values/dev/prometheus.yaml:23")
    );
    let float = find("dev-prometheus", "invalid-image-ref", "pushgateway");
    assert_eq!(
        origin(float).as_deref(),
        Some("values/dev/prometheus.yaml:27")
    );
    // A mutable tag and a pull policy set in values.
    let am = find("dev-prometheus", "mutable-tag", "alertmanager");
    assert_eq!(origin(am).as_deref(), Some("values/dev/prometheus.yaml:14"));
    let reload = find(
        "dev-prometheus",
        "pull-policy-not-ifnotpresent",
        "prometheus-server-configmap-reload",
    );
    assert_eq!(
        origin(reload).as_deref(),
        Some("values/dev/prometheus.yaml:11")
    );
    // A digest typed into the tag, and a pull policy the template leaves out: hard-coded.
    let nanny = find(
        "prod-metrics-server",
        "pull-policy-missing",
        "metrics-server-nanny",
    );
    assert_eq!(
        part(nanny, "digest").as_deref(),
        Some("values/prod/metrics-server.yaml:8")
    );
    assert_eq!(origin(nanny), None);
}
