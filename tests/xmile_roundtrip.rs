//! XMILE export → import gives the same results as the TOML model, for every bundled model;
//! and export is stable: exporting the imported model and importing that again gives the same
//! XMILE text.

mod common;

use std::path::{Path, PathBuf};

use careshift::diagnostics::Sources;
use careshift::xmile::export::{Flavor, export, export_for};
use careshift::{Model, load_decl};

fn bundled() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("models");
    let mut out: Vec<PathBuf> = std::fs::read_dir(root.join("examples"))
        .expect("models/examples")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    out.sort();
    out.push(root.join("care_system.toml"));
    out
}

fn run(model: &Model) -> careshift::simulate::Results {
    model
        .run(model.time(), &[])
        .unwrap_or_else(|d| panic!("run failed:\n{}", d.render(&model.sources)))
}

#[test]
fn export_then_import_gives_the_same_results() {
    let dir = common::temp_dir("xmile-roundtrip");
    for path in bundled() {
        let toml = Model::load(&path).unwrap_or_else(|f| panic!("{}", f.render()));
        let (decl, _) =
            load_decl(&path, Sources::new()).unwrap_or_else(|f| panic!("{}", f.render()));
        let a = run(&toml);
        for flavor in [Flavor::Standard, Flavor::Pysd] {
            let exported = export_for(&decl, flavor)
                .unwrap_or_else(|d| panic!("export {}: {d:?}", path.display()));
            let file = dir.join(path.file_stem().unwrap()).with_extension("xmile");
            std::fs::write(&file, &exported.xml).unwrap();
            let xmile = Model::load(&file)
                .unwrap_or_else(|f| panic!("re-import of {}:\n{}", path.display(), f.render()));
            let b = run(&xmile);
            assert_eq!(a.times, b.times, "{}: save times differ", path.display());
            for (c, name) in a.columns.iter().enumerate() {
                let theirs = exported.columns.get(name).unwrap_or(name);
                let Some(d) = b.columns.iter().position(|n| n == theirs) else {
                    panic!(
                        "{}: column `{name}` (`{theirs}`) missing after the round trip; have {:?}",
                        path.display(),
                        b.columns
                    );
                };
                // Bit-identical: equations are printed fully parenthesised (the same operations
                // in the same order) and aggregates over ranges are written out in the order
                // careshift accumulates them.
                for r in 0..a.times.len() {
                    let (x, y) = (a.row(r)[c], b.row(r)[d]);
                    assert!(
                        x.to_bits() == y.to_bits(),
                        "{} ({flavor:?}): `{name}` at time {}: TOML {x}, XMILE {y}",
                        path.display(),
                        a.times[r]
                    );
                }
            }
            println!(
                "{} ({flavor:?}): {} columns bit-identical",
                path.display(),
                a.columns.len()
            );
        }
    }
}

#[test]
fn export_is_stable() {
    let dir = common::temp_dir("xmile-stable");
    for path in bundled() {
        let (decl, _) =
            load_decl(&path, Sources::new()).unwrap_or_else(|f| panic!("{}", f.render()));
        let mut texts = vec![export(&decl).expect("export").xml];
        for round in 0..2 {
            let file = dir.join(format!("round{round}.xmile"));
            std::fs::write(&file, texts.last().unwrap()).unwrap();
            let (decl, _) =
                load_decl(&file, Sources::new()).unwrap_or_else(|f| panic!("{}", f.render()));
            texts.push(export(&decl).expect("export").xml);
        }
        assert_eq!(
            texts[1],
            texts[2],
            "{}: export of the imported export changes",
            path.display()
        );
    }
}

/// Builtins without an XMILE equivalent are exported as expressions that give the same values.
#[test]
fn builtins_round_trip() {
    let dir = common::temp_dir("xmile-builtins");
    let toml = dir.join("b.toml");
    std::fs::write(
        &toml,
        r#"
[time]
start = 0
stop = 12
dt = 0.25
units = "dmnl"
[dimensions]
band = ["0-64", "65+", "85+"]
[constants.w]
value = [1.5, -2.5, 4]
dims = ["band"]
[aux.rounded]
equation = "round(time - 6.5) + round(-2.5) + round(2.5)"
[aux.truncated]
equation = "integer(2.5 - time) + (time - 7) rem 3 + modulo(time - 7, 3)"
[aux.ramps]
equation = "ramp(2, 3, 8) + ramp(1, 5)"
[aux.train]
equation = "pulse_train(2, 1, 3, 10)"
[aux.safe]
equation = "xidz(1, time - 4, 9) + zidz(time, time - 4) + min(time, 3, 8 - time) + max(1, 2, time)"
[aux.arrays]
equation = "sum(w[*]) + mean(w[*]) + prod(w[\"65+\"..\"85+\"]) + min(w[*]) + max(w[\"0-64\"..\"65+\"])"
[aux.logic]
equation = "if not (time > 3 and time < 9) or time = 10 then -time ^ 2 else 2 ^ -1"
"#,
    )
    .unwrap();
    let a = Model::load(&toml).unwrap_or_else(|f| panic!("{}", f.render()));
    let (decl, _) = load_decl(&toml, Sources::new()).unwrap();
    let exported = export(&decl).unwrap();
    let file = dir.join("b.xmile");
    std::fs::write(&file, &exported.xml).unwrap();
    let b = Model::load(&file).unwrap_or_else(|f| panic!("{}\n{}", f.render(), exported.xml));
    let (ra, rb) = (run(&a), run(&b));
    for name in [
        "rounded",
        "truncated",
        "ramps",
        "train",
        "safe",
        "arrays",
        "logic",
    ] {
        let x = ra.column(name).unwrap();
        let y = rb.column(name).unwrap();
        for (k, (x, y)) in x.iter().zip(&y).enumerate() {
            assert!(
                (x - y).abs() <= 1e-12 * x.abs().max(1.0),
                "{name} at time {}: TOML {x}, XMILE {y}\n{}",
                ra.times[k],
                exported.xml
            );
        }
    }
}
