//! One box per row (an option of a sweep): whiskers from the 5th to the 95th percentile, a box
//! from the 25th to the 75th, the median marked.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::axis::{Scale, padded_range};
use super::bars::{row_centre, row_chart, rows_height};
use super::{Draw, INTERVENTION, MARKER, WIDTH, err, frame};

#[derive(Debug, Clone)]
pub struct BoxRow {
    pub label: String,
    /// p5, p25, p50, p75, p95.
    pub quantiles: [f64; 5],
}

#[derive(Debug, Clone)]
pub struct BoxChart {
    pub title: String,
    pub x_what: String,
    pub x_units: Option<String>,
    pub rows: Vec<BoxRow>,
    pub caption: String,
}

impl Draw for BoxChart {
    fn title(&self) -> &str {
        &self.title
    }

    fn size(&self) -> (u32, u32) {
        (WIDTH, rows_height(self.rows.len()) + 40)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let area = frame(root, &self.title, &self.caption)?;
        let (lo, hi) = padded_range(self.rows.iter().flat_map(|r| r.quantiles), false);
        let scale = Scale::new(
            &self.x_what,
            self.x_units.as_deref(),
            lo.abs().max(hi.abs()),
        );
        let (lo, hi) = (scale.apply(lo), scale.apply(hi));
        let labels: Vec<String> = self.rows.iter().map(|r| r.label.clone()).collect();
        let mut chart = row_chart(root, &area, &labels, (lo, hi), &scale.label)?;
        let n = self.rows.len();
        if lo < 0.0 && hi > 0.0 {
            chart
                .draw_series(LineSeries::new(
                    [(0.0, 0.0), (0.0, n as f64 + 2.0)],
                    BLACK.stroke_width(1),
                ))
                .map_err(err)?;
        }
        let q = |r: &BoxRow, i: usize| scale.apply(r.quantiles[i]);
        let finite = |r: &&BoxRow| r.quantiles.iter().all(|v| v.is_finite());
        let rows: Vec<(usize, &BoxRow)> = self
            .rows
            .iter()
            .enumerate()
            .filter(|(_, r)| finite(r))
            .collect();
        chart
            .draw_series(rows.iter().map(|&(k, r)| {
                let c = row_centre(k, n);
                PathElement::new(vec![(q(r, 0), c), (q(r, 4), c)], BLACK.stroke_width(2))
            }))
            .map_err(err)?
            .label("5th to 95th percentile")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], BLACK.stroke_width(2)));
        chart
            .draw_series(rows.iter().map(|&(k, r)| {
                let c = row_centre(k, n);
                Rectangle::new(
                    [(q(r, 1), c - 0.3), (q(r, 3), c + 0.3)],
                    INTERVENTION.mix(0.6).filled(),
                )
            }))
            .map_err(err)?
            .label("25th to 75th percentile")
            .legend(|(x, y)| {
                Rectangle::new(
                    [(x, y - 6), (x + 18, y + 6)],
                    INTERVENTION.mix(0.6).filled(),
                )
            });
        chart
            .draw_series(rows.iter().map(|&(k, r)| {
                let c = row_centre(k, n);
                PathElement::new(
                    vec![(q(r, 2), c - 0.36), (q(r, 2), c + 0.36)],
                    MARKER.stroke_width(3),
                )
            }))
            .map_err(err)?
            .label("median")
            .legend(|(x, y)| {
                PathElement::new(vec![(x + 9, y - 7), (x + 9, y + 7)], MARKER.stroke_width(3))
            });
        super::draw_legend(&mut chart, SeriesLabelPosition::LowerRight)?;
        Ok(())
    }
}
