//! One walk over an object's whole tree that finds what no kind list can: pod specs embedded in
//! custom resources (recognised by their shape), labels of embedded templates, and — the safety
//! net — any field named like an image.

use imagegate_yaml::{Node, Resolved, Value};

use crate::collect::{container_site, image_volumes, render_text, Collector, CONTAINER_LISTS};
use crate::{ImageSite, PullPolicy, SiteKind};
use imagegate_yaml::path::{join, push_index, push_key};

/// What the walk is asked to do.
pub(crate) struct Walk<'a> {
    /// Look for pod specs by shape (off for typed workloads, whose pod spec is already walked).
    pub(crate) pod_specs: bool,
    /// Keys whose string values the safety net reports.
    pub(crate) image_keys: &'a [String],
}

/// A field named like an image, checked against the covered paths once every rule has run.
pub(crate) struct Candidate<'n> {
    field: String,
    node: &'n Node,
}

impl Walk<'_> {
    /// Walks `root`, adding shape-found container sites and embedded-template labels to `out`,
    /// and returns the safety-net candidates.
    pub(crate) fn run<'n>(&self, root: &'n Node, out: &mut Collector) -> Vec<Candidate<'n>> {
        let mut path = String::new();
        let mut candidates = Vec::new();
        self.visit(root, &mut path, true, out, &mut candidates);
        candidates
    }

    fn visit<'n>(
        &self,
        node: &'n Node,
        path: &mut String,
        is_root: bool,
        out: &mut Collector,
        candidates: &mut Vec<Candidate<'n>>,
    ) {
        match &node.value {
            Value::Scalar(_) => {}
            Value::Seq(items) => {
                for (i, item) in items.iter().enumerate() {
                    if matches!(item.value, Value::Scalar(_)) {
                        continue;
                    }
                    let len = path.len();
                    push_index(path, i);
                    self.visit(item, path, false, out, candidates);
                    path.truncate(len);
                }
            }
            Value::Map(entries) => {
                if !is_root {
                    // An embedded object with its own metadata and spec: a pod template, a job
                    // template, a claim template. Its labels reach the API server too.
                    if let (Some(labels), Some(_)) =
                        (node.at_path("metadata.labels"), node.get("spec"))
                    {
                        out.labels(labels, &join(&join(path, "metadata"), "labels"));
                    }
                }
                if self.pod_specs && looks_like_pod_spec(node) {
                    walk_pod_spec(node, path, out);
                }
                for (key, value) in entries {
                    let Some(key) = key.key_text() else { continue };
                    let key = key.as_ref();
                    // An object's `status` is what a controller reports, never what is applied
                    // (`status.containerStatuses[].image` is not an image anyone pulls for it).
                    if is_root && key == "status" {
                        continue;
                    }
                    let len = path.len();
                    push_key(path, key);
                    match &value.value {
                        Value::Scalar(scalar) => {
                            if self.image_keys.iter().any(|k| k == key)
                                && matches!(scalar.resolve(), Resolved::Str(s) if !s.is_empty())
                            {
                                candidates.push(Candidate {
                                    field: path.clone(),
                                    node: value,
                                });
                            }
                        }
                        _ => self.visit(value, path, false, out, candidates),
                    }
                    path.truncate(len);
                }
            }
        }
    }
}

/// Reports every candidate that no other rule covered.
pub(crate) fn safety_net(candidates: Vec<Candidate<'_>>, out: &mut Collector) {
    for Candidate { field, node } in candidates {
        if out.covers(&field) {
            continue;
        }
        out.push_site(
            (node.line, node.col),
            ImageSite {
                container: None,
                kind: SiteKind::Unclassified,
                field,
                image: render_text(node),
                pull_policy: PullPolicy::NotApplicable,
                pull_policy_field: None,
                line: Some(node.line),
                pull_policy_line: None,
            },
        );
    }
}

/// A pod spec by shape: a `containers` (or `initContainers`, `ephemeralContainers`) sequence
/// holding at least one mapping with an `image` or a `name`. That is what Argo Rollouts, KEDA
/// ScaledJobs, runner sets and most operators embed; the other two lists count so a workload
/// whose `containers` is malformed still has its init containers walked as containers.
fn looks_like_pod_spec(node: &Node) -> bool {
    CONTAINER_LISTS.iter().any(|(_, key)| {
        node.get(key).and_then(Node::as_seq).is_some_and(|items| {
            items.iter().any(|i| {
                i.as_map().is_some() && (i.get("image").is_some() || i.get("name").is_some())
            })
        })
    })
}

/// Walks a shape-found pod spec. Unlike a typed workload, a container here without an image is
/// not reported: operators commonly take partial containers (a name and resources) to patch
/// into the ones they generate.
fn walk_pod_spec(spec: &Node, spec_path: &str, out: &mut Collector) {
    for (kind, key) in CONTAINER_LISTS {
        let Some(items) = spec.get(key).and_then(Node::as_seq) else {
            continue;
        };
        let base = join(spec_path, key);
        for (i, item) in items.iter().enumerate() {
            let Some(image) = item
                .get("image")
                .filter(|n| !n.is_null() && n.as_scalar().is_some())
            else {
                continue;
            };
            let name = item
                .get("name")
                .filter(|n| !n.is_null())
                .and_then(Node::as_str)
                .map(str::to_owned);
            let mut item_path = base.clone();
            push_index(&mut item_path, i);
            container_site(out, kind, &item_path, Some(item), name, render_text(image));
        }
    }
    image_volumes(out, spec, spec_path);
}
