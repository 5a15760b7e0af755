//! Every builtin of the equation language, checked against values computed here from each
//! builtin's definition (never copied from the engine's output).
//!
//! Pure functions are checked at every saved time of a short run in which their arguments vary
//! with TIME. Stateful builtins (SMOOTH, DELAY, TREND, INIT, PREVIOUS) are checked either with
//! RK4 and a small dt against the continuous analytic solution, or with Euler against the exact
//! discrete recurrence.

mod common;

use careshift::simulate::Results;
use common::{assert_close, column, load_toml, run_toml};

/// An expected value as a function of time.
type Want<'a> = &'a dyn Fn(f64) -> f64;

fn b(x: bool) -> f64 {
    if x { 1.0 } else { 0.0 }
}

/// `s` as a TOML basic string.
fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// A model running from 0 to 4 with dt = 0.25, saving every step, with one auxiliary per case
/// and `extra` TOML (lookups, constants) appended. TIME is dimensionless here so that it can
/// be passed straight to EXP, SIN, ... without the unit checker objecting.
fn pure_model(extra: &str, cases: &[(&str, &str, Want)]) -> String {
    let mut toml = String::from(
        "[time]\nstart = 0\nstop = 4\ndt = 0.25\nsave_step = 0.25\nunits = \"dimensionless\"\n\n",
    );
    for (name, equation, _) in cases {
        toml.push_str(&format!(
            "[auxiliaries.{name}]\nequation = {}\n\n",
            quote(equation)
        ));
    }
    toml.push_str(extra);
    toml
}

/// Run the cases and compare every column with its expected value at every saved time.
fn check_cases(extra: &str, cases: &[(&str, &str, Want)]) {
    let r = run_toml(&pure_model(extra, cases));
    assert_eq!(r.times.len(), 17, "rows at 0, 0.25, ..., 4");
    assert_eq!(r.times[16], 4.0, "the last row is at the stop time");
    for (name, equation, want) in cases {
        let got = column(&r, name);
        for (&t, &g) in r.times.iter().zip(&got) {
            assert_close(
                &format!("{name} = {equation} at t = {t}"),
                g,
                want(t),
                1e-12,
                1e-12,
            );
        }
    }
}

/// Expect `value` at exactly the times listed, 0 elsewhere.
fn at_times(t: f64, times: &[f64], value: f64) -> f64 {
    if times.contains(&t) { value } else { 0.0 }
}

#[test]
fn arithmetic_and_precedence() {
    check_cases(
        "",
        &[
            ("sum_product", "1 + 2 * TIME - TIME / 4", &|t| {
                1.0 + 2.0 * t - t / 4.0
            }),
            ("grouped", "(1 + TIME) * 3", &|t| (1.0 + t) * 3.0),
            ("left_assoc_sub", "10 - TIME - 1", &|t| 9.0 - t),
            ("left_assoc_div", "16 / 4 / (TIME + 1)", &|t| {
                4.0 / (t + 1.0)
            }),
            // 3 * 4^2 / 8 = 6, and `- -TIME` adds TIME.
            ("mixed", "2 + 3 * 4 ^ 2 / 8 - -TIME", &|t| 8.0 + t),
            // `^` binds tighter than unary minus: -(TIME^2).
            ("neg_pow", "-TIME ^ 2", &|t| -(t * t)),
            ("paren_neg_pow", "(-TIME) ^ 2", &|t| t * t),
            // Right-associative: 2^(3^2) = 512.
            ("pow_right", "2 ^ 3 ^ 2", &|_| 512.0),
            ("pow_negative_exponent", "2 ^ -TIME", &|t| {
                1.0 / 2f64.powf(t)
            }),
            ("pow_fraction", "(TIME + 1) ^ 1.5", &|t| {
                (t + 1.0) * (t + 1.0).sqrt()
            }),
            ("neg_times", "-(TIME - 3) * 2", &|t| (3.0 - t) * 2.0),
            ("literals", "1.5e1 + .5 - 2E-1", &|_| 15.3),
        ],
    );
}

#[test]
fn comparisons() {
    check_cases(
        "",
        &[
            ("eq", "TIME = 2", &|t| b(t == 2.0)),
            ("eq2", "TIME == 2", &|t| b(t == 2.0)),
            ("ne", "TIME <> 2", &|t| b(t != 2.0)),
            ("ne2", "TIME != 2", &|t| b(t != 2.0)),
            ("lt", "TIME < 2", &|t| b(t < 2.0)),
            ("le", "TIME <= 2", &|t| b(t <= 2.0)),
            ("gt", "TIME > 2", &|t| b(t > 2.0)),
            ("ge", "TIME >= 2", &|t| b(t >= 2.0)),
            // Arithmetic binds tighter than comparison.
            ("arith_vs_cmp", "1 + TIME > 2 * 1.5", &|t| b(t + 1.0 > 3.0)),
            // A comparison is a number (1 or 0) and can be used in arithmetic.
            ("as_number", "(TIME >= 1) * 10 + (TIME < 3)", &|t| {
                10.0 * b(t >= 1.0) + b(t < 3.0)
            }),
        ],
    );
}

#[test]
fn logical_operators() {
    check_cases(
        "",
        &[
            ("and", "TIME > 1 and TIME < 3", &|t| b(t > 1.0 && t < 3.0)),
            ("or", "TIME < 1 or TIME > 3", &|t| {
                b(!(1.0..=3.0).contains(&t))
            }),
            // `not` covers the comparison: not (TIME > 2).
            ("not_cmp", "not TIME > 2", &|t| b(t <= 2.0)),
            ("not_and", "not (TIME > 2) and TIME > 1", &|t| {
                b(t <= 2.0 && t > 1.0)
            }),
            // `and` binds tighter than `or`.
            ("and_over_or", "TIME > 1 AND TIME < 3 OR TIME = 0", &|t| {
                b((t > 1.0 && t < 3.0) || t == 0.0)
            }),
            ("or_then_and", "TIME = 0 or TIME > 1 and TIME < 2", &|t| {
                b(t == 0.0 || (t > 1.0 && t < 2.0))
            }),
            // Any non-zero value is true.
            ("truthy", "TIME and 2", &|t| b(t != 0.0)),
            ("truthy_or", "0.5 or 0", &|_| 1.0),
            ("symbols", "!(TIME < 2) && TIME < 3 || TIME == 4", &|t| {
                b((2.0..3.0).contains(&t) || t == 4.0)
            }),
        ],
    );
}

#[test]
fn if_then_else() {
    check_cases(
        "",
        &[
            ("keyword", "IF TIME < 2 THEN TIME ELSE 10 - TIME", &|t| {
                if t < 2.0 { t } else { 10.0 - t }
            }),
            ("function", "if(TIME >= 3, 1, -1)", &|t| {
                if t >= 3.0 { 1.0 } else { -1.0 }
            }),
            (
                "function_long",
                "IF_THEN_ELSE(TIME > 1, TIME * 2, 0)",
                &|t| {
                    if t > 1.0 { 2.0 * t } else { 0.0 }
                },
            ),
            (
                "nested",
                "IF TIME < 1 THEN 0 ELSE IF TIME < 2 THEN 1 ELSE 2",
                &|t| {
                    if t < 1.0 {
                        0.0
                    } else if t < 2.0 {
                        1.0
                    } else {
                        2.0
                    }
                },
            ),
            // The ELSE branch extends to the right: 1 + (IF ... ELSE (1 + 2)).
            ("else_extends", "1 + IF TIME < 2 THEN 0 ELSE 1 + 2", &|t| {
                if t < 2.0 { 1.0 } else { 4.0 }
            }),
            // The branch not taken is not evaluated: no division by zero at t = 0.
            ("guarded", "IF TIME > 0 THEN 1 / TIME ELSE -1", &|t| {
                if t > 0.0 { 1.0 / t } else { -1.0 }
            }),
        ],
    );
}

#[test]
fn min_max_abs() {
    check_cases(
        "",
        &[
            ("min2", "MIN(TIME, 2)", &|t| t.min(2.0)),
            ("max2", "max(TIME, 1)", &|t| t.max(1.0)),
            ("max3", "MAX(TIME - 1, 0.5, 3 - TIME)", &|t| {
                (t - 1.0).max(0.5).max(3.0 - t)
            }),
            ("min4", "MIN(4, TIME, 2.5, 3)", &|t| t.min(2.5)),
            ("abs", "ABS(TIME - 2)", &|t| {
                if t < 2.0 { 2.0 - t } else { t - 2.0 }
            }),
        ],
    );
}

#[test]
fn exponentials_logs_roots() {
    check_cases(
        "",
        &[
            ("exp", "EXP(TIME / 4)", &|t| (t / 4.0).exp()),
            ("ln", "LN(TIME + 1)", &|t| (t + 1.0).ln()),
            ("ln_exp", "LN(EXP(TIME))", &|t| t),
            ("log10", "LOG10(10 ^ TIME)", &|t| t),
            ("log10_values", "LOG10(1000) + LOG10(0.01)", &|_| 1.0),
            ("sqrt", "SQRT(TIME)", &|t| t.sqrt()),
            ("sqrt_square", "SQRT(TIME * TIME * 9)", &|t| 3.0 * t),
        ],
    );
}

#[test]
fn int_round_modulo() {
    // Hand-written definitions: INT is the floor; ROUND rounds half away from zero;
    // MODULO(a, b) = a − b·floor(a / b), which takes the sign of the divisor.
    let floor = |x: f64| {
        let t = x.trunc();
        if x < t { t - 1.0 } else { t }
    };
    let round = |x: f64| {
        let r = floor(x.abs() + 0.5);
        if x < 0.0 { -r } else { r }
    };
    let modulo = move |a: f64, m: f64| a - m * floor(a / m);
    check_cases(
        "",
        &[
            ("int", "INT(TIME - 2.3)", &move |t| floor(t - 2.3)),
            (
                "int_literals",
                "INT(-0.5) * 100 + INT(2.75) * 10 + INT(-3)",
                &|_| -100.0 + 20.0 - 3.0,
            ),
            // TIME - 2 hits -1.5, -0.5, 0.5 and 1.5: halves go away from zero.
            ("round", "ROUND(TIME - 2)", &move |t| round(t - 2.0)),
            (
                "round_literals",
                "ROUND(2.5) * 10 + ROUND(-2.5) + ROUND(0.49) * 100",
                &|_| 30.0 - 3.0,
            ),
            ("modulo", "MODULO(TIME, 1.5)", &move |t| modulo(t, 1.5)),
            // Negative dividend, positive divisor: result in [0, 1.5).
            ("modulo_neg_dividend", "MODULO(TIME - 4, 1.5)", &move |t| {
                modulo(t - 4.0, 1.5)
            }),
            // Negative divisor: result in (-1.5, 0].
            ("modulo_neg_divisor", "MODULO(TIME, -1.5)", &move |t| {
                modulo(t, -1.5)
            }),
            ("modulo_pos_pos", "MODULO(7, 3)", &|_| 1.0),
            ("modulo_neg_pos", "MODULO(-7, 3)", &|_| 2.0),
            ("modulo_pos_neg", "MODULO(7, -3)", &|_| -2.0),
            ("modulo_neg_neg", "MODULO(-7, -3)", &|_| -1.0),
            ("mod_alias", "mod(5.5, 2)", &|_| 1.5),
        ],
    );
}

#[test]
fn trigonometry() {
    let pi = std::f64::consts::PI;
    check_cases(
        "",
        &[
            ("sin", "sin(TIME)", &|t| t.sin()),
            ("cos", "cos(TIME)", &|t| t.cos()),
            ("tan", "tan(TIME / 4)", &|t| {
                (t / 4.0).sin() / (t / 4.0).cos()
            }),
            ("arcsin", "arcsin(TIME / 4 - 0.5)", &|t| {
                (t / 4.0 - 0.5).asin()
            }),
            ("arccos", "arccos(TIME / 4 - 0.5)", &|t| {
                (t / 4.0 - 0.5).acos()
            }),
            ("arctan", "arctan(TIME - 2)", &|t| (t - 2.0).atan()),
            ("pythagoras", "sin(TIME) ^ 2 + cos(TIME) ^ 2", &|_| 1.0),
            ("arcsin_one", "2 * arcsin(1)", &move |_| pi),
            ("arccos_minus_one", "arccos(-1)", &move |_| pi),
            ("arctan_one", "4 * arctan(1)", &move |_| pi),
            ("sin_pi_6", "sin(arccos(-1) / 6)", &|_| 0.5),
        ],
    );
}

#[test]
fn time_and_dt() {
    check_cases(
        "",
        &[
            ("now", "TIME", &|t| t),
            ("time_lower", "time", &|t| t),
            ("time_mixed", "Time * 2", &|t| 2.0 * t),
            ("step_size", "DT", &|_| 0.25),
            ("dt_lower", "dt * 4", &|_| 1.0),
            ("next_time", "TIME + DT", &|t| t + 0.25),
        ],
    );
    // With a start other than 0 and rows only every save_step.
    let r = run_toml(
        "[time]\nstart = 2025\nstop = 2030\ndt = 0.25\nsave_step = 1\nunits = \"year\"\n\
         [auxiliaries.clock]\nequation = \"TIME\"\n[auxiliaries.step_size]\nequation = \"DT\"\n",
    );
    assert_eq!(
        r.times,
        vec![2025.0, 2026.0, 2027.0, 2028.0, 2029.0, 2030.0]
    );
    assert_eq!(column(&r, "clock"), r.times);
    assert!(column(&r, "step_size").iter().all(|&v| v == 0.25));
}

#[test]
fn step_and_ramp() {
    check_cases(
        "",
        &[
            // STEP(height, start): height from `start` on (inclusive), 0 before.
            ("step", "STEP(5, 1.5)", &|t| {
                if t >= 1.5 { 5.0 } else { 0.0 }
            }),
            ("step_at_start", "STEP(-2, 0)", &|_| -2.0),
            ("step_at_stop", "step(3, 4)", &|t| {
                if t >= 4.0 { 3.0 } else { 0.0 }
            }),
            // RAMP(slope, start [, end]): 0 until start, then slope·(TIME − start), held after end.
            ("ramp", "RAMP(2, 1)", &|t| {
                if t <= 1.0 { 0.0 } else { 2.0 * (t - 1.0) }
            }),
            ("ramp_end", "RAMP(2, 1, 3)", &|t| {
                if t <= 1.0 {
                    0.0
                } else if t <= 3.0 {
                    2.0 * (t - 1.0)
                } else {
                    4.0
                }
            }),
            ("ramp_negative", "RAMP(-1, 0, 2.5)", &|t| -(t.min(2.5))),
        ],
    );
}

#[test]
fn pulse_and_pulse_train_values() {
    // dt = 0.25: a pulse is magnitude / 0.25 during one step.
    check_cases(
        "",
        &[
            ("single", "PULSE(3, 1)", &|t| at_times(t, &[1.0], 12.0)),
            ("at_start", "PULSE(1, 0)", &|t| at_times(t, &[0.0], 4.0)),
            ("repeating", "PULSE(2, 0.5, 1.5)", &|t| {
                at_times(t, &[0.5, 2.0, 3.5], 8.0)
            }),
            // Width 0.5 from 1, every 1.5, until 3.5: on during [1, 1.5) and [2.5, 3).
            ("train", "PULSE_TRAIN(1, 0.5, 1.5, 3.5)", &|t| {
                at_times(t, &[1.0, 1.25, 2.5, 2.75], 1.0)
            }),
            // The end time is inclusive: a pulse starting exactly at `end` is on.
            ("train_end_inclusive", "PULSE_TRAIN(0, 0.25, 1, 2)", &|t| {
                at_times(t, &[0.0, 1.0, 2.0], 1.0)
            }),
        ],
    );
}

#[test]
fn pulse_moves_its_magnitude_into_a_stock() {
    // Euler: the stock changes by dt·flow per step, so a pulse of magnitude m (flow m/dt for
    // one step) adds exactly m, visible from the next step on.
    let model = |method: &str| {
        format!(
            "[time]\nstart = 0\nstop = 6\ndt = 0.25\nsave_step = 0.25\nunits = \"week\"\nmethod = \"{method}\"\n\
             [stocks.once]\ninitial = 0\ninflows = [\"single\"]\n\
             [stocks.repeated]\ninitial = 100\ninflows = [\"every\"]\n\
             [stocks.drained]\ninitial = 50\noutflows = [\"withdrawal\"]\n\
             [flows.single]\nequation = \"PULSE(5, 1)\"\n\
             [flows.every]\nequation = \"PULSE(2, 1, 1.5)\"\n\
             [flows.withdrawal]\nequation = \"PULSE(10, 2, 2)\"\n"
        )
    };
    let single = [1.0];
    let every = [1.0, 2.5, 4.0, 5.5];
    let withdrawals = [2.0, 4.0, 6.0];
    let moved = |t: f64, times: &[f64], m: f64| m * times.iter().filter(|&&p| p < t).count() as f64;

    let r = run_toml(&model("euler"));
    assert_eq!(*r.times.last().unwrap(), 6.0);
    let (once, repeated, drained) = (
        column(&r, "once"),
        column(&r, "repeated"),
        column(&r, "drained"),
    );
    let flow = column(&r, "single");
    for (k, &t) in r.times.iter().enumerate() {
        assert_close(
            &format!("once at {t}"),
            once[k],
            moved(t, &single, 5.0),
            1e-12,
            0.0,
        );
        assert_close(
            &format!("repeated at {t}"),
            repeated[k],
            100.0 + moved(t, &every, 2.0),
            1e-12,
            0.0,
        );
        assert_close(
            &format!("drained at {t}"),
            drained[k],
            50.0 - moved(t, &withdrawals, 10.0),
            1e-12,
            0.0,
        );
        // The flow column at t is the rate of the step starting at t.
        assert_eq!(flow[k], at_times(t, &single, 20.0), "single at {t}");
    }

    // RK4 samples the flow at t, t + dt/2 (twice) and t + dt: the pulse is spread over the
    // step before it (its last stage sees the pulse) and its own step, but the total moved is
    // still the magnitude. Check it away from the pulse times themselves.
    let r = run_toml(&model("rk4"));
    let (once, repeated, drained) = (
        column(&r, "once"),
        column(&r, "repeated"),
        column(&r, "drained"),
    );
    for (k, &t) in r.times.iter().enumerate() {
        if every.contains(&t) || withdrawals.contains(&t) {
            continue;
        }
        assert_close(
            &format!("rk4 once at {t}"),
            once[k],
            moved(t, &single, 5.0),
            1e-12,
            0.0,
        );
        assert_close(
            &format!("rk4 repeated at {t}"),
            repeated[k],
            100.0 + moved(t, &every, 2.0),
            1e-12,
            0.0,
        );
        assert_close(
            &format!("rk4 drained at {t}"),
            drained[k],
            50.0 - moved(t, &withdrawals, 10.0),
            1e-12,
            0.0,
        );
    }
}

#[test]
fn lookups_clamp_and_extrapolate() {
    // Points (0, 0), (1, 10), (3, 4). The input x = 1.25·TIME − 1 runs from −1 to 4.
    let lookups = "[lookups.tbl]\nx = [0, 1, 3]\ny = [0, 10, 4]\n\n\
                   [lookups.tbl_ext]\nx = [0, 1, 3]\ny = [0, 10, 4]\nextrapolate = true\n";
    let inside = |x: f64| {
        if x <= 1.0 {
            10.0 * x
        } else {
            10.0 - 3.0 * (x - 1.0)
        }
    };
    check_cases(
        lookups,
        &[
            ("clamped", "tbl(1.25 * TIME - 1)", &move |t| {
                let x = 1.25 * t - 1.0;
                if x < 0.0 {
                    0.0
                } else if x > 3.0 {
                    4.0
                } else {
                    inside(x)
                }
            }),
            // Outside the range the end segments continue: slope 10 below 0, slope −3 above 3.
            ("extrapolated", "tbl_ext(1.25 * TIME - 1)", &move |t| {
                inside(1.25 * t - 1.0)
            }),
            ("at_points", "tbl(0) + tbl(1) * 10 + tbl(3) * 100", &|_| {
                500.0
            }),
            ("midpoints", "tbl(0.5) + tbl(2) * 100", &|_| 705.0),
            ("far_outside", "tbl(-100) + tbl(100)", &|_| 4.0),
            ("far_outside_ext", "tbl_ext(-100) + tbl_ext(100)", &|_| {
                -1000.0 + (4.0 - 3.0 * 97.0)
            }),
        ],
    );
}

#[test]
fn xidz_zidz() {
    check_cases(
        "",
        &[
            // Zero denominator at t = 1.
            ("xidz", "XIDZ(TIME - 2, TIME - 1, 99)", &|t| {
                if t == 1.0 {
                    99.0
                } else {
                    (t - 2.0) / (t - 1.0)
                }
            }),
            // Zero denominator at t = 2.
            ("zidz", "ZIDZ(1, TIME - 2)", &|t| {
                if t == 2.0 { 0.0 } else { 1.0 / (t - 2.0) }
            }),
            (
                "xidz_literal",
                "XIDZ(5, 0, 7) + XIDZ(6, 3, 7) * 10",
                &|_| 27.0,
            ),
            ("zidz_literal", "ZIDZ(5, 0) + ZIDZ(6, 3) * 10", &|_| 20.0),
        ],
    );
}

#[test]
fn builtin_names_are_case_insensitive() {
    check_cases(
        "",
        &[
            ("upper", "ABS(TIME - 2) + MAX(TIME, 1) + STEP(1, 2)", &|t| {
                (t - 2.0).abs() + t.max(1.0) + b(t >= 2.0)
            }),
            ("mixed", "Abs(TIME - 2) + mAx(TIME, 1) + Step(1, 2)", &|t| {
                (t - 2.0).abs() + t.max(1.0) + b(t >= 2.0)
            }),
            ("lower", "abs(TIME - 2) + max(TIME, 1) + step(1, 2)", &|t| {
                (t - 2.0).abs() + t.max(1.0) + b(t >= 2.0)
            }),
            ("keywords", "if TIME < 1 Then 1 eLsE 2", &|t| {
                if t < 1.0 { 1.0 } else { 2.0 }
            }),
        ],
    );
}

// ----- stateful builtins ---------------------------------------------------------------------

/// P(Erlang(n, rate) ≤ t) = 1 − e^{−rate·t} Σ_{k<n} (rate·t)^k / k!: the step response of a
/// chain of n first-order stages, each with time constant 1/rate.
fn erlang_cdf(n: u32, rate: f64, t: f64) -> f64 {
    let x = rate * t;
    let (mut term, mut sum) = (1.0, 1.0);
    for k in 1..n {
        term *= x / k as f64;
        sum += term;
    }
    1.0 - (-x).exp() * sum
}

/// RK4 with dt = 1/64 on smooth solutions: the global error is O(dt⁴); with the fastest stage
/// time constant here (2/3 time units) it is about 1e-7 relative, so 1e-6 leaves room without
/// hiding a first-order mistake (which would show up around 1e-2).
const RK4_TOL: f64 = 1e-6;

fn rk4_time(stop: f64, save_step: f64) -> String {
    format!(
        "[time]\nstart = 0\nstop = {stop}\ndt = 0.015625\nsave_step = {save_step}\nunits = \"year\"\nmethod = \"rk4\"\n"
    )
}

fn check_column(r: &Results, name: &str, want: impl Fn(f64) -> f64, abs: f64, rel: f64) {
    let got = column(r, name);
    for (&t, &g) in r.times.iter().zip(&got) {
        assert_close(&format!("{name} at t = {t}"), g, want(t), abs, rel);
    }
}

#[test]
fn smooth_and_smooth3_step_response() {
    // The input is 10 from the start while the averages start at 0 (explicit initial value):
    // the response to a step of 10 at t = 0.
    let toml = format!(
        "{}\
         [auxiliaries.input]\nequation = \"STEP(10, 0)\"\n\
         [auxiliaries.s1]\nequation = \"SMOOTH(input, 2, 0)\"\n\
         [auxiliaries.s1_mixed]\nequation = \"Smooth(input, 2, 0)\"\n\
         [auxiliaries.s1_lower]\nequation = \"smooth(input, 2, 0)\"\n\
         [auxiliaries.s1_alias]\nequation = \"SMOOTH1(input, 2, 0)\"\n\
         [auxiliaries.s1_default]\nequation = \"SMOOTH(input, 2)\"\n\
         [auxiliaries.s1_from_4]\nequation = \"SMOOTH(input, 2, 4)\"\n\
         [auxiliaries.s1_ramp]\nequation = \"SMOOTH(TIME, 2)\"\n\
         [auxiliaries.s3]\nequation = \"SMOOTH3(input, 3, 0)\"\n\
         [auxiliaries.s3_mixed]\nequation = \"Smooth3(input, 3, 0)\"\n\
         [auxiliaries.s3_from_4]\nequation = \"SMOOTH3(input, 3, 4)\"\n\
         [auxiliaries.s3_default]\nequation = \"SMOOTH3(input, 3)\"\n",
        rk4_time(12.0, 0.5)
    );
    let r = run_toml(&toml);
    assert_eq!(*r.times.last().unwrap(), 12.0);
    // First order, time constant 2: 10·(1 − e^{−t/2}).
    let first = |t: f64| 10.0 * (1.0 - (-t / 2.0).exp());
    for name in ["s1", "s1_mixed", "s1_lower", "s1_alias"] {
        check_column(&r, name, first, RK4_TOL, RK4_TOL);
    }
    // Starting at 4: 4 + (10 − 4)·(1 − e^{−t/2}); the initial value is exact at t0.
    check_column(
        &r,
        "s1_from_4",
        |t| 4.0 + 6.0 * (1.0 - (-t / 2.0).exp()),
        RK4_TOL,
        RK4_TOL,
    );
    assert_eq!(column(&r, "s1_from_4")[0], 4.0);
    // Without an initial value the average starts at the input: in equilibrium throughout.
    check_column(&r, "s1_default", |_| 10.0, 1e-12, 0.0);
    // Input TIME, average starting at 0: s' = (t − s)/2, so s = t − 2·(1 − e^{−t/2}).
    check_column(
        &r,
        "s1_ramp",
        |t| t - 2.0 * (1.0 - (-t / 2.0).exp()),
        RK4_TOL,
        RK4_TOL,
    );
    // Third order, total time 3: three stages of 1, so the Erlang-3 CDF with rate 1.
    let third = |t: f64| 10.0 * erlang_cdf(3, 1.0, t);
    check_column(&r, "s3", third, RK4_TOL, RK4_TOL);
    check_column(&r, "s3_mixed", third, RK4_TOL, RK4_TOL);
    check_column(
        &r,
        "s3_from_4",
        |t| 4.0 + 6.0 * erlang_cdf(3, 1.0, t),
        RK4_TOL,
        RK4_TOL,
    );
    assert_eq!(column(&r, "s3_from_4")[0], 4.0);
    check_column(&r, "s3_default", |_| 10.0, 1e-12, 0.0);
}

#[test]
fn smooth_follows_the_euler_recurrence() {
    // A step of 10 at t = 1 (mid-run) with Euler: each stage obeys
    // s_{k+1} = s_k + dt·(upstream_k − s_k)/stage_time exactly.
    let r = run_toml(
        "[time]\nstart = 0\nstop = 8\ndt = 0.25\nsave_step = 0.25\nunits = \"year\"\nmethod = \"euler\"\n\
         [auxiliaries.input]\nequation = \"STEP(10, 1)\"\n\
         [auxiliaries.s1]\nequation = \"SMOOTH(input, 2)\"\n\
         [auxiliaries.s3]\nequation = \"SMOOTH3(input, 1.5)\"\n",
    );
    let dt = 0.25;
    let (s1, s3) = (column(&r, "s1"), column(&r, "s3"));
    let mut a = 0.0;
    let mut stages = [0.0f64; 3];
    for (k, &t) in r.times.iter().enumerate() {
        assert_close(&format!("s1 at {t}"), s1[k], a, 1e-12, 1e-12);
        assert_close(&format!("s3 at {t}"), s3[k], stages[2], 1e-12, 1e-12);
        let x = if t >= 1.0 { 10.0 } else { 0.0 };
        a += dt * (x - a) / 2.0;
        let old = stages;
        let upstream = [x, old[0], old[1]];
        for i in 0..3 {
            stages[i] += dt * (upstream[i] - old[i]) / 0.5;
        }
    }
}

#[test]
fn delays_step_response() {
    // Input 10 from the start, delay time 4, pipelines initially holding an outflow of 0 (or
    // of 2.5): the outflow is init + (10 − init)·ErlangCDF(n, n/4, t).
    let toml = format!(
        "{}\
         [constants.order]\nvalue = 5\n\
         [auxiliaries.input]\nequation = \"STEP(10, 0)\"\n\
         [auxiliaries.d1]\nequation = \"DELAY1(input, 4, 0)\"\n\
         [auxiliaries.d3]\nequation = \"DELAY3(input, 4, 0)\"\n\
         [auxiliaries.dn1]\nequation = \"DELAYN(input, 4, 1, 0)\"\n\
         [auxiliaries.dn3]\nequation = \"DELAYN(input, 4, 3, 0)\"\n\
         [auxiliaries.dn5]\nequation = \"DELAYN(input, 4, 5, 0)\"\n\
         [auxiliaries.dn5_named_order]\nequation = \"delayn(input, 4, order, 0)\"\n\
         [auxiliaries.d1_init]\nequation = \"DELAY1(input, 4, 2.5)\"\n\
         [auxiliaries.d3_init]\nequation = \"Delay3(input, 4, 2.5)\"\n\
         [auxiliaries.dn5_init]\nequation = \"DELAYN(input, 4, 5, 2.5)\"\n\
         [auxiliaries.d3_default]\nequation = \"DELAY3(input, 4)\"\n\
         [auxiliaries.dn5_default]\nequation = \"DELAYN(input, 4, 5)\"\n",
        rk4_time(20.0, 0.5)
    );
    let r = run_toml(&toml);
    assert_eq!(*r.times.last().unwrap(), 20.0);
    let response =
        |n: u32, init: f64| move |t: f64| init + (10.0 - init) * erlang_cdf(n, n as f64 / 4.0, t);
    for (name, n) in [
        ("d1", 1),
        ("d3", 3),
        ("dn1", 1),
        ("dn3", 3),
        ("dn5", 5),
        ("dn5_named_order", 5),
    ] {
        check_column(&r, name, response(n, 0.0), RK4_TOL, RK4_TOL);
    }
    for (name, n) in [("d1_init", 1), ("d3_init", 3), ("dn5_init", 5)] {
        assert_close(
            &format!("{name} at t0"),
            column(&r, name)[0],
            2.5,
            1e-12,
            0.0,
        );
        check_column(&r, name, response(n, 2.5), RK4_TOL, RK4_TOL);
    }
    // Without an initial value the pipeline starts in equilibrium with the input.
    check_column(&r, "d3_default", |_| 10.0, 1e-12, 1e-12);
    check_column(&r, "dn5_default", |_| 10.0, 1e-12, 1e-12);
}

#[test]
fn delayn_order_is_fixed_when_compiling() {
    // The order of DELAYN decides how many stages are built, so a constant used as the order
    // cannot be overridden before a run (the override would show in its column but could not
    // change the delay). Other constants of the same delay can.
    let model = load_toml(
        "[time]\nstart = 0\nstop = 4\ndt = 0.25\nunits = \"year\"\n\
         [constants.order]\nvalue = 5\n[constants.delay_time]\nvalue = 4\n\
         [auxiliaries.d]\nequation = \"DELAYN(10, delay_time, order, 0)\"\n",
    )
    .unwrap_or_else(|f| panic!("{}", f.render()));
    let refused = model
        .overrides(&[("order".to_string(), 1.0)])
        .expect_err("the order of DELAYN cannot be overridden");
    assert!(refused.message.contains("DELAYN"), "{}", refused.message);
    let param = |name: &str| {
        model
            .program
            .params
            .iter()
            .find(|p| p.name == name)
            .unwrap()
    };
    assert!(param("order").fixed);
    assert!(!param("delay_time").fixed);
    let ov = model
        .overrides(&[("delay_time".to_string(), 2.0)])
        .expect("the delay time can be overridden");
    let r = model.run(model.time(), &ov).expect("run");
    // Euler on five stages of 2/5 each: content_i' = inflow_i − content_i/(2/5), where the
    // first inflow is 10 and the others are the previous stage's outflow.
    let d = column(&r, "d");
    let (dt, stage_time) = (0.25, 0.4);
    let mut content = [0.0f64; 5];
    for (k, &t) in r.times.iter().enumerate() {
        assert_close(
            &format!("d at {t}"),
            d[k],
            content[4] / stage_time,
            1e-12,
            1e-12,
        );
        let out = content.map(|c| c / stage_time);
        for i in 0..5 {
            let inflow = if i == 0 { 10.0 } else { out[i - 1] };
            content[i] += dt * (inflow - out[i]);
        }
    }
    assert!(d[16] > 0.0);
}

#[test]
fn trend_of_exponential_growth() {
    // x = e^{g·t}, averaging time T = 2. From the definition in lowering:
    //   average' = (x − average)/T, average(0) = x(0)/(1 + init·T),
    //   TREND = (x − average)/(T·|average|).
    // At t0 that is (1 − 1/(1 + init·T))·(1 + init·T)/T = init. The solution is
    //   average = c·e^{g·t} + (average(0) − c)·e^{−t/T}, c = 1/(1 + g·T),
    // and as t grows TREND → (1 − c)/(T·c) = g. With init = g the average starts on that
    // path and TREND is g throughout.
    let (g, tt) = (0.1, 2.0);
    let toml = format!(
        "{}\
         [constants.g]\nvalue = {g}\nunits = \"1/year\"\n\
         [auxiliaries.x]\nequation = \"EXP(g * TIME)\"\n\
         [auxiliaries.trend0]\nequation = \"TREND(x, 2)\"\n\
         [auxiliaries.trend_g]\nequation = \"TREND(x, 2, g)\"\n\
         [auxiliaries.trend_init]\nequation = \"Trend(x, 2, 0.3)\"\n",
        rk4_time(40.0, 1.0)
    );
    let r = run_toml(&toml);
    assert_eq!(*r.times.last().unwrap(), 40.0);
    let c = 1.0 / (1.0 + g * tt);
    let analytic = move |init: f64| {
        move |t: f64| {
            let a0 = 1.0 / (1.0 + init * tt);
            let x = (g * t).exp();
            let avg = c * x + (a0 - c) * (-t / tt).exp();
            (x - avg) / (tt * avg)
        }
    };
    assert_close(
        "TREND(x, T) at t0",
        column(&r, "trend0")[0],
        0.0,
        1e-15,
        0.0,
    );
    assert_close(
        "TREND(x, T, 0.3) at t0",
        column(&r, "trend_init")[0],
        0.3,
        1e-12,
        0.0,
    );
    assert_close(
        "TREND(x, T, g) at t0",
        column(&r, "trend_g")[0],
        g,
        1e-12,
        0.0,
    );
    check_column(&r, "trend0", analytic(0.0), RK4_TOL, RK4_TOL);
    check_column(&r, "trend_init", analytic(0.3), RK4_TOL, RK4_TOL);
    check_column(&r, "trend_g", |_| g, RK4_TOL, RK4_TOL);
    // Converged: e^{−40/2} ≈ 2e-9 of the initial transient remains.
    for name in ["trend0", "trend_init", "trend_g"] {
        assert_close(
            &format!("{name} at the end"),
            *column(&r, name).last().unwrap(),
            g,
            1e-6,
            0.0,
        );
    }
}

#[test]
fn init_is_the_value_at_the_start() {
    // Euler, start 1: level' = 1 + TIME, level(1) = 3.
    let r = run_toml(
        "[time]\nstart = 1\nstop = 5\ndt = 0.25\nsave_step = 1\nunits = \"year\"\n\
         [stocks.level]\ninitial = 3\ninflows = [\"growth\"]\n\
         [flows.growth]\nequation = \"1 + TIME\"\n\
         [auxiliaries.doubled]\nequation = \"level * 2\"\n\
         [auxiliaries.init_level]\nequation = \"INIT(level * 2)\"\n\
         [auxiliaries.init_aux]\nequation = \"init(doubled) + 1\"\n\
         [auxiliaries.init_time]\nequation = \"Init(TIME)\"\n\
         [auxiliaries.init_flow]\nequation = \"INIT(growth)\"\n",
    );
    let level = column(&r, "level");
    assert_eq!(level[0], 3.0);
    assert!(level[4] > 10.0, "the level grows, INIT must not follow it");
    check_column(&r, "init_level", |_| 6.0, 0.0, 0.0);
    check_column(&r, "init_aux", |_| 7.0, 0.0, 0.0);
    check_column(&r, "init_time", |_| 1.0, 0.0, 0.0);
    check_column(&r, "init_flow", |_| 2.0, 0.0, 0.0);
}

#[test]
fn previous_is_the_value_one_dt_ago() {
    for method in ["euler", "rk4"] {
        let r = run_toml(&format!(
            "[time]\nstart = 1\nstop = 5\ndt = 0.25\nsave_step = 0.5\nunits = \"year\"\nmethod = \"{method}\"\n\
             [stocks.level]\ninitial = 3\ninflows = [\"growth\"]\n\
             [flows.growth]\nequation = \"2\"\n\
             [auxiliaries.prev_time]\nequation = \"PREVIOUS(TIME, -1)\"\n\
             [auxiliaries.prev_time_default]\nequation = \"previous(TIME)\"\n\
             [auxiliaries.prev_prev]\nequation = \"PREVIOUS(PREVIOUS(TIME, -1), -2)\"\n\
             [auxiliaries.prev_level]\nequation = \"PREVIOUS(level)\"\n\
             [auxiliaries.prev_level_init]\nequation = \"Previous(level, 100)\"\n"
        ));
        assert_eq!(*r.times.last().unwrap(), 5.0);
        let dt = 0.25;
        // The initial value at t0, then `later`.
        let first = |init: f64, later: &'static dyn Fn(f64) -> f64| {
            move |t: f64| if t == 1.0 { init } else { later(t) }
        };
        // level(t) = 3 + 2·(t − 1).
        fn level(t: f64) -> f64 {
            3.0 + 2.0 * (t - 1.0)
        }
        let m = format!("{method}: ");
        let chk = |name: &str, want: &dyn Fn(f64) -> f64| {
            let got = column(&r, name);
            for (&t, &g) in r.times.iter().zip(&got) {
                assert_close(&format!("{m}{name} at {t}"), g, want(t), 1e-12, 1e-12);
            }
        };
        chk("prev_time", &first(-1.0, &|t| t - 0.25));
        chk("prev_time_default", &first(1.0, &|t| t - 0.25));
        chk("prev_prev", &|t: f64| {
            if t == 1.0 {
                -2.0
            } else if t == 1.25 {
                -1.0
            } else {
                t - 2.0 * dt
            }
        });
        chk("prev_level", &first(3.0, &|t| level(t - 0.25)));
        chk("prev_level_init", &first(100.0, &|t| level(t - 0.25)));
    }
}

/// DELAY FIXED: the input from `delay_time` ago (rounded to whole steps), the initial value
/// before that; the state moves once per step, so RK4 gives the same values as Euler.
#[test]
fn delay_fixed_is_the_input_delay_time_ago() {
    for method in ["euler", "rk4"] {
        let r = run_toml(&format!(
            "[time]\nstart = 1\nstop = 6\ndt = 0.25\nsave_step = 0.25\nunits = \"year\"\nmethod = \"{method}\"\n\
             [constants.lag]\nvalue = 1.5\nunits = \"year\"\n\
             [stocks.level]\ninitial = 3\ninflows = [\"growth\"]\n\
             [flows.growth]\nequation = \"2 * TIME\"\n\
             [auxiliaries.late_time]\nequation = \"delay_fixed(TIME, 2, -1)\"\nunits = \"year\"\n\
             [auxiliaries.late_default]\nequation = \"DELAY_FIXED(TIME, lag)\"\nunits = \"year\"\n\
             [auxiliaries.late_level]\nequation = \"delay_fixed(level, 0.25)\"\n\
             [auxiliaries.prev_level]\nequation = \"previous(level)\"\n"
        ));
        let m = format!("{method}: ");
        let chk = |name: &str, want: &dyn Fn(f64) -> f64| {
            let got = column(&r, name);
            assert_eq!(got.len(), 21);
            for (&t, &g) in r.times.iter().zip(&got) {
                assert_close(&format!("{m}{name} at {t}"), g, want(t), 1e-12, 1e-12);
            }
        };
        chk("late_time", &|t| if t < 3.0 { -1.0 } else { t - 2.0 });
        chk("late_default", &|t| if t < 2.5 { 1.0 } else { t - 1.5 });
        // One step of delay is PREVIOUS.
        let prev = column(&r, "prev_level");
        chk("late_level", &|t| prev[((t - 1.0) / 0.25).round() as usize]);
    }
}

#[test]
fn delay_fixed_delays_at_least_one_step_and_needs_a_fixed_step() {
    let model = |dt: &str, lag: &str, method: &str| {
        format!(
            "[time]\nstart = 0\nstop = 4\ndt = {dt}\nunits = \"year\"\nmethod = \"{method}\"\n\
             [auxiliaries.late]\nequation = \"delay_fixed(TIME, {lag})\"\nunits = \"year\"\n"
        )
    };
    let err = common::run_toml_err(&model("0.5", "-0.2", "euler"));
    assert!(
        err.contains("the delay time of DELAY FIXED is -0.2; it must be a finite number ≥ 0"),
        "{err}"
    );
    // Shorter than one step: one step (PREVIOUS).
    let r = run_toml(&model("0.5", "0.2", "euler"));
    let late = column(&r, "late");
    assert_eq!(late, vec![0.0, 0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5]);
    let err = common::run_toml_err(&model("0.5", "1", "dopri5"));
    assert!(
        err.contains("DELAY FIXED") && err.contains("dopri5"),
        "{err}"
    );
}
