#![doc = include_str!("doc.md")]

use imagegate_decode::{PullPolicy, SiteKind};

use super::SiteContext;
use crate::{Finding, Offending, RuleId, Severity};

/// Stable rule id.
pub const ID: RuleId = RuleId::PullPolicyNotIfNotPresent;
/// One line for tables and `--help`.
pub const SUMMARY: &str =
    "`Always`/`Never` on a container, or on a custom resource's pull-policy field";
/// What to do at the line the finding points at, for the fix list (imperative, lowercase).
pub const FIX: &str = "set the pull policy to `IfNotPresent`";
/// Severity unless the configuration says otherwise.
pub const DEFAULT_SEVERITY: Severity = Severity::Error;
/// How GitHub code scanning ranks it (`security-severity`, 0 to 10).
pub const SECURITY_SEVERITY: &str = "3.0";
/// Tags for code scanning, besides `security`, `kubernetes` and `container-image`.
pub const TAGS: &[&str] = &["pull-policy"];
/// The rule's documentation (the same text as this module's doc comment).
pub const DOC: &str = include_str!("doc.md");

/// The only accepted value, compared exactly (the API server is case-sensitive).
pub const EXPECTED: &str = "IfNotPresent";

/// Reports a container or custom field whose pull policy is set to anything but `IfNotPresent`.
pub(crate) fn check(site: &SiteContext<'_>) -> Option<Finding> {
    let applies = site.site.kind.is_container() || site.site.kind == SiteKind::CustomField;
    let PullPolicy::Set(value) = &site.site.pull_policy else {
        return None;
    };
    if !applies || value == EXPECTED {
        return None;
    }
    let field = site
        .site
        .pull_policy_field
        .clone()
        .unwrap_or_else(|| "imagePullPolicy".to_owned());
    let fix = if site.site.kind == SiteKind::CustomField {
        "set it to `IfNotPresent` or leave it out"
    } else {
        "set it to `IfNotPresent` and roll out by changing the digest"
    };
    let message = format!(
        "{where_} (image `{image}`) has `{short}: {value:?}`; {fix}",
        where_ = site.describe(),
        image = site.site.image,
        short = field.rsplit('.').next().unwrap_or(&field),
    );
    let mut finding = site.finding(
        ID,
        DEFAULT_SEVERITY,
        message,
        Some(Offending::PullPolicy(value.clone())),
    );
    finding.field = Some(field);
    // The line to change is the pull policy's, not the image's.
    finding.line = site.site.pull_policy_line.or(site.site.line);
    Some(finding)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::builders::{object, set, site};
    use crate::CellContext;

    fn judge(kind: SiteKind, policy: PullPolicy) -> Option<Finding> {
        let cell = CellContext::default();
        let object = object(
            if kind == SiteKind::CustomField {
                "Agent"
            } else {
                "Deployment"
            },
            "web",
            0,
        );
        let site = site(kind, "nginx", policy);
        check(&SiteContext {
            cell: &cell,
            object: &object,
            site: &site,
        })
    }

    #[test]
    fn table() {
        use SiteKind::*;
        // (kind, policy, reported?)
        let cases = [
            (Container, set("Always"), true),
            (Container, set("Never"), true),
            (Container, set(""), true),
            (Container, set("ifnotpresent"), true),
            (Container, set("IfNotPresent "), true),
            (Container, set("IfNotPresent"), false),
            (Container, PullPolicy::Absent, false),
            (InitContainer, set("Always"), true),
            (EphemeralContainer, set("Never"), true),
            (CustomField, set("Always"), true),
            (CustomField, set("Never"), true),
            (CustomField, set("IfNotPresent"), false),
            (CustomField, PullPolicy::Absent, false),
            (CustomField, PullPolicy::NotApplicable, false),
            (Unclassified, set("Always"), false),
        ];
        for (kind, policy, reported) in cases {
            let finding = judge(kind, policy.clone());
            assert_eq!(finding.is_some(), reported, "{kind:?} {policy:?}");
            if let (Some(finding), PullPolicy::Set(value)) = (finding, policy) {
                assert_eq!(finding.offending, Some(Offending::PullPolicy(value)));
                assert!(finding
                    .field
                    .as_deref()
                    .is_some_and(|f| f.ends_with("imagePullPolicy")));
                // The fixture's image is on line 12, its pull policy on 13: the finding points
                // at the line to change.
                assert_eq!(finding.line, Some(13), "{kind:?}");
            }
        }
    }

    #[test]
    fn messages() {
        let cr = judge(SiteKind::CustomField, set("Always")).unwrap_or_else(|| unreachable!());
        assert_eq!(
            cr.message,
            "`spec.image` of Agent/web (image `nginx`) has `imagePullPolicy: \"Always\"`; \
             set it to `IfNotPresent` or leave it out"
        );
        let empty = judge(SiteKind::Container, set("")).unwrap_or_else(|| unreachable!());
        assert_eq!(
            empty.message,
            "container `app` of Deployment/web (image `nginx`) has `imagePullPolicy: \"\"`; \
             set it to `IfNotPresent` and roll out by changing the digest"
        );
    }
}
