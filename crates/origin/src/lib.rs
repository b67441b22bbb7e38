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

use imagegate_config::{Cell, Repo};
use imagegate_policy::Offending;
use imagegate_yaml::{Limits, Node, ScalarStyle, Value};
use serde::Serialize;

/// Largest values file we read for origin resolution.
const MAX_VALUES_BYTES: u64 = 8 * 1024 * 1024;

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
}

struct Layer {
    file: String,
    kind: LayerKind,
    text: String,
    root: Option<Node>,
}

/// The value layers of one cell, lowest precedence first.
pub struct Stack {
    layers: Vec<Layer>,
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
        for (file, kind) in defaults.into_iter().chain(stack) {
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
            });
        }
        Self { layers }
    }

    /// The values line that supplies `offending`, if any layer sets it. A whole reference that no
    /// layer holds was assembled from parts: then the layer that set its tag (where a digest
    /// belongs), else the one that set its repository, is the place to fix.
    pub fn find(&self, offending: &Offending) -> Option<Origin> {
        if let Some(o) = self.find_exact(offending) {
            return Some(o);
        }
        let Offending::Reference(r) = offending else {
            return None;
        };
        let (repository, tag) = split_reference(r);
        if let Some(tag) = tag {
            if let Some(o) = self.find_exact(&Offending::Tag(tag.to_string())) {
                return Some(o);
            }
        }
        (!repository.is_empty() && repository != r)
            .then(|| self.find_exact(&Offending::Reference(repository.to_string())))
            .flatten()
    }

    fn find_exact(&self, offending: &Offending) -> Option<Origin> {
        for layer in self.layers.iter().rev() {
            let Some(root) = &layer.root else { continue };
            let mut best: Option<Hit> = None;
            visit(
                root,
                &mut String::new(),
                &mut |key, node, scalar_text, style| {
                    if let Some(hit) = judge(offending, key, node, scalar_text, style) {
                        if best.as_ref().is_none_or(|b| hit.strength > b.strength) {
                            best = Some(hit);
                        }
                    }
                },
            );
            if let Some(hit) = best {
                let text = layer
                    .text
                    .lines()
                    .nth(hit.line.saturating_sub(1) as usize)
                    .unwrap_or("")
                    .to_string();
                return Some(Origin {
                    file: layer.file.clone(),
                    line: hit.line,
                    text,
                    key: hit.key,
                    layer: layer.kind,
                });
            }
        }
        None
    }
}

/// Splits `repo[:tag][@digest]` into repository and tag, without validating anything (the
/// policy crate already did).
fn split_reference(r: &str) -> (&str, Option<&str>) {
    let name = r.split('@').next().unwrap_or(r);
    let last_slash = name.rfind('/').map_or(0, |i| i + 1);
    match name[last_slash..].rfind(':') {
        Some(c) => (&name[..last_slash + c], Some(&name[last_slash + c + 1..])),
        None => (name, None),
    }
}

/// Calls `f(key_path, node, text, style)` for every scalar.
fn visit(node: &Node, path: &mut String, f: &mut dyn FnMut(&str, &Node, &str, ScalarStyle)) {
    match &node.value {
        Value::Scalar(s) => f(path, node, &s.text, s.style),
        Value::Seq(items) => {
            for (i, item) in items.iter().enumerate() {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                visit(item, path, f);
                path.truncate(len);
            }
        }
        Value::Map(entries) => {
            for (k, v) in entries {
                let key = match &k.value {
                    Value::Scalar(s) => s.text.as_str(),
                    _ => "?",
                };
                let len = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(key);
                visit(v, path, f);
                path.truncate(len);
            }
        }
    }
}

fn last_key(path: &str) -> String {
    path.rsplit('.').next().unwrap_or(path).to_ascii_lowercase()
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
        })
    };
    match offending {
        Offending::Reference(r) | Offending::LabelValue(r) => {
            if text == r {
                return hit(Strength::Exact, node.line);
            }
            contained(node, text, style, r).and_then(|line| hit(Strength::Contained, line))
        }
        Offending::Tag(t) => {
            let plain_go = matches!(style, ScalarStyle::Plain)
                .then(|| go_text(node))
                .flatten();
            if leaf.contains("tag") && (text == t || plain_go.as_deref() == Some(t.as_str())) {
                return hit(Strength::KeyMatch, node.line);
            }
            // A full reference (or a YAML string of manifests) that carries this tag.
            contained(node, text, style, &format!(":{t}"))
                .and_then(|line| hit(Strength::Contained, line))
        }
        Offending::Digest(d) => {
            contained(node, text, style, d).and_then(|line| hit(Strength::Contained, line))
        }
        Offending::PullPolicy(p) => {
            if leaf.contains("pullpolicy") && text == p {
                return hit(Strength::KeyMatch, node.line);
            }
            let needle = format!("imagePullPolicy: {p}");
            contained(node, text, style, &needle).and_then(|line| hit(Strength::Contained, line))
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

/// The line where `needle` occurs inside a (possibly multi-line) scalar, if it does, requiring a
/// token boundary after it so `:dev` does not match `:devel`.
fn contained(node: &Node, text: &str, style: ScalarStyle, needle: &str) -> Option<u32> {
    let mut from = 0;
    while let Some(pos) = text[from..].find(needle).map(|p| p + from) {
        let end = pos + needle.len();
        let boundary = text[end..]
            .chars()
            .next()
            .is_none_or(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')));
        if boundary {
            let newlines = text[..pos].matches('\n').count() as u32;
            // Block scalars start on the line after their `|` / `>` indicator.
            let first = match style {
                ScalarStyle::Literal | ScalarStyle::Folded => node.line + 1,
                _ => node.line,
            };
            return Some(first + newlines);
        }
        from = end;
    }
    None
}

#[cfg(test)]
mod tests;
