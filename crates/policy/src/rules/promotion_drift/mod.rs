#![doc = include_str!("doc.md")]

use imagegate_decode::{DecodedObject, ImageSite};

use super::SiteContext;
use crate::{CellContext, Finding, Offending, RuleId, Severity};

/// Stable rule id.
pub const ID: RuleId = RuleId::PromotionDrift;
/// One line for tables and `--help`.
pub const SUMMARY: &str = "a digest in a downstream environment that never appeared upstream";
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::fixtures::{digest, object, set, site};
    use imagegate_decode::SiteKind;

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
