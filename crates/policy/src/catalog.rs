//! The built-in catalog of custom resources: where the operators people run take their images
//! and pull policies from, read from each project's own CRDs and examples.
//!
//! Each [`CatalogEntry`] says, for one API group and some kinds, which fields are images, which
//! are containers (judged exactly as a Deployment's containers, `imagePullPolicy` included), which
//! are container patches an operator merges into the containers it generates, or that the kinds
//! hold image *patterns or policies* and no image at all. `policy.customImageFields` in
//! `imagegate.yaml` uses the same model: a configured entry that applies to an object replaces
//! the catalog's entries for that object. The table is a Rust constant, not a data file, so a
//! wrong path is a failing test rather than an error at run time; `docs/custom-resources.md` is
//! generated from it.

use imagegate_decode::{ComposedImage, ContainerDefault, CustomImageField, Nesting};

/// One entry of the built-in catalog.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CatalogEntry {
    /// A short stable name, for the docs and the fixture of the entry (`tekton-task`).
    pub name: &'static str,
    /// The project, as the docs name it.
    pub project: &'static str,
    /// API group.
    pub group: &'static str,
    /// Kinds; every kind of the group when empty.
    pub kinds: &'static [&'static str],
    /// Image fields (strings).
    pub images: &'static [&'static str],
    /// The pull-policy field of `images`.
    pub pull_policy: Option<&'static str>,
    /// Containers (a path to a container mapping, or to a list of them).
    pub containers: &'static [&'static str],
    /// Container patches: containers merged by name (or into every step) by the operator; one
    /// without an `image` is not judged on its own.
    pub container_patches: &'static [&'static str],
    /// Templates merged into containers: `(containers, template)` as in [`ContainerDefault`].
    pub container_defaults: &'static [(&'static str, &'static str)],
    /// Pod templates that are not pod specs, whose `volumes` may be image volumes.
    pub image_volumes: &'static [&'static str],
    /// The kinds hold image patterns or policies, not workloads: nothing in them is judged.
    pub no_images: bool,
    /// The entry names every image of its kinds, so the safety net stays off for them.
    pub complete: bool,
    /// Images the operator composes from parts when the image field is not set.
    pub composed: &'static [Composed],
    /// Copies of one shape embedded at any depth: `(root, inner)` as in [`Nesting`]; the
    /// entry's paths are then relative to each copy.
    pub nesting: Option<(&'static str, &'static [&'static str])>,
    /// Where the fields are defined upstream.
    pub source: &'static str,
}

impl CatalogEntry {
    const fn new(name: &'static str, project: &'static str, group: &'static str) -> Self {
        Self {
            name,
            project,
            group,
            kinds: &[],
            images: &[],
            pull_policy: None,
            containers: &[],
            container_patches: &[],
            container_defaults: &[],
            image_volumes: &[],
            no_images: false,
            complete: true,
            composed: &[],
            nesting: None,
            source: "",
        }
    }
}

impl Composed {
    /// A composed image whose whole-image field is `image`, with no parts yet.
    const fn whole(image: &'static str) -> Self {
        Self {
            image,
            requires: None,
            base: None,
            default_base: "",
            tag: None,
            sha: None,
            version: None,
            default_version: "",
            semver_v: false,
        }
    }
}

/// An image the operator builds from parts (see [`ComposedImage`]), as a constant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Composed {
    /// The field that names the whole image.
    pub image: &'static str,
    /// The composed image exists only when this path holds a value.
    pub requires: Option<&'static str>,
    /// The base image's field.
    pub base: Option<&'static str>,
    /// The operator's default base image.
    pub default_base: &'static str,
    /// The tag's field.
    pub tag: Option<&'static str>,
    /// The sha's field (hex, without `sha256:`).
    pub sha: Option<&'static str>,
    /// The version's field.
    pub version: Option<&'static str>,
    /// The operator's default version.
    pub default_version: &'static str,
    /// The version is written `v` + its tolerant semantic version.
    pub semver_v: bool,
}

impl From<&Composed> for ComposedImage {
    fn from(c: &Composed) -> Self {
        let owned = |v: Option<&str>| v.map(str::to_owned);
        ComposedImage {
            image: c.image.to_owned(),
            requires: owned(c.requires),
            base: owned(c.base),
            default_base: c.default_base.to_owned(),
            tag: owned(c.tag),
            sha: owned(c.sha),
            version: owned(c.version),
            default_version: c.default_version.to_owned(),
            semver_v: c.semver_v,
        }
    }
}

impl From<&CatalogEntry> for CustomImageField {
    fn from(e: &CatalogEntry) -> Self {
        let strings = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect();
        CustomImageField {
            group: e.group.to_owned(),
            kinds: strings(e.kinds),
            image_paths: strings(e.images),
            pull_policy_path: e.pull_policy.map(str::to_owned),
            containers: strings(e.containers),
            container_patches: strings(e.container_patches),
            container_defaults: e
                .container_defaults
                .iter()
                .map(|(containers, template)| ContainerDefault {
                    containers: (*containers).to_owned(),
                    template: (*template).to_owned(),
                })
                .collect(),
            image_volumes: strings(e.image_volumes),
            no_images: e.no_images,
            complete: e.complete,
            composed: e.composed.iter().map(ComposedImage::from).collect(),
            nesting: e.nesting.map(|(root, inner)| Nesting {
                root: root.to_owned(),
                inner: strings(inner),
            }),
            builtin: true,
        }
    }
}

const PROMETHEUS: &str = "prometheus-operator/prometheus-operator: pkg/apis/monitoring/v1 (CommonPrometheusFields, AlertmanagerSpec, ThanosRulerSpec); composed images: pkg/operator/image.go (BuildImagePath), defaults from pkg/operator/defaults.go";
const TEKTON: &str =
    "tektoncd/pipeline: pkg/apis/pipeline/v1 (Step, Sidecar, StepTemplate, TaskSpec, PipelineTask)";
/// Where a Tekton pipeline spec embeds pipeline specs of its own (`PipelineTask.PipelineSpec`,
/// validated recursively upstream).
const TEKTON_NESTED_PIPELINES: &[&str] = &["tasks[*].pipelineSpec", "finally[*].pipelineSpec"];
const ARGO_WORKFLOWS: &str =
    "argoproj/argo-workflows: pkg/apis/workflow/v1alpha1 (Template, ScriptTemplate, ContainerSetTemplate)";

/// Argo Workflows' templates under `base` (`spec`, or `spec.workflowSpec` of a CronWorkflow).
macro_rules! argo_templates {
    ($base:literal) => {
        &[
            concat!($base, ".templates[*].container"),
            concat!($base, ".templates[*].script"),
            concat!($base, ".templates[*].initContainers"),
            concat!($base, ".templates[*].sidecars"),
            concat!($base, ".templates[*].containerSet.containers"),
        ]
    };
}

/// Tekton's task spec under `base`: its steps and sidecars.
macro_rules! tekton_task {
    ($($base:literal),*) => {
        &[$(concat!($base, ".steps"), concat!($base, ".sidecars")),*]
    };
}

/// Tekton's step templates under `base`: each merged into the steps beside it.
macro_rules! tekton_step_template {
    ($($base:literal),*) => {
        &[$((concat!($base, ".steps"), concat!($base, ".stepTemplate"))),*]
    };
}

/// The catalog, in the order the docs list it.
pub const CATALOG: &[CatalogEntry] = &[
    CatalogEntry {
        kinds: &[
            "Domain",
            "Process",
            "Agent",
            "UISurface",
            "Projection",
            "Integration",
        ],
        images: &["spec.image"],
        pull_policy: Some("spec.imagePullPolicy"),
        // The primitives' schema is the platform's own and grows: the safety net stays on.
        complete: false,
        source: "the ameide.io primitives (602 Rule 5)",
        ..CatalogEntry::new("ameide-primitive", "ameide", "ameide.io")
    },
    CatalogEntry {
        kinds: &["Domain"],
        images: &["spec.db.migrationJobImage"],
        complete: false,
        source: "the ameide.io Domain primitive",
        ..CatalogEntry::new("ameide-domain-migration", "ameide", "ameide.io")
    },
    CatalogEntry {
        kinds: &["Prometheus"],
        images: &["spec.image"],
        pull_policy: Some("spec.imagePullPolicy"),
        // Merged by name into the containers the operator generates (`prometheus`,
        // `config-reloader`, …): one without an image only patches them.
        container_patches: &["spec.containers", "spec.initContainers"],
        // Without `spec.image` the operator builds the image from the deprecated `baseImage`,
        // `sha`, `tag` and `version` (pkg/prometheus/server/statefulset.go).
        composed: &[Composed {
            base: Some("spec.baseImage"),
            default_base: "quay.io/prometheus/prometheus",
            tag: Some("spec.tag"),
            sha: Some("spec.sha"),
            version: Some("spec.version"),
            default_version: "v3.13.2",
            semver_v: true,
            ..Composed::whole("spec.image")
        }],
        source: PROMETHEUS,
        ..CatalogEntry::new("prometheus", "Prometheus Operator", "monitoring.coreos.com")
    },
    CatalogEntry {
        kinds: &["PrometheusAgent"],
        images: &["spec.image"],
        pull_policy: Some("spec.imagePullPolicy"),
        container_patches: &["spec.containers", "spec.initContainers"],
        // An agent has no `baseImage`, `tag` or `sha`: the operator's base image and the version.
        composed: &[Composed {
            default_base: "quay.io/prometheus/prometheus",
            version: Some("spec.version"),
            default_version: "v3.13.2",
            semver_v: true,
            ..Composed::whole("spec.image")
        }],
        source: PROMETHEUS,
        ..CatalogEntry::new("prometheus-agent", "Prometheus Operator", "monitoring.coreos.com")
    },
    CatalogEntry {
        kinds: &["Alertmanager"],
        images: &["spec.image"],
        pull_policy: Some("spec.imagePullPolicy"),
        container_patches: &["spec.containers", "spec.initContainers"],
        // pkg/alertmanager/statefulset.go: `baseImage`, `sha`, `tag`, `version` as written.
        composed: &[Composed {
            base: Some("spec.baseImage"),
            default_base: "quay.io/prometheus/alertmanager",
            tag: Some("spec.tag"),
            sha: Some("spec.sha"),
            version: Some("spec.version"),
            default_version: "v0.33.1",
            ..Composed::whole("spec.image")
        }],
        source: PROMETHEUS,
        ..CatalogEntry::new("alertmanager", "Prometheus Operator", "monitoring.coreos.com")
    },
    CatalogEntry {
        kinds: &["ThanosRuler"],
        images: &["spec.image"],
        pull_policy: Some("spec.imagePullPolicy"),
        container_patches: &["spec.containers", "spec.initContainers"],
        // pkg/thanos/statefulset.go: the operator's base image and `version` as written.
        composed: &[Composed {
            default_base: "quay.io/thanos/thanos",
            version: Some("spec.version"),
            default_version: "v0.42.4",
            ..Composed::whole("spec.image")
        }],
        source: PROMETHEUS,
        ..CatalogEntry::new("thanos-ruler", "Prometheus Operator", "monitoring.coreos.com")
    },
    CatalogEntry {
        kinds: &["Prometheus"],
        images: &["spec.thanos.image"],
        // The sidecar takes the Prometheus' own `imagePullPolicy`.
        pull_policy: Some("spec.imagePullPolicy"),
        composed: &[Composed {
            requires: Some("spec.thanos"),
            base: Some("spec.thanos.baseImage"),
            default_base: "quay.io/thanos/thanos",
            tag: Some("spec.thanos.tag"),
            sha: Some("spec.thanos.sha"),
            version: Some("spec.thanos.version"),
            default_version: "v0.42.4",
            ..Composed::whole("spec.thanos.image")
        }],
        source: PROMETHEUS,
        ..CatalogEntry::new("prometheus-thanos", "Prometheus Operator", "monitoring.coreos.com")
    },
    CatalogEntry {
        kinds: &["Cluster"],
        // Each extension is pulled from an image of its own (an image volume).
        images: &[
            "spec.imageName",
            "spec.postgresql.extensions[*].image.reference",
        ],
        pull_policy: Some("spec.imagePullPolicy"),
        source: "cloudnative-pg/cloudnative-pg: api/v1/cluster_types.go (ClusterSpec)",
        ..CatalogEntry::new("cnpg-cluster", "CloudNativePG", "postgresql.cnpg.io")
    },
    CatalogEntry {
        kinds: &["Pooler"],
        images: &["spec.image"],
        // The pgbouncer pod template: its `pgbouncer` container is merged with the operator's.
        container_patches: &[
            "spec.template.spec.containers",
            "spec.template.spec.initContainers",
        ],
        source: "cloudnative-pg/cloudnative-pg: api/v1/pooler_types.go (PoolerSpec.Template)",
        ..CatalogEntry::new("cnpg-pooler", "CloudNativePG", "postgresql.cnpg.io")
    },
    CatalogEntry {
        kinds: &["ImageCatalog", "ClusterImageCatalog"],
        images: &[
            "spec.images[*].image",
            "spec.images[*].extensions[*].image.reference",
            "spec.componentImages[*].image",
        ],
        source: "cloudnative-pg/cloudnative-pg: api/v1/imagecatalog_types.go",
        ..CatalogEntry::new("cnpg-image-catalog", "CloudNativePG", "postgresql.cnpg.io")
    },
    CatalogEntry {
        kinds: &["Kafka"],
        images: &[
            "spec.kafka.image",
            "spec.kafka.brokerRackInitImage",
            "spec.zookeeper.image",
            "spec.entityOperator.topicOperator.image",
            "spec.entityOperator.userOperator.image",
            "spec.entityOperator.tlsSidecar.image",
            "spec.kafkaExporter.image",
            "spec.cruiseControl.image",
        ],
        // Each component's `template.pod` may mount image volumes (`AdditionalVolume.image`).
        image_volumes: &[
            "spec.kafka.template.pod",
            "spec.zookeeper.template.pod",
            "spec.entityOperator.template.pod",
            "spec.kafkaExporter.template.pod",
            "spec.cruiseControl.template.pod",
        ],
        source: "strimzi/strimzi-kafka-operator: api/.../model/kafka (KafkaClusterSpec, EntityOperatorSpec, …), common/template (PodTemplate.volumes: AdditionalVolume.image)",
        ..CatalogEntry::new("strimzi-kafka", "Strimzi", "kafka.strimzi.io")
    },
    CatalogEntry {
        kinds: &[
            "KafkaConnect",
            "KafkaMirrorMaker2",
            "KafkaMirrorMaker",
            "KafkaBridge",
        ],
        // `spec.build.output.image` of a KafkaConnect is where the operator *pushes* the image
        // it builds, not one it pulls: with the entry complete it is not judged.
        images: &["spec.image", "spec.clientRackInitImage"],
        image_volumes: &["spec.template.pod", "spec.template.buildPod"],
        source: "strimzi/strimzi-kafka-operator: api/.../model/connect, mirrormaker2, bridge",
        ..CatalogEntry::new("strimzi-connect", "Strimzi", "kafka.strimzi.io")
    },
    CatalogEntry {
        kinds: &["KafkaNodePool"],
        // A node pool names no image of its own; its pods may mount image volumes.
        image_volumes: &["spec.template.pod"],
        source: "strimzi/strimzi-kafka-operator: api/.../model/nodepool (KafkaNodePoolTemplate.pod)",
        ..CatalogEntry::new("strimzi-nodepool", "Strimzi", "kafka.strimzi.io")
    },
    CatalogEntry {
        kinds: &["StrimziPodSet"],
        // `spec.pods` are whole Pod objects, which the operator creates as they are.
        containers: &["spec.pods[*].spec.initContainers", "spec.pods[*].spec.containers"],
        source: "strimzi/strimzi-kafka-operator: api/.../model/podset/StrimziPodSetSpec.java (pods: core/v1 Pods)",
        ..CatalogEntry::new("strimzi-podset", "Strimzi", "core.strimzi.io")
    },
    CatalogEntry {
        kinds: &["Task", "ClusterTask"],
        containers: tekton_task!("spec"),
        container_defaults: tekton_step_template!("spec"),
        source: TEKTON,
        ..CatalogEntry::new("tekton-task", "Tekton", "tekton.dev")
    },
    CatalogEntry {
        kinds: &["Pipeline"],
        // A pipeline task may embed a pipeline of its own (`pipelineSpec`), at any depth.
        containers: tekton_task!("tasks[*].taskSpec", "finally[*].taskSpec"),
        container_defaults: tekton_step_template!("tasks[*].taskSpec", "finally[*].taskSpec"),
        nesting: Some(("spec", TEKTON_NESTED_PIPELINES)),
        source: TEKTON,
        ..CatalogEntry::new("tekton-pipeline", "Tekton", "tekton.dev")
    },
    CatalogEntry {
        kinds: &["TaskRun"],
        containers: tekton_task!("spec.taskSpec"),
        container_defaults: tekton_step_template!("spec.taskSpec"),
        source: TEKTON,
        ..CatalogEntry::new("tekton-taskrun", "Tekton", "tekton.dev")
    },
    CatalogEntry {
        kinds: &["PipelineRun"],
        // `taskRunSpecs[*].stepSpecs` and `sidecarSpecs` override compute resources only.
        containers: tekton_task!("tasks[*].taskSpec", "finally[*].taskSpec"),
        container_defaults: tekton_step_template!("tasks[*].taskSpec", "finally[*].taskSpec"),
        nesting: Some(("spec.pipelineSpec", TEKTON_NESTED_PIPELINES)),
        source: TEKTON,
        ..CatalogEntry::new("tekton-pipelinerun", "Tekton", "tekton.dev")
    },
    CatalogEntry {
        kinds: &["StepAction"],
        // A StepAction's spec is one step: its `image` and `imagePullPolicy`.
        containers: &["spec"],
        source: "tektoncd/pipeline: pkg/apis/pipeline/v1beta1 (StepActionSpec)",
        ..CatalogEntry::new("tekton-stepaction", "Tekton", "tekton.dev")
    },
    CatalogEntry {
        kinds: &["Workflow", "WorkflowTemplate", "ClusterWorkflowTemplate"],
        containers: argo_templates!("spec"),
        // `templateDefaults` is merged into every template of its own type (the controller's
        // `mergedTemplateDefaultsInto`).
        container_defaults: &[
            ("spec.templates[*].container", "spec.templateDefaults.container"),
            ("spec.templates[*].script", "spec.templateDefaults.script"),
        ],
        source: ARGO_WORKFLOWS,
        ..CatalogEntry::new("argo-workflow", "Argo Workflows", "argoproj.io")
    },
    CatalogEntry {
        kinds: &["CronWorkflow"],
        containers: argo_templates!("spec.workflowSpec"),
        container_defaults: &[
            (
                "spec.workflowSpec.templates[*].container",
                "spec.workflowSpec.templateDefaults.container",
            ),
            (
                "spec.workflowSpec.templates[*].script",
                "spec.workflowSpec.templateDefaults.script",
            ),
        ],
        source: ARGO_WORKFLOWS,
        ..CatalogEntry::new("argo-cronworkflow", "Argo Workflows", "argoproj.io")
    },
    CatalogEntry {
        kinds: &["Rollout"],
        containers: &[
            "spec.template.spec.initContainers",
            "spec.template.spec.containers",
            "spec.template.spec.ephemeralContainers",
        ],
        source: "argoproj/argo-rollouts: pkg/apis/rollouts/v1alpha1 (RolloutSpec.Template)",
        ..CatalogEntry::new("argo-rollout", "Argo Rollouts", "argoproj.io")
    },
    CatalogEntry {
        kinds: &["AnalysisTemplate", "ClusterAnalysisTemplate", "AnalysisRun"],
        containers: &[
            "spec.metrics[*].provider.job.spec.template.spec.initContainers",
            "spec.metrics[*].provider.job.spec.template.spec.containers",
        ],
        source: "argoproj/argo-rollouts: pkg/apis/rollouts/v1alpha1 (JobMetric)",
        ..CatalogEntry::new("argo-analysis", "Argo Rollouts", "argoproj.io")
    },
    CatalogEntry {
        kinds: &["Experiment"],
        containers: &[
            "spec.templates[*].template.spec.initContainers",
            "spec.templates[*].template.spec.containers",
        ],
        source: "argoproj/argo-rollouts: pkg/apis/rollouts/v1alpha1/experiment_types.go (TemplateSpec.Template)",
        ..CatalogEntry::new("argo-experiment", "Argo Rollouts", "argoproj.io")
    },
    CatalogEntry {
        kinds: &["Service", "Configuration"],
        containers: &[
            "spec.template.spec.initContainers",
            "spec.template.spec.containers",
        ],
        source: "knative/serving: pkg/apis/serving/v1 (ServiceSpec, ConfigurationSpec, RevisionSpec)",
        ..CatalogEntry::new("knative-service", "Knative Serving", "serving.knative.dev")
    },
    CatalogEntry {
        kinds: &["Revision"],
        containers: &["spec.initContainers", "spec.containers"],
        source: "knative/serving: pkg/apis/serving/v1 (RevisionSpec)",
        ..CatalogEntry::new("knative-revision", "Knative Serving", "serving.knative.dev")
    },
    CatalogEntry {
        kinds: &["ScaledJob"],
        containers: &[
            "spec.jobTargetRef.template.spec.initContainers",
            "spec.jobTargetRef.template.spec.containers",
        ],
        source: "kedacore/keda: apis/keda/v1alpha1/scaledjob_types.go (ScaledJobSpec.JobTargetRef)",
        ..CatalogEntry::new("keda-scaledjob", "KEDA", "keda.sh")
    },
    CatalogEntry {
        kinds: &["AutoscalingRunnerSet"],
        containers: &[
            "spec.template.spec.initContainers",
            "spec.template.spec.containers",
        ],
        // The listener's pod template, merged with the listener container the controller makes.
        container_patches: &[
            "spec.listenerTemplate.spec.initContainers",
            "spec.listenerTemplate.spec.containers",
        ],
        source: "actions/actions-runner-controller: apis/actions.github.com/v1alpha1 (AutoscalingRunnerSetSpec.Template)",
        ..CatalogEntry::new("arc-runner-set", "GitHub Actions Runner Controller", "actions.github.com")
    },
    CatalogEntry {
        kinds: &["AutoscalingListener"],
        // The listener's image; the spec has no pull-policy field of its own. Its pod
        // template is merged with the listener container the controller makes.
        images: &["spec.image"],
        container_patches: &[
            "spec.template.spec.initContainers",
            "spec.template.spec.containers",
        ],
        source: "actions/actions-runner-controller: apis/actions.github.com/v1alpha1/autoscalinglistener_types.go (AutoscalingListenerSpec)",
        ..CatalogEntry::new("arc-listener", "GitHub Actions Runner Controller", "actions.github.com")
    },
    CatalogEntry {
        kinds: &["EphemeralRunnerSet"],
        containers: &[
            "spec.ephemeralRunnerSpec.spec.initContainers",
            "spec.ephemeralRunnerSpec.spec.containers",
        ],
        source: "actions/actions-runner-controller: apis/actions.github.com/v1alpha1 (EphemeralRunnerSpec, a pod template inline)",
        ..CatalogEntry::new("arc-ephemeral-runner-set", "GitHub Actions Runner Controller", "actions.github.com")
    },
    CatalogEntry {
        kinds: &["EphemeralRunner"],
        containers: &["spec.spec.initContainers", "spec.spec.containers"],
        source: "actions/actions-runner-controller: apis/actions.github.com/v1alpha1 (EphemeralRunnerSpec)",
        ..CatalogEntry::new("arc-ephemeral-runner", "GitHub Actions Runner Controller", "actions.github.com")
    },
    CatalogEntry {
        kinds: &[
            "ClusterPolicy",
            "Policy",
            "PolicyException",
            "ClusterCleanupPolicy",
            "CleanupPolicy",
        ],
        no_images: true,
        source: "kyverno/kyverno: api/kyverno/v1, v2 (rules' patterns, verifyImages)",
        ..CatalogEntry::new("kyverno-policy", "Kyverno", "kyverno.io")
    },
    CatalogEntry {
        no_images: true,
        source: "kyverno/kyverno: api/policies.kyverno.io (ValidatingPolicy, ImageValidatingPolicy, …)",
        ..CatalogEntry::new("kyverno-cel-policy", "Kyverno", "policies.kyverno.io")
    },
    CatalogEntry {
        kinds: &["ConstraintTemplate"],
        no_images: true,
        source: "open-policy-agent/gatekeeper: config/crd/bases/constrainttemplate-customresourcedefinition.yaml (ConstraintTemplate)",
        ..CatalogEntry::new("gatekeeper-template", "Gatekeeper", "templates.gatekeeper.sh")
    },
    CatalogEntry {
        no_images: true,
        source: "open-policy-agent/gatekeeper: every constraint kind (K8sAllowedRepos, …)",
        ..CatalogEntry::new("gatekeeper-constraint", "Gatekeeper", "constraints.gatekeeper.sh")
    },
    CatalogEntry {
        no_images: true,
        source: "open-policy-agent/gatekeeper: config/crd/bases/mutations.gatekeeper.sh_*.yaml (Assign, AssignImage, AssignMetadata, ModifySet)",
        ..CatalogEntry::new("gatekeeper-mutation", "Gatekeeper", "mutations.gatekeeper.sh")
    },
    CatalogEntry {
        no_images: true,
        source: "fluxcd/image-reflector-controller, image-automation-controller (ImageRepository, ImagePolicy, ImageUpdateAutomation)",
        ..CatalogEntry::new("flux-image-automation", "Flux", "image.toolkit.fluxcd.io")
    },
];

/// The catalog as the decoder takes it, every entry marked built in.
pub fn catalog_fields() -> Vec<CustomImageField> {
    CATALOG.iter().map(CustomImageField::from).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn every_path_parses_and_every_entry_says_something() {
        let mut names = BTreeSet::new();
        for e in CATALOG {
            assert!(names.insert(e.name), "{}: name used twice", e.name);
            assert!(!e.source.is_empty(), "{}: no upstream source", e.name);
            let paths = e
                .images
                .iter()
                .chain(e.pull_policy.iter())
                .chain(e.containers)
                .chain(e.container_patches)
                .chain(e.image_volumes)
                .chain(e.container_defaults.iter().flat_map(|(c, t)| [c, t]));
            let mut any = false;
            for p in paths {
                any = true;
                assert!(imagegate_yaml::parse_path(p).is_some(), "{}: `{p}`", e.name);
            }
            assert_ne!(any, e.no_images, "{}: fields and noImages", e.name);
            if e.no_images {
                assert!(e.complete, "{}", e.name);
            }
        }
    }
}
