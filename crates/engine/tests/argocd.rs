//! A fleet from Argo CD manifests beside explicit components, on the fake helm: both kinds of
//! cell are judged in one run, the policy may name an Argo CD destination as an environment, and
//! the Application that is no chart of this repository is in the report and the warnings of
//! full, narrowed and sharded runs alike.

mod common;
use common::*;
use imagegate_engine::cache::CacheChoice;
use imagegate_engine::fleet::Coverage;
use imagegate_engine::observer::Collect;
use imagegate_engine::shard::Shard;
use std::collections::BTreeMap;

const CONFIG: &str = r#"version: 1
environments: [{name: dev}]
components:
  - {name: legacy, chart: charts/app, valueFiles: [values/legacy.yaml]}
argocd:
  manifests: ["argocd/*.yaml"]
  repoURL: ["https://github.com/acme/gitops"]
policy:
  severity:
    pull-policy-missing:
      default: error
      environments: { prod: warning }
"#;

const APPS: &str = "\
kind: Application
metadata: {name: web}
spec:
  destination: {name: prod, namespace: web}
  source:
    repoURL: https://github.com/acme/gitops.git
    path: charts/app
    helm: {valueFiles: [../../values/web.yaml]}
---
kind: Application
metadata: {name: overlay}
spec:
  destination: {name: prod}
  source: {repoURL: https://github.com/acme/gitops, path: overlays/prod, kustomize: {namePrefix: prod-}}
";

fn fleet() -> Fleet {
    let files: BTreeMap<String, String> = [
        ("imagegate.yaml", CONFIG.to_string()),
        ("argocd/apps.yaml", APPS.to_string()),
        (
            "charts/app/Chart.yaml",
            "apiVersion: v2\nname: app\nversion: 0.1.0\n".to_string(),
        ),
        (
            "values/web.yaml",
            format!("image: ghcr.io/acme/web@{}\n", digest('a')),
        ),
        (
            "values/legacy.yaml",
            format!("image: ghcr.io/acme/legacy@{}\n", digest('b')),
        ),
    ]
    .into_iter()
    .map(|(p, t)| (p.to_string(), t))
    .collect();
    Fleet::of(&files)
}

const NOT_JUDGED: &str = "argocd/apps.yaml:10: Argo CD application overlay is not judged: its source is a kustomize application (overlays/prod), not a Helm chart";

#[test]
fn argo_cd_cells_and_components_are_judged_together() {
    let fleet = fleet();
    let cfg = fleet.config();
    let names: Vec<String> = cfg
        .cells()
        .unwrap()
        .iter()
        .map(|c| format!("{}/{} from {}", c.environment, c.app, c.source))
        .collect();
    assert_eq!(
        names,
        [
            "dev/dev-legacy from imagegate.yaml",
            "prod/web from argocd/apps.yaml"
        ]
    );
    // The policy's `prod` is the Argo CD destination: a known environment.
    assert_eq!(cfg.environment_names().unwrap(), ["dev", "prod"]);

    let run = full_run(&cfg);
    let report = &run.report;
    assert_eq!(report.cells.len(), 2);
    assert!(report.findings.is_empty(), "{:#?}", report.findings);
    let listed: Vec<String> = report.not_judged.iter().map(|n| n.sentence()).collect();
    assert_eq!(listed, [NOT_JUDGED]);
}

#[test]
fn every_kind_of_run_says_what_it_did_not_judge() {
    let fleet = fleet();
    let cfg = fleet.config();
    let calls = std::sync::atomic::AtomicUsize::new(0);
    let renderer = renderer(&calls);
    let all = cfg.cells().unwrap();
    let prod: Vec<_> = all
        .iter()
        .filter(|c| c.environment == "prod")
        .cloned()
        .collect();
    let shard = Shard { index: 1, count: 2 };
    for (coverage, cells) in [
        (Coverage::Full, all.clone()),
        (Coverage::Narrowed, prod),
        (Coverage::Shard(shard), shard.select(all.clone())),
    ] {
        let observer = Collect::default();
        let run = run_observed(
            &cfg,
            &renderer,
            &cells,
            coverage,
            CacheChoice::Off,
            &observer,
        );
        let warnings = observer.warnings.lock().unwrap().clone();
        assert_eq!(warnings, [NOT_JUDGED], "{coverage:?}");
        assert_eq!(run.report.not_judged.len(), 1, "{coverage:?}");
        let json = serde_json::to_value(&run.report).unwrap();
        assert_eq!(json["notJudged"][0]["app"], "overlay", "{coverage:?}");
    }
}

#[test]
fn components_without_environments_are_an_error_even_beside_argocd() {
    let fleet = fleet();
    fleet.write(
        "imagegate.yaml",
        &CONFIG.replace("environments: [{name: dev}]\n", ""),
    );
    let e = imagegate_engine::Config::load(&fleet.root().join("imagegate.yaml")).unwrap_err();
    assert!(e.message.contains("no environment is declared"), "{e}");
    // Alone, the argocd section needs no environments.
    fleet.write(
        "imagegate.yaml",
        "version: 1\nargocd:\n  manifests: [\"argocd/*.yaml\"]\n  repoURL: [\"https://github.com/acme/gitops\"]\n",
    );
    let cfg = fleet.config();
    assert_eq!(cfg.cells().unwrap().len(), 1);
}

#[test]
fn an_ignored_missing_values_file_is_the_applications_choice() {
    let fleet = fleet();
    fleet.write(
        "imagegate.yaml",
        &format!("{CONFIG}missingValueFiles: error\n"),
    );
    fleet.write(
        "argocd/apps.yaml",
        &APPS.replace(
            "helm: {valueFiles: [../../values/web.yaml]}",
            "helm: {valueFiles: [../../values/web.yaml, ../../values/absent.yaml], ignoreMissingValueFiles: true}",
        ),
    );
    let cfg = fleet.config();
    let web = cfg
        .cells()
        .unwrap()
        .into_iter()
        .find(|c| c.app == "web")
        .unwrap();
    assert!(
        !web.value_files[1].present && web.problems.is_empty(),
        "{web:?}"
    );
    let run = full_run(&cfg);
    assert!(run.report.findings.is_empty(), "{:#?}", run.report.findings);
}
