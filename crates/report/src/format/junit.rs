//! `--format junit`: JUnit XML, for CI systems that show test results.
//!
//! One `<testsuite>` per environment and one test case per cell (name: the app, classname: the
//! environment). A case fails when its cell failed to render or has a non-excepted error
//! finding; the failure's message counts the findings and its body lists them. Warnings and
//! excepted findings of a passing cell go to its `system-out`. Findings without a cell in the
//! report (repository-level ones) get a case of their own.
//!
//! Built with `quick-junit`, which escapes XML and drops characters XML 1.0 cannot hold; the
//! texts are also passed through the control-character escaping first, so an escape sequence
//! shows up visibly instead of disappearing.

use std::collections::BTreeMap;
use std::io::Write;

use quick_junit::{NonSuccessKind, TestCase, TestCaseStatus, TestSuite};

use super::{RenderError, Renderer};
use crate::model::{CellReport, CellStatus, Report, ReportFinding, Severity};
use crate::sanitize::{block, one_line};

/// Writes JUnit XML.
#[derive(Debug, Clone, Copy, Default)]
pub struct JunitRenderer;

impl Renderer for JunitRenderer {
    fn render(&self, report: &Report, out: &mut dyn Write) -> Result<(), RenderError> {
        // environment → app → (cell, findings), both sorted.
        type Case<'r> = (Option<&'r CellReport>, Vec<&'r ReportFinding>);
        let mut suites: BTreeMap<&str, BTreeMap<&str, Case<'_>>> = BTreeMap::new();
        for cell in &report.cells {
            suites
                .entry(&cell.environment)
                .or_default()
                .entry(&cell.app)
                .or_default()
                .0 = Some(cell);
        }
        for f in &report.findings {
            suites
                .entry(&f.environment)
                .or_default()
                .entry(&f.app)
                .or_default()
                .1
                .push(f);
        }

        let mut junit = quick_junit::Report::new(one_line(&report.generator.name));
        for (environment, cases) in suites {
            let suite_name = if environment.is_empty() {
                "repository"
            } else {
                environment
            };
            let mut suite = TestSuite::new(one_line(suite_name));
            for (app, (cell, findings)) in cases {
                suite.add_test_case(test_case(environment, app, cell, &findings));
            }
            junit.add_test_suite(suite);
        }
        junit.serialize(&mut *out)?;
        out.write_all(b"\n")?;
        Ok(())
    }
}

fn test_case(
    environment: &str,
    app: &str,
    cell: Option<&CellReport>,
    findings: &[&ReportFinding],
) -> TestCase {
    let failing: Vec<&ReportFinding> = findings
        .iter()
        .copied()
        .filter(|f| f.is_failing(false))
        .collect();
    let render_error = cell.filter(|c| c.status == CellStatus::Failed).map(|c| {
        c.error.as_deref().map_or_else(
            || "helm failed without a message".to_owned(),
            |e| block(e.trim()).into_owned(),
        )
    });

    let status = if failing.is_empty() && render_error.is_none() {
        TestCaseStatus::success()
    } else {
        let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
        let message = match (&render_error, failing.len()) {
            (Some(_), _) => "the cell failed to render".to_owned(),
            (None, 1) => "1 error finding".to_owned(),
            (None, n) => format!("{n} error findings"),
        };
        let mut body: Vec<String> = failing.iter().map(|f| describe(f)).collect();
        if let Some(error) = &render_error {
            body.push(format!("helm: {error}"));
        }
        status
            .set_message(message)
            .set_type("imagegate")
            .set_description(body.join("\n"));
        status
    };

    let name = if app.is_empty() { "(repository)" } else { app };
    let mut case = TestCase::new(one_line(name), status);
    case.set_classname(one_line(if environment.is_empty() {
        "repository"
    } else {
        environment
    }));
    let others: Vec<String> = findings
        .iter()
        .filter(|f| !f.is_failing(false))
        .map(|f| describe(f))
        .collect();
    if !others.is_empty() {
        case.set_system_out(others.join("\n"));
    }
    case
}

/// One finding as one line: severity and rule, message, object, container, image, origin.
fn describe(f: &ReportFinding) -> String {
    let mut line = format!("{}[{}]", f.severity, f.rule);
    if f.excepted {
        line.push_str(" (excepted)");
    }
    line.push_str(": ");
    line.push_str(&f.message);
    if let Some(object) = &f.object {
        line.push_str(&format!("; object {object}"));
    }
    if let Some(container) = &f.container {
        line.push_str(&format!("; container {container}"));
    }
    if let Some(image) = &f.image {
        line.push_str(&format!("; image {image}"));
    }
    match (&f.origin, f.template_place(), &f.template) {
        (Some(origin), _, _) => line.push_str(&format!("; fix at {origin}")),
        (None, Some(at), _) => line.push_str(&format!("; at {}", at.describe())),
        (None, None, Some(template)) => line.push_str(&format!("; template {template}")),
        (None, None, None) => {}
    }
    if f.severity == Severity::Warning && !f.excepted {
        line.push_str(" (warning: does not fail the check)");
    }
    one_line(&line).into_owned()
}
