//! Fan charts: percentile bands of one or more series over time.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::axis::{Scale, padded_range, tick, time_tick};
use super::{Draw, LABEL_SIZE, MARKER, NEUTRAL, TICK_SIZE, err, font, frame};

/// Percentiles across runs at every time.
#[derive(Debug, Clone)]
pub struct Band {
    /// Legend text, e.g. `Intervention`.
    pub label: String,
    pub color: RGBColor,
    /// Filled bands, or (for a second series drawn over a filled one) lines only: the median
    /// and the 5th and 95th percentiles, so that overlapping bands do not blend into mud.
    pub outline: bool,
    pub p5: Vec<f64>,
    pub p25: Vec<f64>,
    pub p50: Vec<f64>,
    pub p75: Vec<f64>,
    pub p95: Vec<f64>,
}

/// A vertical line at a time (e.g. the median break-even year), with an optional shaded
/// interval.
#[derive(Debug, Clone)]
pub struct Marker {
    pub at: f64,
    pub interval: Option<(f64, f64)>,
    pub label: String,
}

#[derive(Debug, Clone)]
pub struct FanChart {
    pub title: String,
    /// What the y axis shows (`Emergency admissions`) and its units (`admissions/year`).
    pub y_what: String,
    pub y_units: Option<String>,
    /// Time axis description, e.g. `Year`.
    pub x_label: String,
    pub times: Vec<f64>,
    pub bands: Vec<Band>,
    /// Draw a line at y = 0 (differences, savings).
    pub zero_line: bool,
    pub marker: Option<Marker>,
    /// A line of small text under the chart.
    pub caption: String,
}

impl Draw for FanChart {
    fn title(&self) -> &str {
        &self.title
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let all = self.bands.iter().flat_map(|b| {
            b.p5.iter()
                .chain(&b.p95)
                .chain(&b.p50)
                .copied()
                .collect::<Vec<_>>()
        });
        let (lo, hi) = padded_range(all, self.zero_line);
        let scale = Scale::new(
            &self.y_what,
            self.y_units.as_deref(),
            lo.abs().max(hi.abs()),
        );
        let (lo, hi) = (scale.apply(lo), scale.apply(hi));
        // Headroom for the legend, so that it never covers the data.
        let hi = hi + (hi - lo) * 0.08 * self.bands.len().max(1) as f64;
        let span = hi - lo;
        let (t0, t1) = match (self.times.first(), self.times.last()) {
            (Some(&a), Some(&b)) if b > a => (a, b),
            (Some(&a), _) => (a - 0.5, a + 0.5),
            _ => (0.0, 1.0),
        };
        let area = frame(root, &self.title, &self.caption)?;
        let y_label_width = [lo, hi]
            .iter()
            .map(|v| super::text_width(&tick(*v, span), TICK_SIZE))
            .max()
            .unwrap_or(40);
        let (_, plot_h) = area.dim_in_pixel();
        let y_desc = super::fit(&scale.label, LABEL_SIZE, plot_h.saturating_sub(70));
        let mut chart = ChartBuilder::on(&area)
            .margin_left(8)
            .margin_right(20)
            .margin_top(6)
            .x_label_area_size(48)
            .y_label_area_size(y_label_width + 48)
            .build_cartesian_2d(t0..t1, lo..hi)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc(&self.x_label)
            .y_desc(&y_desc)
            .x_labels(12)
            .y_labels(8)
            .x_label_formatter(&|x| time_tick(*x))
            .y_label_formatter(&|y| tick(*y, span))
            .label_style(font(TICK_SIZE))
            .axis_desc_style(font(LABEL_SIZE))
            .light_line_style(WHITE)
            .bold_line_style(BLACK.mix(0.08))
            .draw()
            .map_err(err)?;
        if self.zero_line && lo < 0.0 && hi > 0.0 {
            chart
                .draw_series(LineSeries::new(
                    [(t0, 0.0), (t1, 0.0)],
                    NEUTRAL.stroke_width(1),
                ))
                .map_err(err)?;
        }
        let scaled = |v: &[f64]| -> Vec<f64> { v.iter().map(|&x| scale.apply(x)).collect() };
        let line = |v: &[f64]| -> Vec<(f64, f64)> {
            self.times
                .iter()
                .zip(v)
                .filter(|(_, v)| v.is_finite())
                .map(|(&t, &v)| (t, v))
                .collect()
        };
        // Filled bands first, outlined series over them.
        let mut order: Vec<&Band> = self.bands.iter().filter(|b| !b.outline).collect();
        order.extend(self.bands.iter().filter(|b| b.outline));
        for band in order {
            let color = band.color;
            if band.outline {
                for edge in [&band.p5, &band.p95] {
                    chart
                        .draw_series(LineSeries::new(
                            line(&scaled(edge)),
                            color.mix(0.9).stroke_width(1),
                        ))
                        .map_err(err)?;
                }
                chart
                    .draw_series(LineSeries::new(
                        line(&scaled(&band.p50)),
                        color.stroke_width(3),
                    ))
                    .map_err(err)?
                    .label(format!(
                        "{}: median (thick), 5th and 95th percentiles (thin)",
                        band.label
                    ))
                    .legend(move |(x, y)| {
                        EmptyElement::at((x, y))
                            + PathElement::new(vec![(0, -6), (22, -6)], color.stroke_width(1))
                            + PathElement::new(vec![(0, 0), (22, 0)], color.stroke_width(3))
                            + PathElement::new(vec![(0, 6), (22, 6)], color.stroke_width(1))
                    });
                continue;
            }
            for (lower, upper, alpha) in [(&band.p5, &band.p95, 0.15), (&band.p25, &band.p75, 0.3)]
            {
                let (lower, upper) = (scaled(lower), scaled(upper));
                let mut points: Vec<(f64, f64)> = self
                    .times
                    .iter()
                    .zip(&upper)
                    .filter(|(_, v)| v.is_finite())
                    .map(|(&t, &v)| (t, v))
                    .collect();
                points.extend(
                    self.times
                        .iter()
                        .zip(&lower)
                        .rev()
                        .filter(|(_, v)| v.is_finite())
                        .map(|(&t, &v)| (t, v)),
                );
                chart
                    .draw_series(std::iter::once(Polygon::new(
                        points,
                        color.mix(alpha).filled(),
                    )))
                    .map_err(err)?;
            }
            let median = scaled(&band.p50);
            chart
                .draw_series(LineSeries::new(
                    self.times
                        .iter()
                        .zip(&median)
                        .filter(|(_, v)| v.is_finite())
                        .map(|(&t, &v)| (t, v)),
                    color.stroke_width(3),
                ))
                .map_err(err)?
                .label(format!(
                    "{}: median, middle 50 % and 90 % of runs",
                    band.label
                ))
                .legend(move |(x, y)| {
                    EmptyElement::at((x, y))
                        + Rectangle::new([(0, -7), (22, 7)], color.mix(0.15).filled())
                        + Rectangle::new([(0, -4), (22, 4)], color.mix(0.3).filled())
                        + PathElement::new(vec![(0, 0), (22, 0)], color.stroke_width(3))
                });
        }
        if let Some(m) = &self.marker
            && m.at.is_finite()
        {
            // The interval as a strip along the bottom of the plot, clear of the bands.
            if let Some((a, b)) = m.interval {
                let (a, b) = (a.clamp(t0, t1), b.clamp(t0, t1));
                chart
                    .draw_series(std::iter::once(Rectangle::new(
                        [(a, lo), (b, lo + (hi - lo) * 0.03)],
                        MARKER.mix(0.45).filled(),
                    )))
                    .map_err(err)?;
            }
            chart
                .draw_series(LineSeries::new(
                    [(m.at, lo), (m.at, hi)],
                    MARKER.stroke_width(2),
                ))
                .map_err(err)?;
            // The label sits beside the line, below the legend's headroom, on whichever side
            // has room.
            let (px, py) = chart.backend_coord(&(m.at, lo + (hi - lo) * 0.06));
            let w = super::text_width(&m.label, TICK_SIZE) as i32;
            let (plot_x, _) = chart.plotting_area().get_pixel_range();
            let x = if px + 8 + w < plot_x.end {
                px + 8
            } else {
                px - 8 - w
            };
            let base = root.get_base_pixel();
            root.draw_text(
                &m.label,
                &font(TICK_SIZE).color(&MARKER),
                (x - base.0, py - base.1),
            )
            .map_err(err)?;
        }
        super::draw_legend(&mut chart, SeriesLabelPosition::UpperLeft)?;
        Ok(())
    }
}
