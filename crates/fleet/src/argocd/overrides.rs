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
//!   keeps each field it does not set from the entry at the same index before, and a `null`
//!   item keeps that entry whole (Go decodes into the old slice's elements without zeroing them,
//!   and evanphx/json-patch v5.9.11, Argo CD's, keeps the nulls of a list); an empty list is a
//!   new, empty slice;
//! - `valuesObject` is merged key by key (RFC 7386: a `null` removes the key);
//! - an empty file (or one that is only comments, or `null`) is refused, as the merge patch
//!   refuses a `null` patch (`ErrBadJSONPatch`) and Argo CD then renders nothing;
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
        // An empty file is JSON `null`, which the merge patch refuses: Argo CD cannot render the
        // application at all.
        let Some(patch) = patch.filter(|p| !p.is_null()) else {
            return Err(ConfigError::new(
                &file,
                "Argo CD refuses an empty override file (its JSON is `null`, not a merge patch) and renders nothing for this application",
            )
            .hint("give it the fields to override (`helm:` …), or remove it"));
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
    for (key, value) in last_of_each(entries) {
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
    for (key, value) in last_of_each(patch.as_map().unwrap_or_default()) {
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
                let backing = backing_of(&mut state.backing, helm, field, items.is_empty());
                let mut kept = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    // Go ignores a null for a string: the old string at this index stays
                    // (none: the empty string).
                    let decoded = if item.is_null() {
                        backing
                            .get(i)
                            .cloned()
                            .unwrap_or_else(|| text_node("", item))
                    } else if item.to_json().is_string() {
                        item.clone()
                    } else {
                        return Err((
                            Some(item),
                            format!("`helm.{field}` must be a list of strings"),
                        ));
                    };
                    store(backing, i, &decoded);
                    kept.push(decoded);
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
                let backing = backing_of(&mut state.backing, helm, field, items.is_empty());
                let mut out = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    // Go ignores a null for a struct: the old entry at this index stays whole
                    // (none: an entry with no field set).
                    let decoded = if item.is_null() {
                        backing.get(i).cloned().unwrap_or_else(|| Node {
                            value: Value::Map(Vec::new()),
                            ..item.clone()
                        })
                    } else {
                        entry(field, fields, item, backing.get(i))?
                    };
                    store(backing, i, &decoded);
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

/// The entries Go's decoder can reach of list `field` (first the manifest's, as `DeepCopy`
/// made them); an empty list is decoded as a new, empty slice, which forgets them.
fn backing_of<'b>(
    backing: &'b mut BTreeMap<String, Vec<Node>>,
    helm: &Node,
    field: &str,
    empty: bool,
) -> &'b mut Vec<Node> {
    let slot = backing.entry(field.to_string()).or_insert_with(|| {
        helm.get(field)
            .and_then(Node::as_seq)
            .map(<[Node]>::to_vec)
            .unwrap_or_default()
    });
    if empty {
        slot.clear();
    }
    slot
}

/// Writes `decoded` at index `i` of the backing entries, as the decoder does.
fn store(backing: &mut Vec<Node>, i: usize, decoded: &Node) {
    match backing.get_mut(i) {
        Some(slot) => *slot = decoded.clone(),
        None => backing.push(decoded.clone()),
    }
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
    for (key, value) in last_of_each(map) {
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

/// evanphx/json-patch v5.9.11's `mergeDocs` on YAML trees (both mappings): a `null` removes
/// the key; a value where there was none (or a null) is written with its nulls pruned; any other
/// is merged into what was there (`merge`).
fn merge_patch(target: &mut Node, patch: &Node) {
    let Some(entries) = patch.as_map() else {
        return;
    };
    let Value::Map(items) = &mut target.value else {
        return;
    };
    // Keys found through an index, never by scanning: both sides may hold thousands.
    let mut index: std::collections::HashMap<String, usize> = items
        .iter()
        .enumerate()
        .map(|(i, (k, _))| (k.key_text().unwrap_or_default().into_owned(), i))
        .collect();
    let mut removed = vec![false; items.len()];
    for (key, value) in last_of_each(entries) {
        let k = key.key_text().unwrap_or_default().into_owned();
        let at = index.get(&k).copied().filter(|i| !removed[*i]);
        if value.is_null() {
            if let Some(i) = at {
                removed[i] = true;
            }
            continue;
        }
        match at {
            // `merge`: into a mapping a mapping merges and anything else replaces as it is;
            // over anything else the patch replaces, pruned.
            Some(i) if !items[i].1.is_null() => match (items[i].1.as_map(), value.as_map()) {
                (Some(_), Some(_)) => merge_patch(&mut items[i].1, value),
                (Some(_), None) => items[i].1 = value.clone(),
                (None, _) => {
                    let mut v = value.clone();
                    prune_nulls(&mut v);
                    items[i].1 = v;
                }
            },
            Some(i) => {
                let mut v = value.clone();
                prune_nulls(&mut v);
                items[i].1 = v;
            }
            None => {
                let mut v = value.clone();
                prune_nulls(&mut v);
                items.push((key.clone(), v));
                removed.push(false);
                index.insert(k, items.len() - 1);
            }
        }
    }
    let mut i = 0;
    items.retain(|_| {
        let keep = !removed[i];
        i += 1;
        keep
    });
}

/// evanphx/json-patch v5.9.11's `pruneNulls`: every null member of a mapping removed, at any
/// depth, through lists too; the null items of a list are kept.
fn prune_nulls(node: &mut Node) {
    match &mut node.value {
        Value::Map(items) => {
            items.retain(|(_, v)| !v.is_null());
            for (_, v) in items {
                prune_nulls(v);
            }
        }
        Value::Seq(items) => {
            for v in items {
                prune_nulls(v);
            }
        }
        Value::Scalar(_) => {}
    }
}

/// The entries of a mapping with each key's last occurrence only: YAML-to-JSON keeps the last
/// of a repeated key, so a patch is what its last `helm:` says.
fn last_of_each(entries: &[(Node, Node)]) -> impl Iterator<Item = &(Node, Node)> {
    let mut last: std::collections::HashMap<Option<std::borrow::Cow<'_, str>>, usize> =
        std::collections::HashMap::with_capacity(entries.len());
    for (i, (k, _)) in entries.iter().enumerate() {
        last.insert(k.key_text(), i);
    }
    entries
        .iter()
        .enumerate()
        .filter(move |(i, (k, _))| last.get(&k.key_text()) == Some(i))
        .map(|(_, e)| e)
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
pub(crate) fn set(node: &mut Node, key: &str, value: Option<Node>) {
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

/// Whether `node` is its field's zero value for Go: absent, `null`, `""`, `false`, or an empty
/// list or mapping.
fn zero(node: Option<&Node>) -> bool {
    let Some(node) = node else {
        return true;
    };
    match node.to_json() {
        serde_json::Value::Null => true,
        serde_json::Value::String(s) => s.is_empty(),
        serde_json::Value::Bool(b) => !b,
        serde_json::Value::Array(a) => a.is_empty(),
        serde_json::Value::Object(o) => o.is_empty(),
        serde_json::Value::Number(_) => false,
    }
}

/// The source as Argo CD stores it (`NormalizeSource` in `util/argo/argo.go`, which its
/// controller applies to every Application and its ApplicationSet controller to every one it
/// makes): a `helm`, `kustomize` or `directory` whose fields are all their zero values (each
/// type's `IsZero`) is taken away, so it no longer decides the source's type (`helm: {}` beside
/// a `kustomization.yaml` is a Kustomize source). A `directory` that is zero but for `include`
/// or `exclude` keeps just those.
pub(crate) fn normalize(source: &Node) -> Node {
    let mut out = source.clone();
    let fields_zero = |node: &Node, fields: &[&str]| fields.iter().all(|f| zero(node.get(f)));
    if let Some(helm) = source.get("helm").filter(|h| h.as_map().is_some()) {
        // `ValuesIsEmpty`: no `valuesObject` (even `{}` is the YAML `{}`) and no `values`.
        let values_empty =
            helm.get("valuesObject").is_none_or(Node::is_null) && zero(helm.get("values"));
        if values_empty
            && fields_zero(
                helm,
                &[
                    "version",
                    "releaseName",
                    "valueFiles",
                    "parameters",
                    "fileParameters",
                    "passCredentials",
                    "ignoreMissingValueFiles",
                    "skipCrds",
                    "skipTests",
                    "skipSchemaValidation",
                    "kubeVersion",
                    "apiVersions",
                    "namespace",
                ],
            )
        {
            set(&mut out, "helm", None);
        }
    }
    if let Some(k) = source.get("kustomize").filter(|k| k.as_map().is_some()) {
        if fields_zero(
            k,
            &[
                "namePrefix",
                "nameSuffix",
                "version",
                "namespace",
                "images",
                "replicas",
                "commonLabels",
                "commonAnnotations",
                "patches",
                "components",
                "kubeVersion",
                "apiVersions",
                "ignoreMissingComponents",
            ],
        ) {
            set(&mut out, "kustomize", None);
        }
    }
    if let Some(d) = source.get("directory").filter(|d| d.as_map().is_some()) {
        let jsonnet_zero = d
            .get("jsonnet")
            .is_none_or(|j| fields_zero(j, &["extVars", "tlas", "libs"]));
        if fields_zero(d, &["recurse", "disableExtensionFilter"]) && jsonnet_zero {
            let kept: Vec<(Node, Node)> = d
                .as_map()
                .unwrap_or_default()
                .iter()
                .filter(|(k, v)| {
                    matches!(k.key_text().as_deref(), Some("include" | "exclude")) && !zero(Some(v))
                })
                .cloned()
                .collect();
            let replaced = (!kept.is_empty()).then(|| Node {
                value: Value::Map(kept),
                ..d.clone()
            });
            set(&mut out, "directory", replaced);
        }
    }
    out
}
