//! A program specialised to the constants a job sets (`Model::specialize`) computes the model's
//! numbers: the same as the unspecialised program up to the rounding of regrouped constant
//! products, with the constants it built in gone from the per-step code, and it refuses a run
//! that would set one of them.

mod common;

use careshift::Model;
use careshift::model::Method;
use careshift::simulate::{Interpolation, Schedule, ScheduleSet, simulate_with};
use careshift::vm::Program;
use common::{assert_close, load_example, load_toml};

/// The slots the per-step code reads.
fn per_step_reads(p: &Program) -> Vec<u32> {
    p.flows
        .iter()
        .flat_map(|a| p.ops[a.start as usize..a.end as usize].iter())
        .flat_map(|op| op.slots_read())
        .collect()
}

fn slots_of(model: &Model, name: &str) -> Vec<u32> {
    model
        .overrides(&[(name.into(), 0.0)])
        .unwrap_or_else(|d| panic!("{name}: {}", d.message))
        .into_iter()
        .map(|(slot, _)| slot)
        .collect()
}

#[test]
fn a_specialised_program_gives_the_unspecialised_numbers_on_every_bundled_model() {
    for path in common::BUNDLED_MODELS {
        let model = load_example(path);
        let every_third: Vec<u32> = model
            .program
            .params
            .iter()
            .step_by(3)
            .map(|p| p.slot)
            .collect();
        for settable in [every_third, Vec::new()] {
            let specialised = model
                .specialize(&settable)
                .unwrap_or_else(|f| panic!("{}", f.render()));
            for method in [Method::Euler, Method::Rk4, Method::Dopri5] {
                let mut time = model.time().clone();
                time.method = method;
                // Runs set some of the settable constants away from their model values.
                let overrides: Vec<(u32, f64)> = model
                    .program
                    .params
                    .iter()
                    .filter(|p| settable.contains(&p.slot))
                    .filter_map(|p| Some((p.slot, p.default? * 1.1)))
                    .collect();
                let want = model.run(&time, &overrides).expect("unspecialised run");
                let got = specialised.run(&time, &overrides).expect("specialised run");
                assert_eq!(got.columns, want.columns, "{path}: columns");
                assert_eq!(got.times, want.times, "{path}: times");
                let w = want.columns.len();
                for (k, (&g, &v)) in got.values.iter().zip(&want.values).enumerate() {
                    let what = format!(
                        "{path} ({}): `{}` at t = {}",
                        method.name(),
                        want.columns[k % w],
                        want.times[k / w]
                    );
                    assert_close(&what, g, v, 1e-9, 1e-11);
                }
            }
        }
    }
}

/// The care model's selector constants (`state_fit = [1, 0, 0, 0]`, `at_risk`, `older_band`)
/// leave the per-step code, and the flows that are 0 for every run (births into frail
/// states, migration of older people) leave their stocks.
#[test]
fn built_in_selectors_and_zero_flows_leave_the_per_step_code() {
    let model = load_example("models/care_system.toml");
    let specialised = model.specialize(&[]).expect("specialise");
    let selectors: Vec<u32> = [
        "frailty.state_fit",
        "hospital.at_risk",
        "hospital.older_band",
    ]
    .iter()
    .flat_map(|name| slots_of(&model, name))
    .collect();
    let reads = |p: &Program| {
        per_step_reads(p)
            .into_iter()
            .filter(|s| selectors.contains(s))
            .count()
    };
    assert!(
        reads(&model.program) > 0,
        "the unspecialised code reads the selectors"
    );
    assert_eq!(
        reads(&specialised.program),
        0,
        "built in, they are not read"
    );
    let ops = |p: &Program| p.flows.iter().map(|a| a.end - a.start).sum::<u32>();
    assert!(
        (ops(&specialised.program) as f64) < 0.8 * ops(&model.program) as f64,
        "per-step ops: {} specialised vs {}",
        ops(&specialised.program),
        ops(&model.program)
    );
    let births = slots_of(&model, "population.birth_rate");
    assert!(!births.is_empty());
    assert!(
        specialised.program.flow_slots.len() < model.program.flow_slots.len(),
        "zero flows leave the stocks: {} vs {}",
        specialised.program.flow_slots.len(),
        model.program.flow_slots.len()
    );
    // The zero flows still have their column, 0 at every time.
    let run = specialised.run(model.time(), &[]).expect("run");
    let mild_births = common::column(&run, "population.births[0-64,mild]");
    assert!(mild_births.iter().all(|&v| v == 0.0), "{mild_births:?}");
}

#[test]
fn a_run_that_sets_a_built_in_constant_is_refused() {
    let model = load_example("models/examples/bathtub.toml");
    let param = &model.program.params[0];
    let specialised = model.specialize(&[]).expect("specialise");
    let overrides = [(param.slot, 1.0)];
    let error = specialised
        .run(model.time(), &overrides)
        .expect_err("an override of a built-in constant");
    assert!(
        error.message.contains(&param.name) && error.message.contains("built in"),
        "{}",
        error.message
    );
    let schedule = ScheduleSet::new(
        &specialised.program,
        vec![Schedule {
            slot: param.slot,
            points: vec![(0.0, 1.0), (1.0, 2.0)],
            interpolation: Interpolation::Linear,
        }],
    );
    let error = simulate_with(&specialised.program, model.time(), &[], &schedule)
        .expect_err("a schedule on a built-in constant");
    assert!(error.message.contains(&param.name), "{}", error.message);
    // Settable, it may be set.
    let settable = model.specialize(&[param.slot]).expect("specialise");
    assert!(settable.run(model.time(), &overrides).is_ok());
}

/// The native code checks values for being finite by summing them: finite values whose sum
/// overflows are a false alarm, which the step's fallback clears (the run goes on, with the
/// interpreter's numbers).
#[test]
fn finite_values_whose_sum_overflows_do_not_fail_a_run() {
    let model = load_toml(
        r#"
[time]
start = 0
stop = 2
dt = 0.25
save_step = 0.5
units = "day"
[stocks.level]
initial = 1
inflows = ["growth"]
[flows.growth]
equation = "level * 0.01"
[auxiliaries.huge]
equation = "level * 1e308"
[auxiliaries.huge_too]
equation = "level * 1.5e308"
[auxiliaries.huger]
equation = "huge_too * 1.1"
"#,
    )
    .unwrap_or_else(|f| panic!("{}", f.render()));
    assert!(model.program.native.is_some());
    let mut slow = model.program.clone();
    slow.use_interpreter();
    for method in [Method::Euler, Method::Rk4] {
        let mut time = model.time().clone();
        time.method = method;
        let none = ScheduleSet::default();
        let native = simulate_with(&model.program, &time, &[], &none).expect("native");
        let interpreted = simulate_with(&slow, &time, &[], &none).expect("interpreter");
        assert_eq!(native.values, interpreted.values, "{}", method.name());
        let batch = careshift::simulate::batch::simulate_batch(
            &model.program,
            &time,
            &[vec![], vec![]],
            &none,
        );
        for lane in batch {
            assert_eq!(lane.expect("batch lane").values, interpreted.values);
        }
    }
}

/// A scenario runs its model specialised to the constants its runs set, as native code; those
/// constants stay settable, and the model's others are built in.
#[test]
fn a_scenario_runs_its_model_specialised_to_what_it_sets() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios/care_community_frailty_investment.toml");
    let scenario =
        careshift::scenario::load_scenario(&path).unwrap_or_else(|f| panic!("{}", f.render()));
    let program = &scenario.model.program;
    assert!(program.native.is_some(), "the scenario's runs are native");
    let settable = scenario.settable_slots();
    assert!(!settable.is_empty());
    for slot in &settable {
        assert!(
            program.built_in.binary_search(slot).is_err(),
            "`{}` is set by the scenario but built in",
            program.slot_meta[*slot as usize].name
        );
    }
    let literal_params = program
        .params
        .iter()
        .filter(|p| p.default.is_some())
        .count();
    assert_eq!(
        program.built_in.len() + settable.len(),
        literal_params,
        "every literal constant the scenario does not set is built in"
    );
}

/// A program that keeps only some result columns (`Model::specialize_keeping`, as a scenario
/// does for the columns it reports) gives those columns' values bit for bit, with every
/// method, native and interpreted, in single runs and batches; and it leaves out the per-step
/// work only the other columns needed.
#[test]
fn keeping_some_columns_gives_their_values_bit_for_bit_and_drops_the_rest() {
    for path in common::BUNDLED_MODELS {
        let model = load_example(path);
        let specialised = model
            .specialize(&[])
            .unwrap_or_else(|f| panic!("{}", f.render()));
        let n = model.program.columns.len();
        let every_fifth: Vec<usize> = (0..n).step_by(5).collect();
        for keep in [every_fifth, vec![n - 1], Vec::new()] {
            let kept = model
                .specialize_keeping(&[], &keep)
                .unwrap_or_else(|f| panic!("{}", f.render()));
            assert!(kept.program.flows.len() <= specialised.program.flows.len());
            let names: Vec<&str> = keep
                .iter()
                .map(|&c| model.program.columns[c].name.as_str())
                .collect();
            let kept_names: Vec<&str> = kept
                .program
                .columns
                .iter()
                .map(|c| c.name.as_str())
                .collect();
            assert_eq!(kept_names, names, "{path}: the kept columns, in order");
            for interpreted in [false, true] {
                let (mut full, mut part) = (specialised.clone(), kept.clone());
                if interpreted {
                    full.program.use_interpreter();
                    part.program.use_interpreter();
                } else {
                    assert!(part.program.native.is_some(), "{path}: native code made");
                }
                for method in [Method::Euler, Method::Rk4, Method::Dopri5] {
                    let mut time = model.time().clone();
                    time.method = method;
                    let what = format!("{path} ({}, interpreted: {interpreted})", method.name());
                    let want = full.run(&time, &[]).expect("full run");
                    let got = part.run(&time, &[]).expect("kept run");
                    assert_kept_columns(&what, &keep, &got, &want);
                    if method == Method::Dopri5 {
                        continue;
                    }
                    let lanes = vec![Vec::new(); careshift::vm::LANES];
                    let none = ScheduleSet::default();
                    let want = full.simulator().run_batch(&time, &lanes, &none);
                    let got = part.simulator().run_batch(&time, &lanes, &none);
                    for (g, v) in got.iter().zip(&want) {
                        let (g, v) = (g.as_ref().expect("kept"), v.as_ref().expect("full"));
                        assert_kept_columns(&format!("{what}, batch"), &keep, g, v);
                    }
                }
            }
        }
    }
    // On the care model, keeping one output leaves out most of what only reports needed.
    let care = load_example("models/care_system.toml");
    let all = care.specialize(&[]).expect("specialised");
    let column = care
        .program
        .columns
        .iter()
        .position(|c| c.name == "hospital.emergency_admissions")
        .expect("a column");
    let one = care.specialize_keeping(&[], &[column]).expect("kept");
    assert!(
        one.program.flows.len() * 10 < all.program.flows.len() * 9,
        "{} of {} per-step assignments kept",
        one.program.flows.len(),
        all.program.flows.len()
    );
    assert!(one.program.copies.len() <= 1);
}

/// Column `k` of `got` is column `keep[k]` of `want`, bit for bit, at every saved time.
fn assert_kept_columns(
    what: &str,
    keep: &[usize],
    got: &careshift::simulate::Results,
    want: &careshift::simulate::Results,
) {
    assert_eq!(got.times, want.times, "{what}: times");
    let (w, k) = (want.columns.len(), keep.len());
    for row in 0..want.times.len() {
        for (j, &c) in keep.iter().enumerate() {
            assert_eq!(
                got.values[row * k + j].to_bits(),
                want.values[row * w + c].to_bits(),
                "{what}: `{}` at t = {}",
                want.columns[c],
                want.times[row]
            );
        }
    }
}
