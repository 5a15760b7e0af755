//! Assumption tests across runs: does a claim ("the investment breaks even by 2035") hold in
//! enough Monte Carlo runs to call it likely, and which uncertain parameters decide it?
//!
//! A test holds in `k` of `n` runs. [`wilson_interval`] gives a 95 % confidence interval for the
//! probability that it holds, [`verdict`] turns that into calibrated language, and [`drivers`]
//! ranks the sampled parameters by how strongly they separate holding runs from failing ones.
//!
//! Everything here is deterministic: no hashing, no randomness, ties broken explicitly.

use serde::Serialize;

/// The standard normal quantile for a two-sided 95 % interval.
const Z95: f64 = 1.959964;

/// Wilson score interval for k successes out of n at 95% (z = 1.959964).
///
/// With `p̂ = k/n`:
/// `(p̂ + z²/2n ± z·√(p̂(1−p̂)/n + z²/4n²)) / (1 + z²/n)`.
/// Unlike the normal (Wald) interval it stays inside `[0, 1]` and is not degenerate at `k = 0`
/// or `k = n`; the bounds are exactly 0 and 1 there. For `n = 0` (no runs) it is `(0, 1)`.
///
/// # Panics
///
/// If `k > n` (a counting error in the caller).
pub fn wilson_interval(k: usize, n: usize) -> (f64, f64) {
    assert!(k <= n, "{k} successes out of {n} trials");
    if n == 0 {
        return (0.0, 1.0);
    }
    let nf = n as f64;
    let p = k as f64 / nf;
    let z2 = Z95 * Z95;
    let denom = 1.0 + z2 / nf;
    let centre = (p + z2 / (2.0 * nf)) / denom;
    let half = Z95 / denom * (p * (1.0 - p) / nf + z2 / (4.0 * nf * nf)).sqrt();
    let lo = if k == 0 {
        0.0
    } else {
        (centre - half).max(0.0)
    };
    let hi = if k == n {
        1.0
    } else {
        (centre + half).min(1.0)
    };
    (lo, hi)
}

/// Whether an assumption holds across runs, in calibrated language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Holds in at least two thirds of runs, and the evidence excludes a coin toss.
    Likely,
    /// Neither likely nor unlikely (or too few runs to tell).
    Uncertain,
    /// Holds in at most one third of runs, and the evidence excludes a coin toss.
    Unlikely,
}

/// Likely: p̂ ≥ 2/3 and the Wilson interval lies above 1/2; Unlikely: p̂ ≤ 1/3 and the interval
/// lies below 1/2; otherwise Uncertain. (IPCC calibrated language: likely = 66–100 %.)
///
/// Exactly, with `p̂ = k/n` and `(lo, hi) = `[`wilson_interval`]`(k, n)`:
///
/// - **Likely** if `3k ≥ 2n` (p̂ ≥ 2/3, compared in integers) and `lo > 1/2`;
/// - **Unlikely** if `3k ≤ n` (p̂ ≤ 1/3) and `hi < 1/2`;
/// - **Uncertain** otherwise, including `n = 0`.
///
/// The interval condition needs enough runs: `k = n` is Likely only from `n = 4` (at `n = 3` the
/// lower bound is 0.4385), and 14 of 20 (p̂ = 0.7, lower bound 0.481) is Uncertain.
///
/// # Panics
///
/// If `k > n`.
pub fn verdict(k: usize, n: usize) -> Verdict {
    let (lo, hi) = wilson_interval(k, n);
    if n == 0 {
        Verdict::Uncertain
    } else if 3 * k >= 2 * n && lo > 0.5 {
        Verdict::Likely
    } else if 3 * k <= n && hi < 0.5 {
        Verdict::Unlikely
    } else {
        Verdict::Uncertain
    }
}

/// Spearman rank correlation (average ranks for ties); 0 when either side is constant.
///
/// The Pearson correlation of the ranks of `x` and of `y`, tied values sharing the average of
/// their ranks. Pairs in which either value is NaN are left out; with fewer than two pairs
/// left the result is 0. The result is clamped to `[−1, 1]` against rounding.
///
/// # Panics
///
/// If `x` and `y` differ in length, or hold more than `u32::MAX` values.
pub fn rank_correlation(x: &[f64], y: &[f64]) -> f64 {
    assert_eq!(
        x.len(),
        y.len(),
        "rank correlation of series of different lengths"
    );
    let (x, y): (Vec<f64>, Vec<f64>) = x
        .iter()
        .zip(y)
        .filter(|(a, b)| !a.is_nan() && !b.is_nan())
        .map(|(&a, &b)| (a, b))
        .unzip();
    if x.len() < 2 {
        return 0.0;
    }
    pearson(&average_ranks(&x), &average_ranks(&y))
}

/// How one uncertain parameter relates to whether an assumption test holds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Driver {
    /// The parameter's name.
    pub parameter: String,
    /// Spearman correlation between the parameter and the outcome (1 = holds, 0 = fails).
    ///
    /// Positive: higher values make the test more likely to hold.
    pub rank_correlation: f64,
    /// Mean of the parameter over the runs where the test holds (NaN if there are none).
    pub mean_when_holds: f64,
    /// Mean of the parameter over the runs where the test fails (NaN if there are none).
    pub mean_when_fails: f64,
    /// KS-like: max difference between the parameter's empirical CDFs in holding vs failing
    /// runs (0..1).
    ///
    /// The two-sample Kolmogorov–Smirnov statistic: 1 when the parameter's values in holding
    /// runs and in failing runs do not overlap at all, near 0 when they are alike; 0 when all
    /// runs hold or all fail.
    pub distribution_shift: f64,
}

/// The uncertain parameters that most change whether a test holds, sorted by
/// |rank_correlation| descending (ties broken by name for determinism), at most `top`.
///
/// `parameters` are the sampled values, one entry per parameter with one value per run, in
/// the same run order as `holds`. Runs where a parameter is NaN are left out of that
/// parameter's statistics.
///
/// # Panics
///
/// If a parameter's values and `holds` differ in length.
pub fn drivers(parameters: &[(String, Vec<f64>)], holds: &[bool], top: usize) -> Vec<Driver> {
    let all = parameters
        .iter()
        .map(|(name, values)| {
            assert_eq!(
                values.len(),
                holds.len(),
                "parameter `{name}` has {} values for {} runs",
                values.len(),
                holds.len()
            );
            driver(name, values.clone(), holds)
        })
        .collect();
    strongest_drivers(all, top)
}

/// `drivers`, sorted by |rank_correlation| descending (ties broken by name), at most `top`.
pub fn strongest_drivers(mut drivers: Vec<Driver>, top: usize) -> Vec<Driver> {
    drivers.sort_by(|a, b| {
        b.rank_correlation
            .abs()
            .total_cmp(&a.rank_correlation.abs())
            .then_with(|| a.parameter.cmp(&b.parameter))
    });
    drivers.truncate(top);
    drivers
}

/// How parameter `name`, with `values` (one per run, taken over as working memory) relates to
/// `holds` (one per run). The same numbers as [`rank_correlation`] and the KS statistic on the
/// pairs without NaN, computed with the values, one index per run and the flags in memory and
/// nothing else (the runs of a large experiment are read one parameter at a time).
///
/// # Panics
///
/// If `values` and `holds` differ in length, or hold more than `u32::MAX` values (a scenario
/// has at most that many runs).
pub fn driver(name: &str, mut values: Vec<f64>, holds: &[bool]) -> Driver {
    assert_eq!(values.len(), holds.len(), "one value per run");
    // Leave out the runs where the parameter is NaN.
    let mut flags = Vec::with_capacity(holds.len());
    let mut kept = 0;
    for i in 0..values.len() {
        if !values[i].is_nan() {
            values[kept] = values[i];
            flags.push(holds[i]);
            kept += 1;
        }
    }
    values.truncate(kept);
    let x = values;
    let mean_of = |want: bool| {
        let (sum, n) = x
            .iter()
            .zip(&flags)
            .filter(|p| *p.1 == want)
            .fold((0.0, 0usize), |(s, n), p| (s + p.0, n + 1));
        if n == 0 { f64::NAN } else { sum / n as f64 }
    };
    let (mean_when_holds, mean_when_fails) = (mean_of(true), mean_of(false));
    // Runs in increasing order of the parameter (ties in run order).
    let order = increasing_order(&x);
    let distribution_shift = ks_statistic(&x, &flags, &order);
    let rank_correlation = if x.len() < 2 {
        0.0
    } else {
        binary_rank_correlation(x, &flags, &order)
    };
    Driver {
        parameter: name.to_string(),
        rank_correlation,
        mean_when_holds,
        mean_when_fails,
        distribution_shift,
    }
}

/// [`rank_correlation`] of `x` and the flags (as 0 and 1), given the order of `x`: the ranks
/// of `x` overwrite `x`; a flag's rank is one of two numbers and is not stored.
fn binary_rank_correlation(mut x: Vec<f64>, flags: &[bool], order: &[u32]) -> f64 {
    assign_average_ranks(&mut x, order);
    let n_false = flags.iter().filter(|&&f| !f).count();
    let n = flags.len();
    // The average ranks of the two tied groups (false first), as `average_ranks` gives them.
    let rank_false = (1 + n_false) as f64 / 2.0;
    let rank_true = (n_false + 1 + n) as f64 / 2.0;
    let flag_rank = |&f: &bool| if f { rank_true } else { rank_false };
    pearson_with(&x, flags, flag_rank)
}

/// Two-sample Kolmogorov–Smirnov statistic between the values flagged true and false, given
/// the order of the values (stable).
fn ks_statistic(values: &[f64], flags: &[bool], order: &[u32]) -> f64 {
    let n_true = flags.iter().filter(|&&f| f).count();
    let n_false = flags.len() - n_true;
    if n_true == 0 || n_false == 0 {
        return 0.0;
    }
    let (mut c_true, mut c_false, mut d) = (0usize, 0usize, 0.0f64);
    for (i, &run) in order.iter().enumerate() {
        let run = run as usize;
        let v = values[run];
        if flags[run] {
            c_true += 1;
        } else {
            c_false += 1;
        }
        // Compare the CDFs only after the last of a run of equal values.
        if order
            .get(i + 1)
            .is_none_or(|&next| values[next as usize] != v)
        {
            let diff = (c_true as f64 / n_true as f64 - c_false as f64 / n_false as f64).abs();
            d = d.max(diff);
        }
    }
    d
}

/// The indices of `x` in increasing order of value (`f64::total_cmp`), ties in index order.
/// u32 indices and an in-place sort: a run-sized order takes 4 bytes per run and nothing more
/// (the index breaks ties, so the unstable sort gives the stable order).
fn increasing_order(x: &[f64]) -> Vec<u32> {
    let len = u32::try_from(x.len()).expect("at most u32::MAX values (runs are counted in u32)");
    let mut order: Vec<u32> = (0..len).collect();
    order.sort_unstable_by(|&a, &b| x[a as usize].total_cmp(&x[b as usize]).then(a.cmp(&b)));
    order
}

fn average_ranks(x: &[f64]) -> Vec<f64> {
    let order = increasing_order(x);
    let mut ranks = x.to_vec();
    assign_average_ranks(&mut ranks, &order);
    ranks
}

/// Replace each value of `x` by its rank (1-based; tied values share the average of their
/// ranks), given `order`, the indices of `x` in increasing order of value.
fn assign_average_ranks(x: &mut [f64], order: &[u32]) {
    let mut start = 0;
    while start < order.len() {
        let mut end = start + 1;
        while end < order.len() && x[order[end] as usize] == x[order[start] as usize] {
            end += 1;
        }
        // Positions start..end hold ranks start+1..=end; their average (written only once
        // the tied group is known, so later groups still compare values):
        let rank = (start + 1 + end) as f64 / 2.0;
        for &i in &order[start..end] {
            x[i as usize] = rank;
        }
        start = end;
    }
}

/// Pearson correlation; 0 when either side has zero variance.
fn pearson(x: &[f64], y: &[f64]) -> f64 {
    pearson_with(x, y, |&v| v)
}

/// Pearson correlation of `x` and `y` mapped by `value` (in order, so sums are the same as
/// over the mapped values); 0 when either side has zero variance.
fn pearson_with<T>(x: &[f64], y: &[T], value: impl Fn(&T) -> f64) -> f64 {
    let n = x.len() as f64;
    let mx = x.iter().sum::<f64>() / n;
    let my = y.iter().map(&value).sum::<f64>() / n;
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        let (da, db) = (a - mx, value(b) - my);
        sxy += da * db;
        sxx += da * da;
        syy += db * db;
    }
    if sxx == 0.0 || syy == 0.0 {
        return 0.0;
    }
    (sxy / (sxx * syy).sqrt()).clamp(-1.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(got: f64, want: f64, tol: f64) {
        assert!((got - want).abs() <= tol, "got {got}, want {want} (±{tol})");
    }

    use crate::analysis::test_rng::Rng;

    #[test]
    fn wilson_matches_published_values() {
        let check = |k, n, lo, hi| {
            let (a, b) = wilson_interval(k, n);
            close(a, lo, 5e-5);
            close(b, hi, 5e-5);
        };
        check(0, 10, 0.0, 0.2775);
        check(5, 10, 0.2366, 0.7634);
        check(81, 263, 0.2553, 0.3662);
        check(10, 10, 0.7225, 1.0);
        // k = 0 and k = n are exact; the interval is symmetric under k ↔ n − k.
        assert_eq!(wilson_interval(0, 3).0, 0.0);
        assert_eq!(wilson_interval(3, 3).1, 1.0);
        let (a, b) = wilson_interval(81, 263);
        let (c, d) = wilson_interval(182, 263);
        close(a, 1.0 - d, 1e-12);
        close(b, 1.0 - c, 1e-12);
        // k = n: the lower bound is n/(n + z²).
        close(wilson_interval(4, 4).0, 4.0 / (4.0 + Z95 * Z95), 1e-12);
        assert_eq!(wilson_interval(0, 0), (0.0, 1.0));
    }

    #[test]
    #[should_panic(expected = "successes out of")]
    fn wilson_rejects_more_successes_than_trials() {
        let _ = wilson_interval(5, 4);
    }

    #[test]
    fn verdict_boundaries() {
        use Verdict::*;
        // All runs hold: the interval must clear 1/2, which needs n ≥ 4 (n > z²).
        assert_eq!(verdict(3, 3), Uncertain); // lo = 0.4385
        assert_eq!(verdict(4, 4), Likely); // lo = 0.5101
        assert_eq!(verdict(0, 3), Uncertain); // hi = 0.5615
        assert_eq!(verdict(0, 4), Unlikely); // hi = 0.4899
        // p̂ at exactly 2/3 (and 1/3) counts; one run fewer does not, although the interval
        // (0.608, 0.714) still lies above 1/2.
        assert_eq!(verdict(200, 300), Likely);
        assert_eq!(verdict(199, 300), Uncertain);
        assert_eq!(verdict(100, 300), Unlikely);
        assert_eq!(verdict(101, 300), Uncertain);
        assert_eq!(verdict(2, 3), Uncertain);
        assert_eq!(verdict(1, 3), Uncertain);
        // p̂ ≥ 2/3 but the interval reaches below 1/2: too few runs.
        assert_eq!(verdict(14, 20), Uncertain); // lo = 0.481
        assert_eq!(verdict(6, 20), Uncertain); // hi = 0.519
        assert_eq!(verdict(70, 100), Likely);
        assert_eq!(verdict(50, 100), Uncertain);
        assert_eq!(verdict(0, 0), Uncertain);
    }

    #[test]
    fn verdict_serialises_lowercase() {
        let json = serde_json::to_string(&[Verdict::Likely, Verdict::Uncertain, Verdict::Unlikely]);
        assert_eq!(json.unwrap(), r#"["likely","uncertain","unlikely"]"#);
    }

    #[test]
    fn spearman_hand_computed_with_ties() {
        // x ranks 1, 2.5, 2.5, 4; y ranks 1, 3, 2, 4. Deviations from 2.5: (−1.5, 0, 0, 1.5)
        // and (−1.5, 0.5, −0.5, 1.5): Σdxdy = 4.5, Σdx² = 4.5, Σdy² = 5 → 4.5/√22.5 = 3/√10.
        close(
            rank_correlation(&[1.0, 2.0, 2.0, 3.0], &[1.0, 3.0, 2.0, 4.0]),
            3.0 / 10f64.sqrt(),
            1e-12,
        );
        // x ranks 1.5, 1.5, 3.5, 3.5; y ranks 3, 1, 4, 2: Σdxdy = 2, Σdx² = 4, Σdy² = 5 → 1/√5.
        close(
            rank_correlation(&[7.0, 7.0, 9.0, 9.0], &[30.0, 10.0, 40.0, 20.0]),
            1.0 / 5f64.sqrt(),
            1e-12,
        );
        // Without ties: 1 − 6Σd²/(n(n² − 1)); ranks (1..5) vs (2, 1, 4, 3, 5): Σd² = 4 → 0.8.
        close(
            rank_correlation(&[1.0, 2.0, 3.0, 4.0, 5.0], &[0.2, 0.1, 0.4, 0.3, 0.5]),
            0.8,
            1e-12,
        );
    }

    #[test]
    fn spearman_basic_properties() {
        let x: Vec<f64> = (0..20).map(f64::from).collect();
        let cubed: Vec<f64> = x.iter().map(|v| (v - 7.0).powi(3)).collect();
        let reversed: Vec<f64> = x.iter().map(|v| (-v).exp()).collect();
        assert_eq!(rank_correlation(&x, &cubed), 1.0);
        assert_eq!(rank_correlation(&x, &reversed), -1.0);
        assert_eq!(rank_correlation(&x, &[3.0; 20]), 0.0);
        assert_eq!(rank_correlation(&[3.0; 20], &x), 0.0);
        assert_eq!(rank_correlation(&[], &[]), 0.0);
        assert_eq!(rank_correlation(&[1.0], &[2.0]), 0.0);
        // NaN pairs are left out.
        let with_nan = [1.0, f64::NAN, 2.0, 3.0];
        assert_eq!(rank_correlation(&with_nan, &[1.0, -50.0, 2.0, 3.0]), 1.0);
    }

    /// The unstable sort with the index as tie-break gives the stable sort's order, whatever
    /// the ties (many equal values, -0 and +0, infinities, equal NaNs).
    #[test]
    fn increasing_order_is_the_stable_order() {
        let mut r = Rng(11);
        for n in [0, 1, 2, 7, 100, 1000] {
            let x: Vec<f64> = (0..n)
                .map(|_| match (r.next_f64() * 8.0) as u32 {
                    0 => 0.0,
                    1 => -0.0,
                    2 => f64::INFINITY,
                    3 => f64::NAN,
                    k => f64::from(k % 3),
                })
                .collect();
            let mut stable: Vec<usize> = (0..n).collect();
            stable.sort_by(|&a, &b| x[a].total_cmp(&x[b]));
            let got: Vec<usize> = increasing_order(&x).iter().map(|&i| i as usize).collect();
            assert_eq!(got, stable, "n = {n}");
        }
    }

    /// Naive average ranks: (number below) + (number equal + 1)/2.
    fn naive_ranks(x: &[f64]) -> Vec<f64> {
        x.iter()
            .map(|a| {
                let below = x.iter().filter(|b| *b < a).count() as f64;
                let equal = x.iter().filter(|b| *b == a).count() as f64;
                below + (equal + 1.0) / 2.0
            })
            .collect()
    }

    #[test]
    fn spearman_is_pearson_of_average_ranks() {
        let mut r = Rng(7);
        for _ in 0..20 {
            // Coarse values so there are many ties.
            let x: Vec<f64> = (0..50).map(|_| (r.next_f64() * 8.0).floor()).collect();
            let y: Vec<f64> = x.iter().map(|v| (v + r.next_f64() * 6.0).floor()).collect();
            assert_eq!(average_ranks(&x), naive_ranks(&x));
            let want = pearson(&naive_ranks(&x), &naive_ranks(&y));
            close(rank_correlation(&x, &y), want, 1e-12);
        }
    }

    fn example(n: usize) -> (Vec<(String, Vec<f64>)>, Vec<bool>) {
        let mut r = Rng(2024);
        let x: Vec<f64> = (0..n).map(|_| r.next_f64()).collect();
        let y: Vec<f64> = (0..n).map(|_| r.next_f64()).collect();
        let holds = x.iter().map(|&v| v < 0.3).collect();
        (vec![("y".to_string(), y), ("x".to_string(), x)], holds)
    }

    #[test]
    fn drivers_find_the_parameter_that_decides() {
        let (params, holds) = example(2000);
        let ds = drivers(&params, &holds, 10);
        assert_eq!(ds.len(), 2);
        let (x, y) = (&ds[0], &ds[1]);
        assert_eq!((x.parameter.as_str(), y.parameter.as_str()), ("x", "y"));
        // corr(U, 1{U < q}) = −√(3q(1 − q)) = −0.794 for q = 0.3.
        close(x.rank_correlation, -(3.0f64 * 0.3 * 0.7).sqrt(), 0.02);
        // Holding and failing runs do not overlap in x at all.
        assert_eq!(x.distribution_shift, 1.0);
        close(x.mean_when_holds, 0.15, 0.01);
        close(x.mean_when_fails, 0.65, 0.01);
        // y is independent noise: its statistics are sampling noise, bounded here at about
        // four standard errors (this sample happens to be a 3σ one: r = 0.068, shift = 0.092).
        let n = holds.len() as f64;
        let n_holds = holds.iter().filter(|&&h| h).count() as f64;
        let n_fails = n - n_holds;
        assert!(y.rank_correlation.abs() < 4.0 / n.sqrt(), "{y:?}");
        // The two-sample KS critical value at α = 0.001 is 1.95·√(1/n₁ + 1/n₂).
        assert!(
            y.distribution_shift < 1.95 * (1.0 / n_holds + 1.0 / n_fails).sqrt(),
            "{y:?}"
        );
        let sd_uniform = 12f64.sqrt().recip();
        close(y.mean_when_holds, 0.5, 4.0 * sd_uniform / n_holds.sqrt());
        close(y.mean_when_fails, 0.5, 4.0 * sd_uniform / n_fails.sqrt());
    }

    #[test]
    fn drivers_are_deterministic() {
        let (params, holds) = example(500);
        let a = drivers(&params, &holds, 2);
        assert_eq!(a, drivers(&params, &holds, 2));
        // The order of the parameters does not matter.
        let reordered = vec![params[1].clone(), params[0].clone()];
        assert_eq!(a, drivers(&reordered, &holds, 2));
        // At most `top`.
        assert_eq!(drivers(&params, &holds, 1), a[..1]);
        assert!(drivers(&params, &holds, 0).is_empty());
        // Equal |correlation|: by name.
        let v = params[1].1.clone();
        let twins = vec![("b".to_string(), v.clone()), ("a".to_string(), v)];
        let names: Vec<String> = drivers(&twins, &holds, 5)
            .into_iter()
            .map(|d| d.parameter)
            .collect();
        assert_eq!(names, ["a", "b"]);
    }

    #[test]
    fn drivers_edge_cases() {
        // All runs hold: no contrast at all.
        let params = vec![("p".to_string(), vec![1.0, 2.0, 3.0])];
        let d = &drivers(&params, &[true; 3], 1)[0];
        assert_eq!((d.rank_correlation, d.distribution_shift), (0.0, 0.0));
        assert_eq!(d.mean_when_holds, 2.0);
        assert!(d.mean_when_fails.is_nan());
        // Ties across groups: values 1, 1 | 1, 2 (holds, holds | fails, fails) → CDFs after 1:
        // holds 1, fails 1/2 → shift 1/2.
        let params = vec![("p".to_string(), vec![1.0, 1.0, 1.0, 2.0])];
        let d = &drivers(&params, &[true, true, false, false], 1)[0];
        assert_eq!(d.distribution_shift, 0.5);
        // A NaN value leaves that run out of the parameter's statistics.
        let params = vec![("p".to_string(), vec![0.0, f64::NAN, 1.0])];
        let d = &drivers(&params, &[true, false, false], 1)[0];
        assert_eq!((d.mean_when_holds, d.mean_when_fails), (0.0, 1.0));
        assert_eq!((d.rank_correlation, d.distribution_shift), (-1.0, 1.0));
    }

    #[test]
    fn driver_serialises() {
        let d = Driver {
            parameter: "uptake".to_string(),
            rank_correlation: 0.5,
            mean_when_holds: 1.0,
            mean_when_fails: 0.25,
            distribution_shift: 0.75,
        };
        assert_eq!(
            serde_json::to_string(&d).unwrap(),
            r#"{"parameter":"uptake","rank_correlation":0.5,"mean_when_holds":1.0,"mean_when_fails":0.25,"distribution_shift":0.75}"#
        );
    }
}
