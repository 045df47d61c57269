//! The grad lesson's plot: f and its first three derivatives over a range of x.

use crate::{err, Result, FONT};
use plotters::coord::Shift;
use plotters::prelude::*;

/// The colours and names of f, f', f'', f'''.
pub const DERIVATIVE_SERIES: [(&str, RGBColor); 4] =
    [("f", BLACK), ("f′", RGBColor(31, 119, 180)), ("f″", RGBColor(255, 127, 14)), ("f‴", RGBColor(44, 160, 44))];

/// The y range that shows most of the curves: the 5th to 95th percentile of the finite
/// values, widened a little (a pole or an exponential would flatten everything else).
pub fn y_range(samples: &[(f64, [f64; 4])]) -> (f64, f64) {
    let mut values: Vec<f64> = samples.iter().flat_map(|(_, d)| d.iter().cloned()).filter(|v| v.is_finite()).collect();
    if values.is_empty() {
        return (-1.0, 1.0);
    }
    values.sort_by(f64::total_cmp);
    let at = |q: f64| values[((values.len() - 1) as f64 * q) as usize];
    let (lo, hi) = (at(0.05), at(0.95));
    let pad = ((hi - lo) * 0.1).max(0.5);
    (lo - pad, hi + pad)
}

/// `samples` from `engine::lessons::jet::sample`: (x, [f, f', f'', f''']).
pub fn draw_derivatives<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, samples: &[(f64, [f64; 4])], title: &str) -> Result<()> {
    area.fill(&WHITE).map_err(err)?;
    let (x0, x1) = match (samples.first(), samples.last()) {
        (Some(a), Some(b)) if b.0 > a.0 => (a.0, b.0),
        _ => (-1.0, 1.0),
    };
    let (y0, y1) = y_range(samples);
    let mut chart = ChartBuilder::on(area)
        .caption(title, (FONT, 18))
        .margin(10)
        .x_label_area_size(32)
        .y_label_area_size(50)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(err)?;
    chart.configure_mesh().x_desc("x").label_style((FONT, 13)).draw().map_err(err)?;
    for (order, (name, colour)) in DERIVATIVE_SERIES.iter().enumerate() {
        // Break the line where a value is not finite or far off the chart.
        let mut runs: Vec<Vec<(f64, f64)>> = vec![Vec::new()];
        for (x, d) in samples {
            let y = d[order];
            if y.is_finite() && y > y0 - 10.0 * (y1 - y0) && y < y1 + 10.0 * (y1 - y0) {
                runs.last_mut().expect("one run at least").push((*x, y));
            } else if !runs.last().expect("one run at least").is_empty() {
                runs.push(Vec::new());
            }
        }
        let style = colour.stroke_width(if order == 0 { 3 } else { 2 });
        for (i, run) in runs.into_iter().filter(|r| !r.is_empty()).enumerate() {
            let series = chart.draw_series(LineSeries::new(run, style)).map_err(err)?;
            if i == 0 {
                series.label(*name).legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], style));
            }
        }
    }
    chart.configure_series_labels().background_style(WHITE.mix(0.9)).border_style(BLACK).label_font((FONT, 13)).draw().map_err(err)?;
    area.present().map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_range_ignores_poles_and_non_finite_values() {
        let samples: Vec<(f64, [f64; 4])> = (0..100).map(|i| (i as f64, [i as f64 / 10.0, 1.0, 0.0, 0.0])).collect();
        let mut with_pole = samples.clone();
        with_pole[50].1 = [1e12, f64::NAN, f64::INFINITY, -1e12];
        let (lo, hi) = y_range(&with_pole);
        assert!(lo < 0.0 && hi > 8.0 && hi < 12.0, "({lo}, {hi})");
    }
}
