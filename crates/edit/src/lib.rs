//! Span edits of YAML values files, for `imagegate promote`: replace one scalar's text at its
//! exact byte span, or add one key path to a mapping, and keep every other byte of the file
//! (comments, quoting, key order, indentation). The file is never re-serialised.
//!
//! Every edit is checked after it is made: the edited text is parsed again and must give the old
//! values with exactly the edited value changed, or the edit is refused. What cannot be edited
//! that way is refused with a message that says why and what to do: block scalars (`|`, `>`),
//! flow collections on the way to an added key, values reached through a merge key (`<<`), and
//! anchors or aliases that other places of the file also read.

#![warn(clippy::print_stdout, clippy::print_stderr)]

use imagegate_yaml::{Limits, PathSegment};
use saphyr_parser::{Event, Parser, ScalarStyle as Style};
use std::collections::HashMap;

/// Why an edit was refused. `line` is 1-based in the file edited (0: the file as a whole).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct EditError {
    /// What stops the edit, and what to do instead.
    pub message: String,
    /// Where.
    pub line: u32,
}

impl EditError {
    fn at(line: u32, message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            line,
        }
    }
}

/// How an edit was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum How {
    /// The scalar at the key path was rewritten in place, in its own quoting style.
    Replaced,
    /// The scalar was rewritten, but its style could not hold the new value (a plain scalar that
    /// would read as a number, say): it is double-quoted now.
    Requoted,
    /// The key path's value is an alias; its anchor, which nothing else reads, was rewritten.
    AtAnchor,
    /// The key path was missing and was added, with the mappings it needed.
    Inserted,
}

/// An edited file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edited {
    /// The whole new text.
    pub text: String,
    /// The 1-based line of the new value in `text`.
    pub line: u32,
    /// How.
    pub how: How,
}

/// Sets the string at key path `path` of the values file `text` to `value`: in place when the
/// file writes that key ([`replace`]), else added ([`insert`]).
///
/// # Errors
/// An [`EditError`] when the file is not valid YAML or the edit would change more than that value.
pub fn set(text: &str, path: &[PathSegment], value: &str) -> Result<Edited, EditError> {
    let doc = Doc::parse(text)?;
    match doc.find(path)? {
        Found::Node(_) => replace(text, path, value),
        Found::Missing { .. } => insert(text, path, value),
    }
}

/// Replaces the scalar at key path `path` with the string `value`, in the scalar's own quoting
/// style (plain stays plain when the value reads as the same string unquoted, else it is
/// double-quoted).
///
/// # Errors
/// An [`EditError`] when the path is missing, is not a scalar, is a block scalar, is reached
/// through a merge key, or shares its text with other places through an anchor.
pub fn replace(text: &str, path: &[PathSegment], value: &str) -> Result<Edited, EditError> {
    let doc = Doc::parse(text)?;
    let shown = show(path);
    let node = match doc.find(path)? {
        Found::Node(n) => n,
        Found::Missing { line, .. } => {
            return Err(EditError::at(
                line,
                format!("the file does not write `{shown}`: nothing to replace"),
            ))
        }
    };
    let (target, how) = match &node.kind {
        Kind::Alias(id) => {
            let anchor = doc.anchors.get(id).copied().ok_or_else(|| {
                EditError::at(
                    node.line,
                    format!("`{shown}` is an alias of an unknown anchor"),
                )
            })?;
            let uses = doc.aliases.get(id).map_or(0, Vec::len);
            if uses > 1 {
                return Err(EditError::at(
                    node.line,
                    format!(
                        "`{shown}` is an alias of the anchor at line {}, which {} other alias(es) \
                         also read (lines {}): editing the anchor would change them too; write \
                         the value at `{shown}` instead of the alias, then run again",
                        doc.nodes[anchor].line,
                        uses - 1,
                        lines(doc.aliases[id].iter().filter(|l| **l != node.line)),
                    ),
                ));
            }
            (&doc.nodes[anchor], How::AtAnchor)
        }
        _ => {
            if node.anchor != 0 {
                if let Some(uses) = doc.aliases.get(&node.anchor).filter(|u| !u.is_empty()) {
                    return Err(EditError::at(
                        node.line,
                        format!(
                            "`{shown}` carries an anchor that {} alias(es) also read (lines {}): \
                             editing it would change them too; give them their own values, or \
                             edit the anchor by hand",
                            uses.len(),
                            lines(uses.iter()),
                        ),
                    ));
                }
            }
            (node, How::Replaced)
        }
    };
    let Kind::Scalar { style, .. } = &target.kind else {
        return Err(EditError::at(
            target.line,
            format!("`{shown}` is a mapping or a list, not one value: nothing to replace"),
        ));
    };
    let (written, requoted) = match style {
        Style::Literal | Style::Folded => {
            return Err(EditError::at(
                target.line,
                format!(
                    "`{shown}` is a block scalar (`|` or `>`): it is not rewritten in place; \
                     write it as a one-line value, then run again"
                ),
            ))
        }
        Style::SingleQuoted if !value.contains(['\n', '\r']) => {
            (format!("'{}'", value.replace('\'', "''")), false)
        }
        Style::Plain if plain_reads_as(value, target.flow_context) => (value.to_owned(), false),
        Style::Plain => (double_quoted(value), true),
        _ => (double_quoted(value), false),
    };
    let mut out = String::with_capacity(text.len() + written.len());
    out.push_str(&text[..target.start]);
    out.push_str(&written);
    out.push_str(&text[target.end..]);
    let how = if requoted && how == How::Replaced {
        How::Requoted
    } else {
        how
    };
    let edited = Edited {
        text: out,
        line: target.line,
        how,
    };
    // An anchor's edit changes the value at the anchor's own key too.
    let mut expected = doc.json.clone();
    set_json(&mut expected, path, value);
    if how == How::AtAnchor {
        if let Some(anchor_path) = doc.path_of(target) {
            set_json(&mut expected, &anchor_path, value);
        }
    }
    verify(&edited.text, &expected, &shown)?;
    Ok(edited)
}

/// Adds key path `path`, set to the string `value`, to the values file `text`: under the deepest
/// mapping of the path the file already writes, at its end, with the mappings still missing,
/// indented as the file indents. An empty (or comment-only) file gets the path at its end.
///
/// # Errors
/// An [`EditError`] when the file already writes the path, when a part of it is not a block
/// mapping (a value, a list, a flow mapping, an alias), or when the mapping it would go into has
/// a merge key (`<<`, whose merged keys the new one could hide).
pub fn insert(text: &str, path: &[PathSegment], value: &str) -> Result<Edited, EditError> {
    let doc = Doc::parse(text)?;
    let shown = show(path);
    let keys: Vec<&str> = path
        .iter()
        .map(|s| match s {
            PathSegment::Key(k) => Ok(k.as_str()),
            _ => Err(EditError::at(
                0,
                format!("`{shown}` goes through a list: a list item is not added, only keys"),
            )),
        })
        .collect::<Result<_, _>>()?;
    if keys.is_empty() {
        return Err(EditError::at(0, "an empty key path"));
    }
    let (parent, depth) = match doc.find(path)? {
        Found::Node(n) => {
            return Err(EditError::at(
                n.line,
                format!("the file already writes `{shown}`: replace it instead"),
            ))
        }
        Found::Missing { parent, depth, .. } => (parent, depth),
    };
    let step = doc.indent_step();
    let (at, indent) = match parent {
        None => {
            // An empty document: the path starts at column 0, at the end of the file.
            (text.len(), 0)
        }
        Some(p) => {
            let node = &doc.nodes[p];
            let Kind::Map(entries) = &node.kind else {
                unreachable_kind()?
            };
            if node.flow {
                return Err(EditError::at(
                    node.line,
                    format!(
                        "`{}` is a flow mapping (`{{…}}`): a key is not added to it; write it as \
                         a block mapping, then run again",
                        show(&path[..depth])
                    ),
                ));
            }
            if entries.iter().any(|(k, _)| doc.key_text(*k) == Some("<<")) {
                return Err(EditError::at(
                    node.line,
                    format!(
                        "the mapping that `{shown}` would go into has a merge key (`<<`): a new \
                         key there could hide what it merges; add the key by hand"
                    ),
                ));
            }
            let first = entries
                .first()
                .map(|(k, _)| &doc.nodes[*k])
                .ok_or_else(|| EditError::at(node.line, "an empty mapping: add the key by hand"))?;
            (line_end(text, node.end), first.col)
        }
    };
    let mut block = String::new();
    for (i, key) in keys.iter().enumerate().skip(depth) {
        let pad = " ".repeat(indent + step * (i - depth));
        block.push_str(&pad);
        block.push_str(&key_written(key));
        block.push(':');
        if i + 1 == keys.len() {
            block.push(' ');
            if plain_reads_as(value, false) {
                block.push_str(value);
            } else {
                block.push_str(&double_quoted(value));
            }
        }
        block.push('\n');
    }
    let mut out = String::with_capacity(text.len() + block.len() + 1);
    out.push_str(&text[..at]);
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    let line = u32::try_from(out.matches('\n').count() + keys.len() - depth).unwrap_or(u32::MAX);
    out.push_str(&block);
    out.push_str(&text[at..]);
    let mut expected = doc.json.clone();
    set_json(&mut expected, path, value);
    verify(&out, &expected, &shown)?;
    Ok(Edited {
        text: out,
        line,
        how: How::Inserted,
    })
}

/// A unified diff of `old` to `new`, both named `file` (`a/file`, `b/file`), three lines of
/// context; empty when they are equal.
pub fn unified_diff(file: &str, old: &str, new: &str) -> String {
    if old == new {
        return String::new();
    }
    similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(&format!("a/{file}"), &format!("b/{file}"))
        .to_string()
}

fn unreachable_kind<T>() -> Result<T, EditError> {
    Err(EditError::at(0, "a parent that is not a mapping"))
}

fn lines<'a>(it: impl Iterator<Item = &'a u32>) -> String {
    it.map(u32::to_string).collect::<Vec<_>>().join(", ")
}

fn show(path: &[PathSegment]) -> String {
    let mut s = String::new();
    for seg in path {
        match seg {
            PathSegment::Key(k) => imagegate_yaml::path::push_key(&mut s, k),
            PathSegment::Index(i) => imagegate_yaml::path::push_index(&mut s, *i),
            PathSegment::Every => s.push_str("[*]"),
        }
    }
    s
}

fn double_quoted(value: &str) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| format!("\"{value}\""))
}

/// Whether `value` written unquoted reads back as the same string (not a number, a boolean, a
/// null, a comment or a structure); inside a flow collection its indicators are refused too.
fn plain_reads_as(value: &str, in_flow: bool) -> bool {
    if value.is_empty() || value.trim() != value || value.contains(['\n', '\r', '\t']) {
        return false;
    }
    if in_flow && value.contains([',', '[', ']', '{', '}']) {
        return false;
    }
    let probe = format!("k: {value}\n");
    match imagegate_yaml::load(&probe, &Limits::default()) {
        Ok(Some(node)) => {
            node.get("k").is_some_and(|v| {
                v.as_scalar().is_some_and(|s| {
                    s.style == imagegate_yaml::ScalarStyle::Plain
                        && s.text == value
                        && matches!(s.resolve(), imagegate_yaml::Resolved::Str(_))
                })
            }) && node.as_map().is_some_and(|m| m.len() == 1)
        }
        _ => false,
    }
}

fn key_written(key: &str) -> String {
    if plain_reads_as(key, false) && !key.contains(':') && key != "<<" {
        key.to_owned()
    } else {
        double_quoted(key)
    }
}

/// The byte offset just after the end of the line holding byte `at` (the file's end when it is
/// the last line).
fn line_end(text: &str, at: usize) -> usize {
    text[at..].find('\n').map_or(text.len(), |i| at + i + 1)
}

/// Sets `path` in a JSON tree to `value`, creating mappings as needed.
fn set_json(root: &mut serde_json::Value, path: &[PathSegment], value: &str) {
    let mut cur = root;
    for seg in path {
        cur = match seg {
            PathSegment::Key(k) => {
                if !cur.is_object() {
                    *cur = serde_json::Value::Object(serde_json::Map::new());
                }
                match cur {
                    serde_json::Value::Object(m) => {
                        m.entry(k.clone()).or_insert(serde_json::Value::Null)
                    }
                    _ => return,
                }
            }
            PathSegment::Index(i) => match cur.get_mut(*i) {
                Some(v) => v,
                None => return,
            },
            PathSegment::Every => return,
        };
    }
    *cur = serde_json::Value::String(value.to_owned());
}

fn verify(text: &str, expected: &serde_json::Value, shown: &str) -> Result<(), EditError> {
    let got = imagegate_yaml::load(text, &Limits::default())
        // The error's line is one of the edited text, not of the file: name none.
        .map_err(|e| {
            EditError::at(
                0,
                format!("the edit of `{shown}` would not give valid YAML ({e}); edit it by hand"),
            )
        })?
        .map_or(serde_json::Value::Object(serde_json::Map::new()), |n| {
            n.to_json()
        });
    if &got != expected {
        return Err(EditError::at(
            0,
            format!(
                "the edit of `{shown}` would change more than that value (the file's layout is \
                 one this editor does not handle); edit it by hand"
            ),
        ));
    }
    Ok(())
}

/// One node of the event tree, with its byte span.
#[derive(Debug)]
struct Node {
    kind: Kind,
    anchor: usize,
    start: usize,
    end: usize,
    line: u32,
    /// 0-based column (characters).
    col: usize,
    /// A flow collection (`{…}`, `[…]`).
    flow: bool,
    /// Inside a flow collection.
    flow_context: bool,
}

#[derive(Debug)]
enum Kind {
    Scalar {
        text: String,
        style: Style,
    },
    Alias(usize),
    /// Key and value node indices.
    Map(Vec<(usize, usize)>),
    Seq(Vec<usize>),
}

enum Found<'a> {
    Node(&'a Node),
    /// `parent`: the deepest mapping on the path the file writes (`None`: an empty document);
    /// `depth`: how many segments of the path it covers; `line`: where.
    Missing {
        parent: Option<usize>,
        depth: usize,
        line: u32,
    },
}

/// A parsed values file: its nodes (with spans), root, anchors and aliases, and its values as
/// JSON (what helm reads).
struct Doc {
    nodes: Vec<Node>,
    root: Option<usize>,
    /// Anchor id → the anchored node.
    anchors: HashMap<usize, usize>,
    /// Anchor id → the lines of its aliases.
    aliases: HashMap<usize, Vec<u32>>,
    json: serde_json::Value,
}

struct Frame {
    node: usize,
    key: Option<usize>,
}

impl Doc {
    fn parse(text: &str) -> Result<Self, EditError> {
        // The bounded loader first: limits, one document. Its JSON, to verify edits against, is
        // taken once the keys are known to be scalars (see below).
        let loaded = imagegate_yaml::load(text, &Limits::default())
            .map_err(|e| EditError::at(e.line, e.message))?;
        let bytes = byte_offsets(text);
        let at = |i: usize| {
            bytes
                .as_ref()
                .map_or(i, |b| b.get(i).copied().unwrap_or(text.len()))
        };
        let mut nodes: Vec<Node> = Vec::new();
        let mut root = None;
        let mut stack: Vec<Frame> = Vec::new();
        let mut anchors = HashMap::new();
        let mut aliases: HashMap<usize, Vec<u32>> = HashMap::new();
        let mut flow_depth = 0usize;
        for ev in Parser::new_from_str(text) {
            let (ev, span) = ev.map_err(|e| {
                EditError::at(
                    u32::try_from(e.marker().line()).unwrap_or(0),
                    e.info().to_owned(),
                )
            })?;
            let start = at(span.start.index());
            let end = at(span.end.index());
            let line = u32::try_from(span.start.line()).unwrap_or(u32::MAX);
            let col = span.start.col();
            let leaf = |kind: Kind, anchor: usize| Node {
                kind,
                anchor,
                start,
                end,
                line,
                col,
                flow: false,
                flow_context: flow_depth > 0,
            };
            let made = match ev {
                Event::Scalar(v, style, anchor, tag) => {
                    let mut n = leaf(
                        Kind::Scalar {
                            text: v.into_owned(),
                            style,
                        },
                        anchor,
                    );
                    // The span starts at the node's properties (`&anchor`, `!tag`): the value
                    // itself is after them.
                    if anchor != 0 || tag.is_some() {
                        n.start = after_properties(text, n.start, n.end);
                    }
                    // The span may run on over the blanks and a comment after the value.
                    n.end = value_end(text, n.start, n.end, style);
                    Some(n)
                }
                Event::Alias(id) => {
                    aliases.entry(id).or_default().push(line);
                    Some(leaf(Kind::Alias(id), 0))
                }
                Event::MappingStart(anchor, _) | Event::SequenceStart(anchor, _) => {
                    let flow = text[start..].starts_with(['{', '[']);
                    let kind = if matches!(ev, Event::MappingStart(..)) {
                        Kind::Map(Vec::new())
                    } else {
                        Kind::Seq(Vec::new())
                    };
                    let mut n = leaf(kind, anchor);
                    n.flow = flow;
                    n.end = start;
                    if flow {
                        flow_depth += 1;
                    }
                    nodes.push(n);
                    stack.push(Frame {
                        node: nodes.len() - 1,
                        key: None,
                    });
                    None
                }
                Event::MappingEnd | Event::SequenceEnd => {
                    let frame = stack
                        .pop()
                        .ok_or_else(|| EditError::at(line, "unbalanced"))?;
                    if nodes[frame.node].flow {
                        flow_depth = flow_depth.saturating_sub(1);
                        nodes[frame.node].end = end;
                    }
                    attach(&mut nodes, &mut stack, &mut root, frame.node, &mut anchors);
                    None
                }
                _ => None,
            };
            if let Some(n) = made {
                nodes.push(n);
                let i = nodes.len() - 1;
                attach(&mut nodes, &mut stack, &mut root, i, &mut anchors);
            }
        }
        // helm reads values as JSON, whose keys are strings: a mapping or list as a key is no
        // values file (and converting nested ones takes time exponential in their depth).
        for n in &nodes {
            if let Kind::Map(entries) = &n.kind {
                if let Some((k, _)) = entries
                    .iter()
                    .find(|(k, _)| matches!(nodes[*k].kind, Kind::Map(_) | Kind::Seq(_)))
                {
                    return Err(EditError::at(
                        nodes[*k].line,
                        "a mapping key that is itself a mapping or a list: helm cannot read \
                         this file as values",
                    ));
                }
            }
        }
        let json = loaded.map_or(serde_json::Value::Object(serde_json::Map::new()), |n| {
            n.to_json()
        });
        Ok(Self {
            nodes,
            root,
            anchors,
            aliases,
            json,
        })
    }

    fn key_text(&self, key: usize) -> Option<&str> {
        match &self.nodes[key].kind {
            Kind::Scalar { text, .. } => Some(text),
            _ => None,
        }
    }

    /// The node at `path`, or where the path stops.
    fn find(&self, path: &[PathSegment]) -> Result<Found<'_>, EditError> {
        let shown = show(path);
        let Some(mut cur) = self.root else {
            return Ok(Found::Missing {
                parent: None,
                depth: 0,
                line: 1,
            });
        };
        for (depth, seg) in path.iter().enumerate() {
            let node = &self.nodes[cur];
            let next = match (&node.kind, seg) {
                (Kind::Map(entries), PathSegment::Key(k)) => {
                    let hit = entries
                        .iter()
                        .rev()
                        .find(|(key, _)| self.key_text(*key) == Some(k.as_str()));
                    match hit {
                        Some((_, v)) => *v,
                        None => {
                            if let Some((m, _)) = entries
                                .iter()
                                .find(|(key, _)| self.key_text(*key) == Some("<<"))
                            {
                                return Err(EditError::at(
                                    self.nodes[*m].line,
                                    format!(
                                        "`{shown}` is not written here but may come through the \
                                         merge key (`<<`) at line {}: edit the anchor it merges, \
                                         or write `{shown}` out by hand",
                                        self.nodes[*m].line
                                    ),
                                ));
                            }
                            return Ok(Found::Missing {
                                parent: Some(cur),
                                depth,
                                line: node.line,
                            });
                        }
                    }
                }
                (Kind::Seq(items), PathSegment::Index(i)) => match items.get(*i) {
                    Some(v) => *v,
                    None => {
                        return Err(EditError::at(
                            node.line,
                            format!("`{shown}`: the list has no item {i}"),
                        ))
                    }
                },
                (Kind::Alias(_), _) => {
                    return Err(EditError::at(
                        node.line,
                        format!(
                            "`{}` is an alias: `{shown}` would be edited through its anchor, \
                             which other places may read; write it out, then run again",
                            show(&path[..depth])
                        ),
                    ))
                }
                _ => {
                    return Err(EditError::at(
                        node.line,
                        format!(
                            "`{}` is not a mapping that can hold `{shown}`",
                            if depth == 0 {
                                "the document".to_owned()
                            } else {
                                format!("`{}`", show(&path[..depth]))
                            }
                        ),
                    ))
                }
            };
            cur = next;
        }
        Ok(Found::Node(&self.nodes[cur]))
    }

    /// The key path of a node (for an anchor's own key), when it is under mappings and lists.
    fn path_of(&self, target: &Node) -> Option<Vec<PathSegment>> {
        let want = self.nodes.iter().position(|n| std::ptr::eq(n, target))?;
        let mut path = Vec::new();
        self.path_to(self.root?, want, &mut path).then_some(path)
    }

    fn path_to(&self, at: usize, want: usize, path: &mut Vec<PathSegment>) -> bool {
        if at == want {
            return true;
        }
        match &self.nodes[at].kind {
            Kind::Map(entries) => {
                for (k, v) in entries {
                    let Some(key) = self.key_text(*k) else {
                        continue;
                    };
                    path.push(PathSegment::Key(key.to_owned()));
                    if self.path_to(*v, want, path) {
                        return true;
                    }
                    path.pop();
                }
                false
            }
            Kind::Seq(items) => {
                for (i, v) in items.iter().enumerate() {
                    path.push(PathSegment::Index(i));
                    if self.path_to(*v, want, path) {
                        return true;
                    }
                    path.pop();
                }
                false
            }
            _ => false,
        }
    }

    /// How many columns a nested block mapping is indented by in this file (2 when none is).
    fn indent_step(&self) -> usize {
        for n in &self.nodes {
            let Kind::Map(entries) = &n.kind else {
                continue;
            };
            if n.flow {
                continue;
            }
            for (k, v) in entries {
                let (k, v) = (&self.nodes[*k], &self.nodes[*v]);
                if let Kind::Map(inner) = &v.kind {
                    if let Some((ik, _)) = inner.first() {
                        let ik = &self.nodes[*ik];
                        if !v.flow && ik.col > k.col {
                            return ik.col - k.col;
                        }
                    }
                }
            }
        }
        2
    }
}

/// Adds finished node `i` to the collection on top of `stack` (or makes it the root), and carries
/// its end to the collections around it.
fn attach(
    nodes: &mut [Node],
    stack: &mut [Frame],
    root: &mut Option<usize>,
    i: usize,
    anchors: &mut HashMap<usize, usize>,
) {
    if nodes[i].anchor != 0 {
        anchors.insert(nodes[i].anchor, i);
    }
    let end = nodes[i].end;
    let Some(top) = stack.last_mut() else {
        root.get_or_insert(i);
        return;
    };
    let parent = top.node;
    match &mut nodes[parent].kind {
        Kind::Map(entries) => match top.key.take() {
            None => top.key = Some(i),
            Some(k) => entries.push((k, i)),
        },
        Kind::Seq(items) => items.push(i),
        _ => {}
    }
    if !nodes[parent].flow {
        nodes[parent].end = nodes[parent].end.max(end);
    }
    // A block collection ends where its last content ends; carry that up.
    for f in stack.iter().rev().skip(1) {
        if nodes[f.node].flow {
            break;
        }
        nodes[f.node].end = nodes[f.node].end.max(end);
    }
}

/// The first byte after the `&anchor` and `!tag` properties that open the span `start..end`.
fn after_properties(text: &str, mut start: usize, end: usize) -> usize {
    while start < end && text[start..].starts_with(['&', '!']) {
        let token = text[start..end]
            .find(char::is_whitespace)
            .map_or(end, |i| start + i);
        let rest = &text[token..end];
        start = end - rest.trim_start().len();
    }
    start
}

/// Where the scalar that starts at `start` ends: after its closing quote for a quoted one; for
/// a plain one before the blanks and any comment after it (a plain scalar holds no ` #`).
fn value_end(text: &str, start: usize, end: usize, style: Style) -> usize {
    let span = &text[start..end];
    let closing = |quote: u8| -> Option<usize> {
        let b = span.as_bytes();
        let mut i = 1;
        while i < b.len() {
            match b[i] {
                b'\\' if quote == b'"' => i += 2,
                q if q == quote => {
                    if quote == b'\'' && b.get(i + 1) == Some(&b'\'') {
                        i += 2;
                    } else {
                        return Some(i + 1);
                    }
                }
                _ => i += 1,
            }
        }
        None
    };
    match style {
        Style::SingleQuoted => closing(b'\'').map_or(end, |n| start + n),
        Style::DoubleQuoted => closing(b'"').map_or(end, |n| start + n),
        Style::Plain => {
            let cut = span
                .find(" #")
                .or_else(|| span.find("\t#"))
                .unwrap_or(span.len());
            start + span[..cut].trim_end().len()
        }
        _ => end,
    }
}

/// Character index → byte offset, when the text is not ASCII (saphyr counts characters).
fn byte_offsets(text: &str) -> Option<Vec<usize>> {
    if text.is_ascii() {
        return None;
    }
    let mut v: Vec<usize> = text.char_indices().map(|(b, _)| b).collect();
    v.push(text.len());
    Some(v)
}

#[cfg(test)]
mod tests;
