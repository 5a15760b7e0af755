//! Probability distributions for uncertain parameters, sampled by inverse CDF.
//!
//! Every distribution is sampled as `quantile(u)` with `u` from a [`Sampler`](super::Sampler),
//! so that stratified designs (Latin hypercube, Sobol) carry their stratification through to the
//! parameter values. `quantile` is total: for any `u` (even 0, 1 or NaN, which are first moved to
//! the nearest point of the open interval) it returns a finite number inside the support and it
//! never panics, also for parameters that [`Distribution::validate`] would reject (the value is
//! then meaningless, but still no panic).
//!
//! Special functions come from `statrs::function` (the inverse of erfc, the regularized
//! incomplete beta and gamma functions); erfc itself is computed here, because statrs's is only
//! accurate to ~1e-10. statrs's own inverse beta (`inv_beta_reg`) is not used:
//! it can panic, fail to terminate and lose monotonicity in the lower tail (statrs issue #435),
//! so beta and gamma quantiles are found by a bracketed, safeguarded Newton iteration on the CDF
//! that always terminates (at most ~125 CDF evaluations, usually 5–10). For beta and PERT, the
//! incomplete beta is statrs's restated in `distributions/beta.rs` with its ln-gamma terms
//! computed once per shape (the same values bit for bit, for ~57 % of the instructions), and
//! the central quantiles (1/32 ≤ u < 31/32) come from a per-shape table polished by Newton
//! steps: within a few ulps of that search's answer (see `beta.rs`), ~3× cheaper.

use statrs::function::erf::erfc_inv;
use statrs::function::gamma::{checked_gamma_lr, ln_gamma};
use std::f64::consts::{PI, SQRT_2};

mod beta;
use beta::beta_quantile;

/// A truncated normal must keep at least this much probability between its bounds.
pub const MIN_TRUNCATED_MASS: f64 = 1e-12;
/// Largest accepted beta `alpha`/`beta`: above it statrs's incomplete beta loses accuracy
/// (its continued fraction is capped at 140 terms), and the distribution is practically normal.
pub const MAX_BETA_SHAPE: f64 = 1e4;
/// Largest accepted gamma shape: above it statrs's incomplete gamma loses accuracy
/// (cancellation in `a·ln x − x − lnΓ(a)`), and the distribution is practically normal.
pub const MAX_GAMMA_SHAPE: f64 = 1e6;

/// Smallest and largest `u` used: the extreme doubles of the open interval (0, 1).
const U_MIN: f64 = f64::MIN_POSITIVE;
const U_MAX: f64 = 1.0 - f64::EPSILON / 2.0;

#[derive(Debug, Clone, PartialEq)]
pub enum Distribution {
    Uniform {
        low: f64,
        high: f64,
    },
    /// Optionally truncated to [low, high] (either bound may be absent).
    Normal {
        mean: f64,
        sd: f64,
        low: Option<f64>,
        high: Option<f64>,
    },
    /// ln(X) ~ Normal(mu, sigma).
    LogNormal {
        mu: f64,
        sigma: f64,
    },
    Triangular {
        low: f64,
        mode: f64,
        high: f64,
    },
    /// Beta-PERT with the usual lambda = 4: alpha = 1 + 4(mode-low)/(high-low),
    /// beta = 1 + 4(high-mode)/(high-low).
    Pert {
        low: f64,
        mode: f64,
        high: f64,
    },
    /// Beta(alpha, beta) rescaled to \[low, high\] (low = 0, high = 1 for the standard beta).
    Beta {
        alpha: f64,
        beta: f64,
        low: f64,
        high: f64,
    },
    /// Gamma with shape k and scale theta (mean k·theta).
    Gamma {
        shape: f64,
        scale: f64,
    },
    /// One of `values` with probabilities proportional to `weights`.
    ///
    /// `quantile` walks the values in ascending order; when `values` is already sorted this
    /// needs no allocation, otherwise each call sorts a copy.
    Discrete {
        values: Vec<f64>,
        weights: Vec<f64>,
    },
}

impl Distribution {
    /// `Ok` if the parameters describe a proper distribution; otherwise an error naming the
    /// problem and how to fix it, e.g. "normal: `sd` must be greater than 0, got -1".
    pub fn validate(&self) -> Result<(), String> {
        let name = self.kind();
        let finite = |field: &str, v: f64| -> Result<(), String> {
            if v.is_finite() {
                Ok(())
            } else {
                Err(format!(
                    "{name}: `{field}` must be a finite number, got {v}"
                ))
            }
        };
        let positive = |field: &str, v: f64| -> Result<(), String> {
            finite(field, v)?;
            if v > 0.0 {
                Ok(())
            } else {
                Err(format!("{name}: `{field}` must be greater than 0, got {v}"))
            }
        };
        let ordered = |low: f64, high: f64, allow_equal: bool| -> Result<(), String> {
            finite("low", low)?;
            finite("high", high)?;
            if low > high {
                Err(format!(
                    "{name}: `low` ({low}) is greater than `high` ({high}); swap them"
                ))
            } else if low == high && !allow_equal {
                Err(format!(
                    "{name}: `low` and `high` are both {low}; `low` must be less than `high`"
                ))
            } else {
                Ok(())
            }
        };
        let mode_inside = |low: f64, mode: f64, high: f64| -> Result<(), String> {
            ordered(low, high, true)?;
            finite("mode", mode)?;
            if mode < low || mode > high {
                Err(format!(
                    "{name}: `mode` ({mode}) lies outside [low, high] = [{low}, {high}]"
                ))
            } else {
                Ok(())
            }
        };
        match self {
            Distribution::Uniform { low, high } => ordered(*low, *high, true)?,
            Distribution::Normal {
                mean,
                sd,
                low,
                high,
            } => {
                finite("mean", *mean)?;
                positive("sd", *sd)?;
                if let Some(l) = low {
                    finite("low", *l)?;
                }
                if let Some(h) = high {
                    finite("high", *h)?;
                }
                if let (Some(l), Some(h)) = (low, high) {
                    ordered(*l, *h, false)?;
                }
                let t = TruncNormal::new(*mean, *sd, *low, *high);
                let mass = t.mass();
                if mass.is_nan() || mass < MIN_TRUNCATED_MASS {
                    return Err(format!(
                        "{}: the bounds keep a probability of only {mass:.3e} (less than {MIN_TRUNCATED_MASS:e}) of the untruncated normal; widen the bounds or move the mean inside them",
                        self.describe()
                    ));
                }
            }
            Distribution::LogNormal { mu, sigma } => {
                finite("mu", *mu)?;
                positive("sigma", *sigma)?;
            }
            Distribution::Triangular { low, mode, high }
            | Distribution::Pert { low, mode, high } => mode_inside(*low, *mode, *high)?,
            Distribution::Beta {
                alpha,
                beta,
                low,
                high,
            } => {
                positive("alpha", *alpha)?;
                positive("beta", *beta)?;
                for (field, v) in [("alpha", *alpha), ("beta", *beta)] {
                    if v > MAX_BETA_SHAPE {
                        return Err(format!(
                            "{name}: `{field}` = {v} is above the supported maximum {MAX_BETA_SHAPE:e}; such a beta is practically normal, so use a (truncated) normal with the same mean and sd"
                        ));
                    }
                }
                ordered(*low, *high, false)?;
            }
            Distribution::Gamma { shape, scale } => {
                positive("shape", *shape)?;
                positive("scale", *scale)?;
                if *shape > MAX_GAMMA_SHAPE {
                    return Err(format!(
                        "{name}: `shape` = {shape} is above the supported maximum {MAX_GAMMA_SHAPE:e}; such a gamma is practically normal, so use a normal with mean shape·scale and sd sqrt(shape)·scale"
                    ));
                }
            }
            Distribution::Discrete { values, weights } => {
                if values.is_empty() {
                    return Err(format!(
                        "{name}: `values` is empty; give at least one value"
                    ));
                }
                if values.len() != weights.len() {
                    return Err(format!(
                        "{name}: {} values but {} weights; give one weight per value",
                        values.len(),
                        weights.len()
                    ));
                }
                for (i, v) in values.iter().enumerate() {
                    if !v.is_finite() {
                        return Err(format!(
                            "{name}: value {} must be a finite number, got {v}",
                            i + 1
                        ));
                    }
                }
                for (i, w) in weights.iter().enumerate() {
                    if !w.is_finite() || *w < 0.0 {
                        return Err(format!(
                            "{name}: weight {} must be a finite number ≥ 0, got {w}",
                            i + 1
                        ));
                    }
                }
                let total: f64 = weights.iter().sum();
                if total == 0.0 {
                    return Err(format!(
                        "{name}: all weights are 0; at least one value needs a positive weight"
                    ));
                }
                if !total.is_finite() {
                    return Err(format!(
                        "{name}: the weights sum to {total}; scale them down (only their ratios matter)"
                    ));
                }
            }
        }
        let (m, v) = (self.mean(), self.variance());
        if !m.is_finite() || !v.is_finite() {
            return Err(format!(
                "{}: the parameters are so extreme that the mean ({m}) or variance ({v}) is not a finite number",
                self.describe()
            ));
        }
        Ok(())
    }

    /// Inverse CDF: the smallest `x` with `P(X ≤ x) ≥ u`.
    ///
    /// `u` should lie in (0, 1); values outside (and NaN, treated as 0.5) are moved to the
    /// nearest double inside. The result is finite, within the support (for a truncated normal,
    /// within [low, high]), non-decreasing in `u`, and computing it never panics.
    ///
    /// Monotonicity is exact for the closed forms (uniform, normal, lognormal, triangular,
    /// discrete). Beta, PERT and gamma are solved to the nearest double (central beta/PERT
    /// quantiles: to within a few ulps of it, see `distributions/beta.rs`) against statrs's CDF,
    /// whose own rounding (~1e-16 absolute, ~1e-11 for gamma shapes near 1e4) can put the
    /// quantiles of two `u` closer than that out of order by a few ulps (< 1e-12 relative).
    pub fn quantile(&self, u: f64) -> f64 {
        let u = if u.is_nan() {
            0.5
        } else {
            u.clamp(U_MIN, U_MAX)
        };
        let x = match self {
            Distribution::Uniform { low, high } => clamp_to(low + u * (high - low), *low, *high),
            Distribution::Normal {
                mean,
                sd,
                low,
                high,
            } => TruncNormal::new(*mean, *sd, *low, *high).quantile(u),
            Distribution::LogNormal { mu, sigma } => (mu + sigma * norm_ppf(u))
                .exp()
                .clamp(f64::MIN_POSITIVE, f64::MAX),
            Distribution::Triangular { low, mode, high } => {
                triangular_quantile(*low, *mode, *high, u)
            }
            Distribution::Pert { low, mode, high } => {
                let (a, b) = pert_shapes(*low, *mode, *high);
                scaled(*low, *high, beta_quantile(a, b, u))
            }
            Distribution::Beta {
                alpha,
                beta,
                low,
                high,
            } => scaled(*low, *high, beta_quantile(*alpha, *beta, u)),
            Distribution::Gamma { shape, scale } => {
                (scale * gamma_quantile(*shape, u)).clamp(0.0, f64::MAX)
            }
            Distribution::Discrete { values, weights } => discrete_quantile(values, weights, u),
        };
        // Garbage in (unvalidated parameters) must still not produce NaN or infinities.
        if x.is_nan() {
            0.0
        } else {
            x.clamp(-f64::MAX, f64::MAX)
        }
    }

    /// The support's ends when both are finite (uniform, triangular, PERT, beta, discrete,
    /// normal truncated on both sides); None for unbounded distributions.
    pub fn bounds(&self) -> Option<(f64, f64)> {
        match self {
            Distribution::Uniform { low, high }
            | Distribution::Triangular { low, high, .. }
            | Distribution::Pert { low, high, .. }
            | Distribution::Beta { low, high, .. } => Some((*low, *high)),
            Distribution::Normal {
                low: Some(low),
                high: Some(high),
                ..
            } => Some((*low, *high)),
            Distribution::Discrete { values, .. } => {
                let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
                let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                (lo.is_finite() && hi.is_finite()).then_some((lo, hi))
            }
            Distribution::Normal { .. }
            | Distribution::LogNormal { .. }
            | Distribution::Gamma { .. } => None,
        }
    }

    /// Exact mean (truncation included).
    pub fn mean(&self) -> f64 {
        match self {
            Distribution::Uniform { low, high } => 0.5 * (low + high),
            Distribution::Normal {
                mean,
                sd,
                low,
                high,
            } => TruncNormal::new(*mean, *sd, *low, *high).mean_var().0,
            Distribution::LogNormal { mu, sigma } => (mu + 0.5 * sigma * sigma).exp(),
            Distribution::Triangular { low, mode, high } => (low + mode + high) / 3.0,
            Distribution::Pert { low, mode, high } => {
                if low == high {
                    *low
                } else {
                    (low + 4.0 * mode + high) / 6.0
                }
            }
            Distribution::Beta {
                alpha,
                beta,
                low,
                high,
            } => low + (high - low) * alpha / (alpha + beta),
            Distribution::Gamma { shape, scale } => shape * scale,
            Distribution::Discrete { values, weights } => {
                let total: f64 = weights.iter().sum();
                values.iter().zip(weights).map(|(v, w)| v * w).sum::<f64>() / total
            }
        }
    }

    /// Exact variance (truncation included).
    pub fn variance(&self) -> f64 {
        match self {
            Distribution::Uniform { low, high } => (high - low).powi(2) / 12.0,
            Distribution::Normal {
                mean,
                sd,
                low,
                high,
            } => TruncNormal::new(*mean, *sd, *low, *high).mean_var().1,
            Distribution::LogNormal { mu, sigma } => {
                let s2 = sigma * sigma;
                s2.exp_m1() * (2.0 * mu + s2).exp()
            }
            Distribution::Triangular { low, mode, high } => {
                // (a² + b² + c² − ab − ac − bc)/18, written as a sum of squares so it is ≥ 0.
                ((low - mode).powi(2) + (mode - high).powi(2) + (high - low).powi(2)) / 36.0
            }
            Distribution::Pert { low, mode, high } => {
                if low == high {
                    return 0.0;
                }
                let (a, b) = pert_shapes(*low, *mode, *high);
                beta_variance(a, b) * (high - low).powi(2)
            }
            Distribution::Beta {
                alpha,
                beta,
                low,
                high,
            } => beta_variance(*alpha, *beta) * (high - low).powi(2),
            Distribution::Gamma { shape, scale } => shape * scale * scale,
            Distribution::Discrete { values, weights } => {
                let total: f64 = weights.iter().sum();
                let m = self.mean();
                values
                    .iter()
                    .zip(weights)
                    .map(|(v, w)| w * (v - m).powi(2))
                    .sum::<f64>()
                    / total
            }
        }
    }

    /// Short human description, e.g. "triangular(0.1, 0.2, 0.4)".
    pub fn describe(&self) -> String {
        let list = |xs: &[f64]| {
            xs.iter()
                .map(|x| x.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        };
        match self {
            Distribution::Uniform { low, high } => format!("uniform({low}, {high})"),
            Distribution::Normal {
                mean,
                sd,
                low,
                high,
            } => match (low, high) {
                (None, None) => format!("normal({mean}, {sd})"),
                _ => {
                    let l = low.map_or("-inf".to_string(), |l| l.to_string());
                    let h = high.map_or("+inf".to_string(), |h| h.to_string());
                    let open_l = if low.is_some() { "[" } else { "(" };
                    let open_h = if high.is_some() { "]" } else { ")" };
                    format!("normal({mean}, {sd}) truncated to {open_l}{l}, {h}{open_h}")
                }
            },
            Distribution::LogNormal { mu, sigma } => format!("lognormal({mu}, {sigma})"),
            Distribution::Triangular { low, mode, high } => {
                format!("triangular({low}, {mode}, {high})")
            }
            Distribution::Pert { low, mode, high } => format!("pert({low}, {mode}, {high})"),
            Distribution::Beta {
                alpha,
                beta,
                low,
                high,
            } => {
                if *low == 0.0 && *high == 1.0 {
                    format!("beta({alpha}, {beta})")
                } else {
                    format!("beta({alpha}, {beta}) on [{low}, {high}]")
                }
            }
            Distribution::Gamma { shape, scale } => format!("gamma({shape}, {scale})"),
            Distribution::Discrete { values, weights } => {
                format!("discrete([{}], [{}])", list(values), list(weights))
            }
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            Distribution::Uniform { .. } => "uniform",
            Distribution::Normal { .. } => "normal",
            Distribution::LogNormal { .. } => "lognormal",
            Distribution::Triangular { .. } => "triangular",
            Distribution::Pert { .. } => "pert",
            Distribution::Beta { .. } => "beta",
            Distribution::Gamma { .. } => "gamma",
            Distribution::Discrete { .. } => "discrete",
        }
    }
}

fn clamp_to(x: f64, low: f64, high: f64) -> f64 {
    // Not f64::clamp: that panics when low > high (unvalidated parameters).
    x.max(low).min(high)
}

/// `low + (high − low)·q` for q in [0, 1], kept inside [low, high].
fn scaled(low: f64, high: f64, q: f64) -> f64 {
    clamp_to(low + (high - low) * q, low, high)
}

fn beta_variance(a: f64, b: f64) -> f64 {
    let s = a + b;
    a * b / (s * s * (s + 1.0))
}

fn pert_shapes(low: f64, mode: f64, high: f64) -> (f64, f64) {
    let range = high - low;
    (
        1.0 + 4.0 * (mode - low) / range,
        1.0 + 4.0 * (high - mode) / range,
    )
}

fn triangular_quantile(low: f64, mode: f64, high: f64, u: f64) -> f64 {
    let range = high - low;
    if range.is_nan() || range <= 0.0 {
        return low;
    }
    let split = (mode - low) / range;
    // Each branch is kept on its own side of the mode, so the result is monotone across the
    // split even though the two formulas round differently.
    let x = if u < split {
        (low + (u * range * (mode - low)).sqrt()).min(mode)
    } else {
        (high - ((1.0 - u) * range * (high - mode)).sqrt()).max(mode)
    };
    clamp_to(x, low, high)
}

fn discrete_quantile(values: &[f64], weights: &[f64], u: f64) -> f64 {
    let n = values.len().min(weights.len());
    if n == 0 {
        return 0.0;
    }
    let (values, weights) = (&values[..n], &weights[..n]);
    let w = |x: f64| if x > 0.0 && x.is_finite() { x } else { 0.0 };
    if values.windows(2).all(|p| p[0] <= p[1]) {
        pick(values.iter().copied().zip(weights.iter().map(|x| w(*x))), u)
    } else {
        let mut pairs: Vec<(f64, f64)> = values
            .iter()
            .copied()
            .zip(weights.iter().map(|x| w(*x)))
            .collect();
        pairs.sort_by(|p, q| p.0.total_cmp(&q.0));
        pick(pairs.into_iter(), u)
    }
}

/// The first value (in the given, ascending, order) whose cumulative weight exceeds
/// `u` × total; values with weight 0 are never chosen.
fn pick(pairs: impl Iterator<Item = (f64, f64)> + Clone, u: f64) -> f64 {
    let total: f64 = pairs.clone().map(|p| p.1).sum();
    let target = u * total;
    let mut cumulative = 0.0;
    let mut last = None;
    for (v, w) in pairs {
        if w > 0.0 {
            cumulative += w;
            last = Some(v);
            if cumulative > target {
                return v;
            }
        }
    }
    // Rounding left `target` at the total (u just below 1): the largest value with weight.
    last.unwrap_or(0.0)
}

// ---------------------------------------------------------------------------------------------
// Normal distribution

/// The complementary error function, to ~1e-15 relative accuracy over the whole range.
///
/// statrs's `erfc` is only good to ~1e-10 relative (e.g. 0.5·erfc(1/√2) = 0.15865525394505725
/// against the true 0.15865525393145705), which would leak into truncated-normal moments and
/// masses, so we use: for |y| < 1.25 the all-positive series
/// erf(y) = 2/√π · y·e^{−y²} · Σ (2y²)ⁿ / (1·3·…·(2n+1)); beyond it the continued fraction
/// erfc(y) = e^{−y²}/√π · 1/(y + (1/2)/(y + 1/(y + (3/2)/(y + …)))) by modified Lentz.
fn erfc(y: f64) -> f64 {
    if y.is_nan() {
        return f64::NAN;
    }
    if y < 0.0 {
        return 2.0 - erfc(-y);
    }
    if y > 28.0 {
        return 0.0; // below the smallest subnormal
    }
    if y < 1.25 {
        let y2 = 2.0 * y * y;
        let (mut term, mut sum) = (1.0, 1.0);
        let mut n = 0u32;
        while term > sum * 1e-17 && n < 100 {
            term *= y2 / f64::from(2 * n + 3);
            sum += term;
            n += 1;
        }
        1.0 - 2.0 / PI.sqrt() * y * (-y * y).exp() * sum
    } else {
        const TINY: f64 = 1e-300;
        let (mut f, mut c, mut d) = (y, y, 0.0);
        for k in 1..400 {
            let a = f64::from(k) / 2.0;
            d = y + a * d;
            if d.abs() < TINY {
                d = TINY;
            }
            c = y + a / c;
            if c.abs() < TINY {
                c = TINY;
            }
            d = 1.0 / d;
            let delta = c * d;
            f *= delta;
            if (delta - 1.0).abs() < 1e-16 {
                break;
            }
        }
        (-y * y).exp() / PI.sqrt() / f
    }
}

/// Standard normal CDF Φ(x), accurate in the lower tail.
fn norm_cdf(x: f64) -> f64 {
    0.5 * erfc(-x / SQRT_2)
}

/// Standard normal survival function 1 − Φ(x), accurate in the upper tail.
fn norm_sf(x: f64) -> f64 {
    0.5 * erfc(x / SQRT_2)
}

fn norm_pdf(x: f64) -> f64 {
    if x.is_infinite() {
        0.0
    } else {
        (-0.5 * x * x).exp() / (2.0 * PI).sqrt()
    }
}

/// Φ⁻¹(p), finite for every p (p is clamped into [U_MIN, U_MAX]). The upper half is computed
/// from 1 − p, which is exact for p ≥ 0.5, so both tails keep full relative accuracy.
fn norm_ppf(p: f64) -> f64 {
    let p = if p.is_nan() {
        0.5
    } else {
        p.clamp(U_MIN, U_MAX)
    };
    if p <= 0.5 {
        -SQRT_2 * erfc_inv(2.0 * p)
    } else {
        SQRT_2 * erfc_inv(2.0 * (1.0 - p))
    }
}

/// The x with 1 − Φ(x) = q (upper-tail quantile), finite for every q.
fn norm_isf(q: f64) -> f64 {
    -norm_ppf(q)
}

/// Normal(mean, sd) restricted to [low, high]; absent bounds are infinite.
struct TruncNormal {
    mean: f64,
    sd: f64,
    low: f64,
    high: f64,
    /// Standardized bounds.
    a: f64,
    b: f64,
}

impl TruncNormal {
    fn new(mean: f64, sd: f64, low: Option<f64>, high: Option<f64>) -> Self {
        let low = low.unwrap_or(f64::NEG_INFINITY);
        let high = high.unwrap_or(f64::INFINITY);
        TruncNormal {
            mean,
            sd,
            low,
            high,
            a: (low - mean) / sd,
            b: (high - mean) / sd,
        }
    }

    /// Φ(b) − Φ(a), computed from whichever tail avoids cancellation.
    fn mass(&self) -> f64 {
        let (a, b) = (self.a, self.b);
        if a >= 0.0 {
            norm_sf(a) - norm_sf(b)
        } else if b <= 0.0 {
            norm_cdf(b) - norm_cdf(a)
        } else {
            1.0 - norm_cdf(a) - norm_sf(b)
        }
    }

    /// Φ⁻¹(Φ(a) + u·(Φ(b) − Φ(a))), in the upper tail by symmetry when a ≥ 0.
    fn quantile(&self, u: f64) -> f64 {
        let (a, b) = (self.a, self.b);
        let z = if a >= 0.0 {
            let (qa, qb) = (norm_sf(a), norm_sf(b));
            norm_isf(qb + (1.0 - u) * (qa - qb))
        } else {
            let (pa, pb) = (norm_cdf(a), norm_cdf(b));
            norm_ppf(pa + u * (pb - pa))
        };
        clamp_to(self.mean + self.sd * z, self.low, self.high)
    }

    fn mean_var(&self) -> (f64, f64) {
        let (a, b) = (self.a, self.b);
        if a == f64::NEG_INFINITY && b == f64::INFINITY {
            return (self.mean, self.sd * self.sd);
        }
        let z = self.mass();
        let (pa, pb) = (norm_pdf(a), norm_pdf(b));
        let apa = if a.is_finite() { a * pa } else { 0.0 };
        let bpb = if b.is_finite() { b * pb } else { 0.0 };
        let shift = (pa - pb) / z;
        let var = (1.0 + (apa - bpb) / z - shift * shift).max(0.0);
        (self.mean + self.sd * shift, self.sd * self.sd * var)
    }
}

// ---------------------------------------------------------------------------------------------
// Beta and gamma quantiles

/// Quantile of Gamma(shape, 1).
fn gamma_quantile(shape: f64, u: f64) -> f64 {
    if !(shape > 0.0 && shape.is_finite()) {
        return 0.0;
    }
    if shape == 1.0 {
        return -(-u).ln_1p();
    }
    let ln_g = ln_gamma(shape);
    let cdf = |x: f64| {
        if x <= 0.0 {
            0.0
        } else if x >= f64::MAX {
            1.0
        } else {
            checked_gamma_lr(shape, x).unwrap_or(f64::NAN)
        }
    };
    let pdf = |x: f64| ((shape - 1.0) * x.ln() - x - ln_g).exp();
    // Wilson–Hilferty, or the small-x limit F(x) ≈ x^k / Γ(k+1) when that goes negative.
    let c = 1.0 / (9.0 * shape);
    let wh = shape * (1.0 - c + norm_ppf(u) * c.sqrt()).powi(3);
    let guess = if wh > 0.0 {
        wh
    } else {
        ((u.ln() + ln_gamma(shape + 1.0)) / shape).exp()
    };
    invert_cdf(u, 0.0, f64::MAX, guess, cdf, pdf)
}

/// Midpoint of two non-negative doubles in the ordering of their bit patterns, which halves
/// the number of doubles between them (a bisection that spans [0, 1e300] in ≤ 64 steps).
fn bits_mid(lo: f64, hi: f64) -> f64 {
    f64::from_bits(lo.to_bits() / 2 + hi.to_bits() / 2 + (lo.to_bits() & hi.to_bits() & 1))
}

/// The smallest double `x` in (lo, hi] with `cdf(x) ≥ u`, for a non-decreasing `cdf` with
/// `cdf(lo) < u ≤ cdf(hi)` and `0 ≤ lo < hi`. Newton steps from `guess` while they stay inside
/// the shrinking bracket, bisection otherwise; the answer is pinned down to adjacent doubles, so
/// it is a deterministic, non-decreasing function of `u`. Always terminates.
fn invert_cdf(
    u: f64,
    mut lo: f64,
    mut hi: f64,
    guess: f64,
    cdf: impl Fn(f64) -> f64,
    pdf: impl Fn(f64) -> f64,
) -> f64 {
    let adjacent = |lo: f64, hi: f64| lo.next_up() >= hi;
    let mut x = if guess > lo && guess < hi {
        guess
    } else {
        bits_mid(lo, hi)
    };
    for _ in 0..60 {
        if adjacent(lo, hi) {
            return hi;
        }
        let f = cdf(x);
        if f.is_nan() {
            break;
        }
        if f < u {
            lo = x;
        } else {
            hi = x;
        }
        if adjacent(lo, hi) {
            return hi;
        }
        let mut next = x - (f - u) / pdf(x);
        if next == x {
            // Newton has converged to within rounding: step one double towards the root so
            // the far end of the bracket closes in too.
            next = if f < u { x.next_up() } else { x.next_down() };
        }
        if !(next > lo && next < hi) {
            next = bits_mid(lo, hi);
        }
        x = next;
    }
    while !adjacent(lo, hi) {
        let mid = bits_mid(lo, hi);
        // A NaN CDF (should not happen) counts as "below", keeping the loop finite.
        if cdf(mid) >= u {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    hi
}

#[cfg(test)]
mod tests {
    use super::*;
    use Distribution::*;

    fn normal(mean: f64, sd: f64) -> Distribution {
        Normal {
            mean,
            sd,
            low: None,
            high: None,
        }
    }

    fn truncated(mean: f64, sd: f64, low: Option<f64>, high: Option<f64>) -> Distribution {
        Normal {
            mean,
            sd,
            low,
            high,
        }
    }

    fn beta(alpha: f64, beta: f64) -> Distribution {
        Beta {
            alpha,
            beta,
            low: 0.0,
            high: 1.0,
        }
    }

    /// (distribution, mean and variance from textbook formulas written out here, independently
    /// of `mean()`/`variance()`).
    fn catalogue() -> Vec<(Distribution, f64, f64)> {
        let pi = std::f64::consts::PI;
        let lognormal = |mu: f64, s: f64| {
            let m = (mu + s * s / 2.0).exp();
            (
                (LogNormal { mu, sigma: s }),
                m,
                ((s * s).exp() - 1.0) * m * m,
            )
        };
        let tri = |a: f64, c: f64, b: f64| {
            (
                Triangular {
                    low: a,
                    mode: c,
                    high: b,
                },
                (a + b + c) / 3.0,
                (a * a + b * b + c * c - a * b - a * c - b * c) / 18.0,
            )
        };
        let pert = |a: f64, c: f64, b: f64| {
            let (al, be) = (1.0 + 4.0 * (c - a) / (b - a), 1.0 + 4.0 * (b - c) / (b - a));
            (
                Pert {
                    low: a,
                    mode: c,
                    high: b,
                },
                (a + 4.0 * c + b) / 6.0,
                al * be / ((al + be).powi(2) * (al + be + 1.0)) * (b - a).powi(2),
            )
        };
        let bt = |a: f64, b: f64, low: f64, high: f64| {
            (
                Beta {
                    alpha: a,
                    beta: b,
                    low,
                    high,
                },
                low + (high - low) * a / (a + b),
                (high - low).powi(2) * a * b / ((a + b).powi(2) * (a + b + 1.0)),
            )
        };
        let gamma = |k: f64, t: f64| (Gamma { shape: k, scale: t }, k * t, k * t * t);
        vec![
            (
                Uniform {
                    low: 2.0,
                    high: 5.0,
                },
                3.5,
                9.0 / 12.0,
            ),
            (
                Uniform {
                    low: -1.0,
                    high: 1.0,
                },
                0.0,
                4.0 / 12.0,
            ),
            (normal(10.0, 2.0), 10.0, 4.0),
            (normal(-3.0, 0.01), -3.0, 1e-4),
            // Half-normal: mean σ√(2/π), variance σ²(1 − 2/π).
            (
                truncated(0.0, 1.0, Some(0.0), None),
                (2.0 / pi).sqrt(),
                1.0 - 2.0 / pi,
            ),
            (
                truncated(5.0, 3.0, None, Some(5.0)),
                5.0 - 3.0 * (2.0 / pi).sqrt(),
                9.0 * (1.0 - 2.0 / pi),
            ),
            // Far upper tail, one-sided: reference values from mpmath.
            (
                truncated(0.0, 1.0, Some(5.0), None),
                5.186_503_967_125_842,
                0.032_696_434_617_112_23,
            ),
            (
                truncated(100.0, 10.0, Some(160.0), Some(165.0)),
                100.0 + 10.0 * 6.137_740_433_344_354,
                100.0 * 0.013_551_654_390_719_71,
            ),
            (
                truncated(0.0, 1.0, None, Some(-6.0)),
                -6.158_482_604_544_599,
                0.023_987_636_789_166_77,
            ),
            lognormal(0.0, 0.25),
            lognormal(2.0, 0.5),
            lognormal(-1.0, 1.0),
            tri(0.1, 0.2, 0.4),
            tri(0.0, 0.0, 1.0),
            tri(-5.0, 5.0, 5.0),
            pert(0.1, 0.2, 0.4),
            pert(0.0, 0.0, 10.0),
            pert(1.0, 3.0, 3.0),
            bt(2.0, 5.0, 0.0, 1.0),
            bt(0.5, 0.5, 0.0, 1.0),
            bt(0.3, 2.0, 10.0, 20.0),
            bt(1.0, 3.0, 0.0, 1.0),
            bt(4.0, 1.0, -1.0, 1.0),
            bt(1.0, 1.0, 0.0, 2.0),
            bt(200.0, 300.0, 0.0, 1.0),
            gamma(1.0, 2.0),
            gamma(2.0, 3.0),
            gamma(0.5, 1.0),
            gamma(9.0, 0.5),
            gamma(1000.0, 0.01),
            (
                Discrete {
                    values: vec![1.0, 2.0, 5.0],
                    weights: vec![1.0, 2.0, 1.0],
                },
                (1.0 + 4.0 + 5.0) / 4.0,
                (1.0 * 1.5f64.powi(2) + 2.0 * 0.5f64.powi(2) + 2.5f64.powi(2)) / 4.0,
            ),
            (
                Discrete {
                    values: vec![3.0, -1.0, 0.0],
                    weights: vec![0.5, 0.25, 0.0],
                },
                (1.5 - 0.25) / 0.75,
                (0.5 * (3.0f64 - 5.0 / 3.0).powi(2) + 0.25 * (1.0f64 + 5.0 / 3.0).powi(2)) / 0.75,
            ),
        ]
    }

    /// u on a fine midpoint grid plus points deep in both tails.
    fn probe_us() -> Vec<f64> {
        let mut us = vec![
            5e-324,
            f64::MIN_POSITIVE,
            1e-300,
            1e-200,
            1e-100,
            1e-50,
            1e-20,
            1e-16,
            1e-12,
            1e-8,
            1e-5,
        ];
        let m = 2000;
        us.extend((0..m).map(|k| (k as f64 + 0.5) / m as f64));
        us.extend([
            1.0 - 1e-5,
            1.0 - 1e-8,
            1.0 - 1e-12,
            1.0 - 1e-15,
            1.0 - 2e-16,
            0.999_999_999_999_999_9, // the largest double below 1
        ]);
        us
    }

    fn support(d: &Distribution) -> (f64, f64) {
        match d {
            Uniform { low, high }
            | Triangular { low, high, .. }
            | Pert { low, high, .. }
            | Beta { low, high, .. } => (*low, *high),
            Normal { low, high, .. } => (
                low.unwrap_or(f64::NEG_INFINITY),
                high.unwrap_or(f64::INFINITY),
            ),
            LogNormal { .. } => (f64::MIN_POSITIVE, f64::INFINITY),
            Gamma { .. } => (0.0, f64::INFINITY),
            Discrete { values, .. } => (
                values.iter().copied().fold(f64::INFINITY, f64::min),
                values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            ),
        }
    }

    #[test]
    fn exact_moments_match_textbook_formulas() {
        for (d, mean, var) in catalogue() {
            d.validate().unwrap();
            let sd = d.variance().sqrt();
            assert!(
                (d.mean() - mean).abs() <= 1e-6 * sd.max(1e-300) + 1e-12 * mean.abs(),
                "{}: mean() = {}, expected {mean}",
                d.describe(),
                d.mean()
            );
            if var > 0.0 {
                assert!(
                    (d.variance() - var).abs() <= 1e-6 * var,
                    "{}: variance() = {}, expected {var}",
                    d.describe(),
                    d.variance()
                );
            }
        }
    }

    /// Mean and variance of quantile(u) over a fine midpoint grid of u (a quadrature of
    /// E[X] = ∫ Q(u) du), against mean()/variance().
    #[test]
    fn quantile_moments_match() {
        let m = 100_000;
        for (d, _, _) in catalogue() {
            let (mut s, mut s2) = (0.0, 0.0);
            let center = d.mean();
            for k in 0..m {
                let x = d.quantile((k as f64 + 0.5) / m as f64) - center;
                s += x;
                s2 += x * x;
            }
            let mean = center + s / m as f64;
            let var = s2 / m as f64 - (s / m as f64).powi(2);
            let sd = d.variance().sqrt();
            // Heavy right tails converge slowest under the grid (lognormal σ = 1).
            let tol_var = match d {
                LogNormal { sigma, .. } if sigma >= 1.0 => 2e-2,
                _ => 2e-3,
            };
            assert!(
                (mean - d.mean()).abs() <= 1e-3 * sd,
                "{}: grid mean {mean} vs mean() {}",
                d.describe(),
                d.mean()
            );
            assert!(
                (var - d.variance()).abs() <= tol_var * d.variance(),
                "{}: grid variance {var} vs variance() {}",
                d.describe(),
                d.variance()
            );
        }
    }

    /// Same with pseudo-random uniforms (ChaCha8), within 5 standard errors.
    #[test]
    fn random_sample_moments_match() {
        use crate::montecarlo::{Sampler, SamplingMethod};
        let n = 20_000;
        let sampler = Sampler::new(SamplingMethod::Random, 7, n, 1).unwrap();
        let mut u = [0.0];
        for (d, _, _) in catalogue() {
            let (mut s, mut s2) = (0.0, 0.0);
            let center = d.mean();
            for i in 0..n {
                sampler.point(i, &mut u);
                let x = d.quantile(u[0]) - center;
                s += x;
                s2 += x * x;
            }
            let mean = center + s / n as f64;
            let var = s2 / n as f64 - (s / n as f64).powi(2);
            let se = (d.variance() / n as f64).sqrt();
            assert!(
                (mean - d.mean()).abs() <= 5.0 * se,
                "{}: sample mean {mean} vs {} (se {se})",
                d.describe(),
                d.mean()
            );
            // Loose: the sample variance's own spread depends on the kurtosis.
            assert!(
                (var / d.variance() - 1.0).abs() < 0.1,
                "{}: sample variance {var} vs {}",
                d.describe(),
                d.variance()
            );
        }
    }

    #[test]
    fn quantile_is_monotone_finite_and_in_support() {
        let us = probe_us();
        for (d, _, _) in catalogue() {
            let (lo, hi) = support(&d);
            let mut prev = f64::NEG_INFINITY;
            for &u in &us {
                let x = d.quantile(u);
                assert!(x.is_finite(), "{} at u={u}: {x}", d.describe());
                assert!(
                    x >= lo && x <= hi,
                    "{} at u={u}: {x} outside [{lo}, {hi}]",
                    d.describe()
                );
                assert!(
                    x >= prev,
                    "{}: not monotone at u={u}: {x} < {prev}",
                    d.describe()
                );
                prev = x;
            }
        }
    }

    /// Between adjacent doubles u < u⁺, the iteratively solved quantiles (beta, PERT, gamma) may
    /// be out of order by the CDF's rounding error (statrs's incomplete gamma has ~1e-11
    /// absolute noise at shape 1e4), never by more than ~1e-12 relative; the closed forms are
    /// exactly monotone.
    #[test]
    fn quantiles_are_monotone_between_adjacent_doubles() {
        let dists = [
            beta(2.0, 5.0),
            beta(0.3, 0.7),
            beta(50.0, 0.5),
            beta(1e3, 2e3),
            Gamma {
                shape: 0.2,
                scale: 1.0,
            },
            Gamma {
                shape: 3.0,
                scale: 1.0,
            },
            Gamma {
                shape: 1e4,
                scale: 1.0,
            },
            Pert {
                low: 0.0,
                mode: 1.0,
                high: 4.0,
            },
            normal(0.0, 1.0),
            truncated(0.0, 1.0, Some(1.0), Some(3.0)),
            LogNormal {
                mu: 0.0,
                sigma: 1.0,
            },
            Triangular {
                low: 0.0,
                mode: 1.0,
                high: 4.0,
            },
        ];
        for d in &dists {
            let exact = !matches!(d, Beta { .. } | Pert { .. } | Gamma { .. });
            let mut worst: f64 = 0.0;
            for k in 1..500 {
                let mut v = k as f64 / 500.0;
                let mut prev = d.quantile(v);
                for _ in 0..4 {
                    v = v.next_up();
                    let x = d.quantile(v);
                    if exact {
                        assert!(x >= prev, "{}: Q({v}) = {x} < {prev}", d.describe());
                    }
                    worst = worst.max((prev - x) / prev.abs());
                    prev = x;
                }
            }
            assert!(worst <= 1e-12, "{}: reversed by {worst:e}", d.describe());
        }
    }

    /// erfc and Φ against mpmath (30 digits).
    #[test]
    fn erfc_and_phi_are_accurate() {
        let erfc_cases = [
            (0.1, 0.887_537_083_981_715),
            (0.5, 0.479_500_122_186_953_5),
            (0.9, 0.20309178757716786),
            (1.0, 0.15729920705028513),
            (1.2, 0.089_686_021_770_364_64),
            (1.2499, 0.077_123_526_812_468_06),
            (1.25, 0.07709987174354177),
            (1.3, 0.065_992_055_059_347_55),
            (1.5, 0.033894853524689273),
            (2.0, 0.004_677_734_981_047_266),
            (3.0, 2.209_049_699_858_544e-5),
            (5.0, 1.537_459_794_428_035e-12),
            (10.0, 2.088_487_583_762_545e-45),
            (26.0, 5.663_192_408_856_143e-296),
            (-0.7, 1.6778011938374184),
            (-2.0, 1.9953222650189527),
        ];
        for (y, expected) in erfc_cases {
            assert_close(erfc(y), expected, 4e-15, &format!("erfc({y})"));
        }
        let phi_cases = [
            (-37.0, 5.725_571_222_524_577e-300),
            (-20.0, 2.7536241186062337e-89),
            (-7.0, 1.279812543885835e-12),
            (-1.0, 0.15865525393145705),
            (0.3, 0.617_911_422_188_952_7),
            (3.0, 0.998_650_101_968_369_9),
        ];
        for (x, expected) in phi_cases {
            // x/√2 is rounded, which costs up to ~x²·1e-16 relative in the far tail.
            assert_close(
                norm_cdf(x),
                expected,
                4e-15 + x * x * 2e-16,
                &format!("Φ({x})"),
            );
            assert_close(
                norm_sf(-x),
                expected,
                4e-15 + x * x * 2e-16,
                &format!("Q({})", -x),
            );
        }
        assert_eq!(erfc(0.0), 1.0);
        assert_eq!(erfc(f64::INFINITY), 0.0);
        assert_eq!(erfc(f64::NEG_INFINITY), 2.0);
        assert!(erfc(f64::NAN).is_nan());
    }

    fn assert_close(x: f64, expected: f64, rel: f64, what: &str) {
        assert!(
            (x - expected).abs() <= rel * expected.abs(),
            "{what}: got {x:e}, expected {expected:e}"
        );
    }

    /// Quantiles against high-precision values (mpmath, 40 digits).
    #[test]
    fn quantiles_match_reference_values() {
        let n = normal(0.0, 1.0);
        assert_close(
            n.quantile(0.975),
            1.959_963_984_540_054,
            1e-14,
            "Φ⁻¹(0.975)",
        );
        assert_close(
            n.quantile(1e-10),
            -6.361_340_902_404_056,
            1e-13,
            "Φ⁻¹(1e-10)",
        );
        assert_close(
            n.quantile(1e-300),
            -37.047_096_299_361_2,
            1e-12,
            "Φ⁻¹(1e-300)",
        );
        assert_close(
            n.quantile(0.999_999_999_999_999_9),
            8.209_536_151_601_387,
            1e-12,
            "Φ⁻¹(1 − 2⁻⁵³)",
        );
        assert_eq!(n.quantile(0.5), 0.0);
        let g = |k: f64, u: f64| {
            Gamma {
                shape: k,
                scale: 1.0,
            }
            .quantile(u)
        };
        assert_close(
            g(2.0, 0.5),
            1.678_346_990_016_660_7,
            1e-12,
            "gamma(2) median",
        );
        assert_close(
            g(0.5, 0.5),
            0.227_468_211_559_786_4,
            1e-12,
            "gamma(0.5) median",
        );
        assert_close(
            g(0.01, 0.5),
            4.465_535_018_910_355e-31,
            1e-9,
            "gamma(0.01) median",
        );
        assert_close(
            g(100.0, 0.01),
            78.215_983_053_795_83,
            1e-12,
            "gamma(100) 1%",
        );
        assert_close(
            g(3.0, 1e-100),
            8.434_326_653_017_492e-34,
            1e-10,
            "gamma(3) 1e-100",
        );
        assert_close(
            g(0.2, 0.999),
            4.101_964_324_738_665,
            1e-10,
            "gamma(0.2) 99.9%",
        );
        assert_close(g(1e4, 0.3), 9_947.319_262_019_584, 1e-11, "gamma(1e4) 30%");
        let b = |a: f64, bb: f64, u: f64| beta(a, bb).quantile(u);
        assert_close(
            b(2.0, 5.0, 0.5),
            0.264_449_983_295_659_96,
            1e-12,
            "beta(2,5) median",
        );
        assert_close(
            b(0.1, 3.0, 1e-20),
            2.366_901_351_944_965_5e-201,
            1e-8,
            "beta(0.1,3)",
        );
        // statrs's inv_beta_reg does not return for this one (statrs issue #435).
        assert_close(
            b(200.0, 2.0, 1e-60),
            0.489_705_036_360_054_5,
            1e-12,
            "beta(200,2)",
        );
        assert_close(
            b(1e3, 2e3, 0.3),
            0.328_793_027_740_521_6,
            1e-10,
            "beta(1e3,2e3)",
        );
        assert_close(
            b(3.0, 0.2, 0.01),
            0.434_502_769_533_744_7,
            1e-12,
            "beta(3,0.2)",
        );
        assert_close(
            b(5.0, 0.3, 1e-12),
            0.006_231_099_745_361_817,
            1e-10,
            "beta(5,0.3)",
        );
        assert_close(
            b(2.0, 2.0, 0.9),
            0.804_199_894_340_908_3,
            1e-12,
            "beta(2,2)",
        );
        // Beta(½, ½) is the arcsine law: Q(u) = sin²(πu/2).
        for k in 1..100 {
            let u = k as f64 / 100.0;
            let exact = (std::f64::consts::FRAC_PI_2 * u).sin().powi(2);
            assert_close(b(0.5, 0.5, u), exact, 1e-12, "beta(0.5,0.5)");
        }
        // Triangular and uniform: closed forms.
        let t = Triangular {
            low: 0.0,
            mode: 1.0,
            high: 4.0,
        };
        assert_close(t.quantile(0.25), 1.0, 1e-15, "triangular at the mode");
        assert_close(
            t.quantile(0.01),
            (0.01f64 * 4.0).sqrt(),
            1e-15,
            "triangular left",
        );
        assert_close(
            t.quantile(0.99),
            4.0 - (0.01f64 * 12.0).sqrt(),
            1e-14,
            "tri right",
        );
        assert_eq!(
            Uniform {
                low: 2.0,
                high: 6.0
            }
            .quantile(0.25),
            3.0
        );
    }

    #[test]
    fn truncated_normal_stays_in_bounds_with_the_right_mean() {
        let cases = [
            truncated(0.0, 1.0, Some(-1.0), Some(2.0)),
            truncated(10.0, 2.0, Some(0.0), None),
            truncated(10.0, 2.0, None, Some(9.0)),
            truncated(0.0, 1.0, Some(6.5), Some(7.0)), // mass ≈ 3.9e-11, far upper tail
            truncated(0.0, 1.0, Some(-7.0), Some(-6.9)), // far lower tail
            truncated(0.0, 1.0, Some(7.0), None),      // mass 1.3e-12: just accepted
            truncated(50.0, 1.0, Some(49.999), Some(50.001)), // narrow
        ];
        for d in &cases {
            d.validate().unwrap();
            let (lo, hi) = support(d);
            let m = 200_000;
            let mut s = 0.0;
            let mut prev = f64::NEG_INFINITY;
            for k in 0..m {
                let x = d.quantile((k as f64 + 0.5) / m as f64);
                assert!(x >= lo && x <= hi, "{}: {x} out of bounds", d.describe());
                assert!(x >= prev, "{}: not monotone", d.describe());
                prev = x;
                s += x;
            }
            for u in [5e-324, 1e-300, 1e-17, 1.0 - 1e-16, 0.999_999_999_999_999_9] {
                let x = d.quantile(u);
                assert!(x >= lo && x <= hi, "{}: {x} out of bounds", d.describe());
            }
            let sd = d.variance().sqrt();
            assert!(
                (s / m as f64 - d.mean()).abs() <= 1e-3 * sd,
                "{}: grid mean {} vs mean() {}",
                d.describe(),
                s / m as f64,
                d.mean()
            );
            assert!(d.mean() > lo && d.mean() < hi);
        }
        // Far tails are not squashed onto the bound: the quantiles spread over the interval.
        let d = truncated(0.0, 1.0, Some(6.5), Some(7.0));
        assert!(d.quantile(0.01) < 6.51 && d.quantile(0.99) > 6.8);
    }

    #[test]
    fn never_panics_and_stays_finite_at_extreme_u() {
        let extremes = [
            0.0,
            -0.0,
            5e-324,
            f64::MIN_POSITIVE,
            1e-300,
            1e-16,
            0.5,
            1.0 - 1e-16,
            0.999_999_999_999_999_9,
            1.0,
            -1.0,
            2.0,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
        ];
        let mut dists: Vec<Distribution> = catalogue().into_iter().map(|c| c.0).collect();
        dists.extend([
            beta(1e-3, 1e-3),
            beta(1e4, 1e4),
            beta(1e-3, 1e4),
            Gamma {
                shape: 1e-3,
                scale: 1.0,
            },
            Gamma {
                shape: 1e6,
                scale: 1e-6,
            },
            Gamma {
                shape: 0.5,
                scale: 1e300,
            },
            LogNormal {
                mu: 0.0,
                sigma: 20.0,
            },
            normal(0.0, 1e300),
            Uniform {
                low: 3.0,
                high: 3.0,
            },
            Triangular {
                low: 1.0,
                mode: 1.0,
                high: 1.0,
            },
            Pert {
                low: 2.0,
                mode: 2.0,
                high: 2.0,
            },
            Discrete {
                values: vec![7.0],
                weights: vec![1.0],
            },
        ]);
        // Invalid parameters: the result is meaningless but must still be finite.
        let invalid = [
            normal(0.0, -1.0),
            normal(0.0, 0.0),
            normal(f64::NAN, 1.0),
            truncated(0.0, 1.0, Some(40.0), None),
            truncated(0.0, 1.0, Some(2.0), Some(1.0)),
            beta(-1.0, 2.0),
            beta(0.0, 0.0),
            Gamma {
                shape: -1.0,
                scale: 1.0,
            },
            Gamma {
                shape: f64::INFINITY,
                scale: 1.0,
            },
            Uniform {
                low: 5.0,
                high: 1.0,
            },
            Uniform {
                low: -f64::MAX,
                high: f64::MAX,
            },
            Triangular {
                low: 0.0,
                mode: 5.0,
                high: 1.0,
            },
            Pert {
                low: 1.0,
                mode: 0.5,
                high: 0.0,
            },
            LogNormal {
                mu: 1e6,
                sigma: 1.0,
            },
            Discrete {
                values: vec![],
                weights: vec![],
            },
            Discrete {
                values: vec![1.0, 2.0],
                weights: vec![0.0, 0.0],
            },
            Discrete {
                values: vec![1.0, 2.0],
                weights: vec![f64::NAN, -1.0],
            },
            Discrete {
                values: vec![1.0, 2.0],
                weights: vec![1.0],
            },
        ];
        for d in dists.iter().chain(&invalid) {
            let mut prev = f64::NEG_INFINITY;
            for &u in &extremes {
                let x = d.quantile(u);
                assert!(x.is_finite(), "{}: quantile({u}) = {x}", d.describe());
                if d.validate().is_ok() && u.is_finite() && (0.0..=1.0).contains(&u) && u != 0.5 {
                    assert!(
                        x >= prev || u == -0.0,
                        "{}: not monotone at {u}",
                        d.describe()
                    );
                    prev = x;
                }
            }
        }
    }

    #[test]
    fn discrete_picks_only_weighted_values_in_proportion() {
        let d = Discrete {
            values: vec![30.0, 10.0, 20.0, 40.0],
            weights: vec![1.0, 0.0, 3.0, 0.0],
        };
        d.validate().unwrap();
        assert_eq!(d.quantile(1e-300), 20.0);
        assert_eq!(d.quantile(0.74), 20.0);
        assert_eq!(d.quantile(0.76), 30.0);
        assert_eq!(d.quantile(0.999_999_999_999_999_9), 30.0);
        let sorted = Discrete {
            values: vec![20.0, 30.0],
            weights: vec![3.0, 1.0],
        };
        for k in 1..100 {
            let u = k as f64 / 100.0;
            assert_eq!(d.quantile(u), sorted.quantile(u));
        }
    }

    #[test]
    fn validate_rejects_impossible_parameters_with_a_reason() {
        let bad: Vec<(Distribution, &str)> = vec![
            (normal(0.0, -1.0), "`sd` must be greater than 0"),
            (normal(0.0, 0.0), "`sd` must be greater than 0"),
            (normal(f64::NAN, 1.0), "`mean` must be a finite number"),
            (normal(0.0, f64::INFINITY), "`sd` must be a finite number"),
            (
                truncated(0.0, 1.0, Some(2.0), Some(1.0)),
                "greater than `high`",
            ),
            (
                truncated(0.0, 1.0, Some(1.0), Some(1.0)),
                "must be less than `high`",
            ),
            (
                truncated(0.0, 1.0, Some(8.0), None),
                "keep a probability of only",
            ),
            (
                truncated(0.0, 1.0, None, Some(-40.0)),
                "keep a probability of only",
            ),
            (
                truncated(0.0, 1.0, Some(3.0), Some(3.0 + 1e-13)),
                "keep a probability of only",
            ),
            (
                truncated(0.0, 1.0, Some(f64::NAN), None),
                "`low` must be a finite",
            ),
            (
                LogNormal {
                    mu: 0.0,
                    sigma: -0.5,
                },
                "`sigma` must be greater than 0",
            ),
            (
                LogNormal {
                    mu: 0.0,
                    sigma: 30.0,
                },
                "not a finite number",
            ),
            (
                Uniform {
                    low: 2.0,
                    high: 1.0,
                },
                "greater than `high`",
            ),
            (
                Uniform {
                    low: 0.0,
                    high: f64::INFINITY,
                },
                "`high` must be a finite number",
            ),
            (
                Uniform {
                    low: -f64::MAX,
                    high: f64::MAX,
                },
                "not a finite number",
            ),
            (
                Triangular {
                    low: 0.0,
                    mode: 2.0,
                    high: 1.0,
                },
                "`mode` (2) lies outside [low, high] = [0, 1]",
            ),
            (
                Triangular {
                    low: 1.0,
                    mode: 1.0,
                    high: 0.0,
                },
                "greater than `high`",
            ),
            (
                Pert {
                    low: 0.0,
                    mode: -0.1,
                    high: 1.0,
                },
                "`mode` (-0.1) lies outside",
            ),
            (beta(0.0, 1.0), "`alpha` must be greater than 0"),
            (beta(1.0, -2.0), "`beta` must be greater than 0"),
            (beta(2e4, 1.0), "above the supported maximum"),
            (
                Beta {
                    alpha: 2.0,
                    beta: 2.0,
                    low: 1.0,
                    high: 1.0,
                },
                "must be less than `high`",
            ),
            (
                Beta {
                    alpha: 2.0,
                    beta: 2.0,
                    low: 3.0,
                    high: 1.0,
                },
                "greater than `high`",
            ),
            (
                Gamma {
                    shape: 0.0,
                    scale: 1.0,
                },
                "`shape` must be greater than 0",
            ),
            (
                Gamma {
                    shape: 2.0,
                    scale: -1.0,
                },
                "`scale` must be greater than 0",
            ),
            (
                Gamma {
                    shape: 1e7,
                    scale: 1.0,
                },
                "above the supported maximum",
            ),
            (
                Discrete {
                    values: vec![],
                    weights: vec![],
                },
                "`values` is empty",
            ),
            (
                Discrete {
                    values: vec![1.0, 2.0],
                    weights: vec![1.0],
                },
                "2 values but 1 weights",
            ),
            (
                Discrete {
                    values: vec![1.0, 2.0],
                    weights: vec![1.0, -1.0],
                },
                "weight 2 must be a finite number ≥ 0",
            ),
            (
                Discrete {
                    values: vec![1.0, 2.0],
                    weights: vec![0.0, 0.0],
                },
                "all weights are 0",
            ),
            (
                Discrete {
                    values: vec![1.0, f64::NAN],
                    weights: vec![1.0, 1.0],
                },
                "value 2 must be a finite number",
            ),
            (
                Discrete {
                    values: vec![1.0, 2.0],
                    weights: vec![f64::MAX, f64::MAX],
                },
                "the weights sum to inf",
            ),
        ];
        for (d, expected) in bad {
            match d.validate() {
                Ok(()) => panic!("{} should be rejected", d.describe()),
                Err(msg) => assert!(
                    msg.contains(expected),
                    "{}: message {msg:?} should contain {expected:?}",
                    d.describe()
                ),
            }
        }
        // Degenerate but allowed: a constant.
        for d in [
            Uniform {
                low: 3.0,
                high: 3.0,
            },
            Triangular {
                low: 3.0,
                mode: 3.0,
                high: 3.0,
            },
            Pert {
                low: 3.0,
                mode: 3.0,
                high: 3.0,
            },
        ] {
            d.validate().unwrap();
            assert_eq!(d.quantile(0.3), 3.0);
            assert_eq!((d.mean(), d.variance()), (3.0, 0.0));
        }
    }

    #[test]
    fn describe_is_short_and_readable() {
        let t = Triangular {
            low: 0.1,
            mode: 0.2,
            high: 0.4,
        };
        assert_eq!(t.describe(), "triangular(0.1, 0.2, 0.4)");
        assert_eq!(normal(10.0, 2.0).describe(), "normal(10, 2)");
        assert_eq!(
            truncated(10.0, 2.0, Some(0.0), None).describe(),
            "normal(10, 2) truncated to [0, +inf)"
        );
        assert_eq!(beta(2.0, 5.0).describe(), "beta(2, 5)");
        assert_eq!(
            Discrete {
                values: vec![1.0, 2.5],
                weights: vec![3.0, 1.0]
            }
            .describe(),
            "discrete([1, 2.5], [3, 1])"
        );
    }
}
