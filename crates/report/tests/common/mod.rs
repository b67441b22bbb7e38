//! A hand-built report that exercises every format: a finding with an origin and a snippet, one
//! with only a template, an excepted one, a warning, a failed cell, a cluster cell, a clean
//! and a cached cell, and chart-controlled text with control characters and Markdown in it.

#![allow(dead_code)]

use imagegate_report::{
    CellReport, CellStatus, Generator, ObjectRef, Origin, Parts, Report, ReportFinding, RuleMeta,
    Severity, Snippet,
};

fn values(files: &[&str]) -> Vec<String> {
    files.iter().map(|f| (*f).to_owned()).collect()
}

/// The cells of the sample, deliberately out of order.
pub fn cells() -> Vec<CellReport> {
    vec![
        CellReport::new(
            "staging",
            "staging-web",
            "sources/charts/apps/web",
            values(&["sources/values/base/globals.yaml", "sources/values/env/staging/apps/web.yaml"]),
            CellStatus::Cached,
            5,
            2,
        ),
        CellReport::new(
            "dev",
            "dev-api",
            "sources/charts/apps/api",
            values(&["sources/values/base/globals.yaml", "sources/values/env/dev/apps/api.yaml"]),
            CellStatus::Rendered,
            7,
            3,
        ),
        CellReport::new(
            "dev",
            "dev-web",
            "sources/charts/apps/web",
            values(&["sources/values/base/globals.yaml"]),
            CellStatus::Rendered,
            5,
            2,
        ),
        CellReport::failed(
            "staging",
            "staging-worker",
            "sources/charts/apps/worker",
            values(&["sources/values/env/staging/apps/worker.yaml"]),
            "Error: execution error at (worker/templates/deployment.yaml:14:20): \x1b[31mimage.tag is required\x1b[0m\nUse --debug flag to render out invalid YAML",
        ),
        CellReport::new(
            "cluster-azure",
            "cluster-ameide-operators",
            "sources/charts/cluster/ameide-operators",
            values(&[
                "sources/values/cluster/globals.yaml",
                "sources/values/_shared/cluster/ameide-operators.yaml",
                "sources/values/cluster/azure/ameide-operators.yaml",
            ]),
            CellStatus::Rendered,
            12,
            4,
        ),
    ]
}

/// The findings of the sample, deliberately out of order.
pub fn findings() -> Vec<ReportFinding> {
    let mut with_origin = ReportFinding::new(
        "digest-required",
        Severity::Error,
        "image `ghcr.io/ameide/api:v1.4.2` is not pinned by digest; set `image.digest` to its sha256 digest",
        "dev",
        "dev-api",
        "sources/charts/apps/api",
    );
    with_origin.object = Some(ObjectRef::new(
        "apps/v1",
        "Deployment",
        Some("ameide-dev".into()),
        "api",
    ));
    with_origin.container = Some("api".into());
    with_origin.field = Some("spec.template.spec.containers[0].image".into());
    with_origin.image = Some("ghcr.io/ameide/api:v1.4.2".into());
    with_origin.template = Some("api/templates/deployment.yaml".into());
    with_origin.template_path_in_repo =
        Some("sources/charts/apps/api/templates/deployment.yaml".into());
    with_origin.rendered_line = Some(31);
    with_origin.origin = Some(Origin::new("sources/values/env/dev/apps/api.yaml", 12));
    with_origin.snippet = Some(
        Snippet::new(
            10,
            vec![
                "image:".into(),
                "  repository: ghcr.io/ameide/api".into(),
                "  tag: v1.4.2".into(),
                "  pullPolicy: IfNotPresent".into(),
            ],
            12,
        )
        .with_highlight(7..13),
    );
    with_origin.origin_value = Some("v1.4.2".into());
    with_origin.fix = Some("pin the image by digest".into());
    with_origin.parts = Parts {
        registry: Some(Origin::new("sources/values/base/globals.yaml", 2)),
        repository: Some(Origin::new("sources/charts/apps/api/values.yaml", 5)),
        tag: Some(Origin::new("sources/values/env/dev/apps/api.yaml", 12)),
        digest: Some(Origin::new("sources/values/env/dev/apps/api.yaml", 14)),
        pull_policy: None,
    };

    let mut template_only = ReportFinding::new(
        "pull-policy-missing",
        Severity::Error,
        "container `migrate` has no imagePullPolicy; set it to IfNotPresent",
        "dev",
        "dev-api",
        "sources/charts/apps/api",
    );
    template_only.object = Some(ObjectRef::new(
        "batch/v1",
        "Job",
        Some("ameide-dev".into()),
        "api-migrate",
    ));
    template_only.container = Some("migrate".into());
    template_only.field = Some("spec.template.spec.initContainers[0]".into());
    template_only.image = Some("ghcr.io/ameide/api-migrate@sha256:4f1c6a8e0d2b7c9e1f3a5b7d9c0e2f4a6b8d0c2e4f6a8b0d2c4e6f8a0b2d4c6e".into());
    template_only.template = Some("api/templates/migrate-job.yaml".into());
    template_only.template_path_in_repo =
        Some("sources/charts/apps/api/templates/migrate-job.yaml".into());
    template_only.origin_note = Some("hard-coded in the template".into());

    let mut excepted = ReportFinding::new(
        "mutable-tag",
        Severity::Error,
        "tag `latest` is mutable even next to a digest; drop it",
        "staging",
        "staging-web",
        "sources/charts/apps/web",
    );
    excepted.object = Some(ObjectRef::new(
        "apps/v1",
        "Deployment",
        Some("ameide-staging".into()),
        "web",
    ));
    excepted.container = Some("web".into());
    excepted.field = Some("spec.template.spec.containers[0].image".into());
    excepted.image = Some("ghcr.io/ameide/web:latest@sha256:9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b".into());
    excepted.template = Some("web/templates/deployment.yaml".into());
    excepted.origin = Some(Origin::new("sources/values/env/staging/apps/web.yaml", 4));
    excepted.snippet = Some(Snippet::new(
        4,
        vec!["  tag: latest@sha256:9a8b7c6d…".into()],
        4,
    ));
    excepted.excepted = true;
    excepted.exception_note = Some(
        "exception 2 in imagegate.yaml (until 2031-01-31): migrating web to digests, PLAT-412"
            .into(),
    );
    excepted.exception = Some(imagegate_report::ExceptionRef {
        reason: "migrating web to digests, PLAT-412".into(),
        expires: "2031-01-31".into(),
    });

    let mut warning = ReportFinding::new(
        "pull-policy-not-ifnotpresent",
        Severity::Warning,
        "imagePullPolicy is `Always` | set it to IfNotPresent (cc @platform-team)",
        "staging",
        "staging-web",
        "sources/charts/apps/web",
    );
    warning.object = Some(ObjectRef::new(
        "apps/v1",
        "Deployment",
        Some("ameide-staging".into()),
        "web",
    ));
    warning.container = Some("web".into());
    warning.field = Some("spec.template.spec.containers[0].imagePullPolicy".into());
    warning.image = Some("ghcr.io/ameide/web:latest@sha256:9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b".into());
    warning.template = Some("web/templates/deployment.yaml".into());
    warning.origin = Some(Origin::new("sources/charts/apps/web/values.yaml", 9));
    warning.origin_note = Some("chart default in sources/charts/apps/web/values.yaml".into());

    let mut cluster = ReportFinding::new(
        "digest-required",
        Severity::Error,
        "image `ghcr.io/ameide/operator:dev` is not pinned by digest",
        "cluster-azure",
        "cluster-ameide-operators",
        "sources/charts/cluster/ameide-operators",
    );
    cluster.object = Some(ObjectRef::new(
        "ameide.io/v1",
        "Primitive",
        None,
        "workflows-runtime",
    ));
    cluster.field = Some("spec.image".into());
    cluster.image = Some("ghcr.io/ameide/operator:dev\x1b]0;owned\x07".into());
    cluster.template = Some("ameide-operators/templates/primitive.yaml".into());
    cluster.template_path_in_repo =
        Some("sources/charts/cluster/ameide-operators/templates/primitive.yaml".into());
    cluster.origin = Some(Origin::new(
        "sources/values/cluster/azure/ameide-operators.yaml",
        3,
    ));
    cluster.snippet = Some(Snippet::new(
        2,
        vec!["operators:".into(), "\ttag: dev".into()],
        3,
    ));
    cluster.origin_value = Some("dev".into());
    cluster.fix = Some("pin the image by digest".into());

    vec![excepted, cluster, warning, template_only, with_origin]
}

/// The sample report (a `render-failed` finding for the failed cell is added by `Report::new`).
pub fn report() -> Report {
    Report::new(
        Generator::new("imagegate", "0.1.0").with_helm("v3.16.2+g13654a5"),
        findings(),
        cells(),
    )
}

/// Documentation for some of the rules (not `render-failed`, to exercise the fallback).
pub fn rules() -> Vec<RuleMeta> {
    vec![
        RuleMeta::new(
            "digest-required",
            "An image reference must be pinned by a sha256 digest.",
            "# digest-required\n\n## What it does\nFlags image references without `@sha256:`.\n\n## Why is this bad?\nA tag can be moved; only a digest names the exact image.\n\n## Fix\n```yaml\nimage:\n  digest: sha256:…\n```\n",
            Severity::Error,
        )
        .with_help_uri("https://github.com/imagegate/imagegate/blob/main/docs/rules/digest-required.md")
        .with_code_scanning("8.0", &["supply-chain"]),
        RuleMeta::new(
            "mutable-tag",
            "A tag must be immutable (a build SHA or a semantic version), even next to a digest.",
            "# mutable-tag\n\nFlags tags such as `latest` or `dev`.\n",
            Severity::Error,
        ),
        RuleMeta::new(
            "pull-policy-missing",
            "A container must set imagePullPolicy explicitly.",
            "# pull-policy-missing\n\nKubernetes defaults the policy from the tag.\n",
            Severity::Error,
        ),
        RuleMeta::new(
            "pull-policy-not-ifnotpresent",
            "imagePullPolicy must be IfNotPresent.",
            "",
            Severity::Error,
        ),
    ]
}
