//! `promote::apply` with real helm, at the moments the command line cannot reach: a values file
//! changed by someone else between the plan and the write is not overwritten, and a re-render
//! that does not show SOURCE's references puts every written file back.

mod real_helm;
use imagegate_engine::promote::{self, Applied, Request, Tools};
use imagegate_engine::{Config, HelmRenderer};
use real_helm::helm_path;
use std::path::Path;

fn digest(c: char) -> String {
    format!("sha256:{}", c.to_string().repeat(64))
}

const CONFIG: &str = r#"version: 1
environments:
  - name: staging
  - name: production
components:
  - { name: web, chart: charts/web }
valueStacks:
  environment:
    - values/env/{env}/{name}.yaml
missingValueFiles: skip
promotion:
  chains: [[staging, production]]
  firstParty: ["ghcr.io/acme/"]
"#;

const DEPLOYMENT: &str = r#"apiVersion: apps/v1
kind: Deployment
metadata: { name: web }
spec:
  selector: { matchLabels: { app: web } }
  template:
    metadata: { labels: { app: web } }
    spec:
      containers:
        - name: web
          image: {{ .Values.image.ref }}
          imagePullPolicy: IfNotPresent
"#;

fn fleet() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let files = [
        ("imagegate.yaml", CONFIG.to_owned()),
        (
            "charts/web/Chart.yaml",
            "apiVersion: v2\nname: web\nversion: 0.1.0\n".to_owned(),
        ),
        ("charts/web/templates/d.yaml", DEPLOYMENT.to_owned()),
        (
            "values/env/staging/web.yaml",
            format!("image:\n  ref: ghcr.io/acme/web@{}\n", digest('b')),
        ),
        (
            "values/env/production/web.yaml",
            format!("image:\n  ref: ghcr.io/acme/web@{}\n", digest('a')),
        ),
    ];
    for (p, t) in files {
        let p = dir.path().join(p);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, t).unwrap();
    }
    dir
}

/// Plans and applies `staging → production` on `dir`, running `hook` before each write.
fn run(dir: &Path, hook: &dyn Fn(&str)) -> (promote::Plan, Applied) {
    let config = dir.join("imagegate.yaml");
    let cfg = Config::open(&config).unwrap();
    let helm = imagegate_render::Helm::locate(Some(&helm_path()), dir).unwrap();
    let renderer = HelmRenderer::new(&helm);
    let opts = imagegate_engine::fleet::render_options(&cfg, &Default::default());
    let tools = Tools {
        renderer: &renderer,
        opts: &opts,
    };
    let req = Request {
        source: "staging",
        target: "production",
        apps: &[],
    };
    let plan = promote::plan(&cfg, &req, &tools).unwrap();
    assert_eq!(plan.promotions.len(), 1, "{}", plan.text(&req));
    let applied = promote::apply(&config, &plan, &req, &tools, hook).unwrap();
    (plan, applied)
}

#[test]
fn helm_a_file_changed_during_the_run_is_not_overwritten() {
    let dir = fleet();
    let prod = dir.path().join("values/env/production/web.yaml");
    let theirs = format!(
        "image:\n  ref: ghcr.io/acme/web@{}  # hand edit\n",
        digest('c')
    );
    let (_, applied) = run(dir.path(), &|file| {
        if file == "values/env/production/web.yaml" {
            std::fs::write(&prod, &theirs).unwrap();
        }
    });
    match applied {
        Applied::Undone(why) => assert!(
            why.contains("values/env/production/web.yaml changed on disk during the run"),
            "{why}"
        ),
        other => panic!("{other:?}"),
    }
    assert_eq!(std::fs::read_to_string(&prod).unwrap(), theirs);
    // No temporary file is left beside it.
    let names: Vec<_> = std::fs::read_dir(prod.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["web.yaml"]);
}

#[test]
fn helm_a_render_that_does_not_verify_puts_every_file_back() {
    let dir = fleet();
    let prod = dir.path().join("values/env/production/web.yaml");
    let before = std::fs::read_to_string(&prod).unwrap();
    // The chart changes under the run: the re-render shows another image, so the edit is undone.
    let template = dir.path().join("charts/web/templates/d.yaml");
    let (plan, applied) = run(dir.path(), &|_| {
        let t = DEPLOYMENT.replace("{{ .Values.image.ref }}", "ghcr.io/acme/other:1");
        std::fs::write(&template, t).unwrap();
    });
    assert_eq!(plan.files.len(), 1);
    match applied {
        Applied::Undone(why) => assert!(why.contains("every edit was undone"), "{why}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(std::fs::read_to_string(&prod).unwrap(), before);
}

#[test]
fn helm_a_verified_promotion_renders_the_source_digest() {
    let dir = fleet();
    let (plan, applied) = run(dir.path(), &|_| {});
    assert_eq!(applied, Applied::Verified);
    assert_eq!(plan.promotions[0].edits[0].line, 2);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("values/env/production/web.yaml")).unwrap(),
        format!("image:\n  ref: ghcr.io/acme/web@{}\n", digest('b'))
    );
}
