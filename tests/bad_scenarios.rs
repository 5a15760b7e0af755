//! The bad-scenario corpus: every scenario in `tests/bad_scenarios/` must be rejected with a
//! clear message, a non-zero exit code, no panic and nothing written into `--out`. See
//! tests/bad_scenarios/README.md for the header format. Command lines that cannot be a case
//! file (no `--out`, `--out` with a model, a missing file) are in the table below.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_careshift");

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bad_scenarios")
}

/// What a case file's header asks for.
#[derive(Debug, Default)]
struct Case {
    expect: Vec<String>,
    expect_at: Option<String>,
    args: Vec<String>,
    /// `run` (default) or `sensitivity`.
    command: Option<String>,
}

/// Parse the leading `# key: value` lines. Other leading comment lines are free text, but a
/// line that looks like a directive with an unknown or repeated key is an error (a typo must
/// not turn a check off).
fn parse_header(text: &str) -> Result<Case, String> {
    let mut case = Case::default();
    for line in text.lines() {
        let Some(comment) = line.strip_prefix('#') else {
            break;
        };
        let Some((key, value)) = comment.trim().split_once(':') else {
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
            "command" if case.command.is_none() && matches!(value, "run" | "sensitivity") => {
                case.command = Some(value.to_string())
            }
            "args" if case.args.is_empty() && !value.is_empty() => {
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

/// Run the built binary with `args` in directory `cwd`.
fn careshift(args: &[&str], cwd: &Path) -> Output {
    Command::new(BIN)
        .args(args)
        .current_dir(cwd)
        .env_remove("RUST_BACKTRACE")
        .output()
        .expect("start careshift")
}

/// `dir` must not exist, or (when `may_exist`) exist and be empty.
fn untouched(dir: &Path, may_exist: bool) -> Option<String> {
    if !dir.exists() {
        return None;
    }
    let entries: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_else(|_| vec!["(not a directory)".into()]);
    if !entries.is_empty() {
        Some(format!("wrote into {}: {entries:?}", dir.display()))
    } else if !may_exist {
        Some(format!("created {}", dir.display()))
    } else {
        None
    }
}

#[test]
fn every_bad_scenario_is_rejected_clearly() {
    let files = common::corpus_files(&corpus_dir());
    assert!(files.len() >= 60, "only {} cases", files.len());
    let tmp = common::temp_dir("bad-scenarios");
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
        // The working directory catches files written by relative paths (`--csv out.csv`).
        let cwd = tmp.join(&name);
        std::fs::create_dir_all(&cwd).unwrap();
        let out_dir = tmp.join(format!("{name}.out"));
        let mut args: Vec<&str> = vec![
            case.command.as_deref().unwrap_or("run"),
            path.to_str().expect("UTF-8 path"),
            "--out",
            out_dir.to_str().expect("UTF-8 path"),
        ];
        args.extend(case.args.iter().map(String::as_str));
        let out = careshift(&args, &cwd);
        let mut p = common::problems(&out, &case.expect, case.expect_at.as_deref());
        // --per-run-series creates the directory before the runs start; a failed run must leave
        // it empty. Otherwise a rejected scenario must not even create it.
        let per_run = case.args.iter().any(|a| a == "--per-run-series");
        p.extend(untouched(&out_dir, per_run));
        p.extend(untouched(&cwd, true));
        if !p.is_empty() {
            failures.push(common::describe(&name, &p, &out));
        }
    }
    common::report(&failures);
}

#[test]
fn case_headers_are_parsed_strictly() {
    assert!(parse_header("# args: --runs 0\n[scenario]\n").is_err());
    assert!(parse_header("# expects: typo\n# expect: x\n").is_err());
    assert!(parse_header("# command: check\n# expect: x\n").is_err());
    assert!(parse_header("# command: run\n# command: run\n# expect: x\n").is_err());
    let case = parse_header("# command: sensitivity\n# expect: x\n").expect("valid header");
    assert_eq!(case.command.as_deref(), Some("sensitivity"));
    assert!(parse_header("# expect: a\n# args: --runs 0\n# args: --threads 0\n").is_err());
    let case = parse_header(
        "# A note.\n# expect: a\n# expect: b\n# expect-at: x.toml:1:2\n# args: --runs 0 --force\n[scenario]\n# expect: not header\n",
    )
    .expect("valid header");
    assert_eq!(case.expect, ["a", "b"]);
    assert_eq!(case.expect_at.as_deref(), Some("x.toml:1:2"));
    assert_eq!(case.args, ["--runs", "0", "--force"]);
}

/// Command lines that cannot be a case file: (case, arguments with `{root}` (the crate) and
/// `{tmp}` expanded, expected stderr texts). `{tmp}/out` must not be created.
#[test]
fn command_line_misuse_is_rejected_clearly() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let tmp = common::temp_dir("scenario-cli");
    let scenario = "{root}/scenarios/community_frailty_investment.toml";
    let model = "{root}/tests/bad_scenarios/models/tiny.toml";
    let cases: &[(&str, &[&str], &[&str])] = &[
        (
            "scenario without --out",
            &["run", scenario],
            &[
                "a scenario writes several files: give the output directory with --out DIR",
                "careshift run",
            ],
        ),
        (
            "scenario without --out, with --runs",
            &["run", scenario, "--runs", "5"],
            &["give the output directory with --out DIR"],
        ),
        (
            "--out with a model",
            &["run", model, "--out", "{tmp}/out"],
            &[
                "--out applies to scenario files, but",
                "tiny.toml` is a model",
                "a scenario file has a [scenario] table",
            ],
        ),
        (
            "--runs with a model",
            &["run", model, "--runs", "10", "--csv", "{tmp}/out/x.csv"],
            &["--runs applies to scenario files"],
        ),
        (
            "--per-run-series with a model",
            &["run", model, "--per-run-series"],
            &["--per-run-series applies to scenario files"],
        ),
        (
            "missing scenario file",
            &["run", "{tmp}/no_such_scenario.toml", "--out", "{tmp}/out"],
            &["cannot read", "no_such_scenario.toml"],
        ),
        (
            "a directory instead of a scenario",
            &["run", "{root}/scenarios", "--out", "{tmp}/out"],
            &["is a directory"],
        ),
        (
            "--runs not a number",
            &["run", scenario, "--out", "{tmp}/out", "--runs", "many"],
            &["invalid value 'many' for '--runs"],
        ),
        (
            "--threads negative",
            &["run", scenario, "--out", "{tmp}/out", "--threads", "-1"],
            &["unexpected argument '-1'"],
        ),
        (
            "--seed not a number",
            &["run", scenario, "--out", "{tmp}/out", "--seed", "1.5"],
            &["invalid value '1.5' for '--seed"],
        ),
    ];
    let expand = |a: &str| {
        a.replace("{root}", root.to_str().unwrap())
            .replace("{tmp}", tmp.to_str().unwrap())
    };
    let mut failures = Vec::new();
    for (name, args, expect) in cases {
        let args: Vec<String> = args.iter().map(|a| expand(a)).collect();
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = careshift(&refs, &tmp);
        let expect: Vec<String> = expect.iter().map(|e| e.to_string()).collect();
        let mut p = common::problems(&out, &expect, None);
        p.extend(untouched(&tmp.join("out"), false));
        for f in ["summary.json", "series.csv", "runs.csv", "runs.parquet"] {
            if tmp.join(f).exists() {
                p.push(format!("wrote {f} into the working directory"));
            }
        }
        if !p.is_empty() {
            failures.push(common::describe(name, &p, &out));
        }
    }
    common::report(&failures);
}
