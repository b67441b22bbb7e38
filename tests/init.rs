//! `imagegate init`: on a copy of charts-testdata without its imagegate.yaml, the written
//! configuration resolves to exactly the matrix of the hand-written one; on the five layouts of
//! `tests/fixtures/init/` (Argo CD ApplicationSet, Applications, inline values, per-environment
//! folders, cluster-type files), `init` then `cells` is exactly the matrix written by hand here,
//! or an open question that stops `cells` until answered; never a wrong matrix. It never
//! overwrites a file without `--force`. No helm needed, except by the `helm_` tests of
//! `goTemplate` layouts, whose Go templates helm evaluates.

mod common;
use common::{copy_tree, root};
use serde_json::Value;
use std::path::Path;
use std::process::Output;

const SCHEMA_LINE: &str = "# yaml-language-server: $schema=https://raw.githubusercontent.com/imagegate/imagegate/main/docs/imagegate.schema.json";

fn imagegate(args: &[&str], cwd: &Path) -> Output {
    common::imagegate_without_helm(args, cwd)
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A copy of charts-testdata without its configuration.
fn fleet_without_config() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&root().join("charts-testdata"), dir.path());
    std::fs::remove_file(dir.path().join("imagegate.yaml")).unwrap();
    dir
}

fn cells(config: &Path) -> Value {
    let out = imagegate(
        &[
            "cells",
            "--config",
            config.to_str().unwrap(),
            "--format",
            "json",
        ],
        &root(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let doc = serde_json::from_slice(&out.stdout).unwrap();
    common::assert_schema_valid(&doc, "cells --format json");
    doc
}

fn init(dir: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["init"];
    args.extend_from_slice(extra);
    args.push(dir.to_str().unwrap());
    imagegate(&args, &root())
}

#[test]
fn init_on_the_fleet_reproduces_the_hand_written_matrix() {
    let dir = fleet_without_config();
    let out = init(dir.path(), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("52 cells"),
        "{}",
        text(&out.stderr)
    );
    let written = std::fs::read_to_string(dir.path().join("imagegate.yaml")).unwrap();
    assert_eq!(written.lines().next(), Some(SCHEMA_LINE));

    let ours = cells(&dir.path().join("imagegate.yaml"));
    let theirs = cells(&root().join("charts-testdata/imagegate.yaml"));
    let (ours, theirs) = (
        ours["cells"].as_array().unwrap(),
        theirs["cells"].as_array().unwrap(),
    );
    assert_eq!(ours.len(), 52);
    // Same cells, same value stacks in the same order, same everything else.
    for (a, b) in ours.iter().zip(theirs) {
        assert_eq!(a, b, "cell {}/{} differs", b["environment"], b["app"]);
    }
    assert_eq!(ours, theirs);
    // The misplaced overlay is named as an outlier, not made a layer.
    assert!(
        written.contains("#   sources/values/env/staging/app/"),
        "{written}"
    );
}

#[test]
fn init_learns_layers_from_names_not_from_this_fleet() {
    // Rename the staging environment to `qa`: its record and its values folder.
    let dir = fleet_without_config();
    let records = dir.path().join("config/clusters/azure.yaml");
    let r = std::fs::read_to_string(&records).unwrap();
    std::fs::write(&records, r.replace("env: staging", "env: qa")).unwrap();
    std::fs::rename(
        dir.path().join("sources/values/env/staging"),
        dir.path().join("sources/values/env/qa"),
    )
    .unwrap();
    let out = init(dir.path(), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let v = cells(&dir.path().join("imagegate.yaml"));
    let cells = v["cells"].as_array().unwrap();
    assert_eq!(cells.len(), 52);
    let qa = cells
        .iter()
        .find(|c| c["app"] == "qa-www")
        .expect("a qa-www cell");
    let stack: Vec<&str> = qa["valueFiles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        stack,
        [
            "sources/values/base/globals.yaml",
            "sources/values/cluster/azure/globals.yaml",
            "sources/values/env/qa/globals.yaml",
            "config/node-profiles/general-pool.yaml",
            "sources/values/_shared/apps/www.yaml",
            "sources/values/env/qa/apps/www.yaml",
        ]
    );
}

#[test]
fn init_never_overwrites_without_force() {
    let dir = fleet_without_config();
    let config = dir.path().join("imagegate.yaml");
    std::fs::write(&config, "# mine\n").unwrap();
    let out = init(dir.path(), &[]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("already exists") && err.contains("--force"),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(&config).unwrap(), "# mine\n");

    // --stdout proposes without touching the file.
    let out = init(dir.path(), &["--stdout"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).starts_with(SCHEMA_LINE));
    assert_eq!(std::fs::read_to_string(&config).unwrap(), "# mine\n");

    let out = init(dir.path(), &["--force"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(std::fs::read_to_string(&config)
        .unwrap()
        .starts_with(SCHEMA_LINE));
}

/// A copy of the layout `tests/fixtures/init/NAME`, a git checkout whose `origin` is `remote`
/// when one is given.
fn layout(name: &str, remote: Option<&str>) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&root().join("tests/fixtures/init").join(name), dir.path());
    if let Some(url) = remote {
        common::git(dir.path(), &["init", "-q", "-b", "main"]);
        common::git(dir.path(), &["remote", "add", "origin", url]);
    }
    dir
}

/// Each cell of `cells --format json` on one line: ENV/APP, chart, release, namespace, kube and
/// API versions, the value files in order (missing ones marked), inline values, parameters.
fn rows(doc: &Value) -> Vec<String> {
    doc["cells"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let files: Vec<String> = c["valueFiles"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| {
                    let p = f["path"].as_str().unwrap();
                    if f["present"] == true {
                        p.to_string()
                    } else {
                        format!("{p} (missing)")
                    }
                })
                .collect();
            let apis: Vec<&str> = c["apiVersions"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a.as_str().unwrap())
                .collect();
            let mut row = format!(
                "{}/{} chart={} release={} ns={} kube={} api=[{}] values=[{}]",
                c["environment"].as_str().unwrap(),
                c["app"].as_str().unwrap(),
                c["chart"].as_str().unwrap(),
                c["release"].as_str().unwrap(),
                c["namespace"].as_str().unwrap(),
                c["kubeVersion"].as_str().unwrap(),
                apis.join(", "),
                files.join(", ")
            );
            if let Some(field) = c["inlineValues"]["field"].as_str() {
                row.push_str(&format!(" inline={field}"));
            }
            if let Some(params) = c["parameters"].as_array() {
                let p: Vec<String> = params
                    .iter()
                    .map(|p| {
                        format!(
                            "{}={} {}",
                            p["name"].as_str().unwrap(),
                            p["value"].as_str().unwrap(),
                            p["kind"].as_str().unwrap()
                        )
                    })
                    .collect();
                row.push_str(&format!(" params=[{}]", p.join(", ")));
            }
            row
        })
        .collect()
}

/// `imagegate init` in `dir`, which must succeed; its stderr.
fn init_ok(dir: &Path) -> String {
    let out = init(dir, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    text(&out.stderr)
}

/// `cells --format json` in `dir`: the rows, or the exit status and stderr.
fn cells_in(dir: &Path) -> Result<Vec<String>, (Option<i32>, String)> {
    let out = imagegate(&["cells", "--format", "json"], dir);
    if out.status.code() != Some(0) {
        return Err((out.status.code(), text(&out.stderr)));
    }
    let doc = serde_json::from_slice(&out.stdout).unwrap();
    common::assert_schema_valid(&doc, "cells --format json");
    Ok(rows(&doc))
}

/// The open questions of the written configuration, as `cells` lists them (it must exit 2).
fn open_questions(dir: &Path) -> String {
    match cells_in(dir) {
        Ok(rows) => panic!("cells resolved despite open questions: {rows:?}"),
        Err((code, err)) => {
            assert_eq!(code, Some(2), "{err}");
            assert!(err.contains("open question"), "{err}");
            err
        }
    }
}

/// Answers the open questions as a person who agrees with what is written: deletes them.
fn answer(dir: &Path) {
    let path = dir.join("imagegate.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    let start = text.find("openQuestions:\n").expect("open questions");
    let end = start + text[start..].find("\n\n").unwrap();
    std::fs::write(&path, format!("{}{}", &text[..start], &text[end + 2..])).unwrap();
}

#[test]
fn init_from_an_application_set_matrix_of_git_file_generators() {
    let dir = layout("appset-matrix", Some("git@github.com:acme/fleet.git"));
    let err = init_ok(dir.path());
    assert!(
        err.contains("from Argo CD manifests") && err.contains("5 cells"),
        "{err}"
    );
    let written = std::fs::read_to_string(dir.path().join("imagegate.yaml")).unwrap();
    assert!(!written.contains("openQuestions"), "{written}");
    assert!(
        !written
            .lines()
            .any(|l| l.starts_with("environments:") || l.starts_with("components:")),
        "{written}"
    );
    let base = "kube=1.31.0 api=[]";
    assert_eq!(
        cells_in(dir.path()).unwrap(),
        [
            format!("aks-dev/dev-api chart=charts/api release=dev-api ns=api {base} values=[charts/api/values.yaml, values/clusters/azure.yaml, values/dev/api.yaml (missing)]"),
            format!("aks-dev/dev-web chart=charts/web release=dev-web ns=web {base} values=[charts/web/values.yaml, values/clusters/azure.yaml, values/dev/web.yaml]"),
            format!("aks-prod/prod-api chart=charts/api release=prod-api ns=api {base} values=[charts/api/values.yaml, values/clusters/azure.yaml, values/prod/api.yaml]"),
            format!("aks-prod/prod-web chart=charts/web release=prod-web ns=web {base} values=[charts/web/values.yaml, values/clusters/azure.yaml, values/prod/web.yaml]"),
            format!("k3d-local/local-web chart=charts/web release=local-web ns=web-local {base} values=[charts/web/values.yaml, values/clusters/k3d.yaml, values/local/web.yaml]"),
        ]
    );
}

/// Layout (a) as Go templates: the matrix's second generator reads the first one's parameters,
/// and a `templatePatch` gives the k3d cluster its own release name and one more values file.
/// Without helm, init says that helm evaluates them.
#[test]
fn helm_init_from_a_go_template_matrix_with_a_template_patch() {
    let dir = layout("appset-patch", Some("https://github.com/acme/fleet"));
    let d = dir.path().to_str().unwrap();
    let out = init(dir.path(), &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("goTemplate is evaluated by helm, and helm not found"),
        "{}",
        text(&out.stderr)
    );
    let out = common::imagegate(&["init", "--force", d], &root());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("5 cells"),
        "{}",
        text(&out.stderr)
    );
    let out = common::imagegate(&["cells", "--format", "json"], dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let base = "kube=1.31.0 api=[]";
    assert_eq!(
        rows(&serde_json::from_slice(&out.stdout).unwrap()),
        [
            format!("aks-dev/dev-api chart=charts/api release=dev-api ns=api {base} values=[charts/api/values.yaml, values/clusters/azure.yaml, values/dev/api.yaml (missing)]"),
            format!("aks-dev/dev-web chart=charts/web release=dev-web ns=web {base} values=[charts/web/values.yaml, values/clusters/azure.yaml, values/dev/web.yaml]"),
            format!("aks-prod/prod-api chart=charts/api release=prod-api ns=api {base} values=[charts/api/values.yaml, values/clusters/azure.yaml, values/prod/api.yaml]"),
            format!("aks-prod/prod-web chart=charts/web release=prod-web ns=web {base} values=[charts/web/values.yaml, values/clusters/azure.yaml, values/prod/web.yaml]"),
            format!("k3d-local/local-web chart=charts/web release=web ns=web-local {base} values=[charts/web/values.yaml, values/clusters/k3d.yaml, values/clusters/k3d-local-overrides.yaml, values/local/web.yaml]"),
        ]
    );
    let out = common::imagegate(&["init", "--check", d], &root());
    assert_eq!(
        (out.status.code(), text(&out.stdout)),
        (
            Some(0),
            "no drift: imagegate.yaml and the Argo CD manifests make the same 5 cells\n".into()
        ),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn init_from_applications_with_chart_relative_and_ref_values() {
    let dir = layout("applications", Some("https://github.com/acme/apps"));
    init_ok(dir.path());
    let written = std::fs::read_to_string(dir.path().join("imagegate.yaml")).unwrap();
    // The folder holds only manifests: one glob. The Helm repository is no repository URL.
    assert!(written.contains("- \"deploy/argocd/*.yaml\""), "{written}");
    assert!(
        written.contains("- \"git@github.com:acme/apps.git\"")
            && written.contains("- \"https://github.com/acme/apps.git\"")
            && !written.contains("charts.example.com"),
        "{written}"
    );
    let base = "kube=1.31.0 api=[]";
    assert_eq!(
        cells_in(dir.path()).unwrap(),
        [
            format!("dev/web-dev chart=charts/web release=web-dev ns=web {base} values=[charts/web/values-dev.yaml]"),
            format!("prod/api-prod.source0 chart=charts/api release=api-prod ns=api {base} values=[envs/prod/api.yaml, envs/prod/api-secrets.yaml (missing)]"),
            format!("prod/web-prod chart=charts/web release=web ns=web {base} values=[charts/web/values-prod.yaml, envs/prod/web.yaml]"),
        ]
    );
}

#[test]
fn init_from_inline_values_asks_which_url_is_this_repository() {
    // No remote: nothing says the manifests' URL is this checkout.
    let dir = layout("inline-values", None);
    let err = init_ok(dir.path());
    assert!(err.contains("1 open question"), "{err}");
    let asked = open_questions(dir.path());
    assert!(
        asked.contains("Which of these repository URLs are this repository?")
            && asked.contains("https://git.example.com/acme/inline.git")
            && asked.contains("(from apps.yaml)"),
        "{asked}"
    );
    answer(dir.path());
    assert_eq!(
        cells_in(dir.path()).unwrap(),
        [
            "in-cluster/api-staging chart=charts/api release=api-staging ns=api kube=1.31.0 api=[] values=[] inline=spec.source.helm.values",
            "in-cluster/web-staging chart=charts/web release=web-staging ns=web kube=1.31.0 api=[] values=[] inline=spec.source.helm.valuesObject params=[replicaCount=2 set, image.pullPolicy=IfNotPresent setString]",
        ]
    );
}

#[test]
fn init_on_per_environment_folders_stacks_only_each_environments_own_files() {
    // Once stacked every environment's folder into every cell.
    let dir = layout("env-folders", None);
    let err = init_ok(dir.path());
    assert!(!err.contains("open question"), "{err}");
    let base = "ns=default kube=1.31.0 api=[]";
    assert_eq!(
        cells_in(dir.path()).unwrap(),
        [
            format!("dev/dev-api chart=charts/api release=dev-api {base} values=[values/dev/api.yaml]"),
            format!("dev/dev-web chart=charts/web release=dev-web {base} values=[values/dev/web.yaml]"),
            format!("prod/prod-api chart=charts/api release=prod-api {base} values=[values/prod/api.yaml]"),
            format!("prod/prod-web chart=charts/web release=prod-web {base} values=[values/prod/web.yaml]"),
            format!("staging/staging-api chart=charts/api release=staging-api {base} values=[values/staging/api.yaml]"),
            format!("staging/staging-web chart=charts/web release=staging-web {base} values=[values/staging/web.yaml]"),
        ]
    );
}

#[test]
fn init_on_cluster_type_files_asks_the_order_the_docs_give_in_prose() {
    // Once stacked both cluster types' globals into every environment.
    let dir = layout("cluster-types", None);
    init_ok(dir.path());
    let asked = open_questions(dir.path());
    assert!(
        asked.contains("In which order are the values files of each component read")
            && asked.contains(
                "shop: values/cluster/{clusterType}/globals.yaml, values/env/{env}/shop.yaml"
            ),
        "{asked}"
    );
    let written = std::fs::read_to_string(dir.path().join("imagegate.yaml")).unwrap();
    assert!(written.contains("- from: \"clusters/*.yaml\""), "{written}");
    answer(dir.path());
    assert_eq!(
        cells_in(dir.path()).unwrap(),
        [
            "dev/dev-shop chart=charts/shop release=dev-shop ns=shop-dev kube=1.30.0 api=[] values=[values/cluster/azure/globals.yaml, values/env/dev/shop.yaml]",
            "local/local-shop chart=charts/shop release=local-shop ns=shop kube=1.31.0 api=[] values=[values/cluster/k3d/globals.yaml, values/env/local/shop.yaml]",
            "prod/prod-shop chart=charts/shop release=prod-shop ns=shop-prod kube=1.30.0 api=[monitoring.coreos.com/v1] values=[values/cluster/azure/globals.yaml, values/env/prod/shop.yaml]",
        ]
    );
}

#[test]
fn a_clusters_generator_asks_for_the_clusters_argo_cd_knows() {
    let dir = repo_of(
        &["web"],
        &[(
            "argocd/web.yaml",
            "apiVersion: argoproj.io/v1alpha1\nkind: ApplicationSet\nmetadata: {name: web}\nspec:\n  generators:\n    - clusters: {selector: {matchLabels: {env: prod}}}\n  template:\n    metadata: {name: \"web-{{name}}\"}\n    spec:\n      project: default\n      destination: {server: \"{{server}}\", namespace: web}\n      source: {repoURL: \"https://github.com/acme/web\", path: charts/web}\n",
        )],
    );
    common::git(dir.path(), &["init", "-q", "-b", "main"]);
    common::git(
        dir.path(),
        &["remote", "add", "origin", "https://github.com/acme/web.git"],
    );
    init_ok(dir.path());
    let written = std::fs::read_to_string(dir.path().join("imagegate.yaml")).unwrap();
    assert!(written.contains("  clusters: []"), "{written}");
    let asked = open_questions(dir.path());
    assert!(
        asked.contains("Which clusters does Argo CD know?")
            && asked.contains("(from argocd/web.yaml)"),
        "{asked}"
    );
    // No other question: the remote confirms the repository URL.
    assert!(asked.contains("1 open question must"), "{asked}");
}

#[test]
fn init_check_reports_every_cell_that_drifted_from_the_argo_cd_manifests() {
    let dir = layout("appset-matrix", Some("https://github.com/acme/fleet"));
    let d = dir.path();
    // Written by init: no drift.
    init_ok(d);
    let out = init(d, &["--check"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "no drift: imagegate.yaml and the Argo CD manifests make the same 5 cells\n"
    );

    // Described by hand, and drifted: the web stack lacks the cluster layer, the local cluster
    // is forgotten, a cache is described that nothing deploys.
    let config = "version: 1\nenvironments:\n  - {name: aks-dev, vars: {short: dev, clusterType: azure}}\n  - {name: aks-prod, vars: {short: prod, clusterType: azure}}\ncomponents:\n  - name: web\n    chart: charts/web\n    namespace: web\n    valueFiles: [charts/web/values.yaml, \"values/{short}/web.yaml\"]\n  - name: api\n    chart: charts/api\n    namespace: api\n    valueFiles: [charts/api/values.yaml, \"values/clusters/{clusterType}.yaml\", \"values/{short}/api.yaml\"]\n  - name: cache\n    chart: charts/api\n    environments: [aks-dev]\nnaming:\n  app: \"{short}-{name}\"\n";
    std::fs::write(d.join("imagegate.yaml"), config).unwrap();
    let out = init(d, &["--check"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let m = "argocd/platform.yaml:11 ApplicationSet platform generators[0].matrix.generators[0].git.files";
    assert_eq!(
        text(&out.stdout),
        format!(
            "drift: 4 differences between imagegate.yaml (5 cells) and the Argo CD manifests (5 cells)\n\
             \x20 aks-dev/dev-cache: only in imagegate.yaml (component cache (imagegate.yaml)); the Argo CD manifests generate no such application\n\
             \x20 aks-dev/dev-web: values differs: imagegate.yaml has [charts/web/values.yaml, values/dev/web.yaml], the Argo CD manifests ({m}: clusters/dev.yaml[0] × generators[0].matrix.generators[1].git.files: apps/azure/web.yaml[0]) [charts/web/values.yaml, values/clusters/azure.yaml, values/dev/web.yaml]\n\
             \x20 aks-prod/prod-web: values differs: imagegate.yaml has [charts/web/values.yaml, values/prod/web.yaml], the Argo CD manifests ({m}: clusters/prod.yaml[0] × generators[0].matrix.generators[1].git.files: apps/azure/web.yaml[0]) [charts/web/values.yaml, values/clusters/azure.yaml, values/prod/web.yaml]\n\
             \x20 k3d-local/local-web: only in the Argo CD manifests ({m}: clusters/local.yaml[0] × generators[0].matrix.generators[1].git.files: apps/k3d/web.yaml[0]); imagegate.yaml has no such cell\n"
        )
    );

    // Nothing to compare with, or no way to tell which URL is this repository: errors.
    let plain = layout("env-folders", None);
    init_ok(plain.path());
    let out = init(plain.path(), &["--check"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("no Argo CD Application or ApplicationSet manifest found"),
        "{}",
        text(&out.stderr)
    );
    let unknown = layout("inline-values", None);
    std::fs::write(
        unknown.path().join("imagegate.yaml"),
        "version: 1\nenvironments: [{name: dev}]\ncomponents: []\n",
    )
    .unwrap();
    let out = init(unknown.path(), &["--check"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("cannot tell which repository URL is this repository"),
        "{}",
        text(&out.stderr)
    );
}

/// A repository of these files (path, text) with the charts `charts/NAME` of `charts`.
fn repo_of(charts: &[&str], files: &[(&str, &str)]) -> tempfile::TempDir {
    let mut all: Vec<(String, String)> = Vec::new();
    for c in charts {
        all.push((
            format!("charts/{c}/Chart.yaml"),
            format!("apiVersion: v2\nname: {c}\nversion: 0.1.0\n"),
        ));
        all.push((format!("charts/{c}/values.yaml"), "image: {}\n".into()));
    }
    for (p, t) in files {
        all.push((p.to_string(), t.to_string()));
    }
    let refs: Vec<(&str, &str)> = all.iter().map(|(p, t)| (p.as_str(), t.as_str())).collect();
    common::tree(&refs)
}

#[test]
fn cluster_type_variants_no_record_names_are_asked_not_stacked() {
    // Without records nothing says azure and local are cluster types: both globals files were
    // stacked into every environment.
    let dir = repo_of(
        &["web"],
        &[
            ("values/cluster/azure/globals.yaml", "a: 1\n"),
            ("values/cluster/local/globals.yaml", "a: 2\n"),
            ("values/env/dev/web.yaml", "b: 1\n"),
            ("values/env/local/web.yaml", "b: 2\n"),
        ],
    );
    init_ok(dir.path());
    let asked = open_questions(dir.path());
    assert!(
        asked.contains("What do these files vary by?")
            && asked
                .contains("values/cluster/azure/globals.yaml, values/cluster/local/globals.yaml"),
        "{asked}"
    );
    answer(dir.path());
    let base = "ns=default kube=1.31.0 api=[]";
    assert_eq!(
        cells_in(dir.path()).unwrap(),
        [
            format!("dev/dev-web chart=charts/web release=dev-web {base} values=[values/env/dev/web.yaml]"),
            format!("local/local-web chart=charts/web release=local-web {base} values=[values/env/local/web.yaml]"),
        ]
    );
}

#[test]
fn a_shared_folder_beside_environment_folders_is_a_layer_of_its_own() {
    let dir = repo_of(
        &["web"],
        &[
            ("values/base/web.yaml", "a: 0\n"),
            ("values/dev/web.yaml", "a: 1\n"),
            ("values/prod/web.yaml", "a: 2\n"),
        ],
    );
    init_ok(dir.path());
    let asked = open_questions(dir.path());
    assert!(
        asked.contains("web: values/base/web.yaml, values/{env}/web.yaml")
            && !asked.contains("What do these files vary by?"),
        "{asked}"
    );
    answer(dir.path());
    let base = "ns=default kube=1.31.0 api=[]";
    assert_eq!(
        cells_in(dir.path()).unwrap(),
        [
            format!("dev/dev-web chart=charts/web release=dev-web {base} values=[values/base/web.yaml, values/dev/web.yaml]"),
            format!("prod/prod-web chart=charts/web release=prod-web {base} values=[values/base/web.yaml, values/prod/web.yaml]"),
        ]
    );
}

#[test]
fn a_values_file_that_names_no_chart_is_asked_about_not_given_to_every_chart() {
    let dir = repo_of(
        &["web"],
        &[
            ("values/dev/web.yaml", "a: 1\n"),
            ("values/prod/web.yaml", "a: 2\n"),
            ("values/prod/payments.yaml", "a: 3\n"),
        ],
    );
    init_ok(dir.path());
    let asked = open_questions(dir.path());
    assert!(
        asked.contains("Which components read these values files?")
            && asked.contains("(from values/prod/payments.yaml)"),
        "{asked}"
    );
    answer(dir.path());
    let base = "ns=default kube=1.31.0 api=[]";
    assert_eq!(
        cells_in(dir.path()).unwrap(),
        [
            format!("dev/dev-web chart=charts/web release=dev-web {base} values=[values/dev/web.yaml]"),
            format!("prod/prod-web chart=charts/web release=prod-web {base} values=[values/prod/web.yaml]"),
        ]
    );
}

#[test]
fn values_files_beside_a_chart_name_its_environments() {
    // `charts/web/values-{env}.yaml` was ignored.
    let dir = repo_of(
        &["web"],
        &[
            ("charts/web/values-dev.yaml", "a: 1\n"),
            ("charts/web/values-prod.yaml", "a: 2\n"),
        ],
    );
    init_ok(dir.path());
    let base = "ns=default kube=1.31.0 api=[]";
    assert_eq!(
        cells_in(dir.path()).unwrap(),
        [
            format!("dev/dev-web chart=charts/web release=dev-web {base} values=[charts/web/values-dev.yaml]"),
            format!("prod/prod-web chart=charts/web release=prod-web {base} values=[charts/web/values-prod.yaml]"),
        ]
    );
}

#[test]
fn no_environment_is_invented() {
    // `dev` and `production` were written when nothing named an environment.
    let dir = repo_of(&["web", "api"], &[]);
    init_ok(dir.path());
    let written = std::fs::read_to_string(dir.path().join("imagegate.yaml")).unwrap();
    assert!(
        !written.contains("name: \"production\"") && !written.contains("name: \"dev\""),
        "{written}"
    );
    let asked = open_questions(dir.path());
    assert!(asked.contains("Which environments are there?"), "{asked}");
}

#[test]
fn a_chart_with_files_for_some_environments_is_asked_about_the_others() {
    let dir = repo_of(
        &["web", "api-server"],
        &[
            ("values/common/globals.yaml", "replicas: 1\n"),
            ("values/env/dev/web.yaml", "image: {}\n"),
            ("values/env/prod/web.yaml", "image: {}\n"),
            ("values/env/prod/api-server.yaml", "image: {}\n"),
        ],
    );
    init_ok(dir.path());
    let asked = open_questions(dir.path());
    assert!(
        asked.contains("api-server (values files for prod; none for dev)")
            && asked.contains("In which order"),
        "{asked}"
    );
    answer(dir.path());
    let base = "ns=default kube=1.31.0 api=[]";
    assert_eq!(
        cells_in(dir.path()).unwrap(),
        [
            format!("dev/dev-web chart=charts/web release=dev-web {base} values=[values/common/globals.yaml, values/env/dev/web.yaml]"),
            format!("prod/prod-api-server chart=charts/api-server release=prod-api-server {base} values=[values/common/globals.yaml, values/env/prod/api-server.yaml]"),
            format!("prod/prod-web chart=charts/web release=prod-web {base} values=[values/common/globals.yaml, values/env/prod/web.yaml]"),
        ]
    );
}

#[test]
fn every_command_that_resolves_the_matrix_stops_at_an_open_question() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("charts/web")).unwrap();
    std::fs::write(
        d.join("charts/web/Chart.yaml"),
        "apiVersion: v2\nname: web\nversion: 0.1.0\n",
    )
    .unwrap();
    let config = "version: 1\nenvironments: [{name: dev}]\ncomponents: [{name: web, chart: charts/web}]\nopenQuestions:\n  - question: Is web deployed in dev?\n    from: [charts/web]\n";
    std::fs::write(d.join("imagegate.yaml"), config).unwrap();
    common::git(d, &["init", "-q", "-b", "main"]);
    common::git(d, &["add", "-A"]);
    common::git(d, &["commit", "-qm", "fleet"]);
    let out_dir = d.join("audit-out");
    let out_dir = out_dir.to_str().unwrap();
    let commands: [&[&str]; 6] = [
        &["cells"],
        &["check"],
        &["images"],
        &["audit", "--out", out_dir],
        &["diff", "--base", "HEAD"],
        &["exceptions", "suggest"],
    ];
    for args in commands {
        let out = imagegate(args, d);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains("imagegate.yaml:5:3: 1 open question must be answered")
                && err.contains("1. Is web deployed in dev? (from charts/web)")
                && err.contains("delete it from `openQuestions`"),
            "{args:?}: {err}"
        );
    }
}

#[test]
fn completions_are_generated_for_every_shell() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let out = imagegate(&["completions", shell], &root());
        assert_eq!(out.status.code(), Some(0), "{shell}: {}", text(&out.stderr));
        let script = text(&out.stdout);
        assert!(script.contains("imagegate"), "{shell}");
        assert!(
            script.contains("warnings-as-errors"),
            "{shell}: flags are completed"
        );
    }
}
