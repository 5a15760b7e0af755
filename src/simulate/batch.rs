//! Batch simulation: [`LANES`] runs of one program (different constants, same time settings and
//! schedules) integrated together, every op of the bytecode evaluated over the lanes at once
//! (structure of arrays: `slots[slot][lane]`). This is how Monte Carlo runs: the interpreter's
//! dispatch is paid once per batch instead of once per run, and the loops over lanes vectorise.
//! With native code, each Euler step of a pair of lanes is one call of `native::euler`'s
//! lane-pair function (`Batch::run_native_euler`); RK4 uses the native flows per pair.
//!
//! Each lane's results are bit-identical to [`simulate_with`] on the same inputs (same
//! operations in the same order; tests/batch.rs checks it), so batching changes no output and
//! the thread count still does not matter. Fixed-step methods only: dopri5 runs each lane on
//! its own, and so does a model with a fixed (pipeline) delay (a ring buffer per run). A lane
//! whose run fails (a non-finite value) is re-run on its own, which gives exactly the scalar
//! error. Batch runs report no warnings (the scalar run of the same inputs
//! has them: a scenario takes its warnings from run 0, which runs on its own).

use super::network::{Network, StockFlows, at_least_zero};
use super::schedule::Steady;
use super::{Results, ScheduleSet, Sim, Simulator, saved_rows, validate_time};
use crate::diagnostics::Diagnostic;
use crate::model::{Method, TimeSettings};
use crate::native::NativeCode;
use crate::vm::{BatchState, LANES, Lanes, Program};

/// Run `program` once per entry of `overrides` (at most [`LANES`]), all with `time` and
/// `schedules`. Returns one result per entry, in order.
pub fn simulate_batch(
    program: &Program,
    time: &TimeSettings,
    overrides: &[Vec<(u32, f64)>],
    schedules: &ScheduleSet,
) -> Vec<Result<Results, Diagnostic>> {
    Simulator::new(program).run_batch(time, overrides, schedules)
}

impl Simulator<'_> {
    /// [`run_batch`](Self::run_batch) of several arms that share their `overrides` (one
    /// result vector per arm, in `arms` order), bit for bit. An arm whose schedules change
    /// nothing at the start begins from the same state after the initial phase as a run
    /// without schedules, so the phase runs once for all such arms (a Monte Carlo run's
    /// baseline and an intervention that starts later); other arms run on their own.
    pub fn run_batch_arms(
        &self,
        time: &TimeSettings,
        overrides: &[Vec<(u32, f64)>],
        arms: &[&ScheduleSet],
    ) -> Vec<Vec<Result<Results, Diagnostic>>> {
        let program = self.program;
        let shares_start = |schedules: &ScheduleSet| {
            schedules.is_empty()
                || (schedules.steady_at(time.start) == Some(Steady::Before)
                    && (schedules.schedules.iter())
                        .all(|s| program.built_in.binary_search(&s.slot).is_err()))
        };
        if !batchable(program, time, overrides.len()) || validate_time(program, time).is_err() {
            return arms
                .iter()
                .map(|schedules| self.run_batch(time, overrides, schedules))
                .collect();
        }
        let no_schedules = ScheduleSet::default();
        let shared: Vec<bool> = arms.iter().map(|s| shares_start(s)).collect();
        let last_shared = shared.iter().rposition(|&s| s);
        let mut start: Option<Batch> = None;
        (arms.iter().zip(shared).enumerate())
            .map(|(a, (&schedules, shared))| {
                if !shared {
                    return self.run_batch(time, overrides, schedules);
                }
                let start = start.get_or_insert_with(|| {
                    Batch::new(
                        program,
                        &self.prepared.network,
                        time,
                        &no_schedules,
                        overrides,
                    )
                });
                // The last arm that shares the start takes it; the others copy it.
                let mut batch = start.restart_with(schedules, Some(a) != last_shared);
                batch.run();
                self.results(time, overrides, schedules, batch)
            })
            .collect()
    }

    /// [`simulate_batch`] with this simulator's prepared program.
    pub fn run_batch(
        &self,
        time: &TimeSettings,
        overrides: &[Vec<(u32, f64)>],
        schedules: &ScheduleSet,
    ) -> Vec<Result<Results, Diagnostic>> {
        assert!(overrides.len() <= LANES, "a batch has at most {LANES} runs");
        let program = self.program;
        let scalar = |o: &Vec<(u32, f64)>| self.run(time, o, schedules);
        if !batchable(program, time, overrides.len()) {
            return overrides.iter().map(scalar).collect();
        }
        if let Err(d) = validate_time(program, time) {
            return overrides.iter().map(|_| Err(d.clone())).collect();
        }
        let mut batch = Batch::new(program, &self.prepared.network, time, schedules, overrides);
        batch.run();
        self.results(time, overrides, schedules, batch)
    }

    /// The results of a batch that has run: per lane, its saved rows, or its initial phase's
    /// error, or (for a lane that failed on the way) the run made on its own, which says why.
    fn results(
        &self,
        time: &TimeSettings,
        overrides: &[Vec<(u32, f64)>],
        schedules: &ScheduleSet,
        batch: Batch,
    ) -> Vec<Result<Results, Diagnostic>> {
        let scalar = |o: &Vec<(u32, f64)>| self.run(time, o, schedules);
        let Batch {
            lanes,
            rows,
            failed,
            ..
        } = batch;
        overrides
            .iter()
            .zip(lanes.into_iter().zip(rows))
            .enumerate()
            .map(|(l, (o, (init, values)))| match init {
                Err(d) => Err(d),
                Ok(()) if failed & (1 << l) != 0 => scalar(o),
                Ok(()) => Ok(Results {
                    columns: self.prepared.columns.clone(),
                    times: batch.times.clone(),
                    values,
                    warnings: Vec::new(),
                }),
            })
            .collect()
    }
}

/// Whether runs of `program` over `time` can be batched: not with dopri5 (adaptive steps
/// differ per run), nor with fixed (pipeline) delays (a ring buffer per run), nor for one run.
fn batchable(program: &Program, time: &TimeSettings, runs: usize) -> bool {
    time.method != Method::Dopri5 && program.fixed_delays.is_empty() && runs >= 2
}

struct Batch<'p> {
    p: &'p Program,
    net: &'p Network,
    schedules: &'p ScheduleSet,
    time: TimeSettings,
    state: BatchState,
    /// Per lane: each scheduled constant's own value (see `Sim::initialize`).
    base: Vec<Vec<f64>>,
    /// The steady stretch the schedules were last applied in, if they were: applying them
    /// again in it would change nothing.
    schedules_applied: Option<Steady>,
    /// Per lane: whether its initial phase succeeded.
    lanes: Vec<Result<(), Diagnostic>>,
    /// Lanes in use (bit per lane) that have not failed.
    active: u32,
    /// Lanes that produced a non-finite value.
    failed: u32,
    times: Vec<f64>,
    /// Per lane: saved rows, row-major.
    rows: Vec<Vec<f64>>,
}

impl<'p> Batch<'p> {
    /// The initial phase runs lane by lane, exactly as a single run's (it runs once per run;
    /// the time steps are what batching is for).
    fn new(
        p: &'p Program,
        net: &'p Network,
        time: &TimeSettings,
        schedules: &'p ScheduleSet,
        overrides: &[Vec<(u32, f64)>],
    ) -> Batch<'p> {
        let mut state = p.new_batch_state();
        let mut base = vec![Vec::new(); LANES];
        let mut lanes = Vec::with_capacity(overrides.len());
        let mut active = 0;
        for (l, o) in overrides.iter().enumerate() {
            let mut sim = Sim::new(p, net, time, schedules);
            let init = sim.initialize(o);
            if init.is_ok() {
                active |= 1 << l;
                for (lanes, &v) in state.slots.iter_mut().zip(&sim.state.slots) {
                    lanes[l] = v;
                }
                base[l] = sim.base;
            }
            lanes.push(init);
        }
        // Lanes without a run (unused, or whose initial phase failed) repeat the first started
        // lane's values, schedule bases included, so that every lane computes on valid
        // numbers; their results are dropped.
        if let Some(donor) = (0..overrides.len()).find(|l| active & (1 << l) != 0) {
            for l in (0..LANES).filter(|l| active & (1 << l) == 0) {
                for slot in &mut state.slots {
                    slot[l] = slot[donor];
                }
                base[l] = base[donor].clone();
            }
        }
        Batch {
            p,
            net,
            schedules,
            time: time.clone(),
            state,
            base,
            schedules_applied: None,
            lanes,
            active,
            failed: 0,
            times: Vec::new(),
            rows: vec![Vec::new(); overrides.len()],
        }
    }

    /// A batch that starts where this one (made without schedules, not yet run) starts, with
    /// `schedules`, which must change nothing at the start (as
    /// [`Simulator::run_batch_arms`] checks): each scheduled constant's own value is its
    /// value in the initialized state, as `Sim::initialize` would record it.
    /// Its state is copied if `copy`, else moved out (leaving this batch unusable).
    fn restart_with<'s>(&mut self, schedules: &'s ScheduleSet, copy: bool) -> Batch<'s>
    where
        'p: 's,
    {
        debug_assert!(self.schedules.is_empty() && self.times.is_empty());
        let base = (0..LANES)
            .map(|l| {
                (schedules.schedules.iter())
                    .map(|s| self.state.slots[s.slot as usize][l])
                    .collect()
            })
            .collect();
        Batch {
            p: self.p,
            net: self.net,
            schedules,
            time: self.time.clone(),
            state: if copy {
                self.state.clone()
            } else {
                std::mem::replace(&mut self.state, BatchState::empty())
            },
            base,
            schedules_applied: None,
            lanes: self.lanes.clone(),
            active: self.active,
            failed: 0,
            times: Vec::new(),
            rows: vec![Vec::new(); self.rows.len()],
        }
    }

    /// `Sim::eval_flows` over lanes.
    fn eval_flows(&mut self, t: f64) {
        self.apply_schedules(t);
        // Lanes that failed or hold no run are not evaluated natively (their results are
        // dropped; a failed lane is re-run on its own for the message).
        self.failed |=
            self.p
                .eval_flows_batch(&mut self.state, self.active & !self.failed, t, self.time.dt);
    }

    /// `Sim::apply_schedules` over lanes. Skipped while the schedules stay in the steady
    /// stretch they were last applied in (most steps: a budget ramp changes values over a few
    /// years of a run's decades), where it would leave every value as it is.
    #[inline(always)]
    fn apply_schedules(&mut self, t: f64) {
        let steady = self.schedules.steady_at(t);
        if steady.is_some() && steady == self.schedules_applied {
            return;
        }
        self.schedules_applied = steady;
        self.set_scheduled_values(t);
    }

    /// Sets every scheduled constant of every lane to its value at `t`, and recomputes its
    /// dependents if a value changed.
    #[inline(never)]
    fn set_scheduled_values(&mut self, t: f64) {
        let dt = self.time.dt;
        if !self.schedules.is_empty() {
            // As `apply_schedules`: the dependents are recomputed only when a value changed.
            let mut changed = false;
            for (k, s) in self.schedules.schedules.iter().enumerate() {
                let scheduled = s.value_at(t);
                let values = &mut self.state.slots[s.slot as usize];
                for (l, v) in values.iter_mut().enumerate() {
                    let value = scheduled.unwrap_or(self.base[l][k]);
                    changed |= v.to_bits() != value.to_bits();
                    *v = value;
                }
            }
            if changed {
                self.failed |=
                    self.p
                        .eval_batch(&self.schedules.dependents, &mut self.state, t, dt);
            }
        }
    }

    /// `Sim::derivatives` over lanes: `out[stock][lane]`. Per lane, the same operations
    /// in the same order (sums folded from the same neutral value), so the same bits.
    fn derivatives(&mut self, out: &mut [Lanes]) {
        let net = self.net;
        let slots = &mut self.state.slots;
        let h = self.time.dt;
        for s in &net.limited {
            let level = slots[s.slot as usize];
            let inflow = lane_sum(slots, net.inflows(s));
            let outflow = lane_sum(slots, net.outflows(s));
            let available: Lanes = std::array::from_fn(|l| at_least_zero(level[l]) / h + inflow[l]);
            for l in 0..LANES {
                let available = available[l];
                if outflow[l] > available && outflow[l] > 0.0 {
                    let factor = at_least_zero(available) / outflow[l];
                    for &f in net.outflows(s) {
                        slots[f as usize][l] *= factor;
                    }
                }
            }
        }
        for (o, s) in out.iter_mut().zip(&net.stocks) {
            *o = lane_rate(slots, net, s);
        }
    }

    fn record(&mut self, t: f64) {
        self.times.push(t);
        let slots = &mut self.state.slots;
        for &(slot, source) in &self.p.copies {
            slots[slot as usize] = slots[source as usize];
        }
        for (l, row) in self.rows.iter_mut().enumerate() {
            row.extend(self.net.columns.iter().map(|&c| slots[c as usize][l]));
        }
    }

    fn stock_values(&self, out: &mut [Lanes]) {
        for (v, &s) in out.iter_mut().zip(&self.net.stock_slots) {
            *v = self.state.slots[s as usize];
        }
    }

    fn set_stocks(&mut self, values: &[Lanes]) {
        for (v, &s) in values.iter().zip(&self.net.stock_slots) {
            self.state.slots[s as usize] = *v;
        }
    }

    /// `Sim::check_stocks` over lanes: clamp non-negative stocks; a non-finite stock fails its
    /// lane.
    fn check_stocks(&mut self) {
        let slots = &mut self.state.slots;
        for &s in &self.net.clamped {
            let v = &mut slots[s as usize];
            *v = std::array::from_fn(|l| if v[l] < 0.0 { 0.0 } else { v[l] });
        }
        let mut finite = [true; LANES];
        for &s in &self.net.stock_slots {
            for (ok, v) in finite.iter_mut().zip(&slots[s as usize]) {
                *ok &= v.is_finite();
            }
        }
        for (l, ok) in finite.iter().enumerate() {
            if !ok {
                self.failed |= 1 << l;
            }
        }
    }

    /// `fixed::run` over lanes (without the stability warnings).
    fn run(&mut self) {
        let t0 = self.time.start;
        let dt = self.time.dt;
        let steps = ((self.time.stop - t0) / dt).round() as u64;
        let save_every = (self.time.save_step / dt).round().max(1.0) as u64;
        let rk4 = self.time.method == Method::Rk4;
        let n = self.p.stocks.len();
        let per_lane = || vec![[0.0; LANES]; n];
        let mut k1 = per_lane();
        let rows = saved_rows(steps, save_every);
        self.times.reserve_exact(rows);
        for row in &mut self.rows {
            row.reserve_exact(rows * self.p.columns.len());
        }
        let program = self.p;
        if !rk4
            && program.previous.is_empty()
            && let Some(native) = program.native.as_deref()
        {
            self.run_native_euler(native, steps, save_every, &mut k1);
            return;
        }
        let (mut y0, mut k2, mut k3, mut k4, mut stage) =
            (per_lane(), per_lane(), per_lane(), per_lane(), per_lane());
        let mut pending_previous = vec![[0.0; LANES]; self.p.previous.len()];
        let mut until_save = 0;
        for k in 0..=steps {
            // Every lane has failed: nothing left to compute (they are re-run on their own).
            if self.active & !self.failed == 0 {
                return;
            }
            let t = t0 + k as f64 * dt;
            self.eval_flows(t);
            self.derivatives(&mut k1);
            if until_save == 0 || k == steps {
                self.record(t);
                until_save = save_every;
            }
            until_save -= 1;
            if k == steps {
                break;
            }
            for (p, &(_, src)) in pending_previous.iter_mut().zip(&self.p.previous) {
                *p = self.state.slots[src as usize];
            }
            if rk4 {
                self.stock_values(&mut y0);
                let half = 0.5 * dt;
                axpy(&mut stage, &y0, half, &k1);
                self.set_stocks(&stage);
                self.eval_flows(t + half);
                self.derivatives(&mut k2);
                axpy(&mut stage, &y0, half, &k2);
                self.set_stocks(&stage);
                self.eval_flows(t + half);
                self.derivatives(&mut k3);
                axpy(&mut stage, &y0, dt, &k3);
                self.set_stocks(&stage);
                self.eval_flows(t + dt);
                self.derivatives(&mut k4);
                for i in 0..n {
                    stage[i] = std::array::from_fn(|l| {
                        y0[i][l]
                            + dt / 6.0 * (k1[i][l] + 2.0 * k2[i][l] + 2.0 * k3[i][l] + k4[i][l])
                    });
                }
                self.set_stocks(&stage);
            } else {
                // Euler, in place: the same `y + dt·k` as through the work buffers.
                for (k, &s) in k1.iter().zip(&self.net.stock_slots) {
                    let v = &mut self.state.slots[s as usize];
                    *v = std::array::from_fn(|l| v[l] + dt * k[l]);
                }
            }
            for (p, &(prev, _)) in pending_previous.iter().zip(&self.p.previous) {
                self.state.slots[prev as usize] = *p;
            }
            self.check_stocks();
        }
    }
}

impl Batch<'_> {
    /// Euler with each step but the last in one native call per lane pair
    /// (`native::euler`): `run`'s Euler loop, with the same values. Pairs whose lanes have
    /// all failed (or hold no run) are not stepped. `rates`: a work buffer, one per stock
    /// (also the native step's scratch room).
    fn run_native_euler(
        &mut self,
        native: &NativeCode,
        steps: u64,
        save_every: u64,
        rates: &mut [Lanes],
    ) {
        let (t0, dt) = (self.time.start, self.time.dt);
        let width = self.p.columns.len();
        // Where the row of a lane without a run goes (the pair's code writes both lanes); only
        // a batch with fewer runs than lanes has one.
        let spare = if self.rows.len() < LANES { width } else { 0 };
        let mut scratch = [(); 2].map(|_| vec![std::mem::MaybeUninit::<f64>::uninit(); spare]);
        let mut until_save = 0;
        for k in 0..steps {
            let live = self.active & !self.failed;
            if live == 0 {
                return;
            }
            let t = t0 + k as f64 * dt;
            self.apply_schedules(t);
            let save = until_save == 0;
            if save {
                until_save = save_every;
                self.times.push(t);
            }
            until_save -= 1;
            for first in (0..LANES).step_by(2).filter(|l| live & (3 << l) != 0) {
                let failed = if save {
                    let [spare_a, spare_b] = &mut scratch;
                    let mut lane_rows = (self.rows.iter_mut().skip(first).take(2))
                        .map(|r| &mut r.spare_capacity_mut()[..width]);
                    let a = lane_rows.next().unwrap_or(&mut spare_a[..]);
                    let b = lane_rows.next().unwrap_or(&mut spare_b[..]);
                    let rows = Some([a, b]);
                    native.euler_lane_pair(&mut self.state.slots, first, t, dt, rows, rates)
                } else {
                    native.euler_lane_pair(&mut self.state.slots, first, t, dt, None, rates)
                };
                self.failed |= (failed << first) & self.active;
                if save {
                    for row in self.rows.iter_mut().skip(first).take(2) {
                        let saved = row.len() + width;
                        // SAFETY: the native step wrote `width` values after the row's end,
                        // within its capacity (`spare_capacity_mut()[..width]` checked it).
                        unsafe { row.set_len(saved) };
                    }
                }
            }
        }
        let t = t0 + steps as f64 * dt;
        self.eval_flows(t);
        self.derivatives(rates);
        self.record(t);
    }
}

/// `out = y + h·k`, per stock and lane.
fn axpy(out: &mut [Lanes], y: &[Lanes], h: f64, k: &[Lanes]) {
    for ((o, y), k) in out.iter_mut().zip(y).zip(k) {
        *o = std::array::from_fn(|l| y[l] + h * k[l]);
    }
}

/// `network::sum` over lanes: per lane, the same additions in the same order.
#[inline]
fn lane_sum(slots: &[Lanes], flows: &[u32]) -> Lanes {
    let neutral: f64 = std::iter::empty::<f64>().sum();
    let mut acc = [neutral; LANES];
    for &f in flows {
        for (a, v) in acc.iter_mut().zip(&slots[f as usize]) {
            *a += v;
        }
    }
    acc
}

/// A stock's net rate (inflows − outflows) per lane.
#[inline]
fn lane_rate(slots: &[Lanes], net: &Network, s: &StockFlows) -> Lanes {
    let (inflow, outflow) = (
        lane_sum(slots, net.inflows(s)),
        lane_sum(slots, net.outflows(s)),
    );
    std::array::from_fn(|l| inflow[l] - outflow[l])
}
