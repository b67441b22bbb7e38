//! Values text whose lines are the lines of the manifest it was written in.
//!
//! Inline values of an Application (`helm.values`, `helm.valuesObject`) and its parameters are
//! values layers like any file, and a finding they cause must point at the manifest's line. The
//! origin search and the marker render read a layer's text and name the line a value is on; so
//! each inline layer is written with every value on its manifest line, and its meaning unchanged.

use imagegate_yaml::{Node, Value};

/// `text` behind `line - 1` blank lines, so its first line is line `line`.
pub(crate) fn pad_to(line: u32, text: &str) -> String {
    let mut out = "\n".repeat(line.saturating_sub(1) as usize);
    out.push_str(text);
    out
}

/// YAML with the meaning of `node` (as its JSON), each key on the line it has in the manifest:
/// a mapping whose keys each start on a later line than the one before is written key by key
/// (block style), anything else (a flow collection on one line, a sequence of collections) as
/// JSON on the line it starts on. Keys and scalars are written as JSON, which YAML reads as the
/// same value, so helm sees exactly what Argo CD's `valuesObject` JSON says.
pub(crate) fn line_preserving(node: &Node) -> String {
    let mut w = Writer {
        out: String::new(),
        line: 1,
    };
    w.goto(node.line);
    if block_map(node, 0) {
        w.map(node, 0);
    } else {
        w.out.push_str(&node.to_json().to_string());
    }
    w.out.push('\n');
    w.out
}

/// Whether `node` is a mapping that can be written key by key below line `after`: non-empty,
/// its keys distinct and each on a later line than the one before.
fn block_map(node: &Node, after: u32) -> bool {
    let Some(entries) = node.as_map() else {
        return false;
    };
    let mut last = after;
    let mut keys = std::collections::HashSet::new();
    for (k, _) in entries {
        if k.line <= last || k.key_text().is_none_or(|t| !keys.insert(t.into_owned())) {
            return false;
        }
        last = k.line;
    }
    !entries.is_empty()
}

/// Whether `node` is a sequence of scalars each on a later line than the one before, below
/// line `after`.
fn block_seq(node: &Node, after: u32) -> bool {
    let Some(items) = node.as_seq() else {
        return false;
    };
    let mut last = after;
    for item in items {
        if item.line <= last || !matches!(item.value, Value::Scalar(_)) {
            return false;
        }
        last = item.line;
    }
    !items.is_empty()
}

struct Writer {
    out: String,
    line: u32,
}

impl Writer {
    /// Newlines up to line `line` (never back).
    fn goto(&mut self, line: u32) {
        while self.line < line {
            self.out.push('\n');
            self.line += 1;
        }
    }

    fn map(&mut self, node: &Node, depth: usize) {
        for (k, v) in node.as_map().unwrap_or_default() {
            if self.line == k.line && !self.out.is_empty() && !self.out.ends_with('\n') {
                // Cannot happen for a block map (its keys are on later lines); kept safe.
                self.out.push('\n');
                self.line += 1;
            }
            self.goto(k.line);
            let key = serde_json::Value::String(k.key_text().unwrap_or_default().into_owned());
            self.out.push_str(&"  ".repeat(depth));
            self.out.push_str(&format!("{key}:"));
            if block_map(v, k.line) {
                self.map(v, depth + 1);
            } else if block_seq(v, k.line) {
                for item in v.as_seq().unwrap_or_default() {
                    self.goto(item.line);
                    self.out.push_str(&"  ".repeat(depth + 1));
                    self.out.push_str(&format!("- {}", item.to_json()));
                }
            } else {
                self.out.push_str(&format!(" {}", v.to_json()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(text: &str) -> Node {
        imagegate_yaml::load(text, &imagegate_yaml::Limits::default())
            .unwrap()
            .unwrap()
    }

    /// The text means what the node means, and each value is on its line.
    #[test]
    fn values_keep_their_meaning_and_their_lines() {
        let source = "\
spec:
  helm:
    valuesObject:
      image:
        repository: ghcr.io/acme/web   # a comment
        tag: '1.10'
      flags: {a: 1, b: [x, y]}
      list:
        - one
        - 2
      items:
        - {name: a}
      empty: {}
      enabled: true
";
        let root = node(source);
        let obj = root.at_path("spec.helm.valuesObject").unwrap();
        let text = line_preserving(obj);
        let back = node(&text);
        assert_eq!(back.to_json(), obj.to_json(), "{text}");
        let src: Vec<&str> = source.lines().collect();
        let out: Vec<&str> = text.lines().collect();
        for (key, line) in [
            ("ghcr.io/acme/web", 5),
            ("1.10", 6),
            ("one", 9),
            ("true", 14),
        ] {
            assert!(src[line - 1].contains(key.trim_matches('"')), "{key}");
            assert!(out[line - 1].contains(key), "{key} on line {line}: {text}");
        }
        // `y` is YAML 1.1's true, as go-yaml v2 (and so Argo CD and helm) read it.
        assert!(
            out[6].contains(r#""flags": {"a":1,"b":["x",true]}"#),
            "{text}"
        );
    }

    #[test]
    fn a_flow_mapping_is_json_on_its_line() {
        let root = node("a: 1\nvaluesObject: {image: {tag: x}}\n");
        let text = line_preserving(root.get("valuesObject").unwrap());
        assert_eq!(text, "\n\"image\": {\"tag\":\"x\"}\n");
    }

    #[test]
    fn padding_puts_the_first_line_where_it_was() {
        assert_eq!(pad_to(3, "a: 1\n"), "\n\na: 1\n");
        assert_eq!(pad_to(1, "a: 1\n"), "a: 1\n");
    }
}
