//! The bad-input corpus: every model in `tests/bad_models/` must be rejected with a clear
//! message, a non-zero exit code, no panic and no output file. See tests/bad_models/README.md
//! for the header format. Inputs that cannot carry a header (binary junk, an empty file, a
//! directory, a missing file) and CSV destinations that cannot be written are in the tables
//! below; `no_panic_on_mutated_models` feeds damaged copies of valid models to the library.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use careshift::Model;

const BIN: &str = env!("CARGO_BIN_EXE_careshift");

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bad_models")
}

/// What a case file's header asks for.
#[derive(Debug, Default)]
struct Case {
    expect: Vec<String>,
    expect_at: Option<String>,
    command: String,
    args: Vec<String>,
}

/// Parse the leading `# key: value` lines. Other leading comment lines are free text, but a
/// line that looks like a directive with an unknown key is an error (a typo must not turn a
/// check off).
fn parse_header(text: &str) -> Result<Case, String> {
    let mut case = Case {
        command: "run".into(),
        ..Case::default()
    };
    let mut command_seen = false;
    for line in text.lines() {
        let Some(comment) = line.strip_prefix('#') else {
            break;
        };
        let comment = comment.trim();
        let Some((key, value)) = comment.split_once(':') else {
            continue;
        };
        let (key, value) = (key.trim(), value.trim());
        let is_directive =
            !key.is_empty() && key.chars().all(|c| c.is_ascii_lowercase() || c == '-');
        if !is_directive {
            continue;
        }
        match key {
            "expect" if !value.is_empty() => case.expect.push(value.to_string()),
            "expect-at" if case.expect_at.is_none() && !value.is_empty() => {
                case.expect_at = Some(value.to_string())
            }
            "command" if !command_seen && matches!(value, "run" | "check") => {
                command_seen = true;
                case.command = value.to_string();
            }
            "args" if case.args.is_empty() => {
                case.args = value.split_whitespace().map(str::to_string).collect();
            }
            _ => {
                return Err(format!(
                    "bad header line `{line}` (unknown key, repeated key or invalid value)"
                ));
            }
        }
    }
    if case.expect.is_empty() {
        return Err("no `# expect:` line".into());
    }
    Ok(case)
}

/// Run the built binary with `args`.
fn careshift(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env_remove("RUST_BACKTRACE")
        .output()
        .expect("start careshift")
}

#[test]
fn every_bad_model_is_rejected_clearly() {
    let files = common::corpus_files(&corpus_dir());
    assert!(files.len() >= 40, "only {} cases", files.len());
    let tmp = common::temp_dir("bad-models");
    let mut failures = Vec::new();
    for path in &files {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(path).expect("case files are text");
        let case = match parse_header(&text) {
            Ok(c) => c,
            Err(e) => {
                failures.push(format!("{name}: {e}"));
                continue;
            }
        };
        let csv = tmp.join(format!("{name}.csv"));
        let model = path.to_str().expect("UTF-8 path");
        let mut args: Vec<&str> = vec![&case.command, model];
        if case.command == "run" {
            args.extend(["--csv", csv.to_str().expect("UTF-8 path")]);
        }
        args.extend(case.args.iter().map(String::as_str));
        let out = careshift(&args);
        let mut p = common::problems(&out, &case.expect, case.expect_at.as_deref());
        if csv.exists() {
            p.push(format!("wrote {}", csv.display()));
        }
        if !p.is_empty() {
            failures.push(common::describe(&name, &p, &out));
        }
    }
    common::report(&failures);
}

#[test]
fn case_headers_are_parsed_strictly() {
    assert!(parse_header("# command: check\n[time]\n").is_err());
    assert!(parse_header("# expects: typo\n# expect: x\n").is_err());
    let case = parse_header("# A note.\n# expect: a\n# expect: b\n# command: check\n# args: --params\n[time]\n# expect: not header\n")
        .expect("valid header");
    assert_eq!(case.expect, ["a", "b"]);
    assert_eq!(case.command, "check");
    assert_eq!(case.args, ["--params"]);
}

/// Inputs that cannot carry a header: (case, command line with `{corpus}` and `{tmp}` expanded,
/// expected stderr substrings).
#[test]
fn non_model_inputs_are_rejected_clearly() {
    let corpus = corpus_dir();
    let tmp = common::temp_dir("non-model");
    let cases: &[(&str, &[&str], &[&str])] = &[
        (
            "missing model file",
            &["run", "{tmp}/no_such_model.toml", "--csv", "{tmp}/out.csv"],
            &["cannot read model file", "no_such_model.toml"],
        ),
        (
            "missing model file (check)",
            &["check", "{tmp}/no_such_model.toml"],
            &["cannot read model file", "no_such_model.toml"],
        ),
        (
            "binary junk",
            &[
                "run",
                "{corpus}/raw/binary_junk.toml",
                "--csv",
                "{tmp}/out.csv",
            ],
            &["binary_junk.toml", "is not a text file"],
        ),
        (
            "empty file",
            &["run", "{corpus}/raw/empty.toml", "--csv", "{tmp}/out.csv"],
            &["empty.toml", "is empty"],
        ),
        (
            "control characters",
            &["check", "{corpus}/raw/control_chars.toml"],
            &["invalid model file", "control_chars.toml:1:"],
        ),
        (
            "a directory instead of a file",
            &["run", "{corpus}/modules", "--csv", "{tmp}/out.csv"],
            &["is a directory, not a model file"],
        ),
        ("no subcommand", &[], &["Usage"]),
        (
            "unknown subcommand",
            &["simulate", "{corpus}/raw/empty.toml"],
            &["unrecognized subcommand"],
        ),
    ];
    let expand = |a: &str| {
        a.replace("{corpus}", corpus.to_str().unwrap())
            .replace("{tmp}", tmp.to_str().unwrap())
    };
    let mut failures = Vec::new();
    for (name, args, expect) in cases {
        let args: Vec<String> = args.iter().map(|a| expand(a)).collect();
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = careshift(&refs);
        let expect: Vec<String> = expect.iter().map(|e| e.to_string()).collect();
        let mut p = common::problems(&out, &expect, None);
        if tmp.join("out.csv").exists() {
            p.push("wrote out.csv".into());
        }
        if !p.is_empty() {
            failures.push(common::describe(name, &p, &out));
        }
    }
    common::report(&failures);
}

/// A CSV destination that cannot be written: an error, and nothing left behind.
#[test]
fn unwritable_csv_is_an_error_and_leaves_nothing() {
    let model = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/examples/bathtub.toml");
    let model = model.to_str().unwrap();
    let tmp = common::temp_dir("csv");
    let mut failures = Vec::new();

    // Into a directory that does not exist: the directory must not be created either.
    let missing_dir = tmp.join("no_such_dir");
    let target = missing_dir.join("out.csv");
    let out = careshift(&["run", model, "--csv", target.to_str().unwrap()]);
    let mut p = common::problems(
        &out,
        &["cannot write".into(), "no_such_dir/out.csv".into()],
        None,
    );
    if missing_dir.exists() {
        p.push(format!("created {}", missing_dir.display()));
    }
    if !p.is_empty() {
        failures.push(common::describe("--csv into a missing directory", &p, &out));
    }

    // Onto an existing directory: it stays a directory and no temporary file is left.
    let dir = tmp.join("a_directory");
    std::fs::create_dir_all(&dir).unwrap();
    let out = careshift(&["run", model, "--csv", dir.to_str().unwrap()]);
    let mut p = common::problems(&out, &["cannot write".into()], None);
    if !dir.is_dir() {
        p.push("the directory was replaced".into());
    }
    let leftovers: Vec<String> = std::fs::read_dir(&tmp)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != "a_directory")
        .collect();
    if !leftovers.is_empty() {
        p.push(format!("left behind: {leftovers:?}"));
    }
    if !p.is_empty() {
        failures.push(common::describe("--csv onto a directory", &p, &out));
    }
    common::report(&failures);
}

/// Deterministic xorshift, so that the mutations are the same on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// A valid model that uses every builtin, arrays (1-D and 2-D, `elements`, `*`, ranges) and a
/// lookup, so that damaged copies reach every part of the compiler.
const KITCHEN_SINK: &str = r#"[model]
name = "sink"

[time]
start = 0
stop = 8
dt = 0.5
save_step = 1
units = "year"
method = "rk4"

[dimensions]
age = ["young", "old"]
sev = ["mild", "severe"]

[stocks.pop]
dims = ["age"]
initial = "init_pop[age]"
inflows = ["births"]
outflows = ["deaths"]
units = "people"
non_negative = true

[stocks.cases]
units = "people"
dims = ["age", "sev"]
[stocks.cases.elements]
"young,mild" = 1
"young,severe" = "2"
"old,mild" = "init_pop[\"old\"] * 0.01"
"old,severe" = 0

[flows.births]
dims = ["age"]
units = "people/year"
[flows.births.elements]
young = "birth_rate * sum(pop[*])"
old = "0"

[flows.deaths]
dims = ["age"]
equation = "pop[age] * mortality[age] * effect(pressure / one_person)"
units = "people/year"

[auxiliaries.pressure]
equation = "smooth(sum(pop[*]), 2) + delay1(pop[\"old\"], 1) - delay3(pop[\"young\"], 2, 0) + delayn(pop[\"old\"], 3, order)"
units = "people"

[auxiliaries.growth]
equation = "trend(sum(pop[*]), 3)"
units = "1/year"

[auxiliaries.last]
equation = "previous(pressure, 0) + init(pressure) + step(1, 2) * one_person + ramp(one_person / one_year, 1, 5) + pulse(one_person * one_year, 3)"
units = "people"

[auxiliaries.misc]
equation = "if time > 2 and not (time >= 6) then max(1, 2, 3) else min(mean(mortality[*]) * one_year, xidz(1, 0, 2)) + zidz(3, 0) + modulo(7, 3) + abs(-1) + sqrt(4) + ln(2) + exp(0.1) + log10(10) + int(2.5) + round(2.5) + sin(1) + cos(1) + tan(1) + arcsin(0.5) + arccos(0.5) + arctan(1) + prod(mortality[*] * one_year) + pulse_train(1, 1, 2, 6)"
units = "dimensionless"

[auxiliaries.severe_share]
dims = ["age"]
equation = "zidz(cases[age, \"severe\"], sum(cases[age, *]))"
units = "dimensionless"

[auxiliaries.range_total]
equation = "sum(pop[\"young\"..\"old\"]) + mean(cases[\"old\", *])"
units = "people"

[lookups.effect]
x = [0, 1000, 5000]
y = [1, 1.1, 1.5]
extrapolate = true

[constants.init_pop]
dims = ["age"]
value = [1000, 200]
units = "people"
range = [0, 10000]

[constants.birth_rate]
value = 0.01
units = "1/year"

[constants.mortality]
dims = ["age"]
value = [0.001, 0.05]
units = "1/year"

[constants.order]
value = 3
units = "dimensionless"

[constants.one_person]
value = 1
units = "people"

[constants.one_year]
value = 1
units = "year"
"#;

/// Damaged copies of valid models: truncated at many offsets, bits flipped, bytes replaced by
/// characters that matter to TOML and to equations, snippets inserted. Loading (and, when it
/// loads, running) may fail, but must never panic.
#[test]
fn no_panic_on_mutated_models() {
    let example = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("models/examples/ageing_chain.toml"),
    )
    .expect("read example");
    let mut variants: Vec<(String, Vec<u8>)> = Vec::new();
    let mut rng = Rng(0x5eed_cafe_f00d_0001);
    let specials = b"\"'[](){}=,.*+-/^<>#\\\n 0e9";
    let snippets: &[&str] = &[
        "(",
        ")",
        "[*]",
        "\"\"",
        "0/0",
        "1e308",
        "nan",
        "[]",
        "..",
        ",",
        "if ",
        " then ",
        "delayn(",
        "smooth(",
        "sum(",
        "previous(",
        "init(",
        "dims = [\"age\", \"age\"]\n",
    ];
    for (name, original) in [
        ("ageing_chain", example.as_slice()),
        ("kitchen sink", KITCHEN_SINK.as_bytes()),
    ] {
        for cut in (0..original.len()).step_by(7) {
            variants.push((
                format!("{name} truncated at {cut}"),
                original[..cut].to_vec(),
            ));
        }
        for i in 0..300 {
            let mut bytes = original.to_vec();
            for _ in 0..1 + i % 3 {
                let at = rng.below(bytes.len());
                bytes[at] ^= 1 << rng.below(8);
            }
            variants.push((format!("{name} with bit flips #{i}"), bytes));
        }
        for _ in 0..300 {
            let mut bytes = original.to_vec();
            let at = rng.below(bytes.len());
            bytes[at] = specials[rng.below(specials.len())];
            variants.push((format!("{name} with byte {at} replaced"), bytes));
        }
        for i in 0..300 {
            let mut bytes = original.to_vec();
            let at = rng.below(bytes.len());
            let snippet = snippets[i % snippets.len()].bytes();
            bytes.splice(at..at, snippet);
            variants.push((format!("{name} with an insertion at {at}"), bytes));
        }
    }

    let dir = common::temp_dir("mutations");
    let path = dir.join("mutant.toml");
    // The unmutated kitchen sink must be valid, or its mutants prove nothing.
    std::fs::write(&path, KITCHEN_SINK).unwrap();
    let sink = Model::load(&path).unwrap_or_else(|f| panic!("kitchen sink:\n{}", f.render()));
    sink.run(sink.time(), &[]).expect("the kitchen sink runs");
    let mut panics = Vec::new();
    let mut loaded = 0;
    for (what, bytes) in &variants {
        std::fs::write(&path, bytes).unwrap();
        let result = std::panic::catch_unwind(|| {
            let Ok(model) = Model::load(&path) else {
                return false;
            };
            let t = model.time();
            if (t.stop - t.start) / t.dt <= 1e5 {
                let _ = model.run(t, &[]);
            }
            true
        });
        match result {
            Ok(ok) => loaded += usize::from(ok),
            Err(_) => panics.push(format!("{what}:\n{}", String::from_utf8_lossy(bytes))),
        }
    }
    assert!(
        panics.is_empty(),
        "{} of {} mutants panicked; the first:\n{}",
        panics.len(),
        variants.len(),
        panics[0]
    );
    // Sanity: some mutations (comments, docs) leave a valid model.
    assert!(loaded > 0, "no mutant loaded; is the example valid?");
}
