//! The check pipeline: cells → renders → image sites → findings, one cell at a time on the
//! render workers, so nothing rendered outlives its cell.

use crate::cache::CacheChoice;
use crate::convert;
use crate::provenance::{Rerender, Trace};
use crate::renderer::{render_each, Renderer};
use crate::Config;
use crate::{Fatal, Observer};
use imagegate_decode::{DecodeOptions, Decoded};
use imagegate_fleet::Cell;
use imagegate_policy::{CellContext, ExceptionOutcome, ExceptionSettings, Finding, PolicySettings};
use imagegate_render::{
    cell_keys, CacheUse, Provenance, RenderCache, RenderFailure, RenderOptions, Rendered,
};
use imagegate_report::{CellReport, CellStatus, ReportFinding};

/// What one cell produced.
pub struct CellOutcome {
    /// The cell as reported.
    pub report: CellReport,
    /// Its findings, converted, with origins resolved.
    pub findings: Vec<ReportFinding>,
    /// Which exceptions matched a finding of this cell.
    pub matched_exceptions: ExceptionOutcome,
    /// Every image site, for the inventory.
    pub inventory: Vec<convert::InventoryRow>,
    /// Every image site by place, for the PR diff's image changes (empty unless
    /// [`Judge::sites`]).
    pub sites: crate::diff::compare::SiteMap,
    /// The configured custom image field paths that reached a node in this cell (see
    /// `imagegate_decode::Decoded::custom_paths_reached`).
    pub custom_paths_reached: std::collections::BTreeSet<(usize, String)>,
    /// The Argo CD `Application`s and `ApplicationSet`s the cell renders (an app of apps):
    /// Argo CD creates them and deploys what they name, which no cell judges (see
    /// [`rendered_applications`]).
    pub rendered_apps: Vec<imagegate_report::NotJudgedApp>,
}

/// The Argo CD applications among `decoded`'s objects, each listed as not judged: imagegate
/// reads Applications from the files `argocd.manifests` names, never from a render, so what a
/// rendered one deploys is not judged, and the run must say so. `chart` is the cell's chart
/// folder: a template path's first segment (the chart's name) becomes it.
pub fn rendered_applications(
    decoded: &Decoded,
    cell: &str,
    chart: &str,
) -> Vec<imagegate_report::NotJudgedApp> {
    decoded
        .objects
        .iter()
        .filter(|o| {
            o.object.api_version.starts_with("argoproj.io/")
                && matches!(o.object.kind.as_str(), "Application" | "ApplicationSet")
        })
        .map(|o| {
            let manifest = match o.template.as_deref().and_then(|t| t.split_once('/')) {
                Some((_, rest)) if !chart.is_empty() => format!("{chart}/{rest}"),
                _ => o.template.clone().unwrap_or_else(|| chart.to_string()),
            };
            imagegate_report::NotJudgedApp {
                app: o.object.name.clone(),
                manifest,
                line: 1,
                element: Some(format!("{} rendered by cell {cell}", o.object.kind)),
                reason: "Argo CD creates it from this render (an app of apps), and imagegate \
                         reads applications only from the files argocd.manifests names; add \
                         the charts it deploys as components, or its manifests to \
                         argocd.manifests"
                    .to_string(),
            }
        })
        .collect()
}

/// Shared, read-only inputs of every cell's work.
pub struct Judge<'a> {
    /// The configuration (for the repository and exceptions).
    pub config: Option<&'a Config>,
    /// The policy.
    pub settings: &'a PolicySettings,
    /// The time-boxed exceptions.
    pub exceptions: &'a ExceptionSettings,
    /// Decoder options derived from the policy.
    pub decode: DecodeOptions,
    /// The day exceptions are judged against.
    pub today: chrono::NaiveDate,
    /// Collect the inventory too.
    pub inventory: bool,
    /// Collect the image sites by place too (the PR diff), from the same decode.
    pub sites: bool,
    /// The work budget of one cell's provenance search (`imagegate_origin::DEFAULT_BUDGET`):
    /// a cell whose search runs out of it fails, not judged.
    pub origin_budget: u64,
    /// `check --registry`: where the registry's answers come from (`None`: no registry is
    /// asked, and nothing opens a connection).
    pub remote: Option<&'a dyn RemoteLookup>,
}

/// What a registry says about pinned images, for the `registry-*` rules (`check --registry`).
///
/// An image it cannot answer for returns `None` and is not judged; the implementation keeps the
/// reason and the caller fails the run with it (exit status 2), so nothing passes unasked.
pub trait RemoteLookup: Sync {
    /// The registry's answer for the digest-pinned reference `image`, or `None` when the
    /// registry could not be asked.
    fn facts(&self, image: &str) -> Option<imagegate_policy::RemoteFacts>;

    /// The platforms (`os/arch[/variant]`) environment `env` declares (`platforms:`).
    fn platforms(&self, env: &str) -> &[String];
}

impl<'a> Judge<'a> {
    /// The judge of `cfg`'s cells: its policy and exceptions, on `today`, collecting the
    /// inventory when asked.
    pub fn of(cfg: &'a Config, today: chrono::NaiveDate, inventory: bool) -> Self {
        Self {
            config: Some(cfg),
            settings: &cfg.model.policy,
            exceptions: &cfg.model.exceptions,
            decode: decode_options(&cfg.model.policy),
            today,
            inventory,
            sites: false,
            origin_budget: imagegate_origin::DEFAULT_BUDGET,
            remote: None,
        }
    }

    /// Judges one rendered (or failed) cell, with origins from the text search alone.
    pub fn cell(&self, cell: &Cell, result: Result<Rendered, RenderFailure>) -> CellOutcome {
        self.cell_traced(cell, result, None)
    }

    /// Judges one rendered (or failed) cell; when it has image findings and `rerender` is
    /// given, helm confirms their origins with one more render ([`crate::provenance`]).
    pub fn cell_traced(
        &self,
        cell: &Cell,
        result: Result<Rendered, RenderFailure>,
        rerender: Option<&Rerender<'_>>,
    ) -> CellOutcome {
        let ctx = CellContext {
            environment: cell.environment.clone(),
            app: cell.app.clone(),
            chart: cell.chart.clone(),
        };
        let value_files: Vec<String> = cell.present_value_files().map(str::to_string).collect();
        match result {
            Err(failure) => {
                let finding = [imagegate_policy::render_failed(
                    &ctx,
                    &failure.message,
                    self.settings,
                )];
                // The cell's error carries the hint; the finding says what failed.
                let message = match &failure.hint {
                    Some(h) => format!("{}\nhint: {h}", failure.message),
                    None => failure.message.clone(),
                };
                let report = CellReport::failed(
                    &cell.environment,
                    &cell.app,
                    &cell.chart,
                    value_files,
                    &message,
                );
                let site = imagegate_render::error_site(&failure.message);
                let findings = finding
                    .into_iter()
                    .map(|f| {
                        let mut r = convert::finding(&f, None, Some(cell));
                        if let (Some(cfg), Some(site)) = (self.config, &site) {
                            at_helms_error(&cfg.repo, cell, site, &mut r);
                        }
                        r
                    })
                    .collect();
                CellOutcome {
                    report,
                    findings,
                    matched_exceptions: ExceptionOutcome::default(),
                    inventory: Vec::new(),
                    sites: Default::default(),
                    custom_paths_reached: Default::default(),
                    rendered_apps: Vec::new(),
                }
            }
            Ok(rendered) => {
                let docs = imagegate_yaml::split_stream(&rendered.stdout);
                drop(rendered);
                let max = self.config.map_or_else(
                    || imagegate_fleet::LimitSettings::default().max_documents,
                    |c| c.model.limits.max_documents,
                );
                if let Some(failure) = too_many_documents(&docs, max) {
                    return self.cell(cell, Err(failure));
                }
                let decoded = imagegate_decode::decode_documents(&docs, &self.decode);
                drop(docs);
                self.judge_traced(
                    &ctx,
                    Some(cell),
                    decoded,
                    value_files,
                    &cell.chart,
                    None,
                    rerender,
                )
            }
        }
    }

    /// Judges a file of already rendered manifests (`imagegate scan`): findings point at the
    /// file's own lines. A file with more documents than `max_documents` is refused.
    pub fn scanned(
        &self,
        name: &str,
        environment: &str,
        text: &str,
        max_documents: usize,
    ) -> Result<CellOutcome, Fatal> {
        let ctx = CellContext {
            environment: environment.to_string(),
            app: name.to_string(),
            chart: name.to_string(),
        };
        let docs = imagegate_yaml::split_stream(text);
        // The bound of a rendered cell holds for a scanned file too: a flood of documents is
        // refused, never judged half-read.
        let count = count_documents(&docs);
        if count > max_documents {
            return Err(Fatal(format!(
                "{name}: {count} documents, more than limits.maxDocuments ({max_documents}); \
                 nothing was judged\n  hint: split the file, or raise limits.maxDocuments in \
                 the configuration passed with --config"
            )));
        }
        let starts: Vec<u32> = docs.iter().map(|d| d.start_line).collect();
        let decoded = imagegate_decode::decode_documents(&docs, &self.decode);
        drop(docs);
        let lines = StreamLines {
            file: name,
            starts: &starts,
        };
        Ok(self.judge_decoded(&ctx, None, decoded, Vec::new(), name, Some(lines)))
    }

    /// Judges an already decoded stream.
    pub fn judge_decoded(
        &self,
        ctx: &CellContext,
        cell: Option<&Cell>,
        decoded: Decoded,
        value_files: Vec<String>,
        chart: &str,
        stream: Option<StreamLines<'_>>,
    ) -> CellOutcome {
        self.judge_traced(ctx, cell, decoded, value_files, chart, stream, None)
    }

    #[allow(clippy::too_many_arguments)]
    fn judge_traced(
        &self,
        ctx: &CellContext,
        cell: Option<&Cell>,
        decoded: Decoded,
        value_files: Vec<String>,
        chart: &str,
        stream: Option<StreamLines<'_>>,
        rerender: Option<&Rerender<'_>>,
    ) -> CellOutcome {
        let mut findings: Vec<Finding> =
            imagegate_policy::evaluate(ctx, &decoded.objects, &decoded.errors, self.settings);
        if let Some(remote) = self.remote {
            let lookup = |image: &str| remote.facts(image);
            findings.extend(imagegate_policy::evaluate_remote(
                ctx,
                &decoded.objects,
                remote.platforms(&ctx.environment),
                &lookup,
                self.settings,
            ));
            // Stable, as `evaluate` orders them: by document.
            findings.sort_by_key(|f| f.document);
        }
        let matched =
            imagegate_policy::apply_exceptions(&mut findings, self.exceptions, self.today);
        // The text search over the cell's values layers, read only when a finding needs it
        // (helm's marker render did not settle its origin).
        let stack_cell: std::cell::OnceCell<Option<imagegate_origin::Stack>> =
            std::cell::OnceCell::new();
        let stack = || {
            stack_cell
                .get_or_init(|| match (self.config, cell) {
                    (Some(cfg), Some(cell)) if findings.iter().any(|f| f.offending.is_some()) => {
                        Some(
                            imagegate_origin::Stack::for_cell(&cfg.repo, cell)
                                .with_budget(self.origin_budget),
                        )
                    }
                    _ => None,
                })
                .as_ref()
        };
        // One more render, only for a cell with findings about an image site.
        let trace = match (self.config, cell, rerender) {
            (Some(cfg), Some(cell), Some(rerender))
                if findings
                    .iter()
                    .any(|f| f.document.is_some() && f.image.is_some()) =>
            {
                Some(Trace::of(
                    &cfg.repo,
                    cell,
                    &decoded,
                    &self.decode,
                    rerender,
                    Some(&findings),
                ))
            }
            _ => None,
        };
        let mut templates = Templates::default();
        let findings: Vec<ReportFinding> = findings
            .iter()
            .map(|f| {
                let mut r =
                    convert::finding_traced(f, &stack, cell, self.exceptions, trace.as_ref());
                if let (Some(cfg), Some(cell)) = (self.config, cell) {
                    manifest_snippet(&cfg.repo, cell, &mut r);
                    let hard_coded = trace
                        .as_ref()
                        .and_then(|t| t.verdict(f))
                        .is_some_and(|v| matches!(v, crate::provenance::Verdict::Template(_)));
                    if hard_coded && r.origin.is_none() {
                        templates.locate_hard_coded(&cfg.repo, cell, &mut r);
                    }
                }
                // Already-rendered input has no values to blame: the place to fix is the line in
                // the file that was scanned.
                if let (Some(s), Some(doc), Some(line)) = (&stream, f.document, f.line) {
                    if let Some(start) = s.starts.get(doc) {
                        r.origin = Some(imagegate_report::Origin::new(s.file, start + line - 1));
                    }
                }
                r
            })
            .collect();
        // imagegate's own work on a cell is bounded like helm's: a provenance search that ran out
        // of budget fails the cell (it is not judged), it never stalls the run or passes.
        if let (Some(Some(stack)), Some(cell)) = (stack_cell.get(), cell) {
            if stack.exhausted() {
                return self.cell(
                    cell,
                    Err(RenderFailure {
                        message: format!(
                            "the search for the values lines behind this cell's {} finding(s) \
                             exceeded imagegate's work budget ({} units); the cell was not judged",
                            findings.len(),
                            self.origin_budget
                        ),
                        hint: Some(
                            "a values file of this cell is pathologically large or repetitive; \
                             split or shrink it"
                                .into(),
                        ),
                        exceeded: None,
                    }),
                );
            }
        }
        let inventory = if self.inventory {
            convert::inventory(ctx, &decoded)
        } else {
            Vec::new()
        };
        let sites = if self.sites {
            crate::diff::compare::image_sites(&decoded)
        } else {
            Default::default()
        };
        let report = CellReport::new(
            &ctx.environment,
            &ctx.app,
            chart,
            value_files,
            CellStatus::Rendered,
            decoded.documents as u64,
            decoded.image_count() as u64,
        );
        let rendered_apps =
            rendered_applications(&decoded, &format!("{}/{}", ctx.environment, ctx.app), chart);
        CellOutcome {
            report,
            findings,
            matched_exceptions: matched,
            inventory,
            sites,
            custom_paths_reached: decoded.custom_paths_reached,
            rendered_apps,
        }
    }
}

/// Where the documents of a scanned file start, so findings can point at its lines.
pub struct StreamLines<'a> {
    /// The file as the user named it.
    pub file: &'a str,
    /// 1-based start line of each document, by document index.
    pub starts: &'a [u32],
}

/// Renders and judges `cells` through the render cache `choice` selects (opened before, trimmed
/// after). An explicit cache folder that cannot be used is a usage error.
pub fn run_with_cache(
    judge: &Judge<'_>,
    cfg: &Config,
    renderer: &dyn Renderer,
    cells: &[Cell],
    opts: &RenderOptions,
    observer: &dyn Observer,
    choice: &CacheChoice,
) -> Result<Vec<CellOutcome>, Fatal> {
    let cache = crate::cache::open(choice, &[cfg.repo.root()], observer)?;
    let outcomes = run_cached(judge, cfg, renderer, cells, opts, observer, cache.as_ref());
    if let Some(cache) = &cache {
        crate::cache::close(cache, observer);
    }
    Ok(outcomes)
}

/// Renders and judges `cells`, telling `observer` of each, through the render cache (when
/// given): cells it holds are not rendered, and their report says `cached`.
pub fn run_cached(
    judge: &Judge<'_>,
    cfg: &Config,
    renderer: &dyn Renderer,
    cells: &[Cell],
    opts: &RenderOptions,
    observer: &dyn Observer,
    cache: Option<&RenderCache>,
) -> Vec<CellOutcome> {
    let keys = match cache {
        Some(_) => cell_keys(&cfg.repo, cells, renderer.version(), opts),
        None => Vec::new(),
    };
    run_keyed(judge, cfg, renderer, cells, &keys, opts, observer, cache)
}

/// [`run_cached`] with the cells' cache keys already computed (one per cell, in order; unused
/// without a cache), for a caller that has them (`diff` hashed every cell to plan).
#[allow(clippy::too_many_arguments)]
pub fn run_keyed(
    judge: &Judge<'_>,
    cfg: &Config,
    renderer: &dyn Renderer,
    cells: &[Cell],
    keys: &[Result<imagegate_render::CacheKey, String>],
    opts: &RenderOptions,
    observer: &dyn Observer,
    cache: Option<&RenderCache>,
) -> Vec<CellOutcome> {
    let rerender = Rerender {
        renderer,
        opts,
        cache,
        key: None,
    };
    let cache = cache.map(|cache| CacheUse { cache, keys });
    observer.start(cells.len());
    let outcomes = render_each(
        renderer,
        &cfg.repo,
        cells,
        opts,
        cache,
        |i, result, from| {
            let rerender = Rerender {
                key: keys.get(i).and_then(|k| k.as_ref().ok()),
                ..rerender
            };
            let mut outcome = judge.cell_traced(&cells[i], result, Some(&rerender));
            if from == Provenance::Cache && outcome.report.status == CellStatus::Rendered {
                outcome.report.status = CellStatus::Cached;
            }
            observer.cell_done(outcome.report.status == CellStatus::Failed);
            outcome
        },
    );
    observer.finish();
    outcomes
}

/// A cell whose output holds more than `max` documents (`limits.maxDocuments`) is not judged at
/// all: it fails like a render that broke a limit, so a flood of documents can neither exhaust
/// the run nor pass half-read. Empty and comment-only documents do not count.
fn too_many_documents(docs: &[imagegate_yaml::Document], max: usize) -> Option<RenderFailure> {
    let count = count_documents(docs);
    (count > max).then(|| RenderFailure {
        message: format!(
            "helm template rendered {count} documents, more than limits.maxDocuments ({max}); \
             the cell was not judged"
        ),
        hint: Some(
            "raise limits.maxDocuments if this chart legitimately renders that many objects".into(),
        ),
        exceeded: None,
    })
}

/// The documents of a stream that count against `limits.maxDocuments`: empty and comment-only
/// documents do not.
pub fn count_documents(docs: &[imagegate_yaml::Document]) -> usize {
    docs.iter()
        .filter(|d| {
            d.text.lines().any(|l| {
                let l = l.trim();
                !l.is_empty() && !l.starts_with('#')
            })
        })
        .count()
}

/// Decoder options from the policy: the built-in and configured custom image fields, and the
/// safety net's field names.
pub fn decode_options(settings: &PolicySettings) -> DecodeOptions {
    DecodeOptions {
        custom_fields: settings.custom_image_fields(),
        image_field_names: settings.image_field_names(),
        ..DecodeOptions::default()
    }
}

/// An origin in an Argo CD cell's inline values or parameters is a line of its Application
/// manifest; its snippet shows that line as written there. (The layer helm read is laid out on
/// the manifest's lines, but in its own words: JSON scalars, one parameter as a mapping.)
/// Points a `render-failed` finding at the template line helm's error names (`site`), when
/// that template is a file of the cell's chart and the line is one of its lines; else the
/// finding keeps pointing at the chart (a wrong line is worse than none).
fn at_helms_error(
    repo: &imagegate_fleet::Repo,
    cell: &Cell,
    site: &imagegate_render::ErrorSite,
    r: &mut ReportFinding,
) {
    let Some(file) = imagegate_render::read_template(repo, &cell.chart, &site.template) else {
        return;
    };
    let mut at = imagegate_report::TemplateLocation::file(&file.shown);
    at.rendered_line = site.rendered_line;
    if let Some(line) = site.line {
        if let Some(text) = line
            .checked_sub(1)
            .and_then(|i| file.text.lines().nth(i as usize))
        {
            at.line = Some(line);
            // Go counts bytes from 0; the report counts characters from 1.
            at.column = site
                .byte_column
                .and_then(|b| text.get(..b as usize))
                .map(|before| before.chars().count() as u32 + 1);
        }
    }
    r.template = Some(site.template.clone());
    r.template_location = Some(at);
}

/// The templates of one cell read so far, by the name helm gives them.
#[derive(Default)]
struct Templates(std::collections::HashMap<String, Option<imagegate_render::TemplateFile>>);

impl Templates {
    /// Points a finding whose image the template writes itself (helm's marker render showed no
    /// values line reaching it) at the one line of its `# Source:` template that holds the
    /// rendered reference literally, with the reference's columns; at the template file alone
    /// when no line or several do.
    fn locate_hard_coded(
        &mut self,
        repo: &imagegate_fleet::Repo,
        cell: &Cell,
        r: &mut ReportFinding,
    ) {
        let (Some(template), Some(image)) = (&r.template, &r.image) else {
            return;
        };
        if image.is_empty() {
            return;
        }
        let file = self
            .0
            .entry(template.clone())
            .or_insert_with(|| imagegate_render::read_template(repo, &cell.chart, template));
        let Some(file) = file else { return };
        let hits: Vec<(usize, &str, usize)> = file
            .text
            .lines()
            .enumerate()
            .filter_map(|(i, line)| literal_at(line, image).map(|b| (i, line, b)))
            .collect();
        let mut at = imagegate_report::TemplateLocation::file(&file.shown);
        if let [(i, line, b)] = hits[..] {
            let column = line[..b].chars().count() as u32 + 1;
            at.line = Some(i as u32 + 1);
            at.column = Some(column);
            at.end_column = Some(column + image.chars().count() as u32);
        }
        r.template_location = Some(at);
    }
}

/// Where `line` holds `reference` as a whole reference (not inside a longer name: `nginx` is
/// not in `my-nginx-config`), as a byte offset.
fn literal_at(line: &str, reference: &str) -> Option<usize> {
    let part = |c: char| c.is_ascii_alphanumeric() || "._-/:@".contains(c);
    line.match_indices(reference).map(|(b, _)| b).find(|&b| {
        let before = line[..b].chars().next_back();
        let after = line[b + reference.len()..].chars().next();
        !before.is_some_and(part) && !after.is_some_and(part)
    })
}

fn manifest_snippet(repo: &imagegate_fleet::Repo, cell: &Cell, r: &mut ReportFinding) {
    let Some(origin) = &r.origin else { return };
    let from_manifest = cell.inline_values.iter().any(|i| i.file == origin.file)
        || cell.parameters.iter().any(|p| p.file == origin.file);
    if !from_manifest {
        return;
    }
    let Ok(text) = repo.read_to_string(&origin.file, imagegate_fleet::MAX_CONFIG_BYTES) else {
        return;
    };
    let Some(line) = text.lines().nth(origin.line.saturating_sub(1) as usize) else {
        return;
    };
    r.snippet = Some(imagegate_report::Snippet::new(
        origin.line,
        vec![line.to_string()],
        origin.line,
    ));
}

#[cfg(test)]
mod tests {
    use super::literal_at;

    #[test]
    fn a_reference_is_found_whole_never_inside_a_longer_name() {
        assert_eq!(literal_at("  image: nginx:1.25", "nginx:1.25"), Some(9));
        assert_eq!(
            literal_at("  image: \"nginx:1.25\"", "nginx:1.25"),
            Some(10)
        );
        assert_eq!(literal_at("  name: my-nginx-config", "nginx"), None);
        assert_eq!(literal_at("  image: nginx:1.25-alpine", "nginx:1.25"), None);
        assert_eq!(
            literal_at("  image: docker.io/nginx:1.25", "nginx:1.25"),
            None
        );
        // The second occurrence counts when the first is part of something longer.
        assert_eq!(literal_at("x-nginx nginx", "nginx"), Some(8));
        assert_eq!(literal_at("é nginx", "nginx"), Some(3));
    }
}
