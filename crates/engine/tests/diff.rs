//! The PR check's plan and comparison over two real fleets (base and head) with real render keys,
//! and the fake helm's renders of the cells they affect.

mod common;
use common::*;
use imagegate_engine::diff::{compare, plan};
use imagegate_engine::pipeline::{decode_options, Judge};
use imagegate_engine::Config;
use imagegate_fleet::Cell;
use imagegate_render::{cell_keys, Rendered};
use imagegate_report::diff::{CellCounts, ChangeKind};

/// Both sides' matrices paired by [`plan::plan`]: each pair as (kind, base app, head app), sorted.
fn planned(
    base: &Config,
    head: &Config,
    policies: (&str, &str),
) -> (Vec<(ChangeKind, String, String)>, CellCounts) {
    let (bc, hc) = (base.cells().unwrap(), head.cells().unwrap());
    let opts = render_options(head);
    let bk = cell_keys(&base.repo, &bc, "v3.17.3", &opts);
    let hk = cell_keys(&head.repo, &hc, "v3.17.3", &opts);
    let (pairs, counts) = plan::plan(
        &plan::SideCells {
            cells: &bc,
            keys: &bk,
            policy: policies.0,
        },
        &plan::SideCells {
            cells: &hc,
            keys: &hk,
            policy: policies.1,
        },
    );
    let app =
        |cells: &[Cell], i: Option<usize>| i.map(|i| cells[i].app.clone()).unwrap_or_default();
    let mut v: Vec<_> = pairs
        .iter()
        .map(|p| (p.kind, app(&bc, p.base), app(&hc, p.head)))
        .collect();
    v.sort();
    (v, counts)
}

/// The base fleet and a head fleet with `change` applied.
fn sides(change: impl FnOnce(&Fleet)) -> (Fleet, Fleet) {
    let base = Fleet::standard();
    let head = Fleet::standard();
    change(&head);
    (base, head)
}

fn changed(apps: &[&str]) -> Vec<(ChangeKind, String, String)> {
    apps.iter()
        .map(|a| (ChangeKind::Changed, a.to_string(), a.to_string()))
        .collect()
}

#[test]
fn nothing_changed_renders_nothing() {
    let (base, head) = sides(|_| {});
    let (pairs, counts) = planned(&base.config(), &head.config(), ("p", "p"));
    assert!(pairs.is_empty(), "{pairs:?}");
    assert_eq!(counts.unchanged, 9);
}

#[test]
fn a_change_in_one_overlay_affects_only_the_cell_that_reads_it() {
    let (base, head) = sides(|h| {
        h.write(
            "values/staging/web.yaml",
            &format!("image: ghcr.io/acme/web@{}\n", digest('4')),
        )
    });
    let (pairs, counts) = planned(&base.config(), &head.config(), ("p", "p"));
    assert_eq!(pairs, changed(&["staging-web"]));
    assert_eq!(
        counts,
        CellCounts {
            unchanged: 8,
            changed: 1,
            ..CellCounts::default()
        }
    );
}

#[test]
fn a_template_or_shared_values_change_affects_every_cell_that_uses_it() {
    let every: Vec<String> = Fleet::standard()
        .config()
        .cells()
        .unwrap()
        .into_iter()
        .map(|c| c.app)
        .collect();
    let every: Vec<&str> = every.iter().map(String::as_str).collect();
    let mut all = changed(&every);
    all.sort();
    for (file, text) in [
        ("charts/app/templates/deploy.yaml", "# another template\n"),
        ("values/base.yaml", "pullPolicy: Always\n"),
    ] {
        let (base, head) = sides(|h| h.write(file, text));
        let (pairs, counts) = planned(&base.config(), &head.config(), ("p", "p"));
        assert_eq!(pairs, all, "{file}");
        assert_eq!(counts.unchanged, 0, "{file}");
    }
    // A values file no cell reads affects none.
    let (base, head) = sides(|h| h.write("values/stagin/web.yaml", "image: x\n"));
    let (pairs, _) = planned(&base.config(), &head.config(), ("p", "p"));
    assert!(pairs.is_empty(), "{pairs:?}");
}

#[test]
fn a_policy_change_affects_every_cell() {
    let (base, head) = sides(|_| {});
    let (pairs, counts) = planned(&base.config(), &head.config(), ("p", "q"));
    assert_eq!(pairs.len(), 9);
    assert_eq!(counts.changed, 9);
}

/// The pairs of `kind`, as (base app, head app).
fn of_kind(pairs: &[(ChangeKind, String, String)], kind: ChangeKind) -> Vec<(String, String)> {
    pairs
        .iter()
        .filter(|p| p.0 == kind)
        .map(|p| (p.1.clone(), p.2.clone()))
        .collect()
}

#[test]
fn added_and_removed_cells() {
    // A new environment, and a component gone.
    let (base, head) = sides(|h| {
        h.write(
            "imagegate.yaml",
            &CONFIG
                .replace(
                    "  - name: production\n",
                    "  - name: production\n  - name: qa\n",
                )
                .replace("  - { name: db, chart: charts/app }\n", ""),
        );
    });
    let (pairs, counts) = planned(&base.config(), &head.config(), ("p", "p"));
    let pair = |b: &str, h: &str| (b.to_string(), h.to_string());
    assert_eq!(
        of_kind(&pairs, ChangeKind::Added),
        [pair("", "qa-api"), pair("", "qa-web")]
    );
    assert_eq!(
        of_kind(&pairs, ChangeKind::Removed),
        [
            pair("dev-db", ""),
            pair("production-db", ""),
            pair("staging-db", "")
        ]
    );
    assert_eq!(
        counts,
        CellCounts {
            unchanged: 6,
            changed: 0,
            added: 2,
            removed: 3,
            renamed: 0,
        }
    );
}

#[test]
fn a_renamed_component_is_a_renamed_cell() {
    let (base, head) = sides(|h| {
        h.write(
            "imagegate.yaml",
            &CONFIG.replace("{ name: web, chart:", "{ name: www, chart:"),
        );
    });
    let (pairs, counts) = planned(&base.config(), &head.config(), ("p", "p"));
    let pair = |b: &str, h: &str| (b.to_string(), h.to_string());
    // Paired by environment and chart, since the component's name changed too.
    assert_eq!(
        of_kind(&pairs, ChangeKind::Renamed),
        [
            pair("dev-web", "dev-www"),
            pair("production-web", "production-www"),
            pair("staging-web", "staging-www")
        ]
    );
    assert_eq!((counts.renamed, counts.added, counts.removed), (3, 0, 0));
    assert_eq!(counts.unchanged, 6);
}

/// The fake helm's stream for `app` of `fleet`.
fn stream(cfg: &Config, app: &str) -> (Cell, String) {
    let cell = cfg
        .cells()
        .unwrap()
        .into_iter()
        .find(|c| c.app == app)
        .unwrap();
    let text = fake_helm(&cfg.repo, &cell).unwrap();
    (cell, text)
}

#[test]
fn an_image_change_is_named_by_its_site() {
    let (base, head) = sides(|h| {
        h.write(
            "values/staging/web.yaml",
            &format!("image: ghcr.io/acme/web@{}\n", digest('4')),
        )
    });
    let (bcfg, hcfg) = (base.config(), head.config());
    let (_, b) = stream(&bcfg, "staging-web");
    let (_, h) = stream(&hcfg, "staging-web");
    let decode = decode_options(&hcfg.model.policy);
    let sites = |t: &str| compare::image_sites(&imagegate_decode::decode_stream(t, &decode));
    let changes = compare::image_changes(&sites(&b), &sites(&h));
    assert_eq!(changes.len(), 1, "{changes:?}");
    let c = &changes[0];
    assert_eq!(
        (c.object.kind.as_str(), c.object.name.as_str()),
        ("Deployment", "web")
    );
    assert_eq!(c.container.as_deref(), Some("web"));
    assert_eq!(c.field, "spec.template.spec.containers[0].image");
    let old = format!("ghcr.io/acme/web@{}", digest('1'));
    let new = format!("ghcr.io/acme/web@{}", digest('4'));
    assert_eq!(c.old.as_deref(), Some(old.as_str()));
    assert_eq!(c.new.as_deref(), Some(new.as_str()));
    let (text, cut) = compare::unified(&b, &h, "staging/staging-web").unwrap();
    assert!(!cut);
    assert!(text.contains(&format!("-          image: {old}")), "{text}");
    assert!(text.contains(&format!("+          image: {new}")), "{text}");

    // A site that disappears and one that appears.
    let gone = compare::image_changes(&sites(&b), &sites(""));
    assert_eq!(gone.len(), 1);
    assert_eq!(
        (gone[0].old.as_deref(), gone[0].new.as_deref()),
        (Some(old.as_str()), None)
    );
}

#[test]
fn a_refactor_that_renders_the_same_is_no_image_change() {
    // The image moves from the overlay into the base: the inputs differ, the render does not.
    let (base, head) = sides(|h| {
        h.write(
            "values/base.yaml",
            &format!(
                "pullPolicy: IfNotPresent\nimage: ghcr.io/acme/web@{}\n",
                digest('1')
            ),
        );
        h.write("values/staging/web.yaml", "# from the base\n");
    });
    let (bcfg, hcfg) = (base.config(), head.config());
    let (pairs, _) = planned(&bcfg, &hcfg, ("p", "p"));
    assert_eq!(pairs.len(), 9, "every cell reads the base");
    let (_, b) = stream(&bcfg, "staging-web");
    let (_, h) = stream(&hcfg, "staging-web");
    let decode = decode_options(&hcfg.model.policy);
    let sites = |t: &str| compare::image_sites(&imagegate_decode::decode_stream(t, &decode));
    assert!(compare::image_changes(&sites(&b), &sites(&h)).is_empty());
    assert_eq!(compare::unified(&b, &h, "x"), None);
}

#[test]
fn a_violation_swapped_for_another_image_is_new_and_the_old_one_fixed() {
    let (base, head) = sides(|h| {
        h.write(
            "values/dev/web.yaml",
            "image: docker.io/attacker/miner:latest\n",
        )
    });
    let (bcfg, hcfg) = (base.config(), head.config());
    let judged = |cfg: &Config| {
        let (cell, text) = stream(cfg, "dev-web");
        Judge::of(cfg, today(), false)
            .cell(
                &cell,
                Ok(Rendered {
                    stdout: text,
                    stderr: String::new(),
                    elapsed: std::time::Duration::ZERO,
                }),
            )
            .findings
    };
    let [new, fixed, unchanged] = compare::classify(judged(&bcfg), judged(&hcfg), "dev-web");
    let rules = |v: &[imagegate_report::ReportFinding]| {
        let mut r: Vec<(String, Option<String>, bool)> = v
            .iter()
            .map(|f| (f.rule.clone(), f.image.clone(), f.excepted))
            .collect();
        r.sort();
        r
    };
    let miner = Some("docker.io/attacker/miner:latest".to_string());
    let web = Some("ghcr.io/acme/web:latest".to_string());
    // The exception covers ghcr.io/acme/web only: the miner's tag is not excepted.
    assert_eq!(
        rules(&new),
        [
            ("digest-required".into(), miner.clone(), false),
            ("mutable-tag".into(), miner, false)
        ]
    );
    assert_eq!(
        rules(&fixed),
        [
            ("digest-required".into(), web.clone(), false),
            ("mutable-tag".into(), web, true)
        ]
    );
    assert!(unchanged.is_empty());

    // The same violation on both sides is unchanged, whatever its message says.
    let [new, fixed, unchanged] = compare::classify(judged(&bcfg), judged(&bcfg), "dev-web");
    assert!(new.is_empty() && fixed.is_empty());
    assert_eq!(unchanged.len(), 2);
}

#[test]
fn a_comment_only_change_is_a_change_and_a_cell_failing_on_both_sides_stays_unchanged() {
    // A comment changes no value, but it changes an input: every cell reading the file is
    // rendered again rather than trusted.
    let (base, head) =
        sides(|h| h.write("values/base.yaml", "pullPolicy: IfNotPresent\n# reviewed\n"));
    let (bcfg, hcfg) = (base.config(), head.config());
    let (pairs, counts) = planned(&bcfg, &hcfg, ("p", "p"));
    assert_eq!(pairs.len(), 9, "{pairs:?}");
    assert_eq!(counts.unchanged, 0);
    // dev-api cannot render on either side: its render-failed is neither new nor fixed.
    let failed = |cfg: &Config| {
        let cell = cfg
            .cells()
            .unwrap()
            .into_iter()
            .find(|c| c.app == "dev-api")
            .unwrap();
        let result = fake_helm(&cfg.repo, &cell).map(|stdout| Rendered {
            stdout,
            stderr: String::new(),
            elapsed: std::time::Duration::ZERO,
        });
        assert!(result.is_err(), "the fleet's dev-api fails to render");
        Judge::of(cfg, today(), false).cell(&cell, result).findings
    };
    let [new, fixed, unchanged] = compare::classify(failed(&bcfg), failed(&hcfg), "dev-api");
    assert!(new.is_empty() && fixed.is_empty(), "{new:?} {fixed:?}");
    assert_eq!(unchanged.len(), 1);
    assert_eq!(unchanged[0].rule, "render-failed");
}

/// The whole PR check of `base` against `head` through the fake helm, uncached: the report as
/// `imagegate diff` writes it.
fn diff_run(base: &Fleet, head: &Fleet, strict: bool) -> imagegate_report::diff::DiffReport {
    use imagegate_engine::diff::{diff, DiffRun, Sides};
    let (bcfg, hcfg) = (base.config(), head.config());
    let (bc, hc) = (bcfg.cells().unwrap(), hcfg.cells().unwrap());
    let calls = std::sync::atomic::AtomicUsize::new(0);
    let r = renderer(&calls);
    let opts = render_options(&hcfg);
    diff(
        &Sides {
            base: Some(&bcfg),
            base_cells: &bc,
            head: &hcfg,
            head_cells: &hc,
            base_ref: Some("HEAD".into()),
            base_commit: None,
            head_ref: None,
            head_commit: None,
        },
        &DiffRun {
            renderer: &r,
            opts: &opts,
            base_opts: &opts,
            cache: None,
            today: today(),
            observer: &imagegate_engine::Quiet,
            strict,
            warnings_as_errors: false,
        },
    )
    .unwrap_or_else(|e| panic!("{e:#}"))
}

/// `rule app` of each finding, sorted.
fn rule_apps(findings: &[imagegate_report::ReportFinding]) -> Vec<String> {
    let mut v: Vec<String> = findings
        .iter()
        .map(|f| format!("{} {}", f.rule, f.app))
        .collect();
    v.sort();
    v
}

#[test]
fn a_new_violation_in_one_overlay_is_new_renders_that_cell_only_and_fails() {
    let (base, head) =
        sides(|h| h.write("values/staging/web.yaml", "image: ghcr.io/acme/web:main\n"));
    let r = diff_run(&base, &head, false);
    assert_eq!(
        (r.rendered.base, r.rendered.head),
        (1, 1),
        "one cell per side"
    );
    assert_eq!((r.cells.changed, r.cells.unchanged), (1, 8));
    assert_eq!(r.changes.len(), 1);
    let change = &r.changes[0];
    assert_eq!(
        (change.kind, change.app.as_str()),
        (ChangeKind::Changed, "staging-web")
    );
    assert_eq!(change.inputs, ["values values/staging/web.yaml"]);
    assert_eq!(change.image_changes.len(), 1, "{:?}", change.image_changes);
    let old = format!("ghcr.io/acme/web@{}", digest('1'));
    assert_eq!(change.image_changes[0].old.as_deref(), Some(old.as_str()));
    assert_eq!(
        change.image_changes[0].new.as_deref(),
        Some("ghcr.io/acme/web:main")
    );
    let text = change.diff.as_deref().unwrap();
    assert!(text.contains(&format!("-          image: {old}")), "{text}");
    assert!(
        text.contains("+          image: ghcr.io/acme/web:main"),
        "{text}"
    );
    // The tag is new in staging (dev's exception does not reach it), and production's web,
    // which this change does not touch, now runs a digest staging no longer runs.
    assert_eq!(
        rule_apps(&r.new),
        [
            "digest-required staging-web",
            "mutable-tag staging-web",
            "promotion-drift production-web"
        ]
    );
    assert_eq!(r.summary.new_failing, 3);
    assert!(r.fixed.is_empty());
    assert_eq!(r.exit_code(), 1, "a new error finding fails the PR");
}

#[test]
fn promotion_drift_is_judged_over_the_whole_lineage_and_old_drift_is_not_listed() {
    // Only production's web changes, to a digest staging never ran; the rule is about
    // staging's whole environment, which the diff must still see.
    let (base, head) = sides(|h| {
        h.write(
            "values/production/web.yaml",
            &format!("image: ghcr.io/acme/web@{}\n", digest('5')),
        )
    });
    let r = diff_run(&base, &head, false);
    assert_eq!((r.rendered.base, r.rendered.head), (1, 1));
    assert_eq!(rule_apps(&r.new), ["promotion-drift production-web"]);
    assert_eq!(r.exit_code(), 1, "an unpromoted digest fails the PR");
    // production-api's drift is on both sides: neither new nor fixed, and not unchanged either,
    // since this change does not affect its cell.
    for list in [&r.new, &r.fixed, &r.unchanged] {
        assert!(!rule_apps(list).contains(&"promotion-drift production-api".to_string()));
    }
}

#[test]
fn a_fixed_violation_is_fixed_and_passes_and_strict_fails_on_what_remains() {
    let (base, head) = sides(|h| {
        h.write(
            "values/dev/web.yaml",
            &format!("image: ghcr.io/acme/web@{}\n", digest('7')),
        )
    });
    let r = diff_run(&base, &head, false);
    assert_eq!(
        rule_apps(&r.fixed),
        ["digest-required dev-web", "mutable-tag dev-web"]
    );
    assert!(r.new.is_empty());
    assert_eq!(r.exit_code(), 0, "fixing is never a failure");
    // --strict: nothing failing is left in the affected cell.
    assert_eq!(diff_run(&base, &head, true).exit_code(), 0);

    // A comment-only edit affects the cell without fixing it: its error is unchanged, which
    // only --strict fails on.
    let (base, head) = sides(|h| {
        h.write(
            "values/dev/web.yaml",
            "# reviewed\nimage: ghcr.io/acme/web:latest\n",
        )
    });
    let r = diff_run(&base, &head, false);
    assert!(r.new.is_empty() && r.fixed.is_empty());
    assert!(rule_apps(&r.unchanged).contains(&"digest-required dev-web".to_string()));
    assert_eq!(r.exit_code(), 0);
    let strict = diff_run(&base, &head, true);
    assert!(strict.strict);
    assert_eq!(strict.exit_code(), 1);
}

#[test]
fn a_renamed_template_changes_only_the_source_comments_and_no_image() {
    // helm names each document's template in a `# Source:` comment: renaming the file is a
    // text change of the render and nothing else.
    let fleet = Fleet::standard();
    let cfg = fleet.config();
    let (_, b) = stream(&cfg, "staging-web");
    let h = b.replace(
        "# Source: app/templates/deploy.yaml",
        "# Source: app/templates/web-deploy.yaml",
    );
    assert_ne!(b, h);
    let decode = decode_options(&cfg.model.policy);
    let sites = |t: &str| compare::image_sites(&imagegate_decode::decode_stream(t, &decode));
    assert!(compare::image_changes(&sites(&b), &sites(&h)).is_empty());
    let (text, _) = compare::unified(&b, &h, "staging/staging-web").unwrap();
    let changed: Vec<&str> = text
        .lines()
        .filter(|l| {
            (l.starts_with('+') || l.starts_with('-'))
                && !l.starts_with("+++")
                && !l.starts_with("---")
        })
        .collect();
    assert_eq!(changed.len(), 2, "{text}");
    assert!(
        changed
            .iter()
            .all(|l| l.contains("# Source: app/templates/")),
        "{text}"
    );
}
