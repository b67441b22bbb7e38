//! Every rule, by id: the table `imagegate explain`, the docs generator and the configuration
//! schema read.
//!
//! Each entry takes its id, severity, summary and documentation from the rule's own module, and
//! the documentation is the same markdown file the module's doc comment includes, so there is one
//! source of truth per rule.

use serde::Serialize;

use crate::rules::*;
use crate::Severity;

/// Whether a rule is part of the stable contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RuleStatus {
    /// Stable: the id and meaning will not change.
    Stable,
    /// Preview: may change meaning or be removed.
    Preview,
}

/// One rule: its id, default severity, status and documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RuleInfo {
    /// Stable id, for example `digest-required`.
    pub id: &'static str,
    /// Severity unless the configuration says otherwise.
    pub default_severity: Severity,
    /// Stable or preview.
    pub status: RuleStatus,
    /// One line: what it catches.
    pub summary: &'static str,
    /// The full documentation in markdown, with the sections `## What it catches`,
    /// `## Why it matters`, `## Example` and `## How to fix`.
    pub doc: &'static str,
    /// GitHub code scanning's `security-severity` (0 to 10): an image the registry can change
    /// under the cluster is high, what fails closed medium, pull policy and hygiene low.
    pub security_severity: &'static str,
    /// The rule's own tags for code scanning.
    pub tags: &'static [&'static str],
}

macro_rules! rule_info {
    ($module:ident) => {
        RuleInfo {
            id: $module::ID,
            default_severity: $module::DEFAULT_SEVERITY,
            status: RuleStatus::Stable,
            summary: $module::SUMMARY,
            doc: $module::DOC,
            security_severity: $module::SECURITY_SEVERITY,
            tags: $module::TAGS,
        }
    };
}

static RULES: [RuleInfo; 13] = [
    rule_info!(digest_required),
    rule_info!(mutable_tag),
    rule_info!(invalid_image_ref),
    rule_info!(pull_policy_missing),
    rule_info!(pull_policy_not_ifnotpresent),
    rule_info!(invalid_label_value),
    rule_info!(render_failed),
    rule_info!(invalid_manifest),
    rule_info!(exception_expired),
    rule_info!(exception_unused),
    rule_info!(exception_invalid),
    rule_info!(promotion_drift),
    rule_info!(values_file_unused),
];

/// Every rule, in the order of the rules reference.
pub fn rules() -> &'static [RuleInfo] {
    &RULES
}

/// The rule with this id, if there is one.
pub fn rule(id: &str) -> Option<&'static RuleInfo> {
    RULES.iter().find(|r| r.id == id)
}

/// Rules that cannot be lowered below `error` or excepted: what imagegate could not render or read
/// has not been checked, and must never pass silently.
pub const FAIL_CLOSED: [&str; 2] = [render_failed::ID, invalid_manifest::ID];

/// Rules about the exceptions themselves, which no exception may cover.
pub const EXCEPTION_HYGIENE: [&str; 3] = [
    exception_expired::ID,
    exception_unused::ID,
    exception_invalid::ID,
];

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    const SECTIONS: [&str; 4] = [
        "## What it catches",
        "## Why it matters",
        "## Example",
        "## How to fix",
    ];

    #[test]
    fn ids_are_unique_and_well_formed() {
        let mut seen = HashSet::new();
        for r in rules() {
            assert!(seen.insert(r.id), "duplicate id {}", r.id);
            assert!(
                r.id.chars().all(|c| c.is_ascii_lowercase() || c == '-'),
                "id {} is not kebab-case",
                r.id
            );
            assert_eq!(rule(r.id), Some(r));
        }
        assert_eq!(rule("no-such-rule"), None);
    }

    #[test]
    fn product_rule_ids_are_all_registered() {
        for id in [
            "digest-required",
            "mutable-tag",
            "invalid-image-ref",
            "pull-policy-missing",
            "pull-policy-not-ifnotpresent",
            "invalid-label-value",
            "render-failed",
            "invalid-manifest",
            "exception-expired",
            "exception-unused",
            "promotion-drift",
            "values-file-unused",
        ] {
            assert!(rule(id).is_some(), "{id} missing");
        }
    }

    #[test]
    fn every_doc_has_the_four_sections_in_order_with_content() {
        for r in rules() {
            let mut last = 0;
            for section in SECTIONS {
                let at = r.doc.find(section).unwrap_or_else(|| {
                    panic!("{}: missing `{section}`", r.id);
                });
                assert!(at >= last, "{}: `{section}` out of order", r.id);
                last = at;
            }
            // A summary paragraph before the first section, and a YAML example in the Example section.
            assert!(
                !r.doc[..r.doc.find("## ").unwrap_or(0)].trim().is_empty(),
                "{}",
                r.id
            );
            let example = &r.doc[r.doc.find("## Example").unwrap_or(0)..];
            assert!(example.contains("```yaml"), "{}: example is not YAML", r.id);
            // Every fence names a language, so rustdoc never tries to compile YAML as Rust.
            let mut in_fence = false;
            for line in r.doc.lines().filter(|l| l.trim_start().starts_with("```")) {
                if !in_fence {
                    assert!(
                        line.trim().len() > 3,
                        "{}: code fence without a language",
                        r.id
                    );
                }
                in_fence = !in_fence;
            }
            assert!(!in_fence, "{}: unclosed code fence", r.id);
            assert!(!r.summary.is_empty());
        }
    }

    #[test]
    fn default_severities() {
        for r in rules() {
            let expected = match r.id {
                "exception-unused" | "values-file-unused" => Severity::Warning,
                _ => Severity::Error,
            };
            assert_eq!(r.default_severity, expected, "{}", r.id);
        }
    }

    #[test]
    fn how_to_fix_shows_values_and_template() {
        for r in rules() {
            let fix = &r.doc[r.doc.find("## How to fix").unwrap_or(0)..];
            assert!(
                fix.matches("```yaml").count() >= 2,
                "{}: How to fix needs a values and a template snippet",
                r.id
            );
            assert!(
                fix.contains("{{"),
                "{}: no chart template in How to fix",
                r.id
            );
        }
    }
}
