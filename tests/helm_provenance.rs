//! Causal provenance with real helm: every finding's origin is the values (or `Chart.yaml`)
//! line that helm itself carried into the rendered field, on a chart built for it: registry,
//! repository and tag from different keys, a tag defaulting to `appVersion`, a subchart vendored
//! as `.tgz` under an `alias`, an override that removes a pin (`digest: null`), two components
//! sharing one value, and an image the template hard-codes. An independent check follows:
//! changing the pointed line changes the rendered field, and for a field no line drives, no
//! values line of the cell changes it.

mod common;
use common::*;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

const PARENT_CHART: &str = "apiVersion: v2
name: app
version: 0.1.0
appVersion: \"2.4.0\"
dependencies:
  - name: redis
    version: 1.0.0
    repository: https://charts.example.com
    alias: cache
";

const PARENT_VALUES: &str = "global:
  imageRegistry: ghcr.io
web:
  image:
    repository: acme/web
    tag: \"\"
    pullPolicy: Always
worker:
  image:
    registry: docker.io
    repository: acme/worker
    digest: sha256:1111111111111111111111111111111111111111111111111111111111111111
shared:
  tag: \"1.0\"
";

const PROD: &str = "worker:
  image:
    digest: null
shared:
  tag: latest
";

const DEPLOYMENTS: &str = r#"{{- define "deploy" }}
apiVersion: apps/v1
kind: Deployment
metadata: { name: {{ .name }} }
spec:
  selector: { matchLabels: { app: {{ .name }} } }
  template:
    metadata: { labels: { app: {{ .name }} } }
    spec:
      containers:
        - name: {{ .name }}
          image: {{ .image }}
          {{- with .policy }}
          imagePullPolicy: {{ . }}
          {{- end }}
{{- end }}
{{- $v := .Values }}
{{- include "deploy" (dict "name" "web" "image" (printf "%s/%s:%s" $v.global.imageRegistry $v.web.image.repository ($v.web.image.tag | default .Chart.AppVersion)) "policy" $v.web.image.pullPolicy) }}
---
{{- $worker := printf "%s/%s:%s" $v.worker.image.registry $v.worker.image.repository $v.shared.tag }}
{{- with $v.worker.image.digest }}{{ $worker = printf "%s@%s" $worker . }}{{ end }}
{{- include "deploy" (dict "name" "worker" "image" $worker) }}
---
{{- include "deploy" (dict "name" "api" "image" (printf "ghcr.io/acme/api:%s" $v.shared.tag) "policy" "IfNotPresent") }}
---
{{- include "deploy" (dict "name" "job" "image" "busybox:latest" "policy" "IfNotPresent") }}
"#;

const REDIS_CHART: &str = "apiVersion: v2\nname: redis\nversion: 1.0.0\n";
const REDIS_VALUES: &str = "image:\n  repository: bitnami/redis\n  tag: latest\n";
const REDIS_DEPLOYMENT: &str = r#"apiVersion: apps/v1
kind: Deployment
metadata: { name: {{ .Release.Name }}-redis }
spec:
  selector: { matchLabels: { app: redis } }
  template:
    metadata: { labels: { app: redis } }
    spec:
      containers:
        - name: redis
          image: {{ .Values.image.repository }}:{{ .Values.image.tag }}
          imagePullPolicy: IfNotPresent
"#;

fn fixture() -> tempfile::TempDir {
    let dir = tree(&[
        ("charts/app/Chart.yaml", PARENT_CHART),
        ("charts/app/values.yaml", PARENT_VALUES),
        ("charts/app/templates/deployments.yaml", DEPLOYMENTS),
        ("values/prod.yaml", PROD),
    ]);
    std::fs::create_dir_all(dir.path().join("charts/app/charts")).unwrap();
    std::fs::write(
        dir.path().join("charts/app/charts/redis-1.0.0.tgz"),
        tgz(&[
            ("redis/Chart.yaml", REDIS_CHART),
            ("redis/values.yaml", REDIS_VALUES),
            ("redis/templates/deployment.yaml", REDIS_DEPLOYMENT),
        ]),
    )
    .unwrap();
    dir
}

/// The findings of `imagegate check` on the fixture's one cell, which has findings (exit 1).
fn check(dir: &Path) -> Vec<Value> {
    let (code, findings) = run_check(dir);
    assert_eq!(code, Some(1));
    findings
}

fn find<'a>(findings: &'a [Value], rule: &str, object: &str) -> &'a Value {
    let mut hits = findings
        .iter()
        .filter(|f| f["rule"] == rule && f["object"]["name"] == object);
    let hit = hits
        .next()
        .unwrap_or_else(|| panic!("no {rule} on {object}: {findings:#?}"));
    assert!(hits.next().is_none(), "two {rule} on {object}");
    hit
}

fn origin(f: &Value) -> Option<(String, u64)> {
    let o = f.get("origin").filter(|o| !o.is_null())?;
    Some((o["file"].as_str()?.to_string(), o["line"].as_u64()?))
}

fn at(file: &str, line: u64) -> Option<(String, u64)> {
    Some((file.to_string(), line))
}

#[test]
fn every_origin_is_the_line_helm_carried_into_the_field() {
    let dir = fixture();
    let findings = check(dir.path());
    let tgz_values = "charts/app/charts/redis-1.0.0.tgz:redis/values.yaml";
    let cases = [
        // The tag defaults to the chart's appVersion; no digest key beside the web image.
        (
            "pull-policy-not-ifnotpresent",
            "web",
            at("charts/app/values.yaml", 7),
        ),
        ("digest-required", "web", at("charts/app/values.yaml", 5)),
        // Registry, repository and tag from three keys; the pin removed by `digest: null`.
        ("mutable-tag", "worker", at("values/prod.yaml", 5)),
        ("digest-required", "worker", at("values/prod.yaml", 3)),
        // Two components share `shared.tag`: both point at the one line that sets it.
        ("mutable-tag", "api", at("values/prod.yaml", 5)),
        // A subchart vendored as .tgz under an alias.
        ("mutable-tag", "release-redis", at(tgz_values, 3)),
        // Hard-coded in the template: no values line, and said so.
        ("mutable-tag", "job", None),
        ("digest-required", "job", None),
        ("pull-policy-missing", "worker", None),
    ];
    for (rule, object, want) in &cases {
        let f = find(&findings, rule, object);
        assert_eq!(&origin(f), want, "{rule} on {object}: {f:#}");
    }
    // The web image's tag comes after its repository from `appVersion`: the text says a digest
    // appended to the repository line would not pin it, never "append it here".
    let out = imagegate(
        &["check", "--chart", "charts/app", "-f", "values/prod.yaml"],
        dir.path(),
    );
    let text = stdout(&out);
    assert!(
        text.contains("its tag comes after it from the chart"),
        "{text}"
    );
}

/// `line` of `text` with its value replaced by `value`.
fn with_value(text: &str, line: u64, value: &str) -> String {
    text.lines()
        .enumerate()
        .map(|(i, l)| match l.split_once(':') {
            Some((key, _)) if i as u64 + 1 == line => format!("{key}: {value}"),
            _ => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

/// What a finding's field renders as (nothing when the finding is gone).
fn rendered(findings: &[Value], rule: &str, object: &str) -> Option<String> {
    findings
        .iter()
        .find(|f| f["rule"] == rule && f["object"]["name"] == object)
        // The field of a pull-policy finding is the policy: whether it is still missing or
        // wrong; of any other, the image.
        .map(|f| match rule.starts_with("pull-policy") {
            true => rule.to_string(),
            false => f["image"].to_string(),
        })
}

/// A value for the key of `line` that changes what it renders without breaking the chart.
fn other_value(text: &str, line: u64) -> &'static str {
    let l = text.lines().nth(line as usize - 1).unwrap_or("");
    if l.contains("digest") {
        "sha256:2222222222222222222222222222222222222222222222222222222222222222"
    } else if l.contains("ullPolicy") {
        "IfNotPresent"
    } else {
        "changed9"
    }
}

#[test]
fn changing_the_pointed_line_changes_the_field_and_no_line_drives_a_template_field() {
    let dir = fixture();
    let findings = check(dir.path());
    // Each edit is checked once: the findings of the run with `file:line` changed, shared by
    // every finding that asks about that line.
    let mut edited: BTreeMap<(String, u64), Vec<Value>> = BTreeMap::new();
    let mut with_edit = |file: &str, line: u64| -> Vec<Value> {
        edited
            .entry((file.to_string(), line))
            .or_insert_with(|| {
                let path = dir.path().join(file);
                let text = std::fs::read_to_string(&path).unwrap();
                std::fs::write(&path, with_value(&text, line, other_value(&text, line))).unwrap();
                let after = check_any(dir.path());
                std::fs::write(&path, &text).unwrap();
                after
            })
            .clone()
    };
    let mut checked = 0;
    for f in &findings {
        let (rule, object) = (
            f["rule"].as_str().unwrap(),
            f["object"]["name"].as_str().unwrap_or(""),
        );
        let before = rendered(&findings, rule, object);
        match origin(f) {
            // A file inside a vendored archive is not edited in place; its value is overridden
            // from the parent (the key the finding names).
            Some((file, _)) if file.contains(".tgz:") => {}
            Some((file, line)) => {
                let after = rendered(&with_edit(&file, line), rule, object);
                assert_ne!(
                    after, before,
                    "{rule} on {object}: changing {file}:{line} changed nothing"
                );
                checked += 1;
            }
            None => {
                for file in [
                    "charts/app/values.yaml",
                    "values/prod.yaml",
                    "charts/app/Chart.yaml",
                ] {
                    let path = dir.path().join(file);
                    let text = std::fs::read_to_string(&path).unwrap();
                    for (i, l) in text.lines().enumerate() {
                        let Some((_, v)) = l.split_once(':') else {
                            continue;
                        };
                        // Of Chart.yaml only appVersion is a value; its other keys make the
                        // chart what it is (an invalid version would just fail the render).
                        let meta = file.ends_with("Chart.yaml") && !l.starts_with("appVersion");
                        if meta || v.trim().is_empty() || l.trim_start().starts_with('-') {
                            continue;
                        }
                        let line = i as u64 + 1;
                        let after = rendered(&with_edit(file, line), rule, object);
                        assert_eq!(
                            after, before,
                            "{rule} on {object} has no origin, yet {file}:{line} drives it"
                        );
                    }
                }
                checked += 1;
            }
        }
    }
    assert!(checked >= 8, "{checked} findings checked");
}

/// The findings of a check that may exit 0, 1 (findings) but never 2.
fn check_any(dir: &Path) -> Vec<Value> {
    run_check(dir).1
}

/// The exit status and findings of `imagegate check` on the fixture's one cell.
fn run_check(dir: &Path) -> (Option<i32>, Vec<Value>) {
    let out = imagegate(
        &[
            "check",
            "--chart",
            "charts/app",
            "-f",
            "values/prod.yaml",
            "--format",
            "json",
        ],
        dir,
    );
    assert_ne!(out.status.code(), Some(2), "{}", stderr(&out));
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    (
        out.status.code(),
        report["findings"].as_array().unwrap().clone(),
    )
}

/// The findings of `imagegate check --chart CHART -f VALUES` in `dir`, which has findings.
fn check_chart(dir: &Path, chart: &str, values: &str) -> Vec<Value> {
    let out = imagegate(
        &["check", "--chart", chart, "-f", values, "--format", "json"],
        dir,
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    report["findings"].as_array().unwrap().clone()
}

/// A third layer for the registry: the web image then takes its registry from a values file of
/// the stack, its repository from the chart's values and its tag from `Chart.yaml`.
const REGISTRY: &str = "global:\n  imageRegistry: registry.example.com\n";

/// `file:line` of every part of a finding, as the JSON report's `parts` names them.
fn parts(f: &Value) -> BTreeMap<String, String> {
    f.get("parts")
        .and_then(Value::as_object)
        .map(|parts| {
            parts
                .iter()
                .map(|(k, o)| (k.clone(), format!("{}:{}", o["file"], o["line"])))
                .map(|(k, v)| (k, v.replace('"', "")))
                .collect()
        })
        .unwrap_or_default()
}

fn want(parts: &[(&str, &str)]) -> BTreeMap<String, String> {
    parts
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn every_part_of_an_image_names_its_own_line_in_json_text_and_sarif() {
    let dir = fixture();
    std::fs::write(dir.path().join("values/registry.yaml"), REGISTRY).unwrap();
    let out_dir = tempfile::tempdir().unwrap();
    let text_file = out_dir.path().join("report.txt");
    let sarif_file = out_dir.path().join("report.sarif");
    let out = imagegate(
        &[
            "check",
            "--chart",
            "charts/app",
            "-f",
            "values/registry.yaml",
            "-f",
            "values/prod.yaml",
            "--format",
            "json",
            "--output",
            &format!("text={}", text_file.display()),
            "--output",
            &format!("sarif={}", sarif_file.display()),
        ],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let findings = report["findings"].as_array().unwrap();

    // Registry, repository and tag from three layers: a values file of the stack, the chart's
    // values.yaml, and the chart's appVersion. No `digest` key beside the web image: no digest.
    let web = [
        ("registry", "values/registry.yaml:2"),
        ("repository", "charts/app/values.yaml:5"),
        ("tag", "charts/app/Chart.yaml:4"),
    ];
    assert_eq!(parts(find(findings, "digest-required", "web")), want(&web));
    // A pull-policy finding adds the line of its pull policy.
    let mut policy = want(&web);
    policy.insert("pullPolicy".into(), "charts/app/values.yaml:7".into());
    assert_eq!(
        parts(find(findings, "pull-policy-not-ifnotpresent", "web")),
        policy
    );
    // The worker's digest was removed by `digest: null`: that line is where it belongs, as the
    // digest-required origin says; its tag is the shared one, and agrees with mutable-tag's.
    let worker = want(&[
        ("registry", "charts/app/values.yaml:10"),
        ("repository", "charts/app/values.yaml:11"),
        ("tag", "values/prod.yaml:5"),
        ("digest", "values/prod.yaml:3"),
    ]);
    assert_eq!(parts(find(findings, "mutable-tag", "worker")), worker);
    assert_eq!(parts(find(findings, "digest-required", "worker")), worker);
    assert_eq!(
        origin(find(findings, "digest-required", "worker")),
        at("values/prod.yaml", 3)
    );
    // Only the tag of the api image comes from a values line; the template writes the rest.
    assert_eq!(
        parts(find(findings, "mutable-tag", "api")),
        want(&[("tag", "values/prod.yaml:5")])
    );
    // A hard-coded image has no parts at all.
    assert!(find(findings, "mutable-tag", "job").get("parts").is_none());

    // The text shows them under the finding, one line.
    let text = std::fs::read_to_string(&text_file).unwrap();
    let line = "parts:     registry values/registry.yaml:2, repository charts/app/values.yaml:5, tag charts/app/Chart.yaml:4";
    assert!(text.contains(line), "{text}");

    // SARIF: one related location per part, its message naming the part.
    let sarif: Value =
        serde_json::from_str(&std::fs::read_to_string(&sarif_file).unwrap()).unwrap();
    let result = sarif["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| {
            r["ruleId"] == "digest-required" && r["properties"]["object"] == "Deployment/worker"
        })
        .expect("a SARIF result for the worker's digest");
    let related: Vec<(String, u64, String)> = result["relatedLocations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            let p = &l["physicalLocation"];
            (
                p["artifactLocation"]["uri"].as_str().unwrap().to_string(),
                p["region"]["startLine"].as_u64().unwrap(),
                l["message"]["text"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let names: Vec<&str> = related
        .iter()
        .map(|(_, _, m)| m.split(':').next().unwrap())
        .collect();
    assert_eq!(names, ["registry", "repository", "tag", "digest"]);
    assert_eq!(
        (related[0].0.as_str(), related[0].1),
        ("charts/app/values.yaml", 10)
    );
    assert_eq!(
        (related[3].0.as_str(), related[3].1),
        ("values/prod.yaml", 3)
    );

    // The fix list: the shared `tag: latest` is one edit for every finding it causes.
    let fixes = report["fixes"].as_array().unwrap();
    let shared = fixes
        .iter()
        .find(|f| f["file"] == "values/prod.yaml" && f["line"] == 5)
        .expect("an edit of values/prod.yaml:5");
    assert_eq!(shared["value"], "latest");
    let cleared: Vec<(String, String)> = shared["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["rule"].as_str().unwrap().to_string(),
                f["object"]["name"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    for want in [("mutable-tag", "api"), ("mutable-tag", "worker")] {
        assert!(
            cleared.contains(&(want.0.to_string(), want.1.to_string())),
            "{want:?} not cleared by values/prod.yaml:5: {cleared:?}"
        );
    }
    // The `digest: null` line is where the worker's digest goes.
    let digest = fixes
        .iter()
        .find(|f| f["file"] == "values/prod.yaml" && f["line"] == 3)
        .expect("an edit of values/prod.yaml:3");
    assert_eq!(digest["value"], "null");
    assert!(text.starts_with(&format!(
        "fix list: {} edits fix {} findings",
        fixes.len(),
        report["summary"]["fixes"]["findings"]
    )));
}

/// An invalid reference written by one values line is pointed at that line, as helm carried it,
/// not at another key holding the same text (which a text search cannot tell apart).
#[test]
fn an_invalid_reference_points_at_the_line_helm_carried() {
    let dir = tree(&[
        ("charts/inv/Chart.yaml", "apiVersion: v2\nname: inv\nversion: 0.1.0\n"),
        (
            "charts/inv/values.yaml",
            "a:\n  image: \"Acme/Web:1\"\nb:\n  image: \"Acme/Web:1\"\n",
        ),
        (
            "charts/inv/templates/web.yaml",
            "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  containers:\n    - name: web\n      image: {{ index .Values \"b\" \"image\" }}\n      imagePullPolicy: IfNotPresent\n",
        ),
        // The override layer holds the same text under a key nothing reads.
        ("values/prod.yaml", "unused:\n  image: \"Acme/Web:1\"\n"),
    ]);
    let findings = check_chart(dir.path(), "charts/inv", "values/prod.yaml");
    let f = find(&findings, "invalid-image-ref", "web");
    assert_eq!(origin(f), at("charts/inv/values.yaml", 4), "{f:#}");
}

/// The image of the `tpl` chart, from its values and the layers given, as helm renders it.
fn tpl_check(dir: &Path, layers: &[&str]) -> Vec<Value> {
    let mut args = vec!["check", "--chart", "charts/tpl"];
    for l in layers {
        args.extend(["-f", l]);
    }
    args.extend(["--format", "json"]);
    let out = imagegate(&args, dir);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    report["findings"].as_array().unwrap().clone()
}

#[test]
fn a_value_that_is_template_text_names_the_lines_its_actions_read() {
    // The repository value is template text the chart passes through `tpl`; the registry it
    // reads is set by an environment layer. Each part names its own line.
    let dir = tree(&[
        ("charts/tpl/Chart.yaml", "apiVersion: v2\nname: tpl\nversion: 0.1.0\n"),
        (
            "charts/tpl/values.yaml",
            "global:\n  imageRegistry: docker.io\nimage:\n  repository: \"{{ .Values.global.imageRegistry }}/acme/web\"\n  tag: latest\n",
        ),
        (
            "charts/tpl/templates/web.yaml",
            "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  containers:\n    - name: web\n      image: \"{{ tpl .Values.image.repository . }}:{{ .Values.image.tag }}\"\n      imagePullPolicy: IfNotPresent\n",
        ),
        ("values/prod.yaml", "global:\n  imageRegistry: registry.example.com\n"),
    ]);
    let findings = tpl_check(dir.path(), &["values/prod.yaml"]);
    let f = find(&findings, "digest-required", "web");
    assert_eq!(f["image"], "registry.example.com/acme/web:latest", "{f:#}");
    let expected = want(&[
        ("registry", "values/prod.yaml:2"),
        ("repository", "charts/tpl/values.yaml:4"),
        ("tag", "charts/tpl/values.yaml:5"),
    ]);
    assert_eq!(parts(f), expected, "{f:#}");
    assert_eq!(
        origin(find(&findings, "mutable-tag", "web")),
        at("charts/tpl/values.yaml", 5)
    );

    // Independently, with helm alone: the registry line drives the registry, and the
    // repository line the rest of the name.
    std::fs::write(
        dir.path().join("values/prod.yaml"),
        "global:\n  imageRegistry: other.example.org\n",
    )
    .unwrap();
    let f = find(
        &tpl_check(dir.path(), &["values/prod.yaml"]),
        "digest-required",
        "web",
    )
    .clone();
    assert_eq!(f["image"], "other.example.org/acme/web:latest");
    let values = dir.path().join("charts/tpl/values.yaml");
    let text = std::fs::read_to_string(&values).unwrap();
    std::fs::write(&values, text.replace("/acme/web", "/acme/api")).unwrap();
    let f = find(
        &tpl_check(dir.path(), &["values/prod.yaml"]),
        "digest-required",
        "web",
    )
    .clone();
    assert_eq!(f["image"], "other.example.org/acme/api:latest");
}

/// A values file kept in the chart folder, as Argo CD sources often keep `values-prod.yaml`, is
/// both a layer of the stack and a file the chart's templates read with `.Files.Get`: helm
/// carries its line into the image either way, and that line is the origin (never
/// "hard-coded in the template").
#[test]
fn a_values_file_of_the_chart_folder_that_templates_also_read_is_the_origin() {
    let dir = tree(&[
        (
            "charts/files/Chart.yaml",
            "apiVersion: v2\nname: files\nversion: 0.1.0\n",
        ),
        (
            "charts/files/values.yaml",
            "main:\n  image: ghcr.io/acme/main:1.0\n",
        ),
        (
            "charts/files/values-prod.yaml",
            "sidecar:\n  image: busybox:latest\nmain:\n  image: ghcr.io/acme/main:latest\n",
        ),
        (
            "charts/files/templates/deploy.yaml",
            r#"{{- $prod := .Files.Get "values-prod.yaml" | fromYaml }}
apiVersion: apps/v1
kind: Deployment
metadata: { name: files }
spec:
  selector: { matchLabels: { app: files } }
  template:
    metadata: { labels: { app: files } }
    spec:
      containers:
        - name: main
          image: {{ .Values.main.image }}
          imagePullPolicy: IfNotPresent
        - name: sidecar
          image: {{ $prod.sidecar.image }}
          imagePullPolicy: IfNotPresent
"#,
        ),
    ]);
    let findings = check_chart(dir.path(), "charts/files", "charts/files/values-prod.yaml");
    let of = |container: &str| {
        findings
            .iter()
            .find(|f| f["rule"] == "digest-required" && f["container"] == container)
            .unwrap_or_else(|| panic!("no digest-required on {container}: {findings:#?}"))
    };
    assert_eq!(
        origin(of("sidecar")),
        at("charts/files/values-prod.yaml", 2),
        "{:#?}",
        of("sidecar")
    );
    assert_eq!(
        origin(of("main")),
        at("charts/files/values-prod.yaml", 4),
        "{:#?}",
        of("main")
    );
}

/// A marker render stopped at `helm.timeoutSeconds` is not rendered again from the scratch copy:
/// the copy renders the same templates with the same markers and would only run into the bound a
/// second time. helm is run twice for the cell (its render and the marked one), not three times,
/// and the finding says why helm could not tell where its tag comes from.
#[test]
fn a_marker_render_stopped_at_the_timeout_is_not_rendered_again_from_the_copy() {
    let dir = tree(&[
        (
            "charts/slow/Chart.yaml",
            "apiVersion: v2\nname: slow\nversion: 0.1.0\n",
        ),
        (
            "charts/slow/values.yaml",
            "image:\n  repository: nginx\n  tag: latest\n",
        ),
        (
            "charts/slow/templates/deploy.yaml",
            // Only a marked tag (`igm…q`) sends the template into a loop no render finishes.
            r#"{{- if contains "igm" .Values.image.tag }}{{- range until 100000 }}{{- range until 100000 }}{{- end }}{{- end }}{{- end }}
apiVersion: apps/v1
kind: Deployment
metadata: { name: slow }
spec:
  selector: { matchLabels: { app: slow } }
  template:
    metadata: { labels: { app: slow } }
    spec:
      containers:
        - name: main
          image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}"
          imagePullPolicy: IfNotPresent
"#,
        ),
        ("values/prod.yaml", "image:\n  repository: nginx\n"),
    ]);
    // helm itself, through a wrapper outside the repository that logs each command it runs.
    let bin = tempfile::tempdir().unwrap();
    let log = bin.path().join("commands.log");
    let wrapper = bin.path().join("helm");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\necho \"$1\" >> '{}'\nexec '{}' \"$@\"\n",
            log.display(),
            helm().display()
        ),
    )
    .unwrap();
    let mut perms = std::fs::metadata(&wrapper).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(&wrapper, perms).unwrap();
    let text = bin.path().join("report.txt");
    let out = imagegate(
        &[
            "check",
            "--chart",
            "charts/slow",
            "-f",
            "values/prod.yaml",
            "--format",
            "json",
            "--timeout",
            "2",
            "--no-cache",
            "--output",
            &format!("text={}", text.display()),
            "--helm",
            wrapper.to_str().unwrap(),
        ],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let findings = report["findings"].as_array().unwrap();
    let tag = find(findings, "mutable-tag", "slow");
    // The line text search proposes stays, marked as not confirmed by helm.
    assert_eq!(origin(tag), at("charts/slow/values.yaml", 3), "{tag:#?}");
    let text = std::fs::read_to_string(&text).unwrap();
    assert!(
        text.contains("not confirmed by helm: helm could not render the cell with markers")
            && text.contains("did not finish within 2s"),
        "{text}"
    );
    let logged = std::fs::read_to_string(&log).unwrap();
    let templates = logged.lines().filter(|l| *l == "template").count();
    assert_eq!(templates, 2, "helm ran:\n{logged}");
}
