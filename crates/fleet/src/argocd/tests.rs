use super::appset::fasttemplate;
use super::*;
use crate::{
    default_values_prefix, ClusterScope, Fleet, FleetFile, HelmSettings, LimitSettings,
    MissingValueFiles, Naming, ValueFolders, ValueStacks,
};

const CHART: &str = "apiVersion: v2\nname: c\nversion: 0.1.0\n";

/// A repository holding `files`, and the fleet of an `imagegate.yaml` that is only the `argocd:`
/// section `section` (YAML of its body).
fn fleet_of(files: &[(&str, &str)], section: &str) -> Result<Fleet, ConfigError> {
    fleet_limited(files, section, LimitSettings::default())
}

/// [`fleet_of`] with `limits:` of its own.
fn fleet_limited(
    files: &[(&str, &str)],
    section: &str,
    limits: LimitSettings,
) -> Result<Fleet, ConfigError> {
    let dir = tempfile::tempdir().unwrap();
    for (path, text) in files {
        let p = dir.path().join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    let repo = Repo::open(dir.path()).unwrap();
    let text = format!("argocd:\n{section}");
    let root = crate::load_yaml("imagegate.yaml", &text)?.unwrap();
    let model = FleetFile {
        helm: HelmSettings::default(),
        environments: Vec::new(),
        cluster_scope: ClusterScope::default(),
        components: Vec::new(),
        value_stacks: ValueStacks::default(),
        values_prefix: default_values_prefix(),
        missing_value_files: MissingValueFiles::default(),
        naming: Naming::default(),
        limits,
        value_folders: ValueFolders::default(),
        argocd: Some(imagegate_yaml::from_node(root.get("argocd").unwrap()).unwrap()),
    };
    let fleet = Fleet::resolve(repo, "imagegate.yaml", &root, model);
    // The folder must outlive the checks of file presence, which happen during resolve.
    drop(dir);
    fleet
}

const SECTION: &str =
    "  manifests: [\"argocd/**/*.yaml\"]\n  repoURL: [\"https://github.com/acme/gitops.git\"]\n";

fn cell<'a>(fleet: &'a Fleet, app: &str) -> &'a crate::Cell {
    fleet
        .argocd
        .cells
        .iter()
        .find(|c| c.app == app)
        .unwrap_or_else(|| panic!("no cell {app}: {:?}", fleet.argocd.cells))
}

fn paths(cell: &crate::Cell) -> Vec<(&str, bool)> {
    cell.value_files
        .iter()
        .map(|v| (v.path.as_str(), v.present))
        .collect()
}

#[test]
fn an_application_becomes_a_cell_as_argo_cd_renders_it() {
    let app = "\
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: web-prod, namespace: argocd}
spec:
  project: apps
  destination: {name: prod-eu, namespace: web}
  source:
    repoURL: git@GitHub.com:acme/gitops
    path: charts/web
    helm:
      releaseName: web
      kubeVersion: 1.29.0
      apiVersions: [monitoring.coreos.com/v1]
      skipCrds: true
      skipTests: true
      skipSchemaValidation: true
      valueFiles:
        - values.yaml
        - ../../envs/prod/web.yaml
        - /envs/common.yaml
        - values.yaml
";
    let fleet = fleet_of(
        &[
            ("argocd/web.yaml", app),
            ("charts/web/Chart.yaml", CHART),
            ("charts/web/values.yaml", "a: 1\n"),
            ("envs/prod/web.yaml", "a: 2\n"),
            ("envs/common.yaml", "a: 3\n"),
        ],
        SECTION,
    )
    .unwrap();
    let c = cell(&fleet, "web-prod");
    assert_eq!(c.environment, "prod-eu");
    assert_eq!(c.release, "web");
    assert_eq!(c.namespace, "web");
    assert_eq!(c.chart, "charts/web");
    assert_eq!(c.kube_version, "1.29.0");
    assert_eq!(c.api_versions, ["monitoring.coreos.com/v1"]);
    assert!(!c.include_crds, "skipCrds turns the CRDs off");
    assert!(c.skip_tests && c.skip_schema_validation);
    // In order, each once (the repeated file keeps its first place, as Argo CD's appendUnique).
    assert_eq!(
        paths(c),
        [
            ("charts/web/values.yaml", true),
            ("envs/prod/web.yaml", true),
            ("envs/common.yaml", true)
        ]
    );
    let origin = c.argocd.as_ref().unwrap();
    assert_eq!(origin.describe(), "argocd/web.yaml:1 Application web-prod");
    assert!(fleet.argocd.not_judged.is_empty());
}

#[test]
fn defaults_come_from_the_destination_and_the_helm_section() {
    let app = "\
kind: Application
metadata: {name: api}
spec:
  destination: {server: https://kubernetes.default.svc, namespace: api-ns}
  source: {repoURL: 'https://github.com/acme/gitops/', path: charts/api}
";
    let fleet = fleet_of(
        &[("argocd/api.yaml", app), ("charts/api/Chart.yaml", CHART)],
        SECTION,
    )
    .unwrap();
    let c = cell(&fleet, "api");
    assert_eq!(c.environment, "in-cluster");
    assert_eq!(c.release, "api");
    assert_eq!(c.namespace, "api-ns");
    assert_eq!(c.kube_version, HelmSettings::default().kube_version);
    assert!(c.include_crds);
    assert!(!c.skip_tests && !c.skip_schema_validation);
    assert!(c.value_files.is_empty() && c.inline_values.is_none() && c.parameters.is_empty());
}

#[test]
fn a_multi_source_application_reads_values_through_its_ref() {
    let app = "\
kind: Application
metadata: {name: shop}
spec:
  destination: {name: dev, namespace: shop}
  sources:
    - repoURL: https://github.com/acme/gitops.git
      path: charts/shop
      helm:
        valueFiles: [values.yaml, $values/envs/dev/shop.yaml, $values/envs/dev/absent.yaml]
        ignoreMissingValueFiles: true
    - repoURL: https://github.com/acme/gitops.git
      targetRevision: main
      ref: values
";
    let fleet = fleet_of(
        &[
            ("argocd/shop.yaml", app),
            ("charts/shop/Chart.yaml", CHART),
            ("charts/shop/values.yaml", "a: 1\n"),
            ("envs/dev/shop.yaml", "a: 2\n"),
        ],
        SECTION,
    )
    .unwrap();
    let c = cell(&fleet, "shop");
    assert_eq!(
        paths(c),
        [
            ("charts/shop/values.yaml", true),
            ("envs/dev/shop.yaml", true),
            ("envs/dev/absent.yaml", false)
        ]
    );
    assert_eq!(c.argocd.as_ref().unwrap().source, Some(0));
}

#[test]
fn a_ref_to_another_repository_is_not_judged_and_an_unknown_ref_is_an_error() {
    let app = |refs: &str, url: &str| {
        format!(
            "kind: Application\nmetadata: {{name: shop}}\nspec:\n  destination: {{name: dev}}\n  sources:\n    - repoURL: https://github.com/acme/gitops\n      path: charts/shop\n      helm: {{valueFiles: [${refs}/x.yaml]}}\n    - {{repoURL: {url}, ref: values}}\n"
        )
    };
    let files = |text: String| vec![("argocd/shop.yaml".to_string(), text)];
    let run = |text: String| {
        let f = files(text);
        let f: Vec<(&str, &str)> = f
            .iter()
            .map(|(a, b)| (a.as_str(), b.as_str()))
            .chain([("charts/shop/Chart.yaml", CHART)])
            .collect();
        fleet_of(&f, SECTION)
    };
    let fleet = run(app("values", "https://github.com/acme/other")).unwrap();
    assert!(fleet.argocd.cells.is_empty());
    assert_eq!(fleet.argocd.not_judged.len(), 1);
    assert!(
        fleet.argocd.not_judged[0]
            .reason
            .contains("$values/x.yaml is in another repository (https://github.com/acme/other)"),
        "{:?}",
        fleet.argocd.not_judged
    );
    let e = run(app("valeus", "https://github.com/acme/gitops")).unwrap_err();
    assert_eq!((e.file.as_str(), e.line), ("argocd/shop.yaml", Some(8)));
    assert!(
        e.message.contains("names no source with `ref: valeus`"),
        "{e}"
    );
    assert!(e.hint.unwrap().contains("refs declared: values"));
}

#[test]
fn a_missing_values_file_is_an_error_at_its_line_unless_ignored() {
    let app = "\
kind: Application
metadata: {name: web}
spec:
  destination: {name: dev}
  source:
    repoURL: https://github.com/acme/gitops
    path: charts/web
    helm:
      valueFiles:
        - values.yaml
        - values-dev.yaml
";
    let e = fleet_of(
        &[
            ("argocd/web.yaml", app),
            ("charts/web/Chart.yaml", CHART),
            ("charts/web/values.yaml", "a: 1\n"),
        ],
        SECTION,
    )
    .unwrap_err();
    assert_eq!(
        (e.file.as_str(), e.line, e.column),
        ("argocd/web.yaml", Some(11), Some(11))
    );
    assert_eq!(
        e.message,
        "values file charts/web/values-dev.yaml does not exist"
    );
    assert!(e.hint.unwrap().contains("ignoreMissingValueFiles"));
}

#[test]
fn value_file_globs_expand_in_order_and_an_explicit_file_keeps_its_place() {
    let app = "\
kind: Application
metadata: {name: web}
spec:
  destination: {name: dev}
  source:
    repoURL: https://github.com/acme/gitops
    path: charts/web
    helm: {valueFiles: ['values/*.yaml', values/b.yaml]}
";
    let fleet = fleet_of(
        &[
            ("argocd/web.yaml", app),
            ("charts/web/Chart.yaml", CHART),
            ("charts/web/values/a.yaml", ""),
            ("charts/web/values/b.yaml", ""),
            ("charts/web/values/c.yaml", ""),
        ],
        SECTION,
    )
    .unwrap();
    assert_eq!(
        paths(cell(&fleet, "web")),
        [
            ("charts/web/values/a.yaml", true),
            ("charts/web/values/c.yaml", true),
            ("charts/web/values/b.yaml", true)
        ]
    );
}

#[test]
fn inline_values_and_parameters_keep_argo_cd_precedence_and_their_lines() {
    let app = "\
kind: Application
metadata: {name: web}
spec:
  destination: {name: dev}
  source:
    repoURL: https://github.com/acme/gitops
    path: charts/web
    helm:
      values: |
        image: {tag: from-values}
      valuesObject:
        image: {tag: from-object}
      fileParameters:
        - {name: config, path: files/config.txt}
      parameters:
        - {name: image.tag, value: '1.2.3'}
        - {name: args, value: 'a,b'}
        - {name: list, value: '{a,b}'}
        - {name: version, value: '1.10', forceString: true}
";
    let fleet = fleet_of(
        &[
            ("argocd/web.yaml", app),
            ("charts/web/Chart.yaml", CHART),
            ("charts/web/files/config.txt", "x"),
        ],
        SECTION,
    )
    .unwrap();
    let c = cell(&fleet, "web");
    let inline = c.inline_values.as_ref().unwrap();
    // Each value on its manifest line: line 12 holds the object's one key.
    assert_eq!(
        inline.text,
        format!(
            "{}\"image\": {{\"tag\":\"from-object\"}}\n",
            "\n".repeat(11)
        )
    );
    assert_eq!(
        (inline.file.as_str(), inline.line, inline.field.as_str()),
        ("argocd/web.yaml", 12, "spec.source.helm.valuesObject")
    );
    let params: Vec<(&str, &str, &str, u32)> = c
        .parameters
        .iter()
        .map(|p| (p.flag(), p.name.as_str(), p.value.as_str(), p.line))
        .collect();
    assert_eq!(
        params,
        [
            ("--set", "image.tag", "1.2.3", 16),
            ("--set", "args", "a\\,b", 17),
            ("--set", "list", "{a,b}", 18),
            ("--set-string", "version", "1.10", 19),
            ("--set-file", "config", "charts/web/files/config.txt", 14),
        ]
    );
}

#[test]
fn values_text_is_used_when_there_is_no_values_object() {
    let app = "kind: Application\nmetadata: {name: web}\nspec:\n  destination: {name: dev}\n  source:\n    repoURL: https://github.com/acme/gitops\n    path: charts/web\n    helm:\n      values: |\n        a: 1\n";
    let fleet = fleet_of(
        &[("argocd/web.yaml", app), ("charts/web/Chart.yaml", CHART)],
        SECTION,
    )
    .unwrap();
    let inline = cell(&fleet, "web").inline_values.clone().unwrap();
    assert_eq!(
        (inline.text.as_str(), inline.line, inline.field.as_str()),
        ("\n\n\n\n\n\n\n\n\na: 1\n", 10, "spec.source.helm.values")
    );
}

#[test]
fn sources_that_are_no_chart_of_this_repository_are_listed_with_their_reason() {
    let manifest = "\
kind: Application
metadata: {name: kust}
spec:
  destination: {name: dev}
  source: {repoURL: https://github.com/acme/gitops, path: overlays/dev}
---
kind: Application
metadata: {name: explicit-kust}
spec:
  destination: {name: dev}
  source: {repoURL: https://github.com/acme/gitops, path: charts/web, kustomize: {namePrefix: x-}}
---
kind: Application
metadata: {name: plain}
spec:
  destination: {name: dev}
  source: {repoURL: https://github.com/acme/gitops, path: manifests}
---
kind: Application
metadata: {name: plug}
spec:
  destination: {name: dev}
  source: {repoURL: https://github.com/acme/gitops, path: charts/web, plugin: {name: x}}
---
kind: Application
metadata: {name: remote}
spec:
  destination: {name: dev}
  source: {repoURL: https://charts.bitnami.com/bitnami, chart: redis, targetRevision: 18.0.0}
---
kind: Application
metadata: {name: elsewhere}
spec:
  destination: {name: dev}
  source: {repoURL: https://github.com/acme/other, path: charts/web}
---
kind: AppProject
metadata: {name: apps}
";
    let fleet = fleet_of(
        &[
            ("argocd/apps.yaml", manifest),
            ("charts/web/Chart.yaml", CHART),
            ("overlays/dev/kustomization.yaml", "resources: []\n"),
            ("manifests/deploy.yaml", "kind: Deployment\n"),
        ],
        SECTION,
    )
    .unwrap();
    assert!(fleet.argocd.cells.is_empty(), "{:?}", fleet.argocd.cells);
    let got: Vec<(&str, u32, &str)> = fleet
        .argocd
        .not_judged
        .iter()
        .map(|n| (n.app.as_str(), n.line, n.reason.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("kust", 1, "its source overlays/dev is a kustomize application (no Chart.yaml), not a Helm chart"),
            ("explicit-kust", 7, "its source is a kustomize application (charts/web), not a Helm chart"),
            ("plain", 13, "its source manifests is a directory application (no Chart.yaml), not a Helm chart"),
            ("plug", 19, "its source is a plugin application (charts/web), not a Helm chart"),
            ("remote", 25, "its source is chart `redis` from the Helm repository https://charts.bitnami.com/bitnami, not a chart vendored in this repository"),
            ("elsewhere", 31, "its source is in another repository (https://github.com/acme/other); argocd.repoURL names this one"),
        ]
    );
}

#[test]
fn lists_and_several_documents_are_read() {
    let manifest = "\
apiVersion: v1
kind: List
items:
  - kind: Application
    metadata: {name: a}
    spec: {destination: {name: dev}, source: {repoURL: https://github.com/acme/gitops, path: charts/web}}
  - kind: Application
    metadata: {name: b}
    spec: {destination: {name: prod}, source: {repoURL: https://github.com/acme/gitops, path: charts/web}}
---
kind: Application
metadata: {name: c}
spec: {destination: {name: dev}, source: {repoURL: https://github.com/acme/gitops, path: charts/web}}
";
    let fleet = fleet_of(
        &[
            ("argocd/list.yaml", manifest),
            ("charts/web/Chart.yaml", CHART),
        ],
        SECTION,
    )
    .unwrap();
    let cells = fleet.cells().unwrap();
    let names: Vec<String> = cells
        .iter()
        .map(|c| {
            format!(
                "{}/{}@{}",
                c.environment,
                c.app,
                c.argocd.as_ref().unwrap().line
            )
        })
        .collect();
    assert_eq!(names, ["dev/a@4", "dev/c@11", "prod/b@7"]);
    assert_eq!(fleet.environment_names().unwrap(), ["dev", "prod"]);
}

const APPSET: &str = "\
apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata: {name: guestbook}
spec:
  generators:
    - list:
        elements:
          - {cluster: dev, url: https://dev.example, values: {tag: '1.0'}}
          - {cluster: prod, url: https://prod.example, values: {tag: '2.0'}}
  template:
    metadata: {name: '{{cluster}}-guestbook'}
    spec:
      project: default
      destination: {name: '{{ cluster }}', namespace: guestbook}
      source:
        repoURL: https://github.com/acme/gitops
        path: charts/web
        helm:
          valueFiles: ['values-{{cluster}}.yaml']
          parameters:
            - {name: image.tag, value: '{{values.tag}}'}
            - {name: note, value: '{{unknown}} stays'}
";

#[test]
fn an_application_set_list_generator_makes_one_cell_per_element() {
    let fleet = fleet_of(
        &[
            ("argocd/appset.yaml", APPSET),
            ("charts/web/Chart.yaml", CHART),
            ("charts/web/values-dev.yaml", ""),
            ("charts/web/values-prod.yaml", ""),
        ],
        SECTION,
    )
    .unwrap();
    let cells = fleet.cells().unwrap();
    /// ENV/APP, where it came from, value files, parameter values.
    type Row<'a> = (String, String, Vec<(&'a str, bool)>, Vec<&'a str>);
    let got: Vec<Row<'_>> = cells
        .iter()
        .map(|c| {
            (
                format!("{}/{}", c.environment, c.app),
                c.argocd.as_ref().unwrap().describe(),
                paths(c),
                c.parameters.iter().map(|p| p.value.as_str()).collect(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (
                "dev/dev-guestbook".to_string(),
                "argocd/appset.yaml:8 ApplicationSet guestbook generators[0].list.elements[0]"
                    .to_string(),
                vec![("charts/web/values-dev.yaml", true)],
                vec!["1.0", "{{unknown}} stays"]
            ),
            (
                "prod/prod-guestbook".to_string(),
                "argocd/appset.yaml:9 ApplicationSet guestbook generators[0].list.elements[1]"
                    .to_string(),
                vec![("charts/web/values-prod.yaml", true)],
                vec!["2.0", "{{unknown}} stays"]
            ),
        ]
    );
}

#[test]
fn what_the_application_set_reader_does_not_evaluate_is_an_error_at_its_line() {
    let cases = [
        (
            APPSET.replace(
                "spec:\n  generators:",
                "spec:\n  goTemplate: true\n  generators:",
            ),
            12,
            "sets goTemplate: true, and no Go template evaluator is available here",
        ),
        (
            APPSET.replace(
                "spec:\n  generators:",
                "spec:\n  goTemplate: true\n  goTemplateOptions: [missingkey=error]\n  generators:",
            )
            .replace("{{cluster}}", "{{ .cluster }}")
            .replace("{{values.tag}}", "{{ .values.nope }}"),
            23,
            "generators[0].list.elements[0]: template: executing at <.values.nope>: map has no entry for key \"nope\"",
        ),
        (
            APPSET.replace(
                "spec:\n  generators:",
                "spec:\n  goTemplate: true\n  generators:",
            )
            .replace("{{cluster}}", "{{ include \"x\" . }}"),
            12,
            "function \"include\" not defined",
        ),
        (
            APPSET.replace("    - list:", "    - clusters: {}\n    - list:"),
            6,
            "uses a clusters generator, and argocd.clusters declares no cluster",
        ),
        (
            APPSET.replace("    - list:", "    - matrix: {generators: []}\n    - list:"),
            6,
            "a matrix generator needs exactly two generators, it has 0",
        ),
        (
            APPSET.replace("tag: '1.0'", "tag: 1.0"),
            8,
            "list element field `values.tag` is not a string",
        ),
    ];
    for (text, line, message) in cases {
        let e = fleet_of(
            &[
                ("argocd/appset.yaml", text.as_str()),
                ("charts/web/Chart.yaml", CHART),
            ],
            SECTION,
        )
        .unwrap_err();
        assert_eq!(
            (e.file.as_str(), e.line),
            ("argocd/appset.yaml", Some(line)),
            "{e}"
        );
        assert!(e.message.contains(message), "{e}");
    }
}

#[test]
fn fasttemplate_follows_argo_cd() {
    let params = BTreeMap::from([
        ("name".to_string(), "web".to_string()),
        ("values.tag".to_string(), "1.0".to_string()),
    ]);
    let t = |s: &str| fasttemplate(s, &params);
    assert_eq!(t("{{name}}-{{ values.tag }}").unwrap(), "web-1.0");
    assert_eq!(t("{{nope}}/{{ }}/{{name}}").unwrap(), "{{nope}}/{{ }}/web");
    assert_eq!(t("no tags {{").unwrap(), "no tags {{");
    assert_eq!(
        t("{{name\n}}").unwrap(),
        "{{name\n}}",
        "a tag across lines is no tag"
    );
    assert!(t("{{name}} {{ open").is_err());
}

#[test]
fn repository_urls_compare_normalised() {
    let n = normalise_repo_url;
    let want = "github.com/acme/gitops";
    for url in [
        "https://github.com/acme/gitops",
        "https://GitHub.com/acme/gitops.git",
        "https://user@github.com/acme/gitops/",
        "git@github.com:acme/gitops.git",
        "ssh://git@github.com:22/acme/gitops",
    ] {
        assert_eq!(n(url), want, "{url}");
    }
    assert_ne!(
        n("https://github.com/Acme/gitops"),
        want,
        "paths keep their case"
    );
    assert_ne!(n("https://github.com/acme/gitops-other"), want);
}

#[test]
fn set_values_escape_commas_as_argo_cd() {
    assert_eq!(clean_set_value("a,b"), "a\\,b");
    assert_eq!(clean_set_value("a\\,b"), "a\\,b");
    assert_eq!(clean_set_value("{a,b}"), "{a,b}");
}

const GIT_APPSET: &str = "\
kind: ApplicationSet
metadata: {name: clusters}
spec:
  generators:
    - git:
        repoURL: https://github.com/acme/gitops.git
        revision: HEAD
        files:
          - path: config/*.yaml
          - {path: config/skip/*, exclude: true}
    - git:
        repoURL: https://github.com/acme/gitops.git
        revision: HEAD
        directories:
          - path: apps/*
          - {path: apps/old, exclude: true}
  template:
    metadata: {name: '{{path.basename}}-web'}
    spec:
      destination: {name: dev, namespace: '{{path[1]}}'}
      source:
        repoURL: https://github.com/acme/gitops
        path: charts/web
        helm:
          parameters:
            - {name: replicas, value: '{{cluster.replicas}}'}
            - {name: file, value: '{{path.filename}}'}
";

#[test]
fn git_generators_read_files_and_folders_of_this_checkout() {
    let fleet = fleet_of(
        &[
            ("argocd/git.yaml", GIT_APPSET),
            ("charts/web/Chart.yaml", CHART),
            ("config/eu.yaml", "cluster: {name: eu, replicas: 3}\n"),
            // `*` crosses folders in Argo CD's default pathspec matching.
            (
                "config/us/east.yaml",
                "- cluster: {name: us, replicas: 2}\n",
            ),
            ("config/skip/x.yaml", "cluster: {name: skipped}\n"),
            ("apps/api/README.md", ""),
            ("apps/old/README.md", ""),
            ("apps/web/base/README.md", ""),
            (".hidden/README.md", ""),
        ],
        SECTION,
    )
    .unwrap();
    let cells = fleet.cells().unwrap();
    let got: Vec<(String, Vec<&str>, String)> = cells
        .iter()
        .map(|c| {
            (
                format!("{}/{} ns={}", c.environment, c.app, c.namespace),
                c.parameters.iter().map(|p| p.value.as_str()).collect(),
                c.argocd.as_ref().unwrap().element.clone().unwrap(),
            )
        })
        .collect();
    let s = String::from;
    assert_eq!(
        got,
        [
            // A folder has no file parameters: they stay as written, as in Argo CD.
            (
                s("dev/api-web ns=api"),
                vec!["{{cluster.replicas}}", "{{path.filename}}"],
                s("generators[1].git.directories: apps/api (0)")
            ),
            (
                s("dev/config-web ns={{path[1]}}"),
                vec!["3", "eu.yaml"],
                s("generators[0].git.files: config/eu.yaml[0]")
            ),
            (
                s("dev/us-web ns=us"),
                vec!["2", "east.yaml"],
                s("generators[0].git.files: config/us/east.yaml[0]")
            ),
            (
                s("dev/web-web ns=web"),
                vec!["{{cluster.replicas}}", "{{path.filename}}"],
                s("generators[1].git.directories: apps/web (1)")
            ),
        ]
    );
}

#[test]
fn a_git_generator_over_another_repository_is_not_judged() {
    let text = GIT_APPSET.replace(
        "repoURL: https://github.com/acme/gitops.git\n        revision: HEAD\n        files",
        "repoURL: https://github.com/acme/config.git\n        revision: HEAD\n        files",
    );
    let fleet = fleet_of(
        &[
            ("argocd/git.yaml", text.as_str()),
            ("charts/web/Chart.yaml", CHART),
            ("apps/api/README.md", ""),
        ],
        SECTION,
    )
    .unwrap();
    assert_eq!(
        fleet.argocd.cells.len(),
        1,
        "the directories generator still makes its cell"
    );
    let n = &fleet.argocd.not_judged;
    assert_eq!(n.len(), 1, "{n:?}");
    assert_eq!(
        (n[0].app.as_str(), n[0].line, n[0].element.as_deref()),
        ("clusters", 6, Some("generators[0].git"))
    );
    assert!(n[0].reason.contains("https://github.com/acme/config.git"));
}

#[test]
fn a_matrix_crosses_its_generators_and_feeds_the_first_into_the_second() {
    let appset = "\
kind: ApplicationSet
metadata: {name: grid}
spec:
  generators:
    - matrix:
        generators:
          - git:
              repoURL: https://github.com/acme/gitops
              directories: [{path: apps/*}]
          - list:
              elements:
                - {env: dev, app: '{{path.basename}}'}
                - {env: prod, app: '{{path.basename}}'}
  template:
    metadata: {name: '{{app}}-{{env}}'}
    spec:
      destination: {name: '{{env}}', namespace: '{{path.basename}}'}
      source: {repoURL: https://github.com/acme/gitops, path: charts/web}
";
    let files = [
        ("argocd/grid.yaml", appset),
        ("charts/web/Chart.yaml", CHART),
        ("apps/api/README.md", ""),
        ("apps/web/README.md", ""),
    ];
    let fleet = fleet_of(&files, SECTION).unwrap();
    let cells = fleet.cells().unwrap();
    let got: Vec<String> = cells
        .iter()
        .map(|c| format!("{}/{} ns={}", c.environment, c.app, c.namespace))
        .collect();
    assert_eq!(
        got,
        [
            "dev/api-dev ns=api",
            "dev/web-dev ns=web",
            "prod/api-prod ns=api",
            "prod/web-prod ns=web"
        ]
    );
    assert_eq!(
        cells[0].argocd.as_ref().unwrap().element.as_deref(),
        Some("generators[0].matrix.generators[0].git.directories: apps/api (0) × generators[0].matrix.generators[1].list.elements[0]")
    );
    // Both children setting one key to different values is Argo CD's error too.
    let clash = appset.replace("{env: dev, app:", "{env: dev, path.basename: x, app:");
    let files = [
        ("argocd/grid.yaml", clash.as_str()),
        ("charts/web/Chart.yaml", CHART),
        ("apps/api/README.md", ""),
    ];
    let e = fleet_of(&files, SECTION).unwrap_err();
    assert!(
        e.message
            .contains("both set `path.basename`, to `api` and `x`"),
        "{e}"
    );
}

/// An ApplicationSet whose matrix crosses a list of `a` elements with one of `b`.
fn product_appset(name: &str, a: usize, b: usize) -> String {
    let list = |key: &str, n: usize| {
        (0..n)
            .map(|i| format!("                - {{{key}: '{key}{i}'}}\n"))
            .collect::<String>()
    };
    format!(
        "kind: ApplicationSet
metadata: {{name: {name}}}
spec:
  generators:
    - matrix:
        generators:
          - list:
              elements:
{}          - list:
              elements:
{}  template:
    metadata: {{name: '{name}-{{{{a}}}}-{{{{b}}}}'}}
    spec:
      destination: {{name: dev, namespace: web}}
      source: {{repoURL: https://github.com/acme/gitops, path: charts/web}}
",
        list("a", a),
        list("b", b)
    )
}

#[test]
fn a_matrix_past_max_cells_is_an_error_before_its_product_is_made() {
    let limits = |max_cells| LimitSettings {
        max_cells,
        ..LimitSettings::default()
    };
    // 4 × 3 = 12 applications, one bound of 12 and one of 11.
    let grid = product_appset("grid", 4, 3);
    let files = [
        ("argocd/grid.yaml", grid.as_str()),
        ("charts/web/Chart.yaml", CHART),
    ];
    let fleet = fleet_limited(&files, SECTION, limits(12)).unwrap();
    assert_eq!(fleet.cells().unwrap().len(), 12);
    let e = fleet_limited(&files, SECTION, limits(11)).unwrap_err();
    assert!(
        e.message.contains(
            "ApplicationSet `grid`: generators[0].matrix makes more than 11 applications, over \
             limits.maxCells; nothing is judged"
        ),
        "{e}"
    );
    assert_eq!(
        (e.file.as_str(), e.line),
        ("argocd/grid.yaml", Some(6)),
        "{e}"
    );
    assert!(
        e.hint.as_deref().unwrap_or_default().contains("narrow"),
        "{e:?}"
    );
    // The bound is the fleet's: a second ApplicationSet counts the first one's applications.
    let other = product_appset("other", 2, 2);
    let files = [
        ("argocd/a-grid.yaml", grid.as_str()),
        ("argocd/b-other.yaml", other.as_str()),
        ("charts/web/Chart.yaml", CHART),
    ];
    assert_eq!(
        fleet_limited(&files, SECTION, limits(16))
            .unwrap()
            .cells()
            .unwrap()
            .len(),
        16
    );
    let e = fleet_limited(&files, SECTION, limits(15)).unwrap_err();
    assert!(
        e.message.contains(
            "ApplicationSet `other`: generators[0].matrix makes more than 3 applications: with the 12 \
             of the ApplicationSets before it, over limits.maxCells (15)"
        ),
        "{e}"
    );
    // A million applications from 2 000 lines: refused at the default bound while it is made
    // (made whole, its parameter sets took gigabytes).
    let bomb = product_appset("bomb", 1000, 1000);
    let files = [
        ("argocd/bomb.yaml", bomb.as_str()),
        ("charts/web/Chart.yaml", CHART),
    ];
    let e = fleet_of(&files, SECTION).unwrap_err();
    assert!(
        e.message
            .contains("`bomb`: generators[0].matrix makes more than 20000 applications"),
        "{e}"
    );
}

#[test]
fn a_merge_overrides_the_first_generators_sets_by_their_keys() {
    let appset = "\
kind: ApplicationSet
metadata: {name: merged}
spec:
  generators:
    - merge:
        mergeKeys: [cluster]
        generators:
          - list:
              elements:
                - {cluster: dev, tag: base}
                - {cluster: prod, tag: base}
          - list:
              elements:
                - {cluster: prod, tag: pinned}
                - {cluster: qa, tag: dropped}
  template:
    metadata: {name: 'web-{{cluster}}'}
    spec:
      destination: {name: '{{cluster}}'}
      source:
        repoURL: https://github.com/acme/gitops
        path: charts/web
        helm: {parameters: [{name: image.tag, value: '{{tag}}'}]}
";
    let files = [
        ("argocd/merged.yaml", appset),
        ("charts/web/Chart.yaml", CHART),
    ];
    let fleet = fleet_of(&files, SECTION).unwrap();
    let got: Vec<String> = fleet
        .cells()
        .unwrap()
        .iter()
        .map(|c| format!("{}/{} tag={}", c.environment, c.app, c.parameters[0].value))
        .collect();
    assert_eq!(got, ["dev/web-dev tag=base", "prod/web-prod tag=pinned"]);
    let dup = appset.replace("{cluster: qa, tag: dropped}", "{cluster: prod, tag: again}");
    let files = [
        ("argocd/merged.yaml", dup.as_str()),
        ("charts/web/Chart.yaml", CHART),
    ];
    let e = fleet_of(&files, SECTION).unwrap_err();
    assert!(
        e.message
            .contains("two parameter sets with the same mergeKeys values"),
        "{e}"
    );
}

const CLUSTERS_SECTION: &str = "  manifests: [\"argocd/**/*.yaml\"]\n  repoURL: [\"https://github.com/acme/gitops.git\"]\n  clusters:\n    - {name: Prod-EU, server: 'https://eu.example', labels: {env: prod, region: eu}}\n    - {name: dev, server: 'https://dev.example', project: apps, labels: {env: dev}, annotations: {team: web}}\n";

fn clusters_appset(generator: &str) -> String {
    format!(
        "kind: ApplicationSet\nmetadata: {{name: fleet}}\nspec:\n  generators:\n    - clusters: {generator}\n  template:\n    metadata: {{name: 'web-{{{{nameNormalized}}}}'}}\n    spec:\n      destination: {{server: '{{{{server}}}}'}}\n      source:\n        repoURL: https://github.com/acme/gitops\n        path: charts/web\n        helm: {{parameters: [{{name: tier, value: '{{{{values.tier}}}}'}}]}}\n"
    )
}

fn cluster_cells(generator: &str) -> Vec<String> {
    let text = clusters_appset(generator);
    let files = [
        ("argocd/fleet.yaml", text.as_str()),
        ("charts/web/Chart.yaml", CHART),
    ];
    let fleet = fleet_of(&files, CLUSTERS_SECTION).unwrap();
    fleet
        .cells()
        .unwrap()
        .iter()
        .map(|c| format!("{}/{} tier={}", c.environment, c.app, c.parameters[0].value))
        .collect()
}

#[test]
fn a_clusters_generator_reads_the_declared_clusters() {
    // No selector: every declared cluster and the local one, values templated per cluster.
    assert_eq!(
        cluster_cells("{values: {tier: '{{metadata.labels.env}}-{{name}}'}}"),
        [
            "dev.example/web-dev tier=dev-dev",
            "eu.example/web-prod-eu tier=prod-Prod-EU",
            "in-cluster/web-in-cluster tier={{metadata.labels.env}}-in-cluster",
        ]
    );
    // A selector leaves the local cluster out.
    assert_eq!(
        cluster_cells("{selector: {matchLabels: {env: prod}}, values: {tier: gold}}"),
        ["eu.example/web-prod-eu tier=gold"]
    );
    assert_eq!(
        cluster_cells("{selector: {matchExpressions: [{key: region, operator: DoesNotExist}]}, values: {tier: x}}"),
        ["dev.example/web-dev tier=x"]
    );
}

#[test]
fn a_template_patch_is_merged_into_each_application_as_argo_cd_applies_it() {
    let text = APPSET.replace(
        "  template:\n",
        "  templatePatch: |\n    spec:\n      project: elsewhere\n      source:\n        helm:\n          valueFiles: ['patched-{{cluster}}.yaml', values-{{cluster}}.yaml]\n          parameters: null\n  template:\n",
    );
    let fleet = fleet_of(
        &[
            ("argocd/appset.yaml", text.as_str()),
            ("charts/web/Chart.yaml", CHART),
            ("charts/web/values-dev.yaml", "a: 1\n"),
            ("charts/web/values-prod.yaml", "a: 1\n"),
            ("charts/web/patched-dev.yaml", "a: 1\n"),
            ("charts/web/patched-prod.yaml", "a: 1\n"),
        ],
        &format!("{SECTION}  environment: '{{project}}-{{destination}}'\n"),
    )
    .unwrap();
    let dev = cell(&fleet, "dev-guestbook");
    // Lists are replaced, null removes, the project stays the template's.
    assert_eq!(
        paths(dev),
        [
            ("charts/web/patched-dev.yaml", true),
            ("charts/web/values-dev.yaml", true)
        ]
    );
    assert!(dev.parameters.is_empty(), "{:?}", dev.parameters);
    assert_eq!(dev.environment, "default-dev");
    assert_eq!(
        paths(cell(&fleet, "prod-guestbook"))[0],
        ("charts/web/patched-prod.yaml", true)
    );

    // A missing file named by the patch is an error at its line in the manifest.
    let missing = text.replace("'patched-{{cluster}}.yaml'", "'gone-{{cluster}}.yaml'");
    let e = fleet_of(
        &[
            ("argocd/appset.yaml", missing.as_str()),
            ("charts/web/Chart.yaml", CHART),
            ("charts/web/values-dev.yaml", "a: 1\n"),
        ],
        SECTION,
    )
    .unwrap_err();
    assert_eq!(
        (e.file.as_str(), e.line),
        ("argocd/appset.yaml", Some(15)),
        "{e}"
    );
    assert!(
        e.message
            .contains("values file charts/web/gone-dev.yaml does not exist"),
        "{e}"
    );

    for (patch, line, message) in [
        (
            "  templatePatch: |\n    spec:\n      $patch: replace\n",
            11,
            "directive `$patch`",
        ),
        ("  templatePatch: |\n    - a\n", 11, "is not a mapping"),
        ("  templatePatch: {spec: {}}\n", 10, "must be a string"),
    ] {
        let text = APPSET.replace("  template:\n", &format!("{patch}  template:\n"));
        let e = fleet_of(
            &[
                ("argocd/appset.yaml", text.as_str()),
                ("charts/web/Chart.yaml", CHART),
            ],
            SECTION,
        )
        .unwrap_err();
        assert_eq!(
            (e.file.as_str(), e.line),
            ("argocd/appset.yaml", Some(line)),
            "{e}"
        );
        assert!(e.message.contains(message), "{e}");
    }
}

#[test]
fn every_manifest_error_is_reported_in_one_run() {
    let broken = APPSET.replace(
        "path: charts/web",
        "path: charts/nope\n        helm: {valueFiles: [gone.yaml]}",
    );
    let e = fleet_of(
        &[
            ("argocd/a.yaml", broken.as_str()),
            ("argocd/b.yaml", "kind: Application\nmetadata: {}\n"),
            ("charts/web/Chart.yaml", CHART),
        ],
        &format!("{SECTION}  clusters: []\n"),
    )
    .unwrap_err();
    let all: Vec<(String, Option<u32>)> = e.all().into_iter().map(|e| (e.file, e.line)).collect();
    assert_eq!(all.len(), 2, "{e}");
    assert_eq!(all[0].0, "argocd/a.yaml", "{e}");
    assert_eq!(all[1], ("argocd/b.yaml".to_string(), Some(1)), "{e}");
    assert!(
        e.to_string()
            .contains("2 errors in argocd/a.yaml, argocd/b.yaml"),
        "{e}"
    );
}

/// An Application `web` (in `namespace`) whose source is `charts/web`, with `helm` (YAML lines
/// indented by six spaces) as its helm section.
fn web_app(namespace: &str, helm: &str) -> String {
    format!(
        "kind: Application
metadata: {{name: web, namespace: {namespace}}}
spec:
  destination: {{name: dev, namespace: web}}
  source:
    repoURL: https://github.com/acme/gitops
    path: charts/web
{helm}"
    )
}

/// `(flag, name, value, file, line)` of each parameter of `cell`.
fn params(cell: &crate::Cell) -> Vec<(&str, &str, &str, &str, u32)> {
    cell.parameters
        .iter()
        .map(|p| {
            (
                p.flag(),
                p.name.as_str(),
                p.value.as_str(),
                p.file.as_str(),
                p.line,
            )
        })
        .collect()
}

#[test]
fn the_override_files_of_the_source_folder_are_merged_in_as_argo_cds_repo_server_does() {
    let app = web_app(
        "argocd",
        "    helm:
      releaseName: web
      parameters:
        - {name: image.tag, value: '1.0', forceString: true}
        - {name: image.pullPolicy, value: IfNotPresent}
",
    );
    // Argo CD Image Updater's write-back: `forcestring` as Go reads it, field names folded.
    let image_updater = "helm:
  parameters:
  - name: image.name
    value: nginx
    forcestring: true
  - name: image.tag
    value: latest
    forcestring: true
";
    let shared = "helm:\n  releaseName: shared\n  valueFiles: [values-dev.yaml]\n";
    let files = |app_file: &'static str| {
        vec![
            ("charts/web/Chart.yaml", CHART),
            ("charts/web/values.yaml", "a: 1\n"),
            ("charts/web/values-dev.yaml", "a: 2\n"),
            ("charts/web/.argocd-source.yaml", shared),
            ("charts/web/.argocd-source-web.yaml", app_file),
        ]
    };
    let fleet_with = |mut f: Vec<(&'static str, &'static str)>, app: &str| {
        let app = app.to_string();
        let app: &'static str = Box::leak(app.into_boxed_str());
        f.push(("argocd/web.yaml", app));
        fleet_of(&f, SECTION).unwrap()
    };
    let fleet = fleet_with(files(image_updater), &app);
    let c = cell(&fleet, "web");
    // The app's own file last: its parameters replace the manifest's; the shared file's
    // release name and values files stay, as the app's file sets neither.
    assert_eq!(
        params(c),
        [
            (
                "--set-string",
                "image.name",
                "nginx",
                "charts/web/.argocd-source-web.yaml",
                3
            ),
            (
                "--set-string",
                "image.tag",
                "latest",
                "charts/web/.argocd-source-web.yaml",
                6
            )
        ]
    );
    assert_eq!(c.release, "shared");
    assert_eq!(paths(c), [("charts/web/values-dev.yaml", true)]);
    assert_eq!(c.chart, "charts/web");

    // A replaced entry keeps each field it does not set from the entry at its index before:
    // Go decodes the new list into the old one's elements.
    let fleet = fleet_with(
        files("helm:\n  parameters:\n  - {name: image.tag, value: latest}\n"),
        &app,
    );
    assert_eq!(
        params(cell(&fleet, "web")),
        [(
            "--set-string",
            "image.tag",
            "latest",
            "charts/web/.argocd-source-web.yaml",
            3
        )]
    );
    // ... and past the end of a shorter list the old entries are still there for a later
    // file: the shared file leaves one entry, the app's file writes two again.
    let two = web_app(
        "argocd",
        "    helm:
      parameters:
        - {name: a, value: '1'}
        - {name: b, value: '2', forceString: true}
",
    );
    let fleet = fleet_with(
        vec![
            ("charts/web/Chart.yaml", CHART),
            (
                "charts/web/.argocd-source.yaml",
                "helm:\n  parameters: [{name: x, value: '9'}]\n",
            ),
            (
                "charts/web/.argocd-source-web.yaml",
                "helm:\n  parameters: [{name: p}, {name: q}]\n",
            ),
        ],
        &two,
    );
    assert_eq!(
        params(cell(&fleet, "web")),
        [
            ("--set", "p", "9", "charts/web/.argocd-source-web.yaml", 2),
            (
                "--set-string",
                "q",
                "2",
                "charts/web/.argocd-source-web.yaml",
                2
            )
        ]
    );

    // A null changes nothing (decoding leaves a field the merged JSON lacks as it was).
    let fleet = fleet_with(
        vec![
            ("charts/web/Chart.yaml", CHART),
            (
                "charts/web/.argocd-source.yaml",
                "helm: {parameters: null, releaseName: null}\n",
            ),
        ],
        &app,
    );
    let c = cell(&fleet, "web");
    assert_eq!(c.release, "web");
    assert_eq!(
        params(c),
        [
            (
                "--set",
                "image.pullPolicy",
                "IfNotPresent",
                "argocd/web.yaml",
                12
            ),
            ("--set-string", "image.tag", "1.0", "argocd/web.yaml", 11),
        ]
    );
}

#[test]
fn an_override_file_merges_values_object_key_by_key_and_names_its_own_lines() {
    let app = web_app(
        "argocd",
        "    helm:
      valuesObject:
        image: {repository: acme/web, tag: '1.0'}
        replicas: 2
",
    );
    let files = [
        ("argocd/web.yaml", app.as_str()),
        ("charts/web/Chart.yaml", CHART),
        (
            "charts/web/.argocd-source-web.yaml",
            "helm:\n  valuesObject:\n    image: {tag: latest}\n    replicas: null\n",
        ),
    ];
    let fleet = fleet_of(&files, SECTION).unwrap();
    let inline = cell(&fleet, "web").inline_values.clone().unwrap();
    let layer: serde_json::Value =
        serde_json::from_str(inline.text.trim_start_matches('\n')).unwrap();
    assert_eq!(
        layer,
        serde_json::json!({"image": {"repository": "acme/web", "tag": "latest"}})
    );
    assert_eq!(
        (inline.file.as_str(), inline.line, inline.field.as_str()),
        ("charts/web/.argocd-source-web.yaml", 3, "helm.valuesObject")
    );
    // Only in the file: its lines are its own, key by key.
    let plain = web_app("argocd", "");
    let files = [
        ("argocd/web.yaml", plain.as_str()),
        ("charts/web/Chart.yaml", CHART),
        (
            "charts/web/.argocd-source.yaml",
            "helm:\n  valuesObject:\n    image:\n      tag: latest\n      gone: null\n",
        ),
    ];
    let fleet = fleet_of(&files, SECTION).unwrap();
    let inline = cell(&fleet, "web").inline_values.clone().unwrap();
    assert_eq!(inline.file, "charts/web/.argocd-source.yaml");
    let lines: Vec<&str> = inline.text.lines().collect();
    assert_eq!(lines.len(), 4, "{:?}", inline.text);
    assert!(
        lines[3].contains("latest") && !inline.text.contains("gone"),
        "{:?}",
        inline.text
    );
}

#[test]
fn the_app_file_of_an_application_in_another_namespace_carries_its_namespace() {
    let app = web_app("team-a", "    helm: {releaseName: manifest}\n");
    let files = [
        ("argocd/web.yaml", app.as_str()),
        ("charts/web/Chart.yaml", CHART),
        (
            "charts/web/.argocd-source-web.yaml",
            "helm: {releaseName: wrong}\n",
        ),
        (
            "charts/web/.argocd-source-team-a_web.yaml",
            "helm: {releaseName: right}\n",
        ),
    ];
    let fleet = fleet_of(&files, SECTION).unwrap();
    assert_eq!(cell(&fleet, "web").release, "right");
    // With `argocd.namespace: team-a` the Application is in Argo CD's own namespace.
    let section = format!("{SECTION}  namespace: team-a\n");
    let fleet = fleet_of(&files, &section).unwrap();
    assert_eq!(cell(&fleet, "web").release, "wrong");
}

#[test]
fn an_override_file_argo_cd_would_read_otherwise_is_refused_at_its_line() {
    let app = web_app("argocd", "    helm: {releaseName: web}\n");
    for (text, line, wanted) in [
        (
            "Helm:\n  releaseName: x\n",
            1,
            "`Helm` is spelled unlike Argo CD's field `helm`",
        ),
        (
            "helm:\n  ReleaseName: x\n",
            2,
            "`ReleaseName` is spelled unlike Argo CD's field `releaseName`",
        ),
        (
            "helm:\n  \u{17F}kipTests: true\n",
            2,
            "spelled unlike Argo CD's field `skipTests`",
        ),
        (
            "helm:\n  parameters:\n  - {name: a, forceString: true, forcestring: false}\n",
            3,
            "`forcestring` sets `forceString` of this `helm.parameters` entry a second time",
        ),
        (
            "helm:\n  parameters: {name: a}\n",
            2,
            "`helm.parameters` must be a list",
        ),
        (
            "helm:\n  releaseName: 10\n",
            2,
            "`helm.releaseName` must be a string",
        ),
        ("- helm\n", 1, "must be a mapping"),
        (
            "# nothing but a comment\n",
            0,
            "Argo CD refuses an empty override file",
        ),
        ("~\n", 0, "Argo CD refuses an empty override file"),
    ] {
        let files = [
            ("argocd/web.yaml", app.as_str()),
            ("charts/web/Chart.yaml", CHART),
            ("charts/web/.argocd-source-web.yaml", text),
        ];
        let e = fleet_of(&files, SECTION).unwrap_err();
        assert!(e.message.contains(wanted), "{text:?}: {e}");
        assert_eq!(
            (e.file.as_str(), e.line),
            (
                "charts/web/.argocd-source-web.yaml",
                Some(line).filter(|l| *l > 0)
            ),
            "{text:?}: {e}"
        );
    }
}

#[test]
fn the_source_type_is_argo_cds_after_the_overrides_and_by_discovery() {
    let not_judged = |files: &[(&str, &str)], app: &str| -> Vec<String> {
        let mut all = files.to_vec();
        all.push(("argocd/web.yaml", app));
        let fleet = fleet_of(&all, SECTION).unwrap();
        fleet
            .argocd
            .not_judged
            .iter()
            .map(|n| n.reason.clone())
            .collect()
    };
    let bare = web_app("argocd", "");
    let explicit = web_app("argocd", "    helm: {releaseName: web}\n");
    // `helm: {}` is no type: Argo CD's `NormalizeSource` takes a zero `helm` away.
    let zero = web_app("argocd", "    helm: {parameters: [], releaseName: ''}\n");
    let kustomization = "resources: [pod.yaml]\n";
    // Chart.yaml and a kustomization side by side: the later name in byte order wins.
    for name in ["kustomization.yaml", "kustomization.yml", "Kustomization"] {
        let files = [
            ("charts/web/Chart.yaml", CHART),
            (&format!("charts/web/{name}")[..], kustomization),
        ];
        let files: Vec<(&str, &str)> = files.to_vec();
        let reasons = not_judged(&files, &bare);
        assert!(
            reasons.len() == 1 && reasons[0].contains("Argo CD renders a folder with both Chart.yaml and a kustomization with Kustomize"),
            "{name}: {reasons:?}"
        );
        // An explicit `helm:` makes it a Helm source; a zero one does not.
        assert!(not_judged(&files, &explicit).is_empty(), "{name}");
        assert_eq!(not_judged(&files, &zero).len(), 1, "{name}");
    }
    // A later name ending in `Chart.yaml` makes it Helm again.
    let files = [
        ("charts/web/Chart.yaml", CHART),
        ("charts/web/kustomization.yaml", kustomization),
        ("charts/web/zChart.yaml", CHART),
    ];
    assert!(not_judged(&files, &bare).is_empty());
    // An override file can add a type: with the manifest's `helm:` that is two, which Argo CD
    // refuses; alone it is that type.
    let files = [
        ("charts/web/Chart.yaml", CHART),
        ("charts/web/.argocd-source.yaml", "kustomize: {}\n"),
    ];
    let reasons = not_judged(&files, &explicit);
    assert!(
        reasons.len() == 1
            && reasons[0].contains("multiple application sources defined (helm, kustomize)"),
        "{reasons:?}"
    );
    let reasons = not_judged(&files, &bare);
    assert!(
        reasons.len() == 1 && reasons[0].contains("kustomize application"),
        "{reasons:?}"
    );
    // ... and a `helm:` of an override file makes a Helm source of a folder Argo CD would
    // otherwise render as Kustomize.
    let files = [
        ("charts/web/Chart.yaml", CHART),
        ("charts/web/kustomization.yaml", kustomization),
        (
            "charts/web/.argocd-source-web.yaml",
            "helm: {releaseName: web}\n",
        ),
    ];
    assert!(not_judged(&files, &bare).is_empty());
}

#[test]
fn argo_cds_variables_are_substituted_in_value_files_file_parameters_and_parameters() {
    let app = "kind: Application
metadata: {name: web, namespace: argocd}
spec:
  project: apps
  destination: {name: dev, namespace: team}
  source:
    repoURL: https://github.com/acme/gitops
    path: charts/web
    targetRevision: main
    helm:
      valueFiles:
        - values-$ARGOCD_APP_NAME.yaml
        - ${ARGOCD_APP_NAMESPACE}/$ARGOCD_APP_PROJECT_NAME.yaml
        - $ARGOCD_APP_NAME/extra.yaml
      fileParameters:
        - {name: config, path: files/$ARGOCD_APP_SOURCE_TARGET_REVISION.txt}
      parameters:
        - {name: pinned, value: $UNSET_IN_ARGOCD}
        - {name: revision, value: '$ARGOCD_APP_REVISION_SHORT,$$HOME'}
        - {name: path, value: '${ARGOCD_APP_SOURCE_PATH}', forceString: true}
";
    let fleet = fleet_of(
        &[
            ("argocd/web.yaml", app),
            ("charts/web/Chart.yaml", CHART),
            ("charts/web/values-web.yaml", "a: 1\n"),
            ("charts/web/team/apps.yaml", "a: 2\n"),
            ("charts/web/web/extra.yaml", "a: 3\n"),
            ("charts/web/files/main.txt", "x"),
            // What a literal reading would take instead.
            ("charts/web/values-$ARGOCD_APP_NAME.yaml", "a: 9\n"),
        ],
        SECTION,
    )
    .unwrap();
    let c = cell(&fleet, "web");
    assert_eq!(
        paths(c),
        [
            ("charts/web/values-web.yaml", true),
            ("charts/web/team/apps.yaml", true),
            ("charts/web/web/extra.yaml", true)
        ]
    );
    let got: Vec<(&str, &str, &str)> = c
        .parameters
        .iter()
        .map(|p| (p.flag(), p.name.as_str(), p.value.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            // Unknown to Argo CD: empty, so the chart's unpinned default applies.
            ("--set", "pinned", ""),
            ("--set", "revision", "0000000\\,$HOME"),
            ("--set-string", "path", "charts/web"),
            ("--set-file", "config", "charts/web/files/main.txt"),
        ]
    );
    // `$name/…` that is neither a ref nor one of Argo CD's variables stays an error.
    let bad = app.replace("$ARGOCD_APP_NAME/extra.yaml", "$nothing/extra.yaml");
    let e = fleet_of(
        &[
            ("argocd/web.yaml", bad.as_str()),
            ("charts/web/Chart.yaml", CHART),
            ("charts/web/values-web.yaml", "a: 1\n"),
            ("charts/web/team/apps.yaml", "a: 2\n"),
            ("charts/web/files/main.txt", "x"),
        ],
        SECTION,
    )
    .unwrap_err();
    assert!(
        e.message.contains("names no source with `ref: nothing`"),
        "{e}"
    );
}

#[test]
fn null_items_and_empty_lists_of_an_override_decode_as_go_decodes_them() {
    let app = web_app(
        "argocd",
        "    helm:
      valueFiles: [sidecar.yaml, base.yaml]
      parameters:
        - {name: sidecar.enabled, value: 'true'}
",
    );
    let run = |source: &'static str, app_file: Option<&'static str>| {
        let mut files = vec![
            ("argocd/web.yaml", app.as_str()),
            ("charts/web/Chart.yaml", CHART),
            ("charts/web/sidecar.yaml", "a: 1\n"),
            ("charts/web/base.yaml", "a: 2\n"),
            ("charts/web/pin.yaml", "a: 3\n"),
            ("charts/web/.argocd-source.yaml", source),
        ];
        if let Some(f) = app_file {
            files.push(("charts/web/.argocd-source-web.yaml", f));
        }
        fleet_of(&files, SECTION)
    };
    // A null item keeps the entry at its index (evanphx/json-patch keeps it, Go ignores it).
    let fleet = run(
        "helm:\n  valueFiles: [null, pin.yaml]\n  parameters: [null, {name: b, value: '2'}]\n",
        None,
    )
    .unwrap();
    let c = cell(&fleet, "web");
    assert_eq!(
        paths(c),
        [
            ("charts/web/sidecar.yaml", true),
            ("charts/web/pin.yaml", true)
        ]
    );
    let names: Vec<(&str, &str)> = c
        .parameters
        .iter()
        .map(|p| (p.name.as_str(), p.value.as_str()))
        .collect();
    assert_eq!(names, [("sidecar.enabled", "true"), ("b", "2")]);
    // A null item with no entry before it is an entry with nothing set: a parameter without a
    // name, refused.
    let e = run("helm:\n  parameters: [{name: a}, null]\n", None).unwrap_err();
    assert!(e.message.contains("has no name"), "{e}");
    // An empty list is a new slice: a later file's entries inherit nothing.
    let fleet = run(
        "helm:\n  parameters: []\n",
        Some("helm:\n  parameters: [{name: image}]\n"),
    )
    .unwrap();
    let c = cell(&fleet, "web");
    assert_eq!(
        c.parameters
            .iter()
            .map(|p| (p.name.as_str(), p.value.as_str()))
            .collect::<Vec<_>>(),
        [("image", "")]
    );
}

#[test]
fn an_empty_values_object_still_hides_values() {
    // Argo CD's `ValuesYAML` takes `valuesObject` whenever it is there: `{}` is the YAML `{}`.
    let app = web_app(
        "argocd",
        "    helm:
      values: |
        sidecar: {enabled: false}
      valuesObject: {}
",
    );
    let fleet = fleet_of(
        &[
            ("argocd/web.yaml", app.as_str()),
            ("charts/web/Chart.yaml", CHART),
        ],
        SECTION,
    )
    .unwrap();
    assert!(cell(&fleet, "web").inline_values.is_none());
}

#[test]
fn an_empty_chart_is_a_git_source_and_a_zero_kustomize_is_no_type() {
    let app = "kind: Application
metadata: {name: web}
spec:
  destination: {name: dev}
  source: {repoURL: https://github.com/acme/gitops, path: charts/web, chart: '', kustomize: {}}
";
    let fleet = fleet_of(
        &[("argocd/web.yaml", app), ("charts/web/Chart.yaml", CHART)],
        SECTION,
    )
    .unwrap();
    assert!(
        fleet.argocd.not_judged.is_empty(),
        "{:?}",
        fleet.argocd.not_judged
    );
    assert_eq!(cell(&fleet, "web").chart, "charts/web");
}

#[test]
fn an_application_set_makes_its_applications_in_its_own_namespace() {
    let appset = |own: &str, template: &str| {
        format!(
            "kind: ApplicationSet
metadata: {{name: set{own}}}
spec:
  generators: [{{list: {{elements: [{{app: web}}]}}}}]
  template:
    metadata: {{name: '{{{{app}}}}'{template}}}
    spec:
      destination: {{name: dev, namespace: web}}
      source: {{repoURL: https://github.com/acme/gitops, path: charts/web}}
"
        )
    };
    let release = |manifest: &str| {
        let fleet = fleet_of(
            &[
                ("argocd/set.yaml", manifest),
                ("charts/web/Chart.yaml", CHART),
                (
                    "charts/web/.argocd-source-web.yaml",
                    "helm: {releaseName: web-file}\n",
                ),
                (
                    "charts/web/.argocd-source-team-a_web.yaml",
                    "helm: {releaseName: team-file}\n",
                ),
            ],
            SECTION,
        )
        .unwrap();
        cell(&fleet, "web").release.clone()
    };
    // The template's namespace is overruled by the ApplicationSet's (here: none, Argo CD's).
    assert_eq!(release(&appset("", ", namespace: team-a")), "web-file");
    // An ApplicationSet in another namespace makes its applications there.
    assert_eq!(release(&appset(", namespace: team-a", "")), "team-file");
}

#[test]
fn a_matrix_that_evaluates_a_git_generator_too_often_is_refused_quickly() {
    let elements: String = (0..20_000).map(|i| format!("{{a: '{i}'}},")).collect();
    let appset = format!(
        "kind: ApplicationSet
metadata: {{name: slow}}
spec:
  generators:
    - matrix:
        generators:
          - list: {{elements: [{elements}]}}
          - git:
              repoURL: https://github.com/acme/gitops
              directories: [{{path: 'nothing/*'}}]
  template:
    metadata: {{name: 'app-{{{{a}}}}'}}
    spec:
      destination: {{name: dev}}
      source: {{repoURL: https://github.com/acme/gitops, path: charts/web}}
"
    );
    let mut files: Vec<(String, String)> = (0..3000)
        .map(|i| (format!("folders/f{i}/x"), String::new()))
        .collect();
    files.push(("argocd/slow.yaml".into(), appset));
    files.push(("charts/web/Chart.yaml".into(), CHART.into()));
    let files: Vec<(&str, &str)> = files
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let started = std::time::Instant::now();
    let e = fleet_of(&files, SECTION).unwrap_err();
    assert!(
        e.message
            .contains("its git generators take more than 5000000 steps"),
        "{e}"
    );
    // Bounded: generous, since the test only checks it is not the minutes it used to take.
    assert!(
        started.elapsed() < std::time::Duration::from_secs(60),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn a_source_at_another_revision_is_not_judged() {
    let app = |revision: &str| {
        format!(
            "kind: Application
metadata: {{name: web}}
spec:
  destination: {{name: dev}}
  source: {{repoURL: https://github.com/acme/gitops, path: charts/web, targetRevision: '{revision}'}}
"
        )
    };
    let judged = |manifest: &str, section: &str| {
        let fleet = fleet_of(
            &[
                ("argocd/web.yaml", manifest),
                ("charts/web/Chart.yaml", CHART),
            ],
            section,
        )
        .unwrap();
        let reasons: Vec<String> = fleet
            .argocd
            .not_judged
            .iter()
            .map(|n| n.reason.clone())
            .collect();
        (fleet.argocd.cells.len(), reasons)
    };
    for revision in ["", "HEAD", "main", "master", "refs/heads/main"] {
        assert_eq!(judged(&app(revision), SECTION).0, 1, "{revision:?}");
    }
    // A commit, a tag, another branch: Argo CD renders that revision, not this checkout.
    for revision in [
        "0123456789abcdef0123456789abcdef01234567",
        "v1.2.0",
        "release-1",
    ] {
        let (cells, reasons) = judged(&app(revision), SECTION);
        assert_eq!(cells, 0, "{revision}");
        assert!(
            reasons[0].contains(&format!("its source is revision `{revision}`")),
            "{reasons:?}"
        );
    }
    // argocd.targetRevisions names the branch a fleet deploys from.
    let section = format!("{SECTION}  targetRevisions: [release-1]\n");
    assert_eq!(judged(&app("release-1"), &section).0, 1);
    assert_eq!(judged(&app("main"), &section).0, 0);
}

#[test]
fn an_override_reads_the_last_of_a_repeated_key_and_merges_large_maps_in_linear_time() {
    let app = web_app("argocd", "    helm: {releaseName: manifest}\n");
    // YAML-to-JSON keeps the last `helm:`: the first one's release name is gone with it.
    let files = [
        ("argocd/web.yaml", app.as_str()),
        ("charts/web/Chart.yaml", CHART),
        (
            "charts/web/.argocd-source.yaml",
            "helm: {releaseName: first, namespace: first}\nhelm: {namespace: last}\n",
        ),
    ];
    let fleet = fleet_of(&files, SECTION).unwrap();
    let c = cell(&fleet, "web");
    assert_eq!(
        (c.release.as_str(), c.namespace.as_str()),
        ("manifest", "last")
    );
    // 40 000 keys on each side of a valuesObject merge.
    let keys = |prefix: &str, n: usize| -> String {
        (0..n)
            .map(|i| format!("        k{i}: {prefix}{i}\n"))
            .collect()
    };
    let app = web_app(
        "argocd",
        &format!("    helm:\n      valuesObject:\n{}", keys("a", 40_000)),
    );
    let patch = format!(
        "helm:\n  valuesObject:\n{}",
        keys("b", 40_000).replace("        ", "    ")
    );
    let files = [
        ("argocd/web.yaml", app.as_str()),
        ("charts/web/Chart.yaml", CHART),
        ("charts/web/.argocd-source.yaml", patch.as_str()),
    ];
    let started = std::time::Instant::now();
    let fleet = fleet_of(&files, SECTION).unwrap();
    let inline = cell(&fleet, "web").inline_values.clone().unwrap();
    assert!(
        inline.text.contains("\"k39999\":\"b39999\""),
        "{}",
        &inline.text[..200]
    );
    // A bound, not a speed target: a scan per key took half a minute here, the index 0.6 s.
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}
