//! What Argo CD's repo server does to a source of this repository before it renders it: the
//! override files of the source's folder merged in, then the source's type decided.
//!
//! `.argocd-source.yaml`, then `.argocd-source-<app>.yaml` (`<app>` the Application's name, or
//! `<namespace>_<name>` for an Application outside Argo CD's namespace), are each a JSON merge
//! patch of the source (`mergeSourceParameters` in `reposerver/repository/repository.go`): the
//! write-back of Argo CD Image Updater, which sets `helm.parameters` there. The patch is applied
//! to the source's JSON and the result decoded *into the source as it was* with Go's
//! `encoding/json`, and that decoding decides what the merge means, so it is followed here:
//!
//! - a `null` (or a key the patch removes) leaves the field as it was: decoding writes only the
//!   fields the JSON holds;
//! - lists (`parameters`, `valueFiles`, …) and scalars are replaced; a replaced list's entry
//!   keeps each field it does not set from the entry at the same index before (Go decodes into
//!   the old slice's elements without zeroing them);
//! - `valuesObject` is merged key by key (RFC 7386: a `null` removes the key);
//! - field names match without regard to case, as Go matches them. In an entry of `parameters`
//!   or `fileParameters` such a key is read as its field (Image Updater writes `forcestring`);
//!   elsewhere a key spelled unlike its field is refused, since the merged JSON then holds both
//!   spellings and which one Argo CD keeps depends on their byte order;
//! - `chart`, `path`, `repoURL` and `targetRevision` are put back as the Application has them.
//!
//! With no `helm`, `kustomize`, `directory` or `plugin` after the merge, Argo CD discovers the
//! type from the folder's files (`util/app/discovery`): of the files directly in it whose name
//! ends with `Chart.yaml` (Helm) or is `kustomization.yaml`, `kustomization.yml` or
//! `Kustomization` (Kustomize), the last in byte order decides.

use super::{err, ConfigError};
use crate::{Repo, MAX_CONFIG_BYTES};
use imagegate_yaml::{Node, Scalar, ScalarStyle, Value};
use std::collections::BTreeMap;

/// The fields of `ApplicationSource` that a patch can set and imagegate reads or puts back.
const SOURCE_FIELDS: &[&str] = &[
    "repoURL",
    "path",
    "targetRevision",
    "helm",
    "kustomize",
    "directory",
    "plugin",
    "chart",
    "ref",
    "name",
];

/// The fields of `ApplicationSourceHelm`, each with whether it is a string, a bool or a list of
/// strings (`parameters`, `fileParameters` and `valuesObject` are handled apart).
const HELM_FIELDS: &[(&str, Kind)] = &[
    ("valueFiles", Kind::Strings),
    (
        "parameters",
        Kind::Entries(&["name", "value", "forceString"]),
    ),
    ("releaseName", Kind::String),
    ("values", Kind::String),
    ("fileParameters", Kind::Entries(&["name", "path"])),
    ("version", Kind::String),
    ("passCredentials", Kind::Bool),
    ("ignoreMissingValueFiles", Kind::Bool),
    ("skipCrds", Kind::Bool),
    ("valuesObject", Kind::Object),
    ("namespace", Kind::String),
    ("kubeVersion", Kind::String),
    ("apiVersions", Kind::Strings),
    ("skipTests", Kind::Bool),
    ("skipSchemaValidation", Kind::Bool),
];

#[derive(Clone, Copy)]
enum Kind {
    String,
    Bool,
    Strings,
    Object,
    /// A list of objects with these fields.
    Entries(&'static [&'static str]),
}

/// The override file names of an Application, in the order Argo CD merges them.
pub(crate) fn file_names(instance: &str) -> [String; 2] {
    [
        ".argocd-source.yaml".to_string(),
        format!(".argocd-source-{instance}.yaml"),
    ]
}

/// A source with its folder's override files merged in.
pub(crate) struct Overridden {
    /// The source as Argo CD renders it.
    pub source: Node,
    /// For each `helm` field an override file set: that file (the last one that set it).
    pub helm_files: BTreeMap<String, String>,
    /// Whether `helm.valuesObject` is merged from the manifest and a file, or from two files.
    pub mixed_values_object: bool,
    /// The entries Go's decoder can still reach of each `parameters` / `fileParameters` list:
    /// a shorter list leaves the old entries past its end in the slice's backing array, and a
    /// longer list decoded later reuses them.
    backing: BTreeMap<String, Vec<Node>>,
}

/// Go's case folding of a field name (`bytes.EqualFold`): ASCII case, and the two non-ASCII
/// letters that fold to ASCII ones (`K`, the Kelvin sign, and `ſ`, the long s).
fn fold(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '\u{212A}' => 'k',
            '\u{017F}' => 's',
            c => c.to_ascii_lowercase(),
        })
        .collect()
}

/// The field of `fields` that Go decodes `key` into, if any, and whether it is spelled as the
/// field is.
fn field_of<'f>(key: &str, fields: impl IntoIterator<Item = &'f str>) -> Option<(&'f str, bool)> {
    let folded = fold(key);
    fields
        .into_iter()
        .find(|f| fold(f) == folded)
        .map(|f| (f, f == key))
}

/// The source `source` of an Application, whose folder in the repository is
/// `chart`, with the override files of that folder merged in; `None` when there is none.
pub(crate) fn apply(
    repo: &Repo,
    source: &Node,
    chart: &str,
    instance: &str,
) -> Result<Option<Overridden>, ConfigError> {
    let mut merged: Option<Overridden> = None;
    for name in file_names(instance) {
        let file = if chart.is_empty() || chart == "." {
            name
        } else {
            format!("{chart}/{name}")
        };
        match repo.resolve(&file) {
            Ok(Some(real)) if real.is_file() => {}
            // Argo CD passes over a missing file and a folder of that name.
            Ok(_) => continue,
            Err(m) => return Err(ConfigError::new(&file, m)),
        }
        let text = repo.read_to_string(&file, MAX_CONFIG_BYTES)?;
        let patch = imagegate_yaml::load(&text, &imagegate_yaml::Limits::default())
            .map_err(|e| ConfigError::new(&file, e.message).at(Some(e.line), Some(e.col)))?;
        // An empty file is JSON `null`: decoding it changes nothing.
        let Some(patch) = patch.filter(|p| !p.is_null()) else {
            continue;
        };
        let state = merged.get_or_insert_with(|| Overridden {
            source: source.clone(),
            helm_files: BTreeMap::new(),
            mixed_values_object: false,
            backing: BTreeMap::new(),
        });
        merge_source(state, &patch, &file)
            .map_err(|(node, m)| err(&file, node.unwrap_or(&patch), m))?;
    }
    let Some(mut merged) = merged else {
        return Ok(None);
    };
    // Only what the config management tool reads is taken from the files.
    for key in ["chart", "path", "repoURL", "targetRevision"] {
        set(&mut merged.source, key, source.get(key).cloned());
    }
    Ok(Some(merged))
}

type Failure<'p> = (Option<&'p Node>, String);

fn merge_source<'p>(
    state: &mut Overridden,
    patch: &'p Node,
    file: &str,
) -> Result<(), Failure<'p>> {
    let Some(entries) = patch.as_map() else {
        return Err((
            None,
            format!(
                "{file} must be a mapping (the fields of an Application's source, such as `helm:`)"
            ),
        ));
    };
    for (key, value) in entries {
        let k = key.key_text().unwrap_or_default();
        let Some((field, exact)) = field_of(&k, SOURCE_FIELDS.iter().copied()) else {
            // Go ignores a field the source does not have.
            continue;
        };
        if !exact {
            return Err(misspelled(key, &k, field));
        }
        if value.is_null() {
            continue;
        }
        match field {
            "helm" => {
                if value.as_map().is_none() {
                    return Err((Some(value), "`helm` must be a mapping".to_string()));
                }
                let mut helm = state
                    .source
                    .get("helm")
                    .filter(|h| h.as_map().is_some())
                    .cloned()
                    .unwrap_or_else(|| Node {
                        value: Value::Map(Vec::new()),
                        line: value.line,
                        col: value.col,
                    });
                merge_helm(state, &mut helm, value, file)?;
                set(&mut state.source, "helm", Some(helm));
            }
            "kustomize" | "directory" | "plugin" => {
                if value.as_map().is_none() {
                    return Err((Some(value), format!("`{field}` must be a mapping")));
                }
                // Only its presence matters to imagegate: it makes the source of that type.
                if state.source.get(field).is_none_or(Node::is_null) {
                    set(&mut state.source, field, Some(value.clone()));
                }
            }
            // Put back afterwards, or not read by imagegate.
            _ => {}
        }
    }
    Ok(())
}

fn merge_helm<'p>(
    state: &mut Overridden,
    helm: &mut Node,
    patch: &'p Node,
    file: &str,
) -> Result<(), Failure<'p>> {
    for (key, value) in patch.as_map().unwrap_or_default() {
        let k = key.key_text().unwrap_or_default();
        let Some((field, exact)) = field_of(&k, HELM_FIELDS.iter().map(|(f, _)| *f)) else {
            continue;
        };
        if !exact {
            return Err(misspelled(key, &k, field));
        }
        if value.is_null() {
            continue;
        }
        let kind = HELM_FIELDS
            .iter()
            .find(|(f, _)| *f == field)
            .map_or(Kind::String, |(_, k)| *k);
        let wrong = |what: &str| (Some(value), format!("`helm.{field}` must be {what}"));
        let new = match kind {
            Kind::String if value.to_json().is_string() => value.clone(),
            Kind::String => return Err(wrong("a string")),
            Kind::Bool if value.to_json().is_boolean() => value.clone(),
            Kind::Bool => return Err(wrong("true or false")),
            Kind::Strings => {
                let Some(items) = value.as_seq() else {
                    return Err(wrong("a list of strings"));
                };
                // JSON merge patch drops the nulls of a list it writes.
                let mut kept = Vec::new();
                for item in items.iter().filter(|i| !i.is_null()) {
                    if !item.to_json().is_string() {
                        return Err((
                            Some(item),
                            format!("`helm.{field}` must be a list of strings"),
                        ));
                    }
                    kept.push(item.clone());
                }
                Node {
                    value: Value::Seq(kept),
                    ..value.clone()
                }
            }
            Kind::Object => {
                if value.as_map().is_none() {
                    return Err(wrong("a mapping"));
                }
                match helm.get(field).filter(|v| v.as_map().is_some()) {
                    Some(current) => {
                        let mut merged = current.clone();
                        merge_patch(&mut merged, value);
                        state.mixed_values_object = true;
                        // Named as this file's, where its `valuesObject` starts.
                        merged.line = value.line;
                        merged.col = value.col;
                        merged
                    }
                    None => {
                        let mut fresh = value.clone();
                        prune_nulls(&mut fresh);
                        fresh
                    }
                }
            }
            Kind::Entries(fields) => {
                let Some(items) = value.as_seq() else {
                    return Err(wrong("a list"));
                };
                let backing = state.backing.entry(field.to_string()).or_insert_with(|| {
                    helm.get(field)
                        .and_then(Node::as_seq)
                        .map(<[Node]>::to_vec)
                        .unwrap_or_default()
                });
                let mut out = Vec::new();
                for (i, item) in items.iter().filter(|i| !i.is_null()).enumerate() {
                    let decoded = entry(field, fields, item, backing.get(i))?;
                    match backing.get_mut(i) {
                        Some(slot) => *slot = decoded.clone(),
                        None => backing.push(decoded.clone()),
                    }
                    out.push(decoded);
                }
                Node {
                    value: Value::Seq(out),
                    ..value.clone()
                }
            }
        };
        set(helm, field, Some(new));
        state.helm_files.insert(field.to_string(), file.to_string());
    }
    Ok(())
}

/// One entry of a replaced `parameters` / `fileParameters` list as Go decodes it into the old
/// entry at its index: the fields the entry sets (matched without regard to case), the old
/// entry's for the others.
fn entry<'p>(
    list: &str,
    fields: &[&'static str],
    item: &'p Node,
    old: Option<&Node>,
) -> Result<Node, Failure<'p>> {
    let Some(map) = item.as_map() else {
        return Err((
            Some(item),
            format!("each entry of `helm.{list}` must be a mapping"),
        ));
    };
    let mut set_here: BTreeMap<&str, &Node> = BTreeMap::new();
    for (key, value) in map {
        let k = key.key_text().unwrap_or_default();
        let Some((field, _)) = field_of(&k, fields.iter().copied()) else {
            continue;
        };
        if set_here.contains_key(field) {
            return Err((
                Some(key),
                format!("`{k}` sets `{field}` of this `helm.{list}` entry a second time (Go matches field names without regard to case)"),
            ));
        }
        if !value.is_null() {
            set_here.insert(field, value);
        }
    }
    let mut out: Vec<(Node, Node)> = Vec::new();
    for field in fields {
        let value = match set_here.get(field) {
            Some(v) => {
                let ok = match *field {
                    "forceString" => v.to_json().is_boolean(),
                    _ => v.to_json().is_string(),
                };
                if !ok {
                    return Err((
                        Some(*v),
                        format!(
                            "`{field}` of a `helm.{list}` entry must be {}",
                            if *field == "forceString" {
                                "true or false"
                            } else {
                                "a string"
                            }
                        ),
                    ));
                }
                (*v).clone()
            }
            None => match old.and_then(|o| o.get(field)) {
                Some(v) => v.clone(),
                None => continue,
            },
        };
        out.push((text_node(field, &value), value));
    }
    Ok(Node {
        value: Value::Map(out),
        line: item.line,
        col: item.col,
    })
}

fn misspelled<'p>(key: &'p Node, k: &str, field: &str) -> Failure<'p> {
    (
        Some(key),
        format!(
            "`{k}` is spelled unlike Argo CD's field `{field}`: Go reads it as that field, and \
             which of the two spellings Argo CD keeps depends on their byte order; write `{field}`"
        ),
    )
}

/// RFC 7386 on YAML trees: a mapping patch merges key by key, `null` removes the key, anything
/// else replaces (with its nulls dropped where it lands on nothing).
fn merge_patch(target: &mut Node, patch: &Node) {
    let Some(entries) = patch.as_map() else {
        *target = patch.clone();
        return;
    };
    if target.as_map().is_none() {
        *target = Node {
            value: Value::Map(Vec::new()),
            ..patch.clone()
        };
    }
    for (key, value) in entries {
        let k = key.key_text().unwrap_or_default();
        let Value::Map(items) = &mut target.value else {
            return;
        };
        let at = items
            .iter()
            .position(|(tk, _)| tk.key_text().unwrap_or_default() == k);
        if value.is_null() {
            if let Some(i) = at {
                items.remove(i);
            }
            continue;
        }
        match at {
            Some(i)
                if !items[i].1.is_null()
                    && value.as_map().is_some()
                    && items[i].1.as_map().is_some() =>
            {
                merge_patch(&mut items[i].1, value);
            }
            Some(i) => {
                let mut v = value.clone();
                prune_nulls(&mut v);
                items[i].1 = v;
            }
            None => {
                let mut v = value.clone();
                prune_nulls(&mut v);
                items.push((key.clone(), v));
            }
        }
    }
}

/// What evanphx/json-patch's `pruneNulls` does to a value a merge writes where there was none:
/// every null member of a mapping and every null item of a list removed, at any depth.
fn prune_nulls(node: &mut Node) {
    match &mut node.value {
        Value::Map(items) => {
            items.retain(|(_, v)| !v.is_null());
            for (_, v) in items {
                prune_nulls(v);
            }
        }
        Value::Seq(items) => {
            items.retain(|v| !v.is_null());
            for v in items {
                prune_nulls(v);
            }
        }
        _ => {}
    }
}

/// A string scalar `text` at the position of `at`.
fn text_node(text: &str, at: &Node) -> Node {
    Node {
        value: Value::Scalar(Scalar {
            text: text.to_string(),
            style: ScalarStyle::DoubleQuoted,
        }),
        line: at.line,
        col: at.col,
    }
}

/// Sets (or, with `None`, removes) `key` of the mapping `node`.
fn set(node: &mut Node, key: &str, value: Option<Node>) {
    let Value::Map(items) = &mut node.value else {
        return;
    };
    let at = items
        .iter()
        .position(|(k, _)| k.key_text().is_some_and(|t| t == key));
    match (at, value) {
        (Some(i), Some(v)) => items[i].1 = v,
        (Some(i), None) => {
            items.remove(i);
        }
        (None, Some(v)) => items.push((text_node(key, &v), v)),
        (None, None) => {}
    }
}

/// The type Argo CD discovers for a source without an explicit one, from the names of the
/// files directly in its folder `real`: `Some("Helm")`, `Some("Kustomize")` or `None`
/// (Argo CD's `Directory`).
pub(crate) fn discovered_type(real: &std::path::Path) -> Option<&'static str> {
    let mut names: Vec<Vec<u8>> = Vec::new();
    for entry in std::fs::read_dir(real).ok()?.flatten() {
        // `filepath.Walk` reads each entry with lstat: a symlink is a file here.
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        use std::os::unix::ffi::OsStrExt;
        let name = entry.file_name().as_bytes().to_vec();
        if name.ends_with(b"Chart.yaml")
            || matches!(
                name.as_slice(),
                b"kustomization.yaml" | b"kustomization.yml" | b"Kustomization"
            )
        {
            names.push(name);
        }
    }
    // Walk visits a folder's entries in byte order, and each match overwrites the one before.
    names.sort();
    names.last().map(|n| {
        if n.ends_with(b"Chart.yaml") {
            "Helm"
        } else {
            "Kustomize"
        }
    })
}
