//! The tutorial's two-panel figure (loss, accuracy) as a PNG, drawn with plotters.

use anyhow::{anyhow, Result};
use engine::trainer::StepMetrics;
use plotters::prelude::*;
use plotters::style::FontStyle;
use std::path::Path;

static FONT: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");

/// Centred moving average over `2 * half + 1` points (fewer at the ends): unlike a running
/// average it does not lag behind the raw curve.
fn smooth(values: &[f32], half: usize) -> Vec<f32> {
    (0..values.len())
        .map(|i| {
            let window = &values[i.saturating_sub(half)..(i + half + 1).min(values.len())];
            window.iter().sum::<f32>() / window.len() as f32
        })
        .collect()
}

/// `epochs`: (epoch, train loss, test loss, train accuracy, test accuracy).
pub fn draw(path: &Path, steps: &[StepMetrics], epochs: &[(usize, f32, f32, f32, f32)], steps_per_epoch: usize) -> Result<()> {
    plotters::style::register_font("sans-serif", FontStyle::Normal, FONT).map_err(|_| anyhow!("bundled font is invalid"))?;
    let root = BitMapBackend::new(path, (1200, 480)).into_drawing_area();
    root.fill(&WHITE)?;
    let (left, right) = root.split_horizontally(600);
    let per_epoch = steps_per_epoch.max(1) as f32;
    let x_of = |step: u64| (step as f32 + 1.0) / per_epoch;
    let x_max = epochs.len().max(1) as f32;

    let losses: Vec<f32> = steps.iter().map(|m| m.loss).collect();
    let smoothed = smooth(&losses, 10);
    let loss_max = losses.iter().cloned().fold(0.1f32, f32::max).min(5.0) * 1.05;
    let mut chart = ChartBuilder::on(&left)
        .caption("Loss", ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(55)
        .build_cartesian_2d(0f32..x_max, 0f32..loss_max)?;
    chart.configure_mesh().x_desc("epoch").y_desc("cross-entropy").label_style(("sans-serif", 14)).draw()?;
    chart
        .draw_series(LineSeries::new(steps.iter().zip(&losses).map(|(m, &l)| (x_of(m.step), l)), BLUE.mix(0.25)))?
        .label("train (per step)")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLUE.mix(0.25)));
    chart
        .draw_series(LineSeries::new(steps.iter().zip(&smoothed).map(|(m, &l)| (x_of(m.step), l)), BLUE.stroke_width(2)))?
        .label("train (smoothed)")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLUE.stroke_width(2)));
    chart
        .draw_series(LineSeries::new(epochs.iter().map(|e| (e.0 as f32, e.2)), RED.stroke_width(2)).point_size(4))?
        .label("test (per epoch)")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], RED.stroke_width(2)));
    chart.configure_series_labels().background_style(WHITE.mix(0.9)).border_style(BLACK).label_font(("sans-serif", 14)).draw()?;

    let accs: Vec<f32> = steps.iter().map(|m| m.accuracy).collect();
    let running = smooth(&accs, 10);
    let acc_min = running.iter().chain(epochs.iter().map(|e| &e.4)).cloned().fold(1.0f32, f32::min).max(0.0) * 0.98;
    let mut chart = ChartBuilder::on(&right)
        .caption("Accuracy", ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(55)
        .build_cartesian_2d(0f32..x_max, acc_min..1.0f32)?;
    chart.configure_mesh().x_desc("epoch").y_desc("accuracy").label_style(("sans-serif", 14)).draw()?;
    chart
        .draw_series(LineSeries::new(steps.iter().zip(&running).map(|(m, &a)| (x_of(m.step), a)), BLUE.mix(0.5)))?
        .label("train (running)")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLUE.mix(0.5)));
    chart
        .draw_series(LineSeries::new(epochs.iter().map(|e| (e.0 as f32, e.3)), BLUE.stroke_width(2)).point_size(4))?
        .label("train (per epoch)")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLUE.stroke_width(2)));
    chart
        .draw_series(LineSeries::new(epochs.iter().map(|e| (e.0 as f32, e.4)), RED.stroke_width(2)).point_size(4))?
        .label("test (per epoch)")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], RED.stroke_width(2)));
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .label_font(("sans-serif", 14))
        .draw()?;
    root.present()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smoothing_averages_a_centred_window() {
        let s = smooth(&[3.0, 0.0, 3.0, 0.0], 1);
        assert_eq!(s, vec![1.5, 2.0, 1.0, 1.5]);
    }

    #[test]
    fn draws_a_png_with_content() {
        let dir = std::env::temp_dir().join("desktop-chart-test");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("t.png");
        let steps: Vec<StepMetrics> =
            (0..50).map(|i| StepMetrics { step: i, loss: 2.0 / (1.0 + i as f32), accuracy: i as f32 / 60.0 }).collect();
        draw(&path, &steps, &[(1, 0.5, 0.4, 0.8, 0.85), (2, 0.3, 0.35, 0.9, 0.88)], 25).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(&bytes[1..4], b"PNG");
        assert!(bytes.len() > 10_000, "a drawn chart, not a blank image");
    }
}
