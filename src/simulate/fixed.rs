//! Fixed-step integration: Euler and classic fourth-order Runge–Kutta.

use super::delay_lines::DelayLines;
use super::{Sim, saved_rows};
use crate::diagnostics::Diagnostic;
use crate::model::Method;
use crate::native::NativeCode;
use crate::native::euler::{self, StepLoop};

/// Stability bound on dt·λ for a decaying stock: Euler 1 (beyond it the stock overshoots
/// below zero in one step), RK4 ≈ 2.785 (the real-axis limit of its stability region).
const EULER_BOUND: f64 = 1.0;
const RK4_BOUND: f64 = 2.785;

pub(crate) fn run(sim: &mut Sim) -> Result<(), Diagnostic> {
    let t0 = sim.time.start;
    let dt = sim.time.dt;
    let steps = ((sim.time.stop - t0) / dt).round() as u64;
    let save_every = (sim.time.save_step / dt).round().max(1.0) as u64;
    let rk4 = sim.time.method == Method::Rk4;
    let program = sim.p;
    if !rk4
        && program.previous.is_empty()
        && program.fixed_delays.is_empty()
        && let Some(native) = program.native.as_deref()
    {
        return run_native_euler(sim, native, steps, save_every);
    }
    let bound = if rk4 { RK4_BOUND } else { EULER_BOUND };
    let n = sim.p.stocks.len();
    // Work buffers, allocated once per run (Euler needs only the rates).
    let mut k1 = vec![0.0; n];
    let rk4_buffer = || vec![0.0; if rk4 { n } else { 0 }];
    let (mut y0, mut k2, mut k3, mut k4, mut stage) = (
        rk4_buffer(),
        rk4_buffer(),
        rk4_buffer(),
        rk4_buffer(),
        rk4_buffer(),
    );
    let mut pending_previous = vec![0.0; sim.p.previous.len()];
    let mut delay_lines = DelayLines::new(sim, steps)?;
    let rows = saved_rows(steps, save_every);
    sim.times.reserve_exact(rows);
    sim.values.reserve_exact(rows * sim.p.columns.len());

    // Steps until the next saved row (every `save_every`-th step, and the last).
    let mut until_save = 0;
    for k in 0..=steps {
        let t = t0 + k as f64 * dt;
        sim.eval_flows(t)?;
        sim.derivatives(Some(dt), &mut k1, Some((t, bound)));
        if until_save == 0 || k == steps {
            sim.record(t);
            until_save = save_every;
        }
        until_save -= 1;
        if k == steps {
            break;
        }
        for (p, &(_, src)) in pending_previous.iter_mut().zip(&sim.p.previous) {
            *p = sim.state.slots[src as usize];
        }
        delay_lines.push(&sim.p.fixed_delays, &sim.state.slots, k);
        let finite = if rk4 {
            sim.stock_values(&mut y0);
            let half = 0.5 * dt;
            axpy(&mut stage, &y0, half, &k1);
            sim.set_stocks(&stage);
            sim.eval_flows(t + half)?;
            sim.derivatives(Some(dt), &mut k2, None);
            axpy(&mut stage, &y0, half, &k2);
            sim.set_stocks(&stage);
            sim.eval_flows(t + half)?;
            sim.derivatives(Some(dt), &mut k3, None);
            axpy(&mut stage, &y0, dt, &k3);
            sim.set_stocks(&stage);
            sim.eval_flows(t + dt)?;
            sim.derivatives(Some(dt), &mut k4, None);
            for i in 0..n {
                stage[i] = y0[i] + dt / 6.0 * (k1[i] + 2.0 * k2[i] + 2.0 * k3[i] + k4[i]);
            }
            sim.set_stocks(&stage)
        } else {
            // Euler, in place: the same `y + dt·k` as through the work buffers.
            sim.euler_step(dt, &k1)
        };
        for (p, &(prev, _)) in pending_previous.iter().zip(&sim.p.previous) {
            sim.state.slots[prev as usize] = *p;
        }
        delay_lines.release(&sim.p.fixed_delays, &mut sim.state.slots, k);
        sim.check_stocks(t0 + (k + 1) as f64 * dt, finite)?;
    }
    Ok(())
}

/// Euler with each step but the last in native code (`native::euler`): without schedules
/// the steps run in a native loop, with them one native call per step after the schedules
/// are set. The same values as the loop in [`run`]. The native step hands a step back
/// unfinished when it has something to report (a non-finite value, a possible stability
/// warning): this finishes it as `run` would. PREVIOUS and fixed delays are not supported by
/// the native step (`run` does not call this for them).
fn run_native_euler(
    sim: &mut Sim,
    native: &NativeCode,
    steps: u64,
    save_every: u64,
) -> Result<(), Diagnostic> {
    let (t0, dt) = (sim.time.start, sim.time.dt);
    let width = sim.p.columns.len();
    let mut rates = vec![0.0; sim.p.stocks.len()];
    let rows = saved_rows(steps, save_every);
    sim.times.reserve_exact(rows);
    sim.values.reserve_exact(rows * width);
    // Without schedules, the steps run in a loop in native code, which hands back only a
    // step it cannot finish; with them, each step is one call after the schedules are set.
    let looping = sim.schedules.is_empty();
    let mut until_save = 0;
    let mut k = 0;
    while k < steps {
        // The outcome of step `k` when the loop made it and handed it back unfinished.
        let mut handed_back = None;
        if looping {
            let mut run =
                StepLoop::new((k, steps), (until_save, save_every), (t0, dt), EULER_BOUND);
            let outcome = native.euler_steps(
                &mut sim.state.slots,
                &mut run,
                &mut sim.values,
                &mut sim.times,
                &mut rates,
            );
            (k, until_save) = (run.k, run.until_save);
            if outcome == euler::STEPPED {
                break;
            }
            handed_back = Some(outcome);
        }
        let t = t0 + k as f64 * dt;
        let next = t0 + (k + 1) as f64 * dt;
        k += 1;
        sim.apply_schedules(t)?;
        let save = until_save == 0;
        if save {
            until_save = save_every;
        }
        until_save -= 1;
        let outcome = handed_back.unwrap_or_else(|| {
            // The row is written in place, after the saved ones (the room was reserved
            // above), as the loop does.
            let row = save.then(|| &mut sim.values.spare_capacity_mut()[..width]);
            native.euler_step(&mut sim.state.slots, t, dt, EULER_BOUND, row, &mut rates)
        });
        match outcome {
            euler::STEPPED | euler::STOCK_NOT_FINITE => {
                if save {
                    sim.times.push(t);
                    let saved = sim.values.len() + width;
                    // SAFETY: the native step wrote the `width` values after the end, within
                    // the capacity (`spare_capacity_mut()[..width]` checked there was room).
                    unsafe { sim.values.set_len(saved) };
                }
                if outcome == euler::STOCK_NOT_FINITE {
                    sim.non_finite_stock(next)?;
                }
            }
            euler::UNSTABLE => {
                // Outflows limited and rates computed: the rest of `run`'s step.
                sim.check_stability(t, EULER_BOUND, &rates);
                if save {
                    sim.record(t);
                }
                let finite = sim.euler_step(dt, &rates);
                sim.check_stocks(next, finite)?;
            }
            _ => {
                // A flow was not finite: the interpreter finds it and explains it. (Had it not
                // failed, the step would go on as in `run`.)
                sim.eval_assignments(t)?;
                sim.derivatives(Some(dt), &mut rates, Some((t, EULER_BOUND)));
                if save {
                    sim.record(t);
                }
                let finite = sim.euler_step(dt, &rates);
                sim.check_stocks(next, finite)?;
            }
        }
    }
    let t = t0 + steps as f64 * dt;
    sim.eval_flows(t)?;
    sim.derivatives(Some(dt), &mut rates, Some((t, EULER_BOUND)));
    sim.record(t);
    Ok(())
}

/// `out = y + h·k`
#[inline]
fn axpy(out: &mut [f64], y: &[f64], h: f64, k: &[f64]) {
    for ((o, &y), &k) in out.iter_mut().zip(y).zip(k) {
        *o = y + h * k;
    }
}
