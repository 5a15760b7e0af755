//! Native code (`careshift::native`) gives exactly the interpreter's numbers — bit for bit, at
//! every saved time, with every method, every builtin, schedules, batches and faults — and is
//! actually used (a model that silently fell back to the interpreter fails these tests).

mod common;

use careshift::Model;
use careshift::model::Method;
use careshift::simulate::batch::simulate_batch;
use careshift::simulate::{Results, ScheduleSet, simulate_with};
use careshift::vm::{LANES, Program};
use common::{load_example, load_toml};

/// The same program without its machine code.
fn interpreter(program: &Program) -> Program {
    let mut p = program.clone();
    p.use_interpreter();
    p
}

fn bits(r: &Results) -> Vec<u64> {
    r.values.iter().map(|v| v.to_bits()).collect()
}

fn assert_same(
    what: &str,
    native: &Result<Results, careshift::diagnostics::Diagnostic>,
    interpreted: &Result<Results, careshift::diagnostics::Diagnostic>,
) {
    match (native, interpreted) {
        (Ok(n), Ok(i)) => {
            assert_eq!(n.times, i.times, "{what}: times");
            assert_eq!(n.columns, i.columns, "{what}: columns");
            if bits(n) != bits(i) {
                let w = n.columns.len();
                let k = (0..n.values.len())
                    .find(|&k| n.values[k].to_bits() != i.values[k].to_bits())
                    .unwrap();
                panic!(
                    "{what}: native {} but interpreter {} for `{}` at t = {}",
                    n.values[k],
                    i.values[k],
                    n.columns[k % w],
                    n.times[k / w]
                );
            }
            let messages = |r: &Results| -> Vec<String> {
                r.warnings.iter().map(|d| d.message.clone()).collect()
            };
            assert_eq!(messages(n), messages(i), "{what}: warnings");
        }
        (Err(n), Err(i)) => assert_eq!(n.message, i.message, "{what}: error"),
        (n, i) => panic!(
            "{what}: native {:?} but interpreter {:?}",
            n.as_ref().map(|_| "ok").map_err(|e| &e.message),
            i.as_ref().map(|_| "ok").map_err(|e| &e.message)
        ),
    }
}

/// `toml` with nine more stocks (each filled by a constant inflow), so that the scalar Euler
/// step takes its one-pass form for many stocks (more than eight) rather than its phases.
fn with_many_stocks(toml: &str) -> String {
    let mut padded = toml.to_string();
    for i in 0..9 {
        padded.push_str(&format!(
            "\n[stocks.pad_{i}]\ninitial = 1\ninflows = [\"pad_in_{i}\"]\n[flows.pad_in_{i}]\nequation = \"0.5\"\n"
        ));
    }
    padded
}

/// Native against interpreter for single runs with each method, and for a batch.
fn assert_native_matches_interpreter(model: &Model, methods: &[Method], schedules: &ScheduleSet) {
    assert!(
        model.program.native.is_some(),
        "{}: no native code was made",
        model.name
    );
    let slow = interpreter(&model.program);
    for &method in methods {
        let mut time = model.time().clone();
        time.method = method;
        for run in [0, 5] {
            let o = common::scaled_constants(model, run);
            let what = format!("{} ({}, run {run})", model.name, method.name());
            assert_same(
                &what,
                &simulate_with(&model.program, &time, &o, schedules),
                &simulate_with(&slow, &time, &o, schedules),
            );
        }
        if method == Method::Dopri5 {
            continue;
        }
        let overrides: Vec<Vec<(u32, f64)>> = (0..LANES)
            .map(|l| common::scaled_constants(model, l))
            .collect();
        let native = simulate_batch(&model.program, &time, &overrides, schedules);
        let interpreted = simulate_batch(&slow, &time, &overrides, schedules);
        for (l, (n, i)) in native.iter().zip(&interpreted).enumerate() {
            let what = format!("{} ({}, batch lane {l})", model.name, method.name());
            assert_same(&what, n, i);
        }
    }
}

#[test]
fn native_code_equals_the_interpreter_on_every_bundled_model() {
    for path in common::BUNDLED_MODELS {
        let model = load_example(path);
        assert_native_matches_interpreter(
            &model,
            &[Method::Euler, Method::Rk4, Method::Dopri5],
            &ScheduleSet::default(),
        );
        // Specialised, with every other constant built in (`Model::specialize`).
        let every_other: Vec<u32> = model
            .program
            .params
            .iter()
            .step_by(2)
            .map(|p| p.slot)
            .collect();
        let specialised = model
            .specialize(&every_other)
            .unwrap_or_else(|f| panic!("{}", f.render()));
        assert!(
            !specialised.program.built_in.is_empty(),
            "{path}: nothing built in"
        );
        assert_native_matches_interpreter(
            &specialised,
            &[Method::Euler, Method::Rk4, Method::Dopri5],
            &ScheduleSet::default(),
        );
    }
}

/// The care scenario's budget ramp: schedules re-evaluate their dependents in the interpreter
/// before the native flows read them.
#[test]
fn native_code_equals_the_interpreter_with_schedules() {
    let model = load_example("models/care_system.toml");
    let (_, schedules) = common::care_budget_ramp(&model);
    assert_native_matches_interpreter(&model, &[Method::Euler, Method::Rk4], &schedules);
}

/// Every operator and builtin the bytecode has, IFs nested and inside expressions, lookups
/// (clamped and extrapolated; discrete ones come from the XMILE corpus), inside a model whose values move enough to take every branch.
#[test]
fn native_code_equals_the_interpreter_on_every_operator_and_builtin() {
    let model = load_toml(
        r#"
[time]
start = 0
stop = 12
dt = 0.125
save_step = 0.125
units = "year"

[stocks.level]
initial = 50
inflows = ["fill"]
outflows = ["drain"]
non_negative = true

[stocks.wave]
initial = 1
inflows = ["push"]

[flows.fill]
equation = "if level < threshold then rate * (1 + sin(t)) else rate / 2 + pulse(3, 2, 4) * DT"
[flows.drain]
equation = "level / delay_time + step(5, 6) + ramp(0.5, 2, 8) / DT + pulse_train(1, 0.5, 2, 10) * 3"
[flows.push]
equation = "cos(t) - wave * 0.1 + pulse(2, 3) * DT"

[auxiliaries.arithmetic]
equation = "-level + 2 * wave - level / 3 + level ^ 0.5 + 2 ^ -wave + (level mod 7) + (level rem 5) - (-level rem 5)"
[auxiliaries.functions]
equation = "abs(wave) + exp(-t / 10) + ln(level + 1) + log10(level + 1) + sqrt(level) + int(wave * 3) + integer(-wave * 3) + round(level / 3) + tan(wave / 4) + arcsin(0.5) + arccos(0.25) + arctan(wave) + modulo(-level, 7) + remainder(-level, 7)"
[auxiliaries.choices]
equation = "min(level, wave, 3) + max(level, wave) + zidz(level, wave - wave) + xidz(level, t - t, 7) + xidz(level, 2, 0) + ramp(1, 3) / DT + step(2, 4) + pulse(5, 1, 0) * DT"
[auxiliaries.logic]
equation = "(level > 10) + (level >= 10) * 2 + (level < 60) * 4 + (level <= 60) * 8 + (wave = wave) * 16 + (wave <> 1) * 32 + (level > 10 and wave > 0) * 64 + (level > 70 or wave < 0) * 128 + (not (level > 30)) * 256"
[auxiliaries.nested]
equation = "if t < 3 then (if wave > 0 then 1 else 2) else (if level > threshold then 3 + (if t > 9 then 10 else 20) else 4) + 0.5 * (if wave < 0 then wave else -wave)"
[auxiliaries.shapes]
equation = "shape(t) + shape_extended(t - 2) + shape(level / 10)"
[auxiliaries.time_values]
equation = "t * DT * unitless + DT * unitless"

[auxiliaries.t]
equation = "TIME * unitless"

[constants.unitless]
value = 1
doc = "no units: takes TIME and DT out of unit checking"
[constants.threshold]
value = 40
[constants.rate]
value = 8
[constants.delay_time]
value = 4

[lookups.shape]
x = [0, 2, 5, 10]
y = [0, 1, 0.5, 2]
[lookups.shape_extended]
x = [0, 2, 5, 10]
y = [0, 1, 0.5, 2]
extrapolate = true
"#,
    )
    .unwrap_or_else(|f| panic!("{}", f.render()));
    // The model does take both sides of its IFs.
    let run = model.run(model.time(), &[]).expect("run");
    let level = common::column(&run, "level");
    assert!(level.iter().any(|&v| v < 40.0) && level.iter().any(|&v| v > 40.0));
    assert_native_matches_interpreter(
        &model,
        &[Method::Euler, Method::Rk4, Method::Dopri5],
        &ScheduleSet::default(),
    );
}

/// A run that fails mid-way reports the interpreter's message (the native code finishes the
/// step and reports that a value was not finite; the interpreter re-runs the step and stops at
/// the first such assignment with the message).
#[test]
fn a_native_fault_reports_the_interpreter_message() {
    let model = load_toml(common::DRAIN_TIME_MODEL).unwrap_or_else(|f| panic!("{}", f.render()));
    let drain_time = model
        .overrides(&[("drain_time".into(), 4.0)])
        .expect("drain_time");
    assert!(model.program.native.is_some());
    let native = simulate_with(
        &model.program,
        model.time(),
        &drain_time,
        &ScheduleSet::default(),
    );
    let error = native.as_ref().expect_err("divides by zero at t = 4");
    assert!(
        error.message.contains("division by zero"),
        "{}",
        error.message
    );
    let slow = interpreter(&model.program);
    let interpreted = simulate_with(&slow, model.time(), &drain_time, &ScheduleSet::default());
    assert_same("fault", &native, &interpreted);
}

/// Every model of the XMILE conformance corpus that careshift runs (another tool's hand:
/// arrays, macros, modules, graphical functions, every builtin they use).
#[test]
fn native_code_equals_the_interpreter_on_the_xmile_corpus() {
    let Some(models) = common::xmile_corpus_models() else {
        return;
    };
    for model in models {
        let method = model.time().method;
        assert_native_matches_interpreter(&model, &[method], &ScheduleSet::default());
    }
}

/// The native Euler step's own paths, each against the interpreter (which runs the Rust step):
/// outflows limited on a non-negative stock (several outflows, one of them another
/// non-negative stock's inflow, so the order of limiting matters), a stock whose step is
/// unstable (the warning is written by the Rust code the native step hands the step back to),
/// and a stock that overflows to infinity (the error, at the same time).
#[test]
fn the_native_euler_step_limits_warns_and_fails_as_the_interpreter_does() {
    for pad in [false, true] {
        limits_warns_and_fails(pad);
    }
}

fn limits_warns_and_fails(pad: bool) {
    let padded = |toml: &str| {
        if pad {
            with_many_stocks(toml)
        } else {
            toml.to_string()
        }
    };
    let chain = load_toml(&padded(
        r#"
[time]
start = 0
stop = 6
dt = 0.5
save_step = 1
units = "day"
[stocks.upstream]
initial = 10
inflows = ["supply"]
outflows = ["transfer", "loss"]
non_negative = true
[stocks.downstream]
initial = 1
inflows = ["transfer"]
outflows = ["use"]
non_negative = true
[stocks.swinging]
initial = 5
outflows = ["overshoot"]
[flows.supply]
equation = "1 + TIME"
[flows.transfer]
equation = "3 * upstream + 2"
[flows.loss]
equation = "0.5 * upstream + 1"
[flows.use]
equation = "transfer * 2 + downstream"
[flows.overshoot]
equation = "3 * swinging"
"#,
    ))
    .unwrap_or_else(|f| panic!("{}", f.render()));
    let native = native_as_interpreted("limits and warning", &chain);
    let results = native.as_ref().expect("the chain runs");
    // The limiting did happen: until its supply (1 + TIME) exceeds the 3 a day its outflows
    // take from an empty stock, upstream loses all it holds plus its inflow each step; and
    // swinging's step was unstable.
    let upstream = results.column("upstream").expect("upstream");
    assert_eq!(upstream[1..3], [0.0, 0.0]);
    assert!(
        results
            .warnings
            .iter()
            .any(|w| w.message.contains("swinging")),
        "{:?}",
        results.warnings
    );

    // An empty stock whose outflow exceeds its inflow: limited at every step, where no
    // stability warning is possible (the level is 0).
    let drained = load_toml(&padded(
        r#"
[time]
start = 0
stop = 3
dt = 0.5
units = "day"
[stocks.empty]
initial = 0
inflows = ["trickle"]
outflows = ["demand"]
non_negative = true
[flows.trickle]
equation = "1"
[flows.demand]
equation = "2"
"#,
    ))
    .unwrap_or_else(|f| panic!("{}", f.render()));
    let native = native_as_interpreted("limited at level 0", &drained);
    let demand = native
        .as_ref()
        .expect("runs")
        .column("demand")
        .expect("demand");
    assert!(
        demand.iter().all(|&d| d == 1.0),
        "scaled to the inflow: {demand:?}"
    );

    let explosive = load_toml(&padded(
        r#"
[time]
start = 0
stop = 20
dt = 2
units = "day"
[stocks.heap]
initial = 10
inflows = ["growth"]
[flows.growth]
equation = "heap * 1e307"
"#,
    ))
    .unwrap_or_else(|f| panic!("{}", f.render()));
    let native = native_as_interpreted("overflow", &explosive);
    // The flow (1e308) is finite; the step 10 + 2 × 1e308 is not.
    let error = native.as_ref().expect_err("the heap overflows");
    assert!(
        error.message.contains("`heap` became inf at time 2"),
        "{}",
        error.message
    );
}

/// A run of `model` with native code, after checking that it is the interpreter's (values,
/// warnings or error) and that a batch of runs with moved constants is too.
fn native_as_interpreted(
    what: &str,
    model: &Model,
) -> Result<Results, careshift::diagnostics::Diagnostic> {
    let no_schedules = ScheduleSet::default();
    let native = simulate_with(&model.program, model.time(), &[], &no_schedules);
    let slow = interpreter(&model.program);
    let interpreted = simulate_with(&slow, model.time(), &[], &no_schedules);
    assert_same(what, &native, &interpreted);
    assert_batch_same(what, model);
    native
}

/// A batch of `model`'s runs (constants moved per lane), native against the interpreter
/// (the lane-pair step; its one-pass form with more than eight stocks).
fn assert_batch_same(what: &str, model: &Model) {
    let slow = interpreter(&model.program);
    let no_schedules = ScheduleSet::default();
    let batch: Vec<Vec<(u32, f64)>> = (0..LANES)
        .map(|l| common::scaled_constants(model, l))
        .collect();
    let (n, i) = (
        simulate_batch(&model.program, model.time(), &batch, &no_schedules),
        simulate_batch(&slow, model.time(), &batch, &no_schedules),
    );
    for (l, (n, i)) in n.iter().zip(&i).enumerate() {
        // Batches report no warnings; their values must still agree.
        let strip = |r: &Result<Results, careshift::diagnostics::Diagnostic>| {
            r.clone().map(|mut r| {
                r.warnings.clear();
                r
            })
        };
        assert_same(&format!("{what}: batch lane {l}"), &strip(n), &strip(i));
    }
}

/// The native initial phase: an overridden constant that has an equation keeps the override
/// (its assignment is skipped, and what reads it sees the override), and a value that is not
/// finite at the start gives the interpreter's message.
#[test]
fn the_native_initial_phase_skips_overrides_and_reports_faults_as_the_interpreter_does() {
    let model = load_toml(
        r#"
[time]
start = 0
stop = 4
dt = 1
units = "day"
[stocks.pool]
initial = "capacity / divisor"
outflows = ["out"]
[flows.out]
equation = "pool * rate"
[constants.base]
value = 3
[constants.capacity]
equation = "base * 10"
[constants.divisor]
value = 2
[constants.rate]
value = 0.1
"#,
    )
    .unwrap_or_else(|f| panic!("{}", f.render()));
    assert!(model.program.native.is_some());
    let slow = interpreter(&model.program);
    let no_schedules = ScheduleSet::default();
    let run = |program: &Program, overrides: &[(String, f64)]| {
        let o = model.overrides(overrides).expect("known constants");
        simulate_with(program, model.time(), &o, &no_schedules)
    };
    let overridden = [("capacity".to_string(), 50.0)];
    let native = run(&model.program, &overridden);
    let pool = native.as_ref().expect("runs").column("pool").expect("pool");
    assert_eq!(pool[0], 25.0, "capacity 50 (overridden, not base × 10) / 2");
    assert_same("override", &native, &run(&slow, &overridden));
    let base = [("base".to_string(), 4.0)];
    let native = run(&model.program, &base);
    let pool = native.as_ref().expect("runs").column("pool").expect("pool");
    assert_eq!(pool[0], 20.0, "capacity = 4 × 10, / 2");
    let zero = [("divisor".to_string(), 0.0)];
    let native = run(&model.program, &zero);
    let error = native.as_ref().expect_err("divides by zero at the start");
    assert!(
        error.message.contains("division by zero"),
        "{}",
        error.message
    );
    assert_same("initial fault", &native, &run(&slow, &zero));
}

/// The native Euler step computes a value that only the saved rows need (nothing the step
/// computes reads it) only at the steps that save a row: the saved values are the
/// interpreter's, and a fault of such a value at a step that saves no row is not seen (the
/// interpreter, which computes every value at every step, reports it). Saving every step, the
/// fault is reported with the interpreter's message.
#[test]
fn values_only_rows_need_are_computed_at_saved_steps() {
    let model = |save_step: f64| {
        load_toml(&format!(
            r#"
[time]
start = 0
stop = 3
dt = 0.5
save_step = {save_step}
units = "day"
[stocks.level]
initial = 1
inflows = ["growth"]
[flows.growth]
equation = "level * 0.1"
[auxiliaries.spike]
equation = "level / (TIME - 0.5)"
"#
        ))
        .unwrap_or_else(|f| panic!("{}", f.render()))
    };
    let no_schedules = ScheduleSet::default();
    let yearly = model(1.0);
    let native = simulate_with(&yearly.program, yearly.time(), &[], &no_schedules);
    let results = native.as_ref().expect("t = 0.5 is not saved");
    let level = results.column("level").expect("level");
    let spike = results.column("spike").expect("spike");
    for (row, &t) in results.times.iter().enumerate() {
        assert_eq!(spike[row], level[row] / (t - 0.5), "spike at {t}");
    }
    let slow = interpreter(&yearly.program);
    let interpreted = simulate_with(&slow, yearly.time(), &[], &no_schedules);
    let error = interpreted.expect_err("the interpreter computes spike at t = 0.5");
    assert!(error.message.contains("spike"), "{}", error.message);

    let every_step = model(0.5);
    let native = simulate_with(&every_step.program, every_step.time(), &[], &no_schedules);
    let slow = interpreter(&every_step.program);
    assert_same(
        "saving every step",
        &native,
        &simulate_with(&slow, every_step.time(), &[], &no_schedules),
    );
    assert!(native.is_err());
}

/// The native Euler step checks a value for being finite through what reads it where it can:
/// through a later value that reads it by `+ − ×` (or as a numerator), and through the
/// stocks' net rates, which every attached flow reaches. A value that is not finite still
/// fails the run with the interpreter's message, at a step that saves no row too; one that
/// only MIN reads (which would hide it) is checked itself.
#[test]
fn a_value_checked_through_its_readers_fails_the_run_as_the_interpreter_does() {
    for (reader, pad) in ["spike * 0.1", "min(spike, 5)", "5 / spike"]
        .into_iter()
        .flat_map(|r| [(r, false), (r, true)])
    {
        let text = format!(
            r#"
[time]
start = 0
stop = 3
dt = 0.25
save_step = 2
units = "day"
[stocks.level]
initial = 1
inflows = ["from_spike", "growth", "more_growth", "yet_more"]
[flows.from_spike]
equation = "{reader}"
[flows.growth]
equation = "level * 0.01"
[flows.more_growth]
equation = "level * 0.02"
[flows.yet_more]
equation = "level * 0.03"
[auxiliaries.spike]
equation = "level / (TIME - 1)"
"#
        );
        let text = if pad { with_many_stocks(&text) } else { text };
        let model = load_toml(&text).unwrap_or_else(|f| panic!("{}", f.render()));
        let slow = interpreter(&model.program);
        let none = ScheduleSet::default();
        let native = simulate_with(&model.program, model.time(), &[], &none);
        let interpreted = simulate_with(&slow, model.time(), &[], &none);
        let error = interpreted.as_ref().expect_err("spike is 1/0 at t = 1");
        assert!(error.message.contains("spike"), "{}", error.message);
        assert_same(reader, &native, &interpreted);
        let lanes = vec![Vec::new(); 2];
        let batch = simulate_batch(&model.program, model.time(), &lanes, &none);
        for lane in &batch {
            assert_same(reader, lane, &interpreted);
        }
    }
}
