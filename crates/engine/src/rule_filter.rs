//! `--rule` / `--skip-rule`: which rules' findings a report keeps.

use crate::Fatal;
use imagegate_policy::registry::RuleId;
use imagegate_report::Report;

/// The rules a report keeps: only the `--rule` ones when any is given, minus the `--skip-rule`
/// ones. The fail-closed rules (a cell that failed to render, a manifest that cannot be read)
/// are always kept: leaving them out would make an unchecked cell pass.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuleFilter {
    only: Vec<RuleId>,
    skip: Vec<RuleId>,
}

impl RuleFilter {
    /// The filter of `--rule ID…` and `--skip-rule ID…`. An unknown id is a usage error that
    /// names the closest known id; skipping a fail-closed rule is refused.
    pub fn new(only: &[String], skip: &[String]) -> Result<Self, Fatal> {
        let parse = |flag: &str, ids: &[String]| -> Result<Vec<RuleId>, Fatal> {
            ids.iter()
                .map(|id| {
                    id.parse::<RuleId>().map_err(|e| {
                        Fatal(format!(
                            "{flag} {id}: {e}\n  hint: `imagegate explain` lists every rule id"
                        ))
                    })
                })
                .collect()
        };
        let only = parse("--rule", only)?;
        let skip = parse("--skip-rule", skip)?;
        if let Some(r) = skip.iter().find(|r| r.is_fail_closed()) {
            return Err(Fatal(format!(
                "--skip-rule {r}: {r} cannot be skipped: a cell or manifest imagegate could not read is never a pass\n  hint: fix the cell, or leave it out with --skip-cell ENV/APP"
            )));
        }
        Ok(Self { only, skip })
    }

    /// True when the filter keeps every finding.
    pub fn is_empty(&self) -> bool {
        self.only.is_empty() && self.skip.is_empty()
    }

    /// True when findings of the rule `id` are kept (an id no rule has is kept: it is not ours
    /// to judge).
    pub fn keeps(&self, id: &str) -> bool {
        let Ok(rule) = id.parse::<RuleId>() else {
            return true;
        };
        rule.is_fail_closed()
            || ((self.only.is_empty() || self.only.contains(&rule)) && !self.skip.contains(&rule))
    }

    /// `report` with only the findings the filter keeps, its summary and verdict recomputed.
    pub fn apply(&self, report: Report) -> Report {
        if self.is_empty() {
            return report;
        }
        let warnings_as_errors = report.summary.warnings_as_errors;
        let shard = report.shard;
        let not_judged = report.not_judged;
        let findings = report
            .findings
            .into_iter()
            .filter(|f| self.keeps(&f.rule))
            .collect();
        let mut kept =
            Report::new(report.generator, findings, report.cells).with_not_judged(not_judged);
        kept.shard = shard;
        kept.judged(warnings_as_errors)
    }
}

#[cfg(test)]
mod tests {
    use super::RuleFilter;
    use imagegate_report::{
        CellReport, CellStatus, Generator, Report, ReportFinding, Severity, Verdict,
    };

    fn strings(ids: &[&str]) -> Vec<String> {
        ids.iter().map(|s| s.to_string()).collect()
    }

    fn report() -> Report {
        let f = |rule: &str, severity| ReportFinding::new(rule, severity, "m", "dev", "api", "c");
        Report::new(
            Generator::new("imagegate", "0"),
            vec![
                f("digest-required", Severity::Error),
                f("mutable-tag", Severity::Error),
                f("pull-policy-missing", Severity::Warning),
            ],
            vec![
                CellReport::new("dev", "api", "c", vec![], CellStatus::Rendered, 1, 3),
                CellReport::failed("dev", "web", "c", vec![], "boom"),
            ],
        )
    }

    fn rules(r: &Report) -> Vec<&str> {
        r.findings.iter().map(|f| f.rule.as_str()).collect()
    }

    #[test]
    fn only_and_skip_select_findings_and_recompute_the_summary() {
        let only = RuleFilter::new(&strings(&["pull-policy-missing"]), &[]).unwrap();
        let kept = only.apply(report());
        // render-failed of the failed cell stays: it is fail-closed.
        assert_eq!(rules(&kept), ["pull-policy-missing", "render-failed"]);
        assert_eq!(kept.summary.errors, 1);
        assert_eq!(kept.summary.warnings, 1);

        let skip = RuleFilter::new(&[], &strings(&["digest-required", "mutable-tag"])).unwrap();
        let kept = skip.apply(report());
        assert_eq!(rules(&kept), ["pull-policy-missing", "render-failed"]);
        assert_eq!(kept.summary.findings.get("digest-required"), None);
        assert_eq!(kept.summary.verdict, Verdict::Fail);
    }

    #[test]
    fn the_verdict_follows_the_kept_findings() {
        let r = Report::new(
            Generator::new("imagegate", "0"),
            vec![ReportFinding::new(
                "mutable-tag",
                Severity::Error,
                "m",
                "dev",
                "api",
                "c",
            )],
            vec![],
        );
        let kept = RuleFilter::new(&[], &strings(&["mutable-tag"]))
            .unwrap()
            .apply(r.judged(true));
        assert_eq!(kept.summary.verdict, Verdict::Pass);
        assert!(kept.summary.warnings_as_errors);
    }

    #[test]
    fn unknown_ids_name_the_closest_and_fail_closed_rules_cannot_be_skipped() {
        let err = RuleFilter::new(&strings(&["mutable-tags"]), &[])
            .unwrap_err()
            .0;
        assert!(
            err.starts_with("--rule mutable-tags: unknown rule id"),
            "{err}"
        );
        assert!(err.contains("did you mean `mutable-tag`"), "{err}");
        let err = RuleFilter::new(&[], &strings(&["render-failed"]))
            .unwrap_err()
            .0;
        assert!(err.contains("cannot be skipped"), "{err}");
        assert!(RuleFilter::new(&[], &[]).unwrap().is_empty());
    }
}
