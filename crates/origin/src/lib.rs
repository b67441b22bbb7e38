//! Where to fix it: the values file and line an offending image string comes from.
//!
//! Helm merges a cell's values from the lowest layer up: subchart defaults, the chart's own
//! `values.yaml`, then every `-f` file of the value stack in order. For a finding we look for the
//! offending part (the whole reference, the tag, the pull policy, the label value) among the
//! scalar values of those layers, from the top down, and report the first layer that sets it:
//! the one a user must change. When a reference was assembled from several layers (repository in
//! `_shared`, `imageTag: main` in the environment's globals), the part the rule is about decides
//! which layer we point at. When no layer explains it, the value is hard-coded in a template.
//!
//! Origins are resolved only for findings, never for every image, so clean cells pay nothing.
//!
//! The search runs under a work budget per cell ([`Stack::exhausted`]): every scalar visited and
//! every byte scanned is charged, so a hostile values file (or a pathological finding) can make
//! the search give up, never make it spin. The caller turns an exhausted budget into a cell that
//! was not judged.

#![warn(clippy::print_stdout, clippy::print_stderr)]

pub mod markers;

use imagegate_fleet::{Cell, Repo};
use imagegate_policy::Offending;
use imagegate_yaml::path::{push_index, push_key};
use imagegate_yaml::{Limits, Node, ScalarStyle, Value};
use serde::Serialize;

/// Largest values file we read for origin resolution.
const MAX_VALUES_BYTES: u64 = 8 * 1024 * 1024;

/// Work units one cell's provenance search may spend: one per scalar visited, plus one per 64
/// bytes of scalar text scanned. About a second of work on a slow machine; an ordinary cell
/// with findings spends well under a percent of it.
pub const DEFAULT_BUDGET: u64 = 50_000_000;

/// What kind of layer an origin is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum LayerKind {
    /// A values file of the cell's value stack.
    ValueStack,
    /// The chart's own `values.yaml` (a chart default nobody overrode).
    ChartDefault,
    /// A subchart's `values.yaml`.
    SubchartDefault,
}

/// The values line that supplies an offending string.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Origin {
    /// Repository-relative path of the values file.
    pub file: String,
    /// 1-based line.
    pub line: u32,
    /// The text of that line (for snippets).
    pub text: String,
    /// Dotted key path of the value, for messages (`image.tag`, `manifests[0]`).
    pub key: String,
    /// What kind of layer it is.
    pub layer: LayerKind,
    /// The value on that line as the file writes it ([`written`]): the fix list shows it.
    pub value: String,
}

/// A scalar as its file writes it, for a reader about to edit that line: a plain scalar as it
/// is (`latest`, `1.10`, `~`, empty for `key:`), a quoted one in its quotes (a double-quoted
/// one with JSON's escapes, which YAML reads alike), and a value inside a block scalar (`|`,
/// `>`: a manifest written in a values file) as its line `line_text`, trimmed, since the block
/// is not one value to show.
pub fn written(s: &imagegate_yaml::Scalar, line_text: &str) -> String {
    match s.style {
        ScalarStyle::Plain => s.text.clone(),
        ScalarStyle::SingleQuoted => format!("'{}'", s.text.replace('\'', "''")),
        ScalarStyle::DoubleQuoted => {
            serde_json::to_string(&s.text).unwrap_or_else(|_| format!("\"{}\"", s.text))
        }
        ScalarStyle::Literal | ScalarStyle::Folded => line_text.trim().to_string(),
    }
}

struct Layer {
    file: String,
    kind: LayerKind,
    text: String,
    root: Option<Node>,
    /// Where this layer's keys sit in the parent chart's values: `sentinel` for
    /// `charts/sentinel/values.yaml`, so key paths line up across layers.
    prefix: String,
}

/// The value layers of one cell, lowest precedence first, and what is left of the cell's
/// search budget.
pub struct Stack {
    layers: Vec<Layer>,
    budget: std::cell::Cell<u64>,
    exhausted: std::cell::Cell<bool>,
}

/// How well a scalar explains the offending string; higher is better.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Strength {
    /// The string occurs inside a longer value (a YAML string of raw manifests, a full reference).
    Contained,
    /// The scalar is the offending part under a key named for it (`tag`, `pullPolicy`).
    KeyMatch,
    /// The scalar is exactly the offending string.
    Exact,
}

struct Hit {
    strength: Strength,
    line: u32,
    key: String,
    /// The scalar hit, to show as written ([`written`]).
    scalar: Option<imagegate_yaml::Scalar>,
}

/// Among equally strong hits in one layer (a values file that sets `tag: latest` for several
/// images), which one belongs to the finding: first a sibling `repository`/`image` value that
/// the rendered image contains, then the number of key-path words shared with the image,
/// object and container names (`operators.integration.image.tag` for `integration-operator`).
fn affinity(key: &str, siblings: &[(Node, Node)], hints: &Hints) -> Affinity {
    let mut confirmed = false;
    let mut contradicted = false;
    if let Some(image) = hints.image {
        for (k, v) in siblings {
            let name = k.as_str().unwrap_or("").to_ascii_lowercase();
            if !(name.contains("repository") || name == "image" || name == "name") {
                continue;
            }
            // Only a repository-like value (with a `/`) speaks for or against the image.
            if let Some(r) = v.as_str().filter(|r| r.contains('/')) {
                if image.contains(r) {
                    confirmed = true;
                } else {
                    contradicted = true;
                }
            }
        }
    }
    let words = |s: &str| -> Vec<String> {
        s.split(|c: char| !c.is_ascii_alphanumeric())
            .filter(|w| w.len() > 1)
            .map(str::to_ascii_lowercase)
            .collect()
    };
    let context: Vec<String> = hints
        .words
        .iter()
        .chain(hints.image.iter())
        .flat_map(|h| words(h))
        .collect();
    let shared = words(key).iter().filter(|w| context.contains(w)).count();
    Affinity {
        confirmed: confirmed && !contradicted,
        contradicted: contradicted && !confirmed,
        shared,
    }
}

/// What a hit's neighbourhood says about it.
#[derive(Debug, Clone, Copy)]
struct Affinity {
    /// A sibling repository value is part of the image.
    confirmed: bool,
    /// A sibling repository value is not part of the image: this value feeds another image.
    contradicted: bool,
    /// Key-path words shared with the image, object and container names.
    shared: usize,
}

/// The key path of a subchart's values in its parent: `charts/a/charts/b/values.yaml` → `a.b`.
fn subchart_prefix(rel: &str) -> String {
    let parts: Vec<&str> = rel.split('/').collect();
    let mut prefix = String::new();
    for pair in parts.windows(2) {
        if pair[0] == "charts" && pair[1] != "values.yaml" {
            push_key(&mut prefix, pair[1]);
        }
    }
    prefix
}

/// What the finding is about, to pick between equally strong hits.
#[derive(Debug, Default, Clone, Copy)]
pub struct Hints<'a> {
    /// The rendered image reference.
    pub image: Option<&'a str>,
    /// Other names of the place: object name, container name.
    pub words: &'a [&'a str],
}

impl Stack {
    /// Loads the layers of `cell`: subchart `values.yaml` files, the chart's `values.yaml`, then
    /// the present files of the value stack. Unreadable layers are left out (the render already
    /// judged them; origins are advice).
    pub fn for_cell(repo: &Repo, cell: &Cell) -> Self {
        let mut layers = Vec::new();
        let mut defaults: Vec<(String, LayerKind)> = Vec::new();
        if let Ok(subs) = repo.glob(&format!("{}/charts/**/values.yaml", cell.chart)) {
            // Deeper subcharts have lower precedence than their parents.
            let mut subs = subs;
            subs.sort_by_key(|s| std::cmp::Reverse(s.matches('/').count()));
            defaults.extend(subs.into_iter().map(|s| (s, LayerKind::SubchartDefault)));
        }
        defaults.push((
            format!("{}/values.yaml", cell.chart),
            LayerKind::ChartDefault,
        ));
        let stack = cell
            .present_value_files()
            .map(|f| (f.to_string(), LayerKind::ValueStack));
        let charts_dir = format!("{}/", cell.chart);
        // An Argo CD cell's inline values, then its `--set` parameters, each as a layer whose
        // lines are the lines of its manifest.
        let inline = cell
            .inline_values
            .iter()
            .map(|i| (i.file.clone(), i.text.clone()))
            .chain(
                cell.parameters
                    .iter()
                    .filter_map(|p| Some((p.file.clone(), p.as_values_layer()?))),
            );
        let mut argocd = Vec::new();
        for (file, text) in inline {
            let root = imagegate_yaml::load(&text, &Limits::default())
                .ok()
                .flatten();
            argocd.push(Layer {
                file,
                kind: LayerKind::ValueStack,
                text,
                root,
                prefix: String::new(),
            });
        }
        for (file, kind) in defaults.into_iter().chain(stack) {
            let prefix = match kind {
                LayerKind::SubchartDefault => {
                    subchart_prefix(file.strip_prefix(&charts_dir).unwrap_or(&file))
                }
                _ => String::new(),
            };
            let Ok(text) = repo.read_to_string(&file, MAX_VALUES_BYTES) else {
                continue;
            };
            let root = imagegate_yaml::load(&text, &Limits::default())
                .ok()
                .flatten();
            layers.push(Layer {
                file,
                kind,
                text,
                root,
                prefix,
            });
        }
        layers.extend(argocd);
        Self::from_layers(layers)
    }

    /// A stack of in-memory values files (`(file, text)`, lowest precedence first), as the
    /// value stack of a cell: for tests and the fuzz target. Text that does not parse is kept
    /// (it can be no origin), as [`Stack::for_cell`] does.
    pub fn from_texts(texts: &[(&str, &str)]) -> Self {
        let layers = texts
            .iter()
            .map(|(file, text)| Layer {
                file: file.to_string(),
                kind: LayerKind::ValueStack,
                text: text.to_string(),
                root: imagegate_yaml::load(text, &Limits::default())
                    .ok()
                    .flatten(),
                prefix: String::new(),
            })
            .collect();
        Self::from_layers(layers)
    }

    fn from_layers(layers: Vec<Layer>) -> Self {
        Self {
            layers,
            budget: std::cell::Cell::new(DEFAULT_BUDGET),
            exhausted: std::cell::Cell::new(false),
        }
    }

    /// Sets the work budget left for this cell's searches (see [`DEFAULT_BUDGET`]).
    pub fn with_budget(self, units: u64) -> Self {
        self.budget.set(units);
        self.exhausted.set(units == 0);
        self
    }

    /// Whether a search ran out of budget. Every search after that finds nothing, so the
    /// caller must not present the cell's origins as complete: it fails the cell instead.
    pub fn exhausted(&self) -> bool {
        self.exhausted.get()
    }

    /// Charges `units` of work; false (and exhausted from now on) when the budget cannot pay.
    fn charge(&self, units: u64) -> bool {
        if self.exhausted.get() {
            return false;
        }
        match self.budget.get().checked_sub(units) {
            Some(left) => {
                self.budget.set(left);
                true
            }
            None => {
                self.budget.set(0);
                self.exhausted.set(true);
                false
            }
        }
    }

    /// The values line that supplies `offending`, if any layer sets it. A whole reference that no
    /// layer holds was assembled from parts: then the layer that set its tag (where a digest
    /// belongs), else the one that set its repository, is the place to fix.
    pub fn find(&self, offending: &Offending, hints: &Hints) -> Option<Origin> {
        if self.exhausted() {
            return None;
        }
        if let Some(o) = self.find_exact(offending, hints) {
            return Some(o);
        }
        let Offending::Reference(r) = offending else {
            return None;
        };
        let (repository, tag) = split_reference(r);
        if let Some(tag) = tag {
            if let Some(o) = self.find_exact(&Offending::Tag(tag.to_string()), hints) {
                return Some(o);
            }
        }
        (!repository.is_empty() && repository != r)
            .then(|| self.find_exact(&Offending::Reference(repository.to_string()), hints))
            .flatten()
    }

    fn find_exact(&self, offending: &Offending, hints: &Hints) -> Option<Origin> {
        // An empty value is a common default (`image: ""` in a chart's values.yaml), so for an
        // empty offending value only the one helm's merge keeps can be the origin: every key
        // each layer sets is noted, and a hit that a later layer sets again is dropped below.
        let empty = matches!(offending, Offending::EmptyImage)
            || matches!(offending, Offending::Tag(t) if t.is_empty());
        let mut set: Vec<(usize, String)> = Vec::new();
        // Every hit in every layer, with what its neighbourhood says about it.
        let mut hits: Vec<(usize, Hit, Affinity)> = Vec::new();
        for (index, layer) in self.layers.iter().enumerate() {
            let Some(root) = &layer.root else { continue };
            let mut path = layer.prefix.clone();
            visit(
                root,
                &mut path,
                &[],
                &mut |key, node, siblings, text, style| {
                    // One unit per scalar, one per 64 bytes a search may scan (a scalar is
                    // scanned at most a few times: the budget is a bound, not an exact count).
                    if !self.charge(1 + text.len() as u64 / 64) {
                        return false;
                    }
                    if empty {
                        set.push((index, key.to_string()));
                    }
                    if let Some(mut hit) = judge(offending, key, node, text, style) {
                        // A value holding the image's whole `repo:tag` names this very image:
                        // no `tag:` key elsewhere is better evidence than that.
                        let name = hints.image.map(|i| i.split('@').next().unwrap_or(i));
                        if hit.strength == Strength::Contained
                            && name.is_some_and(|n| n.contains(':') && text.contains(n))
                        {
                            hit.strength = Strength::Exact;
                        }
                        let a = affinity(key, siblings, hints);
                        if !a.contradicted {
                            hits.push((index, hit, a));
                        }
                    }
                    true
                },
            );
            if self.exhausted() {
                return None;
            }
        }
        if empty {
            hits.retain(|(index, hit, _)| {
                !set.iter()
                    .any(|(later, key)| later > index && overlaps(key, &hit.key))
            });
        }
        let strongest = hits.iter().map(|(_, h, _)| h.strength).max()?;
        hits.retain(|(_, h, _)| h.strength == strongest);
        // A hit whose sibling repository is in the image identifies the key that feeds it; the
        // last layer setting that same key is the one that wins in helm's merge.
        let chosen = match hits
            .iter()
            .filter(|(_, _, a)| a.confirmed)
            .max_by_key(|(i, _, a)| (a.shared, *i))
        {
            Some((_, confirmed, _)) => {
                let key = confirmed.key.clone();
                hits.iter()
                    .filter(|(_, h, _)| h.key == key)
                    .max_by_key(|(i, _, _)| *i)
            }
            None => hits.iter().max_by_key(|(i, _, a)| (*i, a.shared)),
        }?;
        let (index, hit, _) = chosen;
        let layer = &self.layers[*index];
        // Lines as YAML counts them (a lone `\r` ends a line too), so the line exists and its
        // text is the one the parser saw there.
        let lines = yaml_lines(&layer.text);
        let line = hit.line.clamp(1, lines.len().max(1) as u32);
        let text = lines
            .get(line as usize - 1)
            .copied()
            .unwrap_or("")
            .to_string();
        let value = hit
            .scalar
            .as_ref()
            .map(|s| written(s, &text))
            .unwrap_or_default();
        Some(Origin {
            file: layer.file.clone(),
            line,
            text,
            key: hit.key.clone(),
            layer: layer.kind,
            value,
        })
    }
}

/// Splits `repo[:tag][@digest]` into repository and tag, without validating anything. This is
/// not `ImageRef`'s grammar on purpose: an `invalid-image-ref` finding (`nginx:`, `app:v1:x`)
/// needs an origin too, and the grammar rejects exactly those references.
fn split_reference(r: &str) -> (&str, Option<&str>) {
    let name = r.split('@').next().unwrap_or(r);
    let last_slash = name.rfind('/').map_or(0, |i| i + 1);
    match name[last_slash..].rfind(':') {
        Some(c) => (&name[..last_slash + c], Some(&name[last_slash + c + 1..])),
        None => (name, None),
    }
}

/// A scalar visitor: key path, node, the entries of the mapping holding it, text, style.
/// It returns whether the walk goes on.
type Visitor<'f> = dyn FnMut(&str, &Node, &[(Node, Node)], &str, ScalarStyle) -> bool + 'f;

/// Calls `f` for every scalar until it returns false; returns whether the walk went to the end.
fn visit(node: &Node, path: &mut String, siblings: &[(Node, Node)], f: &mut Visitor<'_>) -> bool {
    match &node.value {
        Value::Scalar(s) => f(path, node, siblings, &s.text, s.style),
        Value::Seq(items) => {
            for (i, item) in items.iter().enumerate() {
                let len = path.len();
                push_index(path, i);
                let go_on = visit(item, path, &[], f);
                path.truncate(len);
                if !go_on {
                    return false;
                }
            }
            true
        }
        Value::Map(entries) => {
            for (k, v) in entries {
                let key = match &k.value {
                    Value::Scalar(s) => s.text.as_str(),
                    _ => "?",
                };
                let len = path.len();
                push_key(path, key);
                let go_on = visit(v, path, entries, f);
                path.truncate(len);
                if !go_on {
                    return false;
                }
            }
            true
        }
    }
}

/// Whether setting key path `a` in a later layer replaces the value at `b`: the same key, one
/// below it (a map where the scalar was) or one above it (the whole parent replaced or nulled).
fn overlaps(a: &str, b: &str) -> bool {
    let under = |x: &str, parent: &str| {
        x.strip_prefix(parent)
            .is_some_and(|rest| rest.starts_with('.') || rest.starts_with('['))
    };
    a == b || under(a, b) || under(b, a)
}

/// Whether a key (its last path part, lowercased) names an image itself rather than one of its
/// attributes: `image`, `sidecarImage`, `repository`, `ref`, but not `imagePullPolicy`,
/// `imageTag`, `imageRegistry`, `imagePullSecrets`.
fn names_an_image(leaf: &str) -> bool {
    let attribute = [
        "pullpolicy",
        "pullsecret",
        "pullsecrets",
        "tag",
        "digest",
        "registry",
        "version",
    ]
    .iter()
    .any(|a| leaf.ends_with(a));
    !attribute
        && (leaf.contains("image")
            || leaf.contains("repository")
            || matches!(leaf, "ref" | "reference"))
}

fn last_key(path: &str) -> String {
    imagegate_yaml::path::last_key(path)
        .unwrap_or_default()
        .to_ascii_lowercase()
}

fn judge(
    offending: &Offending,
    key: &str,
    node: &Node,
    text: &str,
    style: ScalarStyle,
) -> Option<Hit> {
    let leaf = last_key(key);
    let hit = |strength, line| {
        Some(Hit {
            strength,
            line,
            key: key.to_string(),
            scalar: node.as_scalar().cloned(),
        })
    };
    match offending {
        Offending::Reference(r) | Offending::LabelValue(r) => {
            if text == r {
                return hit(Strength::Exact, node.line);
            }
            contained(node, text, r).and_then(|line| hit(Strength::Contained, line))
        }
        Offending::EmptyImage => {
            // Nothing to look for but the empty value itself, under a key that names an image.
            let empty = text.trim().is_empty()
                || (matches!(style, ScalarStyle::Plain)
                    && matches!(text, "~" | "null" | "Null" | "NULL"));
            (empty && names_an_image(&leaf))
                .then(|| hit(Strength::KeyMatch, node.line))
                .flatten()
        }
        Offending::Tag(t) => {
            let plain_go = matches!(style, ScalarStyle::Plain)
                .then(|| go_text(node))
                .flatten();
            if leaf.contains("tag") && (text == t || plain_go.as_deref() == Some(t.as_str())) {
                return hit(Strength::KeyMatch, node.line);
            }
            // A full reference (or a YAML string of manifests) that carries this tag. An empty
            // tag (`repo:`) has nothing to look for: `:` alone occurs in every URL.
            if t.is_empty() {
                return None;
            }
            contained(node, text, &format!(":{t}")).and_then(|line| hit(Strength::Contained, line))
        }
        Offending::Digest(d) => {
            contained(node, text, d).and_then(|line| hit(Strength::Contained, line))
        }
        Offending::PullPolicy(p) => {
            if leaf.contains("pullpolicy") && text == p {
                return hit(Strength::KeyMatch, node.line);
            }
            let needle = format!("imagePullPolicy: {p}");
            contained(node, text, &needle).and_then(|line| hit(Strength::Contained, line))
        }
    }
}

/// How Go's text/template prints a plain YAML scalar that helm parsed as a number
/// (`1.10` → `1.1`), so a tag written as a float is still found.
fn go_text(node: &Node) -> Option<String> {
    match &node.value {
        Value::Scalar(s) => Some(s.go_template_text()),
        _ => None,
    }
}

/// The lines of `text` as YAML counts them: `\r\n`, `\r` and `\n` each end one.
pub fn yaml_lines(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        match rest.find(['\r', '\n']) {
            Some(i) => {
                out.push(&rest[..i]);
                let skip = if rest[i..].starts_with("\r\n") { 2 } else { 1 };
                rest = &rest[i + skip..];
            }
            None => {
                out.push(rest);
                break;
            }
        }
    }
    out
}

/// The file line of byte `pos` of a scalar's text. Only a literal block (`|`) keeps the file's
/// line structure in its text: it is positioned at its first content line, after any blank
/// lines its text starts with. Any other style folds or escapes its newlines, so its start line
/// is the best answer.
fn line_in_scalar(node: &Node, text: &str, pos: usize) -> u32 {
    let is_literal = matches!(&node.value, Value::Scalar(s) if s.style == ScalarStyle::Literal);
    if !is_literal {
        return node.line;
    }
    let leading = text.len() - text.trim_start_matches('\n').len();
    let newlines = text[leading.min(pos)..pos].matches('\n').count() as u32;
    node.line + newlines
}

/// The line where `needle` occurs inside a (possibly multi-line) scalar, if it does, requiring a
/// token boundary after it so `:dev` does not match `:devel`.
///
/// An empty needle is found nowhere: it would match at every position (and a search that does
/// not advance past an empty match never ends).
fn contained(node: &Node, text: &str, needle: &str) -> Option<u32> {
    if needle.is_empty() {
        return None;
    }
    let mut from = 0;
    while let Some(pos) = text[from..].find(needle).map(|p| p + from) {
        let end = pos + needle.len();
        let boundary = text[end..]
            .chars()
            .next()
            .is_none_or(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')));
        if boundary {
            return Some(line_in_scalar(node, text, pos));
        }
        // Strictly past the match start: the needle is not empty, so `end > pos >= from`.
        from = end;
    }
    None
}

#[cfg(test)]
mod tests;
