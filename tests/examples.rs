//! The bundled example models against their analytic solution and conservation laws.

mod common;

use common::{assert_close, column, load_example};

#[test]
fn bathtub_matches_its_analytic_solution() {
    let model = load_example("models/examples/bathtub.toml");
    let r = model.run(model.time(), &[]).expect("run bathtub");
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    let expected_times: Vec<f64> = (0..=20).map(f64::from).collect();
    assert_eq!(r.times, expected_times);

    // The doc comment: water(t) = inflow·τ + (water0 − inflow·τ)·exp(−t/τ), for a tap that is
    // open throughout. Here the tap opens at t = 2, so that solution applies piecewise:
    // before 2 only the drain acts, from 2 on it restarts from the level reached at 2.
    let (water0, inflow, tau, opens, dt): (f64, f64, f64, f64, f64) = (50.0, 10.0, 4.0, 2.0, 0.125);
    let level_at_open = water0 * (-opens / tau).exp();
    let exact = |t: f64| {
        if t <= opens {
            water0 * (-t / tau).exp()
        } else {
            inflow * tau + (level_at_open - inflow * tau) * (-(t - opens) / tau).exp()
        }
    };
    // RK4 with dt = 1/8 and τ = 4 has a global error near 1e-8 on the smooth parts. The tap
    // is a step at t = 2, a whole number of steps in: the last stage of the step that ends at
    // 2 (weight dt/6) already sees the open tap, so the level at 2 is high by at most
    // dt/6·inflow ≈ 0.21 and that excess then drains like any water, e^{−(t−2)/τ}.
    let water = column(&r, "water");
    for (k, &t) in r.times.iter().enumerate() {
        let discontinuity = if t >= opens {
            dt / 6.0 * inflow * (-(t - opens) / tau).exp()
        } else {
            0.0
        };
        assert_close(
            &format!("water at t = {t}"),
            water[k],
            exact(t),
            1e-6 + discontinuity,
            0.0,
        );
    }
    // Flows at t are the rates of the step starting at t, from the level at t.
    let (tap, drain) = (column(&r, "tap"), column(&r, "drain"));
    for (k, &t) in r.times.iter().enumerate() {
        assert_eq!(tap[k], if t >= opens { inflow } else { 0.0 }, "tap at {t}");
        assert_close(
            &format!("drain at {t}"),
            drain[k],
            water[k] / tau,
            1e-12,
            1e-12,
        );
    }
    assert!(column(&r, "equilibrium_level").iter().all(|&v| v == 40.0));
    // 4.5 time constants after the tap opens the level is within 1% of equilibrium.
    assert_close("water at 20", water[20], 40.0, 0.0, 0.01);
}

#[test]
fn ageing_chain_conserves_people() {
    let model = load_example("models/examples/ageing_chain.toml");
    let ages = ["0-64", "65-74", "75-84", "85+"];
    let sum_of = |r: &careshift::simulate::Results, var: &str| -> Vec<f64> {
        let cols: Vec<Vec<f64>> = ages
            .iter()
            .map(|a| column(r, &format!("{var}[{a}]")))
            .collect();
        (0..r.times.len())
            .map(|k| cols.iter().map(|c| c[k]).sum())
            .collect()
    };

    // Save every step (Euler, dt = 0.25) so that each step's flows are visible.
    let mut fine = model.time().clone();
    fine.save_step = fine.dt;
    let r = model.run(&fine, &[]).expect("run ageing chain");
    assert_eq!(r.times.len(), 81);
    let population = sum_of(&r, "population");
    let births = sum_of(&r, "births");
    let deaths = sum_of(&r, "deaths");
    let ageing_in = sum_of(&r, "ageing_in");
    let ageing_out = sum_of(&r, "ageing_out");
    let dt = fine.dt;
    let mut net_inflow = 0.0;
    for k in 0..r.times.len() {
        let t = r.times[k];
        // Ageing moves people between bands: what leaves one band enters the next, and
        // nobody ages out of the last band.
        assert_close(
            &format!("ageing balance at {t}"),
            ageing_in[k],
            ageing_out[k],
            1e-6,
            1e-12,
        );
        assert_eq!(column(&r, "ageing_out[85+]")[k], 0.0);
        assert_close(
            &format!("total_population at {t}"),
            column(&r, "total_population")[k],
            population[k],
            1e-6,
            1e-12,
        );
        if k + 1 < r.times.len() {
            // Euler: the change over a step is dt·(births − deaths) at its start.
            let step = dt * (births[k] - deaths[k]);
            assert_close(
                &format!("population change over the step from {t}"),
                population[k + 1] - population[k],
                step,
                1e-6,
                1e-9,
            );
            net_inflow += step;
        }
    }
    // Over the whole run: the population changes by births − deaths, integrated.
    assert_close(
        "population change 2025-2045",
        population[80] - population[0],
        net_inflow,
        1e-5,
        1e-9,
    );
    assert_close("initial population", population[0], 800_000.0, 1e-6, 0.0);

    // The model's own settings (yearly rows) give the same values at whole years.
    let yearly = model.run(model.time(), &[]).expect("run ageing chain");
    assert_eq!(yearly.times.len(), 21);
    for c in &yearly.columns {
        let (a, b) = (column(&yearly, c), column(&r, c));
        for (row, v) in a.iter().enumerate() {
            assert_eq!(*v, b[row * 4], "{c} at {}", yearly.times[row]);
        }
    }
    // The derived indicators.
    let total = sum_of(&yearly, "population");
    for (k, total) in total.iter().enumerate() {
        let p = |a: &str| column(&yearly, &format!("population[{a}]"))[k];
        assert_close(
            "population_65_plus",
            column(&yearly, "population_65_plus")[k],
            p("65-74") + p("75-84") + p("85+"),
            1e-6,
            1e-12,
        );
        assert_close(
            "share_85_plus",
            column(&yearly, "share_85_plus")[k],
            p("85+") / total,
            1e-12,
            1e-12,
        );
    }
}
