//! Scenario reports: `summary.json`, `series.csv`, `runs.csv`, `runs.parquet` (schemas in
//! docs/OUTPUTS.md) and the short terminal summary. Every file is written atomically.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::{Value, json};

use crate::analysis::assumptions::{Driver, driver, strongest_drivers, verdict, wilson_interval};
use crate::analysis::quantiles::{Summary, exact_summary, exact_summary_sorting};
use crate::diagnostics::Diagnostic;
use crate::experiment::{ARMS, OptionOutcome, Outcome, RunColumn};
use crate::output::{
    available_space, csv_field, push_number, same_file_system, write_atomically,
    write_atomically_with,
};
use crate::scenario::{MetricKind, Scenario};

/// A report file being written (buffered, under a temporary name until complete).
type OutputFile = std::io::BufWriter<std::fs::File>;

/// How many uncertain parameters to list as drivers of each assumption test.
const TOP_DRIVERS: usize = 5;

/// Write every report into `dir` (created if missing): the data files, the charts (as SVG and
/// PNG in `dir/charts/`) and report.html. `tornado` is the one-at-a-time analysis of the
/// headline metric, when it was run. Returns the paths written.
pub fn write_reports(
    dir: &Path,
    scenario: &Scenario,
    outcome: &Outcome,
    tornado: Option<&crate::sensitivity::Analysis>,
) -> Result<Vec<PathBuf>, Diagnostic> {
    std::fs::create_dir_all(dir).map_err(|e| {
        Diagnostic::error(format!(
            "cannot create output directory `{}`: {e}",
            dir.display()
        ))
        .help("choose a writable location for --out")
    })?;
    let mut written = Vec::new();
    let mut write = |name: &str, what: &dyn Fn(&mut OutputFile) -> std::io::Result<()>| {
        let path = dir.join(name);
        write_atomically_with(&path, |w| what(w))
            .map_err(|e| Diagnostic::error(format!("cannot write `{}`: {e}", path.display())))?;
        // What the writer freed (the parquet encoder's buffers) would stay resident.
        crate::allocator::return_free_memory();
        written.push(path);
        Ok::<(), Diagnostic>(())
    };
    // runs.csv and runs.parquet grow with the runs: they are streamed to the file, row by row
    // and in record batches, never held whole in memory.
    let summary = summary_json(scenario, outcome)?;
    write("summary.json", &|w| w.write_all(summary.as_bytes()))?;
    write("series.csv", &|w| {
        w.write_all(series_csv(scenario, outcome).as_bytes())
    })?;
    write("runs.csv", &|w| write_runs_csv(w, scenario, outcome))?;
    write("runs.parquet", &|w| {
        write_runs_parquet(w, scenario, outcome)
    })?;
    // Each chart is written as soon as it is drawn and dropped; report.html then reads the
    // SVGs back one at a time, so the charts are never all in memory.
    let chart_dir = dir.join("charts");
    create_chart_dir(&chart_dir)?;
    let mut charts = Vec::new();
    let mut chart_paths = Vec::new();
    crate::report_charts::scenario_charts(scenario, outcome, tornado, &mut |chart| {
        chart_paths.extend(write_chart(&chart_dir, &chart)?);
        charts.push(WrittenChart {
            title: chart.title,
            svg: chart_dir.join(format!("{}.svg", chart.name)),
            name: chart.name,
        });
        Ok(())
    })?;
    remove_stale_charts(&chart_dir, &chart_paths);
    written.extend(chart_paths);
    let path = dir.join("report.html");
    crate::report_html::write_report_html(&path, scenario, outcome, &charts, tornado)?;
    written.push(path);
    Ok(written)
}

/// A chart written to disk, as report.html finds it.
pub struct WrittenChart {
    /// File stem, e.g. `fan_hospital.emergency_admissions`.
    pub name: String,
    pub title: String,
    /// Its SVG file.
    pub svg: PathBuf,
}

/// Write each chart as `NAME.svg` and `NAME.png` into `dir` (created if missing), atomically;
/// with `remove_stale`, remove the charts of an earlier run that this one did not draw (every
/// other .svg and .png in `dir`). Returns the paths written.
pub fn write_charts(
    dir: &Path,
    charts: &[crate::charts::Chart],
    remove_stale: bool,
) -> Result<Vec<PathBuf>, Diagnostic> {
    create_chart_dir(dir)?;
    let mut written = Vec::new();
    for c in charts {
        written.extend(write_chart(dir, c)?);
    }
    if remove_stale {
        remove_stale_charts(dir, &written);
    }
    Ok(written)
}

fn create_chart_dir(dir: &Path) -> Result<(), Diagnostic> {
    std::fs::create_dir_all(dir).map_err(|e| {
        Diagnostic::error(format!("cannot create `{}`: {e}", dir.display()))
            .help("choose a writable location for --out")
    })
}

/// Write `chart` as `NAME.svg` and `NAME.png` into `dir`, each atomically. Returns both paths.
fn write_chart(dir: &Path, chart: &crate::charts::Chart) -> Result<[PathBuf; 2], Diagnostic> {
    let file = |ext: &str, bytes: &[u8]| {
        let path = dir.join(format!("{}.{ext}", chart.name));
        write_atomically(&path, bytes)
            .map_err(|e| Diagnostic::error(format!("cannot write `{}`: {e}", path.display())))?;
        Ok::<PathBuf, Diagnostic>(path)
    };
    Ok([file("svg", chart.svg.as_bytes())?, file("png", &chart.png)?])
}

/// Remove every .svg and .png in `dir` that is not in `written` (charts of an earlier run
/// that this one did not draw).
fn remove_stale_charts(dir: &Path, written: &[PathBuf]) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let path = e.path();
        let is_chart = matches!(
            path.extension().and_then(|x| x.to_str()),
            Some("svg" | "png")
        );
        if is_chart && !written.contains(&path) {
            let _ = std::fs::remove_file(&path);
        }
    }
}

/// Human-readable label of option `o`, e.g. `investment = 2000000, start = 2028`.
pub fn option_label(s: &Scenario, opt: &OptionOutcome) -> String {
    if s.levers.is_empty() {
        return "scenario".into();
    }
    s.levers
        .iter()
        .zip(&opt.lever_values)
        .map(|(l, v)| format!("{} = {v}", l.name))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Result of one assumption test for one option.
pub struct TestResult {
    pub holds: usize,
    pub runs: usize,
    pub probability: f64,
    pub interval: (f64, f64),
    pub verdict: crate::analysis::assumptions::Verdict,
}

pub fn test_result(outcomes: &[bool]) -> TestResult {
    let runs = outcomes.len();
    let holds = outcomes.iter().filter(|&&b| b).count();
    TestResult {
        holds,
        runs,
        probability: if runs == 0 {
            f64::NAN
        } else {
            holds as f64 / runs as f64
        },
        interval: wilson_interval(holds, runs),
        verdict: verdict(holds, runs),
    }
}

/// The uncertain parameters that most decide whether a test holds (`holds`, one per run), at
/// most `top`; the sampled values are read one parameter at a time.
pub(crate) fn test_drivers(
    s: &Scenario,
    out: &Outcome,
    holds: &[bool],
    top: usize,
) -> Result<Vec<Driver>, Diagnostic> {
    let all = s
        .uncertainty
        .parameters
        .iter()
        .enumerate()
        .map(|(k, p)| Ok(driver(&p.name, out.column(RunColumn::Sample(k))?, holds)))
        .collect::<Result<_, Diagnostic>>()?;
    Ok(strongest_drivers(all, top))
}

fn summary_value(s: &Summary) -> Value {
    json!({
        "count": s.count, "mean": s.mean, "sd": s.sd, "min": s.min, "max": s.max,
        "p5": s.p5, "p25": s.p25, "p50": s.p50, "p75": s.p75, "p95": s.p95, "ignored": s.ignored,
    })
}

fn summary_json(s: &Scenario, out: &Outcome) -> Result<String, Diagnostic> {
    let options: Vec<Value> = out
        .options
        .iter()
        .enumerate()
        .map(|(o, opt)| {
            let levers: serde_json::Map<String, Value> = s
                .levers
                .iter()
                .zip(&opt.lever_values)
                .map(|(l, v)| (l.name.clone(), json!(v)))
                .collect();
            let metrics: serde_json::Map<String, Value> = s
                .metrics
                .iter()
                .enumerate()
                .map(|(k, m)| {
                    let mut values = out.column(RunColumn::Metric(o, k))?;
                    let non_finite = values.iter().filter(|v| !v.is_finite()).count();
                    let infinite = values.iter().filter(|v| v.is_infinite()).count();
                    // A break-even year of +inf means "not within the horizon": it is a real
                    // outcome and stays in the quantiles (serialised as null).
                    let break_even = matches!(m.kind, MetricKind::BreakEven { .. });
                    if !break_even {
                        values.retain(|v| v.is_finite());
                    }
                    let mut v = json!({
                        "arm": m.arm.name(),
                        "kind": metric_kind(&m.kind),
                        "variable": m.variable,
                        "units": m.units,
                        "summary": summary_value(&exact_summary_sorting(&mut values)),
                        "non_finite_runs": non_finite,
                    });
                    if break_even {
                        v["not_within_horizon_runs"] = json!(infinite);
                    }
                    Ok((m.name.clone(), v))
                })
                .collect::<Result<_, Diagnostic>>()?;
            let tests: Vec<Value> = s
                .assumptions
                .iter()
                .enumerate()
                .map(|(k, a)| {
                    let outcomes = out.test_outcomes(o, k)?;
                    let r = test_result(&outcomes);
                    // Which parameters decide it: only meaningful when it sometimes holds
                    // and sometimes fails.
                    let drivers = if r.holds > 0 && r.holds < r.runs {
                        test_drivers(s, out, &outcomes, TOP_DRIVERS)?
                    } else {
                        Vec::new()
                    };
                    Ok(json!({
                        "name": a.name,
                        "test": a.test,
                        "probability": r.probability,
                        "interval95": [r.interval.0, r.interval.1],
                        "verdict": r.verdict,
                        "holds": r.holds,
                        "runs": r.runs,
                        "drivers": drivers,
                    }))
                })
                .collect::<Result<_, Diagnostic>>()?;
            Ok(json!({ "levers": levers, "metrics": metrics, "assumptions": tests }))
        })
        .collect::<Result<_, Diagnostic>>()?;
    let doc = json!({
        "careshift_version": env!("CARGO_PKG_VERSION"),
        "scenario": resolved_scenario(s),
        "seed": s.uncertainty.seed,
        "runs": s.uncertainty.runs,
        "sampling": s.uncertainty.sampling.name(),
        "options": options,
        "times": out.times,
        "warnings": out.warnings.iter().map(|w| w.message.clone()).collect::<Vec<_>>(),
    });
    let mut text = serde_json::to_string_pretty(&doc).unwrap_or_else(|_| "{}".into());
    text.push('\n');
    Ok(text)
}

fn metric_kind(k: &MetricKind) -> Value {
    match k {
        MetricKind::Value { at } => json!({ "value": { "at": at } }),
        MetricKind::Sum { from, to } => json!({ "sum": { "from": from, "to": to } }),
        MetricKind::Integral { from, to } => json!({ "integral": { "from": from, "to": to } }),
        MetricKind::Npv {
            from,
            to,
            rate,
            base,
        } => {
            json!({ "npv": { "from": from, "to": to, "rate": rate, "base": base } })
        }
        MetricKind::BreakEven { from, rate, base } => {
            json!({ "break_even": { "from": from, "rate": rate, "base": base } })
        }
        MetricKind::Roi { savings, cost } => json!({ "roi": { "savings": savings, "cost": cost } }),
        MetricKind::Expression(_) => json!("expression"),
    }
}

/// The scenario as it was run: every default filled in.
fn resolved_scenario(s: &Scenario) -> Value {
    let t = &s.time;
    json!({
        "name": s.name,
        "file": s.path.display().to_string(),
        "model": s.model_path.display().to_string(),
        "time": { "start": t.start, "stop": t.stop, "dt": t.dt, "save_step": t.save_step,
                  "units": t.units, "method": t.method.name(), "rtol": t.rtol, "atol": t.atol },
        "parameters": s.parameters.iter().map(|(n, v)| (n.clone(), json!(v))).collect::<serde_json::Map<_, _>>(),
        "interventions": s.interventions.iter().map(|i| json!({
            "name": i.name, "parameter": i.parameter, "points": i.points,
            "interpolation": format!("{:?}", i.interpolation).to_lowercase(),
            "scale": i.scale, "shift": i.shift,
        })).collect::<Vec<_>>(),
        "baseline": s.baseline.label,
        "uncertainty": s.uncertainty.parameters.iter().map(|p| json!({
            "parameter": p.name, "distribution": p.distribution.describe(),
            "mean": p.distribution.mean(), "sd": p.distribution.variance().sqrt(),
        })).collect::<Vec<_>>(),
        "sweep": s.levers.iter().map(|l| json!({ "lever": l.name, "values": l.values })).collect::<Vec<_>>(),
        "assumptions": s.assumptions.iter().map(|a| json!({ "name": a.name, "test": a.test })).collect::<Vec<_>>(),
    })
}

fn series_csv(s: &Scenario, out: &Outcome) -> String {
    let mut text = String::from("option");
    for l in &s.levers {
        text.push(',');
        text.push_str(&csv_field(&l.name));
    }
    text.push_str(",arm,variable,time,mean,sd,p5,p25,p50,p75,p95\n");
    let (n_out, n_times) = (out.output_names.len(), out.times.len());
    for (o, opt) in out.options.iter().enumerate() {
        let mut prefix = o.to_string();
        for v in &opt.lever_values {
            prefix.push(',');
            push_number(&mut prefix, *v);
        }
        for (a, arm) in ARMS.iter().enumerate() {
            for (k, name) in out.output_names.iter().enumerate() {
                let field = csv_field(name);
                for (row, t) in out.times.iter().enumerate() {
                    let sm = opt
                        .series
                        .summary(OptionOutcome::series_index(a, k, row, n_out, n_times));
                    let _ = write!(text, "{prefix},{},{field},", arm.name());
                    push_number(&mut text, *t);
                    for v in [sm.mean, sm.sd, sm.p5, sm.p25, sm.p50, sm.p75, sm.p95] {
                        text.push(',');
                        push_number(&mut text, v);
                    }
                    text.push('\n');
                }
            }
        }
    }
    text
}

fn write_runs_csv(w: &mut OutputFile, s: &Scenario, out: &Outcome) -> std::io::Result<()> {
    let mut line = String::from("run,option");
    let names = s
        .levers
        .iter()
        .map(|l| l.name.as_str())
        .chain(s.uncertainty.parameters.iter().map(|p| p.name.as_str()))
        .chain(s.metrics.iter().map(|m| m.name.as_str()))
        .chain(s.assumptions.iter().map(|a| a.name.as_str()));
    for n in names {
        line.push(',');
        line.push_str(&csv_field(n));
    }
    line.push('\n');
    w.write_all(line.as_bytes())?;
    let n_runs = out.run_count();
    for (o, opt) in out.options.iter().enumerate() {
        // A block of runs at a time, column by column from the run store.
        let mut start = 0;
        while start < n_runs {
            let end = (start + RUNS_CSV_BLOCK_ROWS).min(n_runs);
            let read = |c: RunColumn| out.column_range(c, start..end).map_err(io_error);
            let samples = (0..s.uncertainty.parameters.len())
                .map(|k| read(RunColumn::Sample(k)))
                .collect::<std::io::Result<Vec<_>>>()?;
            let metrics = (0..s.metrics.len())
                .map(|k| read(RunColumn::Metric(o, k)))
                .collect::<std::io::Result<Vec<_>>>()?;
            let tests = (0..s.assumptions.len())
                .map(|k| read(RunColumn::Test(o, k)))
                .collect::<std::io::Result<Vec<_>>>()?;
            for i in 0..end - start {
                line.clear();
                let _ = write!(line, "{},{o}", start + i);
                for v in opt
                    .lever_values
                    .iter()
                    .chain(samples.iter().map(|c| &c[i]))
                    .chain(metrics.iter().map(|c| &c[i]))
                {
                    line.push(',');
                    push_number(&mut line, *v);
                }
                for t in &tests {
                    line.push_str(if t[i] != 0.0 { ",1" } else { ",0" });
                }
                line.push('\n');
                w.write_all(line.as_bytes())?;
            }
            start = end;
        }
    }
    Ok(())
}

/// Runs per block read back from the run store for runs.csv.
const RUNS_CSV_BLOCK_ROWS: usize = 4096;

/// A report error as an I/O error of the file being written.
fn io_error(d: Diagnostic) -> std::io::Error {
    std::io::Error::other(d.message)
}

/// Rows per row group of runs.parquet (and so the most rows of a column built in memory at
/// once).
const PARQUET_BATCH_ROWS: usize = 8192;

fn write_runs_parquet(w: &mut OutputFile, s: &Scenario, out: &Outcome) -> std::io::Result<()> {
    use arrow::array::{ArrayRef, BooleanArray, Float64Array, UInt32Array, UInt64Array};
    use arrow::datatypes::{DataType, Field, Schema};
    use parquet::arrow::arrow_writer::compute_leaves;

    let mut fields = vec![
        Field::new("run", DataType::UInt64, false),
        Field::new("option", DataType::UInt32, false),
    ];
    for l in &s.levers {
        fields.push(Field::new(&l.name, DataType::Float64, false));
    }
    for p in &s.uncertainty.parameters {
        fields.push(Field::new(&p.name, DataType::Float64, false));
    }
    for m in &s.metrics {
        fields.push(Field::new(&m.name, DataType::Float64, false));
    }
    for a in &s.assumptions {
        fields.push(Field::new(&a.name, DataType::Boolean, false));
    }
    let schema = Arc::new(Schema::new(fields));
    let fail = |e: &dyn std::fmt::Display| {
        std::io::Error::other(format!("cannot build runs.parquet: {e}"))
    };
    // The file writer of an ArrowWriter (schema and Arrow metadata as ArrowWriter writes
    // them), fed one column of one row group at a time: the encoder (with its dictionary)
    // holds one column chunk, not a whole row group.
    let (mut file, row_groups) = parquet::arrow::ArrowWriter::try_new(w, schema.clone(), None)
        .and_then(|w| w.into_serialized_writer())
        .map_err(|e| fail(&e))?;
    let n_runs = out.run_count();
    let (n_levers, n_samples, n_metrics) = (
        s.levers.len(),
        s.uncertainty.parameters.len(),
        s.metrics.len(),
    );
    // Rows are (option, run) in option-major order, like runs.csv.
    let total = n_runs * out.options.len();
    let mut start = 0;
    let mut row_group = 0;
    while start < total {
        let end = (start + PARQUET_BATCH_ROWS).min(total);
        let rows = || (start..end).map(|r| (r / n_runs, r % n_runs));
        // The rows of a run-store column in this row group: one or more options' runs.
        let stored = |column: &dyn Fn(usize) -> RunColumn| -> std::io::Result<Vec<f64>> {
            let mut values = Vec::with_capacity(end - start);
            let mut row = start;
            while row < end {
                let (o, run) = (row / n_runs, row % n_runs);
                let last = (n_runs - run).min(end - row);
                values.extend(
                    out.column_range(column(o), run..run + last)
                        .map_err(io_error)?,
                );
                row += last;
            }
            Ok(values)
        };
        // Column i of the schema for this row group.
        let column = |i: usize| -> std::io::Result<ArrayRef> {
            let lever = i.wrapping_sub(2);
            let sample = lever.wrapping_sub(n_levers);
            let metric = sample.wrapping_sub(n_samples);
            let test = metric.wrapping_sub(n_metrics);
            Ok(match i {
                0 => Arc::new(UInt64Array::from_iter_values(
                    rows().map(|(_, run)| run as u64),
                )),
                1 => Arc::new(UInt32Array::from_iter_values(rows().map(|(o, _)| o as u32))),
                _ if lever < n_levers => Arc::new(Float64Array::from_iter_values(
                    rows().map(|(o, _)| out.options[o].lever_values[lever]),
                )),
                _ if sample < n_samples => {
                    Arc::new(Float64Array::from(stored(&|_| RunColumn::Sample(sample))?))
                }
                _ if metric < n_metrics => Arc::new(Float64Array::from(stored(&|o| {
                    RunColumn::Metric(o, metric)
                })?)),
                _ => Arc::new(BooleanArray::from(
                    stored(&|o| RunColumn::Test(o, test))?
                        .into_iter()
                        .map(|t| t != 0.0)
                        .collect::<Vec<bool>>(),
                )),
            })
        };
        // Each batch of rows is its own row group.
        let writers = row_groups
            .create_column_writers(row_group)
            .map_err(|e| fail(&e))?;
        let mut group = file.next_row_group().map_err(|e| fail(&e))?;
        for (i, (field, mut writer)) in schema.fields().iter().zip(writers).enumerate() {
            let array = column(i)?;
            for leaf in compute_leaves(field, &array).map_err(|e| fail(&e))? {
                writer.write(&leaf).map_err(|e| fail(&e))?;
            }
            let chunk = writer.close().map_err(|e| fail(&e))?;
            chunk
                .append_to_row_group(&mut group)
                .map_err(|e| fail(&e))?;
        }
        group.close().map_err(|e| fail(&e))?;
        start = end;
        row_group += 1;
    }
    file.close().map_err(|e| fail(&e))?;
    Ok(())
}

/// The short summary printed on the terminal: headline metrics (median and 90 % interval) and
/// each assumption test with its probability and verdict, per option.
pub fn terminal_summary(s: &Scenario, out: &Outcome) -> Result<String, Diagnostic> {
    let mut text = String::new();
    let _ = writeln!(
        text,
        "scenario `{}`: {} run(s) × {} option(s), seed {}, {} sampling, {:.2} s on {} thread(s)",
        s.name,
        s.uncertainty.runs,
        out.options.len(),
        s.uncertainty.seed,
        s.uncertainty.sampling.name(),
        out.elapsed.as_secs_f64(),
        out.threads
    );
    for (o, opt) in out.options.iter().enumerate() {
        if out.options.len() > 1 {
            let _ = writeln!(text, "\noption: {}", option_label(s, opt));
        }
        for (k, m) in s.metrics.iter().enumerate() {
            let values = out.column(RunColumn::Metric(o, k))?;
            let _ = writeln!(text, "  {:<28} {}", m.name, describe_metric(m, values));
        }
        for (k, a) in s.assumptions.iter().enumerate() {
            let outcomes = out.test_outcomes(o, k)?;
            let r = test_result(&outcomes);
            let _ = writeln!(
                text,
                "  test {:<40} P = {:.2} (95% CI {:.2}–{:.2}, {} of {} runs): {:?}",
                format!("`{}`", a.test),
                r.probability,
                r.interval.0,
                r.interval.1,
                r.holds,
                r.runs,
                r.verdict
            );
            if r.holds > 0 && r.holds < r.runs && !s.uncertainty.parameters.is_empty() {
                let top: Vec<String> = test_drivers(s, out, &outcomes, 3)?
                    .iter()
                    .filter(|d| d.rank_correlation.abs() >= 0.05)
                    .map(|d| format!("{} (ρ = {:+.2})", d.parameter, d.rank_correlation))
                    .collect();
                if !top.is_empty() {
                    let _ = writeln!(text, "       decided mostly by {}", top.join(", "));
                }
            }
        }
    }
    Ok(text)
}

/// "median X (90% interval A to B)" for a metric's values across runs.
pub(crate) fn describe_metric(m: &crate::scenario::Metric, values: Vec<f64>) -> String {
    let units = m
        .units
        .as_deref()
        .map(|u| format!(" {u}"))
        .unwrap_or_default();
    let break_even = matches!(m.kind, MetricKind::BreakEven { .. });
    let shown = |v: f64| {
        if break_even && v == f64::INFINITY {
            "not within the horizon".to_string()
        } else {
            fmt(v)
        }
    };
    let runs = values.len();
    let within = values.iter().filter(|v| v.is_finite()).count();
    // Filtered and sorted in place: one copy of the runs' values.
    let mut kept = values;
    kept.retain(|v| {
        if break_even {
            !v.is_nan()
        } else {
            v.is_finite()
        }
    });
    let dropped = runs - kept.len();
    let sm = exact_summary_sorting(&mut kept);
    let mut text = if kept.is_empty() {
        "—".to_string()
    } else if runs == 1 {
        format!("{}{units}", shown(kept[0]))
    } else if break_even && within == 0 {
        format!("not within the horizon in any of the {} runs", runs)
    } else if break_even && sm.p50.is_infinite() {
        format!(
            "not within the horizon in most runs (earliest: {})",
            fmt(sm.min)
        )
    } else if sm.min == sm.max && !break_even {
        format!("{}{units} in every run", shown(sm.p50))
    } else {
        format!(
            "median {}{units}  (90% interval {} to {})",
            shown(sm.p50),
            shown(sm.p5),
            shown(sm.p95)
        )
    };
    if break_even && within > 0 {
        text.push_str(&format!(
            "; within the horizon in {within} of {} runs",
            runs
        ));
    }
    if dropped > 0 {
        text.push_str(&format!("  ({dropped} of {} runs not a number)", runs));
    }
    text
}

/// A number with about 4 significant digits; millions and billions abbreviated.
pub(crate) fn fmt(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return format!("{v}");
    }
    let a = v.abs();
    if a >= 1e9 {
        return format!("{:.3} bn", v / 1e9);
    }
    if a >= 1e6 {
        return format!("{:.3} m", v / 1e6);
    }
    let mag = a.log10().floor() as i32;
    if mag >= -3 {
        let decimals = (3 - mag).max(0) as usize;
        format!("{v:.decimals$}")
    } else {
        format!("{v:.3e}")
    }
}

/// Refuse (unless `force`) when the outputs are estimated not to fit in the free space of the
/// file system holding `dir`, or the per-run results ([`crate::run_store`]) in that of the
/// temporary directory.
pub fn check_disk_space(
    dir: &Path,
    s: &Scenario,
    per_run: bool,
    force: bool,
) -> Result<(), Diagnostic> {
    let runs = s.uncertainty.runs as f64;
    let options = s.option_count() as f64;
    let times = ((s.time.stop - s.time.start) / s.time.save_step).floor() + 2.0;
    let outputs = s.outputs.len() as f64;
    let per_row = 2.0
        + (s.levers.len() + s.uncertainty.parameters.len() + s.metrics.len() + s.assumptions.len())
            as f64;
    // Bytes: ~20 per CSV number, ~9 per parquet value.
    let mut estimate =
        runs * options * per_row * (20.0 + 9.0) + options * 3.0 * outputs * times * 8.0 * 20.0;
    if per_run {
        estimate += runs * options * 3.0 * times * (outputs + 4.0) * 20.0;
    }
    // The run store: 8 bytes per sampled value, metric and test outcome of every run, in a
    // temporary file (removed when the run ends).
    let spill = runs
        * 8.0
        * (s.uncertainty.parameters.len() as f64
            + options * (s.metrics.len() + s.assumptions.len()) as f64);
    let temp = std::env::temp_dir();
    if same_file_system(dir, &temp) {
        estimate += spill;
    } else if let Some(free) = available_space(&temp)
        && spill > free as f64
        && !force
    {
        return Err(Diagnostic::error(format!(
            "the per-run results of {} runs × {} options need about {:.1} GB of temporary space, but only {:.1} GB is free under `{}`",
            s.uncertainty.runs,
            s.option_count(),
            spill / 1e9,
            free as f64 / 1e9,
            temp.display()
        ))
        .help("use fewer runs (--runs), point TMPDIR at a disk with room, or pass --force to try anyway"));
    }
    let Some(free) = available_space(dir) else {
        return Ok(());
    };
    if estimate > free as f64 && !force {
        return Err(Diagnostic::error(format!(
            "the outputs of {} runs × {} options would take about {:.1} GB, but only {:.1} GB is free under `{}`",
            s.uncertainty.runs,
            s.option_count(),
            estimate / 1e9,
            free as f64 / 1e9,
            dir.display()
        ))
        .help("use fewer runs (--runs), drop --per-run-series, choose another --out, or pass --force to try anyway"));
    }
    Ok(())
}

/// `careshift compare`: the same scenario and sample on two model variants. Per option and
/// metric: each model's median, and the run-by-run difference (B − A) with its 90 % interval;
/// per assumption test: each model's probability; and each model's run time.
pub fn comparison(
    a: (&Scenario, &Outcome),
    b: (&Scenario, &Outcome),
) -> Result<(String, Value), Diagnostic> {
    let (sa, oa) = a;
    let (sb, ob) = b;
    let mut text = String::new();
    let _ = writeln!(
        text,
        "scenario `{}`: {} run(s) × {} option(s), seed {}\n  A = {}  ({:.3} s)\n  B = {}  ({:.3} s)",
        sa.name,
        sa.uncertainty.runs,
        oa.options.len(),
        sa.uncertainty.seed,
        sa.model_path.display(),
        oa.elapsed.as_secs_f64(),
        sb.model_path.display(),
        ob.elapsed.as_secs_f64()
    );
    let mut options = Vec::new();
    for (o, opt_a) in oa.options.iter().enumerate().take(ob.options.len()) {
        if oa.options.len() > 1 {
            let _ = writeln!(text, "\noption: {}", option_label(sa, opt_a));
        }
        let _ = writeln!(
            text,
            "  {:<28} {:>14} {:>14} {:>14}  B − A 90% interval",
            "metric", "A (median)", "B (median)", "B − A (median)"
        );
        let mut metrics = serde_json::Map::new();
        for (k, m) in sa.metrics.iter().enumerate() {
            let (va, vb) = (
                &oa.column(RunColumn::Metric(o, k))?,
                &ob.column(RunColumn::Metric(o, k))?,
            );
            let diff: Vec<f64> = va
                .iter()
                .zip(vb)
                .map(|(x, y)| y - x)
                .filter(|d| d.is_finite())
                .collect();
            // A break-even year of +inf ("not within the horizon") is an outcome, kept in the
            // quantiles; other metrics summarise their finite values.
            let break_even = matches!(m.kind, MetricKind::BreakEven { .. });
            let finite = |v: &[f64]| {
                v.iter()
                    .copied()
                    .filter(|x| {
                        if break_even {
                            !x.is_nan()
                        } else {
                            x.is_finite()
                        }
                    })
                    .collect::<Vec<_>>()
            };
            let (sa_, sb_, sd) = (
                exact_summary(&finite(va)),
                exact_summary(&finite(vb)),
                exact_summary(&diff),
            );
            let _ = writeln!(
                text,
                "  {:<28} {:>14} {:>14} {:>14}  {} to {}",
                m.name,
                fmt(sa_.p50),
                fmt(sb_.p50),
                fmt(sd.p50),
                fmt(sd.p5),
                fmt(sd.p95)
            );
            metrics.insert(
                m.name.clone(),
                json!({ "a": summary_value(&sa_), "b": summary_value(&sb_), "b_minus_a": summary_value(&sd) }),
            );
        }
        let mut tests = Vec::new();
        for (k, t) in sa.assumptions.iter().enumerate() {
            let (ra, rb) = (
                test_result(&oa.test_outcomes(o, k)?),
                test_result(&ob.test_outcomes(o, k)?),
            );
            let _ = writeln!(
                text,
                "  test {:<40} A: P = {:.2} ({:?})   B: P = {:.2} ({:?})",
                format!("`{}`", t.test),
                ra.probability,
                ra.verdict,
                rb.probability,
                rb.verdict
            );
            tests.push(json!({
                "name": t.name, "test": t.test,
                "a": { "probability": ra.probability, "interval95": [ra.interval.0, ra.interval.1], "verdict": ra.verdict },
                "b": { "probability": rb.probability, "interval95": [rb.interval.0, rb.interval.1], "verdict": rb.verdict },
            }));
        }
        let levers: serde_json::Map<String, Value> = sa
            .levers
            .iter()
            .zip(&opt_a.lever_values)
            .map(|(l, v)| (l.name.clone(), json!(v)))
            .collect();
        options.push(json!({ "levers": levers, "metrics": metrics, "assumptions": tests }));
    }
    let doc = json!({
        "scenario": sa.name,
        "seed": sa.uncertainty.seed,
        "runs": sa.uncertainty.runs,
        "a": { "model": sa.model_path.display().to_string(), "run_seconds": oa.elapsed.as_secs_f64() },
        "b": { "model": sb.model_path.display().to_string(), "run_seconds": ob.elapsed.as_secs_f64() },
        "options": options,
    });
    Ok((text, doc))
}
