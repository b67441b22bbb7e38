//! `--format gitlab`: a GitLab Code Quality report (`artifacts:reports:codequality`).
//!
//! GitLab reads a JSON array of issues, each with `description`, `check_name`, `fingerprint`,
//! `severity` (`info`, `minor`, `major`, `critical`, `blocker`) and `location.path` with
//! `location.lines.begin` (<https://docs.gitlab.com/ci/testing/code_quality/>). It compares
//! the issues of a merge request with those of its target branch by fingerprint, and shows an
//! issue once per fingerprint, so every fingerprint is stable across commits (it does not hash
//! the line or the message) and unique within the report.
//!
//! Excepted findings are left out: GitLab has no notion of an accepted issue, and an excepted
//! finding is not one to fix now (the JSON and SARIF reports keep them). Paths are named from
//! the root of the checkout, as in SARIF, since GitLab resolves them from there.

use std::collections::HashMap;
use std::io::Write;

use serde::Serialize;

use super::{RenderError, Renderer};
use crate::model::{Report, ReportFinding, Severity};
use crate::rules::RuleMeta;
use crate::sanitize::one_line;

/// Writes a GitLab Code Quality report.
#[derive(Debug, Clone, Copy, Default)]
pub struct GitlabRenderer<'a> {
    /// Rule documentation: the `security-severity` of a rule ranks its errors.
    pub rules: &'a [RuleMeta],
    /// Where the report's paths sit in the checkout (see [`super::FormatOptions::path_prefix`]).
    pub path_prefix: &'a str,
}

impl Renderer for GitlabRenderer<'_> {
    fn render(&self, report: &Report, out: &mut dyn Write) -> Result<(), RenderError> {
        let mut seen: HashMap<String, u32> = HashMap::new();
        let issues: Vec<Issue<'_>> = report
            .findings
            .iter()
            .filter(|f| !f.excepted)
            .map(|f| {
                let place = super::where_to_fix(f);
                let line = place.as_ref().and_then(|p| p.line);
                let path = place.map(|p| p.file);
                // A finding about no file (none today) names the configuration's folder.
                let path = match path {
                    Some(p) => super::from_checkout_root(self.path_prefix, &p),
                    None if self.path_prefix.trim_matches('/').is_empty() => ".".to_owned(),
                    None => self.path_prefix.trim_matches('/').to_owned(),
                };
                Issue {
                    description: one_line(&super::sarif::message(report, f)).into_owned(),
                    check_name: &f.rule,
                    fingerprint: unique(super::fingerprint(f), &mut seen),
                    severity: self.severity(f),
                    location: Location {
                        path,
                        lines: Lines {
                            begin: line.unwrap_or(1).max(1),
                        },
                    },
                }
            })
            .collect();
        super::json::write_pretty(&issues, out)
    }
}

impl GitlabRenderer<'_> {
    /// GitLab's severity: an error of a rule code scanning ranks high (`security-severity` 7 or
    /// more: an image the registry can change under you) is `critical`, any other error
    /// `major`, a warning `minor`.
    fn severity(&self, f: &ReportFinding) -> &'static str {
        let high = self
            .rules
            .iter()
            .find(|r| r.id == f.rule)
            .and_then(|r| r.security_severity.as_deref())
            .and_then(|s| s.parse::<f64>().ok())
            .is_some_and(|s| s >= 7.0);
        match (f.severity, high) {
            (Severity::Error, true) => "critical",
            (Severity::Error, false) => "major",
            (Severity::Warning, _) => "minor",
        }
    }
}

/// `fingerprint`, or for its n-th repeat (two findings with one identity, which GitLab would
/// show as one) the hash of it and n: still stable, as findings are in a stable order.
fn unique(fingerprint: String, seen: &mut HashMap<String, u32>) -> String {
    let n = seen.entry(fingerprint.clone()).or_default();
    *n += 1;
    if *n == 1 {
        return fingerprint;
    }
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(format!("{fingerprint}/{n}")))
}

#[derive(Serialize)]
struct Issue<'r> {
    description: String,
    check_name: &'r str,
    fingerprint: String,
    severity: &'static str,
    location: Location,
}

#[derive(Serialize)]
struct Location {
    path: String,
    lines: Lines,
}

#[derive(Serialize)]
struct Lines {
    begin: u32,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{CellReport, CellStatus, Generator, ObjectRef, Origin};

    fn finding(rule: &str, severity: Severity, object: &str) -> ReportFinding {
        let mut f = ReportFinding::new(rule, severity, "fix it", "dev", "api", "charts/api");
        f.object = Some(ObjectRef::new("apps/v1", "Deployment", None, object));
        f.container = Some("api".into());
        f.origin = Some(Origin::new("values/dev.yaml", 7));
        f
    }

    fn issues(report: &Report, prefix: &str) -> Vec<serde_json::Value> {
        let rules =
            [RuleMeta::new("mutable-tag", "s", "h", Severity::Error)
                .with_code_scanning("8.0", &[])];
        let renderer = GitlabRenderer {
            rules: &rules,
            path_prefix: prefix,
        };
        let text = super::super::render_to_string(&renderer, report).unwrap_or_default();
        serde_json::from_str::<Vec<serde_json::Value>>(&text).unwrap_or_default()
    }

    #[test]
    fn issues_carry_gitlabs_fields_paths_from_the_checkout_root_and_ranked_severities() {
        let mut excepted = finding("mutable-tag", Severity::Error, "web");
        excepted.excepted = true;
        let report = Report::new(
            Generator::new("imagegate", "0"),
            vec![
                finding("mutable-tag", Severity::Error, "api"),
                finding("digest-required", Severity::Error, "api"),
                finding("pull-policy-missing", Severity::Warning, "api"),
                excepted,
            ],
            vec![
                CellReport::new(
                    "dev",
                    "api",
                    "charts/api",
                    vec![],
                    CellStatus::Rendered,
                    1,
                    1,
                ),
                CellReport::failed("dev", "web", "charts/web", vec![], "boom\nsecond line"),
            ],
        );
        let issues = issues(&report, "gitops");
        // The excepted finding is left out; the failed cell is an issue at its Chart.yaml.
        assert_eq!(issues.len(), 4, "{issues:#?}");
        let by_rule = |rule: &str| {
            issues
                .iter()
                .find(|i| i["check_name"] == rule)
                .cloned()
                .unwrap_or_default()
        };
        let tag = by_rule("mutable-tag");
        assert_eq!(tag["severity"], "critical");
        assert_eq!(tag["location"]["path"], "gitops/values/dev.yaml");
        assert_eq!(tag["location"]["lines"]["begin"], 7);
        assert!(tag["description"]
            .as_str()
            .is_some_and(|d| d.starts_with("fix it. In environment dev, app api")));
        assert_eq!(by_rule("digest-required")["severity"], "major");
        assert_eq!(by_rule("pull-policy-missing")["severity"], "minor");
        let failed = by_rule("render-failed");
        assert_eq!(failed["location"]["path"], "gitops/charts/web/Chart.yaml");
        assert_eq!(failed["location"]["lines"]["begin"], 1);
        assert!(!failed["description"]
            .as_str()
            .unwrap_or("\n")
            .contains('\n'));
        for issue in &issues {
            let keys: Vec<&String> = issue
                .as_object()
                .map(|o| o.keys().collect())
                .unwrap_or_default();
            assert_eq!(
                keys,
                [
                    "description",
                    "check_name",
                    "fingerprint",
                    "severity",
                    "location"
                ]
            );
        }
    }

    #[test]
    fn fingerprints_are_unique_and_stable() {
        // Two findings with one identity (same cell, object, container, field and rule).
        let twice = vec![
            finding("mutable-tag", Severity::Error, "api"),
            finding("mutable-tag", Severity::Error, "api"),
            finding("digest-required", Severity::Error, "api"),
        ];
        let report = Report::new(Generator::new("imagegate", "0"), twice, vec![]);
        let prints = |r: &Report| -> Vec<String> {
            issues(r, "")
                .iter()
                .map(|i| i["fingerprint"].as_str().unwrap_or_default().to_owned())
                .collect()
        };
        let first = prints(&report);
        let mut unique = first.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), 3, "{first:?}");
        // A value moving to another line keeps its fingerprint.
        let mut moved = report.clone();
        for f in &mut moved.findings {
            f.origin = Some(Origin::new("values/dev.yaml", 40));
        }
        assert_eq!(prints(&moved), first);
    }
}
