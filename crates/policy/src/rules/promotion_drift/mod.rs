#![doc = include_str!("doc.md")]

use std::collections::{BTreeMap, BTreeSet};

use imagegate_decode::{DecodedObject, ImageSite};

use super::SiteContext;

mod settings;
use crate::{CellContext, Finding, Offending, RuleId, Severity};
pub use settings::{PromotionError, PromotionSettings};

/// Stable rule id.
pub const ID: RuleId = RuleId::PromotionDrift;
/// One line for tables and `--help`.
pub const SUMMARY: &str = "a digest in a downstream environment that never appeared upstream";
/// What to do at the line the finding points at, for the fix list (imperative, lowercase).
pub const FIX: &str =
    "promote the digest through the upstream environments first, or set the digest they run";
/// Severity unless the configuration says otherwise.
pub const DEFAULT_SEVERITY: Severity = Severity::Error;
/// How GitHub code scanning ranks it (`security-severity`, 0 to 10).
pub const SECURITY_SEVERITY: &str = "7.0";
/// Tags for code scanning, besides `security`, `kubernetes` and `container-image`.
pub const TAGS: &[&str] = &["supply-chain", "promotion"];
/// The rule's documentation (the same text as this module's doc comment).
pub const DOC: &str = include_str!("doc.md");

/// What the upstream environment renders of the same repository, for the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Upstream<'a> {
    /// The upstream environment (for example `staging`).
    pub environment: &'a str,
    /// The image repository compared (registry included).
    pub repository: &'a str,
    /// The digests `environment` renders of `repository` today, each with the values line
    /// (`file:line`) that sets it when one is known.
    pub digests: &'a [(String, Option<String>)],
    /// How many past commits were searched on the upstream side too (`--history N`), 0 for none.
    pub history: usize,
}

/// The finding for `site` of `object` in `cell`, whose `digest` (`sha256:…`) was never rendered
/// in the upstream environment. The comparison itself is the caller's (it needs the whole run).
/// Severity is the rule default; run [`crate::PolicySettings::apply_severity`] before reporting.
pub fn finding(
    cell: &CellContext,
    object: &DecodedObject,
    site: &ImageSite,
    digest: &str,
    upstream: &Upstream<'_>,
) -> Finding {
    let ctx = SiteContext { cell, object, site };
    let up = upstream.environment;
    let when = match upstream.history {
        0 => String::new(),
        1 => " (today or in the last commit)".to_owned(),
        n => format!(" (today or in the last {n} commits)"),
    };
    let renders = if upstream.digests.is_empty() {
        format!(
            "`{up}` renders no digest of `{}` today",
            upstream.repository
        )
    } else {
        let list: Vec<String> = upstream
            .digests
            .iter()
            .map(|(d, at)| match at {
                Some(at) => format!("`{d}` (set at {at})"),
                None => format!("`{d}`"),
            })
            .collect();
        format!("`{up}` renders {} today", list.join(", "))
    };
    let message = format!(
        "digest `{digest}` of `{image}` in {where_} was never rendered in `{up}`{when}; \
         {renders}: promote the digest from `{up}` instead of editing `{env}` directly",
        image = site.image,
        where_ = ctx.describe(),
        env = cell.environment,
    );
    ctx.finding(
        ID,
        DEFAULT_SEVERITY,
        message,
        Some(Offending::Digest(digest.to_owned())),
    )
}

/// One first-party, digest-pinned image that an environment of a promotion chain renders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Site {
    /// The cell that renders it.
    pub cell: CellContext,
    /// The object it is in (its `labels` and `sites` are not needed).
    pub object: DecodedObject,
    /// The image site.
    pub site: ImageSite,
    /// The image repository in canonical form (registry included, lowercase host).
    pub repository: String,
    /// The digest (`sha256:…`).
    pub digest: String,
}

/// What the run judged: the cells it rendered, and the whole matrix they come from.
#[derive(Debug, Clone, Copy)]
pub struct Judged<'a> {
    /// Every cell (environment, app) of the run, with whether it failed to render.
    pub cells: &'a BTreeMap<(String, String), bool>,
    /// Every cell (environment, app) of the configuration.
    pub matrix: &'a [(&'a str, &'a str)],
}

impl Judged<'_> {
    /// True when the run rendered every cell of `environment` in the matrix.
    fn covers(&self, environment: &str) -> bool {
        self.matrix
            .iter()
            .filter(|(e, _)| *e == environment)
            .all(|(e, a)| self.cells.contains_key(&((*e).to_owned(), (*a).to_owned())))
    }

    fn renders(&self, environment: &str) -> bool {
        self.cells.keys().any(|(e, _)| e == environment)
    }

    fn failed_in(&self, environment: &str) -> usize {
        self.cells
            .iter()
            .filter(|((e, _), failed)| e == environment && **failed)
            .count()
    }
}

/// The lineage of a run: its sites, the promotion chains (each an ordered list of environments,
/// upstream first) and what it judged.
#[derive(Debug, Clone, Copy)]
pub struct Lineage<'a> {
    /// The lineage sites, in the order the run found them.
    pub sites: &'a [Site],
    /// `promotion.chains`.
    pub chains: &'a [Vec<String>],
    /// The cells judged.
    pub judged: Judged<'a>,
}

/// Every environment named by a chain.
pub fn environments(chains: &[Vec<String>]) -> BTreeSet<&str> {
    chains.iter().flatten().map(String::as_str).collect()
}

/// The environments `environment` is promoted from (its predecessor in every chain), in the order
/// of the chains.
pub fn upstreams_of<'a>(chains: &'a [Vec<String>], environment: &str) -> Vec<&'a str> {
    let mut out: Vec<&str> = Vec::new();
    for chain in chains {
        for pair in chain.windows(2) {
            if pair[1] == environment && !out.contains(&pair[0].as_str()) {
                out.push(pair[0].as_str());
            }
        }
    }
    out
}

/// A downstream site whose digest no upstream environment renders today, with those upstreams.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate<'a> {
    /// The downstream site.
    pub site: &'a Site,
    /// Its environment's upstreams, in the order of the chains.
    pub upstreams: Vec<&'a str>,
}

/// environment → repository → digest → the first site that renders it there.
type Today<'a> = BTreeMap<&'a str, BTreeMap<&'a str, BTreeMap<&'a str, &'a Site>>>;

fn today<'a>(sites: &'a [Site]) -> Today<'a> {
    let mut today: Today<'a> = BTreeMap::new();
    for s in sites {
        today
            .entry(s.cell.environment.as_str())
            .or_default()
            .entry(s.repository.as_str())
            .or_default()
            .entry(s.digest.as_str())
            .or_insert(s);
    }
    today
}

/// The downstream sites whose digest no upstream renders today: what `--history` searches the past
/// commits for, and what [`check`] reports when the history does not have it either.
///
/// A pair is judged only when the run rendered every cell of the upstream environment (a narrowed
/// run cannot know what the rest of it renders) and some cell of the downstream one. The digests
/// of the same repository are compared across the whole upstream environment, whichever app
/// renders them.
pub fn candidates<'a>(lineage: &Lineage<'a>) -> Vec<Candidate<'a>> {
    let today = today(lineage.sites);
    let mut out = Vec::new();
    for down in environments(lineage.chains) {
        let ups = upstreams_of(lineage.chains, down);
        if ups.is_empty()
            || !ups.iter().all(|u| lineage.judged.covers(u))
            || !lineage.judged.renders(down)
        {
            continue;
        }
        for s in lineage.sites.iter().filter(|s| s.cell.environment == down) {
            let seen = ups.iter().any(|u| {
                today
                    .get(u)
                    .and_then(|r| r.get(s.repository.as_str()))
                    .is_some_and(|d| d.contains_key(s.digest.as_str()))
            });
            if !seen {
                out.push(Candidate {
                    site: s,
                    upstreams: ups.clone(),
                });
            }
        }
    }
    out
}

/// What `--history N` found: the (upstream environment, repository, digest) triples rendered in
/// one of the last `depth` commits.
#[derive(Debug, Clone, Copy)]
pub struct History<'a> {
    /// How many past commits were searched (0: none).
    pub depth: usize,
    /// What they render.
    pub found: &'a BTreeSet<(String, String, String)>,
}

/// One `promotion-drift` finding, with the downstream site it is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Drift<'a> {
    /// The site.
    pub site: &'a Site,
    /// The finding, at the rule's default severity.
    pub finding: Finding,
}

/// Every first-party digest a downstream environment renders must be one its upstream renders
/// for the same repository: today, or in one of the commits `history` searched. One finding per
/// [`candidates`] entry that `history` does not clear, in that order; `origin_of` names the values
/// line (`file:line`) that sets an upstream site's digest, for the message.
/// Severity is the rule default; run [`crate::PolicySettings::apply_severity`] before reporting.
pub fn check<'a>(
    lineage: &Lineage<'a>,
    history: &History<'_>,
    mut origin_of: impl FnMut(&Site) -> Option<String>,
) -> Vec<Drift<'a>> {
    let today = today(lineage.sites);
    let mut out = Vec::new();
    for Candidate {
        site: s,
        upstreams: ups,
    } in candidates(lineage)
    {
        let cleared = ups.iter().any(|u| {
            history
                .found
                .contains(&((*u).to_owned(), s.repository.clone(), s.digest.clone()))
        });
        if cleared {
            continue;
        }
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
        let mut finding = finding(&s.cell, &s.object, &s.site, &s.digest, &upstream);
        let failed = lineage.judged.failed_in(up);
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
        out.push(Drift { site: s, finding });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::builders::{digest, object, set, site};
    use imagegate_decode::SiteKind;

    fn lineage_site(environment: &str, image_digest: &str) -> Site {
        let image = format!("ghcr.io/a/web@{image_digest}");
        Site {
            cell: CellContext {
                environment: environment.to_owned(),
                app: format!("{environment}-web"),
                chart: "charts/web".to_owned(),
            },
            object: object("Deployment", "web", 0),
            site: site(SiteKind::Container, &image, set("IfNotPresent")),
            repository: "ghcr.io/a/web".to_owned(),
            digest: image_digest.to_owned(),
        }
    }

    fn judged(cells: &[&str]) -> BTreeMap<(String, String), bool> {
        cells
            .iter()
            .map(|e| (((*e).to_owned(), format!("{e}-web")), false))
            .collect()
    }

    #[test]
    fn judges_a_pair_only_when_the_upstream_was_rendered_whole() {
        let a = format!("sha256:{}", "a".repeat(64));
        let b = format!("sha256:{}", "b".repeat(64));
        let sites = [lineage_site("dev", &a), lineage_site("production", &b)];
        let chains = [vec!["dev".to_owned(), "production".to_owned()]];
        let matrix = [("dev", "dev-web"), ("production", "production-web")];
        let none = BTreeSet::new();
        let history = History {
            depth: 0,
            found: &none,
        };
        let run = |cells: &BTreeMap<(String, String), bool>| {
            let lineage = Lineage {
                sites: &sites,
                chains: &chains,
                judged: Judged {
                    cells,
                    matrix: &matrix,
                },
            };
            check(&lineage, &history, |_| None)
                .into_iter()
                .map(|d| d.site.cell.environment.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(run(&judged(&["dev", "production"])), ["production"]);
        // A narrowed run that did not render dev cannot know what dev renders.
        assert!(run(&judged(&["production"])).is_empty());
        // Nor is production judged when the run rendered none of it.
        assert!(run(&judged(&["dev"])).is_empty());
    }

    #[test]
    fn fan_in_names_every_upstream() {
        let a = format!("sha256:{}", "a".repeat(64));
        let b = format!("sha256:{}", "b".repeat(64));
        let sites = [lineage_site("dev", &a), lineage_site("production", &b)];
        let chains = [
            vec!["dev".to_owned(), "production".to_owned()],
            vec!["hotfix".to_owned(), "production".to_owned()],
        ];
        assert_eq!(upstreams_of(&chains, "production"), ["dev", "hotfix"]);
        let matrix = [
            ("dev", "dev-web"),
            ("hotfix", "hotfix-web"),
            ("production", "production-web"),
        ];
        let cells = judged(&["dev", "hotfix", "production"]);
        let lineage = Lineage {
            sites: &sites,
            chains: &chains,
            judged: Judged {
                cells: &cells,
                matrix: &matrix,
            },
        };
        let none = BTreeSet::new();
        let drifts = check(
            &lineage,
            &History {
                depth: 0,
                found: &none,
            },
            |_| None,
        );
        assert_eq!(drifts.len(), 1);
        assert!(
            drifts[0]
                .finding
                .message
                .ends_with("(also promoted from: `hotfix`, which does not render it either)"),
            "{}",
            drifts[0].finding.message
        );
        // What the history found on either upstream clears it.
        let found = BTreeSet::from([("hotfix".to_owned(), "ghcr.io/a/web".to_owned(), b.clone())]);
        let cleared = check(
            &lineage,
            &History {
                depth: 2,
                found: &found,
            },
            |_| None,
        );
        assert!(cleared.is_empty());
    }

    #[test]
    fn names_digest_and_upstream() {
        let cell = CellContext {
            environment: "production".to_owned(),
            app: "production-web".to_owned(),
            chart: "charts/web".to_owned(),
        };
        let object = object("Deployment", "web", 2);
        let image = format!("ghcr.io/a/web@{}", digest());
        let site = site(SiteKind::Container, &image, set("IfNotPresent"));
        let upstream_digest =
            "sha256:3f2a9c1d0e5b4a7f8c6d2e1b0a9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b2a19";
        let digests = [(
            upstream_digest.to_owned(),
            Some("sources/values/env/staging/apps/web.yaml:2".to_owned()),
        )];
        let upstream = Upstream {
            environment: "staging",
            repository: "ghcr.io/a/web",
            digests: &digests,
            history: 0,
        };
        let f = finding(&cell, &object, &site, &digest(), &upstream);
        assert_eq!(f.rule, ID);
        assert_eq!(f.offending, Some(Offending::Digest(digest())));
        assert_eq!(f.image.as_deref(), Some(image.as_str()));
        assert_eq!(f.document, Some(2));
        assert!(
            f.message.contains("never rendered in `staging`"),
            "{}",
            f.message
        );
        assert!(f.message.contains("editing `production`"));
        assert!(
            f.message.contains(&format!(
                "`staging` renders `{upstream_digest}` (set at sources/values/env/staging/apps/web.yaml:2) today"
            )),
            "{}",
            f.message
        );

        let none = Upstream {
            digests: &[],
            history: 5,
            ..upstream
        };
        let f = finding(&cell, &object, &site, &digest(), &none);
        assert!(
            f.message
                .contains("never rendered in `staging` (today or in the last 5 commits)"),
            "{}",
            f.message
        );
        assert!(f
            .message
            .contains("renders no digest of `ghcr.io/a/web` today"));
    }
}
