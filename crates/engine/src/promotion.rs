//! Promotion lineage (`promotion-drift`): every first-party digest a downstream environment
//! renders must be one its upstream environment renders for the same repository: today, or with
//! `--history N` in one of the last N commits (see [`history`]).
//!
//! The comparison is the policy crate's ([`promotion_drift::check`]); this module collects its
//! input, the [`LineageSite`] list (what a full run collects from its inventory, and what each
//! shard of a sharded run records for the merge), and does the parts that need git and helm.

pub mod history;

use crate::convert::InventoryRow;
use crate::Config;
use imagegate_decode::{DecodedObject, ImageSite, PullPolicy, SiteKind};
use imagegate_fleet::Cell;
use imagegate_origin::Stack;
use imagegate_policy::rules::promotion_drift;
use imagegate_policy::PromotionSettings;
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
    /// The renderer, its options and the observer for the historical cells (required when
    /// `depth` > 0).
    pub render: Option<(
        &'a dyn crate::Renderer,
        &'a imagegate_render::RenderOptions,
        &'a dyn crate::Observer,
    )>,
}

/// Compares every downstream environment of the configured chains with its upstream, by
/// [`promotion_drift::check`]; this side supplies the lineage, the `--history` search (git and
/// helm) and the origins of the upstream digests.
pub fn drift(
    cfg: &Config,
    sites: &[LineageSite],
    judged: &Judged<'_>,
    history: &HistoryPlan<'_>,
) -> anyhow::Result<Vec<Drift>> {
    let Some(promotion) = &cfg.model.promotion else {
        return Ok(Vec::new());
    };
    let sites: Vec<promotion_drift::Site> = sites.iter().map(policy_site).collect();
    let matrix: Vec<(&str, &str)> = judged
        .matrix
        .iter()
        .map(|c| (c.environment.as_str(), c.app.as_str()))
        .collect();
    let lineage = promotion_drift::Lineage {
        sites: &sites,
        chains: &promotion.chains,
        judged: promotion_drift::Judged {
            cells: judged.cells,
            matrix: &matrix,
        },
    };
    let candidates = promotion_drift::candidates(&lineage);
    if candidates.is_empty() {
        return Ok(Vec::new());
    }

    let mut found = BTreeSet::new();
    if history.depth > 0 {
        let Some((renderer, opts, observer)) = history.render else {
            anyhow::bail!(crate::Fatal(
                "--history needs helm to render past commits; pass --helm or set IMAGEGATE_HELM"
                    .into()
            ));
        };
        let mut wanted = history::Wanted::default();
        for c in &candidates {
            let s = c.site;
            let component = judged
                .matrix
                .iter()
                .find(|m| m.environment == s.cell.environment && m.app == s.cell.app)
                .map(|m| m.component.clone())
                .unwrap_or_default();
            for u in &c.upstreams {
                wanted.add(u, &component, &s.repository, &s.digest);
            }
        }
        found = history::search(
            cfg,
            renderer,
            opts,
            observer,
            promotion,
            &wanted,
            history.depth,
        )?;
    }

    let cells: HashMap<(&str, &str), &Cell> = judged
        .matrix
        .iter()
        .map(|c| ((c.environment.as_str(), c.app.as_str()), c))
        .collect();
    let mut stacks: HashMap<(String, String), Stack> = HashMap::new();
    let origin_of = |site: &promotion_drift::Site| -> Option<String> {
        let cell = cells.get(&(site.cell.environment.as_str(), site.cell.app.as_str()))?;
        let stack = stacks
            .entry((site.cell.environment.clone(), site.cell.app.clone()))
            .or_insert_with(|| Stack::for_cell(&cfg.repo, cell));
        stack
            .find(
                &Offending::Digest(site.digest.clone()),
                &imagegate_origin::Hints {
                    image: Some(&site.site.image),
                    words: &[
                        &site.object.object.name,
                        site.site.container.as_deref().unwrap_or(""),
                    ],
                },
            )
            .map(|o| format!("{}:{}", o.file, o.line))
    };
    let history = promotion_drift::History {
        depth: history.depth,
        found: &found,
    };
    Ok(promotion_drift::check(&lineage, &history, origin_of)
        .into_iter()
        .filter_map(|d| {
            let cell = cells.get(&(d.site.cell.environment.as_str(), d.site.cell.app.as_str()))?;
            Some(Drift {
                finding: d.finding,
                cell: (*cell).clone(),
            })
        })
        .collect())
}

/// A lineage site in the shape the policy crate's rule takes.
fn policy_site(s: &LineageSite) -> promotion_drift::Site {
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
        kind: SiteKind::named(&s.site).unwrap_or(SiteKind::Unclassified),
        field: s.field.clone(),
        image: s.image.clone(),
        pull_policy: PullPolicy::NotApplicable,
        pull_policy_field: None,
        line: s.line,
        pull_policy_line: None,
    };
    promotion_drift::Site {
        cell: CellContext {
            environment: s.environment.clone(),
            app: s.app.clone(),
            chart: s.chart.clone(),
        },
        object,
        site,
        repository: s.repository.clone(),
        digest: s.digest.clone(),
    }
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
