//! A configuration error as a person reads it: the `file:line:col: message` line that editors
//! and CI logs link, the hint, then the offending line of the file with its span marked and
//! what to do (a "did you mean" for a misspelt key or name), as ruff and cargo-deny show it.
//! The snippet is rendered by `annotate-snippets`, the crate rustc and cargo use.

use annotate_snippets::{AnnotationKind, Level, Renderer, Snippet};
use imagegate_fleet::{ConfigError, Repo};

/// Longest source line shown, in characters (a minified file does not flood the terminal).
const MAX_SHOWN_LINE: usize = 240;
/// Largest file read back for its snippet.
const MAX_SNIPPET_FILE: u64 = 4 << 20;

/// `e` and every other error of its run, each rendered with its snippet (see
/// [`render_one`]), the later ones under `error:`, then how many there are and in which files
/// (`3 errors in imagegate.yaml, components/web.yaml`).
pub fn render_config_error(repo: Option<&Repo>, e: &ConfigError) -> String {
    let all = e.all();
    if all.len() == 1 {
        return render_one(repo, e);
    }
    let mut out = String::new();
    for (i, one) in all.iter().enumerate() {
        if i > 0 {
            out.push_str("\n\nerror: ");
        }
        out.push_str(render_one(repo, one).trim_end());
    }
    if let Some(summary) = e.summary() {
        out.push_str(&format!("\n\n{summary}"));
    }
    out
}

/// `e` rendered with its snippet when `repo` holds its file and the error has a line; the plain
/// message otherwise. Never fails: a file that cannot be read back only loses its snippet.
fn render_one(repo: Option<&Repo>, e: &ConfigError) -> String {
    let mut out = e.to_string();
    let suggestion = did_you_mean(&e.message);
    let Some(line) = e.line else {
        if let Some(s) = suggestion {
            out.push_str(&format!("\n  help: {s}"));
        }
        return out;
    };
    let Some(text) = repo.and_then(|r| r.read_to_string(&e.file, MAX_SNIPPET_FILE).ok()) else {
        if let Some(s) = suggestion {
            out.push_str(&format!("\n  help: {s}"));
        }
        return out;
    };
    let Some(source) = text.lines().nth(line.saturating_sub(1) as usize) else {
        return out;
    };
    let col = e.column.unwrap_or(1);
    // A place past what is shown of a long line is not marked: a snippet that points elsewhere
    // would mislead.
    if source.chars().count() > MAX_SHOWN_LINE && col as usize > MAX_SHOWN_LINE {
        return out;
    }
    let source: String = source.chars().take(MAX_SHOWN_LINE).collect();
    let span = token_span(&source, col);
    // The snippet's title says what to do: the hint is not repeated above it.
    out = format!(
        "{}",
        ConfigError {
            hint: None,
            ..e.clone()
        }
    );
    let label = suggestion.as_deref().unwrap_or("here");
    let title = match (&suggestion, &e.hint) {
        (Some(s), _) => s.clone(),
        (None, Some(h)) => h.clone(),
        (None, None) => "see docs/configuration.md".to_owned(),
    };
    let report = &[Level::HELP.primary_title(&title).element(
        Snippet::source(source.as_str())
            .line_start(line as usize)
            .path(e.file.as_str())
            .annotation(AnnotationKind::Primary.span(span).label(label)),
    )];
    out.push('\n');
    out.push_str(&Renderer::plain().render(report));
    out
}

/// The byte range of the token starting at 1-based character column `col` of `line`: up to the
/// next white space, `:` or flow punctuation (the key or scalar an error names).
fn token_span(line: &str, col: u32) -> std::ops::Range<usize> {
    let start = line
        .char_indices()
        .nth(col.saturating_sub(1) as usize)
        .map_or(line.len(), |(i, _)| i);
    let rest = &line[start..];
    // A quoted scalar is marked to its closing quote, spaces and all.
    let quoted = rest
        .chars()
        .next()
        .filter(|q| matches!(q, '"' | '\''))
        .and_then(|q| rest[1..].find(q).map(|end| end + 2));
    let len = quoted.unwrap_or_else(|| {
        rest.find(|c: char| c.is_whitespace() || matches!(c, ':' | ',' | ']' | '}'))
            .unwrap_or(rest.len())
    });
    // An empty span (at the end of the line) still marks the place.
    start..start + len.max(usize::from(start < line.len()))
}

/// "did you mean `x`?" for serde's `unknown field `y`, expected one of `a`, `b`` and
/// `unknown variant` messages, when a candidate is close.
fn did_you_mean(message: &str) -> Option<String> {
    let at = message
        .find("unknown field `")
        .map(|i| i + "unknown field `".len())
        .or_else(|| {
            message
                .find("unknown variant `")
                .map(|i| i + "unknown variant `".len())
        })?;
    let rest = &message[at..];
    let word = &rest[..rest.find('`')?];
    let expected = &rest[rest.find("expected")?..];
    let candidates: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
    if message.contains("did you mean") {
        return None;
    }
    imagegate_fleet::closest(word, &candidates).map(|c| format!("did you mean `{c}`?"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_misspelt_key_is_marked_with_the_closest_field() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("imagegate.yaml"),
            "version: 1\nhelm:\n  timeoutSecond: 120\n",
        )
        .unwrap();
        let repo = Repo::open(dir.path()).unwrap();
        let e = ConfigError::new(
            "imagegate.yaml",
            "helm: unknown field `timeoutSecond`, expected one of `kubeVersion`, `timeoutSeconds`",
        )
        .at(Some(3), Some(3));
        let shown = render_config_error(Some(&repo), &e);
        assert!(
            shown.starts_with("imagegate.yaml:3:3: helm: unknown field `timeoutSecond`"),
            "{shown}"
        );
        assert!(
            shown.contains("help: did you mean `timeoutSeconds`?"),
            "{shown}"
        );
        assert!(shown.contains("--> imagegate.yaml:3:3"), "{shown}");
        assert!(shown.contains("3 |   timeoutSecond: 120"), "{shown}");
        assert!(
            !shown.contains("hint:"),
            "the title says what to do: {shown}"
        );
        // The caret run covers the key, not the value.
        let marks = shown
            .lines()
            .find(|l| l.contains('^'))
            .unwrap_or_else(|| panic!("{shown}"));
        assert_eq!(marks.matches('^').count(), "timeoutSecond".len(), "{shown}");
        // No file to read back: the message and the suggestion still.
        let plain = render_config_error(None, &e);
        assert!(
            plain.contains("help: did you mean `timeoutSeconds`?"),
            "{plain}"
        );
        assert!(!plain.contains("-->"), "{plain}");
    }

    #[test]
    fn spans_and_suggestions_stay_inside_what_was_written() {
        assert_eq!(token_span("  key: value", 3), 2..5);
        assert_eq!(token_span("  key: value", 8), 7..12);
        assert_eq!(token_span("ab", 9), 2..2);
        assert_eq!(token_span("é: x", 1), 0..2);
        assert_eq!(token_span("name: \"web app\"", 7), 6..15);
        assert_eq!(
            did_you_mean("unknown field `zzz`, expected one of `a`, `b`"),
            None
        );
        assert_eq!(
            did_you_mean("unknown variant `sikp`, expected `skip` or `error`").as_deref(),
            Some("did you mean `skip`?")
        );
    }
}
