#![doc = include_str!("promotion-drift.md")]

use imagegate_decode::{DecodedObject, ImageSite};

use super::SiteContext;
use crate::{CellContext, Finding, Offending, Severity};

/// Stable rule id.
pub const ID: &str = "promotion-drift";
/// One line for tables and `--help`.
pub const SUMMARY: &str = "a digest in a downstream environment that never appeared upstream";
/// Severity unless the configuration says otherwise.
pub const DEFAULT_SEVERITY: Severity = Severity::Error;
/// The rule's documentation (the same text as this module's doc comment).
pub const DOC: &str = include_str!("promotion-drift.md");

/// The finding for `site` of `object` in `cell`, whose `digest` (`sha256:…`) was never rendered
/// in the `upstream` environment. The comparison itself is the caller's (it needs the whole run).
/// Severity is the rule default; run [`crate::PolicySettings::apply_severity`] before reporting.
pub fn finding(
    cell: &CellContext,
    object: &DecodedObject,
    site: &ImageSite,
    digest: &str,
    upstream: &str,
) -> Finding {
    let ctx = SiteContext { cell, object, site };
    let message = format!(
        "digest `{digest}` of `{image}` in {where_} was never rendered in `{upstream}`; \
         promote the digest from `{upstream}` instead of editing `{env}` directly",
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
        let f = finding(&cell, &object, &site, &digest(), "staging");
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
    }
}
