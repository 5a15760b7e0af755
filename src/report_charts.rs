//! The charts of a scenario run and of a sensitivity analysis, built from computed statistics
//! (an [`Outcome`], an [`Analysis`]) — never by running the model (docs/OUTPUTS.md lists them).
//!
//! With several options (a sweep), the time-series charts show the first option and a box chart
//! compares every option's headline metric.

use crate::analysis::quantiles::{Summary, exact_summary_sorting};
use crate::charts::axis::humanize;
use crate::charts::bars::{ImportanceChart, ImportanceSeries, TornadoChart, TornadoRow};
use crate::charts::boxes::{BoxChart, BoxRow};
use crate::charts::distribution::{Bins, DistributionChart};
use crate::charts::fan::{Band, FanChart, Marker};
use crate::charts::{self, BASELINE, Chart, Draw, INTERVENTION};
use crate::diagnostics::Diagnostic;
use crate::experiment::{OptionOutcome, Outcome, RunColumn};
use crate::report::option_label;
use crate::scenario::{Arm, Metric, MetricKind, Scenario};
use crate::sensitivity::{Analysis, Importance};

/// The option whose series are drawn.
const DRAWN_OPTION: usize = 0;

fn render(name: &str, chart: &impl Draw) -> Result<Chart, Diagnostic> {
    charts::render(&file_stem(name), chart).map_err(Diagnostic::error)
}

/// A file-name-safe stem: letters, digits, `.`, `_` and `-` kept, anything else `_`.
pub fn file_stem(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn band(label: &str, color: charts::RGBColor, stats: &[Summary]) -> Band {
    let pick = |f: fn(&Summary) -> f64| stats.iter().map(f).collect();
    Band {
        label: label.to_string(),
        color,
        outline: false,
        p5: pick(|s| s.p5),
        p25: pick(|s| s.p25),
        p50: pick(|s| s.p50),
        p75: pick(|s| s.p75),
        p95: pick(|s| s.p95),
    }
}

/// "Year" for yearly models, else "Time (units)".
fn time_label(s: &Scenario) -> String {
    match s.time.units.as_str() {
        "year" | "years" | "yr" | "y" => "Year".into(),
        u => format!("Time ({u})"),
    }
}

/// The units of a metric: declared, else derived from its variable's.
pub fn metric_units(s: &Scenario, m: &Metric) -> Option<String> {
    if m.units.is_some() {
        return m.units.clone();
    }
    let var_units = m
        .columns
        .first()
        .and_then(|&c| s.model.program.columns[c].units.clone());
    match m.kind {
        MetricKind::BreakEven { .. } => None,
        MetricKind::Npv { .. } | MetricKind::Integral { .. } => var_units.map(|u| {
            u.strip_suffix("/year")
                .or_else(|| u.strip_suffix("/years"))
                .map_or(format!("{u}·year"), str::to_string)
        }),
        MetricKind::Value { .. } | MetricKind::Sum { .. } => var_units,
        _ => None,
    }
}

/// Metrics shown as distributions: the headline metric, then those used by assumption tests.
pub fn headline_metrics(s: &Scenario) -> Vec<usize> {
    let mut out: Vec<usize> = s.headline.metric.into_iter().collect();
    for a in &s.assumptions {
        let mut used = Vec::new();
        a.expr.metrics(&mut used);
        for k in used {
            if !out.contains(&k) {
                out.push(k);
            }
        }
    }
    out
}

/// Every chart of a scenario run (and the tornado, when one was computed), handed to `take`
/// one at a time as it is drawn (so a caller that writes and drops each holds one chart at a
/// time, whatever their number).
pub fn scenario_charts(
    s: &Scenario,
    out: &Outcome,
    tornado: Option<&Analysis>,
    take: &mut dyn FnMut(Chart) -> Result<(), Diagnostic>,
) -> Result<(), Diagnostic> {
    let Some(opt) = out.options.get(DRAWN_OPTION) else {
        return Ok(());
    };
    let suffix = if out.options.len() > 1 {
        format!(" — option {}", option_label(s, opt))
    } else {
        String::new()
    };
    let runs = s.uncertainty.runs;
    let (n_out, n_times) = (out.output_names.len(), out.times.len());
    let stats = |arm: usize, k: usize| -> Vec<Summary> {
        (0..n_times)
            .map(|t| {
                opt.series
                    .summary(OptionOutcome::series_index(arm, k, t, n_out, n_times))
            })
            .collect()
    };
    let bands_caption = format!(
        "{runs} runs. Line: median; dark band: middle 50 % of runs (p25–p75); light band: middle 90 % (p5–p95)."
    );
    for &k in &s.headline.outputs {
        let name = &out.output_names[k];
        let column = &s.model.program.columns[s.outputs[k]];
        let what = humanize(name);
        let leaf = humanize(name.rsplit('.').next().unwrap_or(name));
        let fan = FanChart {
            title: format!("{what}: intervention and baseline{suffix}"),
            y_what: leaf.clone(),
            y_units: column.units.clone(),
            x_label: time_label(s),
            times: out.times.clone(),
            bands: vec![
                Band {
                    outline: true,
                    ..band("Baseline", BASELINE, &stats(1, k))
                },
                band("Intervention", INTERVENTION, &stats(0, k)),
            ],
            zero_line: false,
            marker: None,
            caption: format!(
                "{runs} runs. Intervention: median, middle 50 % (dark) and 90 % (light) of runs; baseline: median and 5th/95th percentiles."
            ),
        };
        take(render(&format!("fan_{name}"), &fan)?)?;
        let diff = FanChart {
            title: format!("{what}: intervention − baseline{suffix}"),
            y_what: format!("Change in {}", lower_first(&leaf)),
            y_units: column.units.clone(),
            x_label: time_label(s),
            times: out.times.clone(),
            bands: vec![band("Intervention − baseline", INTERVENTION, &stats(2, k))],
            zero_line: true,
            marker: None,
            caption: format!("{bands_caption} Run by run, same parameters in both arms."),
        };
        take(render(&format!("difference_{name}"), &diff)?)?;
    }
    if let Some(k) = s.headline.cumulative
        && opt.cumulative.width() > 0
    {
        take(render(
            &format!("cumulative_{}", s.metrics[k].name),
            &cumulative_chart(s, out, opt, k, &suffix)?,
        )?)?;
    }
    for k in headline_metrics(s) {
        if let Some(c) = distribution_chart(
            s,
            out.column(RunColumn::Metric(DRAWN_OPTION, k))?,
            k,
            &suffix,
        ) {
            take(render(&format!("distribution_{}", s.metrics[k].name), &c)?)?;
        }
    }
    if out.options.len() > 1
        && let Some(k) = s.headline.metric
    {
        let m = &s.metrics[k];
        let rows = out
            .options
            .iter()
            .enumerate()
            .map(|(o, opt)| {
                let mut finite = out.column(RunColumn::Metric(o, k))?;
                finite.retain(|v| v.is_finite());
                let q = exact_summary_sorting(&mut finite);
                Ok(BoxRow {
                    label: option_label(s, opt),
                    quantiles: [q.p5, q.p25, q.p50, q.p75, q.p95],
                })
            })
            .collect::<Result<_, Diagnostic>>()?;
        let chart = BoxChart {
            title: format!("{} by option", m.name),
            x_what: m.name.clone(),
            x_units: metric_units(s, m),
            rows,
            caption: format!("{runs} runs per option, the same parameter samples in every option."),
        };
        take(render(&format!("options_{}", m.name), &chart)?)?;
    }
    if let Some(a) = tornado {
        take(render(
            &format!("tornado_{}", s.metrics[a.metric].name),
            &tornado_chart(s, a)?,
        )?)?;
    }
    Ok(())
}

fn lower_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_lowercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

fn cumulative_chart(
    s: &Scenario,
    out: &Outcome,
    opt: &OptionOutcome,
    k: usize,
    suffix: &str,
) -> Result<FanChart, Diagnostic> {
    let m = &s.metrics[k];
    let (from, rate) = match m.kind {
        MetricKind::Npv { from, rate, .. } | MetricKind::BreakEven { from, rate, .. } => {
            (from, rate)
        }
        _ => {
            return Err(Diagnostic::error(
                "the cumulative metric is not an NPV or break-even",
            ));
        }
    };
    let variable = m.variable.clone().unwrap_or_default();
    let what = match m.arm {
        Arm::Saving => format!("saving in {}", lower_first(&humanize(&variable))),
        Arm::Difference => format!("change in {}", lower_first(&humanize(&variable))),
        Arm::Intervention | Arm::Baseline => lower_first(&humanize(&variable)),
    };
    let stats: Vec<Summary> = opt.cumulative.summaries();
    let units = m
        .columns
        .first()
        .and_then(|&c| s.model.program.columns[c].units.clone())
        .map(|u| u.strip_suffix("/year").map_or(u.clone(), str::to_string));
    let stop = out.times.last().copied().unwrap_or(from);
    let mut caption = format!(
        "Discounted at {:.1} % a year from {}. {} runs; line: median, bands: middle 50 % and 90 % of runs.",
        rate * 100.0,
        charts::axis::time_tick(from),
        s.uncertainty.runs
    );
    let marker = if matches!(m.kind, MetricKind::BreakEven { .. }) {
        let mut years = out.column(RunColumn::Metric(DRAWN_OPTION, k))?;
        years.retain(|v| !v.is_nan());
        let within = years.iter().filter(|v| v.is_finite()).count();
        let q = exact_summary_sorting(&mut years);
        caption.push_str(&format!(
            " {within} of {} runs break even by {}.",
            years.len(),
            charts::axis::time_tick(stop)
        ));
        if q.p50.is_finite() {
            let hi = if q.p95.is_finite() { q.p95 } else { stop };
            Some(Marker {
                at: q.p50,
                interval: Some((q.p5, hi)),
                label: format!(
                    "median break-even {:.1}; red strip: 90 % of runs' break-even years",
                    q.p50
                ),
            })
        } else {
            caption.push_str(" The median run does not break even within the horizon.");
            None
        }
    } else {
        None
    };
    Ok(FanChart {
        title: format!("Cumulative discounted {what}{suffix}"),
        y_what: format!(
            "Cumulative discounted {}",
            what.split(" in ").next().unwrap_or("value")
        ),
        y_units: units,
        x_label: time_label(s),
        times: out.times.clone(),
        bands: vec![band(
            &format!(
                "Cumulative discounted {}",
                what.split(" in ").next().unwrap_or("value")
            ),
            INTERVENTION,
            &stats,
        )],
        zero_line: true,
        marker,
        caption,
    })
}

/// The distribution of metric k across runs (`values`, one per run).
fn distribution_chart(
    s: &Scenario,
    values: Vec<f64>,
    k: usize,
    suffix: &str,
) -> Option<DistributionChart> {
    let m = &s.metrics[k];
    let runs = values.len();
    let n_finite = values.iter().filter(|v| v.is_finite()).count();
    if n_finite < 2 {
        return None;
    }
    let break_even = matches!(m.kind, MetricKind::BreakEven { .. });
    let beyond = values.iter().filter(|v| v.is_infinite()).count();
    // The values in the percentiles (a break-even year of +inf is one), then the drawn ones
    // (finite), filtered in place: one copy of the runs' values at a time.
    let mut finite = values;
    finite.retain(|v| {
        if break_even {
            !v.is_nan()
        } else {
            v.is_finite()
        }
    });
    let q = exact_summary_sorting(&mut finite);
    finite.retain(|v| v.is_finite());
    let mut caption = format!("{runs} runs.");
    if break_even && beyond > 0 {
        caption.push_str(&format!(
            " {beyond} runs do not break even within the horizon (not shown; counted in the percentiles)."
        ));
    } else if n_finite < runs {
        caption.push_str(&format!(
            " {} runs with no finite value are left out.",
            runs - n_finite
        ));
    }
    if let Some(doc) = &m.doc {
        caption.push(' ');
        caption.push_str(doc);
    }
    let x_units = metric_units(s, m);
    Some(DistributionChart {
        title: format!("Distribution of {}{suffix}", m.name),
        bins: Bins::of(&finite, &m.name, x_units.as_deref()),
        x_what: m.name.clone(),
        x_units,
        p50: q.p50,
        p5: q.p5,
        p95: q.p95,
        caption,
        is_time: break_even,
    })
}

/// A short number for labels: about three significant digits, no trailing zeros.
pub(crate) fn short(v: f64) -> String {
    let trim = |s: String| {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s
        }
    };
    let a = v.abs();
    if a >= 1e6 {
        format!("{}m", trim(format!("{:.2}", v / 1e6)))
    } else if a >= 1e3 {
        charts::axis::tick(v, 1.0e3)
    } else if a >= 1.0 || a == 0.0 {
        trim(format!("{v:.2}"))
    } else {
        trim(format!("{v:.3}"))
    }
}

/// The tornado chart of a tornado analysis.
pub fn tornado_chart(s: &Scenario, a: &Analysis) -> Result<TornadoChart, Diagnostic> {
    let Importance::Tornado(t) = &a.importance else {
        return Err(Diagnostic::error("not a tornado analysis"));
    };
    let m = &s.metrics[a.metric];
    let names = s.uncertain_names();
    Ok(TornadoChart {
        title: format!("What moves {} most: one parameter at a time", m.name),
        metric_what: m.name.clone(),
        metric_units: metric_units(s, m),
        base: t.base,
        rows: t
            .entries
            .iter()
            .map(|e| TornadoRow {
                label: format!("{} ({} to {})", names[e.parameter], short(e.low), short(e.high)),
                at_low: e.at_low,
                at_high: e.at_high,
            })
            .collect(),
        caption: "Each parameter at the ends of its range (bounded distributions) or its 5th/95th percentiles, the others at their medians.".into(),
    })
}

/// The chart of any analysis: the tornado, Morris μ* or Sobol S1 and ST, with intervals.
pub fn sensitivity_chart(s: &Scenario, a: &Analysis) -> Result<Chart, Diagnostic> {
    let m = &s.metrics[a.metric];
    let names = s.uncertain_names();
    let name = format!("sensitivity_{}_{}", a.method.name(), m.name);
    match &a.importance {
        Importance::Tornado(_) => render(&name, &tornado_chart(s, a)?),
        Importance::Morris(entries) => {
            let order = a.importance.ranking();
            let chart = ImportanceChart {
                title: format!(
                    "Morris screening of {}: mean absolute elementary effect μ*",
                    m.name
                ),
                x_what: format!("μ* of {}", m.name),
                x_units: metric_units(s, m),
                rows: order.iter().map(|&i| names[i].to_string()).collect(),
                series: vec![ImportanceSeries {
                    label: "μ* (change over the parameter's full range)".into(),
                    values: order.iter().map(|&i| entries[i].mu_star.value).collect(),
                    intervals: order
                        .iter()
                        .map(|&i| (entries[i].mu_star.low, entries[i].mu_star.high))
                        .collect(),
                }],
                caption: format!(
                    "{} trajectories, {} model evaluations; intervals: 95 % bootstrap over trajectories.",
                    a.samples, a.evaluations
                ),
            };
            render(&name, &chart)
        }
        Importance::Sobol(si) => {
            let order = a.importance.ranking();
            let pick = |f: fn(
                &crate::analysis::sensitivity::SobolEntry,
            ) -> crate::analysis::sensitivity::Estimate| {
                let values = order.iter().map(|&i| f(&si.entries[i]).value).collect();
                let intervals = order
                    .iter()
                    .map(|&i| (f(&si.entries[i]).low, f(&si.entries[i]).high))
                    .collect();
                (values, intervals)
            };
            let (v1, i1) = pick(|e| e.first);
            let (vt, it) = pick(|e| e.total);
            let chart = ImportanceChart {
                title: format!("Sobol indices of {}: share of its variance", m.name),
                x_what: "Share of variance".into(),
                x_units: None,
                rows: order.iter().map(|&i| names[i].to_string()).collect(),
                series: vec![
                    ImportanceSeries {
                        label: "first order S1 (alone)".into(),
                        values: v1,
                        intervals: i1,
                    },
                    ImportanceSeries {
                        label: "total order ST (with interactions)".into(),
                        values: vt,
                        intervals: it,
                    },
                ],
                caption: format!(
                    "Saltelli design, N = {} ({} model evaluations); intervals: 95 % bootstrap.",
                    a.samples, a.evaluations
                ),
            };
            render(&name, &chart)
        }
    }
}
