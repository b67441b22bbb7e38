#![doc = include_str!("doc.md")]

use super::exception_finding;
use crate::{Exception, Finding, RuleId, Severity};

/// Stable rule id.
pub const ID: RuleId = RuleId::ExceptionUnused;
/// One line for tables and `--help`.
pub const SUMMARY: &str = "an exception that matched no finding in a full run";
/// What to do at the line the finding points at, for the fix list (imperative, lowercase).
pub const FIX: &str = "delete the exception, or correct what it matches";
/// Severity unless the configuration says otherwise.
pub const DEFAULT_SEVERITY: Severity = Severity::Warning;
/// How GitHub code scanning ranks it (`security-severity`, 0 to 10).
pub const SECURITY_SEVERITY: &str = "2.0";
/// Tags for code scanning, besides `security`, `kubernetes` and `container-image`.
pub const TAGS: &[&str] = &["exceptions"];
/// The rule's documentation (the same text as this module's doc comment).
pub const DOC: &str = include_str!("doc.md");

/// The finding for exception number `index` (0-based in `exceptions.list`), which matched nothing.
pub fn finding(index: usize, exception: &Exception) -> Finding {
    let message = format!(
        "the exception for `{rule}` at exceptions.list[{index}] (\"{reason}\") matched no finding; \
         delete it, or correct its patterns if it was meant to match",
        rule = exception.rule,
        reason = exception.reason,
    );
    exception_finding(ID, DEFAULT_SEVERITY, message, index, exception)
}
