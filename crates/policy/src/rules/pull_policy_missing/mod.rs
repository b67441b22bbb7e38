#![doc = include_str!("doc.md")]

use imagegate_decode::PullPolicy;

use super::SiteContext;
use crate::{Finding, RuleId, Severity};

/// Stable rule id.
pub const ID: RuleId = RuleId::PullPolicyMissing;
/// One line for tables and `--help`.
pub const SUMMARY: &str = "a container with no explicit `imagePullPolicy`";
/// What to do at the line the finding points at, for the fix list (imperative, lowercase).
pub const FIX: &str = "set `imagePullPolicy: IfNotPresent`";
/// Severity unless the configuration says otherwise.
pub const DEFAULT_SEVERITY: Severity = Severity::Error;
/// How GitHub code scanning ranks it (`security-severity`, 0 to 10).
pub const SECURITY_SEVERITY: &str = "3.0";
/// Tags for code scanning, besides `security`, `kubernetes` and `container-image`.
pub const TAGS: &[&str] = &["pull-policy"];
/// The rule's documentation (the same text as this module's doc comment).
pub const DOC: &str = include_str!("doc.md");

/// Reports a pod-spec container whose `imagePullPolicy` is absent. Custom fields and safety-net
/// sites are never reported: their operators choose the default.
pub(crate) fn check(site: &SiteContext<'_>) -> Option<Finding> {
    if !site.site.kind.is_container() || site.site.pull_policy != PullPolicy::Absent {
        return None;
    }
    let message = format!(
        "{where_} (image `{image}`) sets no `imagePullPolicy`; set `imagePullPolicy: IfNotPresent`",
        where_ = site.describe(),
        image = site.site.image,
    );
    let mut finding = site.finding(ID, DEFAULT_SEVERITY, message, None);
    if let Some(field) = &site.site.pull_policy_field {
        finding.field = Some(field.clone());
    }
    Some(finding)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::builders::{object, set, site};
    use crate::CellContext;
    use imagegate_decode::SiteKind;

    fn judge(kind: SiteKind, policy: PullPolicy) -> Option<Finding> {
        let cell = CellContext::default();
        let object = object("Deployment", "web", 0);
        let site = site(kind, "nginx", policy);
        check(&SiteContext {
            cell: &cell,
            object: &object,
            site: &site,
        })
    }

    #[test]
    fn absent_on_every_container_kind_is_reported() {
        for kind in [
            SiteKind::Container,
            SiteKind::InitContainer,
            SiteKind::EphemeralContainer,
        ] {
            let finding = judge(kind, PullPolicy::Absent).unwrap_or_else(|| panic!("{kind:?}"));
            assert_eq!(finding.rule, ID);
            assert!(finding
                .field
                .as_deref()
                .is_some_and(|f| f.ends_with("imagePullPolicy")));
        }
    }

    #[test]
    fn init_container_message() {
        let finding =
            judge(SiteKind::InitContainer, PullPolicy::Absent).unwrap_or_else(|| unreachable!());
        assert_eq!(
            finding.message,
            "init container `init` of Deployment/web (image `nginx`) sets no `imagePullPolicy`; \
             set `imagePullPolicy: IfNotPresent`"
        );
    }

    #[test]
    fn other_sites_and_present_policies_are_not_reported() {
        assert_eq!(judge(SiteKind::CustomField, PullPolicy::Absent), None);
        assert_eq!(judge(SiteKind::Unclassified, PullPolicy::Absent), None);
        assert_eq!(judge(SiteKind::Container, set("IfNotPresent")), None);
        // A wrong value is the other rule's business.
        assert_eq!(judge(SiteKind::Container, set("Always")), None);
        assert_eq!(judge(SiteKind::Container, PullPolicy::NotApplicable), None);
    }
}
