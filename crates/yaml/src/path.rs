//! Field paths such as `spec.template.spec.containers[1].image`: the one syntax imagegate writes
//! them in (findings, origins, provenance markers) and reads them back in
//! ([`Node::at_path`](crate::Node::at_path), `customImageFields` in the configuration).
//!
//! - A mapping key is `.key`, or `["key"]` when the plain form would be ambiguous or unreadable:
//!   the key is empty, or holds a dot, a bracket, a quote, a backslash, whitespace or a control
//!   character (annotation keys such as `helm.sh/hook`). Inside the quotes `"` and `\` are
//!   escaped with `\`; nothing else is.
//! - A sequence index is `[n]`; `[*]` (or `[]`) stands for every item, in patterns only.
//!
//! Every path [`push_key`] and [`push_index`] write is read back by [`parse_path`] as the same
//! keys and indexes.

/// One step of a field path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathSegment {
    /// A mapping key.
    Key(String),
    /// A list index.
    Index(usize),
    /// Every item of a list (`[*]` or `[]`).
    Every,
}

/// Whether `key` must be written `["key"]`.
fn needs_quotes(key: &str) -> bool {
    key.is_empty()
        || key.chars().any(|c| {
            matches!(c, '.' | '[' | ']' | '"' | '\\') || c.is_whitespace() || c.is_control()
        })
}

/// Appends a mapping key to a path: `.key`, or `["key"]` when the plain form would be ambiguous
/// (see the module).
pub fn push_key(path: &mut String, key: &str) {
    if needs_quotes(key) {
        path.push_str("[\"");
        for c in key.chars() {
            if matches!(c, '"' | '\\') {
                path.push('\\');
            }
            path.push(c);
        }
        path.push_str("\"]");
    } else {
        if !path.is_empty() {
            path.push('.');
        }
        path.push_str(key);
    }
}

/// Appends a sequence index: `[n]`.
pub fn push_index(path: &mut String, index: usize) {
    use std::fmt::Write as _;
    // Writing to a String cannot fail.
    let _ = write!(path, "[{index}]");
}

/// `base` joined with one key.
pub fn join(base: &str, key: &str) -> String {
    let mut path = String::with_capacity(base.len() + key.len() + 1);
    path.push_str(base);
    push_key(&mut path, key);
    path
}

/// The path of `segments` (the inverse of [`parse_path`]).
pub fn write_path<'a>(segments: impl IntoIterator<Item = &'a PathSegment>) -> String {
    let mut path = String::new();
    for segment in segments {
        match segment {
            PathSegment::Key(key) => push_key(&mut path, key),
            PathSegment::Index(i) => push_index(&mut path, *i),
            PathSegment::Every => path.push_str("[*]"),
        }
    }
    path
}

/// The last mapping key of a path (`spec.containers[0].image` → `image`,
/// `metadata.annotations["helm.sh/hook"]` → `helm.sh/hook`); `None` when the path does not parse
/// or holds no key.
pub fn last_key(path: &str) -> Option<String> {
    parse_path(path)?.into_iter().rev().find_map(|s| match s {
        PathSegment::Key(k) => Some(k),
        _ => None,
    })
}

/// Parses a field path (`spec.steps[*].image`, `metadata["helm.sh/hook"]`); `None` when it is
/// not one: empty, an empty or whitespace-holding plain key, an unclosed bracket, a bracket that
/// holds neither a number, `*`, nothing nor a quoted key.
pub fn parse_path(path: &str) -> Option<Vec<PathSegment>> {
    let mut out = Vec::new();
    let mut rest = path;
    let mut first = true;
    if path.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('[') {
            if let Some(quoted) = after.strip_prefix('"') {
                let (key, len) = parse_quoted(quoted)?;
                rest = quoted[len..].strip_prefix(']')?;
                out.push(PathSegment::Key(key));
            } else {
                let close = after.find(']')?;
                let inside = &after[..close];
                out.push(match inside {
                    "" | "*" => PathSegment::Every,
                    n => PathSegment::Index(n.parse().ok()?),
                });
                rest = &after[close + 1..];
            }
        } else {
            if !first {
                rest = rest.strip_prefix('.')?;
            }
            let end = rest.find(['.', '[']).unwrap_or(rest.len());
            if end == 0 || rest[..end].contains(char::is_whitespace) {
                return None;
            }
            out.push(PathSegment::Key(rest[..end].to_string()));
            rest = &rest[end..];
        }
        first = false;
    }
    Some(out)
}

/// Reads a `"`-terminated key (the opening quote already consumed). Returns the key and the
/// number of bytes consumed including the closing quote.
fn parse_quoted(s: &str) -> Option<(String, usize)> {
    let mut key = String::new();
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((key, i + 1)),
            '\\' => key.push(chars.next()?.1),
            c => key.push(c),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_indexes() {
        let mut p = String::new();
        push_key(&mut p, "spec");
        push_key(&mut p, "containers");
        push_index(&mut p, 1);
        push_key(&mut p, "image");
        assert_eq!(p, "spec.containers[1].image");
        let mut p = String::from("metadata.annotations");
        push_key(&mut p, "helm.sh/hook");
        assert_eq!(p, "metadata.annotations[\"helm.sh/hook\"]");
        assert_eq!(join("", "a\"b"), "[\"a\\\"b\"]");
        assert_eq!(join("a", ""), "a[\"\"]");
        assert_eq!(join("a", "x y"), "a[\"x y\"]");
        assert_eq!(last_key("a[\"x.y\"][0]").as_deref(), Some("x.y"));
        assert_eq!(last_key("spec.image").as_deref(), Some("image"));
        assert_eq!(last_key("[0]"), None);
    }

    #[test]
    fn every_written_path_reads_back_as_its_segments() {
        let keys = [
            "image",
            "",
            "a.b",
            "[0]",
            "x\"y",
            "back\\slash",
            "new\nline",
            "tab\t",
            " lead",
            "ключ",
            "*",
            "]",
        ];
        for k in keys {
            for k2 in keys {
                let segments = vec![
                    PathSegment::Key(k.to_string()),
                    PathSegment::Index(3),
                    PathSegment::Key(k2.to_string()),
                ];
                let written = write_path(&segments);
                assert_eq!(parse_path(&written), Some(segments), "{written:?}");
            }
        }
    }

    #[test]
    fn malformed_paths_do_not_parse() {
        for p in ["", ".a", "a..b", "a[", "a[x]", "a[\"x]", "a b", "a.[0]"] {
            assert_eq!(parse_path(p), None, "{p:?}");
        }
        assert_eq!(
            parse_path("spec.steps[*].image"),
            Some(vec![
                PathSegment::Key("spec".into()),
                PathSegment::Key("steps".into()),
                PathSegment::Every,
                PathSegment::Key("image".into()),
            ])
        );
    }
}
