//! Decoding one Kubernetes object (or, for any object whose `items` is a list, each item).

use imagegate_yaml::{Node, Value};

use crate::collect::{container_site, render_text, Collector};
use crate::shape::{safety_net, Walk};
use crate::typed::{self, Workload};
use crate::{
    ContainerDefault, CustomImageField, DecodeOptions, Decoded, DecodedObject, DocumentError, Hook,
    ImageSite, Nesting, ObjectRef, PullPolicy, SiteKind, MAX_NESTING,
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
    let entries = entries_for(&opts.custom_fields, api_version, kind);
    // Kinds that hold image patterns or policies (a Kyverno rule's `image: "*:latest"`, a
    // Gatekeeper constraint's allowed repositories) are not workloads: judging them would be a
    // false alarm on every policy that forbids the very thing it names.
    if entries.iter().any(|(_, f)| f.no_images) {
        if let Some(labels) = node.at_path("metadata.labels") {
            collector.labels(labels, "metadata.labels");
        }
        push_object(out, object, origin, node, collector);
        return;
    }
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
    let complete = entries.iter().any(|(_, f)| f.complete);
    for (index, field) in entries {
        let unnested;
        let field = match &field.nesting {
            None => field,
            Some(nesting) => {
                unnested = unnest(field, nesting, node, &object, origin, &mut out.errors);
                &unnested
            }
        };
        let mut ctx = FieldContext {
            field,
            index,
            reached: &mut out.custom_paths_reached,
            node,
            object: &object,
            origin,
            out: &mut collector,
            errors: &mut out.errors,
        };
        ctx.containers();
        ctx.images();
        ctx.composed();
        ctx.image_volumes();
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
    // ConfigMap's data) is not a container image. A kind whose catalog entry is complete has a
    // schema too.
    if !is_builtin(api_version) && !complete {
        safety_net(candidates, &mut collector);
    }

    push_object(out, object, origin, node, collector);
}

/// The entry `field` with every relative path applied under each copy of its nested shape in
/// `node`: the root copy and, recursively, the copies each embeds, up to [`MAX_NESTING`] deep
/// (a deeper copy is an error, so what was not read does not pass).
fn unnest(
    field: &CustomImageField,
    nesting: &Nesting,
    node: &Node,
    object: &ObjectRef,
    origin: &Origin<'_>,
    errors: &mut Vec<DocumentError>,
) -> CustomImageField {
    let mut copies: Vec<String> = Vec::new();
    let mut level: Vec<String> = node
        .at_path(&nesting.root)
        .filter(|n| !n.is_null())
        .map(|_| nesting.root.clone())
        .into_iter()
        .collect();
    let mut depth = 0;
    while !level.is_empty() {
        if depth > MAX_NESTING {
            let at = node.at_path(&level[0]).map_or(node.line, |n| n.line);
            errors.push(origin.error(
                Some(object.clone()),
                Some(at),
                format!(
                    "`{}` of {} {} is nested more than {MAX_NESTING} levels deep: imagegate \
                     does not read deeper, so it cannot judge the images there; flatten it",
                    level[0], object.kind, object.name
                ),
            ));
            break;
        }
        let mut next = Vec::new();
        for copy in &level {
            for inner in &nesting.inner {
                let path = format!("{copy}.{inner}");
                for found in node.at_path_all(&path).unwrap_or_default() {
                    if !found.node.is_null() {
                        next.push(found.path);
                    }
                }
            }
        }
        copies.append(&mut level);
        level = next;
        depth += 1;
    }
    let under = |paths: &[String]| -> Vec<String> {
        copies
            .iter()
            .flat_map(|copy| paths.iter().map(move |p| format!("{copy}.{p}")))
            .collect()
    };
    CustomImageField {
        image_paths: under(&field.image_paths),
        image_volumes: under(&field.image_volumes),
        container_defaults: field
            .container_defaults
            .iter()
            .flat_map(|d| {
                copies.iter().map(move |copy| ContainerDefault {
                    containers: format!("{copy}.{}", d.containers),
                    template: format!("{copy}.{}", d.template),
                })
            })
            .collect(),
        containers: under(&field.containers),
        container_patches: under(&field.container_patches),
        nesting: None,
        ..field.clone()
    }
}

/// Adds the object with what `collector` found in it.
fn push_object(
    out: &mut Decoded,
    object: ObjectRef,
    origin: &Origin<'_>,
    node: &Node,
    collector: Collector,
) {
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

/// The entries that apply to an object: the configured ones when any applies (they replace the
/// built-in catalog for that object), else the built-in ones.
fn entries_for<'f>(
    fields: &'f [CustomImageField],
    api_version: &str,
    kind: &str,
) -> Vec<(usize, &'f CustomImageField)> {
    let applicable: Vec<(usize, &CustomImageField)> = fields
        .iter()
        .enumerate()
        .filter(|(_, f)| f.applies_to(api_version, kind))
        .collect();
    let configured = applicable.iter().any(|(_, f)| !f.builtin);
    applicable
        .into_iter()
        .filter(|(_, f)| !(configured && f.builtin))
        .collect()
}

/// One entry applied to one object.
struct FieldContext<'a, 'n> {
    field: &'a CustomImageField,
    /// The entry's index among the decoder's custom fields.
    index: usize,
    /// Where the configured paths that reached a node are noted.
    reached: &'a mut std::collections::BTreeSet<(usize, String)>,
    node: &'n Node,
    object: &'a ObjectRef,
    origin: &'a Origin<'a>,
    out: &'a mut Collector,
    errors: &'a mut Vec<DocumentError>,
}

impl<'n> FieldContext<'_, 'n> {
    /// Every node `path` reaches.
    fn reach(&self, path: &str) -> Vec<imagegate_yaml::PathMatch<'n>> {
        self.node.at_path_all(path).unwrap_or_default()
    }

    /// Notes that a configured entry's `path` reached a node.
    fn reached(&mut self, path: &str) {
        if !self.field.builtin {
            self.reached.insert((self.index, path.to_string()));
        }
    }

    fn error(&mut self, line: u32, message: String) {
        self.errors.push(
            self.origin
                .error(Some(self.object.clone()), Some(line), message),
        );
    }

    /// The entry's containers and container patches: each one a container site, judged as a
    /// workload's container is.
    fn containers(&mut self) {
        let lists = [
            (&self.field.containers, false),
            (&self.field.container_patches, true),
        ];
        for (paths, patches) in lists {
            for path in paths {
                let found_all = self.reach(path);
                if !found_all.is_empty() {
                    self.reached(path);
                }
                let template = self
                    .field
                    .container_defaults
                    .iter()
                    .filter(|_| !patches)
                    .find(|d| d.containers == *path)
                    .map(|d| d.template.clone());
                for found in found_all {
                    let default = template.as_deref().and_then(|t| {
                        let at = with_indices(t, &found.indices);
                        let node = self.node.at_path(&at).filter(|n| n.as_map().is_some())?;
                        Some((at, node))
                    });
                    let default = default.as_ref().map(|(at, node)| (at.as_str(), *node));
                    match &found.node.value {
                        Value::Seq(items) => {
                            for (i, item) in items.iter().enumerate() {
                                let mut item_path = found.path.clone();
                                imagegate_yaml::path::push_index(&mut item_path, i);
                                self.container(&item_path, item, patches, default);
                            }
                        }
                        _ => self.container(&found.path, found.node, patches, default),
                    }
                }
            }
        }
    }

    /// One container at `path`; `default` is the template merged into it (its path and node),
    /// whose `image` and `imagePullPolicy` it takes when it sets none of its own.
    fn container(&mut self, path: &str, item: &Node, patch: bool, default: Option<(&str, &Node)>) {
        if item.is_null() {
            return;
        }
        if item.as_map().is_none() {
            self.error(
                item.line,
                format!(
                    "container `{path}` of {} {} is not a mapping",
                    self.object.kind, self.object.name
                ),
            );
            return;
        }
        // A Tekton step that names a `ref` runs the StepAction it refers to, whose own image is
        // judged where the StepAction is defined.
        if item.get("ref").is_some_and(|r| !r.is_null()) {
            return;
        }
        let own = |key: &str| item.get(key).filter(|n| !n.is_null());
        let inherited = |key: &str| {
            if own(key).is_some() {
                return None;
            }
            let (at, template) = default?;
            let node = template.get(key).filter(|n| !n.is_null())?;
            Some((imagegate_yaml::path::join(at, key), node))
        };
        let inherited_image = inherited("image");
        let inherited_policy = inherited("imagePullPolicy");
        let image = own("image").or(inherited_image.as_ref().map(|(_, n)| *n));
        let image = match image {
            None if patch => return,
            None => String::new(),
            Some(node) if node.as_scalar().is_none() => {
                self.error(
                    node.line,
                    format!(
                        "image of container `{path}` of {} {} is not a string",
                        self.object.kind, self.object.name
                    ),
                );
                return;
            }
            Some(node) => render_text(node),
        };
        let name = item
            .get("name")
            .filter(|n| !n.is_null())
            .and_then(Node::as_str)
            .map(str::to_owned);
        if inherited_image.is_none() && inherited_policy.is_none() {
            container_site(
                self.out,
                container_kind(path),
                path,
                Some(item),
                name,
                image,
            );
            return;
        }
        // What the template gives the container is pointed at where the template writes it.
        let image_node = own("image").or(inherited_image.as_ref().map(|(_, n)| *n));
        let pos = image_node.unwrap_or(item);
        let (pull_policy, pull_policy_field, pull_policy_line) = match &inherited_policy {
            Some((at, node)) => (
                PullPolicy::Set(render_text(node)),
                at.clone(),
                Some(node.line),
            ),
            None => (
                crate::collect::pull_policy(Some(item), "imagePullPolicy"),
                imagegate_yaml::path::join(path, "imagePullPolicy"),
                crate::collect::value_line(Some(item), "imagePullPolicy"),
            ),
        };
        self.out.push_site(
            (pos.line, pos.col),
            ImageSite {
                container: name,
                kind: container_kind(path),
                field: imagegate_yaml::path::join(path, "image"),
                image,
                pull_policy,
                pull_policy_field: Some(pull_policy_field),
                line: image_node.map(|n| n.line),
                pull_policy_line,
            },
        );
    }

    /// The entry's image fields.
    fn images(&mut self) {
        for path in &self.field.image_paths {
            // A path may hold list wildcards (`spec.steps[*].image`): each item is a site, and
            // the pull-policy path's wildcards take the same indices.
            let found = self.reach(path).into_iter().map(|f| (f, false));
            let missing = self.missing_in_lists(path).into_iter().map(|f| (f, true));
            let all: Vec<_> = found.chain(missing).collect();
            if !all.is_empty() {
                self.reached(path);
            }
            for (found, missing) in all {
                self.image(path, &found, missing);
            }
        }
    }

    /// The items of a wildcard list that lack the image key of `path` (`spec.steps[*].image`
    /// on a step without `image`): a container that names no image is seen, as an empty image.
    fn missing_in_lists(&self, path: &str) -> Vec<imagegate_yaml::PathMatch<'n>> {
        let Some((parent, key)) = split_last_key(path) else {
            return Vec::new();
        };
        if !parent.ends_with("[*]") && !parent.ends_with("[]") {
            return Vec::new();
        }
        self.node
            .at_path_all(parent)
            .unwrap_or_default()
            .into_iter()
            .filter(|item| item.node.as_map().is_some() && item.node.get(key).is_none())
            .filter(|item| item.node.get("ref").is_none_or(Node::is_null))
            .map(|item| imagegate_yaml::PathMatch {
                path: imagegate_yaml::path::join(&item.path, key),
                ..item
            })
            .collect()
    }

    /// One image field found at `found` (or, when `missing`, the list item lacking it).
    fn image(&mut self, path: &str, found: &imagegate_yaml::PathMatch<'n>, missing: bool) {
        let image = found.node;
        if !missing && image.is_null() {
            return;
        }
        // A blank image field of a composed image is not set: the operator builds the image
        // from its parts, and [`FieldContext::composed`] judges that one.
        if !missing && self.composed_from_parts(path) && is_blank(image) {
            return;
        }
        if !missing && image.as_scalar().is_none() {
            self.error(
                image.line,
                format!(
                    "custom image field `{}` of {} {} is not a string",
                    found.path, self.object.kind, self.object.name
                ),
            );
            return;
        }
        let policy_path = self
            .field
            .pull_policy_path
            .as_deref()
            .and_then(|p| policy_path_for(path, p, &found.indices));
        let pull_policy = match &policy_path {
            None => PullPolicy::NotApplicable,
            Some(policy_path) => crate::collect::policy_of(self.node.at_path(policy_path)),
        };
        let pull_policy_line = policy_path
            .as_deref()
            .and_then(|p| self.node.at_path(p))
            .filter(|n| !n.is_null())
            .map(|n| n.line);
        let (pos, text, line) = if missing {
            ((image.line, image.col), String::new(), None)
        } else {
            (
                (image.line, image.col),
                render_text(image),
                Some(image.line),
            )
        };
        self.out.push_site(
            pos,
            ImageSite {
                container: None,
                kind: SiteKind::CustomField,
                field: found.path.clone(),
                image: text,
                pull_policy,
                pull_policy_field: policy_path,
                line,
                pull_policy_line,
            },
        );
    }
}

impl FieldContext<'_, '_> {
    /// The image volumes of the entry's pod templates.
    fn image_volumes(&mut self) {
        for path in &self.field.image_volumes {
            let found_all = self.reach(path);
            if !found_all.is_empty() {
                self.reached(path);
            }
            for found in found_all {
                crate::collect::image_volumes(self.out, found.node, &found.path);
            }
        }
    }

    /// True when `path` is the whole-image field of one of the entry's composed images.
    fn composed_from_parts(&self, path: &str) -> bool {
        self.field.composed.iter().any(|c| c.image == path)
    }

    /// The entry's composed images: for each whose image field is absent, null or blank, the
    /// reference the operator builds from the parts, as one site at the image field. Its line
    /// is the line of the part that decided the reference (none when every part is the
    /// operator's default), so a finding points at what to change.
    fn composed(&mut self) {
        for c in &self.field.composed {
            if let Some(requires) = &c.requires {
                if self.node.at_path(requires).is_none_or(Node::is_null) {
                    continue;
                }
            }
            let whole = self.node.at_path(&c.image).filter(|n| !n.is_null());
            if whole.is_some_and(|n| !is_blank(n)) {
                continue;
            }
            let part = |path: &Option<String>| {
                path.as_deref()
                    .and_then(|p| self.node.at_path(p))
                    .filter(|n| n.as_scalar().is_some() && !is_blank(n))
                    .map(|n| (render_text(n).trim().to_owned(), n))
            };
            let base = part(&c.base);
            let base_text = base
                .as_ref()
                .map_or(c.default_base.as_str(), |(t, _)| t.as_str());
            let (image, decided_by) = if has_tag_or_digest(base_text) {
                (base_text.to_owned(), base.as_ref().map(|(_, n)| *n))
            } else if let Some((sha, node)) = part(&c.sha) {
                (format!("{base_text}@sha256:{sha}"), Some(node))
            } else if let Some((tag, node)) = part(&c.tag) {
                (format!("{base_text}:{tag}"), Some(node))
            } else {
                let version = part(&c.version);
                let written = version
                    .as_ref()
                    .map_or(c.default_version.as_str(), |(t, _)| t.as_str());
                let version_text = if c.semver_v {
                    tolerant_semver_v(written)
                } else {
                    written.to_owned()
                };
                (
                    format!("{base_text}:{version_text}"),
                    version.as_ref().map(|(_, n)| *n),
                )
            };
            let policy_path = self.field.pull_policy_path.clone();
            let policy_node = policy_path.as_deref().and_then(|p| self.node.at_path(p));
            let pull_policy = match &policy_path {
                None => PullPolicy::NotApplicable,
                Some(_) => crate::collect::policy_of(policy_node),
            };
            let pull_policy_line = policy_node.filter(|n| !n.is_null()).map(|n| n.line);
            // The site sorts where its deciding part is written, or at the object's start.
            let at = decided_by.unwrap_or(self.node);
            self.out.push_site(
                (at.line, at.col),
                ImageSite {
                    container: None,
                    kind: SiteKind::CustomField,
                    field: c.image.clone(),
                    image,
                    pull_policy,
                    pull_policy_field: policy_path,
                    line: decided_by.map(|n| n.line),
                    pull_policy_line,
                },
            );
        }
    }
}

/// True for a scalar that is empty or only white space (`strings.TrimSpace(s) == ""`).
fn is_blank(node: &Node) -> bool {
    node.as_scalar().is_some() && render_text(node).trim().is_empty()
}

/// True when the reference names a tag or a digest after its repository (a `:` after the last
/// `/`, so a registry port is not a tag, or an `@`).
fn has_tag_or_digest(reference: &str) -> bool {
    let last = reference.rsplit('/').next().unwrap_or(reference);
    last.contains(':') || reference.contains('@')
}

/// `v` and the version as Go's `semver.ParseTolerant` reads it: a leading `v` dropped, missing
/// minor and patch filled with `0` (`2.45` gives `v2.45.0`). A version it cannot read is kept as
/// written (the operator then refuses the object; the reference shows what was written).
pub(crate) fn tolerant_semver_v(version: &str) -> String {
    let v = version.trim();
    let v = v.strip_prefix(['v', 'V']).unwrap_or(v);
    let (core, rest) = match v.find(['-', '+']) {
        Some(at) => v.split_at(at),
        None => (v, ""),
    };
    let parts: Vec<&str> = core.split('.').collect();
    let numeric = |p: &&str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
    if parts.is_empty() || parts.len() > 3 || !parts.iter().all(numeric) {
        return format!("v{v}");
    }
    let mut nums: Vec<String> = parts
        .iter()
        .map(|p| p.trim_start_matches('0'))
        .map(|p| {
            if p.is_empty() {
                "0".to_owned()
            } else {
                p.to_owned()
            }
        })
        .collect();
    while nums.len() < 3 {
        nums.push("0".to_owned());
    }
    format!("v{}{rest}", nums.join("."))
}

/// `path` split before its last segment when that segment is a plain key.
fn split_last_key(path: &str) -> Option<(&str, &str)> {
    let (parent, key) = path.rsplit_once('.')?;
    (!key.is_empty() && !key.contains(['[', ']', '"'])).then_some((parent, key))
}

/// The kind of container a path names, by the list it sits in, as in a pod spec.
fn container_kind(path: &str) -> SiteKind {
    let list = path.trim_end_matches(|c: char| c == ']' || c.is_ascii_digit());
    let list = list.strip_suffix('[').unwrap_or(list);
    if list.ends_with("initContainers") {
        SiteKind::InitContainer
    } else if list.ends_with("ephemeralContainers") {
        SiteKind::EphemeralContainer
    } else {
        SiteKind::Container
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
