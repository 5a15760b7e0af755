//! Monte Carlo throughput: runs per second of a bundled scenario with 1 and 2 threads.
//!
//! `cargo bench --bench montecarlo`. Criterion reports "thrpt" in runs/s (each run = one
//! intervention and one baseline simulation, plus metrics and streaming aggregation).

use std::hint::black_box;
use std::path::Path;

use careshift::experiment::{RunSettings, run};
use careshift::scenario::load_scenario;
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

criterion_group!(benches, bench_montecarlo);
criterion_main!(benches);
