//! `careshift compare`: two model variants on one scenario and one sample.

mod common;

use std::path::Path;
use std::process::Command;

fn compare(model_b: &Path, json: &Path) -> serde_json::Value {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new(env!("CARGO_BIN_EXE_careshift"))
        .arg("compare")
        .arg(root.join("models/examples/community_investment.toml"))
        .arg(model_b)
        .arg("--scenario")
        .arg(root.join("scenarios/community_frailty_investment.toml"))
        .args(["--runs", "40", "--threads", "2", "--json"])
        .arg(json)
        .output()
        .expect("run careshift");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(&std::fs::read_to_string(json).expect("json written")).expect("valid json")
}

#[test]
fn a_model_compared_with_itself_differs_by_exactly_zero() {
    let dir = common::temp_dir("compare-self");
    let model =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("models/examples/community_investment.toml");
    let doc = compare(&model, &dir.join("c.json"));
    for (name, m) in doc["options"][0]["metrics"].as_object().unwrap() {
        let d = &m["b_minus_a"];
        if name == "break_even_year" {
            continue; // +inf − +inf is not a number; covered by the variant test's other metrics
        }
        for stat in ["min", "max", "p50"] {
            assert_eq!(d[stat].as_f64(), Some(0.0), "{name}.{stat}: {d}");
        }
    }
}

#[test]
fn a_variant_changes_exactly_what_it_should() {
    // Variant B: 20 % more emergency admissions per older person (0.25 → 0.30 a year). With the
    // same sample, baseline admissions in 2030 rise by exactly 20 % in every run.
    let dir = common::temp_dir("compare-variant");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let text =
        std::fs::read_to_string(root.join("models/examples/community_investment.toml")).unwrap();
    let marker = "[constants.admission_rate]\nvalue = 0.25\n";
    assert!(
        text.contains(marker),
        "the example model changed; update this test"
    );
    let variant = dir.join("variant.toml");
    std::fs::write(
        &variant,
        text.replace(marker, "[constants.admission_rate]\nvalue = 0.3\n"),
    )
    .unwrap();
    let doc = compare(&variant, &dir.join("c.json"));
    let m = &doc["options"][0]["metrics"];
    let a = m["baseline_admissions_2030"]["a"]["p50"].as_f64().unwrap();
    let d = &m["baseline_admissions_2030"]["b_minus_a"];
    for stat in ["min", "max"] {
        common::assert_close(stat, d[stat].as_f64().unwrap(), 0.2 * a, 1e-6, 1e-9);
    }
    // The programme's cost does not depend on admissions.
    assert_eq!(
        m["npv_programme_cost"]["b_minus_a"]["max"].as_f64(),
        Some(0.0)
    );
    // More admissions to avoid: the hospital saving is larger in every run.
    assert!(
        m["npv_hospital_saving"]["b_minus_a"]["min"]
            .as_f64()
            .unwrap()
            > 0.0
    );
    assert!(doc["a"]["run_seconds"].as_f64().unwrap() >= 0.0);
}
