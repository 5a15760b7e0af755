//! Read a scenario file and resolve it against its model.

use std::path::{Path, PathBuf};

use toml::Spanned;

use super::schema::{self, DistributionDecl, ScenarioFile};
use super::{
    Arm, Assumption, Baseline, GREEN_BOOK_RATE, Headline, Intervention, Lever, LeverTarget, Metric,
    MetricKind, Scenario, UncertainParameter, Uncertainty, expr,
};
use crate::diagnostics::{Diagnostic, Diagnostics, FileId, Location, Sources, did_you_mean};
use crate::model::Method;
use crate::montecarlo::{Distribution, SamplingMethod};
use crate::simulate::Interpolation;
use crate::vm::ColumnKind;
use crate::{Failure, Model};

/// Default seed when a scenario gives none (documented; any fixed number would do).
pub const DEFAULT_SEED: u64 = 20_251_122;

/// Load `path`, its model, and (if named) its baseline scenario.
pub fn load_scenario(path: &Path) -> Result<Scenario, Failure> {
    load_scenario_for(path, None)
}

/// Like [`load_scenario`], but resolve the scenario against `model` instead of the model the
/// file names (for comparing model variants on one scenario).
pub fn load_scenario_for(path: &Path, model: Option<&Path>) -> Result<Scenario, Failure> {
    let mut sources = Sources::new();
    let (file, doc) = match read(path, &mut sources) {
        Ok(x) => x,
        Err(d) => {
            return Err(Failure {
                diagnostics: d.into(),
                sources,
            });
        }
    };
    let meta = doc.scenario.get_ref();
    let dir = path.parent().unwrap_or(Path::new("."));
    let declared_model = dir.join(meta.model.get_ref());
    let model_path = model.map_or_else(|| declared_model.clone(), Path::to_path_buf);
    let model_loc = loc(file, meta.model.span());
    if !model_path.is_file() {
        let d = Diagnostic::error(format!("model file `{}` not found", model_path.display()))
            .at_opt(model.is_none().then_some(model_loc))
            .help("the model path is relative to the scenario file");
        return Err(Failure {
            diagnostics: d.into(),
            sources,
        });
    }
    // Specialised below, before any run: no machine code for the model as written.
    let model = Model::load_for_specializing(&model_path, sources)?;
    let mut r = Resolver {
        model: &model,
        file,
        diags: Diagnostics::new(),
    };
    let scenario = r.resolve(path, &doc, model_path.clone(), &declared_model);
    let diagnostics = std::mem::take(&mut r.diags);
    match scenario {
        Some(parts) if !diagnostics.has_errors() => {
            let mut scenario = parts.into_scenario(model);
            // The constants no run of the scenario sets are written into the code, and only
            // the columns it reports are saved (and computed, with what they need).
            let kept = scenario.reported_columns();
            scenario.model = scenario
                .model
                .specialize_keeping(&scenario.settable_slots(), &kept)?;
            scenario.renumber_columns(&kept);
            Ok(scenario)
        }
        _ => Err(Failure {
            diagnostics,
            sources: model.sources,
        }),
    }
}

fn read(path: &Path, sources: &mut Sources) -> Result<(FileId, ScenarioFile), Diagnostic> {
    let bytes = std::fs::read(path).map_err(|e| {
        Diagnostic::error(format!(
            "cannot read scenario file `{}`: {e}",
            path.display()
        ))
        .help("check the path; bundled scenarios are under scenarios/")
    })?;
    let text = String::from_utf8(bytes).map_err(|e| {
        Diagnostic::error(format!(
            "`{}` is not a text file (invalid UTF-8 at byte {})",
            path.display(),
            e.utf8_error().valid_up_to()
        ))
    })?;
    let file = sources.add(path, text);
    match toml::from_str::<ScenarioFile>(sources.text(file)) {
        Ok(doc) => Ok((file, doc)),
        Err(e) => {
            let span = e.span().unwrap_or(0..0);
            let mut d = Diagnostic::error(format!("invalid scenario file: {}", e.message().trim()))
                .at(loc(file, span));
            if e.message().contains("unknown field") || e.message().contains("missing field") {
                d = d.help("docs/SCENARIOS.md lists every field");
            }
            Err(d)
        }
    }
}

fn loc(file: FileId, span: std::ops::Range<usize>) -> Location {
    Location::new(file, span.start, span.end)
}

/// Parameter names with values, as written.
type NamedValues = Vec<(String, f64)>;

/// A constant's name, where it is given a value ("in [parameters]"), and the place in the file.
type Setting = (String, String, std::ops::Range<usize>);

/// Everything but the model (which the scenario then takes ownership of).
struct Parts {
    name: String,
    doc: Option<String>,
    path: PathBuf,
    model_path: PathBuf,
    time: crate::model::TimeSettings,
    parameters: Vec<(String, f64)>,
    fixed: Vec<(u32, f64)>,
    interventions: Vec<Intervention>,
    baseline: Baseline,
    uncertainty: Uncertainty,
    levers: Vec<Lever>,
    metrics: Vec<Metric>,
    assumptions: Vec<Assumption>,
    outputs: Vec<usize>,
    headline: Headline,
}

impl Parts {
    fn into_scenario(self, model: Model) -> Scenario {
        Scenario {
            name: self.name,
            doc: self.doc,
            path: self.path,
            model_path: self.model_path,
            model,
            time: self.time,
            parameters: self.parameters,
            fixed: self.fixed,
            interventions: self.interventions,
            baseline: self.baseline,
            uncertainty: self.uncertainty,
            levers: self.levers,
            metrics: self.metrics,
            assumptions: self.assumptions,
            outputs: self.outputs,
            headline: self.headline,
        }
    }
}

struct Resolver<'m> {
    model: &'m Model,
    file: FileId,
    diags: Diagnostics,
}

impl Resolver<'_> {
    fn at(&self, span: std::ops::Range<usize>) -> Location {
        loc(self.file, span)
    }

    fn error(
        &mut self,
        span: std::ops::Range<usize>,
        message: impl Into<String>,
        help: impl Into<String>,
    ) {
        let d = Diagnostic::error(message).at(self.at(span)).help(help);
        self.diags.push(d);
    }

    fn resolve(
        &mut self,
        path: &Path,
        doc: &ScenarioFile,
        model_path: PathBuf,
        declared_model: &Path,
    ) -> Option<Parts> {
        let meta = doc.scenario.get_ref();
        let time = self.time(doc);
        let (parameters, fixed) = self.parameters(&doc.parameters);
        let interventions = self.interventions(&doc.interventions);
        let baseline = self.baseline(path, meta.baseline.as_ref(), declared_model);
        let uncertainty = self.uncertainty(doc.uncertainty.as_ref());
        let levers = self.levers(&doc.sweep, &doc.interventions);
        let metrics = self.metrics(&doc.metrics, &time);
        let assumptions = self.assumptions(&doc.assumptions, &metrics);
        let outputs = self.outputs(doc.outputs.as_ref());
        let headline = self.headline(doc.outputs.as_ref(), &metrics, &outputs);
        self.unique_columns(doc);
        self.one_value_source(doc);
        self.one_intervention_each(doc);
        let name = meta.name.clone().unwrap_or_else(|| {
            path.file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default()
        });
        Some(Parts {
            name,
            doc: meta.doc.clone(),
            path: path.to_path_buf(),
            model_path,
            time: time?,
            parameters,
            fixed,
            interventions,
            baseline: baseline?,
            uncertainty: uncertainty?,
            levers,
            metrics,
            assumptions,
            outputs,
            headline,
        })
    }

    fn time(&mut self, doc: &ScenarioFile) -> Option<crate::model::TimeSettings> {
        let mut t = self.model.time().clone();
        // The model's own settings were checked when it was loaded.
        let Some(decl) = &doc.time else {
            return Some(t);
        };
        let o = decl.get_ref();
        t.start = o.start.unwrap_or(t.start);
        t.stop = o.stop.unwrap_or(t.stop);
        if let Some(dt) = o.dt {
            if o.save_step.is_none() && t.save_step == t.dt {
                t.save_step = dt;
            }
            t.dt = dt;
        }
        t.save_step = o.save_step.unwrap_or(t.save_step);
        t.rtol = o.rtol.unwrap_or(t.rtol);
        t.atol = o.atol.unwrap_or(t.atol);
        if let Some(m) = &o.method {
            match Method::parse(m.get_ref()) {
                Some(method) => t.method = method,
                None => {
                    self.error(
                        m.span(),
                        format!("unknown method `{}`", m.get_ref()),
                        "use euler, rk4 or dopri5",
                    );
                    return None;
                }
            }
        }
        // Checked here, not at the first run, so that the error points at [time].
        if let Err(d) = crate::simulate::validate_time(&self.model.program, &t) {
            // A problem with the numbers (whose help names command-line flags) is located at
            // [time]; one with a place in the model (PREVIOUS with dopri5) keeps it.
            let d = match d.location {
                Some(_) => d,
                None => Diagnostic {
                    location: Some(self.at(decl.span())),
                    help: Some(
                        "check start, stop, dt and save_step in the scenario's [time] (they override the model's; save_step must be a whole multiple of dt)".into(),
                    ),
                    ..d
                },
            };
            self.diags.push(d);
            return None;
        }
        Some(t)
    }

    /// Slots of a constant (or one element), with a located error.
    fn slots(&mut self, name: &Spanned<String>, what: &str) -> Option<Vec<u32>> {
        match self.model.overrides(&[(name.get_ref().clone(), 0.0)]) {
            Ok(o) => Some(o.into_iter().map(|(s, _)| s).collect()),
            Err(d) => {
                let mut diag =
                    Diagnostic::error(format!("{what}: {}", d.message)).at(self.at(name.span()));
                diag.help = d.help;
                self.diags.push(diag);
                None
            }
        }
    }

    fn parameters(
        &mut self,
        params: &indexmap::IndexMap<Spanned<String>, Spanned<f64>>,
    ) -> (NamedValues, Vec<(u32, f64)>) {
        let mut named = Vec::new();
        let mut fixed = Vec::new();
        for (name, value) in params {
            if let Some(slots) = self.slots(name, "in [parameters]") {
                let v = *value.get_ref();
                if !v.is_finite() {
                    self.error(
                        value.span(),
                        format!("the value of `{}` must be finite", name.get_ref()),
                        "write a number",
                    );
                    continue;
                }
                named.push((name.get_ref().clone(), v));
                fixed.extend(slots.into_iter().map(|s| (s, v)));
            }
        }
        (named, fixed)
    }

    fn interventions(
        &mut self,
        decls: &indexmap::IndexMap<Spanned<String>, Spanned<schema::InterventionDecl>>,
    ) -> Vec<Intervention> {
        let mut out = Vec::new();
        for (name, decl) in decls {
            let d = decl.get_ref();
            let what = format!("intervention `{}`", name.get_ref());
            let Some(slots) = self.slots(&d.parameter, &what) else {
                continue;
            };
            let shape = match (&d.step, &d.ramp, &d.schedule) {
                (Some(s), None, None) => {
                    let s = s.get_ref();
                    Some((vec![(s.at, s.value)], Interpolation::Step))
                }
                (None, Some(r), None) => {
                    let v = r.get_ref();
                    if v.end <= v.start || v.end.is_nan() || v.start.is_nan() {
                        self.error(
                            r.span(),
                            format!("{what}: the ramp must end after it starts"),
                            "e.g. ramp = { start = 2026, end = 2028, from = 2e6, to = 5e6 }",
                        );
                        continue;
                    }
                    Some((
                        vec![(v.start, v.from), (v.end, v.to)],
                        Interpolation::Linear,
                    ))
                }
                (None, None, Some(s)) => {
                    let v = s.get_ref();
                    let interpolation = match v.interpolate.as_deref() {
                        None | Some("step") => Interpolation::Step,
                        Some("linear") => Interpolation::Linear,
                        Some(other) => {
                            self.error(
                                s.span(),
                                format!("{what}: unknown interpolation `{other}`"),
                                "use \"step\" or \"linear\"",
                            );
                            continue;
                        }
                    };
                    if v.times.len() != v.values.len() || v.times.is_empty() {
                        self.error(
                            s.span(),
                            format!(
                                "{what}: the schedule needs as many values as times (at least one)"
                            ),
                            "e.g. schedule = { times = [2026, 2027], values = [2e6, 3e6] }",
                        );
                        continue;
                    }
                    if v.times.windows(2).any(|w| w[1] <= w[0]) {
                        self.error(
                            s.span(),
                            format!("{what}: schedule times must be strictly increasing"),
                            "sort the times",
                        );
                        continue;
                    }
                    Some((
                        v.times
                            .iter()
                            .copied()
                            .zip(v.values.iter().copied())
                            .collect(),
                        interpolation,
                    ))
                }
                _ => None,
            };
            let Some((points, interpolation)) = shape else {
                self.error(
                    decl.span(),
                    format!("{what} needs exactly one of `step`, `ramp` or `schedule`"),
                    "e.g. step = { at = 2026, value = 2e6 }",
                );
                continue;
            };
            if points.iter().any(|(t, v)| !t.is_finite() || !v.is_finite())
                || !d.scale.is_finite()
                || !d.shift.is_finite()
            {
                self.error(
                    decl.span(),
                    format!("{what}: times and values must be finite numbers"),
                    "check the numbers",
                );
                continue;
            }
            out.push(Intervention {
                name: name.get_ref().clone(),
                parameter: d.parameter.get_ref().clone(),
                slots,
                points,
                interpolation,
                scale: d.scale,
                shift: d.shift,
            });
        }
        out
    }

    fn baseline(
        &mut self,
        path: &Path,
        decl: Option<&Spanned<String>>,
        model_path: &Path,
    ) -> Option<Baseline> {
        let Some(decl) = decl.filter(|d| d.get_ref() != "model") else {
            return Some(Baseline {
                label: "model".into(),
                parameters: Vec::new(),
                fixed: Vec::new(),
                interventions: Vec::new(),
            });
        };
        let base_path = path.parent().unwrap_or(Path::new(".")).join(decl.get_ref());
        let mut scratch = Sources::new();
        let (_, doc) = match read(&base_path, &mut scratch) {
            Ok(x) => x,
            Err(d) => {
                let msg = d.message.clone();
                self.error(decl.span(), format!("baseline scenario: {msg}"), "`baseline` is \"model\" or the path of another scenario file, relative to this one");
                return None;
            }
        };
        let base_model = base_path
            .parent()
            .unwrap_or(Path::new("."))
            .join(doc.scenario.get_ref().model.get_ref());
        let same =
            std::fs::canonicalize(&base_model).ok() == std::fs::canonicalize(model_path).ok();
        if !same {
            self.error(
                decl.span(),
                format!(
                    "baseline scenario `{}` uses a different model",
                    decl.get_ref()
                ),
                "a baseline must use the same model file, so that differences are run by run",
            );
            return None;
        }
        // Resolve its names against our model; locations inside it are not shown (different file).
        let before = self.diags.items.len();
        let (parameters, fixed) = self.parameters(&doc.parameters);
        let interventions = self.interventions(&doc.interventions);
        self.one_intervention_each(&doc);
        if self.diags.items.len() > before {
            let at = self.at_loc(decl.span());
            for d in &mut self.diags.items[before..] {
                d.message = format!("in baseline `{}`: {}", decl.get_ref(), d.message);
                d.location = Some(at);
            }
            return None;
        }
        Some(Baseline {
            label: decl.get_ref().clone(),
            parameters,
            fixed,
            interventions,
        })
    }

    fn at_loc(&self, span: std::ops::Range<usize>) -> Location {
        loc(self.file, span)
    }

    fn uncertainty(
        &mut self,
        decl: Option<&Spanned<schema::UncertaintyDecl>>,
    ) -> Option<Uncertainty> {
        let Some(decl) = decl else {
            return Some(Uncertainty {
                runs: 1,
                seed: DEFAULT_SEED,
                sampling: SamplingMethod::LatinHypercube,
                parameters: Vec::new(),
            });
        };
        let u = decl.get_ref();
        let runs = *u.runs.get_ref();
        if runs < 1 {
            self.error(
                u.runs.span(),
                format!("runs must be at least 1 (got {runs})"),
                "e.g. runs = 500",
            );
            return None;
        }
        let sampling = match &u.sampling {
            None => SamplingMethod::LatinHypercube,
            Some(s) => match SamplingMethod::parse(s.get_ref()) {
                Some(m) => m,
                None => {
                    self.error(
                        s.span(),
                        format!("unknown sampling method `{}`", s.get_ref()),
                        "use random, lhs or sobol",
                    );
                    return None;
                }
            },
        };
        let mut parameters = Vec::new();
        for (name, d) in &u.parameters {
            let Some(slots) = self.slots(name, "in [uncertainty.parameters]") else {
                continue;
            };
            match self.distribution(name.get_ref(), d.get_ref()) {
                Ok(distribution) => parameters.push(UncertainParameter {
                    name: name.get_ref().clone(),
                    slots,
                    distribution,
                }),
                Err((message, help)) => self.error(
                    d.span(),
                    format!("distribution of `{}`: {message}", name.get_ref()),
                    help,
                ),
            }
        }
        let seed = u.seed.unwrap_or(DEFAULT_SEED);
        if let Err(e) =
            crate::montecarlo::Sampler::new(sampling, seed, runs as usize, parameters.len())
        {
            self.error(
                u.runs.span(),
                format!("cannot sample {runs} runs: {e}"),
                "use fewer runs, or sampling = \"lhs\" or \"random\"",
            );
            return None;
        }
        Some(Uncertainty {
            runs: runs as usize,
            seed,
            sampling,
            parameters,
        })
    }

    fn distribution(
        &self,
        name: &str,
        d: &DistributionDecl,
    ) -> Result<Distribution, (String, String)> {
        let need = |v: Option<f64>, field: &str, kind: &str| {
            v.ok_or_else(|| {
                (
                    format!("{kind} needs `{field}`"),
                    format!("see docs/SCENARIOS.md for the fields of {kind}"),
                )
            })
        };
        let kind = d.dist.as_deref().unwrap_or("uniform");
        let declared_range = || {
            let base = name.split('[').next().unwrap_or(name);
            self.model
                .program
                .params
                .iter()
                .find(|p| p.variable == base || p.name == name)
                .and_then(|p| p.range)
        };
        let dist = match kind {
            "uniform" => {
                let (low, high) = match (d.low, d.high) {
                    (Some(l), Some(h)) => (l, h),
                    (None, None) => declared_range().ok_or_else(|| {
                        (
                            format!("`{name}` has no `range` in the model, so a uniform distribution needs `low` and `high`"),
                            "write { dist = \"uniform\", low = ..., high = ... }, or add range = [low, high] to the constant".to_string(),
                        )
                    })?,
                    _ => return Err(("uniform needs both `low` and `high` (or neither, to use the model's range)".into(), "e.g. { low = 0.1, high = 0.3 }".into())),
                };
                Distribution::Uniform { low, high }
            }
            "normal" => Distribution::Normal {
                mean: need(d.mean, "mean", kind)?,
                sd: need(d.sd, "sd", kind)?,
                low: d.low,
                high: d.high,
            },
            "lognormal" => Distribution::LogNormal {
                mu: need(d.mu, "mu", kind)?,
                sigma: need(d.sigma, "sigma", kind)?,
            },
            "triangular" => Distribution::Triangular {
                low: need(d.low, "low", kind)?,
                mode: need(d.mode, "mode", kind)?,
                high: need(d.high, "high", kind)?,
            },
            "pert" => Distribution::Pert {
                low: need(d.low, "low", kind)?,
                mode: need(d.mode, "mode", kind)?,
                high: need(d.high, "high", kind)?,
            },
            "beta" => Distribution::Beta {
                alpha: need(d.alpha, "alpha", kind)?,
                beta: need(d.beta, "beta", kind)?,
                low: d.low.unwrap_or(0.0),
                high: d.high.unwrap_or(1.0),
            },
            "gamma" => Distribution::Gamma {
                shape: need(d.shape, "shape", kind)?,
                scale: need(d.scale, "scale", kind)?,
            },
            "discrete" => {
                let values = d.values.clone().ok_or_else(|| {
                    (
                        "discrete needs `values`".to_string(),
                        "e.g. { dist = \"discrete\", values = [1, 2], weights = [0.7, 0.3] }"
                            .to_string(),
                    )
                })?;
                let weights = d.weights.clone().unwrap_or_else(|| vec![1.0; values.len()]);
                Distribution::Discrete { values, weights }
            }
            other => {
                return Err((
                    format!("unknown distribution `{other}`"),
                    "use uniform, normal, lognormal, triangular, pert, beta, gamma or discrete"
                        .into(),
                ));
            }
        };
        dist.validate()
            .map_err(|m| (m, "fix the distribution's parameters".to_string()))?;
        Ok(dist)
    }

    fn levers(
        &mut self,
        decls: &[Spanned<schema::LeverDecl>],
        interventions: &indexmap::IndexMap<Spanned<String>, Spanned<schema::InterventionDecl>>,
    ) -> Vec<Lever> {
        let mut out = Vec::new();
        for decl in decls {
            let l = decl.get_ref();
            let text = l.lever.get_ref();
            let target = if let Some(param) = text.strip_prefix("parameters.") {
                let spanned = Spanned::new(l.lever.span(), param.to_string());
                self.slots(&spanned, "sweep lever")
                    .map(LeverTarget::Parameter)
            } else if let Some(rest) = text.strip_prefix("interventions.") {
                let (name, field) = rest.rsplit_once('.').unwrap_or((rest, ""));
                match interventions.get_index_of(name) {
                    Some(i) if field == "scale" => Some(LeverTarget::Scale(i)),
                    Some(i) if field == "shift" => Some(LeverTarget::Shift(i)),
                    Some(_) => {
                        self.error(l.lever.span(), format!("sweep lever `{text}`: an intervention lever is `.scale` or `.shift`"), "e.g. interventions.community_team.scale");
                        None
                    }
                    None => {
                        let names: Vec<&str> =
                            interventions.keys().map(|k| k.get_ref().as_str()).collect();
                        let help = did_you_mean(name, names.iter().copied()).map_or_else(
                            || format!("the interventions are: {}", names.join(", ")),
                            |s| format!("did you mean `{s}`?"),
                        );
                        self.error(
                            l.lever.span(),
                            format!("sweep lever `{text}`: no intervention named `{name}`"),
                            help,
                        );
                        None
                    }
                }
            } else {
                self.error(l.lever.span(), format!("unknown sweep lever `{text}`"), "write parameters.<constant>, interventions.<name>.scale or interventions.<name>.shift");
                None
            };
            let values = l.values.get_ref();
            if values.is_empty() || values.iter().any(|v| !v.is_finite()) {
                self.error(
                    l.values.span(),
                    "a sweep lever needs at least one finite value",
                    "e.g. values = [1e6, 2e6, 5e6]",
                );
                continue;
            }
            if let Some(target) = target {
                out.push(Lever {
                    name: l.name.clone().unwrap_or_else(|| text.clone()),
                    target,
                    values: values.clone(),
                });
            }
        }
        out
    }

    fn metrics(
        &mut self,
        decls: &[Spanned<schema::MetricDecl>],
        time: &Option<crate::model::TimeSettings>,
    ) -> Vec<Metric> {
        let mut out: Vec<Metric> = Vec::new();
        let (start, stop) = time
            .as_ref()
            .map_or((f64::NEG_INFINITY, f64::INFINITY), |t| (t.start, t.stop));
        for decl in decls {
            let m = decl.get_ref();
            let name = m.name.get_ref().clone();
            if out.iter().any(|o| o.name == name) {
                self.error(
                    m.name.span(),
                    format!("metric `{name}` is declared twice"),
                    "give each metric its own name",
                );
                continue;
            }
            if !is_identifier(&name) {
                self.error(
                    m.name.span(),
                    format!("metric name `{name}` is not a valid name"),
                    "use letters, digits and `_`, starting with a letter, so tests can refer to it",
                );
                continue;
            }
            let arm = match m.arm.as_ref().map(|a| a.get_ref().as_str()) {
                None | Some("difference") => Arm::Difference,
                Some("intervention") => Arm::Intervention,
                Some("baseline") => Arm::Baseline,
                Some("saving") => Arm::Saving,
                Some(other) => {
                    let span = m.arm.as_ref().map_or(decl.span(), |a| a.span());
                    self.error(span, format!("unknown arm `{other}`"), "use intervention, baseline, difference (intervention − baseline) or saving (baseline − intervention)");
                    continue;
                }
            };
            let in_horizon = |t: f64| t >= start - 1e-9 && t <= stop + 1e-9;
            let window =
                |from: Option<f64>, to: Option<f64>| (from.unwrap_or(start), to.unwrap_or(stop));
            let kind_text = m.kind.get_ref().as_str();
            let kind = match kind_text {
                "value" => m.at.map(|at| MetricKind::Value { at }),
                "sum" => Some({
                    let (from, to) = window(m.from, m.to);
                    MetricKind::Sum { from, to }
                }),
                "integral" => Some({
                    let (from, to) = window(m.from, m.to);
                    MetricKind::Integral { from, to }
                }),
                "npv" => Some({
                    let (from, to) = window(m.from, m.to);
                    MetricKind::Npv {
                        from,
                        to,
                        rate: m.rate.unwrap_or(GREEN_BOOK_RATE),
                        base: m.base.unwrap_or(from),
                    }
                }),
                "break_even" => Some({
                    let from = m.from.unwrap_or(start);
                    MetricKind::BreakEven {
                        from,
                        rate: m.rate.unwrap_or(GREEN_BOOK_RATE),
                        base: m.base.unwrap_or(from),
                    }
                }),
                "roi" => {
                    let find = |r: &Option<Spanned<String>>| {
                        r.as_ref()
                            .and_then(|s| out.iter().position(|o| o.name == *s.get_ref()))
                    };
                    match (find(&m.savings), find(&m.cost)) {
                        (Some(savings), Some(cost)) => Some(MetricKind::Roi { savings, cost }),
                        _ => {
                            self.error(decl.span(), format!("metric `{name}`: roi needs `savings` and `cost` naming metrics declared above it"), "e.g. savings = \"npv_savings\", cost = \"npv_cost\"");
                            continue;
                        }
                    }
                }
                "expression" => {
                    let Some(text) = &m.expression else {
                        self.error(
                            decl.span(),
                            format!("metric `{name}`: an expression metric needs `expression`"),
                            "e.g. expression = \"npv_savings - npv_cost\"",
                        );
                        continue;
                    };
                    match self.metric_expr(text, &out) {
                        Some(e) => Some(MetricKind::Expression(e)),
                        None => continue,
                    }
                }
                other => {
                    self.error(
                        m.kind.span(),
                        format!("unknown metric kind `{other}`"),
                        "use value, sum, integral, npv, break_even, roi or expression",
                    );
                    continue;
                }
            };
            let Some(kind) = kind else {
                self.error(
                    decl.span(),
                    format!("metric `{name}`: kind \"value\" needs `at`"),
                    "e.g. at = 2030",
                );
                continue;
            };
            let times_ok = match &kind {
                MetricKind::Value { at } => in_horizon(*at),
                MetricKind::Sum { from, to }
                | MetricKind::Integral { from, to }
                | MetricKind::Npv { from, to, .. } => {
                    in_horizon(*from) && in_horizon(*to) && from <= to
                }
                MetricKind::BreakEven { from, .. } => in_horizon(*from),
                _ => true,
            };
            if !times_ok {
                self.error(decl.span(), format!("metric `{name}`: its times must lie within the run, {start} to {stop}, with from <= to"), "change at/from/to, or the scenario's [time]");
                continue;
            }
            if let (MetricKind::Sum { from, to }, Some(t)) = (&kind, time.as_ref()) {
                // The sum is over saved times: a window between two of them has nothing to add.
                let first = ((from - t.start) / t.save_step - 1e-9).ceil();
                let saved = t.start + first * t.save_step;
                if saved > to + 1e-9 * t.save_step {
                    self.error(
                        decl.span(),
                        format!("metric `{name}`: no saved time lies between {from} and {to} (rows are saved every {} from {})", t.save_step, t.start),
                        "widen the window, or use kind = \"value\" or \"integral\"",
                    );
                    continue;
                }
            }
            if let MetricKind::Npv { rate, base, .. } | MetricKind::BreakEven { rate, base, .. } =
                &kind
                && let Err(message) = crate::analysis::metrics::check_rate(*rate, *base)
            {
                self.error(
                    decl.span(),
                    format!("metric `{name}`: {message}"),
                    "e.g. rate = 0.035 (3.5 % a year, the default)",
                );
                continue;
            }
            let needs_variable =
                !matches!(kind, MetricKind::Roi { .. } | MetricKind::Expression(_));
            let (variable, columns) = if needs_variable {
                let Some(v) = &m.variable else {
                    self.error(
                        decl.span(),
                        format!("metric `{name}` needs `variable`"),
                        "name a model variable, e.g. variable = \"beds_occupied\"",
                    );
                    continue;
                };
                match self.columns(v, "metric") {
                    Some(c) => (Some(v.get_ref().clone()), c),
                    None => continue,
                }
            } else {
                (None, Vec::new())
            };
            out.push(Metric {
                name,
                kind,
                arm,
                variable,
                columns,
                units: m.units.clone(),
                doc: m.doc.clone(),
            });
        }
        out
    }

    /// Result columns for a variable: an exact column name, or every element of an array.
    fn columns(&mut self, v: &Spanned<String>, what: &str) -> Option<Vec<usize>> {
        let cols = &self.model.program.columns;
        let name = v.get_ref().replace(' ', "");
        if let Some(i) = cols.iter().position(|c| c.name == name) {
            return Some(vec![i]);
        }
        let prefix = format!("{name}[");
        let all: Vec<usize> = cols
            .iter()
            .enumerate()
            .filter(|(_, c)| c.name.starts_with(&prefix))
            .map(|(i, _)| i)
            .collect();
        if !all.is_empty() {
            return Some(all);
        }
        let bases: Vec<&str> = cols
            .iter()
            .map(|c| c.name.split('[').next().unwrap_or(&c.name))
            .collect();
        let help = did_you_mean(&name, bases.iter().copied()).map_or_else(
            || "`careshift run MODEL --csv -` shows every variable name".to_string(),
            |s| format!("did you mean `{s}`?"),
        );
        self.error(
            v.span(),
            format!("{what}: the model has no variable `{}`", v.get_ref()),
            help,
        );
        None
    }

    fn metric_expr(
        &mut self,
        text: &Spanned<String>,
        metrics: &[Metric],
    ) -> Option<expr::MetricExpr> {
        let src_start = text.span().start + 1;
        let parsed = match crate::equation::parse(text.get_ref()) {
            Ok(e) => e,
            Err(e) => {
                let span = src_start + e.span.start..src_start + e.span.end;
                self.error(
                    span,
                    format!("syntax error: {}", e.message),
                    e.help.unwrap_or_else(|| "see docs/EQUATIONS.md".into()),
                );
                return None;
            }
        };
        let resolve = |n: &str| metrics.iter().position(|m| m.name == n);
        match expr::compile(&parsed, &resolve) {
            Ok(e) => Some(e),
            Err((message, span)) => {
                let names: Vec<&str> = metrics.iter().map(|m| m.name.as_str()).collect();
                let help = match message.strip_prefix("unknown metric `").and_then(|r| r.strip_suffix('`')) {
                    Some(n) => did_you_mean(n, names.iter().copied()).map_or_else(
                        || format!("metrics declared above: {}", if names.is_empty() { "(none)".into() } else { names.join(", ") }),
                        |s| format!("did you mean `{s}`?"),
                    ),
                    None => "metric expressions use metric names, numbers, arithmetic, comparisons, and/or/not".into(),
                };
                self.error(src_start + span.start..src_start + span.end, message, help);
                None
            }
        }
    }

    fn assumptions(
        &mut self,
        decls: &[Spanned<schema::AssumptionDecl>],
        metrics: &[Metric],
    ) -> Vec<Assumption> {
        let mut out = Vec::new();
        for decl in decls {
            let a = decl.get_ref();
            if let Some(expr) = self.metric_expr(&a.test, metrics) {
                out.push(Assumption {
                    name: a.name.clone().unwrap_or_else(|| a.test.get_ref().clone()),
                    test: a.test.get_ref().clone(),
                    expr,
                });
            }
        }
        out
    }

    /// A constant takes its value from one place: [parameters], [uncertainty.parameters] or a
    /// parameter sweep lever (otherwise one silently replaces the other, and runs.csv would
    /// report sampled values that were never used). Names that do not resolve were reported
    /// already.
    fn one_value_source(&mut self, doc: &ScenarioFile) {
        let mut values: Vec<Setting> = doc
            .parameters
            .keys()
            .map(|n| (n.get_ref().clone(), "in [parameters]".to_string(), n.span()))
            .collect();
        if let Some(u) = &doc.uncertainty {
            values.extend(u.get_ref().parameters.keys().map(|n| {
                let at = "in [uncertainty.parameters]".to_string();
                (n.get_ref().clone(), at, n.span())
            }));
        }
        for l in &doc.sweep {
            let lever = &l.get_ref().lever;
            if let Some(name) = lever.get_ref().strip_prefix("parameters.") {
                let at = format!("by sweep lever `{}`", lever.get_ref());
                values.push((name.to_string(), at, lever.span()));
            }
        }
        self.no_overlap(
            &values,
            "set",
            "set each constant in one place: [parameters], [uncertainty.parameters] or a sweep lever",
        );
    }

    /// A constant follows at most one intervention: a later schedule would hide an earlier one.
    fn one_intervention_each(&mut self, doc: &ScenarioFile) {
        let changes: Vec<Setting> = doc
            .interventions
            .iter()
            .map(|(name, d)| {
                let parameter = &d.get_ref().parameter;
                let by = format!("by intervention `{}`", name.get_ref());
                (parameter.get_ref().clone(), by, parameter.span())
            })
            .collect();
        self.no_overlap(
            &changes,
            "changed",
            "a constant follows one intervention: put all its changes in one `schedule`",
        );
    }

    /// An error for each setting whose constants (or elements) an earlier one already covers.
    fn no_overlap(&mut self, settings: &[Setting], verb: &str, help: &str) {
        let mut owner: Vec<(u32, usize)> = Vec::new();
        for (k, (name, at, span)) in settings.iter().enumerate() {
            let mine: Vec<u32> = self
                .model
                .overrides(&[(name.clone(), 0.0)])
                .map(|o| o.into_iter().map(|(slot, _)| slot).collect())
                .unwrap_or_default();
            if let Some(&(_, first)) = owner.iter().find(|(s, _)| mine.contains(s)) {
                let (first_name, first_at, _) = &settings[first];
                let message = if first_name == name {
                    format!("`{name}` is {verb} both {first_at} and {at}")
                } else {
                    format!(
                        "`{name}` is {verb} {at}, and `{first_name}`, which overlaps it, is {verb} {first_at}"
                    )
                };
                self.error(span.clone(), message, help);
            }
            owner.extend(mine.into_iter().map(|s| (s, k)));
        }
    }

    /// Levers, uncertain parameters, metrics and assumption tests are the columns of runs.csv
    /// and runs.parquet (after `run` and `option`), and key the maps of summary.json: two with
    /// one name would be ambiguous, or one of them lost. (Two metrics with one name are
    /// reported by [`Resolver::metrics`].)
    fn unique_columns(&mut self, doc: &ScenarioFile) {
        let levers = doc.sweep.iter().map(|l| {
            let d = l.get_ref();
            let name = d.name.clone().unwrap_or_else(|| d.lever.get_ref().clone());
            (name, "sweep lever", l.span())
        });
        let parameters = doc
            .uncertainty
            .iter()
            .flat_map(|u| u.get_ref().parameters.keys())
            .map(|n| (n.get_ref().clone(), "uncertain parameter", n.span()));
        let metrics = doc.metrics.iter().map(|m| {
            let name = &m.get_ref().name;
            (name.get_ref().clone(), "metric", name.span())
        });
        let assumptions = doc.assumptions.iter().map(|a| {
            let d = a.get_ref();
            let name = d.name.clone().unwrap_or_else(|| d.test.get_ref().clone());
            (name, "assumption test", a.span())
        });
        let mut seen: Vec<(String, &str)> = vec![
            ("run".into(), "run number"),
            ("option".into(), "option number"),
        ];
        let mut errors = Vec::new();
        for (name, what, span) in levers.chain(parameters).chain(metrics).chain(assumptions) {
            match seen.iter().find(|(n, _)| *n == name) {
                Some((_, "metric")) if what == "metric" => {}
                Some((_, other)) => errors.push((
                    span,
                    format!(
                        "{what} `{name}` has the same name as the {other} `{name}`: each column of runs.csv needs its own name"
                    ),
                )),
                None => seen.push((name, what)),
            }
        }
        for (span, message) in errors {
            self.error(
                span,
                message,
                "rename one of them (sweep levers and assumption tests take a `name`)",
            );
        }
    }

    /// `[outputs] headline` and `headline_metric`, or their defaults.
    fn headline(
        &mut self,
        decl: Option<&schema::OutputsDecl>,
        metrics: &[Metric],
        outputs: &[usize],
    ) -> Headline {
        let mut h = Headline::defaults(metrics, outputs);
        let Some(decl) = decl else {
            return h;
        };
        if let Some(vars) = &decl.headline {
            let mut chosen = Vec::new();
            for v in vars {
                let Some(cols) = self.columns(v, "[outputs] headline") else {
                    continue;
                };
                for c in cols {
                    match outputs.iter().position(|&o| o == c) {
                        Some(k) if !chosen.contains(&k) => chosen.push(k),
                        Some(_) => {}
                        None => {
                            let name = self.model.program.columns[c].name.clone();
                            self.error(
                                v.span(),
                                format!("[outputs] headline: `{name}` is not one of the aggregated outputs"),
                                format!("add `{name}` to [outputs] variables, or leave it out of headline"),
                            );
                        }
                    }
                }
            }
            h.outputs = chosen;
        }
        if let Some(name) = &decl.headline_metric {
            match metrics.iter().position(|m| &m.name == name.get_ref()) {
                Some(k) => {
                    h.metric = Some(k);
                    h.cumulative = Headline::cumulative_for(metrics, Some(k));
                }
                None => {
                    let names: Vec<&str> = metrics.iter().map(|m| m.name.as_str()).collect();
                    let help = did_you_mean(name.get_ref(), names.iter().copied()).map_or_else(
                        || {
                            format!(
                                "the metrics are: {}",
                                if names.is_empty() {
                                    "(none)".into()
                                } else {
                                    names.join(", ")
                                }
                            )
                        },
                        |s| format!("did you mean `{s}`?"),
                    );
                    self.error(
                        name.span(),
                        format!(
                            "[outputs] headline_metric: no metric is named `{}`",
                            name.get_ref()
                        ),
                        help,
                    );
                }
            }
        }
        h
    }

    fn outputs(&mut self, decl: Option<&schema::OutputsDecl>) -> Vec<usize> {
        match decl.and_then(|o| o.variables.as_ref()) {
            Some(vars) => {
                let mut out = Vec::new();
                for v in vars {
                    if let Some(c) = self.columns(v, "[outputs]") {
                        out.extend(c);
                    }
                }
                out
            }
            None => self
                .model
                .program
                .columns
                .iter()
                .enumerate()
                .filter(|(_, c)| c.kind != ColumnKind::Constant)
                .map(|(i, _)| i)
                .collect(),
        }
    }
}

fn is_identifier(s: &str) -> bool {
    let mut c = s.chars();
    c.next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && c.all(|c| c.is_ascii_alphanumeric() || c == '_')
}
