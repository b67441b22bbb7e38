//! The built-in workload kinds, decoded through their `k8s-openapi` types.
//!
//! Decoding through the real types means a workload Kubernetes would reject for its shape
//! (`containers: "x"`, a number where a string belongs) is reported as such, with the path of
//! the offending field, instead of being half-read. The YAML tree still supplies what the types
//! lose: line numbers and whether `imagePullPolicy` was written at all.

use imagegate_yaml::Node;
use k8s_openapi::api::{apps, batch, core};
use serde::de::DeserializeOwned;

use crate::collect::{container_site, image_volumes, Collector, CONTAINER_LISTS};
use crate::SiteKind;
use imagegate_yaml::path::{push_index, push_key};

/// A workload kind at a stable `apiVersion` that `k8s-openapi` knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Workload {
    Pod,
    PodTemplate,
    ReplicationController,
    Deployment,
    StatefulSet,
    DaemonSet,
    ReplicaSet,
    Job,
    CronJob,
}

impl Workload {
    /// The typed workload for an `apiVersion` and `kind`, if there is one. Other versions of
    /// the same kinds (`batch/v1beta1`, `extensions/v1beta1`) are left to the shape walk.
    pub(crate) fn of(api_version: &str, kind: &str) -> Option<Self> {
        Some(match (api_version, kind) {
            ("v1", "Pod") => Self::Pod,
            ("v1", "PodTemplate") => Self::PodTemplate,
            ("v1", "ReplicationController") => Self::ReplicationController,
            ("apps/v1", "Deployment") => Self::Deployment,
            ("apps/v1", "StatefulSet") => Self::StatefulSet,
            ("apps/v1", "DaemonSet") => Self::DaemonSet,
            ("apps/v1", "ReplicaSet") => Self::ReplicaSet,
            ("batch/v1", "Job") => Self::Job,
            ("batch/v1", "CronJob") => Self::CronJob,
            _ => return None,
        })
    }
}

/// A typed decode that failed: where and why.
pub(crate) struct TypeError {
    pub(crate) message: String,
    pub(crate) line: u32,
}

/// A pod spec found in a typed workload, with the path it sits at.
struct TypedSpec {
    path: &'static str,
    spec: core::v1::PodSpec,
}

/// Decodes `root` as `workload` and adds the sites of its pod spec.
pub(crate) fn walk(workload: Workload, root: &Node, out: &mut Collector) -> Result<(), TypeError> {
    let Some(typed) = pod_spec(workload, root)? else {
        return Ok(());
    };
    let spec_node = root.at_path(typed.path);
    let spec = typed.spec;
    let lists = [
        spec.init_containers
            .unwrap_or_default()
            .into_iter()
            .map(|c| (c.name, c.image))
            .collect::<Vec<_>>(),
        spec.containers
            .into_iter()
            .map(|c| (c.name, c.image))
            .collect(),
        spec.ephemeral_containers
            .unwrap_or_default()
            .into_iter()
            .map(|c| (c.name, c.image))
            .collect(),
    ];
    for ((kind, key), containers) in CONTAINER_LISTS.into_iter().zip(lists) {
        walk_list(out, kind, typed.path, key, spec_node, containers);
    }
    if let Some(spec_node) = spec_node {
        image_volumes(out, spec_node, typed.path);
    }
    Ok(())
}

fn walk_list(
    out: &mut Collector,
    kind: SiteKind,
    spec_path: &str,
    key: &str,
    spec_node: Option<&Node>,
    containers: Vec<(String, Option<String>)>,
) {
    let items = spec_node.and_then(|s| s.get(key)).and_then(Node::as_seq);
    let mut base = String::from(spec_path);
    push_key(&mut base, key);
    for (i, (name, image)) in containers.into_iter().enumerate() {
        let mut item_path = base.clone();
        push_index(&mut item_path, i);
        let item = items.and_then(|items| items.get(i));
        container_site(
            out,
            kind,
            &item_path,
            item,
            Some(name),
            image.unwrap_or_default(),
        );
    }
}

fn pod_spec(workload: Workload, root: &Node) -> Result<Option<TypedSpec>, TypeError> {
    use Workload as W;
    const TEMPLATE: &str = "spec.template.spec";
    let found = match workload {
        W::Pod => decode::<core::v1::Pod>(root)?
            .spec
            .map(|spec| ("spec", spec)),
        W::PodTemplate => decode::<core::v1::PodTemplate>(root)?
            .template
            .and_then(|t| t.spec)
            .map(|spec| ("template.spec", spec)),
        W::ReplicationController => decode::<core::v1::ReplicationController>(root)?
            .spec
            .and_then(|s| s.template)
            .and_then(|t| t.spec)
            .map(|spec| (TEMPLATE, spec)),
        W::Deployment => decode::<apps::v1::Deployment>(root)?
            .spec
            .and_then(|s| s.template.spec)
            .map(|spec| (TEMPLATE, spec)),
        W::StatefulSet => decode::<apps::v1::StatefulSet>(root)?
            .spec
            .and_then(|s| s.template.spec)
            .map(|spec| (TEMPLATE, spec)),
        W::DaemonSet => decode::<apps::v1::DaemonSet>(root)?
            .spec
            .and_then(|s| s.template.spec)
            .map(|spec| (TEMPLATE, spec)),
        W::ReplicaSet => decode::<apps::v1::ReplicaSet>(root)?
            .spec
            .and_then(|s| s.template)
            .and_then(|t| t.spec)
            .map(|spec| (TEMPLATE, spec)),
        W::Job => decode::<batch::v1::Job>(root)?
            .spec
            .and_then(|s| s.template.spec)
            .map(|spec| (TEMPLATE, spec)),
        W::CronJob => decode::<batch::v1::CronJob>(root)?
            .spec
            .and_then(|s| s.job_template.spec)
            .and_then(|j| j.template.spec)
            .map(|spec| ("spec.jobTemplate.spec.template.spec", spec)),
    };
    Ok(found.map(|(path, spec)| TypedSpec { path, spec }))
}

/// Deserializes the object through its Kubernetes type, naming the failing field on error.
fn decode<T: DeserializeOwned>(root: &Node) -> Result<T, TypeError> {
    let mut json = root.to_json();
    drop_null_members(&mut json);
    serde_path_to_error::deserialize(json).map_err(|err| {
        let mut path = String::new();
        for segment in err.path().iter() {
            match segment {
                serde_path_to_error::Segment::Seq { index } => push_index(&mut path, *index),
                serde_path_to_error::Segment::Map { key }
                | serde_path_to_error::Segment::Enum { variant: key } => {
                    push_key(&mut path, key);
                }
                serde_path_to_error::Segment::Unknown => break,
            }
        }
        let line = deepest_line(root, &path);
        let inner = err.into_inner();
        let message = if path.is_empty() {
            inner.to_string()
        } else {
            format!("{path}: {inner}")
        };
        TypeError { message, line }
    })
}

/// Removes every `null` member of every object, as Go's `encoding/json` reads them: decoding
/// `null` into a field that is no pointer, map or slice does nothing, so `labels: {app: null}`
/// or `command: null` is a valid object to Kubernetes (the label reads as empty), where the
/// `k8s-openapi` types would refuse a `null` string.
fn drop_null_members(json: &mut serde_json::Value) {
    match json {
        serde_json::Value::Object(map) => {
            map.retain(|_, v| !v.is_null());
            map.values_mut().for_each(drop_null_members);
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(drop_null_members),
        _ => {}
    }
}

/// The line of the deepest node of `path` that exists (a missing field points at its parent).
fn deepest_line(root: &Node, path: &str) -> u32 {
    let mut candidate = path;
    loop {
        if let Some(node) = root.at_path(candidate) {
            return node.line;
        }
        match candidate.rfind(['.', '[']) {
            Some(cut) => candidate = &candidate[..cut],
            None => return root.line,
        }
    }
}
