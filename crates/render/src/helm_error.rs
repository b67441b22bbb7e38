//! Where helm's error message says a render failed: the template, and its line and column when
//! the message names a line of the template.
//!
//! helm writes the place in several shapes, and Helm 4 changed one of them:
//!
//! - `template: web/templates/x.yaml:12:34: executing "…" at <…>: …` (Helm 3), or the same
//!   place first on its own line, `web/templates/x.yaml:12:34` then `  executing …` (Helm 4);
//! - `execution error at (web/templates/x.yaml:9:4): <message of fail or required>`;
//! - `parse error at (web/templates/x.yaml:5): …`, and for an unclosed action
//!   `… unclosed action started at web/templates/x.yaml:2`: the action starts there;
//! - `YAML parse error on web/templates/x.yaml: error converting YAML to JSON: yaml: line 7: …`,
//!   where line 7 is a line of the template's *rendered output*, not of the template;
//! - subcharts as `web/charts/sub/templates/…`, folders and vendored `.tgz` archives alike.
//!
//! An `include` chain names each template it passes through, the innermost (where the error is)
//! last. A `tpl` call names the template that calls it, then places in the text it renders
//! (`gotpl:2:10`, or the caller's own name with the text's line numbers): only the place before
//! `error calling tpl` is a line of a file. The message of `fail` and `required` is the chart's
//! own text and may look like a place: nothing after `execution error at (…)` is read.
//!
//! Columns are as Go's `text/template` writes them: the byte offset in the line, from 0.

use regex::Regex;
use std::sync::LazyLock;

/// A place in a template as helm's message names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorSite {
    /// The template as helm names it: `<chart>/templates/…` or `<chart>/charts/<sub>/templates/…`.
    pub template: String,
    /// 1-based line of the template, when the message names one.
    pub line: Option<u32>,
    /// Byte offset in that line, from 0, when the message names one.
    pub byte_column: Option<u32>,
    /// For a YAML error, the 1-based line of the template's rendered output helm names.
    pub rendered_line: Option<u32>,
}

/// A template path and line (and column), as helm prints them. Template paths always pass
/// through a `templates/` folder, which keeps text that merely has a colon and digits out.
static PLACE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?P<file>[^\s:()"<>,]+/templates/[^\s:()"<>,]+):(?P<line>\d+)(?::(?P<col>\d+))?"#)
        .expect("valid regex")
});

/// `execution error at (PLACE):`, the shape of `fail` and `required`.
static EXECUTION: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"execution error at \((?P<place>[^)]*)\):").expect("valid regex"));

/// `YAML parse error on FILE: …`, optionally with `yaml: line N` on the same line.
static YAML: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"YAML parse error on (?P<file>[^\s:]+/templates/[^\s:]+):(?P<rest>[^\n]*)")
        .expect("valid regex")
});

static YAML_LINE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"yaml: line (?P<line>\d+)").expect("valid regex"));

/// Where helm's error `message` says the render failed, or `None` for a message in a shape this
/// does not know (then nothing is guessed).
pub fn error_site(message: &str) -> Option<ErrorSite> {
    // Only what comes before a `tpl` call's own error is a place in a file.
    let message = message
        .split_once("error calling tpl")
        .map_or(message, |(before, _)| before);
    if let Some(c) = YAML.captures(message) {
        let rendered_line = YAML_LINE
            .captures(&c["rest"])
            .and_then(|l| l["line"].parse().ok());
        return Some(ErrorSite {
            template: c["file"].to_owned(),
            line: None,
            byte_column: None,
            rendered_line,
        });
    }
    if let Some(c) = EXECUTION.captures(message) {
        // The chart's own message follows: never read a place from it.
        return place(&c["place"])
            .filter(|(m, _)| m.start() == 0)
            .map(|(_, s)| s);
    }
    PLACE.captures_iter(message).last().and_then(|c| {
        let whole = c.get(0)?;
        place(whole.as_str()).map(|(_, s)| s)
    })
}

/// The first place in `text`, with where it matched.
fn place(text: &str) -> Option<(regex::Match<'_>, ErrorSite)> {
    let c = PLACE.captures(text)?;
    let line = c["line"].parse().ok().filter(|l| *l > 0)?;
    Some((
        c.get(0)?,
        ErrorSite {
            template: c["file"].to_owned(),
            line: Some(line),
            byte_column: c.name("col").and_then(|m| m.as_str().parse().ok()),
            rendered_line: None,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site(line: Option<u32>, col: Option<u32>, template: &str) -> Option<ErrorSite> {
        Some(ErrorSite {
            template: template.into(),
            line,
            byte_column: col,
            rendered_line: None,
        })
    }

    /// Messages as Helm 3.17 and 4.1 print them (the differential tests render each shape with
    /// the real helm and check the line it names).
    #[test]
    fn every_shape_helm_prints() {
        let cases = [
            (
                "Error: template: web/templates/exec.yaml:5:18: executing \"web/templates/exec.yaml\" at <.Values.nope.deeper>: nil pointer evaluating interface {}.deeper\n\nUse --debug flag to render out invalid YAML",
                site(Some(5), Some(18), "web/templates/exec.yaml"),
            ),
            (
                "Error: web/templates/exec.yaml:5:18\n  executing \"web/templates/exec.yaml\" at <.Values.nope.deeper>:\n    nil pointer evaluating interface {}.deeper",
                site(Some(5), Some(18), "web/templates/exec.yaml"),
            ),
            (
                "Error: execution error at (web/templates/fail.yaml:5:8): need x",
                site(Some(5), Some(8), "web/templates/fail.yaml"),
            ),
            (
                "Error: template: web/templates/incl.yaml:4:8: executing \"web/templates/incl.yaml\" at <include \"web.img\" .>: error calling include: template: web/templates/_helpers.tpl:2:10: executing \"web.img\" at <.Values.a.b.c>: nil pointer",
                site(Some(2), Some(10), "web/templates/_helpers.tpl"),
            ),
            (
                "Error: web/templates/incl.yaml:4:8\n  executing \"web/templates/incl.yaml\" at <include \"web.img\" .>:\n    error calling include:\nweb/templates/_helpers.tpl:2:10\n  executing \"web.img\" at <.Values.a.b.c>:\n    nil pointer",
                site(Some(2), Some(10), "web/templates/_helpers.tpl"),
            ),
            (
                "Error: template: web/templates/tpl.yaml:4:8: executing \"web/templates/tpl.yaml\" at <tpl .Values.tpl .>: error calling tpl: error during tpl function execution for \"a\": template: web/templates/tpl.yaml:2:10: executing",
                site(Some(4), Some(8), "web/templates/tpl.yaml"),
            ),
            (
                "Error: parse error at (par/templates/bad.yaml:4): function \"foo\" not defined",
                site(Some(4), None, "par/templates/bad.yaml"),
            ),
            (
                "Error: parse error at (r/templates/un.yaml:3): unclosed action started at r/templates/un.yaml:2",
                site(Some(2), None, "r/templates/un.yaml"),
            ),
            (
                "Error: execution error at (q/charts/sub/templates/s.yaml:4:8): sub broke",
                site(Some(4), Some(8), "q/charts/sub/templates/s.yaml"),
            ),
        ];
        for (message, want) in cases {
            assert_eq!(error_site(message), want, "{message}");
        }
    }

    #[test]
    fn a_yaml_error_names_the_file_and_a_rendered_line() {
        let got = error_site(
            "Error: YAML parse error on web/templates/yaml.yaml: error converting YAML to JSON: yaml: line 3: did not find expected key",
        );
        assert_eq!(
            got,
            Some(ErrorSite {
                template: "web/templates/yaml.yaml".into(),
                line: None,
                byte_column: None,
                rendered_line: Some(3),
            })
        );
        let no_line = error_site(
            "Error: YAML parse error on web/templates/y.yaml: error unmarshaling JSON: x",
        );
        assert_eq!(
            no_line.map(|s| (s.line, s.rendered_line)),
            Some((None, None))
        );
    }

    #[test]
    fn the_charts_own_message_is_never_read_as_a_place() {
        let got = error_site(
            "Error: execution error at (web/templates/fail.yaml:5:8): see other/templates/x.yaml:99:1",
        );
        assert_eq!(got, site(Some(5), Some(8), "web/templates/fail.yaml"));
        // A `fail` message without a place of its own names none.
        assert_eq!(
            error_site("Error: execution error at (gotpl:1:3): x/templates/y.yaml:4"),
            None
        );
    }

    #[test]
    fn unknown_shapes_name_nothing() {
        for message in [
            "",
            "Error: non-absolute URLs should be in form of repo_name/path_to_chart, got: nonexist",
            "Error: Chart.yaml file is missing",
            "helm timed out after 60s",
            "Error: template: gotpl:2:10: executing \"gotpl\"",
            "Error: x/templates/y.yaml:0:3 line zero",
        ] {
            assert_eq!(error_site(message), None, "{message}");
        }
    }
}

#[cfg(test)]
mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Any text: no panic, and a place named is a template path with a real line.
        #[test]
        fn any_message_gives_a_template_or_nothing(
            message in "(Error: |template: |execution error at \\(|parse error at \\(|YAML parse error on |[a-z]{1,3}/templates/[a-z]{1,3}\\.yaml|:|[0-9]{1,12}|\\)|error calling tpl|yaml: line |\n| )*"
        ) {
            if let Some(site) = error_site(&message) {
                prop_assert!(site.template.contains("/templates/"), "{site:?}");
                prop_assert!(site.line.is_none_or(|l| l > 0), "{site:?}");
            }
        }
    }
}
