//! The `clusters` generator of an ApplicationSet over the clusters `argocd.clusters` declares,
//! as Argo CD's `applicationset/generators/cluster.go` makes its parameters without
//! `goTemplate`: one set per cluster Secret the `selector` matches, with `name`,
//! `nameNormalized`, `server`, `project`, `metadata.labels.<key>` and
//! `metadata.annotations.<key>`; the local cluster (`in-cluster`) too when there is no selector
//! and no declared cluster is `https://kubernetes.default.svc`; then each `values` entry as
//! `values.<key>`, put through the template syntax with those parameters. With `goTemplate`
//! the same parameters nested (`metadata.labels`), and the values as a `values` map, each
//! executed as a Go template with the cluster's parameters.

use super::appset::{fasttemplate, go_evaluate, Element, Gen, JsonMap};
use super::{err, text};
use crate::ConfigError;
use imagegate_yaml::Node;
use serde_json::Value as Json;
use std::collections::BTreeMap;

/// Argo CD's address of the cluster it runs in.
const IN_CLUSTER_SERVER: &str = "https://kubernetes.default.svc";

/// The parameter sets of one `clusters` generator.
pub(crate) fn elements(
    g: &Gen<'_>,
    at: &str,
    clusters: &Node,
) -> Result<Vec<Element>, ConfigError> {
    let (r, manifest, name) = (g.r, g.manifest, g.name);
    for (key, value) in clusters.as_map().unwrap_or_default() {
        let k = key.key_text().unwrap_or_default();
        if !matches!(k.as_ref(), "selector" | "values") {
            return Err(err(
                manifest,
                value,
                format!("ApplicationSet `{name}`: clusters.{k} is not evaluated yet"),
            ));
        }
    }
    let Some(declared) = &r.settings.clusters else {
        return Err(err(
            manifest,
            clusters,
            format!("ApplicationSet `{name}` uses a clusters generator, and argocd.clusters declares no cluster"),
        )
        .hint("list the clusters Argo CD knows under argocd.clusters (name, server, labels), as their cluster Secrets say"));
    };
    let selector = clusters.get("selector");
    let match_labels: Vec<(String, String)> = selector
        .and_then(|s| s.get("matchLabels"))
        .and_then(Node::as_map)
        .unwrap_or_default()
        .iter()
        .map(|(k, v)| {
            (
                k.key_text().unwrap_or_default().into_owned(),
                v.as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    let expressions: Vec<Expression> = selector
        .and_then(|s| s.get("matchExpressions"))
        .and_then(Node::as_seq)
        .unwrap_or_default()
        .iter()
        .map(|e| Expression::read(manifest, name, e))
        .collect::<Result<_, _>>()?;
    let selects = |labels: &BTreeMap<String, String>| {
        match_labels.iter().all(|(k, v)| labels.get(k) == Some(v))
            && expressions.iter().all(|e| e.matches(labels))
    };
    let mut sets: Vec<(String, BTreeMap<String, String>, JsonMap)> = Vec::new();
    for c in declared.iter().filter(|c| selects(&c.labels)) {
        let mut params: BTreeMap<String, String> = BTreeMap::from([
            ("name".to_string(), c.name.clone()),
            (
                "nameNormalized".to_string(),
                super::git::sanitize_name(&c.name),
            ),
            ("server".to_string(), c.server.clone()),
            ("project".to_string(), c.project.clone().unwrap_or_default()),
        ]);
        let mut go: JsonMap = params
            .iter()
            .map(|(k, v)| (k.clone(), Json::String(v.clone())))
            .collect();
        let mut meta = JsonMap::new();
        let strings = |m: &BTreeMap<String, String>| {
            Json::Object(
                m.iter()
                    .map(|(k, v)| (k.clone(), Json::String(v.clone())))
                    .collect(),
            )
        };
        if !c.annotations.is_empty() {
            meta.insert("annotations".into(), strings(&c.annotations));
        }
        if !c.labels.is_empty() {
            meta.insert("labels".into(), strings(&c.labels));
        }
        go.insert("metadata".into(), Json::Object(meta));
        for (k, v) in &c.annotations {
            params.insert(format!("metadata.annotations.{k}"), v.clone());
        }
        for (k, v) in &c.labels {
            params.insert(format!("metadata.labels.{k}"), v.clone());
        }
        sets.push((c.name.clone(), params, go));
    }
    let no_selector = match_labels.is_empty() && expressions.is_empty();
    if no_selector && !declared.iter().any(|c| c.server == IN_CLUSTER_SERVER) {
        let params = BTreeMap::from([
            ("name".to_string(), "in-cluster".to_string()),
            ("nameNormalized".to_string(), "in-cluster".to_string()),
            ("server".to_string(), IN_CLUSTER_SERVER.to_string()),
            ("project".to_string(), String::new()),
        ]);
        // The local cluster has no Secret, so no metadata, in either syntax.
        let go = params
            .iter()
            .map(|(k, v)| (k.clone(), Json::String(v.clone())))
            .collect();
        sets.push(("in-cluster".to_string(), params, go));
    }
    let values: Vec<(String, &Node)> = clusters
        .get("values")
        .and_then(Node::as_map)
        .unwrap_or_default()
        .iter()
        .map(|(k, v)| (k.key_text().unwrap_or_default().into_owned(), v))
        .collect();
    for (k, v) in &values {
        if v.as_str().is_none() {
            return Err(err(
                manifest,
                v,
                format!("ApplicationSet `{name}`: clusters.values.{k} must be a string"),
            ));
        }
    }
    let mut elements: Vec<Element> = sets
        .into_iter()
        .map(|(cluster, params, go)| Element {
            params: if g.go { BTreeMap::new() } else { params },
            go: if g.go { go } else { JsonMap::new() },
            line: clusters.line,
            describe: format!("{at}.clusters: {cluster}"),
        })
        .collect();
    // Each `values` entry is put through the template syntax with the cluster's parameters (not
    // with other values), as Argo CD's `appendTemplatedValues` does: `values.<key>` without
    // goTemplate, a `values` map with it, every templated entry of every cluster in one
    // evaluation.
    if g.go {
        let mut templated: Vec<(&str, &Node)> = Vec::new();
        for (_, v) in &values {
            let t = v.as_str().unwrap_or_default();
            if t.contains("{{") && !templated.iter().any(|(s, _)| *s == t) {
                templated.push((t, v));
            }
        }
        let results = go_evaluate(
            g.r,
            manifest,
            name,
            g.missing_key_error,
            &templated,
            &elements,
            clusters,
        )?;
        for (element, rendered) in elements.iter_mut().zip(results) {
            let by_text = super::appset::by_text(&templated, &rendered);
            let mut go_values = JsonMap::new();
            for (k, v) in &values {
                let t = v.as_str().unwrap_or_default();
                let value = by_text.get(t).copied().unwrap_or(t);
                go_values.insert(k.clone(), Json::String(value.to_string()));
            }
            if !go_values.is_empty() {
                element.go.insert("values".into(), Json::Object(go_values));
            }
        }
    } else {
        for element in &mut elements {
            let mut extra = BTreeMap::new();
            for (k, v) in &values {
                let t = v.as_str().unwrap_or_default();
                let value = fasttemplate(t, &element.params).map_err(|m| err(manifest, v, m))?;
                extra.insert(format!("values.{k}"), value);
            }
            element.params.extend(extra);
        }
    }
    Ok(elements)
}

/// One `matchExpressions` entry of a label selector.
struct Expression {
    key: String,
    operator: String,
    values: Vec<String>,
}

impl Expression {
    fn read(manifest: &str, name: &str, node: &Node) -> Result<Self, ConfigError> {
        let key = text(node, "key").unwrap_or("").to_string();
        let operator = text(node, "operator").unwrap_or("").to_string();
        if key.is_empty()
            || !matches!(
                operator.as_str(),
                "In" | "NotIn" | "Exists" | "DoesNotExist"
            )
        {
            return Err(err(
                manifest,
                node,
                format!("ApplicationSet `{name}`: a matchExpressions entry needs a key and the operator In, NotIn, Exists or DoesNotExist"),
            ));
        }
        let values = node
            .get("values")
            .and_then(Node::as_seq)
            .unwrap_or_default()
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect();
        Ok(Self {
            key,
            operator,
            values,
        })
    }

    /// Kubernetes' label selector semantics: `NotIn` and `DoesNotExist` match a cluster without
    /// the label.
    fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        let value = labels.get(&self.key);
        match self.operator.as_str() {
            "In" => value.is_some_and(|v| self.values.contains(v)),
            "NotIn" => value.is_none_or(|v| !self.values.contains(v)),
            "Exists" => value.is_some(),
            _ => value.is_none(),
        }
    }
}
