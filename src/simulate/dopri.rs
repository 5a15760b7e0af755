//! Adaptive Dormand–Prince 5(4) through `ode_solvers`.
//!
//! ode_solvers 0.6.2's *dense* output has a bug: after any accepted step that ends within one
//! output interval of `x_end`, its "ensure the last point" branch pushes a value at `x_end`
//! extrapolated from that step (theta > 1), and the true final value is then never written.
//! We never use that path: we ask for the solver's *continuous output model* (the same
//! 4th-order interpolant, stored per step) and evaluate it ourselves at each save time; the final
//! time is taken from the last accepted step, which the solver clips to end exactly at `stop`.

use std::cell::RefCell;

use ode_solvers::dop_shared::{IntegrationError, OutputType, System};
use ode_solvers::{DVector, Dopri5, continuous_output_model::ContinuousOutputModel};

use super::network::Network;
use super::{ScheduleSet, Sim, apply_schedules, limit_outflows, net_rates};
use crate::diagnostics::Diagnostic;
use crate::vm::{Program, State};

struct Ode<'a> {
    p: &'a Program,
    net: &'a Network,
    schedules: &'a ScheduleSet,
    base: &'a [f64],
    state: &'a RefCell<State>,
    dt: f64,
    /// The first evaluation failure; the solver is stopped at its next accepted step.
    error: &'a RefCell<Option<Diagnostic>>,
}

impl System<f64, DVector<f64>> for Ode<'_> {
    fn system(&self, t: f64, y: &DVector<f64>, dy: &mut DVector<f64>) {
        let mut state = self.state.borrow_mut();
        for (&s, &v) in self.net.stock_slots.iter().zip(y.iter()) {
            state.slots[s as usize] = v;
        }
        if self.error.borrow().is_some() {
            dy.fill(0.0);
            return;
        }
        let evaluated = apply_schedules(self.p, self.schedules, self.base, &mut state, t, self.dt)
            .and_then(|_| self.p.eval_flows(&mut state, t, self.dt));
        if let Err(fault) = evaluated {
            *self.error.borrow_mut() = Some(fault.to_diagnostic(self.p, t));
            dy.fill(0.0);
            return;
        }
        limit_outflows(self.net, &mut state.slots, None);
        net_rates(self.net, &state.slots, dy.as_mut_slice());
    }

    fn solout(&mut self, _t: f64, _y: &DVector<f64>, _dy: &DVector<f64>) -> bool {
        self.error.borrow().is_some()
    }
}

pub(crate) fn run(sim: &mut Sim) -> Result<(), Diagnostic> {
    let time = sim.time.clone();
    let n = sim.p.stocks.len();
    let mut y0 = vec![0.0; n];
    sim.stock_values(&mut y0);
    let save_times = save_times(time.start, time.stop, time.save_step);

    // A model without stocks has nothing to integrate: evaluate at each save time.
    if n == 0 {
        for &t in &save_times {
            sim.eval_flows(t)?;
            sim.record(t);
        }
        return Ok(());
    }

    let state = RefCell::new(std::mem::replace(&mut sim.state, sim.p.new_state()));
    let error = RefCell::new(None);
    let base = sim.base.clone();
    let ode = Ode {
        p: sim.p,
        net: sim.net,
        schedules: sim.schedules,
        base: &base,
        state: &state,
        dt: time.dt,
        error: &error,
    };
    let span = time.stop - time.start;
    let mut solver = Dopri5::from_param(
        ode,
        time.start,
        time.stop,
        time.save_step,
        DVector::from_vec(y0),
        time.rtol,
        time.atol,
        0.9,                      // safety factor (ode_solvers default)
        0.04,                     // beta (default)
        0.2,                      // minimum step-size factor (default)
        10.0,                     // maximum step-size factor (default)
        time.save_step.min(span), // maximum step: never step over a whole save interval
        0.0,                      // initial step: chosen by the solver
        10_000_000,               // maximum number of steps
        1000,                     // stiffness test interval (default)
        OutputType::Continuous,
    );
    let mut continuous = ContinuousOutputModel::default();
    let outcome = solver.integrate_with_continuous_output_model(&mut continuous);
    let last = match (solver.x_out().last(), solver.y_out().last()) {
        (Some(&t), Some(y)) => Some((t, y.clone())),
        _ => None,
    };
    drop(solver);
    sim.state = state.into_inner();
    if let Some(d) = error.into_inner() {
        return Err(d);
    }
    if let Err(e) = outcome {
        return Err(solver_error(e, &time));
    }
    let Some((last_t, last_y)) = last else {
        return Err(Diagnostic::error("dopri5 produced no steps"));
    };
    let mut y = vec![0.0; n];
    let mut rates = vec![0.0; n];
    for &t in &save_times {
        let tolerance = 1e-9 * span.max(1.0);
        if t >= last_t - tolerance {
            y.copy_from_slice(last_y.as_slice());
        } else {
            match continuous.evaluate(t) {
                Some(v) => y.copy_from_slice(v.as_slice()),
                None => {
                    return Err(Diagnostic::error(format!(
                        "dopri5 has no solution at time {t}"
                    )));
                }
            }
        }
        let finite = sim.set_stocks(&y);
        sim.check_stocks(t, finite)?;
        sim.eval_flows(t)?;
        sim.derivatives(None, &mut rates, None);
        sim.record(t);
    }
    Ok(())
}

/// start, start + save_step, ..., and stop itself.
fn save_times(start: f64, stop: f64, step: f64) -> Vec<f64> {
    let n = ((stop - start) / step + 1e-9).floor() as usize;
    let mut times: Vec<f64> = (0..=n).map(|k| start + k as f64 * step).collect();
    if let Some(&last) = times.last() {
        if stop - last > 1e-9 * step {
            times.push(stop);
        } else if let Some(l) = times.last_mut() {
            *l = stop;
        }
    }
    times
}

fn solver_error(e: IntegrationError, time: &crate::model::TimeSettings) -> Diagnostic {
    let (what, help) = match e {
        IntegrationError::MaxNumStepReached { x, n_step } => (
            format!("dopri5 gave up at time {x} after {n_step} steps"),
            "the model changes too fast for the tolerances; loosen rtol/atol or use rk4 with a small dt",
        ),
        IntegrationError::StepSizeUnderflow { x } => (
            format!("dopri5's step size underflowed at time {x}"),
            "the model may have a discontinuity or a singularity there; try rk4 with a small dt",
        ),
        IntegrationError::StiffnessDetected { x } => (
            format!("dopri5 found the model stiff at time {x}"),
            "a very fast process sits beside slow ones; use rk4 or euler with a dt below the fastest time constant",
        ),
    };
    Diagnostic::error(format!("{what} (rtol {}, atol {})", time.rtol, time.atol)).help(help)
}

#[cfg(test)]
mod tests {
    use super::save_times;

    #[test]
    fn save_times_end_exactly_at_stop() {
        assert_eq!(save_times(0.0, 1.0, 0.25), vec![0.0, 0.25, 0.5, 0.75, 1.0]);
        assert_eq!(
            save_times(0.0, 1.0, 0.3),
            vec![0.0, 0.3, 0.6, 0.8999999999999999, 1.0]
        );
        let t = save_times(2020.0, 2030.0, 0.1);
        assert_eq!(t.len(), 101);
        assert_eq!(*t.last().unwrap(), 2030.0);
    }
}
