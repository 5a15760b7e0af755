//! Reports: CSV time series, written atomically.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use crate::simulate::Results;

/// The CSV text of a run: `time`, then one column per output variable, one row per saved time.
pub fn csv_text(results: &Results) -> String {
    let mut out = String::with_capacity(results.values.len() * 12 + 64);
    out.push_str("time");
    for c in &results.columns {
        out.push(',');
        out.push_str(&csv_field(c));
    }
    out.push('\n');
    for (r, t) in results.times.iter().enumerate() {
        push_number(&mut out, *t);
        for v in results.row(r) {
            out.push(',');
            push_number(&mut out, *v);
        }
        out.push('\n');
    }
    out
}

/// Shortest text that reads back to the same f64.
pub fn push_number(out: &mut String, v: f64) {
    if v == v.trunc() && v.abs() < 1e15 {
        let _ = write!(out, "{}", v as i64);
    } else {
        let _ = write!(out, "{v:?}");
    }
}

/// A CSV field, quoted when needed.
pub fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// A hidden temporary name next to `path`, for writing it atomically.
pub fn temp_path(path: &Path) -> std::path::PathBuf {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "output".into());
    dir.join(format!(".{name}.{}.tmp", std::process::id()))
}

/// Write `bytes` to `path` through a temporary file in the same directory and a rename, so
/// that readers never see a half-written file.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write_atomically_with(path, |w| w.write_all(bytes))
}

/// Like [`write_atomically`], for output produced piece by piece: `write` streams into a
/// buffered temporary file, so the whole text never has to be in memory.
pub fn write_atomically_with(
    path: &Path,
    write: impl FnOnce(&mut std::io::BufWriter<std::fs::File>) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let tmp = temp_path(path);
    let result = (|| {
        let mut w = std::io::BufWriter::new(std::fs::File::create(&tmp)?);
        write(&mut w)?;
        let f = w.into_inner().map_err(|e| e.into_error())?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Escape text for XML or HTML (element content and quoted attribute values).
pub fn escape_markup(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `dir`, or its nearest existing ancestor (`.` if none).
fn existing_ancestor(dir: &Path) -> PathBuf {
    let mut probe = dir.to_path_buf();
    while !probe.exists() {
        if !probe.pop() {
            probe = PathBuf::from(".");
            break;
        }
    }
    if probe.as_os_str().is_empty() {
        probe = PathBuf::from(".");
    }
    probe
}

/// Whether `a` and `b` (or their nearest existing ancestors) are on the same file system.
pub fn same_file_system(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt as _;
    let dev = |p: &Path| {
        std::fs::metadata(existing_ancestor(p))
            .map(|m| m.dev())
            .ok()
    };
    dev(a).is_some() && dev(a) == dev(b)
}

/// Free bytes on the file system of `dir` (or its nearest existing ancestor).
pub fn available_space(dir: &Path) -> Option<u64> {
    let probe = existing_ancestor(dir);
    let c = std::ffi::CString::new(probe.as_os_str().as_encoded_bytes()).ok()?;
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is a valid NUL-terminated path and `st` a writable statvfs.
    let rc = unsafe { libc::statvfs(c.as_ptr(), &mut st) };
    (rc == 0).then(|| st.f_bavail as u64 * st.f_frsize as u64)
}
