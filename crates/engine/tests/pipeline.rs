//! The per-cell pipeline over a fake helm: findings and their severities, exceptions, the values
//! line behind each finding, failed renders, `limits.maxDocuments`, and the render cache.

mod common;
use common::*;
use imagegate_engine::cache::CacheChoice;
use imagegate_engine::fleet::Coverage;
use imagegate_engine::pipeline::Judge;
use imagegate_render::Rendered;
use imagegate_report::{CellStatus, Severity};
use std::sync::atomic::{AtomicUsize, Ordering};

#[test]
fn every_finding_of_the_fleet_with_its_severity() {
    let fleet = Fleet::standard();
    let run = full_run(&fleet.config());
    let e = Severity::Error;
    let w = Severity::Warning;
    let expected: Vec<(String, String, Severity)> = [
        ("values-file-unused", "", w),
        ("exception-unused", "", w),
        // dev: a tag (excepted for mutable-tag), a failed render, a missing pull policy that
        // the policy makes a warning in dev.
        ("pull-policy-missing", "dev-db", w),
        ("render-failed", "dev-api", e),
        ("digest-required", "dev-web", e),
        ("mutable-tag", "dev-web", e),
        ("promotion-drift", "production-api", e),
    ]
    .into_iter()
    .map(|(r, a, s)| (r.to_string(), a.to_string(), s))
    .collect();
    let mut got = summary(&run.report.findings);
    let mut want = expected;
    got.sort();
    want.sort();
    assert_eq!(got, want, "{:#?}", run.report.findings);
    assert_eq!(run.report.summary.cells, 9);
    assert_eq!(run.report.summary.failed, 1);
    assert_eq!(run.report.summary.images, 8);
}

#[test]
fn a_severity_set_per_environment_applies_there_only() {
    let fleet = Fleet::standard();
    let pg = format!("docker.io/library/postgres@{}", digest('e'));
    fleet.write(
        "values/production/db.yaml",
        &format!("image: {pg}\npullPolicy: none\n"),
    );
    fleet.write(
        "values/staging/db.yaml",
        &format!("image: {pg}\npullPolicy: Always\n"),
    );
    let run = full_run(&fleet.config());
    let f = &run.report.findings;
    assert_eq!(
        one(f, "pull-policy-missing", "dev-db").severity,
        Severity::Warning
    );
    assert_eq!(
        one(f, "pull-policy-missing", "production-db").severity,
        Severity::Error
    );
    let always = one(f, "pull-policy-not-ifnotpresent", "staging-db");
    assert_eq!(always.severity, Severity::Error);
    assert_eq!(always.container.as_deref(), Some("db"));
}

#[test]
fn a_rule_turned_off_reports_nothing() {
    let fleet = Fleet::standard();
    fleet.write(
        "imagegate.yaml",
        &CONFIG.replace(
            "    pull-policy-missing:\n      default: error\n      environments: { dev: warning }\n",
            "    pull-policy-missing: off\n",
        ),
    );
    let run = full_run(&fleet.config());
    assert!(of_rule(&run.report.findings, "pull-policy-missing").is_empty());
    // The rest is still judged.
    assert_eq!(of_rule(&run.report.findings, "digest-required").len(), 1);
}

#[test]
fn an_exception_covers_its_finding_which_stays_listed_and_is_counted() {
    let fleet = Fleet::standard();
    let cfg = fleet.config();
    let run = full_run(&cfg);
    let f = &run.report.findings;
    let tag = one(f, "mutable-tag", "dev-web");
    assert!(tag.excepted);
    let note = tag.exception_note.as_deref().unwrap();
    assert!(
        note.contains("2026-12-31") && note.contains("PLAT-1"),
        "{note}"
    );
    let exception = tag.exception.as_ref().unwrap();
    assert!(exception.reason.contains("PLAT-1"), "{exception:?}");
    assert_eq!(exception.expires, "2026-12-31");
    assert!(run.report.summary.excepted >= 1);
    // The exception names mutable-tag only: the digest finding of the same image still fails.
    let pin = one(f, "digest-required", "dev-web");
    assert!(!pin.excepted);
    assert!(pin.exception_note.is_none() && pin.exception.is_none());
    assert_eq!(
        run.report.summary.findings["mutable-tag"], 1,
        "excepted ones are counted"
    );

    // Per cell, the judge says which exception matched.
    let cell = cfg
        .cells()
        .unwrap()
        .into_iter()
        .find(|c| c.app == "dev-web")
        .unwrap();
    let stream = fake_helm(&cfg.repo, &cell).unwrap();
    let outcome = Judge::of(&cfg, today(), false).cell(
        &cell,
        Ok(Rendered {
            stdout: stream,
            stderr: String::new(),
            elapsed: std::time::Duration::ZERO,
        }),
    );
    assert_eq!(outcome.matched_exceptions.matches(0), 1);
    assert_eq!(outcome.matched_exceptions.matches(1), 0);
    assert_eq!(outcome.report.status, CellStatus::Rendered);
    assert_eq!(outcome.report.images, 1);
}

#[test]
fn an_exception_never_applies_in_a_forbidden_environment() {
    let fleet = Fleet::standard();
    fleet.write(
        "imagegate.yaml",
        &CONFIG.replace(
            "environments: [dev]\n      reason: \"dev follows",
            "environments: [dev, production]\n      reason: \"dev follows",
        ),
    );
    fleet.write(
        "values/production/web.yaml",
        "image: ghcr.io/acme/web:latest\n",
    );
    let run = full_run(&fleet.config());
    let f = &run.report.findings;
    assert!(one(f, "mutable-tag", "dev-web").excepted);
    assert!(!one(f, "mutable-tag", "production-web").excepted);
    let invalid = of_rule(f, "exception-invalid");
    assert_eq!(invalid.len(), 1, "{f:#?}");
    assert!(
        invalid[0].message.contains("production"),
        "{}",
        invalid[0].message
    );
}

#[test]
fn an_expired_exception_is_reported_and_no_longer_applies() {
    let fleet = Fleet::standard();
    fleet.write(
        "imagegate.yaml",
        &CONFIG.replacen("expires: 2026-12-31", "expires: 2026-11-01", 1),
    );
    let run = full_run(&fleet.config());
    let f = &run.report.findings;
    assert!(!one(f, "mutable-tag", "dev-web").excepted);
    let expired = of_rule(f, "exception-expired");
    assert_eq!(expired.len(), 1);
    assert_eq!(expired[0].severity, Severity::Error);
    assert_eq!(expired[0].origin.as_ref().unwrap().file, "imagegate.yaml");
}

#[test]
fn every_image_finding_points_at_the_values_line_that_sets_it() {
    let fleet = Fleet::standard();
    let run = full_run(&fleet.config());
    let f = &run.report.findings;
    // Line 2: line 1 of dev's overlay is a comment.
    for rule in ["digest-required", "mutable-tag"] {
        let o = one(f, rule, "dev-web").origin.as_ref().unwrap();
        assert_eq!(
            (o.file.as_str(), o.line),
            ("values/dev/web.yaml", 2),
            "{rule}"
        );
    }
    let pin = one(f, "digest-required", "dev-web");
    let snippet = pin.snippet.as_ref().unwrap();
    assert!(
        snippet
            .lines
            .iter()
            .any(|l| l.contains("ghcr.io/acme/web:latest")),
        "{snippet:?}"
    );
    assert_eq!(pin.template.as_deref(), Some("app/templates/deploy.yaml"));
    assert_eq!(
        pin.template_path_in_repo.as_deref(),
        Some("charts/app/templates/deploy.yaml")
    );
    assert_eq!(
        pin.field.as_deref(),
        Some("spec.template.spec.containers[0].image")
    );
    assert_eq!(pin.rendered_line, Some(12));
    // The downstream digest of the drift, set on line 2 of production's overlay.
    let drift = one(f, "promotion-drift", "production-api")
        .origin
        .as_ref()
        .unwrap();
    assert_eq!(
        (drift.file.as_str(), drift.line),
        ("values/production/api.yaml", 2)
    );
}

#[test]
fn a_value_only_the_base_sets_points_at_the_base() {
    let fleet = Fleet::standard();
    fleet.write(
        "values/base.yaml",
        "pullPolicy: IfNotPresent\nimage: ghcr.io/acme/base:v1.0.0\n",
    );
    fleet.write("values/dev/web.yaml", "# nothing of its own\n");
    let run = full_run(&fleet.config());
    let o = one(&run.report.findings, "digest-required", "dev-web")
        .origin
        .as_ref()
        .unwrap();
    assert_eq!((o.file.as_str(), o.line), ("values/base.yaml", 2));
}

#[test]
fn an_image_no_values_file_sets_says_so() {
    let fleet = Fleet::standard();
    // The fake renders `image` from the stack; a hard-coded one is the template's own.
    let cfg = fleet.config();
    let cell = cfg
        .cells()
        .unwrap()
        .into_iter()
        .find(|c| c.app == "dev-web")
        .unwrap();
    let stream = fake_helm(&cfg.repo, &cell)
        .unwrap()
        .replace("ghcr.io/acme/web:latest", "registry.example/hard:coded");
    let outcome = Judge::of(&cfg, today(), false).cell(
        &cell,
        Ok(Rendered {
            stdout: stream,
            stderr: String::new(),
            elapsed: std::time::Duration::ZERO,
        }),
    );
    let pin = outcome
        .findings
        .iter()
        .find(|f| f.rule == "digest-required")
        .unwrap();
    assert!(pin.origin.is_none(), "{pin:#?}");
    assert_eq!(
        pin.origin_note.as_deref(),
        Some("no values file sets it: hard-coded in the template app/templates/deploy.yaml")
    );
}

#[test]
fn a_failed_render_is_a_finding_and_the_rest_are_judged() {
    let fleet = Fleet::standard();
    let run = full_run(&fleet.config());
    let api = cell(&run.report.cells, "dev-api");
    assert_eq!(api.status, CellStatus::Failed);
    assert!(
        api.error
            .as_deref()
            .unwrap()
            .contains("image.ref is required"),
        "{api:?}"
    );
    assert_eq!(api.value_files, ["values/base.yaml", "values/dev/api.yaml"]);
    let failed = one(&run.report.findings, "render-failed", "dev-api");
    assert_eq!(failed.severity, Severity::Error);
    assert!(
        failed.message.contains("image.ref is required"),
        "{failed:?}"
    );
    assert!(!failed.excepted);
    // No other finding for the failed cell; its neighbours are judged.
    assert_eq!(
        run.report
            .findings
            .iter()
            .filter(|f| f.app == "dev-api")
            .count(),
        1
    );
    assert_eq!(
        cell(&run.report.cells, "dev-web").status,
        CellStatus::Rendered
    );
    assert_eq!(run.report.exit_code(false), 1);
}

#[test]
fn a_missing_chart_fails_its_cell_without_rendering() {
    let fleet = Fleet::standard();
    fleet.write(
        "imagegate.yaml",
        &CONFIG.replace(
            "{ name: db, chart: charts/app }",
            "{ name: db, chart: charts/gone }",
        ),
    );
    let cfg = fleet.config();
    let calls = AtomicUsize::new(0);
    let cells = cfg.cells().unwrap();
    let run = run_with(&cfg, &cells, Coverage::Full, CacheChoice::Off, &calls);
    assert_eq!(
        calls.load(Ordering::SeqCst),
        6 + traced(&run),
        "the three db cells are not rendered; a cell with image findings renders once more"
    );
    for env in ["dev", "staging", "production"] {
        let app = format!("{env}-db");
        assert_eq!(cell(&run.report.cells, &app).status, CellStatus::Failed);
        let f = one(&run.report.findings, "render-failed", &app);
        assert!(f.message.contains("charts/gone"), "{}", f.message);
    }
}

#[test]
fn more_documents_than_the_limit_fail_the_cell() {
    let fleet = Fleet::standard();
    let pg = format!("docker.io/library/postgres@{}", digest('d'));
    // 19 ConfigMaps and the Deployment: exactly limits.maxDocuments (20).
    fleet.write(
        "values/dev/db.yaml",
        &format!("image: {pg}\ndocuments: 19\n"),
    );
    fleet.write(
        "values/staging/db.yaml",
        &format!("image: {pg}\ndocuments: 20\n"),
    );
    let run = full_run(&fleet.config());
    let dev = cell(&run.report.cells, "dev-db");
    assert_eq!(dev.status, CellStatus::Rendered);
    assert_eq!(dev.documents, 20);
    let staging = cell(&run.report.cells, "staging-db");
    assert_eq!(staging.status, CellStatus::Failed);
    let err = staging.error.as_deref().unwrap();
    assert!(
        err.contains("21 documents") && err.contains("limits.maxDocuments (20)"),
        "{err}"
    );
    assert!(err.contains("hint: raise limits.maxDocuments"), "{err}");
    one(&run.report.findings, "render-failed", "staging-db");
    // The cell was not judged: none of its images is reported.
    assert_eq!(
        run.report
            .findings
            .iter()
            .filter(|f| f.app == "staging-db")
            .count(),
        1
    );
}

#[test]
fn a_second_run_is_served_from_the_render_cache() {
    let fleet = Fleet::standard();
    let cfg = fleet.config();
    let cells = cfg.cells().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let choice = || CacheChoice::At(cache.path().to_path_buf());

    let calls = AtomicUsize::new(0);
    let first = run_with(&cfg, &cells, Coverage::Full, choice(), &calls);
    // Every cell once, and once more with markers for each cell with image findings.
    assert!(traced(&first) > 0);
    assert_eq!(calls.load(Ordering::SeqCst), 9 + traced(&first));
    assert!(first
        .report
        .cells
        .iter()
        .all(|c| c.status != CellStatus::Cached));

    let calls = AtomicUsize::new(0);
    let second = run_with(&cfg, &cells, Coverage::Full, choice(), &calls);
    let rendered = calls.load(Ordering::SeqCst);
    for c in &second.report.cells {
        let want = if c.app == "dev-api" {
            CellStatus::Failed
        } else {
            CellStatus::Cached
        };
        assert_eq!(c.status, want, "{}", c.app);
    }
    // Nothing is rendered, the marker renders neither: helm's refusal of the same inputs is
    // stored like a success.
    assert_eq!(rendered, 0);
    // The same verdict from the cache.
    let json = |r: &imagegate_engine::fleet::Run| serde_json::to_value(&r.report.findings).unwrap();
    assert_eq!(json(&second), json(&first));

    // A changed values file renders that cell only.
    fleet.write(
        "values/staging/web.yaml",
        &format!("image: ghcr.io/acme/web@{}\n", digest('4')),
    );
    let calls = AtomicUsize::new(0);
    let third = run_with(&cfg, &cells, Coverage::Full, choice(), &calls);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(
        cell(&third.report.cells, "staging-web").status,
        CellStatus::Rendered
    );
    // Staging moved on: production's web digest is now drift too.
    assert_eq!(
        apps(&of_rule(&third.report.findings, "promotion-drift")),
        ["production-api", "production-web"]
    );
}

#[test]
fn a_cached_render_is_held_to_the_limits_of_today() {
    let fleet = Fleet::standard();
    let pg = format!("docker.io/library/postgres@{}", digest('d'));
    fleet.write(
        "values/dev/db.yaml",
        &format!("image: {pg}\ndocuments: 9\n"),
    );
    let cache = tempfile::tempdir().unwrap();
    let cfg = fleet.config();
    let cells = cfg.cells().unwrap();
    let calls = AtomicUsize::new(0);
    let first = run_with(
        &cfg,
        &cells,
        Coverage::Full,
        CacheChoice::At(cache.path().to_path_buf()),
        &calls,
    );
    assert_eq!(
        cell(&first.report.cells, "dev-db").status,
        CellStatus::Rendered
    );

    fleet.write(
        "imagegate.yaml",
        &CONFIG.replace("maxDocuments: 20", "maxDocuments: 5"),
    );
    let cfg = fleet.config();
    let calls = AtomicUsize::new(0);
    let second = run_with(
        &cfg,
        &cells,
        Coverage::Full,
        CacheChoice::At(cache.path().to_path_buf()),
        &calls,
    );
    let db = cell(&second.report.cells, "dev-db");
    assert_eq!(db.status, CellStatus::Failed);
    assert!(
        db.error
            .as_deref()
            .unwrap()
            .contains("limits.maxDocuments (5)"),
        "{db:?}"
    );
    assert_eq!(
        cell(&second.report.cells, "dev-web").status,
        CellStatus::Cached
    );
}

#[test]
fn a_provenance_search_over_its_work_budget_fails_the_cell_never_passes_it() {
    let fleet = Fleet::standard();
    let cfg = fleet.config();
    let cells = cfg.cells().unwrap();
    let calls = AtomicUsize::new(0);
    let r = renderer(&calls);
    let run = |budget: u64| {
        let judge = Judge {
            origin_budget: budget,
            ..Judge::of(&cfg, today(), false)
        };
        imagegate_engine::pipeline::run_cached(
            &judge,
            &cfg,
            &r,
            &cells,
            &render_options(&cfg),
            &imagegate_engine::Quiet,
            None,
        )
    };
    // With the default budget, dev-web's findings get their values line and the cell is judged.
    let judged = run(imagegate_origin::DEFAULT_BUDGET);
    let web = judged.iter().find(|o| o.report.app == "dev-web").unwrap();
    assert_eq!(web.report.status, CellStatus::Rendered);
    assert!(web.findings.iter().any(|f| f.origin.is_some()));
    // With a budget of one unit, every cell whose findings need a search fails: it is reported
    // as not judged (render-failed, an error), never passed with its findings dropped.
    let starved = run(1);
    let web = starved.iter().find(|o| o.report.app == "dev-web").unwrap();
    assert_eq!(web.report.status, CellStatus::Failed, "{:?}", web.report);
    assert!(
        web.report
            .error
            .as_deref()
            .unwrap_or_default()
            .contains("work budget (1 units)"),
        "{:?}",
        web.report.error
    );
    assert_eq!(web.findings.len(), 1, "{:?}", web.findings);
    assert_eq!(web.findings[0].rule, "render-failed");
    assert_eq!(web.findings[0].severity, Severity::Error);
    // Every cell either failed this way or is judged exactly as with the full budget: nothing
    // is passed with findings (or their origins) dropped.
    for (full, starved) in judged.iter().zip(&starved) {
        assert_eq!(full.report.app, starved.report.app);
        if starved.report.status == CellStatus::Failed {
            continue;
        }
        assert_eq!(
            summary(&full.findings),
            summary(&starved.findings),
            "{}",
            full.report.app
        );
        assert!(
            full.findings.iter().all(|f| f.origin.is_none())
                || full
                    .findings
                    .iter()
                    .zip(&starved.findings)
                    .all(|(a, b)| a.origin == b.origin),
            "{}",
            full.report.app
        );
    }
}

/// The cells of a run with a finding about an image: each renders once more, with markers.
fn traced(run: &imagegate_engine::fleet::Run) -> usize {
    let mut apps: Vec<&str> = run
        .report
        .findings
        .iter()
        .filter(|f| {
            f.image.is_some() && !["render-failed", "promotion-drift"].contains(&f.rule.as_str())
        })
        .map(|f| f.app.as_str())
        .collect();
    apps.sort_unstable();
    apps.dedup();
    apps.len()
}
