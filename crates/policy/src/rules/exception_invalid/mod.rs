#![doc = include_str!("doc.md")]

use super::exception_finding;
use crate::{Exception, Finding, RuleId, Severity};

/// Stable rule id.
pub const ID: RuleId = RuleId::ExceptionInvalid;
/// One line for tables and `--help`.
pub const SUMMARY: &str =
    "an exception that outlives `maxLifetimeDays` or names a forbidden environment";
/// What to do at the line the finding points at, for the fix list (imperative, lowercase).
pub const FIX: &str = "correct the exception as its message says";
/// Severity unless the configuration says otherwise.
pub const DEFAULT_SEVERITY: Severity = Severity::Error;
/// How GitHub code scanning ranks it (`security-severity`, 0 to 10).
pub const SECURITY_SEVERITY: &str = "2.0";
/// Tags for code scanning, besides `security`, `kubernetes` and `container-image`.
pub const TAGS: &[&str] = &["exceptions"];
/// The rule's documentation (the same text as this module's doc comment).
pub const DOC: &str = include_str!("doc.md");

/// The finding for exception number `index` (0-based in `exceptions.list`); `problem` completes
/// the sentence "the exception for `rule` at `exceptions.list[index]` …" and ends with what to do.
pub fn finding(index: usize, exception: &Exception, problem: &str) -> Finding {
    let message = format!(
        "the exception for `{rule}` at exceptions.list[{index}] {problem}",
        rule = exception.rule,
    );
    exception_finding(ID, DEFAULT_SEVERITY, message, index, exception)
}
