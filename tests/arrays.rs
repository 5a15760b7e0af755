//! Arrays: one- and two-dimensional variables, element selection, aggregates, arrayed stocks
//! and flows, CSV column names and overrides of arrayed constants.

mod common;

use careshift::output::csv_text;
use common::{assert_close, column, load_toml, run_toml};

const AGES: [&str; 4] = ["0-64", "65-74", "75-84", "85+"];
const FRAILTY: [&str; 3] = ["fit", "mild", "severe"];

/// Euler, dt = 0.5, rows at 0, 1, 2, 3.
const MODEL: &str = r#"
[time]
start = 0
stop = 3
dt = 0.5
save_step = 1
units = "year"

[dimensions]
age = ["0-64", "65-74", "75-84", "85+"]
frailty = ["fit", "mild", "severe"]

[constants.y]
dims = ["age"]
value = [1, 2, 3, 4]

[constants.z]
value = 10

[constants.half]
dims = ["age"]
value = 0.5

[constants.v]
dims = ["age"]
value = [2, 0.5, -1, 3]

[constants.share]
dims = ["frailty"]
value = [0.6, 0.3, 0.1]

[constants.m]
dims = ["age", "frailty"]
value = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]

[constants.rate]
dims = ["age"]
value = [0.1, 0.2, 0.3, 0.4]

[constants.per_element_constant]
dims = ["frailty"]
[constants.per_element_constant.elements]
fit = 5
mild = "z * 2"
severe = "y[\"85+\"] + 0.5"

[auxiliaries.x_implicit]
dims = ["age"]
equation = "y * z"

[auxiliaries.x_explicit]
dims = ["age"]
equation = "y[age] * z + TIME"

[auxiliaries.per_element]
dims = ["age"]
[auxiliaries.per_element.elements]
"0-64" = 1
"65-74" = "y[\"85+\"] * 2"
"75-84" = "TIME"
"85+" = "y[age] + 100"

[auxiliaries.m_elements]
dims = ["age", "frailty"]
[auxiliaries.m_elements.elements]
"0-64,fit" = 1
"0-64,mild" = 2
"0-64,severe" = 3
"65-74,fit" = "m[age, frailty] * 10"
"65-74,mild" = "m * 10"
"65-74,severe" = "m[\"0-64\", severe] * 10"
"75-84,fit" = 7
"75-84,mild" = 8
"75-84,severe" = 9
"85+,fit" = "share[fit]"
"85+,mild" = "y[age] * share[frailty]"
"85+,severe" = "TIME * 100"

[auxiliaries.oldest]
equation = "y[\"85+\"]"

[auxiliaries.fit_share]
equation = "share[fit]"

[auxiliaries.severe_oldest]
equation = "m[\"85+\", severe]"

[auxiliaries.older]
equation = "SUM(y[\"65-74\"..\"85+\"])"

[auxiliaries.total]
equation = "SUM(y[*])"

[auxiliaries.v_mean]
equation = "MEAN(v[*])"

[auxiliaries.v_mean_range]
equation = "MEAN(v[\"0-64\"..\"75-84\"])"

[auxiliaries.v_min]
equation = "MIN(v[*])"

[auxiliaries.v_max]
equation = "MAX(v[*])"

[auxiliaries.v_prod]
equation = "PROD(v[*])"

[auxiliaries.by_age]
dims = ["age"]
equation = "SUM(m[age, *])"

[auxiliaries.by_frailty]
dims = ["frailty"]
equation = "SUM(m[*, frailty])"

[auxiliaries.max_by_age]
dims = ["age"]
equation = "MAX(m[age, *])"

[auxiliaries.grand_total]
equation = "SUM(m[*, *])"

[auxiliaries.dot]
equation = "SUM(y[*] * v[*])"

[auxiliaries.weighted]
dims = ["age"]
equation = "SUM(m[age, *] * share[*])"

[auxiliaries.share_of_total]
dims = ["age"]
equation = "y / SUM(y[*])"

[auxiliaries.m2]
dims = ["age", "frailty"]
equation = "m * 2 + y"

[auxiliaries.implicit_sum]
equation = "SUM(y)"

[auxiliaries.implicit_dot]
equation = "SUM(y * v)"

[auxiliaries.sum_abs]
equation = "SUM(ABS(v[*]))"

[auxiliaries.sum_positive]
equation = "SUM(IF v[*] > 0 THEN v[*] ELSE 0)"

[auxiliaries.prod_range]
equation = "PROD(v[\"65-74\"..\"85+\"])"

[auxiliaries.older_m]
equation = "SUM(m[\"65-74\"..\"85+\", *])"

[auxiliaries.mean_by_age]
dims = ["age"]
equation = "MEAN(m[age, *])"

[auxiliaries.min_of_two]
dims = ["age"]
equation = "MIN(y, v)"

[auxiliaries.delayed]
dims = ["age"]
equation = "DELAY1(y, 2, 0)"

[auxiliaries.previous_pop]
dims = ["age"]
equation = "PREVIOUS(pop, 0)"

[auxiliaries.initial_x]
dims = ["age"]
equation = "INIT(x_explicit)"

[stocks.pop]
dims = ["age"]
initial = "y * 100"
inflows = ["arrivals"]
outflows = ["leaving"]

[flows.arrivals]
dims = ["age"]
equation = "y"

[flows.leaving]
dims = ["age"]
equation = "pop * rate[age]"

[stocks.queue]
dims = ["age"]
initial = "y"
inflows = ["scalar_in"]

[flows.scalar_in]
equation = "3"

[stocks.cases]
dims = ["age", "frailty"]
initial = "m"
inflows = ["onset"]

[flows.onset]
dims = ["age"]
equation = "y"

[auxiliaries.transposed]
dims = ["frailty", "age"]
equation = "m"

[stocks.cases_from_transposed]
dims = ["age", "frailty"]
initial = 0
inflows = ["transposed_onset"]

[flows.transposed_onset]
dims = ["frailty", "age"]
equation = "m[age, frailty] / 2"

[stocks.beds]
dims = ["frailty"]
[stocks.beds.elements]
fit = 1
mild = "2 * z"
severe = 3
"#;

fn name1(var: &str, e: &str) -> String {
    format!("{var}[{e}]")
}

fn name2(var: &str, a: &str, f: &str) -> String {
    format!("{var}[{a},{f}]")
}

/// m[a, f] = 3a + f + 1 (indices from 0), as declared row-major.
fn m(a: usize, f: usize) -> f64 {
    (3 * a + f + 1) as f64
}

const Y: [f64; 4] = [1.0, 2.0, 3.0, 4.0];
const V: [f64; 4] = [2.0, 0.5, -1.0, 3.0];
const SHARE: [f64; 3] = [0.6, 0.3, 0.1];
const RATE: [f64; 4] = [0.1, 0.2, 0.3, 0.4];

/// Every row of `name` equals `want(t)`.
fn check(r: &careshift::simulate::Results, name: &str, want: impl Fn(f64) -> f64) {
    for (&t, &g) in r.times.iter().zip(&column(r, name)) {
        assert_close(&format!("{name} at t = {t}"), g, want(t), 1e-12, 1e-12);
    }
}

#[test]
fn one_equation_for_every_element_and_literal_values() {
    let r = run_toml(MODEL);
    assert_eq!(r.times, vec![0.0, 1.0, 2.0, 3.0]);
    for (i, a) in AGES.iter().enumerate() {
        check(&r, &name1("y", a), |_| Y[i]);
        // A single value is used for every element.
        check(&r, &name1("half", a), |_| 0.5);
        // Implicit matching by dimension name and the explicit `y[age]` agree.
        check(&r, &name1("x_implicit", a), |_| Y[i] * 10.0);
        check(&r, &name1("x_explicit", a), |t| Y[i] * 10.0 + t);
    }
    // A 2-D literal list is row-major: the last dimension varies fastest.
    for (ai, a) in AGES.iter().enumerate() {
        for (fi, f) in FRAILTY.iter().enumerate() {
            check(&r, &name2("m", a, f), |_| m(ai, fi));
            // 2-D with 1-D: y is matched on `age`, the same for every frailty.
            check(&r, &name2("m2", a, f), |_| 2.0 * m(ai, fi) + Y[ai]);
        }
    }
}

#[test]
fn per_element_equations() {
    let r = run_toml(MODEL);
    check(&r, "per_element[0-64]", |_| 1.0);
    check(&r, "per_element[65-74]", |_| 8.0);
    check(&r, "per_element[75-84]", |t| t);
    // Inside an element's own equation the dimension name stands for that element.
    check(&r, "per_element[85+]", |_| 104.0);

    check(&r, "per_element_constant[fit]", |_| 5.0);
    check(&r, "per_element_constant[mild]", |_| 20.0);
    check(&r, "per_element_constant[severe]", |_| 4.5);

    check(&r, "m_elements[0-64,fit]", |_| 1.0);
    check(&r, "m_elements[0-64,severe]", |_| 3.0);
    check(&r, "m_elements[65-74,fit]", |_| 40.0);
    check(&r, "m_elements[65-74,mild]", |_| 50.0);
    check(&r, "m_elements[65-74,severe]", |_| 30.0);
    check(&r, "m_elements[75-84,mild]", |_| 8.0);
    check(&r, "m_elements[85+,fit]", |_| 0.6);
    check(&r, "m_elements[85+,mild]", |_| 4.0 * 0.3);
    check(&r, "m_elements[85+,severe]", |t| 100.0 * t);

    // Stock initial values per element.
    check(&r, "beds[fit]", |_| 1.0);
    check(&r, "beds[mild]", |_| 20.0);
    check(&r, "beds[severe]", |_| 3.0);
}

#[test]
fn single_elements_ranges_and_aggregates() {
    let r = run_toml(MODEL);
    check(&r, "oldest", |_| 4.0);
    check(&r, "fit_share", |_| 0.6);
    check(&r, "severe_oldest", |_| 12.0);
    check(&r, "older", |_| 2.0 + 3.0 + 4.0);
    check(&r, "total", |_| 10.0);
    check(&r, "v_mean", |_| (2.0 + 0.5 - 1.0 + 3.0) / 4.0);
    check(&r, "v_mean_range", |_| (2.0 + 0.5 - 1.0) / 3.0);
    check(&r, "v_min", |_| -1.0);
    check(&r, "v_max", |_| 3.0);
    check(&r, "v_prod", |_| V.iter().product());
    check(&r, "grand_total", |_| (1..=12).sum::<i32>() as f64);
    check(&r, "dot", |_| Y.iter().zip(&V).map(|(a, b)| a * b).sum());
    // An arrayed variable without subscripts inside an aggregate, in a context that is not
    // arrayed over its dimension, iterates over every element.
    check(&r, "implicit_sum", |_| 10.0);
    check(&r, "implicit_dot", |_| {
        Y.iter().zip(&V).map(|(a, b)| a * b).sum()
    });
    check(&r, "sum_abs", |_| 2.0 + 0.5 + 1.0 + 3.0);
    check(&r, "sum_positive", |_| 2.0 + 0.5 + 3.0);
    check(&r, "prod_range", |_| V[1..].iter().product());
    check(&r, "older_m", |_| (3..12).map(|k| (k + 1) as f64).sum());
    for (ai, a) in AGES.iter().enumerate() {
        check(&r, &name1("by_age", a), |_| (0..3).map(|f| m(ai, f)).sum());
        check(&r, &name1("max_by_age", a), |_| m(ai, 2));
        check(&r, &name1("mean_by_age", a), |_| m(ai, 1));
        check(&r, &name1("min_of_two", a), |_| Y[ai].min(V[ai]));
        check(&r, &name1("weighted", a), |_| {
            (0..3).map(|f| m(ai, f) * SHARE[f]).sum()
        });
        // Inside SUM the wildcard iterates even though the context is arrayed over `age`.
        check(&r, &name1("share_of_total", a), |_| Y[ai] / 10.0);
    }
    for (fi, f) in FRAILTY.iter().enumerate() {
        check(&r, &name1("by_frailty", f), |_| {
            (0..4).map(|a| m(a, fi)).sum()
        });
    }
}

#[test]
fn arrayed_stocks_and_flows() {
    let r = run_toml(MODEL);
    let dt = 0.5;
    for (i, a) in AGES.iter().enumerate() {
        // Euler: pop_{k+1} = pop_k + dt·(y − rate·pop_k), two steps per saved row.
        let pop = column(&r, &name1("pop", a));
        let leaving = column(&r, &name1("leaving", a));
        let mut p = Y[i] * 100.0;
        for (row, &t) in r.times.iter().enumerate() {
            assert_close(&format!("pop[{a}] at {t}"), pop[row], p, 1e-9, 1e-12);
            assert_close(
                &format!("leaving[{a}] at {t}"),
                leaving[row],
                RATE[i] * p,
                1e-9,
                1e-12,
            );
            for _ in 0..2 {
                p += dt * (Y[i] - RATE[i] * p);
            }
        }
        check(&r, &name1("arrivals", a), |_| Y[i]);
    }
}

#[test]
fn stateful_builtins_are_per_element() {
    let r = run_toml(MODEL);
    let dt = 0.5;
    for (i, a) in AGES.iter().enumerate() {
        // DELAY1(y, 2, 0) with Euler: stage_{k+1} = stage_k + dt·(y − stage_k/2), output
        // stage/2, stage_0 = 0.
        let delayed = column(&r, &name1("delayed", a));
        let pop = column(&r, &name1("pop", a));
        let previous = column(&r, &name1("previous_pop", a));
        let mut stage = 0.0;
        let mut p = Y[i] * 100.0;
        let mut p_before = 0.0;
        for (row, &t) in r.times.iter().enumerate() {
            assert_close(
                &format!("delayed[{a}] at {t}"),
                delayed[row],
                stage / 2.0,
                1e-12,
                1e-12,
            );
            assert_close(&format!("pop[{a}] at {t}"), pop[row], p, 1e-9, 1e-12);
            // PREVIOUS(pop, 0): 0 at t0, then pop one dt (half a row) earlier.
            let want = if row == 0 { 0.0 } else { p_before };
            assert_close(
                &format!("previous_pop[{a}] at {t}"),
                previous[row],
                want,
                1e-9,
                1e-12,
            );
            for _ in 0..2 {
                stage += dt * (Y[i] - stage / 2.0);
                p_before = p;
                p += dt * (Y[i] - RATE[i] * p);
            }
        }
        check(&r, &name1("initial_x", a), |_| Y[i] * 10.0);
    }
}

#[test]
fn dimensions_are_matched_by_name_not_position() {
    let r = run_toml(MODEL);
    for (ai, a) in AGES.iter().enumerate() {
        for (fi, f) in FRAILTY.iter().enumerate() {
            // transposed[frailty, age] = m[age, frailty].
            check(&r, &name2("transposed", f, a), |_| m(ai, fi));
            // A flow over (frailty, age) feeds the matching element of a stock over
            // (age, frailty).
            check(&r, &name2("cases_from_transposed", a, f), |t| {
                m(ai, fi) / 2.0 * t
            });
        }
    }
    // Columns of a variable follow its own dimension order: frailty slowest here.
    let first = r
        .columns
        .iter()
        .position(|c| c == "transposed[fit,0-64]")
        .unwrap();
    let mut expected = Vec::new();
    for f in FRAILTY {
        for a in AGES {
            expected.push(name2("transposed", f, a));
        }
    }
    assert_eq!(r.columns[first..first + 12], expected[..]);
}

#[test]
fn a_flow_with_fewer_dimensions_feeds_every_element() {
    let r = run_toml(MODEL);
    // A scalar flow listed by an arrayed stock is applied to every element in full (it is not
    // split between them): queue[a] = y[a] + 3t.
    for (i, a) in AGES.iter().enumerate() {
        check(&r, &name1("queue", a), |t| Y[i] + 3.0 * t);
    }
    check(&r, "scalar_in", |_| 3.0);
    // A flow over `age` into a stock over (age, frailty): each frailty element of an age band
    // receives that band's flow.
    for (ai, a) in AGES.iter().enumerate() {
        for (fi, f) in FRAILTY.iter().enumerate() {
            check(&r, &name2("cases", a, f), |t| m(ai, fi) + Y[ai] * t);
        }
    }
}

#[test]
fn csv_columns_are_named_by_element_in_row_major_order() {
    let r = run_toml(MODEL);
    let text = csv_text(&r);
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .expect("CSV header")
        .iter()
        .map(str::to_string)
        .collect();
    assert_eq!(header[0], "time");
    assert_eq!(header.len(), r.columns.len() + 1);
    // A 2-D variable: consecutive columns, first dimension slowest.
    let start = header
        .iter()
        .position(|h| h == "m[0-64,fit]")
        .expect("m[0-64,fit] column");
    let mut expected = Vec::new();
    for a in AGES {
        for f in FRAILTY {
            expected.push(name2("m", a, f));
        }
    }
    assert_eq!(header[start..start + 12], expected[..]);
    // Names with a comma are quoted in the CSV text; 1-D names are not.
    assert!(text.lines().next().unwrap().contains(",\"m[0-64,fit]\","));
    assert!(text.lines().next().unwrap().contains(",y[85+],"));
    // A 1-D variable: consecutive, in declaration order.
    let y0 = header.iter().position(|h| h == "y[0-64]").unwrap();
    let ys: Vec<String> = AGES.iter().map(|a| name1("y", a)).collect();
    assert_eq!(header[y0..y0 + 4], ys[..]);
    // The data rows read back to the run's values.
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
    assert_eq!(rows.len(), r.times.len());
    for (row, record) in rows.iter().enumerate() {
        assert_eq!(record[0].parse::<f64>().unwrap(), r.times[row]);
        for (ai, fi) in [(0, 0), (1, 2), (3, 1)] {
            let k = start + 3 * ai + fi;
            assert_eq!(record[k].parse::<f64>().unwrap(), m(ai, fi));
        }
    }
}

#[test]
fn overrides_of_a_whole_array_and_of_one_element() {
    let model = load_toml(MODEL).unwrap_or_else(|f| panic!("{}", f.render()));
    let run = |sets: &[(&str, f64)]| {
        let sets: Vec<(String, f64)> = sets.iter().map(|(n, v)| (n.to_string(), *v)).collect();
        let ov = model
            .overrides(&sets)
            .unwrap_or_else(|d| panic!("{}", d.render(&model.sources)));
        model.run(model.time(), &ov).expect("run")
    };

    // The whole array: every element, and everything computed from it (including stock
    // initial values and constants defined by equations).
    let r = run(&[("y", 7.0)]);
    for a in AGES {
        check(&r, &name1("y", a), |_| 7.0);
        check(&r, &name1("x_implicit", a), |_| 70.0);
        assert_eq!(column(&r, &name1("pop", a))[0], 700.0);
    }
    check(&r, "total", |_| 28.0);
    check(&r, "per_element_constant[severe]", |_| 7.5);

    // One element; spaces in the element list are ignored.
    let r = run(&[("y[85+]", 9.0), ("m[85+, severe]", -1.0)]);
    for (i, a) in AGES.iter().enumerate() {
        let want = if i == 3 { 9.0 } else { Y[i] };
        check(&r, &name1("y", a), |_| want);
        check(&r, &name1("x_implicit", a), |_| want * 10.0);
    }
    check(&r, "total", |_| 1.0 + 2.0 + 3.0 + 9.0);
    check(&r, "m[85+,severe]", |_| -1.0);
    check(&r, "m[85+,mild]", |_| 11.0);
    check(&r, "by_age[85+]", |_| 10.0 + 11.0 - 1.0);

    // Later entries win over earlier ones for the same element.
    let r = run(&[("y", 7.0), ("y[0-64]", 1.5)]);
    check(&r, "y[0-64]", |_| 1.5);
    check(&r, "y[65-74]", |_| 7.0);

    // Unknown names, unknown elements and non-constants are refused.
    for bad in ["nope", "y[90+]", "pop", "x_implicit[85+]"] {
        assert!(
            model.overrides(&[(bad.to_string(), 1.0)]).is_err(),
            "`{bad}` should not be accepted"
        );
    }
}

#[test]
fn an_array_used_where_one_value_is_needed_is_an_error() {
    let base = "[time]\nstart = 0\nstop = 1\ndt = 1\nunits = \"year\"\n\
                [dimensions]\nage = [\"young\", \"old\"]\n\
                [constants.y]\ndims = [\"age\"]\nvalue = [1, 2]\n";
    let err = |extra: &str| match load_toml(&format!("{base}{extra}")) {
        Ok(_) => panic!("`{extra}` should not compile"),
        Err(f) => f.render(),
    };
    let msg = err("[auxiliaries.bad]\nequation = \"y * 2\"\n");
    assert!(msg.contains("arrayed over `age`"), "{msg}");
    let msg = err("[auxiliaries.bad]\nequation = \"y[*] * 2\"\n");
    assert!(msg.contains("stands for 2 values"), "{msg}");
    let msg = err("[auxiliaries.bad]\nequation = \"y[middle]\"\n");
    assert!(msg.contains("not an element of dimension `age`"), "{msg}");
    let msg = err("[auxiliaries.bad]\nequation = \"SUM(y[old..young])\"\n");
    assert!(msg.contains("runs backwards"), "{msg}");
}

/// A dimension whose elements are all elements of another (a subrange) stands for it: a
/// reference is mapped element by element, by name; inside an aggregate it selects its elements.
#[test]
fn subranges_map_to_their_parent_by_element_name() {
    let r = common::run_toml(
        r#"
[time]
start = 0
stop = 1
dt = 1
units = "year"

[dimensions]
age = ["0-64", "65-74", "75-84", "85+"]
old = ["85+", "65-74"]

[constants.pop]
dims = ["age"]
value = [10, 20, 30, 40]

[auxiliaries.old_pop]
dims = ["old"]
equation = "pop[old] * 2"

[auxiliaries.old_plain]
dims = ["old"]
equation = "pop + 1"

[auxiliaries.old_total]
equation = "sum(pop[old])"
"#,
    );
    let v = |n: &str| common::column(&r, n)[0];
    assert_eq!([v("old_pop[85+]"), v("old_pop[65-74]")], [80.0, 40.0]);
    assert_eq!([v("old_plain[85+]"), v("old_plain[65-74]")], [41.0, 21.0]);
    assert_eq!(v("old_total"), 60.0);
}

/// stddev (population: divide by the count) and rank (position of the n-th smallest element,
/// ties to the earlier one, 0 for no such rank), over a whole array and per row.
#[test]
fn stddev_and_rank() {
    let r = common::run_toml(
        r#"
[time]
start = 0
stop = 1
dt = 1
units = "year"

[dimensions]
i = ["a", "b", "c", "d", "e"]
row = ["r1", "r2"]
col = ["c1", "c2", "c3"]

[constants.x]
dims = ["i"]
value = [3, 1, 4, 1, 5]

[constants.m]
dims = ["row", "col"]
value = [1, 2, 3, 10, 10, 10]

[auxiliaries.sd]
equation = "stddev(x[*])"

[auxiliaries.sd_row]
dims = ["row"]
equation = "stddev(m[row, *])"

[auxiliaries.sd_range]
equation = "stddev(x[\"c\"..\"e\"] * 2)"

[auxiliaries.which]
dims = ["i"]
equation = "rank(x[*], 0 * x + 1) + 10 * rank(x[*], 2) + 100 * rank(x[*], 3) + 1000 * rank(x[*], 4) + 10000 * rank(x[*], 5)"

[auxiliaries.none]
equation = "rank(x[*], 6) + rank(x[*], 1.5)"
"#,
    );
    let v = |n: &str| common::column(&r, n)[0];
    common::assert_close("sd", v("sd"), 1.6, 1e-15, 0.0);
    assert_eq!(
        [v("sd_row[r1]"), v("sd_row[r2]")],
        [(2.0f64 / 3.0).sqrt(), 0.0]
    );
    // 2·[4, 1, 5]: mean 20/3, population sd = 2·sqrt(26/9).
    common::assert_close(
        "sd_range",
        v("sd_range"),
        2.0 * (26.0f64 / 9.0).sqrt(),
        1e-14,
        0.0,
    );
    // Ranks 1..5 are at positions 2, 4, 1, 3, 5.
    assert_eq!(v("which[a]"), 2.0 + 40.0 + 100.0 + 3000.0 + 50000.0);
    assert_eq!(v("none"), 0.0);
}
