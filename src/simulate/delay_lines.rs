//! DELAY FIXED (XMILE's pipeline DELAY): one ring buffer of the input per delay, advanced once
//! per time step. The delay time is read once, after the initial phase, and rounded to a whole
//! number of steps `n` (at least 1: a shorter delay acts as one step, as in Vensim); the output
//! at step `k` is the input at step `k − n` (the initial value while `k < n`). Buffers are allocated once per run, so the step loop does not allocate.

use super::Sim;
use crate::diagnostics::Diagnostic;
use crate::vm::FixedDelay;

pub(crate) struct DelayLines {
    /// (first index in `buffer`, length in steps) of each delay, in `Program::fixed_delays` order.
    lines: Vec<(usize, usize)>,
    buffer: Vec<f64>,
}

impl DelayLines {
    /// Size every line from its delay time and fill it with the delay's initial value. `steps`
    /// is the number of steps in the run: a longer delay never releases anything, so its line
    /// is capped at `steps + 1`.
    pub fn new(sim: &Sim, steps: u64) -> Result<DelayLines, Diagnostic> {
        let dt = sim.time.dt;
        let mut lines = Vec::with_capacity(sim.p.fixed_delays.len());
        let mut buffer = Vec::new();
        for d in &sim.p.fixed_delays {
            let time = sim.state.slots[d.delay_time as usize];
            if !(time >= 0.0 && time.is_finite()) {
                let meta = &sim.p.slot_meta[d.delay_time as usize];
                return Err(Diagnostic::error(format!(
                    "the delay time of DELAY FIXED is {time}; it must be a finite number ≥ 0"
                ))
                .at(meta.loc)
                .help("a fixed delay returns its input from `delay time` ago: give a duration"));
            }
            // As in Vensim, a delay shorter than one step acts as one step.
            let n = (time / dt).round().max(1.0);
            let len = (n as u64).min(steps + 1) as usize;
            lines.push((buffer.len(), len));
            let init = sim.state.slots[d.output as usize];
            buffer.extend(std::iter::repeat_n(init, len));
        }
        Ok(DelayLines { lines, buffer })
    }

    /// Store the inputs of step `k` (call after evaluating at step `k`, before the stocks move).
    #[inline]
    pub fn push(&mut self, delays: &[FixedDelay], slots: &[f64], k: u64) {
        for (d, &(start, len)) in delays.iter().zip(&self.lines) {
            self.buffer[start + (k % len as u64) as usize] = slots[d.input as usize];
        }
    }

    /// Write the outputs of step `k + 1` (call after the step `k → k + 1`).
    #[inline]
    pub fn release(&self, delays: &[FixedDelay], slots: &mut [f64], k: u64) {
        for (d, &(start, len)) in delays.iter().zip(&self.lines) {
            slots[d.output as usize] = self.buffer[start + ((k + 1) % len as u64) as usize];
        }
    }
}
