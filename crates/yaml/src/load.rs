//! Span-aware, bounded loading of YAML documents into a [`Node`] tree.
//!
//! The tree is built from `saphyr-parser` events with an explicit stack (no recursion over the
//! input), and every node produced — including copies made to expand aliases and to store
//! anchors — is counted against [`Limits::max_nodes`] *before* it is made, so a billion-laughs
//! document fails after a bounded amount of work.

use crate::path::{parse_path, push_index, push_key, PathSegment};
use std::borrow::Cow;
use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScanError, Span, Tag};

/// Limits that bound the work and memory of loading hostile YAML.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Maximum nesting depth of collections. It also bounds the stack used by operations that
    /// recurse over a loaded tree (`clone`, `drop`, [`Node::to_json`]), so keep it modest.
    pub max_depth: usize,
    /// Maximum number of nodes in the loaded tree, counting every alias expansion.
    pub max_nodes: usize,
    /// Maximum size of the input text in bytes.
    pub max_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_depth: 128,
            max_nodes: 2_000_000,
            max_bytes: 64 * 1024 * 1024,
        }
    }
}

/// How a scalar was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScalarStyle {
    /// Unquoted.
    Plain,
    /// `'…'`
    SingleQuoted,
    /// `"…"`
    DoubleQuoted,
    /// `|`
    Literal,
    /// `>`
    Folded,
}

/// A scalar with its raw text and style.
///
/// The tree keeps no tags: a tagged scalar is loaded as the untagged one go-yaml reads the same
/// way. `!!str 10`, `!!binary` (decoded) and unknown tags become [`ScalarStyle::DoubleQuoted`]
/// strings; `!!int "10"` and the other resolvable tags become [`ScalarStyle::Plain`].
#[derive(Debug, Clone, PartialEq)]
pub struct Scalar {
    /// The scalar's value text (after unquoting and escapes), before type resolution.
    pub text: String,
    /// How it was written.
    pub style: ScalarStyle,
}

/// A YAML value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A scalar (type resolution is done on demand).
    Scalar(Scalar),
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping, in document order.
    Map(Vec<(Node, Node)>),
}

/// A value with its 1-based position in the document text.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// The value.
    pub value: Value,
    /// 1-based line.
    pub line: u32,
    /// 1-based column.
    pub col: u32,
}

/// A YAML syntax error or a limit that was hit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} (line {line}, column {col})")]
pub struct YamlError {
    /// What went wrong.
    pub message: String,
    /// 1-based line.
    pub line: u32,
    /// 1-based column.
    pub col: u32,
}

impl YamlError {
    fn at(message: impl Into<String>, span: Span) -> Self {
        Self {
            message: message.into(),
            line: to_u32(span.start.line()),
            col: to_u32(span.start.col() + 1),
        }
    }

    fn from_scan(err: &ScanError) -> Self {
        let mark = err.marker();
        Self {
            message: format!("invalid YAML: {}", err.info()),
            line: to_u32(mark.line()).max(1),
            col: to_u32(mark.col() + 1),
        }
    }
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Loads a single document. Returns `Ok(None)` for an empty or comment-only document.
///
/// Aliases are expanded and `<<` merge keys are applied (as go-yaml does for Kubernetes and
/// Helm), so the tree is what a Kubernetes client would see. A text holding more than one
/// document is an error rather than a silent truncation: split streams with
/// [`crate::split_stream`] first.
///
/// # Errors
/// A [`YamlError`] for invalid YAML, for a second document, and when the input exceeds any of
/// the [`Limits`].
pub fn load(text: &str, limits: &Limits) -> Result<Option<Node>, YamlError> {
    let mut docs = load_documents(text, limits, true)?;
    Ok(docs.pop().flatten())
}

/// Loads every document of a multi-document text. Empty and comment-only documents are skipped.
///
/// # Errors
/// A [`YamlError`] for invalid YAML and when the input exceeds any of the [`Limits`]; the node
/// limit applies to the whole text.
pub fn load_all(text: &str, limits: &Limits) -> Result<Vec<Node>, YamlError> {
    Ok(load_documents(text, limits, false)?
        .into_iter()
        .flatten()
        .collect())
}

fn load_documents(
    text: &str,
    limits: &Limits,
    single: bool,
) -> Result<Vec<Option<Node>>, YamlError> {
    if text.len() > limits.max_bytes {
        return Err(YamlError {
            message: format!(
                "document is {} bytes, more than the limit of {} bytes",
                text.len(),
                limits.max_bytes
            ),
            line: 1,
            col: 1,
        });
    }
    // go-yaml (libyaml) is laxer than saphyr in three places charts really hit; each is
    // repaired in a copy of the text, without changing what the document means, and parsed
    // again. Line numbers never move. The attempts are bounded, so a hostile text costs a few
    // parses at most.
    let budget = (REPAIR_BYTES / text.len().max(1)).min(MAX_REPAIRS);
    let mut repaired: Option<String> = None;
    let mut attempt = 0;
    loop {
        let current = repaired.as_deref().unwrap_or(text);
        match parse_documents(current, limits, single) {
            Ok(docs) => return Ok(docs),
            Err(failure) => {
                let fix = failure.scan.as_ref().and_then(|scan| repair(current, scan));
                match fix {
                    Some(fixed) if attempt < budget => {
                        attempt += 1;
                        repaired = Some(fixed);
                    }
                    _ => return Err(failure.error),
                }
            }
        }
    }
}

/// At most this many repaired parses of one text…
const MAX_REPAIRS: usize = 64;
/// …and at most this many bytes parsed again in all.
const REPAIR_BYTES: usize = 64 * 1024 * 1024;

/// Why a parse failed, with what a repair needs to know.
struct Failure {
    error: YamlError,
    scan: Option<ScanFailure>,
}

/// A scanner error: its message, the byte offset it points at, and the outermost flow
/// collection (`[` or `{`, byte offset and 0-based column) still open there, if any.
struct ScanFailure {
    message: String,
    offset: usize,
    flow: Option<(usize, usize)>,
}

fn parse_documents(
    text: &str,
    limits: &Limits,
    single: bool,
) -> Result<Vec<Option<Node>>, Failure> {
    let plain = |error| Failure { error, scan: None };
    let mut parser = Parser::new_from_str(text);
    let mut builder = Builder::new(limits, text);
    let mut docs = Vec::new();
    while let Some(next) = parser.next_event() {
        let (event, span) = match next {
            Ok(ok) => ok,
            Err(e) => {
                let offset = builder.byte_offset(e.marker().index());
                let flow = builder.stack.iter().find_map(|f| f.flow);
                return Err(Failure {
                    error: YamlError::from_scan(&e),
                    scan: Some(ScanFailure {
                        message: e.info().to_owned(),
                        offset,
                        flow,
                    }),
                });
            }
        };
        match event {
            Event::StreamEnd => break,
            Event::DocumentStart(_) => {
                if single && !docs.is_empty() {
                    return Err(plain(YamlError::at(
                        "expected a single YAML document but found another one here",
                        span,
                    )));
                }
                builder.start_document();
            }
            Event::DocumentEnd => docs.push(builder.finish_document()),
            other => builder.event(other, span).map_err(plain)?,
        }
    }
    Ok(docs)
}

/// A copy of `text` with the construct saphyr refused rewritten the way go-yaml reads it, or
/// `None` when the error is not one of the known laxities:
///
/// - a tab after an implicit key's `:` (`key:<tab>value`): the tabs become spaces;
/// - a quoted scalar whose continuation lines are indented no deeper than its key: they are
///   indented (leading white space of a continuation line is not part of the value);
/// - a flow collection whose lines are indented no deeper than its key, such as a `]` at the
///   key's column: its lines are indented (indentation means nothing inside a flow collection).
fn repair(text: &str, scan: &ScanFailure) -> Option<String> {
    let bytes = text.as_bytes();
    match scan.message.as_str() {
        "':' must be followed by a valid YAML whitespace" => {
            let mut i = scan.offset.min(bytes.len());
            let mut out = bytes.to_vec();
            let mut changed = false;
            while i > 0 && matches!(bytes[i - 1], b' ' | b'\t') {
                i -= 1;
                if bytes[i] == b'\t' {
                    out[i] = b' ';
                    changed = true;
                }
            }
            // Only after an implicit key (`key:`, text right before the `:`): libyaml skips
            // tabs there, but not after the `:` of an explicit `? key`, which it refuses.
            let simple_key = i >= 2
                && bytes[i - 1] == b':'
                && !matches!(bytes[i - 2], b' ' | b'\t' | b'\n' | b'?' | b'-');
            (changed && simple_key).then(|| String::from_utf8(out).ok())?
        }
        "invalid indentation in quoted scalar" => {
            let quote = *bytes.get(scan.offset)?;
            if quote != b'"' && quote != b'\'' {
                return None;
            }
            let end = quoted_end(bytes, scan.offset, quote)?;
            indent_lines(text, scan.offset, end, column_of(text, scan.offset) + 1)
        }
        "invalid indentation" | "invalid indentation in flow construct" => {
            let (start, col) = scan.flow?;
            let end = flow_end(bytes, start)?;
            if scan.offset > end {
                return None;
            }
            indent_lines(text, start, end, col + 1)
        }
        _ => None,
    }
}

/// The 0-based column (in characters) of byte `offset`.
fn column_of(text: &str, offset: usize) -> usize {
    let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    text[line_start..offset].chars().count()
}

/// The byte offset of the closing quote of the quoted scalar opening at `start`.
fn quoted_end(bytes: &[u8], start: usize, quote: u8) -> Option<usize> {
    let mut i = start + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if quote == b'"' => i += 2,
            b'\'' if quote == b'\'' && bytes.get(i + 1) == Some(&b'\'') => i += 2,
            b if b == quote => return Some(i),
            _ => i += 1,
        }
    }
    None
}

/// The byte offset of the bracket closing the flow collection opening at `start`, skipping
/// quoted scalars and comments.
fn flow_end(bytes: &[u8], start: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut i = start;
    while i < bytes.len() {
        match bytes[i] {
            b'[' | b'{' => depth += 1,
            b']' | b'}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            // A quote starts a quoted scalar only where a token starts (`[it's]` is plain).
            q @ (b'"' | b'\'')
                if matches!(
                    bytes[i - 1],
                    b'[' | b'{' | b',' | b':' | b' ' | b'\t' | b'\n'
                ) =>
            {
                i = quoted_end(bytes, i, q)?;
            }
            b'#' if i > 0 && matches!(bytes[i - 1], b' ' | b'\t' | b'\n') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// A copy of `text` where every line that starts after byte `start` and no later than byte
/// `end` is indented to at least `width` spaces. `None` when nothing changes, or when such a
/// line is a document marker (`---`, `...`), which go-yaml refuses inside a scalar or flow.
fn indent_lines(text: &str, start: usize, end: usize, width: usize) -> Option<String> {
    let mut out = String::with_capacity(text.len() + 256);
    let mut changed = false;
    let mut pos = 0;
    for line in text.split_inclusive('\n') {
        let line_start = pos;
        pos += line.len();
        if line_start <= start || line_start > end {
            out.push_str(line);
            continue;
        }
        if line.starts_with("---") || line.starts_with("...") {
            return None;
        }
        let spaces = line.bytes().take_while(|b| *b == b' ').count();
        if spaces < width && !line.trim().is_empty() {
            out.extend(std::iter::repeat_n(' ', width - spaces));
            changed = true;
        }
        out.push_str(line);
    }
    changed.then_some(out)
}

/// A collection under construction.
struct Frame {
    /// `Seq` or `Map` with its children so far.
    value: Value,
    /// A mapping key waiting for its value.
    pending_key: Option<Node>,
    line: u32,
    col: u32,
    /// Anchor id to record when the collection completes (0: none).
    anchor: usize,
    /// Node count when the frame opened, to know how many nodes an anchored copy will cost.
    nodes_at_start: usize,
    /// Greatest height among children (a scalar has height 0, a collection 1 + its children's).
    child_height: usize,
    /// For a flow collection: the byte offset and 0-based column of its `[` or `{`.
    flow: Option<(usize, usize)>,
}

/// An anchored node kept for alias expansion, with what a copy of it costs.
struct Anchored {
    node: Node,
    nodes: usize,
    height: usize,
}

struct Builder<'l> {
    limits: &'l Limits,
    /// The document text, to re-read the source of a double-quoted scalar.
    text: &'l str,
    /// Whether `text` is ASCII, so character indexes are byte offsets.
    ascii: bool,
    /// A (character index, byte offset) pair in `text`, moved forward as scalars are re-read.
    cursor: (usize, usize),
    stack: Vec<Frame>,
    anchors: HashMap<usize, Anchored>,
    root: Option<(Node, bool)>,
    /// Everything charged against the limit: tree nodes plus stored anchor copies.
    charged: usize,
    /// Nodes in the tree being built (what a copy of a subtree costs).
    tree_nodes: usize,
}

impl<'l> Builder<'l> {
    fn new(limits: &'l Limits, text: &'l str) -> Self {
        Self {
            limits,
            text,
            ascii: text.is_ascii(),
            cursor: (0, 0),
            stack: Vec::new(),
            anchors: HashMap::new(),
            root: None,
            charged: 0,
            tree_nodes: 0,
        }
    }

    /// The byte offset of character `index` of the text (scalars come in text order, so the
    /// cursor only moves forward; a backwards request starts over).
    fn byte_offset(&mut self, index: usize) -> usize {
        if self.ascii {
            return index.min(self.text.len());
        }
        if index < self.cursor.0 {
            self.cursor = (0, 0);
        }
        let (mut chars, mut bytes) = self.cursor;
        for c in self.text[bytes..].chars() {
            if chars == index {
                break;
            }
            chars += 1;
            bytes += c.len_utf8();
        }
        self.cursor = (chars, bytes);
        bytes
    }

    /// True when the double-quoted scalar at `span` is written with a `\/` escape.
    fn has_yaml12_escape(&mut self, span: Span) -> bool {
        let start = self.byte_offset(span.start.index());
        let end = self.byte_offset(span.end.index()).max(start);
        let mut raw = self.text[start..end].bytes();
        while let Some(b) = raw.next() {
            if b == b'\\' && raw.next() == Some(b'/') {
                return true;
            }
        }
        false
    }

    /// Refuses a block mapping value written after `:<tab>` where that `:` opens its line (the
    /// value of an explicit `? key`): libyaml does not skip tabs there and refuses the document,
    /// though saphyr reads it. After an implicit `key:` a tab is fine to both.
    fn refuse_tab_after_explicit_value(&mut self, span: Span) -> Result<(), YamlError> {
        let Some(frame) = self.stack.last() else {
            return Ok(());
        };
        if frame.flow.is_some()
            || frame.pending_key.is_none()
            || !matches!(frame.value, Value::Map(_))
        {
            return Ok(());
        }
        let at = self.byte_offset(span.start.index());
        // In ASCII text the event's column is its distance in bytes from the line start; it is
        // used when the byte before that start really ends a line, so most values (`key: v`)
        // need no backwards search for the line's start.
        let line_start = match at.checked_sub(span.start.col()) {
            Some(start)
                if self.ascii && (start == 0 || self.text.as_bytes()[start - 1] == b'\n') =>
            {
                start
            }
            _ => self.text[..at].rfind('\n').map_or(0, |i| i + 1),
        };
        let prefix = self.text[line_start..at].trim_start_matches(' ');
        let Some(after) = prefix.strip_prefix(':') else {
            return Ok(());
        };
        let gap: String = after
            .chars()
            .take_while(|c| matches!(c, ' ' | '\t'))
            .collect();
        if gap.contains('\t') {
            return Err(YamlError::at(
                "found character that cannot start any token: a tab after the `:` of an explicit key, which Kubernetes' YAML reader refuses",
                span,
            ));
        }
        Ok(())
    }

    fn start_document(&mut self) {
        self.stack.clear();
        self.anchors.clear();
        self.root = None;
    }

    /// The document's root; `None` when the document held nothing but an implicit empty scalar.
    fn finish_document(&mut self) -> Option<Node> {
        self.anchors.clear();
        match self.root.take() {
            Some((_, true)) | None => None,
            Some((node, false)) => Some(node),
        }
    }

    /// Counts `n` more nodes, failing before they are made when that would pass the limit.
    fn charge(&mut self, n: usize, span: Span) -> Result<(), YamlError> {
        let total = self.charged.saturating_add(n);
        if total > self.limits.max_nodes {
            return Err(YamlError::at(
                format!(
                    "document has more than {} nodes (limit hit; alias expansion counts every copy)",
                    self.limits.max_nodes
                ),
                span,
            ));
        }
        self.charged = total;
        Ok(())
    }

    /// Charges for `n` nodes that become part of the tree.
    fn grow(&mut self, n: usize, span: Span) -> Result<(), YamlError> {
        self.charge(n, span)?;
        self.tree_nodes += n;
        Ok(())
    }

    fn check_depth(&self, depth: usize, span: Span) -> Result<(), YamlError> {
        if depth > self.limits.max_depth {
            return Err(YamlError::at(
                format!(
                    "document nests deeper than the limit of {} levels",
                    self.limits.max_depth
                ),
                span,
            ));
        }
        Ok(())
    }

    fn event(&mut self, event: Event<'_>, span: Span) -> Result<(), YamlError> {
        let line = to_u32(span.start.line());
        let col = to_u32(span.start.col() + 1);
        if !matches!(event, Event::SequenceEnd | Event::MappingEnd) {
            self.refuse_tab_after_explicit_value(span)?;
        }
        match event {
            Event::Scalar(text, style, anchor, tag) => {
                self.grow(1, span)?;
                // An implicit empty document shows up as an empty plain scalar at the root.
                let trivially_empty = self.stack.is_empty()
                    && text.is_empty()
                    && style == saphyr_parser::ScalarStyle::Plain
                    && anchor == 0
                    && tag.is_none();
                // YAML 1.2 added the escape `\/`; go-yaml refuses it. It decodes to `/`, so
                // only scalars holding one need their source re-read.
                if style == saphyr_parser::ScalarStyle::DoubleQuoted
                    && text.contains('/')
                    && self.has_yaml12_escape(span)
                {
                    return Err(YamlError::at(
                        "found unknown escape character: `\\/` is a YAML 1.2 escape, which Kubernetes' YAML 1.1 reader refuses",
                        span,
                    ));
                }
                let scalar = tagged_scalar(text.into_owned(), style, tag.as_deref())
                    .map_err(|message| YamlError::at(message, span))?;
                let node = Node {
                    value: Value::Scalar(scalar),
                    line,
                    col,
                };
                if anchor != 0 {
                    self.charge(1, span)?;
                    self.anchors.insert(
                        anchor,
                        Anchored {
                            node: node.clone(),
                            nodes: 1,
                            height: 0,
                        },
                    );
                }
                self.place(node, 0, trivially_empty, span)
            }
            Event::SequenceStart(anchor, _) => {
                self.open(Value::Seq(Vec::new()), anchor, line, col, span)
            }
            Event::MappingStart(anchor, _) => {
                self.open(Value::Map(Vec::new()), anchor, line, col, span)
            }
            Event::SequenceEnd | Event::MappingEnd => self.close(span),
            Event::Alias(id) => {
                let Some((nodes, height)) = self.anchors.get(&id).map(|a| (a.nodes, a.height))
                else {
                    return Err(YamlError::at("alias refers to an unknown anchor", span));
                };
                self.check_depth(self.stack.len() + height, span)?;
                self.grow(nodes, span)?;
                let Some(mut node) = self.anchors.get(&id).map(|a| a.node.clone()) else {
                    return Err(YamlError::at("alias refers to an unknown anchor", span));
                };
                // The copy is reported where the alias is, so findings point at the use site.
                node.line = line;
                node.col = col;
                self.place(node, height, false, span)
            }
            // Stream and document boundaries are handled by the caller; `Nothing` is internal.
            Event::StreamStart
            | Event::StreamEnd
            | Event::DocumentStart(_)
            | Event::DocumentEnd
            | Event::Nothing => Ok(()),
        }
    }

    fn open(
        &mut self,
        value: Value,
        anchor: usize,
        line: u32,
        col: u32,
        span: Span,
    ) -> Result<(), YamlError> {
        self.check_depth(self.stack.len() + 1, span)?;
        self.grow(1, span)?;
        let offset = self.byte_offset(span.start.index());
        let flow = matches!(self.text.as_bytes().get(offset), Some(b'[' | b'{'))
            .then(|| (offset, span.start.col()));
        self.stack.push(Frame {
            flow,
            value,
            pending_key: None,
            line,
            col,
            anchor,
            nodes_at_start: self.tree_nodes - 1,
            child_height: 0,
        });
        Ok(())
    }

    fn close(&mut self, span: Span) -> Result<(), YamlError> {
        let Some(frame) = self.stack.pop() else {
            return Err(YamlError::at("unbalanced end of collection", span));
        };
        let height = frame.child_height + 1;
        let value = match frame.value {
            Value::Map(entries) => {
                if frame.pending_key.is_some() {
                    return Err(YamlError::at("mapping key without a value", span));
                }
                Value::Map(apply_merges(entries)?)
            }
            other => other,
        };
        let node = Node {
            value,
            line: frame.line,
            col: frame.col,
        };
        if frame.anchor != 0 {
            let nodes = self.tree_nodes - frame.nodes_at_start;
            self.charge(nodes, span)?;
            self.anchors.insert(
                frame.anchor,
                Anchored {
                    node: node.clone(),
                    nodes,
                    height,
                },
            );
        }
        self.place(node, height, false, span)
    }

    /// Puts a finished node into its parent collection, or makes it the document root.
    fn place(
        &mut self,
        node: Node,
        height: usize,
        trivially_empty: bool,
        span: Span,
    ) -> Result<(), YamlError> {
        let Some(parent) = self.stack.last_mut() else {
            self.root = Some((node, trivially_empty));
            return Ok(());
        };
        parent.child_height = parent.child_height.max(height);
        match &mut parent.value {
            Value::Seq(items) => items.push(node),
            Value::Map(entries) => match parent.pending_key.take() {
                None => parent.pending_key = Some(node),
                Some(key) => entries.push((key, node)),
            },
            Value::Scalar(_) => {
                return Err(YamlError::at("internal: scalar used as a collection", span))
            }
        }
        Ok(())
    }
}

/// The core schema's tag prefix: `!!int` is `tag:yaml.org,2002:int`.
const CORE_TAG: &str = "tag:yaml.org,2002:";

/// A scalar as go-yaml v2 reads it, its tag applied.
///
/// The tree has no tags, so a tagged scalar is rewritten into the untagged scalar that means the
/// same: `!!str 10`, `!foo 10` and every other tag go-yaml cannot resolve become a quoted
/// string; `!!binary` becomes its base64-decoded text; `!!int "10"`, `!!bool "yes"` and the other
/// resolvable tags resolve their text as if it were plain (whatever its quoting) and must get
/// their own type, or the document is refused as go-yaml refuses it.
fn tagged_scalar(
    text: String,
    style: saphyr_parser::ScalarStyle,
    tag: Option<&Tag>,
) -> Result<Scalar, String> {
    use saphyr_parser::ScalarStyle as S;
    let style = match style {
        S::Plain => ScalarStyle::Plain,
        S::SingleQuoted => ScalarStyle::SingleQuoted,
        S::DoubleQuoted => ScalarStyle::DoubleQuoted,
        S::Literal => ScalarStyle::Literal,
        S::Folded => ScalarStyle::Folded,
    };
    let Some(tag) = tag else {
        return Ok(Scalar { text, style });
    };
    let full = format!("{}{}", tag.handle, tag.suffix);
    let string = |text: String| Scalar {
        text,
        style: ScalarStyle::DoubleQuoted,
    };
    let Some(core) = full.strip_prefix(CORE_TAG) else {
        // `!`, `!local`, `!<uri>`: go-yaml cannot resolve them and keeps the text.
        return Ok(string(text));
    };
    let plain = |text: String| Scalar {
        text,
        style: ScalarStyle::Plain,
    };
    let wrong = |text: &str| {
        let found = match resolve_plain(text) {
            Resolved::Null => "null",
            Resolved::Bool(_) => "bool",
            Resolved::Int(_) | Resolved::Uint(_) => "int",
            Resolved::Float(_) => "float",
            Resolved::Str(_) => "str",
        };
        format!("cannot decode !!{found} `{text}` as a !!{core} (as go-yaml refuses it)")
    };
    match core {
        "str" => Ok(string(text)),
        "binary" => decode_base64(&text).map(string),
        "merge" => Ok(plain(text)),
        "null" => match resolve_plain(&text) {
            Resolved::Null => Ok(plain(text)),
            _ => Err(wrong(&text)),
        },
        "bool" => match resolve_plain(&text) {
            Resolved::Bool(_) => Ok(plain(text)),
            _ => Err(wrong(&text)),
        },
        "int" => match resolve_plain(&text) {
            Resolved::Int(_) | Resolved::Uint(_) => Ok(plain(text)),
            _ => Err(wrong(&text)),
        },
        "float" => match resolve_plain(&text) {
            Resolved::Int(_) | Resolved::Uint(_) | Resolved::Float(_) => Ok(plain(text)),
            _ => Err(wrong(&text)),
        },
        // go-yaml keeps a timestamp decoded into an untyped value as its text; only the plain
        // date form is accepted here, anything fancier is refused rather than guessed at.
        "timestamp" if is_plain_date(&text) => Ok(string(text)),
        "timestamp" => Err(format!(
            "`!!timestamp {text}` is not a plain date (imagegate refuses timestamps it cannot check)"
        )),
        // `!!seq`, `!!map` and other collection tags on a scalar: go-yaml keeps the text.
        _ => Ok(string(text)),
    }
}

/// `YYYY-M-D`, the one timestamp form checked.
fn is_plain_date(text: &str) -> bool {
    let mut parts = text.split('-');
    let ok = |p: Option<&str>, max: usize| {
        p.is_some_and(|p| !p.is_empty() && p.len() <= max && p.bytes().all(|b| b.is_ascii_digit()))
    };
    let year = parts.next();
    year.is_some_and(|y| y.len() == 4)
        && ok(year, 4)
        && ok(parts.next(), 2)
        && ok(parts.next(), 2)
        && parts.next().is_none()
}

/// Decodes `!!binary` text as Go's `base64.StdEncoding` does (padding required, line breaks
/// ignored). Bytes that are not UTF-8 are refused: Kubernetes' JSON would replace them.
fn decode_base64(text: &str) -> Result<String, String> {
    const INVALID: &str = "!!binary value contains invalid base64 data";
    let mut bits: u32 = 0;
    let mut nbits = 0;
    let mut bytes = Vec::with_capacity(text.len() / 4 * 3);
    let mut symbols = 0usize;
    let mut padding = 0usize;
    for b in text.bytes() {
        let v = match b {
            b'\r' | b'\n' => continue,
            b'=' => {
                padding += 1;
                symbols += 1;
                continue;
            }
            _ if padding > 0 => return Err(INVALID.into()),
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return Err(INVALID.into()),
        };
        symbols += 1;
        bits = (bits << 6) | u32::from(v);
        nbits += 6;
        if nbits >= 8 {
            nbits -= 8;
            bytes.push((bits >> nbits) as u8);
            bits &= (1 << nbits) - 1;
        }
    }
    // Whole quads only, at most two `=`, and no stray bits left over (Go is strict about both).
    if symbols % 4 != 0 || padding > 2 || bits != 0 {
        return Err(INVALID.into());
    }
    String::from_utf8(bytes)
        .map_err(|_| "!!binary value is not UTF-8 text (imagegate refuses it)".to_owned())
}

fn is_merge_key(key: &Node) -> bool {
    matches!(&key.value, Value::Scalar(Scalar { text, style: ScalarStyle::Plain }) if text == "<<")
}

/// A mapping key as go-yaml v2 keys a Go `map[interface{}]interface{}`: two keys are the same
/// key exactly when these are equal (`010` and `8` are both the integer 8; `1.0` and `1` are
/// not, though both become the JSON key `1`). `S` is `&str` or `String`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum GoKey<S> {
    Null,
    Bool(bool),
    Int(i64),
    Uint(u64),
    /// A float's bits, `-0.0` folded into `0.0`.
    Float(u64),
    Str(S),
    /// A key equal to no other: a collection (go-yaml refuses it) or NaN.
    Unique,
}

impl GoKey<&str> {
    fn of(key: &Node) -> GoKey<&str> {
        let Value::Scalar(s) = &key.value else {
            return GoKey::Unique;
        };
        match s.resolve() {
            Resolved::Null => GoKey::Null,
            Resolved::Bool(b) => GoKey::Bool(b),
            Resolved::Int(i) => GoKey::Int(i),
            Resolved::Uint(u) => GoKey::Uint(u),
            Resolved::Float(f) if f.is_nan() => GoKey::Unique,
            Resolved::Float(f) => GoKey::Float((f + 0.0).to_bits()),
            Resolved::Str(s) => GoKey::Str(s),
        }
    }

    fn owned(&self) -> GoKey<String> {
        match *self {
            GoKey::Null => GoKey::Null,
            GoKey::Bool(b) => GoKey::Bool(b),
            GoKey::Int(i) => GoKey::Int(i),
            GoKey::Uint(u) => GoKey::Uint(u),
            GoKey::Float(f) => GoKey::Float(f),
            GoKey::Str(s) => GoKey::Str(s.to_owned()),
            GoKey::Unique => GoKey::Unique,
        }
    }
}

/// True when two entries have the same [`GoKey`] (checked without allocating).
fn has_duplicate_keys(entries: &[(Node, Node)]) -> bool {
    if entries.len() < 2 {
        return false;
    }
    if entries.len() <= 16 {
        // On the stack: this runs for every mapping of every document.
        let mut keys = [GoKey::Unique; 16];
        for (slot, (k, _)) in keys.iter_mut().zip(entries) {
            *slot = GoKey::of(k);
        }
        let keys = &keys[..entries.len()];
        return keys
            .iter()
            .enumerate()
            .any(|(i, a)| *a != GoKey::Unique && keys[i + 1..].iter().any(|b| a == b));
    }
    let mut seen = std::collections::HashSet::with_capacity(entries.len());
    let keys = entries.iter().map(|(k, _)| GoKey::of(k));
    keys.filter(|k| *k != GoKey::Unique)
        .any(|k| !seen.insert(k))
}

/// Builds a mapping as go-yaml v2 does: entries in document order into one map, a repeated key
/// replacing the earlier value, and a merge key (`<<: *base`, `<<: [*a, *b]`) copying the merged
/// mappings' entries in *at its place*. So keys written before a `<<` are overwritten by it and
/// keys written after it win; in a sequence of merges the earlier mapping wins. A replaced entry
/// keeps its place, so the result has each key once.
fn apply_merges(entries: Vec<(Node, Node)>) -> Result<Vec<(Node, Node)>, YamlError> {
    // The common mapping: no merge, no repeated key. It is already what go-yaml builds.
    if !entries.iter().any(|(k, _)| is_merge_key(k)) && !has_duplicate_keys(&entries) {
        return Ok(entries);
    }
    let mut out: Vec<(Node, Node)> = Vec::with_capacity(entries.len());
    let mut index: HashMap<GoKey<String>, usize> = HashMap::with_capacity(entries.len());
    let mut put = |key: Node, value: Node, out: &mut Vec<(Node, Node)>| {
        let go = GoKey::of(&key).owned();
        if go == GoKey::Unique {
            out.push((key, value));
            return;
        }
        match index.get(&go) {
            Some(&i) => out[i] = (key, value),
            None => {
                index.insert(go, out.len());
                out.push((key, value));
            }
        }
    };
    for (key, value) in entries {
        if !is_merge_key(&key) {
            put(key, value, &mut out);
            continue;
        }
        let sources = match value.value {
            Value::Map(map) => vec![map],
            Value::Seq(items) => {
                let mut maps = Vec::with_capacity(items.len());
                // Later mappings first, so the earlier ones overwrite them.
                for item in items.into_iter().rev() {
                    match item.value {
                        Value::Map(map) => maps.push(map),
                        _ => return Err(merge_error(item.line, item.col)),
                    }
                }
                maps
            }
            Value::Scalar(_) => return Err(merge_error(value.line, value.col)),
        };
        for (k, v) in sources.into_iter().flatten() {
            put(k, v, &mut out);
        }
    }
    Ok(out)
}

fn merge_error(line: u32, col: u32) -> YamlError {
    YamlError {
        message: "map merge requires map or sequence of maps as the value".into(),
        line,
        col,
    }
}

/// A plain scalar resolved as go-yaml v2 resolves it: YAML 1.1 types, which is what
/// `sigs.k8s.io/yaml` — and so kubectl, Helm and Argo CD — decode manifests and values with.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Resolved<'a> {
    /// `null`, `Null`, `NULL`, `~` or empty.
    Null,
    /// `true`/`false`, `yes`/`no`, `on`/`off`, `y`/`n` (each also capitalised or upper case).
    Bool(bool),
    /// An integer that fits `i64`: decimal, `0x` hex, `0o` or leading-`0` octal, `0b` binary,
    /// with a sign and `_` separators allowed (`010` is 8, `1_000` is 1000).
    Int(i64),
    /// A positive integer too large for `i64` that fits `u64`.
    Uint(u64),
    /// A float (`1.10`, `.5`, `1e3`, `08`), including `.inf` and `.nan`, and integers too large
    /// for `u64`.
    Float(f64),
    /// Anything else, and every quoted or block scalar.
    Str(&'a str),
}

impl Scalar {
    /// Resolves the scalar's type: quoted and block scalars are strings, plain ones are resolved
    /// as go-yaml v2 does (see [`Resolved`]).
    pub fn resolve(&self) -> Resolved<'_> {
        if self.style != ScalarStyle::Plain {
            return Resolved::Str(&self.text);
        }
        resolve_plain(&self.text)
    }

    /// True for a plain `null`, `~` or empty scalar.
    pub fn is_null(&self) -> bool {
        matches!(self.resolve(), Resolved::Null)
    }

    /// The scalar as JSON, as Kubernetes' YAML-to-JSON conversion would produce it.
    ///
    /// Integral floats become integers (Go's JSON encoder writes `3.0` as `3`, so `replicas: 3.0`
    /// still fits an integer field); `.inf` and `.nan`, which JSON cannot hold, stay strings.
    pub fn to_json(&self) -> serde_json::Value {
        match self.resolve() {
            Resolved::Null => serde_json::Value::Null,
            Resolved::Bool(b) => serde_json::Value::Bool(b),
            Resolved::Int(i) => i.into(),
            Resolved::Uint(u) => u.into(),
            Resolved::Float(f) => {
                float_json(f).unwrap_or_else(|| serde_json::Value::String(self.text.clone()))
            }
            Resolved::Str(s) => serde_json::Value::String(s.to_owned()),
        }
    }

    /// How Go's `text/template` prints this value after Helm loaded it from a values file.
    ///
    /// Helm decodes values through JSON into `interface{}`, so every plain number becomes a
    /// `float64` and prints with `%v`: `1.10` → `1.1`, `1.0` → `1`, `1e3` → `1000`,
    /// `1234567` → `1.234567e+06`. Booleans print as `true`/`false`, null as nothing (Helm
    /// drops null keys and blanks `<no value>`), strings as they are.
    pub fn go_template_text(&self) -> String {
        match self.resolve() {
            Resolved::Null => String::new(),
            Resolved::Bool(b) => b.to_string(),
            #[allow(clippy::cast_precision_loss)] // the loss is exactly what Go's float64 does
            Resolved::Int(i) => go_float(i as f64),
            #[allow(clippy::cast_precision_loss)]
            Resolved::Uint(u) => go_float(u as f64),
            Resolved::Float(f) => go_float(f),
            Resolved::Str(s) => s.to_owned(),
        }
    }
}

fn float_json(f: f64) -> Option<serde_json::Value> {
    if !f.is_finite() {
        return None;
    }
    // 2^63: beyond it an integral float no longer fits i64.
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    if f.fract() == 0.0 && f.abs() < LIMIT {
        #[allow(clippy::cast_possible_truncation)] // integral and in range, checked above
        return Some(serde_json::Value::from(f as i64));
    }
    serde_json::Number::from_f64(f).map(serde_json::Value::Number)
}

/// go-yaml v2's table of words (`resolve.go`), all of at most five bytes: chosen by length and
/// first byte, so a key such as `name` is compared with three words, not forty.
fn yaml11_word(text: &str) -> Option<Resolved<'static>> {
    let t = Resolved::Bool(true);
    let f = Resolved::Bool(false);
    let word = match (text.len(), text.as_bytes().first()?) {
        (1, b'~') => Resolved::Null,
        (1, b'y' | b'Y') => t,
        (1, b'n' | b'N') => f,
        (2, b'o' | b'O') if matches!(text, "on" | "On" | "ON") => t,
        (2, b'n' | b'N') if matches!(text, "no" | "No" | "NO") => f,
        (3, b'y' | b'Y') if matches!(text, "yes" | "Yes" | "YES") => t,
        (3, b'o' | b'O') if matches!(text, "off" | "Off" | "OFF") => f,
        (4, b'n' | b'N') if matches!(text, "null" | "Null" | "NULL") => Resolved::Null,
        (4, b't' | b'T') if matches!(text, "true" | "True" | "TRUE") => t,
        (4, b'.') if matches!(text, ".inf" | ".Inf" | ".INF") => Resolved::Float(f64::INFINITY),
        (4, b'.') if matches!(text, ".nan" | ".NaN" | ".NAN") => Resolved::Float(f64::NAN),
        (5, b'f' | b'F') if matches!(text, "false" | "False" | "FALSE") => f,
        (5, b'+') if matches!(text, "+.inf" | "+.Inf" | "+.INF") => Resolved::Float(f64::INFINITY),
        (5, b'-') if matches!(text, "-.inf" | "-.Inf" | "-.INF") => {
            Resolved::Float(f64::NEG_INFINITY)
        }
        _ => return None,
    };
    Some(word)
}

/// go-yaml v2's `resolve` for an untagged plain scalar (`resolve.go`): a fixed table of words,
/// then, for text starting with a digit or a sign, Go's `strconv.ParseInt(s, 0, 64)` and
/// `ParseUint` with every `_` removed, then a YAML-style float; for text starting with `.`,
/// `strconv.ParseFloat`. A float that overflows stays text, as in Go.
fn resolve_plain(text: &str) -> Resolved<'_> {
    // Most plain scalars (and nearly every key) are words such as `name` or `image`: the byte
    // they start with, or their length, already says they are strings. This runs for every key
    // of every mapping several times over (loading, JSON conversion, walks), so the word table
    // and the number parsers below are reached only by text that could be one of them.
    let Some(&first) = text.as_bytes().first() else {
        return Resolved::Null;
    };
    if text.len() <= 5 {
        if let Some(word) = yaml11_word(text) {
            return word;
        }
    }
    if !matches!(first, b'0'..=b'9' | b'+' | b'-' | b'.') {
        return Resolved::Str(text);
    }
    let finite = |f: f64| {
        if f.is_finite() {
            Resolved::Float(f)
        } else {
            Resolved::Str(text)
        }
    };
    match text.as_bytes()[0] {
        b'.' => {
            if is_yaml_float(text.as_bytes()) {
                if let Ok(f) = text.parse::<f64>() {
                    return finite(f);
                }
            }
            Resolved::Str(text)
        }
        b'0'..=b'9' | b'+' | b'-' => {
            let plain: Cow<'_, str> = if text.contains('_') {
                Cow::Owned(text.replace('_', ""))
            } else {
                Cow::Borrowed(text)
            };
            if let Some(int) = go_parse_int(&plain) {
                return int;
            }
            if is_yaml_float(plain.as_bytes()) {
                if let Ok(f) = plain.parse::<f64>() {
                    return finite(f);
                }
            }
            Resolved::Str(text)
        }
        _ => Resolved::Str(text),
    }
}

/// Go's `strconv.ParseInt(s, 0, 64)`, then `ParseUint(s, 0, 64)`: an optional sign (signed only),
/// then `0x`/`0X` hex, `0o`/`0O` or a leading `0` octal, `0b`/`0B` binary, or decimal.
fn go_parse_int(s: &str) -> Option<Resolved<'static>> {
    let (negative, unsigned) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let lower = unsigned.get(..2).map(str::to_ascii_lowercase);
    let (radix, digits) = match lower.as_deref() {
        Some("0x") => (16, &unsigned[2..]),
        Some("0o") => (8, &unsigned[2..]),
        Some("0b") => (2, &unsigned[2..]),
        _ if unsigned.len() > 1 && unsigned.starts_with('0') => (8, &unsigned[1..]),
        _ => (10, unsigned),
    };
    if digits.is_empty() || !digits.bytes().all(|b| char::from(b).is_digit(radix)) {
        return None;
    }
    let magnitude = u64::from_str_radix(digits, radix).ok()?;
    if negative {
        // Down to i64::MIN; a larger negative number is no integer (it may still be a float).
        return 0i64.checked_sub_unsigned(magnitude).map(Resolved::Int);
    }
    Some(match i64::try_from(magnitude) {
        Ok(i) => Resolved::Int(i),
        // Only an unsigned decimal or prefixed number gets here: ParseUint takes no sign.
        Err(_) if s.starts_with('+') => return None,
        Err(_) => Resolved::Uint(magnitude),
    })
}

/// go-yaml v2's float: `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`. Checked by hand
/// because Rust's float parser also accepts `inf`, `nan` and `infinity`.
fn is_yaml_float(s: &[u8]) -> bool {
    let s = s
        .strip_prefix(b"-")
        .or_else(|| s.strip_prefix(b"+"))
        .unwrap_or(s);
    let digits = |s: &[u8], i: usize| s[i..].iter().take_while(|b| b.is_ascii_digit()).count();
    let int = digits(s, 0);
    let mut i = int;
    let mut frac = 0;
    if s.get(i) == Some(&b'.') {
        i += 1;
        frac = digits(s, i);
        i += frac;
    }
    if int == 0 && frac == 0 {
        return false;
    }
    if matches!(s.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(s.get(i), Some(b'-' | b'+')) {
            i += 1;
        }
        let exp = digits(s, i);
        if exp == 0 {
            return false;
        }
        i += exp;
    }
    i == s.len()
}

/// How `sigs.k8s.io/yaml` writes a float map key: `strconv.FormatFloat(f, 'g', -1, 32)`, so
/// with `float32` precision (`3.14159265` → `3.1415927`), and `.inf`, `-.inf`, `.nan`.
fn go_float32_key(f: f64) -> String {
    if f.is_nan() {
        return ".nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 {
            ".inf".into()
        } else {
            "-.inf".into()
        };
    }
    #[allow(clippy::cast_possible_truncation)] // the rounding is exactly Go's float32 conversion
    let f32_value = f as f32;
    format_go_g(
        &format!("{:e}", f32_value.abs()),
        f32_value.is_sign_negative(),
    )
}

/// Formats a float the way Go's `fmt` prints a `float64` with `%v`: the shortest digits that
/// round-trip, in `%e` form when the decimal exponent is below -4 or at least 6 (Go's
/// `strconv.FormatFloat(f, 'g', -1, 64)`).
fn go_float(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    // Rust's `{:e}` gives the same shortest round-trip digits as Go: `d.ddde±x`.
    format_go_g(&format!("{:e}", f.abs()), f.is_sign_negative())
}

/// Go's `%v`/`'g'` layout of shortest digits given as Rust's `{:e}` text (`d.ddde±x`).
fn format_go_g(sci: &str, negative: bool) -> String {
    let sign = if negative { "-" } else { "" };
    let (mantissa, exp) = sci.split_once('e').unwrap_or((sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let nd = i32::try_from(digits.len()).unwrap_or(i32::MAX);
    if !(-4..6).contains(&exp) {
        let (first, rest) = digits.split_at(1.min(digits.len()));
        let dot = if rest.is_empty() { "" } else { "." };
        let esign = if exp < 0 { '-' } else { '+' };
        return format!("{sign}{first}{dot}{rest}e{esign}{:02}", exp.unsigned_abs());
    }
    // Fixed notation: the decimal point sits after `exp + 1` digits.
    let point = exp + 1;
    let mut out = String::from(sign);
    if point <= 0 {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', point.unsigned_abs() as usize));
        out.push_str(&digits);
    } else if point >= nd {
        out.push_str(&digits);
        out.extend(std::iter::repeat_n(
            '0',
            (point - nd).unsigned_abs() as usize,
        ));
    } else {
        let (int, frac) = digits.split_at(point.unsigned_abs() as usize);
        out.push_str(int);
        out.push('.');
        out.push_str(frac);
    }
    out
}

impl Value {
    /// The value of `key` in a mapping (matching keys by their text). When a key repeats, the
    /// last one wins, as in Kubernetes' YAML-to-JSON conversion. `None` for non-mappings.
    ///
    /// Keys match by their JSON name (see [`Node::key_text`]), so `? !!binary aW1hZ2U=` is the key
    /// `image` and `on:` is the key `true`, as Kubernetes sees them.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match self {
            Value::Map(entries) => entries
                .iter()
                .rev()
                .find(|(k, _)| k.key_text().as_deref() == Some(key))
                .map(|(_, v)| v),
            _ => None,
        }
    }

    /// The text of a scalar (of any style); `None` for collections.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Scalar(s) => Some(&s.text),
            _ => None,
        }
    }

    /// The scalar, if this is one.
    pub fn as_scalar(&self) -> Option<&Scalar> {
        match self {
            Value::Scalar(s) => Some(s),
            _ => None,
        }
    }

    /// The entries, if this is a mapping.
    pub fn as_map(&self) -> Option<&[(Node, Node)]> {
        match self {
            Value::Map(entries) => Some(entries),
            _ => None,
        }
    }

    /// The items, if this is a sequence.
    pub fn as_seq(&self) -> Option<&[Node]> {
        match self {
            Value::Seq(items) => Some(items),
            _ => None,
        }
    }

    /// True for a plain null scalar (`null`, `~`, empty).
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Scalar(s) if s.is_null())
    }

    /// The value as JSON, as Kubernetes' YAML-to-JSON conversion would produce it: scalars
    /// resolved as go-yaml v2 does (see [`Scalar::to_json`]), map keys by their JSON name (see
    /// [`Node::key_text`]; keys that have none as their text, or a collection's compact JSON),
    /// later duplicate keys winning.
    ///
    /// This never fails: what Kubernetes cannot convert (`.inf`, a `null` or collection key) is
    /// kept as text. [`Node::to_json_checked`] refuses it instead.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Value::Scalar(s) => s.to_json(),
            Value::Seq(items) => {
                serde_json::Value::Array(items.iter().map(Node::to_json).collect())
            }
            Value::Map(entries) => {
                let mut map = serde_json::Map::with_capacity(entries.len());
                for (k, v) in entries {
                    let key = match (k.key_text(), &k.value) {
                        (Some(text), _) => text.into_owned(),
                        (None, Value::Scalar(s)) => s.text.clone(),
                        (None, other) => other.to_json().to_string(),
                    };
                    map.insert(key, v.to_json());
                }
                serde_json::Value::Object(map)
            }
        }
    }

    /// What [`Node::check_json`] checks, positions left to the caller when the scalar itself
    /// fails (line 0).
    fn check_json(&self) -> Result<(), YamlError> {
        match self {
            Value::Scalar(s) => match s.resolve() {
                Resolved::Float(f) if !f.is_finite() => Err(YamlError {
                    message: format!(
                        "`{}` is a float JSON cannot hold: Kubernetes' YAML-to-JSON conversion fails (json: unsupported value)",
                        s.text
                    ),
                    line: 0,
                    col: 0,
                }),
                _ => Ok(()),
            },
            Value::Seq(items) => items.iter().try_for_each(Node::check_json),
            Value::Map(entries) => {
                // Which Go key produced each JSON name, needed only when a key is no string
                // (string keys are distinct once the mapping is built).
                let mut owners: Option<HashMap<Cow<'_, str>, GoKey<&str>>> = entries
                    .iter()
                    .any(|(k, _)| !matches!(GoKey::of(k), GoKey::Str(_)))
                    .then(|| HashMap::with_capacity(entries.len()));
                for (k, v) in entries {
                    let Some(name) = k.key_text() else {
                        return Err(YamlError {
                            message: format!(
                                "mapping key `{}` has no JSON name: Kubernetes' YAML-to-JSON conversion fails (unsupported map key)",
                                k.to_json()
                            ),
                            line: k.line,
                            col: k.col,
                        });
                    };
                    if let Some(owners) = owners.as_mut() {
                        let go = GoKey::of(k);
                        match owners.get(&name) {
                            Some(previous) if *previous != go || go == GoKey::Unique => {
                                return Err(YamlError {
                                    message: format!(
                                        "two different mapping keys both become the JSON key `{name}`: which value Kubernetes keeps is undefined"
                                    ),
                                    line: k.line,
                                    col: k.col,
                                })
                            }
                            _ => {
                                owners.insert(name, go);
                            }
                        }
                    }
                    v.check_json()?;
                }
                Ok(())
            }
        }
    }
}

impl Node {
    /// The value of `key` in a mapping node; see [`Value::get`].
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.value.get(key)
    }

    /// The text of a scalar node; `None` for collections.
    pub fn as_str(&self) -> Option<&str> {
        self.value.as_str()
    }

    /// The scalar, if this node is one.
    pub fn as_scalar(&self) -> Option<&Scalar> {
        self.value.as_scalar()
    }

    /// The entries, if this node is a mapping.
    pub fn as_map(&self) -> Option<&[(Node, Node)]> {
        self.value.as_map()
    }

    /// The items, if this node is a sequence.
    pub fn as_seq(&self) -> Option<&[Node]> {
        self.value.as_seq()
    }

    /// True for a plain null scalar.
    pub fn is_null(&self) -> bool {
        self.value.is_null()
    }

    /// The node as JSON; see [`Value::to_json`].
    pub fn to_json(&self) -> serde_json::Value {
        self.value.to_json()
    }

    /// The node as JSON exactly as `sigs.k8s.io/yaml`'s `YAMLToJSON` makes it, or the reason
    /// that conversion fails, so Kubernetes never receives this document: a float JSON cannot
    /// hold (`.inf`, `.nan`), a key with no JSON name (`null`, a collection, an integer beyond
    /// `i64`), or two different keys that become one JSON name (`1.0` and `1`), where which value
    /// survives depends on Go's map order.
    ///
    /// # Errors
    /// A [`YamlError`] at the offending node.
    pub fn to_json_checked(&self) -> Result<serde_json::Value, YamlError> {
        self.check_json()?;
        Ok(self.to_json())
    }

    /// Whether [`Node::to_json_checked`] would succeed, without building the JSON.
    ///
    /// # Errors
    /// The [`YamlError`] that [`Node::to_json_checked`] returns.
    pub fn check_json(&self) -> Result<(), YamlError> {
        self.value.check_json().map_err(|mut e| {
            if e.line == 0 {
                e.line = self.line;
                e.col = self.col;
            }
            e
        })
    }

    /// This node's name as a JSON object key, as `sigs.k8s.io/yaml` names map keys: a string as
    /// it is, an integer in decimal (`010` → `8`, `0x1F` → `31`), a float with `float32`
    /// precision (`1.10` → `1.1`), a boolean as `true`/`false` (`on` → `true`). `None` where that
    /// conversion fails: `null`, collections, integers beyond `i64`.
    pub fn key_text(&self) -> Option<Cow<'_, str>> {
        let Value::Scalar(s) = &self.value else {
            return None;
        };
        Some(match s.resolve() {
            Resolved::Str(text) => Cow::Borrowed(text),
            Resolved::Int(i) => Cow::Owned(i.to_string()),
            Resolved::Float(f) => Cow::Owned(go_float32_key(f)),
            Resolved::Bool(b) => Cow::Borrowed(if b { "true" } else { "false" }),
            Resolved::Null | Resolved::Uint(_) => return None,
        })
    }

    /// Follows a field path such as `spec.template.spec.containers[1].image` or
    /// `metadata.annotations["helm.sh/hook"]`: dotted keys, `[n]` sequence indexes, and
    /// `["key"]` for keys holding dots (with `\"` and `\\` escapes). The empty path is the node
    /// itself. `None` when any step is missing or the path is malformed.
    /// Every node a path with list wildcards (`spec.steps[*].image`; `[]` is the same) leads
    /// to, each with its concrete path (`spec.steps[0].image`) and the indices the wildcards
    /// took, in document order. Without a wildcard it is [`Node::at_path`] as a list. `None`
    /// when the path does not parse.
    pub fn at_path_all(&self, path: &str) -> Option<Vec<PathMatch<'_>>> {
        let segments = parse_path(path)?;
        let mut found = vec![PathMatch {
            path: String::new(),
            indices: Vec::new(),
            node: self,
        }];
        for segment in &segments {
            let mut next = Vec::new();
            for m in found {
                match segment {
                    PathSegment::Key(key) => {
                        if let Some(node) = m.node.get(key) {
                            let mut path = m.path.clone();
                            push_key(&mut path, key);
                            next.push(PathMatch { path, node, ..m });
                        }
                    }
                    PathSegment::Index(i) => {
                        if let Some(node) = m.node.as_seq().and_then(|s| s.get(*i)) {
                            let mut path = m.path.clone();
                            push_index(&mut path, *i);
                            next.push(PathMatch { path, node, ..m });
                        }
                    }
                    PathSegment::Every => {
                        for (i, node) in m.node.as_seq().into_iter().flatten().enumerate() {
                            let mut indices = m.indices.clone();
                            indices.push(i);
                            let mut path = m.path.clone();
                            push_index(&mut path, i);
                            next.push(PathMatch {
                                path,
                                indices,
                                node,
                            });
                        }
                    }
                }
            }
            found = next;
        }
        Some(found)
    }

    /// The node at `path`. The path syntax: dotted keys (`spec.image`), `[N]` list indices,
    /// `["key"]` for a key holding dots. (`[*]` wildcards: [`Node::at_path_all`].)
    pub fn at_path(&self, path: &str) -> Option<&Node> {
        if path.is_empty() {
            return Some(self);
        }
        let mut node = self;
        for segment in parse_path(path)? {
            node = match segment {
                PathSegment::Key(key) => node.get(&key)?,
                PathSegment::Index(i) => node.as_seq()?.get(i)?,
                PathSegment::Every => return None,
            };
        }
        Some(node)
    }
}

/// One node found by [`Node::at_path_all`].
#[derive(Debug, Clone)]
pub struct PathMatch<'a> {
    /// The concrete path to it (wildcards replaced by indices).
    pub path: String,
    /// The indices the wildcards took, in order.
    pub indices: Vec<usize>,
    /// The node.
    pub node: &'a Node,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(text: &str) -> Node {
        load(text, &Limits::default())
            .expect("valid")
            .expect("non-empty")
    }

    fn plain(text: &str) -> Scalar {
        Scalar {
            text: text.into(),
            style: ScalarStyle::Plain,
        }
    }

    #[test]
    fn positions_are_one_based() {
        let node = one("# Source: x\napiVersion: v1\nspec:\n  containers:\n    - name: a\n      image: nginx\n");
        let image = node.at_path("spec.containers[0].image").unwrap();
        assert_eq!(image.as_str(), Some("nginx"));
        assert_eq!((image.line, image.col), (6, 14));
        let name = node.at_path("spec.containers[0].name").unwrap();
        assert_eq!((name.line, name.col), (5, 13));
        assert_eq!(node.get("apiVersion").map(|n| n.line), Some(2));
    }

    #[test]
    fn empty_and_comment_only_are_none() {
        let limits = Limits::default();
        assert_eq!(load("", &limits), Ok(None));
        assert_eq!(load("# just a comment\n\n", &limits), Ok(None));
        assert_eq!(load("---\n", &limits), Ok(None));
        // An explicit null is a value, not an empty document.
        assert!(load("null", &limits).unwrap().unwrap().is_null());
    }

    #[test]
    fn syntax_errors_have_positions() {
        let err = load("a: 1\nb: [1, 2\nc: 3\n", &Limits::default()).unwrap_err();
        assert!(err.line >= 2, "{err:?}");
        assert!(err.message.contains("invalid YAML"), "{err:?}");
        let err = load("a: 1\n  b: 2\n", &Limits::default()).unwrap_err();
        assert_eq!(err.line, 2, "{err:?}");
        assert!(err.col >= 1);
    }

    #[test]
    fn second_document_is_an_error() {
        let err = load("a: 1\n---\nb: 2\n", &Limits::default()).unwrap_err();
        assert_eq!(err.line, 2);
        let all = load_all("a: 1\n---\n---\nb: 2\n", &Limits::default()).unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all[1].get("b").and_then(Node::as_str), Some("2"));
    }

    #[test]
    fn styles_are_kept() {
        let node =
            one("a: plain\nb: 'single'\nc: \"double\"\nd: |\n  lit\ne: >\n  fold\nf: !!str 1.10\n");
        let style = |k: &str| node.get(k).and_then(Node::as_scalar).map(|s| s.style);
        assert_eq!(style("a"), Some(ScalarStyle::Plain));
        assert_eq!(style("b"), Some(ScalarStyle::SingleQuoted));
        assert_eq!(style("c"), Some(ScalarStyle::DoubleQuoted));
        assert_eq!(style("d"), Some(ScalarStyle::Literal));
        assert_eq!(style("e"), Some(ScalarStyle::Folded));
        assert_eq!(node.get("d").and_then(Node::as_str), Some("lit\n"));
        assert_eq!(
            node.get("f").map(Node::to_json),
            Some(serde_json::json!("1.10"))
        );
    }

    #[test]
    fn aliases_expand_and_keep_use_site_position() {
        let node = one("base: &b\n  image: nginx\ncopy: *b\n");
        let copy = node.get("copy").unwrap();
        assert_eq!(copy.line, 3);
        assert_eq!(copy.get("image").and_then(Node::as_str), Some("nginx"));
    }

    #[test]
    fn alias_bomb_fails_fast() {
        let bomb =
            "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n\
                    b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n\
                    c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n\
                    d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n\
                    e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n\
                    f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n\
                    g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n\
                    h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]\n\
                    i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]\n";
        let start = std::time::Instant::now();
        let err = load(bomb, &Limits::default()).unwrap_err();
        assert!(err.message.contains("limit"), "{err:?}");
        assert!(start.elapsed() < std::time::Duration::from_secs(5));
        let small = Limits {
            max_nodes: 50,
            ..Limits::default()
        };
        let err = load(bomb, &small).unwrap_err();
        assert!(err.message.contains("more than 50 nodes"), "{err:?}");
        assert_eq!(err.line, 2);
    }

    #[test]
    fn deep_nesting_is_bounded() {
        // Very deep flow nesting: the scanner's own limit or ours, either way an error.
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(load(&deep, &Limits::default()).is_err());
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        let err = load(&deep, &Limits::default()).unwrap_err();
        assert!(
            err.message.contains("deeper than the limit of 128"),
            "{err:?}"
        );
        let block: String = (0..200).map(|i| format!("{}k:\n", " ".repeat(i))).collect();
        assert!(load(&block, &Limits::default())
            .unwrap_err()
            .message
            .contains("deeper"));
        let ok = format!("{}{}", "[".repeat(128), "]".repeat(128));
        assert!(load(&ok, &Limits::default()).is_ok());
        // An alias can make a tree deeper than anything written at its use site.
        let via_alias = format!("a: &a {}{}\nb: [*a]\n", "[".repeat(127), "]".repeat(127));
        assert!(load(&via_alias, &Limits::default())
            .unwrap_err()
            .message
            .contains("deeper"));
    }

    #[test]
    fn size_limit() {
        let limits = Limits {
            max_bytes: 10,
            ..Limits::default()
        };
        assert!(load("a: 1234567890", &limits)
            .unwrap_err()
            .message
            .contains("more than the limit"));
    }

    #[test]
    fn merge_keys() {
        let node = one(
            "base: &base\n  a: 1\n  b: 2\nother: &other\n  b: 20\n  c: 30\n\
             one:\n  <<: *base\n  a: 10\nmany:\n  <<: [*other, *base]\n  d: 4\nquoted:\n  '<<': *base\n",
        );
        assert_eq!(
            node.at_path("one").unwrap().to_json(),
            serde_json::json!({"a": 10, "b": 2})
        );
        assert_eq!(
            node.at_path("many").unwrap().to_json(),
            serde_json::json!({"b": 20, "c": 30, "a": 1, "d": 4})
        );
        // A quoted `<<` is an ordinary key.
        assert!(node.at_path("quoted").unwrap().get("<<").is_some());
        assert!(load("a:\n  <<: 5\n", &Limits::default()).is_err());
    }

    #[test]
    fn yaml11_resolution_as_go_yaml() {
        use serde_json::json;
        let cases = [
            ("", json!(null)),
            ("~", json!(null)),
            ("Null", json!(null)),
            ("nUll", json!("nUll")),
            ("true", json!(true)),
            ("TRUE", json!(true)),
            ("False", json!(false)),
            ("yes", json!(true)),
            ("No", json!(false)),
            ("on", json!(true)),
            ("OFF", json!(false)),
            ("y", json!(true)),
            ("N", json!(false)),
            ("yEs", json!("yEs")),
            ("42", json!(42)),
            ("-7", json!(-7)),
            ("+7", json!(7)),
            ("010", json!(8)),
            ("007", json!(7)),
            ("08", json!(8)),
            ("0_7", json!(7)),
            ("0x1F", json!(31)),
            ("0X1F", json!(31)),
            ("0x_1f", json!(31)),
            ("0o17", json!(15)),
            ("0o18", json!("0o18")),
            ("0b101", json!(5)),
            ("-0b11", json!(-3)),
            ("1_000", json!(1000)),
            ("1_", json!(1)),
            ("_1", json!("_1")),
            ("1.5", json!(1.5)),
            ("3.0", json!(3)),
            ("1.", json!(1)),
            (".5", json!(0.5)),
            ("+.5", json!(0.5)),
            ("1_000.5", json!(1000.5)),
            ("1e3", json!(1000)),
            ("1.10", json!(1.1)),
            (".inf", json!(".inf")),
            ("1e999", json!("1e999")),
            ("9223372036854775807", json!(9_223_372_036_854_775_807_i64)),
            ("-9223372036854775808", json!(i64::MIN)),
            (
                "18446744073709551615",
                json!(18_446_744_073_709_551_615_u64),
            ),
            ("0xFFFFFFFFFFFFFFFF", json!(u64::MAX)),
            ("+18446744073709551615", json!(18_446_744_073_709_551_615.0)),
            ("0x1FFFFFFFFFFFFFFFF", json!("0x1FFFFFFFFFFFFFFFF")),
            ("1.2.3", json!("1.2.3")),
            ("12:30", json!("12:30")),
            ("2001-12-14", json!("2001-12-14")),
            ("inf", json!("inf")),
            ("nan", json!("nan")),
            ("1e", json!("1e")),
            ("0x", json!("0x")),
            ("-", json!("-")),
            ("sha256:abc", json!("sha256:abc")),
        ];
        for (text, want) in cases {
            assert_eq!(plain(text).to_json(), want, "{text:?}");
        }
        let quoted = Scalar {
            text: "42".into(),
            style: ScalarStyle::DoubleQuoted,
        };
        assert_eq!(quoted.to_json(), json!("42"));
    }

    #[test]
    fn every_yaml11_word_and_nothing_else() {
        // go-yaml v2's resolve table, word for word; the fast path must keep all of it.
        let words: [(&str, Resolved<'_>); 40] = [
            ("~", Resolved::Null),
            ("null", Resolved::Null),
            ("Null", Resolved::Null),
            ("NULL", Resolved::Null),
            ("y", Resolved::Bool(true)),
            ("Y", Resolved::Bool(true)),
            ("yes", Resolved::Bool(true)),
            ("Yes", Resolved::Bool(true)),
            ("YES", Resolved::Bool(true)),
            ("true", Resolved::Bool(true)),
            ("True", Resolved::Bool(true)),
            ("TRUE", Resolved::Bool(true)),
            ("on", Resolved::Bool(true)),
            ("On", Resolved::Bool(true)),
            ("ON", Resolved::Bool(true)),
            ("n", Resolved::Bool(false)),
            ("N", Resolved::Bool(false)),
            ("no", Resolved::Bool(false)),
            ("No", Resolved::Bool(false)),
            ("NO", Resolved::Bool(false)),
            ("false", Resolved::Bool(false)),
            ("False", Resolved::Bool(false)),
            ("FALSE", Resolved::Bool(false)),
            ("off", Resolved::Bool(false)),
            ("Off", Resolved::Bool(false)),
            ("OFF", Resolved::Bool(false)),
            (".inf", Resolved::Float(f64::INFINITY)),
            (".Inf", Resolved::Float(f64::INFINITY)),
            (".INF", Resolved::Float(f64::INFINITY)),
            ("+.inf", Resolved::Float(f64::INFINITY)),
            ("+.Inf", Resolved::Float(f64::INFINITY)),
            ("+.INF", Resolved::Float(f64::INFINITY)),
            ("-.inf", Resolved::Float(f64::NEG_INFINITY)),
            ("-.Inf", Resolved::Float(f64::NEG_INFINITY)),
            ("-.INF", Resolved::Float(f64::NEG_INFINITY)),
            ("", Resolved::Null),
            ("0", Resolved::Int(0)),
            ("-1", Resolved::Int(-1)),
            ("+.5", Resolved::Float(0.5)),
            ("-.5", Resolved::Float(-0.5)),
        ];
        for (text, want) in words {
            assert_eq!(resolve_plain(text), want, "{text:?}");
        }
        for nan in [".nan", ".NaN", ".NAN"] {
            assert!(matches!(resolve_plain(nan), Resolved::Float(f) if f.is_nan()));
        }
        for text in [
            "yEs", "nulL", "nul", "tru", "onn", "o", "t", "f", "~~", ".nAn", "+.iNf", "-.nan",
            "name", "type", "image", "ports", "Never", "nope", "falsey", "+inf", "-",
        ] {
            assert_eq!(resolve_plain(text), Resolved::Str(text), "{text:?}");
        }
    }

    #[test]
    fn tags_resolve_as_go_yaml() {
        use serde_json::json;
        let node = one(
            "a: !!str 10\nb: !!int \"010\"\nc: !!bool 'on'\nd: !foo 10\ne: !!binary aW1hZ2U=\n\
             f: !!float 1\ng: !!null ''\n? !!binary aW1hZ2U=\n: x\n",
        );
        assert_eq!(
            node.to_json(),
            json!({"a": "10", "b": 8, "c": true, "d": "10", "e": "image", "f": 1, "g": null, "image": "x"})
        );
        assert_eq!(node.get("image").and_then(Node::as_str), Some("x"));
        for bad in [
            "a: !!int x\n",
            "a: !!int 1.5\n",
            "a: !!bool 1\n",
            "a: !!null x\n",
            "a: !!binary 'a b'\n",
            "a: !!binary aW1hZ2U\n",
            "a: !!binary /w==\n",
            "a: \"http:\\/\\/x\"\n",
        ] {
            assert!(load(bad, &Limits::default()).is_err(), "{bad:?}");
        }
        // `\\/` is an escaped backslash then a slash; `\/` outside double quotes is text.
        let ok = one("a: \"x\\\\/y\"\nb: 'x\\/y'\nc: x\\/y\n");
        assert_eq!(ok.get("a").and_then(Node::as_str), Some("x\\/y"));
        assert_eq!(ok.get("b").and_then(Node::as_str), Some("x\\/y"));
    }

    #[test]
    fn merges_apply_in_document_order() {
        use serde_json::json;
        let node = one("bad: &bad {image: bad, imagePullPolicy: Always}\n\
             after:\n  image: good\n  <<: *bad\n\
             before:\n  <<: *bad\n  image: good\n\
             a: &a {x: a}\nb: &b {x: b, w: b}\n\
             seq:\n  x: mine\n  <<: [*a, *b]\n");
        assert_eq!(
            node.get("after").unwrap().to_json(),
            json!({"image": "bad", "imagePullPolicy": "Always"})
        );
        assert_eq!(
            node.get("before").unwrap().to_json(),
            json!({"image": "good", "imagePullPolicy": "Always"})
        );
        assert_eq!(
            node.get("seq").unwrap().to_json(),
            json!({"x": "a", "w": "b"})
        );
        // Each key is kept once, so every reader of the tree sees the winning value.
        assert_eq!(node.get("after").unwrap().as_map().unwrap().len(), 2);
    }

    #[test]
    fn go_yaml_laxities_are_read_like_go_yaml() {
        // A tab after `key:`, a quoted scalar and a flow sequence indented no deeper than their
        // key (the MinIO chart renders the last): go-yaml reads them, so must imagegate, and
        // every later line keeps its number.
        let node = one("a:\tb\nc:\n  d: \"one\ntwo\"\n  e: [x,\n  z\n  ]\n  f: 'p\n q'\ng: h\n");
        assert_eq!(
            node.to_json(),
            serde_json::json!({"a": "b", "c": {"d": "one two", "e": ["x", "z"], "f": "p q"}, "g": "h"})
        );
        assert_eq!(node.get("g").map(|n| (n.line, n.col)), Some((10, 4)));
        // What go-yaml refuses stays refused: a tab after an explicit key's `:`, a document
        // marker inside a quoted scalar.
        assert!(load("? a\n:\tb\n", &Limits::default()).is_err());
        assert!(load("? a\n:\t~\n", &Limits::default()).is_err());
        assert!(load("? a\n:\t&x [1]\n", &Limits::default()).is_err());
        assert!(load("? a\n: \tb\nc:\td\n", &Limits::default()).is_err());
        assert!(load("? a\n: b\nc:\t~\n", &Limits::default()).is_ok());
        assert!(load("a: \"x\n---\ny\"\n", &Limits::default()).is_err());
        assert!(load("a: 1\n  b: 2\n", &Limits::default()).is_err());
        // An apostrophe inside a plain flow scalar is no quote: the flow still ends at its `]`.
        let node = one("a: [it's,\nb]\nc: 'x'\n");
        assert_eq!(
            node.to_json(),
            serde_json::json!({"a": ["it's", "b"], "c": "x"})
        );
    }

    #[test]
    fn keys_as_kubernetes_names_them() {
        use serde_json::json;
        let node = one("010: a\non: b\n1.10: c\n3.14159265: d\n'010': e\n1e6: f\n");
        assert_eq!(
            node.to_json_checked().unwrap(),
            json!({"8": "a", "true": "b", "1.1": "c", "3.1415927": "d", "010": "e", "1e+06": "f"})
        );
        assert_eq!(node.get("true").and_then(Node::as_str), Some("b"));
        // Same Go key: the last wins. Different Go keys, one JSON name: undefined, refused.
        assert_eq!(
            one("010: a\n8: b\n").to_json_checked().unwrap(),
            json!({"8": "b"})
        );
        for bad in [
            "1.0: a\n1: b\n",
            "~: a\n",
            "[k]: v\n",
            "18446744073709551615: a\n",
            "a: [.inf]\n",
            "a: {b: .nan}\n",
        ] {
            let err = one(bad).to_json_checked().unwrap_err();
            assert!(err.line >= 1, "{bad:?}: {err:?}");
        }
        let err = one("a: 1\nb:\n  c: -.inf\n").to_json_checked().unwrap_err();
        assert_eq!((err.line, err.col), (3, 6), "{err:?}");
    }

    #[test]
    fn json_of_a_tree() {
        let node = one("a: [1, x, {b: null}]\n1: one\n? [k]\n: v\n");
        assert_eq!(
            node.to_json(),
            serde_json::json!({"a": [1, "x", {"b": null}], "1": "one", "[\"k\"]": "v"})
        );
    }

    #[test]
    fn go_template_text_matches_go() {
        let cases = [
            ("1.10", "1.1"),
            ("1.0", "1"),
            ("1e3", "1000"),
            ("100000", "100000"),
            ("1234567", "1.234567e+06"),
            ("1000000", "1e+06"),
            ("0.0001", "0.0001"),
            ("0.00001", "1e-05"),
            ("-2.50", "-2.5"),
            ("3.14159", "3.14159"),
            ("0x10", "16"),
            ("1e100", "1e+100"),
            ("123456.7", "123456.7"),
            ("0", "0"),
            ("-0.0", "-0"),
            (".inf", "+Inf"),
            ("-.inf", "-Inf"),
            (".nan", "NaN"),
            ("true", "true"),
            ("~", ""),
            ("1.2.3", "1.2.3"),
            ("v1.10", "v1.10"),
        ];
        for (text, want) in cases {
            assert_eq!(plain(text).go_template_text(), want, "{text:?}");
        }
        let quoted = Scalar {
            text: "1.10".into(),
            style: ScalarStyle::SingleQuoted,
        };
        assert_eq!(quoted.go_template_text(), "1.10");
    }

    #[test]
    fn paths() {
        let node = one("metadata:\n  annotations:\n    helm.sh/hook: test\n    'a\"b': q\nlist: [[1, 2], [3]]\n");
        assert_eq!(
            node.at_path("metadata.annotations[\"helm.sh/hook\"]")
                .and_then(Node::as_str),
            Some("test")
        );
        assert_eq!(
            node.at_path("metadata.annotations[\"a\\\"b\"]")
                .and_then(Node::as_str),
            Some("q")
        );
        assert_eq!(node.at_path("list[0][1]").and_then(Node::as_str), Some("2"));
        assert_eq!(node.at_path("list[1][0]").and_then(Node::as_str), Some("3"));
        assert_eq!(node.at_path("").map(|n| n.line), Some(1));
        for bad in [
            "list[2]",
            "list[x]",
            "list[0",
            "metadata..x",
            ".metadata",
            "metadata.",
            "metadata[\"x",
            "nope",
        ] {
            assert!(node.at_path(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn duplicate_keys_last_wins() {
        let node = one("image: a\nimage: b\n");
        assert_eq!(node.get("image").and_then(Node::as_str), Some("b"));
        assert_eq!(node.to_json(), serde_json::json!({"image": "b"}));
    }
}
