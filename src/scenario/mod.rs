//! Scenarios: a model plus the investment question asked of it — interventions, a baseline,
//! uncertain parameters, option sweeps, metrics and assumption tests (docs/SCENARIOS.md).
//!
//! `load` resolves a scenario file against its compiled model (every name to slots or columns,
//! every distribution validated) into a [`Scenario`]; `run` (in [`crate::experiment`]) executes it.

pub mod expr;
mod load;
pub mod schema;

pub use load::{load_scenario, load_scenario_for};

use std::path::PathBuf;

use crate::Model;
use crate::model::TimeSettings;

use crate::montecarlo::{Distribution, SamplingMethod};
use crate::simulate::{Interpolation, Schedule};
use expr::MetricExpr;

/// Default discount rate: HM Treasury Green Book, 3.5 % a year.
pub const GREEN_BOOK_RATE: f64 = 0.035;

/// A fully resolved scenario.
#[derive(Debug)]
pub struct Scenario {
    pub name: String,
    pub doc: Option<String>,
    pub path: PathBuf,
    pub model_path: PathBuf,
    pub model: Model,
    pub time: TimeSettings,
    /// Fixed parameter overrides of the intervention arm: (name, value) and their slots.
    pub parameters: Vec<(String, f64)>,
    pub fixed: Vec<(u32, f64)>,
    pub interventions: Vec<Intervention>,
    pub baseline: Baseline,
    pub uncertainty: Uncertainty,
    pub levers: Vec<Lever>,
    pub metrics: Vec<Metric>,
    pub assumptions: Vec<Assumption>,
    /// Indices of the result columns aggregated into series.csv.
    pub outputs: Vec<usize>,
    /// What the report leads with.
    pub headline: Headline,
}

/// The outputs and metric a report leads with (`[outputs] headline`, `headline_metric`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Headline {
    /// Indices into [`Scenario::outputs`]: the series drawn as fan charts.
    pub outputs: Vec<usize>,
    /// Index into [`Scenario::metrics`] (None when there are no metrics).
    pub metric: Option<usize>,
    /// The metric whose cumulative discounted value is tracked over time: the first
    /// `break_even` metric, else the headline metric when it is an `npv`.
    pub cumulative: Option<usize>,
}

impl Headline {
    /// The defaults: as headline outputs, the distinct single-column variables of the metrics
    /// that are among the outputs (at most four), else the first three outputs; as headline
    /// metric, the first NPV of a saving, else the first NPV, else the first metric.
    pub fn defaults(metrics: &[Metric], outputs: &[usize]) -> Headline {
        let mut chosen: Vec<usize> = Vec::new();
        for m in metrics {
            if let [c] = m.columns[..]
                && let Some(k) = outputs.iter().position(|&o| o == c)
                && !chosen.contains(&k)
                && chosen.len() < 4
            {
                chosen.push(k);
            }
        }
        if chosen.is_empty() {
            chosen = (0..outputs.len().min(3)).collect();
        }
        let is_npv = |m: &Metric| matches!(m.kind, MetricKind::Npv { .. });
        let metric = metrics
            .iter()
            .position(|m| is_npv(m) && m.arm == Arm::Saving)
            .or_else(|| metrics.iter().position(is_npv))
            .or(if metrics.is_empty() { None } else { Some(0) });
        Headline {
            outputs: chosen,
            metric,
            cumulative: Headline::cumulative_for(metrics, metric),
        }
    }

    /// The first break-even metric, else `metric` when it is an NPV.
    pub fn cumulative_for(metrics: &[Metric], metric: Option<usize>) -> Option<usize> {
        metrics
            .iter()
            .position(|m| matches!(m.kind, MetricKind::BreakEven { .. }))
            .or(metric.filter(|&k| matches!(metrics[k].kind, MetricKind::Npv { .. })))
    }
}

/// What the intervention is compared with.
#[derive(Debug, Clone)]
pub struct Baseline {
    /// `"model"` or the baseline scenario's path.
    pub label: String,
    pub parameters: Vec<(String, f64)>,
    pub fixed: Vec<(u32, f64)>,
    pub interventions: Vec<Intervention>,
}

/// A named change to a constant over time.
#[derive(Debug, Clone, PartialEq)]
pub struct Intervention {
    pub name: String,
    pub parameter: String,
    pub slots: Vec<u32>,
    /// (time, value) before `shift` and `scale` are applied.
    pub points: Vec<(f64, f64)>,
    pub interpolation: Interpolation,
    pub scale: f64,
    pub shift: f64,
}

impl Intervention {
    /// The schedules this intervention puts on its slots, with the given scale and shift.
    pub fn schedules(&self, scale: f64, shift: f64) -> impl Iterator<Item = Schedule> + '_ {
        self.slots.iter().map(move |&slot| Schedule {
            slot,
            points: self
                .points
                .iter()
                .map(|&(t, v)| (t + shift, v * scale))
                .collect(),
            interpolation: self.interpolation,
        })
    }
}

#[derive(Debug, Clone)]
pub struct Uncertainty {
    /// Number of runs (1 and no parameters when the scenario has no [uncertainty]).
    pub runs: usize,
    pub seed: u64,
    pub sampling: SamplingMethod,
    pub parameters: Vec<UncertainParameter>,
}

#[derive(Debug, Clone)]
pub struct UncertainParameter {
    pub name: String,
    pub slots: Vec<u32>,
    pub distribution: Distribution,
}

/// One dimension of an option sweep.
#[derive(Debug, Clone)]
pub struct Lever {
    pub name: String,
    pub target: LeverTarget,
    pub values: Vec<f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum LeverTarget {
    /// Sets a constant in both arms.
    Parameter(Vec<u32>),
    /// Multiplies the values of intervention `i`.
    Scale(usize),
    /// Shifts the times of intervention `i`.
    Shift(usize),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arm {
    Intervention,
    Baseline,
    /// Intervention − baseline, run by run.
    Difference,
    /// Baseline − intervention (a cost variable's saving), run by run.
    Saving,
}

impl Arm {
    pub fn name(self) -> &'static str {
        match self {
            Arm::Intervention => "intervention",
            Arm::Baseline => "baseline",
            Arm::Difference => "difference",
            Arm::Saving => "saving",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Metric {
    pub name: String,
    pub kind: MetricKind,
    pub arm: Arm,
    /// The variable, and the result columns summed to make it (one, or every element of an array).
    pub variable: Option<String>,
    pub columns: Vec<usize>,
    pub units: Option<String>,
    pub doc: Option<String>,
}

#[derive(Debug, Clone)]
pub enum MetricKind {
    Value {
        at: f64,
    },
    Sum {
        from: f64,
        to: f64,
    },
    Integral {
        from: f64,
        to: f64,
    },
    Npv {
        from: f64,
        to: f64,
        rate: f64,
        base: f64,
    },
    BreakEven {
        from: f64,
        rate: f64,
        base: f64,
    },
    Roi {
        savings: usize,
        cost: usize,
    },
    Expression(MetricExpr),
}

#[derive(Debug, Clone)]
pub struct Assumption {
    pub name: String,
    pub test: String,
    pub expr: MetricExpr,
}

/// Whether `path` is a scenario file (a TOML document with a top-level `[scenario]` table)
/// rather than a model. A file that is not valid TOML is a scenario if it has a `[scenario]`
/// header line, so that the scenario loader reports its syntax error; other unreadable or
/// invalid files are "not a scenario": the model loader then reports what is wrong with them.
pub fn is_scenario_file(path: &std::path::Path) -> bool {
    let Ok(text) = std::fs::read_to_string(path) else {
        return false;
    };
    match text.parse::<toml::Table>() {
        Ok(t) => t.contains_key("scenario"),
        Err(_) => text.lines().any(|line| {
            line.trim()
                .strip_prefix('[')
                .and_then(|rest| rest.split_once(']'))
                .is_some_and(|(header, _)| header.trim() == "scenario")
        }),
    }
}

impl Scenario {
    /// Every constant slot some run of this scenario sets: fixed parameters of either arm,
    /// uncertain parameters, parameter levers and the targets of interventions. The others
    /// keep their model values in every run (see [`crate::Model::specialize`]).
    pub fn settable_slots(&self) -> Vec<u32> {
        let mut slots: Vec<u32> = self
            .fixed
            .iter()
            .chain(&self.baseline.fixed)
            .map(|&(slot, _)| slot)
            .chain(
                self.uncertainty
                    .parameters
                    .iter()
                    .flat_map(|p| p.slots.iter().copied()),
            )
            .chain(self.levers.iter().flat_map(|l| match &l.target {
                LeverTarget::Parameter(slots) => slots.clone(),
                LeverTarget::Scale(_) | LeverTarget::Shift(_) => Vec::new(),
            }))
            .chain(
                self.interventions
                    .iter()
                    .chain(&self.baseline.interventions)
                    .flat_map(|i| i.slots.iter().copied()),
            )
            .collect();
        slots.sort_unstable();
        slots.dedup();
        slots
    }

    /// The result columns the scenario reads (its outputs and every metric's variables),
    /// increasing: all a run needs to save (see [`crate::Model::specialize_keeping`]).
    pub fn reported_columns(&self) -> Vec<usize> {
        let mut columns: Vec<usize> = self
            .outputs
            .iter()
            .copied()
            .chain(self.metrics.iter().flat_map(|m| m.columns.iter().copied()))
            .collect();
        columns.sort_unstable();
        columns.dedup();
        columns
    }

    /// Renumber the scenario's column indices after its model kept only `kept` (increasing,
    /// containing every column the scenario reads): column `kept[k]` becomes `k`.
    pub(crate) fn renumber_columns(&mut self, kept: &[usize]) {
        let renumber = |c: &mut usize| {
            *c = kept
                .binary_search(c)
                .expect("every column the scenario reads is kept");
        };
        self.outputs.iter_mut().for_each(renumber);
        for m in &mut self.metrics {
            m.columns.iter_mut().for_each(renumber);
        }
    }

    /// The names of the uncertain parameters, in their order.
    pub fn uncertain_names(&self) -> Vec<&str> {
        self.uncertainty
            .parameters
            .iter()
            .map(|p| p.name.as_str())
            .collect()
    }

    /// Number of options: the product of the levers' value counts (1 without a sweep).
    pub fn option_count(&self) -> usize {
        self.levers.iter().map(|l| l.values.len()).product()
    }

    /// The lever values of option `k` (the last lever varies fastest).
    pub fn option_values(&self, mut k: usize) -> Vec<f64> {
        let mut out = vec![0.0; self.levers.len()];
        for (i, lever) in self.levers.iter().enumerate().rev() {
            let n = lever.values.len();
            out[i] = lever.values[k % n];
            k /= n;
        }
        out
    }
}
