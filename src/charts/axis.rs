//! Axis scales and tick labels: money in £k/£m/£bn when the units say GBP, large counts in
//! thousands or millions, years as integers, and padded ranges that include zero when asked.

/// How values of one axis are shown: divided by `divisor`, labelled `label`.
#[derive(Debug, Clone, PartialEq)]
pub struct Scale {
    pub divisor: f64,
    /// Axis description, e.g. `Net saving (£m)` or `Emergency admissions (admissions/year)`.
    pub label: String,
}

impl Scale {
    /// The scale for values up to `max_abs` in `units` (`GBP`, `GBP/year`, `beds`...), for an
    /// axis described by `what`.
    pub fn new(what: &str, units: Option<&str>, max_abs: f64) -> Scale {
        let units = units.map(str::trim).filter(|u| !u.is_empty() && *u != "1");
        let (divisor, unit_text) = match units {
            Some(u) if u == "GBP" || u.starts_with("GBP/") || u.starts_with("GBP*") => {
                let rest = &u[3..];
                let (d, prefix) = if max_abs >= 1e9 {
                    (1e9, "£bn")
                } else if max_abs >= 1e6 {
                    (1e6, "£m")
                } else if max_abs >= 1e4 {
                    (1e3, "£k")
                } else {
                    (1.0, "£")
                };
                (d, Some(format!("{prefix}{rest}")))
            }
            other => {
                let (d, prefix) = if max_abs >= 1e7 {
                    (1e6, "million ")
                } else if max_abs >= 1e5 {
                    (1e3, "thousand ")
                } else {
                    (1.0, "")
                };
                match other {
                    Some(u) => (d, Some(format!("{prefix}{u}"))),
                    None if d > 1.0 => (d, Some(prefix.trim().to_string())),
                    None => (d, None),
                }
            }
        };
        let label = match unit_text {
            Some(u) => format!("{what} ({u})"),
            None => what.to_string(),
        };
        Scale { divisor, label }
    }

    pub fn apply(&self, v: f64) -> f64 {
        v / self.divisor
    }
}

/// A tick label for `v` on an axis spanning `span` (after scaling): enough decimals to tell
/// ticks about a fifth of the span apart, thousands separated by commas.
pub fn tick(v: f64, span: f64) -> String {
    group_thousands(&tick_plain(v, span))
}

/// As [`tick`], without thousands separators (for years).
pub fn tick_plain(v: f64, span: f64) -> String {
    let step = (span / 5.0).abs();
    let decimals = if step > 0.0 && step.is_finite() {
        (-step.log10().floor()).clamp(0.0, 6.0) as usize
    } else {
        0
    };
    let v = if v.abs() < 1e-12 * span.abs().max(1e-300) {
        0.0
    } else {
        v
    };
    let text = format!("{v:.decimals$}");
    if text
        .trim_start_matches('-')
        .chars()
        .all(|c| c == '0' || c == '.')
    {
        text.trim_start_matches('-').to_string()
    } else {
        text
    }
}

/// A year (or any time) as a label: an integer when it is one.
pub fn time_tick(t: f64) -> String {
    if (t - t.round()).abs() < 1e-6 {
        format!("{}", t.round() as i64)
    } else {
        format!("{t:.1}")
    }
}

fn group_thousands(s: &str) -> String {
    let (sign, rest) = match s.strip_prefix('-') {
        Some(r) => ("-", r),
        None => ("", s),
    };
    let (int, frac) = match rest.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (rest, None),
    };
    let mut grouped = String::new();
    for (k, c) in int.chars().enumerate() {
        if k > 0 && (int.len() - k) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    let mut out = format!("{sign}{grouped}");
    if let Some(f) = frac {
        out.push('.');
        out.push_str(f);
    }
    if out == "-0"
        || out
            .chars()
            .all(|c| c == '-' || c == '0' || c == '.' || c == ',')
    {
        out = out.trim_start_matches('-').to_string();
    }
    out
}

/// A padded range `[lo, hi]` around finite `values` (5 % each side), including `0` when
/// `with_zero`; `[0, 1]` when there is nothing finite.
pub fn padded_range(values: impl IntoIterator<Item = f64>, with_zero: bool) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in values.into_iter().filter(|v| v.is_finite()) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if with_zero {
        lo = lo.min(0.0);
        hi = hi.max(0.0);
    }
    if !lo.is_finite() || !hi.is_finite() {
        return (0.0, 1.0);
    }
    if hi - lo <= f64::EPSILON * hi.abs().max(lo.abs()).max(1.0) {
        let pad = if hi == 0.0 { 1.0 } else { hi.abs() * 0.1 };
        return (lo - pad, hi + pad);
    }
    let pad = (hi - lo) * 0.05;
    let (lo2, hi2) = (lo - pad, hi + pad);
    // Do not push an axis that starts at zero below it.
    (if lo >= 0.0 && lo2 < 0.0 { 0.0 } else { lo2 }, hi2)
}

/// A variable name as a readable axis or chart label: `hospital.emergency_admissions` →
/// `Emergency admissions (hospital)`.
pub fn humanize(name: &str) -> String {
    let (module, leaf) = match name.rsplit_once('.') {
        Some((m, l)) => (Some(m), l),
        None => (None, name),
    };
    let mut words = leaf.replace('_', " ");
    if let Some(first) = words.get(..1) {
        words = first.to_uppercase() + &words[1..];
    }
    match module {
        Some(m) => format!("{words} ({m})"),
        None => words,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_is_shown_in_pounds_with_a_prefix() {
        let s = Scale::new("Net saving", Some("GBP"), 4.2e7);
        assert_eq!((s.divisor, s.label.as_str()), (1e6, "Net saving (£m)"));
        let s = Scale::new("Cost", Some("GBP/year"), 3.0e9);
        assert_eq!((s.divisor, s.label.as_str()), (1e9, "Cost (£bn/year)"));
        let s = Scale::new("Cost", Some("GBP"), 500.0);
        assert_eq!((s.divisor, s.label.as_str()), (1.0, "Cost (£)"));
    }

    #[test]
    fn counts_keep_their_units() {
        let s = Scale::new("Beds", Some("beds"), 2500.0);
        assert_eq!((s.divisor, s.label.as_str()), (1.0, "Beds (beds)"));
        let s = Scale::new("People", Some("people"), 8e5);
        assert_eq!(
            (s.divisor, s.label.as_str()),
            (1e3, "People (thousand people)")
        );
        let s = Scale::new("Coverage", None, 0.3);
        assert_eq!(s.label, "Coverage");
    }

    #[test]
    fn ticks_have_enough_decimals_and_separators() {
        assert_eq!(tick(12345.0, 50000.0), "12,345");
        assert_eq!(tick(0.3, 1.0), "0.3");
        assert_eq!(tick(-1234567.0, 1e7), "-1,234,567");
        assert_eq!(tick(-0.0001, 10.0), "0");
        assert_eq!(time_tick(2030.0), "2030");
        assert_eq!(time_tick(2030.5), "2030.5");
    }

    #[test]
    fn ranges_are_padded_and_can_include_zero() {
        assert_eq!(padded_range([10.0, 20.0], false), (9.5, 20.5));
        let (lo, hi) = padded_range([10.0, 20.0], true);
        assert_eq!((lo, hi), (0.0, 21.0));
        assert_eq!(padded_range([f64::NAN], false), (0.0, 1.0));
        assert_eq!(padded_range([5.0, 5.0], false), (4.5, 5.5));
    }

    #[test]
    fn names_become_labels() {
        assert_eq!(
            humanize("hospital.emergency_admissions"),
            "Emergency admissions (hospital)"
        );
        assert_eq!(humanize("total_cost"), "Total cost");
    }
}
