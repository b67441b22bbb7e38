//! Property tests: no input makes the decoder panic, and what it reports stays consistent with
//! the stream it was given.

use imagegate_decode::{decode_stream, DecodeOptions};
use imagegate_yaml::Limits;
use proptest::prelude::*;

/// Fragments of Kubernetes-shaped YAML, so random streams reach the typed, shape and safety-net
/// walks rather than failing at the parser.
fn manifestish() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            Just("---\n"),
            Just("# Source: t.yaml\n"),
            Just("apiVersion: apps/v1\n"),
            Just("apiVersion: v1\n"),
            Just("apiVersion: batch/v1\n"),
            Just("apiVersion: ameide.io/v1\n"),
            Just("kind: Deployment\n"),
            Just("kind: Pod\n"),
            Just("kind: CronJob\n"),
            Just("kind: List\n"),
            Just("kind: Domain\n"),
            Just("items:\n"),
            Just("metadata:\n"),
            Just("  labels:\n"),
            Just("  annotations: {helm.sh/hook: test}\n"),
            Just("spec:\n"),
            Just("  template:\n"),
            Just("  containers:\n"),
            Just("    - name: a\n"),
            Just("      image: nginx\n"),
            Just("      image: 1.10\n"),
            Just("      imagePullPolicy: \"\"\n"),
            Just("  image: x\n"),
            Just("  - "),
            Just("  "),
            Just("<<: *a\n"),
            Just("&a "),
            Just("[\n"),
            Just("}\n"),
            Just("x: \"y\"\n"),
        ],
        0..40,
    )
    .prop_map(|parts| parts.concat())
}

fn options() -> DecodeOptions {
    DecodeOptions {
        limits: Limits {
            max_depth: 32,
            max_nodes: 5_000,
            max_bytes: 1 << 16,
        },
        ..DecodeOptions::default()
    }
}

fn check(text: &str) {
    let decoded = decode_stream(text, &options());
    let docs = imagegate_yaml::split_stream(text);
    assert!(decoded.documents <= docs.len());
    for object in &decoded.objects {
        assert!(object.document < docs.len());
        for site in &object.sites {
            assert!(!site.field.is_empty());
            assert!(site.line.is_none_or(|l| l >= 1));
        }
    }
    for error in &decoded.errors {
        assert!(error.document < docs.len());
        assert!(!error.message.is_empty());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn never_panics_on_any_string(text in any::<String>()) {
        check(&text);
    }

    #[test]
    fn never_panics_on_any_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        check(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn never_panics_on_manifestish(text in manifestish()) {
        check(&text);
    }
}
