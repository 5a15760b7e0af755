//! Horizontal bar charts with one row per parameter (or option): the tornado chart and the
//! importance chart (Morris μ*, Sobol indices, each with its confidence interval). Rows are
//! drawn top to bottom in the order given; row labels are measured and fitted to the space
//! left of the plot.

use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::axis::{Scale, padded_range, tick};
use super::{
    BASELINE, Draw, INTERVENTION, LABEL_SIZE, NEUTRAL, TICK_SIZE, WIDTH, err, fit, font, frame,
    text_width,
};

/// Widest row label, in pixels.
const MAX_LABEL_PX: u32 = 420;

/// Empty rows kept below the last row for the legend, so that it never covers a bar.
const LEGEND_ROWS: usize = 2;

pub(crate) type RowChart<'a, DB> =
    ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// Height for `rows` rows (at least the default height).
pub(crate) fn rows_height(rows: usize) -> u32 {
    (150 + 34 * (rows + LEGEND_ROWS) as u32).max(super::HEIGHT / 2 + 60)
}

/// The frame of a row chart: title, caption, x axis (scaled), one row per label (row 0 at the
/// top; its centre at y = rows − 0.5), and the labels drawn left of the plot.
pub(crate) fn row_chart<'a, DB: DrawingBackend>(
    root: &'a DrawingArea<DB, Shift>,
    area: &'a DrawingArea<DB, Shift>,
    labels: &[String],
    x_range: (f64, f64),
    x_desc: &str,
) -> Result<RowChart<'a, DB>, String> {
    let fitted: Vec<String> = labels
        .iter()
        .map(|l| fit(l, TICK_SIZE, MAX_LABEL_PX))
        .collect();
    let label_px = fitted
        .iter()
        .map(|l| text_width(l, TICK_SIZE))
        .max()
        .unwrap_or(40);
    let rows = (labels.len() + LEGEND_ROWS) as f64;
    let (lo, hi) = x_range;
    let span = hi - lo;
    let mut chart = ChartBuilder::on(area)
        .margin_right(28)
        .margin_top(6)
        .x_label_area_size(48)
        .y_label_area_size(label_px + 16)
        .build_cartesian_2d(lo..hi, 0.0..rows)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .x_labels(8)
        .y_labels(0)
        .x_label_formatter(&|x| tick(*x, span))
        .label_style(font(TICK_SIZE))
        .axis_desc_style(font(LABEL_SIZE))
        .light_line_style(WHITE)
        .bold_line_style(BLACK.mix(0.08))
        .disable_y_mesh()
        .draw()
        .map_err(err)?;
    let base = root.get_base_pixel();
    let style = font(TICK_SIZE).pos(Pos::new(HPos::Right, VPos::Center));
    for (k, label) in fitted.iter().enumerate() {
        let (px, py) = chart.backend_coord(&(lo, row_centre(k, labels.len())));
        root.draw_text(label, &style, (px - 8 - base.0, py - base.1))
            .map_err(err)?;
    }
    Ok(chart)
}

/// The y coordinate of the centre of row `k` of `rows` (row 0 at the top).
pub(crate) fn row_centre(k: usize, rows: usize) -> f64 {
    (rows + LEGEND_ROWS) as f64 - k as f64 - 0.5
}

/// One parameter of a tornado chart: the metric with the parameter at its low and at its high
/// value, the others at base.
#[derive(Debug, Clone)]
pub struct TornadoRow {
    pub label: String,
    pub at_low: f64,
    pub at_high: f64,
}

#[derive(Debug, Clone)]
pub struct TornadoChart {
    pub title: String,
    pub metric_what: String,
    pub metric_units: Option<String>,
    /// The metric with every parameter at base.
    pub base: f64,
    /// Largest swing first.
    pub rows: Vec<TornadoRow>,
    pub caption: String,
}

impl Draw for TornadoChart {
    fn title(&self) -> &str {
        &self.title
    }

    fn size(&self) -> (u32, u32) {
        (WIDTH, rows_height(self.rows.len()) + 40)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let area = frame(root, &self.title, &self.caption)?;
        let values = self
            .rows
            .iter()
            .flat_map(|r| [r.at_low, r.at_high])
            .chain([self.base]);
        let (lo, hi) = padded_range(values, false);
        let scale = Scale::new(
            &self.metric_what,
            self.metric_units.as_deref(),
            lo.abs().max(hi.abs()),
        );
        let labels: Vec<String> = self.rows.iter().map(|r| r.label.clone()).collect();
        let (lo, hi) = (scale.apply(lo), scale.apply(hi));
        let mut chart = row_chart(root, &area, &labels, (lo, hi), &scale.label)?;
        let n = self.rows.len();
        let base = scale.apply(self.base);
        for (series, color, label) in [
            (0, BASELINE, "parameter at its low value"),
            (1, INTERVENTION, "parameter at its high value"),
        ] {
            chart
                .draw_series(self.rows.iter().enumerate().map(|(k, r)| {
                    let v = scale.apply(if series == 0 { r.at_low } else { r.at_high });
                    let c = row_centre(k, n);
                    Rectangle::new([(base, c - 0.32), (v, c + 0.32)], color.mix(0.75).filled())
                }))
                .map_err(err)?
                .label(label)
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 6), (x + 18, y + 6)], color.mix(0.75).filled())
                });
        }
        chart
            .draw_series(LineSeries::new(
                [(base, LEGEND_ROWS as f64), (base, (n + LEGEND_ROWS) as f64)],
                BLACK.stroke_width(2),
            ))
            .map_err(err)?
            .label(format!(
                "all at base: {}",
                tick(base, (hi - lo).abs() / 10.0)
            ))
            .legend(|(x, y)| {
                PathElement::new(vec![(x + 9, y - 7), (x + 9, y + 7)], BLACK.stroke_width(2))
            });
        super::draw_legend(&mut chart, SeriesLabelPosition::LowerRight)?;
        Ok(())
    }
}

/// One series of an importance chart (e.g. "first order S1"): a value and a confidence
/// interval per row.
#[derive(Debug, Clone)]
pub struct ImportanceSeries {
    pub label: String,
    pub values: Vec<f64>,
    pub intervals: Vec<(f64, f64)>,
}

#[derive(Debug, Clone)]
pub struct ImportanceChart {
    pub title: String,
    pub x_what: String,
    pub x_units: Option<String>,
    pub rows: Vec<String>,
    /// One or two series (drawn side by side within each row).
    pub series: Vec<ImportanceSeries>,
    pub caption: String,
}

impl Draw for ImportanceChart {
    fn title(&self) -> &str {
        &self.title
    }

    fn size(&self) -> (u32, u32) {
        (WIDTH, rows_height(self.rows.len()) + 40)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let area = frame(root, &self.title, &self.caption)?;
        let values = self.series.iter().flat_map(|s| {
            s.values
                .iter()
                .copied()
                .chain(s.intervals.iter().flat_map(|&(a, b)| [a, b]))
                .collect::<Vec<_>>()
        });
        let (lo, hi) = padded_range(values, true);
        let scale = Scale::new(
            &self.x_what,
            self.x_units.as_deref(),
            lo.abs().max(hi.abs()),
        );
        let (lo, hi) = (scale.apply(lo), scale.apply(hi));
        let mut chart = row_chart(root, &area, &self.rows, (lo, hi), &scale.label)?;
        let n = self.rows.len();
        let k_series = self.series.len().max(1) as f64;
        let colors = [INTERVENTION, BASELINE, NEUTRAL];
        for (j, s) in self.series.iter().enumerate() {
            let color = colors[j % colors.len()];
            let height = 0.7 / k_series;
            let offset = |k: usize| row_centre(k, n) + 0.35 - height * (j as f64 + 0.5);
            chart
                .draw_series(
                    s.values
                        .iter()
                        .enumerate()
                        .filter(|(_, v)| v.is_finite())
                        .map(|(k, &v)| {
                            let c = offset(k);
                            Rectangle::new(
                                [
                                    (0.0, c - height * 0.42),
                                    (scale.apply(v), c + height * 0.42),
                                ],
                                color.mix(0.7).filled(),
                            )
                        }),
                )
                .map_err(err)?
                .label(&s.label)
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 6), (x + 18, y + 6)], color.mix(0.7).filled())
                });
            chart
                .draw_series(
                    s.intervals
                        .iter()
                        .enumerate()
                        .filter(|(_, (a, b))| a.is_finite() && b.is_finite())
                        .map(|(k, &(a, b))| {
                            let c = offset(k);
                            let (a, b) = (scale.apply(a), scale.apply(b));
                            PathElement::new(vec![(a, c), (b, c)], BLACK.stroke_width(2))
                        }),
                )
                .map_err(err)?;
        }
        chart
            .draw_series(std::iter::once(PathElement::new(
                vec![(0.0, 0.0), (0.0, 0.0)],
                BLACK.stroke_width(2),
            )))
            .map_err(err)?
            .label("95 % confidence interval")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], BLACK.stroke_width(2)));
        super::draw_legend(&mut chart, SeriesLabelPosition::LowerRight)?;
        Ok(())
    }
}
