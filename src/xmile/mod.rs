//! XMILE 1.0 (OASIS) import and export: see docs/XMILE.md.
//!
//! `xml.rs` reads the file within limits, `names.rs` canonicalises names, `equation.rs`
//! translates XMILE equations to careshift's language (keeping error locations in the XMILE
//! file), `import.rs` builds a [`crate::model::ModelDecl`], `export.rs` writes one as XMILE.

pub mod equation;
pub mod export;
pub mod import;
pub mod names;
pub mod xml;

use std::path::Path;

/// True when `path` should be read as XMILE: by extension (`.xmile`, `.stmx`, `.itmx`, `.xml`)
/// or, for other extensions, by an `<xmile` root element near the start of the file.
pub fn is_xmile(path: &Path) -> bool {
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "xmile" | "stmx" | "itmx" | "xml" => true,
        "toml" => false,
        _ => sniff(path),
    }
}

fn sniff(path: &Path) -> bool {
    use std::io::Read as _;
    let Ok(file) = std::fs::File::open(path) else {
        return false;
    };
    let mut head = Vec::new();
    if file.take(4096).read_to_end(&mut head).is_err() {
        return false;
    }
    let head = String::from_utf8_lossy(&head);
    let trimmed = head.trim_start_matches('\u{feff}').trim_start();
    trimmed.starts_with('<') && head.contains("<xmile")
}
