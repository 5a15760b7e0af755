//! Sensitivity estimators (pure statistics, given model outputs at designed points; the designs
//! and the runs are in [`crate::sensitivity`]). See docs/SENSITIVITY.md.
//!
//! - **Tornado**: one parameter at a time at its low and its high value, the others at base;
//!   ranked by swing |f(high) − f(low)|.
//! - **Morris** (1991) elementary effects over r trajectories: μ* = mean |EE| (Campolongo et
//!   al. 2007), μ = mean EE, σ = sd of EE; a bootstrap interval for μ* over trajectories.
//! - **Sobol** indices from Saltelli's A, B, A_B^(i) design: first order by Saltelli et al.
//!   (2010, eq. (b) of table 2), total order by Jansen (1999); bootstrap intervals over rows.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Bootstrap resamples for every interval.
pub const BOOTSTRAP: usize = 1000;

/// A point estimate with its 95 % bootstrap percentile interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimate {
    pub value: f64,
    pub low: f64,
    pub high: f64,
}

/// One row of a tornado: parameter `parameter` at `low` and `high`.
#[derive(Debug, Clone, PartialEq)]
pub struct TornadoEntry {
    pub parameter: usize,
    pub low: f64,
    pub high: f64,
    pub at_low: f64,
    pub at_high: f64,
}

impl TornadoEntry {
    pub fn swing(&self) -> f64 {
        (self.at_high - self.at_low).abs()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Tornado {
    /// The output with every parameter at base.
    pub base: f64,
    /// Largest swing first (ties keep parameter order); a NaN swing sorts last.
    pub entries: Vec<TornadoEntry>,
}

/// The tornado from the outputs at its design points: `values[0]` at base, then for parameter
/// k `values[1 + 2k]` at its low and `values[2 + 2k]` at its high value.
pub fn tornado(lows: &[f64], highs: &[f64], values: &[f64]) -> Tornado {
    let mut entries: Vec<TornadoEntry> = lows
        .iter()
        .zip(highs)
        .enumerate()
        .map(|(k, (&low, &high))| TornadoEntry {
            parameter: k,
            low,
            high,
            at_low: values[1 + 2 * k],
            at_high: values[2 + 2 * k],
        })
        .collect();
    entries.sort_by(|a, b| {
        let (sa, sb) = (a.swing(), b.swing());
        match (sa.is_nan(), sb.is_nan()) {
            (false, false) => sb.total_cmp(&sa),
            (a_nan, b_nan) => a_nan.cmp(&b_nan),
        }
    });
    Tornado {
        base: values[0],
        entries,
    }
}

/// Morris results for one parameter.
#[derive(Debug, Clone, PartialEq)]
pub struct MorrisEntry {
    pub mu_star: Estimate,
    pub mu: f64,
    pub sigma: f64,
    /// Trajectories with a finite elementary effect for this parameter.
    pub effects: usize,
}

/// μ*, μ and σ of each parameter from its elementary effects (`effects[k]`, one per
/// trajectory; non-finite effects are left out), with a bootstrap interval for μ*.
pub fn morris(effects: &[Vec<f64>], seed: u64) -> Vec<MorrisEntry> {
    effects
        .iter()
        .enumerate()
        .map(|(k, ee)| {
            let ee: Vec<f64> = ee.iter().copied().filter(|v| v.is_finite()).collect();
            let n = ee.len();
            let mean_abs = |idx: &mut dyn Iterator<Item = usize>| {
                let (mut s, mut c) = (0.0, 0usize);
                for i in idx {
                    s += ee[i].abs();
                    c += 1;
                }
                if c == 0 { f64::NAN } else { s / c as f64 }
            };
            let mu_star = mean_abs(&mut (0..n));
            let mu = if n == 0 {
                f64::NAN
            } else {
                ee.iter().sum::<f64>() / n as f64
            };
            let sigma = if n < 2 {
                f64::NAN
            } else {
                (ee.iter().map(|e| (e - mu).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt()
            };
            let mut rng = ChaCha8Rng::seed_from_u64(seed ^ (k as u64).wrapping_mul(0x9e37_79b9));
            let boot: Vec<f64> = (0..BOOTSTRAP)
                .map(|_| mean_abs(&mut (0..n).map(|_| below(&mut rng, n))))
                .collect();
            let (low, high) = percentile_interval(boot);
            MorrisEntry {
                mu_star: Estimate {
                    value: mu_star,
                    low,
                    high,
                },
                mu,
                sigma,
                effects: n,
            }
        })
        .collect()
}

/// Sobol indices of one parameter.
#[derive(Debug, Clone, PartialEq)]
pub struct SobolEntry {
    pub first: Estimate,
    pub total: Estimate,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SobolIndices {
    pub entries: Vec<SobolEntry>,
    /// Rows of the design used (rows with a non-finite output are left out).
    pub rows: usize,
    /// Variance of the output over the A and B points.
    pub variance: f64,
}

/// Sobol first- and total-order indices of `k` parameters from outputs at a Saltelli design of
/// `values.len() / (k + 2)` rows, row j laid out as `[f(A_j), f(B_j), f(A_B^1_j), ...,
/// f(A_B^k_j)]`, where A_B^i is A with column i taken from B.
pub fn sobol(values: &[f64], k: usize, seed: u64) -> SobolIndices {
    let width = k + 2;
    let rows: Vec<&[f64]> = values
        .chunks_exact(width)
        .filter(|r| r.iter().all(|v| v.is_finite()))
        .collect();
    let n = rows.len();
    let estimate = |idx: &[usize]| -> Vec<(f64, f64)> {
        let m = idx.len() as f64;
        let mean = idx.iter().map(|&j| rows[j][0] + rows[j][1]).sum::<f64>() / (2.0 * m);
        let var = idx
            .iter()
            .map(|&j| (rows[j][0] - mean).powi(2) + (rows[j][1] - mean).powi(2))
            .sum::<f64>()
            / (2.0 * m);
        (0..k)
            .map(|i| {
                let (mut s1, mut st) = (0.0, 0.0);
                for &j in idx {
                    let (a, b, ab) = (rows[j][0], rows[j][1], rows[j][2 + i]);
                    s1 += b * (ab - a);
                    st += (a - ab) * (a - ab);
                }
                (s1 / m / var, st / (2.0 * m) / var)
            })
            .collect()
    };
    let all: Vec<usize> = (0..n).collect();
    let point = if n == 0 {
        vec![(f64::NAN, f64::NAN); k]
    } else {
        estimate(&all)
    };
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut boots: Vec<Vec<(f64, f64)>> = Vec::with_capacity(BOOTSTRAP);
    if n > 1 {
        let mut idx = vec![0; n];
        for _ in 0..BOOTSTRAP {
            for slot in idx.iter_mut() {
                *slot = below(&mut rng, n);
            }
            boots.push(estimate(&idx));
        }
    }
    let variance = if n == 0 {
        f64::NAN
    } else {
        let mean = rows.iter().map(|r| r[0] + r[1]).sum::<f64>() / (2.0 * n as f64);
        rows.iter()
            .map(|r| (r[0] - mean).powi(2) + (r[1] - mean).powi(2))
            .sum::<f64>()
            / (2.0 * n as f64)
    };
    let entries = (0..k)
        .map(|i| {
            let (f_low, f_high) = percentile_interval(boots.iter().map(|b| b[i].0).collect());
            let (t_low, t_high) = percentile_interval(boots.iter().map(|b| b[i].1).collect());
            SobolEntry {
                first: Estimate {
                    value: point[i].0,
                    low: f_low,
                    high: f_high,
                },
                total: Estimate {
                    value: point[i].1,
                    low: t_low,
                    high: t_high,
                },
            }
        })
        .collect();
    SobolIndices {
        entries,
        rows: n,
        variance,
    }
}

/// A uniform integer in [0, n) (n > 0), by multiply-shift.
pub fn below(rng: &mut ChaCha8Rng, n: usize) -> usize {
    ((rng.next_u64() as u128 * n as u128) >> 64) as usize
}

/// The 2.5th and 97.5th percentiles of the finite `values` (NaN, NaN when there are none).
fn percentile_interval(mut values: Vec<f64>) -> (f64, f64) {
    values.retain(|v| v.is_finite());
    if values.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    values.sort_by(f64::total_cmp);
    (
        crate::analysis::quantiles::exact_quantile(&values, 0.025),
        crate::analysis::quantiles::exact_quantile(&values, 0.975),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tornado_ranks_by_swing_and_keeps_the_base() {
        // f = 3a - 5b + 0c at base (1, 1, 1); ranges a 0..2, b 0.5..1.5, c 0..10.
        let lows = [0.0, 0.5, 0.0];
        let highs = [2.0, 1.5, 10.0];
        let f = |a: f64, b: f64, _c: f64| 3.0 * a - 5.0 * b;
        let values = [
            f(1.0, 1.0, 1.0),
            f(0.0, 1.0, 1.0),
            f(2.0, 1.0, 1.0),
            f(1.0, 0.5, 1.0),
            f(1.0, 1.5, 1.0),
            f(1.0, 1.0, 0.0),
            f(1.0, 1.0, 10.0),
        ];
        let t = tornado(&lows, &highs, &values);
        assert_eq!(t.base, -2.0);
        let order: Vec<usize> = t.entries.iter().map(|e| e.parameter).collect();
        assert_eq!(order, vec![0, 1, 2]);
        assert_eq!(t.entries[0].swing(), 6.0);
        assert_eq!((t.entries[1].at_low, t.entries[1].at_high), (0.5, -4.5));
        assert_eq!(t.entries[2].swing(), 0.0);
    }

    #[test]
    fn morris_of_constant_effects_has_no_spread() {
        let effects = vec![vec![2.0; 10], vec![-3.0, 3.0, -3.0, 3.0], vec![]];
        let m = morris(&effects, 1);
        assert_eq!(m[0].mu_star.value, 2.0);
        assert_eq!((m[0].mu_star.low, m[0].mu_star.high), (2.0, 2.0));
        assert_eq!(m[0].sigma, 0.0);
        assert_eq!((m[1].mu_star.value, m[1].mu), (3.0, 0.0));
        assert!(m[1].sigma > 3.0);
        assert!(m[2].mu_star.value.is_nan() && m[2].effects == 0);
    }

    #[test]
    fn sobol_of_an_additive_function_with_exact_rows() {
        // f(x) = x1 (x2 has no effect). With A, B rows such that every estimator is exact:
        // f(A_B^1) = f(B), f(A_B^2) = f(A).
        let a = [0.1, 0.9, 0.4, 0.6];
        let b = [0.8, 0.2, 0.7, 0.3];
        let mut values = Vec::new();
        for j in 0..4 {
            values.extend([a[j], b[j], b[j], a[j]]);
        }
        let s = sobol(&values, 2, 7);
        assert_eq!(s.rows, 4);
        // Second parameter: exactly zero first and total order.
        assert_eq!(s.entries[1].first.value, 0.0);
        assert_eq!(s.entries[1].total.value, 0.0);
        // First parameter: ST = Σ (a - b)² / 2n / V.
        let mean = (a.iter().sum::<f64>() + b.iter().sum::<f64>()) / 8.0;
        let var = a.iter().chain(&b).map(|x| (x - mean).powi(2)).sum::<f64>() / 8.0;
        let st = a.iter().zip(&b).map(|(x, y)| (x - y).powi(2)).sum::<f64>() / 8.0 / var;
        assert!((s.entries[0].total.value - st).abs() < 1e-12);
        assert!(s.entries[0].total.low <= st && st <= s.entries[0].total.high);
    }
}
