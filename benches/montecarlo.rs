//! Monte Carlo throughput: runs per second of a bundled scenario with 1 and 2 threads.
//!
//! `cargo bench --bench montecarlo`. Criterion reports "thrpt" in runs/s (each run = one
//! intervention and one baseline simulation, plus metrics and streaming aggregation).

use std::hint::black_box;
use std::path::Path;

use careshift::experiment::{RunSettings, run};
use careshift::scenario::load_scenario;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn bench_montecarlo(c: &mut Criterion) {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/community_frailty_investment.toml");
    let mut scenario = load_scenario(&path).unwrap_or_else(|f| panic!("{}", f.render()));
    let runs = 1000;
    scenario.uncertainty.runs = runs;
    let mut group = c.benchmark_group("montecarlo community_frailty_investment");
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

criterion_group!(benches, bench_montecarlo);
criterion_main!(benches);
