//! The hand-written care model (benches/handwritten/care.rs, the speed-of-light reference of
//! the benches) computes the engine's numbers: every output it reports, at every saved time,
//! with and without a community programme and with the Monte Carlo parameters moved. Without
//! this the speed comparison in benches/simulate.rs would not be honest.

#[path = "../benches/handwritten/care.rs"]
mod care;
mod common;

use care::{CareParams, OUTPUT_COLUMNS};
use careshift::simulate::{Interpolation, Schedule, ScheduleSet, simulate_with};
use common::{assert_close, column, load_example};

fn check(params: &CareParams) {
    let model = load_example("models/care_system.toml");
    let overrides = model.overrides(&params.overrides()).expect("overrides");
    let schedules = match params.budget_ramp {
        None => ScheduleSet::default(),
        Some((start, end, from, to)) => {
            let slot = model
                .overrides(&[("community_budget".into(), 0.0)])
                .unwrap()[0]
                .0;
            let ramp = Schedule {
                slot,
                points: vec![(start, from), (end, to)],
                interpolation: Interpolation::Linear,
            };
            ScheduleSet::new(&model.program, vec![ramp])
        }
    };
    let engine =
        simulate_with(&model.program, model.time(), &overrides, &schedules).expect("engine run");
    let hand = care::run(params);
    assert_eq!(hand.times, engine.times, "saved times");
    for (i, name) in OUTPUT_COLUMNS.iter().enumerate() {
        let want = column(&engine, name);
        for (r, &t) in hand.times.iter().enumerate() {
            // Both compute the same expressions; only the grouping of a few products and sums
            // differs (per-run coefficients), so differences are a few ulps, compounded over
            // 320 steps.
            assert_close(
                &format!("{name} at {t} with {params:?}"),
                hand.rows[r][i],
                want[r],
                1e-9,
                1e-10,
            );
        }
    }
}

#[test]
fn handwritten_care_model_matches_the_engine_without_a_programme() {
    check(&CareParams::default());
}

#[test]
fn handwritten_care_model_matches_the_engine_with_a_programme() {
    check(&CareParams {
        community_budget: 5e6,
        ..CareParams::default()
    });
}

#[test]
fn handwritten_care_model_matches_the_engine_with_moved_parameters() {
    check(&CareParams {
        reference_population: 30000.0,
        community_budget: 1.5e6,
        max_admission_reduction: 0.37,
        max_stay_reduction: 0.25,
        maturity_time: 2.0,
        caseload_per_fte: 80.0,
        cost_per_fte: 72615.0,
        cost_per_step_down_place: 40000.0,
        surfaced_need_cost_per_person: 1000.0,
        cost_per_admission: 2000.0,
        cost_per_bed_day: 562.0,
        budget_ramp: None,
    });
}

/// The Monte Carlo scenario's intervention: £5m/y from 2026 ramping to £15m/y by 2029.
#[test]
fn handwritten_care_model_matches_the_engine_with_a_budget_ramp() {
    check(&CareParams {
        budget_ramp: Some((2026.0, 2029.0, 5e6, 15e6)),
        ..CareParams::default()
    });
}
