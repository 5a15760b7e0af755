//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use careshift::simulate::Results;
use careshift::{Failure, Model};

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A fresh directory under the system temp dir for one test.
pub fn temp_dir(tag: &str) -> PathBuf {
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let dir = std::env::temp_dir().join(format!("careshift-test-{}-{tag}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create temp dir");
    dir
}

/// Write `toml` to a temporary file and load it.
pub fn load_toml(toml: &str) -> Result<Model, Failure> {
    let dir = temp_dir("model");
    let path = dir.join("model.toml");
    std::fs::write(&path, toml).expect("write model");
    Model::load(&path)
}

/// Load and run with the model's own settings; panics with the rendered diagnostics on failure.
pub fn run_toml(toml: &str) -> Results {
    let model = load_toml(toml).unwrap_or_else(|f| panic!("model failed to load:\n{}", f.render()));
    model
        .run(model.time(), &[])
        .unwrap_or_else(|d| panic!("run failed:\n{}", d.render(&model.sources)))
}

/// One column of a run, by name.
pub fn column(results: &Results, name: &str) -> Vec<f64> {
    results
        .column(name)
        .unwrap_or_else(|| panic!("no column `{name}`; columns are {:?}", results.columns))
}

/// `|a - b| <= abs + rel·|b|`, with a readable failure.
pub fn assert_close(what: &str, got: f64, want: f64, abs: f64, rel: f64) {
    assert!(
        (got - want).abs() <= abs + rel * want.abs(),
        "{what}: got {got}, want {want} (diff {:e}, tolerance {abs} + {rel}·|want|)",
        (got - want).abs()
    );
}

/// Write `files` (path relative to a fresh temp dir, contents) and load the first one. For
/// models with modules, whose `file` paths resolve from the including file.
pub fn load_files(files: &[(&str, &str)]) -> Result<Model, Failure> {
    let dir = temp_dir("files");
    for (name, text) in files {
        let path = dir.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create dir");
        }
        std::fs::write(&path, text).expect("write model file");
    }
    Model::load(&dir.join(files[0].0))
}

/// Run a loaded model with its own settings; panics with the rendered diagnostics on failure.
pub fn run_model(model: &Model) -> Results {
    model
        .run(model.time(), &[])
        .unwrap_or_else(|d| panic!("run failed:\n{}", d.render(&model.sources)))
}

/// The model at `path` relative to the crate root (e.g. `models/examples/bathtub.toml`).
pub fn load_example(path: &str) -> Model {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    Model::load(&path)
        .unwrap_or_else(|f| panic!("{} failed to load:\n{}", path.display(), f.render()))
}

/// The `.toml` case files of a bad-input corpus directory, sorted.
pub fn corpus_files(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    files
}

/// Fail with every collected corpus failure at once.
pub fn report(failures: &[String]) {
    assert!(
        failures.is_empty(),
        "{} failing case(s):\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

/// One failing case: its problems, exit status and indented stderr.
pub fn describe(name: &str, problems: &[String], out: &std::process::Output) -> String {
    format!(
        "{name}:\n  - {}\n  exit: {}\n  stderr:\n{}",
        problems.join("\n  - "),
        out.status,
        String::from_utf8_lossy(&out.stderr)
            .lines()
            .map(|l| format!("    {l}"))
            .collect::<Vec<_>>()
            .join("\n")
    )
}

/// Everything that is wrong with one rejected invocation (empty when it behaved).
pub fn problems(
    out: &std::process::Output,
    expect: &[String],
    expect_at: Option<&str>,
) -> Vec<String> {
    let stderr = String::from_utf8_lossy(&out.stderr);
    let mut p = Vec::new();
    match out.status.code() {
        None => p.push(format!("killed by a signal ({})", out.status)),
        Some(0) => p.push("exit status 0".into()),
        Some(101) => p.push("exit status 101 (a panic)".into()),
        Some(_) => {}
    }
    for e in expect {
        if !stderr.contains(e.as_str()) {
            p.push(format!("stderr lacks `{e}`"));
        }
    }
    if let Some(at) = expect_at {
        let found = stderr.lines().any(|l| {
            l.trim_start()
                .strip_prefix("--> ")
                .is_some_and(|loc| loc == at || loc.ends_with(&format!("/{at}")))
        });
        if !found {
            p.push(format!("stderr lacks the location `--> {at}`"));
        }
    }
    for bad in ["panicked", "RUST_BACKTRACE", "memory allocation"] {
        if stderr.contains(bad) {
            p.push(format!("stderr contains `{bad}`"));
        }
    }
    p
}

/// Load and run a model that must fail (loading or running); the rendered error.
pub fn run_toml_err(toml: &str) -> String {
    let model = match load_toml(toml) {
        Ok(m) => m,
        Err(f) => return f.render(),
    };
    match model.run(model.time(), &[]) {
        Ok(_) => panic!("the model ran, but it should have failed"),
        Err(d) => d.render(&model.sources),
    }
}

/// Every settable literal constant scaled by a run-dependent factor (1 + 0.03·run): distinct
/// parameter sets for batches and comparisons.
/// (Only the constants the program lets a run set: not those a specialised program has
/// built in.)
pub fn scaled_constants(model: &Model, run: usize) -> Vec<(u32, f64)> {
    model
        .program
        .params
        .iter()
        .filter(|p| !p.fixed && model.program.built_in.binary_search(&p.slot).is_err())
        .filter_map(|p| Some((p.slot, p.default? * (1.0 + 0.03 * run as f64))))
        .collect()
}

/// The care scenario's community budget ramp (5 M in 2030 to 15 M in 2033) on the care model:
/// the budget's slot and the schedule set.
pub fn care_budget_ramp(model: &Model) -> (u32, careshift::simulate::ScheduleSet) {
    use careshift::simulate::{Interpolation, Schedule, ScheduleSet};
    let budget = model
        .overrides(&[("community_budget".into(), 0.0)])
        .expect("the care model has community_budget")[0]
        .0;
    let ramp = Schedule {
        slot: budget,
        points: vec![(2030.0, 5e6), (2033.0, 15e6)],
        interpolation: Interpolation::Linear,
    };
    (budget, ScheduleSet::new(&model.program, vec![ramp]))
}

/// Every `.xmile` model of the conformance corpus (`CARESHIFT_TEST_MODELS`) that careshift
/// loads. None when the variable is not set (a failure under `CI`: .ci/run sets it).
pub fn xmile_corpus_models() -> Option<Vec<Model>> {
    let Some(root) = std::env::var_os("CARESHIFT_TEST_MODELS").map(PathBuf::from) else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CARESHIFT_TEST_MODELS must be set in CI (.ci/run points it at ../shared/test-models)"
        );
        println!("SKIPPED (not passed): CARESHIFT_TEST_MODELS is not set");
        return None;
    };
    let mut stack = vec![root];
    let mut models = Vec::new();
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        paths.sort();
        for path in paths {
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "xmile")
                && let Ok(model) = Model::load(&path)
            {
                models.push(model);
            }
        }
    }
    assert!(
        models.len() > 10,
        "only {} corpus models loaded",
        models.len()
    );
    Some(models)
}

/// Every bundled model file, relative to the crate root.
pub const BUNDLED_MODELS: [&str; 6] = [
    "models/examples/bathtub.toml",
    "models/examples/ageing_chain.toml",
    "models/examples/ageing_with_frailty.toml",
    "models/examples/community_investment.toml",
    "models/care_system.toml",
    "models/care_system_budget_only.toml",
];

/// A model whose flow divides by `drain_time − TIME`: a run with `drain_time` (default 20)
/// set within 0..10 divides by zero mid-way.
pub const DRAIN_TIME_MODEL: &str = r#"
[time]
start = 0
stop = 10
dt = 0.5
save_step = 1
units = "year"
[stocks.level]
initial = 100
outflows = ["drain"]
[flows.drain]
equation = "level / (drain_time - TIME)"
[auxiliaries.after]
equation = "drain * 2"
[constants.drain_time]
value = 20
"#;
