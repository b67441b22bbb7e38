//! Property tests: no input makes the splitter or the loader panic, and the splitter's output
//! always maps back onto its input.

use imagegate_yaml::{load, load_all, split_stream, Limits};
use proptest::prelude::*;

/// Text built from the characters YAML gives meaning to, so the parser's odd corners get visited
/// far more often than with uniformly random strings.
fn yamlish() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            Just("---\n"),
            Just("...\n"),
            Just("# Source: t.yaml\n"),
            Just("\n"),
            Just("\r\n"),
            Just("  "),
            Just("- "),
            Just("a: "),
            Just("<<: "),
            Just("&x "),
            Just("*x"),
            Just("!!str "),
            Just("["),
            Just("]"),
            Just("{"),
            Just("}"),
            Just(", "),
            Just("? "),
            Just("|"),
            Just(">-"),
            Just("'q'"),
            Just("\"d\\u00e9\""),
            Just("1.10"),
            Just("%YAML 1.2\n"),
            Just("\u{feff}"),
            Just("\t"),
            Just("é"),
        ],
        0..60,
    )
    .prop_map(|parts| parts.concat())
}

fn small_limits() -> Limits {
    Limits {
        max_depth: 16,
        max_nodes: 2_000,
        max_bytes: 1 << 16,
    }
}

fn check_split(text: &str) {
    let docs = split_stream(text);
    let total_lines = u32::try_from(text.lines().count()).unwrap_or(u32::MAX);
    for (i, doc) in docs.iter().enumerate() {
        assert_eq!(doc.index, i);
        assert!(text.contains(doc.text.as_str()));
        assert!(doc.start_line >= 1);
        assert!(doc.start_line <= total_lines.saturating_add(1));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn split_never_panics_on_any_string(text in any::<String>()) {
        check_split(&text);
    }

    #[test]
    fn split_never_panics_on_yamlish(text in yamlish()) {
        check_split(&text);
    }

    #[test]
    fn load_never_panics_on_any_string(text in any::<String>()) {
        let _ = load(&text, &small_limits());
        let _ = load_all(&text, &small_limits());
    }

    #[test]
    fn load_never_panics_on_yamlish(text in yamlish()) {
        let _ = load(&text, &small_limits());
        for doc in split_stream(&text) {
            if let Ok(Some(node)) = load(&doc.text, &small_limits()) {
                // Every loaded tree converts and answers lookups without panicking.
                let _ = node.to_json();
                let _ = node.at_path("a[0].a");
            }
        }
    }

    #[test]
    fn errors_point_inside_the_text(text in yamlish()) {
        if let Err(err) = load(&text, &small_limits()) {
            prop_assert!(err.line >= 1);
            prop_assert!(err.col >= 1);
            let lines = u32::try_from(text.split('\n').count()).unwrap_or(u32::MAX);
            prop_assert!(err.line <= lines.saturating_add(1), "{err:?} for {text:?}");
        }
    }
}
