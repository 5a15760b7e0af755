//! Batch simulation (several runs evaluated together over lanes, as Monte Carlo runs them)
//! gives every run exactly the numbers of a run on its own: bit for bit, with both fixed-step
//! methods, schedules, IFs that go different ways in different lanes, partial batches, and a
//! failing run.

mod common;

use careshift::Model;
use careshift::model::Method;
use careshift::simulate::batch::simulate_batch;
use careshift::simulate::{Interpolation, Schedule, ScheduleSet, Simulator, simulate_with};
use careshift::vm::LANES;
use common::{load_example, load_toml};

/// Per lane, every settable literal constant scaled by a lane-dependent factor.
fn lane_overrides(model: &Model, lanes: usize) -> Vec<Vec<(u32, f64)>> {
    (0..lanes)
        .map(|l| common::scaled_constants(model, l))
        .collect()
}

fn assert_batch_matches_single_runs(
    model: &Model,
    method: Method,
    overrides: &[Vec<(u32, f64)>],
    schedules: &ScheduleSet,
) {
    let mut time = model.time().clone();
    time.method = method;
    let batch = simulate_batch(&model.program, &time, overrides, schedules);
    let single: Vec<_> = (overrides.iter())
        .map(|o| simulate_with(&model.program, &time, o, schedules))
        .collect();
    let what = format!(
        "{} ({}), batch against single runs",
        model.name,
        method.name()
    );
    assert_same_results(&what, &batch, &single);
}

#[test]
fn batch_runs_equal_single_runs_on_every_bundled_model() {
    for path in [
        "models/examples/bathtub.toml",
        "models/examples/ageing_chain.toml",
        "models/examples/ageing_with_frailty.toml",
        "models/examples/community_investment.toml",
        "models/care_system.toml",
    ] {
        let model = load_example(path);
        for method in [Method::Euler, Method::Rk4] {
            // A full batch and a partial one.
            for lanes in [LANES, 3] {
                let overrides = lane_overrides(&model, lanes);
                assert_batch_matches_single_runs(
                    &model,
                    method,
                    &overrides,
                    &ScheduleSet::default(),
                );
            }
        }
    }
}

/// The care scenario's budget ramp, with budgets that switch the community programme on in
/// some lanes and not others (its IF(coverage > 0, ...) goes both ways within one batch).
#[test]
fn batch_runs_equal_single_runs_with_schedules_and_diverging_ifs() {
    let model = load_example("models/care_system.toml");
    let (budget, schedules) = common::care_budget_ramp(&model);
    let overrides: Vec<Vec<(u32, f64)>> = (0..LANES)
        .map(|l| vec![(budget, if l % 2 == 0 { 0.0 } else { 1e6 * l as f64 })])
        .collect();
    assert_batch_matches_single_runs(&model, Method::Euler, &overrides, &schedules);
    assert_batch_matches_single_runs(&model, Method::Rk4, &overrides, &schedules);
}

/// Bit for bit the same results, or the same error messages, per lane.
fn assert_same_results(
    what: &str,
    got: &[Result<careshift::simulate::Results, careshift::diagnostics::Diagnostic>],
    want: &[Result<careshift::simulate::Results, careshift::diagnostics::Diagnostic>],
) {
    assert_eq!(got.len(), want.len(), "{what}");
    for (l, (got, want)) in got.iter().zip(want).enumerate() {
        match (got, want) {
            (Ok(got), Ok(want)) => {
                assert_eq!(got.times, want.times, "{what} lane {l}: times");
                assert_eq!(got.columns, want.columns, "{what} lane {l}: columns");
                let bits = |r: &careshift::simulate::Results| -> Vec<u64> {
                    r.values.iter().map(|v| v.to_bits()).collect()
                };
                assert!(bits(got) == bits(want), "{what} lane {l}: values differ");
            }
            (Err(got), Err(want)) => assert_eq!(got.message, want.message, "{what} lane {l}"),
            (got, want) => panic!(
                "{what} lane {l}: {:?} but {:?}",
                got.as_ref().map(|_| "ok").map_err(|e| &e.message),
                want.as_ref().map(|_| "ok").map_err(|e| &e.message)
            ),
        }
    }
}

/// Arms that share their overrides (a Monte Carlo run's baseline and intervention) give,
/// simulated together (`Simulator::run_batch_arms`, which runs the initial phase once for the
/// arms whose schedules change nothing at the start), each arm's own batch results bit for
/// bit: no schedule, a ramp that starts later (its constant's own value, an override here,
/// holds until then), schedules that act from the start (one of them on a stock's initial
/// value), and a partial batch.
#[test]
fn arms_sharing_a_start_equal_batches_of_their_own() {
    let model = load_example("models/care_system.toml");
    let (budget, later) = common::care_budget_ramp(&model);
    let start = model.time().start;
    let one = |slot: u32, points: Vec<(f64, f64)>, interpolation: Interpolation| {
        ScheduleSet::new(
            &model.program,
            vec![Schedule {
                slot,
                points,
                interpolation,
            }],
        )
    };
    let from_the_start = one(
        budget,
        vec![(start, 2e6), (start + 3.0, 4e6)],
        Interpolation::Linear,
    );
    // Beds per 100k set the bed base, a stock's initial value: a schedule of them from the
    // start changes the initial phase, so that arm cannot start where the others do.
    let capacity = model
        .overrides(&[("hospital.beds_per_100k".into(), 0.0)])
        .expect("the care model has hospital.beds_per_100k")[0]
        .0;
    let capacity_from_the_start = one(
        capacity,
        vec![(start, 200.0), (start + 5.0, 190.0)],
        Interpolation::Step,
    );
    let none = ScheduleSet::default();
    let simulator = Simulator::new(&model.program);
    for lanes in [LANES, 3] {
        let overrides: Vec<Vec<(u32, f64)>> = lane_overrides(&model, lanes)
            .into_iter()
            .enumerate()
            .map(|(l, mut o)| {
                o.push((budget, 1e6 * l as f64));
                o
            })
            .collect();
        for method in [Method::Euler, Method::Rk4] {
            let mut time = model.time().clone();
            time.method = method;
            let arms = [
                &none,
                &later,
                &from_the_start,
                &capacity_from_the_start,
                &later,
            ];
            let together = simulator.run_batch_arms(&time, &overrides, &arms);
            assert_eq!(together.len(), arms.len());
            for (a, (got, schedules)) in together.iter().zip(arms).enumerate() {
                let alone = simulator.run_batch(&time, &overrides, schedules);
                assert_same_results(&format!("{} lanes, arm {a}", lanes), got, &alone);
            }
        }
    }
    // A lane whose run fails: the same error in every arm.
    let drain = load_toml(common::DRAIN_TIME_MODEL).unwrap_or_else(|f| panic!("{}", f.render()));
    let slot = drain.program.params[0].slot;
    let overrides: Vec<Vec<(u32, f64)>> =
        [20.0, 4.0, 30.0].iter().map(|&d| vec![(slot, d)]).collect();
    let simulator = Simulator::new(&drain.program);
    let time = drain.time().clone();
    let together = simulator.run_batch_arms(&time, &overrides, &[&none, &none]);
    for got in &together {
        assert_same_results("drain", got, &simulator.run_batch(&time, &overrides, &none));
        assert!(got[1].is_err());
    }
}

/// A run that divides by zero fails with the message it has on its own; the others are
/// unaffected.
#[test]
fn a_failing_lane_reports_the_single_run_error() {
    let model = load_toml(common::DRAIN_TIME_MODEL).unwrap_or_else(|f| panic!("{}", f.render()));
    let slot = model.program.params[0].slot;
    let overrides: Vec<Vec<(u32, f64)>> =
        [20.0, 4.0, 30.0].iter().map(|&d| vec![(slot, d)]).collect();
    let time = model.time().clone();
    let results = simulate_batch(&model.program, &time, &overrides, &ScheduleSet::default());
    let error = results[1]
        .as_ref()
        .expect_err("drain_time = 4 divides by zero at t = 4");
    assert!(
        error.message.contains("division by zero"),
        "{}",
        error.message
    );
    assert!(results[0].is_ok() && results[2].is_ok());
    assert_batch_matches_single_runs(&model, Method::Euler, &overrides, &ScheduleSet::default());
}

/// Every model of the XMILE conformance corpus that careshift runs (IFs, lookups, builtins,
/// arrays from another tool's hand), batch against single runs.
#[test]
fn batch_runs_equal_single_runs_on_the_xmile_corpus() {
    let Some(models) = common::xmile_corpus_models() else {
        return;
    };
    for model in models {
        let method = model.time().method;
        if method == Method::Dopri5 {
            continue;
        }
        let overrides = lane_overrides(&model, LANES);
        assert_batch_matches_single_runs(&model, method, &overrides, &ScheduleSet::default());
    }
}

#[test]
fn batch_runs_with_a_fixed_delay_equal_single_runs_and_delay_the_input() {
    // delay_fixed keeps a ring buffer per run; a batch must advance it in every lane (it runs
    // such models lane by lane). input = ramp_rate·TIME, delayed by 2 years with initial value
    // 0: the output is ramp_rate·(t − 2) from t = 2 on.
    let model = load_toml(
        r#"
[time]
start = 0
stop = 6
dt = 0.25
save_step = 1
units = "year"
[auxiliaries.input]
equation = "ramp_rate * TIME"
[auxiliaries.delayed]
equation = "delay_fixed(input, 2, 0)"
[constants.ramp_rate]
value = 3
"#,
    )
    .unwrap_or_else(|f| panic!("{}", f.render()));
    let overrides = lane_overrides(&model, 4);
    assert_batch_matches_single_runs(&model, Method::Euler, &overrides, &ScheduleSet::default());
    let batch = simulate_batch(
        &model.program,
        model.time(),
        &overrides,
        &ScheduleSet::default(),
    );
    for (l, r) in batch.iter().enumerate() {
        let r = r.as_ref().expect("run");
        let rate = 3.0 * (1.0 + 0.03 * l as f64);
        let delayed = common::column(r, "delayed");
        for (&t, &v) in r.times.iter().zip(&delayed) {
            let want = if t < 2.0 { 0.0 } else { rate * (t - 2.0) };
            assert!((v - want).abs() < 1e-12, "lane {l} at {t}: {v} != {want}");
        }
    }
}

/// A run whose initial phase fails (here sqrt of a negative sampled value), in a batch with a
/// schedule, fails with its single-run message; the other lanes, before and after it, equal
/// their single runs (the schedule is applied in every lane, including lanes without a run).
#[test]
fn a_lane_failing_its_initial_phase_with_schedules_reports_the_single_run_error() {
    let model = load_toml(
        r#"
[time]
start = 0
stop = 4
dt = 0.5
save_step = 1
units = "year"
[stocks.level]
initial = "root"
inflows = ["fill"]
[flows.fill]
equation = "budget"
[auxiliaries.root]
equation = "sqrt(k)"
[constants.k]
value = 4
[constants.budget]
value = 1
"#,
    )
    .unwrap_or_else(|f| panic!("{}", f.render()));
    let slot = |name: &str| model.overrides(&[(name.into(), 0.0)]).unwrap()[0].0;
    let (k, budget) = (slot("k"), slot("budget"));
    let ramp = Schedule {
        slot: budget,
        points: vec![(1.0, 2.0), (3.0, 6.0)],
        interpolation: Interpolation::Linear,
    };
    let schedules = ScheduleSet::new(&model.program, vec![ramp]);
    for ks in [
        vec![-1.0, 1.0, 2.0],
        vec![1.0, -1.0, 2.0],
        vec![1.0, 2.0, -1.0],
    ] {
        let overrides: Vec<Vec<(u32, f64)>> = ks.iter().map(|&v| vec![(k, v)]).collect();
        assert_batch_matches_single_runs(&model, Method::Euler, &overrides, &schedules);
        let batch = simulate_batch(&model.program, model.time(), &overrides, &schedules);
        let failed = ks.iter().position(|&v| v < 0.0).unwrap();
        assert!(batch[failed].is_err(), "lane {failed} must fail: {ks:?}");
    }
}
