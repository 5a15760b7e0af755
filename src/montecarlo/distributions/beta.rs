//! Beta (and so PERT) quantiles, made cheaper without changing a single sampled bit.
//!
//! A beta quantile is found by [`invert_cdf`]: Newton steps from the mean a/(a+b), safeguarded
//! by a bracket that is closed down to adjacent doubles, against statrs's regularized incomplete
//! beta `checked_beta_reg`. That CDF is not monotone at the scale of one ulp: its rounding noise
//! (a few ulps of F) exceeds its rise from one double to the next, and for the bundled PERT
//! shapes about one adjacent pair in five near a quantile decreases. So several doubles x can
//! satisfy F(x⁻) < u ≤ F(x) (on a grid of u, 27–31 % of the u have two or more such x within
//! ±200 ulps, up to 16 ulps apart), and *which* one is returned depends on the exact points the
//! search visits. Any other search changes some samples: starting from a Hermite table of the
//! quantile at u = 1/32, …, 31/32 instead of the mean, say, saves about 2.4 of the 7.7
//! evaluations but moves 10 % of the samples by up to 15 ulps. The search path is therefore
//! kept exactly, and each of its steps made cheaper by bit-exact means:
//!
//! * [`BetaShape::beta_reg`] is statrs's continued fraction with its three `ln_gamma` calls
//!   (a third of each evaluation) hoisted into a per-shape constant that starts the same sum,
//!   so every CDF value is bit-for-bit statrs's;
//! * the density's ln B(a, b) is computed once per shape instead of once per quantile;
//! * the first point of every search, the mean, is the same for every u, so its CDF and
//!   density are computed once per shape (one evaluation of the usual 7–8 saved);
//! * each thread remembers its few most recent shapes, so a Monte Carlo run that samples the
//!   same PERT parameters run after run prepares each shape once per thread.
//!
//! On the care scenario's two PERT parameters this takes a quantile from 12.9 K to 7.4 K
//! instructions (callgrind) with every sampled value unchanged.

use super::invert_cdf;
use statrs::function::gamma::ln_gamma;
use std::cell::RefCell;
use std::collections::VecDeque;

/// Quantile of Beta(a, b) on [0, 1].
pub(super) fn beta_quantile(a: f64, b: f64, u: f64) -> f64 {
    if !(a > 0.0 && b > 0.0 && a.is_finite() && b.is_finite()) {
        return 0.5;
    }
    if a == 1.0 && b == 1.0 {
        return u;
    }
    if a == 1.0 {
        // F(x) = 1 − (1 − x)^b.
        return (-((-u).ln_1p() / b).exp_m1()).clamp(0.0, 1.0);
    }
    if b == 1.0 {
        // F(x) = x^a.
        return (u.ln() / a).exp().min(1.0);
    }
    BetaShape::recent(a, b).quantile(u)
}

/// How many shapes each thread remembers. Scenarios have a handful of beta/PERT parameters;
/// with more, the oldest shape is prepared again when it comes back (correct, only slower).
const RECENT_SHAPES: usize = 8;

thread_local! {
    /// The most recently used shapes, oldest first. A pure memo: an entry holds exactly what
    /// [`BetaShape::new`] would compute, so results never depend on what is cached, nor on
    /// which thread runs which sample.
    static RECENT: RefCell<VecDeque<BetaShape>> = const { RefCell::new(VecDeque::new()) };
}

/// Beta(a, b), a and b positive and finite, with everything that depends on neither x nor u
/// precomputed. (`beta_quantile` does not come here when a or b is 1: those have closed forms.)
#[derive(Debug, Clone, Copy)]
struct BetaShape {
    a: f64,
    b: f64,
    /// lnΓ(a+b) − lnΓ(a) − lnΓ(b), in statrs's order of operations (it starts the sum whose
    /// exponential is the continued fraction's prefactor).
    ln_norm: f64,
    /// ln B(a, b) = lnΓ(a) + lnΓ(b) − lnΓ(a+b), in the density's order of operations.
    ln_beta: f64,
    /// statrs evaluates the continued fraction for 1 − F(x) at x ≥ (a+1)/(a+b+2).
    flip_at: f64,
    /// The search's first point, the mean a/(a+b), with its CDF and density.
    mean: f64,
    cdf_mean: f64,
    pdf_mean: f64,
}

impl BetaShape {
    fn new(a: f64, b: f64) -> BetaShape {
        let (ln_gamma_a, ln_gamma_b, ln_gamma_ab) = (ln_gamma(a), ln_gamma(b), ln_gamma(a + b));
        let mut shape = BetaShape {
            a,
            b,
            ln_norm: ln_gamma_ab - ln_gamma_a - ln_gamma_b,
            ln_beta: ln_gamma_a + ln_gamma_b - ln_gamma_ab,
            flip_at: (a + 1.0) / (a + b + 2.0),
            mean: a / (a + b),
            cdf_mean: f64::NAN,
            pdf_mean: f64::NAN,
        };
        shape.cdf_mean = shape.compute_cdf(shape.mean);
        shape.pdf_mean = shape.compute_pdf(shape.mean);
        shape
    }

    /// The shape, from this thread's memo of recent shapes when it is there.
    fn recent(a: f64, b: f64) -> BetaShape {
        let same = |s: &&BetaShape| s.a.to_bits() == a.to_bits() && s.b.to_bits() == b.to_bits();
        if let Some(shape) = RECENT.with_borrow(|recent| recent.iter().find(same).copied()) {
            return shape;
        }
        let shape = BetaShape::new(a, b);
        RECENT.with_borrow_mut(|recent| {
            if recent.len() == RECENT_SHAPES {
                recent.pop_front();
            }
            recent.push_back(shape);
        });
        shape
    }

    /// The double x with F(x⁻) < u ≤ F(x) that the original search finds: the same calls
    /// `invert_cdf(u, 0, 1, a/(a+b), statrs's CDF, density)` made, with the same values.
    fn quantile(&self, u: f64) -> f64 {
        invert_cdf(u, 0.0, 1.0, self.mean, |x| self.cdf(x), |x| self.pdf(x))
    }

    /// F(x) for any x (0 below the support, 1 above, NaN for NaN), bit-for-bit
    /// `statrs::function::beta::checked_beta_reg(a, b, x)` inside it.
    fn cdf(&self, x: f64) -> f64 {
        if x == self.mean {
            self.cdf_mean
        } else {
            self.compute_cdf(x)
        }
    }

    fn pdf(&self, x: f64) -> f64 {
        if x == self.mean {
            self.pdf_mean
        } else {
            self.compute_pdf(x)
        }
    }

    fn compute_cdf(&self, x: f64) -> f64 {
        if x <= 0.0 {
            0.0
        } else if x >= 1.0 {
            1.0
        } else if x.is_nan() {
            f64::NAN // statrs: "x out of range", which the old code turned into NaN
        } else {
            self.beta_reg(x)
        }
    }

    fn compute_pdf(&self, x: f64) -> f64 {
        ((self.a - 1.0) * x.ln() + (self.b - 1.0) * (-x).ln_1p() - self.ln_beta).exp()
    }

    /// The regularized incomplete beta I_x(a, b) for 0 < x < 1: statrs 0.19.1's
    /// `checked_beta_reg` (Copyright (c) 2016 Michael Ma, MIT License; Lentz's continued
    /// fraction as in Numerical Recipes §6.4) line for line, except that `lnΓ(a+b) − lnΓ(a) − lnΓ(b)` comes precomputed and the
    /// argument checks are left to the caller. Every floating-point operation is the same, in
    /// the same order, so the result is the same double; `beta_reg_is_statrs_bit_for_bit`
    /// checks it, and would catch a statrs upgrade (or its `ln`/`exp` switching between std and
    /// libm, which depends on num-traits' `std` feature) that made them part ways.
    fn beta_reg(&self, x: f64) -> f64 {
        /// statrs's `beta::MODULE_EPS`: within this of 1, x counts as 1.
        const NEAR_ONE: f64 = 1e-15;
        /// statrs's `prec::F64_PREC` (2⁻⁵³), the continued fraction's convergence threshold.
        const EPS: f64 = 0.000_000_000_000_000_111_022_302_462_515_65;
        const FPMIN: f64 = f64::MIN_POSITIVE / EPS;

        // statrs: `if x == 0.0 || ulps_eq!(x, 1.0, epsilon = MODULE_EPS)`; for 0 < x < 1 that
        // is |x − 1| ≤ 1e-15 (its 5-ulp alternative lies inside that), and 1 − x is exact there.
        let bt = if 1.0 - x <= NEAR_ONE {
            0.0
        } else {
            (self.ln_norm + self.a * x.ln() + self.b * (1.0 - x).ln()).exp()
        };
        let symm_transform = x >= self.flip_at;
        let (a, b, x) = if symm_transform {
            (self.b, self.a, 1.0 - x)
        } else {
            (self.a, self.b, x)
        };

        let qab = a + b;
        let qap = a + 1.0;
        let qam = a - 1.0;
        let mut c = 1.0;
        let mut d = 1.0 - qab * x / qap;
        if d.abs() < FPMIN {
            d = FPMIN;
        }
        d = 1.0 / d;
        let mut h = d;
        for m in 1..141 {
            let m = f64::from(m);
            let m2 = m * 2.0;
            let mut aa = m * (b - m) * x / ((qam + m2) * (a + m2));
            d = 1.0 + aa * d;
            if d.abs() < FPMIN {
                d = FPMIN;
            }
            c = 1.0 + aa / c;
            if c.abs() < FPMIN {
                c = FPMIN;
            }
            d = 1.0 / d;
            h = h * d * c;
            aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
            d = 1.0 + aa * d;
            if d.abs() < FPMIN {
                d = FPMIN;
            }
            c = 1.0 + aa / c;
            if c.abs() < FPMIN {
                c = FPMIN;
            }
            d = 1.0 / d;
            let del = d * c;
            h *= del;
            if (del - 1.0).abs() <= EPS {
                break;
            }
        }
        if symm_transform {
            1.0 - bt * h / a
        } else {
            bt * h / a
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use statrs::function::beta::checked_beta_reg;

    /// The beta quantile as it was before `BetaShape`: statrs's CDF (three `ln_gamma` per
    /// evaluation) and the density with `ln B(a, b)` computed per call, through the same
    /// `invert_cdf`. `BetaShape` must follow exactly this search.
    fn original_quantile(a: f64, b: f64, u: f64) -> f64 {
        let ln_beta = ln_gamma(a) + ln_gamma(b) - ln_gamma(a + b);
        let cdf = |x: f64| {
            if x <= 0.0 {
                0.0
            } else if x >= 1.0 {
                1.0
            } else {
                checked_beta_reg(a, b, x).unwrap_or(f64::NAN)
            }
        };
        let pdf = |x: f64| ((a - 1.0) * x.ln() + (b - 1.0) * (-x).ln_1p() - ln_beta).exp();
        invert_cdf(u, 0.0, 1.0, a / (a + b), cdf, pdf)
    }

    /// statrs's CDF, 0 and 1 outside (0, 1).
    fn statrs_cdf(a: f64, b: f64, x: f64) -> f64 {
        if x <= 0.0 {
            0.0
        } else if x >= 1.0 {
            1.0
        } else {
            checked_beta_reg(a, b, x).unwrap()
        }
    }

    /// PERT shapes of the bundled scenarios, then awkward and pseudo-random beta shapes.
    fn shapes() -> Vec<(f64, f64)> {
        let pert = |low: f64, mode: f64, high: f64| {
            let range = high - low;
            (
                1.0 + 4.0 * (mode - low) / range,
                1.0 + 4.0 * (high - mode) / range,
            )
        };
        let mut shapes = vec![
            pert(0.02, 0.15, 0.37),
            pert(0.0, 0.1, 0.25),
            pert(0.02, 0.15, 0.35),
            pert(0.105, 0.15, 0.25),
            pert(0.0, 1.0, 4.0),
            pert(0.1, 0.2, 0.4),
            (2.0, 5.0),
            (0.5, 0.5),
            (0.3, 0.7),
            (0.3, 2.0),
            (0.1, 3.0),
            (3.0, 0.2),
            (5.0, 0.3),
            (50.0, 0.5),
            (200.0, 2.0),
            (200.0, 300.0),
            (1e3, 2e3),
            (1e-3, 1e-3),
            (1e-3, 1e4),
            (1e4, 1e4),
        ];
        // xorshift64: log-uniform shapes in [e⁻³, e³], and PERT-like ones (a + b = 6).
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        for _ in 0..20 {
            let a = (6.0 * next() - 3.0).exp();
            shapes.push((a, (6.0 * next() - 3.0).exp()));
            let a = 1.0 + 4.0 * next();
            shapes.push((a, 6.0 - a));
        }
        shapes
    }

    /// A midpoint grid of `n` values of u, plus both tails down to the extreme doubles.
    fn grid(n: usize) -> Vec<f64> {
        let mut us: Vec<f64> = (0..n).map(|k| (k as f64 + 0.5) / n as f64).collect();
        for e in 1..=307 {
            us.push(10f64.powi(-e));
        }
        for k in 1..=53 {
            us.push(1.0 - 0.5f64.powi(k));
        }
        us.extend([f64::MIN_POSITIVE, 1.0 - f64::EPSILON / 2.0]);
        us
    }

    #[test]
    fn beta_reg_is_statrs_bit_for_bit() {
        for (a, b) in shapes() {
            let shape = BetaShape::new(a, b);
            let mut xs = grid(20_000);
            // Where statrs switches to the symmetric fraction, and where it treats x as 1.
            for x in [shape.flip_at, shape.mean, 1.0 - 1e-15] {
                xs.extend([x.next_down().next_down(), x.next_down(), x, x.next_up()]);
            }
            xs.extend([0.0, -1.0, 1.0, 2.0]);
            for x in xs {
                let (ours, statrs) = (shape.cdf(x), statrs_cdf(a, b, x));
                assert_eq!(
                    ours.to_bits(),
                    statrs.to_bits(),
                    "beta({a}, {b}) at x = {x:e}: {ours:e} vs statrs {statrs:e}"
                );
            }
            assert!(shape.cdf(f64::NAN).is_nan());
        }
    }

    /// Each quantile equals the original search's on `n` grid points (and the tails) of each
    /// shape, and is a crossing of statrs's CDF: F(x⁻) < u ≤ F(x).
    fn assert_same_as_original(n: usize) {
        for (i, (a, b)) in shapes().into_iter().enumerate() {
            // The bundled PERT shapes get the full grid, the others a twentieth of it.
            let us = grid(if i < 4 { n } else { n / 20 });
            for u in us {
                let (ours, original) = (beta_quantile(a, b, u), original_quantile(a, b, u));
                assert_eq!(
                    ours.to_bits(),
                    original.to_bits(),
                    "beta({a}, {b}) at u = {u:e}: {ours:e} vs original {original:e}"
                );
                assert!(
                    statrs_cdf(a, b, ours.next_down()) < u && u <= statrs_cdf(a, b, ours),
                    "beta({a}, {b}) at u = {u:e}: {ours:e} is not where the CDF crosses u"
                );
            }
        }
    }

    #[test]
    fn quantile_follows_the_original_search_bit_for_bit() {
        assert_same_as_original(20_000);
    }

    /// The dense version (10⁶ values of u per bundled PERT shape), under a minute:
    /// `cargo test --release -- --ignored quantile_follows_the_original_search_densely`.
    #[test]
    #[ignore]
    fn quantile_follows_the_original_search_densely() {
        assert_same_as_original(1_000_000);
    }

    /// More shapes than the memo holds, interleaved, and on several threads: the memo only
    /// saves time, the values are those of a freshly prepared shape.
    #[test]
    fn remembered_shapes_give_the_same_values() {
        let shapes = shapes();
        assert!(shapes.len() > 2 * RECENT_SHAPES);
        let fresh: Vec<Vec<u64>> = shapes
            .iter()
            .map(|&(a, b)| {
                let shape = BetaShape::new(a, b);
                grid(50)
                    .iter()
                    .map(|&u| shape.quantile(u).to_bits())
                    .collect()
            })
            .collect();
        std::thread::scope(|scope| {
            for t in 0..3 {
                let (shapes, fresh) = (&shapes, &fresh);
                scope.spawn(move || {
                    for (k, &u) in grid(50).iter().enumerate() {
                        // Each thread cycles through the shapes in its own order.
                        for j in 0..shapes.len() {
                            let s = (j + t * k) % shapes.len();
                            let (a, b) = shapes[s];
                            assert_eq!(beta_quantile(a, b, u).to_bits(), fresh[s][k]);
                        }
                    }
                });
            }
        });
    }
}
