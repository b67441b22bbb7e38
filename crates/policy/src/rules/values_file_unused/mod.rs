#![doc = include_str!("doc.md")]

use std::collections::BTreeSet;

use globset::GlobMatcher;

use crate::{CellContext, Finding, RuleId, Severity};

/// Stable rule id.
pub const ID: RuleId = RuleId::ValuesFileUnused;
/// One line for tables and `--help`.
pub const SUMMARY: &str = "a values file that no cell reads (a mistyped overlay path)";
/// What to do at the line the finding points at, for the fix list (imperative, lowercase).
pub const FIX: &str = "move its values to a file the cells read, or delete it";
/// Severity unless the configuration says otherwise.
pub const DEFAULT_SEVERITY: Severity = Severity::Warning;
/// How GitHub code scanning ranks it (`security-severity`, 0 to 10).
pub const SECURITY_SEVERITY: &str = "2.0";
/// Tags for code scanning, besides `security`, `kubernetes` and `container-image`.
pub const TAGS: &[&str] = &["hygiene"];
/// The rule's documentation (the same text as this module's doc comment).
pub const DOC: &str = include_str!("doc.md");

/// The values files on disk that no cell reads and no `valueFolders.ignore` glob matches, one
/// finding each, sorted by path. `read` is what the whole matrix reads, `on_disk` every values
/// file under the value folders (both repository-relative).
/// Severity is the rule default; run [`crate::PolicySettings::apply_severity`] before reporting.
pub fn check(
    read: &BTreeSet<&str>,
    on_disk: &BTreeSet<String>,
    ignore: &[GlobMatcher],
) -> Vec<Finding> {
    on_disk
        .iter()
        .filter(|f| !read.contains(f.as_str()))
        .filter(|f| !ignore.iter().any(|g| g.is_match(f.as_str())))
        .map(|f| finding(f))
        .collect()
}

/// The finding for the values file at `path` (relative to the repository), which no cell reads.
/// Severity is the rule default; run [`crate::PolicySettings::apply_severity`] before reporting.
pub fn finding(path: &str) -> Finding {
    let message = format!(
        "values file `{path}` is read by no cell; move its values to a file the cells read (see `imagegate cells`) or delete it"
    );
    let mut finding = Finding::new(ID, DEFAULT_SEVERITY, message, CellContext::default());
    finding.file = Some(path.to_owned());
    finding
}

/// The finding for the value-stack entry `path` of `cell`, which does not exist although the
/// configuration says missing values files are errors (`missingValueFiles: error`).
/// Severity is the rule default; run [`crate::PolicySettings::apply_severity`] before reporting.
pub fn missing(cell: &CellContext, path: &str) -> Finding {
    let message = format!(
        "values file `{path}` of the value stack of {app} does not exist (missingValueFiles: error); create it, or fix the path in the value stack or the component's valueFiles",
        app = cell.app
    );
    let mut finding = Finding::new(ID, DEFAULT_SEVERITY, message, cell.clone());
    finding.file = Some(path.to_owned());
    finding
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_at_the_file() {
        let f = finding("sources/values/env/prod/apps/web.yaml");
        assert_eq!(f.rule, ID);
        assert_eq!(f.severity, Severity::Warning);
        assert_eq!(
            f.file.as_deref(),
            Some("sources/values/env/prod/apps/web.yaml")
        );
        assert!(f
            .message
            .contains("`sources/values/env/prod/apps/web.yaml`"));
    }

    #[test]
    fn missing_entry_names_the_cell_and_the_file() {
        let cell = CellContext {
            environment: "prod".to_owned(),
            app: "prod-web".to_owned(),
            chart: "charts/web".to_owned(),
        };
        let f = missing(&cell, "values/prod/web.yaml");
        assert_eq!(f.rule, ID);
        assert_eq!(f.cell, cell);
        assert_eq!(f.file.as_deref(), Some("values/prod/web.yaml"));
        assert!(
            f.message.contains("of prod-web does not exist"),
            "{}",
            f.message
        );
    }
}
