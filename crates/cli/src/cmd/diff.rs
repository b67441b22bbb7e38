//! `imagegate diff --base REF [--head REF]`: the PR check.
//!
//! Both revisions' matrices are resolved from their own `imagegate.yaml`; only the cells whose
//! inputs differ are rendered (through the render cache), on each side; their images, rendered
//! documents and findings are compared. See docs/diff.md.

use imagegate_engine::diff::{compare, plan};
use imagegate_engine::renderer::render_each;
use imagegate_engine::{Observer, Renderer};

use crate::cli::DiffArgs;
use crate::output::{rule_meta, today};
use crate::pipeline::{CellOutcome, Judge};
use crate::Fatal;
use anyhow::Result;
use compare::SiteMap;
use imagegate_decode::decode_stream;
use imagegate_engine::Config;
use imagegate_fleet::{Cell, Repo};
use imagegate_render::{
    cell_keys, chart_digest, CacheKey, CacheUse, Helm, Provenance, RenderCache, RenderOptions,
};
use imagegate_report::diff::{
    render_diff, CellChange, CellSide, ChangeKind, DiffFormat, DiffReport, PerSide, Side,
};
use imagegate_report::{CellStatus, FormatOptions, Generator};
use std::io::Write;
use std::path::{Path, PathBuf};

pub fn run(args: DiffArgs) -> Result<u8> {
    let outputs = parse_outputs(&args)?;
    let config_path = super::config_path(&args.config);
    let (config_dir, config_file) = split_config_path(&config_path)?;
    let git = crate::git::Git::discover()?;
    let prefix = git.prefix_of(&config_dir)?;
    let located =
        Helm::locate(args.helm.helm.as_deref(), &config_dir).map_err(|e| Fatal(e.to_string()))?;
    let helm = imagegate_engine::HelmRenderer::new(&located);
    let observer = crate::progress::Terminal::new(!args.no_progress);

    let base_commit = git.commit_of(&args.base)?;
    let base_tree = git.unpack(&base_commit, &prefix)?;
    let head_rev = match &args.head {
        Some(r) => {
            let commit = git.commit_of(r)?;
            let tree = git.unpack(&commit, &prefix)?.ok_or_else(|| {
                Fatal(format!("--head {r}: the revision has no folder `{prefix}`"))
            })?;
            Some((commit, tree))
        }
        None => None,
    };
    let head_cfg = match &head_rev {
        Some((_, tree)) => {
            let path = tree.path().join(&config_file);
            if !path.is_file() {
                return Err(Fatal(format!(
                    "--head {}: the revision has no {}",
                    args.head.as_deref().unwrap_or_default(),
                    join(&prefix, &config_file)
                ))
                .into());
            }
            Config::load(&path).map_err(|e| Fatal(format!("head: {e}")))?
        }
        None => super::load_config(&config_path)?,
    };
    let head_cells = head_cfg.cells().map_err(|e| Fatal(e.to_string()))?;
    let base_cfg = base_config(&args.base, base_tree.as_ref(), &prefix, &config_file);
    let base_cells = match &base_cfg {
        Some(cfg) => cfg.cells().unwrap_or_else(|e| {
            warn(&format!(
                "base {}: {e}; comparing against an empty matrix",
                args.base
            ));
            Vec::new()
        }),
        None => Vec::new(),
    };

    let cache = crate::cache::open(&args.helm.cache.choice(), &[git.top()], &observer)?;
    let opts = crate::fleet::render_options(&head_cfg, &args.helm.overrides());
    let base_keys = match &base_cfg {
        Some(cfg) => cell_keys(&cfg.repo, &base_cells, helm.version(), &opts),
        None => Vec::new(),
    };
    let head_keys = cell_keys(&head_cfg.repo, &head_cells, helm.version(), &opts);
    let base_policy = base_cfg
        .as_ref()
        .map(policy_fingerprint)
        .unwrap_or_default();
    let head_policy = policy_fingerprint(&head_cfg);
    let (pairs, counts) = plan::plan(
        &plan::SideCells {
            cells: &base_cells,
            keys: &base_keys,
            policy: &base_policy,
        },
        &plan::SideCells {
            cells: &head_cells,
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
    let today = today()?;
    let progress = &observer;
    if base_idx.len() + head_idx.len() > 0 {
        progress.start(base_idx.len() + head_idx.len());
    }
    let base_out = match &base_cfg {
        Some(cfg) => render_side(
            cfg,
            &Subset::of(&base_cells, &base_keys, &base_idx),
            &helm,
            &opts,
            cache.as_ref(),
            today,
            progress,
        ),
        None => Vec::new(),
    };
    let head_out = render_side(
        &head_cfg,
        &Subset::of(&head_cells, &head_keys, &head_idx),
        &helm,
        &opts,
        cache.as_ref(),
        today,
        progress,
    );
    progress.finish();
    // promotion-drift is a rule over whole environments: judged on each side over every cell of
    // its chains (unaffected cells come from the cache, rendered once for both sides).
    let drift = |cfg: &Config, cells: &[Cell], keys: &[Result<CacheKey, String>]| {
        side_drift(cfg, cells, keys, &helm, &opts, cache.as_ref(), today)
    };
    let base_drift = match &base_cfg {
        Some(cfg) => drift(cfg, &base_cells, &base_keys)?,
        None => Vec::new(),
    };
    let head_drift = drift(&head_cfg, &head_cells, &head_keys)?;
    if let Some(cache) = &cache {
        crate::cache::close(cache, &observer);
    }

    let mut report = DiffReport::new(
        Generator::new("imagegate", env!("CARGO_PKG_VERSION")).with_helm(helm.version()),
        Side {
            git_ref: Some(args.base.clone()),
            commit: Some(base_commit),
        },
        Side {
            git_ref: args.head.clone(),
            commit: head_rev.as_ref().map(|(c, _)| c.clone()),
        },
    );
    report.strict = args.strict;
    report.warnings_as_errors = args.warnings_as_errors;
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
    let mut base_iter = base_out.into_iter();
    let mut head_iter = head_out.into_iter();
    let mut inputs_memo = InputsMemo::default();
    let judging = base_cfg
        .as_ref()
        .map(|b| judging_changes(b, &head_cfg))
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
    let report = report.finish();
    emit(&report, &outputs, &prefix)?;
    Ok(report.exit_code() as u8)
}

/// The configuration file's folder (real path) and file name.
fn split_config_path(path: &Path) -> Result<(PathBuf, String), Fatal> {
    if !path.is_file() {
        return Err(Fatal(format!(
            "{}: no such configuration file\n  hint: run imagegate diff in the repository root or pass --config FILE",
            path.display()
        )));
    }
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let dir = dir
        .canonicalize()
        .map_err(|e| Fatal(format!("{}: {e}", dir.display())))?;
    let file = path
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .ok_or_else(|| Fatal(format!("{}: not a file name", path.display())))?;
    Ok((dir, file))
}

fn join(prefix: &str, file: &str) -> String {
    if prefix.is_empty() {
        file.to_string()
    } else {
        format!("{prefix}/{file}")
    }
}

/// The base's configuration. A base without one (imagegate is new in this change) or with a
/// broken one is compared as an empty matrix, with a warning: every head cell is then added,
/// and all its findings are new.
fn base_config(
    base: &str,
    tree: Option<&crate::git::Unpacked>,
    prefix: &str,
    file: &str,
) -> Option<Config> {
    let Some(tree) = tree else {
        warn(&format!(
            "base {base} has no folder `{prefix}`; every head cell counts as added"
        ));
        return None;
    };
    let path = tree.path().join(file);
    if !path.is_file() {
        warn(&format!(
            "base {base} has no {}; every head cell counts as added",
            join(prefix, file)
        ));
        return None;
    }
    match Config::load(&path) {
        Ok(cfg) => Some(cfg),
        Err(e) => {
            warn(&format!(
                "base {base}: {e}; every head cell counts as added"
            ));
            None
        }
    }
}

/// The policy and the exceptions, without where they are written (an exception's line), so
/// moving or reformatting the `exceptions:` block does not make every cell look changed. Both
/// sides are fingerprinted by the same binary in the same run, and every map in the settings is
/// ordered, so their `Debug` text is a faithful canonical form.
fn policy_text(cfg: &Config) -> String {
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
fn policy_fingerprint(cfg: &Config) -> String {
    format!(
        "{}\nmaxDocuments {}",
        policy_text(cfg),
        cfg.model.limits.max_documents
    )
}

/// Which of the inputs of [`policy_fingerprint`] differ between the sides, as the report names
/// them.
fn judging_changes(base: &Config, head: &Config) -> Vec<&'static str> {
    let mut out = Vec::new();
    if policy_text(base) != policy_text(head) {
        out.push("policy");
    }
    if base.model.limits.max_documents != head.model.limits.max_documents {
        out.push("limits.maxDocuments");
    }
    out
}

fn warn(message: &str) {
    eprintln!(
        "imagegate: warning: {}",
        crate::output::sanitize_stderr(message)
    );
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
    let judge = Judge::of(cfg, today, false);
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
            let sites = text
                .as_deref()
                .map(|t| compare::image_sites(&decode_stream(t, &judge.decode)))
                .unwrap_or_default();
            let mut outcome = judge.cell(&subset.cells[i], result);
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
        &imagegate_engine::Quiet,
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
            )
        };
        if args(base) != args(head) {
            out.push(
                "helm arguments (release, namespace, kube version, API versions or CRDs)".into(),
            );
        }
        if base.problems != head.problems {
            out.push("configuration problems".into());
        }
        out.extend(judging.iter().map(|j| j.to_string()));
        out
    }
}

/// `--format` and every `--output [FORMAT=]FILE`.
struct DiffOutputs {
    stdout: DiffFormat,
    files: Vec<(DiffFormat, PathBuf)>,
}

fn parse_outputs(args: &DiffArgs) -> Result<DiffOutputs, Fatal> {
    let (stdout, files) =
        crate::output::parse_output_specs::<DiffFormat>(&args.format, &args.output)?;
    Ok(DiffOutputs { stdout, files })
}

fn emit(report: &DiffReport, outputs: &DiffOutputs, prefix: &str) -> Result<()> {
    let rules = rule_meta();
    let options = FormatOptions {
        rules: &rules,
        path_prefix: prefix,
        ..FormatOptions::default()
    };
    for (format, path) in &outputs.files {
        let mut f = std::io::BufWriter::new(
            std::fs::File::create(path)
                .map_err(|e| Fatal(format!("cannot write {}: {e}", path.display())))?,
        );
        render_diff(*format, report, &options, &mut f)?;
        f.flush()?;
    }
    let mut out = crate::output::stdout();
    render_diff(outputs.stdout, report, &options, &mut out)?;
    out.flush()?;
    Ok(())
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
