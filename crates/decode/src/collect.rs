//! Building image and label sites from the YAML tree, shared by the typed and the shape walks.

use std::collections::HashSet;

use imagegate_yaml::{Node, Value};

use crate::{ImageSite, LabelSite, PullPolicy, SiteKind};
use imagegate_yaml::path::{join, push_index};

/// The sites of one object as they are found.
#[derive(Default)]
pub(crate) struct Collector {
    /// Sites with the position used to put them in document order.
    sites: Vec<((u32, u32), ImageSite)>,
    labels: Vec<LabelSite>,
    /// Field paths already holding a site, so no rule reports the same field twice and the
    /// safety net only reports what nothing else covered.
    covered: HashSet<String>,
}

impl Collector {
    pub(crate) fn covers(&self, field: &str) -> bool {
        self.covered.contains(field)
    }

    pub(crate) fn push_site(&mut self, pos: (u32, u32), site: ImageSite) {
        if self.covered.insert(site.field.clone()) {
            self.sites.push((pos, site));
        }
    }

    /// Records every entry of a labels mapping found at `field`.
    pub(crate) fn labels(&mut self, labels: &Node, field: &str) {
        let Some(entries) = labels.as_map() else {
            return;
        };
        for (key, value) in entries {
            // The key Kubernetes receives (`on:` is the label `true`).
            let Some(key_text) = key.key_text() else {
                continue;
            };
            self.labels.push(LabelSite {
                field: field.to_owned(),
                key: key_text.into_owned(),
                value: render_text(value),
                line: Some(value.line),
            });
        }
    }

    /// Sites in document order (position, then path for sites sharing one) and labels.
    pub(crate) fn finish(mut self) -> (Vec<ImageSite>, Vec<LabelSite>) {
        self.sites
            .sort_by(|(a, x), (b, y)| a.cmp(b).then_with(|| x.field.cmp(&y.field)));
        (
            self.sites.into_iter().map(|(_, s)| s).collect(),
            self.labels,
        )
    }
}

/// A value as text: a scalar's own text (so `1.10` stays `1.10`), a null as empty, a
/// collection as compact JSON (Kubernetes would reject it; the text shows why).
pub(crate) fn render_text(node: &Node) -> String {
    match &node.value {
        Value::Scalar(s) if s.is_null() => String::new(),
        Value::Scalar(s) => s.text.clone(),
        other => other.to_json().to_string(),
    }
}

/// The pull policy held at `key` of `holder`: absent when the key is missing or null (which
/// Kubernetes treats alike), otherwise exactly the rendered text, even when empty.
pub(crate) fn pull_policy(holder: Option<&Node>, key: &str) -> PullPolicy {
    policy_of(holder.and_then(|h| h.get(key)))
}

/// The pull policy a found node says: absent when missing or null, else its text as written.
pub(crate) fn policy_of(node: Option<&Node>) -> PullPolicy {
    match node {
        None => PullPolicy::Absent,
        Some(node) if node.is_null() => PullPolicy::Absent,
        Some(node) => PullPolicy::Set(render_text(node)),
    }
}

/// The line of the non-null value at `key` of `holder`.
pub(crate) fn value_line(holder: Option<&Node>, key: &str) -> Option<u32> {
    holder
        .and_then(|h| h.get(key))
        .filter(|n| !n.is_null())
        .map(|n| n.line)
}

/// The three container lists of a pod spec, in the order Kubernetes starts them.
pub(crate) const CONTAINER_LISTS: [(SiteKind, &str); 3] = [
    (SiteKind::InitContainer, "initContainers"),
    (SiteKind::Container, "containers"),
    (SiteKind::EphemeralContainer, "ephemeralContainers"),
];

/// One container's site. `item` is the container's mapping, when the tree has it; `image` is
/// the image as decoded (empty when the container names none, which Kubernetes rejects).
pub(crate) fn container_site(
    out: &mut Collector,
    kind: SiteKind,
    item_path: &str,
    item: Option<&Node>,
    name: Option<String>,
    image: String,
) {
    let image_node = item.and_then(|i| i.get("image"));
    let pos = image_node.or(item).map_or((0, 0), |n| (n.line, n.col));
    out.push_site(
        pos,
        ImageSite {
            container: name,
            kind,
            field: join(item_path, "image"),
            image,
            pull_policy: pull_policy(item, "imagePullPolicy"),
            pull_policy_field: Some(join(item_path, "imagePullPolicy")),
            line: image_node.map(|n| n.line),
            pull_policy_line: value_line(item, "imagePullPolicy"),
        },
    );
}

/// An image volume (`volumes[].image.reference`, Kubernetes 1.31+): the kubelet pulls it like a
/// container image, with its own `pullPolicy`, so it is a site of its own. It is reported as a
/// [`SiteKind::CustomField`] because it is not a container.
pub(crate) fn image_volumes(out: &mut Collector, spec: &Node, spec_path: &str) {
    let Some(volumes) = spec.get("volumes").and_then(Node::as_seq) else {
        return;
    };
    let base = join(spec_path, "volumes");
    for (i, volume) in volumes.iter().enumerate() {
        let Some(source) = volume.get("image").filter(|s| s.as_map().is_some()) else {
            continue;
        };
        let Some(reference) = source.get("reference").filter(|r| !r.is_null()) else {
            continue;
        };
        let mut path = base.clone();
        push_index(&mut path, i);
        let source_path = join(&path, "image");
        out.push_site(
            (reference.line, reference.col),
            ImageSite {
                container: None,
                kind: SiteKind::CustomField,
                field: join(&source_path, "reference"),
                image: render_text(reference),
                pull_policy: pull_policy(Some(source), "pullPolicy"),
                pull_policy_field: Some(join(&source_path, "pullPolicy")),
                line: Some(reference.line),
                pull_policy_line: value_line(Some(source), "pullPolicy"),
            },
        );
    }
}
