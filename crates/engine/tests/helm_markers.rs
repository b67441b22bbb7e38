//! The marker render in place against the marker render of a scratch copy, with real helm
//! (`IMAGEGATE_TEST_HELM`, run on Helm 3 and 4): for every cell of the bundled fleets whose
//! chart can be rendered in place, a finding of each image rule on every image site, and the
//! verdict and the per-part origins of each must be the same from both renders, including
//! "hard-coded in the template" (which a run asks the copy to confirm all the same).

mod real_helm;
use imagegate_decode::PullPolicy;
use imagegate_engine::pipeline::decode_options;
use imagegate_engine::provenance::{Rerender, Trace};
use imagegate_engine::renderer::render_each;
use imagegate_engine::{Config, HelmRenderer};
use imagegate_policy::{CellContext, Finding, RuleId, Severity};
use imagegate_render::RenderOptions;
use real_helm::helm;
use std::path::{Path, PathBuf};

/// One finding of every image rule on each image site of `decoded`.
fn findings_of(cell: &imagegate_fleet::Cell, decoded: &imagegate_decode::Decoded) -> Vec<Finding> {
    let ctx = CellContext {
        environment: cell.environment.clone(),
        app: cell.app.clone(),
        chart: cell.chart.clone(),
    };
    let mut out = Vec::new();
    for obj in &decoded.objects {
        for site in &obj.sites {
            let mut rules = vec![RuleId::MutableTag, RuleId::DigestRequired];
            rules.push(match site.pull_policy {
                PullPolicy::Set(_) => RuleId::PullPolicyNotIfNotPresent,
                _ => RuleId::PullPolicyMissing,
            });
            for rule in rules {
                let mut f = Finding::new(rule, Severity::Error, "", ctx.clone());
                f.document = Some(obj.document);
                f.template = obj.template.clone();
                f.image = Some(site.image.clone());
                f.field = Some(match (rule, &site.pull_policy_field) {
                    (RuleId::PullPolicyNotIfNotPresent | RuleId::PullPolicyMissing, Some(p)) => {
                        p.clone()
                    }
                    _ => site.field.clone(),
                });
                out.push(f);
            }
        }
    }
    out
}

/// Holds the two marker renders of every cell of the fleet `config` to each other; the number
/// of cells compared and of those rendered in place.
fn compare(config: &Path) -> (usize, usize) {
    let cfg = Config::load(config).expect("the fleet loads");
    let helm = helm();
    let renderer = HelmRenderer::new(&helm);
    let opts = RenderOptions {
        jobs: 2,
        ..RenderOptions::default()
    };
    let decode = decode_options(&cfg.model.policy);
    let rerender = Rerender {
        renderer: &renderer,
        opts: &opts,
        cache: None,
        key: None,
    };
    let cells = cfg.cells().expect("the fleet has cells");
    let (mut compared, mut in_place) = (0, 0);
    for cell in &cells {
        let rendered = render_each(
            &renderer,
            &cfg.repo,
            std::slice::from_ref(cell),
            &opts,
            None,
            |_, r, _| r,
        )
        .pop();
        let Some(Ok(rendered)) = rendered else {
            continue;
        };
        let decoded = imagegate_decode::decode_stream(&rendered.stdout, &decode);
        let findings = findings_of(cell, &decoded);
        if findings.is_empty() {
            continue;
        }
        compared += 1;
        let Some(here) =
            Trace::in_place_only(&cfg.repo, cell, &decoded, &decode, &rerender, &findings)
        else {
            continue;
        };
        let copy = Trace::copied(&cfg.repo, cell, &decoded, &decode, &rerender);
        in_place += 1;
        for f in &findings {
            let what = format!("{} {:?} {:?} {:?}", cell.app, f.rule, f.field, f.image);
            assert_eq!(here.verdict(f), copy.verdict(f), "verdict of {what}");
            assert_eq!(here.parts(f), copy.parts(f), "parts of {what}");
        }
    }
    (compared, in_place)
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn the_marker_render_in_place_shows_what_the_copy_shows_on_the_bundled_fleet() {
    let (compared, in_place) = compare(&root().join("charts-testdata/imagegate.yaml"));
    assert!(compared >= 10, "only {compared} cells had image sites");
    // Most charts of the bundled fleet have no subcharts and no schema.
    assert!(
        in_place * 2 >= compared,
        "only {in_place} of {compared} cells rendered in place"
    );
    eprintln!("charts-testdata: {in_place} of {compared} cells rendered in place");
}

/// Upstream charts default their tags to `appVersion` or have subcharts and schemas: each
/// one is rendered from the copy, and none of them in place.
#[test]
fn upstream_charts_whose_tags_come_from_app_version_are_rendered_from_the_copy() {
    let (compared, in_place) = compare(&root().join("charts-upstream/imagegate.yaml"));
    assert!(compared >= 4, "only {compared} cells had image sites");
    assert_eq!(
        in_place, 0,
        "{in_place} of {compared} cells rendered in place"
    );
}

const VALUES: &str = r#"image:
  registry: docker.io
  repository: acme/web
  tag: "1.2.3"
  digest: ""
  pullPolicy: IfNotPresent
worker:
  enabled: true
  image:
    repository: "{{ .Values.image.registry }}/acme/worker"
    tag: latest
    pullPolicy: ~
sidecars:
  - name: proxy
    image: envoyproxy/envoy:v1.31.2
    imagePullPolicy: Always
extraInit: []
anchors:
  base: &base
    repository: acme/base
    tag: "7"
  job:
    <<: *base
    tag: "8"
labels:
  app: web
"#;

const TEMPLATE: &str = r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}
  labels:
    app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      {{- with .Values.extraInit }}
      initContainers: {{ toYaml . | nindent 8 }}
      {{- end }}
      containers:
        - name: web
          image: "{{ .Values.image.registry }}/{{ .Values.image.repository }}:{{ .Values.image.tag }}{{ with .Values.image.digest }}@{{ . }}{{ end }}"
          imagePullPolicy: {{ .Values.image.pullPolicy | default "Always" }}
        {{- if .Values.worker.enabled }}
        - name: worker
          image: "{{ tpl .Values.worker.image.repository . }}:{{ .Values.worker.image.tag }}"
          {{- with .Values.worker.image.pullPolicy }}
          imagePullPolicy: {{ . }}
          {{- end }}
        {{- end }}
        {{- range .Values.sidecars }}
        - name: {{ .name }}
          image: {{ .image }}
          imagePullPolicy: {{ .imagePullPolicy }}
        {{- end }}
        - name: job
          image: "{{ .Values.anchors.job.repository }}:{{ .Values.anchors.job.tag }}"
        - name: pause
          image: registry.k8s.io/pause:3.9
"#;

/// Layers that reach into the chart's defaults every way helm merges them: a value replaced,
/// a digest set to `null` and a default emptied, a map replaced by `null`, a list of the
/// defaults replaced, an empty list filled, a key the defaults leave `null` set, an anchor and
/// a merge key, template text a `tpl` evaluates, and a `.helmignore` that leaves other files
/// out; and a cell the render in place cannot show (a mapping wiped, then put back), which it
/// leaves to the copy.
#[test]
fn the_marker_render_in_place_merges_every_layer_over_the_defaults_as_the_copy_does() {
    let dir = tempfile::tempdir().unwrap();
    let files = [
        ("charts/web/Chart.yaml", "apiVersion: v2\nname: web\nversion: 0.1.0\nappVersion: \"9.9.9\"\n"),
        ("charts/web/values.yaml", VALUES),
        ("charts/web/.helmignore", ".git/\n*.swp\nvalues.ci.yaml\n# values.yaml\n"),
        ("charts/web/values.ci.yaml", "image: {tag: ci}\n"),
        ("charts/web/templates/deploy.yaml", TEMPLATE),
        (
            "values/dev.yaml",
            "image:\n  tag: \"2.0.0\"\n  digest: null\nworker:\n  image:\n    tag: v3\n    pullPolicy: Never\nextraInit:\n  - name: init\n    image: busybox:1.36\n",
        ),
        (
            "values/prod.yaml",
            "image:\n  registry: ghcr.io\n  pullPolicy: \"\"\nworker: {enabled: false, image: null}\nsidecars:\n  - name: proxy\n    image: envoyproxy/envoy:v1.32.0\n    imagePullPolicy: IfNotPresent\n",
        ),
        (
            "imagegate.yaml",
            "version: 1\nenvironments:\n  - name: dev\n  - name: prod\n  - name: stage\ncomponents:\n  - name: web\n    chart: charts/web\nvalueStacks:\n  environment: [\"values/{env}.yaml\", \"values/{env}-late.yaml\"]\nmissingValueFiles: skip\n",
        ),
        // A layer that wipes the image mapping and one that puts a mapping back: helm merges
        // the layers first, so the defaults' repository and tag come back from the defaults,
        // which only the copy has marked.
        ("values/stage.yaml", "image: null\n"),
        ("values/stage-late.yaml", "image:\n  pullPolicy: Always\n"),
    ];
    for (path, text) in files {
        let p = dir.path().join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    let before = tree(dir.path());
    let (compared, in_place) = compare(&dir.path().join("imagegate.yaml"));
    // The stage cell is rendered from the copy.
    assert_eq!((compared, in_place), (3, 2));
    // The render in place reads the chart where it is and writes nothing into it.
    assert_eq!(tree(dir.path()), before);
}

/// Every file under `dir` with its content.
fn tree(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                todo.push(p);
            } else {
                out.push((p.clone(), std::fs::read(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}
