#![doc = include_str!("doc.md")]

use super::SiteContext;
use crate::{Finding, ImageRef, Offending, RuleId, Severity};

/// Stable rule id.
pub const ID: RuleId = RuleId::DigestRequired;
/// One line for tables and `--help`.
pub const SUMMARY: &str = "reference without `@sha256:` (a bare `nginx` is implicit latest)";
/// What to do at the line the finding points at, for the fix list (imperative, lowercase).
pub const FIX: &str = "pin the image by digest (`sha256:…` of the image you mean to deploy)";
/// Severity unless the configuration says otherwise.
pub const DEFAULT_SEVERITY: Severity = Severity::Error;
/// How GitHub code scanning ranks it (`security-severity`, 0 to 10).
pub const SECURITY_SEVERITY: &str = "8.0";
/// Tags for code scanning, besides `security`, `kubernetes` and `container-image`.
pub const TAGS: &[&str] = &["supply-chain"];
/// The rule's documentation (the same text as this module's doc comment).
pub const DOC: &str = include_str!("doc.md");

/// Reports `reference` when it carries no digest.
pub(crate) fn check(site: &SiteContext<'_>, reference: &ImageRef) -> Option<Finding> {
    if reference.digest().is_some() {
        return None;
    }
    let message = format!(
        "`{raw}` in {where_} is not pinned by digest; set it to `{repo}@sha256:<digest>` with the digest of the image you mean to deploy",
        raw = reference.as_str(),
        where_ = site.describe(),
        repo = reference.repository(),
    );
    Some(site.finding(
        ID,
        DEFAULT_SEVERITY,
        message,
        Some(Offending::Reference(reference.as_str().to_owned())),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::builders::{digest, object, set, site};
    use crate::CellContext;
    use imagegate_decode::SiteKind;

    fn judge(image: &str) -> Option<Finding> {
        let cell = CellContext::default();
        let object = object("Deployment", "web", 0);
        let site = site(SiteKind::Container, image, set("IfNotPresent"));
        let reference = ImageRef::parse(image).ok()?;
        check(
            &SiteContext {
                cell: &cell,
                object: &object,
                site: &site,
            },
            &reference,
        )
    }

    #[test]
    fn references_without_digest_are_reported() {
        for image in [
            "nginx",
            "nginx:1.25",
            "ghcr.io/ameideio/web:v1.2.3",
            "registry.local:5000/team/app",
            "registry.local:5000/team/app:3f2a9c1",
            "[::1]:5000/app",
        ] {
            let finding = judge(image).unwrap_or_else(|| panic!("{image} should be reported"));
            assert_eq!(finding.rule, ID);
            assert_eq!(
                finding.offending,
                Some(Offending::Reference(image.to_owned()))
            );
            assert_eq!(finding.image.as_deref(), Some(image));
            assert!(
                finding.message.contains(&format!("`{image}`")),
                "{}",
                finding.message
            );
        }
    }

    #[test]
    fn references_with_digest_pass() {
        let d = digest();
        for image in [
            format!("nginx@{d}"),
            format!("ghcr.io/ameideio/web:main@{d}"),
            format!("registry.local:5000/team/app@{d}"),
            format!("[::1]:5000/app:v1.2.3@{d}"),
        ] {
            assert_eq!(judge(&image), None, "{image}");
        }
    }

    #[test]
    fn message_suggests_the_pinned_form() {
        let finding = judge("registry.local:5000/team/app:v1").unwrap_or_else(|| unreachable!());
        assert_eq!(
            finding.message,
            "`registry.local:5000/team/app:v1` in container `app` of Deployment/web is not pinned by digest; \
             set it to `registry.local:5000/team/app@sha256:<digest>` with the digest of the image you mean to deploy"
        );
    }
}
