//! Parameter importance for one metric of a scenario: tornado (one at a time), Morris
//! elementary effects and Sobol indices (docs/SENSITIVITY.md).
//!
//! This module makes the designs (points in the unit cube, mapped to parameter values through
//! each uncertain parameter's distribution), runs the scenario's model at them through
//! [`crate::experiment::evaluate_points`] (intervention and baseline, common random numbers,
//! in parallel, deterministic) and hands the outputs to the estimators in
//! [`crate::analysis::sensitivity`].

use std::fmt::Write as _;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::analysis::sensitivity::{self as est, MorrisEntry, SobolIndices, Tornado, below};
use crate::diagnostics::Diagnostic;
use crate::montecarlo::{Distribution, Sampler, SamplingMethod};
use crate::scenario::Scenario;

/// Morris grid levels (p = 4, Δ = p / (2(p − 1)) = 2/3: Morris 1991, Campolongo et al. 2007).
pub const MORRIS_LEVELS: usize = 4;
/// Default number of Morris trajectories.
pub const MORRIS_TRAJECTORIES: usize = 20;
/// Default number of Saltelli base rows (N; N·(k + 2) evaluations).
pub const SOBOL_ROWS: usize = 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Tornado,
    Morris,
    Sobol,
}

impl Method {
    pub fn parse(s: &str) -> Option<Method> {
        match s.trim().to_ascii_lowercase().as_str() {
            "tornado" => Some(Method::Tornado),
            "morris" => Some(Method::Morris),
            "sobol" => Some(Method::Sobol),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Method::Tornado => "tornado",
            Method::Morris => "morris",
            Method::Sobol => "sobol",
        }
    }
}

/// The low, base and high value of each uncertain parameter for a tornado: the ends of the
/// distribution's support when it is bounded, else its 5th and 95th percentiles; base = median.
pub fn tornado_ranges(dists: &[&Distribution]) -> Vec<(f64, f64, f64)> {
    dists
        .iter()
        .map(|d| {
            let (lo, hi) = d
                .bounds()
                .unwrap_or_else(|| (d.quantile(0.05), d.quantile(0.95)));
            (lo, d.quantile(0.5), hi)
        })
        .collect()
}

/// The tornado design: all at base, then each parameter at its low and at its high value.
pub fn tornado_points(ranges: &[(f64, f64, f64)]) -> Vec<Vec<f64>> {
    let base: Vec<f64> = ranges.iter().map(|r| r.1).collect();
    let mut points = vec![base.clone()];
    for (k, r) in ranges.iter().enumerate() {
        for v in [r.0, r.2] {
            let mut p = base.clone();
            p[k] = v;
            points.push(p);
        }
    }
    points
}

/// One Morris trajectory: k + 1 points in the unit cube; step s moves parameter `order[s]` by
/// `delta[s]` (±Δ).
#[derive(Debug, Clone)]
pub struct Trajectory {
    pub points: Vec<Vec<f64>>,
    pub order: Vec<usize>,
    pub delta: Vec<f64>,
}

/// `r` Morris trajectories in `k` dimensions on the p = 4 grid {0, 1/3, 2/3, 1}: a random base
/// point, a random order of the parameters and a random direction for each, every step ±2/3
/// (Morris 1991). Trajectory t depends only on (seed, t).
pub fn morris_trajectories(k: usize, r: usize, seed: u64) -> Vec<Trajectory> {
    let p = MORRIS_LEVELS as f64;
    let step = p / (2.0 * (p - 1.0));
    (0..r)
        .map(|t| {
            let mut rng = ChaCha8Rng::seed_from_u64(
                seed ^ (t as u64 + 1).wrapping_mul(0xa076_1d64_78bd_642f),
            );
            // Base levels from which +Δ stays on the grid: {0, 1/3}.
            let lowest = MORRIS_LEVELS / 2;
            let mut x: Vec<f64> = (0..k)
                .map(|_| below(&mut rng, lowest) as f64 / (p - 1.0))
                .collect();
            let up: Vec<bool> = (0..k).map(|_| below(&mut rng, 2) == 1).collect();
            for (xi, &u) in x.iter_mut().zip(&up) {
                if !u {
                    *xi += step;
                }
            }
            let mut order: Vec<usize> = (0..k).collect();
            for i in (1..k).rev() {
                order.swap(i, below(&mut rng, i + 1));
            }
            let mut points = vec![x.clone()];
            let mut delta = Vec::with_capacity(k);
            for &i in &order {
                let d = if up[i] { step } else { -step };
                x[i] += d;
                delta.push(d);
                points.push(x.clone());
            }
            Trajectory {
                points,
                order,
                delta,
            }
        })
        .collect()
}

/// Elementary effects `effects[k][t]` = (f after the step − f before) / Δ (signed), from the
/// outputs at the trajectories' points (`values`, trajectory by trajectory).
pub fn elementary_effects(trajectories: &[Trajectory], values: &[f64], k: usize) -> Vec<Vec<f64>> {
    let mut effects = vec![Vec::with_capacity(trajectories.len()); k];
    for (t, tr) in trajectories.iter().enumerate() {
        let f = &values[t * (k + 1)..(t + 1) * (k + 1)];
        for (s, (&i, &d)) in tr.order.iter().zip(&tr.delta).enumerate() {
            effects[i].push((f[s + 1] - f[s]) / d);
        }
    }
    effects
}

/// Saltelli's design from an Owen-scrambled Sobol sequence in 2k dimensions: N rows, each
/// `[A_j, B_j, A_B^1_j, ..., A_B^k_j]` (A = the first k coordinates, B = the last k; A_B^i is A
/// with coordinate i from B).
pub fn saltelli_points(k: usize, n: usize, seed: u64) -> Result<Vec<Vec<f64>>, String> {
    let sampler = Sampler::new(SamplingMethod::Sobol, seed, n, 2 * k)?;
    let mut points = Vec::with_capacity(n * (k + 2));
    let mut ab = vec![0.0; 2 * k];
    for j in 0..n {
        sampler.point(j, &mut ab);
        let (a, b) = ab.split_at(k);
        points.push(a.to_vec());
        points.push(b.to_vec());
        for i in 0..k {
            let mut p = a.to_vec();
            p[i] = b[i];
            points.push(p);
        }
    }
    Ok(points)
}

/// Morris on any function of the unit cube (`eval` gets every point and returns every output).
pub fn morris_on<E>(
    k: usize,
    r: usize,
    seed: u64,
    eval: impl FnOnce(&[Vec<f64>]) -> Result<Vec<f64>, E>,
) -> Result<Vec<MorrisEntry>, E> {
    let trajectories = morris_trajectories(k, r, seed);
    let points: Vec<Vec<f64>> = trajectories.iter().flat_map(|t| t.points.clone()).collect();
    let values = eval(&points)?;
    Ok(est::morris(
        &elementary_effects(&trajectories, &values, k),
        seed,
    ))
}

/// Sobol indices of any function of the unit cube (`eval` gets every point).
pub fn sobol_on<E: From<String>>(
    k: usize,
    n: usize,
    seed: u64,
    eval: impl FnOnce(&[Vec<f64>]) -> Result<Vec<f64>, E>,
) -> Result<SobolIndices, E> {
    let points = saltelli_points(k, n, seed)?;
    let values = eval(&points)?;
    Ok(est::sobol(&values, k, seed))
}

/// The result of an analysis.
#[derive(Debug, Clone)]
pub enum Importance {
    Tornado(Tornado),
    Morris(Vec<MorrisEntry>),
    Sobol(SobolIndices),
}

impl Importance {
    /// Parameter indices, most important first: by swing (tornado), μ* (Morris) or total-order
    /// index (Sobol); NaN last.
    pub fn ranking(&self) -> Vec<usize> {
        let by = |scores: Vec<f64>| {
            let mut order: Vec<usize> = (0..scores.len()).collect();
            order.sort_by(|&x, &y| match (scores[x].is_nan(), scores[y].is_nan()) {
                (false, false) => scores[y].total_cmp(&scores[x]),
                (x_nan, y_nan) => x_nan.cmp(&y_nan),
            });
            order
        };
        match self {
            Importance::Tornado(t) => t.entries.iter().map(|e| e.parameter).collect(),
            Importance::Morris(m) => by(m.iter().map(|e| e.mu_star.value).collect()),
            Importance::Sobol(si) => by(si.entries.iter().map(|e| e.total.value).collect()),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Analysis {
    pub method: Method,
    /// Index of the metric in the scenario.
    pub metric: usize,
    /// The option analysed (its lever values are those of the scenario's option `option`).
    pub option: usize,
    /// Tornado: (low, base, high) of each parameter.
    pub ranges: Vec<(f64, f64, f64)>,
    pub importance: Importance,
    /// Model evaluations (each runs the intervention and, unless shared, the baseline).
    pub evaluations: usize,
    pub samples: usize,
    pub seed: u64,
    pub elapsed: std::time::Duration,
}

/// Map a unit-cube coordinate to a parameter value: the quantile of `u`, with the Morris grid
/// ends kept inside the 5th–95th percentiles of an unbounded distribution.
fn to_value(d: &Distribution, u: f64) -> f64 {
    if d.bounds().is_some() {
        d.quantile(u)
    } else {
        d.quantile(0.05 + 0.9 * u)
    }
}

/// Analyse `metric` of option `option` of the scenario by `method`. `samples`: Morris
/// trajectories (default 20) or Sobol base rows N (default 1024; at most 65,536); ignored by
/// the tornado.
pub fn analyse(
    s: &Scenario,
    metric: usize,
    option: usize,
    method: Method,
    samples: Option<usize>,
    seed: u64,
    threads: Option<usize>,
) -> Result<Analysis, Diagnostic> {
    let started = std::time::Instant::now();
    let dists: Vec<&Distribution> = s
        .uncertainty
        .parameters
        .iter()
        .map(|p| &p.distribution)
        .collect();
    let k = dists.len();
    if k == 0 {
        return Err(Diagnostic::error(format!(
            "scenario `{}` has no uncertain parameters to analyse",
            s.name
        ))
        .help("list the parameters to vary under [uncertainty.parameters]"));
    }
    let eval = |points: &[Vec<f64>]| -> Result<Vec<f64>, Diagnostic> {
        let out = crate::experiment::evaluate_points(s, option, points, threads)?;
        Ok(out.into_iter().map(|m| m[metric]).collect())
    };
    let to_values = |unit: &[Vec<f64>]| -> Vec<Vec<f64>> {
        unit.iter()
            .map(|p| p.iter().zip(&dists).map(|(&u, d)| to_value(d, u)).collect())
            .collect()
    };
    let ranges = tornado_ranges(&dists);
    let (importance, evaluations, used) = match method {
        Method::Tornado => {
            let points = tornado_points(&ranges);
            let values = eval(&points)?;
            let lows: Vec<f64> = ranges.iter().map(|r| r.0).collect();
            let highs: Vec<f64> = ranges.iter().map(|r| r.2).collect();
            (
                Importance::Tornado(est::tornado(&lows, &highs, &values)),
                points.len(),
                0,
            )
        }
        Method::Morris => {
            let r = samples.unwrap_or(MORRIS_TRAJECTORIES);
            let m = morris_on(k, r, seed, |unit| eval(&to_values(unit)))?;
            (Importance::Morris(m), r * (k + 1), r)
        }
        Method::Sobol => {
            let n = samples.unwrap_or(SOBOL_ROWS);
            let m = sobol_on(
                k,
                n,
                seed,
                |unit: &[Vec<f64>]| -> Result<Vec<f64>, Diagnostic> { eval(&to_values(unit)) },
            )
            .map_err(|e| e.help("use --samples between 2 and 65536"))?;
            (Importance::Sobol(m), n * (k + 2), n)
        }
    };
    Ok(Analysis {
        method,
        metric,
        option,
        ranges,
        importance,
        evaluations,
        samples: used,
        seed,
        elapsed: started.elapsed(),
    })
}

/// The analysis as a text table: parameter, importance, 95 % interval (and more columns for
/// Morris and Sobol), most important first.
pub fn table(s: &Scenario, a: &Analysis) -> String {
    let names = s.uncertain_names();
    let width = names.iter().map(|n| n.len()).max().unwrap_or(9).max(9);
    let metric = &s.metrics[a.metric];
    let units = metric.units.as_deref().unwrap_or("");
    let mut t = String::new();
    let _ = writeln!(
        t,
        "sensitivity of `{}`{} in scenario `{}`: {} ({} model evaluations, {:.2} s)",
        metric.name,
        if units.is_empty() {
            String::new()
        } else {
            format!(" ({units})")
        },
        s.name,
        a.method.name(),
        a.evaluations,
        a.elapsed.as_secs_f64()
    );
    match &a.importance {
        Importance::Tornado(tor) => {
            let _ = writeln!(t, "  all parameters at base (median): {}", num(tor.base));
            let _ = writeln!(
                t,
                "  {:<width$}  {:>12}  {:>12}  {:>12}  {:>12}  {:>12}",
                "parameter", "low", "high", "metric@low", "metric@high", "swing"
            );
            for e in &tor.entries {
                let _ = writeln!(
                    t,
                    "  {:<width$}  {:>12}  {:>12}  {:>12}  {:>12}  {:>12}",
                    names[e.parameter],
                    num(e.low),
                    num(e.high),
                    num(e.at_low),
                    num(e.at_high),
                    num(e.swing())
                );
            }
        }
        Importance::Morris(m) => {
            let _ = writeln!(
                t,
                "  {} trajectories; effects per full parameter range (p = 4 levels, Δ = 2/3)",
                a.samples
            );
            let _ = writeln!(
                t,
                "  {:<width$}  {:>12}  {:>25}  {:>12}  {:>12}",
                "parameter", "mu*", "95% CI of mu*", "mu", "sigma"
            );
            for i in a.importance.ranking() {
                let e = &m[i];
                let _ = writeln!(
                    t,
                    "  {:<width$}  {:>12}  {:>25}  {:>12}  {:>12}",
                    names[i],
                    num(e.mu_star.value),
                    format!("{} to {}", num(e.mu_star.low), num(e.mu_star.high)),
                    num(e.mu),
                    num(e.sigma)
                );
            }
        }
        Importance::Sobol(si) => {
            let _ = writeln!(
                t,
                "  Saltelli design, N = {} rows ({} used), output sd {}",
                a.samples,
                si.rows,
                num(si.variance.sqrt())
            );
            let _ = writeln!(
                t,
                "  {:<width$}  {:>7}  {:>17}  {:>7}  {:>17}",
                "parameter", "S1", "95% CI", "ST", "95% CI"
            );
            for i in a.importance.ranking() {
                let e = &si.entries[i];
                let _ = writeln!(
                    t,
                    "  {:<width$}  {:>7.3}  {:>17}  {:>7.3}  {:>17}",
                    names[i],
                    e.first.value,
                    format!("{:.3} to {:.3}", e.first.low, e.first.high),
                    e.total.value,
                    format!("{:.3} to {:.3}", e.total.low, e.total.high)
                );
            }
        }
    }
    t
}

/// The analysis as CSV, one row per parameter in the scenario's order. Tornado:
/// `parameter,low,base,high,metric_at_low,metric_at_high,swing`; Morris:
/// `parameter,mu_star,mu_star_low95,mu_star_high95,mu,sigma`; Sobol:
/// `parameter,s1,s1_low95,s1_high95,st,st_low95,st_high95`.
pub fn csv(s: &Scenario, a: &Analysis) -> String {
    use crate::output::{csv_field, push_number};
    let names = s.uncertain_names();
    let header = match &a.importance {
        Importance::Tornado(_) => "parameter,low,base,high,metric_at_low,metric_at_high,swing",
        Importance::Morris(_) => "parameter,mu_star,mu_star_low95,mu_star_high95,mu,sigma",
        Importance::Sobol(_) => "parameter,s1,s1_low95,s1_high95,st,st_low95,st_high95",
    };
    let mut t = format!("{header}\n");
    let mut row = |name: &str, values: &[f64]| {
        t.push_str(&csv_field(name));
        for v in values {
            t.push(',');
            push_number(&mut t, *v);
        }
        t.push('\n');
    };
    match &a.importance {
        Importance::Tornado(tor) => {
            let mut entries = tor.entries.clone();
            entries.sort_by_key(|e| e.parameter);
            for e in &entries {
                let r = a.ranges[e.parameter];
                row(
                    names[e.parameter],
                    &[r.0, r.1, r.2, e.at_low, e.at_high, e.swing()],
                );
            }
        }
        Importance::Morris(m) => {
            for (name, e) in names.iter().zip(m) {
                row(
                    name,
                    &[
                        e.mu_star.value,
                        e.mu_star.low,
                        e.mu_star.high,
                        e.mu,
                        e.sigma,
                    ],
                );
            }
        }
        Importance::Sobol(si) => {
            for (name, e) in names.iter().zip(&si.entries) {
                row(
                    name,
                    &[
                        e.first.value,
                        e.first.low,
                        e.first.high,
                        e.total.value,
                        e.total.low,
                        e.total.high,
                    ],
                );
            }
        }
    }
    t
}

/// About four significant digits, thousands grouped by magnitude suffix.
fn num(v: f64) -> String {
    if !v.is_finite() {
        return format!("{v}");
    }
    let a = v.abs();
    if a >= 1e9 {
        format!("{:.3}bn", v / 1e9)
    } else if a >= 1e6 {
        format!("{:.3}m", v / 1e6)
    } else if a >= 1e3 || a == 0.0 {
        format!("{v:.0}")
    } else if a >= 1.0 {
        format!("{v:.3}")
    } else {
        format!("{v:.4}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ishigami (1990): f = sin x1 + a sin² x2 + b x3⁴ sin x1, x_i ~ U(−π, π).
    fn ishigami(x: &[f64]) -> f64 {
        let (a, b) = (7.0, 0.1);
        let pi = std::f64::consts::PI;
        let (x1, x2, x3) = (
            -pi + 2.0 * pi * x[0],
            -pi + 2.0 * pi * x[1],
            -pi + 2.0 * pi * x[2],
        );
        x1.sin() + a * x2.sin().powi(2) + b * x3.powi(4) * x1.sin()
    }

    #[test]
    fn sobol_recovers_the_ishigami_indices() {
        // Analytic indices for a = 7, b = 0.1 (Sobol' & Levitan 1999; Saltelli et al. 2010).
        let s1 = [0.3139, 0.4424, 0.0];
        let st = [0.5576, 0.4424, 0.2437];
        // N = 8192 rows (45,056 evaluations). The bootstrap (which treats rows as independent,
        // i.e. as random sampling would) gives standard errors of about 0.015 for S1 and
        // 0.004-0.008 for ST at this N; the scrambled Sobol design does about ten times better
        // (largest error seen: 0.002). Tolerance 0.02 (about 1.3 random-sampling standard
        // errors, ten times the error seen) is safe for a correct estimator and fails any
        // systematic error larger than that; the 95 % bootstrap interval must also contain the
        // analytic value.
        let r = sobol_on::<String>(3, 8192, 20261122, |pts| {
            Ok(pts.iter().map(|p| ishigami(p)).collect())
        })
        .unwrap();
        assert_eq!(r.rows, 8192);
        for i in 0..3 {
            let e = &r.entries[i];
            assert!(
                (e.first.value - s1[i]).abs() < 0.02,
                "S1[{i}] = {} (want {})",
                e.first.value,
                s1[i]
            );
            assert!(
                (e.total.value - st[i]).abs() < 0.02,
                "ST[{i}] = {} (want {})",
                e.total.value,
                st[i]
            );
            assert!(
                e.first.low - 0.005 <= s1[i] && s1[i] <= e.first.high + 0.005,
                "S1[{i}] CI {:?}",
                e.first
            );
            assert!(
                e.total.low - 0.005 <= st[i] && st[i] <= e.total.high + 0.005,
                "ST[{i}] CI {:?}",
                e.total
            );
            assert!(e.first.high - e.first.low < 0.1 && e.total.high - e.total.low < 0.1);
        }
        // Analytic variance: a²/8 + b π⁴/5 + b² π⁸/18 + 1/2 = 13.8446.
        assert!(
            (r.variance - 13.8446).abs() / 13.8446 < 0.02,
            "V = {}",
            r.variance
        );
    }

    #[test]
    fn sobol_is_reproducible() {
        let f = |pts: &[Vec<f64>]| Ok::<_, String>(pts.iter().map(|p| ishigami(p)).collect());
        let a = sobol_on(3, 256, 5, f).unwrap();
        let b = sobol_on(3, 256, 5, f).unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn morris_of_a_linear_function_is_its_coefficient_times_the_range() {
        // f(x) = Σ c_i v_i with v_i = lo_i + (hi_i − lo_i) u_i: every elementary effect per
        // unit of u is c_i (hi_i − lo_i), so μ* = |c_i|·range and σ = 0.
        let c = [3.0, -0.5, 0.0, 10.0];
        let range = [(0.0, 2.0), (10.0, 30.0), (0.0, 1.0), (0.5, 0.6)];
        let m = morris_on::<String>(4, 12, 42, |pts| {
            Ok(pts
                .iter()
                .map(|u| {
                    (0..4)
                        .map(|i| c[i] * (range[i].0 + (range[i].1 - range[i].0) * u[i]))
                        .sum()
                })
                .collect())
        })
        .unwrap();
        for i in 0..4 {
            let want = (c[i] * (range[i].1 - range[i].0)).abs();
            assert!((m[i].mu_star.value - want).abs() < 1e-9, "{i}: {:?}", m[i]);
            assert!(m[i].sigma < 1e-9);
            assert_eq!(m[i].effects, 12);
        }
        assert!((m[1].mu - (-10.0)).abs() < 1e-9);
    }

    #[test]
    fn morris_trajectories_stay_on_the_grid_and_move_each_parameter_once() {
        for t in morris_trajectories(5, 30, 9) {
            assert_eq!(t.points.len(), 6);
            let mut seen = t.order.clone();
            seen.sort();
            assert_eq!(seen, vec![0, 1, 2, 3, 4]);
            for p in &t.points {
                for &x in p {
                    let level = x * 3.0;
                    assert!(
                        (level - level.round()).abs() < 1e-12
                            && (-1e-12..=1.0 + 1e-12).contains(&x)
                    );
                }
            }
            for (s, w) in t.points.windows(2).enumerate() {
                let changed: Vec<usize> = (0..5).filter(|&i| w[0][i] != w[1][i]).collect();
                assert_eq!(changed, vec![t.order[s]]);
                assert!((w[1][t.order[s]] - w[0][t.order[s]] - t.delta[s]).abs() < 1e-12);
            }
        }
    }

    #[test]
    fn tornado_design_and_ranges() {
        let u = Distribution::Uniform {
            low: 2.0,
            high: 6.0,
        };
        let n = Distribution::Normal {
            mean: 0.0,
            sd: 1.0,
            low: None,
            high: None,
        };
        let r = tornado_ranges(&[&u, &n]);
        assert_eq!(r[0], (2.0, 4.0, 6.0));
        assert!(
            (r[1].0 + 1.6449).abs() < 1e-3
                && (r[1].2 - 1.6449).abs() < 1e-3
                && r[1].1.abs() < 1e-12
        );
        let p = tornado_points(&r);
        assert_eq!(p.len(), 5);
        assert_eq!(p[1], vec![2.0, r[1].1]);
        assert_eq!(p[4], vec![4.0, r[1].2]);
    }
}
