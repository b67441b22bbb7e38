#![doc = include_str!("doc.md")]

use super::SiteContext;
use crate::{Finding, ImageRef, Offending, RemoteFacts, RuleId, Severity};

/// Stable rule id.
pub const ID: RuleId = RuleId::RegistryTagMismatch;
/// One line for tables and `--help`.
pub const SUMMARY: &str =
    "a `repo:tag@sha256:…` whose tag points at another digest now (`check --registry`): the tag lies";
/// What to do at the line the finding points at, for the fix list (imperative, lowercase).
pub const FIX: &str =
    "make the tag and the digest name the same image (update the digest, or the tag)";
/// Severity unless the configuration says otherwise.
pub const DEFAULT_SEVERITY: Severity = Severity::Error;
/// How GitHub code scanning ranks it (`security-severity`, 0 to 10).
pub const SECURITY_SEVERITY: &str = "5.0";
/// Tags for code scanning, besides `security`, `kubernetes` and `container-image`.
pub const TAGS: &[&str] = &["supply-chain", "registry"];
/// The rule's documentation (the same text as this module's doc comment).
pub const DOC: &str = include_str!("doc.md");

/// Reports `reference` when it names a tag and the registry's tag does not point at its digest.
pub(crate) fn check(
    site: &SiteContext<'_>,
    reference: &ImageRef,
    facts: &RemoteFacts,
) -> Option<Finding> {
    let tag = reference.tag()?;
    let digest = reference.digest()?;
    let now = match facts.tag_digest.as_deref() {
        Some(d) if d == digest => return None,
        Some(d) => format!("points at `{d}`, not at the pinned `{digest}`"),
        None => format!("no longer exists in the registry (the pinned digest is `{digest}`)"),
    };
    let message = format!(
        "`{raw}` in {where_}: tag `{tag}` {now}; the tag says one image and the digest deploys another. Update the digest to the image you mean, or the tag to the one that names it",
        raw = reference.as_str(),
        where_ = site.describe(),
    );
    Some(site.finding(
        ID,
        DEFAULT_SEVERITY,
        message,
        Some(Offending::Tag(tag.to_owned())),
    ))
}
