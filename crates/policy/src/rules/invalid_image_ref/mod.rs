#![doc = include_str!("doc.md")]

use super::SiteContext;
use crate::{Finding, Offending, RefError, RuleId, Severity};

/// Stable rule id.
pub const ID: RuleId = RuleId::InvalidImageRef;
/// One line for tables and `--help`.
pub const SUMMARY: &str =
    "unparsable reference or malformed digest; reported alone for that reference";
/// What to do at the line the finding points at, for the fix list (imperative, lowercase).
pub const FIX: &str =
    "write a valid image reference (`[registry/]repository[:tag][@sha256:<64 hex digits>]`)";
/// Severity unless the configuration says otherwise.
pub const DEFAULT_SEVERITY: Severity = Severity::Error;
/// How GitHub code scanning ranks it (`security-severity`, 0 to 10).
pub const SECURITY_SEVERITY: &str = "5.0";
/// Tags for code scanning, besides `security`, `kubernetes` and `container-image`.
pub const TAGS: &[&str] = &["fail-closed"];
/// The rule's documentation (the same text as this module's doc comment).
pub const DOC: &str = include_str!("doc.md");

/// Reports a site whose image did not parse. Safety-net sites are never reported: a field named
/// like an image in an unknown object may hold any string.
pub(crate) fn check(site: &SiteContext<'_>, error: &RefError) -> Option<Finding> {
    if site.site.kind == imagegate_decode::SiteKind::Unclassified {
        return None;
    }
    let raw = &site.site.image;
    let blank = raw.trim().is_empty();
    // A blank image is shown quoted (`""`): bare, it would print as nothing at all.
    let shown = if blank {
        format!("{raw:?}")
    } else {
        raw.clone()
    };
    let message = format!(
        "`{shown}` in {where_} is not a valid image reference: {error}; render `repository@sha256:<64 lowercase hex digits>`",
        where_ = site.describe(),
    );
    // An empty string is not something a search can look for (it occurs everywhere): an empty
    // image is its own kind of offending value.
    let offending = if blank {
        Offending::EmptyImage
    } else {
        Offending::Reference(raw.clone())
    };
    Some(site.finding(ID, DEFAULT_SEVERITY, message, Some(offending)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::builders::{object, set, site};
    use crate::{CellContext, ImageRef};
    use imagegate_decode::SiteKind;

    fn judge(kind: SiteKind, image: &str) -> Option<Finding> {
        let cell = CellContext::default();
        let object = object("Deployment", "web", 0);
        let site = site(kind, image, set("IfNotPresent"));
        let error = ImageRef::parse(image).err()?;
        check(
            &SiteContext {
                cell: &cell,
                object: &object,
                site: &site,
            },
            &error,
        )
    }

    #[test]
    fn unparsable_references_are_reported_on_classified_sites() {
        for kind in [
            SiteKind::Container,
            SiteKind::InitContainer,
            SiteKind::EphemeralContainer,
            SiteKind::CustomField,
        ] {
            for image in [
                "repo:",
                "app:<no value>",
                "repo@sha256:abc",
                "Repo/App",
                " x",
            ] {
                let finding =
                    judge(kind, image).unwrap_or_else(|| panic!("{kind:?} `{image}` not reported"));
                assert_eq!(
                    finding.offending,
                    Some(Offending::Reference(image.to_owned()))
                );
            }
            // Nothing to search for: an empty image never becomes an empty search string.
            for image in ["", " ", "\t"] {
                let finding =
                    judge(kind, image).unwrap_or_else(|| panic!("{kind:?} `{image}` not reported"));
                assert_eq!(
                    finding.offending,
                    Some(Offending::EmptyImage),
                    "`{image:?}`"
                );
            }
        }
    }

    #[test]
    fn safety_net_sites_are_never_reported() {
        for image in ["", "repo:", "some free text", "{{ x }}"] {
            assert_eq!(judge(SiteKind::Unclassified, image), None, "`{image}`");
        }
    }

    #[test]
    fn valid_references_are_not_reported() {
        assert_eq!(judge(SiteKind::Container, "nginx"), None);
    }

    #[test]
    fn message_carries_the_parse_error() {
        let finding =
            judge(SiteKind::InitContainer, "repo@sha256:abc").unwrap_or_else(|| unreachable!());
        assert_eq!(
            finding.message,
            "`repo@sha256:abc` in init container `init` of Deployment/web is not a valid image reference: \
             the sha256 digest has 3 hex digits where exactly 64 are required; \
             render `repository@sha256:<64 lowercase hex digits>`"
        );
        let finding = judge(SiteKind::Container, "").unwrap_or_else(|| unreachable!());
        assert!(
            finding.message.starts_with(
                "`\"\"` in container `app` of Deployment/web is not a valid image reference: the reference is empty"
            ),
            "{}",
            finding.message
        );
    }
}
