//! What the fixture tests share: one cell judged as `imagegate check` judges it, with the default
//! policy and the built-in catalog.

use imagegate_decode::{decode_stream, DecodeOptions, Decoded};
use imagegate_policy::{evaluate, CellContext, Finding, PolicySettings};

/// Decodes `text` as one rendered cell and judges it with the default policy.
pub fn judge(text: &str) -> (Decoded, Vec<Finding>) {
    let settings = PolicySettings::default();
    let opts = DecodeOptions {
        custom_fields: settings.custom_image_fields(),
        image_field_names: settings.image_field_names(),
        ..DecodeOptions::default()
    };
    let cell = CellContext {
        environment: "dev".into(),
        app: "dev-web".into(),
        chart: "charts/web".into(),
    };
    let decoded = decode_stream(text, &opts);
    let findings = evaluate(&cell, &decoded.objects, &decoded.errors, &settings);
    (decoded, findings)
}
