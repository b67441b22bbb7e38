//! One fixture per case under `tests/fixtures/`, decoded with the default options plus the
//! `ameide.io` primitives' image fields (as imagegate's policy configures them); the snapshot
//! holds every object, label, image site and error the decoder reports for it.

use imagegate_decode::{
    decode_stream, CustomImageField, DecodeOptions, Decoded, PullPolicy, SiteKind,
};

/// The custom image fields imagegate's policy has built in for the `ameide.io` primitives.
fn ameide_fields() -> Vec<CustomImageField> {
    let kinds = [
        "Domain",
        "Process",
        "Agent",
        "UISurface",
        "Projection",
        "Integration",
    ];
    vec![
        CustomImageField {
            group: "ameide.io".into(),
            kinds: kinds.iter().map(|k| (*k).to_owned()).collect(),
            image_paths: vec!["spec.image".into()],
            pull_policy_path: Some("spec.imagePullPolicy".into()),
            ..CustomImageField::default()
        },
        CustomImageField {
            group: "ameide.io".into(),
            kinds: vec!["Domain".into()],
            image_paths: vec!["spec.db.migrationJobImage".into()],
            pull_policy_path: None,
            ..CustomImageField::default()
        },
    ]
}

fn decode_fixture(name: &str) -> Decoded {
    let path = format!("{}/tests/fixtures/{name}.yaml", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
    let opts = DecodeOptions {
        custom_fields: ameide_fields(),
        ..DecodeOptions::default()
    };
    decode_stream(&text, &opts)
}

macro_rules! fixture {
    ($name:ident) => {{
        let decoded = decode_fixture(stringify!($name));
        insta::assert_yaml_snapshot!(stringify!($name), decoded);
        decoded
    }};
}

#[test]
fn deployment_init_sidecar() {
    let d = fixture!(deployment_init_sidecar);
    assert_eq!(d.documents, 2);
    assert!(d.errors.is_empty());
    let sites = &d.objects[1].sites;
    let kinds: Vec<_> = sites
        .iter()
        .map(|s| (s.kind, s.container.as_deref()))
        .collect();
    assert_eq!(
        kinds,
        [
            (SiteKind::InitContainer, Some("migrate")),
            (SiteKind::Container, Some("web")),
            (SiteKind::Container, Some("envoy")),
            (SiteKind::CustomField, None),
        ]
    );
    assert_eq!(sites[2].field, "spec.template.spec.containers[1].image");
    assert_eq!(sites[2].pull_policy, PullPolicy::Absent);
    assert_eq!(
        sites[2].pull_policy_field.as_deref(),
        Some("spec.template.spec.containers[1].imagePullPolicy")
    );
    // Lines count from the start of the document text (the `# Source:` line is line 1).
    assert_eq!(sites[0].line, Some(23));
}

#[test]
fn pod_ephemeral_only() {
    let d = fixture!(pod_ephemeral_only);
    let site = &d.objects[0].sites[0];
    assert_eq!(site.kind, SiteKind::EphemeralContainer);
    assert_eq!(site.field, "spec.ephemeralContainers[0].image");
    assert_eq!(d.image_count(), 1);
}

#[test]
fn cronjob_init() {
    let d = fixture!(cronjob_init);
    let site = &d.objects[0].sites[1];
    assert_eq!(
        site.field,
        "spec.jobTemplate.spec.template.spec.initContainers[1].image"
    );
    assert_eq!(site.pull_policy, PullPolicy::Absent);
    let fields: Vec<_> = d.objects[0]
        .labels
        .iter()
        .map(|l| l.field.as_str())
        .collect();
    assert_eq!(
        fields,
        [
            "spec.jobTemplate.metadata.labels",
            "spec.jobTemplate.spec.template.metadata.labels"
        ]
    );
}

#[test]
fn list_of_deployments() {
    let d = fixture!(list_of_deployments);
    assert_eq!(d.documents, 1);
    assert_eq!(d.objects.len(), 2);
    assert!(d
        .objects
        .iter()
        .all(|o| o.document == 0 && o.object.kind == "Deployment"));
    assert_eq!(d.errors.len(), 1, "the string item is an error of its own");
}

#[test]
fn argo_rollout() {
    let d = fixture!(argo_rollout);
    let sites = &d.objects[0].sites;
    assert_eq!(sites.len(), 2);
    assert_eq!(sites[1].image, "");
    assert!(sites.iter().all(|s| s.kind == SiteKind::Container));
    let version = d.objects[0]
        .labels
        .iter()
        .find(|l| l.key == "version")
        .map(|l| l.value.as_str());
    assert_eq!(version, Some("1.10"));
}

#[test]
fn keda_scaledjob() {
    let d = fixture!(keda_scaledjob);
    let fields: Vec<_> = d.objects[0]
        .sites
        .iter()
        .map(|s| s.field.as_str())
        .collect();
    assert_eq!(
        fields,
        [
            "spec.jobTargetRef.template.spec.initContainers[0].image",
            "spec.jobTargetRef.template.spec.containers[0].image"
        ]
    );
}

#[test]
fn ameide_domain() {
    let d = fixture!(ameide_domain);
    let domain = &d.objects[0].sites;
    assert_eq!(domain.len(), 2);
    assert!(domain
        .iter()
        .all(|s| s.kind == SiteKind::CustomField && s.container.is_none()));
    assert_eq!(domain[0].pull_policy, PullPolicy::Set("Always".into()));
    assert_eq!(domain[1].field, "spec.db.migrationJobImage");
    assert_eq!(d.objects[1].sites[0].pull_policy, PullPolicy::Absent);
}

#[test]
fn hooks() {
    let d = fixture!(hooks);
    let job = d.objects[0].hook.as_ref().map(|h| h.events.clone());
    assert_eq!(
        job,
        Some(vec!["pre-install".to_owned(), "pre-upgrade".to_owned()])
    );
    assert!(d.objects[1].hook.as_ref().is_some_and(|h| h.is_test()));
}

#[test]
fn unknown_crd_nested_image() {
    let d = fixture!(unknown_crd_nested_image);
    let sites = &d.objects[0].sites;
    assert_eq!(
        sites.len(),
        1,
        "only non-empty strings under an `image` key"
    );
    assert_eq!(sites[0].kind, SiteKind::Unclassified);
    assert_eq!(sites[0].field, "spec.config.exporters[0].image");
    assert_eq!(sites[0].pull_policy, PullPolicy::NotApplicable);
}

#[test]
fn cronjob_v1beta1() {
    let d = fixture!(cronjob_v1beta1);
    assert!(d.errors.is_empty());
    let fields: Vec<_> = d
        .objects
        .iter()
        .flat_map(|o| o.sites.iter().map(|s| (s.kind, s.field.as_str())))
        .collect();
    assert_eq!(
        fields,
        [
            (
                SiteKind::InitContainer,
                "spec.jobTemplate.spec.template.spec.initContainers[0].image"
            ),
            (
                SiteKind::Container,
                "spec.jobTemplate.spec.template.spec.containers[0].image"
            ),
            (
                SiteKind::Container,
                "spec.template.spec.containers[0].image"
            ),
        ]
    );
}

#[test]
fn type_error() {
    let d = fixture!(type_error);
    assert_eq!(d.errors.len(), 1);
    let err = &d.errors[0];
    assert_eq!(err.document, 0);
    assert_eq!(err.template.as_deref(), Some("app/templates/broken.yaml"));
    assert!(
        err.message.contains("spec.template.spec.containers"),
        "{}",
        err.message
    );
    assert!(err.message.contains("invalid type"), "{}", err.message);
    assert_eq!(err.line, Some(12));
    // The broken object is still walked by shape; the good one is decoded as usual.
    assert_eq!(d.objects.len(), 2);
    assert_eq!(d.objects[0].sites.len(), 1);
    assert_eq!(d.objects[1].sites[0].container.as_deref(), Some("app"));
}

#[test]
fn pull_policy_absent_vs_empty() {
    let d = fixture!(pull_policy_absent_vs_empty);
    let policies: Vec<_> = d.objects[0]
        .sites
        .iter()
        .map(|s| s.pull_policy.clone())
        .collect();
    assert_eq!(
        policies,
        [
            PullPolicy::Absent,
            PullPolicy::Set(String::new()),
            PullPolicy::Absent,
            PullPolicy::Set("IfNotPresent".into())
        ]
    );
}

#[test]
fn invalid_documents() {
    let d = fixture!(invalid_documents);
    assert_eq!(
        d.documents, 4,
        "empty and comment-only documents are not counted"
    );
    let docs: Vec<_> = d.errors.iter().map(|e| e.document).collect();
    assert_eq!(docs, [1, 2, 3]);
    assert_eq!(d.objects.len(), 1);
    assert_eq!(d.objects[0].document, 5);
    assert_eq!(d.objects[0].sites[0].kind, SiteKind::Unclassified);
}
