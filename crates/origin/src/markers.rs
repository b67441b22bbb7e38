//! Causal provenance: which values line *causes* a rendered image field, established by helm.
//!
//! The text search of [`crate::Stack`] proposes; this module lets helm decide. Candidate scalars
//! of a cell's values layers (the value stack, the chart's and its subcharts' `values.yaml`, and
//! `appVersion` of every `Chart.yaml`) are each replaced by a unique marker; the cell is rendered
//! once more with those layers; every marker that reaches a rendered field names the one line
//! that put it there, because helm's own merge, `default`, `printf` and `tpl` carried it.
//!
//! What this module does is the bookkeeping, without helm: [`Markers`] rewrites layers (as JSON,
//! which helm reads as YAML, so types survive exactly: a marker replaces only strings, and
//! numbers under tag and version keys, which templates print), remembers what each marker
//! replaced, and reads markers back out of rendered text ([`Markers::find`], [`ImageParts`]).
//! A value shaped like a version (`v1.12.1`) keeps its version and carries the marker as semver
//! build metadata (`v1.12.1+igm7q`, [`marker_for`]): templates pass tags and `appVersion`
//! through `semverCompare` and `semver`, which a bare marker would fail or steer elsewhere,
//! while build metadata changes no comparison.
//! The engine makes the scratch chart and the render.

use crate::{yaml_lines, LayerKind};
use imagegate_yaml::path::{write_path, PathSegment};
use imagegate_yaml::{Limits, Node, Resolved, Value};
use std::ops::Range;

/// The text that replaces candidate number `id`: lowercase letters and digits only, so it stays
/// one token of an image reference (no `/`, `:`, `@`, `.`) and survives `lower`, `trimPrefix`,
/// `printf`, `quote`, `default` and `trunc` to any ordinary length.
pub fn marker(id: usize) -> String {
    format!("igm{id}q")
}

/// The text that replaces candidate number `id` whose value templates print as `value`: for a
/// version (`v1.12.1`, `2.20`, `1.0.0-rc.1`) the version with the marker as its build metadata
/// (`v1.12.1+igm7q`), which `semverCompare` and `semver` accept and compare as the version
/// itself; for a version with a digest (`v3.7.11@sha256:…`, a tag traefik splits at `@` before
/// checking the version) the same with the digest kept after it; for anything else the bare
/// [`marker`].
pub fn marker_for(id: usize, value: &str) -> String {
    let (version, digest) = match value.split_once('@') {
        Some((version, digest)) => (version, Some(digest)),
        None => (value, None),
    };
    if !is_version(version) {
        return marker(id);
    }
    match digest {
        Some(digest) => format!("{version}+{}@{digest}", marker(id)),
        None => format!("{version}+{}", marker(id)),
    }
}

/// Whether `v` reads as a version semver accepts without build metadata: an optional `v`, two
/// or three dot-separated numbers, an optional `-` pre-release of letters, digits, `.` and `-`.
fn is_version(v: &str) -> bool {
    let v = v.strip_prefix('v').unwrap_or(v);
    let (core, pre) = match v.split_once('-') {
        Some((core, pre)) => (core, Some(pre)),
        None => (v, None),
    };
    let numbers: Vec<&str> = core.split('.').collect();
    let numeric = |n: &&str| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit());
    (2..=3).contains(&numbers.len())
        && numbers.iter().all(numeric)
        && pre.is_none_or(|p| {
            !p.is_empty()
                && p.split('.').all(|id| !id.is_empty())
                && p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
        })
}

/// Every marker in `text`, in order, as (id, byte range). A marker is `igm`, decimal digits, `q`.
pub fn find_markers(text: &str) -> Vec<(usize, Range<usize>)> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(pos) = text[from..].find("igm").map(|p| p + from) {
        let digits = bytes[pos + 3..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        let end = pos + 3 + digits;
        // Every pass moves past at least the `igm` it found.
        from = pos + 3;
        if digits == 0 || digits > 9 || bytes.get(end) != Some(&b'q') {
            continue;
        }
        if let Ok(id) = text[pos + 3..end].parse::<usize>() {
            out.push((id, pos..end + 1));
            from = end + 1;
        }
    }
    out
}

/// One scalar a marker replaced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Marked {
    /// The layer's file as the report names it (repository-relative; a file inside a vendored
    /// `charts/*.tgz` is `<archive>:<path inside it>`).
    pub file: String,
    /// 1-based line of the value.
    pub line: u32,
    /// The text of that line.
    pub line_text: String,
    /// Key path of the value as the parent chart's values see it (`cache.image.tag` for
    /// `image.tag` of a subchart aliased `cache`; `appVersion` in a `Chart.yaml`).
    pub key: String,
    /// The value as helm's templates print it (`1.10` as `1.1`).
    pub value: String,
    /// The value as the file writes it ([`crate::written`]: `"1.10"` with its quotes).
    pub written: String,
    /// The text that replaced it ([`marker_for`]).
    pub marker: String,
    /// What kind of layer the file is.
    pub layer: LayerKind,
    /// The mapping holding the value names a container (it has `name` and `image` keys): a
    /// container written in a values file.
    pub in_container: bool,
    /// Index of the layer among those marked, lowest precedence first.
    pub layer_index: usize,
    /// Key path segments of the mapping holding the value, without the layer's prefix.
    pub parent: Vec<PathSegment>,
}

/// A key a layer sets, recorded for questions the markers cannot answer (where a digest
/// belongs): its path, line and whether it is empty or null.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Setting {
    layer_index: usize,
    path: Vec<PathSegment>,
    line: u32,
    text: String,
    /// The value as written (`null`, `""`, `sha256:…`).
    written: String,
}

/// The markers of one cell's render, and what each replaced.
#[derive(Debug, Default)]
pub struct Markers {
    marked: Vec<Marked>,
    settings: Vec<Setting>,
    layers: Vec<(String, LayerKind, Vec<PathSegment>)>,
}

/// The keys beside an image's values that hold its digest, in the order they are looked for.
const DIGEST_KEYS: [&str; 2] = ["digest", "sha"];

/// What makes a scalar a candidate for a marker.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// The rendered fields the findings are about (image references, pull policies): a string
    /// that occurs in one of them is a candidate whatever its key.
    pub fields: Vec<String>,
}

/// Most bytes of one marked scalar: longer strings are manifests or scripts, not image parts.
const MAX_CANDIDATE_BYTES: usize = 2048;

impl Selection {
    fn wants(&self, leaf: &str, text: &str, resolved: Resolved<'_>) -> bool {
        let original = leaf;
        let leaf = leaf.to_ascii_lowercase();
        let attribute = ["image", "repo", "registry", "tag", "digest", "pullpolicy"]
            .iter()
            .any(|w| leaf.contains(w))
            || (leaf.contains("version") && !leaf.ends_with("apiversion") && leaf != "kubeversion");
        match resolved {
            Resolved::Str(s) => {
                if s.is_empty() || s.len() > MAX_CANDIDATE_BYTES || s.contains(['\n', '\r']) {
                    return false;
                }
                // A string that reads as a boolean steers templates (`enabled: "true"`); its
                // two values cannot carry a marker without changing what renders.
                if matches!(
                    s.to_ascii_lowercase().as_str(),
                    "true" | "false" | "yes" | "no" | "on" | "off"
                ) {
                    return false;
                }
                attribute
                    || self.fields.iter().any(|f| {
                        f.contains(s)
                            || s.strip_prefix('v')
                                .is_some_and(|t| !t.is_empty() && f.contains(t))
                    })
            }
            // A number is a tag or a version only under such a key (`tag: 1.10`, `imageTag`,
            // `appVersion`), judged by the words of the key: `goMemLimitPercentage` holds
            // "tag" as letters, not as a word. Any other number may size a loop, scale a
            // limit or be checked by a schema, which a marker must never change.
            Resolved::Int(_) | Resolved::Uint(_) | Resolved::Float(_) => {
                let leaf_is_tag = key_words(original).iter().any(|w| {
                    w.ends_with("tag")
                        || (w.ends_with("version") && w != "apiversion" && w != "kubeversion")
                });
                leaf_is_tag && !text.is_empty() && attribute
            }
            Resolved::Null | Resolved::Bool(_) => false,
        }
    }
}

/// The words of a key, lowercase: split at `_`, `-`, `.` and where a lowercase letter or digit
/// meets an uppercase one (`goMemLimitPercentage` is go, mem, limit, percentage; `image_tag` is
/// image, tag; `imagetag` is one word).
fn key_words(key: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut prev_lower = false;
    for c in key.chars() {
        if matches!(c, '_' | '-' | '.' | ' ') {
            words.push(std::mem::take(&mut word));
            prev_lower = false;
            continue;
        }
        if c.is_uppercase() && prev_lower {
            words.push(std::mem::take(&mut word));
        }
        prev_lower = c.is_lowercase() || c.is_ascii_digit();
        word.extend(c.to_lowercase());
    }
    words.push(word);
    words.retain(|w| !w.is_empty());
    words
}

impl Markers {
    /// No markers yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// What marker `id` replaced.
    pub fn get(&self, id: usize) -> Option<&Marked> {
        self.marked.get(id)
    }

    /// Whether some marker replaced a value on line `line` of `file`.
    pub fn marks_line(&self, file: &str, line: u32) -> bool {
        self.marked.iter().any(|m| m.file == file && m.line == line)
    }

    /// Every marker in `text`, in order, as (id, byte range): [`find_markers`], each range
    /// widened over the text [`marker_for`] wrote around that marker (the version before it,
    /// `v1.12.1+`, and a digest after it, `@sha256:…`) where the text still holds it there, so
    /// putting the value back in its place rebuilds the text.
    pub fn find(&self, text: &str) -> Vec<(usize, Range<usize>)> {
        find_markers(text)
            .into_iter()
            .map(|(id, r)| {
                let bare = marker(id);
                let (before, after) = self
                    .get(id)
                    .and_then(|m| m.marker.split_once(bare.as_str()))
                    .unwrap_or(("", ""));
                let start = match text[..r.start].ends_with(before) {
                    true => r.start - before.len(),
                    false => r.start,
                };
                let end = match text[r.end..].starts_with(after) {
                    true => r.end + after.len(),
                    false => r.end,
                };
                (id, start..end)
            })
            .collect()
    }

    /// How many markers there are.
    pub fn len(&self) -> usize {
        self.marked.len()
    }

    /// Whether no scalar was marked.
    pub fn is_empty(&self) -> bool {
        self.marked.is_empty()
    }

    /// Rewrites a values layer `text` (file `file`, its keys under `prefix` in the parent
    /// chart's values) with every candidate scalar replaced by its marker, as JSON text. `None`
    /// when the text does not load (helm already judged it; the layer is then used unmarked).
    pub fn mark_values(
        &mut self,
        file: &str,
        layer: LayerKind,
        prefix: &[String],
        text: &str,
        selection: &Selection,
    ) -> Option<String> {
        let root = imagegate_yaml::load(text, &Limits::default()).ok()?;
        let layer_index = self.layers.len();
        let prefix: Vec<PathSegment> = prefix.iter().cloned().map(PathSegment::Key).collect();
        self.layers.push((file.to_string(), layer, prefix.clone()));
        let Some(root) = root else {
            return Some("{}".into());
        };
        let lines = yaml_lines(text);
        let mut walk = Walk {
            markers: self,
            file,
            layer,
            layer_index,
            lines: &lines,
            selection,
            prefix: &prefix,
        };
        let mut path = Vec::new();
        let json = walk.node(&root, &mut path, false);
        Some(json.to_string())
    }

    /// Rewrites a `Chart.yaml` with its `appVersion` replaced by a marker (the tag most charts
    /// default to), as JSON text. `None` when it does not load or has no `appVersion`.
    pub fn mark_chart_yaml(&mut self, file: &str, layer: LayerKind, text: &str) -> Option<String> {
        let root = imagegate_yaml::load(text, &Limits::default()).ok()??;
        let Value::Map(entries) = &root.value else {
            return None;
        };
        let lines = yaml_lines(text);
        let layer_index = self.layers.len();
        self.layers.push((file.to_string(), layer, Vec::new()));
        let mut map = serde_json::Map::new();
        let mut marked = false;
        for (k, v) in entries {
            let key = json_key(k);
            let value = match (&v.value, key.as_str()) {
                (Value::Scalar(s), "appVersion") if !s.is_null() && !s.text.is_empty() => {
                    marked = true;
                    let id = self.marked.len();
                    let value = s.go_template_text();
                    let text = marker_for(id, &value);
                    self.marked.push(Marked {
                        file: file.to_string(),
                        line: v.line,
                        line_text: line_text(&lines, v.line),
                        key: "appVersion".into(),
                        written: crate::written(s, &line_text(&lines, v.line)),
                        marker: text.clone(),
                        value,
                        layer,
                        in_container: false,
                        layer_index,
                        parent: Vec::new(),
                    });
                    serde_json::Value::String(text)
                }
                _ => v.to_json(),
            };
            map.insert(key, value);
        }
        marked.then(|| serde_json::Value::Object(map).to_string())
    }

    /// Where a digest belongs beside the value marker `id` replaced: the `digest` key of the
    /// same mapping, else its `sha` key (kube-state-metrics, kube-rbac-proxy), as the last layer
    /// that sets it (helm's merge keeps that one; a `digest: null` override is the line to
    /// change). `None` when no layer has such a key, or when the last one holds a digest (the
    /// image it is beside does not carry it, so it is another image's).
    pub fn digest_beside(&self, id: usize) -> Option<crate::Origin> {
        DIGEST_KEYS
            .iter()
            .find_map(|key| self.digest_key_beside(id, key))
    }

    fn digest_key_beside(&self, id: usize, digest_key: &str) -> Option<crate::Origin> {
        let m = self.marked.get(id)?;
        let owner = &self.layers.get(m.layer_index)?.2;
        let full = |layer: usize, path: &[PathSegment]| -> Vec<PathSegment> {
            let mut p = self
                .layers
                .get(layer)
                .map(|l| l.2.clone())
                .unwrap_or_default();
            p.extend(path.iter().cloned());
            p
        };
        let mut want = owner.clone();
        want.extend(m.parent.iter().cloned());
        want.push(PathSegment::Key(digest_key.into()));
        let s = self
            .settings
            .iter()
            .filter(|s| full(s.layer_index, &s.path) == want)
            .max_by_key(|s| s.layer_index)?;
        // A digest the key holds today that this image does not carry is another image's
        // (`domain.digest` beside `domain.migrationJobImage`): only an empty key is this
        // image's place for one.
        if !matches!(
            s.written.trim_matches(['"', '\'']).trim(),
            "" | "null" | "~"
        ) {
            return None;
        }
        let (file, kind, _) = &self.layers[s.layer_index];
        Some(crate::Origin {
            file: file.clone(),
            line: s.line,
            text: s.text.clone(),
            key: write_path(&want),
            layer: *kind,
            value: s.written.clone(),
        })
    }
}

/// The mapping key of `k` as helm's values see it (the JSON name).
fn json_key(k: &Node) -> String {
    match (k.key_text(), &k.value) {
        (Some(text), _) => text.into_owned(),
        (None, Value::Scalar(s)) => s.text.clone(),
        (None, other) => other.to_json().to_string(),
    }
}

fn line_text(lines: &[&str], line: u32) -> String {
    lines
        .get((line as usize).saturating_sub(1))
        .copied()
        .unwrap_or("")
        .to_string()
}

struct Walk<'a, 'm> {
    markers: &'m mut Markers,
    file: &'a str,
    layer: LayerKind,
    layer_index: usize,
    lines: &'a [&'a str],
    selection: &'a Selection,
    prefix: &'a [PathSegment],
}

impl Walk<'_, '_> {
    /// The node as JSON (as [`Node::to_json`] makes it), candidates replaced by markers.
    fn node(
        &mut self,
        node: &Node,
        path: &mut Vec<PathSegment>,
        in_container: bool,
    ) -> serde_json::Value {
        match &node.value {
            Value::Scalar(s) => {
                let leaf = match path.last() {
                    Some(PathSegment::Key(k)) => k.as_str(),
                    _ => "",
                };
                if !self.selection.wants(leaf, &s.text, s.resolve()) {
                    return s.to_json();
                }
                let id = self.markers.marked.len();
                let mut key = self.prefix.to_vec();
                key.extend(path.iter().cloned());
                let whole = s.go_template_text();
                // A value that is template text (`"{{ .Values.global.imageRegistry }}/acme/web"`,
                // which the chart passes through `tpl`) keeps its actions, so the values they
                // read carry their own markers through; only its literal text is marked.
                let (value, text, json) = match literal_to_mark(&whole) {
                    Literal::Whole => {
                        let text = marker_for(id, &whole);
                        (whole, text.clone(), text)
                    }
                    Literal::Span(span) => {
                        let value = whole[span.clone()].to_string();
                        let text = marker_for(id, &value);
                        let json = format!("{}{text}{}", &whole[..span.start], &whole[span.end..]);
                        (value, text, json)
                    }
                    Literal::None => return s.to_json(),
                };
                self.markers.marked.push(Marked {
                    file: self.file.to_string(),
                    line: node.line,
                    line_text: line_text(self.lines, node.line),
                    key: write_path(&key),
                    written: crate::written(s, &line_text(self.lines, node.line)),
                    marker: text.clone(),
                    value,
                    layer: self.layer,
                    in_container,
                    layer_index: self.layer_index,
                    parent: path[..path.len().saturating_sub(1)].to_vec(),
                });
                serde_json::Value::String(json)
            }
            Value::Seq(items) => serde_json::Value::Array(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| {
                        path.push(PathSegment::Index(i));
                        let v = self.node(item, path, false);
                        path.pop();
                        v
                    })
                    .collect(),
            ),
            Value::Map(entries) => {
                let container = node.get("name").is_some() && node.get("image").is_some();
                let mut map = serde_json::Map::with_capacity(entries.len());
                for (k, v) in entries {
                    let key = json_key(k);
                    path.push(PathSegment::Key(key.clone()));
                    let written = |line: u32| {
                        v.as_scalar()
                            .map(|s| crate::written(s, &line_text(self.lines, line)))
                            .unwrap_or_default()
                    };
                    if v.is_null() || v.as_str().is_some_and(str::is_empty) {
                        self.markers.settings.push(Setting {
                            layer_index: self.layer_index,
                            path: path.clone(),
                            line: k.line,
                            text: line_text(self.lines, k.line),
                            written: written(k.line),
                        });
                    } else if v.as_scalar().is_some()
                        && (key.to_ascii_lowercase().contains("digest")
                            || DIGEST_KEYS.contains(&key.as_str()))
                    {
                        self.markers.settings.push(Setting {
                            layer_index: self.layer_index,
                            path: path.clone(),
                            line: v.line,
                            text: line_text(self.lines, v.line),
                            written: written(v.line),
                        });
                    }
                    let value = self.node(v, path, container);
                    path.pop();
                    map.insert(key, value);
                }
                serde_json::Value::Object(map)
            }
        }
    }
}

/// What of a candidate string a marker replaces.
#[derive(Debug, PartialEq, Eq)]
enum Literal {
    /// The whole value: it holds no template action.
    Whole,
    /// This byte range of literal text between the template actions of the value: the longest
    /// run outside `{{ … }}`, without the separators (`/`, `:`, `@`) at its ends, so the
    /// reference keeps its shape and every action its text.
    Span(Range<usize>),
    /// Nothing: the value is template actions and separators only (`{{ .Values.a }}:{{ .b }}`);
    /// the values the actions read are marked themselves.
    None,
}

/// Which text of `value` to mark ([`Literal`]). An unclosed `{{` is template text to its end,
/// as Go's parser sees it (helm fails on it either way).
fn literal_to_mark(value: &str) -> Literal {
    if !value.contains("{{") {
        return Literal::Whole;
    }
    let mut best: Option<Range<usize>> = None;
    let mut consider = |start: usize, end: usize| {
        let run = &value[start..end];
        let lead = run.len() - run.trim_start_matches(['/', ':', '@']).len();
        let trail = run.len() - run.trim_end_matches(['/', ':', '@']).len();
        if lead + trail >= run.len() {
            return;
        }
        let span = start + lead..end - trail;
        if best.as_ref().is_none_or(|b| span.len() > b.len()) {
            best = Some(span);
        }
    };
    let mut at = 0;
    // Each pass moves past one `{{ … }}` action, or ends.
    while at < value.len() {
        match value[at..].find("{{") {
            Some(open) => {
                consider(at, at + open);
                match value[at + open + 2..].find("}}") {
                    Some(close) => at = at + open + 2 + close + 2,
                    None => at = value.len(),
                }
            }
            None => {
                consider(at, value.len());
                at = value.len();
            }
        }
    }
    best.map_or(Literal::None, Literal::Span)
}

/// Which part of an image reference a byte range of it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Part {
    /// The registry host (`ghcr.io`, `registry:5000`), when the reference names one.
    Registry,
    /// The repository path after the registry.
    Repository,
    /// The tag.
    Tag,
    /// The digest.
    Digest,
    /// The pull policy of the container.
    PullPolicy,
}

impl Part {
    /// The lowercase name used in every format.
    pub fn as_str(self) -> &'static str {
        match self {
            Part::Registry => "registry",
            Part::Repository => "repository",
            Part::Tag => "tag",
            Part::Digest => "digest",
            Part::PullPolicy => "pullPolicy",
        }
    }
}

/// The byte ranges of the parts of an image reference, split without validating it (an invalid
/// reference needs origins too).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageParts {
    /// The registry host, when the first path component looks like one (holds `.` or `:` or is
    /// `localhost`) and more components follow.
    pub registry: Option<Range<usize>>,
    /// The repository path.
    pub repository: Range<usize>,
    /// The tag, without its `:`.
    pub tag: Option<Range<usize>>,
    /// The digest, without its `@`.
    pub digest: Option<Range<usize>>,
}

impl ImageParts {
    /// Splits `image` (`[registry/]repository[:tag][@digest]`).
    pub fn of(image: &str) -> Self {
        Self::split(image, |first| {
            first.contains(['.', ':']) || first == "localhost"
        })
    }

    fn split(image: &str, is_registry: impl Fn(&str) -> bool) -> Self {
        let (name_end, digest) = match image.find('@') {
            Some(at) => (at, Some(at + 1..image.len())),
            None => (image.len(), None),
        };
        let name = &image[..name_end];
        let last_slash = name.rfind('/').map_or(0, |i| i + 1);
        let (repo_end, tag) = match name[last_slash..].rfind(':') {
            Some(c) => (last_slash + c, Some(last_slash + c + 1..name_end)),
            None => (name_end, None),
        };
        let registry = name[..repo_end]
            .find('/')
            .filter(|&slash| is_registry(&name[..slash]))
            .map(|slash| 0..slash);
        let repository = registry.as_ref().map_or(0, |r| r.end + 1)..repo_end;
        Self {
            registry,
            repository,
            tag,
            digest,
        }
    }

    /// The parts a byte range touches.
    pub fn touched(&self, range: &Range<usize>) -> Vec<Part> {
        let meets = |r: &Range<usize>| range.start < r.end && r.start < range.end;
        let mut out = Vec::new();
        if self.registry.as_ref().is_some_and(meets) {
            out.push(Part::Registry);
        }
        if meets(&self.repository) {
            out.push(Part::Repository);
        }
        if self.tag.as_ref().is_some_and(meets) {
            out.push(Part::Tag);
        }
        if self.digest.as_ref().is_some_and(meets) {
            out.push(Part::Digest);
        }
        out
    }
}

/// Which markers reach which parts of a rendered image: `marked` is the image of the marked
/// render, `real` the one of the real render. When putting every marker's value back gives the
/// real image exactly, the parts are those of the real image (so a registry marker counts as the
/// registry); otherwise a template transformed a value and the marked image is split itself.
pub fn image_markers(markers: &Markers, marked: &str, real: &str) -> Vec<(Part, usize)> {
    let found = markers.find(marked);
    // The marked image with each marker's value put back, and where each marker's value lands.
    let mut rebuilt = String::with_capacity(real.len());
    let mut ranges = Vec::with_capacity(found.len());
    let mut last = 0;
    for (id, r) in &found {
        rebuilt.push_str(&marked[last..r.start]);
        let value = markers.get(*id).map_or("", |m| m.value.as_str());
        let start = rebuilt.len();
        rebuilt.push_str(value);
        ranges.push((*id, start..rebuilt.len()));
        last = r.end;
    }
    rebuilt.push_str(&marked[last..]);
    let (parts, ranges) = if rebuilt == real {
        (ImageParts::of(real), ranges)
    } else {
        // A registry in the marked image is a marker whose value looks like one.
        let parts = ImageParts::split(marked, |first| {
            let values = markers.find(first);
            if values.is_empty() {
                first.contains(['.', ':']) || first == "localhost"
            } else {
                values.iter().any(|(id, _)| {
                    markers.get(*id).is_some_and(|m| {
                        let v = m.value.as_str();
                        v.contains(['.', ':']) && !v.contains('/') || v == "localhost"
                    })
                })
            }
        });
        (parts, found)
    };
    let mut out = Vec::new();
    for (id, r) in ranges {
        for part in parts.touched(&r) {
            out.push((part, id));
        }
    }
    out
}

#[cfg(test)]
#[path = "markers_tests.rs"]
mod tests;
