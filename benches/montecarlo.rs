//! Monte Carlo throughput: runs per second of a bundled scenario with 1 and 2 threads.
//!
//! `cargo bench --bench montecarlo`. Criterion reports "thrpt" in runs/s (each run = one
//! intervention and one baseline simulation, plus metrics and streaming aggregation). The
//! hand-written care model (benches/handwritten/care.rs) runs the same two arms per run over
//! varied parameters, on one thread: the speed-of-light reference for Monte Carlo throughput.

// Shared with tests/handwritten_care.rs, which uses the parts the benches do not.
#[allow(dead_code)]
#[path = "handwritten/care.rs"]
mod care;

use std::hint::black_box;
use std::path::Path;

use careshift::experiment::{RunSettings, run};
use careshift::montecarlo::Sampler;
use careshift::scenario::load_scenario;
use careshift::simulate::ScheduleSet;
use careshift::vm::LANES;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn bench_scenario(c: &mut Criterion, file: &str, runs: usize) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(file);
    let mut scenario = load_scenario(&path).unwrap_or_else(|f| panic!("{}", f.render()));
    scenario.uncertainty.runs = runs;
    let mut group = c.benchmark_group(format!("montecarlo {file}"));
    group.throughput(Throughput::Elements(runs as u64));
    group.sample_size(10);
    for threads in [1, 2] {
        let settings = RunSettings {
            threads: Some(threads),
            progress: false,
            per_run_series: None,
            spill_block_runs: None,
        };
        group.bench_function(format!("{runs} runs, {threads} thread(s)"), |b| {
            b.iter(|| black_box(run(&scenario, &settings).unwrap()))
        });
    }
    group.finish();
}

fn bench_montecarlo(c: &mut Criterion) {
    // The example model (3 stocks, 30 values per step, 120 Euler steps per arm).
    bench_scenario(c, "community_frailty_investment.toml", 1000);
    // The whole-system care model (24 stock elements, about 570 values per step, 320 steps per arm).
    bench_scenario(c, "care_community_frailty_investment.toml", 400);
}

/// 400 runs of the care scenario's two arms (no programme; £5m/y from 2026 ramping to £15m/y
/// by 2029), with the sampled constants moved through their ranges, written by hand.
fn bench_handwritten_montecarlo(c: &mut Criterion) {
    let runs = 400;
    let mut group = c.benchmark_group("montecarlo care_community_frailty_investment.toml");
    group.throughput(Throughput::Elements(runs as u64));
    group.sample_size(10);
    group.bench_function(format!("{runs} runs, hand-written, 1 thread"), |b| {
        b.iter(|| {
            let mut checksum = 0.0;
            for i in 0..runs {
                // A low-discrepancy point in [0, 1) per run (golden-ratio sequence).
                let u = (i as f64 * 0.618_033_988_749_895).fract();
                let baseline = care::CareParams {
                    max_admission_reduction: 0.02 + 0.35 * u,
                    max_stay_reduction: 0.25 * u,
                    maturity_time: 2.0 + 18.0 * u,
                    caseload_per_fte: 30.0 + 50.0 * u,
                    cost_per_fte: 72615.0 + 33990.0 * u,
                    cost_per_step_down_place: 40000.0 + 50000.0 * u,
                    surfaced_need_cost_per_person: 1000.0 * u,
                    cost_per_admission: 800.0 + 1200.0 * u,
                    cost_per_bed_day: 300.0 + 262.0 * u,
                    ..care::CareParams::default()
                };
                let intervention = care::CareParams {
                    budget_ramp: Some((2026.0, 2029.0, 5e6, 15e6)),
                    ..baseline
                };
                let a = care::run(black_box(&baseline));
                let b = care::run(black_box(&intervention));
                checksum += a.rows[10][26] - b.rows[10][26];
            }
            black_box(checksum)
        })
    });
    group.finish();
}

/// The engine doing what the hand-written loop does, on the same scenario: 400 runs of both arms,
/// sampled by the scenario's own sampler and distributions, simulated by the compiled program
/// over batches of [`LANES`] runs at once (`Simulator::run_batch`, as `careshift run` does),
/// keeping one number per run. No metrics and no streaming statistics, which the hand-written
/// loop does not compute either: this is the like-for-like half of the Monte Carlo comparison
/// (the whole `careshift run` pipeline is `bench_montecarlo`'s care scenario).
fn bench_engine_simulations(c: &mut Criterion) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join("care_community_frailty_investment.toml");
    let scenario = load_scenario(&path).unwrap_or_else(|f| panic!("{}", f.render()));
    let runs = 400;
    let u = &scenario.uncertainty;
    let sampler = Sampler::new(u.sampling, u.seed, runs, u.parameters.len()).unwrap();
    let program = &scenario.model.program;
    let arm_schedules = |interventions: &[careshift::scenario::Intervention]| {
        let schedules = interventions
            .iter()
            .flat_map(|i| i.schedules(i.scale, i.shift))
            .collect();
        ScheduleSet::new(program, schedules)
    };
    let baseline = arm_schedules(&scenario.baseline.interventions);
    let intervention = arm_schedules(&scenario.interventions);
    let simulator = scenario.model.simulator();
    let column = scenario.outputs[0];
    let mut group = c.benchmark_group("montecarlo care_community_frailty_investment.toml");
    group.throughput(Throughput::Elements(runs as u64));
    group.sample_size(10);
    group.bench_function(
        format!("{runs} runs, engine simulations only, 1 thread"),
        |b| {
            b.iter(|| {
                let mut checksum = 0.0;
                let mut point = vec![0.0; u.parameters.len()];
                for first in (0..runs).step_by(LANES) {
                    let overrides: Vec<Vec<(u32, f64)>> = (first..(first + LANES).min(runs))
                        .map(|i| {
                            sampler.point(i, &mut point);
                            let mut o = scenario.fixed.clone();
                            for (p, &x) in u.parameters.iter().zip(&point) {
                                let v = p.distribution.quantile(x);
                                o.extend(p.slots.iter().map(|&slot| (slot, v)));
                            }
                            o
                        })
                        .collect();
                    let a = simulator.run_batch(&scenario.time, &overrides, &baseline);
                    let b = simulator.run_batch(&scenario.time, &overrides, &intervention);
                    for (a, b) in a.iter().zip(&b) {
                        let (a, b) = (a.as_ref().unwrap(), b.as_ref().unwrap());
                        let last = a.values.len() - a.columns.len() + column;
                        checksum += a.values[last] - b.values[last];
                    }
                }
                black_box(checksum)
            })
        },
    );
    group.finish();
}

// No plots: criterion draws them with plotters, which this crate builds without system fonts
// (charts use a bundled font), so criterion's plot backend would find no font and panic.
criterion_group! {
    name = benches;
    config = Criterion::default().without_plots();
    targets = bench_montecarlo, bench_handwritten_montecarlo, bench_engine_simulations
}
criterion_main!(benches);
