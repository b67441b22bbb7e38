//! Splitting a multi-document stream. (Interface fixed; implementation pending.)

/// One document of a stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    /// 0-based index in the stream, counting every document including empty ones.
    pub index: usize,
    /// The template path from a `# Source:` comment, when the document has one.
    pub source: Option<String>,
    /// The document's text (without the `---` line).
    pub text: String,
    /// 1-based line in the whole stream where `text` starts.
    pub start_line: u32,
}

/// Splits a stream into documents.
pub fn split_stream(_text: &str) -> Vec<Document> {
    Vec::new()
}
