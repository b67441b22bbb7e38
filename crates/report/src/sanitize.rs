//! Making text that a chart controls safe to show.
//!
//! Messages, image strings, object names and helm's errors all come from the repository being
//! checked, which may be an untrusted pull request. Printed raw to a terminal, an ESC sequence
//! could recolour, move the cursor, retitle the window or hide lines; a bidirectional override
//! could make a line read differently than it is. So every such string is passed through here
//! before any format writes it, and each control character is shown as a visible escape.

use std::borrow::Cow;
use std::fmt::Write as _;

/// Whether a newline in the input is kept (a multi-line block such as helm's error) or escaped
/// (a one-line field, where a newline could forge a fake line of output).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Newlines {
    /// Keep `\n` (a `\r\n` pair becomes `\n`).
    Keep,
    /// Show `\n` as the two characters `\n`.
    Escape,
}

/// True for characters that change how surrounding text is displayed rather than being text:
/// C0 and C1 controls, DEL, and the Unicode bidirectional and line-separator controls.
pub(crate) fn is_dangerous(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
                | '\u{2028}' | '\u{2029}'
        )
}

/// `text` with every control character except tab (and newline, with [`Newlines::Keep`])
/// replaced by a visible escape such as `\x1b` or `\u{202e}`.
pub(crate) fn escape_controls(text: &str, newlines: Newlines) -> Cow<'_, str> {
    let keep = |c: char| c == '\t' || (c == '\n' && newlines == Newlines::Keep);
    if !text.chars().any(|c| is_dangerous(c) && !keep(c)) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\r' && newlines == Newlines::Keep && chars.peek() == Some(&'\n') {
            continue;
        }
        if !is_dangerous(c) || keep(c) {
            out.push(c);
        } else if c == '\n' {
            out.push_str("\\n");
        } else if c == '\r' {
            out.push_str("\\r");
        } else if u32::from(c) <= 0xff {
            let _ = write!(out, "\\x{:02x}", u32::from(c));
        } else {
            let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
        }
    }
    Cow::Owned(out)
}

/// A one-line field made safe: every control character, newline included, escaped.
pub(crate) fn one_line(text: &str) -> Cow<'_, str> {
    escape_controls(text, Newlines::Escape)
}

/// A multi-line block made safe: newlines and tabs kept, every other control escaped.
pub(crate) fn block(text: &str) -> Cow<'_, str> {
    escape_controls(text, Newlines::Keep)
}

/// A field printed on a terminal line (stdout tables, stderr messages): every control,
/// newline and bidirectional override included, shown as a visible escape.
pub fn terminal_line(text: &str) -> String {
    one_line(text).into_owned()
}

/// A message printed on stderr, whose own lines are kept: controls and bidirectional overrides
/// escaped, and a line that would start a CI workflow command (`::error …`, which GitHub
/// Actions runs from any line of a step's output) neutralised as `\x3a:…`. imagegate's own
/// messages never start a line with `::`, so only text from the repository is changed.
pub fn terminal_block(text: &str) -> String {
    let safe = block(text);
    if !safe.lines().any(|l| l.trim_start().starts_with("::")) {
        return safe.into_owned();
    }
    safe.split('\n')
        .map(|line| {
            let body = line.trim_start();
            if body.starts_with("::") {
                let indent = &line[..line.len() - body.len()];
                format!("{indent}\\x3a{}", &body[1..])
            } else {
                line.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The longest prefix of `s` of at most `max` bytes that ends at a line end (its `\n` kept),
/// or, when the first line is longer, cut at the last character boundary; true when something
/// was cut. Bounded output (diffs, comments, helm's messages) is cut with this, so it never ends
/// in half a character.
pub fn cut_at_line(s: &str, max: usize) -> (&str, bool) {
    if s.len() <= max {
        return (s, false);
    }
    let mut boundary = max;
    while !s.is_char_boundary(boundary) {
        boundary -= 1;
    }
    let end = s[..boundary].rfind('\n').map_or(boundary, |i| i + 1);
    (&s[..end], true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_borrowed() {
        assert!(matches!(one_line("nginx:1.27"), Cow::Borrowed(_)));
        assert!(matches!(block("a\n\tb"), Cow::Borrowed(_)));
    }

    #[test]
    fn escape_sequences_become_visible() {
        assert_eq!(one_line("a\x1b[31mred\x1b[0m"), "a\\x1b[31mred\\x1b[0m");
        assert_eq!(
            one_line("bell\x07 nul\0 del\x7f"),
            "bell\\x07 nul\\x00 del\\x7f"
        );
        // C1 CSI, the one-character form of ESC [.
        assert_eq!(one_line("x\u{9b}2J"), "x\\x9b2J");
        // OSC 8 hyperlink / window title, terminated by BEL.
        assert_eq!(one_line("\x1b]0;pwned\x07"), "\\x1b]0;pwned\\x07");
    }

    #[test]
    fn newlines_depend_on_the_field() {
        assert_eq!(one_line("a\nb\r\nc\td"), "a\\nb\\r\\nc\td");
        assert_eq!(block("a\nb\r\nc\rd\te"), "a\nb\nc\\rd\te");
    }

    #[test]
    fn bidi_overrides_are_escaped() {
        assert_eq!(one_line("abc\u{202e}fed"), "abc\\u{202e}fed");
        assert_eq!(block("x\u{2066}y\u{2028}z"), "x\\u{2066}y\\u{2028}z");
    }

    #[test]
    fn other_unicode_is_untouched() {
        assert_eq!(one_line("café 日本 ✓"), "café 日本 ✓");
    }

    #[test]
    fn terminal_text_cannot_forge_workflow_commands_or_reorder_lines() {
        let forged = "environment `dev\n::error file=x::all good\n  ::add-mask::x\u{202e}`";
        let block = terminal_block(forged);
        assert!(
            !block.lines().any(|l| l.trim_start().starts_with("::")),
            "{block}"
        );
        assert!(block.contains("\\x3a:error file=x::all good"), "{block}");
        assert!(block.contains("\\u{202e}"), "{block}");
        assert_eq!(block.lines().count(), 3, "our own lines are kept");
        let line = terminal_line(forged);
        assert_eq!(line.lines().count(), 1, "{line}");
        assert!(line.contains("\\n::error"), "{line}");
        assert_eq!(terminal_block("plain\n  hint: x"), "plain\n  hint: x");
    }
}
