//! Simulation: run a [`Program`] over time with Euler, RK4 or Dopri5.
//!
//! Conventions (shared with Vensim and Stella):
//! - the number of steps is `round((stop − start) / dt)`; time at step k is `start + k·dt`
//!   (computed by multiplication, never accumulated);
//! - a row is saved every `save_step` (a whole multiple of dt) and always at the final time;
//! - a **flow column at time t is the rate used for the step that starts at t** (for RK4 the
//!   first-stage rate, evaluated from the state at t; at the final time, the rate that the next
//!   step would use);
//! - non-negative stocks: when a step would take more out of a stock than it holds plus what
//!   flows in, its outflows are scaled down for that step (the scaled values are what the flow
//!   columns show and what downstream stocks receive, so material is conserved).

pub mod batch;
mod delay_lines;
mod dopri;
mod fixed;
mod network;
pub mod schedule;

pub use schedule::{Interpolation, Schedule, ScheduleSet};

use std::sync::Arc;

use crate::diagnostics::Diagnostic;
use crate::model::{Method, TimeSettings};
use crate::vm::{EvalFault, Program, State};
use network::{Network, at_least_zero, sum};

/// The output of one run: a row per saved time, a column per output variable.
#[derive(Debug, Clone)]
pub struct Results {
    /// The column names, shared by every run of the same [`Simulator`] (not copied per run).
    pub columns: ColumnNames,
    pub times: Vec<f64>,
    /// Row-major: `values[row * columns.len() + col]`.
    pub values: Vec<f64>,
    pub warnings: Vec<Diagnostic>,
}

impl Results {
    pub fn column(&self, name: &str) -> Option<Vec<f64>> {
        let c = self.columns.iter().position(|n| n == name)?;
        let w = self.columns.len();
        Some(
            (0..self.times.len())
                .map(|r| self.values[r * w + c])
                .collect(),
        )
    }

    pub fn row(&self, r: usize) -> &[f64] {
        let w = self.columns.len();
        &self.values[r * w..(r + 1) * w]
    }
}

/// The names of a program's output columns, in order: a slice of names that every run's
/// [`Results`] shares (cloning it copies a pointer).
#[derive(Clone, PartialEq, Eq)]
pub struct ColumnNames(Arc<[String]>);

impl ColumnNames {
    pub fn of(program: &Program) -> ColumnNames {
        ColumnNames(program.columns.iter().map(|c| c.name.clone()).collect())
    }
}

impl std::ops::Deref for ColumnNames {
    type Target = [String];
    fn deref(&self) -> &[String] {
        &self.0
    }
}

impl<'a> IntoIterator for &'a ColumnNames {
    type Item = &'a String;
    type IntoIter = std::slice::Iter<'a, String>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl std::fmt::Debug for ColumnNames {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.0.iter()).finish()
    }
}

/// Run `program` with `time` settings and constant `overrides` (slot, value).
pub fn simulate(
    program: &Program,
    time: &TimeSettings,
    overrides: &[(u32, f64)],
) -> Result<Results, Diagnostic> {
    simulate_with(program, time, overrides, &ScheduleSet::default())
}

/// Run with constants driven by time (`schedules`, see [`schedule`]) on top of `overrides`.
pub fn simulate_with(
    program: &Program,
    time: &TimeSettings,
    overrides: &[(u32, f64)],
    schedules: &ScheduleSet,
) -> Result<Results, Diagnostic> {
    Simulator::new(program).run(time, overrides, schedules)
}

/// A program prepared for many runs: its stock–flow wiring as flat index lists and its column
/// names, made once and shared by every run (Monte Carlo, `careshift bench`). The same results
/// as [`simulate_with`], which prepares one per call.
#[derive(Debug, Clone)]
pub struct Simulator<'p> {
    program: &'p Program,
    prepared: Arc<Prepared>,
}

/// What [`Simulator`] makes from a program once: kept by [`crate::Model`], so that
/// [`crate::Model::run`] does not make it again for every run.
#[derive(Debug)]
pub struct Prepared {
    network: Network,
    columns: ColumnNames,
}

impl Prepared {
    pub fn of(program: &Program) -> Arc<Prepared> {
        Arc::new(Prepared {
            network: Network::new(program),
            columns: ColumnNames::of(program),
        })
    }
}

impl<'p> Simulator<'p> {
    pub fn new(program: &'p Program) -> Simulator<'p> {
        Simulator {
            program,
            prepared: Prepared::of(program),
        }
    }

    /// A simulator from `prepared`, which must have been made from `program`
    /// ([`Prepared::of`]).
    pub fn with(program: &'p Program, prepared: Arc<Prepared>) -> Simulator<'p> {
        Simulator { program, prepared }
    }

    pub fn program(&self) -> &'p Program {
        self.program
    }

    /// One run with `time` settings, constant `overrides` (slot, value) and `schedules`.
    pub fn run(
        &self,
        time: &TimeSettings,
        overrides: &[(u32, f64)],
        schedules: &ScheduleSet,
    ) -> Result<Results, Diagnostic> {
        validate_time(self.program, time)?;
        let mut sim = Sim::new(self.program, &self.prepared.network, time, schedules);
        sim.initialize(overrides)?;
        match time.method {
            Method::Euler | Method::Rk4 => fixed::run(&mut sim)?,
            Method::Dopri5 => dopri::run(&mut sim)?,
        }
        Ok(Results {
            columns: self.prepared.columns.clone(),
            times: sim.times,
            values: sim.values,
            warnings: sim.warnings,
        })
    }
}

/// The most values a run may save (rows × columns): about 800 MB, before the CSV text.
const MAX_SAVED_VALUES: f64 = 1e8;

pub(crate) fn validate_time(program: &Program, t: &TimeSettings) -> Result<(), Diagnostic> {
    if !(t.start.is_finite() && t.stop.is_finite() && t.stop > t.start) {
        return Err(Diagnostic::error(format!(
            "stop time {} must be after start time {}",
            t.stop, t.start
        ))
        .help("check [time] in the model or the --stop flag"));
    }
    if !(t.dt.is_finite() && t.dt > 0.0) {
        return Err(Diagnostic::error(format!(
            "dt must be a positive number, not {}",
            t.dt
        )));
    }
    if !(t.save_step.is_finite() && t.save_step > 0.0) {
        return Err(Diagnostic::error(format!(
            "save_step must be a positive number, not {}",
            t.save_step
        )));
    }
    // Every saved row stays in memory until the run ends.
    let rows = ((t.stop - t.start) / t.save_step).floor() + 2.0;
    let values = rows * program.columns.len().max(1) as f64;
    if values > MAX_SAVED_VALUES {
        return Err(Diagnostic::error(format!(
            "saving every {} from {} to {} gives {rows} rows of {} columns, more than the limit of {MAX_SAVED_VALUES} values",
            t.save_step,
            t.start,
            t.stop,
            program.columns.len()
        ))
        .help("use a larger save_step (--save-step) or a shorter run"));
    }
    if t.method != Method::Dopri5 {
        // The model file's own settings were checked when it was loaded: this comes from --dt
        // or --save-step, so there is no place in the file to point at.
        if !crate::model::is_whole_multiple(t.save_step, t.dt) {
            return Err(Diagnostic::error(format!(
                "save_step ({}) must be a whole multiple of dt ({})",
                t.save_step, t.dt
            ))
            .help(
                "choose a --dt that divides the save step (e.g. 0.25 for a save step of 1), or set --save-step too",
            ));
        }
        let steps = (t.stop - t.start) / t.dt;
        if steps.round() > 1e9 {
            return Err(Diagnostic::error(format!(
                "{} steps of dt = {} is too many",
                steps.round(),
                t.dt
            ))
            .help("use a larger dt or a shorter run"));
        }
    }
    if t.method == Method::Dopri5 && !program.previous.is_empty() {
        let loc = program.slot_meta[program.previous[0].0 as usize].loc;
        return Err(Diagnostic::error(
            "PREVIOUS needs a fixed time step, but the method is dopri5",
        )
        .at(loc)
        .help("use method = \"euler\" or \"rk4\" for models with PREVIOUS"));
    }
    if t.method == Method::Dopri5 && !program.fixed_delays.is_empty() {
        let loc = program.slot_meta[program.fixed_delays[0].output as usize].loc;
        return Err(Diagnostic::error(
            "DELAY FIXED (XMILE's pipeline DELAY) needs a fixed time step, but the method is dopri5",
        )
        .at(loc)
        .help("use method = \"euler\" or \"rk4\" for models with a fixed delay"));
    }
    Ok(())
}

/// State shared by the integrators.
pub(crate) struct Sim<'p> {
    pub p: &'p Program,
    pub net: &'p Network,
    pub schedules: &'p ScheduleSet,
    /// Value of each scheduled constant without its schedule (index = schedule index).
    pub base: Vec<f64>,
    pub time: TimeSettings,
    pub state: State,
    pub times: Vec<f64>,
    pub values: Vec<f64>,
    pub warnings: Vec<Diagnostic>,
    /// One flag per stock: already warned about step-size stability (empty until the first
    /// stability check that finds a stock above the bound).
    warned: Vec<bool>,
}

impl<'p> Sim<'p> {
    fn new(
        p: &'p Program,
        net: &'p Network,
        time: &TimeSettings,
        schedules: &'p ScheduleSet,
    ) -> Self {
        let mut warnings = Vec::new();
        if time.method == Method::Dopri5 && p.uses_pulse {
            warnings.push(Diagnostic::warning(format!(
                "PULSE with dopri5: a pulse is magnitude/DT for one DT (DT = {}); an adaptive solver may step over it",
                time.dt
            )).help("use euler or rk4 for models with PULSE"));
        }
        if time.method != Method::Dopri5 {
            let exact = (time.stop - time.start) / time.dt;
            if (exact - exact.round()).abs() > 1e-6 {
                let end = time.start + exact.round() * time.dt;
                warnings.push(
                    Diagnostic::warning(format!(
                        "the run ends at {end}, not at stop = {}: (stop − start)/dt = {exact:.4} is rounded to {} steps",
                        time.stop,
                        exact.round()
                    ))
                    .help("choose dt so that it divides stop − start"),
                );
            }
        }
        Sim {
            p,
            net,
            schedules,
            base: Vec::new(),
            time: time.clone(),
            state: p.new_state(),
            times: Vec::new(),
            values: Vec::new(),
            warnings,
            warned: Vec::new(),
        }
    }

    /// Set overrides, then run the initial phase (stocks' initial values, constants defined by
    /// equations, every auxiliary) in dependency order. With schedules, the phase runs twice:
    /// once to learn each scheduled constant's own value, then with the schedules applied.
    fn initialize(&mut self, overrides: &[(u32, f64)]) -> Result<(), Diagnostic> {
        for &(slot, field) in &self.p.time_constants {
            self.state.slots[slot as usize] = field.of(&self.time);
        }
        let built_in = overrides
            .iter()
            .map(|&(slot, _)| slot)
            .chain(self.schedules.schedules.iter().map(|s| s.slot))
            .find(|slot| self.p.built_in.binary_search(slot).is_ok());
        if let Some(slot) = built_in {
            return Err(Diagnostic::error(format!(
                "`{}` cannot be set in this run: the program was specialised with its value built in",
                self.p.slot_meta[slot as usize].name
            ))
            .help("specialise the model with this constant among the settable ones (Model::specialize)"));
        }
        let mut overridden = vec![false; self.state.slots.len()];
        for &(slot, v) in overrides {
            self.state.slots[slot as usize] = v;
            overridden[slot as usize] = true;
        }
        let t = self.time.start;
        self.initial_phase(&overridden, t)?;
        if !self.schedules.is_empty() {
            self.base = self
                .schedules
                .schedules
                .iter()
                .map(|s| self.state.slots[s.slot as usize])
                .collect();
            for s in &self.schedules.schedules {
                overridden[s.slot as usize] = true;
            }
            // Only if a schedule changed a value at the start: otherwise the phase would
            // recompute every value from the same inputs, so to the same bits.
            if self.apply_schedules(t)? {
                self.initial_phase(&overridden, t)?;
            }
        }
        Ok(())
    }

    fn initial_phase(&mut self, overridden: &[bool], t: f64) -> Result<(), Diagnostic> {
        if let Some(native) = self.p.native.as_deref()
            && native.eval_initial(&mut self.state.slots, t, self.time.dt, overridden) == Some(true)
        {
            return Ok(());
        }
        // Without native code, or after a value that was not finite (the interpreter stops
        // at the same assignment and explains it).
        // The assignments between two overridden ones, each stretch in one evaluation.
        let initial = &self.p.initial;
        let skipped = (initial.iter().enumerate())
            .filter(|(_, a)| overridden[a.slot as usize])
            .map(|(i, _)| i)
            .chain([initial.len()]);
        let mut start = 0;
        for end in skipped {
            self.p
                .eval_all(&initial[start..end], &mut self.state, t, self.time.dt)
                .map_err(|f| f.to_diagnostic(self.p, t))?;
            start = end + 1;
        }
        Ok(())
    }

    /// Evaluate every auxiliary and flow at time `t` from the current stocks.
    #[inline]
    pub fn eval_flows(&mut self, t: f64) -> Result<(), Diagnostic> {
        self.apply_schedules(t)?;
        self.eval_assignments(t)
    }

    /// Set the scheduled constants (and their dependents) to their values at `t`; whether a
    /// value changed.
    #[inline]
    pub fn apply_schedules(&mut self, t: f64) -> Result<bool, Diagnostic> {
        if self.schedules.is_empty() {
            return Ok(false);
        }
        apply_schedules(
            self.p,
            self.schedules,
            &self.base,
            &mut self.state,
            t,
            self.time.dt,
        )
        .map_err(|f| f.to_diagnostic(self.p, t))
    }

    /// Evaluate the per-step assignments at time `t` (schedules already applied).
    #[inline]
    pub fn eval_assignments(&mut self, t: f64) -> Result<(), Diagnostic> {
        self.p
            .eval_flows(&mut self.state, t, self.time.dt)
            .map_err(|f| f.to_diagnostic(self.p, t))
    }

    /// Net rate of change of every stock into `out`. `step` is the step about to be taken (it
    /// bounds outflows of non-negative stocks); `check` (time, bound) enables the stability
    /// warning.
    #[inline(always)]
    pub fn derivatives(&mut self, step: Option<f64>, out: &mut [f64], check: Option<(f64, f64)>) {
        let slots = &mut self.state.slots[..];
        limit_outflows(self.net, slots, step);
        let Some((t, bound)) = check else {
            net_rates(self.net, slots, out);
            return;
        };
        // The rates and, in the same pass, the stability condition of `check_stability`
        // without its per-stock bookkeeping: only a step where some stock meets it (rare: the
        // run is about to be warned, or was) goes through the full check.
        let dt = self.time.dt;
        let mut unstable = false;
        for (o, s) in out.iter_mut().zip(&self.net.stocks) {
            let (inflow, outflow) = self.net.in_out(slots, s);
            let rate = inflow - outflow;
            *o = rate;
            let level = slots[s.slot as usize];
            unstable |= level > 0.0 && dt * outflow.max(-rate) / level > bound;
        }
        if unstable {
            self.check_stability(t, bound, out);
        }
    }

    /// Warn once per stock whose `dt × outflow/stock` exceeds the method's `bound`.
    #[cold]
    fn check_stability(&mut self, t: f64, bound: f64, d: &[f64]) {
        self.warned.resize(self.net.stocks.len(), false);
        let dt = self.time.dt;
        for (i, s) in self.net.stocks.iter().enumerate() {
            let level = self.state.slots[s.slot as usize];
            if self.warned[i] || level <= 0.0 {
                continue;
            }
            let outflow = sum(&self.state.slots, self.net.outflows(s));
            let drain = outflow.max(-d[i]);
            let ratio = dt * drain / level;
            if ratio > bound {
                self.warned[i] = true;
                let name = &self.p.slot_meta[s.slot as usize].name;
                let method = self.time.method.name();
                let suggested = dt * bound / ratio;
                self.warnings.push(
                    Diagnostic::warning(format!(
                        "dt may be too large for `{name}`: at time {t}, dt × outflow/stock = {ratio:.3}, above {bound} (the {method} stability limit); the result can overshoot or oscillate"
                    ))
                    .at(self.p.slot_meta[s.slot as usize].loc)
                    .help(format!("use dt below {suggested:.3e} (e.g. --dt), or method rk4/dopri5")),
                );
            }
        }
    }

    /// Save the current values as the row for time `t`.
    #[inline(always)]
    pub fn record(&mut self, t: f64) {
        self.times.push(t);
        let slots = &mut self.state.slots;
        for &(slot, source) in &self.p.copies {
            slots[slot as usize] = slots[source as usize];
        }
        gather(&mut self.values, slots, &self.net.columns);
    }

    pub fn stock_values(&self, out: &mut [f64]) {
        for (o, &s) in out.iter_mut().zip(&self.net.stock_slots) {
            *o = self.state.slots[s as usize];
        }
    }

    /// `stock += dt · rate` for every stock (an Euler step). Returns whether every new value
    /// is finite (for [`Sim::check_stocks`]).
    pub fn euler_step(&mut self, dt: f64, rates: &[f64]) -> bool {
        let slots = &mut self.state.slots;
        let mut finite = true;
        for (k, &s) in rates.iter().zip(&self.net.stock_slots) {
            let v = &mut slots[s as usize];
            *v += dt * k;
            finite &= v.is_finite();
        }
        finite
    }

    /// Set every stock. Returns whether every value is finite (for [`Sim::check_stocks`]).
    pub fn set_stocks(&mut self, values: &[f64]) -> bool {
        let slots = &mut self.state.slots;
        let mut finite = true;
        for (&v, &s) in values.iter().zip(&self.net.stock_slots) {
            slots[s as usize] = v;
            finite &= v.is_finite();
        }
        finite
    }

    /// After a step: clamp non-negative stocks (against round-off; for XMILE stocks, this is
    /// how they are kept non-negative) and reject non-finite ones. `finite`: whether the step
    /// left every stock finite (what [`Sim::euler_step`] and [`Sim::set_stocks`] return);
    /// clamping keeps a finite value finite, so only a non-finite step needs the full check.
    #[inline]
    pub fn check_stocks(&mut self, t: f64, finite: bool) -> Result<(), Diagnostic> {
        let slots = &mut self.state.slots;
        for &s in &self.net.clamped {
            let v = &mut slots[s as usize];
            if *v < 0.0 {
                *v = 0.0;
            }
        }
        if finite {
            Ok(())
        } else {
            self.non_finite_stock(t)
        }
    }

    /// The error for the first stock (in order) that is not finite, if any.
    #[cold]
    fn non_finite_stock(&self, t: f64) -> Result<(), Diagnostic> {
        for s in &self.p.stocks {
            let v = self.state.slots[s.slot as usize];
            if !v.is_finite() {
                let meta = &self.p.slot_meta[s.slot as usize];
                return Err(Diagnostic::error(format!(
                    "stock `{}` became {} at time {t}",
                    meta.name, v
                ))
                .at(meta.loc)
                .help("its flows grow without bound; check the loop that feeds it, or reduce dt"));
            }
        }
        Ok(())
    }
}

/// Set every scheduled constant to its value at `t` and recompute the constants that depend on
/// them. When no scheduled value changes (before a ramp, after it, between the steps of a
/// step schedule), the dependents already hold what they would be recomputed to: they read
/// only constants (no TIME), and every change of a scheduled slot goes through here.
pub(crate) fn apply_schedules(
    p: &Program,
    set: &ScheduleSet,
    base: &[f64],
    state: &mut State,
    t: f64,
    dt: f64,
) -> Result<bool, EvalFault> {
    let mut changed = false;
    for (s, &b) in set.schedules.iter().zip(base) {
        let (slot, value) = (&mut state.slots[s.slot as usize], s.value(t, b));
        changed |= slot.to_bits() != value.to_bits();
        *slot = value;
    }
    if changed {
        p.eval_all(&set.dependents, state, t, dt)?;
    }
    Ok(changed)
}

/// Rows a fixed-step run of `steps` saves: every `save_every`-th step from the first, and the
/// last.
pub(crate) fn saved_rows(steps: u64, save_every: u64) -> usize {
    (steps / save_every + 1 + u64::from(!steps.is_multiple_of(save_every))) as usize
}

/// Append the values of `columns` (slots) to `values`: one saved row.
#[inline]
fn gather(values: &mut Vec<f64>, slots: &[f64], columns: &[u32]) {
    values.extend(columns.iter().map(|&c| slots[c as usize]));
}

/// With non-negative stocks, scale outflows so that no stock loses more than it holds plus its
/// inflow over `step` (or, without a step, more than its inflow once it is empty).
#[inline]
pub(crate) fn limit_outflows(net: &Network, slots: &mut [f64], step: Option<f64>) {
    for s in &net.limited {
        let level = at_least_zero(slots[s.slot as usize]);
        let (inflow, outflow) = net.in_out(slots, s);
        let available = match step {
            Some(h) => level / h + inflow,
            None if level <= 0.0 => inflow,
            None => f64::INFINITY,
        };
        if outflow > available && outflow > 0.0 {
            let factor = at_least_zero(available) / outflow;
            for &f in net.outflows(s) {
                slots[f as usize] *= factor;
            }
        }
    }
}

/// Net rate of change of every stock: inflows − outflows (call [`limit_outflows`] first).
pub(crate) fn net_rates(net: &Network, slots: &[f64], out: &mut [f64]) {
    for (o, s) in out.iter_mut().zip(&net.stocks) {
        let (inflow, outflow) = net.in_out(slots, s);
        *o = inflow - outflow;
    }
}

#[cfg(test)]
mod tests {
    use super::saved_rows;

    #[test]
    fn saved_rows_counts_every_save_step_and_the_last_step() {
        assert_eq!(saved_rows(10, 1), 11); // 0, 1, …, 10
        assert_eq!(saved_rows(10, 4), 4); // 0, 4, 8 and the last, 10
        assert_eq!(saved_rows(12, 4), 4); // 0, 4, 8, 12
        assert_eq!(saved_rows(3, 5), 2); // 0 and the last, 3
    }
}
