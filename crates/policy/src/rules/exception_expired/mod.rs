#![doc = include_str!("doc.md")]

use chrono::NaiveDate;

use super::exception_finding;
use crate::{Exception, Finding, RuleId, Severity};

/// Stable rule id.
pub const ID: RuleId = RuleId::ExceptionExpired;
/// One line for tables and `--help`.
pub const SUMMARY: &str = "an exception whose `expires` date has passed";
/// What to do at the line the finding points at, for the fix list (imperative, lowercase).
pub const FIX: &str =
    "fix what the exception covered and delete it, or renew it with a later `expires`";
/// Severity unless the configuration says otherwise.
pub const DEFAULT_SEVERITY: Severity = Severity::Error;
/// How GitHub code scanning ranks it (`security-severity`, 0 to 10).
pub const SECURITY_SEVERITY: &str = "2.0";
/// Tags for code scanning, besides `security`, `kubernetes` and `container-image`.
pub const TAGS: &[&str] = &["exceptions"];
/// The rule's documentation (the same text as this module's doc comment).
pub const DOC: &str = include_str!("doc.md");

/// The finding for exception number `index` (0-based in `exceptions.list`), expired as of `today`.
pub fn finding(index: usize, exception: &Exception, today: NaiveDate) -> Finding {
    let days = (today - exception.expires).num_days();
    let message = format!(
        "the exception for `{rule}` at exceptions.list[{index}] (\"{reason}\") expired on {expires} ({days} day{s} ago); \
         fix what it covered and delete it, or renew it with a later `expires`",
        rule = exception.rule,
        reason = exception.reason,
        expires = exception.expires,
        s = if days == 1 { "" } else { "s" },
    );
    exception_finding(ID, DEFAULT_SEVERITY, message, index, exception)
}
