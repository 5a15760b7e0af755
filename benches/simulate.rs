//! Single-run simulation speed on the bundled example models, and on the care model against
//! its hand-written Rust transcription (benches/handwritten/care.rs, the speed-of-light
//! reference; tests/handwritten_care.rs checks that it computes the engine's numbers).
//!
//! `cargo bench --bench simulate`. For deterministic instruction counts on a noisy machine use
//! callgrind (see docs/design/engine-performance.md).

// Shared with tests/handwritten_care.rs, which uses the parts the benches do not.
#[allow(dead_code)]
#[path = "handwritten/care.rs"]
mod care;

use std::hint::black_box;
use std::path::Path;

use careshift::Model;
use careshift::model::Method;
use criterion::{Criterion, criterion_group, criterion_main};

fn load(name: &str) -> Model {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("models/examples")
        .join(name);
    Model::load(&path).unwrap_or_else(|f| panic!("{}", f.render()))
}

fn bench_runs(c: &mut Criterion) {
    for (file, method) in [
        ("bathtub.toml", Method::Rk4),
        ("ageing_chain.toml", Method::Euler),
        ("ageing_with_frailty.toml", Method::Rk4),
        ("ageing_with_frailty.toml", Method::Dopri5),
    ] {
        let model = load(file);
        let mut time = model.time().clone();
        time.method = method;
        c.bench_function(&format!("run {file} {}", method.name()), |b| {
            b.iter(|| black_box(model.run(black_box(&time), &[]).unwrap()))
        });
    }
    c.bench_function("load+compile ageing_with_frailty.toml", |b| {
        b.iter(|| black_box(load("ageing_with_frailty.toml")))
    });
}

/// The engine and the hand-written code in one group, so that criterion reports them side by
/// side from one run (compare their ratio, not absolute times).
fn bench_care(c: &mut Criterion) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/care_system.toml");
    let model = Model::load(&path).unwrap_or_else(|f| panic!("{}", f.render()));
    // The hand-written code has every constant built in; so has the engine's program
    // specialised to runs that set none (`Model::specialize`, as `careshift bench` runs it).
    let specialised = model
        .specialize(&[])
        .unwrap_or_else(|f| panic!("{}", f.render()));
    let params = care::CareParams::default();
    let mut group = c.benchmark_group("care model single run");
    group.bench_function("engine", |b| {
        b.iter(|| black_box(specialised.run(black_box(model.time()), &[]).unwrap()))
    });
    group.bench_function("engine, constants settable", |b| {
        b.iter(|| black_box(model.run(black_box(model.time()), &[]).unwrap()))
    });
    group.bench_function("hand-written", |b| {
        b.iter(|| black_box(care::run(black_box(&params))))
    });
    group.finish();
}

// No plots: criterion draws them with plotters, which this crate builds without system fonts
// (charts use a bundled font), so criterion's plot backend would find no font and panic.
criterion_group! {
    name = benches;
    config = Criterion::default().without_plots();
    targets = bench_runs, bench_care
}
criterion_main!(benches);
