//! Which whole-fleet rules a run judges: all of them on a full run, none that need the whole
//! fleet on a narrowed run or a shard, and the merge of every shard's record judges them as the
//! full run does.

mod common;
use common::*;
use imagegate_engine::shard::Shard;
use imagegate_engine::Quiet;
use imagegate_report::{CellStatus, Report, Severity};

/// 1-based line of the first line of `CONFIG` containing `needle`.
fn config_line(needle: &str) -> u32 {
    CONFIG.lines().position(|l| l.contains(needle)).unwrap() as u32 + 1
}

#[test]
fn a_full_run_judges_unread_values_files_and_unused_exceptions() {
    let fleet = Fleet::standard();
    let cfg = fleet.config();
    let run = full_run(&cfg);
    let findings = &run.report.findings;

    let unread = of_rule(findings, "values-file-unused");
    assert_eq!(unread.len(), 1, "{unread:#?}");
    let f = unread[0];
    assert_eq!(f.severity, Severity::Warning);
    assert_eq!(f.environment, "");
    assert!(f.object.is_none());
    let origin = f.origin.as_ref().unwrap();
    assert_eq!(origin.file, "values/stagin/web.yaml");

    // The exception nobody's finding matched, pointed at its entry in the configuration; the
    // one that covered dev's tag is used.
    let unused = of_rule(findings, "exception-unused");
    assert_eq!(unused.len(), 1, "{unused:#?}");
    let origin = unused[0].origin.as_ref().unwrap();
    assert_eq!(origin.file, "imagegate.yaml");
    assert_eq!(origin.line, config_line("rule: digest-required"));
    assert!(run.report.shard.is_none(), "a full run has no shard record");
}

#[test]
fn a_file_read_by_a_cell_is_not_unread_and_a_used_exception_is_not_unused() {
    let fleet = Fleet::standard();
    // The misplaced overlay gone, and the second exception given a finding to cover.
    std::fs::remove_file(fleet.root().join("values/stagin/web.yaml")).unwrap();
    fleet.write(
        "values/dev/db.yaml",
        "image: ghcr.io/acme/gone:v1.2.3\npullPolicy: IfNotPresent\n",
    );
    let cfg = fleet.config();
    let run = full_run(&cfg);
    let findings = &run.report.findings;
    assert!(of_rule(findings, "values-file-unused").is_empty());
    assert!(of_rule(findings, "exception-unused").is_empty());
    let covered = one(findings, "digest-required", "dev-db");
    assert!(covered.excepted, "{covered:#?}");
}

#[test]
fn a_narrowed_run_leaves_the_whole_fleet_rules_alone() {
    let fleet = Fleet::standard();
    let cfg = fleet.config();
    let run = narrowed_run(&cfg, &["dev"]);
    let findings = &run.report.findings;
    assert_eq!(run.report.cells.len(), 3);
    for rule in ["values-file-unused", "exception-unused", "promotion-drift"] {
        assert!(of_rule(findings, rule).is_empty(), "{rule}: {findings:#?}");
    }
    // Its own cells are judged in full: the exception still covers dev's tag.
    assert!(one(findings, "mutable-tag", "dev-web").excepted);
    assert!(run.report.shard.is_none());
}

#[test]
fn a_shard_judges_its_cells_and_records_what_the_merge_needs() {
    let fleet = Fleet::standard();
    let cfg = fleet.config();
    let full = full_run(&cfg);
    let mut cells = 0;
    let mut matches = vec![0u64; 2];
    let mut lineage = 0;
    for k in 1..=3 {
        let shard = Shard { index: k, count: 3 };
        let run = shard_run(&cfg, shard);
        let n = run.report.cells.len();
        assert!(n < 9, "shard {shard} holds all {n} cells");
        cells += n;
        for rule in ["values-file-unused", "exception-unused", "promotion-drift"] {
            assert!(
                of_rule(&run.report.findings, rule).is_empty(),
                "{rule} in shard {shard}"
            );
        }
        let record = run
            .report
            .shard
            .as_ref()
            .expect("a shard's report has a record");
        assert_eq!((record.index, record.count), (k, 3));
        assert_eq!(record.matrix_cells, 9);
        assert_eq!(record.details.len(), run.report.findings.len());
        assert_eq!(record.exception_matches.len(), 2);
        for (m, n) in matches.iter_mut().zip(&record.exception_matches) {
            *m += n;
        }
        // Lineage: the first-party digests of staging and production only.
        for site in &record.lineage {
            assert!(
                ["staging", "production"].contains(&site.environment.as_str()),
                "{site:?}"
            );
            assert!(site.repository.starts_with("ghcr.io/acme/"), "{site:?}");
        }
        lineage += record.lineage.len();
    }
    assert_eq!(cells, 9, "every cell in exactly one shard");
    assert_eq!(
        matches,
        [1, 0],
        "dev's tag matched the first exception once"
    );
    assert_eq!(lineage, 4, "web and api in staging and production");
    assert_eq!(full.report.cells.len(), 9);
}

/// `imagegate merge` over the shards' reports, as the command calls it (no `--history`).
fn merge(cfg: &imagegate_engine::Config, shards: Vec<Report>) -> anyhow::Result<Report> {
    let named = shards
        .into_iter()
        .enumerate()
        .map(|(i, r)| {
            (
                std::path::PathBuf::from(format!("shard-{i}/report.json")),
                r,
            )
        })
        .collect();
    imagegate_engine::merge::merge(cfg, named, 0, None, &Quiet, today())
}

#[test]
fn the_whole_fleet_rules_over_every_shard_equal_one_full_run() {
    let fleet = Fleet::standard();
    let cfg = fleet.config();
    let full = full_run(&cfg).report;
    // Shards given out of order, through JSON as `merge` reads them.
    let shards: Vec<Report> = [3, 1, 2]
        .into_iter()
        .map(|k| {
            let report = shard_run(&cfg, Shard { index: k, count: 3 }).report;
            serde_json::from_str(&serde_json::to_string(&report).unwrap()).unwrap()
        })
        .collect();
    let merged = merge(&cfg, shards).unwrap_or_else(|e| panic!("{e:#}"));
    let json = |r: &Report| serde_json::to_value(&r.findings).unwrap();
    assert_eq!(json(&merged), json(&full));
    assert_eq!(merged.cells, full.cells);
    assert_eq!(merged.summary, full.summary);
    // The fix list, values and actions included, is the full run's: its fields that findings
    // leave out of JSON came back from the shard records.
    assert_eq!(merged.fixes, full.fixes);
    assert!(
        full.fixes
            .iter()
            .any(|f| f.value.is_some() && !f.actions.is_empty()),
        "{:#?}",
        full.fixes
    );
    // The merge judged the whole-fleet rules (they are in the full run).
    for rule in ["values-file-unused", "exception-unused", "promotion-drift"] {
        assert!(!of_rule(&merged.findings, rule).is_empty(), "{rule}");
    }
    // And the fields JSON leaves out came back from the records.
    let drift = one(&merged.findings, "promotion-drift", "production-api");
    let full_drift = one(&full.findings, "promotion-drift", "production-api");
    assert_eq!(drift.snippet, full_drift.snippet);
    assert_eq!(drift.rendered_line, full_drift.rendered_line);
}

#[test]
fn a_merge_missing_a_shard_is_refused_rather_than_judging_exceptions_as_unused() {
    // The whole-fleet rules over part of the fleet would be wrong (the missing shard holds the
    // cell an exception covers): merge refuses, naming the missing shard.
    let fleet = Fleet::standard();
    let cfg = fleet.config();
    let holder = (1..=3)
        .find(|k| {
            let s = Shard {
                index: *k,
                count: 3,
            };
            s.holds("dev", "dev-web")
        })
        .unwrap();
    let others: Vec<Report> = (1..=3)
        .filter(|k| *k != holder)
        .map(|k| shard_run(&cfg, Shard { index: k, count: 3 }).report)
        .collect();
    let err = merge(&cfg, others).unwrap_err().to_string();
    assert!(
        err.contains(&format!("shard(s) {holder}/3 missing")),
        "{err}"
    );
    assert!(err.contains("unused exceptions"), "{err}");
}

#[test]
fn a_missing_value_stack_entry_is_its_cells_finding_when_missing_files_are_errors() {
    let fleet = Fleet::standard();
    fleet.write(
        "imagegate.yaml",
        &CONFIG.replace("limits:\n", "missingValueFiles: error\nlimits:\n"),
    );
    // production's db overlay misplaced under `prd/`.
    let text = std::fs::read_to_string(fleet.root().join("values/production/db.yaml")).unwrap();
    std::fs::remove_file(fleet.root().join("values/production/db.yaml")).unwrap();
    fleet.write("values/prd/db.yaml", &text);
    let cfg = fleet.config();

    let run = full_run(&cfg);
    let f = &run.report.findings;
    let by_file = |file: &str| {
        let found: Vec<_> = of_rule(f, "values-file-unused")
            .into_iter()
            .filter(|x| x.origin.as_ref().is_some_and(|o| o.file == file))
            .collect();
        assert_eq!(found.len(), 1, "{file}: {f:#?}");
        found[0]
    };
    let entry = by_file("values/production/db.yaml");
    assert_eq!(entry.app, "production-db");
    assert_eq!(entry.environment, "production");
    assert!(
        entry.message.contains("missingValueFiles: error"),
        "{}",
        entry.message
    );
    // The misplaced file itself is read by no cell.
    assert_eq!(by_file("values/prd/db.yaml").app, "");
    assert_eq!(by_file("values/stagin/web.yaml").app, "");
    assert_eq!(of_rule(f, "values-file-unused").len(), 3);
    // The cell is not rendered: it is a render failure too.
    assert_eq!(
        cell(&run.report.cells, "production-db").status,
        CellStatus::Failed
    );
    assert_eq!(
        apps(&of_rule(f, "render-failed")),
        ["dev-api", "production-db"]
    );

    // The missing entry belongs to its cell, so a narrowed run reports it; unread files need
    // the whole fleet and are left out.
    let narrowed = narrowed_run(&cfg, &["production"]);
    let unused = of_rule(&narrowed.report.findings, "values-file-unused");
    assert_eq!(apps(&unused), ["production-db"]);
}

#[test]
fn a_configured_custom_image_path_that_reaches_nothing_in_a_full_run_is_said() {
    use imagegate_engine::cache::CacheChoice;
    use imagegate_engine::fleet::Coverage;
    use imagegate_engine::observer::Collect;
    use imagegate_engine::renderer::MemoryRenderer;
    use imagegate_fleet::{Cell, Repo};
    let config = "version: 1\nenvironments: [{name: dev}, {name: prod}]\ncomponents:\n  - { name: runner, chart: charts/runner }\npolicy:\n  customImageFields:\n    - group: example.com\n      kinds: [Runner]\n      images: [spec.runner.image, spec.sidecar.image]\n      containers: [spec.steps, spec.stpes]\n    - group: example.com\n      kinds: [Runnr]\n      images: [spec.runner.image]\n";
    let fleet = Fleet::of(
        &[
            ("imagegate.yaml", config),
            (
                "charts/runner/Chart.yaml",
                "apiVersion: v2\nname: runner\nversion: 0.1.0\n",
            ),
        ]
        .into_iter()
        .map(|(p, t)| (p.to_string(), t.to_string()))
        .collect(),
    );
    let cfg = fleet.config();
    // Only prod's Runner has a sidecar: a path reached in one cell of the run is reached.
    let renderer = MemoryRenderer::new("fake-helm v3.17.3", |_: &Repo, cell: &Cell| {
        let sidecar = if cell.environment == "prod" {
            "  sidecar: {image: ghcr.io/acme/side:1.0.0}\n"
        } else {
            ""
        };
        Ok(format!(
            "apiVersion: example.com/v1\nkind: Runner\nmetadata: {{name: r}}\nspec:\n  runner: {{image: ghcr.io/acme/run:1.0.0}}\n  steps: [{{name: a, image: ghcr.io/acme/a:1.0.0}}]\n{sidecar}"
        ))
    });
    let run_as = |coverage: Coverage, cells: &[Cell]| -> (Vec<String>, Report) {
        let observer = Collect::default();
        let run = run_observed(
            &cfg,
            &renderer,
            cells,
            coverage,
            CacheChoice::Off,
            &observer,
        );
        let warnings = observer.warnings.lock().unwrap().clone();
        (warnings, run.report)
    };
    let cells = cfg.cells().unwrap();
    let (warnings, _) = run_as(Coverage::Full, &cells);
    let named: Vec<&str> = warnings
        .iter()
        .filter_map(|w| w.split('`').nth(1))
        .collect();
    assert_eq!(named, ["spec.stpes", "spec.runner.image"], "{warnings:#?}");
    assert!(
        warnings[0].contains("(group example.com, Runner)")
            && warnings[0].contains("2 rendered cells"),
        "{}",
        warnings[0]
    );
    assert!(warnings[1].contains("Runnr"), "{}", warnings[1]);
    // A narrowed run cannot know: dev alone never reaches the sidecar, and says nothing.
    let dev: Vec<Cell> = cells
        .iter()
        .filter(|c| c.environment == "dev")
        .cloned()
        .collect();
    assert!(run_as(Coverage::Narrowed, &dev).0.is_empty());
    // Shards say nothing on their own; their merge says what the full run says.
    let shards: Vec<(std::path::PathBuf, Report)> = [1, 2]
        .into_iter()
        .map(|k| {
            let shard = Shard { index: k, count: 2 };
            let (warnings, report) = run_as(Coverage::Shard(shard), &shard.select(cells.clone()));
            assert!(warnings.is_empty(), "{warnings:#?}");
            let report = serde_json::from_str(&serde_json::to_string(&report).unwrap()).unwrap();
            (
                std::path::PathBuf::from(format!("shard-{k}/report.json")),
                report,
            )
        })
        .collect();
    let observer = Collect::default();
    imagegate_engine::merge::merge(&cfg, shards, 0, None, &observer, today()).unwrap();
    assert_eq!(*observer.warnings.lock().unwrap(), warnings);
}
