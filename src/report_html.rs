//! `report.html`: one self-contained page per scenario run — the scenario's description, its
//! assumption tests with probabilities, intervals and verdicts, the headline metrics, every
//! chart (SVG inline) and the parameters used with units, sources and ranges. No scripts, no
//! fonts or images fetched: the file opens offline and prints.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

use crate::analysis::assumptions::Verdict;
use crate::diagnostics::Diagnostic;
use crate::experiment::{Outcome, RunColumn};
use crate::output::{escape_markup as escape, write_atomically_with};
use crate::report::{WrittenChart, describe_metric, fmt, option_label, test_drivers, test_result};
use crate::scenario::Scenario;
use crate::sensitivity::{Analysis, Importance};

/// A chart's SVG for inlining in HTML: without the XML namespace attribute (not needed inline,
/// and the page then contains no URL at all), scaled to the page width.
pub fn inline_svg(svg: &str) -> String {
    let svg = svg.replacen(" xmlns=\"http://www.w3.org/2000/svg\"", "", 1);
    match svg.find("<svg") {
        Some(i) => {
            let body = &svg[i..];
            body.replacen("<svg ", "<svg class=\"chart\" ", 1)
        }
        None => svg,
    }
}

const STYLE: &str = "
body { font-family: 'DejaVu Sans', 'Helvetica Neue', Arial, sans-serif; color: #1a1a1a; max-width: 1000px; margin: 24px auto; padding: 0 16px; line-height: 1.45; }
h1 { font-size: 26px; margin-bottom: 4px; } h2 { font-size: 20px; margin-top: 34px; border-bottom: 1px solid #ccc; padding-bottom: 4px; }
h3 { font-size: 16px; margin-top: 22px; }
.meta { color: #555; font-size: 14px; }
table { border-collapse: collapse; width: 100%; font-size: 13px; margin: 8px 0 16px; }
th, td { text-align: left; padding: 5px 8px; border-bottom: 1px solid #e2e2e2; vertical-align: top; }
th { background: #f3f3f3; }
td.num { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
.likely { color: #176b30; font-weight: bold; } .unlikely { color: #a3141f; font-weight: bold; } .uncertain { color: #8a5a00; font-weight: bold; }
svg.chart { width: 100%; height: auto; display: block; margin: 10px 0 22px; border: 1px solid #eee; }
code { font-size: 12px; background: #f5f5f5; padding: 1px 3px; }
table.params td:nth-child(2) { width: 30%; } table.params td:nth-child(5) { width: 34%; }
.small { font-size: 12px; color: #555; }
";

fn verdict_cell(v: Verdict) -> String {
    let (class, text) = match v {
        Verdict::Likely => ("likely", "likely"),
        Verdict::Uncertain => ("uncertain", "uncertain"),
        Verdict::Unlikely => ("unlikely", "unlikely"),
    };
    format!("<td class=\"{class}\">{text}</td>")
}

/// Write the page to `path` (atomically). Everything but the charts is computed first (it
/// reads the per-run results); the page is then streamed to the file, each chart's SVG read
/// back from its file in turn, so at most one chart is in memory.
pub fn write_report_html(
    path: &Path,
    s: &Scenario,
    out: &Outcome,
    charts: &[WrittenChart],
    tornado: Option<&Analysis>,
) -> Result<(), Diagnostic> {
    let head = page_head(s, out)?;
    let mut tail = String::new();
    parameters(&mut tail, s);
    let _ = writeln!(
        tail,
        "<p class=\"small\">Data: summary.json, series.csv, runs.csv and runs.parquet in this directory; the charts as SVG and PNG in charts/ (docs/OUTPUTS.md).</p>\n</body>\n</html>"
    );
    write_atomically_with(path, |w| {
        w.write_all(head.as_bytes())?;
        for c in charts {
            let svg = std::fs::read_to_string(&c.svg).map_err(|e| {
                std::io::Error::new(
                    e.kind(),
                    format!("cannot read back the chart `{}`: {e}", c.svg.display()),
                )
            })?;
            let mut figure = String::new();
            let _ = writeln!(
                figure,
                "<figure id=\"{}\" aria-label=\"{}\">\n{}\n</figure>",
                escape(&c.name),
                escape(&c.title),
                inline_svg(&svg)
            );
            if c.name.starts_with("tornado_")
                && let Some(a) = tornado
            {
                tornado_table(&mut figure, s, a);
            }
            w.write_all(figure.as_bytes())?;
        }
        w.write_all(tail.as_bytes())
    })
    .map_err(|e| Diagnostic::error(format!("cannot write `{}`: {e}", path.display())))
}

/// The page up to and including the heading of the charts.
fn page_head(s: &Scenario, out: &Outcome) -> Result<String, Diagnostic> {
    let mut h = String::new();
    let title = format!("careshift: {}", s.name);
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
        escape(&title)
    );
    let _ = writeln!(h, "<h1>{}</h1>", escape(&s.name));
    if let Some(doc) = &s.doc {
        let _ = writeln!(h, "<p>{}</p>", escape(doc));
    }
    let t = &s.time;
    let _ = writeln!(
        h,
        "<p class=\"meta\">Model <code>{}</code> · {} to {} {} ({}, dt {}) · {} Monte Carlo runs ({} sampling, seed {}) × {} option(s), intervention vs baseline ({}) · careshift {}</p>",
        escape(&s.model_path.display().to_string()),
        t.start,
        t.stop,
        escape(&t.units),
        t.method.name(),
        t.dt,
        s.uncertainty.runs,
        s.uncertainty.sampling.name(),
        s.uncertainty.seed,
        out.options.len(),
        escape(if s.baseline.label == "model" {
            "the model without the interventions"
        } else {
            &s.baseline.label
        }),
        env!("CARGO_PKG_VERSION"),
    );
    interventions(&mut h, s);
    for (o, opt) in out.options.iter().enumerate() {
        if out.options.len() > 1 {
            let _ = writeln!(h, "<h2>Option: {}</h2>", escape(&option_label(s, opt)));
        }
        let _ = writeln!(h, "<h2>Assumption tests</h2>");
        if s.assumptions.is_empty() {
            let _ = writeln!(h, "<p>The scenario declares no assumption tests.</p>");
        } else {
            let _ = writeln!(
                h,
                "<table><tr><th>Assumption</th><th>Test</th><th>Probability</th><th>95 % interval</th><th>Verdict</th><th>Decided mostly by (rank correlation)</th></tr>"
            );
            for (k, a) in s.assumptions.iter().enumerate() {
                let outcomes = out.test_outcomes(o, k)?;
                let r = test_result(&outcomes);
                let top: Vec<String> = if r.holds > 0
                    && r.holds < r.runs
                    && !s.uncertainty.parameters.is_empty()
                {
                    test_drivers(s, out, &outcomes, 3)?
                        .iter()
                        .filter(|d| d.rank_correlation.abs() >= 0.05)
                        .map(|d| format!("{} ({:+.2})", escape(&d.parameter), d.rank_correlation))
                        .collect()
                } else {
                    Vec::new()
                };
                let _ = writeln!(
                    h,
                    "<tr><td>{}</td><td><code>{}</code></td><td class=\"num\">{:.2} ({} of {})</td><td class=\"num\">{:.2} – {:.2}</td>{}<td>{}</td></tr>",
                    escape(&a.name),
                    escape(&a.test),
                    r.probability,
                    r.holds,
                    r.runs,
                    r.interval.0,
                    r.interval.1,
                    verdict_cell(r.verdict),
                    top.join(", ")
                );
            }
            let _ = writeln!(
                h,
                "</table><p class=\"small\">Probability: share of runs in which the test holds; interval: Wilson 95 %; verdict: likely when P ≥ 2/3 and the interval lies above 1/2, unlikely when P ≤ 1/3 and it lies below 1/2 (docs/SCENARIOS.md).</p>"
            );
        }
        let _ = writeln!(
            h,
            "<h2>Metrics</h2><table><tr><th>Metric</th><th>Across runs</th><th>Description</th></tr>"
        );
        for (k, m) in s.metrics.iter().enumerate() {
            let values = out.column(RunColumn::Metric(o, k))?;
            let _ = writeln!(
                h,
                "<tr><td>{}</td><td>{}</td><td class=\"small\">{}</td></tr>",
                escape(&m.name),
                escape(&describe_metric(m, values)),
                escape(m.doc.as_deref().unwrap_or(""))
            );
        }
        let _ = writeln!(h, "</table>");
    }
    let _ = writeln!(h, "<h2>Charts</h2>");
    if out.options.len() > 1 {
        let _ = writeln!(
            h,
            "<p>The charts over time show the first option; the options chart compares all of them.</p>"
        );
    }
    Ok(h)
}

/// The tornado's numbers under its chart.
fn tornado_table(h: &mut String, s: &Scenario, a: &Analysis) {
    let Importance::Tornado(t) = &a.importance else {
        return;
    };
    let m = &s.metrics[a.metric];
    let units = m.units.as_deref().unwrap_or("");
    let names = s.uncertain_names();
    let _ = writeln!(
        h,
        "<table><tr><th>Parameter</th><th>Low</th><th>High</th><th>{0} at low</th><th>{0} at high</th><th>Swing</th></tr>",
        escape(&m.name)
    );
    for e in &t.entries {
        let _ = writeln!(
            h,
            "<tr><td><code>{}</code></td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            escape(names[e.parameter]),
            crate::report_charts::short(e.low),
            crate::report_charts::short(e.high),
            fmt(e.at_low),
            fmt(e.at_high),
            fmt(e.swing())
        );
    }
    let _ = writeln!(
        h,
        "</table><p class=\"small\">{} with every uncertain parameter at its median: {} {}. {} model evaluations (intervention and baseline each).</p>",
        escape(&m.name),
        fmt(t.base),
        escape(units),
        a.evaluations
    );
}

fn interventions(h: &mut String, s: &Scenario) {
    if s.interventions.is_empty() {
        return;
    }
    let _ = writeln!(
        h,
        "<h2>Interventions</h2><table><tr><th>Intervention</th><th>Constant</th><th>Schedule (time: value)</th></tr>"
    );
    for i in &s.interventions {
        let points: Vec<String> = i
            .points
            .iter()
            .map(|&(t, v)| format!("{}: {}", t + i.shift, v * i.scale))
            .collect();
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td><code>{}</code></td><td>{} ({})</td></tr>",
            escape(&i.name),
            escape(&i.parameter),
            escape(&points.join(", ")),
            format!("{:?}", i.interpolation).to_lowercase()
        );
    }
    let _ = writeln!(h, "</table>");
}

/// Every constant of the model, one row per declared constant (array elements together): the
/// value used (uncertain ones with their distribution), units, range and source.
fn parameters(h: &mut String, s: &Scenario) {
    let program = &s.model.program;
    let _ = writeln!(
        h,
        "<h2>Parameters</h2><p>Every constant of the model with the value this scenario used. Uncertain parameters (sampled in every run) come first.</p>"
    );
    let _ = writeln!(
        h,
        "<table class=\"params\"><tr><th>Constant</th><th>Value used</th><th>Units</th><th>Range</th><th>Source</th></tr>"
    );
    // (is uncertain, value text) of one element.
    let value_of = |p: &crate::vm::Param| -> (bool, String) {
        if let Some(u) = s
            .uncertainty
            .parameters
            .iter()
            .find(|u| u.name == p.name || u.name == p.variable)
        {
            return (
                true,
                format!("<b>uncertain</b>: {}", escape(&u.distribution.describe())),
            );
        }
        if let Some((_, v)) = s
            .parameters
            .iter()
            .find(|(n, _)| n == &p.name || n == &p.variable)
        {
            return (
                false,
                format!("{v} <span class=\"small\">(scenario)</span>"),
            );
        }
        if let Some(l) = s.levers.iter().find(|l| {
            matches!(&l.target, crate::scenario::LeverTarget::Parameter(slots) if slots.contains(&p.slot))
        }) {
            let values: Vec<String> = l.values.iter().map(|v| v.to_string()).collect();
            return (false, format!("swept: {}", values.join(", ")));
        }
        let base = p
            .default
            .map_or_else(|| "(equation)".to_string(), |v| v.to_string());
        match s.interventions.iter().find(|i| i.slots.contains(&p.slot)) {
            Some(i) => (
                false,
                format!("{base}; intervention <i>{}</i>", escape(&i.name)),
            ),
            None => (false, base),
        }
    };
    let mut rows: Vec<(bool, String)> = Vec::new();
    let mut k = 0;
    let params = &program.params;
    while k < params.len() {
        let first = &params[k];
        let end = k + params[k..]
            .iter()
            .take_while(|p| p.variable == first.variable)
            .count();
        let group = &params[k..end];
        let values: Vec<(bool, String)> = group.iter().map(value_of).collect();
        let uncertain = values.iter().any(|v| v.0);
        let value = if values.iter().all(|v| v.1 == values[0].1) {
            values[0].1.clone()
        } else {
            group
                .iter()
                .zip(&values)
                .map(|(p, v)| {
                    let element = p
                        .name
                        .strip_prefix(&p.variable)
                        .map(|e| e.trim_start_matches('[').trim_end_matches(']'))
                        .unwrap_or(&p.name);
                    format!("{}: {}", escape(element), v.1)
                })
                .collect::<Vec<_>>()
                .join("; ")
        };
        let range = first
            .range
            .map_or_else(String::new, |(a, b)| format!("{a} – {b}"));
        rows.push((
            uncertain,
            format!(
                "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"small\">{}</td></tr>",
                escape(&first.variable),
                value,
                escape(first.units.as_deref().unwrap_or("")),
                range,
                escape(first.source.as_deref().unwrap_or(""))
            ),
        ));
        k = end;
    }
    // Uncertain first, then the model's order.
    for (_, row) in rows
        .iter()
        .filter(|r| r.0)
        .chain(rows.iter().filter(|r| !r.0))
    {
        h.push_str(row);
        h.push('\n');
    }
    let _ = writeln!(h, "</table>");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_and_inlining() {
        assert_eq!(escape("a < b & \"c\""), "a &lt; b &amp; &quot;c&quot;");
        let svg = "<?xml version=\"1.0\"?>\n<svg width=\"10\" height=\"10\" viewBox=\"0 0 10 10\" xmlns=\"http://www.w3.org/2000/svg\">\n</svg>";
        let inline = inline_svg(svg);
        assert!(inline.starts_with("<svg class=\"chart\" width"));
        assert!(!inline.contains("http"));
    }
}
