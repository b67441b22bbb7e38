//! A run over the fleet, and the judgements that need the whole of it.
//!
//! Per-cell rules run on the render workers (see [`crate::pipeline`]). Three rules can only be
//! judged once every cell is in: whether an exception matched anything (`exception-unused`),
//! promotion lineage (`promotion-drift`) and values files no cell reads (`values-file-unused`).
//! [`run`] judges them at the end of a full run; a narrowed run judges what it can (promotion of
//! the chains whose upstream environment it rendered completely); a shard judges none of them and
//! records what [`Whole`] needs in its report, so `imagegate merge` judges them once over the union.

use crate::cache::CacheChoice;
use crate::convert::{self, InventoryRow};
use crate::overlays;
use crate::pipeline::{self, Judge};
use crate::promotion::{self, HistoryPlan, Judged};
use crate::shard::Shard;
use crate::Config;
use crate::{today, Fatal, Observer, Renderer};
use anyhow::Result;
use imagegate_fleet::Cell;
use imagegate_policy::{ExceptionOutcome, RunScope};
use imagegate_render::RenderOptions;
use imagegate_report::{
    CellStatus, FindingDetail, Generator, LineageSite, Report, ReportFinding, ShardRecord,
};
use std::collections::BTreeMap;
use std::time::Duration;

/// How much of the fleet a run covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coverage {
    /// Every cell of the matrix.
    Full,
    /// Narrowed by `--env` / `--app`.
    Narrowed,
    /// One shard of `--shard K/N` (which is also narrowed by nothing else).
    Shard(Shard),
}

/// What a run does besides judging cells.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    /// The part of the fleet.
    pub coverage: Coverage,
    /// `--history N` (0: compare with today's upstream only).
    pub history: usize,
    /// Collect the image inventory too.
    pub inventory: bool,
}

/// What stays fixed for a whole run: the configuration, the renderer and its options, the render
/// cache, the day exceptions are judged against, and where warnings and progress go.
pub struct Context<'a> {
    /// The configuration.
    pub config: &'a Config,
    /// What renders the cells.
    pub renderer: &'a dyn Renderer,
    /// Render bounds and parallelism.
    pub render: RenderOptions,
    /// The render cache.
    pub cache: CacheChoice,
    /// The day exceptions are judged against.
    pub today: chrono::NaiveDate,
    /// Warnings and progress.
    pub observer: &'a dyn Observer,
    /// `check --registry`: the registry's answers for the `registry-*` rules (`None`: offline).
    pub remote: Option<&'a dyn crate::pipeline::RemoteLookup>,
}

impl<'a> Context<'a> {
    /// The context of a run over `config` rendered by `renderer`, with the command line's
    /// overrides, on [`today`].
    pub fn new(
        config: &'a Config,
        renderer: &'a dyn Renderer,
        overrides: &RenderOverrides,
        cache: CacheChoice,
        observer: &'a dyn Observer,
    ) -> Result<Self, Fatal> {
        Ok(Self {
            config,
            renderer,
            render: render_options(config, overrides),
            cache,
            today: today()?,
            observer,
            remote: None,
        })
    }
}

/// A finished run.
pub struct Run {
    /// The report (with the `shard` record for a shard).
    pub report: Report,
    /// The image inventory, sorted (empty unless asked for).
    pub inventory: Vec<InventoryRow>,
}

/// What the command line may set over the configuration's render settings.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RenderOverrides {
    /// `--jobs`: parallel renders (default: the number of cores).
    pub jobs: Option<usize>,
    /// `--timeout`: seconds per render (default: `helm.timeoutSeconds`).
    pub timeout_seconds: Option<u64>,
}

/// Render options from the command line's overrides and the configuration.
pub fn render_options(cfg: &Config, h: &RenderOverrides) -> RenderOptions {
    RenderOptions {
        jobs: h
            .jobs
            .unwrap_or_else(|| RenderOptions::default().jobs)
            .max(1),
        timeout: Duration::from_secs(
            h.timeout_seconds
                .unwrap_or(cfg.model.helm.timeout_seconds)
                .max(1),
        ),
        max_output_bytes: (cfg.model.limits.max_rendered_mib as usize).saturating_mul(1024 * 1024),
        max_memory_bytes: Some(
            cfg.model
                .limits
                .max_helm_memory_mib
                .saturating_mul(1024 * 1024),
        ),
    }
}

/// Renders and judges `cells` (already selected for the coverage), then the whole-fleet rules the
/// coverage allows.
pub fn run(ctx: &Context<'_>, cells: &[Cell], plan: Plan) -> Result<Run> {
    let cfg = ctx.config;
    let settings = &cfg.model.policy;
    let today = ctx.today;
    let lineage_on = cfg.model.promotion.is_some();
    let judge = Judge {
        remote: ctx.remote,
        ..Judge::of(cfg, today, plan.inventory || lineage_on)
    };
    let opts = &ctx.render;
    let outcomes = pipeline::run_with_cache(
        &judge,
        cfg,
        ctx.renderer,
        cells,
        opts,
        ctx.observer,
        &ctx.cache,
    )?;
    let mut findings = Vec::new();
    let mut reports = Vec::new();
    let mut matched = ExceptionOutcome::default();
    let mut inventory = Vec::new();
    let mut lineage = Vec::new();
    let mut reached = std::collections::BTreeSet::new();
    let mut rendered_apps = Vec::new();
    for o in outcomes {
        reached.extend(o.custom_paths_reached);
        rendered_apps.extend(o.rendered_apps);
        if let Some(p) = &cfg.model.promotion {
            lineage.extend(promotion::lineage_sites(p, &o.report.chart, &o.inventory));
        }
        findings.extend(o.findings);
        reports.push(o.report);
        matched.merge(&o.matched_exceptions);
        if plan.inventory {
            inventory.extend(o.inventory);
        }
    }
    inventory.sort();
    if plan.coverage == Coverage::Full {
        for warning in unreached_custom_paths(&judge.decode.custom_fields, &reached, &reports) {
            ctx.observer.warn(&warning);
        }
    }

    // Missing value-stack entries belong to their cells: judged in any run.
    let mut missing = settings.apply_severity(overlays::missing(cfg, cells));
    matched.merge(&imagegate_policy::apply_exceptions(
        &mut missing,
        &cfg.model.exceptions,
        today,
    ));
    let by_cell: BTreeMap<(&str, &str), &Cell> = cells
        .iter()
        .map(|c| ((c.environment.as_str(), c.app.as_str()), c))
        .collect();
    findings.extend(missing.iter().map(|f| {
        let cell = by_cell
            .get(&(f.cell.environment.as_str(), f.cell.app.as_str()))
            .copied();
        convert::finding_with_stack(f, None, cell, &cfg.model.exceptions)
    }));

    let mut not_judged = not_judged(cfg);
    not_judged.extend(rendered_apps);
    for app in &not_judged {
        ctx.observer.warn(&app.sentence());
    }
    let generator =
        Generator::new("imagegate", env!("CARGO_PKG_VERSION")).with_helm(ctx.renderer.version());
    if let Coverage::Shard(shard) = plan.coverage {
        let matrix_cells = cfg.cells().map_err(|e| Fatal(e.to_string()))?.len() as u64;
        let n = cfg.model.exceptions.list.len();
        let mut report = Report::new(generator, findings, reports).with_not_judged(not_judged);
        let details = report.findings.iter().map(FindingDetail::of).collect();
        lineage.sort();
        report.shard = Some(ShardRecord {
            index: shard.index,
            count: shard.count,
            matrix_cells,
            exception_matches: (0..n).map(|i| matched.matches(i) as u64).collect(),
            lineage,
            details,
            custom_paths_reached: reached
                .iter()
                .map(|(i, p)| (*i as u64, p.clone()))
                .collect(),
        });
        return Ok(Run { report, inventory });
    }

    let judged = judged_cells(&reports);
    let whole = Whole {
        cfg,
        renderer: Some(ctx.renderer),
        opts,
        observer: ctx.observer,
        today,
        history: plan.history,
        full: plan.coverage == Coverage::Full,
    };
    findings.extend(whole.judge(&lineage, &judged, matched)?);
    Ok(Run {
        report: Report::new(generator, findings, reports).with_not_judged(not_judged),
        inventory,
    })
}

/// The Argo CD applications of the configuration that no cell renders, as the report lists them.
/// Every run lists all of them, narrowed and sharded ones too: they are not cells, so no
/// selection covers them, and a run must never look as if it judged them.
pub fn not_judged(cfg: &Config) -> Vec<imagegate_report::NotJudgedApp> {
    cfg.argocd
        .not_judged
        .iter()
        .map(|n| imagegate_report::NotJudgedApp {
            app: n.app.clone(),
            manifest: n.manifest.clone(),
            line: n.line,
            element: n.element.clone(),
            reason: n.reason.clone(),
        })
        .collect()
}

/// A warning for each path of a configured `policy.customImageFields` entry (its images,
/// containers and container patches) that reached no node in any cell of a whole run: a
/// misspelt path or kind judges nothing, and would pass in silence. Said only when some cell
/// rendered; built-in catalog entries are never named (most fleets run few of those operators).
pub fn unreached_custom_paths(
    fields: &[imagegate_decode::CustomImageField],
    reached: &std::collections::BTreeSet<(usize, String)>,
    reports: &[imagegate_report::CellReport],
) -> Vec<String> {
    let rendered = reports
        .iter()
        .filter(|r| r.status == CellStatus::Rendered)
        .count();
    if rendered == 0 {
        return Vec::new();
    }
    let mut out = Vec::new();
    for (i, f) in fields.iter().enumerate().filter(|(_, f)| !f.builtin) {
        let kinds = if f.kinds.is_empty() {
            "any kind".to_string()
        } else {
            f.kinds.join(", ")
        };
        let paths = f
            .image_paths
            .iter()
            .chain(&f.containers)
            .chain(&f.container_patches);
        for path in paths {
            if !reached.contains(&(i, path.clone())) {
                out.push(format!(
                    "policy.customImageFields: `{path}` (group {}, {kinds}) reached no field in any of the {rendered} rendered cells, so it judged nothing\n  hint: check the path and the kinds against a rendered object (`helm template`), or remove the entry",
                    f.group
                ));
            }
        }
    }
    out
}

/// Every judged cell (environment, app), with whether it failed to render: what the whole-fleet
/// rules need to know of the cells a run (or the merge of shard runs) covered.
pub fn judged_cells(reports: &[imagegate_report::CellReport]) -> BTreeMap<(String, String), bool> {
    reports
        .iter()
        .map(|r| {
            (
                (r.environment.clone(), r.app.clone()),
                r.status == CellStatus::Failed,
            )
        })
        .collect()
}

/// The `promotion-drift` findings of a run's lineage, finished (severity, exceptions, origins);
/// the exceptions they match are added to `matched`.
pub fn drift_findings(
    cfg: &Config,
    lineage: &[imagegate_report::LineageSite],
    judged: &Judged<'_>,
    history: &HistoryPlan<'_>,
    today: chrono::NaiveDate,
    matched: &mut ExceptionOutcome,
) -> Result<Vec<ReportFinding>> {
    let settings = &cfg.model.policy;
    let exceptions = &cfg.model.exceptions;
    let mut out = Vec::new();
    for d in promotion::drift(cfg, lineage, judged, history)? {
        let mut f = settings.apply_severity(vec![d.finding]);
        matched.merge(&imagegate_policy::apply_exceptions(
            &mut f, exceptions, today,
        ));
        if f.is_empty() {
            continue;
        }
        let stack = imagegate_origin::Stack::for_cell(&cfg.repo, &d.cell);
        out.extend(
            f.iter()
                .map(|f| convert::finding_with_stack(f, Some(&stack), Some(&d.cell), exceptions)),
        );
    }
    Ok(out)
}

/// The whole-fleet rules, over what a run (or the merge of shard runs) collected.
pub struct Whole<'a> {
    /// The configuration.
    pub cfg: &'a Config,
    /// The renderer, for `--history` renders (required when `history` > 0).
    pub renderer: Option<&'a dyn Renderer>,
    /// Render options, for `--history` renders.
    pub opts: &'a RenderOptions,
    /// Where `--history`'s warnings go.
    pub observer: &'a dyn Observer,
    /// The day exceptions are judged against.
    pub today: chrono::NaiveDate,
    /// `--history N`.
    pub history: usize,
    /// The run covered every cell of the matrix.
    pub full: bool,
}

impl Whole<'_> {
    /// `promotion-drift`, then (on a full run) `values-file-unused` for unread files, then the
    /// exception hygiene over `matched` plus what the drift findings matched.
    pub fn judge(
        &self,
        lineage: &[LineageSite],
        judged: &BTreeMap<(String, String), bool>,
        mut matched: ExceptionOutcome,
    ) -> Result<Vec<ReportFinding>> {
        let cfg = self.cfg;
        let settings = &cfg.model.policy;
        let exceptions = &cfg.model.exceptions;
        let today = self.today;
        let matrix = cfg.cells().map_err(|e| Fatal(e.to_string()))?;
        let mut out = Vec::new();

        out.extend(drift_findings(
            cfg,
            lineage,
            &Judged {
                cells: judged,
                matrix: &matrix,
            },
            &HistoryPlan {
                depth: self.history,
                render: self.renderer.map(|r| (r, self.opts, self.observer)),
            },
            today,
            &mut matched,
        )?);

        if self.full {
            let mut unread = settings.apply_severity(overlays::unread(cfg, &matrix)?);
            matched.merge(&imagegate_policy::apply_exceptions(
                &mut unread,
                exceptions,
                today,
            ));
            out.extend(
                unread
                    .iter()
                    .map(|f| convert::finding_with_stack(f, None, None, exceptions)),
            );
        }

        let selection: Vec<(String, String)> = judged.keys().cloned().collect();
        let scope = if self.full {
            RunScope::Full
        } else {
            RunScope::Narrowed(&selection)
        };
        for f in imagegate_policy::exception_hygiene(exceptions, &matched, scope, today, settings) {
            let mut r = convert::finding(&f, None, None);
            if let Some(line) = f.config_line {
                r.origin = Some(imagegate_report::Origin::new(&cfg.file, line));
            }
            out.push(r);
        }
        Ok(out)
    }
}
