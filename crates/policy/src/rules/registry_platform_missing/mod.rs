#![doc = include_str!("doc.md")]

use super::SiteContext;
use crate::remote::platform_matches;
use crate::{Finding, ImageRef, Offending, RemoteFacts, RuleId, Severity};

/// Stable rule id.
pub const ID: RuleId = RuleId::RegistryPlatformMissing;
/// One line for tables and `--help`.
pub const SUMMARY: &str =
    "a pinned digest that does not cover a platform its environment declares (`check --registry`)";
/// What to do at the line the finding points at, for the fix list (imperative, lowercase).
pub const FIX: &str =
    "pin the digest of a multi-platform index that covers every platform the environment declares";
/// Severity unless the configuration says otherwise.
pub const DEFAULT_SEVERITY: Severity = Severity::Error;
/// How GitHub code scanning ranks it (`security-severity`, 0 to 10).
pub const SECURITY_SEVERITY: &str = "4.0";
/// Tags for code scanning, besides `security`, `kubernetes` and `container-image`.
pub const TAGS: &[&str] = &["registry", "multi-arch"];
/// The rule's documentation (the same text as this module's doc comment).
pub const DOC: &str = include_str!("doc.md");

/// Reports `reference` when a platform of `declared` is not among those its digest covers.
pub(crate) fn check(
    site: &SiteContext<'_>,
    reference: &ImageRef,
    facts: &RemoteFacts,
    declared: &[String],
) -> Option<Finding> {
    let digest = reference.digest()?;
    let missing: Vec<&str> = declared
        .iter()
        .filter(|want| {
            !facts
                .platforms
                .iter()
                .any(|have| platform_matches(want, have))
        })
        .map(String::as_str)
        .collect();
    if missing.is_empty() {
        return None;
    }
    let what = if facts.index {
        "an image index"
    } else {
        "a single-platform image"
    };
    let covers = if facts.platforms.is_empty() {
        "no platform it names".to_owned()
    } else {
        facts.platforms.join(", ")
    };
    let message = format!(
        "`{raw}` in {where_}: `{digest}` is {what} for {covers}, but environment `{env}` declares {missing}; pin the digest of an index that covers every declared platform",
        raw = reference.as_str(),
        where_ = site.describe(),
        env = site.cell.environment,
        missing = missing.join(", "),
    );
    Some(site.finding(
        ID,
        DEFAULT_SEVERITY,
        message,
        Some(Offending::Digest(digest.to_owned())),
    ))
}
