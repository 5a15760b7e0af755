//! Reading an XMILE file as XML, within limits, and keeping track of where text came from.
//!
//! The XML parser is `roxmltree`: it keeps the byte range of every node (so errors point at
//! file:line:column), refuses DTDs by default (no entity-expansion attacks) and bounds the
//! number of nodes. The file size and the element nesting are bounded here.

use std::path::Path;

use roxmltree::{Document, Node, ParsingOptions};

use crate::diagnostics::{Diagnostic, FileId, Location};

/// Largest XMILE file read (bytes).
pub const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;
/// Deepest element nesting accepted (real models nest a few levels; modules a few more).
pub const MAX_DEPTH: usize = 64;
/// Most XML nodes in one file.
pub const MAX_NODES: u32 = 4_000_000;

/// Read a file for import, refusing very large files.
pub fn read(path: &Path) -> Result<String, Diagnostic> {
    let meta = std::fs::metadata(path).map_err(|e| {
        Diagnostic::error(format!("cannot read `{}`: {e}", path.display()))
            .help("check the path to the model file")
    })?;
    if meta.len() > MAX_FILE_BYTES {
        return Err(Diagnostic::error(format!(
            "`{}` is {} bytes, above the {} MiB limit for XMILE files",
            path.display(),
            meta.len(),
            MAX_FILE_BYTES >> 20
        ))
        .help("is this really a model file? split very large models into modules"));
    }
    let bytes = std::fs::read(path)
        .map_err(|e| Diagnostic::error(format!("cannot read `{}`: {e}", path.display())))?;
    String::from_utf8(bytes).map_err(|e| {
        Diagnostic::error(format!(
            "`{}` is not UTF-8 text (invalid byte at offset {})",
            path.display(),
            e.utf8_error().valid_up_to()
        ))
        .help("save the file as UTF-8")
    })
}

/// Where text was inserted into the file's text before parsing (see [`declare_prefixes`]):
/// positions at or after `at` in the parsed text are `len` bytes after their place in the file.
#[derive(Debug, Clone, Copy, Default)]
pub struct Shift {
    pub at: usize,
    pub len: usize,
}

impl Shift {
    /// The file offset of a position in the parsed text.
    pub fn orig(&self, pos: usize) -> usize {
        if pos >= self.at + self.len {
            pos - self.len
        } else {
            pos.min(self.at)
        }
    }
}

/// Vensim's converter (xmutil) writes `<isee:prefs>` without declaring the `isee` prefix,
/// which namespace-aware XML rejects. Declare every such prefix on the root element (a
/// placeholder namespace: these are vendor elements, which the importer skips).
pub fn declare_prefixes(text: &str) -> (String, Shift) {
    let mut used: Vec<String> = Vec::new();
    let bytes = text.as_bytes();
    for (i, _) in text.match_indices(':') {
        // The name before the colon, if it is a tag or attribute name's prefix.
        let start = text[..i]
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.'))
            .map_or(0, |k| k + 1);
        if start == i || start == 0 {
            continue;
        }
        let before = bytes[start - 1];
        if before != b'<' && before != b' ' && before != b'/' && before != b'\t' && before != b'\n'
        {
            continue;
        }
        let prefix = &text[start..i];
        if prefix == "xmlns"
            || prefix == "xml"
            || !prefix.starts_with(|c: char| c.is_ascii_alphabetic())
        {
            continue;
        }
        // Only in markup: the next tag start or end decides.
        let next_lt = text[i..].find('<');
        let next_gt = text[i..].find('>');
        let in_markup = match (next_gt, next_lt) {
            (Some(g), Some(l)) => g < l,
            (Some(_), None) => true,
            _ => false,
        };
        if in_markup
            && !text.contains(&format!("xmlns:{prefix}="))
            && !used.iter().any(|u| u == prefix)
        {
            used.push(prefix.to_string());
        }
    }
    let Some(root) = text.find("<xmile").filter(|_| !used.is_empty()) else {
        return (text.to_string(), Shift::default());
    };
    let at = root + "<xmile".len();
    let insert: String = used
        .iter()
        .map(|p| format!(" xmlns:{p}=\"urn:careshift:undeclared:{p}\""))
        .collect();
    let mut patched = String::with_capacity(text.len() + insert.len());
    patched.push_str(&text[..at]);
    patched.push_str(&insert);
    patched.push_str(&text[at..]);
    (
        patched,
        Shift {
            at,
            len: insert.len(),
        },
    )
}

/// Parse XML text (as prepared by [`declare_prefixes`]); errors point at the offending place
/// in the file.
pub fn parse(text: &str, file: FileId, shift: Shift) -> Result<Document<'_>, Diagnostic> {
    // A cheap bound on nesting before building the tree: count open tags along the text.
    check_depth(text, file, shift)?;
    let options = ParsingOptions {
        allow_dtd: false,
        nodes_limit: MAX_NODES,
        ..ParsingOptions::default()
    };
    Document::parse_with_options(text, options).map_err(|e| {
        let pos = e.pos();
        let at = shift.orig(offset_of(text, pos.row as usize, pos.col as usize));
        let help = match e {
            roxmltree::Error::DtdDetected => {
                "XMILE files need no DTD; remove the <!DOCTYPE ...> declaration"
            }
            roxmltree::Error::NodesLimitReached => "the file has too many XML nodes for a model",
            _ => "the file must be well-formed XML (XMILE 1.0); check the tag at this place",
        };
        Diagnostic::error(format!("malformed XML: {e}"))
            .at(Location::new(file, at, at))
            .help(help)
    })
}

/// Reject element nesting beyond [`MAX_DEPTH`] with the place where it goes too deep. The
/// scan is approximate in the safe direction: it only counts `<name` and `</` and `/>`, skipping
/// comments, CDATA, processing instructions and quoted attribute values.
fn check_depth(text: &str, file: FileId, shift: Shift) -> Result<(), Diagnostic> {
    let bytes = text.as_bytes();
    let mut depth: usize = 0;
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'<' {
            i += 1;
            continue;
        }
        let rest = &text[i..];
        let skip_to = |end: &str| rest.find(end).map_or(bytes.len(), |k| i + k + end.len());
        if rest.starts_with("<!--") {
            i = skip_to("-->");
        } else if rest.starts_with("<![CDATA[") {
            i = skip_to("]]>");
        } else if rest.starts_with("<?") || rest.starts_with("<!") {
            i = skip_to(">");
        } else if rest.starts_with("</") {
            depth = depth.saturating_sub(1);
            i = skip_to(">");
        } else {
            // An opening tag: find its end, honouring quoted attribute values.
            let start = i;
            let mut j = i + 1;
            let mut quote = None;
            while j < bytes.len() {
                match (quote, bytes[j]) {
                    (None, b'"' | b'\'') => quote = Some(bytes[j]),
                    (Some(q), c) if c == q => quote = None,
                    (None, b'>') => break,
                    _ => {}
                }
                j += 1;
            }
            let self_closing = j > 0 && j < bytes.len() && bytes[j - 1] == b'/';
            if !self_closing {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(Diagnostic::error(format!(
                        "XML elements nested more than {MAX_DEPTH} deep"
                    ))
                    .at(Location::new(
                        file,
                        shift.orig(start),
                        shift.orig(start) + 1,
                    ))
                    .help("an XMILE model nests only a few levels; is this file damaged?"));
                }
            }
            i = j + 1;
        }
    }
    Ok(())
}

/// Byte offset of a 1-based (row, column in characters) position.
fn offset_of(text: &str, row: usize, col: usize) -> usize {
    let line_start = if row <= 1 {
        0
    } else {
        text.match_indices('\n')
            .nth(row - 2)
            .map_or(text.len(), |(i, _)| i + 1)
    };
    let line = &text[line_start..];
    line.char_indices()
        .nth(col.saturating_sub(1))
        .map_or(text.len(), |(i, _)| line_start + i)
}

/// Text together with the file offset of each of its bytes (and one more, for its end).
#[derive(Debug, Clone, Default)]
pub struct Located {
    pub text: String,
    pub offsets: Vec<usize>,
}

impl Located {
    pub fn location(&self, file: FileId, start: usize, end: usize) -> Location {
        let at = |i: usize| self.offsets[i.min(self.offsets.len() - 1)];
        Location::new(file, at(start), at(end).max(at(start)))
    }
}

/// The text content of an element with each byte's offset in the file, entity references
/// and CDATA sections decoded.
pub fn element_text(node: Node, doc_text: &str, shift: Shift) -> Located {
    let mut out = Located::default();
    let mut end = node.range().end;
    for child in node.children().filter(|c| c.is_text()) {
        let range = child.range();
        decode(&doc_text[range.clone()], range.start, &mut out);
        end = range.end;
    }
    if out.text.is_empty() {
        end = node.range().start;
    }
    out.offsets.push(end);
    for o in &mut out.offsets {
        *o = shift.orig(*o);
    }
    // If the decoding disagrees with the parser's (an exotic construct), trust the parser's
    // text and point every byte at the element.
    let parsed: String = node.children().filter_map(|c| c.text()).collect();
    if parsed != out.text {
        let at = shift.orig(node.range().start);
        return Located {
            offsets: vec![at; parsed.len() + 1],
            text: parsed,
        };
    }
    out
}

fn decode(raw: &str, base: usize, out: &mut Located) {
    let mut i = 0;
    while i < raw.len() {
        let rest = &raw[i..];
        if let Some(inner) = rest.strip_prefix("<![CDATA[") {
            let len = inner.find("]]>").unwrap_or(inner.len());
            push_str(&inner[..len], base + i + 9, out);
            i += 9 + len + 3;
            continue;
        }
        if rest.starts_with('&')
            && let Some(semi) = rest.find(';')
        {
            let entity = &rest[1..semi];
            let decoded = match entity {
                "lt" => Some('<'),
                "gt" => Some('>'),
                "amp" => Some('&'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                _ => entity
                    .strip_prefix("#x")
                    .and_then(|h| u32::from_str_radix(h, 16).ok())
                    .or_else(|| entity.strip_prefix('#').and_then(|d| d.parse().ok()))
                    .and_then(char::from_u32),
            };
            if let Some(c) = decoded {
                let mut buf = [0u8; 4];
                for _ in 0..c.encode_utf8(&mut buf).len() {
                    out.offsets.push(base + i);
                }
                out.text.push(c);
                i += semi + 1;
                continue;
            }
        }
        let c = rest.chars().next().unwrap_or(' ');
        let n = c.len_utf8();
        if c == '\r' {
            // XML normalises line ends: "\r\n" and a lone "\r" become "\n".
            if !rest[1..].starts_with('\n') {
                out.text.push('\n');
                out.offsets.push(base + i);
            }
            i += 1;
            continue;
        }
        out.text.push(c);
        for k in 0..n {
            out.offsets.push(base + i + k);
        }
        i += n;
    }
}

fn push_str(s: &str, base: usize, out: &mut Located) {
    for (k, c) in s.char_indices() {
        out.text.push(c);
        for j in 0..c.len_utf8() {
            out.offsets.push(base + k + j);
        }
    }
}
