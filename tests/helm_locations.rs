//! Findings point at the template line, against the real helm: a chart per shape of helm's
//! render errors (Helm 3 and Helm 4 print some differently), each `render-failed` finding
//! located at the line helm names, and that line shown to be the broken one by rendering the
//! chart again with it blanked out; images the template hard-codes located at the one template
//! line that writes them, inside the chart or inside a vendored `.tgz` subchart.

mod common;
use common::*;
use std::path::Path;

const COMPONENTS: &[&str] = &[
    "exec", "fail", "include", "tpl", "parse", "unclosed", "yaml", "sub", "tgz", "deps", "hard",
    "twice", "tgzhard",
];

fn chart(name: &str) -> String {
    format!("apiVersion: v2\nname: {name}\nversion: 0.1.0\n")
}

fn config() -> String {
    let mut c = String::from("version: 1\nenvironments:\n  - name: dev\ncomponents:\n");
    for name in COMPONENTS {
        c.push_str(&format!("  - {{ name: {name}, chart: charts/{name} }}\n"));
    }
    c
}

const CM: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n";

fn deployment(image: &str) -> String {
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  selector: {{ matchLabels: {{ app: web }} }}\n  template:\n    metadata: {{ labels: {{ app: web }} }}\n    spec:\n      containers:\n        - name: web\n          # the image below is written here, on purpose\n          image: \"{image}\"\n          imagePullPolicy: IfNotPresent\n"
    )
}

fn tgz(files: &[(&str, &str)]) -> Vec<u8> {
    let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::fast(),
    ));
    for (path, text) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(text.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        builder
            .append_data(&mut header, path, text.as_bytes())
            .unwrap();
    }
    builder.into_inner().unwrap().finish().unwrap()
}

fn fixture() -> tempfile::TempDir {
    let cm = |body: &str| format!("{CM}{body}");
    let twice = deployment("nginx:1.25").replace(
        "          imagePullPolicy: IfNotPresent\n",
        "          imagePullPolicy: IfNotPresent\n        - name: side\n          image: nginx:1.25\n          imagePullPolicy: IfNotPresent\n",
    );
    let dir = tree(&[
        ("imagegate.yaml", &config()),
        ("charts/exec/Chart.yaml", &chart("exec")),
        ("charts/exec/templates/cm.yaml", &cm("  a: b\n  name: {{ .Values.nope.deeper }}\n")),
        ("charts/fail/Chart.yaml", &chart("fail")),
        ("charts/fail/templates/cm.yaml", &cm("  a: b\n  x: {{ required \"x is required\" .Values.x }}\n")),
        ("charts/include/Chart.yaml", &chart("include")),
        ("charts/include/templates/_helpers.tpl", "{{- define \"inc.img\" -}}\n{{ .Values.a.b.c }}\n{{- end -}}\n"),
        ("charts/include/templates/cm.yaml", &cm("  x: {{ include \"inc.img\" . }}\n")),
        ("charts/tpl/Chart.yaml", &chart("tpl")),
        ("charts/tpl/values.yaml", "text: |\n  a\n  {{ .Values.zz.yy }}\n"),
        ("charts/tpl/templates/cm.yaml", &cm("  a: b\n  b: c\n  x: {{ tpl .Values.text . | quote }}\n")),
        ("charts/parse/Chart.yaml", &chart("parse")),
        ("charts/parse/templates/cm.yaml", &cm("  a: b\n  x: {{ nosuchfunction }}\n  y: z\n")),
        ("charts/unclosed/Chart.yaml", &chart("unclosed")),
        ("charts/unclosed/templates/cm.yaml", &cm("  b: c\n  a: {{ .Values.x\n")),
        ("charts/yaml/Chart.yaml", &chart("yaml")),
        ("charts/yaml/templates/cm.yaml", "{{- /* a comment */}}\napiVersion: v1\nkind: ConfigMap\n  bad: : indent\n"),
        ("charts/sub/Chart.yaml", &chart("sub")),
        ("charts/sub/charts/inner/Chart.yaml", &chart("inner")),
        ("charts/sub/charts/inner/templates/cm.yaml", &cm("  a: b\n  x: {{ fail \"inner broke\" }}\n")),
        ("charts/tgz/Chart.yaml", &chart("tgz")),
        ("charts/tgz/templates/cm.yaml", &cm("  a: b\n")),
        ("charts/deps/Chart.yaml", "apiVersion: v2\nname: deps\nversion: 0.1.0\ndependencies:\n  - name: redis\n    version: 1.0.0\n    repository: https://charts.example.com\n"),
        ("charts/deps/templates/cm.yaml", &cm("  a: b\n")),
        ("charts/hard/Chart.yaml", &chart("hard")),
        ("charts/hard/templates/deploy.yaml", &deployment("nginx:1.25")),
        ("charts/twice/Chart.yaml", &chart("twice")),
        ("charts/twice/templates/deploy.yaml", &twice),
        ("charts/tgzhard/Chart.yaml", &chart("tgzhard")),
    ]);
    let write = |rel: &str, bytes: &[u8]| {
        let path = dir.path().join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    };
    write(
        "charts/tgz/charts/packed-0.1.0.tgz",
        &tgz(&[
            ("packed/Chart.yaml", &chart("packed")),
            (
                "packed/templates/cm.yaml",
                &cm("  a: b\n  c: d\n  x: {{ fail \"packed broke\" }}\n"),
            ),
        ]),
    );
    write(
        "charts/tgzhard/charts/vendored-0.1.0.tgz",
        &tgz(&[
            ("vendored/Chart.yaml", &chart("vendored")),
            (
                "vendored/templates/deploy.yaml",
                &deployment("busybox:stable"),
            ),
        ]),
    );
    dir
}

/// The report of the fleet, and the other formats written by the same run.
struct Run {
    json: serde_json::Value,
    sarif: serde_json::Value,
    gitlab: serde_json::Value,
    junit: String,
    text: String,
}

fn run(dir: &Path) -> Run {
    let out = imagegate(
        &[
            "check",
            "--format",
            "json",
            "--output",
            "sarif=out.sarif",
            "--output",
            "gitlab=out.gitlab.json",
            "--output",
            "junit=out.xml",
            "--output",
            "text=out.txt",
            "--no-progress",
            "-j",
            "2",
        ],
        dir,
    );
    assert_eq!(out.status.code(), Some(1), "stderr: {}", stderr(&out));
    let read = |f: &str| std::fs::read_to_string(dir.join(f)).unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_schema_valid(&json, "report");
    Run {
        json,
        sarif: serde_json::from_str(&read("out.sarif")).unwrap(),
        gitlab: serde_json::from_str(&read("out.gitlab.json")).unwrap(),
        junit: read("out.xml"),
        text: read("out.txt"),
    }
}

/// `--format github` for some apps alone (GitHub's cap would hide some of the whole fleet's).
fn github(dir: &Path, apps: &[&str]) -> String {
    let mut args = vec!["check", "--format", "github", "--no-progress"];
    for app in apps {
        args.extend(["--app", app]);
    }
    let out = imagegate(&args, dir);
    assert_eq!(out.status.code(), Some(1), "stderr: {}", stderr(&out));
    stdout(&out)
}

fn finding<'a>(run: &'a Run, app: &str, rule: &str) -> &'a serde_json::Value {
    let all: Vec<_> = run.json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["app"] == app && f["rule"] == rule)
        .filter(|f| f["container"].is_null() || f["container"] == "web")
        .collect();
    assert_eq!(all.len(), 1, "one {rule} for {app}: {all:#?}");
    all[0]
}

/// The 1-based line `line` of repository file `rel`.
fn line_of(dir: &Path, rel: &str, line: u64) -> String {
    let text = std::fs::read_to_string(dir.join(rel)).unwrap();
    text.lines().nth(line as usize - 1).unwrap().to_string()
}

/// Renders chart folder `rel` with the real helm: its error, if it fails.
fn helm_error(dir: &Path, rel: &str) -> Option<String> {
    let out = std::process::Command::new(helm())
        .arg("template")
        .arg(dir.join(rel))
        .env("HELM_CACHE_HOME", dir.join(".helm/cache"))
        .env("HELM_CONFIG_HOME", dir.join(".helm/config"))
        .env("HELM_DATA_HOME", dir.join(".helm/data"))
        .output()
        .unwrap();
    (!out.status.success()).then(|| String::from_utf8_lossy(&out.stderr).into_owned())
}

/// The differential check: with line `line` of template `rel` blanked out (the line count
/// kept), helm no longer fails there. Done on a copy, so the fixture stays as it is.
fn blanking_the_line_fixes_it(dir: &Path, chart: &str, rel: &str, line: u64) {
    let copy = tempfile::tempdir().unwrap();
    copy_tree(&dir.join(chart), copy.path());
    let inner = rel.strip_prefix(&format!("{chart}/")).unwrap();
    let path = copy.path().join(inner);
    let text = std::fs::read_to_string(&path).unwrap();
    let blanked: Vec<&str> = text
        .lines()
        .enumerate()
        .map(|(i, l)| if i as u64 + 1 == line { "" } else { l })
        .collect();
    std::fs::write(&path, blanked.join("\n") + "\n").unwrap();
    let before = helm_error(dir, chart).expect("the chart fails as it is");
    let after = helm_error(copy.path(), ".");
    assert!(
        after.as_deref().is_none_or(|e| e != before),
        "blanking {rel}:{line} changed nothing: {before}"
    );
}

#[test]
fn helm_render_errors_point_at_the_line_helm_names() {
    let dir = fixture();
    let run = run(dir.path());
    // (app, file, line, what the column points at) for each error with a template line.
    let cases = [
        (
            "dev-exec",
            "charts/exec/templates/cm.yaml",
            7,
            Some(".nope"),
        ),
        (
            "dev-fail",
            "charts/fail/templates/cm.yaml",
            7,
            Some("required"),
        ),
        // The innermost template of an include chain holds the error.
        (
            "dev-include",
            "charts/include/templates/_helpers.tpl",
            2,
            Some(".a"),
        ),
        // A `tpl` error is in the values text: the template line is the call.
        ("dev-tpl", "charts/tpl/templates/cm.yaml", 8, Some("tpl")),
        ("dev-parse", "charts/parse/templates/cm.yaml", 7, None),
        // An unclosed action: where it starts, not where helm ran out of text.
        ("dev-unclosed", "charts/unclosed/templates/cm.yaml", 7, None),
        (
            "dev-sub",
            "charts/sub/charts/inner/templates/cm.yaml",
            7,
            Some("fail"),
        ),
    ];
    for (app, file, line, column_at) in cases {
        let f = finding(&run, app, "render-failed");
        let at = &f["templateLocation"];
        assert_eq!(at["file"], file, "{app}: {f:#}");
        assert_eq!(at["line"], line, "{app}: {f:#}");
        let text = line_of(dir.path(), file, line);
        match column_at {
            Some(want) => {
                let column = at["column"].as_u64().unwrap() as usize;
                let from: String = text.chars().skip(column - 1).collect();
                assert!(from.starts_with(want), "{app}: column {column} of {text:?}");
            }
            None => assert!(at.get("column").is_none(), "{app}: {f:#}"),
        }
        // The component's chart folder, `charts/<name>`.
        let chart: Vec<&str> = file.splitn(3, '/').take(2).collect();
        blanking_the_line_fixes_it(dir.path(), &chart.join("/"), file, line);
    }

    // A vendored archive: the file inside it, and the line; annotated on the archive.
    let f = finding(&run, "dev-tgz", "render-failed");
    assert_eq!(
        f["templateLocation"]["file"],
        "charts/tgz/charts/packed-0.1.0.tgz:packed/templates/cm.yaml"
    );
    assert_eq!(f["templateLocation"]["line"], 8);
    let annotations = github(dir.path(), &["tgz", "deps", "fail"]);
    assert!(
        annotations.contains(
            "::error file=charts/tgz/charts/packed-0.1.0.tgz,title=imagegate render-failed in dev/dev-tgz::"
        ),
        "{annotations}"
    );

    // A YAML error counts lines of the rendered output: the file, no line, and helm's number.
    let f = finding(&run, "dev-yaml", "render-failed");
    let at = &f["templateLocation"];
    assert_eq!(at["file"], "charts/yaml/templates/cm.yaml");
    assert!(at.get("line").is_none(), "{f:#}");
    assert!(at["renderedLine"].as_u64().is_some(), "{f:#}");
    assert!(
        run.text.contains("helm's YAML error is at line"),
        "{}",
        run.text
    );

    // An error naming no template: Chart.yaml, helm's whole message in the cell.
    let f = finding(&run, "dev-deps", "render-failed");
    assert!(f.get("templateLocation").is_none(), "{f:#}");
    assert!(
        annotations.contains("::error file=charts/deps/Chart.yaml,title=imagegate render-failed"),
        "{annotations}"
    );

    // Every format carries the place.
    assert!(
        annotations.contains(
            "::error file=charts/fail/templates/cm.yaml,line=7,col=9,title=imagegate render-failed in dev/dev-fail::"
        ),
        "{annotations}"
    );
    let result = run.sarif["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| {
            r["ruleId"] == "render-failed"
                && r["message"]["text"].as_str().unwrap().contains("dev-fail")
        })
        .expect("the dev-fail result");
    let location = &result["locations"][0]["physicalLocation"];
    assert_eq!(
        location["artifactLocation"]["uri"],
        "charts/fail/templates/cm.yaml"
    );
    assert_eq!(location["region"]["startLine"], 7);
    assert_eq!(location["region"]["startColumn"], 9);
    let issue = run
        .gitlab
        .as_array()
        .unwrap()
        .iter()
        .find(|i| {
            i["check_name"] == "render-failed"
                && i["location"]["path"] == "charts/fail/templates/cm.yaml"
        })
        .expect("the dev-fail issue");
    assert_eq!(issue["location"]["lines"]["begin"], 7);
    assert!(
        run.junit.contains("at charts/fail/templates/cm.yaml:7:9"),
        "{}",
        run.junit
    );
    assert!(
        run.text.contains("charts/fail/templates/cm.yaml:7:9"),
        "{}",
        run.text
    );
}

#[test]
fn helm_hard_coded_images_point_at_the_template_line() {
    let dir = fixture();
    let run = run(dir.path());
    // The chart's own template: the one line with the reference, and its columns.
    for rule in ["digest-required", "mutable-tag"] {
        let f = finding(&run, "dev-hard", rule);
        assert!(f["origin"].is_null(), "{f:#}");
        let at = &f["templateLocation"];
        assert_eq!(at["file"], "charts/hard/templates/deploy.yaml", "{f:#}");
        let line = at["line"].as_u64().unwrap();
        let text = line_of(dir.path(), "charts/hard/templates/deploy.yaml", line);
        let (column, end) = (
            at["column"].as_u64().unwrap(),
            at["endColumn"].as_u64().unwrap(),
        );
        let span: String = text
            .chars()
            .skip(column as usize - 1)
            .take((end - column) as usize)
            .collect();
        assert_eq!(span, "nginx:1.25", "{text:?}");
    }
    let annotations = github(dir.path(), &["hard"]);
    assert_eq!(
        annotations
            .lines()
            .filter(|l| l.starts_with(
                "::error file=charts/hard/templates/deploy.yaml,line=13,col=19,endColumn=29,title=imagegate "
            ))
            .count(),
        2,
        "{annotations}"
    );

    // Two lines write it: the template file, no line.
    let f = finding(&run, "dev-twice", "mutable-tag");
    let at = f["templateLocation"]
        .as_object()
        .map(|o| o.keys().cloned().collect::<Vec<_>>());
    assert_eq!(at, Some(vec!["file".to_string()]), "{f:#}");

    // Inside a vendored archive.
    let f = finding(&run, "dev-tgzhard", "mutable-tag");
    assert_eq!(
        f["templateLocation"]["file"],
        "charts/tgzhard/charts/vendored-0.1.0.tgz:vendored/templates/deploy.yaml"
    );
    assert_eq!(f["templateLocation"]["line"], 13);
}
