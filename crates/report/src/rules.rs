//! What the formats need to know about a rule beyond its id.

use crate::model::Severity;

/// A rule's documentation, as the formats that describe rules (SARIF) need it.
///
/// The CLI builds these from the policy crate's rule registry; taking them as plain data keeps
/// this crate independent of the policy crate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleMeta {
    /// Stable rule id, for example `digest-required`.
    pub id: String,
    /// One line saying what the rule catches.
    pub summary: String,
    /// The rule's full documentation, in Markdown.
    pub help_markdown: String,
    /// The severity the rule has unless the configuration changes it.
    pub default_severity: Severity,
    /// A page documenting the rule, when there is one.
    pub help_uri: Option<String>,
    /// GitHub code scanning's `security-severity` (0 to 10), when the rule has one.
    pub security_severity: Option<String>,
    /// Tags for code scanning.
    pub tags: Vec<String>,
}

impl RuleMeta {
    /// A rule's metadata, with no help page.
    pub fn new(
        id: impl Into<String>,
        summary: impl Into<String>,
        help_markdown: impl Into<String>,
        default_severity: Severity,
    ) -> Self {
        Self {
            id: id.into(),
            summary: summary.into(),
            help_markdown: help_markdown.into(),
            default_severity,
            help_uri: None,
            security_severity: None,
            tags: Vec::new(),
        }
    }

    /// The same metadata with code scanning's severity and tags.
    #[must_use]
    pub fn with_code_scanning(mut self, security_severity: &str, tags: &[&str]) -> Self {
        self.security_severity = Some(security_severity.to_owned());
        self.tags = tags.iter().map(|t| (*t).to_owned()).collect();
        self
    }

    /// The same metadata with a help page.
    #[must_use]
    pub fn with_help_uri(mut self, uri: impl Into<String>) -> Self {
        self.help_uri = Some(uri.into());
        self
    }
}
