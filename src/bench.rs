//! `careshift bench`: time a model's runs in-process, without writing outputs.
//!
//! The model is loaded and compiled once (like `careshift run`) and prepared once for running
//! (`simulate::Simulator`, as a Monte Carlo does), then run `runs` times with its own time
//! settings; each run is timed on its own, so the median is robust to a noisy machine.
//! The result is one JSON object (see [`BenchReport`]) that scripts such as benches/peers.sh
//! read from the last line of standard output.
//!
//! A scenario file is timed as a whole Monte Carlo (every run, option and arm, metrics and
//! streaming statistics, no report files) with a given number of threads: [`ScenarioBench`].

use std::time::Instant;

use serde::Serialize;

use crate::Model;
use crate::diagnostics::Diagnostic;
use crate::experiment::{RunSettings, run};
use crate::scenario::Scenario;
use crate::simulate::ScheduleSet;

/// What `careshift bench` prints (as JSON, on one line).
#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    /// The model's name (from its file).
    pub model: String,
    pub runs: usize,
    /// Integration steps per run (fixed-step methods; for dopri5, `(stop − start)/dt`).
    pub steps: u64,
    pub method: &'static str,
    /// Values computed per evaluation (slots).
    pub slots: usize,
    /// Median wall time of one run, in seconds.
    pub median_run_s: f64,
    pub min_run_s: f64,
    /// `runs` divided by the total time of all runs.
    pub runs_per_s: f64,
    /// `native` (machine code for the per-step assignments, see `careshift::native`) or
    /// `interpreter`.
    pub engine: &'static str,
    /// Time to make the machine code, once per compiled model (not in the run times).
    pub native_compile_s: Option<f64>,
}

/// Run `model` `runs` times (after one untimed warm-up run) and summarise the times.
pub fn bench(model: &Model, runs: usize) -> Result<BenchReport, Diagnostic> {
    if runs == 0 {
        return Err(Diagnostic::error("--runs must be at least 1"));
    }
    // Every run keeps the model's constants, so they are written into the code as numbers
    // (`Model::specialize`), as a Monte Carlo does for the constants it does not vary.
    let model = &model
        .specialize(&[])
        .map_err(|f| Diagnostic::error(format!("cannot specialise the model: {}", f.render())))?;
    let time = model.time();
    // The program prepared once, as for a Monte Carlo (and as Simlin's reset + run reuses its
    // compiled simulation).
    let simulator = model.simulator();
    let no_schedules = ScheduleSet::default();
    // Each run's results from the heap, as in a Monte Carlo's rounds (not from fresh mmapped
    // pages, whose page faults would be timed: see `allocator::SimulationPhase`).
    let _simulation_phase = crate::allocator::SimulationPhase::begin();
    // Warm-up: page in the program, size the allocator's pools; also reports a failing run
    // before any timing.
    std::hint::black_box(simulator.run(time, &[], &no_schedules)?);
    let mut times = Vec::with_capacity(runs);
    let all = Instant::now();
    for _ in 0..runs {
        let start = Instant::now();
        let results = simulator.run(time, &[], &no_schedules)?;
        times.push(start.elapsed().as_secs_f64());
        std::hint::black_box(results);
    }
    let total = all.elapsed().as_secs_f64();
    Ok(BenchReport {
        model: model.name.clone(),
        runs,
        steps: ((time.stop - time.start) / time.dt).round() as u64,
        method: time.method.name(),
        slots: model.program.defaults.len(),
        median_run_s: median(&mut times),
        min_run_s: times.iter().copied().fold(f64::INFINITY, f64::min),
        runs_per_s: runs as f64 / total,
        engine: engine_name(&model.program),
        native_compile_s: model.program.native.as_ref().map(|n| n.compile_seconds),
    })
}

/// `native` when the program runs its per-step assignments as machine code.
pub fn engine_name(program: &crate::vm::Program) -> &'static str {
    if program.native.is_some() {
        "native"
    } else {
        "interpreter"
    }
}

/// What `careshift bench SCENARIO` prints (as JSON, on one line).
#[derive(Debug, Clone, Serialize)]
pub struct ScenarioBench {
    pub scenario: String,
    pub model: String,
    /// Monte Carlo runs (each: every option's intervention and the baseline).
    pub runs: usize,
    pub options: usize,
    pub threads: usize,
    /// Integration steps per simulation.
    pub steps: u64,
    pub elapsed_s: f64,
    pub runs_per_s: f64,
    /// As [`BenchReport::engine`].
    pub engine: &'static str,
}

/// Run `scenario`'s Monte Carlo with `threads` worker threads (None: every core) and time it.
pub fn bench_scenario(
    scenario: &Scenario,
    threads: Option<usize>,
) -> Result<ScenarioBench, Diagnostic> {
    let settings = RunSettings {
        threads,
        progress: false,
        per_run_series: None,
        spill_block_runs: None,
    };
    let started = Instant::now();
    let outcome = run(scenario, &settings)?;
    let elapsed = started.elapsed().as_secs_f64();
    let time = &scenario.time;
    Ok(ScenarioBench {
        scenario: scenario.name.clone(),
        model: scenario.model.name.clone(),
        runs: scenario.uncertainty.runs,
        options: outcome.options.len(),
        threads: outcome.threads,
        steps: ((time.stop - time.start) / time.dt).round() as u64,
        elapsed_s: elapsed,
        runs_per_s: scenario.uncertainty.runs as f64 / elapsed,
        engine: engine_name(&scenario.model.program),
    })
}

/// The median of `values` (the mean of the two middle values for an even count).
fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 {
        values[n / 2]
    } else {
        0.5 * (values[n / 2 - 1] + values[n / 2])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0, 1.0, 3.0, 2.0]), 2.5);
        assert!(median(&mut []).is_nan());
    }
}
