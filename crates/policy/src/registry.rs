//! Every rule, by id: the table `imagegate explain`, the docs generator and the configuration
//! schema read.
//!
//! Each entry takes its id, severity, summary and documentation from the rule's own module, and
//! the documentation is the same markdown file the module's doc comment includes, so there is one
//! source of truth per rule.

use std::fmt;
use std::str::FromStr;

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize};

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
    pub id: RuleId,
    /// Severity unless the configuration says otherwise.
    pub default_severity: Severity,
    /// Stable or preview.
    pub status: RuleStatus,
    /// One line: what it catches.
    pub summary: &'static str,
    /// What to do at the line a finding points at, as the fix list says it (imperative,
    /// lowercase: `set the pull policy to IfNotPresent`).
    pub fix: &'static str,
    /// The full documentation in markdown, with the sections `## What it catches`,
    /// `## Why it matters`, `## Example` and `## How to fix`.
    pub doc: &'static str,
    /// GitHub code scanning's `security-severity` (0 to 10): an image the registry can change
    /// under the cluster is high, what fails closed medium, pull policy and hygiene low.
    pub security_severity: &'static str,
    /// The rule's own tags for code scanning.
    pub tags: &'static [&'static str],
}

/// Lists every rule once: the variant of [`RuleId`], its module under [`crate::rules`] and its
/// id. The enum, its string forms and the [`rules()`] table are all generated from this list, so
/// adding a rule is adding one line here and one folder under `rules/`.
macro_rules! registry {
    ($($variant:ident => $module:ident, $id:literal;)*) => {
        /// A rule, by its stable id. Serialises (and parses) as the kebab-case id, `digest-required`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum RuleId {
            $(
                #[doc = concat!("`", $id, "`: see [`crate::rules::", stringify!($module), "`].")]
                $variant,
            )*
        }

        impl RuleId {
            /// Every rule, in the order of the rules reference.
            pub const ALL: [RuleId; [$($id),*].len()] = [$(RuleId::$variant),*];

            /// The stable kebab-case id, for example `digest-required`.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(RuleId::$variant => $id,)*
                }
            }

            /// The name of the rule's module (and folder) under `crates/policy/src/rules`.
            pub const fn module(self) -> &'static str {
                match self {
                    $(RuleId::$variant => stringify!($module),)*
                }
            }
        }

        static RULES: [RuleInfo; RuleId::ALL.len()] = [$(
            RuleInfo {
                id: RuleId::$variant,
                default_severity: $module::DEFAULT_SEVERITY,
                status: RuleStatus::Stable,
                summary: $module::SUMMARY,
                fix: $module::FIX,
                doc: $module::DOC,
                security_severity: $module::SECURITY_SEVERITY,
                tags: $module::TAGS,
            },
        )*];
    };
}

registry! {
    DigestRequired => digest_required, "digest-required";
    MutableTag => mutable_tag, "mutable-tag";
    InvalidImageRef => invalid_image_ref, "invalid-image-ref";
    PullPolicyMissing => pull_policy_missing, "pull-policy-missing";
    PullPolicyNotIfNotPresent => pull_policy_not_ifnotpresent, "pull-policy-not-ifnotpresent";
    InvalidLabelValue => invalid_label_value, "invalid-label-value";
    RenderFailed => render_failed, "render-failed";
    InvalidManifest => invalid_manifest, "invalid-manifest";
    ExceptionExpired => exception_expired, "exception-expired";
    ExceptionUnused => exception_unused, "exception-unused";
    ExceptionInvalid => exception_invalid, "exception-invalid";
    PromotionDrift => promotion_drift, "promotion-drift";
    ValuesFileUnused => values_file_unused, "values-file-unused";
    RegistryDigestMissing => registry_digest_missing, "registry-digest-missing";
    RegistryTagMismatch => registry_tag_mismatch, "registry-tag-mismatch";
    RegistryPlatformMissing => registry_platform_missing, "registry-platform-missing";
}

impl RuleId {
    /// The rule's registry entry: severity, summary, documentation.
    pub fn info(self) -> &'static RuleInfo {
        // RULES is generated in the order of ALL, so the variant's position is its index.
        &RULES[self as usize]
    }

    /// The rule's default severity.
    pub fn default_severity(self) -> Severity {
        self.info().default_severity
    }

    /// True for the rules that cannot be lowered below `error` or excepted
    /// ([`FAIL_CLOSED`]).
    pub fn is_fail_closed(self) -> bool {
        FAIL_CLOSED.contains(&self)
    }

    /// True for the rules about the exceptions themselves ([`EXCEPTION_HYGIENE`]).
    pub fn is_exception_hygiene(self) -> bool {
        EXCEPTION_HYGIENE.contains(&self)
    }

    /// The known rule closest to `word` (at most two edits away, or one a prefix of the other),
    /// for a "did you mean".
    pub fn closest(word: &str) -> Option<RuleId> {
        let word = word.to_ascii_lowercase();
        RuleId::ALL
            .iter()
            .map(|r| (strsim::levenshtein(&word, r.as_str()), r.as_str(), *r))
            .filter(|(d, id, _)| {
                *d <= 2
                    || (word.len() >= 3 && (id.starts_with(word.as_str()) || word.starts_with(id)))
            })
            .min_by_key(|(d, id, _)| (*d, *id))
            .map(|(_, _, r)| r)
    }

    /// Every id, comma-separated, for error messages.
    pub fn known() -> String {
        RuleId::ALL
            .iter()
            .map(|r| r.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl fmt::Display for RuleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// Ordered by id, as the string ids were, so maps keyed by rule iterate (and report) in the same
/// order as before the ids were typed.
impl Ord for RuleId {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl PartialOrd for RuleId {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// A string that names no rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown rule id `{id}`{}", suggestion(*.closest))]
pub struct UnknownRuleId {
    /// The id as written.
    pub id: String,
    /// The known rule closest to it, if any is close.
    pub closest: Option<RuleId>,
}

/// ` (did you mean `mutable-tag`?)`, or nothing.
pub(crate) fn suggestion(closest: Option<RuleId>) -> String {
    closest
        .map(|r| format!(" (did you mean `{r}`?)"))
        .unwrap_or_default()
}

impl FromStr for RuleId {
    type Err = UnknownRuleId;

    fn from_str(id: &str) -> Result<Self, Self::Err> {
        RuleId::ALL
            .into_iter()
            .find(|r| r.as_str() == id)
            .ok_or_else(|| UnknownRuleId {
                id: id.to_owned(),
                closest: RuleId::closest(id),
            })
    }
}

impl Serialize for RuleId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for RuleId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let id = String::deserialize(d)?;
        id.parse().map_err(de::Error::custom)
    }
}

impl JsonSchema for RuleId {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "RuleId".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        let ids: Vec<&str> = RuleId::ALL.iter().map(|r| r.as_str()).collect();
        schemars::json_schema!({
            "type": "string",
            "description": "A rule id.",
            "enum": ids,
        })
    }
}

/// Every rule, in the order of the rules reference.
pub fn rules() -> &'static [RuleInfo] {
    &RULES
}

/// The rule with this id, if there is one.
pub fn rule(id: &str) -> Option<&'static RuleInfo> {
    id.parse::<RuleId>().ok().map(RuleId::info)
}

/// Rules that cannot be lowered below `error` or excepted: what imagegate could not render or read
/// has not been checked, and must never pass silently.
pub const FAIL_CLOSED: [RuleId; 2] = [RuleId::RenderFailed, RuleId::InvalidManifest];

/// Rules about the exceptions themselves, which no exception may cover.
pub const EXCEPTION_HYGIENE: [RuleId; 3] = [
    RuleId::ExceptionExpired,
    RuleId::ExceptionUnused,
    RuleId::ExceptionInvalid,
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
        for (i, r) in rules().iter().enumerate() {
            let id = r.id.as_str();
            assert!(seen.insert(id), "duplicate id {id}");
            assert!(
                id.chars().all(|c| c.is_ascii_lowercase() || c == '-'),
                "id {id} is not kebab-case"
            );
            assert_eq!(RuleId::ALL[i], r.id, "{id}: table and enum out of order");
            assert_eq!(r.id.info(), r);
            assert_eq!(rule(id), Some(r));
            // The module (and folder) is the id in snake case.
            assert_eq!(r.id.module(), id.replace('-', "_"));
        }
        assert_eq!(rules().len(), RuleId::ALL.len());
        assert_eq!(rule("no-such-rule"), None);
    }

    #[test]
    fn ids_round_trip_through_text_and_serde() {
        for r in RuleId::ALL {
            assert_eq!(r.as_str().parse::<RuleId>(), Ok(r));
            assert_eq!(r.to_string(), r.as_str());
            let json = serde_json::to_string(&r).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(json, format!("\"{}\"", r.as_str()));
            let back: RuleId = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(back, r);
        }
        let err = serde_json::from_str::<RuleId>("\"digest_required\"")
            .map(|_| ())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("unknown rule id `digest_required` (did you mean `digest-required`?)"),
            "{err}"
        );
    }

    #[test]
    fn unknown_ids_suggest_the_closest_rule() {
        let cases = [
            ("mutable-tags", Some(RuleId::MutableTag)),
            ("Digest-Required", Some(RuleId::DigestRequired)),
            ("pull-policy", Some(RuleId::PullPolicyMissing)),
            ("exception-expird", Some(RuleId::ExceptionExpired)),
            ("latest-tag", None),
            ("x", None),
        ];
        for (word, expected) in cases {
            let err = word.parse::<RuleId>().unwrap_err();
            assert_eq!(err.closest, expected, "{word}");
            assert_eq!(err.id, word);
            let text = err.to_string();
            assert_eq!(text.contains("did you mean"), expected.is_some(), "{text}");
        }
    }

    #[test]
    fn ordered_by_id() {
        let mut sorted = RuleId::ALL;
        sorted.sort();
        let ids: Vec<&str> = sorted.iter().map(|r| r.as_str()).collect();
        let mut expected = ids.clone();
        expected.sort_unstable();
        assert_eq!(ids, expected);
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
                RuleId::ExceptionUnused | RuleId::ValuesFileUnused => Severity::Warning,
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
