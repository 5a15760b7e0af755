//! Beta (and so PERT) quantiles: a per-shape table and Newton polish against statrs's CDF,
//! within a few ulps of the original search's answer, about three times cheaper.
//!
//! The original beta quantile is [`invert_cdf`]: Newton steps from the mean a/(a+b),
//! safeguarded by a bracket that is closed down to adjacent doubles, against statrs's
//! regularized incomplete beta `checked_beta_reg` (here [`BetaShape::beta_reg`], statrs's
//! continued fraction with its `ln_gamma` terms hoisted into a per-shape constant, bit for bit
//! the same values). That CDF is not monotone at the scale of one ulp: its rounding noise (a few
//! ulps of F for the PERT shapes, thousands for a, b ~ 1e3) exceeds its rise from one double to
//! the next, so several doubles x satisfy F(x⁻) < u ≤ F(x) (up to 16 ulps apart for the
//! bundled PERT shapes), and which one the search returns depends on the points it visits.
//! That search costs about 7 CDF and 7 density evaluations (7.4 K instructions).
//!
//! Now, per shape, a table holds the original search's quantile at u = k/32, k = 1…31, with
//! dx/du = 1/f(x) and d²x/du² = −(f'/f)(x)·(dx/du)² there (both exact given x, f'/f being
//! (a−1)/x − (b−1)/(1−x)). Each node is filled in the first time a u next to it is asked for,
//! and is a pure function of (a, b, k), so no result depends on what has been filled in, on
//! the per-thread memo, or on the thread. A quantile for u in [1/32, 31/32) starts from the
//! table's quintic Hermite interpolant (error O(h⁶), ~1e-10 relative) and takes Newton steps
//! x ← x − (F(x) − u)/f(x) with the exact CDF until the next step's size, estimated from the
//! last one δ as |f'/f|·δ²/2, is below x·ε/8; for the PERT shapes about 75 % of these u need one
//! step, the rest two (at most three, otherwise the exact search). The answer is clamped to the
//! interval's two nodes, so it is non-decreasing across nodes.
//!
//! Exact (bit for bit the original search): u < 1/32 and u ≥ 31/32 (6.25 % of uniform u),
//! where the quantile's derivatives grow without bound; u exactly on a node; the interval
//! containing statrs's switch between its two continued fractions, x = (a+1)/(a+b+2), where
//! its CDF can jump (by 3e-11 for
//! Beta(1e4, 1e4)) and Newton need not settle; intervals ending within 1e-9 of 1, where the
//! doubles are too coarse for Newton; anything non-finite or outside (0, 1) on the way; and
//! a = 1 or b = 1 (closed forms, unchanged).
//!
//! Not exact: elsewhere the answer is where Newton settles within statrs's noisy CDF, not the
//! crossing the original search happened to pick, and since statrs's crossings for one u can
//! be up to 16 ulps apart, no cheaper search can stay within 8 ulps of that pick. For the
//! bundled PERT shapes it differs by at most 14 ulps (20 000 u per shape), by more than 8 ulps
//! for about 0.5 % of u, and F(new) misses u by at most 30 ulps of u (the original: 25). For
//! other shapes the difference is bounded by the CDF's noise converted to x (at most 1.33
//! times that noise in the tests), which in ulps of x is larger where the quantile is
//! ill-conditioned: 28 ulps for Beta(½, ½), ~160 for Beta(0.1, 3) (x ∝ u¹⁰), ~240 for
//! Beta(1e3, 2e3) (statrs's noise is thousands of ulps there), up to ~7 000 for a or b = 1e-3.
//! Monotone in u on dense grids (200 000 u per PERT shape, 10 000 for the others): no
//! reversals, as for the original. Extending the table into the tails (nodes at 2⁻⁶ … 2⁻¹⁰
//! and 1 − 2⁻⁶ …) was tried: 2 % fewer instructions at 400 runs, but tail samples moved by up
//! to 31 ulps, so it was left out. Cost on the care
//! scenario (two PERT parameters, 400 runs, one thread, callgrind): 7.36 K → 2.8 K
//! instructions per quantile including building the tables, about 2.25 K once they are built.

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
    BetaShape::with_recent(a, b, |shape| shape.quantile(u))
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

/// The quantile table's nodes are u = k/TABLE_N; it covers u in [1/TABLE_N, 1 − 1/TABLE_N).
const TABLE_N: usize = 32;
/// Newton steps from the interpolant before giving up and using the exact search.
const MAX_POLISH_STEPS: usize = 3;

/// Beta(a, b), a and b positive and finite, with everything that depends on neither x nor u
/// precomputed. (`beta_quantile` does not come here when a or b is 1: those have closed forms.)
#[derive(Debug, Clone)]
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
    /// Node k (u = k/TABLE_N, 1 ≤ k ≤ TABLE_N − 1): the exact quantile x_k and dx/du there
    /// (1/f(x_k)), computed when first needed (NaN until then). Each is a pure function of
    /// (a, b, k), so what has been filled in never changes a result.
    nodes: Vec<[f64; 3]>,
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
            nodes: vec![[f64::NAN; 3]; TABLE_N + 1],
        };
        shape.cdf_mean = shape.compute_cdf(shape.mean);
        shape.pdf_mean = shape.compute_pdf(shape.mean);
        shape
    }

    /// Runs `f` on the shape, taken from this thread's memo of recent shapes when it is there
    /// (and added to it otherwise).
    fn with_recent<R>(a: f64, b: f64, f: impl FnOnce(&mut BetaShape) -> R) -> R {
        RECENT.with_borrow_mut(|recent| {
            let same = |s: &BetaShape| s.a.to_bits() == a.to_bits() && s.b.to_bits() == b.to_bits();
            let shape = match recent.iter().position(same) {
                Some(i) => &mut recent[i],
                None => {
                    if recent.len() == RECENT_SHAPES {
                        recent.pop_front();
                    }
                    recent.push_back(BetaShape::new(a, b));
                    recent.back_mut().expect("just pushed")
                }
            };
            f(shape)
        })
    }

    /// The quantile: inside the table's range, Newton polish of the table's cubic Hermite
    /// interpolant against the exact CDF; elsewhere, or whenever the polish does not settle,
    /// the exact search [`BetaShape::exact_quantile`].
    fn quantile(&mut self, u: f64) -> f64 {
        // u ≥ 1/TABLE_N and u < 1 − 1/TABLE_N (false for NaN).
        if !(u >= 1.0 / TABLE_N as f64 && u < 1.0 - 1.0 / TABLE_N as f64) {
            return self.exact_quantile(u);
        }
        let scaled = u * TABLE_N as f64; // exact: TABLE_N is a power of two
        let k = scaled as usize; // 1 ≤ k ≤ TABLE_N − 2
        let node = self.node(k);
        if scaled == k as f64 {
            return node[0];
        }
        let next = self.node(k + 1);
        self.polish(u, scaled - k as f64, node, next)
            .unwrap_or_else(|| self.exact_quantile(u))
    }

    /// Node k of the table, computed now if it has not been yet.
    fn node(&mut self, k: usize) -> [f64; 3] {
        if self.nodes[k][0].is_nan() {
            let x = self.exact_quantile(k as f64 / TABLE_N as f64);
            let d = 1.0 / self.pdf(x);
            self.nodes[k] = [x, d, -self.curvature(x) * d * d];
        }
        self.nodes[k]
    }

    /// The cubic Hermite interpolant between nodes (x0, dx/du = d0) and (x1, d1) at fraction t
    /// of the interval (width 1/TABLE_N), then Newton steps x ← x − (F(x) − u)/f(x) until the
    /// next step would be below a quarter ulp (estimated from the last step δ as
    /// |f'/f|·δ²/2, the Newton error term; f'/f = (a−1)/x − (b−1)/(1−x)). The answer is kept
    /// within [x0, x1], so the polished quantile is non-decreasing across nodes. None when
    /// anything is not finite or not in (0, 1), or after MAX_POLISH_STEPS steps.
    fn polish(&self, u: f64, t: f64, node: [f64; 3], next: [f64; 3]) -> Option<f64> {
        let ([x0, d0, dd0], [x1, d1, dd1]) = (node, next);
        let ok = |x: f64| x > 0.0 && x < 1.0;
        // Within 1e-9 of 1 the doubles are too coarse (relative to 1 − x) for Newton steps to
        // settle, and statrs's CDF is flat (1) from 1 − 1e-15 on: the exact search decides.
        // statrs's CDF switches continued fractions at `flip_at`, where it can jump (by
        // 3e-11 for Beta(1e4, 1e4)) and Newton need not settle: the exact search decides
        // in the interval around it too.
        let straddles_flip = x0 <= self.flip_at && self.flip_at <= x1;
        let finite = [d0, dd0, d1, dd1].iter().all(|d| d.is_finite());
        if !(ok(x0) && x1 < 1.0 - 1e-9 && finite) || straddles_flip {
            return None;
        }
        let mut x = interpolate(t, node, next);
        for _ in 0..MAX_POLISH_STEPS {
            if !ok(x) {
                return None;
            }
            let step = (self.compute_cdf(x) - u) / self.compute_pdf(x);
            let next = x - step;
            if !ok(next) {
                return None;
            }
            let error = 0.5 * (self.curvature(next) * step * step).abs();
            if !error.is_finite() {
                return None;
            }
            x = next;
            if error <= x * (f64::EPSILON / 8.0) {
                return Some(x.max(x0).min(x1));
            }
        }
        None
    }

    /// f'(x)/f(x) = (a − 1)/x − (b − 1)/(1 − x).
    fn curvature(&self, x: f64) -> f64 {
        (self.a - 1.0) / x - (self.b - 1.0) / (1.0 - x)
    }

    /// The double x with F(x⁻) < u ≤ F(x) that the original search finds: the same calls
    /// `invert_cdf(u, 0, 1, a/(a+b), statrs's CDF, density)` made, with the same values.
    fn exact_quantile(&self, u: f64) -> f64 {
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

/// The quintic Hermite interpolant of the quantile between two table nodes [x, dx/du,
/// d²x/du²] (u apart by 1/TABLE_N), at fraction t of the way. The derivatives are exact:
/// dx/du = 1/f(x) and d²x/du² = −(f'/f)(x)·(dx/du)², so the error is O(h⁶).
fn interpolate(t: f64, [x0, d0, dd0]: [f64; 3], [x1, d1, dd1]: [f64; 3]) -> f64 {
    let h = 1.0 / TABLE_N as f64;
    let (t2, t3) = (t * t, t * t * t);
    let (t4, t5) = (t3 * t, t3 * t2);
    let h5 = 10.0 * t3 - 15.0 * t4 + 6.0 * t5;
    let h0 = 1.0 - h5;
    let h1 = t - 6.0 * t3 + 8.0 * t4 - 3.0 * t5;
    let h4 = -4.0 * t3 + 7.0 * t4 - 3.0 * t5;
    let h2 = 0.5 * (t2 - 3.0 * t3 + 3.0 * t4 - t5);
    let h3 = 0.5 * (t3 - 2.0 * t4 + t5);
    h0 * x0 + h5 * x1 + h * (h1 * d0 + h4 * d1) + h * h * (h2 * dd0 + h3 * dd1)
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

    /// Distance in doubles between two non-negative doubles.
    fn ulps(x: f64, y: f64) -> u64 {
        x.to_bits().abs_diff(y.to_bits())
    }

    /// u on a midpoint grid of `n`, the table's nodes and the doubles next to them (its range
    /// edges among them), and both tails down to the extreme doubles.
    fn grid_with_nodes(n: usize) -> Vec<f64> {
        let mut us = grid(n);
        for k in 0..=TABLE_N {
            let u = k as f64 / TABLE_N as f64;
            let (mut below, mut above) = (u, u);
            us.push(u);
            for _ in 0..3 {
                below = below.next_down();
                above = above.next_up();
                us.extend([below, above]);
            }
        }
        us.retain(|u| (0.0..1.0).contains(u));
        us
    }

    /// What `compare_with_original` measured, worst over shapes and grid.
    #[derive(Debug, Default)]
    struct Worst {
        /// |new − original| in ulps of the original.
        ulps: u64,
        /// |new − original| · f(x) / noise: the difference in units of u, over the CDF's own
        /// noise (how far statrs's F strays from its tangent near the quantiles).
        diff_over_noise: f64,
        /// max |F(new) − u| / noise.
        miss_over_noise: f64,
        /// How many grid points differ by more than 8 ulps, and how many there were.
        over_8_ulps: usize,
        points: usize,
    }

    /// Compares with the original search on the shapes' grids (bundled PERT shapes on the
    /// full grid, others on a twentieth), asserting: in [0, 1]; within 8 ulps of the
    /// original's or, where statrs's CDF is noisier than that, within twice the CDF's noise
    /// plus the original's own miss |F(original) − u| (converted to x by the density); and
    /// CDF(new) within twice that noise of u (plus the
    /// original's own miss, which is larger only where statrs's CDF jumps).
    fn compare_with_original(n: usize) -> Worst {
        let mut worst = Worst::default();
        for (i, (a, b)) in shapes().into_iter().enumerate() {
            let shape = BetaShape::new(a, b);
            let us = grid_with_nodes(if i < 4 { n } else { n / 20 });
            let originals: Vec<f64> = us.iter().map(|&u| original_quantile(a, b, u)).collect();
            // statrs's CDF noise: how far F strays from its tangent within ±8 doubles of the
            // original quantiles (every 10th).
            let mut noise: f64 = 0.0;
            for (&u, &x) in us.iter().zip(&originals).step_by(10) {
                let (slope, mut y) = (shape.compute_pdf(x), x);
                for _ in 0..8 {
                    y = y.next_down();
                }
                for _ in 0..17 {
                    noise = noise.max((statrs_cdf(a, b, y) - u - (y - x) * slope).abs());
                    y = y.next_up();
                }
            }
            for (&u, &original) in us.iter().zip(&originals) {
                let ours = beta_quantile(a, b, u);
                assert!(
                    (0.0..=1.0).contains(&ours),
                    "beta({a}, {b}) at u = {u:e}: {ours:e}"
                );
                let d = ulps(ours, original);
                let in_u = (ours - original).abs() * shape.compute_pdf(original);
                let miss = (statrs_cdf(a, b, ours) - u).abs();
                // (statrs's CDF jumps where it switches fractions, so the original can miss
                // u by more than the noise: then it bounds ours.)
                let miss_original = (statrs_cdf(a, b, original) - u).abs();
                assert!(
                    d <= 8 || in_u <= 2.0 * noise + miss_original,
                    "beta({a}, {b}) at u = {u:e}: {ours:e} vs original {original:e}, {d} ulps"
                );
                assert!(
                    miss <= 2.0 * noise + miss_original,
                    "beta({a}, {b}) at u = {u:e}: F({ours:e}) − u = {miss:e}, noise {noise:e}"
                );
                worst.ulps = worst.ulps.max(d);
                worst.over_8_ulps += usize::from(d > 8);
                worst.points += 1;
                if noise > 0.0 && in_u.is_finite() {
                    worst.diff_over_noise = worst.diff_over_noise.max(in_u / noise);
                    worst.miss_over_noise = worst.miss_over_noise.max(miss / noise);
                }
            }
        }
        worst
    }

    /// Every quantile is within 8 ulps of the original search's or, for shapes whose CDF is
    /// noisier than that (then the original's own answer is only one of several doubles
    /// where statrs's CDF crosses u), within twice that noise; on dense grids including the
    /// table's nodes and range edges. Measured (20 000 points per PERT shape): see the
    /// module doc.
    #[test]
    fn quantile_is_close_to_the_original_search() {
        eprintln!("{:?}", compare_with_original(20_000));
    }

    /// The dense version (10⁶ values of u per bundled PERT shape), a few minutes:
    /// `cargo test --release -- --ignored quantile_is_close_to_the_original_search_densely --nocapture`.
    #[test]
    #[ignore]
    fn quantile_is_close_to_the_original_search_densely() {
        eprintln!("{:?}", compare_with_original(1_000_000));
    }

    /// On the bundled PERT shapes the difference is a few ulps: at most 16 (the width of
    /// statrs's CDF noise there), and more than 8 for under 1 % of u.
    #[test]
    fn pert_quantiles_move_by_a_few_ulps() {
        for (a, b) in shapes().into_iter().take(6) {
            let us = grid_with_nodes(20_000);
            let mut over_8 = 0;
            for &u in &us {
                let d = ulps(beta_quantile(a, b, u), original_quantile(a, b, u));
                assert!(d <= 16, "beta({a}, {b}) at u = {u:e}: {d} ulps");
                over_8 += usize::from(d > 8);
            }
            assert!(
                over_8 * 100 < us.len(),
                "beta({a}, {b}): {over_8} over 8 ulps"
            );
        }
    }

    /// Outside the table's range (and at its nodes) the answer is the exact search's, bit for
    /// bit.
    #[test]
    fn tails_and_nodes_are_the_original_search_bit_for_bit() {
        let edge = 1.0 / TABLE_N as f64;
        for (a, b) in shapes() {
            let mut us: Vec<f64> = grid(2_000)
                .into_iter()
                .filter(|&u| u < edge || u >= 1.0 - edge)
                .collect();
            us.extend([edge.next_down(), 1.0 - edge, (1.0 - edge).next_up(), 0.0]);
            us.extend((1..TABLE_N).map(|k| k as f64 / TABLE_N as f64));
            for u in us {
                let (ours, original) = (beta_quantile(a, b, u), original_quantile(a, b, u));
                assert_eq!(
                    ours.to_bits(),
                    original.to_bits(),
                    "beta({a}, {b}) at u = {u:e}: {ours:e} vs original {original:e}"
                );
            }
        }
    }

    /// The interpolant alone is far from the quantile: the Newton polish is what makes the
    /// answer accurate (here the interpolant misses by more than a thousand ulps somewhere).
    #[test]
    fn the_interpolant_alone_is_not_enough() {
        for (a, b) in shapes().into_iter().take(4) {
            let mut shape = BetaShape::new(a, b);
            let mut worst = 0;
            for u in grid(20_000) {
                let scaled = u * TABLE_N as f64;
                if !(1.0..(TABLE_N - 1) as f64).contains(&scaled) || scaled.fract() == 0.0 {
                    continue;
                }
                let k = scaled as usize;
                let (node, next) = (shape.node(k), shape.node(k + 1));
                let interpolated = interpolate(scaled - k as f64, node, next);
                worst = worst.max(ulps(interpolated, original_quantile(a, b, u)));
            }
            assert!(
                worst > 1_000,
                "beta({a}, {b}): interpolant within {worst} ulps"
            );
        }
    }

    /// Monotone on a dense grid? Counts Q(u) > Q(u') for consecutive grid points u < u',
    /// for the new quantile and the original search; the new one must be monotone for the
    /// bundled PERT shapes and no worse than the original elsewhere.
    #[test]
    fn quantile_is_monotone_on_a_dense_grid() {
        for (i, (a, b)) in shapes().into_iter().enumerate() {
            let n = if i < 6 { 200_000 } else { 10_000 };
            let (mut prev, mut prev_original) = (0.0, 0.0);
            let (mut reversed, mut reversed_original) = (0, 0);
            for k in 0..n {
                let u = (k as f64 + 0.5) / n as f64;
                let (x, original) = (beta_quantile(a, b, u), original_quantile(a, b, u));
                reversed += usize::from(x < prev);
                reversed_original += usize::from(original < prev_original);
                (prev, prev_original) = (x, original);
            }
            if reversed > 0 || reversed_original > 0 {
                eprintln!("beta({a}, {b}): {reversed} reversals (original: {reversed_original})");
            }
            assert!(
                reversed <= reversed_original,
                "beta({a}, {b}): {reversed} reversals"
            );
            assert!(i >= 6 || reversed == 0);
        }
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
                let mut shape = BetaShape::new(a, b);
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
