//! Promotion lineage over a fake helm: `promotion-drift` where production renders a first-party
//! digest staging does not, and never where they agree, where staging was not wholly rendered,
//! or for third-party images.

mod common;
use common::*;
use imagegate_report::Severity;

#[test]
fn a_digest_production_runs_and_staging_never_did_is_drift() {
    let fleet = Fleet::standard();
    let run = full_run(&fleet.config());
    let drift = of_rule(&run.report.findings, "promotion-drift");
    assert_eq!(apps(&drift), ["production-api"]);
    let f = drift[0];
    assert_eq!(f.severity, Severity::Error);
    assert_eq!(f.environment, "production");
    assert_eq!(f.object.as_ref().unwrap().kind, "Deployment");
    assert_eq!(f.container.as_deref(), Some("api"));
    let image = format!("ghcr.io/acme/api@{}", digest('3'));
    assert_eq!(f.image.as_deref(), Some(image.as_str()));
    // Both digests, and where staging sets its own.
    assert!(f.message.contains(&digest('3')), "{}", f.message);
    assert!(
        f.message.contains(&format!(
            "`staging` renders `{}` (set at values/staging/api.yaml:1)",
            digest('2')
        )),
        "{}",
        f.message
    );
}

#[test]
fn no_drift_when_production_runs_what_staging_runs() {
    let fleet = Fleet::standard();
    fleet.write(
        "values/production/api.yaml",
        &format!("replicas: 3\nimage: ghcr.io/acme/api@{}\n", digest('2')),
    );
    let run = full_run(&fleet.config());
    assert!(of_rule(&run.report.findings, "promotion-drift").is_empty());
}

#[test]
fn a_digest_staging_runs_for_another_app_is_not_promotion() {
    // Lineage compares one repository: staging's web digest does not license production's api.
    let fleet = Fleet::standard();
    fleet.write(
        "values/production/api.yaml",
        &format!("image: ghcr.io/acme/api@{}\n", digest('1')),
    );
    let run = full_run(&fleet.config());
    assert_eq!(
        apps(&of_rule(&run.report.findings, "promotion-drift")),
        ["production-api"]
    );
}

#[test]
fn drift_is_judged_only_with_the_whole_upstream_rendered() {
    let fleet = Fleet::standard();
    let cfg = fleet.config();
    let both = narrowed_run(&cfg, &["staging", "production"]);
    assert_eq!(
        apps(&of_rule(&both.report.findings, "promotion-drift")),
        ["production-api"]
    );
    let alone = narrowed_run(&cfg, &["production"]);
    assert!(
        of_rule(&alone.report.findings, "promotion-drift").is_empty(),
        "without staging rendered, nothing can be said about lineage"
    );
}

#[test]
fn drift_beside_a_failed_upstream_cell_says_what_is_unknown() {
    let fleet = Fleet::standard();
    // staging's api does not render: what it would run is unknown, and the finding says so.
    fleet.write("values/staging/api.yaml", "fail: broken\n");
    let run = full_run(&fleet.config());
    let drift = of_rule(&run.report.findings, "promotion-drift");
    assert_eq!(apps(&drift), ["production-api"]);
    assert!(
        drift[0].message.contains(
            "(note: 1 cell(s) of `staging` failed to render, so what they render is unknown)"
        ),
        "{}",
        drift[0].message
    );
    one(&run.report.findings, "render-failed", "staging-api");
}

#[test]
fn third_party_images_are_pinned_per_environment_and_not_judged() {
    let fleet = Fleet::standard();
    let cfg = fleet.config();
    let run = full_run(&cfg);
    // production's postgres digest differs from staging's, and is no drift.
    assert!(run.report.findings.iter().all(|f| f.app != "production-db"));
    // The same image made first-party is.
    fleet.write(
        "imagegate.yaml",
        &CONFIG.replace(
            "firstParty: [\"ghcr.io/acme/\"]",
            "firstParty: [\"ghcr.io/acme/\", \"docker.io/library/\"]",
        ),
    );
    let run = full_run(&fleet.config());
    assert_eq!(
        apps(&of_rule(&run.report.findings, "promotion-drift")),
        ["production-api", "production-db"]
    );
}

#[test]
fn spelling_the_registry_differently_neither_hides_nor_makes_drift() {
    for spelling in ["GHCR.IO/acme/", "ghcr.io:443/acme/", "Ghcr.io/acme/"] {
        let fleet = Fleet::standard();
        fleet.write(
            "values/production/api.yaml",
            &format!("image: {spelling}api@{}\n", digest('3')),
        );
        // The same digest staging runs, spelt differently, is the same image.
        fleet.write(
            "values/production/web.yaml",
            &format!("image: {spelling}web@{}\n", digest('1')),
        );
        let run = full_run(&fleet.config());
        assert_eq!(
            apps(&of_rule(&run.report.findings, "promotion-drift")),
            ["production-api"],
            "{spelling}"
        );
    }
}

#[test]
fn the_inventory_holds_every_image_site() {
    use imagegate_engine::cache::CacheChoice;
    use imagegate_engine::fleet::{self, Context, Coverage, Plan};
    let fleet = Fleet::standard();
    let cfg = fleet.config();
    let calls = std::sync::atomic::AtomicUsize::new(0);
    let r = renderer(&calls);
    let ctx = Context {
        config: &cfg,
        renderer: &r,
        render: render_options(&cfg),
        cache: CacheChoice::Off,
        today: today(),
        observer: &imagegate_engine::Quiet,
        remote: None,
    };
    let run = fleet::run(
        &ctx,
        &cfg.cells().unwrap(),
        Plan {
            coverage: Coverage::Full,
            history: 0,
            inventory: true,
        },
    )
    .unwrap();
    let rows: Vec<(String, String)> = run
        .inventory
        .iter()
        .map(|r| (r.app.clone(), r.image.clone()))
        .collect();
    assert_eq!(rows.len(), 8, "{rows:#?}");
    assert!(rows.contains(&("dev-web".into(), "ghcr.io/acme/web:latest".into())));
    assert!(rows.iter().all(|(app, _)| app != "dev-api"));
    let db = run
        .inventory
        .iter()
        .find(|r| r.app == "production-db")
        .unwrap();
    assert_eq!(db.digest.as_deref(), Some(digest('e').as_str()));
    assert_eq!(run.report.summary.images, 8);
}
