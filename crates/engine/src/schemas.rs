//! The JSON Schemas of every JSON document imagegate writes, generated from the very types it
//! serializes (the report, the diff, the image inventory, the cells, the trend), as the
//! configuration's schema is generated from its model. `cargo xtask docs` writes them into
//! `docs/schemas/`, and the test suite validates the documents its runs write against them.

use crate::audit::{Images, Trend, IMAGES_SCHEMA, TREND_SCHEMA};
use imagegate_fleet::Cell;
use imagegate_report::diff::{DiffReport, DIFF_SCHEMA};
use imagegate_report::{Report, SCHEMA};
use schemars::JsonSchema;
use serde::Serialize;

/// The `schema` key of `imagegate cells --format json`.
pub const CELLS_SCHEMA: &str = "imagegate/cells/v1";

/// `imagegate cells --format json`: the matrix with each cell's value stack.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct CellsDocument {
    /// Always [`CELLS_SCHEMA`].
    pub schema: String,
    /// Every selected cell, in matrix order.
    pub cells: Vec<Cell>,
    /// The Argo CD applications that no cell renders, with their reasons (additive; absent
    /// when there are none).
    #[serde(rename = "notJudged", skip_serializing_if = "Vec::is_empty")]
    pub not_judged: Vec<imagegate_report::NotJudgedApp>,
}

impl CellsDocument {
    /// The document of `cells`, and of the Argo CD applications `not_judged`.
    pub fn new(cells: Vec<Cell>, not_judged: Vec<imagegate_report::NotJudgedApp>) -> Self {
        Self {
            schema: CELLS_SCHEMA.into(),
            cells,
            not_judged,
        }
    }
}

/// One document kind and its schema.
#[derive(Debug, Clone)]
pub struct DocumentSchema {
    /// The value of the document's `schema` key, for example `imagegate/report/v1`.
    pub id: &'static str,
    /// The schema's file name under `docs/schemas/`, for example `report.schema.json`.
    pub file: &'static str,
    /// The JSON Schema (draft 2020-12).
    pub schema: serde_json::Value,
}

/// Every document's schema: report, diff, images, cells, trend.
pub fn all() -> Vec<DocumentSchema> {
    vec![
        document::<Report>(SCHEMA, "report.schema.json"),
        document::<DiffReport>(DIFF_SCHEMA, "diff.schema.json"),
        document::<Images>(IMAGES_SCHEMA, "images.schema.json"),
        document::<CellsDocument>(CELLS_SCHEMA, "cells.schema.json"),
        document::<Trend>(TREND_SCHEMA, "trend.schema.json"),
    ]
}

/// The schema of the document whose `schema` key is `id` (`imagegate/report/v1`), if any.
pub fn of(id: &str) -> Option<DocumentSchema> {
    all().into_iter().find(|d| d.id == id)
}

/// The schema of `T` as it is written (the serialize contract: a key always written is
/// required, one skipped when empty is not), with its `schema` key pinned to `id`.
fn document<T: JsonSchema>(id: &'static str, file: &'static str) -> DocumentSchema {
    let root = schemars::generate::SchemaSettings::draft2020_12()
        .for_serialize()
        .into_generator()
        .into_root_schema_for::<T>();
    let mut schema = serde_json::to_value(root).unwrap_or_default();
    if let Some(obj) = schema.as_object_mut() {
        obj.insert(
            "$id".into(),
            format!("https://github.com/imagegate/imagegate/blob/main/docs/schemas/{file}").into(),
        );
    }
    if let Some(key) = schema.pointer_mut("/properties/schema") {
        *key = serde_json::json!({ "const": id, "description": format!("Always `{id}`.") });
    }
    DocumentSchema { id, file, schema }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn validator(id: &str) -> jsonschema::Validator {
        let schema = of(id).map(|d| d.schema).unwrap_or_default();
        jsonschema::validator_for(&schema).unwrap_or_else(|e| panic!("{id}: {e}"))
    }

    fn errors(v: &jsonschema::Validator, doc: &serde_json::Value) -> Vec<String> {
        v.iter_errors(doc)
            .map(|e| format!("{e} at {}", e.instance_path))
            .collect()
    }

    #[test]
    fn every_schema_is_a_valid_schema_with_its_id_pinned() {
        let all = all();
        assert_eq!(all.len(), 5);
        for d in all {
            assert!(jsonschema::validator_for(&d.schema).is_ok(), "{}", d.file);
            assert_eq!(d.schema["properties"]["schema"]["const"], d.id);
        }
    }

    #[test]
    fn a_report_validates_and_a_broken_one_does_not() {
        use imagegate_report::{CellReport, CellStatus, Generator, ReportFinding, Severity};
        let mut excepted =
            ReportFinding::new("mutable-tag", Severity::Error, "m", "dev", "api", "c");
        excepted.excepted = true;
        excepted.exception = Some(imagegate_report::ExceptionRef {
            reason: "r".into(),
            expires: "2026-12-31".into(),
        });
        let report = Report::new(
            Generator::new("imagegate", "0"),
            vec![excepted],
            vec![
                CellReport::new("dev", "api", "c", vec![], CellStatus::Rendered, 1, 1),
                CellReport::failed("dev", "web", "c", vec![], "boom"),
            ],
        );
        let v = validator(SCHEMA);
        let doc = serde_json::to_value(&report).unwrap_or_default();
        assert_eq!(errors(&v, &doc), Vec::<String>::new());
        let mut wrong_schema = doc.clone();
        wrong_schema["schema"] = "imagegate/report/v2".into();
        assert!(!v.is_valid(&wrong_schema));
        let mut bad_verdict = doc.clone();
        bad_verdict["summary"]["verdict"] = "maybe".into();
        assert!(!v.is_valid(&bad_verdict));
        let mut missing = doc;
        if let Some(f) = missing["findings"][0].as_object_mut() {
            f.remove("rule");
        }
        assert!(!v.is_valid(&missing));
    }

    #[test]
    fn cells_and_images_documents_validate() {
        let cells = serde_json::to_value(CellsDocument::new(vec![], vec![])).unwrap_or_default();
        assert_eq!(
            errors(&validator(CELLS_SCHEMA), &cells),
            Vec::<String>::new()
        );
        let images = serde_json::json!({
            "schema": IMAGES_SCHEMA, "images": [], "failedCells": ["dev/api"]
        });
        assert_eq!(
            errors(&validator(IMAGES_SCHEMA), &images),
            Vec::<String>::new()
        );
        assert!(!validator(IMAGES_SCHEMA).is_valid(&serde_json::json!({ "schema": IMAGES_SCHEMA })));
    }
}
