#![doc = include_str!("doc.md")]

use super::SiteContext;
use crate::{Finding, ImageRef, Offending, RemoteFacts, RuleId, Severity};

/// Stable rule id.
pub const ID: RuleId = RuleId::RegistryDigestMissing;
/// One line for tables and `--help`.
pub const SUMMARY: &str =
    "a pinned digest its registry does not have (`check --registry`): the pull would fail";
/// What to do at the line the finding points at, for the fix list (imperative, lowercase).
pub const FIX: &str =
    "pin a digest that exists in the registry (push the image, or fix the digest)";
/// Severity unless the configuration says otherwise.
pub const DEFAULT_SEVERITY: Severity = Severity::Error;
/// How GitHub code scanning ranks it (`security-severity`, 0 to 10).
pub const SECURITY_SEVERITY: &str = "6.0";
/// Tags for code scanning, besides `security`, `kubernetes` and `container-image`.
pub const TAGS: &[&str] = &["supply-chain", "registry"];
/// The rule's documentation (the same text as this module's doc comment).
pub const DOC: &str = include_str!("doc.md");

/// Reports `reference` when its registry said the digest is not in the repository.
pub(crate) fn check(
    site: &SiteContext<'_>,
    reference: &ImageRef,
    facts: &RemoteFacts,
) -> Option<Finding> {
    if facts.digest_found {
        return None;
    }
    let digest = reference.digest()?;
    let message = format!(
        "`{raw}` in {where_}: the registry has no manifest `{digest}` in `{repo}`; the pull would fail. Pin a digest that exists (push the image, or copy the digest from the registry)",
        raw = reference.as_str(),
        where_ = site.describe(),
        repo = reference.repository(),
    );
    Some(site.finding(
        ID,
        DEFAULT_SEVERITY,
        message,
        Some(Offending::Digest(digest.to_owned())),
    ))
}
