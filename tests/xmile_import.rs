//! XMILE import: each feature against an analytic value or against the same model written in
//! careshift's TOML (whose builtins are tested elsewhere against analytic solutions).

mod common;

use careshift::Model;
use careshift::simulate::Results;

fn load_xmile(body: &str) -> Model {
    let dir = common::temp_dir("xmile");
    let path = dir.join("model.xmile");
    std::fs::write(&path, body).unwrap();
    Model::load(&path).unwrap_or_else(|f| panic!("XMILE failed to load:\n{}", f.render()))
}

fn run_xmile(body: &str) -> Results {
    common::run_model(&load_xmile(body))
}

fn xmile(sim_specs: &str, rest: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<xmile version="1.0" xmlns="http://docs.oasis-open.org/xmile/ns/XMILE/v1.0">
<header><vendor>test</vendor></header>
{sim_specs}
{rest}
</xmile>"#
    )
}

const SPECS: &str = r#"<sim_specs method="Euler" time_units="Months"><start>0</start><stop>10</stop><dt>0.25</dt></sim_specs>"#;

/// The XMILE builtins give exactly what careshift's builtins give.
#[test]
fn builtins_match_careshift_builtins() {
    let x = run_xmile(&xmile(
        SPECS,
        r#"<model><variables>
<aux name="input"><eqn>10 + STEP(5, 2) + RAMP(1, 4) + PULSE(3, 1, 2)</eqn></aux>
<aux name="s1"><eqn>SMTH1(input, 2)</eqn></aux>
<aux name="s3"><eqn>SMTH3(input, 3, 7)</eqn></aux>
<aux name="sn3"><eqn>SMTHN(input, 3, 3, 7)</eqn></aux>
<aux name="d1"><eqn>DELAY1(input, 2)</eqn></aux>
<aux name="d3"><eqn>DELAY3(input, 2)</eqn></aux>
<aux name="dn"><eqn>DELAYN(input, 2, 4)</eqn></aux>
<aux name="tr"><eqn>TREND(input, 2)</eqn></aux>
<aux name="sd2"><eqn>SAFEDIV(input, TIME - 3)</eqn></aux>
<aux name="sd3"><eqn>SAFEDIV(input, TIME - 3, -1)</eqn></aux>
<aux name="first"><eqn>INIT(input)</eqn></aux>
<aux name="prev"><eqn>PREVIOUS(input, 0)</eqn></aux>
<aux name="m"><eqn>(TIME * 7) MOD 3</eqn></aux>
<aux name="cond"><eqn>IF TIME &gt;= 5 AND NOT (TIME &gt; 8) THEN MIN(input, 12) ELSE MAX(input, 12)</eqn></aux>
<aux name="consts"><eqn>PI + STARTTIME + STOPTIME + DT</eqn></aux>
<aux name="maths"><eqn>ABS(-TIME) + SQRT(TIME) + EXP(-TIME) + LN(TIME + 1) + INT(TIME / 3) + SIN(TIME) + ARCTAN(TIME)</eqn></aux>
</variables></model>"#,
    ));
    let t = common::run_toml(
        r#"
[time]
start = 0
stop = 10
dt = 0.25
units = "dmnl"
[aux.input]
equation = "10 + step(5, 2) + ramp(1, 4) + pulse(3, 1, 2)"
[aux.s1]
equation = "smooth(input, 2)"
[aux.s3]
equation = "smooth3(input, 3, 7)"
[aux.d1]
equation = "delay1(input, 2)"
[aux.d3]
equation = "delay3(input, 2)"
[aux.dn]
equation = "delayn(input, 2, 4)"
[aux.tr]
equation = "trend(input, 2)"
[aux.sd2]
equation = "zidz(input, time - 3)"
[aux.sd3]
equation = "xidz(input, time - 3, -1)"
[aux.first]
equation = "init(input)"
[aux.prev]
equation = "previous(input, 0)"
[aux.m]
equation = "modulo(time * 7, 3)"
[aux.cond]
equation = "if time >= 5 and not (time > 8) then min(input, 12) else max(input, 12)"
[aux.consts]
equation = "3.141592653589793 + 0 + 10 + dt"
[aux.maths]
equation = "abs(-time) + sqrt(time) + exp(-time) + ln(time + 1) + int(time / 3) + sin(time) + arctan(time)"
"#,
    );
    for name in [
        "input", "s1", "s3", "d1", "d3", "dn", "tr", "sd2", "sd3", "first", "prev", "m", "cond",
        "consts", "maths",
    ] {
        assert_eq!(common::column(&x, name), common::column(&t, name), "{name}");
    }
    // SMTHN of order 3 is SMTH3.
    assert_eq!(common::column(&x, "sn3"), common::column(&t, "s3"));
}

#[test]
fn names_are_case_insensitive_with_spaces_equal_to_underscores() {
    let r = run_xmile(&xmile(
        SPECS,
        r#"<model><variables>
<aux name="Room Temperature"><eqn>70</eqn></aux>
<aux name="odd $name (x)"><eqn>2</eqn></aux>
<aux name="sum"><eqn>room_TEMPERATURE + "Room   Temperature" + "odd $name (x)" + ROOM_temperature</eqn></aux>
</variables></model>"#,
    ));
    assert_eq!(common::column(&r, "sum")[0], 212.0);
    // Output columns keep the names as written.
    assert_eq!(common::column(&r, "odd $name (x)")[0], 2.0);
}

#[test]
fn sim_specs_reciprocal_dt_rk4_and_save_interval() {
    let specs = r#"<sim_specs method="RK4" time_units="Years" save_interval="1"><start>0</start><stop>2</stop><dt reciprocal="true">4</dt></sim_specs>"#;
    let model = load_xmile(&xmile(
        specs,
        r#"<model><variables>
<stock name="x"><eqn>1</eqn><inflow>growth</inflow></stock>
<flow name="growth"><eqn>x</eqn></flow>
</variables></model>"#,
    ));
    let time = model.time();
    assert_eq!(
        (time.dt, time.save_step, time.units.as_str()),
        (0.25, 1.0, "Years")
    );
    let r = common::run_model(&model);
    assert_eq!(r.times, vec![0.0, 1.0, 2.0]);
    // RK4 with h = 1/4: (1 + h + h²/2 + h³/6 + h⁴/24)^(4t).
    let h: f64 = 0.25;
    let g = 1.0 + h + h * h / 2.0 + h.powi(3) / 6.0 + h.powi(4) / 24.0;
    let x = common::column(&r, "x");
    common::assert_close("x(2)", x[2], g.powi(8), 1e-12, 1e-12);
}

#[test]
fn graphical_functions_all_forms() {
    let r = run_xmile(&xmile(
        r#"<sim_specs><start>0</start><stop>4</stop><dt>0.5</dt></sim_specs>"#,
        r#"<model><variables>
<gf name="table"><xscale min="0" max="2"/><ypts>0, 10, 40</ypts></gf>
<gf name="steep" type="extrapolate"><xpts sep=";">0;1</xpts><ypts sep=";">0;2</ypts></gf>
<aux name="held"><eqn>table(TIME)</eqn></aux>
<aux name="looked up"><eqn>LOOKUP(table, TIME / 2)</eqn></aux>
<aux name="extended"><eqn>steep(TIME)</eqn></aux>
<aux name="own gf"><eqn>TIME</eqn><gf><xpts>0,4</xpts><ypts>100,0</ypts></gf></aux>
<gf name="steps" type="discrete"><xpts>0,1,3</xpts><ypts>1,2,3</ypts></gf>
<aux name="stepped"><eqn>steps(TIME)</eqn></aux>
</variables></model>"#,
    ));
    assert_eq!(
        common::column(&r, "held"),
        vec![0.0, 5.0, 10.0, 25.0, 40.0, 40.0, 40.0, 40.0, 40.0]
    );
    assert_eq!(common::column(&r, "looked up")[3], 7.5);
    assert_eq!(common::column(&r, "extended")[8], 8.0);
    assert_eq!(
        common::column(&r, "own gf"),
        vec![100.0, 87.5, 75.0, 62.5, 50.0, 37.5, 25.0, 12.5, 0.0]
    );
    assert_eq!(
        common::column(&r, "stepped"),
        vec![1.0, 1.0, 2.0, 2.0, 2.0, 2.0, 3.0, 3.0, 3.0]
    );
}

#[test]
fn arrays_subscripts_and_aggregates() {
    let r = run_xmile(&xmile(
        r#"<sim_specs><start>0</start><stop>1</stop><dt>1</dt></sim_specs>
<dimensions>
<dim name="Age"><elem name="young"/><elem name="old age"/><elem name="very old"/></dim>
<dim name="Sex" size="2"/>
</dimensions>"#,
        r#"<model><variables>
<aux name="pop"><dimensions><dim name="Age"/><dim name="Sex"/></dimensions>
  <element subscript="young, 1"><eqn>1</eqn></element><element subscript="young, 2"><eqn>2</eqn></element>
  <element subscript="old age, 1"><eqn>3</eqn></element><element subscript="old age, 2"><eqn>4</eqn></element>
  <element subscript="very old, 1"><eqn>5</eqn></element><element subscript="very old, 2"><eqn>6</eqn></element>
</aux>
<aux name="by age"><dimensions><dim name="Age"/></dimensions><eqn>SUM(pop[Age, *])</eqn></aux>
<aux name="doubled"><dimensions><dim name="Age"/><dim name="Sex"/></dimensions><eqn>2 * pop</eqn></aux>
<aux name="total"><eqn>SUM(pop[*, *])</eqn></aux>
<aux name="oldest men"><eqn>pop[Age.very_old, 1] + pop[3, 1]</eqn></aux>
<aux name="most"><eqn>MAX(by_age[Age])</eqn></aux>
<aux name="mean"><eqn>MEAN(by_age[*])</eqn></aux>
<aux name="older"><eqn>SUM(by_age[old_age:very_old])</eqn></aux>
<aux name="n"><eqn>SIZE(pop)</eqn></aux>
<aux name="weights"><dimensions><dim name="Sex"/></dimensions><eqn>0.25, 0.75</eqn></aux>
</variables></model>"#,
    ));
    let v = |n: &str| common::column(&r, n)[0];
    assert_eq!(
        [
            v("by age[young]"),
            v("by age[old age]"),
            v("by age[very old]")
        ],
        [3.0, 7.0, 11.0]
    );
    assert_eq!(v("doubled[very old,2]"), 12.0);
    assert_eq!(v("total"), 21.0);
    assert_eq!(v("oldest men"), 10.0);
    assert_eq!(v("most"), 11.0);
    assert_eq!(v("mean"), 7.0);
    assert_eq!(v("older"), 18.0);
    assert_eq!(v("n"), 6.0);
    assert_eq!([v("weights[1]"), v("weights[2]")], [0.25, 0.75]);
}

#[test]
fn expression_macros_expand_per_call_with_their_own_state() {
    let r = run_xmile(&xmile(
        r#"<sim_specs><start>0</start><stop>4</stop><dt>1</dt></sim_specs>
<macro name="smoothed"><parm>x</parm><parm>t</parm><eqn>SMTH1(x, t)</eqn></macro>
<macro name="twice"><parm>x</parm><eqn>2 * (x)</eqn></macro>"#,
        r#"<model><variables>
<aux name="a"><eqn>smoothed(10, 2)</eqn></aux>
<aux name="b"><eqn>smoothed(STEP(10, 1), 1)</eqn></aux>
<aux name="c"><eqn>twice(twice(TIME) + 1)</eqn></aux>
</variables></model>"#,
    ));
    // Separate state per call: a stays at its constant input, b follows its step.
    assert_eq!(common::column(&r, "a"), vec![10.0; 5]);
    assert_eq!(common::column(&r, "b"), vec![0.0, 0.0, 10.0, 10.0, 10.0]);
    assert_eq!(common::column(&r, "c"), vec![2.0, 6.0, 10.0, 14.0, 18.0]);
}

/// A macro with its own variables (a stock): every call is an instance with its own state.
#[test]
fn macros_with_variables_have_state_per_call() {
    let r = run_xmile(&xmile(
        r#"<sim_specs><start>0</start><stop>4</stop><dt>1</dt></sim_specs>
<macro name="accum"><parm>rate</parm><eqn>level</eqn>
  <variables>
    <stock name="level"><eqn>0</eqn><inflow>in_flow</inflow></stock>
    <flow name="in_flow"><eqn>rate</eqn></flow>
  </variables>
</macro>"#,
        r#"<model><variables>
<aux name="a"><eqn>accum(1)</eqn></aux>
<aux name="b"><eqn>accum(TIME) + accum(2 * a)</eqn></aux>
</variables></model>"#,
    ));
    // a = Σ 1 = t; b = Σ_{k<t} k + Σ_{k<t} 2k = 3·t(t−1)/2.
    assert_eq!(common::column(&r, "a"), vec![0.0, 1.0, 2.0, 3.0, 4.0]);
    assert_eq!(common::column(&r, "b"), vec![0.0, 0.0, 3.0, 9.0, 18.0]);
    assert_eq!(
        common::column(&r, "accum_3.level"),
        vec![0.0, 0.0, 2.0, 6.0, 12.0]
    );
}

/// A macro with its own variables called from an arrayed equation: one instance per element,
/// each with its own state, its parameters taking that element's arguments.
#[test]
fn macros_with_variables_called_from_arrayed_equations() {
    let r = run_xmile(&xmile(
        r#"<sim_specs><start>0</start><stop>4</stop><dt>1</dt></sim_specs>
<dimensions><dim name="D"><elem name="slow"/><elem name="fast"/></dim></dimensions>
<macro name="accum"><parm>rate</parm><parm>start</parm><eqn>level</eqn>
  <variables>
    <stock name="level"><eqn>start</eqn><inflow>in_flow</inflow></stock>
    <flow name="in_flow"><eqn>rate</eqn></flow>
  </variables>
</macro>"#,
        r#"<model><variables>
<aux name="rate"><dimensions><dim name="D"/></dimensions><eqn>1, 3</eqn></aux>
<aux name="a"><dimensions><dim name="D"/></dimensions><eqn>accum(rate * TIME, 10) + accum(rate[slow], 0)</eqn></aux>
<aux name="total"><eqn>SUM(a[*])</eqn></aux>
</variables></model>"#,
    ));
    // accum(r·t, 10) = 10 + r·Σ_{k<t} k = 10 + r·t(t−1)/2; accum(1, 0) = t.
    let want = |r: f64| -> Vec<f64> {
        (0..5)
            .map(|t| 10.0 + r * (t * (t - 1)) as f64 / 2.0 + t as f64)
            .collect()
    };
    assert_eq!(common::column(&r, "a[slow]"), want(1.0));
    assert_eq!(common::column(&r, "a[fast]"), want(3.0));
    assert_eq!(
        common::column(&r, "total"),
        want(1.0)
            .iter()
            .zip(want(3.0))
            .map(|(x, y)| x + y)
            .collect::<Vec<_>>()
    );
}

/// XMILE non-negative stocks are clamped at zero; their flows are not changed (the reference
/// outputs of the community's test models require this). Uniflows are max(0, equation).
#[test]
fn non_negative_stocks_and_uniflows() {
    let r = run_xmile(&xmile(
        r#"<sim_specs><start>0</start><stop>5</stop><dt>1</dt></sim_specs>"#,
        r#"<model><variables>
<stock name="tank"><eqn>2.5</eqn><outflow>drain</outflow><non_negative/></stock>
<stock name="free"><eqn>2.5</eqn><outflow>drain</outflow></stock>
<flow name="drain"><eqn>1</eqn></flow>
<stock name="other"><eqn>0</eqn><inflow>uni</inflow></stock>
<flow name="uni"><eqn>TIME - 2</eqn><non_negative/></flow>
</variables></model>"#,
    ));
    assert_eq!(
        common::column(&r, "tank"),
        vec![2.5, 1.5, 0.5, 0.0, 0.0, 0.0]
    );
    assert_eq!(
        common::column(&r, "free"),
        vec![2.5, 1.5, 0.5, -0.5, -1.5, -2.5]
    );
    assert_eq!(common::column(&r, "drain"), vec![1.0; 6]);
    assert_eq!(
        common::column(&r, "uni"),
        vec![0.0, 0.0, 0.0, 1.0, 2.0, 3.0]
    );
    assert_eq!(
        common::column(&r, "other"),
        vec![0.0, 0.0, 0.0, 0.0, 1.0, 3.0]
    );
}

/// Files converted from Vensim (the header names Vensim) read INT and MOD as Vensim's INTEGER
/// and MODULO (toward zero); other files as XMILE's (floor).
#[test]
fn int_and_mod_follow_the_files_origin() {
    let model = |vendor: &str| {
        format!(
            r#"<xmile version="1.0" xmlns="http://docs.oasis-open.org/xmile/ns/XMILE/v1.0">
<header><vendor>{vendor}</vendor></header>
<sim_specs><start>0</start><stop>1</stop><dt>1</dt></sim_specs>
<model><variables>
<aux name="i"><eqn>INT(-9.5)</eqn></aux>
<aux name="m"><eqn>-7 MOD 3</eqn></aux>
</variables></model></xmile>"#
        )
    };
    let xmile = run_xmile(&model("isee systems"));
    assert_eq!(
        (
            common::column(&xmile, "i")[0],
            common::column(&xmile, "m")[0]
        ),
        (-10.0, 2.0)
    );
    let vensim = run_xmile(&model("Ventana Systems, xmutil"));
    let product = run_xmile(&model("x").replace("<vendor>x</vendor>", "<product>Vensim</product>"));
    for r in [vensim, product] {
        assert_eq!(
            (common::column(&r, "i")[0], common::column(&r, "m")[0]),
            (-9.0, -1.0)
        );
    }
}

#[test]
fn modules_are_flattened_with_connections() {
    let r = run_xmile(&xmile(
        r#"<sim_specs><start>0</start><stop>3</stop><dt>1</dt></sim_specs>"#,
        r#"<model><variables>
<aux name="drive"><eqn>5</eqn></aux>
<module name="Tank A"><connect to="Tank A.inflow rate" from="drive"/></module>
<module name="Tank B" model_name="tank a"><connect to="inflow_rate" from=".Tank_A.level"/></module>
<aux name="total"><eqn>Tank_A.level + Tank_B.level</eqn></aux>
</variables></model>
<model name="Tank A"><variables>
<aux name="inflow rate" access="input"><eqn>0</eqn></aux>
<flow name="fill"><eqn>inflow_rate</eqn></flow>
<stock name="level"><eqn>1</eqn><inflow>fill</inflow></stock>
</variables></model>"#,
    ));
    // A: 1 + 5t. B: 1 + Σ A(k) for k < t.
    assert_eq!(
        common::column(&r, "Tank A.level"),
        vec![1.0, 6.0, 11.0, 16.0]
    );
    assert_eq!(
        common::column(&r, "Tank B.level"),
        vec![1.0, 2.0, 8.0, 19.0]
    );
    assert_eq!(common::column(&r, "total"), vec![2.0, 8.0, 19.0, 35.0]);
}

/// A scenario can name an XMILE model; its constants are its numeric auxiliaries.
#[test]
fn scenario_runs_an_xmile_model() {
    let dir = common::temp_dir("xmile-scenario");
    std::fs::write(
        dir.join("tub.xmile"),
        xmile(
            r#"<sim_specs time_units="minute"><start>0</start><stop>10</stop><dt>0.5</dt></sim_specs>"#,
            r#"<model><variables>
<stock name="water"><eqn>100</eqn><outflow>drain</outflow></stock>
<flow name="drain"><eqn>water / drain_time</eqn></flow>
<aux name="drain time"><eqn>4</eqn></aux>
</variables></model>"#,
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("s.toml"),
        r#"[scenario]
name = "xmile"
model = "tub.xmile"
[uncertainty]
runs = 20
seed = 3
[uncertainty.parameters]
drain_time = { dist = "uniform", low = 3, high = 5 }
[[metrics]]
name = "water_at_10"
kind = "value"
variable = "water"
arm = "intervention"
at = 10
"#,
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_careshift"))
        .args([
            "run",
            dir.join("s.toml").to_str().unwrap(),
            "--out",
            dir.join("out").to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary = std::fs::read_to_string(dir.join("out/summary.json")).unwrap();
    assert!(summary.contains("water_at_10"), "{summary}");
}

/// A graphical function per array element, and one inside a module's variable.
#[test]
fn graphical_functions_per_element_and_in_modules() {
    let r = run_xmile(&xmile(
        r#"<sim_specs><start>0</start><stop>2</stop><dt>1</dt></sim_specs>
<dimensions><dim name="D"><elem name="a"/><elem name="b"/></dim></dimensions>"#,
        r#"<model><variables>
<module name="m"/>
<aux name="per"><dimensions><dim name="D"/></dimensions>
  <element subscript="a"><eqn>TIME</eqn><gf><xpts>0,2</xpts><ypts>0,10</ypts></gf></element>
  <element subscript="b"><eqn>TIME</eqn><gf><xpts>0,2</xpts><ypts>5,1</ypts></gf></element>
</aux>
</variables></model>
<model name="m"><variables>
<aux name="x"><eqn>TIME</eqn><gf><xpts>0,2</xpts><ypts>100,300</ypts></gf></aux>
</variables></model>"#,
    ));
    assert_eq!(common::column(&r, "per[a]"), vec![0.0, 5.0, 10.0]);
    assert_eq!(common::column(&r, "per[b]"), vec![5.0, 3.0, 1.0]);
    assert_eq!(common::column(&r, "m.x"), vec![100.0, 200.0, 300.0]);
}

/// DELAY (pipeline) and FORCST against their definitions: DELAY(x, T [, init]) is x from T
/// ago (init, or x's initial value, before); FORCST(x, T, h [, g0]) = x·(1 + TREND(x, T, g0)·h).
#[test]
fn pipeline_delay_and_forecast() {
    let r = run_xmile(&xmile(
        SPECS,
        r#"<model><variables>
<aux name="input"><eqn>10 + 2 * TIME</eqn></aux>
<aux name="late"><eqn>DELAY(input, 1.5)</eqn></aux>
<aux name="late init"><eqn>DELAY(TIME, 2, -7)</eqn></aux>
<aux name="ahead"><eqn>FORCST(input, 2, 3)</eqn></aux>
<aux name="ahead g"><eqn>FORCST(input, 2, 3, 0.1)</eqn></aux>
<aux name="trend"><eqn>TREND(input, 2)</eqn></aux>
<aux name="trend g"><eqn>TREND(input, 2, 0.1)</eqn></aux>
</variables></model>"#,
    ));
    let col = |n: &str| common::column(&r, n);
    let (input, trend, trend_g) = (col("input"), col("trend"), col("trend g"));
    for (k, &t) in r.times.iter().enumerate() {
        let late = if t < 1.5 {
            10.0
        } else {
            10.0 + 2.0 * (t - 1.5)
        };
        common::assert_close(&format!("late at {t}"), col("late")[k], late, 1e-12, 1e-12);
        let late_init = if t < 2.0 { -7.0 } else { t - 2.0 };
        common::assert_close(
            &format!("late init at {t}"),
            col("late init")[k],
            late_init,
            1e-12,
            0.0,
        );
        let ahead = input[k] * (1.0 + trend[k] * 3.0);
        common::assert_close(
            &format!("ahead at {t}"),
            col("ahead")[k],
            ahead,
            1e-12,
            1e-12,
        );
        let ahead_g = input[k] * (1.0 + trend_g[k] * 3.0);
        common::assert_close(
            &format!("ahead g at {t}"),
            col("ahead g")[k],
            ahead_g,
            1e-12,
            1e-12,
        );
    }
    // The initial trend is the given one: FORCST starts at x·(1 + g0·h).
    assert!((col("ahead g")[0] - 10.0 * 1.3).abs() < 1e-12);
}

/// A negative pipeline delay is an error at the start of the run, at its place.
#[test]
fn negative_pipeline_delay_is_an_error() {
    let model = load_xmile(&xmile(
        SPECS,
        r#"<model><variables><aux name="late"><eqn>DELAY(TIME, 0.1 - 1)</eqn></aux></variables></model>"#,
    ));
    let err = model
        .run(model.time(), &[])
        .map(|_| ())
        .unwrap_err()
        .render(&model.sources);
    assert!(
        err.contains("the delay time of DELAY FIXED is -0.9; it must be a finite number ≥ 0"),
        "{err}"
    );
    assert!(err.contains("model.xmile:5:53"), "{err}");
}

/// Vensim-style subranges (a dimension whose elements are some of another's, in any order)
/// stand for their parent, element by element by name; ranges by position or name; `*`;
/// STDDEV, RANK and SIZE over arrays, slices and subranges; an unsubscripted array in an
/// array builtin is the whole array.
/// The export of the imported model gives the same values.
#[test]
fn subranges_ranges_and_positions() {
    let body = xmile(
        r#"<sim_specs><start>0</start><stop>1</stop><dt>1</dt></sim_specs>
<dimensions>
<dim name="Region"><elem name="north"/><elem name="south"/><elem name="east"/><elem name="west"/></dim>
<dim name="Coast"><elem name="east"/><elem name="north"/></dim>
</dimensions>"#,
        r#"<model><variables>
<aux name="pop"><dimensions><dim name="Region"/></dimensions><eqn>1, 2, 3, 4</eqn></aux>
<aux name="coastal pop"><dimensions><dim name="Coast"/></dimensions><eqn>pop[Coast]</eqn></aux>
<aux name="coastal plain"><dimensions><dim name="Coast"/></dimensions><eqn>10 * pop</eqn></aux>
<aux name="share"><dimensions><dim name="Coast"/></dimensions><eqn>pop[Coast] / SUM(pop[Region])</eqn></aux>
<aux name="coastal total"><eqn>SUM(pop[Coast])</eqn></aux>
<aux name="coastal mean"><eqn>MEAN(pop[Coast] * 2)</eqn></aux>
<aux name="coastal max"><eqn>MAX(coastal_pop[*])</eqn></aux>
<aux name="middle"><eqn>SUM(pop[2:3])</eqn></aux>
<aux name="middle named"><eqn>PROD(pop[south:east])</eqn></aux>
<aux name="first"><eqn>pop[1] + pop[Region.west]</eqn></aux>
<aux name="spread"><eqn>STDDEV(pop[*])</eqn></aux>
<aux name="whole"><dimensions><dim name="Region"/></dimensions><eqn>SUM(pop) + 0 * pop</eqn></aux>
<aux name="sizes"><eqn>SIZE(pop) + 10 * SIZE(pop[Coast]) + 100 * SIZE(pop[2:4]) + 1000 * SIZE(pop[east])</eqn></aux>
<aux name="coastal spread"><eqn>STDDEV(pop[Coast])</eqn></aux>
<aux name="second smallest"><eqn>RANK(pop, 2) + 10 * RANK(coastal_pop[*], 1)</eqn></aux>
</variables></model>"#,
    );
    let r = run_xmile(&body);
    let v = |n: &str| common::column(&r, n)[0];
    assert_eq!(
        [v("coastal pop[east]"), v("coastal pop[north]")],
        [3.0, 1.0]
    );
    assert_eq!(
        [v("coastal plain[east]"), v("coastal plain[north]")],
        [30.0, 10.0]
    );
    assert_eq!([v("share[east]"), v("share[north]")], [0.3, 0.1]);
    assert_eq!(v("coastal total"), 4.0);
    assert_eq!(v("coastal mean"), 4.0);
    assert_eq!(v("coastal max"), 3.0);
    assert_eq!(v("middle"), 5.0);
    assert_eq!(v("middle named"), 6.0);
    assert_eq!(v("first"), 5.0);
    // Population standard deviations: of 1, 2, 3, 4 and of 3, 1.
    assert_eq!(v("spread"), 1.25f64.sqrt());
    assert_eq!(v("coastal spread"), 1.0);
    // An array builtin's argument without subscripts is the whole array, also in an arrayed
    // variable over the same dimension.
    assert_eq!([v("whole[north]"), v("whole[west]")], [10.0, 10.0]);
    assert_eq!(v("sizes"), 4.0 + 20.0 + 300.0 + 1000.0);
    // RANK: the position of the n-th smallest (pop's 2 is 2nd; coastal pop's 1 is at north, 2nd).
    assert_eq!(v("second smallest"), 2.0 + 10.0 * 2.0);

    let path = common::temp_dir("xmile-subranges").join("model.xmile");
    std::fs::write(&path, &body).unwrap();
    let (decl, _) = careshift::load_decl(&path, careshift::diagnostics::Sources::new())
        .unwrap_or_else(|f| panic!("{}", f.render()));
    let exported =
        careshift::xmile::export::export(&decl).unwrap_or_else(|d| panic!("export: {d:?}"));
    let again = common::run_model(&load_xmile(&exported.xml));
    for name in &r.columns {
        let theirs = exported.columns.get(name).unwrap_or(name);
        assert_eq!(
            common::column(&r, name),
            common::column(&again, theirs),
            "{name} after export"
        );
    }
}

/// STARTTIME, STOPTIME and the Vensim control constants (added by the importer, or defined by
/// the file) follow the run's time settings, not only the file's: a run over another period or
/// with another dt computes with that period and dt.
#[test]
fn time_control_constants_follow_the_run_time_settings() {
    let model = load_xmile(&xmile(
        r#"<sim_specs method="Euler" time_units="Months"><start>0</start><stop>10</stop><dt>0.25</dt><save_step>1</save_step></sim_specs>"#,
        r#"<model><variables>
<aux name="span"><eqn>STOPTIME - STARTTIME</eqn></aux>
<aux name="left"><eqn>FINAL TIME - TIME</eqn></aux>
<aux name="steps"><eqn>(FINAL TIME - INITIAL TIME) / TIME STEP</eqn></aux>
<aux name="rows"><eqn>(FINAL TIME - INITIAL TIME) / SAVEPER</eqn></aux>
</variables></model>"#,
    ));
    for (start, stop, dt, save_step) in [(0.0, 10.0, 0.25, 1.0), (2.0, 30.0, 0.5, 2.0)] {
        let mut time = model.time().clone();
        (time.start, time.stop, time.dt, time.save_step) = (start, stop, dt, save_step);
        let r = model.run(&time, &[]).expect("run");
        let span = stop - start;
        for (k, &t) in r.times.iter().enumerate() {
            let at = |name: &str| common::column(&r, name)[k];
            assert_eq!(at("span"), span, "span at {t}");
            assert_eq!(at("left"), stop - t, "left at {t}");
            assert_eq!(at("steps"), span / dt, "steps at {t}");
            assert_eq!(at("rows"), span / save_step, "rows at {t}");
        }
        assert_eq!(*r.times.last().unwrap(), stop);
    }
    // A file that defines FINAL TIME itself (as Vensim conversions do): it follows the run too.
    let own = load_xmile(&xmile(
        SPECS,
        r#"<model><variables>
<aux name="FINAL TIME"><eqn>10</eqn></aux>
<aux name="left"><eqn>FINAL TIME - TIME</eqn></aux>
</variables></model>"#,
    ));
    let mut time = own.time().clone();
    time.stop = 16.0;
    let r = own.run(&time, &[]).expect("run");
    assert_eq!(common::column(&r, "left")[0], 16.0);
}
