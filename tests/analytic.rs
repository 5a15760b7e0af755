//! Every integration method against analytic solutions, at every save point including the last.
//!
//! Tolerances reflect each method's order: Euler is first order (compared with the exact
//! solution of its own recurrence where one exists, and with the continuous solution to O(dt)),
//! RK4 fourth order (global error ~ dt⁴), Dopri5 adaptive (error governed by rtol/atol). Where a
//! tolerance alone could hide a wrong order, the convergence rate is measured by halving dt.

mod common;

use careshift::model::Method;
use common::{assert_close, column, load_toml};

/// Run a model text with a given method/dt/save step; return (times, column).
fn series(toml: &str, method: Method, dt: f64, save: f64, name: &str) -> (Vec<f64>, Vec<f64>) {
    let model = load_toml(toml).unwrap_or_else(|f| panic!("{}", f.render()));
    let mut time = model.time().clone();
    time.method = method;
    time.dt = dt;
    time.save_step = save;
    time.rtol = 1e-10;
    time.atol = 1e-10;
    let r = model
        .run(&time, &[])
        .unwrap_or_else(|d| panic!("{}", d.render(&model.sources)));
    let values = column(&r, name);
    (r.times, values)
}

fn check_grid(times: &[f64], start: f64, stop: f64, save: f64) {
    let n = ((stop - start) / save).round() as usize;
    assert_eq!(
        times.len(),
        n + 1,
        "one row per save step, the last at stop: {times:?}"
    );
    for (k, t) in times.iter().enumerate() {
        assert_close("save time", *t, start + k as f64 * save, 1e-12, 1e-12);
    }
    assert_eq!(
        *times.last().unwrap(),
        stop,
        "the final time is saved exactly"
    );
}

const DECAY: &str = r#"
[time]
start = 0
stop = 10
dt = 0.125
save_step = 0.5
units = "year"
[stocks.s]
initial = 100
outflows = ["out"]
units = "people"
[flows.out]
equation = "k * s"
units = "people/year"
[constants.k]
value = 0.5
units = "1/year"
"#;

#[test]
fn exponential_decay_euler_matches_its_recurrence_exactly() {
    let (dt, k) = (0.125, 0.5);
    let (t, s) = series(DECAY, Method::Euler, dt, 0.5, "s");
    check_grid(&t, 0.0, 10.0, 0.5);
    for (ti, si) in t.iter().zip(&s) {
        let steps = (ti / dt).round() as i32;
        assert_close(
            &format!("euler s({ti})"),
            *si,
            100.0 * (1.0 - k * dt).powi(steps),
            1e-10,
            1e-12,
        );
        // and within first-order distance of the continuous solution
        // (1 − z)^n vs e^(−nz): relative gap ≈ n·z²/2 (+ higher order) with z = k·dt.
        assert_close(
            &format!("euler vs exact s({ti})"),
            *si,
            100.0 * (-k * ti).exp(),
            0.0,
            0.6 * k * k * dt * ti + 1e-12,
        );
    }
}

#[test]
fn exponential_decay_rk4_and_dopri5() {
    let (k, dt) = (0.5, 0.125);
    for method in [Method::Rk4, Method::Dopri5] {
        let (t, s) = series(DECAY, method, dt, 0.5, "s");
        check_grid(&t, 0.0, 10.0, 0.5);
        for (ti, si) in t.iter().zip(&s) {
            // RK4's local relative error on y' = −ky is z⁵/120 (z = k·dt); over t/dt steps the
            // global relative error is ≈ (t/dt)·z⁵/120 (2e-7 at t = 3). Dopri5: rtol 1e-10.
            let rel = match method {
                Method::Rk4 => 1.5 * (ti / dt) * (k * dt).powi(5) / 120.0 + 1e-12,
                _ => 1e-8,
            };
            assert_close(
                &format!("{method:?} s({ti})"),
                *si,
                100.0 * (-k * ti).exp(),
                1e-10,
                rel,
            );
        }
    }
}

#[test]
fn dopri5_saves_the_true_final_value_when_the_span_is_a_multiple_of_the_save_step() {
    // ode_solvers 0.6.2's dense output extrapolates the value at x_end in exactly this case.
    for (stop, save) in [
        (10.0, 0.5),
        (10.0, 1.0),
        (10.0, 0.1),
        (10.0, 0.3),
        (7.0, 7.0),
    ] {
        let model = load_toml(DECAY).unwrap();
        let mut time = model.time().clone();
        time.method = Method::Dopri5;
        time.stop = stop;
        time.save_step = save;
        time.rtol = 1e-10;
        time.atol = 1e-10;
        let r = model.run(&time, &[]).unwrap();
        let s = column(&r, "s");
        assert_eq!(*r.times.last().unwrap(), stop);
        for (ti, si) in r.times.iter().zip(&s) {
            assert_close(
                &format!("dopri5 stop {stop} save {save}: s({ti})"),
                *si,
                100.0 * (-0.5 * ti).exp(),
                1e-8,
                1e-8,
            );
        }
    }
}

#[test]
fn flow_column_is_the_rate_at_the_start_of_each_step() {
    let (t, out) = series(DECAY, Method::Euler, 0.125, 0.5, "out");
    let (_, s) = series(DECAY, Method::Euler, 0.125, 0.5, "s");
    for i in 0..t.len() {
        assert_close(
            "out = k·s at the same time",
            out[i],
            0.5 * s[i],
            1e-12,
            1e-12,
        );
    }
}

const LOGISTIC: &str = r#"
[time]
start = 0
stop = 12
dt = 0.25
save_step = 1
units = "year"
[stocks.p]
initial = 10
inflows = ["growth"]
units = "people"
[flows.growth]
equation = "r * p * (1 - p / capacity)"
units = "people/year"
[constants.r]
value = 0.6
units = "1/year"
[constants.capacity]
value = 1000
units = "people"
"#;

fn logistic(t: f64) -> f64 {
    let (p0, r, k) = (10.0, 0.6, 1000.0);
    k / (1.0 + (k / p0 - 1.0) * (-r * t).exp())
}

fn max_error(method: Method, dt: f64) -> f64 {
    let (t, p) = series(LOGISTIC, method, dt, 1.0, "p");
    check_grid(&t, 0.0, 12.0, 1.0);
    t.iter()
        .zip(&p)
        .map(|(ti, pi)| (pi - logistic(*ti)).abs())
        .fold(0.0, f64::max)
}

#[test]
fn logistic_growth_converges_at_each_methods_order() {
    // Halving dt divides the error by 2 for a first-order method and by 16 for a fourth-order one.
    let (e1, e2) = (
        max_error(Method::Euler, 0.1),
        max_error(Method::Euler, 0.05),
    );
    assert!(
        (1.8..2.2).contains(&(e1 / e2)),
        "euler error ratio {}",
        e1 / e2
    );
    let (r1, r2) = (max_error(Method::Rk4, 0.25), max_error(Method::Rk4, 0.125));
    assert!(
        (13.0..19.0).contains(&(r1 / r2)),
        "rk4 error ratio {} ({r1:e} / {r2:e})",
        r1 / r2
    );
    assert!(
        r2 < 1e-3,
        "rk4 at dt 1/8: max error {r2:e} of a population of 1000"
    );
    let d = max_error(Method::Dopri5, 0.25);
    assert!(d < 1e-6, "dopri5 with rtol 1e-10: max error {d:e}");
}

/// Erlang-n cumulative distribution: the unit step response of an n-th order delay of mean T.
fn erlang_cdf(n: usize, mean: f64, t: f64) -> f64 {
    if t <= 0.0 {
        return 0.0;
    }
    let x = n as f64 * t / mean;
    let mut term = 1.0;
    let mut sum = 1.0;
    for k in 1..n {
        term *= x / k as f64;
        sum += term;
    }
    1.0 - (-x).exp() * sum
}

fn delay_model(body: &str) -> String {
    format!(
        r#"
[time]
start = 0
stop = 15
dt = 0.125
save_step = 0.5
units = "year"
[auxiliaries.out]
equation = "{body}"
units = "people/year"
[constants.input]
value = 1
units = "people/year"
[constants.delay]
value = 3
units = "year"
"#
    )
}

#[test]
fn first_and_third_order_delays_match_erlang_step_responses() {
    // The input is 1 from the start while the delay is initialised empty (initial value 0):
    // a clean step at t = 0, so the smooth solution lets RK4 show its full order.
    let cases = [
        ("delay1(input, delay, 0)", 1),
        ("delay3(input, delay, 0)", 3),
        ("delayn(input, delay, 5, 0)", 5),
        ("smooth(input, delay, 0)", 1),
        ("smooth3(input, delay, 0)", 3),
    ];
    for (body, order) in cases {
        let toml = delay_model(body);
        // RK4 at dt = 1/8 with stage times down to 0.6: global error O(dt⁴) ≈ 1e-5 at most
        // (3e-6 observed for DELAY3); Dopri5 with rtol = atol = 1e-10 to 1e-8.
        for (method, tol) in [(Method::Rk4, 2e-5), (Method::Dopri5, 1e-8)] {
            let (t, y) = series(&toml, method, 0.125, 0.5, "out");
            check_grid(&t, 0.0, 15.0, 0.5);
            for (ti, yi) in t.iter().zip(&y) {
                assert_close(
                    &format!("{body} {method:?} at {ti}"),
                    *yi,
                    erlang_cdf(order, 3.0, *ti),
                    tol,
                    0.0,
                );
            }
        }
        // Euler: first order, error bounded by ~dt·max|y''|·t/2; here well under 0.05.
        let (t, y) = series(&toml, Method::Euler, 0.125, 0.5, "out");
        for (ti, yi) in t.iter().zip(&y) {
            assert_close(
                &format!("{body} euler at {ti}"),
                *yi,
                erlang_cdf(order, 3.0, *ti),
                0.05,
                0.0,
            );
        }
    }
}

#[test]
fn first_order_delay_euler_matches_its_recurrence() {
    // L' = x − L/T with x = 1, L0 = 0: Euler gives out_n = 1 − (1 − dt/T)^n exactly.
    let toml = delay_model("delay1(input, delay, 0)");
    let (t, y) = series(&toml, Method::Euler, 0.125, 0.5, "out");
    for (ti, yi) in t.iter().zip(&y) {
        let n = (ti / 0.125).round() as i32;
        assert_close(
            &format!("euler delay1 at {ti}"),
            *yi,
            1.0 - (1.0 - 0.125 / 3.0f64).powi(n),
            1e-12,
            1e-12,
        );
    }
}

const RAMP: &str = r#"
[time]
start = 0
stop = 6
dt = 0.25
save_step = 0.5
units = "year"
[stocks.s]
initial = 5
inflows = ["in"]
units = "people"
[flows.in]
equation = "ramp(slope, 0)"
units = "people/year"
[constants.slope]
value = 2
units = "people/year/year"
"#;

#[test]
fn linear_ramp_integrates_to_a_parabola() {
    // s(t) = 5 + t²; RK4 and Dopri5 are exact for polynomials of this degree; Euler's
    // recurrence gives 5 + t² − t·dt exactly.
    for method in [Method::Rk4, Method::Dopri5] {
        let (t, s) = series(RAMP, method, 0.25, 0.5, "s");
        check_grid(&t, 0.0, 6.0, 0.5);
        for (ti, si) in t.iter().zip(&s) {
            assert_close(
                &format!("{method:?} s({ti})"),
                *si,
                5.0 + ti * ti,
                1e-9,
                1e-12,
            );
        }
    }
    let (t, s) = series(RAMP, Method::Euler, 0.25, 0.5, "s");
    for (ti, si) in t.iter().zip(&s) {
        assert_close(
            &format!("euler s({ti})"),
            *si,
            5.0 + ti * ti - ti * 0.25,
            1e-9,
            1e-12,
        );
    }
    let (_, rate) = series(RAMP, Method::Euler, 0.25, 0.5, "in");
    for (ti, ri) in t.iter().zip(&rate) {
        assert_close(&format!("ramp({ti})"), *ri, 2.0 * ti, 1e-12, 0.0);
    }
}

#[test]
fn step_count_follows_vensim_rounding() {
    // (stop − start)/dt = 1/0.3 = 3.33 → rounded to 3 steps: the last row is at 0.9, with a warning.
    let model = load_toml(DECAY).unwrap();
    let mut time = model.time().clone();
    time.method = Method::Euler;
    time.stop = 1.0;
    time.dt = 0.3;
    time.save_step = 0.3;
    let r = model.run(&time, &[]).unwrap();
    assert_eq!(r.times.len(), 4);
    assert_close("last time", *r.times.last().unwrap(), 0.9, 1e-12, 0.0);
    assert!(
        r.warnings
            .iter()
            .any(|w| w.message.contains("rounded to 3 steps")),
        "{:?}",
        r.warnings
    );
}

#[test]
fn euler_warns_when_dt_is_too_large_for_an_outflow() {
    let model = load_toml(DECAY).unwrap();
    let mut time = model.time().clone();
    time.method = Method::Euler;
    time.dt = 2.5; // k·dt = 1.25 > 1
    time.save_step = 2.5;
    let r = model.run(&time, &[]).unwrap();
    assert_eq!(r.warnings.len(), 1, "{:?}", r.warnings);
    assert!(
        r.warnings[0]
            .message
            .contains("dt may be too large for `s`"),
        "{}",
        r.warnings[0].message
    );
    // RK4's bound is 2.785: the same dt is within it; 6 is not.
    time.method = Method::Rk4;
    assert!(model.run(&time, &[]).unwrap().warnings.is_empty());
    time.dt = 6.0;
    time.save_step = 6.0;
    time.stop = 12.0;
    assert_eq!(model.run(&time, &[]).unwrap().warnings.len(), 1);
}

#[test]
fn non_negative_stock_limits_its_outflow_and_conserves_material() {
    let toml = r#"
[time]
start = 0
stop = 4
dt = 0.5
units = "day"
[stocks.a]
initial = 10
outflows = ["transfer"]
units = "beds"
non_negative = true
[stocks.b]
initial = 0
inflows = ["transfer"]
units = "beds"
[flows.transfer]
equation = "8"
units = "beds/day"
"#;
    let model = load_toml(toml).unwrap();
    let r = model.run(model.time(), &[]).unwrap();
    let (a, b, f) = (column(&r, "a"), column(&r, "b"), column(&r, "transfer"));
    // 10 beds drain at 8/day: 6 after 0.5 d, 2 after 1 d, then only 2 can leave (rate 4), then 0.
    assert_eq!(a, vec![10.0, 6.0, 2.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]);
    assert_eq!(&f[..4], &[8.0, 8.0, 4.0, 0.0]);
    for i in 0..a.len() {
        assert_close("a + b conserved", a[i] + b[i], 10.0, 1e-12, 0.0);
    }
}

#[test]
fn every_stock_above_the_stability_bound_is_warned_once_at_the_first_step_it_exceeds_it() {
    // `fast` is above Euler's bound from the start (dt·k = 2 × 0.6 = 1.2); `slow`'s outflow
    // rate grows with TIME and exceeds the bound (dt·0.1·TIME > 1) first at TIME = 6, after
    // `fast` was warned: the check must keep watching the other stocks.
    let toml = r#"
[time]
start = 0
stop = 20
dt = 2
units = "year"
[stocks.fast]
initial = 100
outflows = ["fast_out"]
units = "people"
[stocks.slow]
initial = 100
outflows = ["slow_out"]
units = "people"
[flows.fast_out]
equation = "k_fast * fast"
units = "people/year"
[flows.slow_out]
equation = "growth * TIME * slow"
units = "people/year"
[constants.k_fast]
value = 0.6
units = "1/year"
[constants.growth]
value = 0.1
units = "1/year/year"
"#;
    let model = load_toml(toml).unwrap();
    let r = model.run(model.time(), &[]).unwrap();
    let messages: Vec<&str> = r.warnings.iter().map(|w| w.message.as_str()).collect();
    assert_eq!(messages.len(), 2, "{messages:?}");
    assert!(
        messages[0]
            .starts_with("dt may be too large for `fast`: at time 0, dt × outflow/stock = 1.200"),
        "{}",
        messages[0]
    );
    assert!(
        messages[1]
            .starts_with("dt may be too large for `slow`: at time 6, dt × outflow/stock = 1.200"),
        "{}",
        messages[1]
    );
}

#[test]
fn a_stock_that_overflows_stops_the_run_naming_the_stock_and_the_time() {
    // The flow is finite (1e308 people/year), but 1e308 + 2 × 1e308 is not.
    let toml = r#"
[time]
start = 0
stop = 4
dt = 2
units = "year"
[stocks.s]
initial = 1e308
inflows = ["grow"]
units = "people"
[flows.grow]
equation = "1e308"
units = "people/year"
"#;
    let model = load_toml(toml).unwrap();
    let err = model.run(model.time(), &[]).unwrap_err();
    assert!(
        err.message.contains("stock `s` became inf at time 2"),
        "{}",
        err.message
    );
}
