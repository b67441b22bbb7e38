//! `goTemplate: true` ApplicationSets evaluated by real helm (`IMAGEGATE_TEST_HELM`, run on
//! Helm 3 and 4): the parameter shapes of each generator as Argo CD makes them for Go
//! templates, sprig and Argo CD's own functions, whitespace trimming, the `missingkey` options,
//! and the errors, each at the line of the string and naming the element.
//!
//! Every expectation is what Argo CD's controller renders (Go's `text/template` with its
//! function map), written by hand from the manifests.

mod real_helm;
use imagegate_engine::Config;
use imagegate_fleet::{Cell, ConfigError, Repo};
use imagegate_render::HelmGoTemplates;
use real_helm::helm;

const CHART: &str = "apiVersion: v2\nname: web\nversion: 0.1.0\n";

/// The Argo CD cells of a repository holding `files` and an `imagegate.yaml` reading
/// `argocd/*.yaml`, with `clusters` (YAML of `argocd.clusters`) if any.
fn load(files: &[(&str, &str)], clusters: &str) -> Result<Vec<Cell>, ConfigError> {
    let dir = tempfile::tempdir().unwrap();
    let mut all: Vec<(&str, &str)> = vec![("charts/web/Chart.yaml", CHART)];
    all.extend_from_slice(files);
    for (path, text) in all {
        let p = dir.path().join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    let config = format!(
        "version: 1\nargocd:\n  manifests: [\"argocd/*.yaml\"]\n  repoURL: [\"https://github.com/acme/gitops\"]\n{clusters}"
    );
    let repo = Repo::open(dir.path()).unwrap();
    let helm = helm();
    let templates = HelmGoTemplates::new(&helm);
    let cfg = Config::from_text_with(repo, "imagegate.yaml", &config, Some(&templates))?;
    let mut cells = cfg.argocd.cells.clone();
    cells.sort_by(|a, b| a.app.cmp(&b.app));
    Ok(cells)
}

/// An ApplicationSet with `goTemplate: true`, these generators (YAML lines under
/// `generators:`), and a template whose name, destination, valueFiles and one parameter are
/// the given strings.
fn appset(options: &str, generators: &str, name: &str, dest: &str, value: &str) -> String {
    format!(
        "apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata: {{name: set}}
spec:
  goTemplate: true
  goTemplateOptions: [{options}]
  generators:
{generators}
  template:
    metadata: {{name: '{name}'}}
    spec:
      project: apps
      destination: {{name: '{dest}', namespace: web}}
      source:
        repoURL: https://github.com/acme/gitops
        path: charts/web
        helm:
          parameters:
            - {{name: image.tag, value: '{value}'}}
"
    )
}

/// (app, environment, the parameter's value) of each cell.
fn rows(cells: &[Cell]) -> Vec<(String, String, String)> {
    cells
        .iter()
        .map(|c| {
            (
                c.app.clone(),
                c.environment.clone(),
                c.parameters
                    .first()
                    .map(|p| p.value.clone())
                    .unwrap_or_default(),
            )
        })
        .collect()
}

fn row(app: &str, env: &str, value: &str) -> (String, String, String) {
    (app.into(), env.into(), value.into())
}

#[test]
fn helm_evaluates_list_elements_with_sprig_and_argo_cds_functions() {
    let generators = "    - list:
        elements:
          - {cluster: Dev_EU.1, tag: '1.0', replicas: 3, big: 1234567, ratio: 1.10, nested: {image: {repo: ghcr.io/acme/web}}, zones: [a, b]}
          - {cluster: prod, tag: '2.0', replicas: 1, big: 7, ratio: 0.5, nested: {image: {repo: docker.io/web}}, zones: [c]}";
    let text = appset(
        "",
        generators,
        "{{ .cluster | normalize }}-{{ .replicas }}",
        "{{- \"\" -}}  {{ .cluster | lower | trunc 3 }}  {{- \"\" }}",
        "{{ .nested.image.repo }}:{{ .tag }}/{{ .big }}/{{ .ratio }}/{{ index .zones 0 }}/{{ len .zones }}/{{ .missing }}/{{ default \"d\" .missing }}/{{ upper (replace \".\" \"-\" .tag) }}/{{ printf \"%03d\" (int .replicas) }}/{{ toJson .zones }}/{{ .cluster | sha256sum | trunc 6 }}",
    );
    let cells = load(&[("argocd/set.yaml", &text)], "").unwrap();
    assert_eq!(
        rows(&cells),
        [
            row(
                "dev-eu.1-3",
                "dev",
                "ghcr.io/acme/web:1.0/1.234567e+06/1.1/a/2/<no value>/d/1-0/003/[\"a\"\\,\"b\"]/e850aa"
            ),
            row(
                "prod-1",
                "pro",
                "docker.io/web:2.0/7/0.5/c/1/<no value>/d/2-0/001/[\"c\"]/6754af"
            ),
        ]
    );
}

#[test]
fn helm_normalizes_as_argo_cds_sanitize_name() {
    // SanitizeName: lowercase, [^-a-z0-9.] to `-`, 253 bytes, trimmed of `-` and `.`.
    let long = "A".repeat(300);
    let cases = [
        ("My_App.v2-", "my-app.v2"),
        ("--x--", "x"),
        ("Ünïcode App", "-n-code-app"),
        (".dot.", "dot"),
        (long.as_str(), &"a".repeat(253)),
    ];
    let elements: String = cases
        .iter()
        .enumerate()
        .map(|(i, (name, _))| format!("          - {{i: '{i}', name: '{name}'}}\n"))
        .collect();
    let text = appset(
        "",
        &format!("    - list:\n        elements:\n{}", elements.trim_end()),
        "app-{{ .i }}",
        "d{{ .i }}",
        "{{ normalize .name }}|{{ .name | normalize }}",
    );
    let cells = load(&[("argocd/set.yaml", &text)], "").unwrap();
    for (i, (_, want)) in cases.iter().enumerate() {
        let cell = cells.iter().find(|c| c.app == format!("app-{i}")).unwrap();
        let want = want.trim_start_matches('-');
        assert_eq!(
            cell.parameters[0].value,
            format!("{want}|{want}"),
            "case {i}"
        );
    }
}

#[test]
fn helm_sees_git_and_cluster_parameters_nested_as_argo_cd_makes_them() {
    let files = [
        (
            "tenants/blue/config.yaml",
            "team: {name: Blue}\nport: 8080\n",
        ),
        (
            "tenants/green/config.yaml",
            "- team: {name: Green}\n  port: 9090\n",
        ),
        ("apps/web/keep", ""),
        ("apps/api/keep", ""),
    ];
    let files_set = appset(
        "",
        "    - git:\n        repoURL: https://github.com/acme/gitops\n        revision: HEAD\n        files: [{path: 'tenants/*/config.yaml'}]",
        "{{ .path.basename }}-{{ .team.name | lower }}",
        "{{ index .path.segments 0 }}",
        "{{ .path.path }}|{{ .path.filename }}|{{ .path.filenameNormalized }}|{{ .port }}|{{ .path.basenameNormalized }}",
    );
    let dirs_set = appset(
        "\"missingkey=error\"",
        "    - git:\n        repoURL: https://github.com/acme/gitops\n        revision: HEAD\n        pathParamPrefix: app\n        directories: [{path: 'apps/*'}]",
        "dir-{{ .app.path.basename }}",
        "{{ join \"_\" .app.path.segments }}",
        "{{ .app.path.path }}",
    )
    .replace("name: set", "name: dirs");
    let clusters_set = appset(
        "",
        "    - clusters:\n        selector: {matchLabels: {env: prod}}\n        values: {tier: gold}",
        "c-{{ .name }}",
        "{{ .metadata.labels.env }}-{{ .nameNormalized }}",
        "{{ .server }}|{{ .values.tier }}|{{ .metadata.annotations.owner }}|{{ .project }}",
    )
    .replace("name: set", "name: clus");
    let mut all: Vec<(&str, &str)> = files.to_vec();
    all.push(("argocd/files.yaml", &files_set));
    all.push(("argocd/dirs.yaml", &dirs_set));
    all.push(("argocd/clusters.yaml", &clusters_set));
    let cells = load(
        &all,
        "  clusters:\n    - {name: EU_1, server: https://eu.example, labels: {env: prod}, annotations: {owner: ops}}\n    - {name: us, server: https://us.example, labels: {env: dev}}\n",
    )
    .unwrap();
    assert_eq!(
        rows(&cells),
        [
            row(
                "blue-blue",
                "tenants",
                "tenants/blue|config.yaml|config.yaml|8080|blue"
            ),
            row("c-EU_1", "prod-eu-1", "https://eu.example|gold|ops|"),
            row("dir-api", "apps_api", "apps/api"),
            row("dir-web", "apps_web", "apps/web"),
            row(
                "green-green",
                "tenants",
                "tenants/green|config.yaml|config.yaml|9090|green"
            ),
        ]
    );
}

#[test]
fn helm_renders_a_go_template_matrix_with_the_first_generators_parameters_winning() {
    let generators = "    - matrix:
        generators:
          - git:
              repoURL: https://github.com/acme/gitops
              revision: HEAD
              directories: [{path: 'apps/*'}]
          - list:
              elements:
                - {env: dev, path: ignored}
                - {env: prod, path: ignored}";
    let text = appset(
        "\"missingkey=error\"",
        generators,
        "{{ .env }}-{{ .path.basename }}",
        "{{ .env }}",
        "{{ .path.path }}",
    );
    let cells = load(&[("apps/web/keep", ""), ("argocd/set.yaml", &text)], "").unwrap();
    assert_eq!(
        rows(&cells),
        [
            row("dev-web", "dev", "apps/web"),
            row("prod-web", "prod", "apps/web"),
        ]
    );
}

/// The second generator of a matrix is put through the first one's parameters as Go
/// templates, as Argo CD's `InterpolateGenerator` does: here the app files read are those of
/// each cluster's type. A missing key is Go's `<no value>` (so no file matches) or, with
/// `missingkey=error`, Argo CD's error at the second generator's string.
#[test]
fn helm_feeds_a_go_template_matrix_first_generators_parameters_into_the_second() {
    let generators = "    - matrix:
        generators:
          - git:
              repoURL: https://github.com/acme/gitops
              revision: HEAD
              files: [{path: 'clusters/*.yaml'}]
          - git:
              repoURL: https://github.com/acme/gitops
              revision: HEAD
              pathParamPrefix: file
              files: [{path: 'apps/{{ .cluster.type }}/*.yaml'}]";
    let files = [
        (
            "clusters/dev.yaml",
            "env: dev\ncluster: {name: aks-dev, type: azure}\n",
        ),
        (
            "clusters/local.yaml",
            "env: local\ncluster: {name: k3d-local, type: k3d}\n",
        ),
        ("apps/azure/web.yaml", "app: {name: web}\n"),
        ("apps/azure/api.yaml", "app: {name: api}\n"),
        ("apps/k3d/web.yaml", "app: {name: web}\n"),
    ];
    let text = appset(
        "\"missingkey=error\"",
        generators,
        "{{ .env }}-{{ .app.name }}",
        "{{ .cluster.name }}",
        "{{ .file.path.path }}|{{ .path.filename }}",
    );
    let mut all = files.to_vec();
    all.push(("argocd/set.yaml", &text));
    let cells = load(&all, "").unwrap();
    assert_eq!(
        rows(&cells),
        [
            row("dev-api", "aks-dev", "apps/azure|dev.yaml"),
            row("dev-web", "aks-dev", "apps/azure|dev.yaml"),
            row("local-web", "k3d-local", "apps/k3d|local.yaml"),
        ]
    );
    // A key the first generator's files lack.
    let missing = text.replace(".cluster.type }}/", ".cluster.kind }}/");
    let mut all = files.to_vec();
    all.push(("argocd/set.yaml", &missing));
    let e = load(&all, "").unwrap_err();
    assert_eq!(
        (e.file.as_str(), e.line),
        ("argocd/set.yaml", Some(18)),
        "{e}"
    );
    assert!(
        e.message
            .contains("generators[0].matrix.generators[0].git.files: clusters/dev.yaml")
            && e.message.contains("map has no entry for key \"kind\""),
        "{e}"
    );
    let lax = missing.replace("[\"missingkey=error\"]", "[]");
    let mut all = files.to_vec();
    all.push(("argocd/set.yaml", &lax));
    assert_eq!(rows(&load(&all, "").unwrap()), []);
}

/// A clusters generator's `values` are Go templates executed with each cluster's parameters
/// (not with each other), as Argo CD's `appendTemplatedValues` does.
#[test]
fn helm_executes_templated_cluster_values_with_each_clusters_parameters() {
    let set = appset(
        "",
        "    - clusters:\n        values:\n          tier: gold\n          short: '{{ .name | lower | trunc 2 }}'\n          region: '{{ .metadata.labels.region }}-{{ .values }}'",
        "c-{{ .nameNormalized }}",
        "{{ .values.short }}",
        "{{ .values.tier }}|{{ .values.region }}",
    );
    let cells = load(
        &[("argocd/set.yaml", &set)],
        "  clusters:\n    - {name: EU_1, server: https://eu.example, labels: {region: eu}}\n    - {name: US_2, server: https://kubernetes.default.svc, labels: {region: us}}\n",
    )
    .unwrap();
    assert_eq!(
        rows(&cells),
        [
            row("c-eu-1", "eu", "gold|eu-<no value>"),
            row("c-us-2", "us", "gold|us-<no value>"),
        ]
    );
}

#[test]
fn missing_keys_follow_go_template_options() {
    let generators = "    - list:\n        elements:\n          - {cluster: dev}\n          - {cluster: prod, tag: '2.0'}";
    // missingkey=error: Argo CD fails on the first element, at the string's line.
    let strict = appset(
        "\"missingkey=error\"",
        generators,
        "{{ .cluster }}",
        "{{ .cluster }}",
        "v-{{ .tag }}",
    );
    let e = load(&[("argocd/set.yaml", &strict)], "").unwrap_err();
    assert_eq!(
        (e.file.as_str(), e.line),
        ("argocd/set.yaml", Some(22)),
        "{e}"
    );
    assert!(
        e.message.contains("generators[0].list.elements[0]")
            && e.message.contains("map has no entry for key \"tag\""),
        "{e}"
    );
    // The default prints Go's `<no value>`; zero too (the map's element type is interface{}).
    for options in [
        "",
        "\"missingkey=default\"",
        "\"missingkey=zero\"",
        "\"missingkey=error\", \"missingkey=invalid\"",
    ] {
        let lax = appset(
            options,
            generators,
            "{{ .cluster }}",
            "{{ .cluster }}",
            "v-{{ .tag }}",
        );
        let cells = load(&[("argocd/set.yaml", &lax)], "").unwrap();
        assert_eq!(
            rows(&cells),
            [
                row("dev", "dev", "v-<no value>"),
                row("prod", "prod", "v-2.0")
            ],
            "{options}"
        );
    }
    let bad = appset("\"missingkey=nope\"", generators, "a", "b", "c");
    let e = load(&[("argocd/set.yaml", &bad)], "").unwrap_err();
    assert!(
        e.message.contains("`missingkey=nope` is not an option"),
        "{e}"
    );
}

#[test]
fn template_errors_are_configuration_errors_at_the_strings_line() {
    let generators = "    - list:\n        elements:\n          - {cluster: dev, tag: '1.0'}\n          - {cluster: prod, tag: '2.0'}";
    let cases = [
        // Functions of helm's that Argo CD's map lacks fail as they do in Argo CD.
        ("{{ include \"x\" . }}", "function \"include\" not defined"),
        (
            "{{ .tag | required \"m\" }}",
            "function \"required\" not defined",
        ),
        ("{{ .tag | fromJson }}", "mustFromJson"),
        // Go's parse and execution errors, from Go itself.
        ("{{ .tag ) }}", "unexpected"),
        (
            "{{ if eq .cluster \"prod\" }}{{ fail \"no prod\" }}{{ end }}",
            "no prod",
        ),
        ("{{ .tag.nope }}", "can't evaluate field nope"),
    ];
    for (value, want) in cases {
        let text = appset("", generators, "{{ .cluster }}", "{{ .cluster }}", value);
        let e = load(&[("argocd/set.yaml", &text)], "").unwrap_err();
        assert_eq!(
            (e.file.as_str(), e.line),
            ("argocd/set.yaml", Some(22)),
            "{value}: {e}"
        );
        assert!(e.message.contains(want), "{value}: {e}");
    }
    // An execution error names the element it happened on.
    let text = appset(
        "",
        generators,
        "{{ .cluster }}",
        "{{ .cluster }}",
        "{{ if eq .cluster \"prod\" }}{{ fail \"no prod\" }}{{ end }}",
    );
    let e = load(&[("argocd/set.yaml", &text)], "").unwrap_err();
    assert!(e.message.contains("generators[0].list.elements[1]"), "{e}");
}

#[test]
fn helm_renders_a_template_patch_per_element_and_it_is_merged_into_each_application() {
    let text = "apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata: {name: set}
spec:
  goTemplate: true
  goTemplateOptions: [missingkey=error]
  generators:
    - list:
        elements:
          - {env: dev, files: [values.yaml, values-dev.yaml], autoSync: true}
          - {env: prod, files: [values-prod.yaml], autoSync: false}
  template:
    metadata: {name: '{{ .env }}-web'}
    spec:
      project: apps
      destination: {name: '{{ .env }}', namespace: web}
      source:
        repoURL: https://github.com/acme/gitops
        path: charts/web
        helm:
          valueFiles: [values.yaml]
          parameters: [{name: env, value: '{{ .env }}'}]
  templatePatch: |
    spec:
      project: '{{ .env }}-escapes'
      source:
        helm:
          valueFiles:
          {{- range .files }}
            - {{ . }}
          {{- end }}
    {{- if not .autoSync }}
          parameters: null
    {{- end }}
";
    let cells = load(
        &[
            ("charts/web/values.yaml", "a: 1\n"),
            ("charts/web/values-dev.yaml", "a: 1\n"),
            ("charts/web/values-prod.yaml", "a: 1\n"),
            ("argocd/set.yaml", text),
        ],
        "  environment: '{project}-{destination}'\n",
    )
    .unwrap();
    let got: Vec<(String, String, Vec<String>, usize)> = cells
        .iter()
        .map(|c| {
            (
                c.app.clone(),
                c.environment.clone(),
                c.value_files.iter().map(|v| v.path.clone()).collect(),
                c.parameters.len(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (
                "dev-web".to_string(),
                // The patch cannot move the Application to another project.
                "apps-dev".to_string(),
                vec![
                    "charts/web/values.yaml".to_string(),
                    "charts/web/values-dev.yaml".to_string()
                ],
                1
            ),
            (
                "prod-web".to_string(),
                "apps-prod".to_string(),
                vec!["charts/web/values-prod.yaml".to_string()],
                0
            ),
        ]
    );
    // A values file the patch names points at its line in the manifest.
    let missing = text.replace("values-prod.yaml]", "values-gone.yaml]");
    let e = load(
        &[
            ("charts/web/values.yaml", "a: 1\n"),
            ("charts/web/values-dev.yaml", "a: 1\n"),
            ("argocd/set.yaml", &missing),
        ],
        "",
    )
    .unwrap_err();
    assert!(
        e.message
            .contains("values file charts/web/values-gone.yaml does not exist"),
        "{e}"
    );
    assert_eq!(e.file, "argocd/set.yaml");
}
