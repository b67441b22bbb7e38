#![doc = include_str!("doc.md")]

use super::SiteContext;
use crate::{Finding, ImageRef, Offending, RuleId, Severity, TagPattern};

/// Stable rule id.
pub const ID: RuleId = RuleId::MutableTag;
/// One line for tables and `--help`.
pub const SUMMARY: &str = "a tag that is not an immutable shape, even next to a digest";
/// What to do at the line the finding points at, for the fix list (imperative, lowercase).
pub const FIX: &str = "replace the mutable tag with a build-SHA or semantic-version tag, or drop it and pin by digest";
/// Severity unless the configuration says otherwise.
pub const DEFAULT_SEVERITY: Severity = Severity::Error;
/// How GitHub code scanning ranks it (`security-severity`, 0 to 10).
pub const SECURITY_SEVERITY: &str = "8.0";
/// Tags for code scanning, besides `security`, `kubernetes` and `container-image`.
pub const TAGS: &[&str] = &["supply-chain"];
/// The rule's documentation (the same text as this module's doc comment).
pub const DOC: &str = include_str!("doc.md");

/// True when `tag` matches one of the immutable shapes in full.
pub fn is_immutable(tag: &str, immutable: &[TagPattern]) -> bool {
    immutable.iter().any(|pattern| pattern.matches(tag))
}

/// Reports `reference` when it has a tag that matches none of the `immutable` patterns.
pub(crate) fn check(
    site: &SiteContext<'_>,
    reference: &ImageRef,
    immutable: &[TagPattern],
) -> Option<Finding> {
    let tag = reference.tag()?;
    if is_immutable(tag, immutable) {
        return None;
    }
    let fix = match reference.digest() {
        Some(digest) => format!("drop it (`{}@{digest}`)", reference.repository()),
        None => format!(
            "drop it and pin by digest (`{}@sha256:<digest>`)",
            reference.repository()
        ),
    };
    let message = format!(
        "tag `{tag}` of `{raw}` in {where_} is mutable; {fix} or use a build-SHA or semantic-version tag",
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::builders::{digest, object, set, site};
    use crate::{CellContext, PolicySettings};
    use imagegate_decode::SiteKind;

    fn judge(image: &str, immutable: &[TagPattern]) -> Option<Finding> {
        let cell = CellContext::default();
        let object = object("Deployment", "web", 0);
        let site = site(SiteKind::Container, image, set("IfNotPresent"));
        let reference = ImageRef::parse(image).ok()?;
        let ctx = SiteContext {
            cell: &cell,
            object: &object,
            site: &site,
        };
        check(&ctx, &reference, immutable)
    }

    #[test]
    fn default_shapes() {
        let defaults = PolicySettings::default().immutable_tags;
        // (tag, mutable?)
        let cases = [
            ("main", true),
            ("dev", true),
            ("latest", true),
            ("16", true),
            ("1.25", true),
            ("1.1", true),
            ("v1.2", true),
            ("3F2A9C1", true),
            ("abc123", true),
            ("feature_x-3f2a9c", true),
            ("3f2a9c1", false),
            ("3f2a9c1d0e5b4a7f8c6d2e1b0a9f8e7d6c5b4a3f", false),
            ("main-3f2a9c1", false),
            ("build.42-3f2a9c1d", false),
            ("v1.2.3", false),
            ("1.2.3", false),
            ("v1.2.3-rc.1", false),
            ("1.2.3+build.5", false),
            ("7.2.4-debian-12-r0", false),
        ];
        for (tag, mutable) in cases {
            assert_eq!(!is_immutable(tag, &defaults), mutable, "tag `{tag}`");
            for image in [format!("repo:{tag}"), format!("repo:{tag}@{}", digest())] {
                let finding = judge(&image, &defaults);
                assert_eq!(finding.is_some(), mutable, "{image}");
                if let Some(finding) = finding {
                    assert_eq!(finding.offending, Some(Offending::Tag(tag.to_owned())));
                    assert!(finding.message.contains(&format!("tag `{tag}`")));
                }
            }
        }
    }

    #[test]
    fn no_tag_is_not_a_mutable_tag() {
        let defaults = PolicySettings::default().immutable_tags;
        assert_eq!(judge("nginx", &defaults), None);
        assert_eq!(judge(&format!("nginx@{}", digest()), &defaults), None);
        assert_eq!(judge("registry.local:5000/team/app", &defaults), None);
    }

    #[test]
    fn configured_patterns_replace_the_defaults() {
        let only_date = [TagPattern::new(r"\d{8}").unwrap_or_else(|e| panic!("{e}"))];
        assert!(judge("repo:20250101", &only_date).is_none());
        assert!(judge("repo:v1.2.3", &only_date).is_some());
        // Patterns match the whole tag, so an unanchored pattern cannot pass `x20250101y`.
        assert!(judge("repo:x20250101y", &only_date).is_some());
        // No pattern at all: every tag is mutable.
        assert!(judge("repo:3f2a9c1", &[]).is_some());
    }

    #[test]
    fn message_tells_how_to_drop_the_tag() {
        let defaults = PolicySettings::default().immutable_tags;
        let image = format!("ghcr.io/a/b:main@{}", digest());
        let finding = judge(&image, &defaults).unwrap_or_else(|| unreachable!());
        assert_eq!(
            finding.message,
            format!(
                "tag `main` of `{image}` in container `app` of Deployment/web is mutable; \
                 drop it (`ghcr.io/a/b@{}`) or use a build-SHA or semantic-version tag",
                digest()
            )
        );
    }
}
