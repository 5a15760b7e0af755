//! Single-run simulation speed on the bundled example models.
//!
//! `cargo bench --bench simulate`. For deterministic instruction counts on a noisy machine use
//! callgrind (see docs/ARCHITECTURE.md, "Measuring speed").

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

criterion_group!(benches, bench_runs);
criterion_main!(benches);
