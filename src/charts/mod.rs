//! Charts as SVG and PNG, drawn with plotters from computed statistics (never from
//! simulations: this module knows nothing of models or scenarios).
//!
//! Every chart kind is a plain-data struct implementing [`Draw`]; [`render`] draws it twice,
//! once on an SVG backend and once on a bitmap encoded as PNG (its text drawn by [`text`]). Text is laid out with the bundled
//! DejaVu Sans (assets/fonts, embedded in the binary), so no system font library is needed and
//! the same inputs give the same bytes on every machine.
//!
//! - [`fan`]: percentile bands over time (p5–p95, p25–p75, median), with optional markers;
//! - [`distribution`]: a histogram of one metric across runs, median and 90 % interval marked;
//! - [`bars`]: horizontal bars — tornado (low/high around a base) and importance with
//!   confidence intervals (Morris μ*, Sobol indices);
//! - [`boxes`]: one box per option (p5, p25, p50, p75, p95), to compare options of a sweep.

pub mod axis;
pub mod bars;
pub mod boxes;
pub mod distribution;
pub mod fan;
pub mod text;

use plotters::coord::Shift;
use plotters::prelude::*;
pub use plotters::style::RGBColor;

/// The bundled font (DejaVu Sans 2.37, Bitstream Vera licence: assets/fonts/).
static FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");

/// The font family every chart uses; registered to the bundled font.
pub const FAMILY: &str = "sans-serif";

/// Default chart size in pixels (SVG user units and PNG pixels).
pub const WIDTH: u32 = 960;
pub const HEIGHT: u32 = 540;

/// Text sizes (pixels).
pub const TITLE_SIZE: u32 = 20;
pub const LABEL_SIZE: u32 = 16;
pub const TICK_SIZE: u32 = 14;
pub const CAPTION_SIZE: u32 = 12;

/// Colours: intervention, baseline, a neutral accent and a marker colour.
pub const INTERVENTION: RGBColor = RGBColor(31, 119, 180);
pub const BASELINE: RGBColor = RGBColor(230, 120, 20);
pub const NEUTRAL: RGBColor = RGBColor(90, 90, 90);
pub const MARKER: RGBColor = RGBColor(200, 30, 45);
pub const GOOD: RGBColor = RGBColor(44, 150, 70);

/// A drawn chart.
#[derive(Debug, Clone)]
pub struct Chart {
    /// File stem, e.g. `fan_hospital.emergency_admissions`.
    pub name: String,
    pub title: String,
    pub svg: String,
    pub png: Vec<u8>,
}

/// Something that can draw itself on any plotters backend.
pub trait Draw {
    fn title(&self) -> &str;
    fn size(&self) -> (u32, u32) {
        (WIDTH, HEIGHT)
    }
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String>;
}

/// A plotters error as text.
pub(crate) fn err(e: impl std::fmt::Display) -> String {
    format!("cannot draw the chart: {e}")
}

fn register_font() -> Result<(), String> {
    static REGISTERED: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
    REGISTERED
        .get_or_init(|| {
            plotters::style::register_font(FAMILY, FontStyle::Normal, FONT)
                .map_err(|_| "the bundled chart font is not a valid TrueType font".to_string())
        })
        .clone()
}

/// Draw `chart` as SVG and PNG.
pub fn render(name: &str, chart: &impl Draw) -> Result<Chart, String> {
    register_font()?;
    let (w, h) = chart.size();
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (w, h)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        chart.draw(&root)?;
        root.present().map_err(err)?;
    }
    let mut rgb = vec![0u8; (w * h * 3) as usize];
    {
        let backend = text::CrispText::new(BitMapBackend::with_buffer(&mut rgb, (w, h)), FONT)?;
        let root = backend.into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        chart.draw(&root)?;
        root.present().map_err(err)?;
    }
    Ok(Chart {
        name: name.to_string(),
        title: chart.title().to_string(),
        svg,
        png: encode_png(&rgb, w, h)?,
    })
}

fn encode_png(rgb: &[u8], w: u32, h: u32) -> Result<Vec<u8>, String> {
    let mut bytes = Vec::new();
    let fail = |e: png::EncodingError| format!("cannot encode the chart as PNG: {e}");
    {
        let mut enc = png::Encoder::new(&mut bytes, w, h);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        let mut writer = enc.write_header().map_err(fail)?;
        writer.write_image_data(rgb).map_err(fail)?;
    }
    Ok(bytes)
}

/// Draw the title (top left) and a caption (bottom left, small, grey) on `root`; return the
/// area between them for the plot.
pub(crate) fn frame<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    caption: &str,
) -> Result<DrawingArea<DB, Shift>, String> {
    let (w, h) = root.dim_in_pixel();
    let title = fit(title, TITLE_SIZE, w.saturating_sub(32));
    root.draw_text(&title, &font(TITLE_SIZE), (16, 12))
        .map_err(err)?;
    let top = 12 + TITLE_SIZE as i32 + 10;
    let bottom = if caption.is_empty() {
        h as i32 - 6
    } else {
        let caption = fit(caption, CAPTION_SIZE, w.saturating_sub(32));
        root.draw_text(
            &caption,
            &font(CAPTION_SIZE).color(&NEUTRAL),
            (16, h as i32 - CAPTION_SIZE as i32 - 8),
        )
        .map_err(err)?;
        h as i32 - CAPTION_SIZE as i32 - 16
    };
    let (_, rest) = root.split_vertically(top);
    let (plot, _) = rest.split_vertically(bottom - top);
    Ok(plot)
}

/// Draw the series labels of `chart` as a legend at `position`: white box, thin border.
pub(crate) fn draw_legend<'a, DB: DrawingBackend + 'a, CT: plotters::coord::CoordTranslate>(
    chart: &mut ChartContext<'a, DB, CT>,
    position: SeriesLabelPosition,
) -> Result<(), String> {
    chart
        .configure_series_labels()
        .position(position)
        .label_font(font(TICK_SIZE))
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK.mix(0.3))
        .draw()
        .map_err(err)
}

/// Text style helpers.
pub(crate) fn font(size: u32) -> TextStyle<'static> {
    (FAMILY, size).into_font().color(&BLACK)
}

/// Width in pixels of `text` at `size`, measured with the bundled font.
pub(crate) fn text_width(text: &str, size: u32) -> u32 {
    let _ = register_font();
    (FAMILY, size)
        .into_font()
        .box_size(text)
        .map(|(w, _)| w)
        .unwrap_or((text.chars().count() as u32) * size * 6 / 10)
}

/// Shorten `text` to at most `max_px` pixels at `size`, ending in `…` when cut.
pub(crate) fn fit(text: &str, size: u32, max_px: u32) -> String {
    if text_width(text, size) <= max_px {
        return text.to_string();
    }
    let chars: Vec<char> = text.chars().collect();
    let mut n = chars.len();
    while n > 1 {
        n -= 1;
        let s: String = chars[..n].iter().collect::<String>() + "…";
        if text_width(&s, size) <= max_px {
            return s;
        }
    }
    "…".into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bundled_font_measures_text() {
        register_font().unwrap();
        let short = text_width("ab", 15);
        let long = text_width("abcdefgh", 15);
        assert!(short > 5 && long > 3 * short, "{short} {long}");
        let cut = fit("a very long parameter name indeed", 13, 100);
        assert!(cut.ends_with('…') && text_width(&cut, 13) <= 100, "{cut}");
    }
}
