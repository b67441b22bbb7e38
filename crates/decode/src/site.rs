use serde::Serialize;

/// The identity of one rendered Kubernetes object.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectRef {
    /// `apiVersion` as rendered.
    pub api_version: String,
    /// `kind` as rendered.
    pub kind: String,
    /// `metadata.namespace`, when the object sets one.
    pub namespace: Option<String>,
    /// `metadata.name` (empty when the object has none).
    pub name: String,
}

/// What sort of place an image site is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum SiteKind {
    /// `containers[]` of a pod spec.
    Container,
    /// `initContainers[]` of a pod spec.
    InitContainer,
    /// `ephemeralContainers[]` of a pod spec.
    EphemeralContainer,
    /// A configured custom image field (for example a primitive's `spec.image`).
    CustomField,
    /// Found by the safety net: a string field named like an image in an object no other rule covers.
    Unclassified,
}

impl SiteKind {
    /// Every kind.
    pub const ALL: [SiteKind; 5] = [
        Self::Container,
        Self::InitContainer,
        Self::EphemeralContainer,
        Self::CustomField,
        Self::Unclassified,
    ];

    /// The kind's name as every report writes it (`container`, `initContainer`, …): its serde
    /// name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Container => "container",
            Self::InitContainer => "initContainer",
            Self::EphemeralContainer => "ephemeralContainer",
            Self::CustomField => "customField",
            Self::Unclassified => "unclassified",
        }
    }

    /// The kind named `name` (the inverse of [`SiteKind::name`]).
    pub fn named(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }

    /// True for the three kinds of pod-spec container, where `imagePullPolicy` applies.
    pub fn is_container(self) -> bool {
        matches!(
            self,
            Self::Container | Self::InitContainer | Self::EphemeralContainer
        )
    }
}

/// The pull policy of an image site, exactly as rendered.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "state", content = "value", rename_all = "camelCase")]
pub enum PullPolicy {
    /// The field is not present at all (Kubernetes will default it).
    Absent,
    /// The field is present; the string is exactly what was rendered (may be empty or odd).
    Set(String),
    /// The site has no pull-policy field to speak of (a custom field with none configured,
    /// or a safety-net site).
    NotApplicable,
}

/// Helm hook information of the object that holds a site.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Default)]
pub struct Hook {
    /// The values of the `helm.sh/hook` annotation, split on commas and trimmed
    /// (for example `pre-install`, `test`).
    pub events: Vec<String>,
}

impl Hook {
    /// True when the object is a Helm test (`test` or the old `test-success`/`test-failure`).
    pub fn is_test(&self) -> bool {
        self.events
            .iter()
            .any(|e| e == "test" || e == "test-success" || e == "test-failure")
    }
}

/// One place an image reference is taken from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageSite {
    /// The container's name, for container sites.
    pub container: Option<String>,
    /// What sort of place this is.
    pub kind: SiteKind,
    /// Path of the image field inside the object, for example
    /// `spec.jobTemplate.spec.template.spec.initContainers[1].image`.
    pub field: String,
    /// The image string exactly as rendered.
    pub image: String,
    /// The pull policy exactly as rendered.
    pub pull_policy: PullPolicy,
    /// Path of the pull-policy field (present or not) that belongs to this site, if any.
    pub pull_policy_field: Option<String>,
    /// 1-based line of the image value inside its rendered document, when known.
    pub line: Option<u32>,
    /// 1-based line of the pull-policy value, when it is set: where a `pull-policy-*` finding
    /// points.
    pub pull_policy_line: Option<u32>,
}

/// A label (or pod-template label) of an object, for label-value checks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LabelSite {
    /// Path of the labels map, for example `metadata.labels` or `spec.template.metadata.labels`.
    pub field: String,
    /// The label key.
    pub key: String,
    /// The label value as rendered (non-strings are rendered to their YAML text).
    pub value: String,
    /// 1-based line inside the rendered document, when known.
    pub line: Option<u32>,
}

/// One decoded object with every image site and label it holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DecodedObject {
    /// Identity of the object.
    pub object: ObjectRef,
    /// `# Source:` template path of the document, when helm wrote one.
    pub template: Option<String>,
    /// Index of the document in its stream (0-based, counting every `---` separated document,
    /// including empty ones, so the number stays faithful to the stream).
    pub document: usize,
    /// Helm hook information, when the object is a hook or test.
    pub hook: Option<Hook>,
    /// Every label of the object and of embedded pod templates.
    pub labels: Vec<LabelSite>,
    /// Every image site, in document order.
    pub sites: Vec<ImageSite>,
}

/// A document that could not be decoded. It is reported as a finding, never dropped silently.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DocumentError {
    /// Index of the document in its stream.
    pub document: usize,
    /// `# Source:` template path, when known.
    pub template: Option<String>,
    /// The object identity, when enough of it could be read.
    pub object: Option<ObjectRef>,
    /// 1-based line inside the document, when known.
    pub line: Option<u32>,
    /// What went wrong, in words a user can act on.
    pub message: String,
}

/// The result of decoding one stream.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Decoded {
    /// Every object found (the items of any object whose `items` is a list are objects of
    /// their own, and that object is not).
    pub objects: Vec<DecodedObject>,
    /// Every document or object that could not be decoded.
    pub errors: Vec<DocumentError>,
    /// Number of non-empty documents in the stream.
    pub documents: usize,
    /// Each configured (not built-in) custom image field path that reached a node of some
    /// object: the index of its entry in [`crate::DecodeOptions::custom_fields`] and the path.
    /// A run that never reaches a configured path tells the user it judges nothing.
    /// Bookkeeping of the run, not part of what was decoded: left out of the snapshots.
    #[serde(skip)]
    pub custom_paths_reached: std::collections::BTreeSet<(usize, String)>,
}

impl Decoded {
    /// Total number of image sites.
    pub fn image_count(&self) -> usize {
        self.objects.iter().map(|o| o.sites.len()).sum()
    }
}

/// Where objects of an API group and kind keep their images: a built-in catalog entry or a
/// configured one (`policy.customImageFields`).
///
/// An entry names image fields (`images`, scalar strings, with an optional pull-policy path),
/// container mappings (`containers`, judged exactly as a workload's containers, pull policy and
/// missing image included), container patches (`container_patches`: containers an operator
/// merges by name into the ones it generates, judged only when they name an image), or says that
/// its kinds hold image patterns or policies and no image at all (`no_images`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CustomImageField {
    /// API group (the part of `apiVersion` before `/`), for example `ameide.io`.
    pub group: String,
    /// Kinds this applies to; empty means every kind of the group.
    pub kinds: Vec<String>,
    /// Paths of image fields, for example `spec.image`, `spec.db.migrationJobImage`,
    /// `spec.steps[*].image`.
    pub image_paths: Vec<String>,
    /// Path of the pull-policy field of the `image_paths`, for example `spec.imagePullPolicy`.
    pub pull_policy_path: Option<String>,
    /// Paths of containers (`spec.steps[*]`, `spec.templates[*].container`): each mapping found,
    /// or each item of a list found, is a container with its own `image` and `imagePullPolicy`.
    pub containers: Vec<String>,
    /// Paths of container patches (Prometheus' `spec.containers[*]`): like `containers`, but an
    /// item without an `image` patches a container the operator generates and is not a site.
    pub container_patches: Vec<String>,
    /// Templates merged into containers (Tekton's `stepTemplate` into the steps, Argo Workflows'
    /// `templateDefaults.container` into every template's `container`): a container takes the
    /// template's `image` and `imagePullPolicy` when it sets none of its own. A template is not
    /// a site of its own: what runs is each container.
    pub container_defaults: Vec<ContainerDefault>,
    /// Paths of pod templates that are not pod specs (Strimzi's `template.pod`) whose `volumes`
    /// may be image volumes (`volumes[*].image.reference`, with its `pullPolicy`): each is a
    /// site, as in a pod spec.
    pub image_volumes: Vec<String>,
    /// The kinds hold image patterns or policies (Kyverno, Gatekeeper, Flux image automation),
    /// not workloads: nothing in them is an image site, not even by shape or by the safety net.
    pub no_images: bool,
    /// The entry names every image of its kinds (it is read from the project's own CRD): the
    /// safety net stays off for them, as for Kubernetes' own kinds. Pod specs are still found by
    /// their shape.
    pub complete: bool,
    /// Images the operator composes from parts when the image field is not set (the Prometheus
    /// Operator's deprecated `baseImage`, `tag`, `sha` and `version`): one site each, judged as
    /// the reference the operator would build.
    pub composed: Vec<ComposedImage>,
    /// Copies of one shape embedded in each other at any depth (Tekton's pipelines in pipeline
    /// tasks). With it, the entry's image, container and patch paths are relative to each copy.
    pub nesting: Option<Nesting>,
    /// A built-in catalog entry: a configured entry that applies to the same object replaces
    /// every built-in one for that object.
    pub builtin: bool,
}

/// A template merged into the containers at one path (see
/// [`CustomImageField::container_defaults`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContainerDefault {
    /// The containers' path, exactly as in [`CustomImageField::containers`].
    pub containers: String,
    /// The template's path. Its list wildcards take the indices the containers' path took
    /// (`tasks[*].taskSpec.stepTemplate` for the steps of `tasks[*].taskSpec.steps`).
    pub template: String,
}

/// Where the copies of a nested shape are (see [`CustomImageField::nesting`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Nesting {
    /// The first copy's path in the object (`spec` of a Pipeline, `spec.pipelineSpec` of a
    /// PipelineRun).
    pub root: String,
    /// Paths, relative to a copy, of the copies it embeds (`tasks[*].pipelineSpec`).
    pub inner: Vec<String>,
}

/// How deep copies of a nested shape are followed. A copy deeper than this makes the object an
/// error (judged `invalid-manifest`), never a pass of what was not read.
pub const MAX_NESTING: usize = 16;

/// An image an operator builds from parts when the object does not name it whole, as the
/// Prometheus Operator's `BuildImagePath` does: the image field when it is set and not blank;
/// else the base image as written when it already carries a tag or digest; else the base image
/// with `@sha256:` and the sha, else with the tag, else with the version (the object's, else the
/// operator's default). Every path is inside the object; a part the kind does not have is
/// `None`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ComposedImage {
    /// The field that names the whole image (`spec.image`): the site's field.
    pub image: String,
    /// The composed image exists only when this path holds a value (the Thanos sidecar of a
    /// Prometheus exists only with `spec.thanos`).
    pub requires: Option<String>,
    /// The base image's field (`spec.baseImage`).
    pub base: Option<String>,
    /// The base image the operator uses when the object names none (its flag's default).
    pub default_base: String,
    /// The tag's field.
    pub tag: Option<String>,
    /// The field holding the sha256 hex digest (without `sha256:`).
    pub sha: Option<String>,
    /// The version's field.
    pub version: Option<String>,
    /// The version the operator uses when the object sets none (its default at the catalog's
    /// reading of upstream).
    pub default_version: String,
    /// The operator writes the version as `v` and the semantic version it parses tolerantly
    /// (`2.45` and `v2.45.0` both give `v2.45.0`), as it does for Prometheus.
    pub semver_v: bool,
}

#[cfg(test)]
mod site_kind_tests {
    use super::SiteKind;

    #[test]
    fn names_are_the_serde_names_and_invert() {
        for k in SiteKind::ALL {
            assert_eq!(serde_json::to_value(k).unwrap(), k.name());
            assert_eq!(SiteKind::named(k.name()), Some(k));
        }
        assert_eq!(SiteKind::named("Container"), None);
    }
}
