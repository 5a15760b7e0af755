//! The distribution of one metric across runs: a histogram with the median and the 90 %
//! interval marked.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::axis::{Scale, padded_range, tick, tick_plain};
use super::{
    Draw, INTERVENTION, LABEL_SIZE, MARKER, NEUTRAL, TICK_SIZE, err, font, frame, text_width,
};

#[derive(Debug, Clone)]
pub struct DistributionChart {
    pub title: String,
    pub x_what: String,
    pub x_units: Option<String>,
    /// The histogram of the finite values (one per run), from [`Bins::of`].
    pub bins: Bins,
    /// Median and 5th / 95th percentiles of the values.
    pub p50: f64,
    pub p5: f64,
    pub p95: f64,
    pub caption: String,
    /// The values are times (years): no thousands separators.
    pub is_time: bool,
}

/// A histogram of values as the chart draws it: the padded range of the values (unscaled) and
/// the count in each of about √n equal bins (between 8 and 40) over the scaled range. Built
/// once from the values, so the chart does not hold them.
#[derive(Debug, Clone)]
pub struct Bins {
    pub range: (f64, f64),
    pub counts: Vec<usize>,
}

impl Bins {
    /// The bins of `values` (finite ones count) on the axis of `x_what` in `x_units`.
    pub fn of(values: &[f64], x_what: &str, x_units: Option<&str>) -> Bins {
        let (vlo, vhi) = padded_range(values.iter().copied(), false);
        let (scale, lo, hi) = axis_scale(x_what, x_units, (vlo, vhi));
        let bins = ((values.len() as f64).sqrt().round() as usize).clamp(8, 40);
        // Scaled one value at a time: no copy of the values.
        let scaled = values.iter().map(|&v| scale.apply(v));
        Bins {
            range: (vlo, vhi),
            counts: histogram(scaled, lo, hi, bins),
        }
    }
}

/// The x axis's scale for an (unscaled) range, and the scaled range.
fn axis_scale(x_what: &str, x_units: Option<&str>, (vlo, vhi): (f64, f64)) -> (Scale, f64, f64) {
    let scale = Scale::new(x_what, x_units, vlo.abs().max(vhi.abs()));
    let (lo, hi) = (scale.apply(vlo), scale.apply(vhi));
    (scale, lo, hi)
}

/// Histogram bin counts: `bins` equal bins over [lo, hi].
pub fn histogram(
    values: impl IntoIterator<Item = f64>,
    lo: f64,
    hi: f64,
    bins: usize,
) -> Vec<usize> {
    let mut counts = vec![0; bins];
    let width = (hi - lo) / bins as f64;
    for v in values.into_iter().filter(|v| v.is_finite()) {
        let k = if width > 0.0 {
            (((v - lo) / width).floor().max(0.0) as usize).min(bins - 1)
        } else {
            0
        };
        counts[k] += 1;
    }
    counts
}

impl Draw for DistributionChart {
    fn title(&self) -> &str {
        &self.title
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let area = frame(root, &self.title, &self.caption)?;
        let (scale, lo, hi) = axis_scale(&self.x_what, self.x_units.as_deref(), self.bins.range);
        let counts = &self.bins.counts;
        let bins = counts.len();
        let top = counts.iter().copied().max().unwrap_or(1).max(1) as f64 * 1.3;
        let span = hi - lo;
        let mut chart = ChartBuilder::on(&area)
            .margin_left(8)
            .margin_right(24)
            .margin_top(6)
            .x_label_area_size(48)
            .y_label_area_size(text_width(&tick(top, top), TICK_SIZE) + 48)
            .build_cartesian_2d(lo..hi, 0.0..top)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc(&scale.label)
            .y_desc("Runs")
            .x_labels(10)
            .y_labels(6)
            .x_label_formatter(&|x| {
                if self.is_time {
                    tick_plain(*x, span)
                } else {
                    tick(*x, span)
                }
            })
            .y_label_formatter(&|y| tick(*y, top.max(10.0)))
            .label_style(font(TICK_SIZE))
            .axis_desc_style(font(LABEL_SIZE))
            .light_line_style(WHITE)
            .bold_line_style(BLACK.mix(0.08))
            .draw()
            .map_err(err)?;
        let width = span / bins as f64;
        chart
            .draw_series(
                counts
                    .iter()
                    .enumerate()
                    .filter(|(_, c)| **c > 0)
                    .map(|(k, &c)| {
                        let x0 = lo + k as f64 * width;
                        let mut bar = Rectangle::new(
                            [(x0, 0.0), (x0 + width, c as f64)],
                            INTERVENTION.mix(0.55).filled(),
                        );
                        bar.set_margin(0, 0, 1, 1);
                        bar
                    }),
            )
            .map_err(err)?
            .label("runs in each bin")
            .legend(|(x, y)| {
                Rectangle::new(
                    [(x, y - 6), (x + 18, y + 6)],
                    INTERVENTION.mix(0.55).filled(),
                )
            });
        if lo < 0.0 && hi > 0.0 {
            chart
                .draw_series(LineSeries::new(
                    [(0.0, 0.0), (0.0, top)],
                    BLACK.stroke_width(1),
                ))
                .map_err(err)?
                .label("zero")
                .legend(|(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], BLACK.stroke_width(1))
                });
        }
        let interval: Vec<(f64, f64)> = [self.p5, self.p95]
            .iter()
            .filter(|v| v.is_finite())
            .map(|&v| (scale.apply(v), 0.0))
            .collect();
        for (k, &(x, _)) in interval.iter().enumerate() {
            let s = chart
                .draw_series(LineSeries::new(
                    [(x, 0.0), (x, top)],
                    NEUTRAL.stroke_width(2),
                ))
                .map_err(err)?;
            if k == 0 {
                s.label("5th and 95th percentiles (90 % of runs between)")
                    .legend(|(x, y)| {
                        PathElement::new(vec![(x, y), (x + 18, y)], NEUTRAL.stroke_width(2))
                    });
            }
        }
        if self.p50.is_finite() {
            let m = scale.apply(self.p50);
            chart
                .draw_series(LineSeries::new(
                    [(m, 0.0), (m, top)],
                    MARKER.stroke_width(3),
                ))
                .map_err(err)?
                .label(format!(
                    "median: {}",
                    if self.is_time {
                        tick_plain(m, span / 10.0)
                    } else {
                        tick(m, span / 10.0)
                    }
                ))
                .legend(|(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], MARKER.stroke_width(3))
                });
        }
        super::draw_legend(&mut chart, SeriesLabelPosition::UpperRight)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_counts_every_finite_value_once() {
        let v = [0.0, 0.1, 0.5, 0.99, 1.0, f64::NAN, f64::INFINITY];
        let c = histogram(v, 0.0, 1.0, 4);
        assert_eq!(c, vec![2, 0, 1, 2]);
    }
}
