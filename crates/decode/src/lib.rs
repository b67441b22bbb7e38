//! The decoder: turns rendered Kubernetes documents into *image sites*.
//!
//! An image site is one place in one object where Kubernetes (or an operator reading a custom
//! resource) will take an image reference from: a container, an init or ephemeral container, or a
//! configured custom field such as an `ameide.io` primitive's `spec.image`. The decoder knows
//! nothing of policy; it only promises that no image escapes it.
//!
//! Every object goes through up to four rules, and a field is reported by the first that covers
//! it:
//! 1. built-in workloads (`v1` Pod, PodTemplate, ReplicationController; `apps/v1`; `batch/v1`
//!    Job and CronJob) are decoded through `k8s-openapi`, so a malformed one is a
//!    [`DocumentError`] naming the field;
//! 2. [`CustomImageField`]s, the built-in catalog's and the configured ones (which replace the
//!    catalog's for the objects they apply to): image fields, containers judged as a workload's
//!    (a container without an `image` is an empty image, never unseen), container patches, and
//!    kinds that hold image patterns or policies and are not judged at all;
//! 3. in every other object, pod specs found by their shape (a `containers` list of mappings) at
//!    any depth: Argo Rollouts, KEDA ScaledJobs, runner sets, old `batch/v1beta1` CronJobs;
//! 4. the safety net: any remaining string field named like an image
//!    ([`SiteKind::Unclassified`]), in kinds with no schema (not Kubernetes' own, not a complete
//!    catalog entry's).

#![warn(clippy::print_stdout, clippy::print_stderr)]

mod collect;
mod object;
mod shape;
mod site;
mod typed;

pub use site::*;

use imagegate_yaml::{split_stream, Document, Limits};

/// What the decoder looks for beyond the built-in workload kinds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeOptions {
    /// Custom resources' image fields (for example `ameide.io` primitives' `spec.image`).
    pub custom_fields: Vec<CustomImageField>,
    /// Keys the safety net treats as image fields in any object.
    pub image_field_names: Vec<String>,
    /// Bounds for loading each document. `max_depth` is capped at [`MAX_DEPTH`] because the
    /// walks over the tree recurse.
    pub limits: Limits,
}

/// The deepest nesting the decoder accepts, whatever [`DecodeOptions::limits`] says: the tree
/// walks recurse, and this keeps them far inside a thread's stack.
pub const MAX_DEPTH: usize = 512;

/// No custom image fields (the caller names them: imagegate's policy has the `ameide.io`
/// primitives built in, see `imagegate_policy::builtin_custom_image_fields`), `image` as the
/// safety net's field name, and the default limits.
impl Default for DecodeOptions {
    fn default() -> Self {
        Self {
            custom_fields: Vec::new(),
            image_field_names: vec!["image".into()],
            limits: Limits::default(),
        }
    }
}

/// Splits a stream (for example `helm template` output) and decodes every document.
pub fn decode_stream(text: &str, opts: &DecodeOptions) -> Decoded {
    decode_documents(&split_stream(text), opts)
}

/// Decodes documents already split from a stream.
///
/// Empty and comment-only documents are skipped (their numbers stay reserved); every other
/// document is counted in [`Decoded::documents`] and yields objects, errors or both. Nothing
/// here panics or stops early: one bad document is one [`DocumentError`].
pub fn decode_documents(docs: &[Document], opts: &DecodeOptions) -> Decoded {
    let limits = Limits {
        max_depth: opts.limits.max_depth.min(MAX_DEPTH),
        ..opts.limits
    };
    let mut out = Decoded::default();
    for doc in docs {
        let origin = object::Origin {
            document: doc.index,
            template: doc.source.as_deref(),
        };
        match imagegate_yaml::load(&doc.text, &limits) {
            // A `null` document is no object: kubectl, Helm and Argo CD skip it like an empty one.
            Ok(None) => {}
            Ok(Some(root)) if root.is_null() => {}
            Ok(Some(root)) => {
                out.documents += 1;
                // What Kubernetes' YAML-to-JSON conversion refuses never reaches a cluster, and
                // what it would make of it is not defined: the document is invalid, as a whole.
                if let Err(err) = root.check_json() {
                    out.errors.push(origin.error(
                        None,
                        Some(err.line),
                        format!("{} (column {})", err.message, err.col),
                    ));
                    continue;
                }
                object::decode(&root, &origin, opts, &mut out);
            }
            Err(err) => {
                out.documents += 1;
                out.errors.push(origin.error(
                    None,
                    Some(err.line),
                    format!("{} (column {})", err.message, err.col),
                ));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn custom(kinds: &[&str], policy: Option<&str>) -> DecodeOptions {
        DecodeOptions {
            custom_fields: vec![CustomImageField {
                group: "example.com".into(),
                kinds: kinds.iter().map(|k| (*k).to_owned()).collect(),
                image_paths: vec!["spec.runner.image".into(), "spec[\"odd.key\"]".into()],
                pull_policy_path: policy.map(str::to_owned),
                ..CustomImageField::default()
            }],
            ..DecodeOptions::default()
        }
    }

    fn composing(kind: &str, semver_v: bool) -> DecodeOptions {
        DecodeOptions {
            custom_fields: vec![CustomImageField {
                group: "example.com".into(),
                kinds: vec![kind.into()],
                image_paths: vec!["spec.image".into()],
                pull_policy_path: Some("spec.imagePullPolicy".into()),
                composed: vec![ComposedImage {
                    image: "spec.image".into(),
                    base: Some("spec.baseImage".into()),
                    default_base: "quay.io/org/default".into(),
                    tag: Some("spec.tag".into()),
                    sha: Some("spec.sha".into()),
                    version: Some("spec.version".into()),
                    default_version: "v9.9.9".into(),
                    semver_v,
                    requires: None,
                }],
                complete: true,
                ..CustomImageField::default()
            }],
            ..DecodeOptions::default()
        }
    }

    /// The image and line of the one site of a `kind: Server` whose spec is `spec`.
    fn composed_site(spec: &str, semver_v: bool) -> Vec<(String, Option<u32>, PullPolicy)> {
        let text = format!(
            "apiVersion: example.com/v1\nkind: Server\nmetadata: {{name: s}}\nspec:\n{spec}"
        );
        let d = decode_stream(&text, &composing("Server", semver_v));
        assert_eq!(d.errors, vec![]);
        d.objects[0]
            .sites
            .iter()
            .map(|s| {
                assert_eq!(s.field, "spec.image");
                (s.image.clone(), s.line, s.pull_policy.clone())
            })
            .collect()
    }

    #[test]
    fn an_image_composed_from_parts_is_the_operators_reference() {
        let one = |spec: &str, v| composed_site(spec, v).pop().map(|(i, l, _)| (i, l));
        let sha = "a".repeat(64);
        // The whole image wins; a blank one is not set.
        assert_eq!(
            composed_site("  image: r/x:1\n  tag: t\n", false),
            [("r/x:1".to_owned(), Some(5), PullPolicy::Absent)]
        );
        assert_eq!(
            one(
                &format!("  image: \" \"\n  baseImage: r/b\n  sha: {sha}\n  tag: t\n"),
                false
            ),
            Some((format!("r/b@sha256:{sha}"), Some(7)))
        );
        // sha before tag before version; the line is the deciding part's.
        assert_eq!(
            one("  baseImage: r/b\n  tag: t1\n  version: v2\n", false),
            Some(("r/b:t1".to_owned(), Some(6)))
        );
        assert_eq!(
            one("  baseImage: r/b\n  version: v2\n", false),
            Some(("r/b:v2".to_owned(), Some(6)))
        );
        // A base that carries a tag or digest is used as written (a port is not a tag).
        assert_eq!(
            one("  baseImage: r/b:latest\n  tag: t1\n", false),
            Some(("r/b:latest".to_owned(), Some(5)))
        );
        assert_eq!(
            one("  baseImage: host:5000/b\n  version: \"1.2\"\n", true),
            Some(("host:5000/b:v1.2.0".to_owned(), Some(6)))
        );
        // Nothing set: the operator's default base and version, at no line.
        assert_eq!(
            one("  replicas: 1\n", false),
            Some(("quay.io/org/default:v9.9.9".to_owned(), None))
        );
        // The pull policy belongs to the composed image.
        assert_eq!(
            composed_site("  version: v1\n  imagePullPolicy: Always\n", false)[0].2,
            PullPolicy::Set("Always".into())
        );
    }

    #[test]
    fn a_composed_image_that_requires_a_section_exists_only_with_it() {
        let mut opts = composing("Server", false);
        opts.custom_fields[0].composed[0].requires = Some("spec.sidecar".into());
        let text =
            "apiVersion: example.com/v1\nkind: Server\nmetadata: {name: s}\nspec:\n  version: v1\n";
        assert_eq!(decode_stream(text, &opts).image_count(), 0);
        let with = format!("{text}  sidecar: {{}}\n");
        assert_eq!(decode_stream(&with, &opts).image_count(), 1);
    }

    #[test]
    fn nested_copies_are_read_at_any_depth_up_to_the_bound_and_deeper_is_an_error() {
        let opts = DecodeOptions {
            custom_fields: vec![CustomImageField {
                group: "tekton.dev".into(),
                kinds: vec!["Pipeline".into()],
                containers: vec!["tasks[*].taskSpec.steps".into()],
                nesting: Some(Nesting {
                    root: "spec".into(),
                    inner: vec!["tasks[*].pipelineSpec".into()],
                }),
                complete: true,
                ..CustomImageField::default()
            }],
            ..DecodeOptions::default()
        };
        // `levels` pipelines nested in each other, each with one step.
        let pipeline = |levels: usize| {
            let mut spec = String::new();
            for level in 0..=levels {
                let pad = "    ".repeat(level);
                spec.push_str(&format!(
                    "{pad}  tasks:\n{pad}  - taskSpec: {{steps: [{{name: s{level}, image: r/x:{level}}}]}}\n"
                ));
                if level < levels {
                    spec.push_str(&format!("{pad}    pipelineSpec:\n"));
                }
            }
            format!(
                "apiVersion: tekton.dev/v1\nkind: Pipeline\nmetadata: {{name: p}}\nspec:\n{spec}"
            )
        };
        let d = decode_stream(&pipeline(3), &opts);
        assert_eq!(d.errors, vec![]);
        let fields: Vec<&str> = d.objects[0]
            .sites
            .iter()
            .map(|s| s.field.as_str())
            .collect();
        assert_eq!(
            fields,
            [
                "spec.tasks[0].taskSpec.steps[0].image",
                "spec.tasks[0].pipelineSpec.tasks[0].taskSpec.steps[0].image",
                "spec.tasks[0].pipelineSpec.tasks[0].pipelineSpec.tasks[0].taskSpec.steps[0].image",
                "spec.tasks[0].pipelineSpec.tasks[0].pipelineSpec.tasks[0].pipelineSpec.tasks[0].taskSpec.steps[0].image",
            ]
        );
        let d = decode_stream(&pipeline(MAX_NESTING), &opts);
        assert_eq!(d.errors, vec![]);
        assert_eq!(d.image_count(), MAX_NESTING + 1);
        let d = decode_stream(&pipeline(MAX_NESTING + 1), &opts);
        assert_eq!(d.errors.len(), 1, "{:?}", d.errors);
        assert!(
            d.errors[0]
                .message
                .contains("nested more than 16 levels deep"),
            "{}",
            d.errors[0].message
        );
    }

    #[test]
    fn versions_are_read_as_go_semver_parse_tolerant_reads_them() {
        for (written, want) in [
            ("2.45", "v2.45.0"),
            ("v2.45.1", "v2.45.1"),
            ("3", "v3.0.0"),
            ("02.045.0", "v2.45.0"),
            ("v3.0.0-rc.1", "v3.0.0-rc.1"),
            ("main", "vmain"),
        ] {
            assert_eq!(object::tolerant_semver_v(written), want, "{written}");
        }
    }

    const RUNNER: &str = "apiVersion: example.com/v2\nkind: Runner\nmetadata: {name: r}\nspec:\n  runner:\n    image: repo/runner:1\n  odd.key: repo/odd:2\n  policy: Never\n";

    #[test]
    fn custom_fields_by_group_and_kind() {
        let d = decode_stream(RUNNER, &custom(&[], Some("spec.policy")));
        let sites = &d.objects[0].sites;
        assert_eq!(sites.len(), 2);
        assert!(sites.iter().all(|s| s.kind == SiteKind::CustomField));
        assert_eq!(sites[0].field, "spec.runner.image");
        assert_eq!(sites[0].pull_policy, PullPolicy::Set("Never".into()));
        assert_eq!(sites[1].field, "spec[\"odd.key\"]");
        assert_eq!(sites[1].image, "repo/odd:2");

        // No pull-policy path configured: not applicable. A missing one: absent.
        let d = decode_stream(RUNNER, &custom(&["Runner"], None));
        assert_eq!(d.objects[0].sites[0].pull_policy, PullPolicy::NotApplicable);
        let d = decode_stream(RUNNER, &custom(&["Runner"], Some("spec.missing")));
        assert_eq!(d.objects[0].sites[0].pull_policy, PullPolicy::Absent);

        // Another kind of the group: the custom rule does not apply, the safety net still sees
        // the `image` key (but not the oddly named one).
        let d = decode_stream(RUNNER, &custom(&["Other"], None));
        let sites = &d.objects[0].sites;
        assert_eq!(sites.len(), 1);
        assert_eq!(sites[0].kind, SiteKind::Unclassified);
    }

    #[test]
    fn custom_field_paths_take_list_wildcards_and_pair_the_pull_policy() {
        // A Tekton-like Task: every step is an image site, with its own pull policy.
        let opts = DecodeOptions {
            custom_fields: vec![CustomImageField {
                group: "tekton.dev".into(),
                kinds: vec!["Task".into()],
                image_paths: vec!["spec.steps[*].image".into(), "spec.sidecars[].image".into()],
                pull_policy_path: Some("spec.steps[*].imagePullPolicy".into()),
                ..CustomImageField::default()
            }],
            ..DecodeOptions::default()
        };
        let text = "apiVersion: tekton.dev/v1\nkind: Task\nmetadata: {name: build}\nspec:\n  steps:\n  - {name: a, image: a/b:1, imagePullPolicy: Always}\n  - {name: c, image: c/d:2}\n  sidecars:\n  - {name: s, image: e/f:3}\n";
        let d = decode_stream(text, &opts);
        let sites: Vec<(&str, &str, &PullPolicy)> = d.objects[0]
            .sites
            .iter()
            .map(|s| (s.field.as_str(), s.image.as_str(), &s.pull_policy))
            .collect();
        assert_eq!(
            sites,
            [
                (
                    "spec.steps[0].image",
                    "a/b:1",
                    &PullPolicy::Set("Always".into())
                ),
                ("spec.steps[1].image", "c/d:2", &PullPolicy::Absent),
                // The steps' pull-policy path is not the sidecars'.
                (
                    "spec.sidecars[0].image",
                    "e/f:3",
                    &PullPolicy::NotApplicable
                ),
            ]
        );
        assert_eq!(
            d.objects[0].sites[0].pull_policy_field.as_deref(),
            Some("spec.steps[0].imagePullPolicy")
        );
        assert_eq!(d.objects[0].sites[0].pull_policy_line, Some(6));
    }

    #[test]
    fn catalog_containers_are_judged_as_a_workloads() {
        let tekton = CustomImageField {
            group: "tekton.dev".into(),
            kinds: vec!["Task".into()],
            containers: vec!["spec.steps".into()],
            container_patches: vec!["spec.stepTemplate".into()],
            complete: true,
            builtin: true,
            ..CustomImageField::default()
        };
        let kyverno = CustomImageField {
            group: "kyverno.io".into(),
            no_images: true,
            complete: true,
            builtin: true,
            ..CustomImageField::default()
        };
        let opts = DecodeOptions {
            custom_fields: vec![tekton, kyverno],
            ..DecodeOptions::default()
        };
        let task = "apiVersion: tekton.dev/v1\nkind: Task\nmetadata: {name: t}\nspec:\n  stepTemplate: {env: []}\n  steps:\n  - {name: a, image: a/b:1}\n  - {name: noimage}\n  - {name: shared, ref: {name: x}}\n  - {name: c, image: c/d:1, imagePullPolicy: Never}\n  extra: {image: e/f:1}\n";
        let d = decode_stream(task, &opts);
        assert_eq!(d.errors, vec![]);
        let sites: Vec<(&str, &str, &PullPolicy, SiteKind, Option<u32>)> = d.objects[0]
            .sites
            .iter()
            .map(|s| {
                (
                    s.field.as_str(),
                    s.image.as_str(),
                    &s.pull_policy,
                    s.kind,
                    s.line,
                )
            })
            .collect();
        // The step without an image is seen (as an empty image, with its missing pull policy),
        // the `ref` step and the image-less template are not containers of their own, and the
        // complete entry keeps the safety net off `spec.extra.image`.
        assert_eq!(
            sites,
            [
                (
                    "spec.steps[0].image",
                    "a/b:1",
                    &PullPolicy::Absent,
                    SiteKind::Container,
                    Some(7)
                ),
                (
                    "spec.steps[1].image",
                    "",
                    &PullPolicy::Absent,
                    SiteKind::Container,
                    None
                ),
                (
                    "spec.steps[3].image",
                    "c/d:1",
                    &PullPolicy::Set("Never".into()),
                    SiteKind::Container,
                    Some(10)
                ),
            ]
        );
        assert_eq!(d.objects[0].sites[2].pull_policy_line, Some(10));

        // A configured entry for the kind replaces the catalog's: only its field, and the
        // safety net is back.
        let mut configured = opts.clone();
        configured.custom_fields.push(CustomImageField {
            group: "tekton.dev".into(),
            kinds: vec!["Task".into()],
            image_paths: vec!["spec.steps[*].image".into()],
            ..CustomImageField::default()
        });
        let d = decode_stream(task, &configured);
        let fields: Vec<(&str, SiteKind)> = d.objects[0]
            .sites
            .iter()
            .map(|s| (s.field.as_str(), s.kind))
            .collect();
        assert_eq!(
            fields,
            [
                ("spec.steps[0].image", SiteKind::CustomField),
                // A wildcard item without the field is an empty image, not unseen.
                ("spec.steps[1].image", SiteKind::CustomField),
                ("spec.steps[3].image", SiteKind::CustomField),
                ("spec.extra.image", SiteKind::Unclassified),
            ]
        );
        assert_eq!(d.objects[0].sites[1].image, "");

        // A policy kind names images in a pod-spec shape: nothing there is judged.
        let policy = "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata: {name: p, labels: {a: b}}\nspec:\n  rules:\n  - validate:\n      pattern:\n        spec:\n          containers: [{image: '!*:latest'}]\n";
        let d = decode_stream(policy, &opts);
        assert_eq!(d.objects.len(), 1);
        assert_eq!(d.objects[0].sites, vec![]);
        assert_eq!(d.objects[0].labels.len(), 1);
        assert_eq!(
            decode_stream(policy, &DecodeOptions::default()).image_count(),
            1
        );

        // A container that is not a mapping is an error naming it.
        let bad = "apiVersion: tekton.dev/v1\nkind: Task\nspec:\n  steps: [oops]\n";
        let d = decode_stream(bad, &opts);
        assert_eq!(d.errors.len(), 1);
        assert!(
            d.errors[0].message.contains("spec.steps[0]"),
            "{}",
            d.errors[0].message
        );
    }

    #[test]
    fn custom_field_that_is_not_a_string() {
        let text = "apiVersion: example.com/v1\nkind: Runner\nspec:\n  runner:\n    image: {repository: x}\n";
        let d = decode_stream(text, &custom(&[], None));
        assert_eq!(d.errors.len(), 1);
        assert_eq!(d.errors[0].line, Some(5));
        assert!(
            d.errors[0].message.contains("spec.runner.image"),
            "{}",
            d.errors[0].message
        );
        assert_eq!(d.objects.len(), 1, "the object itself is still reported");
    }

    #[test]
    fn configured_image_field_names() {
        let text = "apiVersion: example.com/v1\nkind: Sidecars\ndata:\n  image: a/b:1\n  sidecarImage: c/d:2\n";
        let opts = DecodeOptions {
            image_field_names: vec!["sidecarImage".into()],
            ..DecodeOptions::default()
        };
        let d = decode_stream(text, &opts);
        let fields: Vec<_> = d.objects[0]
            .sites
            .iter()
            .map(|s| s.field.as_str())
            .collect();
        assert_eq!(fields, ["data.sidecarImage"]);
    }

    #[test]
    fn nested_lists_and_non_list_kinds() {
        let text = "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: PodList\n  items:\n  - apiVersion: v1\n    kind: Pod\n    spec: {containers: [{name: a, image: x/y:1}]}\n";
        let d = decode_stream(text, &DecodeOptions::default());
        assert_eq!(d.objects.len(), 1);
        assert_eq!(d.objects[0].object.kind, "Pod");
        assert_eq!(d.objects[0].sites[0].field, "spec.containers[0].image");
        // A `*List` kind without items is an ordinary object.
        let d = decode_stream(
            "apiVersion: x/v1\nkind: AllowList\nspec: {image: a}\n",
            &DecodeOptions::default(),
        );
        assert_eq!(d.objects[0].object.kind, "AllowList");
        assert_eq!(d.objects[0].sites.len(), 1);
    }

    #[test]
    fn any_object_with_a_list_of_items_is_applied_as_its_items() {
        // kubectl, Helm and Argo CD flatten by `items`, not by kind: a Deployment carrying
        // `items: [Pod]` applies the Pod (whose missing pull policy must be seen), and nothing
        // of its own.
        let text = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: decoy}\nspec:\n  selector: {}\n  template: {spec: {containers: [{name: ok, image: a@sha256:0, imagePullPolicy: IfNotPresent}]}}\nitems:\n- apiVersion: v1\n  kind: Pod\n  metadata: {name: hidden}\n  spec: {containers: [{name: miner, image: docker.io/x/miner:latest}]}\n- null\n";
        let d = decode_stream(text, &DecodeOptions::default());
        assert_eq!(d.errors, vec![]);
        let names: Vec<_> = d.objects.iter().map(|o| o.object.name.as_str()).collect();
        assert_eq!(names, ["hidden"]);
        assert_eq!(d.objects[0].sites[0].pull_policy, PullPolicy::Absent);
        // Variant: an empty list applies nothing; `items` that is not a list is just a field.
        let d = decode_stream(
            "apiVersion: example.com/v1\nkind: Bag\nspec: {image: a/b:1}\nitems: []\n",
            &DecodeOptions::default(),
        );
        assert_eq!(d.objects.len(), 0);
        let d = decode_stream(
            "apiVersion: example.com/v1\nkind: Bag\nspec: {image: a/b:1}\nitems: {a: 1}\n",
            &DecodeOptions::default(),
        );
        assert_eq!(d.objects.len(), 1);
    }

    #[test]
    fn an_object_with_only_generate_name_is_named_by_it() {
        let text = "apiVersion: batch/v1\nkind: Job\nmetadata:\n  generateName: db-migrate-\n  annotations: {argocd.argoproj.io/hook: PreSync}\nspec:\n  template:\n    spec:\n      restartPolicy: Never\n      containers: [{name: m, image: a/b:1}]\n";
        let d = decode_stream(text, &DecodeOptions::default());
        assert_eq!(d.objects[0].object.name, "db-migrate-");
        // A name wins over generateName.
        let d = decode_stream(
            &text.replace(
                "generateName: db-migrate-",
                "generateName: x-\n  name: fixed",
            ),
            &DecodeOptions::default(),
        );
        assert_eq!(d.objects[0].object.name, "fixed");
    }

    #[test]
    fn pull_policy_lines_are_where_the_policy_is_written() {
        let text = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - name: a\n    image: a/b:1\n    imagePullPolicy: Always\n  - name: b\n    image: c/d:1\n";
        let d = decode_stream(text, &DecodeOptions::default());
        let sites = &d.objects[0].sites;
        assert_eq!(
            (sites[0].line, sites[0].pull_policy_line),
            (Some(7), Some(8))
        );
        assert_eq!((sites[1].line, sites[1].pull_policy_line), (Some(10), None));
        let d = decode_stream(RUNNER, &custom(&[], Some("spec.policy")));
        assert_eq!(d.objects[0].sites[0].pull_policy_line, Some(8));
    }

    #[test]
    fn fields_named_image_in_built_in_kinds_and_in_status_are_not_images() {
        // A Ceph RBD image of a Pod volume, a ConfigMap's data, a controller's status: not
        // container images, so no site (and no finding).
        let text = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: a, image: a/b@sha256:0, imagePullPolicy: IfNotPresent}]\n  volumes:\n  - name: ceph\n    rbd: {image: foo, pool: rbd, monitors: [m]}\nstatus:\n  containerStatuses: [{name: a, image: docker.io/a/b:latest}]\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {image: nginx:latest}\n---\napiVersion: v1\nkind: PersistentVolume\nmetadata: {name: pv}\nspec: {rbd: {image: foo, monitors: [m]}}\n---\napiVersion: example.com/v1\nkind: Thing\nmetadata: {name: t}\nspec: {image: a/b:1}\nstatus: {image: c/d:2}\n";
        let d = decode_stream(text, &DecodeOptions::default());
        let fields: Vec<(String, String)> = d
            .objects
            .iter()
            .flat_map(|o| {
                o.sites
                    .iter()
                    .map(|s| (o.object.kind.clone(), s.field.clone()))
            })
            .collect();
        assert_eq!(
            fields,
            [
                ("Pod".to_string(), "spec.containers[0].image".to_string()),
                ("Thing".to_string(), "spec.image".to_string())
            ]
        );
        // An old built-in kind without a typed decode still has its pod spec found by shape.
        let cron = "apiVersion: batch/v1beta1\nkind: CronJob\nmetadata: {name: c}\nspec:\n  jobTemplate:\n    spec:\n      template:\n        spec:\n          containers: [{name: a, image: a/b:1}]\n";
        assert_eq!(
            decode_stream(cron, &DecodeOptions::default()).image_count(),
            1
        );
    }

    #[test]
    fn hook_annotation_edge_cases() {
        let text =
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  annotations:\n    helm.sh/hook: ' , '\n";
        assert_eq!(
            decode_stream(text, &DecodeOptions::default()).objects[0].hook,
            None
        );
        let text = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  annotations:\n    helm.sh/hook: test-success\n";
        let hook = decode_stream(text, &DecodeOptions::default()).objects[0]
            .hook
            .clone();
        assert!(hook.is_some_and(|h| h.is_test()));
    }

    #[test]
    fn typed_workload_without_image_fails_closed() {
        let text = "apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - name: a\n";
        let d = decode_stream(text, &DecodeOptions::default());
        let site = &d.objects[0].sites[0];
        assert_eq!(site.image, "");
        assert_eq!(site.line, None);
        // Not a string where Kubernetes needs one: a schema error naming the field and line.
        let d = decode_stream(
            "apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - name: a\n    image: 1.10\n",
            &DecodeOptions::default(),
        );
        assert_eq!(d.errors.len(), 1);
        assert!(
            d.errors[0].message.contains("spec.containers[0].image"),
            "{}",
            d.errors[0].message
        );
        assert_eq!(d.errors[0].line, Some(6));
    }

    #[test]
    fn the_object_judged_is_the_one_kubernetes_reads() {
        // A merge after explicit keys overwrites them: the merged image is the one that runs.
        let text = "x: &bad {image: bad, imagePullPolicy: Always}\napiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - name: a\n    image: good\n    imagePullPolicy: IfNotPresent\n    <<: *bad\n";
        let d = decode_stream(text, &DecodeOptions::default());
        assert!(d.errors.is_empty(), "{:?}", d.errors);
        let site = &d.objects[0].sites[0];
        assert_eq!(site.image, "bad");
        assert_eq!(site.pull_policy, PullPolicy::Set("Always".into()));
        // A `null` document is skipped, as kubectl skips it; null members are no schema error.
        let text = "---\nnull\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d, labels: {app: null}}\nspec:\n  selector: {matchLabels: {app: x}}\n  template:\n    spec:\n      containers: [{name: a, image: x, command: null}]\n";
        let d = decode_stream(text, &DecodeOptions::default());
        assert!(d.errors.is_empty(), "{:?}", d.errors);
        assert_eq!((d.documents, d.objects.len()), (1, 1));
        assert_eq!(d.objects[0].labels[0].value, "");
        // What Kubernetes cannot convert is an invalid document, with its line.
        let d = decode_stream(
            "apiVersion: v1\nkind: ConfigMap\ndata:\n  a: .inf\n",
            &DecodeOptions::default(),
        );
        assert_eq!(d.errors.len(), 1);
        assert_eq!(d.errors[0].line, Some(4));
        assert!(d.objects.is_empty());
    }

    #[test]
    fn hostile_documents_are_errors() {
        let bomb = "a: &a [x,x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]\ng: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f,*f]\n";
        let stream = format!("---\n# Source: bomb.yaml\n{bomb}---\napiVersion: v1\nkind: Pod\nspec: {{containers: [{{name: a, image: b}}]}}\n");
        let d = decode_stream(&stream, &DecodeOptions::default());
        assert_eq!(d.errors.len(), 1);
        assert!(
            d.errors[0].message.contains("limit"),
            "{}",
            d.errors[0].message
        );
        assert_eq!(d.image_count(), 1, "the next document is still decoded");
        // A huge configured depth is capped so the tree walks cannot exhaust the stack.
        let deep = format!(
            "apiVersion: v1\nkind: X\nspec: {}{}\n",
            "[".repeat(600),
            "]".repeat(600)
        );
        let opts = DecodeOptions {
            limits: Limits {
                max_depth: usize::MAX,
                ..Limits::default()
            },
            ..DecodeOptions::default()
        };
        assert_eq!(decode_stream(&deep, &opts).errors.len(), 1);
    }
}
