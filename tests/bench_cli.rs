//! `careshift bench`: the JSON summary on the last line of standard output, for TOML and XMILE
//! models and for a scenario's Monte Carlo, and clear errors for bad flags or a missing file.
//! (No timing is asserted.)

mod common;

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_careshift");

fn bench(args: &[&str]) -> (bool, serde_json::Value, String) {
    let out = Command::new(BIN)
        .arg("bench")
        .args(args)
        .output()
        .expect("run careshift");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let last = stdout.lines().last().unwrap_or("null");
    let json = serde_json::from_str(last).unwrap_or(serde_json::Value::Null);
    (
        out.status.success(),
        json,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn check_summary(json: &serde_json::Value, model: &str, runs: u64, steps: u64) {
    assert_eq!(json["model"], model, "{json}");
    assert_eq!(json["runs"], runs, "{json}");
    assert_eq!(json["steps"], steps, "{json}");
    let median = json["median_run_s"].as_f64().expect("median_run_s");
    let rate = json["runs_per_s"].as_f64().expect("runs_per_s");
    assert!(median > 0.0 && rate > 0.0, "{json}");
}

#[test]
fn bench_prints_a_json_summary_for_a_toml_model() {
    // The care model: 2025 to 2045 with dt = 1/16.
    let (ok, json, stderr) = bench(&["models/care_system.toml", "--runs", "3"]);
    assert!(ok, "{stderr}");
    check_summary(&json, "care_system", 3, 320);
}

#[test]
fn bench_runs_an_xmile_model() {
    let dir = common::temp_dir("bench");
    let xmile = dir.join("bathtub.xmile");
    let export = Command::new(BIN)
        .args(["export", "models/examples/bathtub.toml", "--xmile"])
        .arg(&xmile)
        .output()
        .expect("run careshift export");
    assert!(
        export.status.success(),
        "{}",
        String::from_utf8_lossy(&export.stderr)
    );
    let (ok, json, stderr) = bench(&[xmile.to_str().unwrap(), "--runs", "2"]);
    assert!(ok, "{stderr}");
    // bathtub: 0 to 20 with dt = 1/8.
    check_summary(&json, "bathtub", 2, 160);
}

#[test]
fn bench_times_a_scenario_monte_carlo() {
    let (ok, json, stderr) = bench(&[
        "scenarios/care_investment_options.toml",
        "--runs",
        "3",
        "--threads",
        "2",
    ]);
    assert!(ok, "{stderr}");
    assert_eq!(json["scenario"], "care_investment_options", "{json}");
    assert_eq!(json["runs"], 3, "{json}");
    assert_eq!(json["threads"], 2, "{json}");
    assert_eq!(json["steps"], 320, "{json}");
    // Investment level × start year (scenarios/care_investment_options.toml).
    assert!(json["options"].as_u64().unwrap() > 1, "{json}");
    assert!(json["runs_per_s"].as_f64().unwrap() > 0.0, "{json}");
}

#[test]
fn bench_rejects_zero_runs_missing_files_and_threads_for_a_model() {
    let (ok, _, stderr) = bench(&["models/care_system.toml", "--threads", "2"]);
    assert!(
        !ok && stderr.contains("--threads applies to scenario files"),
        "{stderr}"
    );
    let (ok, _, stderr) = bench(&["models/care_system.toml", "--runs", "0"]);
    assert!(
        !ok && stderr.contains("--runs must be at least 1"),
        "{stderr}"
    );
    let (ok, _, stderr) = bench(&["models/no_such_model.toml"]);
    assert!(!ok && stderr.contains("no_such_model.toml"), "{stderr}");
}
