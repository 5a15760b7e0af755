//! XMILE export → import gives the same results as the TOML model, for every bundled model;
//! and export is stable: exporting the imported model and importing that again gives the same
//! XMILE text.

mod common;

use std::path::{Path, PathBuf};

use careshift::diagnostics::Sources;
use careshift::xmile::export::export;
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
        let exported = export(&decl).unwrap_or_else(|d| panic!("export {}: {d:?}", path.display()));
        let file = dir.join(path.file_stem().unwrap()).with_extension("xmile");
        std::fs::write(&file, &exported.xml).unwrap();
        let xmile = Model::load(&file)
            .unwrap_or_else(|f| panic!("re-import of {}:\n{}", path.display(), f.render()));
        let (a, b) = (run(&toml), run(&xmile));
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
            // Bit-identical: equations are printed fully parenthesised (the same operations in
            // the same order) and aggregates over ranges are written out in the order careshift
            // accumulates them.
            for r in 0..a.times.len() {
                let (x, y) = (a.row(r)[c], b.row(r)[d]);
                assert!(
                    x.to_bits() == y.to_bits(),
                    "{}: `{name}` at time {}: TOML {x}, XMILE {y}",
                    path.display(),
                    a.times[r]
                );
            }
        }
        println!(
            "{}: {} columns bit-identical",
            path.display(),
            a.columns.len()
        );
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
