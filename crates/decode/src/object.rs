//! Decoding one Kubernetes object (or, for any object whose `items` is a list, each item).

use imagegate_yaml::{Node, Value};

use crate::collect::{render_text, Collector};
use crate::shape::{safety_net, Walk};
use crate::typed::{self, Workload};
use crate::{
    CustomImageField, DecodeOptions, Decoded, DecodedObject, DocumentError, Hook, ImageSite,
    ObjectRef, PullPolicy, SiteKind,
};

/// Where the object came from.
pub(crate) struct Origin<'a> {
    pub(crate) document: usize,
    pub(crate) template: Option<&'a str>,
}

impl Origin<'_> {
    pub(crate) fn error(
        &self,
        object: Option<ObjectRef>,
        line: Option<u32>,
        message: String,
    ) -> DocumentError {
        DocumentError {
            document: self.document,
            template: self.template.map(str::to_owned),
            object,
            line,
            message,
        }
    }
}

/// Decodes the root of a document (or an item of a list) into `out`.
pub(crate) fn decode(node: &Node, origin: &Origin<'_>, opts: &DecodeOptions, out: &mut Decoded) {
    if node.as_map().is_none() {
        let what = match &node.value {
            Value::Seq(_) => "a sequence",
            _ => "a scalar",
        };
        out.errors.push(origin.error(
            None,
            Some(node.line),
            format!(
                "expected a Kubernetes object (a mapping with apiVersion and kind), found {what}"
            ),
        ));
        return;
    }
    let api_version = node
        .get("apiVersion")
        .filter(|n| !n.is_null())
        .and_then(Node::as_str)
        .unwrap_or_default();
    let kind = node
        .get("kind")
        .filter(|n| !n.is_null())
        .and_then(Node::as_str)
        .unwrap_or_default();
    let object = ObjectRef {
        api_version: api_version.to_owned(),
        kind: kind.to_owned(),
        namespace: node
            .at_path("metadata.namespace")
            .filter(|n| !n.is_null())
            .map(render_text),
        // An object with only `generateName` (Argo CD hook Jobs often have one) is named by that
        // prefix, so findings name it and exception globs like `Job/db-migrate-*` match it.
        name: node
            .at_path("metadata.name")
            .filter(|n| !n.is_null())
            .map(render_text)
            .filter(|n| !n.is_empty())
            .or_else(|| {
                node.at_path("metadata.generateName")
                    .filter(|n| !n.is_null())
                    .map(render_text)
            })
            .unwrap_or_default(),
    };
    let missing: Vec<&str> = [("apiVersion", api_version), ("kind", kind)]
        .into_iter()
        .filter(|(_, v)| v.is_empty())
        .map(|(k, _)| k)
        .collect();
    if !missing.is_empty() {
        let message = format!("not a Kubernetes object: no {}", missing.join(" and no "));
        out.errors
            .push(origin.error(Some(object), Some(node.line), message));
        return;
    }

    // kubectl, Helm and Argo CD apply the *items* of any object whose top-level `items` is a
    // list (`meta.IsListType`), whatever its kind: a `kind: Deployment` carrying `items:` is a
    // list of what it carries, and nothing of its own. A null item applies nothing.
    if let Some(items) = node.get("items").and_then(Node::as_seq) {
        for item in items.iter().filter(|i| !i.is_null()) {
            decode(item, origin, opts, out);
        }
        return;
    }

    let mut collector = Collector::default();
    let workload = Workload::of(api_version, kind);
    let mut typed_ok = false;
    if let Some(workload) = workload {
        match typed::walk(workload, node, &mut collector) {
            Ok(()) => typed_ok = true,
            Err(err) => out.errors.push(origin.error(
                Some(object.clone()),
                Some(err.line),
                format!(
                    "{kind} {api_version} does not match the Kubernetes schema: {}",
                    err.message
                ),
            )),
        }
    }
    for field in opts
        .custom_fields
        .iter()
        .filter(|f| f.applies_to(api_version, kind))
    {
        custom_field(
            field,
            node,
            &object,
            origin,
            &mut collector,
            &mut out.errors,
        );
    }
    // A workload whose typed decode failed is still walked by shape, so its images are judged.
    let walk = Walk {
        pod_specs: !typed_ok,
        image_keys: &opts.image_field_names,
    };
    if let Some(labels) = node.at_path("metadata.labels") {
        collector.labels(labels, "metadata.labels");
    }
    let candidates = walk.run(node, &mut collector);
    // The safety net is for kinds whose schema imagegate does not know. A Kubernetes built-in
    // has a schema: its images are where the typed walk or the pod-spec shape finds them, and a
    // field merely named `image` elsewhere in it (`volumes[].rbd.image`, a Ceph image; a
    // ConfigMap's data) is not a container image.
    if !is_builtin(api_version) {
        safety_net(candidates, &mut collector);
    }

    let (sites, labels) = collector.finish();
    out.objects.push(DecodedObject {
        object,
        template: origin.template.map(str::to_owned),
        document: origin.document,
        hook: hook(node),
        labels,
        sites,
    });
}

/// The API groups of Kubernetes itself (`v1` is the core group): their kinds have a schema.
const BUILTIN_GROUPS: [&str; 19] = [
    "",
    "apps",
    "batch",
    "autoscaling",
    "policy",
    "rbac.authorization.k8s.io",
    "networking.k8s.io",
    "storage.k8s.io",
    "apiextensions.k8s.io",
    "admissionregistration.k8s.io",
    "coordination.k8s.io",
    "discovery.k8s.io",
    "scheduling.k8s.io",
    "certificates.k8s.io",
    "node.k8s.io",
    "flowcontrol.apiserver.k8s.io",
    "apiregistration.k8s.io",
    "events.k8s.io",
    "resource.k8s.io",
];

/// Whether `api_version` (`group/version`, or `version` for the core group) is a Kubernetes
/// built-in.
fn is_builtin(api_version: &str) -> bool {
    let group = api_version.split_once('/').map_or("", |(group, _)| group);
    BUILTIN_GROUPS.contains(&group)
}

/// The `helm.sh/hook` events of an object, when it is a hook.
fn hook(node: &Node) -> Option<Hook> {
    let value = node.at_path("metadata.annotations")?.get("helm.sh/hook")?;
    let events: Vec<String> = render_text(value)
        .split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .map(str::to_owned)
        .collect();
    (!events.is_empty()).then_some(Hook { events })
}

impl CustomImageField {
    /// True when this field is configured for objects of `apiVersion` and `kind`.
    pub fn applies_to(&self, api_version: &str, kind: &str) -> bool {
        let group = api_version.split_once('/').map_or("", |(group, _)| group);
        group == self.group && (self.kinds.is_empty() || self.kinds.iter().any(|k| k == kind))
    }
}

fn custom_field(
    field: &CustomImageField,
    node: &Node,
    object: &ObjectRef,
    origin: &Origin<'_>,
    out: &mut Collector,
    errors: &mut Vec<DocumentError>,
) {
    for path in &field.image_paths {
        // A path may hold list wildcards (`spec.steps[*].image`): each item is a site, and the
        // pull-policy path's wildcards take the same indices (`spec.steps[*].imagePullPolicy`).
        for found in node.at_path_all(path).unwrap_or_default() {
            let image = found.node;
            if image.is_null() {
                continue;
            }
            if image.as_scalar().is_none() {
                errors.push(origin.error(
                    Some(object.clone()),
                    Some(image.line),
                    format!(
                        "custom image field `{}` of {} {} is not a string",
                        found.path, object.kind, object.name
                    ),
                ));
                continue;
            }
            let policy_path = field
                .pull_policy_path
                .as_deref()
                .and_then(|p| policy_path_for(path, p, &found.indices));
            let pull_policy = match &policy_path {
                None => PullPolicy::NotApplicable,
                Some(policy_path) => crate::collect::policy_of(node.at_path(policy_path)),
            };
            let pull_policy_line = policy_path
                .as_deref()
                .and_then(|p| node.at_path(p))
                .filter(|n| !n.is_null())
                .map(|n| n.line);
            out.push_site(
                (image.line, image.col),
                ImageSite {
                    container: None,
                    kind: SiteKind::CustomField,
                    field: found.path.clone(),
                    image: render_text(image),
                    pull_policy,
                    pull_policy_field: policy_path,
                    line: Some(image.line),
                    pull_policy_line,
                },
            );
        }
    }
}

/// The pull-policy path that belongs to an image found at `image_path` with `indices`: a path
/// without wildcards belongs to every image of the entry; one with wildcards only to the images
/// of the same list (`spec.steps[*].imagePullPolicy` to `spec.steps[*].image`, not to
/// `spec.sidecars[*].image`), with the same indices.
fn policy_path_for(image_path: &str, policy_path: &str, indices: &[usize]) -> Option<String> {
    let norm = |p: &str| p.replace("[]", "[*]");
    let (image, policy) = (norm(image_path), norm(policy_path));
    let Some(last) = policy.rfind("[*]") else {
        return Some(policy_path.to_owned());
    };
    let list = &policy[..last + 3];
    image
        .starts_with(list)
        .then(|| with_indices(&policy, indices))
}

/// `path` with its `[*]` (or `[]`) wildcards replaced, in order, by `indices` (a wildcard left
/// over stays: it then matches nothing at a single path).
fn with_indices(path: &str, indices: &[usize]) -> String {
    let mut out = String::with_capacity(path.len());
    let mut rest = path;
    let mut indices = indices.iter();
    while let Some(at) = rest.find(['[']) {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        let wildcard = if tail.starts_with("[*]") {
            Some(3)
        } else if tail.starts_with("[]") {
            Some(2)
        } else {
            None
        };
        match (wildcard, wildcard.and_then(|_| indices.next())) {
            (Some(len), Some(i)) => {
                out.push_str(&format!("[{i}]"));
                rest = &tail[len..];
            }
            _ => {
                out.push('[');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    out
}
