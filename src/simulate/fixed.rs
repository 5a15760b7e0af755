//! Fixed-step integration: Euler and classic fourth-order Runge–Kutta.

use super::delay_lines::DelayLines;
use super::{Sim, saved_rows};
use crate::diagnostics::Diagnostic;
use crate::model::Method;

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

/// `out = y + h·k`
#[inline]
fn axpy(out: &mut [f64], y: &[f64], h: f64, k: &[f64]) {
    for ((o, &y), &k) in out.iter_mut().zip(y).zip(k) {
        *o = y + h * k;
    }
}
