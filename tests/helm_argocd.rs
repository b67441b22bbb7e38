//! `argocd:` end to end on `tests/fixtures/argocd`: the cells are the Helm applications its Argo
//! CD manifests generate, helm renders each as Argo CD's repo server would (value files in
//! order, `$ref` files, inline values, parameters, file parameters), findings point at the
//! manifest lines, and the kustomize application is said in every output, never skipped. The
//! ApplicationSets use a list and a git directories generator.
//! Every expectation is written by hand from the manifests.

mod common;
use common::*;
use serde_json::Value;
use std::path::PathBuf;

fn fixture() -> PathBuf {
    root().join("tests/fixtures/argocd")
}

fn json(out: &std::process::Output) -> Value {
    assert_eq!(out.status.code(), Some(0), "{}", stderr(out));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// A cell as the test compares it: ENV/APP, release, namespace, value files, where it came from.
type Row<'a> = (String, &'a str, &'a str, Vec<(&'a str, bool)>, String);

const NOT_JUDGED: &str = "argocd/kustomize.yaml:2: Argo CD application overlay-dev is not judged: its source overlays/dev is a kustomize application (no Chart.yaml), not a Helm chart";

#[test]
fn the_matrix_is_what_the_argo_cd_manifests_generate() {
    let doc = json(&imagegate(&["cells", "--format", "json"], &fixture()));
    let cells: Vec<Row<'_>> = doc["cells"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let o = &c["argocd"];
            let mut from = format!(
                "{}:{} {}",
                o["manifest"].as_str().unwrap(),
                o["line"],
                o["name"].as_str().unwrap()
            );
            if let Some(e) = o["element"].as_str() {
                from.push_str(&format!(" {e}"));
            }
            (
                format!(
                    "{}/{}",
                    c["environment"].as_str().unwrap(),
                    c["app"].as_str().unwrap()
                ),
                c["release"].as_str().unwrap(),
                c["namespace"].as_str().unwrap(),
                c["valueFiles"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| (v["path"].as_str().unwrap(), v["present"].as_bool().unwrap()))
                    .collect(),
                from,
            )
        })
        .collect();
    let s = String::from;
    assert_eq!(
        cells,
        [
            (
                s("dev/dev-api"),
                "dev-api",
                "api",
                vec![],
                s("argocd/appset.yaml:9 api generators[0].list.elements[0]")
            ),
            (
                s("dev/shop-dev"),
                "shop-dev",
                "shop",
                vec![
                    ("envs/dev/shop.yaml", true),
                    ("envs/dev/missing.yaml", false)
                ],
                s("argocd/shop.yaml:2 shop-dev")
            ),
            (
                s("dev/web-dev"),
                "web",
                "web",
                vec![
                    ("charts/web/values.yaml", true),
                    ("charts/web/values-dev.yaml", true)
                ],
                s("argocd/web.yaml:2 web-dev")
            ),
            (
                s("prod/inline-prod"),
                "inline-prod",
                "inline",
                vec![("charts/web/values-dev.yaml", true)],
                s("argocd/inline.yaml:6 inline-prod")
            ),
            (
                s("prod/params-prod"),
                "params-prod",
                "params",
                vec![],
                s("argocd/inline.yaml:20 params-prod")
            ),
            (
                s("prod/prod-api"),
                "prod-api",
                "api",
                vec![],
                s("argocd/appset.yaml:10 api generators[0].list.elements[1]")
            ),
            (
                s("prod/tenant-blue"),
                "tenant-blue",
                "blue",
                vec![("tenants/blue/values.yaml", true)],
                s("argocd/tenants.yaml:9 tenants generators[0].git.directories: tenants/blue (0)")
            ),
            (
                s("prod/tenant-green"),
                "tenant-green",
                "green",
                vec![("tenants/green/values.yaml", true)],
                s("argocd/tenants.yaml:9 tenants generators[0].git.directories: tenants/green (1)")
            ),
        ]
    );
    let not_judged = doc["notJudged"].as_array().unwrap();
    assert_eq!(not_judged.len(), 1, "{not_judged:?}");
    assert_eq!(not_judged[0]["app"], "overlay-dev");

    // The listing says where each cell came from, its inline layers and parameters, and what
    // is not judged.
    let out = imagegate(&["cells"], &fixture());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    for line in [
        "  from argocd/appset.yaml:9 ApplicationSet api generators[0].list.elements[0]",
        "  --set image.tag=1.0  (argocd/appset.yaml:21)",
        "  -f (spec.source.helm.valuesObject at argocd/inline.yaml:19)",
        "  --set-file image.repository=files/repository.txt  (argocd/inline.yaml:34)",
        "  (missing, skipped) envs/dev/missing.yaml",
        "8 cells",
        &format!("not judged: {NOT_JUDGED}"),
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "no line {line:?} in:\n{text}"
        );
    }
}

#[test]
fn helm_renders_each_application_with_argo_cd_precedence() {
    let doc = json(&imagegate(
        &["images", "--format", "json", "--no-progress"],
        &fixture(),
    ));
    let images: Vec<String> = doc["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            format!(
                "{}/{} {} {}",
                r["environment"].as_str().unwrap(),
                r["app"].as_str().unwrap(),
                r["namespace"].as_str().unwrap(),
                r["image"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        images,
        [
            // The list element's tag, through the template's parameter.
            "dev/dev-api api ghcr.io/acme/web:1.0",
            // The `$values` ref file over the chart's values.yaml.
            "dev/shop-dev shop ghcr.io/acme/web:env-file",
            // values-dev.yaml after values.yaml.
            "dev/web-dev web ghcr.io/acme/web:chart-dev",
            // valuesObject over the value files, and over `values`.
            "prod/inline-prod inline ghcr.io/acme/web:from-object",
            // A parameter over `values`, a file parameter over both.
            "prod/params-prod params ghcr.io/acme/from-file:from-parameter",
            "prod/prod-api api ghcr.io/acme/web:2.0",
            // One per tenant folder, each with its own values file from the repository root.
            "prod/tenant-blue blue ghcr.io/acme/web:blue",
            "prod/tenant-green green ghcr.io/acme/web:green",
        ]
    );
}

#[test]
fn helm_findings_point_at_manifest_lines_and_unjudged_apps_are_said() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.json");
    let report_arg = format!("json={}", report.display());
    let out = imagegate(
        &["check", "--no-progress", "--output", &report_arg],
        &fixture(),
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains(NOT_JUDGED), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains(&format!("  {NOT_JUDGED}")), "{text}");
    assert!(
        text.contains("; 1 Argo CD application not judged"),
        "{text}"
    );
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(doc["notJudged"][0]["manifest"], "argocd/kustomize.yaml");
    assert_eq!(doc["notJudged"][0]["line"], 2);
    let origin = |app: &str| -> String {
        let f = doc["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["app"] == app && f["rule"] == "mutable-tag")
            .unwrap_or_else(|| panic!("no mutable-tag finding for {app}"));
        format!(
            "{}:{}",
            f["origin"]["file"].as_str().unwrap(),
            f["origin"]["line"]
        )
    };
    assert_eq!(origin("prod-api"), "argocd/appset.yaml:21");
    // The snippet is the manifest's own line, not the layer helm read.
    assert!(
        text.contains(r#"21 |             - { name: image.tag, value: "{{tag}}" }"#),
        "{text}"
    );
    assert_eq!(origin("inline-prod"), "argocd/inline.yaml:19");
    assert_eq!(origin("params-prod"), "argocd/inline.yaml:32");
    assert_eq!(origin("shop-dev"), "envs/dev/shop.yaml:2");
    assert_eq!(origin("web-dev"), "charts/web/values-dev.yaml:2");
}

#[test]
fn a_missing_values_file_is_a_configuration_error_at_its_line() {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&fixture(), dir.path());
    let web = dir.path().join("argocd/web.yaml");
    let text = std::fs::read_to_string(&web).unwrap().replace(
        "[values.yaml, values-dev.yaml]",
        "[values.yaml, values-qa.yaml]",
    );
    std::fs::write(&web, text).unwrap();
    let out = imagegate(&["cells"], dir.path());
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    let err = stderr(&out);
    assert!(
        err.contains("argocd/web.yaml:16:33: values file charts/web/values-qa.yaml does not exist"),
        "{err}"
    );
    assert!(err.contains("ignoreMissingValueFiles"), "{err}");
}

/// `helm.skipTests` and `helm.skipSchemaValidation` are helm's `--skip-tests` and
/// `--skip-schema-validation`, as Argo CD passes them: the test pod is not rendered (so not
/// judged), and values the chart's schema refuses still render; without them the test pod is
/// judged and the schema fails the cell, as it fails Argo CD's sync.
#[test]
fn helm_skip_tests_and_skip_schema_validation_render_what_argo_cd_renders() {
    let app = |name: &str, values: &str, flags: &str| {
        format!(
            "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {{name: {name}}}\nspec:\n  destination: {{name: prod, namespace: web}}\n  source:\n    repoURL: https://github.com/acme/gitops.git\n    path: charts/web\n    helm:\n      valueFiles: [{values}]\n{flags}"
        )
    };
    let skip = app(
        "web-skip",
        "values-bad.yaml",
        "      skipTests: true\n      skipSchemaValidation: true\n",
    );
    let plain = app("web-plain", "values.yaml", "");
    let strict = app("web-strict", "values-bad.yaml", "");
    let deployment = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: {{ .Release.Name }}}\nspec:\n  replicas: {{ .Values.replicas }}\n  template:\n    spec:\n      containers:\n        - {name: web, image: \"ghcr.io/acme/web:1.0.0\", imagePullPolicy: IfNotPresent}\n";
    let test_pod = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {{ .Release.Name }}-test\n  annotations: {\"helm.sh/hook\": test}\nspec:\n  containers:\n    - {name: probe, image: \"busybox:1.36\", imagePullPolicy: IfNotPresent}\n";
    let dir = tree(&[
        (
            "imagegate.yaml",
            "version: 1\nargocd:\n  manifests: [\"argocd/*.yaml\"]\n  repoURL: [\"https://github.com/acme/gitops.git\"]\n",
        ),
        ("argocd/skip.yaml", &skip),
        ("argocd/plain.yaml", &plain),
        ("argocd/strict.yaml", &strict),
        ("charts/web/Chart.yaml", "apiVersion: v2\nname: web\nversion: 0.1.0\n"),
        ("charts/web/values.yaml", "replicas: 2\n"),
        ("charts/web/values-bad.yaml", "replicas: two\n"),
        (
            "charts/web/values.schema.json",
            r#"{"type": "object", "properties": {"replicas": {"type": "integer"}}}"#,
        ),
        ("charts/web/templates/deployment.yaml", deployment),
        ("charts/web/templates/tests/probe.yaml", test_pod),
    ]);
    let doc = json(&imagegate(
        &[
            "images",
            "--format",
            "json",
            "--no-progress",
            "--app",
            "web-skip",
            "--app",
            "web-plain",
        ],
        dir.path(),
    ));
    let images: Vec<String> = doc["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            format!(
                "{} {}",
                r["app"].as_str().unwrap(),
                r["image"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        images,
        [
            "web-plain ghcr.io/acme/web:1.0.0",
            "web-plain busybox:1.36",
            "web-skip ghcr.io/acme/web:1.0.0",
        ]
    );
    let out = imagegate(
        &[
            "check",
            "--format",
            "json",
            "--no-progress",
            "--app",
            "web-strict",
        ],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(cells_with_status(&report, "failed"), 1, "{report}");
    assert!(
        report
            .to_string()
            .contains("values don't meet the specifications of the schema"),
        "{report}"
    );
}
