//! Splitting a multi-document stream (the output of `helm template`) into documents.
//!
//! This runs over every byte helm prints, so it is a single forward pass over lines that looks
//! only at the first few bytes of each line; the per-document work is one copy of its text.

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

/// What a line means to the splitter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Marker {
    /// `---`, optionally followed by content on the same line (which belongs to the document).
    Start,
    /// `...`
    End,
    /// Anything else.
    Content,
}

fn classify(line: &[u8]) -> Marker {
    if line.len() >= 3 && (line.len() == 3 || line[3] == b' ' || line[3] == b'\t') {
        match &line[..3] {
            b"---" => return Marker::Start,
            b"..." => return Marker::End,
            _ => {}
        }
    }
    Marker::Content
}

/// True when the line carries no YAML content: blank, a comment, or a directive (`%YAML`),
/// which belongs to the document that follows rather than making one of its own.
fn is_trivia(line: &[u8]) -> bool {
    match line.iter().position(|b| !matches!(b, b' ' | b'\t')) {
        None => true,
        Some(i) => matches!(line[i], b'#' | b'%'),
    }
}

/// The document being collected.
struct Open {
    /// Byte offset in the stream where its text starts.
    start: usize,
    start_line: u32,
    source: Option<String>,
    /// Still in the leading run of blank and comment lines, where helm puts `# Source:`.
    in_header: bool,
    /// Whether any line so far is more than trivia.
    has_content: bool,
    /// Opened by an explicit `---`: such a document counts even when it is empty. The
    /// implicit document before the first `---` (or after a `...`) counts only with content.
    explicit: bool,
    /// Text on the `---` line itself (`--- |`, `--- {a: 1}`), which precedes the body.
    inline: Option<usize>,
}

impl Open {
    fn new(start: usize, start_line: u32, explicit: bool) -> Self {
        Self {
            start,
            start_line,
            source: None,
            in_header: true,
            has_content: false,
            explicit,
            inline: None,
        }
    }

    fn see(&mut self, line: &[u8]) {
        if !self.in_header {
            return;
        }
        if is_trivia(line) {
            if self.source.is_none() {
                if let Some(rest) = line.strip_prefix(b"# Source:") {
                    let path = String::from_utf8_lossy(rest);
                    let path = path.trim();
                    if !path.is_empty() {
                        self.source = Some(path.to_owned());
                    }
                }
            }
        } else {
            self.in_header = false;
            self.has_content = true;
        }
    }
}

/// Splits a stream into documents.
///
/// A document starts at a line that is exactly `---` or starts with `--- ` / `---\t`, and ends at
/// the next such line, at a `...` line, or at the end of the stream. Text before the first `---`
/// (or after a `...`) is a document only when it holds more than blank lines, comments and
/// directives, so `---` at the top of helm output does not produce a phantom empty document,
/// while an explicit but empty document (a template that rendered nothing) keeps its number.
///
/// A leading byte-order mark is skipped and CRLF line ends are accepted; each document's text is
/// the exact slice of the stream (line ends included), so lines inside it map back to the stream
/// by adding `start_line - 1`.
pub fn split_stream(text: &str) -> Vec<Document> {
    let body = text.strip_prefix('\u{feff}').unwrap_or(text);
    let base = text.len() - body.len();
    let bytes = text.as_bytes();

    let mut docs = Vec::new();
    let mut open = Some(Open::new(base, 1, false));
    let mut pos = base;
    let mut line_no: u32 = 1;

    while pos < bytes.len() {
        let end = match body[pos - base..].find('\n') {
            Some(i) => pos + i + 1,
            None => bytes.len(),
        };
        let raw = &bytes[pos..end];
        let line = trim_eol(raw);

        match classify(line) {
            Marker::Start => {
                if let Some(doc) = open.take() {
                    finish(&mut docs, doc, text, pos);
                }
                let rest = &line[3..];
                let mut next = Open::new(end, line_no.saturating_add(1), true);
                if !is_trivia(rest) {
                    // `--- value`: the value is part of the document. Keep it on its own line so
                    // the body's lines still line up with the stream.
                    next.inline = Some(pos + 4);
                    next.start_line = line_no;
                    next.in_header = false;
                    next.has_content = true;
                }
                open = Some(next);
            }
            Marker::End => {
                if let Some(doc) = open.take() {
                    finish(&mut docs, doc, text, pos);
                }
                open = Some(Open::new(end, line_no.saturating_add(1), false));
            }
            Marker::Content => {
                if let Some(doc) = open.as_mut() {
                    doc.see(line);
                }
            }
        }
        pos = end;
        line_no = line_no.saturating_add(1);
    }
    if let Some(doc) = open.take() {
        finish(&mut docs, doc, text, bytes.len());
    }
    docs
}

fn trim_eol(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

fn finish(docs: &mut Vec<Document>, doc: Open, text: &str, end: usize) {
    if !doc.explicit && !doc.has_content {
        return;
    }
    let start = doc.inline.unwrap_or(doc.start).min(end);
    // Positions are at line starts or just after `--- `, which are char boundaries; `get` keeps
    // this total even if that reasoning were ever wrong.
    let body = text.get(start..end).unwrap_or_default().to_owned();
    docs.push(Document {
        index: docs.len(),
        source: doc.source,
        text: body,
        start_line: doc.start_line,
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helm_output_with_sources() {
        let stream = "---\n# Source: app/templates/a.yaml\napiVersion: v1\nkind: A\n---\n# Source: app/templates/b.yaml\nkind: B\n";
        let docs = split_stream(stream);
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[0].index, 0);
        assert_eq!(docs[0].source.as_deref(), Some("app/templates/a.yaml"));
        assert_eq!(
            docs[0].text,
            "# Source: app/templates/a.yaml\napiVersion: v1\nkind: A\n"
        );
        assert_eq!(docs[0].start_line, 2);
        assert_eq!(docs[1].source.as_deref(), Some("app/templates/b.yaml"));
        assert_eq!(docs[1].text, "# Source: app/templates/b.yaml\nkind: B\n");
        assert_eq!(docs[1].start_line, 6);
    }

    #[test]
    fn empty_documents_keep_their_numbers() {
        let stream = "---\n# Source: a.yaml\n---\n# Source: b.yaml\nkind: B\n---\n";
        let docs = split_stream(stream);
        assert_eq!(docs.len(), 3);
        assert_eq!(docs[0].source.as_deref(), Some("a.yaml"));
        assert_eq!(docs[0].text, "# Source: a.yaml\n");
        assert_eq!(docs[1].index, 1);
        assert_eq!(docs[1].text, "# Source: b.yaml\nkind: B\n");
        assert_eq!(docs[2].index, 2);
        assert_eq!(docs[2].text, "");
        assert_eq!(docs[2].start_line, 7);
    }

    #[test]
    fn leading_document_without_marker() {
        let docs = split_stream("kind: A\n---\nkind: B");
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[0].text, "kind: A\n");
        assert_eq!(docs[0].start_line, 1);
        assert_eq!(docs[0].source, None);
        assert_eq!(docs[1].text, "kind: B");
        assert_eq!(docs[1].start_line, 3);
    }

    #[test]
    fn leading_comments_are_not_a_document() {
        let docs = split_stream("# header\n\n%YAML 1.2\n---\nkind: A\n");
        assert_eq!(docs.len(), 1);
        assert_eq!(docs[0].index, 0);
        assert_eq!(docs[0].text, "kind: A\n");
        assert_eq!(docs[0].start_line, 5);
    }

    #[test]
    fn crlf_and_bom() {
        let docs = split_stream("\u{feff}---\r\n# Source: x.yaml\r\nkind: A\r\n---\r\nkind: B\r\n");
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[0].source.as_deref(), Some("x.yaml"));
        assert_eq!(docs[0].text, "# Source: x.yaml\r\nkind: A\r\n");
        assert_eq!(docs[0].start_line, 2);
        assert_eq!(docs[1].text, "kind: B\r\n");
        assert_eq!(docs[1].start_line, 5);
    }

    #[test]
    fn document_end_marker() {
        let docs = split_stream("kind: A\n...\n---\nkind: B\n...\n# trailing comment\n");
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[0].text, "kind: A\n");
        assert_eq!(docs[1].text, "kind: B\n");
        assert_eq!(docs[1].index, 1);
        // Content after `...` without a new `---` is a document of its own.
        let docs = split_stream("kind: A\n...\nkind: B\n");
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[1].text, "kind: B\n");
        assert_eq!(docs[1].start_line, 3);
    }

    #[test]
    fn markers_need_a_separator() {
        let docs = split_stream("a: 1\n----\n---x\n--- # comment\nb: 2\n---\tc\n");
        assert_eq!(docs.len(), 3);
        assert_eq!(docs[0].text, "a: 1\n----\n---x\n");
        assert_eq!(docs[1].text, "b: 2\n");
        assert_eq!(docs[1].start_line, 5);
        // Content on the `---` line belongs to the document, starting on that line.
        assert_eq!(docs[2].text, "c\n");
        assert_eq!(docs[2].start_line, 6);
    }

    #[test]
    fn source_only_from_the_header() {
        let docs = split_stream("---\nkind: A\n# Source: not/the/header.yaml\n");
        assert_eq!(docs[0].source, None);
        let docs = split_stream("---\n\n# a comment\n# Source: late.yaml\nkind: A\n");
        assert_eq!(docs[0].source.as_deref(), Some("late.yaml"));
    }

    #[test]
    fn empty_stream() {
        assert!(split_stream("").is_empty());
        assert!(split_stream("\u{feff}").is_empty());
        assert!(split_stream("# only a comment\n").is_empty());
        assert_eq!(split_stream("---").len(), 1);
    }
}
