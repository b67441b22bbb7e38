//! Span-aware, bounded loading of one YAML document. (Interface fixed; implementation pending.)

/// Limits that bound the work and memory of loading hostile YAML.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Maximum nesting depth of collections.
    pub max_depth: usize,
    /// Maximum number of nodes in the loaded tree, counting every alias expansion.
    pub max_nodes: usize,
    /// Maximum size of the input text in bytes.
    pub max_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self { max_depth: 128, max_nodes: 2_000_000, max_bytes: 64 * 1024 * 1024 }
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

/// Loads a single document. Returns `Ok(None)` for an empty or comment-only document.
pub fn load(_text: &str, _limits: &Limits) -> Result<Option<Node>, YamlError> {
    Err(YamlError { message: "not implemented yet".into(), line: 1, col: 1 })
}

/// Loads every document of a multi-document text.
pub fn load_all(_text: &str, _limits: &Limits) -> Result<Vec<Node>, YamlError> {
    Err(YamlError { message: "not implemented yet".into(), line: 1, col: 1 })
}
