//! The TOML scenario file, as written (see docs/SCENARIOS.md). Unknown fields are errors.

use indexmap::IndexMap;
use serde::Deserialize;
use toml::Spanned;

pub type Name = Spanned<String>;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioFile {
    pub scenario: Spanned<ScenarioMeta>,
    pub time: Option<Spanned<TimeOverrides>>,
    #[serde(default)]
    pub parameters: IndexMap<Name, Spanned<f64>>,
    #[serde(default)]
    pub interventions: IndexMap<Name, Spanned<InterventionDecl>>,
    pub uncertainty: Option<Spanned<UncertaintyDecl>>,
    #[serde(default)]
    pub sweep: Vec<Spanned<LeverDecl>>,
    #[serde(default)]
    pub metrics: Vec<Spanned<MetricDecl>>,
    #[serde(default)]
    pub assumptions: Vec<Spanned<AssumptionDecl>>,
    pub outputs: Option<OutputsDecl>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioMeta {
    pub name: Option<String>,
    pub doc: Option<String>,
    /// Path of the model file, relative to the scenario file.
    pub model: Spanned<String>,
    /// `"model"` (default: the same model without this scenario's interventions) or the path of
    /// another scenario file whose parameters and interventions form the baseline.
    pub baseline: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeOverrides {
    pub start: Option<f64>,
    pub stop: Option<f64>,
    pub dt: Option<f64>,
    pub save_step: Option<f64>,
    pub method: Option<Spanned<String>>,
    pub rtol: Option<f64>,
    pub atol: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InterventionDecl {
    /// The model constant it changes (`name` or `name[element]`).
    pub parameter: Spanned<String>,
    pub doc: Option<String>,
    pub step: Option<Spanned<StepDecl>>,
    pub ramp: Option<Spanned<RampDecl>>,
    pub schedule: Option<Spanned<ScheduleDecl>>,
    /// Multiplies every value of the intervention (a sweep lever: investment level).
    #[serde(default = "one")]
    pub scale: f64,
    /// Added to every time of the intervention (a sweep lever: start year).
    #[serde(default)]
    pub shift: f64,
}

fn one() -> f64 {
    1.0
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepDecl {
    pub at: f64,
    pub value: f64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RampDecl {
    pub start: f64,
    pub end: f64,
    pub from: f64,
    pub to: f64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleDecl {
    pub times: Vec<f64>,
    pub values: Vec<f64>,
    /// `"step"` (default: hold each value until the next time) or `"linear"`.
    pub interpolate: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UncertaintyDecl {
    pub runs: Spanned<i64>,
    pub seed: Option<u64>,
    /// `"random"`, `"lhs"` (default) or `"sobol"`.
    pub sampling: Option<Spanned<String>>,
    #[serde(default)]
    pub parameters: IndexMap<Name, Spanned<DistributionDecl>>,
}

/// A distribution; `{}` means uniform over the parameter's declared `range`.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct DistributionDecl {
    pub dist: Option<String>,
    pub low: Option<f64>,
    pub high: Option<f64>,
    pub mode: Option<f64>,
    pub mean: Option<f64>,
    pub sd: Option<f64>,
    pub mu: Option<f64>,
    pub sigma: Option<f64>,
    pub alpha: Option<f64>,
    pub beta: Option<f64>,
    pub shape: Option<f64>,
    pub scale: Option<f64>,
    pub values: Option<Vec<f64>>,
    pub weights: Option<Vec<f64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LeverDecl {
    /// `parameters.<constant>`, `interventions.<name>.scale` or `interventions.<name>.shift`.
    pub lever: Spanned<String>,
    pub values: Spanned<Vec<f64>>,
    /// Label in reports (default: the lever).
    pub name: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricDecl {
    pub name: Spanned<String>,
    /// `value`, `sum`, `integral`, `npv`, `break_even`, `roi` or `expression`.
    pub kind: Spanned<String>,
    pub variable: Option<Spanned<String>>,
    /// `intervention`, `baseline`, `difference` (intervention − baseline; the default) or
    /// `saving` (baseline − intervention).
    pub arm: Option<Spanned<String>>,
    pub at: Option<f64>,
    pub from: Option<f64>,
    pub to: Option<f64>,
    /// Discount rate per year (default 0.035, HM Treasury Green Book).
    pub rate: Option<f64>,
    /// Year discounted to (default: `from`).
    pub base: Option<f64>,
    pub savings: Option<Spanned<String>>,
    pub cost: Option<Spanned<String>>,
    pub expression: Option<Spanned<String>>,
    pub units: Option<String>,
    pub doc: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssumptionDecl {
    pub name: Option<String>,
    pub test: Spanned<String>,
    pub doc: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputsDecl {
    /// Variables (CSV column names, or array names for all their elements) to aggregate into
    /// series.csv; default: every stock, flow and auxiliary.
    pub variables: Option<Vec<Spanned<String>>>,
    /// The variables drawn as fan charts in report.html (each one of `variables`); default:
    /// the variables the metrics use.
    pub headline: Option<Vec<Spanned<String>>>,
    /// The metric the report leads with (its distribution, the tornado chart); default: the
    /// first NPV of a saving.
    pub headline_metric: Option<Spanned<String>>,
}
