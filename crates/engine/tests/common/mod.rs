//! Shared builders of the engine's integration tests: a small fleet written to a temporary
//! folder, and a fake helm that renders each cell from its values files in memory.
#![allow(dead_code)]

use imagegate_engine::cache::CacheChoice;
use imagegate_engine::fleet::{self, Context, Coverage, Plan, Run};
use imagegate_engine::renderer::{MemoryRender, MemoryRenderer};
use imagegate_engine::shard::Shard;
use imagegate_engine::Config;
use imagegate_engine::Quiet;
use imagegate_fleet::{Cell, Repo};
use imagegate_render::{RenderFailure, RenderOptions};
use imagegate_report::{CellReport, ReportFinding, Severity};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The day every test judges exceptions against.
pub fn today() -> chrono::NaiveDate {
    chrono::NaiveDate::from_ymd_opt(2026, 11, 23).unwrap()
}

/// A digest made of one repeated hex character (`digest('a')` is `sha256:aaaa…`).
pub fn digest(c: char) -> String {
    format!("sha256:{}", c.to_string().repeat(64))
}

/// The configuration of the test fleet: three environments, three components on one chart,
/// promotion from staging to production, a per-environment severity, one exception that is used
/// and one that is not.
pub const CONFIG: &str = r#"version: 1
environments:
  - name: dev
  - name: staging
  - name: production
components:
  - { name: web, chart: charts/app }
  - { name: api, chart: charts/app }
  - { name: db, chart: charts/app }
valueStacks:
  environment:
    - values/base.yaml
    - "values/{env}/{name}.yaml"
policy:
  severity:
    pull-policy-missing:
      default: error
      environments: { dev: warning }
limits:
  maxDocuments: 20
promotion:
  chains:
    - [staging, production]
  firstParty: ["ghcr.io/acme/"]
exceptions:
  maxLifetimeDays: 90
  forbiddenEnvironments: [production]
  list:
    - rule: mutable-tag
      images: ["ghcr.io/acme/web"]
      environments: [dev]
      reason: "dev follows main; tracked in PLAT-1"
      expires: 2026-12-31
    - rule: digest-required
      images: ["ghcr.io/acme/gone"]
      environments: [dev]
      reason: "an image nobody renders any more"
      expires: 2026-12-31
"#;

/// The files of the test fleet, by repository-relative path.
///
/// - `dev/web` runs a tag (`digest-required`, and `mutable-tag` under the first exception);
/// - `dev/api` cannot render (`fail:`);
/// - `dev/db` has no pull policy (`pull-policy-missing`, a warning in dev);
/// - production runs staging's `web` digest but an `api` digest staging never ran
///   (`promotion-drift`), and its own third-party `db` digest (not judged);
/// - `values/stagin/web.yaml` is a misplaced overlay no cell reads (`values-file-unused`).
pub fn files() -> BTreeMap<String, String> {
    let pg = "docker.io/library/postgres";
    [
        (
            "charts/app/Chart.yaml",
            "apiVersion: v2\nname: app\nversion: 0.1.0\n".to_string(),
        ),
        (
            "charts/app/templates/deploy.yaml",
            "# rendered by the tests' fake helm\n".to_string(),
        ),
        ("values/base.yaml", "pullPolicy: IfNotPresent\n".to_string()),
        (
            "values/dev/web.yaml",
            "# dev follows main\nimage: ghcr.io/acme/web:latest\n".to_string(),
        ),
        (
            "values/dev/api.yaml",
            "fail: image.ref is required\n".to_string(),
        ),
        (
            "values/dev/db.yaml",
            format!("image: {pg}@{}\npullPolicy: none\n", digest('d')),
        ),
        (
            "values/staging/web.yaml",
            format!("image: ghcr.io/acme/web@{}\n", digest('1')),
        ),
        (
            "values/staging/api.yaml",
            format!("image: ghcr.io/acme/api@{}\n", digest('2')),
        ),
        (
            "values/staging/db.yaml",
            format!("image: {pg}@{}\n", digest('d')),
        ),
        (
            "values/production/web.yaml",
            format!("image: ghcr.io/acme/web@{}\n", digest('1')),
        ),
        (
            "values/production/api.yaml",
            format!("replicas: 3\nimage: ghcr.io/acme/api@{}\n", digest('3')),
        ),
        (
            "values/production/db.yaml",
            format!("image: {pg}@{}\n", digest('e')),
        ),
        (
            "values/stagin/web.yaml",
            format!("image: ghcr.io/acme/web@{}\n", digest('1')),
        ),
    ]
    .into_iter()
    .map(|(p, t)| (p.to_string(), t))
    .chain([("imagegate.yaml".to_string(), CONFIG.to_string())])
    .collect()
}

/// A fleet on disk.
pub struct Fleet {
    /// The repository folder (removed on drop).
    pub dir: tempfile::TempDir,
}

impl Fleet {
    /// The test fleet of [`files`].
    pub fn standard() -> Self {
        Self::of(&files())
    }

    /// A fleet of exactly `files`.
    pub fn of(files: &BTreeMap<String, String>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let fleet = Self { dir };
        for (path, text) in files {
            fleet.write(path, text);
        }
        fleet
    }

    /// Writes (or replaces) one file.
    pub fn write(&self, path: &str, text: &str) {
        let p = self.dir.path().join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    /// The repository root.
    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// Loads `imagegate.yaml`.
    pub fn config(&self) -> Config {
        Config::load(&self.dir.path().join("imagegate.yaml")).unwrap_or_else(|e| panic!("{e}"))
    }
}

/// The top-level `key: value` lines of every values file of the cell, later files winning, as
/// helm merges a value stack. Hand-written: the fake only needs flat scalars, and a YAML parser
/// here would hide what the test fleet's files mean.
pub fn values(repo: &Repo, cell: &Cell) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for file in cell.present_value_files() {
        let text = repo.read_to_string(file, 1 << 20).unwrap();
        for line in text.lines() {
            if line.starts_with('#') || line.starts_with(' ') {
                continue;
            }
            if let Some((k, v)) = line.split_once(':') {
                out.insert(k.trim().to_string(), v.trim().to_string());
            }
        }
    }
    out
}

/// What the fake helm renders for a cell: a Deployment named after the component whose one
/// container runs `image` with `pullPolicy` (left out when `none`), `documents` extra ConfigMaps,
/// or a failure when a values file says `fail: MESSAGE`.
pub fn fake_helm(repo: &Repo, cell: &Cell) -> MemoryRender {
    let v = values(repo, cell);
    if let Some(message) = v.get("fail") {
        return Err(RenderFailure {
            message: format!(
                "Error: execution error at (app/templates/deploy.yaml:1:1): {message}"
            ),
            hint: None,
            exceeded: None,
        });
    }
    let name = &cell.component;
    let mut out = String::new();
    if let Some(image) = v.get("image") {
        let policy = match v.get("pullPolicy").map(String::as_str) {
            Some("none") => String::new(),
            Some(p) => format!("          imagePullPolicy: {p}\n"),
            None => "          imagePullPolicy: IfNotPresent\n".to_string(),
        };
        out.push_str(&format!(
            "---\n# Source: app/templates/deploy.yaml\napiVersion: apps/v1\nkind: Deployment\n\
             metadata:\n  name: {name}\n  namespace: {ns}\nspec:\n  template:\n    spec:\n      \
             containers:\n        - name: {name}\n          image: {image}\n{policy}",
            ns = cell.namespace
        ));
    }
    let extra: usize = v.get("documents").map_or(0, |n| n.parse().unwrap());
    for i in 0..extra {
        out.push_str(&format!(
            "---\n# Source: app/templates/cm.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}-{i}\n"
        ));
    }
    Ok(out)
}

/// A renderer over [`fake_helm`] that counts its renders in `calls`.
pub fn renderer(calls: &AtomicUsize) -> MemoryRenderer<impl Fn(&Repo, &Cell) -> MemoryRender + '_> {
    MemoryRenderer::new("fake-helm v3.17.3", move |repo: &Repo, cell: &Cell| {
        calls.fetch_add(1, Ordering::SeqCst);
        fake_helm(repo, cell)
    })
}

/// Render options for the tests: one worker, default bounds otherwise.
pub fn render_options(cfg: &Config) -> RenderOptions {
    fleet::render_options(
        cfg,
        &fleet::RenderOverrides {
            jobs: Some(1),
            timeout_seconds: None,
        },
    )
}

/// Runs `cells` of `cfg` with `coverage` through the fake helm, with `cache`.
pub fn run_with(
    cfg: &Config,
    cells: &[Cell],
    coverage: Coverage,
    cache: CacheChoice,
    calls: &AtomicUsize,
) -> Run {
    run_observed(cfg, &renderer(calls), cells, coverage, cache, &Quiet)
}

/// Runs `cells` of `cfg` with `coverage` through `renderer`, with `cache`, telling `observer`.
pub fn run_observed(
    cfg: &Config,
    renderer: &dyn imagegate_engine::Renderer,
    cells: &[Cell],
    coverage: Coverage,
    cache: CacheChoice,
    observer: &dyn imagegate_engine::Observer,
) -> Run {
    let ctx = Context {
        config: cfg,
        renderer,
        render: render_options(cfg),
        cache,
        today: today(),
        observer,
        remote: None,
    };
    fleet::run(
        &ctx,
        cells,
        Plan {
            coverage,
            history: 0,
            inventory: false,
        },
    )
    .unwrap_or_else(|e| panic!("{e:#}"))
}

/// A full, uncached run of the whole matrix.
pub fn full_run(cfg: &Config) -> Run {
    let cells = cfg.cells().unwrap();
    run_with(
        cfg,
        &cells,
        Coverage::Full,
        CacheChoice::Off,
        &AtomicUsize::new(0),
    )
}

/// An uncached run of the cells of `environments` only.
pub fn narrowed_run(cfg: &Config, environments: &[&str]) -> Run {
    let cells: Vec<Cell> = cfg
        .cells()
        .unwrap()
        .into_iter()
        .filter(|c| environments.contains(&c.environment.as_str()))
        .collect();
    run_with(
        cfg,
        &cells,
        Coverage::Narrowed,
        CacheChoice::Off,
        &AtomicUsize::new(0),
    )
}

/// An uncached run of one shard.
pub fn shard_run(cfg: &Config, shard: Shard) -> Run {
    let cells = shard.select(cfg.cells().unwrap());
    run_with(
        cfg,
        &cells,
        Coverage::Shard(shard),
        CacheChoice::Off,
        &AtomicUsize::new(0),
    )
}

/// The findings of `rule`.
pub fn of_rule<'a>(findings: &'a [ReportFinding], rule: &str) -> Vec<&'a ReportFinding> {
    findings.iter().filter(|f| f.rule == rule).collect()
}

/// The one finding of `rule` in `app`.
pub fn one<'a>(findings: &'a [ReportFinding], rule: &str, app: &str) -> &'a ReportFinding {
    let found: Vec<_> = findings
        .iter()
        .filter(|f| f.rule == rule && f.app == app)
        .collect();
    assert_eq!(found.len(), 1, "{rule} in {app}: {found:#?}");
    found[0]
}

/// The apps of `findings`, sorted.
pub fn apps(findings: &[&ReportFinding]) -> Vec<String> {
    let mut v: Vec<String> = findings.iter().map(|f| f.app.clone()).collect();
    v.sort();
    v
}

/// The cell report of `app`.
pub fn cell<'a>(cells: &'a [CellReport], app: &str) -> &'a CellReport {
    cells
        .iter()
        .find(|c| c.app == app)
        .unwrap_or_else(|| panic!("no cell {app}"))
}

/// (rule, app, severity) of every finding, in report order.
pub fn summary(findings: &[ReportFinding]) -> Vec<(String, String, Severity)> {
    findings
        .iter()
        .map(|f| (f.rule.clone(), f.app.clone(), f.severity))
        .collect()
}
