//! `--format json`: the `imagegate/report/v1` model, pretty-printed.

use std::io::Write;

use super::{RenderError, Renderer};
use crate::model::Report;

/// Writes the report model as pretty JSON with a trailing newline. The order is stable:
/// [`Report::new`] sorts findings and cells, and the summary's rule counts are a sorted map.
#[derive(Debug, Clone, Copy, Default)]
pub struct JsonRenderer;

impl Renderer for JsonRenderer {
    fn render(&self, report: &Report, out: &mut dyn Write) -> Result<(), RenderError> {
        serde_json::to_writer_pretty(&mut *out, report)?;
        out.write_all(b"\n")?;
        Ok(())
    }
}
