//! The registry rules of `check --registry`: what a registry answered about each pinned image
//! ([`RemoteFacts`], gathered by the caller) against the images of one cell.
//!
//! Pure like the rest of this crate: the caller does the I/O and hands in a lookup; an image the
//! lookup has no answer for (the registry was down, refused the credentials, …) is not judged
//! here, and the caller must fail the run for it (exit status 2), never let it pass.

use imagegate_decode::{DecodedObject, ImageSite};
use serde::Deserialize;

use crate::rules::{
    registry_digest_missing, registry_platform_missing, registry_tag_mismatch, SiteContext,
};
use crate::{CellContext, Finding, ImageRef, PolicySettings};

/// What a registry said about one digest-pinned reference.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RemoteFacts {
    /// The pinned digest exists in the reference's repository.
    pub digest_found: bool,
    /// For a `repo:tag@sha256:…` reference, the digest the tag points at now; `None` when the
    /// registry does not know the tag (or the reference has none).
    #[serde(default)]
    pub tag_digest: Option<String>,
    /// The platforms (`os/architecture[/variant]`) the digest covers: every entry of an image
    /// index, or the one platform of an image manifest's configuration. Empty when unknown.
    #[serde(default)]
    pub platforms: Vec<String>,
    /// True when the digest is an image index (a multi-platform image).
    #[serde(default)]
    pub index: bool,
}

/// True when `have` (`os/arch[/variant]`) satisfies `want`: the same os and architecture, and the
/// same variant when `want` names one (`linux/arm64` accepts `linux/arm64/v8`).
pub fn platform_matches(want: &str, have: &str) -> bool {
    let w: Vec<&str> = want.split('/').collect();
    let h: Vec<&str> = have.split('/').collect();
    if w.len() < 2 || h.len() < 2 {
        return false;
    }
    w[0] == h[0] && w[1] == h[1] && (w.len() < 3 || h.get(2) == w.get(2))
}

/// The registry findings of one cell: every image site whose reference carries a digest, judged
/// against what `lookup` returns for its reference text. `platforms` are the platforms the
/// cell's environment declares (`platforms:` on the environment; empty: none are required).
/// Severities are resolved for the cell's environment, as [`crate::evaluate`] does.
pub fn evaluate_remote(
    cell: &CellContext,
    objects: &[DecodedObject],
    platforms: &[String],
    lookup: &dyn Fn(&str) -> Option<RemoteFacts>,
    settings: &PolicySettings,
) -> Vec<Finding> {
    let mut findings = Vec::new();
    for object in objects {
        for site in &object.sites {
            let ctx = SiteContext { cell, object, site };
            judge_site(&ctx, site, platforms, lookup, &mut findings);
        }
    }
    settings.apply_severity(findings)
}

fn judge_site(
    ctx: &SiteContext<'_>,
    site: &ImageSite,
    platforms: &[String],
    lookup: &dyn Fn(&str) -> Option<RemoteFacts>,
    out: &mut Vec<Finding>,
) {
    let Ok(reference) = ImageRef::parse(&site.image) else {
        return;
    };
    if reference.digest().is_none() {
        return;
    }
    let Some(facts) = lookup(reference.as_str()) else {
        return;
    };
    if let Some(f) = registry_digest_missing::check(ctx, &reference, &facts) {
        // Nothing else can be said about a digest the registry does not have.
        out.push(f);
        return;
    }
    out.extend(registry_tag_mismatch::check(ctx, &reference, &facts));
    out.extend(registry_platform_missing::check(
        ctx, &reference, &facts, platforms,
    ));
}

/// Every distinct digest-pinned reference of `objects`, the references [`evaluate_remote`] will
/// ask about, so the caller can look them up ahead of judging.
pub fn pinned_references(objects: &[DecodedObject]) -> Vec<String> {
    let mut out: Vec<String> = objects
        .iter()
        .flat_map(|o| &o.sites)
        .filter_map(|s| ImageRef::parse(&s.image).ok())
        .filter(|r| r.digest().is_some())
        .map(|r| r.as_str().to_owned())
        .collect();
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platforms_match_by_os_arch_and_variant_when_asked() {
        assert!(platform_matches("linux/arm64", "linux/arm64"));
        assert!(platform_matches("linux/arm64", "linux/arm64/v8"));
        assert!(platform_matches("linux/arm/v7", "linux/arm/v7"));
        assert!(!platform_matches("linux/arm/v7", "linux/arm/v6"));
        assert!(!platform_matches("linux/arm/v7", "linux/arm"));
        assert!(!platform_matches("linux/arm64", "linux/amd64"));
        assert!(!platform_matches("linux/arm64", "windows/arm64"));
        assert!(!platform_matches("arm64", "linux/arm64"));
    }
}
