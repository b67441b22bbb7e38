//! `exceptions suggest` over a whole run: once each stub has a reason, the stubs cover every
//! failing finding an exception may cover, and each of them covers something.

mod common;
use common::*;
use imagegate_engine::suggest::{lifetime, suggest};

#[test]
fn reasoned_stubs_cover_every_finding_an_exception_may_cover() {
    let fleet = Fleet::standard();
    let cfg = fleet.config();
    let before = full_run(&cfg).report;
    // The fleet's maxLifetimeDays is 90; the default 30 is shorter.
    let days = lifetime(None, &cfg.model.exceptions).unwrap();
    assert_eq!(days, 30);
    let s = suggest(&before, &cfg.model.exceptions, today(), days, true);
    assert!(s.stubs >= 2, "{}", s.yaml);
    assert!(s.yaml.contains("expires: 2026-12-23\n"), "{}", s.yaml);
    assert!(
        !s.yaml.contains("[\"production\"]"),
        "production is a forbidden environment: {}",
        s.yaml
    );
    assert!(!s.yaml.contains("rule: render-failed") && !s.yaml.contains("rule: exception-"));

    // The configuration ends with its exceptions list: the entries go after it.
    let entries = s.yaml.split_once("  list:\n").unwrap().1;
    fleet.write("imagegate.yaml", &format!("{CONFIG}{entries}"));
    let refused = imagegate_engine::Config::load(&fleet.root().join("imagegate.yaml"))
        .err()
        .map(|e| format!("{e:#}"))
        .unwrap_or_default();
    assert!(refused.contains("non-empty `reason`"), "{refused}");
    assert!(
        refused.contains("imagegate.yaml:"),
        "names the line: {refused}"
    );

    let reasoned = entries.replace(
        "reason: \"\"",
        "reason: \"PLAT-9: pinned by the next release\"",
    );
    fleet.write("imagegate.yaml", &format!("{CONFIG}{reasoned}"));
    let after = full_run(&fleet.config()).report;
    for f in after
        .findings
        .iter()
        .filter(|f| f.is_failing(true) && !f.excepted)
    {
        assert!(
            f.rule == "render-failed"
                || f.rule.starts_with("exception-")
                || f.environment == "production"
                || f.environment.is_empty(),
            "a finding a stub should cover still fails: {f:#?}"
        );
    }
    // Each stub covers a finding: the only unused exception is the fleet's own.
    assert_eq!(
        of_rule(&after.findings, "exception-unused").len(),
        of_rule(&before.findings, "exception-unused").len()
    );
    let excepted = |r: &imagegate_report::Report| r.findings.iter().filter(|f| f.excepted).count();
    assert!(excepted(&after) >= excepted(&before) + s.stubs);
}
