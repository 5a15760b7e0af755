//! Errors and warnings that point into source files.
//!
//! Every message a user sees about their input is a [`Diagnostic`]: what is wrong, where
//! (file:line:column, with the offending line underlined), and what to do about it. The renderer
//! is plain text and deterministic so the bad-input corpus in `tests/bad_models/` can pin the
//! exact wording.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Index of a file in [`Sources`].
pub type FileId = usize;

/// Every file read while loading a model (the model, its modules), kept for error reporting.
#[derive(Debug, Default, Clone)]
pub struct Sources {
    files: Vec<SourceFile>,
}

#[derive(Debug, Clone)]
struct SourceFile {
    path: PathBuf,
    text: String,
}

impl Sources {
    pub fn new() -> Self {
        Sources::default()
    }

    pub fn add(&mut self, path: &Path, text: String) -> FileId {
        self.files.push(SourceFile {
            path: path.to_path_buf(),
            text,
        });
        self.files.len() - 1
    }

    pub fn path(&self, file: FileId) -> &Path {
        &self.files[file].path
    }

    pub fn text(&self, file: FileId) -> &str {
        &self.files[file].text
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, file: FileId, offset: usize) -> (usize, usize) {
        let text = &self.files[file].text;
        let offset = floor_char_boundary(text, offset.min(text.len()));
        let before = &text[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let col = text[line_start..offset].chars().count() + 1;
        (line, col)
    }

    /// `path:line:col` for a location.
    pub fn describe(&self, loc: Location) -> String {
        let (line, col) = self.line_col(loc.file, loc.start);
        format!("{}:{}:{}", self.path(loc.file).display(), line, col)
    }
}

fn floor_char_boundary(text: &str, mut i: usize) -> usize {
    while i > 0 && !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// A byte range in one source file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Location {
    pub file: FileId,
    pub start: usize,
    pub end: usize,
}

impl Location {
    pub fn new(file: FileId, start: usize, end: usize) -> Self {
        Location {
            file,
            start,
            end: end.max(start),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
}

/// One message about the user's input.
#[derive(Debug, Clone, PartialEq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub message: String,
    pub location: Option<Location>,
    /// What to do about it.
    pub help: Option<String>,
    /// Further places involved (e.g. the other members of a dependency cycle).
    pub notes: Vec<(String, Option<Location>)>,
}

impl Diagnostic {
    pub fn error(message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            message: message.into(),
            location: None,
            help: None,
            notes: Vec::new(),
        }
    }

    pub fn warning(message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(message)
        }
    }

    pub fn at(mut self, location: Location) -> Self {
        self.location = Some(location);
        self
    }

    pub fn at_opt(mut self, location: Option<Location>) -> Self {
        self.location = location;
        self
    }

    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn note(mut self, note: impl Into<String>, location: Option<Location>) -> Self {
        self.notes.push((note.into(), location));
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// Render in the style of rustc:
    ///
    /// ```text
    /// error: unknown variable `dran_time`
    ///   --> models/x.toml:12:23
    ///    |
    /// 12 | equation = "water / dran_time"
    ///    |                     ^^^^^^^^^
    ///    = help: did you mean `drain_time`?
    /// ```
    pub fn render(&self, sources: &Sources) -> String {
        let mut out = String::new();
        let label = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let _ = writeln!(out, "{label}: {}", self.message);
        if let Some(loc) = self.location {
            render_snippet(&mut out, sources, loc);
        }
        for (note, loc) in &self.notes {
            match loc {
                Some(loc) => {
                    let _ = writeln!(out, "   = note: {note} ({})", sources.describe(*loc));
                }
                None => {
                    let _ = writeln!(out, "   = note: {note}");
                }
            }
        }
        if let Some(help) = &self.help {
            // Continuation lines line up under the first.
            let help = help.replace('\n', "\n           ");
            let _ = writeln!(out, "   = help: {help}");
        }
        out
    }
}

fn render_snippet(out: &mut String, sources: &Sources, loc: Location) {
    let text = sources.text(loc.file);
    let (line, col) = sources.line_col(loc.file, loc.start);
    let _ = writeln!(
        out,
        "  --> {}:{}:{}",
        sources.path(loc.file).display(),
        line,
        col
    );
    let Some(line_text) = text.lines().nth(line - 1) else {
        return;
    };
    // Printable line only: a binary file must not spray control characters on the terminal.
    let shown: String = line_text
        .chars()
        .take(200)
        .map(|c| if c.is_control() && c != '\t' { '?' } else { c })
        .collect();
    let gutter = line.to_string().len();
    let start = floor_char_boundary(text, loc.start.min(text.len()));
    let end = floor_char_boundary(text, loc.end.min(text.len()));
    let width = text[start..end]
        .split('\n')
        .next()
        .map_or(1, |s| s.chars().count())
        .max(1);
    let _ = writeln!(out, "{:gutter$} |", "");
    let _ = writeln!(out, "{line} | {shown}");
    let pad: String = line_text
        .chars()
        .take(col - 1)
        .map(|c| if c == '\t' { '\t' } else { ' ' })
        .collect();
    let _ = writeln!(out, "{:gutter$} | {pad}{}", "", "^".repeat(width.min(200)));
}

/// A failed step: one or more errors (and any warnings found on the way).
#[derive(Debug, Clone, Default)]
pub struct Diagnostics {
    pub items: Vec<Diagnostic>,
}

impl Diagnostics {
    pub fn new() -> Self {
        Diagnostics::default()
    }

    pub fn push(&mut self, d: Diagnostic) {
        self.items.push(d);
    }

    pub fn has_errors(&self) -> bool {
        self.items.iter().any(Diagnostic::is_error)
    }

    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.items.iter().filter(|d| d.is_error())
    }

    pub fn warnings(&self) -> impl Iterator<Item = &Diagnostic> {
        self.items.iter().filter(|d| !d.is_error())
    }

    pub fn render(&self, sources: &Sources) -> String {
        let mut out = String::new();
        for d in &self.items {
            out.push_str(&d.render(sources));
        }
        out
    }
}

impl From<Diagnostic> for Diagnostics {
    fn from(d: Diagnostic) -> Self {
        Diagnostics { items: vec![d] }
    }
}

/// The closest candidate by edit distance, if it is close enough to be a plausible typo.
pub fn did_you_mean<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let lower = name.to_lowercase();
    let mut best: Option<(usize, &str)> = None;
    for c in candidates {
        let d = edit_distance(&lower, &c.to_lowercase());
        if best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, c));
        }
    }
    let limit = (name.chars().count() / 3).max(1);
    best.filter(|(d, _)| *d <= limit).map(|(_, c)| c)
}

/// Edits (insert, delete, substitute, or swap two neighbours: `drian` → `drain` is one) to
/// turn `a` into `b`.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut before: Vec<usize> = Vec::new();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, &ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, &cb) in b.iter().enumerate() {
            let cost = usize::from(ca != cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
            if i > 0 && j > 0 && ca == b[j - 1] && a[i - 1] == cb {
                cur[j + 1] = cur[j + 1].min(before[j - 1] + 1);
            }
        }
        before = std::mem::replace(&mut prev, cur);
    }
    prev[b.len()]
}

impl From<String> for Diagnostic {
    /// A plain error without a location.
    fn from(message: String) -> Diagnostic {
        Diagnostic::error(message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_line_column_and_caret() {
        let mut s = Sources::new();
        let f = s.add(Path::new("m.toml"), "a = 1\nequation = \"x + y\"\n".into());
        let d = Diagnostic::error("unknown variable `y`")
            .at(Location::new(f, 22, 23))
            .help("declare it");
        let r = d.render(&s);
        assert!(r.contains("--> m.toml:2:17"), "{r}");
        assert!(r.contains("2 | equation = \"x + y\""), "{r}");
        assert!(r.contains("  |                 ^\n"), "{r}");
        assert!(r.contains("= help: declare it"), "{r}");
    }

    #[test]
    fn suggests_close_names_only() {
        assert_eq!(
            did_you_mean("dran_time", ["drain_time", "water"]),
            Some("drain_time")
        );
        assert_eq!(did_you_mean("zzz", ["drain_time", "water"]), None);
        assert_eq!(did_you_mean("drian", ["drain", "water"]), Some("drain"));
        assert_eq!(edit_distance("ab", "ba"), 1);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }
}
