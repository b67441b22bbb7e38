use super::*;
use proptest::prelude::*;

fn path(p: &str) -> Vec<PathSegment> {
    imagegate_yaml::parse_path(p).expect("a key path")
}

const NEW: &str =
    "ghcr.io/a/web@sha256:1111111111111111111111111111111111111111111111111111111111111111";

#[test]
fn a_plain_value_is_replaced_in_place_and_nothing_else_moves() {
    let text =
        "# hotfix\nimage:\n  ref: ghcr.io/a/web@sha256:00  # pinned\n  pullPolicy: IfNotPresent\n";
    let e = replace(text, &path("image.ref"), NEW).unwrap();
    assert_eq!(
        e.text,
        format!("# hotfix\nimage:\n  ref: {NEW}  # pinned\n  pullPolicy: IfNotPresent\n")
    );
    assert_eq!((e.line, e.how), (3, How::Replaced));
}

#[test]
fn quoting_styles_are_kept() {
    let single = "image:\n  ref: 'ghcr.io/a/web:1'\n";
    let e = replace(single, &path("image.ref"), "it's").unwrap();
    assert_eq!(e.text, "image:\n  ref: 'it''s'\n");
    let double = "image: {ref: \"ghcr.io/a/web:1\", x: 1}\n";
    let e = replace(double, &path("image.ref"), NEW).unwrap();
    assert_eq!(e.text, format!("image: {{ref: \"{NEW}\", x: 1}}\n"));
}

#[test]
fn a_comment_after_a_quoted_value_stays() {
    let text = "ref: 'old'   # pinned\nother: \"x\"  # too\n";
    let e = replace(text, &path("ref"), "new").unwrap();
    assert_eq!(e.text, "ref: 'new'   # pinned\nother: \"x\"  # too\n");
    let e = replace(text, &path("other"), "y").unwrap();
    assert_eq!(e.text, "ref: 'old'   # pinned\nother: \"y\"  # too\n");
}

#[test]
fn a_plain_value_that_would_read_as_a_number_is_double_quoted() {
    let e = replace("tag: v1\n", &path("tag"), "1.10").unwrap();
    assert_eq!(e.text, "tag: \"1.10\"\n");
    assert_eq!(e.how, How::Requoted);
}

#[test]
fn non_ascii_text_before_the_value_keeps_its_bytes() {
    let text = "# café ☕\nimage:\n  ref: old # ünïcode\n";
    let e = replace(text, &path("image.ref"), "new").unwrap();
    assert_eq!(e.text, "# café ☕\nimage:\n  ref: new # ünïcode\n");
}

#[test]
fn block_scalars_are_refused() {
    let err = replace("ref: |\n  ghcr.io/a/web\n", &path("ref"), NEW).unwrap_err();
    assert!(err.message.contains("block scalar"), "{err}");
}

#[test]
fn an_alias_read_once_is_edited_at_its_anchor() {
    let text = "defs:\n  web: &web ghcr.io/a/web@sha256:00\nimage:\n  ref: *web\n";
    let e = replace(text, &path("image.ref"), NEW).unwrap();
    assert_eq!(
        e.text,
        format!("defs:\n  web: &web {NEW}\nimage:\n  ref: *web\n")
    );
    assert_eq!((e.line, e.how), (2, How::AtAnchor));
}

#[test]
fn an_anchor_that_other_places_read_is_refused() {
    let text = "a:\n  ref: &web ghcr.io/a/web@sha256:00\nb:\n  ref: *web\nc:\n  ref: *web\n";
    let err = replace(text, &path("b.ref"), NEW).unwrap_err();
    assert!(err.message.contains("1 other alias(es)"), "{err}");
    assert!(err.message.contains("lines 6"), "{err}");
    let err = replace(text, &path("a.ref"), NEW).unwrap_err();
    assert!(
        err.message.contains("carries an anchor that 2 alias(es)"),
        "{err}"
    );
}

#[test]
fn a_value_reached_through_a_merge_key_is_refused() {
    let text = "base: &base\n  ref: old\nimage:\n  <<: *base\n  pullPolicy: IfNotPresent\n";
    let err = set(text, &path("image.ref"), NEW).unwrap_err();
    assert!(err.message.contains("merge key"), "{err}");
    assert_eq!(err.line, 4);
}

#[test]
fn a_missing_path_is_added_in_the_files_indentation() {
    let text = "# overlay\nimage:\n    pullPolicy: IfNotPresent   # kept\nother: 1\n";
    let e = set(text, &path("image.ref"), NEW).unwrap();
    assert_eq!(
        e.text,
        format!(
            "# overlay\nimage:\n    pullPolicy: IfNotPresent   # kept\n    ref: {NEW}\nother: 1\n"
        )
    );
    assert_eq!((e.line, e.how), (4, How::Inserted));
    let e = set("other: 1", &path("primitives.domain.digest"), "sha256:ab").unwrap();
    assert_eq!(
        e.text,
        "other: 1\nprimitives:\n  domain:\n    digest: sha256:ab\n"
    );
    assert_eq!(e.line, 4);
    let e = set("# nothing yet\n", &path("image.ref"), NEW).unwrap();
    assert_eq!(e.text, format!("# nothing yet\nimage:\n  ref: {NEW}\n"));
    let e = set("", &path("image.ref"), NEW).unwrap();
    assert_eq!(e.text, format!("image:\n  ref: {NEW}\n"));
}

#[test]
fn flow_mappings_and_values_in_the_way_are_refused() {
    let err = set("image: {pullPolicy: Always}\n", &path("image.ref"), NEW).unwrap_err();
    assert!(err.message.contains("flow mapping"), "{err}");
    let err = set("image: web\n", &path("image.ref"), NEW).unwrap_err();
    assert!(err.message.contains("not a mapping"), "{err}");
}

#[test]
fn the_diff_is_unified() {
    let d = unified_diff("v.yaml", "a: 1\nb: 2\n", "a: 1\nb: 3\n");
    assert!(d.starts_with("--- a/v.yaml\n+++ b/v.yaml\n@@"), "{d}");
    assert!(d.contains("-b: 2\n+b: 3\n"), "{d}");
    assert!(unified_diff("v.yaml", "a", "a").is_empty());
}

/// A small values file: nested mappings of plain, quoted and commented scalars, in a chosen
/// indentation, and the key paths of its string leaves.
fn values_file() -> impl Strategy<Value = (String, Vec<String>)> {
    let leaf = prop_oneof![
        "[a-z][a-z0-9./:@-]{0,20}"
            .prop_filter("a plain string", |s| plain_reads_as(s, false))
            .prop_map(|s| (s.clone(), s)),
        "[a-z0-9 ./:#'-]{0,12}".prop_map(|s| (s.clone(), format!("'{}'", s.replace('\'', "''")))),
        "[a-z0-9 ./:#\"-]{0,12}".prop_map(|s| (s.clone(), serde_json::to_string(&s).unwrap())),
    ];
    // Keys start with `k`: `y`, `no` and `on` are booleans to YAML 1.1, not key names.
    let entry = (
        "k[a-z]{0,5}",
        prop::collection::vec(("k[a-z]{0,5}", leaf, any::<bool>()), 1..4),
    );
    (prop::collection::vec(entry, 1..4), 1usize..5).prop_map(|(entries, step)| {
        let mut text = String::from("# values\n");
        let mut keys = Vec::new();
        let mut seen_outer = std::collections::BTreeSet::new();
        for (outer, leaves) in entries {
            if !seen_outer.insert(outer.clone()) {
                continue;
            }
            text.push_str(&format!("{outer}:\n"));
            let mut seen = std::collections::BTreeSet::new();
            for (inner, (value, written), comment) in leaves {
                if !seen.insert(inner.clone()) {
                    continue;
                }
                let _ = value;
                text.push_str(&format!("{}{inner}: {written}", " ".repeat(step)));
                if comment {
                    text.push_str("  # note");
                }
                text.push('\n');
                keys.push(format!("{outer}.{inner}"));
            }
        }
        (text, keys)
    })
}

proptest! {
    #[test]
    fn a_replacement_changes_that_value_and_only_its_span(
        (text, keys) in values_file(),
        pick in any::<prop::sample::Index>(),
        value in "[a-zA-Z0-9 ./:@'\"#-]{0,30}",
    ) {
        prop_assume!(!keys.is_empty());
        let key = &keys[pick.index(keys.len())];
        let p = path(key);
        let before = imagegate_yaml::load(&text, &Limits::default()).unwrap().unwrap().to_json();
        let e = replace(&text, &p, &value).unwrap();
        let mut want = before.clone();
        set_json(&mut want, &p, &value);
        let after = imagegate_yaml::load(&e.text, &Limits::default()).unwrap().unwrap().to_json();
        prop_assert_eq!(after, want);
        // Every byte outside the span is unchanged: putting the old value back gives the old
        // text exactly (the generator writes each style as the editor does).
        let old_value = before.pointer(&format!("/{}", key.replace('.', "/"))).and_then(|v| v.as_str()).unwrap().to_owned();
        if e.how != How::Requoted {
            let back = replace(&e.text, &p, &old_value).unwrap();
            prop_assert_eq!(&back.text, &text);
        }
        // And the change is on one line.
        let prefix = text.bytes().zip(e.text.bytes()).take_while(|(a, b)| a == b).count();
        let suffix = text.bytes().rev().zip(e.text.bytes().rev()).take_while(|(a, b)| a == b).count();
        let changed_old = text.len().saturating_sub(prefix + suffix);
        let line_of_change = text[..prefix].matches('\n').count() + 1;
        prop_assert!(e.text == text || line_of_change as u32 == e.line);
        prop_assert!(!text[prefix..prefix + changed_old].contains('\n') || changed_old == 0);
    }

    #[test]
    fn an_insertion_adds_that_key_and_keeps_every_old_byte(
        (text, _) in values_file(),
        outer in "k[a-z]{0,5}",
        inner in "k[a-z]{0,5}",
        value in "[a-zA-Z0-9 ./:@'\"#-]{1,30}",
    ) {
        let key = format!("{outer}.x{inner}");
        let p = path(&key);
        let before = imagegate_yaml::load(&text, &Limits::default()).unwrap().unwrap().to_json();
        prop_assume!(before.get(&outer).is_none_or(serde_json::Value::is_object));
        let e = insert(&text, &p, &value).unwrap();
        let mut want = before.clone();
        set_json(&mut want, &p, &value);
        let after = imagegate_yaml::load(&e.text, &Limits::default()).unwrap().unwrap().to_json();
        prop_assert_eq!(after, want);
        // The new text is the old one with whole lines put in at one line boundary.
        let boundaries = std::iter::once(0).chain(text.match_indices('\n').map(|(i, _)| i + 1));
        let kept = boundaries.into_iter().any(|k| {
            e.text.len() > text.len()
                && e.text.starts_with(&text[..k])
                && e.text.ends_with(&text[k..])
                && e.text[k..e.text.len() - (text.len() - k)].ends_with('\n')
        });
        prop_assert!(kept, "{:?} -> {:?}", text, e.text);
        let want_key = format!("x{inner}:");
        let line = e.text.lines().nth(e.line as usize - 1).unwrap_or("");
        prop_assert!(line.contains(&want_key), "line {} is {:?}", e.line, line);
    }
}
#[test]
fn a_mapping_key_that_is_a_collection_is_refused_quickly() {
    // Nested complex keys: converting such a tree to JSON takes time exponential in the depth.
    let text = format!("  {}", "? ".repeat(40));
    let t = std::time::Instant::now();
    let err = set(&text, &path("image.ref"), "x").unwrap_err();
    assert!(err.message.contains("mapping key"), "{err}");
    assert!(t.elapsed() < std::time::Duration::from_secs(2));
}
