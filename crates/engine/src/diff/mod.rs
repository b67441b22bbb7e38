//! The PR check's engine: which cells a change can affect ([`plan`]), rendering and judging them
//! on both sides, and what changed between the sides ([`compare`]), as a [`DiffReport`].
//!
//! Both revisions' matrices come from their own `imagegate.yaml`; only the cells whose inputs
//! differ are rendered (through the render cache), on each side. See docs/diff.md.

pub mod compare;
pub mod plan;
mod revisions;

pub use revisions::{refuse_absent_submodules, Revisions};

use crate::pipeline::{CellOutcome, Judge};
use crate::renderer::render_each;
use crate::Config;
use crate::{Fatal, Observer, Renderer};
use anyhow::Result;
use compare::SiteMap;
use imagegate_fleet::{Cell, Repo};
use imagegate_render::{
    cell_keys, chart_digest, CacheKey, CacheUse, Provenance, RenderCache, RenderOptions,
};
use imagegate_report::diff::{CellChange, CellSide, ChangeKind, DiffReport, PerSide, Side};
use imagegate_report::{CellStatus, Generator};
use std::path::PathBuf;

/// The two sides of a change: each revision's configuration (the base's may be missing or
/// broken: then it is compared as an empty matrix) and matrix, and how the report names them.
pub struct Sides<'a> {
    /// The base's configuration, if it has a usable one.
    pub base: Option<&'a Config>,
    /// The base's cells (empty without a configuration).
    pub base_cells: &'a [Cell],
    /// The head's configuration.
    pub head: &'a Config,
    /// The head's cells.
    pub head_cells: &'a [Cell],
    /// `--base` as given.
    pub base_ref: Option<String>,
    /// The base's commit.
    pub base_commit: Option<String>,
    /// `--head` as given (none: the working tree).
    pub head_ref: Option<String>,
    /// The head's commit (none: the working tree).
    pub head_commit: Option<String>,
}

/// How the sides are rendered and judged.
pub struct DiffRun<'a> {
    /// What renders the cells.
    pub renderer: &'a dyn Renderer,
    /// The head's render bounds.
    pub opts: &'a RenderOptions,
    /// The base's render bounds, from its own configuration: a change that lowers a limit so
    /// that a cell fails on the head must not make it fail on the base too, where it would be
    /// an unchanged `render-failed` hiding what the head's chart now renders.
    pub base_opts: &'a RenderOptions,
    /// The render cache, if any.
    pub cache: Option<&'a RenderCache>,
    /// The day exceptions are judged against.
    pub today: chrono::NaiveDate,
    /// Warnings and progress.
    pub observer: &'a dyn Observer,
    /// `--strict`: unchanged findings of affected cells fail too.
    pub strict: bool,
    /// `--warnings-as-errors`.
    pub warnings_as_errors: bool,
}

/// Plans, renders, judges and compares the two sides: the finished report.
pub fn diff(sides: &Sides<'_>, run: &DiffRun<'_>) -> Result<DiffReport> {
    let base_cfg = sides.base;
    let head_cfg = sides.head;
    let base_cells = sides.base_cells;
    let head_cells = sides.head_cells;
    let base_keys = match &base_cfg {
        Some(cfg) => cell_keys(&cfg.repo, base_cells, run.renderer.version(), run.base_opts),
        None => Vec::new(),
    };
    let head_keys = cell_keys(&head_cfg.repo, head_cells, run.renderer.version(), run.opts);
    let base_policy = base_cfg.map(policy_fingerprint).unwrap_or_default();
    let head_policy = policy_fingerprint(head_cfg);
    let (pairs, counts) = plan::plan(
        &plan::SideCells {
            cells: base_cells,
            keys: &base_keys,
            policy: &base_policy,
        },
        &plan::SideCells {
            cells: head_cells,
            keys: &head_keys,
            policy: &head_policy,
        },
    );

    // What each side renders: the affected cells it has (a removed cell is reported, not rendered).
    let base_idx: Vec<usize> = pairs
        .iter()
        .filter(|p| p.kind != ChangeKind::Removed)
        .filter_map(|p| p.base)
        .collect();
    let head_idx: Vec<usize> = pairs.iter().filter_map(|p| p.head).collect();
    let today = run.today;
    let progress = run.observer;
    if base_idx.len() + head_idx.len() > 0 {
        progress.start(base_idx.len() + head_idx.len());
    }
    let base_out = match &base_cfg {
        Some(cfg) => render_side(
            cfg,
            &Subset::of(base_cells, &base_keys, &base_idx),
            run.renderer,
            run.base_opts,
            run.cache,
            today,
            progress,
        ),
        None => Vec::new(),
    };
    let head_out = render_side(
        head_cfg,
        &Subset::of(head_cells, &head_keys, &head_idx),
        run.renderer,
        run.opts,
        run.cache,
        today,
        progress,
    );
    progress.finish();
    // promotion-drift is a rule over whole environments: judged on each side over every cell of
    // its chains (unaffected cells come from the cache, rendered once for both sides).
    let drift =
        |cfg: &Config, cells: &[Cell], keys: &[Result<CacheKey, String>], opts: &RenderOptions| {
            side_drift(cfg, cells, keys, run.renderer, opts, run.cache, today)
        };
    let base_drift = match &base_cfg {
        Some(cfg) => drift(cfg, base_cells, &base_keys, run.base_opts)?,
        None => Vec::new(),
    };
    let head_drift = drift(head_cfg, head_cells, &head_keys, run.opts)?;

    let mut report = DiffReport::new(
        Generator::new("imagegate", env!("CARGO_PKG_VERSION")).with_helm(run.renderer.version()),
        Side {
            git_ref: sides.base_ref.clone(),
            commit: sides.base_commit.clone(),
        },
        Side {
            git_ref: sides.head_ref.clone(),
            commit: sides.head_commit.clone(),
        },
    );
    report.strict = run.strict;
    report.warnings_as_errors = run.warnings_as_errors;
    report.cells = counts;
    report.rendered = PerSide {
        base: base_out.len() as u64,
        head: head_out.len() as u64,
    };
    let from_cache = |v: &[SideRender]| v.iter().filter(|r| r.from == Provenance::Cache).count();
    report.cached = PerSide {
        base: from_cache(&base_out) as u64,
        head: from_cache(&head_out) as u64,
    };
    // The Argo CD applications no cell renders, on each side: the configuration's, and those
    // the rendered cells render (unaffected cells render the same on both sides). One that the
    // change takes out of judgement fails the check: its images are no longer seen.
    let side_not_judged = |cfg: Option<&Config>, out: &[SideRender]| {
        let mut apps = cfg.map(crate::fleet::not_judged).unwrap_or_default();
        apps.extend(
            out.iter()
                .flat_map(|r| r.outcome.rendered_apps.iter().cloned()),
        );
        apps.sort_by(|a, b| (&a.manifest, a.line, &a.app).cmp(&(&b.manifest, b.line, &b.app)));
        apps.dedup();
        apps
    };
    let base_not_judged = side_not_judged(base_cfg, &base_out);
    report.not_judged = side_not_judged(Some(head_cfg), &head_out);
    report.new_not_judged = report
        .not_judged
        .iter()
        // By name alone: Argo CD names applications uniquely, and an ApplicationSet element
        // that moves (a list item inserted before it) is the same application.
        .filter(|h| !base_not_judged.iter().any(|b| b.app == h.app))
        .cloned()
        .collect();
    for app in &report.new_not_judged {
        run.observer.warn(&format!(
            "{} (new in this change: it fails the check)",
            app.sentence()
        ));
    }
    let mut base_iter = base_out.into_iter();
    let mut head_iter = head_out.into_iter();
    let mut inputs_memo = InputsMemo::default();
    let judging = base_cfg
        .map(|b| judging_changes(b, head_cfg))
        .unwrap_or_default();
    for pair in &pairs {
        let b_cell = pair.base.map(|i| &base_cells[i]);
        let h_cell = pair.head.map(|i| &head_cells[i]);
        let b = match pair.kind {
            ChangeKind::Removed => None,
            _ => pair.base.and_then(|_| base_iter.next()),
        };
        let h = pair.head.and_then(|_| head_iter.next());
        let inputs = match (b_cell, h_cell, &base_cfg) {
            (Some(bc), Some(hc), Some(bcfg)) => {
                inputs_memo.changed((&bcfg.repo, bc), (&head_cfg.repo, hc), &judging)
            }
            _ => Vec::new(),
        };
        let cell = h_cell
            .or(b_cell)
            .ok_or_else(|| Fatal("a pair without a cell".into()))?;
        let mut change = CellChange {
            kind: pair.kind,
            environment: cell.environment.clone(),
            app: cell.app.clone(),
            chart: cell.chart.clone(),
            inputs,
            base: b_cell.map(|c| side_of(c, b.as_ref())),
            head: h_cell.map(|c| side_of(c, h.as_ref())),
            image_changes: Vec::new(),
            diff: None,
            diff_truncated: false,
        };
        let empty = SiteMap::new();
        if let (Some(b), Some(h)) = (&b, &h) {
            if let (Some(bt), Some(ht)) = (&b.text, &h.text) {
                let label = format!("{}/{}", cell.environment, cell.app);
                if let Some((d, cut)) = compare::unified(bt, ht, &label) {
                    change.diff = Some(d);
                    change.diff_truncated = cut;
                }
            }
        }
        if b.as_ref().is_some_and(|b| b.text.is_some())
            || h.as_ref().is_some_and(|h| h.text.is_some())
        {
            change.image_changes = compare::image_changes(
                b.as_ref().map_or(&empty, |b| &b.sites),
                h.as_ref().map_or(&empty, |h| &h.sites),
            );
        }
        let base_findings = b.map(|b| b.outcome.findings).unwrap_or_default();
        let head_findings = h.map(|h| h.outcome.findings).unwrap_or_default();
        let [new, fixed, unchanged] = compare::classify(base_findings, head_findings, &cell.app);
        report.new.extend(new);
        report.fixed.extend(fixed);
        report.unchanged.extend(unchanged);
        report.changes.push(change);
    }
    // New and fixed drift is reported wherever it is; an unchanged one only for a cell this
    // change affects (unchanged lists the findings of affected cells, which --strict fails on).
    let [new, fixed, unchanged] = compare::classify_fleet(base_drift, head_drift);
    let affected: std::collections::BTreeSet<(String, String)> = report
        .changes
        .iter()
        .map(|c| (c.environment.clone(), c.app.clone()))
        .collect();
    report.new.extend(new);
    report.fixed.extend(fixed);
    report.unchanged.extend(
        unchanged
            .into_iter()
            .filter(|f| affected.contains(&(f.environment.clone(), f.app.clone()))),
    );
    Ok(report.finish())
}

/// The base's configuration. A base without one (imagegate is new in this change) or with a
/// broken one is compared as an empty matrix, with a warning: every head cell is then added,
/// and all its findings are new.
pub fn base_config(
    base: &str,
    tree: Option<&crate::git::Unpacked>,
    prefix: &str,
    file: &str,
    observer: &dyn Observer,
) -> Option<Config> {
    let Some(tree) = tree else {
        observer.warn(&format!(
            "base {base} has no folder `{prefix}`; every head cell counts as added"
        ));
        return None;
    };
    let path = tree.path().join(file);
    if !path.is_file() {
        observer.warn(&format!(
            "base {base} has no {}; every head cell counts as added",
            join(prefix, file)
        ));
        return None;
    }
    match Config::load(&path) {
        Ok(cfg) => Some(cfg),
        Err(e) => {
            observer.warn(&format!(
                "base {base}: {e}; every head cell counts as added"
            ));
            None
        }
    }
}

fn join(prefix: &str, file: &str) -> String {
    if prefix.is_empty() {
        file.to_string()
    } else {
        format!("{prefix}/{file}")
    }
}

/// The policy and the exceptions, without where they are written (an exception's line), so
/// moving or reformatting the `exceptions:` block does not make every cell look changed. Both
/// sides are fingerprinted by the same binary in the same run, and every map in the settings is
/// ordered, so their `Debug` text is a faithful canonical form.
pub fn policy_text(cfg: &Config) -> String {
    let mut exceptions = cfg.model.exceptions.clone();
    for e in &mut exceptions.list {
        e.line = None;
    }
    format!("{:?}\n{:?}", cfg.model.policy, exceptions)
}

/// What the findings of a side depend on besides the renders: the policy, the exceptions
/// ([`policy_text`]) and `limits.maxDocuments`, which each side applies to its own renders (a
/// cell over it is not judged). The other bounds are the head's on both sides, and part of the
/// render keys.
pub fn policy_fingerprint(cfg: &Config) -> String {
    format!(
        "{}\nmaxDocuments {}",
        policy_text(cfg),
        cfg.model.limits.max_documents
    )
}

/// Which of the inputs of [`policy_fingerprint`] differ between the sides, as the report names
/// them.
pub fn judging_changes(base: &Config, head: &Config) -> Vec<&'static str> {
    let mut out = Vec::new();
    if policy_text(base) != policy_text(head) {
        out.push("policy");
    }
    if base.model.limits.max_documents != head.model.limits.max_documents {
        out.push("limits.maxDocuments");
    }
    out
}

/// Some cells of a side, with their keys.
struct Subset {
    cells: Vec<Cell>,
    keys: Vec<Result<CacheKey, String>>,
}

impl Subset {
    fn of(cells: &[Cell], keys: &[Result<CacheKey, String>], idx: &[usize]) -> Self {
        Self {
            cells: idx.iter().map(|&i| cells[i].clone()).collect(),
            keys: idx.iter().map(|&i| keys[i].clone()).collect(),
        }
    }
}

/// One rendered (or failed) cell of one side.
struct SideRender {
    outcome: CellOutcome,
    text: Option<String>,
    sites: SiteMap,
    from: Provenance,
}

fn render_side(
    cfg: &Config,
    subset: &Subset,
    helm: &dyn Renderer,
    opts: &RenderOptions,
    cache: Option<&RenderCache>,
    today: chrono::NaiveDate,
    progress: &dyn Observer,
) -> Vec<SideRender> {
    // One decode per cell: the judge collects the image sites the comparison needs, so they
    // come under the same limits (a cell over `limits.maxDocuments` has none: it failed).
    let judge = Judge {
        sites: true,
        ..Judge::of(cfg, today, false)
    };
    let rerender = crate::provenance::Rerender {
        renderer: helm,
        opts,
        cache,
        key: None,
    };
    let cache = cache.map(|cache| CacheUse {
        cache,
        keys: &subset.keys,
    });
    render_each(
        helm,
        &cfg.repo,
        &subset.cells,
        opts,
        cache,
        |i, result, from| {
            let text = result.as_ref().ok().map(|r| r.stdout.clone());
            let rerender = crate::provenance::Rerender {
                key: subset.keys.get(i).and_then(|k| k.as_ref().ok()),
                ..rerender
            };
            let mut outcome = judge.cell_traced(&subset.cells[i], result, Some(&rerender));
            let sites = std::mem::take(&mut outcome.sites);
            if from == Provenance::Cache && outcome.report.status == CellStatus::Rendered {
                outcome.report.status = CellStatus::Cached;
            }
            progress.cell_done(outcome.report.status == CellStatus::Failed);
            SideRender {
                outcome,
                text,
                sites,
                from,
            }
        },
    )
}

/// The `promotion-drift` findings of one side: every cell of the environments its promotion
/// chains name is rendered (through the cache) and the lineage judged as a full run would.
/// `keys` are the side's cache keys, one per cell (the plan already hashed every cell).
fn side_drift(
    cfg: &Config,
    cells: &[Cell],
    keys: &[Result<CacheKey, String>],
    helm: &dyn Renderer,
    opts: &RenderOptions,
    cache: Option<&RenderCache>,
    today: chrono::NaiveDate,
) -> Result<Vec<imagegate_report::ReportFinding>> {
    let Some(promotion) = &cfg.model.promotion else {
        return Ok(Vec::new());
    };
    let envs = promotion.environments();
    let idx: Vec<usize> = (0..cells.len())
        .filter(|&i| envs.contains(cells[i].environment.as_str()))
        .collect();
    if idx.is_empty() {
        return Ok(Vec::new());
    }
    let chain = Subset::of(cells, keys, &idx);
    let judge = Judge::of(cfg, today, true);
    let outcomes = crate::pipeline::run_keyed(
        &judge,
        cfg,
        helm,
        &chain.cells,
        &chain.keys,
        opts,
        &crate::Quiet,
        cache,
    );
    let mut lineage = Vec::new();
    let mut judged = std::collections::BTreeMap::new();
    for o in &outcomes {
        lineage.extend(crate::promotion::lineage_sites(
            promotion,
            &o.report.chart,
            &o.inventory,
        ));
        judged.insert(
            (o.report.environment.clone(), o.report.app.clone()),
            o.report.status == CellStatus::Failed,
        );
    }
    crate::fleet::drift_findings(
        cfg,
        &lineage,
        &crate::promotion::Judged {
            cells: &judged,
            matrix: cells,
        },
        &crate::promotion::HistoryPlan {
            depth: 0,
            render: None,
        },
        today,
        &mut imagegate_policy::ExceptionOutcome::default(),
    )
}

fn side_of(cell: &Cell, r: Option<&SideRender>) -> CellSide {
    match r {
        Some(r) => CellSide {
            app: cell.app.clone(),
            status: Some(r.outcome.report.status),
            documents: r.outcome.report.documents,
            images: r.outcome.report.images,
            error: r.outcome.report.error.clone(),
        },
        None => CellSide {
            app: cell.app.clone(),
            status: None,
            documents: 0,
            images: 0,
            error: None,
        },
    }
}

/// Says which inputs of a cell differ, hashing each chart folder at most once per side.
#[derive(Default)]
struct InputsMemo {
    charts: std::collections::HashMap<(PathBuf, String), Option<[u8; 32]>>,
}

impl InputsMemo {
    fn chart(&mut self, repo: &Repo, chart: &str) -> Option<[u8; 32]> {
        *self
            .charts
            .entry((repo.root().to_path_buf(), chart.to_string()))
            .or_insert_with(|| chart_digest(repo, chart).ok())
    }

    fn changed(
        &mut self,
        (base_repo, base): (&Repo, &Cell),
        (head_repo, head): (&Repo, &Cell),
        judging: &[&str],
    ) -> Vec<String> {
        let mut out = Vec::new();
        if base.chart != head.chart {
            out.push(format!("chart folder {} -> {}", base.chart, head.chart));
        } else if self.chart(base_repo, &base.chart) != self.chart(head_repo, &head.chart)
            || self.chart(head_repo, &head.chart).is_none()
        {
            out.push(format!("chart {}", head.chart));
        }
        let read = |repo: &Repo, rel: &str| -> Option<Vec<u8>> {
            std::fs::read(repo.resolve(rel).ok()??).ok()
        };
        let base_values: Vec<&str> = base.present_value_files().collect();
        let head_values: Vec<&str> = head.present_value_files().collect();
        for v in &head_values {
            if !base_values.contains(v) {
                out.push(format!("values {v} (new in the stack)"));
            } else if read(base_repo, v) != read(head_repo, v) || read(head_repo, v).is_none() {
                out.push(format!("values {v}"));
            }
        }
        for v in base_values.iter().filter(|v| !head_values.contains(v)) {
            out.push(format!("values {v} (gone from the stack)"));
        }
        if out.is_empty() && base_values != head_values {
            out.push("values stack order".into());
        }
        let args = |c: &Cell| {
            (
                c.release.clone(),
                c.namespace.clone(),
                c.kube_version.clone(),
                c.api_versions.clone(),
                c.include_crds,
                c.skip_tests,
                c.skip_schema_validation,
            )
        };
        if args(base) != args(head) {
            out.push(
                "helm arguments (release, namespace, kube version, API versions, CRDs, tests or schema validation)".into(),
            );
        }
        if base.problems != head.problems {
            out.push("configuration problems".into());
        }
        out.extend(judging.iter().map(|j| j.to_string()));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(text: &str) -> Config {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repo::open(dir.path()).unwrap();
        Config::from_text(repo, "imagegate.yaml", text).unwrap()
    }

    const HEAD: &str = "version: 1\nenvironments: [{name: dev}]\ncomponents: []\n";
    const EXCEPTIONS: &str = "exceptions:\n  list:\n    - rule: mutable-tag\n      reason: r\n      expires: 2026-12-31\n";
    const POLICY: &str = "policy:\n  imageFieldNames: [image]\n";

    #[test]
    fn moving_the_exceptions_block_keeps_the_policy_fingerprint() {
        let a = config(&format!("{HEAD}{EXCEPTIONS}{POLICY}"));
        let b = config(&format!("{HEAD}\n\n# moved\n{POLICY}{EXCEPTIONS}"));
        assert!(a.model.exceptions.list[0].line != b.model.exceptions.list[0].line);
        assert_eq!(policy_fingerprint(&a), policy_fingerprint(&b));
        // A change of what an exception says is a change of the policy.
        let c = config(&format!(
            "{HEAD}{}{POLICY}",
            EXCEPTIONS.replace("reason: r", "reason: s")
        ));
        assert_ne!(policy_fingerprint(&a), policy_fingerprint(&c));
    }
}
