//! Scenarios end to end, through the `careshift run SCENARIO --out DIR` command line:
//! reproducibility (thread counts, seeds, run i depending only on (seed, i)), common random
//! numbers, a probability with a known answer for every sampling method, metrics against
//! hand-computed values, interventions, baselines, sweeps, the output files and the bundled
//! scenarios. Expected values are derived here from the scenario's definition, never from
//! careshift's own output.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_careshift");

// --- helpers ---------------------------------------------------------------------------------

/// Write `files` (name, contents) into a fresh directory; returns it.
fn project(tag: &str, files: &[(&str, &str)]) -> PathBuf {
    let dir = common::temp_dir(tag);
    for (name, text) in files {
        std::fs::write(dir.join(name), text).expect("write test file");
    }
    dir
}

fn careshift(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env_remove("RUST_BACKTRACE")
        .output()
        .expect("start careshift")
}

/// `careshift run SCENARIO --out OUT EXTRA...`, which must succeed.
fn run_ok(scenario: &Path, out: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "run",
        scenario.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let o = careshift(&args);
    assert!(
        o.status.success(),
        "careshift {} failed ({}):\n{}",
        args.join(" "),
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

fn summary(dir: &Path) -> Value {
    serde_json::from_slice(&read(&dir.join("summary.json"))).expect("summary.json is JSON")
}

/// A CSV file as (header, rows of fields).
fn csv(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let mut r = csv::Reader::from_path(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let header = r.headers().unwrap().iter().map(str::to_string).collect();
    let rows = r
        .records()
        .map(|rec| rec.unwrap().iter().map(str::to_string).collect())
        .collect();
    (header, rows)
}

fn num(s: &str) -> f64 {
    s.parse()
        .unwrap_or_else(|_| panic!("`{s}` is not a number"))
}

fn col(header: &[String], name: &str) -> usize {
    header
        .iter()
        .position(|h| h == name)
        .unwrap_or_else(|| panic!("no column `{name}` in {header:?}"))
}

/// series.csv rows of one option, arm and variable: (time, mean, sd, p5, p25, p50, p75, p95).
fn series(dir: &Path, option: usize, arm: &str, variable: &str) -> Vec<[f64; 8]> {
    let (h, rows) = csv(&dir.join("series.csv"));
    let (o, a, v, t) = (
        col(&h, "option"),
        col(&h, "arm"),
        col(&h, "variable"),
        col(&h, "time"),
    );
    let first = col(&h, "mean");
    let out: Vec<[f64; 8]> = rows
        .iter()
        .filter(|r| r[o] == option.to_string() && r[a] == arm && r[v] == variable)
        .map(|r| {
            let mut x = [num(&r[t]); 8];
            for k in 0..7 {
                x[k + 1] = num(&r[first + k]);
            }
            x
        })
        .collect();
    assert!(
        !out.is_empty(),
        "series.csv has no rows for option {option}, {arm}, {variable}"
    );
    out
}

/// `options[o].metrics[name]` of summary.json.
fn metric<'a>(s: &'a Value, o: usize, name: &str) -> &'a Value {
    let m = &s["options"][o]["metrics"][name];
    assert!(!m.is_null(), "summary.json has no metric `{name}`");
    m
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("{v} is not a number"))
}

fn close(what: &str, got: f64, want: f64) {
    common::assert_close(what, got, want, 1e-9, 1e-12);
}

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn bundled_scenarios() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(root().join("scenarios"))
        .expect("scenarios/")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    v.sort();
    assert!(!v.is_empty(), "no bundled scenarios");
    v
}

const OUTPUT_FILES: [&str; 4] = ["summary.json", "series.csv", "runs.csv", "runs.parquet"];

// --- test models -----------------------------------------------------------------------------

/// A growing population with a sampled growth rate and probability-like constant `p`, an
/// unused constant, and a cost.
const GROWTH_MODEL: &str = r#"
[model]
name = "growth"

[time]
start = 0
stop = 10
dt = 0.5
save_step = 1
units = "year"
method = "euler"

[constants.p]
value = 0.5
units = "dimensionless"
range = [0, 1]

[constants.growth]
value = 0.1
units = "1/year"
range = [0.05, 0.2]

[constants.unused]
value = 3
units = "dimensionless"

[constants.arrivals]
value = 2
units = "people/year"

[constants.cost_per_person]
value = 10
units = "GBP/(people*year)"

[stocks.people]
initial = 100
inflows = ["births"]
units = "people"

[flows.births]
equation = "people * growth * p + arrivals"
units = "people/year"

[auxiliaries.pv]
equation = "p"
units = "dimensionless"

[auxiliaries.cost]
equation = "people * cost_per_person"
units = "GBP/year"
"#;

/// A constant `c` and an auxiliary equal to it, saved every half year.
const SCHEDULE_MODEL: &str = r#"
[model]
name = "schedule"

[time]
start = 0
stop = 8
dt = 0.25
save_step = 0.5
units = "year"
method = "euler"

[constants.c]
value = 5
units = "people"

[auxiliaries.cv]
equation = "c"
units = "people"
"#;

/// Money: a programme budget and an effect on hospital cost, both 0 unless an intervention
/// sets them.
const MONEY_MODEL: &str = r#"
[model]
name = "money"

[time]
start = 2025
stop = 2035
dt = 0.25
save_step = 1
units = "year"
method = "euler"

[constants.budget]
value = 0
units = "GBP/year"

[constants.effect]
value = 0
units = "GBP/year"

[constants.base_cost]
value = 1000
units = "GBP/year"

[auxiliaries.programme_cost]
equation = "budget"
units = "GBP/year"

[auxiliaries.hospital_cost]
equation = "base_cost - effect"
units = "GBP/year"

[auxiliaries.total_cost]
equation = "hospital_cost + programme_cost"
units = "GBP/year"
"#;

/// For sweeps: a lever constant `k`, an uncertain `u`, and a budget.
const SWEEP_MODEL: &str = r#"
[model]
name = "sweep"

[time]
start = 0
stop = 6
dt = 1
units = "year"

[constants.k]
value = 1
units = "dimensionless"
range = [0.5, 3]

[constants.u]
value = 0.5
units = "dimensionless"
range = [0, 1]

[constants.budget]
value = 0
units = "GBP/year"

[auxiliaries.kv]
equation = "k * u"
units = "dimensionless"

[auxiliaries.spend]
equation = "budget"
units = "GBP/year"
"#;

const SWEEP_SCENARIO: &str = r#"
[scenario]
model = "model.toml"

[interventions.team]
parameter = "budget"
step = { at = 2, value = 100 }

[uncertainty]
runs = 12
seed = 7

[uncertainty.parameters]
u = {}

[[sweep]]
lever = "parameters.k"
values = [1, 2]

[[sweep]]
lever = "interventions.team.scale"
values = [0.5, 1, 2]
name = "level"

[[metrics]]
name = "kv_baseline"
kind = "value"
variable = "kv"
arm = "baseline"
at = 5

[[metrics]]
name = "kv_intervention"
kind = "value"
variable = "kv"
arm = "intervention"
at = 5

[[metrics]]
name = "spend_5"
kind = "value"
variable = "spend"
arm = "intervention"
at = 5

[[metrics]]
name = "spend_difference_5"
kind = "value"
variable = "spend"
at = 5
"#;

// --- reproducibility -------------------------------------------------------------------------

/// 1, 2 and 3 threads (different batch sizes, so batch boundaries fall elsewhere) give
/// byte-identical files, per-run series included.
#[test]
fn outputs_do_not_depend_on_the_thread_count() {
    let sweep = project(
        "threads-sweep",
        &[("model.toml", SWEEP_MODEL), ("sweep.toml", SWEEP_SCENARIO)],
    );
    let mut scenarios = bundled_scenarios();
    scenarios.push(sweep.join("sweep.toml"));
    let tmp = common::temp_dir("threads");
    for (k, scenario) in scenarios.iter().enumerate() {
        let dirs: Vec<PathBuf> = ["1", "2", "3"]
            .iter()
            .map(|t| {
                let out = tmp.join(format!("{k}-threads-{t}"));
                run_ok(
                    scenario,
                    &out,
                    &["--threads", t, "--runs", "40", "--per-run-series"],
                );
                out
            })
            .collect();
        for file in OUTPUT_FILES.iter().chain(&["runs_series.csv"]) {
            let one = read(&dirs[0].join(file));
            for d in &dirs[1..] {
                assert!(
                    one == read(&d.join(file)),
                    "{file} of {} differs between 1 thread and {}",
                    scenario.display(),
                    d.display()
                );
            }
        }
    }
}

/// Several rounds of batches (192 runs a round on one thread) and several blocks of per-run
/// text (64 runs): the same files with 1 and 2 threads, and runs_series.csv holds every run,
/// in run order, each with the same number of lines.
#[test]
fn many_runs_are_folded_and_written_in_run_order_whatever_the_thread_count() {
    let sweep = project(
        "rounds-sweep",
        &[("model.toml", SWEEP_MODEL), ("sweep.toml", SWEEP_SCENARIO)],
    );
    let tmp = common::temp_dir("rounds");
    let runs = 500;
    let dirs: Vec<PathBuf> = ["1", "2"]
        .iter()
        .map(|t| {
            let out = tmp.join(format!("threads-{t}"));
            run_ok(
                &sweep.join("sweep.toml"),
                &out,
                &[
                    "--threads",
                    t,
                    "--runs",
                    &runs.to_string(),
                    "--per-run-series",
                ],
            );
            out
        })
        .collect();
    for file in OUTPUT_FILES.iter().chain(&["runs_series.csv"]) {
        assert!(
            read(&dirs[0].join(file)) == read(&dirs[1].join(file)),
            "{file} differs between 1 and 2 threads"
        );
    }
    let (header, rows) = csv(&dirs[0].join("runs_series.csv"));
    assert_eq!(header[0], "run");
    let run_of: Vec<usize> = rows.iter().map(|r| r[0].parse().unwrap()).collect();
    assert!(run_of.windows(2).all(|w| w[0] <= w[1]), "runs out of order");
    let per_run = run_of.iter().filter(|&&r| r == 0).count();
    assert!(per_run > 0);
    for r in 0..runs {
        let lines = run_of.iter().filter(|&&x| x == r).count();
        assert_eq!(lines, per_run, "run {r} has {lines} lines, run 0 {per_run}");
    }
    assert_eq!(summary(&dirs[0])["runs"], runs);
}

#[test]
fn the_same_seed_gives_the_same_outputs_and_another_seed_other_runs() {
    let scenario = &bundled_scenarios()[0];
    let tmp = common::temp_dir("seeds");
    let (a, b, c) = (tmp.join("a"), tmp.join("b"), tmp.join("c"));
    run_ok(scenario, &a, &["--runs", "40", "--seed", "11"]);
    run_ok(scenario, &b, &["--runs", "40", "--seed", "11"]);
    run_ok(scenario, &c, &["--runs", "40", "--seed", "12"]);
    for file in OUTPUT_FILES {
        assert!(
            read(&a.join(file)) == read(&b.join(file)),
            "{file} differs between two runs with seed 11"
        );
    }
    let (_, rows_a) = csv(&a.join("runs.csv"));
    let (_, rows_c) = csv(&c.join("runs.csv"));
    assert_eq!(rows_a.len(), rows_c.len());
    // Every run's sample differs (not just some).
    for (ra, rc) in rows_a.iter().zip(&rows_c) {
        assert_ne!(ra, rc, "run {} is the same with seeds 11 and 12", ra[0]);
    }
    assert_eq!(summary(&a)["seed"], 11);
    assert_eq!(summary(&c)["seed"], 12);
}

/// With random sampling, run i's sample depends only on (seed, i): the first 20 runs of a
/// 50-run experiment are the 20 runs of a 20-run one. (Latin hypercube strata depend on the
/// number of runs, so this holds for random sampling only.)
#[test]
fn run_i_depends_only_on_the_seed_and_i() {
    let scenario = r#"
[scenario]
model = "model.toml"

[interventions.more_arrivals]
parameter = "arrivals"
step = { at = 3, value = 5 }

[uncertainty]
runs = 20
seed = 99
sampling = "random"

[uncertainty.parameters]
p = {}
growth = { dist = "triangular", low = 0.05, mode = 0.1, high = 0.2 }

[[metrics]]
name = "people_10"
kind = "value"
variable = "people"
at = 10
"#;
    let dir = project(
        "run-i",
        &[("model.toml", GROWTH_MODEL), ("s.toml", scenario)],
    );
    let (small, large) = (dir.join("small"), dir.join("large"));
    run_ok(&dir.join("s.toml"), &small, &[]);
    run_ok(
        &dir.join("s.toml"),
        &large,
        &["--runs", "50", "--threads", "2"],
    );
    let (h1, r20) = csv(&small.join("runs.csv"));
    let (h2, r50) = csv(&large.join("runs.csv"));
    assert_eq!(h1, h2);
    assert_eq!((r20.len(), r50.len()), (20, 50));
    assert_eq!(r20[..], r50[..20]);
    // The later runs are new samples, not repeats.
    let p = col(&h1, "p");
    assert!(r50[20..].iter().all(|r| r20.iter().all(|s| s[p] != r[p])));
}

// --- common random numbers -------------------------------------------------------------------

/// Both arms of a run use the same sample: an intervention that changes nothing gives a
/// difference of exactly 0 in every run, every metric and every series value.
#[test]
fn an_intervention_that_changes_nothing_differs_by_exactly_zero() {
    let scenario = r#"
[scenario]
model = "model.toml"

# A constant nothing reads.
[interventions.unused_change]
parameter = "unused"
step = { at = 3, value = 7 }

# A constant scheduled to its own value.
[interventions.same_arrivals]
parameter = "arrivals"
schedule = { times = [0, 4, 6], values = [2, 2, 2], interpolate = "linear" }

[uncertainty]
runs = 40

[uncertainty.parameters]
p = {}
growth = { dist = "normal", mean = 0.1, sd = 0.03, low = 0.01 }

[[metrics]]
name = "people_10"
kind = "value"
variable = "people"
at = 10

[[metrics]]
name = "people_mid"
kind = "value"
variable = "people"
at = 4.5

[[metrics]]
name = "people_sum"
kind = "sum"
variable = "people"

[[metrics]]
name = "cost_total"
kind = "integral"
variable = "cost"

[[metrics]]
name = "npv_cost"
kind = "npv"
variable = "cost"
from = 1
to = 9

[[metrics]]
name = "npv_saving"
kind = "npv"
variable = "cost"
arm = "saving"

[[metrics]]
name = "people_10_intervention"
kind = "value"
variable = "people"
arm = "intervention"
at = 10

[[assumptions]]
test = "people_10 == 0 and npv_cost == 0"
"#;
    let dir = project("crn", &[("model.toml", GROWTH_MODEL), ("s.toml", scenario)]);
    let out = dir.join("out");
    run_ok(&dir.join("s.toml"), &out, &["--threads", "2"]);
    let s = summary(&out);
    let metrics = s["options"][0]["metrics"].as_object().unwrap();
    let (h, rows) = csv(&out.join("runs.csv"));
    assert_eq!(rows.len(), 40);
    let mut checked = 0;
    for (name, m) in metrics {
        if !matches!(m["arm"].as_str(), Some("difference" | "saving")) {
            continue;
        }
        checked += 1;
        let c = col(&h, name);
        for r in &rows {
            assert_eq!(num(&r[c]), 0.0, "{name} in run {} is {}", r[0], r[c]);
        }
        for stat in ["mean", "sd", "min", "max", "p5", "p25", "p50", "p75", "p95"] {
            assert_eq!(f(&m["summary"][stat]), 0.0, "{name}: {stat}");
        }
    }
    assert_eq!(checked, 6);
    let test = &s["options"][0]["assumptions"][0];
    assert_eq!(f(&test["probability"]), 1.0);
    // The arms themselves do vary from run to run (the sample matters).
    let own = col(&h, "people_10_intervention");
    let first = num(&rows[0][own]);
    assert!(rows.iter().any(|r| num(&r[own]) != first));
    for variable in ["people", "births", "pv", "cost"] {
        for row in series(&out, 0, "difference", variable) {
            assert_eq!(
                row[1..],
                [0.0; 7],
                "{variable} difference at time {}",
                row[0]
            );
        }
    }
    let end = *series(&out, 0, "intervention", "people").last().unwrap();
    assert!(end[2] > 0.0, "the intervention arm should vary: {end:?}");
}

// --- a probability with a known answer ----------------------------------------------------------

/// p is uniform on its declared range [0, 1], so P(p < 0.3) = 0.3, for every sampling method.
#[test]
fn an_assumption_with_a_known_probability() {
    let tmp = common::temp_dir("known-p");
    std::fs::write(tmp.join("model.toml"), GROWTH_MODEL).unwrap();
    let runs = 2000;
    for sampling in ["random", "lhs", "sobol"] {
        let scenario = format!(
            r#"
[scenario]
model = "model.toml"

[uncertainty]
runs = {runs}
seed = 2024
sampling = "{sampling}"

[uncertainty.parameters]
p = {{}}

[[metrics]]
name = "pv_5"
kind = "value"
variable = "pv"
arm = "intervention"
at = 5

[[assumptions]]
name = "p is small"
test = "pv_5 < 0.3"
"#
        );
        let path = tmp.join(format!("{sampling}.toml"));
        std::fs::write(&path, scenario).unwrap();
        let out = tmp.join(sampling);
        run_ok(&path, &out, &[]);
        let s = summary(&out);
        assert_eq!(s["runs"], runs);
        let t = &s["options"][0]["assumptions"][0];
        let (p, lo, hi) = (
            f(&t["probability"]),
            f(&t["interval95"][0]),
            f(&t["interval95"][1]),
        );
        let what = format!("{sampling}: P = {p}, 95% interval [{lo}, {hi}]");
        assert!(lo <= p && p <= hi, "{what}");
        assert!(lo < 0.3 && 0.3 < hi, "{what} does not contain 0.3");
        assert!(
            (p - 0.3).abs() <= (hi - lo) / 2.0,
            "{what}: further from 0.3 than the interval's half-width"
        );
        match sampling {
            // Stratification: exactly 600 of the 2000 strata lie below 0.3.
            "lhs" => assert!((p - 0.3).abs() <= 1.0 / runs as f64, "{what}"),
            "sobol" => assert!((p - 0.3).abs() <= 0.005, "{what}"),
            _ => {}
        }
        assert_eq!(f(&t["holds"]) / runs as f64, p);
        // The metric is the sampled value itself, run by run, and the test agrees with it.
        let (h, rows) = csv(&out.join("runs.csv"));
        let (pc, mc, tc) = (col(&h, "p"), col(&h, "pv_5"), col(&h, "p is small"));
        assert_eq!(rows.len(), runs);
        for r in &rows {
            assert_eq!(num(&r[pc]), num(&r[mc]), "run {}", r[0]);
            assert!((0.0..=1.0).contains(&num(&r[pc])));
            assert_eq!(r[tc] == "1", num(&r[mc]) < 0.3, "run {}", r[0]);
        }
    }
}

// --- metrics against hand computation ------------------------------------------------------

/// Trapezoid rule over the saved points `(t, v)` with weight `w(t)`, as documented in
/// src/analysis/metrics.rs (the window ends are saved times here).
fn trapezoid(points: &[(f64, f64)], w: impl Fn(f64) -> f64) -> f64 {
    points
        .windows(2)
        .map(|p| (p[1].0 - p[0].0) * (p[0].1 * w(p[0].0) + p[1].1 * w(p[1].0)) / 2.0)
        .sum()
}

/// The documented break-even rule: the first crossing of the cumulative discounted net saving
/// from below, interpolated linearly within the save interval.
fn break_even(points: &[(f64, f64)], w: impl Fn(f64) -> f64) -> Option<f64> {
    let (mut cum, mut behind) = (0.0, false);
    for p in points.windows(2) {
        let next = cum + (p[1].0 - p[0].0) * (p[0].1 * w(p[0].0) + p[1].1 * w(p[1].0)) / 2.0;
        if next < 0.0 {
            behind = true;
        } else if behind {
            return Some(p[0].0 + (p[1].0 - p[0].0) * (-cum) / (next - cum));
        }
        cum = next;
    }
    if behind { None } else { Some(points[0].0) }
}

/// A budget of 100/y from 2027 and a saving of 250/y from 2029 (both steps), saved yearly:
/// NPV (3.5 %), ROI, break-even, integral, sum and value against hand computation.
#[test]
fn metrics_match_hand_computation() {
    let scenario = r#"
[scenario]
model = "model.toml"

[interventions.programme]
parameter = "budget"
step = { at = 2027, value = 100 }

[interventions.benefit]
parameter = "effect"
step = { at = 2029, value = 250 }

[[metrics]]
name = "npv_cost"
kind = "npv"
variable = "programme_cost"
from = 2025
to = 2035

[[metrics]]
name = "npv_saving"
kind = "npv"
variable = "hospital_cost"
arm = "saving"

[[metrics]]
name = "roi"
kind = "roi"
savings = "npv_saving"
cost = "npv_cost"

[[metrics]]
name = "net"
kind = "expression"
expression = "npv_saving - npv_cost"

[[metrics]]
name = "break_even_year"
kind = "break_even"
variable = "total_cost"
arm = "saving"
from = 2025

[[metrics]]
name = "break_even_undiscounted"
kind = "break_even"
variable = "total_cost"
arm = "saving"
rate = 0

[[metrics]]
name = "npv_cost_5pc_2030"
kind = "npv"
variable = "programme_cost"
from = 2026
to = 2031
rate = 0.05
base = 2030

[[metrics]]
name = "cost_total"
kind = "integral"
variable = "programme_cost"

[[metrics]]
name = "budget_sum"
kind = "sum"
variable = "programme_cost"
arm = "intervention"
from = 2027
to = 2029

[[metrics]]
name = "budget_2026_5"
kind = "value"
variable = "programme_cost"
arm = "intervention"
at = 2026.5

[[metrics]]
name = "hospital_baseline_2030"
kind = "value"
variable = "hospital_cost"
arm = "baseline"
at = 2030

[[assumptions]]
test = "break_even_undiscounted <= 2030"

[[assumptions]]
test = "break_even_year <= 2030"
"#;
    let dir = project(
        "metrics",
        &[("model.toml", MONEY_MODEL), ("s.toml", scenario)],
    );
    let out = dir.join("out");
    run_ok(&dir.join("s.toml"), &out, &[]);
    let s = summary(&out);

    // The series by definition of the interventions, at the saved times 2025, ..., 2035.
    let times: Vec<f64> = (2025..=2035).map(f64::from).collect();
    let budget: Vec<(f64, f64)> = times
        .iter()
        .map(|&t| (t, if t >= 2027.0 { 100.0 } else { 0.0 }))
        .collect();
    let effect: Vec<(f64, f64)> = times
        .iter()
        .map(|&t| (t, if t >= 2029.0 { 250.0 } else { 0.0 }))
        .collect();
    let net: Vec<(f64, f64)> = budget
        .iter()
        .zip(&effect)
        .map(|(&(t, b), &(_, e))| (t, e - b))
        .collect();
    let green_book = |t: f64| 1.035f64.powf(-(t - 2025.0));

    let npv_cost = trapezoid(&budget, green_book);
    let npv_saving = trapezoid(&effect, green_book);
    let roi = (npv_saving - npv_cost) / npv_cost;
    let be = break_even(&net, green_book).expect("breaks even");
    let window: Vec<(f64, f64)> = budget
        .iter()
        .copied()
        .filter(|&(t, _)| (2026.0..=2031.0).contains(&t))
        .collect();
    let npv_5pc = trapezoid(&window, |t| 1.05f64.powf(-(t - 2030.0)));

    // Closed forms where they are short: the trapezoid rule ramps the step over 2026–2027, and
    // without discounting the cumulative net saving is −125 at 2029 and +25 at 2030.
    let cost_total = 50.0 + 8.0 * 100.0;
    let be_undiscounted = 2029.0 + 125.0 / 150.0;
    close(
        "break_even (rate 0) by the rule",
        break_even(&net, |_| 1.0).unwrap(),
        be_undiscounted,
    );
    close(
        "integral by the rule",
        trapezoid(&budget, |_| 1.0),
        cost_total,
    );

    let expected = [
        ("npv_cost", npv_cost),
        ("npv_saving", npv_saving),
        ("roi", roi),
        ("net", npv_saving - npv_cost),
        ("break_even_year", be),
        ("break_even_undiscounted", be_undiscounted),
        ("npv_cost_5pc_2030", npv_5pc),
        ("cost_total", cost_total),
        ("budget_sum", 300.0),
        ("budget_2026_5", 50.0),
        ("hospital_baseline_2030", 1000.0),
    ];
    for (name, want) in expected {
        let m = metric(&s, 0, name);
        for stat in ["mean", "p50", "min", "max"] {
            close(&format!("{name} ({stat})"), f(&m["summary"][stat]), want);
        }
        assert_eq!(f(&m["summary"]["sd"]), 0.0);
        assert_eq!(m["non_finite_runs"], 0);
    }
    // The discounted break-even is later than the undiscounted one, and both are in 2029–2031.
    assert!(be > be_undiscounted && be < 2031.0, "{be}");
    let npv = &metric(&s, 0, "npv_cost")["kind"]["npv"];
    assert_eq!(f(&npv["rate"]), 0.035);
    assert_eq!(f(&npv["base"]), 2025.0);
    let tests = &s["options"][0]["assumptions"];
    assert_eq!(f(&tests[0]["probability"]), 1.0);
    assert_eq!(
        f(&tests[1]["probability"]),
        if be <= 2030.0 { 1.0 } else { 0.0 }
    );
}

/// A programme that never pays back: break-even is "not within the horizon" (+inf in runs.csv,
/// null in the summary's quantiles, counted in `not_within_horizon_runs`).
#[test]
fn break_even_not_within_the_horizon() {
    let scenario = r#"
[scenario]
model = "model.toml"

[interventions.programme]
parameter = "budget"
step = { at = 2027, value = 100 }

[[metrics]]
name = "break_even_year"
kind = "break_even"
variable = "total_cost"
arm = "saving"

[[assumptions]]
test = "break_even_year <= 2035"
"#;
    let dir = project(
        "no-break-even",
        &[("model.toml", MONEY_MODEL), ("s.toml", scenario)],
    );
    let out = dir.join("out");
    run_ok(&dir.join("s.toml"), &out, &[]);
    let s = summary(&out);
    let m = metric(&s, 0, "break_even_year");
    assert_eq!(m["not_within_horizon_runs"], 1);
    let (h, rows) = csv(&out.join("runs.csv"));
    assert_eq!(rows[0][col(&h, "break_even_year")], "inf");
    assert_eq!(f(&s["options"][0]["assumptions"][0]["probability"]), 0.0);
}

// --- interventions ---------------------------------------------------------------------------

/// Run a one-intervention scenario on SCHEDULE_MODEL and compare the intervention arm of `cv`
/// with `want(t)` at every save time; the baseline arm must stay at the model's 5.
fn check_intervention(tag: &str, intervention: &str, want: impl Fn(f64) -> f64) {
    let scenario = format!(
        "[scenario]\nmodel = \"model.toml\"\n\n[interventions.change]\nparameter = \"c\"\n{intervention}\n"
    );
    let dir = project(
        tag,
        &[("model.toml", SCHEDULE_MODEL), ("s.toml", &scenario)],
    );
    let out = dir.join("out");
    run_ok(&dir.join("s.toml"), &out, &[]);
    let rows = series(&out, 0, "intervention", "cv");
    let times: Vec<f64> = rows.iter().map(|r| r[0]).collect();
    let grid: Vec<f64> = (0..=16).map(|k| k as f64 * 0.5).collect();
    assert_eq!(times, grid, "{tag}: save times");
    for r in &rows {
        let w = want(r[0]);
        common::assert_close(&format!("{tag}: cv at {}", r[0]), r[1], w, 1e-12, 0.0);
        // One run: every percentile is the value, the sd 0.
        assert_eq!(r[3..], [r[1]; 5], "{tag} at {}", r[0]);
        assert_eq!(r[2], 0.0);
    }
    for (b, d) in series(&out, 0, "baseline", "cv")
        .iter()
        .zip(series(&out, 0, "difference", "cv"))
    {
        assert_eq!(b[1], 5.0, "{tag}: baseline at {}", b[0]);
        common::assert_close(
            &format!("{tag}: difference at {}", d[0]),
            d[1],
            want(d[0]) - 5.0,
            1e-12,
            0.0,
        );
    }
}

#[test]
fn step_intervention() {
    check_intervention("step", "step = { at = 2.5, value = 8 }", |t| {
        if t < 2.5 { 5.0 } else { 8.0 }
    });
}

#[test]
fn ramp_intervention() {
    // Before the ramp the constant keeps its model value; after it, the last value.
    check_intervention(
        "ramp",
        "ramp = { start = 2, end = 6, from = 1, to = 9 }",
        |t| {
            if t < 2.0 {
                5.0
            } else if t <= 6.0 {
                1.0 + 2.0 * (t - 2.0)
            } else {
                9.0
            }
        },
    );
}

#[test]
fn schedule_with_step_interpolation() {
    check_intervention(
        "schedule-step",
        "schedule = { times = [1, 3, 4], values = [10, 20, 30] }",
        |t| match t {
            t if t < 1.0 => 5.0,
            t if t < 3.0 => 10.0,
            t if t < 4.0 => 20.0,
            _ => 30.0,
        },
    );
}

#[test]
fn schedule_with_linear_interpolation() {
    check_intervention(
        "schedule-linear",
        "schedule = { times = [1, 3, 4], values = [10, 20, 30], interpolate = \"linear\" }",
        |t| match t {
            t if t < 1.0 => 5.0,
            t if t <= 3.0 => 10.0 + 5.0 * (t - 1.0),
            t if t <= 4.0 => 20.0 + 10.0 * (t - 3.0),
            _ => 30.0,
        },
    );
}

#[test]
fn scale_multiplies_values_and_shift_moves_times() {
    check_intervention(
        "scale-shift-step",
        "step = { at = 2.5, value = 8 }\nscale = 2\nshift = 1",
        |t| if t < 3.5 { 5.0 } else { 16.0 },
    );
    // The ramp from (2, 1) to (6, 9), halved and one year earlier: (1, 0.5) to (5, 4.5).
    check_intervention(
        "scale-shift-ramp",
        "ramp = { start = 2, end = 6, from = 1, to = 9 }\nscale = 0.5\nshift = -1",
        |t| {
            if t < 1.0 {
                5.0
            } else if t <= 5.0 {
                0.5 + (t - 1.0)
            } else {
                4.5
            }
        },
    );
}

/// [parameters] set the constants of both arms when the baseline is the model, so only the
/// interventions make a difference.
#[test]
fn parameters_apply_to_both_arms_with_the_model_baseline() {
    let scenario = "[scenario]\nmodel = \"model.toml\"\n\n[parameters]\nc = 6\n\n[interventions.change]\nparameter = \"c\"\nstep = { at = 4, value = 1 }\n";
    let dir = project(
        "parameters",
        &[("model.toml", SCHEDULE_MODEL), ("s.toml", scenario)],
    );
    let out = dir.join("out");
    run_ok(&dir.join("s.toml"), &out, &[]);
    for r in series(&out, 0, "baseline", "cv") {
        assert_eq!(r[1], 6.0, "baseline at {}", r[0]);
    }
    for r in series(&out, 0, "intervention", "cv") {
        assert_eq!(r[1], if r[0] < 4.0 { 6.0 } else { 1.0 }, "at {}", r[0]);
    }
}

/// A baseline that is another scenario: its parameters and interventions form the baseline
/// arm; this scenario's own form the intervention arm.
#[test]
fn a_baseline_scenario_forms_the_baseline_arm() {
    let base = "[scenario]\nmodel = \"model.toml\"\n\n[parameters]\nc = 7\n\n[interventions.cut]\nparameter = \"c\"\nstep = { at = 4, value = 3 }\n";
    let main = "[scenario]\nmodel = \"model.toml\"\nbaseline = \"base.toml\"\n\n[interventions.boost]\nparameter = \"c\"\nramp = { start = 2, end = 3, from = 11, to = 12 }\n";
    let dir = project(
        "baseline",
        &[
            ("model.toml", SCHEDULE_MODEL),
            ("base.toml", base),
            ("main.toml", main),
        ],
    );
    let out = dir.join("out");
    run_ok(&dir.join("main.toml"), &out, &[]);
    let want_base = |t: f64| if t < 4.0 { 7.0 } else { 3.0 };
    let want_int = |t: f64| match t {
        t if t < 2.0 => 5.0,
        t if t <= 3.0 => 11.0 + (t - 2.0),
        _ => 12.0,
    };
    let base_rows = series(&out, 0, "baseline", "cv");
    let int_rows = series(&out, 0, "intervention", "cv");
    let diff_rows = series(&out, 0, "difference", "cv");
    for ((b, i), d) in base_rows.iter().zip(&int_rows).zip(&diff_rows) {
        let t = b[0];
        assert_eq!(b[1], want_base(t), "baseline at {t}");
        assert_eq!(i[1], want_int(t), "intervention at {t}");
        assert_eq!(d[1], want_int(t) - want_base(t), "difference at {t}");
    }
    assert_eq!(summary(&out)["scenario"]["baseline"], "base.toml");
}

#[test]
fn a_baseline_scenario_on_another_model_is_rejected() {
    let base = "[scenario]\nmodel = \"other.toml\"\n";
    let main = "[scenario]\nmodel = \"model.toml\"\nbaseline = \"base.toml\"\n";
    let dir = project(
        "baseline-other",
        &[
            ("model.toml", SCHEDULE_MODEL),
            ("other.toml", SCHEDULE_MODEL),
            ("base.toml", base),
            ("main.toml", main),
        ],
    );
    let out = dir.join("out");
    let o = careshift(&[
        "run",
        dir.join("main.toml").to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("baseline scenario `base.toml` uses a different model"),
        "{stderr}"
    );
    assert!(stderr.contains("main.toml:3:12"), "{stderr}");
    assert!(!out.exists());
}

// --- sweeps ----------------------------------------------------------------------------------

#[test]
fn a_sweep_runs_every_option_on_the_same_samples() {
    let dir = project(
        "sweep",
        &[("model.toml", SWEEP_MODEL), ("s.toml", SWEEP_SCENARIO)],
    );
    let out = dir.join("out");
    run_ok(&dir.join("s.toml"), &out, &[]);
    // The last lever varies fastest.
    let grid = [
        (1.0, 0.5),
        (1.0, 1.0),
        (1.0, 2.0),
        (2.0, 0.5),
        (2.0, 1.0),
        (2.0, 2.0),
    ];
    let s = summary(&out);
    let options = s["options"].as_array().unwrap();
    assert_eq!(options.len(), 6);
    for (o, &(k, level)) in grid.iter().enumerate() {
        let levers = options[o]["levers"].as_object().unwrap();
        let got: Vec<(&str, f64)> = levers.iter().map(|(n, v)| (n.as_str(), f(v))).collect();
        assert_eq!(got, [("parameters.k", k), ("level", level)], "option {o}");
    }
    let (h, rows) = csv(&out.join("runs.csv"));
    assert_eq!(rows.len(), 6 * 12);
    let (oc, kc, lc, uc) = (
        col(&h, "option"),
        col(&h, "parameters.k"),
        col(&h, "level"),
        col(&h, "u"),
    );
    let by_run: BTreeMap<String, Vec<&Vec<String>>> =
        rows.iter().fold(BTreeMap::new(), |mut m, r| {
            m.entry(r[0].clone()).or_default().push(r);
            m
        });
    assert_eq!(by_run.len(), 12);
    for (run, rs) in &by_run {
        assert_eq!(rs.len(), 6, "run {run}");
        // Every option uses run `run`'s sample.
        assert!(rs.iter().all(|r| r[uc] == rs[0][uc]), "run {run}: {rs:?}");
        for r in rs {
            let o: usize = r[oc].parse().unwrap();
            let (k, level) = grid[o];
            assert_eq!((num(&r[kc]), num(&r[lc])), (k, level));
            let u = num(&r[uc]);
            // The parameter lever sets k in both arms; the scale lever scales the budget.
            for arm_metric in ["kv_baseline", "kv_intervention"] {
                common::assert_close(arm_metric, num(&r[col(&h, arm_metric)]), k * u, 0.0, 1e-15);
            }
            assert_eq!(num(&r[col(&h, "spend_5")]), 100.0 * level);
            assert_eq!(num(&r[col(&h, "spend_difference_5")]), 100.0 * level);
        }
    }
    // series.csv carries the option and its lever values.
    let (sh, srows) = csv(&out.join("series.csv"));
    assert_eq!(sh[..3], ["option", "parameters.k", "level"]);
    for r in &srows {
        let (k, level) = grid[r[0].parse::<usize>().unwrap()];
        assert_eq!((num(&r[1]), num(&r[2])), (k, level));
    }
    let baseline = series(&out, 4, "baseline", "spend");
    assert!(baseline.iter().all(|r| r[1] == 0.0));
    let spend = series(&out, 4, "intervention", "spend");
    assert!(
        spend
            .iter()
            .all(|r| r[1] == if r[0] < 2.0 { 0.0 } else { 100.0 })
    );
}

// --- outputs ---------------------------------------------------------------------------------

/// series.csv holds streaming statistics: its rows do not grow with the number of runs, and
/// neither do the runner's series accumulators.
#[test]
fn series_do_not_grow_with_the_number_of_runs() {
    let scenario = &bundled_scenarios()[0];
    let tmp = common::temp_dir("flat");
    let (few, many) = (tmp.join("few"), tmp.join("many"));
    run_ok(scenario, &few, &["--runs", "10"]);
    run_ok(scenario, &many, &["--runs", "200"]);
    let size = |d: &Path| std::fs::metadata(d.join("series.csv")).unwrap().len();
    let lines = |d: &Path| {
        String::from_utf8(read(&d.join("series.csv")))
            .unwrap()
            .lines()
            .count()
    };
    assert_eq!(lines(&few), lines(&many));
    // Equal rows; only the digits of the numbers may differ.
    assert!(
        size(&many) < size(&few) * 13 / 10,
        "{} vs {}",
        size(&many),
        size(&few)
    );
    let (_, runs_few) = csv(&few.join("runs.csv"));
    let (_, runs_many) = csv(&many.join("runs.csv"));
    assert_eq!((runs_few.len(), runs_many.len()), (10, 200));

    let mut s =
        careshift::scenario::load_scenario(scenario).unwrap_or_else(|f| panic!("{}", f.render()));
    let settings = careshift::experiment::RunSettings {
        threads: Some(2),
        ..Default::default()
    };
    let mut sizes = Vec::new();
    for runs in [10, 200] {
        s.uncertainty.runs = runs;
        let outcome = careshift::experiment::run(&s, &settings).unwrap();
        assert_eq!(outcome.run_count(), runs);
        sizes.push(
            outcome
                .options
                .iter()
                .map(|o| o.series.width())
                .sum::<usize>(),
        );
    }
    assert_eq!(sizes[0], sizes[1]);
    assert_eq!(
        sizes[0],
        3 * s.outputs.len() * outcome_times(&s),
        "one accumulator per arm, output variable and saved time"
    );
}

fn outcome_times(s: &careshift::scenario::Scenario) -> usize {
    ((s.time.stop - s.time.start) / s.time.save_step).round() as usize + 1
}

#[test]
fn per_run_series_only_on_request() {
    let scenario = &bundled_scenarios()[0];
    let tmp = common::temp_dir("per-run");
    let (without, with) = (tmp.join("without"), tmp.join("with"));
    let o = run_ok(scenario, &without, &["--runs", "5"]);
    assert!(!without.join("runs_series.csv").exists());
    let mut files: Vec<String> = std::fs::read_dir(&without)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(
        files,
        [
            "charts",
            "report.html",
            "runs.csv",
            "runs.parquet",
            "series.csv",
            "summary.json"
        ]
    );
    assert!(String::from_utf8_lossy(&o.stdout).contains("wrote"));

    run_ok(scenario, &with, &["--runs", "5", "--per-run-series"]);
    let s = summary(&with);
    let n_times = s["times"].as_array().unwrap().len();
    let (h, rows) = csv(&with.join("runs_series.csv"));
    assert_eq!(h[..4], ["run", "option", "arm", "time"]);
    assert_eq!(rows.len(), 5 * 3 * n_times);
    // The per-run values agree with the aggregated series: series.csv's mean is their mean.
    let variables = &h[4..];
    let (_, series_rows) = csv(&with.join("series.csv"));
    assert_eq!(series_rows.len(), 3 * variables.len() * n_times);
    for arm in ["intervention", "baseline", "difference"] {
        for (k, variable) in variables.iter().enumerate() {
            for row in series(&with, 0, arm, variable) {
                let values: Vec<f64> = rows
                    .iter()
                    .filter(|r| r[2] == arm && num(&r[3]) == row[0])
                    .map(|r| num(&r[4 + k]))
                    .collect();
                assert_eq!(values.len(), 5);
                let mean = values.iter().sum::<f64>() / 5.0;
                common::assert_close(
                    &format!("{arm} {variable} at {}", row[0]),
                    row[1],
                    mean,
                    1e-9,
                    1e-12,
                );
            }
        }
    }
}

#[test]
fn summary_json_and_parquet_are_readable() {
    use arrow::array::{Array, BooleanArray, Float64Array, UInt64Array};
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    let scenario = &bundled_scenarios()[0];
    let out = common::temp_dir("parquet").join("out");
    run_ok(scenario, &out, &["--runs", "30"]);
    let s = summary(&out);
    let keys: Vec<&str> = s.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "careshift_version",
            "scenario",
            "seed",
            "runs",
            "sampling",
            "options",
            "times",
            "warnings"
        ]
    );
    assert_eq!(s["runs"], 30);
    assert_eq!(s["careshift_version"], env!("CARGO_PKG_VERSION"));
    for key in [
        "name",
        "model",
        "time",
        "interventions",
        "uncertainty",
        "baseline",
    ] {
        assert!(!s["scenario"][key].is_null(), "scenario.{key}");
    }
    for (name, m) in s["options"][0]["metrics"].as_object().unwrap() {
        for key in ["arm", "kind", "summary", "non_finite_runs"] {
            assert!(!m[key].is_null(), "metric {name}: {key}");
        }
    }
    for t in s["options"][0]["assumptions"].as_array().unwrap() {
        for key in [
            "name",
            "test",
            "probability",
            "interval95",
            "verdict",
            "holds",
            "runs",
            "drivers",
        ] {
            assert!(!t[key].is_null(), "assumption {t}: {key}");
        }
    }

    let (h, rows) = csv(&out.join("runs.csv"));
    let file = std::fs::File::open(out.join("runs.parquet")).unwrap();
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .expect("runs.parquet is parquet")
        .build()
        .unwrap();
    let batches: Vec<_> = reader.map(|b| b.unwrap()).collect();
    let total: usize = batches.iter().map(|b| b.num_rows()).sum();
    assert_eq!(total, rows.len());
    let schema = batches[0].schema();
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    assert_eq!(names, h.iter().map(String::as_str).collect::<Vec<_>>());
    let mut row = 0;
    for b in &batches {
        let run = b.column(0).as_any().downcast_ref::<UInt64Array>().unwrap();
        for i in 0..b.num_rows() {
            assert_eq!(run.value(i).to_string(), rows[row + i][0]);
        }
        // Every float column equals runs.csv bit for bit (CSV numbers round-trip), +inf included.
        for (c, name) in h.iter().enumerate().skip(2) {
            let column = b.column(c);
            if let Some(x) = column.as_any().downcast_ref::<Float64Array>() {
                for i in 0..b.num_rows() {
                    let want = num(&rows[row + i][c]);
                    assert!(
                        x.value(i) == want || (x.value(i).is_nan() && want.is_nan()),
                        "{name}, row {}: parquet {} vs csv {want}",
                        row + i,
                        x.value(i)
                    );
                }
            } else {
                let x = column.as_any().downcast_ref::<BooleanArray>().unwrap();
                for i in 0..b.num_rows() {
                    assert_eq!(
                        x.value(i),
                        rows[row + i][c] == "1",
                        "{name}, row {}",
                        row + i
                    );
                }
            }
        }
        row += b.num_rows();
    }
}

#[test]
fn every_bundled_scenario_runs_and_writes_every_file() {
    let tmp = common::temp_dir("bundled");
    for (k, scenario) in bundled_scenarios().iter().enumerate() {
        let out = tmp.join(k.to_string());
        let o = run_ok(scenario, &out, &["--runs", "50"]);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(
            !stderr.contains("warning"),
            "{}: {stderr}",
            scenario.display()
        );
        for file in OUTPUT_FILES {
            let len = std::fs::metadata(out.join(file))
                .unwrap_or_else(|_| panic!("{}: no {file}", scenario.display()))
                .len();
            assert!(len > 0, "{}: empty {file}", scenario.display());
        }
        let s = summary(&out);
        assert_eq!(s["runs"], 50);
        let (_, rows) = csv(&out.join("runs.csv"));
        let options = s["options"].as_array().unwrap().len();
        assert_eq!(rows.len(), 50 * options);
        // Every metric is a number in every run (break-even may be "not within the horizon").
        for (name, m) in s["options"][0]["metrics"].as_object().unwrap() {
            assert_eq!(
                m["non_finite_runs"],
                m.get("not_within_horizon_runs")
                    .cloned()
                    .unwrap_or(0.into()),
                "{}: {name}",
                scenario.display()
            );
        }
    }
}

/// The per-run results go to a temporary file in blocks (memory flat in the number of runs);
/// every report file is byte for byte the same whatever the block size: all runs in memory,
/// blocks that split the options' runs unevenly, one run per block.
#[test]
fn reports_are_identical_whatever_the_per_run_spill_block() {
    let s = careshift::scenario::load_scenario(Path::new("scenarios/investment_options.toml"))
        .unwrap_or_else(|f| panic!("{}", f.render()));
    assert!(s.option_count() > 1 && !s.assumptions.is_empty());
    let runs = s.uncertainty.runs;
    // (block, report files by name, terminal summary)
    type Reports = (Option<usize>, BTreeMap<PathBuf, Vec<u8>>, String);
    let mut reports: Vec<Reports> = Vec::new();
    for block in [None, Some(runs + 1), Some(64), Some(7), Some(1)] {
        let settings = careshift::experiment::RunSettings {
            threads: Some(2),
            spill_block_runs: block,
            ..Default::default()
        };
        let outcome = careshift::experiment::run(&s, &settings).unwrap();
        assert_eq!(outcome.run_count(), runs);
        let dir = common::temp_dir(&format!("spill-block-{block:?}"));
        let written = careshift::report::write_reports(&dir, &s, &outcome, None).unwrap();
        let files: BTreeMap<PathBuf, Vec<u8>> = written
            .iter()
            .map(|p| (p.strip_prefix(&dir).unwrap().to_path_buf(), read(p)))
            .collect();
        for name in [
            "summary.json",
            "series.csv",
            "runs.csv",
            "runs.parquet",
            "report.html",
        ] {
            assert!(files.contains_key(Path::new(name)), "{name} written");
        }
        // The terminal summary, without its first line (the run time).
        let text = careshift::report::terminal_summary(&s, &outcome).unwrap();
        let text = text
            .split_once('\n')
            .map_or("", |(_, rest)| rest)
            .to_string();
        assert!(
            text.contains("P = "),
            "the summary lists the tests:\n{text}"
        );
        reports.push((block, files, text));
    }
    let (_, first_files, first_text) = &reports[0];
    for (block, files, text) in &reports[1..] {
        assert_eq!(
            files.keys().collect::<Vec<_>>(),
            first_files.keys().collect::<Vec<_>>(),
            "block {block:?}"
        );
        for (name, bytes) in files {
            assert!(
                bytes == &first_files[name],
                "{} differs with spill block {block:?}",
                name.display()
            );
        }
        assert_eq!(text, first_text, "block {block:?}");
    }
}
