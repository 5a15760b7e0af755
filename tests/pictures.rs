//! Charts, report.html and the `sensitivity` command, end to end through the built binary.

mod common;

use std::path::Path;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_careshift");

fn careshift(args: &[&str]) -> std::process::Output {
    let out = Command::new(BIN)
        .args(args)
        .output()
        .expect("start careshift");
    assert!(
        out.status.success(),
        "careshift {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A model with an analytic answer: x' = a + b from x(0) = 0, so x(10) = 10 (a + b), with
/// a ~ U(1, 3) and b ~ U(0, 10). Euler is exact for constant rates.
const LINEAR_MODEL: &str = r#"
[model]
name = "linear"

[time]
start = 0
stop = 10
dt = 0.5
units = "year"
method = "euler"

[constants.a]
value = 2
units = "widgets/year"
range = [1, 3]
source = "test"

[constants.b]
value = 5
units = "widgets/year"
range = [0, 10]
source = "test"

[stocks.x]
initial = 0
inflows = ["grow"]
units = "widgets"

[flows.grow]
equation = "a + b"
units = "widgets/year"
"#;

const LINEAR_SCENARIO: &str = r#"
[scenario]
name = "linear"
model = "linear.toml"

[uncertainty]
runs = 16

[uncertainty.parameters]
a = {}
b = {}

[[metrics]]
name = "x_end"
kind = "value"
variable = "x"
arm = "intervention"
at = 10
units = "widgets"

[[assumptions]]
name = "big"
test = "x_end > 60"
"#;

fn linear_scenario() -> std::path::PathBuf {
    let dir = common::temp_dir("linear");
    std::fs::write(dir.join("linear.toml"), LINEAR_MODEL).unwrap();
    std::fs::write(dir.join("scenario.toml"), LINEAR_SCENARIO).unwrap();
    dir.join("scenario.toml")
}

fn read_csv(path: &Path) -> Vec<Vec<String>> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect()
}

fn num(s: &str) -> f64 {
    s.parse().unwrap_or_else(|_| panic!("not a number: {s}"))
}

#[test]
fn tornado_morris_and_sobol_on_a_linear_model_match_the_analytic_answer() {
    let scenario = linear_scenario();
    let out = common::temp_dir("linear-out");
    let (s, o) = (scenario.to_str().unwrap(), out.to_str().unwrap());

    // Tornado: base at the medians (2, 5) → 70; a at 1 / 3 → 60 / 80; b at 0 / 10 → 20 / 120.
    let text = careshift(&["sensitivity", s, "--metric", "x_end", "--out", o]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("tornado"), "{text}");
    let rows = read_csv(&out.join("sensitivity_tornado_x_end.csv"));
    assert_eq!(rows[0][0], "parameter");
    let a = &rows[1];
    let b = &rows[2];
    assert_eq!((a[0].as_str(), b[0].as_str()), ("a", "b"));
    let close = |got: f64, want: f64| (got - want).abs() < 1e-9 * want.abs().max(1.0);
    for (row, want) in [
        (a, [1.0, 2.0, 3.0, 60.0, 80.0, 20.0]),
        (b, [0.0, 5.0, 10.0, 20.0, 120.0, 100.0]),
    ] {
        for (k, w) in want.iter().enumerate() {
            assert!(close(num(&row[k + 1]), *w), "{row:?} column {k}: want {w}");
        }
    }
    // The table lists b (the larger swing) first.
    let b_line = text
        .lines()
        .position(|l| l.trim_start().starts_with("b "))
        .unwrap();
    let a_line = text
        .lines()
        .position(|l| l.trim_start().starts_with("a "))
        .unwrap();
    assert!(b_line < a_line, "{text}");
    for ext in ["svg", "png"] {
        assert!(
            out.join(format!("sensitivity_tornado_x_end.{ext}"))
                .is_file()
        );
    }

    // Morris: every elementary effect over a full range is 10 × range: μ*(a) = 20, μ*(b) = 100.
    careshift(&[
        "sensitivity",
        s,
        "--metric",
        "x_end",
        "--method",
        "morris",
        "--samples",
        "6",
        "--out",
        o,
    ]);
    let rows = read_csv(&out.join("sensitivity_morris_x_end.csv"));
    assert_eq!(rows[0][1], "mu_star");
    assert!(
        close(num(&rows[1][1]), 20.0) && close(num(&rows[2][1]), 100.0),
        "{rows:?}"
    );
    assert!(
        num(&rows[1][5]).abs() < 1e-9,
        "sigma of a linear effect is 0: {rows:?}"
    );

    // Sobol: additive, so S1 = ST = Var_i / Var: a: (4/12)·100 / ((4 + 100)/12 · 100) = 4/104.
    careshift(&[
        "sensitivity",
        s,
        "--metric",
        "x_end",
        "--method",
        "sobol",
        "--samples",
        "1024",
        "--out",
        o,
        "--threads",
        "2",
    ]);
    let rows = read_csv(&out.join("sensitivity_sobol_x_end.csv"));
    let (s1_a, st_a, s1_b, st_b) = (
        num(&rows[1][1]),
        num(&rows[1][4]),
        num(&rows[2][1]),
        num(&rows[2][4]),
    );
    // N = 1024 scrambled Sobol rows on a smooth additive function: errors well below 0.02.
    assert!((s1_a - 4.0 / 104.0).abs() < 0.02, "S1(a) = {s1_a}");
    assert!((st_a - 4.0 / 104.0).abs() < 0.02, "ST(a) = {st_a}");
    assert!((s1_b - 100.0 / 104.0).abs() < 0.02, "S1(b) = {s1_b}");
    assert!((st_b - 100.0 / 104.0).abs() < 0.02, "ST(b) = {st_b}");

    // Same seed, other thread count: the same numbers.
    let again = common::temp_dir("linear-again");
    careshift(&[
        "sensitivity",
        s,
        "--metric",
        "x_end",
        "--method",
        "sobol",
        "--samples",
        "1024",
        "--out",
        again.to_str().unwrap(),
        "--threads",
        "1",
    ]);
    assert_eq!(
        std::fs::read(out.join("sensitivity_sobol_x_end.csv")).unwrap(),
        std::fs::read(again.join("sensitivity_sobol_x_end.csv")).unwrap()
    );
}

#[test]
fn a_scenario_run_writes_charts_and_a_self_contained_report() {
    let scenario = root().join("scenarios/community_frailty_investment.toml");
    let s = scenario.to_str().unwrap();
    let out1 = common::temp_dir("report-1");
    let out2 = common::temp_dir("report-2");
    careshift(&[
        "run",
        s,
        "--out",
        out1.to_str().unwrap(),
        "--runs",
        "40",
        "--threads",
        "1",
    ]);
    careshift(&[
        "run",
        s,
        "--out",
        out2.to_str().unwrap(),
        "--runs",
        "40",
        "--threads",
        "2",
    ]);

    let html = std::fs::read_to_string(out1.join("report.html")).unwrap();
    // Self-contained: nothing fetched (no src/href attributes, no URL outside text).
    for forbidden in ["src=", "href=", "<script", "@import", "url("] {
        assert!(
            !html.contains(forbidden),
            "report.html contains {forbidden}"
        );
    }
    assert!(!html.contains("http://") && !html.contains("https://"));
    assert!(html.contains("<svg class=\"chart\""));
    assert!(
        html.contains("Community frailty team: £2m/y"),
        "the scenario's description"
    );
    let loaded = careshift::scenario::load_scenario(&scenario).unwrap();
    for a in &loaded.assumptions {
        assert!(
            html.contains(&careshift::output::escape_markup(&a.name)),
            "assumption {}",
            a.name
        );
    }
    // Every constant of the model is in the parameters table; uncertain ones with their
    // distribution, and before the others.
    for p in &loaded.model.program.params {
        assert!(
            html.contains(&format!(
                "<code>{}</code>",
                careshift::output::escape_markup(&p.name)
            )),
            "{}",
            p.name
        );
    }
    let params_at = html.find("<h2>Parameters</h2>").unwrap();
    let first_uncertain = html[params_at..].find("<b>uncertain</b>: pert(0.02, 0.15, 0.35)");
    assert!(first_uncertain.is_some());

    // The charts: headline fans and differences, cumulative saving, distributions, tornado;
    // SVG and PNG; byte-identical for 1 and 2 threads.
    let charts: Vec<String> = std::fs::read_dir(out1.join("charts"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    for prefix in [
        "fan_",
        "difference_",
        "cumulative_",
        "distribution_",
        "tornado_",
    ] {
        assert!(
            charts
                .iter()
                .any(|c| c.starts_with(prefix) && c.ends_with(".svg")),
            "{prefix}: {charts:?}"
        );
        assert!(
            charts
                .iter()
                .any(|c| c.starts_with(prefix) && c.ends_with(".png")),
            "{prefix}: {charts:?}"
        );
    }
    // Charts are written as they are drawn and report.html reads them back: it inlines each
    // SVG file as written, under the chart's name.
    for c in charts.iter().filter(|c| c.ends_with(".svg")) {
        let svg = std::fs::read_to_string(out1.join("charts").join(c)).unwrap();
        let stem = c.trim_end_matches(".svg");
        assert!(html.contains(&format!("<figure id=\"{stem}\"")), "{c}");
        assert!(
            html.contains(&careshift::report_html::inline_svg(&svg)),
            "{c} is not inlined as written"
        );
    }
    for c in &charts {
        let a = std::fs::read(out1.join("charts").join(c)).unwrap();
        let b = std::fs::read(out2.join("charts").join(c)).unwrap();
        assert!(a == b, "{c} differs between 1 and 2 threads");
        if c.ends_with(".png") {
            assert_eq!(&a[..8], b"\x89PNG\r\n\x1a\n");
        } else {
            let svg = String::from_utf8(a).unwrap();
            assert!(
                svg.contains("<text") && svg.trim_end().ends_with("</svg>"),
                "{c}"
            );
        }
    }
    assert_eq!(
        std::fs::read(out1.join("report.html")).unwrap(),
        std::fs::read(out2.join("report.html")).unwrap()
    );
}

#[test]
fn headline_outputs_and_metric_default_to_what_the_metrics_use() {
    let load = |name: &str| careshift::scenario::load_scenario(&root().join(name)).unwrap();
    let names = |s: &careshift::scenario::Scenario| -> (Vec<String>, String, String) {
        let outputs = s
            .headline
            .outputs
            .iter()
            .map(|&k| s.model.program.columns[s.outputs[k]].name.clone())
            .collect();
        let metric = |k: Option<usize>| k.map_or(String::new(), |k| s.metrics[k].name.clone());
        (
            outputs,
            metric(s.headline.metric),
            metric(s.headline.cumulative),
        )
    };
    // No [outputs] headline: the metrics' variables that are outputs, in metric order (the
    // programme cost is not an output); the first NPV of a saving; the break-even metric.
    let (outputs, metric, cumulative) = names(&load("scenarios/community_frailty_investment.toml"));
    assert_eq!(
        outputs,
        [
            "emergency_admissions",
            "occupied_beds",
            "hospital_cost",
            "total_cost"
        ]
    );
    assert_eq!(metric, "npv_hospital_saving");
    assert_eq!(cumulative, "break_even_year");
    // Declared.
    let (outputs, metric, cumulative) =
        names(&load("scenarios/care_community_frailty_investment.toml"));
    assert_eq!(
        outputs,
        [
            "hospital.emergency_admissions",
            "hospital.occupied_beds",
            "finance.total_cost"
        ]
    );
    assert_eq!(metric, "npv_net_saving");
    assert_eq!(cumulative, "break_even_year");
}

/// A tornado that cannot be evaluated (a parameter's range end is a value the model cannot
/// take: here b = 0 in a / b) leaves the chart out with a warning; the finished Monte Carlo is
/// still reported in full.
#[test]
fn a_failing_tornado_leaves_the_chart_out_but_writes_the_reports() {
    let dir = common::temp_dir("tornado-fails");
    let model = LINEAR_MODEL.replace(r#"equation = "a + b""#, r#"equation = "a / b * b""#);
    assert_ne!(model, LINEAR_MODEL);
    std::fs::write(dir.join("linear.toml"), model).unwrap();
    let scenario = format!("{LINEAR_SCENARIO}\n[outputs]\nheadline_metric = \"x_end\"\n");
    std::fs::write(dir.join("scenario.toml"), scenario).unwrap();
    let out = dir.join("out");
    let run = careshift(&[
        "run",
        dir.join("scenario.toml").to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        stderr.contains("the tornado chart is left out of the report")
            && stderr.contains("division by zero"),
        "{stderr}"
    );
    for file in ["summary.json", "series.csv", "runs.csv", "report.html"] {
        assert!(out.join(file).is_file(), "{file} missing");
    }
    assert!(!out.join("charts/tornado_x_end.svg").exists());
    assert!(out.join("charts/distribution_x_end.svg").is_file());
}
