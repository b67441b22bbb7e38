//! `imagegate exceptions suggest` on the test fleet: the stubs are the configuration's syntax,
//! refused until each has a reason, and once reasoned they cover exactly the findings an
//! exception may cover (the same round trip over the engine's fake helm is
//! `crates/engine/tests/suggest.rs`). The check after the suggestion renders from the cache the
//! suggestion filled: exceptions are judged after rendering.

mod common;
use common::*;
use serde_json::Value;

#[test]
fn helm_suggested_stubs_are_refused_until_reasoned_then_cover_what_may_be_excepted() {
    let dir = tempfile::tempdir().unwrap();
    let fleet = dir.path().join("fleet");
    copy_tree(&root().join("charts-testdata"), &fleet);
    let config = fleet.join("imagegate.yaml");
    let run = |args: &[&str]| imagegate(args, &fleet);

    let out = run(&["exceptions", "suggest", "--no-progress"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let yaml = stdout(&out);
    let stubs = yaml.matches("    - rule: ").count();
    assert!(stubs > 10, "{yaml}");
    // 90 days is the fleet's maxLifetimeDays; the default 30 is shorter.
    assert!(yaml.contains("expires: 2026-12-23\n"), "{yaml}");
    assert!(
        !yaml.contains("environments: [\"staging\"]"),
        "staging is a forbidden environment"
    );
    assert!(!yaml.contains("rule: render-failed") && !yaml.contains("rule: exception-"));
    assert!(stderr(&out).contains(&format!("{stubs} exception stubs expiring 2026-12-23")));

    let too_long = run(&["exceptions", "suggest", "--days", "91", "--no-cache"]);
    assert_eq!(too_long.status.code(), Some(2));
    assert!(
        stderr(&too_long).contains("maxLifetimeDays (90)"),
        "{}",
        stderr(&too_long)
    );

    // The fleet's configuration ends with its exceptions list: the entries go after it.
    let entries = yaml.split_once("  list:\n").unwrap().1;
    let original = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, format!("{original}{entries}")).unwrap();
    let refused = run(&["check", "--no-progress", "--no-cache"]);
    assert_eq!(refused.status.code(), Some(2), "{}", stderr(&refused));
    assert!(
        stderr(&refused).contains("non-empty `reason`"),
        "{}",
        stderr(&refused)
    );
    assert!(
        stderr(&refused).contains("imagegate.yaml:"),
        "names the line: {}",
        stderr(&refused)
    );

    let reasoned = entries.replace(
        "reason: \"\"",
        "reason: \"PLAT-9: pinned by the next release\"",
    );
    std::fs::write(&config, format!("{original}{reasoned}")).unwrap();
    let out = run(&["check", "--no-progress", "--format", "json"]);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        cells_with_status(&report, "cached") > 0,
        "the cache of the suggestion's run serves this one"
    );
    let failing: Vec<&Value> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["severity"] == "error" && f["excepted"] == false)
        .collect();
    for f in &failing {
        let rule = f["rule"].as_str().unwrap();
        let env = f["environment"].as_str().unwrap();
        assert!(
            rule == "render-failed"
                || rule.starts_with("exception-")
                || ["staging", "production"].contains(&env),
            "a finding a stub should cover still fails: {f}"
        );
    }
    assert!(
        report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["rule"] != "exception-unused"),
        "every stub covers a finding"
    );
    assert!(report["summary"]["excepted"].as_u64().unwrap() > stubs as u64 / 2);
}
