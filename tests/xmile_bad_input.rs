//! Bad XMILE input: every file in `tests/bad_xmile/` must be rejected with a clear message (and
//! location), a non-zero exit code, no panic and no output file. A case's header is its first
//! XML comment: `expect: TEXT` lines (required, repeatable) and an optional
//! `expect-at: FILE:LINE:COL`. Also: files too deep or too large (generated here), and unknown
//! elements, which are warnings, not errors.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_careshift");

fn careshift(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env_remove("RUST_BACKTRACE")
        .output()
        .expect("start careshift")
}

/// (expect texts, expect-at) from the first XML comment.
fn header(text: &str) -> Result<(Vec<String>, Option<String>), String> {
    let start = text.find("<!--").ok_or("no header comment")?;
    let end = text[start..]
        .find("-->")
        .ok_or("unterminated header comment")?
        + start;
    let mut expect = Vec::new();
    let mut at = None;
    for line in text[start + 4..end].lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let (key, value) = (key.trim(), value.trim());
        if !key.chars().all(|c| c.is_ascii_lowercase() || c == '-') || key.is_empty() {
            continue;
        }
        match key {
            "expect" if !value.is_empty() => expect.push(value.to_string()),
            "expect-at" if at.is_none() => at = Some(value.to_string()),
            _ => return Err(format!("unknown header line `{line}`")),
        }
    }
    if expect.is_empty() {
        return Err("no `expect:` line".into());
    }
    Ok((expect, at))
}

#[test]
fn every_bad_xmile_file_is_rejected_clearly() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bad_xmile");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/bad_xmile")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "xmile"))
        .collect();
    files.sort();
    assert!(files.len() >= 25, "only {} cases", files.len());
    let tmp = common::temp_dir("bad-xmile");
    let mut failures = Vec::new();
    for path in &files {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(path).expect("text");
        let (expect, at) = match header(&text) {
            Ok(h) => h,
            Err(e) => {
                failures.push(format!("{name}: {e}"));
                continue;
            }
        };
        let csv = tmp.join(format!("{name}.csv"));
        let out = careshift(&[
            "run",
            path.to_str().unwrap(),
            "--csv",
            csv.to_str().unwrap(),
        ]);
        let mut p = common::problems(&out, &expect, at.as_deref());
        if csv.exists() {
            p.push(format!("wrote {}", csv.display()));
        }
        // `check` must say the same.
        let checked = careshift(&["check", path.to_str().unwrap()]);
        p.extend(
            common::problems(&checked, &expect, at.as_deref())
                .into_iter()
                .map(|m| format!("check: {m}")),
        );
        if !p.is_empty() {
            failures.push(common::describe(&name, &p, &out));
        }
    }
    common::report(&failures);
}

const HEAD: &str = r#"<xmile version="1.0" xmlns="http://docs.oasis-open.org/xmile/ns/XMILE/v1.0">
<sim_specs><start>0</start><stop>2</stop><dt>1</dt></sim_specs>
"#;

#[test]
fn deeply_nested_file_is_refused_without_overflow() {
    let tmp = common::temp_dir("deep-xmile");
    let path = tmp.join("deep.xmile");
    let depth = 200_000;
    let mut text = String::from(HEAD);
    text.push_str(&"<a>".repeat(depth));
    text.push_str(&"</a>".repeat(depth));
    text.push_str("</xmile>\n");
    std::fs::write(&path, text).unwrap();
    let out = careshift(&["check", path.to_str().unwrap()]);
    let p = common::problems(
        &out,
        &["XML elements nested more than 64 deep".into()],
        Some("deep.xmile:3:190"),
    );
    assert!(p.is_empty(), "{}", common::describe("deep", &p, &out));
}

#[test]
fn oversized_file_is_refused_before_reading() {
    let tmp = common::temp_dir("big-xmile");
    let path = tmp.join("big.xmile");
    // Sparse: 65 MiB on paper, nothing on disk; the size check comes before any read.
    let f = std::fs::File::create(&path).unwrap();
    f.set_len(65 * 1024 * 1024).unwrap();
    let out = careshift(&[
        "run",
        path.to_str().unwrap(),
        "--csv",
        tmp.join("o.csv").to_str().unwrap(),
    ]);
    let p = common::problems(
        &out,
        &["above the 64 MiB limit for XMILE files".into()],
        None,
    );
    assert!(p.is_empty(), "{}", common::describe("big", &p, &out));
    assert!(!tmp.join("o.csv").exists());
}

#[test]
fn many_variables_import_and_run() {
    // A large but valid file: 20 000 auxiliaries in a chain.
    let tmp = common::temp_dir("wide-xmile");
    let path = tmp.join("wide.xmile");
    let n = 20_000;
    let mut text = String::from(HEAD);
    text.push_str("<model><variables>\n<aux name=\"v 0\"><eqn>TIME</eqn></aux>\n");
    for i in 1..n {
        text.push_str(&format!(
            "<aux name=\"v {i}\"><eqn>v_{} + 1</eqn></aux>\n",
            i - 1
        ));
    }
    text.push_str("</variables></model></xmile>\n");
    std::fs::write(&path, text).unwrap();
    let model = careshift::Model::load(&path).unwrap_or_else(|f| panic!("{}", f.render()));
    let r = common::run_model(&model);
    let last = common::column(&r, &format!("v {}", n - 1));
    assert_eq!(last, vec![(n - 1) as f64, n as f64, (n + 1) as f64]);
}

#[test]
fn unknown_elements_are_warnings_with_locations() {
    let tmp = common::temp_dir("unknown-xmile");
    let path = tmp.join("unknown.xmile");
    let text = format!(
        "{HEAD}<model><variables>\n<aux name=\"a\"><eqn>1</eqn><wibble/></aux>\n<frobnicate/>\n</variables></model>\n<extras/>\n</xmile>\n"
    );
    std::fs::write(&path, text).unwrap();
    let out = careshift(&["run", path.to_str().unwrap(), "--csv", "-"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    for (what, at) in [
        (
            "unknown element <wibble> in <aux> is ignored",
            "unknown.xmile:4:27",
        ),
        (
            "unknown element <frobnicate> in <variables> is ignored",
            "unknown.xmile:5:1",
        ),
        (
            "unknown element <extras> in <xmile> is ignored",
            "unknown.xmile:7:1",
        ),
    ] {
        assert!(stderr.contains(what), "missing `{what}` in:\n{stderr}");
        assert!(stderr.contains(at), "missing `{at}` in:\n{stderr}");
    }
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("time,a,"));
}

/// Damaged copies of a real XMILE file (the care model's export): truncated, with bytes
/// deleted or replaced, with tags and equations garbled. Loading never panics; every failure
/// is a diagnostic.
#[test]
fn no_panic_on_mutated_xmile() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let (decl, _) = careshift::load_decl(
        &root.join("models/care_system.toml"),
        careshift::diagnostics::Sources::new(),
    )
    .unwrap_or_else(|f| panic!("{}", f.render()));
    let xml = careshift::xmile::export::export(&decl).unwrap().xml;
    let bytes = xml.as_bytes();
    let tmp = common::temp_dir("mutated-xmile");
    let path = tmp.join("m.xmile");
    let replacements: &[&[u8]] = &[
        b"", b"<", b">", b"\"", b"&", b"(", b"[", b"]", b",", b"?", b"\xff", b"*", b"!", b".", b"{",
    ];
    let mut tried = 0;
    // A simple deterministic generator (no dependency on rand's stream for a test input).
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = |n: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % n as u64) as usize
    };
    for k in 0..400 {
        let at = next(bytes.len());
        let mut m = bytes.to_vec();
        match k % 3 {
            0 => m.truncate(at),
            1 => {
                let r = replacements[next(replacements.len())];
                let len = 1 + next(8);
                m.splice(at..(at + len).min(m.len()), r.iter().copied());
            }
            _ => {
                // Swap two stretches: garbles tags and equations alike.
                let other = next(bytes.len());
                let (a, b) = (at.min(other), at.max(other));
                let len = (1 + next(40)).min(b - a);
                let first: Vec<u8> = m[a..a + len].to_vec();
                let second: Vec<u8> = m[b..(b + len).min(m.len())].to_vec();
                m.splice(b..(b + second.len()), first);
                m.splice(a..a + len, second);
            }
        }
        std::fs::write(&path, &m).unwrap();
        let outcome = std::panic::catch_unwind(|| {
            careshift::Model::load(&path).map(|model| {
                let _ = model.run(model.time(), &[]);
            })
        });
        assert!(outcome.is_ok(), "panic on mutation {k} at byte {at}");
        tried += 1;
    }
    assert_eq!(tried, 400);
    // Inside equations only, so the translator and compiler see the damage.
    let eqns: Vec<usize> = xml.match_indices("<eqn>").map(|(i, _)| i + 5).collect();
    let tokens: &[&str] = &[
        "", "(", ")", "[", "]", ",", "*", "!", ":", ".", "\"", "IF", "THEN", "MOD", "SUM(", "a[1]",
        "{", "1e999", "??? ", "-", "^",
    ];
    for k in 0..400 {
        let at = eqns[next(eqns.len())] + next(6);
        let mut m = bytes.to_vec();
        let t = tokens[next(tokens.len())].as_bytes();
        let len = next(4);
        if at + len < m.len() && m[at..at + len].iter().all(|&b| b != b'<') {
            m.splice(at..at + len, t.iter().copied());
        }
        std::fs::write(&path, &m).unwrap();
        let outcome = std::panic::catch_unwind(|| {
            careshift::Model::load(&path).map(|model| {
                let _ = model.run(model.time(), &[]);
            })
        });
        assert!(
            outcome.is_ok(),
            "panic on equation mutation {k} at byte {at}"
        );
    }
}
