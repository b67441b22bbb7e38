//! `--format json`: the `imagegate/report/v1` model, pretty-printed.

use std::io::{self, Write};

use serde::Serialize;
use serde_json::ser::{Formatter, PrettyFormatter};

use super::{RenderError, Renderer};
use crate::model::Report;
use crate::sanitize::is_dangerous;

/// Writes the report model as pretty JSON with a trailing newline. The order is stable:
/// [`Report::new`] sorts findings and cells, and the summary's rule counts are a sorted map.
#[derive(Debug, Clone, Copy, Default)]
pub struct JsonRenderer;

impl Renderer for JsonRenderer {
    fn render(&self, report: &Report, out: &mut dyn Write) -> Result<(), RenderError> {
        write_pretty(report, out)
    }
}

/// `value` as pretty JSON plus a newline, with every control and bidi character in strings
/// written as a `\uXXXX` escape. The data is unchanged for a JSON reader, but a report shown
/// with `cat` cannot drive the terminal: JSON itself only requires escaping C0 controls, so
/// C1 controls such as U+009B (CSI) and bidi overrides would otherwise pass raw.
pub(crate) fn write_pretty<T: Serialize>(
    value: &T,
    out: &mut dyn Write,
) -> Result<(), RenderError> {
    let mut serializer =
        serde_json::Serializer::with_formatter(&mut *out, Inert(PrettyFormatter::new()));
    value.serialize(&mut serializer)?;
    out.write_all(b"\n")?;
    Ok(())
}

/// `s` as a JSON string literal (quotes included) with every control and bidi character escaped
/// as `\uXXXX`, as the JSON report writes strings: safe to print, and read back as `s` by a JSON
/// or YAML reader (a YAML double-quoted scalar takes the same escapes).
pub fn inert_string(s: &str) -> String {
    let mut out = Vec::new();
    match write_pretty(&s, &mut out) {
        Ok(()) => String::from_utf8(out)
            .map(|t| t.trim_end().to_owned())
            .unwrap_or_else(|_| "\"\"".into()),
        Err(_) => "\"\"".into(),
    }
}

/// serde_json's pretty formatter, escaping what [`is_dangerous`] names inside strings.
struct Inert(PrettyFormatter<'static>);

impl Formatter for Inert {
    fn write_string_fragment<W: ?Sized + Write>(
        &mut self,
        w: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        let mut start = 0;
        for (i, c) in fragment.char_indices() {
            if is_dangerous(c) {
                w.write_all(&fragment.as_bytes()[start..i])?;
                // Every such character is in the Basic Multilingual Plane: one escape.
                write!(w, "\\u{:04x}", u32::from(c))?;
                start = i + c.len_utf8();
            }
        }
        w.write_all(&fragment.as_bytes()[start..])
    }

    fn begin_array<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_array(w)
    }

    fn end_array<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_array(w)
    }

    fn begin_array_value<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        self.0.begin_array_value(w, first)
    }

    fn end_array_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_array_value(w)
    }

    fn begin_object<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_object(w)
    }

    fn end_object<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_object(w)
    }

    fn begin_object_key<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        self.0.begin_object_key(w, first)
    }

    fn begin_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_object_value(w)
    }

    fn end_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_object_value(w)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dangerous_characters_are_escaped_but_the_data_is_kept() {
        let value = serde_json::json!({ "s": "a\u{9b}2J\u{202e}b\x1b\u{7f}é\n" });
        let mut out = Vec::new();
        assert!(write_pretty(&value, &mut out).is_ok());
        let text = String::from_utf8(out).unwrap_or_default();
        assert_eq!(
            text,
            "{\n  \"s\": \"a\\u009b2J\\u202eb\\u001b\\u007fé\\n\"\n}\n"
        );
        let back: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        assert_eq!(back, value);
        let one = inert_string("web\u{202e}\u{9b}\"x");
        assert_eq!(one, "\"web\\u202e\\u009b\\\"x\"");
        assert_eq!(
            serde_json::from_str::<String>(&one).unwrap_or_default(),
            "web\u{202e}\u{9b}\"x"
        );
    }
}
