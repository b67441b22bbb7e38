//! The fix list: a report's failing findings grouped by the edit that fixes them.
//!
//! One values line usually causes many findings: a `tag: main` in a shared globals file shows up
//! in every app and every environment that reads it. The fix list turns the findings into the
//! edits to make: one [`Fix`] per distinct origin (file and line), with the value written there,
//! what to do, and every finding the edit clears. Failing findings without an origin (an image
//! the template hard-codes, a cell that failed to render) cannot be fixed by editing a values
//! line; they are counted apart ([`FixCounts::without_origin`]).
//!
//! Pure data over [`ReportFinding`]s: [`crate::Report::judged`] computes it, so every report
//! (a run, a scan, a shard merge) carries it, for whichever findings fail the run.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::model::{ObjectRef, ReportFinding};

/// One edit: a line of a repository file, and the failing findings that changing it clears.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Fix {
    /// Repository-relative path of the file to edit (as `findings[].origin.file`).
    pub file: String,
    /// 1-based line to edit.
    pub line: u32,
    /// The value on that line as the file writes it (`latest`, `"1.10"` with its quotes, `null`,
    /// empty for `key:` with no value; cut at 16 KiB); `null` when the origin is not a values scalar (a
    /// configuration or a scanned manifest line).
    pub value: Option<String>,
    /// What to do there, one sentence per kind of finding it clears, in rule order.
    pub actions: Vec<String>,
    /// Every failing finding the edit clears, in the order of `findings`.
    pub findings: Vec<FixedFinding>,
}

/// A finding an edit clears, named as the findings list names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FixedFinding {
    /// The rule id.
    pub rule: String,
    /// Environment of the cell (empty for a repository-level finding).
    pub environment: String,
    /// App of the cell (empty for a repository-level finding).
    pub app: String,
    /// The object, when the finding is about one.
    pub object: Option<ObjectRef>,
    /// The container, for container sites.
    pub container: Option<String>,
    /// The image as rendered.
    pub image: Option<String>,
}

/// The headline of the fix list: `summary.fixes` of the JSON report.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "camelCase")]
pub struct FixCounts {
    /// Number of edits (entries of `fixes`).
    pub edits: u64,
    /// Failing findings those edits clear (each in exactly one edit).
    pub findings: u64,
    /// Failing findings no values line explains: hard-coded in a template, a cell that failed
    /// to render, or a finding about no file.
    pub without_origin: u64,
}

impl FixedFinding {
    fn of(f: &ReportFinding) -> Self {
        Self {
            rule: f.rule.clone(),
            environment: f.environment.clone(),
            app: f.app.clone(),
            object: f.object.clone(),
            container: f.container.clone(),
            image: f.image.clone(),
        }
    }
}

/// The fix list of `findings`: the failing ones (not excepted; errors, and warnings when
/// `warnings_as_errors`) grouped by origin, one [`Fix`] per file and line, the edits clearing
/// most findings first, then by file and line; and its headline counts.
pub fn fix_list(findings: &[ReportFinding], warnings_as_errors: bool) -> (Vec<Fix>, FixCounts) {
    let mut counts = FixCounts::default();
    // Keyed by (file, line); each edit with its actions and the rule that asked for each.
    type Actions<'f> = Vec<(&'f str, &'f str)>;
    let mut by_line: BTreeMap<(&str, u32), (Fix, Actions<'_>)> = BTreeMap::new();
    for f in findings.iter().filter(|f| f.is_failing(warnings_as_errors)) {
        let Some(origin) = &f.origin else {
            counts.without_origin += 1;
            continue;
        };
        let (fix, actions) = by_line
            .entry((origin.file.as_str(), origin.line))
            .or_insert_with(|| {
                (
                    Fix {
                        file: origin.file.clone(),
                        line: origin.line,
                        value: None,
                        actions: Vec::new(),
                        findings: Vec::new(),
                    },
                    Vec::new(),
                )
            });
        if fix.value.is_none() {
            // A values file may hold a huge scalar; a report stays bounded.
            fix.value = f.origin_value.clone().map(crate::model::bounded);
        }
        if let Some(action) = f.fix.as_deref() {
            if !actions.iter().any(|(_, a)| *a == action) {
                actions.push((f.rule.as_str(), action));
            }
        }
        fix.findings.push(FixedFinding::of(f));
    }
    let mut fixes: Vec<Fix> = by_line
        .into_values()
        .map(|(mut fix, mut actions)| {
            actions.sort();
            fix.actions = actions.into_iter().map(|(_, a)| a.to_owned()).collect();
            fix
        })
        .collect();
    // Stable: ties keep the (file, line) order of the map.
    fixes.sort_by_key(|f| std::cmp::Reverse(f.findings.len()));
    counts.edits = fixes.len() as u64;
    counts.findings = fixes.iter().map(|f| f.findings.len() as u64).sum();
    (fixes, counts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Origin, Severity};

    fn finding(rule: &str, env: &str, app: &str, origin: Option<(&str, u32)>) -> ReportFinding {
        let mut f = ReportFinding::new(rule, Severity::Error, "m", env, app, "charts/web");
        f.object = Some(ObjectRef::new("apps/v1", "Deployment", None, app));
        f.container = Some("web".into());
        f.image = Some("ghcr.io/acme/web:main".into());
        f.origin = origin.map(|(file, line)| Origin::new(file, line));
        f.origin_value = origin.map(|_| "main".into());
        f.fix = Some(format!("do what {rule} asks"));
        f
    }

    #[test]
    fn one_line_across_environments_is_one_edit() {
        let findings: Vec<_> = ["dev", "staging", "production"]
            .into_iter()
            .map(|env| finding("mutable-tag", env, "web", Some(("globals.yaml", 6))))
            .collect();
        let (fixes, counts) = fix_list(&findings, false);
        assert_eq!(fixes.len(), 1);
        let fix = &fixes[0];
        assert_eq!((fix.file.as_str(), fix.line), ("globals.yaml", 6));
        assert_eq!(fix.value.as_deref(), Some("main"));
        assert_eq!(fix.actions, ["do what mutable-tag asks"]);
        let envs: Vec<_> = fix
            .findings
            .iter()
            .map(|f| f.environment.as_str())
            .collect();
        assert_eq!(envs, ["dev", "staging", "production"]);
        assert_eq!(
            counts,
            FixCounts {
                edits: 1,
                findings: 3,
                without_origin: 0
            }
        );
    }

    #[test]
    fn two_rules_on_one_line_are_one_edit_with_both_actions() {
        let findings = vec![
            finding("mutable-tag", "dev", "web", Some(("a.yaml", 3))),
            finding("digest-required", "dev", "web", Some(("a.yaml", 3))),
            finding("digest-required", "dev", "api", Some(("a.yaml", 3))),
        ];
        let (fixes, counts) = fix_list(&findings, false);
        assert_eq!(fixes.len(), 1);
        // In rule order, each once.
        assert_eq!(
            fixes[0].actions,
            ["do what digest-required asks", "do what mutable-tag asks"]
        );
        assert_eq!(fixes[0].findings.len(), 3);
        assert_eq!(counts.findings, 3);
    }

    #[test]
    fn excepted_and_non_failing_findings_are_left_out() {
        let mut excepted = finding("mutable-tag", "dev", "web", Some(("a.yaml", 3)));
        excepted.excepted = true;
        let mut warning = finding("pull-policy-missing", "dev", "web", Some(("a.yaml", 9)));
        warning.severity = Severity::Warning;
        let findings = vec![excepted, warning];
        let (fixes, counts) = fix_list(&findings, false);
        assert!(fixes.is_empty(), "{fixes:#?}");
        assert_eq!(counts, FixCounts::default());
        // A warning fails the run with --warnings-as-errors, and is then in the list.
        let (fixes, counts) = fix_list(&findings, true);
        assert_eq!(fixes.len(), 1);
        assert_eq!(fixes[0].findings[0].rule, "pull-policy-missing");
        assert_eq!(counts.findings, 1);
    }

    #[test]
    fn findings_without_an_origin_are_counted_apart() {
        let findings = vec![
            finding("mutable-tag", "dev", "job", None),
            finding("render-failed", "dev", "broken", None),
            finding("mutable-tag", "dev", "web", Some(("a.yaml", 3))),
        ];
        let (fixes, counts) = fix_list(&findings, false);
        assert_eq!(fixes.len(), 1);
        assert_eq!(
            counts,
            FixCounts {
                edits: 1,
                findings: 1,
                without_origin: 2
            }
        );
    }

    #[test]
    fn most_findings_first_then_file_then_line() {
        let findings = vec![
            finding("mutable-tag", "dev", "a", Some(("b.yaml", 1))),
            finding("mutable-tag", "dev", "b", Some(("a.yaml", 9))),
            finding("mutable-tag", "dev", "c", Some(("a.yaml", 10))),
            finding("mutable-tag", "dev", "d", Some(("z.yaml", 5))),
            finding("mutable-tag", "prod", "d", Some(("z.yaml", 5))),
            finding("mutable-tag", "dev", "e", Some(("a.yaml", 2))),
        ];
        let (fixes, _) = fix_list(&findings, false);
        let order: Vec<_> = fixes.iter().map(|f| (f.file.as_str(), f.line)).collect();
        assert_eq!(
            order,
            [
                ("z.yaml", 5),
                ("a.yaml", 2),
                ("a.yaml", 9),
                ("a.yaml", 10),
                ("b.yaml", 1)
            ]
        );
        // The same findings in another order give the same list.
        let mut reversed = findings.clone();
        reversed.reverse();
        let (again, _) = fix_list(&reversed, false);
        let order_again: Vec<_> = again.iter().map(|f| (f.file.as_str(), f.line)).collect();
        assert_eq!(order, order_again);
    }

    #[test]
    fn the_value_is_the_first_one_known() {
        let mut config = finding("exception-expired", "", "", Some(("imagegate.yaml", 90)));
        config.origin_value = None;
        let (fixes, _) = fix_list(&[config], false);
        assert_eq!(fixes[0].value, None);
        assert_eq!(fixes[0].findings[0].environment, "");
    }
}
