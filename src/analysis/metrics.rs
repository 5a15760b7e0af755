//! Scalar metrics of one run's time series.
//!
//! Every function takes the saved times `t[0..n]` and one variable's values `v[0..n]` at those
//! times (a column of [`Results`](crate::simulate::Results)).
//!
//! # Conventions
//!
//! - **Validation.** `t` and `v` must have the same, non-zero length; `t` must be finite and
//!   strictly increasing and `v` finite (the simulator guarantees both). Otherwise the functions
//!   return `Err` with a message saying what is wrong.
//! - **Tolerance.** Times given by the caller (`at`, `from`, `to`) are compared with a tolerance
//!   `tol = 1e-9 × step`, where `step` is the longest interval between saved times (for a single
//!   saved time, `max(1, |t0|)`). A time within `tol` of a saved time is taken to *be* that saved
//!   time, so `2030.0` matches a saved `2029.9999999999998`, and a time within `tol` outside the
//!   horizon `[t0, tn]` is taken to be its end.
//! - **Windows.** A window `[from, to]` must satisfy `from ≤ to` and lie inside the horizon
//!   `[t0, tn]` (with the tolerance); otherwise `Err`, naming the horizon.
//! - **Levels and rates.** A stock (a level, e.g. people) is summed over the saved times of a
//!   window by [`window_sum`]; a rate (a flow per year, e.g. GBP/year) is integrated over time
//!   by [`integral`] and [`discounted_integral`], which give totals (GBP).
//! - **Discounting** is annual compounding, time in years: a flow at time `s` is worth
//!   `(1 + rate)^-(s − base)` of its value at `base` (see [`discount_factor`]).
//! - **Prepared metrics.** For the same metric on many runs that save the same times (a Monte
//!   Carlo), [`ValueAt`], [`WindowSum`], [`Trapezoid`] and [`Accumulation`] do the work that
//!   depends only on the times once, then give the plain functions' results, bit for bit, from
//!   each run's [`Values`].

/// The relative time tolerance, as a fraction of the longest save interval.
const REL_TOL: f64 = 1e-9;

/// Saved times checked (non-empty, finite, strictly increasing), with their tolerance: the part
/// of a metric's validation and windowing that does not depend on the values, shared by the
/// plain functions and the [prepared metrics](ValueAt).
#[derive(Debug, Clone, Copy)]
struct Grid<'a> {
    t: &'a [f64],
    tol: f64,
}

impl<'a> Grid<'a> {
    fn new(t: &'a [f64]) -> Result<Self, String> {
        if t.is_empty() {
            return Err("the series has no saved times".to_string());
        }
        if let Some(bad) = t.iter().find(|x| !x.is_finite()) {
            return Err(format!("saved time {bad} is not a finite number"));
        }
        if let Some(w) = t.windows(2).find(|w| w[1] <= w[0]) {
            return Err(format!(
                "saved times must increase, but {} follows {}",
                w[1], w[0]
            ));
        }
        let step = t
            .windows(2)
            .map(|w| w[1] - w[0])
            .fold(0.0, f64::max)
            .max(if t.len() == 1 {
                t[0].abs().max(1.0)
            } else {
                0.0
            });
        Ok(Grid {
            t,
            tol: REL_TOL * step,
        })
    }

    fn first(&self) -> f64 {
        self.t[0]
    }

    fn last(&self) -> f64 {
        self.t[self.t.len() - 1]
    }

    fn horizon(&self) -> String {
        format!("[{}, {}]", self.first(), self.last())
    }

    /// `x` checked to lie in the horizon (with tolerance) and snapped to a saved time within
    /// the tolerance.
    fn time(&self, x: f64, what: &str) -> Result<f64, String> {
        if !x.is_finite() {
            return Err(format!("the {what} ({x}) is not a finite time"));
        }
        if x < self.first() - self.tol || x > self.last() + self.tol {
            return Err(format!(
                "the {what} ({x}) is outside the saved times {}",
                self.horizon()
            ));
        }
        // Nearest saved times on either side.
        let i = self.t.partition_point(|&s| s < x);
        for j in [i.wrapping_sub(1), i] {
            if let Some(&s) = self.t.get(j)
                && (s - x).abs() <= self.tol
            {
                return Ok(s);
            }
        }
        Ok(x)
    }

    /// `[from, to]` checked as a window.
    fn window(&self, from: f64, to: f64) -> Result<(f64, f64), String> {
        if from > to {
            return Err(format!("the window starts ({from}) after it ends ({to})"));
        }
        let from = self.time(from, "window start")?;
        let to = self.time(to, "window end")?;
        Ok((from, to.max(from)))
    }

    /// The indices of the saved times in the window `[from, to]` (checked, with the tolerance);
    /// Err if there are none (see [`window_sum`]).
    fn saved_in(&self, from: f64, to: f64) -> Result<std::ops::Range<usize>, String> {
        let (from, to) = self.window(from, to)?;
        let lo = self.t.partition_point(|&x| x < from);
        let hi = self.t.partition_point(|&x| x <= to);
        if lo >= hi {
            return Err(format!(
                "no saved time falls in the window [{from}, {to}] (saved times run over {})",
                self.horizon()
            ));
        }
        Ok(lo..hi)
    }

    /// Where `x`, which must lie in `[t0, tn]`, falls among the saved times.
    fn locate(&self, x: f64) -> Interp {
        let t = self.t;
        // The last saved time ≤ x.
        let i = t.partition_point(|&s| s <= x).saturating_sub(1);
        if t[i] == x || i + 1 == t.len() {
            return Interp::Saved(i);
        }
        Interp::Between {
            i,
            frac: (x - t[i]) / (t[i + 1] - t[i]),
        }
    }

    /// The points of the trapezoid rule over `[from, to]` (already checked and snapped): the
    /// window ends (interpolated) and the saved times strictly between them.
    fn span(&self, from: f64, to: f64) -> Span {
        let lo = self.t.partition_point(|&s| s <= from);
        let hi = self.t.partition_point(|&s| s < to).max(lo);
        Span {
            from,
            to,
            start: self.locate(from),
            inner: lo..hi,
            end: (to > from).then(|| self.locate(to)),
        }
    }
}

/// Linear interpolation at a time located among the saved times ([`Grid::locate`]): what it
/// needs of the times, so that it can be applied to many runs' values.
#[derive(Debug, Clone, Copy)]
enum Interp {
    /// At saved time `i`: its value, exactly.
    Saved(usize),
    /// Between saved times `i` and `i + 1`, at `frac` of the way.
    Between { i: usize, frac: f64 },
}

impl Interp {
    fn of(self, v: &[f64]) -> f64 {
        match self {
            Interp::Saved(i) => v[i],
            Interp::Between { i, frac } => v[i] + frac * (v[i + 1] - v[i]),
        }
    }
}

/// The points of the trapezoid rule over a window ([`Grid::span`]).
#[derive(Debug, Clone)]
struct Span {
    from: f64,
    to: f64,
    /// The value at `from`.
    start: Interp,
    /// The saved times strictly between `from` and `to`.
    inner: std::ops::Range<usize>,
    /// The value at `to`; None when the window is a single time.
    end: Option<Interp>,
}

impl Span {
    /// The points' times, given the saved times.
    fn times<'t>(&self, t: &'t [f64]) -> impl Iterator<Item = f64> + use<'t> {
        let to = self.to;
        std::iter::once(self.from)
            .chain(t[self.inner.clone()].iter().copied())
            .chain(self.end.map(|_| to))
    }

    /// Where each point falls among the saved times.
    fn locations(&self) -> impl Iterator<Item = Interp> + use<> {
        std::iter::once(self.start)
            .chain(self.inner.clone().map(Interp::Saved))
            .chain(self.end)
    }
}

/// The times and values must match in length.
fn check_lengths(t: &[f64], v: &[f64]) -> Result<(), String> {
    if t.len() != v.len() {
        return Err(format!(
            "the times and values differ in length ({} times, {} values)",
            t.len(),
            v.len()
        ));
    }
    Ok(())
}

/// Every value must be finite (checked after the lengths).
fn check_finite(t: &[f64], v: &[f64]) -> Result<(), String> {
    // Every value tested, without an early exit: the compiler does several at once, and the
    // values nearly always are finite.
    if v.iter()
        .fold(true, |finite, x| finite & (x.abs() < f64::INFINITY))
    {
        return Ok(());
    }
    if let Some(i) = v.iter().position(|x| !x.is_finite()) {
        return Err(format!("the value at time {} is {}", t[i], v[i]));
    }
    Ok(())
}

/// A validated time series.
struct Series<'a> {
    grid: Grid<'a>,
    v: &'a [f64],
}

impl<'a> Series<'a> {
    fn new(t: &'a [f64], v: &'a [f64]) -> Result<Self, String> {
        check_lengths(t, v)?;
        let grid = Grid::new(t)?;
        check_finite(t, v)?;
        Ok(Series { grid, v })
    }

    /// Linear interpolation at `x`, which must lie in `[t0, tn]`; exact at saved times.
    fn interp(&self, x: f64) -> f64 {
        self.grid.locate(x).of(self.v)
    }

    /// The points of the trapezoid rule over `[from, to]` (already checked and snapped): the
    /// window ends (interpolated) and the saved times strictly between them.
    fn points(&self, from: f64, to: f64) -> impl Iterator<Item = (f64, f64)> + '_ {
        let span = self.grid.span(from, to);
        let values = span.locations().map(|p| p.of(self.v));
        span.times(self.grid.t).zip(values)
    }

    /// `∫ v(s)·weight(s) ds` over `[from, to]` by the trapezoid rule.
    fn trapezoid(&self, from: f64, to: f64, weight: impl Fn(f64) -> f64) -> f64 {
        let mut sum = 0.0;
        let mut prev: Option<(f64, f64)> = None;
        for (s, v) in self.points(from, to) {
            let f = v * weight(s);
            if let Some((a, fa)) = prev {
                sum += (s - a) * (fa + f) / 2.0;
            }
            prev = Some((s, f));
        }
        sum
    }
}

/// A discount rate must be finite and greater than −1, and the base time finite.
pub(crate) fn check_rate(rate: f64, base: f64) -> Result<(), String> {
    if !(rate.is_finite() && rate > -1.0) {
        return Err(format!(
            "the discount rate must be a number greater than −1 (−100 %), not {rate}"
        ));
    }
    if !base.is_finite() {
        return Err(format!("the discounting base time ({base}) is not finite"));
    }
    Ok(())
}

/// Value at time `at`, linearly interpolated between saved times; Err if outside [t0, tn]
/// (message names the range).
///
/// At a saved time (within the tolerance, see the [module documentation](self)) the saved
/// value is returned exactly.
pub fn value_at(t: &[f64], v: &[f64], at: f64) -> Result<f64, String> {
    let s = Series::new(t, v)?;
    let at = s.grid.time(at, "time")?;
    Ok(s.interp(at))
}

/// Sum of the saved values with from ≤ t ≤ to (inclusive, with a 1e-9·step tolerance) — for
/// stocks/levels saved once per period.
///
/// E.g. with a stock saved yearly, `window_sum(t, v, 2030.0, 2034.0)` adds the five values saved
/// at 2030, 2031, …, 2034. `step` is the longest save interval (see the
/// [module documentation](self)). Err if `from > to`, if the window is not inside the horizon,
/// or if no saved time falls in the window (an empty sum is almost always a mistaken window).
pub fn window_sum(t: &[f64], v: &[f64], from: f64, to: f64) -> Result<f64, String> {
    let s = Series::new(t, v)?;
    Ok(v[s.grid.saved_in(from, to)?].iter().sum())
}

/// ∫_from^to v dt by the trapezoid rule over the saved points, with the window ends linearly
/// interpolated — for rates (per-year flows) it gives totals.
///
/// Exact when `v` is linear between saved times. `from == to` gives 0. Err if `from > to` or
/// the window is not inside the horizon.
pub fn integral(t: &[f64], v: &[f64], from: f64, to: f64) -> Result<f64, String> {
    let s = Series::new(t, v)?;
    let (from, to) = s.grid.window(from, to)?;
    Ok(s.trapezoid(from, to, |_| 1.0))
}

/// Discount factor (1 + rate)^-(time - base) (annual compounding; time measured in years).
///
/// 1 at `time == base`; greater than 1 before `base`. Computed as
/// `exp(−(time − base)·ln(1 + rate))`. No validation: a `rate` of −1 or less gives a
/// meaningless (infinite or NaN) factor.
pub fn discount_factor(rate: f64, time: f64, base: f64) -> f64 {
    (-(time - base) * rate.ln_1p()).exp()
}

/// ∫_from^to v(t)·(1+rate)^-(t-base) dt by the trapezoid rule (NPV of a rate, e.g. GBP/year).
///
/// The trapezoid rule is applied to the product `v·discount_factor` at the window ends
/// (interpolated values) and the saved times between them. Its error is about
/// `step²/12 · (f′(to) − f′(from))` for `f = v·discount_factor`: for a constant 100/yr over 10
/// years at 3.5 % it overestimates by 0.083 (of 846.13) with yearly saves and by 0.00058 with
/// monthly saves. Err if `from > to`, the window is not inside the horizon, `rate ≤ −1` or a
/// value is not finite.
pub fn discounted_integral(
    t: &[f64],
    v: &[f64],
    from: f64,
    to: f64,
    rate: f64,
    base: f64,
) -> Result<f64, String> {
    check_rate(rate, base)?;
    let s = Series::new(t, v)?;
    let (from, to) = s.grid.window(from, to)?;
    Ok(s.trapezoid(from, to, |x| discount_factor(rate, x, base)))
}

/// ROI = (discounted savings − discounted cost) / discounted cost. NaN-free: if cost == 0,
/// return +inf when savings > 0, −inf when < 0, 0 when both 0 — document.
///
/// So an ROI of 0.5 means every pound spent returned £1.50 in savings (in present value), and
/// −1 means no savings at all. With zero cost the ratio is undefined; the convention above
/// keeps the sign of the net gain (infinite gain for something saved at no cost, nothing
/// gained for nothing spent). Both arguments are normally non-negative; a negative cost gives
/// the plain formula's value. NaN is returned only if an argument is NaN.
pub fn roi(discounted_savings: f64, discounted_cost: f64) -> f64 {
    if discounted_cost == 0.0 {
        if discounted_savings > 0.0 {
            f64::INFINITY
        } else if discounted_savings < 0.0 {
            f64::NEG_INFINITY
        } else if discounted_savings == 0.0 {
            0.0
        } else {
            f64::NAN
        }
    } else {
        (discounted_savings - discounted_cost) / discounted_cost
    }
}

/// The first time at which the cumulative discounted net saving
/// `C(τ) = ∫_from^τ net(s)·(1+rate)^-(s-base) ds` becomes ≥ 0 after having been negative.
///
/// `net` is a rate (e.g. savings − costs in GBP/year). The rule, exactly:
///
/// 1. `C` is accumulated by the trapezoid rule (as in [`discounted_integral`]) at `from` and at
///    every saved time after it, up to the last saved time `tn`; `C(from) = 0`.
/// 2. If `C` is ≥ 0 at every one of those points — net saving never falls behind, i.e. there is
///    no investment phase — the answer is `Some(from)`. (Also when `from` is the last saved
///    time.)
/// 3. Otherwise it is the first crossing: at the first saved time `b` with `C(b) ≥ 0` that
///    follows a point with `C < 0`, the previous point `a` has `C(a) < 0`, and the answer is
///    `Some(a + (b − a)·(−C(a)) / (C(b) − C(a)))` — linear interpolation of `C` within the save
///    interval, so it can fall between saved times (e.g. 2029.4).
/// 4. If `C` goes negative and never comes back to ≥ 0 by `tn`: `None`.
///
/// The zero at `from` itself never counts as break-even. A run that is ahead at first and then
/// falls behind (C > 0, then < 0) breaks even only when it recovers, by rule 3.
///
/// Err if `from` is outside the horizon, `rate ≤ −1`, or the series is invalid.
pub fn break_even(
    t: &[f64],
    net: &[f64],
    from: f64,
    rate: f64,
    base: f64,
) -> Result<Option<f64>, String> {
    check_rate(rate, base)?;
    let s = Series::new(t, net)?;
    let from = s.grid.time(from, "start of the accumulation")?;
    let df = |x| discount_factor(rate, x, base);
    let mut points = s.points(from, s.grid.last());
    let Some((a0, v0)) = points.next() else {
        return Ok(Some(from));
    };
    let (mut a, mut fa, mut cum) = (a0, v0 * df(a0), 0.0);
    let mut behind = false;
    for (b, v) in points {
        let fb = v * df(b);
        let next = cum + (b - a) * (fa + fb) / 2.0;
        if next < 0.0 {
            behind = true;
        } else if behind {
            // cum < 0 ≤ next: the crossing lies in [a, b].
            return Ok(Some(a + (b - a) * (-cum) / (next - cum)));
        }
        (a, fa, cum) = (b, fb, next);
    }
    Ok(if behind { None } else { Some(from) })
}

/// The cumulative discounted value `C(t_k) = ∫_from^t_k v(s)·(1+rate)^-(s-base) ds` at every
/// saved time `t_k` (0 at and before `from`), accumulated by the trapezoid rule exactly as
/// [`break_even`] does, so `C` turns from negative to ≥ 0 where that function says.
///
/// Err if `from` is outside the horizon, `rate ≤ −1`, or the series is invalid.
pub fn cumulative_discounted(
    t: &[f64],
    v: &[f64],
    from: f64,
    rate: f64,
    base: f64,
) -> Result<Vec<f64>, String> {
    check_rate(rate, base)?;
    let s = Series::new(t, v)?;
    let from = s.grid.time(from, "start of the accumulation")?;
    let df = |x| discount_factor(rate, x, base);
    let mut out = vec![0.0; t.len()];
    // The trapezoid points after `from` are exactly the saved times after it.
    let first = t.partition_point(|&x| x <= from);
    let mut points = s.points(from, s.grid.last());
    let Some((mut a, va)) = points.next() else {
        return Ok(out);
    };
    let (mut fa, mut cum) = (va * df(a), 0.0);
    for (slot, (b, vb)) in out[first..].iter_mut().zip(points) {
        let fb = vb * df(b);
        cum += (b - a) * (fa + fb) / 2.0;
        *slot = cum;
        (a, fa) = (b, fb);
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Prepared metrics
// ---------------------------------------------------------------------------------------------
//
// A Monte Carlo evaluates the same metrics on many runs that share their saved times. What a
// metric needs of the times and of its own parameters (the checks of the grid and the window,
// where its ends fall, the discount factor at each point of the trapezoid rule) is the same
// for every run: the prepared metrics work it out once, and then cost one pass over a run's
// values. Each gives exactly the plain function's result, bit for bit: the same points, the
// same factors (computed by the same expressions) and the same operations in the same order.
// An error of the plain function that does not depend on the values is an error of the
// constructor; one that does (a value that is not finite) is an error of [`Values::new`].

/// One run's values at the saved times, checked as the plain functions check them: one per
/// saved time, all finite. The prepared metrics take them.
#[derive(Debug, Clone, Copy)]
pub struct Values<'a>(&'a [f64]);

impl<'a> Values<'a> {
    /// `v` checked against the saved times `t` (those the metrics were prepared for).
    pub fn new(t: &[f64], v: &'a [f64]) -> Result<Self, String> {
        check_lengths(t, v)?;
        check_finite(t, v)?;
        Ok(Values(v))
    }
}

/// [`value_at`] prepared for one set of saved times.
#[derive(Debug, Clone)]
pub struct ValueAt(Interp);

impl ValueAt {
    /// Err where [`value_at`] would be, whatever the values.
    pub fn new(t: &[f64], at: f64) -> Result<Self, String> {
        let grid = Grid::new(t)?;
        Ok(ValueAt(grid.locate(grid.time(at, "time")?)))
    }

    /// [`value_at`] of the values.
    pub fn eval(&self, v: Values) -> f64 {
        self.0.of(v.0)
    }
}

/// [`window_sum`] prepared for one set of saved times.
#[derive(Debug, Clone)]
pub struct WindowSum(std::ops::Range<usize>);

impl WindowSum {
    /// Err where [`window_sum`] would be, whatever the values.
    pub fn new(t: &[f64], from: f64, to: f64) -> Result<Self, String> {
        Ok(WindowSum(Grid::new(t)?.saved_in(from, to)?))
    }

    /// [`window_sum`] of the values.
    pub fn eval(&self, v: Values) -> f64 {
        v.0[self.0.clone()].iter().sum()
    }
}

/// [`integral`] or [`discounted_integral`] prepared for one set of saved times: the trapezoid
/// rule's points, the weight (discount factor) at each and the intervals between them.
#[derive(Debug, Clone)]
pub struct Trapezoid {
    /// Where each point falls among the saved times.
    points: Vec<Interp>,
    /// The points' times.
    times: Vec<f64>,
    /// The weight at each point.
    weights: Vec<f64>,
    /// The length of each interval between consecutive points (`b − a`, as the plain functions
    /// compute it).
    widths: Vec<f64>,
}

impl Trapezoid {
    /// Err where [`integral`] would be, whatever the values.
    pub fn integral(t: &[f64], from: f64, to: f64) -> Result<Self, String> {
        let grid = Grid::new(t)?;
        let (from, to) = grid.window(from, to)?;
        Ok(Self::over(grid.span(from, to), t, |_| 1.0))
    }

    /// Err where [`discounted_integral`] would be, whatever the values.
    pub fn discounted_integral(
        t: &[f64],
        from: f64,
        to: f64,
        rate: f64,
        base: f64,
    ) -> Result<Self, String> {
        check_rate(rate, base)?;
        let grid = Grid::new(t)?;
        let (from, to) = grid.window(from, to)?;
        Ok(Self::over(grid.span(from, to), t, |x| {
            discount_factor(rate, x, base)
        }))
    }

    fn over(span: Span, t: &[f64], weight: impl Fn(f64) -> f64) -> Self {
        let times: Vec<f64> = span.times(t).collect();
        Trapezoid {
            weights: times.iter().map(|&s| weight(s)).collect(),
            widths: times.windows(2).map(|w| w[1] - w[0]).collect(),
            times,
            points: span.locations().collect(),
        }
    }

    /// The integral from the first point to each of the others, in order: the sums of
    /// `Series::trapezoid` (and of the accumulations), with the same operations.
    fn running<'s>(&'s self, v: Values<'s>) -> impl Iterator<Item = f64> + 's {
        let v = v.0;
        // There is always a first point: the window's start.
        let mut fa = self.points[0].of(v) * self.weights[0];
        let mut sum = 0.0;
        let rest = self.points[1..].iter().zip(&self.weights[1..]);
        rest.zip(&self.widths).map(move |((p, w), width)| {
            let fb = p.of(v) * w;
            sum += width * (fa + fb) / 2.0;
            fa = fb;
            sum
        })
    }

    /// [`integral`] or [`discounted_integral`] of the values.
    pub fn eval(&self, v: Values) -> f64 {
        self.running(v).last().unwrap_or(0.0)
    }
}

/// [`cumulative_discounted`] and [`break_even`] prepared for one set of saved times: the
/// accumulation from `from` to the last saved time.
#[derive(Debug, Clone)]
pub struct Accumulation {
    /// The first saved time after `from`.
    first: usize,
    /// The number of saved times.
    n: usize,
    trapezoid: Trapezoid,
}

impl Accumulation {
    /// Err where [`cumulative_discounted`] and [`break_even`] would be, whatever the values.
    pub fn new(t: &[f64], from: f64, rate: f64, base: f64) -> Result<Self, String> {
        check_rate(rate, base)?;
        let grid = Grid::new(t)?;
        let from = grid.time(from, "start of the accumulation")?;
        Ok(Accumulation {
            first: t.partition_point(|&x| x <= from),
            n: t.len(),
            trapezoid: Trapezoid::over(grid.span(from, grid.last()), t, |x| {
                discount_factor(rate, x, base)
            }),
        })
    }

    /// [`cumulative_discounted`] of the values, into `out` (replacing what it held).
    pub fn cumulative(&self, v: Values, out: &mut Vec<f64>) {
        out.clear();
        out.resize(self.n, 0.0);
        // The trapezoid points after `from` are exactly the saved times after it.
        for (slot, c) in out[self.first..].iter_mut().zip(self.trapezoid.running(v)) {
            *slot = c;
        }
    }

    /// [`break_even`] of the values.
    pub fn break_even(&self, v: Values) -> Option<f64> {
        self.crossing(self.trapezoid.running(v))
    }

    /// [`break_even`] of the values whose [`Accumulation::cumulative`] is `cumulative`: the
    /// same result without accumulating again.
    pub fn break_even_of(&self, cumulative: &[f64]) -> Option<f64> {
        self.crossing(cumulative[self.first..].iter().copied())
    }

    /// The break-even rule of [`break_even`] applied to the accumulated values at the points
    /// after `from`.
    fn crossing(&self, accumulated: impl Iterator<Item = f64>) -> Option<f64> {
        let times = &self.trapezoid.times;
        let mut cum = 0.0;
        let mut behind = false;
        for ((&a, &width), next) in times.iter().zip(&self.trapezoid.widths).zip(accumulated) {
            if next < 0.0 {
                behind = true;
            } else if behind {
                // cum < 0 ≤ next: the crossing lies in [a, a + width].
                return Some(a + width * (-cum) / (next - cum));
            }
            cum = next;
        }
        if behind { None } else { Some(times[0]) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::test_rng::Rng;

    #[test]
    fn cumulative_discounted_matches_the_npv_and_the_break_even() {
        // Invest 100/yr for 3 years, then save 60/yr: undiscounted, C(t) = -100 t for t ≤ 3,
        // then -300 + 60 (t - 3), zero at t = 8.
        let t = grid(0.0, 12.0, 0.25);
        let v: Vec<f64> = t
            .iter()
            .map(|&x| if x < 3.0 { -100.0 } else { 60.0 })
            .collect();
        let c = cumulative_discounted(&t, &v, 0.0, 0.035, 0.0).unwrap();
        assert_eq!(c[0], 0.0);
        for (k, &tk) in t.iter().enumerate() {
            let npv = discounted_integral(&t, &v, 0.0, tk, 0.035, 0.0).unwrap();
            close(c[k], npv, 1e-9 * npv.abs().max(1.0));
        }
        let be = break_even(&t, &v, 0.0, 0.035, 0.0).unwrap().unwrap();
        let k = t.iter().position(|&x| x >= be).unwrap();
        assert!(c[k - 1] < 0.0 && c[k] >= 0.0, "crossing at {be}");
        // Before `from`, nothing has accumulated.
        let late = cumulative_discounted(&t, &v, 2.0, 0.0, 0.0).unwrap();
        assert!(late[..=8].iter().all(|&x| x == 0.0));
        close(late[11], -75.0, 1e-9);
    }

    fn grid(start: f64, stop: f64, step: f64) -> Vec<f64> {
        let n = ((stop - start) / step).round() as usize;
        (0..=n).map(|k| start + k as f64 * step).collect()
    }

    fn close(got: f64, want: f64, tol: f64) {
        assert!(
            (got - want).abs() <= tol,
            "got {got}, want {want} (±{tol}; off by {})",
            got - want
        );
    }

    /// Grids of saved times: yearly (the care scenario's 21), monthly (with the float noise of
    /// `start + k·step`), uneven, two, one.
    fn test_grids() -> Vec<Vec<f64>> {
        vec![
            grid(2025.0, 2045.0, 1.0),
            grid(2020.0, 2023.0, 1.0 / 12.0),
            vec![0.0, 0.3, 1.0, 2.5, 2.75, 4.0],
            vec![-1.0, 1.0],
            vec![2020.0],
        ]
    }

    /// Times to try as window ends, evaluation times and starts: every saved time and midway
    /// between them, a hair either side of some (taken to be them), random times, times
    /// outside the horizon and NaN.
    fn probe_times(t: &[f64], rng: &mut Rng) -> Vec<f64> {
        let (first, last) = (t[0], t[t.len() - 1]);
        let span = (last - first).max(1.0);
        let mut x = t.to_vec();
        x.extend(t.windows(2).map(|w| (w[0] + w[1]) / 2.0));
        for s in [first, t[t.len() / 2], last] {
            x.extend([s - 1e-12 * span, s + 1e-12 * span]);
        }
        x.extend((0..3).map(|_| first + rng.next_f64() * (last - first)));
        x.extend([first - 0.25 * span, last + 0.25 * span, f64::NAN]);
        x
    }

    /// Values at the saved times: random (with sign changes), an investment then savings (a
    /// break-even), signed zeros, and large ones.
    fn probe_values(n: usize, rng: &mut Rng) -> Vec<Vec<f64>> {
        let k = |k: usize| k as f64;
        vec![
            (0..n).map(|_| 200.0 * rng.next_f64() - 100.0).collect(),
            (0..n)
                .map(|i| {
                    if i < n / 3 {
                        -100.0 - k(i)
                    } else {
                        40.0 + k(i)
                    }
                })
                .collect(),
            (0..n)
                .map(|i| if i % 2 == 0 { 0.0 } else { -0.0 })
                .collect(),
            (0..n).map(|i| 1e6 * (k(i) - k(n) / 2.0).powi(3)).collect(),
        ]
    }

    /// The bits of a result, or its error.
    fn bits(r: Result<f64, String>) -> Result<u64, String> {
        r.map(f64::to_bits)
    }

    #[test]
    fn prepared_metrics_give_the_plain_functions_results_bit_for_bit() {
        let mut rng = Rng(17);
        let rates = [0.0, 0.035, -0.5, 1.5, -1.0, f64::NAN];
        let mut compared = 0;
        for t in test_grids() {
            let (first, last) = (t[0], t[t.len() - 1]);
            let bases = [
                first,
                last + 3.0,
                first - 10.0,
                (first + last) / 2.0,
                f64::NAN,
            ];
            let mut rate_and_base = || {
                let pick = |n: usize, x: f64| ((x * n as f64) as usize).min(n - 1);
                let rate = rates[pick(rates.len(), rng.next_f64())];
                (rate, bases[pick(bases.len(), rng.next_f64())])
            };
            let mut times_rng = Rng(3);
            let times = probe_times(&t, &mut times_rng);
            for v in probe_values(t.len(), &mut times_rng) {
                let values = Values::new(&t, &v).unwrap();
                for &at in &times {
                    let prepared = ValueAt::new(&t, at).map(|p| p.eval(values));
                    assert_eq!(bits(value_at(&t, &v, at)), bits(prepared), "at {at}");
                }
                for &from in &times {
                    for &to in &times {
                        let what = || format!("[{from}, {to}] of {v:?} at {t:?}");
                        let prepared = WindowSum::new(&t, from, to).map(|p| p.eval(values));
                        assert_eq!(
                            bits(window_sum(&t, &v, from, to)),
                            bits(prepared),
                            "{}",
                            what()
                        );
                        let prepared = Trapezoid::integral(&t, from, to).map(|p| p.eval(values));
                        assert_eq!(
                            bits(integral(&t, &v, from, to)),
                            bits(prepared),
                            "{}",
                            what()
                        );
                        for (rate, base) in [(0.035, first), rate_and_base(), rate_and_base()] {
                            let plain = discounted_integral(&t, &v, from, to, rate, base);
                            let prepared = Trapezoid::discounted_integral(&t, from, to, rate, base)
                                .map(|p| p.eval(values));
                            assert_eq!(bits(plain), bits(prepared), "{} {rate} {base}", what());
                            compared += 1;
                        }
                    }
                    for (rate, base) in [(0.035, first), rate_and_base(), rate_and_base()] {
                        let what = || format!("from {from} {rate} {base} of {v:?} at {t:?}");
                        let plain = cumulative_discounted(&t, &v, from, rate, base);
                        match (plain, Accumulation::new(&t, from, rate, base)) {
                            (Ok(want), Ok(acc)) => {
                                // Whatever `got` held is replaced.
                                let mut got = vec![f64::NAN; 3];
                                acc.cumulative(values, &mut got);
                                let as_bits =
                                    |c: &[f64]| c.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                                assert_eq!(as_bits(&want), as_bits(&got), "{}", what());
                                let want = break_even(&t, &v, from, rate, base).unwrap();
                                let want = want.map(f64::to_bits);
                                let be = acc.break_even(values).map(f64::to_bits);
                                assert_eq!(want, be, "{}", what());
                                let be = acc.break_even_of(&got).map(f64::to_bits);
                                assert_eq!(want, be, "{}", what());
                            }
                            (Err(want), Err(got)) => assert_eq!(want, got, "{}", what()),
                            (want, got) => panic!("{}: {want:?} but {got:?}", what()),
                        }
                    }
                }
            }
        }
        assert!(compared > 10_000, "{compared}");
    }

    #[test]
    fn values_are_checked_as_the_plain_functions_check_them() {
        let t = grid(2025.0, 2030.0, 1.0);
        for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            for k in [0, 3, 5] {
                let mut v = vec![1.0; t.len()];
                v[k] = bad;
                let want = value_at(&t, &v, 2026.0).unwrap_err();
                assert_eq!(Values::new(&t, &v).unwrap_err(), want);
            }
        }
        let short = [1.0; 5];
        let want = integral(&t, &short, 2025.0, 2030.0).unwrap_err();
        assert_eq!(Values::new(&t, &short).unwrap_err(), want);
        let extremes = [f64::MAX, f64::MIN, f64::MIN_POSITIVE, 5e-324, -0.0, 0.0];
        assert!(Values::new(&t, &extremes).is_ok());
    }

    #[test]
    fn value_at_interpolates_and_checks_the_range() {
        let t = [2020.0, 2021.0, 2022.0];
        let v = [10.0, 20.0, 40.0];
        assert_eq!(value_at(&t, &v, 2021.25), Ok(25.0));
        assert_eq!(value_at(&t, &v, 2021.5), Ok(30.0));
        assert_eq!(value_at(&t, &v, 2020.0), Ok(10.0));
        assert_eq!(value_at(&t, &v, 2022.0), Ok(40.0));
        // Within the tolerance of a saved time or the horizon: that saved value.
        assert_eq!(value_at(&t, &v, 2021.0 + 1e-12), Ok(20.0));
        assert_eq!(value_at(&t, &v, 2022.0 + 1e-12), Ok(40.0));
        let err = value_at(&t, &v, 2022.5).unwrap_err();
        assert!(
            err.contains("2022.5") && err.contains("[2020, 2022]"),
            "{err}"
        );
        assert!(
            value_at(&t, &v, 2019.0)
                .unwrap_err()
                .contains("[2020, 2022]")
        );
        assert!(value_at(&t, &v, f64::NAN).is_err());
        // A single saved time.
        assert_eq!(value_at(&[2020.0], &[7.0], 2020.0), Ok(7.0));
    }

    #[test]
    fn invalid_series_are_errors() {
        let err = value_at(&[0.0, 1.0], &[1.0], 0.5).unwrap_err();
        assert!(err.contains("2 times, 1 values"), "{err}");
        assert!(
            value_at(&[], &[], 0.0)
                .unwrap_err()
                .contains("no saved times")
        );
        let err = integral(&[0.0, 2.0, 1.0], &[1.0; 3], 0.0, 1.0).unwrap_err();
        assert!(err.contains("must increase"), "{err}");
        assert!(integral(&[0.0, 0.0], &[1.0; 2], 0.0, 0.0).is_err());
        let err = integral(&[0.0, 1.0], &[1.0, f64::NAN], 0.0, 1.0).unwrap_err();
        assert!(err.contains("time 1"), "{err}");
    }

    #[test]
    fn window_sum_is_inclusive_at_both_edges() {
        let t = grid(2020.0, 2030.0, 1.0);
        let v: Vec<f64> = (0..t.len()).map(|k| 10.0 * k as f64).collect(); // 2020 → 0, 2021 → 10…
        assert_eq!(window_sum(&t, &v, 2022.0, 2024.0), Ok(20.0 + 30.0 + 40.0));
        assert_eq!(window_sum(&t, &v, 2020.0, 2030.0), Ok(550.0));
        assert_eq!(window_sum(&t, &v, 2025.0, 2025.0), Ok(50.0));
        // Edges a hair off the saved times (float noise) still include them.
        assert_eq!(window_sum(&t, &v, 2022.0 + 1e-12, 2024.0 - 1e-12), Ok(90.0));
        // Windows whose ends fall between saved times take the saved times inside.
        assert_eq!(window_sum(&t, &v, 2021.5, 2023.5), Ok(20.0 + 30.0));
        // Monthly saves: a calendar year's window includes both ends.
        let tm = grid(2020.0, 2022.0, 1.0 / 12.0);
        let ones = vec![1.0; tm.len()];
        assert_eq!(window_sum(&tm, &ones, 2020.0, 2021.0), Ok(13.0));
    }

    #[test]
    fn window_errors() {
        let t = grid(2020.0, 2030.0, 1.0);
        let v = vec![1.0; t.len()];
        let err = window_sum(&t, &v, 2025.0, 2024.0).unwrap_err();
        assert!(err.contains("starts (2025) after it ends (2024)"), "{err}");
        let err = window_sum(&t, &v, 2025.0, 2031.0).unwrap_err();
        assert!(err.contains("[2020, 2030]"), "{err}");
        assert!(window_sum(&t, &v, 2019.0, 2021.0).is_err());
        let err = window_sum(&t, &v, 2025.2, 2025.8).unwrap_err();
        assert!(err.contains("no saved time"), "{err}");
        assert!(integral(&t, &v, 2026.0, 2025.0).is_err());
        assert!(integral(&t, &v, 2029.0, 2030.5).is_err());
        assert!(discounted_integral(&t, &v, 2018.0, 2025.0, 0.035, 2020.0).is_err());
        assert!(integral(&t, &v, f64::NAN, 2025.0).is_err());
    }

    #[test]
    fn integral_of_a_linear_function_is_exact() {
        // v = 2t + 1 on a yearly grid over [0, 10]: ∫ = t² + t.
        let t = grid(0.0, 10.0, 1.0);
        let v: Vec<f64> = t.iter().map(|x| 2.0 * x + 1.0).collect();
        let exact = |a: f64, b: f64| (b * b + b) - (a * a + a);
        for (a, b) in [(0.0, 10.0), (0.5, 7.25), (3.0, 4.0), (2.2, 2.7), (6.0, 6.0)] {
            close(integral(&t, &v, a, b).unwrap(), exact(a, b), 1e-12);
        }
        // Uneven save intervals (a short final one) are fine.
        let t = [0.0, 1.0, 2.0, 2.5];
        let v: Vec<f64> = t.iter().map(|x| 2.0 * x + 1.0).collect();
        close(
            integral(&t, &v, 0.25, 2.5).unwrap(),
            exact(0.25, 2.5),
            1e-12,
        );
    }

    #[test]
    fn integral_of_a_rate_gives_the_total() {
        // 1200 GBP/year for 10 years, saved monthly: 12 000 GBP; half-year window: 600.
        let t = grid(2025.0, 2035.0, 1.0 / 12.0);
        let v = vec![1200.0; t.len()];
        close(integral(&t, &v, 2025.0, 2035.0).unwrap(), 12_000.0, 1e-9);
        close(integral(&t, &v, 2030.0, 2030.5).unwrap(), 600.0, 1e-9);
    }

    #[test]
    fn discount_factor_compounds_annually() {
        assert_eq!(discount_factor(0.035, 2025.0, 2025.0), 1.0);
        close(
            discount_factor(0.035, 2030.0, 2025.0),
            1.035f64.powi(-5),
            1e-15,
        );
        close(discount_factor(0.035, 2024.0, 2025.0), 1.035, 1e-15);
        close(
            discount_factor(0.035, 2025.5, 2025.0),
            1.035f64.sqrt().recip(),
            1e-15,
        );
        assert_eq!(discount_factor(0.0, 2100.0, 2025.0), 1.0);
    }

    #[test]
    fn npv_of_a_constant_rate_converges_to_the_closed_form() {
        // ∫_0^10 100·1.035^-s ds = 100·(1 − 1.035^-10)/ln 1.035 = 846.1311…
        let lambda = 1.035f64.ln();
        let closed = 100.0 * (1.0 - 1.035f64.powi(-10)) / lambda;
        close(closed, 846.1311, 1e-4);
        // Trapezoid error (Euler–Maclaurin) ≈ h²/12·(f′(10) − f′(0)) = h²/12·λ·100·(1 − 1.035^-10).
        let leading = lambda * 100.0 * (1.0 - 1.035f64.powi(-10)) / 12.0; // 0.08345
        let mut errors = Vec::new();
        for steps_per_year in [1.0, 4.0, 12.0] {
            let h = 1.0 / steps_per_year;
            let t = grid(2025.0, 2035.0, h);
            let v = vec![100.0; t.len()];
            let npv = discounted_integral(&t, &v, 2025.0, 2035.0, 0.035, 2025.0).unwrap();
            let err = npv - closed;
            // The trapezoid rule overestimates a convex integrand by ≈ h²·leading.
            close(err, h * h * leading, 1e-3 * h * h * leading);
            errors.push(err);
        }
        assert!(errors[0] > 0.08 && errors[0] < 0.09, "{errors:?}");
        assert!(errors[2] < 6e-4, "{errors:?}");
        // A step twelve times finer divides the error by 12² = 144.
        close(errors[0] / errors[2], 144.0, 0.1);
    }

    #[test]
    fn discounting_base_and_window_are_independent() {
        // 100/yr over [2030, 2035], discounted to 2025: = 1.035^-5 × (the same flow based at
        // 2030), within the trapezoid error.
        let t = grid(2025.0, 2040.0, 1.0 / 12.0);
        let v = vec![100.0; t.len()];
        let later = discounted_integral(&t, &v, 2030.0, 2035.0, 0.035, 2025.0).unwrap();
        let same = discounted_integral(&t, &v, 2030.0, 2035.0, 0.035, 2030.0).unwrap();
        close(later, same * 1.035f64.powi(-5), 1e-9);
        // Rate 0: the plain integral.
        assert_eq!(
            discounted_integral(&t, &v, 2030.0, 2035.0, 0.0, 2025.0),
            integral(&t, &v, 2030.0, 2035.0)
        );
        assert!(discounted_integral(&t, &v, 2030.0, 2035.0, -1.0, 2025.0).is_err());
        assert!(discounted_integral(&t, &v, 2030.0, 2035.0, f64::NAN, 2025.0).is_err());
    }

    #[test]
    fn roi_examples() {
        // Spend 1000 (discounted), save 1500: every pound returns 1.50, ROI 50 %.
        assert_eq!(roi(1500.0, 1000.0), 0.5);
        assert_eq!(roi(1000.0, 1000.0), 0.0);
        assert_eq!(roi(0.0, 1000.0), -1.0);
        assert_eq!(roi(250.0, 1000.0), -0.75);
        assert_eq!(roi(10.0, 0.0), f64::INFINITY);
        assert_eq!(roi(-10.0, 0.0), f64::NEG_INFINITY);
        assert_eq!(roi(0.0, 0.0), 0.0);
        assert_eq!(roi(-0.0, 0.0), 0.0);
        assert!(roi(f64::NAN, 0.0).is_nan());
        // From integrals: 200/yr saved over 10 years vs 1000 spent in the first year, both
        // discounted at 3.5 % to the start.
        let t = grid(2025.0, 2035.0, 1.0 / 12.0);
        let savings = discounted_integral(&t, &vec![200.0; t.len()], 2025.0, 2035.0, 0.035, 2025.0);
        let cost = discounted_integral(&t, &vec![1000.0; t.len()], 2025.0, 2026.0, 0.035, 2025.0);
        // 200·8.4613 / (1000·(1 − 1/1.035)/ln 1.035) − 1 = 1692.26 / 982.99 − 1 = 0.7215
        close(roi(savings.unwrap(), cost.unwrap()), 0.7215, 1e-4);
    }

    /// Net saving −100/yr until 2028 (three years), then +50/yr, saved every `h` years.
    fn invest_then_save(h: f64) -> (Vec<f64>, Vec<f64>) {
        let t = grid(2025.0, 2040.0, h);
        let v = t
            .iter()
            .map(|&x| if x < 2028.0 - 1e-9 { -100.0 } else { 50.0 })
            .collect();
        (t, v)
    }

    #[test]
    fn break_even_by_hand_undiscounted() {
        // Yearly saves: trapezoids −100, −100, then (−100 + 50)/2 = −25 over 2027–28, so
        // C(2028) = −225, then +50 a year: C(2032) = −25, C(2033) = +25 → crossing halfway, 2032.5.
        let (t, v) = invest_then_save(1.0);
        assert_eq!(break_even(&t, &v, 2025.0, 0.0, 2025.0), Ok(Some(2032.5)));
        // Monthly saves: only the month before 2028 blends (−25/12 instead of −100/12), so
        // C(2028) = −300 + 75/12 = −293.75 and C reaches 0 after 293.75/50 = 5.875 years.
        let (t, v) = invest_then_save(1.0 / 12.0);
        close(
            break_even(&t, &v, 2025.0, 0.0, 2025.0).unwrap().unwrap(),
            2033.875,
            1e-9,
        );
    }

    #[test]
    fn break_even_by_hand_discounted() {
        // Yearly saves at 3.5 %, base 2025, d_k = 1.035^-k:
        // C(2028) = ½(−100 − 100d1) + ½(−100d1 − 100d2) + ½(−100d2 + 50d3)
        //         = −50 − 100d1 − 100d2 + 25d3                         = −217.42
        // C(2033) = C(2028) + 25(d3 + 2d4 + 2d5 + 2d6 + 2d7 + d8)      = −10.24
        // C(2034) = C(2033) + 25(d8 + d9)                              = +27.09
        // break-even = 2033 + 10.24/(27.09 + 10.24)                    = 2033.2744
        let d = |k: i32| 1.035f64.powi(-k);
        let c2028 = -50.0 - 100.0 * d(1) - 100.0 * d(2) + 25.0 * d(3);
        let c2033 = c2028 + 25.0 * (d(3) + 2.0 * (d(4) + d(5) + d(6) + d(7)) + d(8));
        let c2034 = c2033 + 25.0 * (d(8) + d(9));
        close(c2028, -217.4209, 1e-4);
        close(c2033, -10.2417, 1e-4);
        close(c2034, 27.0869, 1e-4);
        let expected = 2033.0 + (-c2033) / (c2034 - c2033);
        close(expected, 2033.2744, 1e-4);
        let (t, v) = invest_then_save(1.0);
        let got = break_even(&t, &v, 2025.0, 0.035, 2025.0).unwrap().unwrap();
        close(got, expected, 1e-9);

        // With finer saves it approaches the exact answer for a true step at 2028:
        // 50(d3 − d^T)/λ = 100(1 − d3)/λ  ⇒  1.035^-T = 3·1.035^-3 − 2  ⇒  T = 10.1270.
        let exact = 2025.0 - (3.0 * d(3) - 2.0).ln() / 1.035f64.ln();
        close(exact, 2035.1270, 1e-4);
        let mut last_err = f64::INFINITY;
        for h in [1.0 / 12.0, 1.0 / 120.0] {
            let (t, v) = invest_then_save(h);
            let got = break_even(&t, &v, 2025.0, 0.035, 2025.0).unwrap().unwrap();
            let err = (got - exact).abs();
            assert!(err < last_err && err < 2.0 * h, "h = {h}: {got} vs {exact}");
            last_err = err;
        }
    }

    #[test]
    fn break_even_rules() {
        let t = grid(2025.0, 2035.0, 1.0);
        let be = |v: &[f64], from| break_even(&t, v, from, 0.0, 2025.0);
        // No investment phase (net ≥ 0 throughout, or exactly 0): break-even at `from`.
        assert_eq!(be(&[10.0; 11], 2025.0), Ok(Some(2025.0)));
        assert_eq!(be(&[0.0; 11], 2025.0), Ok(Some(2025.0)));
        assert_eq!(be(&[10.0; 11], 2027.5), Ok(Some(2027.5)));
        // Never recovers: None.
        assert_eq!(be(&[-10.0; 11], 2025.0), Ok(None));
        // Reaching exactly 0 after being negative counts: C = 0, −10, −10, 0 → 2028.
        let v = [
            -10.0, -10.0, 10.0, 10.0, 10.0, 10.0, 10.0, 10.0, 10.0, 10.0, 10.0,
        ];
        assert_eq!(be(&v, 2025.0), Ok(Some(2028.0)));
        // Ahead first, then behind, then recovering: the recovery counts, not the start.
        let v = [
            10.0, 10.0, -30.0, -30.0, 10.0, 30.0, 30.0, 30.0, 30.0, 30.0, 30.0,
        ];
        // C: 0, 10, 0, −30, −40, −20, 10 → crossing in 2030–31 at 2030 + 20/30.
        close(be(&v, 2025.0).unwrap().unwrap(), 2030.0 + 2.0 / 3.0, 1e-12);
        // Ahead, then behind for good: None.
        let v = [
            10.0, 10.0, -30.0, -30.0, -30.0, -30.0, -30.0, -30.0, -30.0, -30.0, -30.0,
        ];
        assert_eq!(be(&v, 2025.0), Ok(None));
        // Accumulating from a later start ignores what came before it: from 2029 in the
        // recovering example, C = 0, +20, +50… never behind.
        let v = [
            10.0, 10.0, -30.0, -30.0, 10.0, 30.0, 30.0, 30.0, 30.0, 30.0, 30.0,
        ];
        assert_eq!(be(&v, 2029.0), Ok(Some(2029.0)));
        // From the last saved time: nothing to accumulate.
        assert_eq!(be(&[-10.0; 11], 2035.0), Ok(Some(2035.0)));
        // Start between saved times, interpolated: −10 throughout until 2030, then +40.
        let v = [
            -10.0, -10.0, -10.0, -10.0, -10.0, -10.0, 40.0, 40.0, 40.0, 40.0, 40.0,
        ];
        // From 2029.5: C(2030) = −5, C(2031) = −5 + 15 = 10 → 2030 + 5/15.
        close(be(&v, 2029.5).unwrap().unwrap(), 2030.0 + 1.0 / 3.0, 1e-12);
    }

    #[test]
    fn break_even_errors() {
        let t = grid(2025.0, 2035.0, 1.0);
        let v = vec![1.0; t.len()];
        let err = break_even(&t, &v, 2036.0, 0.035, 2025.0).unwrap_err();
        assert!(err.contains("[2025, 2035]"), "{err}");
        assert!(break_even(&t, &v, 2025.0, -1.5, 2025.0).is_err());
        assert!(break_even(&t, &v[1..], 2025.0, 0.035, 2025.0).is_err());
    }
}
