//! The whole-system care model (models/care_system.toml) against England's baseline and against
//! the reference cases of the seed evidence: each scenario in `scenarios/care_*.toml` states its
//! expectation as an assumption test, and each test here runs the scenario with the `careshift`
//! binary and checks the expectation in `summary.json`.
//!
//! Run counts are smaller than the files' (the sample is a Latin hypercube, so a smaller count
//! still covers every parameter's range); the bounds below were checked at the test's count, at
//! twice it and at the file's count.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Run `scenarios/<name>.toml` with `runs` Monte Carlo runs and return its summary.json.
fn run_scenario(name: &str, runs: usize) -> Value {
    run_scenario_in(name, runs).0
}

/// As `run_scenario`, also returning the output directory (for runs.csv).
fn run_scenario_in(name: &str, runs: usize) -> (Value, PathBuf) {
    let dir = common::temp_dir(name);
    let out = Command::new(env!("CARGO_BIN_EXE_careshift"))
        .arg("run")
        .arg(root().join(format!("scenarios/{name}.toml")))
        .arg("--out")
        .arg(&dir)
        .args(["--runs", &runs.to_string(), "--threads", "2"])
        .output()
        .expect("run careshift");
    assert!(
        out.status.success(),
        "careshift run {name} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(dir.join("summary.json")).expect("summary.json written");
    let doc = serde_json::from_str(&text).expect("summary.json is valid JSON");
    (doc, dir)
}

/// Mean of `parameter` over the runs of runs.csv where the assumption `test` holds and where it
/// fails.
fn mean_when_holds_and_fails(dir: &Path, parameter: &str, test: &str) -> (f64, f64) {
    let mut reader = csv::Reader::from_path(dir.join("runs.csv")).expect("runs.csv");
    let header = reader.headers().expect("header").clone();
    let index = |name: &str| {
        header
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("no column `{name}` in runs.csv: {header:?}"))
    };
    let (ip, it) = (index(parameter), index(test));
    let (mut sums, mut counts) = ([0.0; 2], [0usize; 2]);
    for row in reader.records() {
        let row = row.expect("row");
        let value: f64 = row[ip].parse().expect("number");
        let k = usize::from(&row[it] == "1");
        sums[k] += value;
        counts[k] += 1;
    }
    assert!(counts[0] > 0 && counts[1] > 0, "{counts:?}");
    (sums[1] / counts[1] as f64, sums[0] / counts[0] as f64)
}

/// The single option of a scenario without a sweep.
fn only_option(doc: &Value) -> &Value {
    let options = doc["options"].as_array().expect("options");
    assert_eq!(options.len(), 1, "expected one option");
    &options[0]
}

/// A statistic (`p50`, `min`, `max`, ...) of a metric in one option.
fn stat(option: &Value, metric: &str, which: &str) -> f64 {
    option["metrics"][metric]["summary"][which]
        .as_f64()
        .unwrap_or_else(|| panic!("no {which} for metric `{metric}`: {}", option["metrics"]))
}

/// The reported assumption test with this name in one option.
fn assumption<'a>(option: &'a Value, name: &str) -> &'a Value {
    option["assumptions"]
        .as_array()
        .expect("assumptions")
        .iter()
        .find(|a| a["name"] == name)
        .unwrap_or_else(|| panic!("no assumption `{name}`: {}", option["assumptions"]))
}

fn probability(option: &Value, name: &str) -> f64 {
    assumption(option, name)["probability"]
        .as_f64()
        .expect("probability")
}

fn assert_within(what: &str, value: f64, low: f64, high: f64) {
    assert!(
        (low..=high).contains(&value),
        "{what} = {value}, expected within [{low}, {high}]"
    );
}

// --- 1. baseline: does the model's starting point look like England? -------------------------

#[test]
fn care_model_starts_like_england() {
    // The deterministic model (default parameters), without any scenario.
    let model = common::load_example("models/care_system.toml");
    let r = model
        .run(model.time(), &[])
        .unwrap_or_else(|d| panic!("run failed:\n{}", d.render(&model.sources)));
    let col = |name: &str| common::column(&r, name);
    let last = r.times.len() - 1;
    assert_eq!(r.times[0], 2025.0);
    assert_eq!(r.times[last], 2045.0);

    // HES: 79 emergency admissions per 1,000 a year at 0-64 (the model normalises each band to
    // its published rate at the start, so this is exact) and about 243 at 65+.
    common::assert_close(
        "admissions per 1,000 at 0-64",
        col("hospital.admissions_per_1000[0-64]")[0],
        79.0,
        1e-9,
        0.0,
    );
    let older: f64 = ["65-74", "75-84", "85+"]
        .iter()
        .map(|a| col(&format!("hospital.admissions_by_age[{a}]"))[0])
        .sum::<f64>()
        * 1000.0
        / col("population.older_people")[0];
    assert_within("admissions per 1,000 at 65+", older, 238.0, 248.0);
    // G&A occupancy 88-95 % (R29-R31).
    assert_within(
        "occupancy at the start",
        col("hospital.occupancy")[0],
        0.88,
        0.95,
    );
    // Crude death rate 9.7 per 1,000 (E&W 2022).
    let deaths_per_1000 =
        1000.0 * col("population.total_deaths")[0] / col("population.total_population")[0];
    assert_within("deaths per 1,000 at the start", deaths_per_1000, 9.0, 11.0);
    // The 85+ population grows (ONS: about 2.4 % a year).
    let p85 = col("population.population_by_age[85+]");
    assert!(p85[last] > p85[0], "85+: {} → {}", p85[0], p85[last]);
    // Frailty among people aged 65+: 43.7 % (Fogg 2021), rising.
    let frail = col("frailty.frail_share_65_plus");
    assert_within("frail share of 65+ at the start", frail[0], 0.42, 0.45);
    assert!(frail[last] > frail[0]);
}

#[test]
fn care_baseline_scenario_looks_like_england_under_uncertainty() {
    let doc = run_scenario("care_baseline", 100);
    let opt = only_option(&doc);

    assert_within(
        "median admissions per 1,000 at 0-64",
        stat(opt, "admissions_per_1000_0_64_start", "p50"),
        77.0,
        82.0,
    );
    assert_eq!(
        probability(opt, "admissions at 0-64 near 79 per 1,000"),
        1.0
    );
    assert_within(
        "median admissions per 1,000 at 65+",
        stat(opt, "admissions_per_1000_65_plus_start", "p50"),
        238.0,
        250.0,
    );
    assert_eq!(
        probability(opt, "admissions at 65+ near 243 per 1,000"),
        1.0
    );
    // Occupancy: the median is inside England's band; sampled admission rates and stays (±5-12 %)
    // push some runs out of it, so the test holds in most but not all runs (about 0.87).
    assert_within(
        "median occupancy at the start",
        stat(opt, "occupancy_start", "p50"),
        0.88,
        0.95,
    );
    assert_within(
        "P(occupancy at the start within 88-95 %)",
        probability(opt, "occupancy at the start within England's 88-95 %"),
        0.75,
        1.0,
    );
    // The 85+ population grows in every run.
    assert!(stat(opt, "growth_85_plus_2025_2045", "min") > 0.0);
    assert_eq!(
        probability(opt, "the 85+ population grows over 20 years"),
        1.0
    );
    assert_within(
        "median deaths per 1,000",
        stat(opt, "deaths_per_1000_start", "p50"),
        9.0,
        11.0,
    );
    assert_eq!(
        probability(opt, "deaths of 9-11 per 1,000 a year at the start"),
        1.0
    );
    // Demographic drift alone: emergency admissions grow by about a quarter in 20 years (about
    // 1.1 % a year, well below the 3.2 % a year observed in 2006-2018, which was not only
    // demography), and every run needs more beds in 2045 than at the start.
    assert_within(
        "median admissions growth 2025-2045",
        stat(opt, "admissions_growth_2025_2045", "p50"),
        0.15,
        0.35,
    );
    assert!(stat(opt, "occupied_beds_2045", "min") > 1306.0);
}

// --- 2. the core question ----------------------------------------------------------------------

#[test]
fn community_frailty_investment_avoids_admissions_and_beds_and_usually_pays_back() {
    let doc = run_scenario("care_community_frailty_investment", 100);
    let opt = only_option(&doc);

    // Every run avoids admissions and beds.
    assert!(stat(opt, "admissions_avoided_2035", "min") > 0.0);
    assert!(stat(opt, "bed_change_2035", "max") < -50.0);
    assert_eq!(
        probability(opt, "at least 50 fewer occupied beds in 2035"),
        1.0
    );
    // Most of the beds come from shorter waits for step-down care.
    assert!(
        stat(opt, "delayed_discharges_change_2035", "p50")
            < 0.5 * stat(opt, "bed_change_2035", "p50")
    );
    // A net saving over 20 years is likely (about 0.8); paying back by 2040 is a coin toss.
    assert_within(
        "P(net saving over 2025-2045)",
        probability(opt, "net saving over 2025-2045"),
        0.6,
        0.95,
    );
    assert_within(
        "P(break-even by 2040)",
        probability(opt, "pays back by 2040"),
        0.3,
        0.7,
    );
    assert_within("median ROI", stat(opt, "roi", "p50"), 0.0, 0.6);
    // The labour market limits the team: funded for about 117 FTE by 2030, about 90 in post.
    assert!(stat(opt, "staff_2030", "max") < 110.0);
}

#[test]
fn workforce_constraint_changes_staff_and_coverage_in_compare() {
    let dir = common::temp_dir("care-compare");
    let json = dir.join("compare.json");
    let out = Command::new(env!("CARGO_BIN_EXE_careshift"))
        .arg("compare")
        .arg(root().join("models/care_system.toml"))
        .arg(root().join("models/care_system_budget_only.toml"))
        .arg("--scenario")
        .arg(root().join("scenarios/care_community_frailty_investment.toml"))
        .args(["--runs", "30", "--threads", "2", "--json"])
        .arg(&json)
        .output()
        .expect("run careshift compare");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: Value =
        serde_json::from_str(&std::fs::read_to_string(&json).expect("json written")).unwrap();
    let m = &doc["options"][0]["metrics"];
    let diff = |metric: &str, which: &str| -> f64 {
        m[metric]["b_minus_a"][which]
            .as_f64()
            .unwrap_or_else(|| panic!("{metric}.{which}: {}", m[metric]))
    };
    // Without the labour market (B) the team reaches its funded size sooner: more staff and more
    // coverage in 2030 in every run.
    assert!(diff("staff_2030", "min") > 0.0, "{}", m["staff_2030"]);
    assert!(diff("coverage_2030", "min") > 0.0, "{}", m["coverage_2030"]);
    // ... hence more admissions avoided, more spent, and a different net saving.
    assert!(diff("admissions_avoided_2030", "p50") > 0.0);
    assert!(diff("npv_programme_cost", "min") > 0.0);
    assert!(diff("npv_net_saving", "p50") != 0.0);
}

// --- 3. reference cases from the seed evidence ------------------------------------------------

#[test]
fn torbay_like_integration_cuts_occupied_beds_by_about_a_third() {
    // Seed 004 H1: 750 → 502 occupied beds in 11 years (ratio 0.67); H2: the lowest emergency
    // bed-day use of people aged 65+ in the region and negligible delayed transfers. Reproduced
    // only with effects near the top of their ranges (see the scenario). Community care can avoid
    // at most the ambulatory-care-sensitive share of admissions, and the model holds elective beds
    // fixed: emergency beds fall by about 30 %, all occupied beds by about a quarter — short of
    // Torbay's third, which the scenario states.
    let doc = run_scenario("care_reference_torbay", 100);
    let opt = only_option(&doc);
    assert_within(
        "median emergency occupied beds 2036 / 2025",
        stat(opt, "emergency_beds_ratio", "p50"),
        0.6,
        0.75,
    );
    assert!(
        probability(
            opt,
            "emergency occupied beds fall by roughly a third in 11 years (ratio 0.60-0.75)"
        ) >= 0.6
    );
    // All occupied beds fall by about a quarter (elective beds are fixed in the model).
    assert_within(
        "median occupied beds 2036 / 2025",
        stat(opt, "occupied_beds_ratio", "p50"),
        0.7,
        0.8,
    );
    assert!(stat(opt, "emergency_beds_ratio", "p50") < stat(opt, "occupied_beds_ratio", "p50"));
    // Without the programme, demography alone raises beds by about 15 %.
    assert_within(
        "baseline beds 2036 / 2025",
        stat(opt, "baseline_beds_ratio", "p50"),
        1.1,
        1.2,
    );
    // Delayed discharges fall to about a fifth in every run.
    assert_eq!(
        probability(
            opt,
            "delayed transfers become small (below a third of the start)"
        ),
        1.0
    );
}

#[test]
fn cpc_like_care_management_slows_admissions_by_about_two_percent_without_covering_fees() {
    // Seed 001 H11: 2 % slower growth in hospitalisations over four years; C7: not enough to
    // offset the care-management fees.
    let doc = run_scenario("care_reference_cpc", 200);
    let opt = only_option(&doc);
    assert_within(
        "median admission reduction after 4 years",
        stat(opt, "admission_reduction_year4", "p50"),
        0.01,
        0.03,
    );
    assert!(
        probability(opt, "savings do not cover the fees within 4 years") >= 0.95,
        "{}",
        assumption(opt, "savings do not cover the fees within 4 years")
    );
    assert!(stat(opt, "npv_net_saving_4y", "p95") < 0.0);
}

#[test]
fn carefirst_like_primary_care_cuts_admissions_by_ten_to_fifteen_percent() {
    // Seed 001 H8/H9: 15 % (before/after) and 10.5 % (vs non-PCMH) fewer admissions.
    let doc = run_scenario("care_reference_carefirst", 200);
    let opt = only_option(&doc);
    assert_within(
        "median admission reduction after 5 years",
        stat(opt, "admission_reduction_year5", "p50"),
        0.08,
        0.17,
    );
    assert!(
        probability(
            opt,
            "about 10-15 % fewer emergency admissions after 5 years (8-17 %)"
        ) >= 2.0 / 3.0
    );
    // ED attendances fall with admissions (H8: 13 %).
    assert_within(
        "median ED reduction after 5 years",
        stat(opt, "ed_reduction_year5", "p50"),
        0.08,
        0.17,
    );
}

#[test]
fn aco_like_monte_carlo_saves_in_about_a_third_of_runs() {
    // Seed 001 C4: about a third of Medicare ACOs achieved savings; C5: increasingly positive
    // each year, the most mature doing best.
    let (doc, dir) = run_scenario_in("care_reference_aco", 200);
    let opt = only_option(&doc);
    let test = assumption(opt, "net saving over the 10-year contract");
    let p = test["probability"].as_f64().unwrap();
    assert_within("P(net saving over 10 years)", p, 0.2, 0.45);
    assert_eq!(test["runs"].as_u64(), Some(200));

    // Annual net savings become more likely each year.
    let (p3, p5, p10) = (
        probability(opt, "net saving in year 3"),
        probability(opt, "net saving in year 5"),
        probability(opt, "net saving in year 10"),
    );
    assert!(p3 < 0.05 && p3 < p5 && p5 < p10, "{p3} {p5} {p10}");

    // Runs that save have, on average, shorter maturity times (the direction of C5). Maturity is
    // a weaker driver than unit costs, so it is not always among the top drivers in
    // summary.json; compare the two groups in runs.csv instead.
    let (holds, fails) = mean_when_holds_and_fails(
        &dir,
        "community.maturity_time",
        "net saving over the 10-year contract",
    );
    assert!(holds < fails, "maturity time: {holds} (saving) vs {fails}");
}

// --- 4. finance option sweep --------------------------------------------------------------

#[test]
fn investment_options_report_a_payback_probability_per_option() {
    let doc = run_scenario("care_investment_options", 30);
    let options = doc["options"].as_array().expect("options");
    assert_eq!(options.len(), 12, "4 levels × 3 start years");
    let payback = "pays back: break-even by 2040 and positive NPV over 2025-2045";
    let p = |level: f64, delay: f64| -> f64 {
        let opt = options
            .iter()
            .find(|o| {
                o["levers"]["budget_m_per_year"].as_f64() == Some(level)
                    && o["levers"]["start_delay_years"].as_f64() == Some(delay)
            })
            .unwrap_or_else(|| panic!("no option {level} × {delay}"));
        assert_eq!(opt["assumptions"].as_array().unwrap().len(), 2);
        probability(opt, payback)
    };
    for delay in [0.0, 2.0, 4.0] {
        // Small programmes almost always pay back; £15m a year does so about half the time.
        assert!(p(2.0, delay) >= 0.9, "£2m, +{delay}: {}", p(2.0, delay));
        assert!(p(15.0, delay) <= 0.75, "£15m, +{delay}: {}", p(15.0, delay));
        assert!(p(2.0, delay) > p(15.0, delay));
        assert!(p(5.0, delay) >= p(15.0, delay));
    }
}
