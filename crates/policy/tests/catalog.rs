//! One fixture per catalog entry under `tests/catalog/`, written after the upstream project's own
//! examples: decoded with the built-in catalog and judged with the default policy. Objects named
//! `ok-…` must yield no finding; the others together yield exactly the `# expect: RULE FIELD`
//! lines of the fixture's header. `# entries:` names the catalog entries the fixture covers, and
//! every entry must be covered.

use std::collections::BTreeSet;
use std::path::Path;

use imagegate_policy::catalog::CATALOG;

mod common;

fn fixtures() -> Vec<(String, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/catalog");
    let mut out: Vec<(String, String)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap_or_else(|e| panic!("{e}")).path())
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{e}"));
            (p.display().to_string(), text)
        })
        .collect();
    out.sort();
    out
}

fn header<'t>(text: &'t str, key: &str) -> Vec<&'t str> {
    text.lines()
        .filter_map(|l| l.strip_prefix("# ")?.strip_prefix(key)?.strip_prefix(": "))
        .collect()
}

#[test]
fn every_catalog_entry_has_a_fixture() {
    let covered: BTreeSet<String> = fixtures()
        .iter()
        .flat_map(|(_, text)| {
            header(text, "entries")
                .into_iter()
                .flat_map(str::split_whitespace)
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect();
    let names: BTreeSet<String> = CATALOG.iter().map(|e| e.name.to_owned()).collect();
    let missing: Vec<_> = names.difference(&covered).collect();
    assert!(missing.is_empty(), "no fixture for {missing:?}");
    let unknown: Vec<_> = covered.difference(&names).collect();
    assert!(
        unknown.is_empty(),
        "fixtures name unknown entries {unknown:?}"
    );
}

#[test]
fn compliant_objects_pass_and_violating_ones_yield_exactly_the_expected_findings() {
    for (path, text) in fixtures() {
        let (decoded, findings) = common::judge(&text);
        assert_eq!(decoded.errors, vec![], "{path}");
        let ok: Vec<String> = findings
            .iter()
            .filter(|f| f.object.as_ref().is_some_and(|o| o.name.starts_with("ok-")))
            .map(|f| f.message.clone())
            .collect();
        assert_eq!(ok, Vec::<String>::new(), "{path}: compliant objects");
        let mut got: Vec<String> = findings
            .iter()
            .filter(|f| !f.object.as_ref().is_some_and(|o| o.name.starts_with("ok-")))
            .map(|f| format!("{} {}", f.rule, f.field.as_deref().unwrap_or_default()))
            .collect();
        let mut want: Vec<String> = header(&text, "expect")
            .into_iter()
            .map(str::to_owned)
            .collect();
        got.sort();
        want.sort();
        assert_eq!(got, want, "{path}: violating objects");
        // A fixture of workload kinds has objects of both sorts; one of policy kinds passes.
        let bad = decoded
            .objects
            .iter()
            .any(|o| !o.object.name.starts_with("ok-"));
        assert!(
            bad || want.is_empty(),
            "{path}: expectations without a violating object"
        );
    }
}
