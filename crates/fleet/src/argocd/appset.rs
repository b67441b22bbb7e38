//! ApplicationSets: their generators' parameter sets, each put into the template to make one
//! Application, as Argo CD's `applicationset/generators/list.go` and `applicationset/utils`
//! (`Render.Replace`, fasttemplate) do.
//!
//! Only the `list`, `git`, `clusters`, `matrix` and `merge` generators and the default (fasttemplate) syntax
//! are evaluated. Everything else
//! (`goTemplate: true`, `templatePatch`, the other generators, a generator's own `template`,
//! `selector` or `values`) is refused with an error naming the line, never skipped: judging fewer
//! Applications than Argo CD makes is the silent pass this section exists to prevent.

use super::{err, text, ArgoCdFleet, ArgoOrigin, Generated, Resolver};
use crate::ConfigError;
use imagegate_yaml::{Node, ScalarStyle, Value};
use std::collections::BTreeMap;

/// The generators Argo CD knows and imagegate does not evaluate yet.
const LATER: [&str; 6] = [
    "matrix",
    "merge",
    "scmProvider",
    "pullRequest",
    "clusterDecisionResource",
    "plugin",
];

/// Every Application one ApplicationSet generates.
pub(crate) fn expand(
    r: &Resolver<'_>,
    manifest: &str,
    doc: &Node,
    out: &mut ArgoCdFleet,
) -> Result<(), ConfigError> {
    let Some(name) = doc
        .get("metadata")
        .and_then(|m| text(m, "name"))
        .filter(|n| !n.is_empty())
    else {
        return Err(err(manifest, doc, "ApplicationSet has no metadata.name"));
    };
    let Some(spec) = doc.get("spec").filter(|s| s.as_map().is_some()) else {
        return Err(err(
            manifest,
            doc,
            format!("ApplicationSet `{name}` has no spec"),
        ));
    };
    if let Some(go) = spec
        .get("goTemplate")
        .filter(|g| g.to_json() == serde_json::Value::Bool(true))
    {
        return Err(err(
            manifest,
            go,
            format!("ApplicationSet `{name}` sets goTemplate: true, which imagegate does not evaluate yet"),
        )
        .hint("Go templates need Go's text/template and sprig; until imagegate runs them through helm, declare these applications as plain Application manifests or under components:"));
    }
    if let Some(patch) = spec.get("templatePatch") {
        return Err(err(
            manifest,
            patch,
            format!("ApplicationSet `{name}`: templatePatch is not evaluated yet"),
        ));
    }
    let Some(template) = spec.get("template").filter(|t| t.as_map().is_some()) else {
        return Err(err(
            manifest,
            spec,
            format!("ApplicationSet `{name}` has no spec.template"),
        ));
    };
    let generators = spec
        .get("generators")
        .and_then(Node::as_seq)
        .unwrap_or_default();
    if generators.is_empty() {
        return Err(err(
            manifest,
            spec,
            format!("ApplicationSet `{name}` has no generators"),
        ));
    }
    for (gi, generator) in generators.iter().enumerate() {
        let elements = match generator_elements(
            r,
            manifest,
            name,
            &format!("generators[{gi}]"),
            generator,
            true,
        )? {
            Ok(elements) => elements,
            Err(not_judged) => {
                out.not_judged.push(not_judged);
                continue;
            }
        };
        for element in elements {
            let rendered = substitute(manifest, template, &element.params)?;
            let app = Node {
                value: Value::Map(vec![
                    (plain("kind", template), plain("Application", template)),
                    (
                        plain("metadata", template),
                        rendered
                            .get("metadata")
                            .cloned()
                            .unwrap_or_else(|| plain("", template)),
                    ),
                    (
                        plain("spec", template),
                        rendered
                            .get("spec")
                            .cloned()
                            .unwrap_or_else(|| plain("", template)),
                    ),
                ]),
                line: template.line,
                col: template.col,
            };
            let origin = ArgoOrigin {
                manifest: manifest.into(),
                line: element.line,
                kind: "ApplicationSet".into(),
                name: name.to_string(),
                element: Some(element.describe),
                source: None,
            };
            r.application(manifest, &Generated { app: &app, origin }, out)?;
        }
    }
    Ok(())
}

/// The parameter sets of one generator at `at` (`generators[0]`, `generators[0].matrix.generators[1]`),
/// or why the ApplicationSet's applications are not judged. `top` is false inside a matrix,
/// whose children may not be matrices again here.
fn generator_elements(
    r: &Resolver<'_>,
    manifest: &str,
    name: &str,
    at: &str,
    generator: &Node,
    top: bool,
) -> Result<Result<Vec<Element>, super::NotJudged>, ConfigError> {
    let entries = generator.as_map().unwrap_or_default();
    for (key, value) in entries {
        let key_text = key.key_text().unwrap_or_default();
        match key_text.as_ref() {
            "list" | "git" | "clusters" => {}
            "matrix" | "merge" if top => {}
            k if LATER.contains(&k) => {
                return Err(err(
                    manifest,
                    key,
                    format!("ApplicationSet `{name}`: the `{k}` generator is not evaluated yet{}", if top { "" } else { " inside a matrix" }),
                )
                .hint("imagegate evaluates the list, git, clusters, matrix and merge generators so far; declare these applications as plain Application manifests or under components: meanwhile"))
            }
            k => {
                return Err(err(
                    manifest,
                    value,
                    format!("ApplicationSet `{name}`: {at}.{k} is not evaluated yet"),
                ))
            }
        }
    }
    if let Some(list) = generator.get("list") {
        return list_elements(manifest, name, at, list).map(Ok);
    }
    if let Some(git) = generator.get("git") {
        return super::git::elements(r, manifest, name, at, git);
    }
    if let Some(clusters) = generator.get("clusters") {
        return super::clusters::elements(r, manifest, name, at, clusters).map(Ok);
    }
    if let Some(matrix) = generator.get("matrix") {
        return matrix_elements(r, manifest, name, at, matrix);
    }
    if let Some(merge) = generator.get("merge") {
        return merge_elements(r, manifest, name, at, merge);
    }
    Err(err(
        manifest,
        generator,
        format!("ApplicationSet `{name}`: {at} names no generator"),
    ))
}

/// Argo CD's matrix generator without `goTemplate`: for each parameter set of the first child,
/// the second child with those parameters put into its strings, and every pair combined (a key
/// both set to different values is an error, as `CombineStringMaps` makes it).
fn matrix_elements(
    r: &Resolver<'_>,
    manifest: &str,
    name: &str,
    at: &str,
    matrix: &Node,
) -> Result<Result<Vec<Element>, super::NotJudged>, ConfigError> {
    for (key, value) in matrix.as_map().unwrap_or_default() {
        let k = key.key_text().unwrap_or_default();
        if k != "generators" {
            return Err(err(
                manifest,
                value,
                format!("ApplicationSet `{name}`: {at}.matrix.{k} is not evaluated yet"),
            ));
        }
    }
    let children = matrix
        .get("generators")
        .and_then(Node::as_seq)
        .unwrap_or_default();
    if children.len() != 2 {
        return Err(err(
            manifest,
            matrix,
            format!(
                "ApplicationSet `{name}`: a matrix generator needs exactly two generators, it has {}",
                children.len()
            ),
        ));
    }
    let first_at = format!("{at}.matrix.generators[0]");
    let second_at = format!("{at}.matrix.generators[1]");
    let first = match generator_elements(r, manifest, name, &first_at, &children[0], false)? {
        Ok(e) => e,
        Err(n) => return Ok(Err(n)),
    };
    let mut out = Vec::new();
    for a in first {
        let second = substitute(manifest, &children[1], &a.params)?;
        let seconds = match generator_elements(r, manifest, name, &second_at, &second, false)? {
            Ok(e) => e,
            Err(n) => return Ok(Err(n)),
        };
        for b in seconds {
            let mut params = a.params.clone();
            for (k, v) in &b.params {
                match params.get(k) {
                    Some(current) if current != v => {
                        return Err(err(
                            manifest,
                            &children[1],
                            format!(
                                "ApplicationSet `{name}`: the matrix's generators both set `{k}`, to `{current}` and `{v}`"
                            ),
                        ))
                    }
                    _ => {
                        params.insert(k.clone(), v.clone());
                    }
                }
            }
            out.push(Element {
                params,
                line: a.line,
                describe: format!("{} × {}", a.describe, b.describe),
            });
        }
    }
    Ok(Ok(out))
}

/// Argo CD's merge generator without `goTemplate`: the first child's parameter sets, each
/// overridden, in child order, by the set of a later child with the same values of every
/// `mergeKeys` key (a missing key is null); two sets of one child with the same key values are
/// an error, as Argo CD's `NonUniqueParamSets`; later children's sets that match no first set
/// are dropped.
fn merge_elements(
    r: &Resolver<'_>,
    manifest: &str,
    name: &str,
    at: &str,
    merge: &Node,
) -> Result<Result<Vec<Element>, super::NotJudged>, ConfigError> {
    for (key, value) in merge.as_map().unwrap_or_default() {
        let k = key.key_text().unwrap_or_default();
        if k != "generators" && k != "mergeKeys" {
            return Err(err(
                manifest,
                value,
                format!("ApplicationSet `{name}`: {at}.merge.{k} is not evaluated yet"),
            ));
        }
    }
    let mut keys: Vec<String> = merge
        .get("mergeKeys")
        .and_then(Node::as_seq)
        .unwrap_or_default()
        .iter()
        .filter_map(|k| k.as_str().map(str::to_string))
        .collect();
    keys.sort();
    keys.dedup();
    if keys.is_empty() {
        return Err(err(
            manifest,
            merge,
            format!("ApplicationSet `{name}`: a merge generator needs mergeKeys"),
        ));
    }
    let children = merge
        .get("generators")
        .and_then(Node::as_seq)
        .unwrap_or_default();
    if children.len() < 2 {
        return Err(err(
            manifest,
            merge,
            format!(
                "ApplicationSet `{name}`: a merge generator needs at least two generators, it has {}",
                children.len()
            ),
        ));
    }
    let key_of = |e: &Element| -> Vec<Option<String>> {
        keys.iter().map(|k| e.params.get(k).cloned()).collect()
    };
    let mut sets: Vec<Vec<Element>> = Vec::new();
    for (ci, child) in children.iter().enumerate() {
        let child_at = format!("{at}.merge.generators[{ci}]");
        let elements = match generator_elements(r, manifest, name, &child_at, child, false)? {
            Ok(e) => e,
            Err(n) => return Ok(Err(n)),
        };
        let mut seen = std::collections::BTreeSet::new();
        for e in &elements {
            if !seen.insert(key_of(e)) {
                return Err(err(
                    manifest,
                    child,
                    format!(
                        "ApplicationSet `{name}`: {child_at} makes two parameter sets with the same mergeKeys values ({})",
                        e.describe
                    ),
                ));
            }
        }
        sets.push(elements);
    }
    let mut base = sets.remove(0);
    for overrides in &sets {
        for b in &mut base {
            if let Some(o) = overrides.iter().find(|o| key_of(o) == key_of(b)) {
                b.params
                    .extend(o.params.iter().map(|(k, v)| (k.clone(), v.clone())));
                b.describe = format!("{} ⊕ {}", b.describe, o.describe);
            }
        }
    }
    Ok(Ok(base))
}

/// One parameter set of a generator, and where it came from.
pub(crate) struct Element {
    /// The parameters, by name.
    pub params: BTreeMap<String, String>,
    /// The line to point at in the ApplicationSet's manifest.
    pub line: u32,
    /// The element, as `imagegate cells` names it (`generators[0].list.elements[1]`).
    pub describe: String,
}

/// The elements of a `list` generator.
fn list_elements(
    manifest: &str,
    name: &str,
    at: &str,
    list: &Node,
) -> Result<Vec<Element>, ConfigError> {
    for (key, value) in list.as_map().unwrap_or_default() {
        let k = key.key_text().unwrap_or_default();
        if k != "elements" {
            return Err(err(
                manifest,
                value,
                format!("ApplicationSet `{name}`: list.{k} is not evaluated yet"),
            ));
        }
    }
    list.get("elements")
        .and_then(Node::as_seq)
        .unwrap_or_default()
        .iter()
        .enumerate()
        .map(|(ei, element)| {
            Ok(Element {
                params: element_params(manifest, name, element)?,
                line: element.line,
                describe: format!("{at}.list.elements[{ei}]"),
            })
        })
        .collect()
}

/// A plain scalar at `at`'s position.
fn plain(text: &str, at: &Node) -> Node {
    Node {
        value: Value::Scalar(imagegate_yaml::Scalar {
            text: text.into(),
            style: ScalarStyle::Plain,
        }),
        line: at.line,
        col: at.col,
    }
}

/// The parameters of one list element without `goTemplate`: every field a string, and the
/// fields of `values` as `values.<key>` (Argo CD refuses any other value).
fn element_params(
    manifest: &str,
    name: &str,
    element: &Node,
) -> Result<BTreeMap<String, String>, ConfigError> {
    let Some(entries) = element.as_map() else {
        return Err(err(
            manifest,
            element,
            format!("ApplicationSet `{name}`: a list element must be a mapping"),
        ));
    };
    let string = |node: &Node, key: &str| match node.to_json() {
        serde_json::Value::String(s) => Ok(s),
        _ => Err(err(
            manifest,
            node,
            format!("ApplicationSet `{name}`: list element field `{key}` is not a string"),
        )
        .hint("without goTemplate Argo CD accepts only strings in list elements: quote the value")),
    };
    let mut params = BTreeMap::new();
    for (k, v) in entries {
        let key = k.key_text().unwrap_or_default().into_owned();
        if key == "values" {
            let Some(values) = v.as_map() else {
                return Err(err(
                    manifest,
                    v,
                    format!("ApplicationSet `{name}`: `values` must be a mapping"),
                ));
            };
            for (vk, vv) in values {
                let vk = vk.key_text().unwrap_or_default().into_owned();
                let value = string(vv, &format!("values.{vk}"))?;
                params.insert(format!("values.{vk}"), value);
            }
        } else {
            let value = string(v, &key)?;
            params.insert(key, value);
        }
    }
    Ok(params)
}

/// The template with every string (values and keys, at any depth) put through [`fasttemplate`].
fn substitute(
    manifest: &str,
    node: &Node,
    params: &BTreeMap<String, String>,
) -> Result<Node, ConfigError> {
    let value = match &node.value {
        Value::Scalar(s) => match s.to_json() {
            serde_json::Value::String(text) => {
                let replaced = fasttemplate(&text, params).map_err(|m| err(manifest, node, m))?;
                if replaced == text {
                    Value::Scalar(s.clone())
                } else {
                    // Quoted, so the result stays a string whatever it reads like.
                    Value::Scalar(imagegate_yaml::Scalar {
                        text: replaced,
                        style: ScalarStyle::DoubleQuoted,
                    })
                }
            }
            _ => Value::Scalar(s.clone()),
        },
        Value::Seq(items) => Value::Seq(
            items
                .iter()
                .map(|i| substitute(manifest, i, params))
                .collect::<Result<_, _>>()?,
        ),
        Value::Map(entries) => Value::Map(
            entries
                .iter()
                .map(|(k, v)| {
                    Ok((
                        substitute(manifest, k, params)?,
                        substitute(manifest, v, params)?,
                    ))
                })
                .collect::<Result<_, ConfigError>>()?,
        ),
    };
    Ok(Node {
        value,
        line: node.line,
        col: node.col,
    })
}

/// Argo CD's default template syntax (`Render.Replace` without `goTemplate`): a string with no
/// `{{…}}` on one line is left alone; otherwise each `{{ tag }}` becomes the parameter named by
/// the trimmed tag, and a tag no parameter names stays exactly as written. A `{{` with no `}}`
/// after it is an error, as fasttemplate makes it.
///
/// Written by hand: fasttemplate is a Go package, and its semantics are these few lines.
pub(crate) fn fasttemplate(
    text: &str,
    params: &BTreeMap<String, String>,
) -> Result<String, String> {
    let templated = text.lines().any(|l| {
        l.find("{{")
            .is_some_and(|open| l[open + 2..].contains("}}"))
    });
    if !templated {
        return Ok(text.to_string());
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find("{{") {
        out.push_str(&rest[..open]);
        let after = &rest[open + 2..];
        let Some(close) = after.find("}}") else {
            return Err(format!(
                "invalid template `{text}`: a `{{{{` has no `}}}}` after it"
            ));
        };
        let tag = &after[..close];
        match params.get(tag.trim()) {
            Some(v) if !tag.trim().is_empty() => out.push_str(v),
            _ => {
                out.push_str("{{");
                out.push_str(tag);
                out.push_str("}}");
            }
        }
        rest = &after[close + 2..];
    }
    out.push_str(rest);
    Ok(out)
}
