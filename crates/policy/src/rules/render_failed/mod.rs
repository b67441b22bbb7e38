#![doc = include_str!("doc.md")]

use crate::{CellContext, Finding, RuleId, Severity};

/// Stable rule id.
pub const ID: RuleId = RuleId::RenderFailed;
/// One line for tables and `--help`.
pub const SUMMARY: &str = "the cell could not be rendered (helm error, `required`, timeout)";
/// What to do at the line the finding points at, for the fix list (imperative, lowercase).
pub const FIX: &str = "fix the chart or its values so that helm renders the cell";
/// Severity unless the configuration says otherwise. It cannot be lowered: imagegate fails closed.
pub const DEFAULT_SEVERITY: Severity = Severity::Error;
/// How GitHub code scanning ranks it (`security-severity`, 0 to 10).
pub const SECURITY_SEVERITY: &str = "5.0";
/// Tags for code scanning, besides `security`, `kubernetes` and `container-image`.
pub const TAGS: &[&str] = &["fail-closed"];
/// The rule's documentation (the same text as this module's doc comment).
pub const DOC: &str = include_str!("doc.md");

/// Longest excerpt of helm's error kept in the message; helm can print whole templates.
const MAX_ERROR_CHARS: usize = 2000;

/// The finding for a cell whose render failed with `error` (helm's stderr, or a timeout note).
/// Severity is the rule default; run [`crate::PolicySettings::apply_severity`] before reporting.
pub fn finding(cell: &CellContext, error: &str) -> Finding {
    let mut text = error
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    if text.chars().count() > MAX_ERROR_CHARS {
        text = text.chars().take(MAX_ERROR_CHARS).collect::<String>() + "…";
    }
    if text.is_empty() {
        text = "helm failed without an error message".to_owned();
    }
    let message = format!(
        "chart `{chart}` could not be rendered for `{app}` in `{env}`: {text}; fix the values or template so `helm template` succeeds",
        chart = cell.chart,
        app = cell.app,
        env = cell.environment,
    );
    Finding::new(ID, DEFAULT_SEVERITY, message, cell.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell() -> CellContext {
        CellContext {
            environment: "dev".to_owned(),
            app: "dev-web".to_owned(),
            chart: "charts/web".to_owned(),
        }
    }

    #[test]
    fn carries_helms_error_on_one_line() {
        let f = finding(
            &cell(),
            "Error: execution error at (web/templates/deployment.yaml:21:20):\n  image.ref is required\n",
        );
        assert_eq!(f.rule, ID);
        assert_eq!(f.severity, Severity::Error);
        assert_eq!(f.cell, cell());
        assert_eq!(
            f.message,
            "chart `charts/web` could not be rendered for `dev-web` in `dev`: Error: execution error at \
             (web/templates/deployment.yaml:21:20): image.ref is required; fix the values or template so \
             `helm template` succeeds"
        );
    }

    #[test]
    fn long_and_empty_errors_are_bounded_and_explained() {
        let long = finding(&cell(), &"x".repeat(10_000));
        assert!(long.message.chars().count() < MAX_ERROR_CHARS + 200);
        assert!(long.message.contains('…'));
        let empty = finding(&cell(), "  \n");
        assert!(empty
            .message
            .contains("helm failed without an error message"));
    }
}
