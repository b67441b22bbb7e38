//! `imagegate pin --env ENV`: 602's pin by digest, through the values line.
//!
//! Every image of ENV with a `digest-required` or `mutable-tag` finding (not excepted) gets the
//! digest form 602 allows: `repo@sha256:…` when its tag is mutable (the tag is dropped), else
//! `repo:<immutable tag>@sha256:…`. The digest is what the image's registry serves for the
//! reference now ([`Resolve`]); an image that already carries a digest beside a mutable tag only
//! loses the tag, and no registry is asked.
//!
//! The edit is the one promotion makes ([`crate::promote`]): the values line helm's marker render
//! points at, in ENV's own values files (a line that other environments read, such as a
//! `_shared` file or the chart's defaults, is overridden in ENV's own overlay instead); for a
//! chart that splits repository, tag and digest, the `digest` key beside the tag. Then ENV is
//! rendered again, and every edit is undone unless it renders exactly the pinned references
//! and nothing else changed.

use crate::promote::{self, Plan, Scope, Site, SiteKey, Tools, Want};
use crate::{Config, Fatal};
use imagegate_policy::{CellContext, ImageRef, RuleId};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Asks a registry which digest a reference points at now.
pub trait Resolve: Sync {
    /// The digest (`sha256:…`) that `image` (`repo[:tag]`, no digest; no tag is `latest`)
    /// points at: `Ok(None)` when the registry does not have it, `Err` when the registry could
    /// not be asked (down, refused the credentials, answered with bytes that do not match).
    fn digest(&self, image: &str) -> Result<Option<String>, String>;
}

/// What to pin.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// The environment whose values files are edited.
    pub env: &'a str,
    /// `--app` patterns (app or component names, globs); empty: every app.
    pub apps: &'a [String],
}

impl Request<'_> {
    fn scope(&self) -> Scope<'_> {
        Scope {
            env: self.env,
            apps: self.apps,
            first_party_only: false,
        }
    }
}

/// Renders ENV, resolves the digest of every image it must pin, and computes the edits.
///
/// # Errors
/// [`Fatal`] for bad input (an unknown environment, an `--app` that matches nothing, a cell
/// that fails to render) and when a registry cannot be asked about an image: nothing is pinned
/// then, and every such image is named.
pub fn plan(
    cfg: &Config,
    req: &Request<'_>,
    tools: &Tools<'_>,
    registry: &dyn Resolve,
    today: chrono::NaiveDate,
) -> Result<Plan, Fatal> {
    let all = cfg.cells().map_err(|e| Fatal(e.to_string()))?;
    let cells = promote::pick(cfg, &all, req.env, req.apps)?;
    let target = promote::render(cfg, &cells, tools)?;
    // The image sites with a finding pin clears: (cell, document, field).
    let mut pinned_sites: BTreeSet<(usize, usize, String)> = BTreeSet::new();
    for (i, (cell, decoded)) in target.iter().enumerate() {
        let ctx = CellContext {
            environment: cell.environment.clone(),
            app: cell.app.clone(),
            chart: cell.chart.clone(),
        };
        let mut findings =
            imagegate_policy::evaluate(&ctx, &decoded.objects, &decoded.errors, &cfg.model.policy);
        imagegate_policy::apply_exceptions(&mut findings, &cfg.model.exceptions, today);
        for f in findings {
            if !matches!(f.rule, RuleId::DigestRequired | RuleId::MutableTag)
                || f.excepted_by.is_some()
            {
                continue;
            }
            if let (Some(doc), Some(field)) = (f.document, f.field) {
                pinned_sites.insert((i, doc, field));
            }
        }
    }
    let target_sites = promote::sites(&target, &|_| true);
    // Every registry question first, so a registry that cannot be asked stops the run before
    // any edit is planned.
    let mut answers: BTreeMap<String, Result<Option<String>, String>> = BTreeMap::new();
    for found in target_sites.values() {
        for site in found {
            if !pinned_sites.contains(&(site.cell, site.document, site.field.clone())) {
                continue;
            }
            if let Some(ask) = ImageRef::parse(&site.image)
                .ok()
                .filter(|r| r.digest().is_none())
            {
                answers
                    .entry(ask.as_str().to_owned())
                    .or_insert_with(|| registry.digest(ask.as_str()));
            }
        }
    }
    let failed: Vec<(&String, &String)> = answers
        .iter()
        .filter_map(|(image, a)| a.as_ref().err().map(|e| (image, e)))
        .collect();
    if !failed.is_empty() {
        let mut message = format!(
            "pin: {} image(s) could not be resolved in their registry, so nothing was pinned:",
            failed.len()
        );
        for (image, why) in failed {
            message.push_str(&format!("\n  {image}: {why}"));
        }
        message.push_str(
            "\n  hint: check the registry is reachable and the credentials (docs/registry.md)",
        );
        return Err(Fatal(message));
    }
    let immutable = &cfg.model.policy.immutable_tags;
    let mut want = |_: &SiteKey, found: &[Site]| -> Want {
        let pins: Vec<&Site> = found
            .iter()
            .filter(|s| pinned_sites.contains(&(s.cell, s.document, s.field.clone())))
            .collect();
        let Some(site) = pins.first() else {
            return Want::Keep;
        };
        let images: BTreeSet<&str> = found.iter().map(|s| s.image.as_str()).collect();
        if images.len() > 1 {
            return Want::Refuse(
                None,
                format!(
                    "{} renders {} references for this image: pin each by hand",
                    req.env,
                    images.len()
                ),
            );
        }
        let Ok(old) = ImageRef::parse(&site.image) else {
            return Want::Keep;
        };
        let digest = match old.digest() {
            Some(d) => d.to_owned(),
            None => match answers.get(old.as_str()) {
                Some(Ok(Some(d))) => d.clone(),
                _ => {
                    return Want::Refuse(
                        None,
                        format!(
                            "the registry has no `{}`: push it, or pin it by hand",
                            old.as_str()
                        ),
                    )
                }
            },
        };
        let tag = old.tag().filter(|t| immutable.iter().any(|p| p.matches(t)));
        let to = match tag {
            Some(t) => format!("{}:{t}@{digest}", old.repository()),
            None => format!("{}@{digest}", old.repository()),
        };
        if to == site.image {
            Want::Keep
        } else {
            Want::To(to)
        }
    };
    promote::plan_edits(cfg, &all, req.env, &target, &target_sites, tools, &mut want)
}

/// Writes the plan, renders ENV again and checks it renders exactly the pinned references and
/// nothing else changed; otherwise undoes every write. See [`promote::apply`].
///
/// # Errors
/// [`Fatal`] when a write fails and putting the files back fails too.
pub fn apply(
    config: &Path,
    plan: &Plan,
    req: &Request<'_>,
    tools: &Tools<'_>,
) -> Result<promote::Applied, Fatal> {
    promote::apply_in(config, plan, &req.scope(), tools, &|_| {})
}

/// The plan as text: old → new per image, the values lines, and what was not pinned.
pub fn text(plan: &Plan, req: &Request<'_>) -> String {
    let mut out = format!(
        "pin {}: {} image(s) to pin, {} not pinned\n",
        req.env,
        plan.promotions.len(),
        plan.refusals.len()
    );
    for p in &plan.promotions {
        out.push_str(&format!(
            "  {} {}/{} ({})\n    {} -> {}\n",
            p.app, p.key.kind, p.key.name, p.key.container, p.from, p.to
        ));
        for e in &p.edits {
            let how = if e.old.is_some() {
                ""
            } else {
                " (new override)"
            };
            out.push_str(&format!("    {}:{} {}{how}\n", e.file, e.line, e.key));
        }
    }
    if !plan.refusals.is_empty() {
        out.push_str("not pinned:\n");
        for r in &plan.refusals {
            out.push_str(&format!(
                "  {} {}/{} ({}) {}: {}\n",
                r.app, r.key.kind, r.key.name, r.key.container, r.from, r.reason
            ));
        }
    }
    out
}

/// The plan as Markdown, for the bump pull request's body.
pub fn markdown(plan: &Plan, req: &Request<'_>) -> String {
    let code = promote::md_code;
    let mut out = format!("## Pin {} by digest\n\n", code(req.env));
    if plan.promotions.is_empty() {
        out.push_str("Nothing to pin.\n");
    } else {
        out.push_str(&format!(
            "{} image(s) move to the digest their registry serves now.\n\n\
             | App | Object | Container | From | To | Values line |\n\
             |---|---|---|---|---|---|\n",
            plan.promotions.len()
        ));
        for p in &plan.promotions {
            out.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} |\n",
                promote::md(&p.app),
                promote::md(&format!("{}/{}", p.key.kind, p.key.name)),
                promote::md(&p.key.container),
                code(&p.from),
                code(&p.to),
                promote::md_edit_lines(&p.edits)
            ));
        }
    }
    out.push_str(&promote::md_refusals("Not pinned", &plan.refusals, |r| {
        &r.from
    }));
    out
}

/// The plan as JSON (`--format json`), with how the run ended.
pub fn json(
    plan: &Plan,
    req: &Request<'_>,
    applied: Option<&promote::Applied>,
) -> serde_json::Value {
    let (status, why) = match applied {
        None => ("planned", None),
        Some(promote::Applied::Verified) => ("pinned", None),
        Some(promote::Applied::Undone(w)) => ("undone", Some(w.as_str())),
    };
    serde_json::json!({
        "environment": req.env,
        "status": status,
        "undone": why,
        "pins": plan.promotions,
        "refusals": plan.refusals,
        "files": plan.files.iter().map(|f| &f.path).collect::<Vec<_>>(),
    })
}
