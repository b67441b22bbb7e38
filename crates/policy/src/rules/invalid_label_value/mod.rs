#![doc = include_str!("doc.md")]

use imagegate_decode::{DecodedObject, LabelSite};

use super::{describe_object, object_finding};
use crate::{CellContext, Finding, Offending, RuleId, Severity};

/// Stable rule id.
pub const ID: RuleId = RuleId::InvalidLabelValue;
/// One line for tables and `--help`.
pub const SUMMARY: &str =
    "a label value Kubernetes would reject (a digest leaking into `app.kubernetes.io/version`)";
/// What to do at the line the finding points at, for the fix list (imperative, lowercase).
pub const FIX: &str = "write a label value Kubernetes accepts (at most 63 of `[A-Za-z0-9._-]`, alphanumeric at both ends)";
/// Severity unless the configuration says otherwise.
pub const DEFAULT_SEVERITY: Severity = Severity::Error;
/// How GitHub code scanning ranks it (`security-severity`, 0 to 10).
pub const SECURITY_SEVERITY: &str = "3.0";
/// Tags for code scanning, besides `security`, `kubernetes` and `container-image`.
pub const TAGS: &[&str] = &["kubernetes"];
/// The rule's documentation (the same text as this module's doc comment).
pub const DOC: &str = include_str!("doc.md");

/// Longest label value Kubernetes accepts.
pub const MAX_LEN: usize = 63;

/// What is wrong with a label value (a clause completing "it …"), or `None` when Kubernetes
/// accepts it (empty, or at most 63 of `[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?`).
pub fn label_value_problem(value: &str) -> Option<String> {
    if value.is_empty() {
        return None;
    }
    let len = value.chars().count();
    if len > MAX_LEN {
        return Some(format!(
            "is {len} characters long (at most {MAX_LEN} are allowed)"
        ));
    }
    if let Some(bad) = value
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
    {
        return Some(format!(
            "contains `{bad}` (only letters, digits, `-`, `_` and `.` are allowed)"
        ));
    }
    let edge_ok = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    if !edge_ok(value.chars().next()) || !edge_ok(value.chars().last()) {
        return Some("does not start and end with a letter or digit".to_owned());
    }
    None
}

/// Reports `label` when Kubernetes would reject its value.
pub(crate) fn check(
    cell: &CellContext,
    object: &DecodedObject,
    label: &LabelSite,
) -> Option<Finding> {
    let problem = label_value_problem(&label.value)?;
    let hint = if label.value.contains("sha256:") {
        "; a digest leaked into it: keep the chart's tag a plain version and put the digest in its own value"
    } else {
        "; render a valid value, or shorten it with `trunc 63`"
    };
    let message = format!(
        "label `{key}` ({field}) of {object} has the value `{value}`, which Kubernetes rejects: it {problem}{hint}",
        key = label.key,
        value = label.value,
        field = label.field,
        object = describe_object(&object.object),
    );
    let mut finding = object_finding(ID, DEFAULT_SEVERITY, message, cell, object);
    finding.field = Some(format!("{}.{}", label.field, label.key));
    finding.line = label.line;
    finding.offending = Some(Offending::LabelValue(label.value.clone()));
    Some(finding)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::builders::{digest, label, object};

    #[test]
    fn values() {
        let long_ok = "a".repeat(63);
        let too_long = "a".repeat(64);
        let leaked = format!("v1.2.3@{}", digest());
        // (value, accepted?)
        let cases = [
            ("", true),
            ("web", true),
            ("v1.2.3", true),
            ("7.2.4-debian-12-r0", true),
            ("A_b.C-1", true),
            (long_ok.as_str(), true),
            (too_long.as_str(), false),
            (leaked.as_str(), false),
            ("-web", false),
            ("web.", false),
            ("_", false),
            ("a b", false),
            ("a/b", false),
            ("é", false),
        ];
        for (value, accepted) in cases {
            assert_eq!(label_value_problem(value).is_none(), accepted, "`{value}`");
        }
    }

    #[test]
    fn digest_leak_is_reported_with_offending_value() {
        let leaked = format!("v1.2.3@{}", digest());
        let object = object("StatefulSet", "redis", 3);
        let label = label("app.kubernetes.io/version", &leaked);
        let finding =
            check(&CellContext::default(), &object, &label).unwrap_or_else(|| unreachable!());
        assert_eq!(finding.rule, ID);
        assert_eq!(
            finding.offending,
            Some(Offending::LabelValue(leaked.clone()))
        );
        assert_eq!(
            finding.field.as_deref(),
            Some("metadata.labels.app.kubernetes.io/version")
        );
        assert_eq!(finding.document, Some(3));
        assert_eq!(finding.line, Some(6));
        assert!(
            finding.message.contains("a digest leaked into it"),
            "{}",
            finding.message
        );
        assert!(finding.message.contains("StatefulSet/redis"));
    }

    #[test]
    fn valid_label_is_not_reported() {
        let object = object("Deployment", "web", 0);
        assert_eq!(
            check(&CellContext::default(), &object, &label("app", "web")),
            None
        );
    }
}
