//! Promotion lineage (`promotion-drift`): every first-party digest a downstream environment
//! renders must be one its upstream environment renders for the same repository: today, or with
//! `--history N` in one of the last N commits (see [`history`]).
//!
//! The policy crate only words the finding; the comparison needs the whole run (and, for the
//! history, git and helm), so it lives here. Its input is the [`LineageSite`] list: what a full
//! run collects from its inventory, and what each shard of a sharded run records for the merge.

pub mod history;

use crate::convert::{self, InventoryRow};
use imagegate_config::{Cell, Config, PromotionSettings};
use imagegate_decode::{DecodedObject, ImageSite, PullPolicy, SiteKind};
use imagegate_origin::Stack;
use imagegate_policy::rules::promotion_drift::{self, Upstream};
use imagegate_policy::{CellContext, Finding, Offending};
use imagegate_report::{LineageSite, ObjectRef};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// The lineage sites among inventory rows of the cell with chart `chart`: first-party,
/// digest-pinned images in environments of a promotion chain.
pub fn lineage_sites(
    promotion: &PromotionSettings,
    chart: &str,
    rows: &[InventoryRow],
) -> Vec<LineageSite> {
    let envs = promotion.environments();
    rows.iter()
        .filter(|r| envs.contains(r.environment.as_str()))
        .filter_map(|r| {
            let repository = canonical(r)?;
            let repository = repository.as_str();
            let digest = r.digest.as_deref()?;
            promotion.is_first_party(repository).then(|| LineageSite {
                environment: r.environment.clone(),
                app: r.app.clone(),
                chart: chart.to_string(),
                object: ObjectRef::new(&r.api_version, &r.kind, r.namespace.clone(), &r.name),
                template: r.template.clone(),
                document: r.document as u64,
                site: r.site.clone(),
                container: r.container.clone(),
                field: r.field.clone(),
                image: r.image.clone(),
                repository: repository.to_string(),
                digest: digest.to_string(),
                line: r.line,
            })
        })
        .collect()
}

/// The repository of a row in canonical form (`GHCR.IO:443/x` and `ghcr.io/x` are one
/// repository to a registry, so they must be one to the lineage), when its image parses.
fn canonical(r: &InventoryRow) -> Option<String> {
    r.repository.as_ref()?;
    imagegate_policy::ImageRef::parse(&r.image)
        .ok()
        .map(|i| i.canonical_repository())
}

/// What the run judged: the cells (environment, app) it rendered and which of them failed.
pub struct Judged<'a> {
    /// Every cell of the run, with whether it failed to render.
    pub cells: &'a BTreeMap<(String, String), bool>,
    /// The whole matrix of the configuration.
    pub matrix: &'a [Cell],
}

impl Judged<'_> {
    /// True when the run rendered every cell of `environment` in the matrix.
    fn covers(&self, environment: &str) -> bool {
        self.matrix
            .iter()
            .filter(|c| c.environment == environment)
            .all(|c| {
                self.cells
                    .contains_key(&(c.environment.clone(), c.app.clone()))
            })
    }

    fn failed_in(&self, environment: &str) -> usize {
        self.cells
            .iter()
            .filter(|((e, _), failed)| e == environment && **failed)
            .count()
    }
}

/// A drift finding with the downstream cell it belongs to (for origin resolution).
pub struct Drift {
    /// The finding, rule default severity.
    pub finding: Finding,
    /// The downstream cell.
    pub cell: Cell,
}

/// How far back `--history` looks, and with what it renders.
pub struct HistoryPlan<'a> {
    /// How many commits (0: none).
    pub depth: usize,
    /// The helm and render options for the historical cells.
    pub render: Option<(
        &'a imagegate_render::Helm,
        &'a imagegate_render::RenderOptions,
    )>,
}

/// Compares every downstream environment of the configured chains with its upstream.
///
/// A pair is judged only when the run rendered every cell of the upstream environment (a narrowed
/// run cannot know what the rest of it renders) and some cell of the downstream one. The digests
/// of the same repository are compared across the whole upstream environment, whichever app
/// renders them.
pub fn drift(
    cfg: &Config,
    sites: &[LineageSite],
    judged: &Judged<'_>,
    history: &HistoryPlan<'_>,
) -> anyhow::Result<Vec<Drift>> {
    let Some(promotion) = &cfg.model.promotion else {
        return Ok(Vec::new());
    };
    // environment → repository → digest → the first site that renders it there.
    let mut today: BTreeMap<&str, BTreeMap<&str, BTreeMap<&str, &LineageSite>>> = BTreeMap::new();
    for s in sites {
        today
            .entry(&s.environment)
            .or_default()
            .entry(&s.repository)
            .or_default()
            .entry(&s.digest)
            .or_insert(s);
    }
    let mut candidates: Vec<(&LineageSite, Vec<&str>)> = Vec::new();
    for down in promotion.environments() {
        let ups = promotion.upstreams_of(down);
        if ups.is_empty()
            || !ups.iter().all(|u| judged.covers(u))
            || !judged.cells.keys().any(|(e, _)| e == down)
        {
            continue;
        }
        for s in sites.iter().filter(|s| s.environment == down) {
            let seen = ups.iter().any(|u| {
                today
                    .get(u)
                    .and_then(|r| r.get(s.repository.as_str()))
                    .is_some_and(|d| d.contains_key(s.digest.as_str()))
            });
            if !seen {
                candidates.push((s, ups.clone()));
            }
        }
    }
    if candidates.is_empty() {
        return Ok(Vec::new());
    }

    if history.depth > 0 {
        let Some((helm, opts)) = history.render else {
            anyhow::bail!(crate::Fatal(
                "--history needs helm to render past commits; pass --helm or set IMAGEGATE_HELM"
                    .into()
            ));
        };
        let mut wanted = history::Wanted::default();
        for (s, ups) in &candidates {
            let component = judged
                .matrix
                .iter()
                .find(|c| c.environment == s.environment && c.app == s.app)
                .map(|c| c.component.clone())
                .unwrap_or_default();
            for u in ups {
                wanted.add(u, &component, &s.repository, &s.digest);
            }
        }
        let found = history::search(cfg, helm, opts, promotion, &wanted, history.depth)?;
        candidates.retain(|(s, ups)| {
            !ups.iter()
                .any(|u| found.contains(&(u.to_string(), s.repository.clone(), s.digest.clone())))
        });
    }

    let cells: HashMap<(&str, &str), &Cell> = judged
        .matrix
        .iter()
        .map(|c| ((c.environment.as_str(), c.app.as_str()), c))
        .collect();
    let mut stacks: HashMap<(String, String), Stack> = HashMap::new();
    let mut origin_of = |site: &LineageSite| -> Option<String> {
        let cell = cells.get(&(site.environment.as_str(), site.app.as_str()))?;
        let stack = stacks
            .entry((site.environment.clone(), site.app.clone()))
            .or_insert_with(|| Stack::for_cell(&cfg.repo, cell));
        stack
            .find(
                &Offending::Digest(site.digest.clone()),
                &imagegate_origin::Hints {
                    image: Some(&site.image),
                    words: &[&site.object.name, site.container.as_deref().unwrap_or("")],
                },
            )
            .map(|o| format!("{}:{}", o.file, o.line))
    };

    let mut out = Vec::new();
    for (s, ups) in candidates {
        let Some(cell) = cells.get(&(s.environment.as_str(), s.app.as_str())) else {
            continue;
        };
        // The first upstream names the message; with fan-in (two chains) any would have done.
        let up = ups[0];
        let digests: Vec<(String, Option<String>)> = today
            .get(up)
            .and_then(|r| r.get(s.repository.as_str()))
            .map(|d| {
                d.values()
                    .map(|site| (site.digest.clone(), origin_of(site)))
                    .collect()
            })
            .unwrap_or_default();
        let upstream = Upstream {
            environment: up,
            repository: &s.repository,
            digests: &digests,
            history: history.depth,
        };
        let ctx = CellContext {
            environment: s.environment.clone(),
            app: s.app.clone(),
            chart: s.chart.clone(),
        };
        let (object, site) = decoded(s);
        let mut finding = promotion_drift::finding(&ctx, &object, &site, &s.digest, &upstream);
        let failed = judged.failed_in(up);
        if failed > 0 {
            finding.message.push_str(&format!(
                " (note: {failed} cell(s) of `{up}` failed to render, so what they render is unknown)"
            ));
        }
        if ups.len() > 1 {
            finding.message.push_str(&format!(
                " (also promoted from: `{}`, which does not render it either)",
                ups[1..].join("`, `")
            ));
        }
        out.push(Drift {
            finding,
            cell: (*cell).clone(),
        });
    }
    Ok(out)
}

/// The object and site of a lineage site, in the shapes the policy crate's constructors take.
fn decoded(s: &LineageSite) -> (DecodedObject, ImageSite) {
    let object = DecodedObject {
        object: imagegate_decode::ObjectRef {
            api_version: s.object.api_version.clone(),
            kind: s.object.kind.clone(),
            namespace: s.object.namespace.clone(),
            name: s.object.name.clone(),
        },
        template: s.template.clone(),
        document: usize::try_from(s.document).unwrap_or(usize::MAX),
        hook: None,
        labels: Vec::new(),
        sites: Vec::new(),
    };
    let site = ImageSite {
        container: s.container.clone(),
        kind: convert::site_kind_named(&s.site).unwrap_or(SiteKind::Unclassified),
        field: s.field.clone(),
        image: s.image.clone(),
        pull_policy: PullPolicy::NotApplicable,
        pull_policy_field: None,
        line: s.line,
        pull_policy_line: None,
    };
    (object, site)
}

/// The first-party digests of the rows, per repository (for history renders).
pub fn digests_of(
    promotion: &PromotionSettings,
    rows: &[InventoryRow],
) -> BTreeSet<(String, String, String)> {
    rows.iter()
        .filter_map(|r| {
            let repository = canonical(r)?;
            let digest = r.digest.as_deref()?;
            promotion.is_first_party(&repository).then(|| {
                (
                    r.environment.clone(),
                    repository.clone(),
                    digest.to_string(),
                )
            })
        })
        .collect()
}
