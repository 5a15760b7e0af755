//! Modules: inputs bound to parent equations, `module.var` references, parameter overrides,
//! variants, nesting, shared dimensions and the bundled example.

mod common;

use common::{assert_close, column, load_example, load_files, run_model};

/// A clinic: referrals (a share of the demand) join a waiting list that is treated at a rate
/// of waiting / wait_time.
const CLINIC: &str = r#"
[inputs.demand]
units = "people/year"

[stocks.waiting]
initial = 0
inflows = ["referrals"]
outflows = ["treated"]
units = "people"

[flows.referrals]
equation = "demand * referral_rate"
units = "people/year"

[flows.treated]
equation = "waiting / wait_time"
units = "people/year"

[auxiliaries.waits_per_referral]
equation = "zidz(waiting, referrals)"
units = "year"

[constants.referral_rate]
value = 0.1
units = "dimensionless"

[constants.wait_time]
value = 2
units = "year"
"#;

/// Euler, dt = 0.25, rows every 0.5 from 0 to 6.
const TIME: &str = r#"
[time]
start = 0
stop = 6
dt = 0.25
save_step = 0.5
units = "year"
"#;

/// The parent: demand = population · uptake · (1 + growth·TIME), i.e. 500 + 50·t.
fn parent(module_tables: &str) -> String {
    format!(
        r#"{TIME}
[constants.population]
value = 1000
units = "people"

[constants.uptake]
value = 0.5
units = "1/year"

[constants.growth]
value = 0.1
units = "1/year"

{module_tables}
"#
    )
}

/// Euler recurrence of the clinic: w_{k+1} = w_k + dt·(0.1·demand(t_k) − w_k/T); returns the
/// waiting list at every saved time (every second step).
fn clinic_waiting(wait_time: f64) -> Vec<f64> {
    let dt = 0.25;
    let mut w = 0.0;
    let mut out = Vec::new();
    for k in 0..=24 {
        let t = k as f64 * dt;
        if k % 2 == 0 {
            out.push(w);
        }
        w += dt * (0.1 * (500.0 + 50.0 * t) - w / wait_time);
    }
    out
}

fn assert_series(what: &str, got: &[f64], want: &[f64]) {
    assert_eq!(got.len(), want.len(), "{what}: number of rows");
    for (k, (g, w)) in got.iter().zip(want).enumerate() {
        assert_close(&format!("{what} row {k}"), *g, *w, 1e-9, 1e-12);
    }
}

#[test]
fn input_bound_to_a_parent_expression_and_module_variables_in_the_parent() {
    let main = parent(
        r#"
[modules.clinic]
file = "clinic.toml"
inputs = { demand = "population * uptake * (1 + growth * TIME)" }

[auxiliaries.waiting_per_1000]
equation = "1000 * clinic.waiting / population"
units = "dimensionless"
"#,
    );
    let model = load_files(&[("main.toml", &main), ("clinic.toml", CLINIC)])
        .unwrap_or_else(|f| panic!("{}", f.render()));
    let r = run_model(&model);
    assert_eq!(*r.times.last().unwrap(), 6.0);
    // The input is a column of the module, re-evaluated at every time.
    let demand = column(&r, "clinic.demand");
    for (k, &t) in r.times.iter().enumerate() {
        assert_close("clinic.demand", demand[k], 500.0 + 50.0 * t, 1e-12, 1e-12);
    }
    let want = clinic_waiting(2.0);
    assert_series("clinic.waiting", &column(&r, "clinic.waiting"), &want);
    // 1000 · waiting / 1000 people.
    assert_series("waiting_per_1000", &column(&r, "waiting_per_1000"), &want);
    // Module constants keep their defaults.
    assert!(column(&r, "clinic.wait_time").iter().all(|&v| v == 2.0));
}

#[test]
fn parameters_override_a_module_constant() {
    let main = parent(
        r#"
[modules.clinic]
file = "clinic.toml"
inputs = { demand = "population * uptake * (1 + growth * TIME)" }
parameters = { wait_time = 4 }

[modules.default_clinic]
file = "clinic.toml"
inputs = { demand = "population * uptake * (1 + growth * TIME)" }
"#,
    );
    let model = load_files(&[("main.toml", &main), ("clinic.toml", CLINIC)])
        .unwrap_or_else(|f| panic!("{}", f.render()));
    let r = run_model(&model);
    assert!(column(&r, "clinic.wait_time").iter().all(|&v| v == 4.0));
    assert_series(
        "clinic.waiting",
        &column(&r, "clinic.waiting"),
        &clinic_waiting(4.0),
    );
    // The other instance of the same file keeps the default.
    assert!(
        column(&r, "default_clinic.wait_time")
            .iter()
            .all(|&v| v == 2.0)
    );
    assert_series(
        "default_clinic.waiting",
        &column(&r, "default_clinic.waiting"),
        &clinic_waiting(2.0),
    );
    // Module constants are parameters of the whole model under their qualified names.
    let ov = model
        .overrides(&[("clinic.wait_time".to_string(), 8.0)])
        .unwrap_or_else(|d| panic!("{}", d.render(&model.sources)));
    let r = model.run(model.time(), &ov).expect("run");
    assert_series(
        "clinic.waiting",
        &column(&r, "clinic.waiting"),
        &clinic_waiting(8.0),
    );
}

/// A variant of the clinic with the same input but a fixed treatment capacity of 30 per year.
const CLINIC_FIXED_CAPACITY: &str = r#"
[inputs.demand]
units = "people/year"

[stocks.waiting]
initial = 0
inflows = ["referrals"]
outflows = ["treated"]
units = "people"
non_negative = true

[flows.referrals]
equation = "demand * referral_rate"
units = "people/year"

[flows.treated]
equation = "capacity"
units = "people/year"

[constants.referral_rate]
value = 0.1
units = "dimensionless"

[constants.capacity]
value = 30
units = "people/year"
"#;

#[test]
fn two_variants_with_the_same_inputs() {
    let main_for = |file: &str| {
        parent(&format!(
            r#"
[modules.clinic]
file = "{file}"
inputs = {{ demand = "population * uptake * (1 + growth * TIME)" }}
"#
        ))
    };
    let files = |main: &str| {
        load_files(&[
            ("main.toml", main),
            ("variants/proportional.toml", CLINIC),
            ("variants/fixed.toml", CLINIC_FIXED_CAPACITY),
        ])
        .unwrap_or_else(|f| panic!("{}", f.render()))
    };
    let proportional = run_model(&files(&main_for("variants/proportional.toml")));
    let fixed = run_model(&files(&main_for("variants/fixed.toml")));
    assert_series(
        "proportional",
        &column(&proportional, "clinic.waiting"),
        &clinic_waiting(2.0),
    );
    // Fixed capacity: w' = 0.1·(500 + 50t) − 30 = 20 + 5t, so w = 20t + 2.5t² in continuous
    // time; Euler with dt = 0.25 sums the rate at the start of each step:
    // w(t) = Σ_{k < t/dt} dt·(20 + 5·k·dt) = 20t + 2.5·t·(t − dt).
    let want: Vec<f64> = fixed
        .times
        .iter()
        .map(|&t| 20.0 * t + 2.5 * t * (t - 0.25))
        .collect();
    assert_series("fixed", &column(&fixed, "clinic.waiting"), &want);
    assert!(column(&fixed, "clinic.treated").iter().all(|&v| v == 30.0));
    // The variants differ.
    assert!(
        column(&fixed, "clinic.waiting").last() != column(&proportional, "clinic.waiting").last()
    );
}

#[test]
fn nested_modules_are_named_by_their_path() {
    // main includes `a` (outer.toml), which includes `b` (inner.toml).
    let main = r#"
[time]
start = 0
stop = 2
dt = 0.5
units = "year"

[constants.base]
value = 3

[modules.a]
file = "sub/outer.toml"
inputs = { x_in = "base * 2" }

[auxiliaries.from_inner]
equation = "a.b.x * 10"

[auxiliaries.from_outer]
equation = "a.y + 1"
"#;
    // Paths inside outer.toml are relative to sub/.
    let outer = r#"
[inputs.x_in]

[modules.b]
file = "deeper/inner.toml"
inputs = { v = "x_in + k" }
parameters = { scale = 5 }

[constants.k]
value = 1

[auxiliaries.y]
equation = "b.x - x_in"
"#;
    let inner = r#"
[inputs.v]

[constants.scale]
value = 2

[auxiliaries.x]
equation = "v * scale + TIME"

[stocks.accumulated]
initial = 0
inflows = ["inflow"]

[flows.inflow]
equation = "v"
"#;
    let model = load_files(&[
        ("main.toml", main),
        ("sub/outer.toml", outer),
        ("sub/deeper/inner.toml", inner),
    ])
    .unwrap_or_else(|f| panic!("{}", f.render()));
    let r = run_model(&model);
    assert_eq!(r.times, vec![0.0, 0.5, 1.0, 1.5, 2.0]);
    for name in [
        "a.x_in",
        "a.k",
        "a.y",
        "a.b.v",
        "a.b.scale",
        "a.b.x",
        "a.b.accumulated",
        "a.b.inflow",
    ] {
        assert!(
            r.columns.iter().any(|c| c == name),
            "column {name} in {:?}",
            r.columns
        );
    }
    // x_in = 6, v = 6 + 1 = 7, x = 7·5 + t, y = x − 6.
    for (k, &t) in r.times.iter().enumerate() {
        assert_close("a.x_in", column(&r, "a.x_in")[k], 6.0, 0.0, 0.0);
        assert_close("a.b.v", column(&r, "a.b.v")[k], 7.0, 0.0, 0.0);
        assert_close("a.b.x", column(&r, "a.b.x")[k], 35.0 + t, 1e-12, 0.0);
        assert_close("a.y", column(&r, "a.y")[k], 29.0 + t, 1e-12, 0.0);
        assert_close(
            "from_inner",
            column(&r, "from_inner")[k],
            350.0 + 10.0 * t,
            1e-12,
            0.0,
        );
        assert_close(
            "from_outer",
            column(&r, "from_outer")[k],
            30.0 + t,
            1e-12,
            0.0,
        );
    }
}

#[test]
fn a_module_sees_only_its_own_variables() {
    let main = r#"
[time]
start = 0
stop = 1
dt = 1
units = "year"

[constants.secret]
value = 3

[modules.m]
file = "m.toml"
"#;
    let module = r#"
[auxiliaries.peek]
equation = "secret * 2"
"#;
    let failure = match load_files(&[("main.toml", main), ("m.toml", module)]) {
        Ok(_) => panic!("a module must not see the parent's variables"),
        Err(f) => f.render(),
    };
    assert!(failure.contains("unknown variable `secret`"), "{failure}");
    assert!(failure.contains("[inputs]"), "{failure}");
}

#[test]
fn module_dimensions_are_shared_with_the_parent() {
    let main = r#"
[time]
start = 0
stop = 2
dt = 1
units = "year"

[dimensions]
age = ["young", "old", "oldest"]

[constants.population]
dims = ["age"]
value = [100, 40, 10]

[modules.frailty]
file = "frailty.toml"
inputs = { people = "population * 2" }

[auxiliaries.frail_oldest]
equation = "frailty.frail[\"oldest\"]"

[auxiliaries.frail_total]
equation = "SUM(frailty.frail[*])"

[auxiliaries.frail_ratio]
dims = ["age"]
equation = "frailty.frail / population"
"#;
    let module = r#"
[dimensions]
age = ["young", "old", "oldest"]

[inputs.people]
dims = ["age"]

[constants.share]
dims = ["age"]
value = [0.01, 0.1, 0.5]

[auxiliaries.frail]
dims = ["age"]
equation = "people * share"

[auxiliaries.total_people]
equation = "SUM(people[*])"
"#;
    let model = load_files(&[("main.toml", main), ("frailty.toml", module)])
        .unwrap_or_else(|f| panic!("{}", f.render()));
    let r = run_model(&model);
    let frail = [200.0 * 0.01, 80.0 * 0.1, 20.0 * 0.5];
    for (e, want) in ["young", "old", "oldest"].iter().zip(frail) {
        assert!(
            column(&r, &format!("frailty.frail[{e}]"))
                .iter()
                .all(|&v| (v - want).abs() < 1e-12)
        );
    }
    assert!(column(&r, "frail_oldest").iter().all(|&v| v == 10.0));
    assert!(
        column(&r, "frail_total")
            .iter()
            .all(|&v| (v - 20.0).abs() < 1e-12)
    );
    assert!(
        column(&r, "frailty.total_people")
            .iter()
            .all(|&v| v == 300.0)
    );
    assert!(
        column(&r, "frail_ratio[old]")
            .iter()
            .all(|&v| (v - 0.2).abs() < 1e-12)
    );

    // The same dimension name with other elements is an error.
    let other = module.replace(r#"["young", "old", "oldest"]"#, r#"["young", "old"]"#);
    let failure = match load_files(&[("main.toml", main), ("frailty.toml", &other)]) {
        Ok(_) => panic!("mismatched dimensions must be refused"),
        Err(f) => f.render(),
    };
    assert!(
        failure.contains("declared with different elements"),
        "{failure}"
    );
}

#[test]
fn the_ageing_with_frailty_example_runs() {
    let model = load_example("models/examples/ageing_with_frailty.toml");
    let r = run_model(&model);
    assert_eq!(r.times.first(), Some(&2025.0));
    assert_eq!(r.times.last(), Some(&2045.0));
    assert_eq!(r.times.len(), 21);
    let older = column(&r, "population.population_65_plus");
    let frail = column(&r, "frailty.frail");
    let per_1000 = column(&r, "frail_per_1000_older");
    let onset = column(&r, "frailty.onset");
    // The input is bound to the population module's variable.
    assert_eq!(column(&r, "frailty.older_people"), older);
    // The parameter replaces the module's default onset rate (0.03).
    assert!(column(&r, "frailty.onset_rate").iter().all(|&v| v == 0.035));
    // 80,000 + 45,000 + 15,000 people aged 65+ at the start, 12% of them frail.
    assert_close("older at start", older[0], 140_000.0, 1e-9, 0.0);
    assert_close("frail at start", frail[0], 0.12 * 140_000.0, 1e-9, 1e-12);
    for k in 0..r.times.len() {
        assert_close(
            "per 1000",
            per_1000[k],
            1000.0 * frail[k] / older[k],
            1e-9,
            1e-12,
        );
        assert_close(
            "onset",
            onset[k],
            (older[k] - frail[k]).max(0.0) * 0.035,
            1e-9,
            1e-12,
        );
    }
    // Being included as a module does not change the population model: run the stand-alone
    // chain with the same time settings and compare every population column.
    let chain = load_example("models/examples/ageing_chain.toml");
    let alone = chain.run(model.time(), &[]).expect("run ageing chain");
    for c in &alone.columns {
        assert_eq!(
            column(&alone, c),
            column(&r, &format!("population.{c}")),
            "column {c}"
        );
    }
}
