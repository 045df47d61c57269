//! The tutorial's two-panel figure (loss, accuracy) as a PNG: the shared `charts` panels on
//! a bitmap, with a bundled font (the native build has no system font lookup).

use anyhow::{anyhow, Result};
use charts::{ChartData, EpochPoint};
use engine::inspect::ConfusionMatrix;
use plotters::prelude::*;
use plotters::style::FontStyle;
use std::path::Path;

static FONT: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");

fn register_font() -> Result<()> {
    plotters::style::register_font("sans-serif", FontStyle::Normal, FONT).map_err(|_| anyhow!("bundled font is invalid"))
}

pub fn draw(path: &Path, data: &ChartData) -> Result<()> {
    register_font()?;
    let root = BitMapBackend::new(path, (1200, 480)).into_drawing_area();
    let (left, right) = root.split_horizontally(600);
    charts::draw_loss(&left, data).map_err(|e| anyhow!(e))?;
    charts::draw_accuracy(&right, data).map_err(|e| anyhow!(e))?;
    root.present()?;
    Ok(())
}

/// The tutorial's own figure (loss and accuracy per epoch, training red, validation blue).
pub fn draw_tutorial(path: &Path, epochs: &[EpochPoint], planned_epochs: usize) -> Result<()> {
    register_font()?;
    let root = BitMapBackend::new(path, (1000, 400)).into_drawing_area();
    charts::tutorial::draw_tutorial_figure(&root, epochs, planned_epochs).map_err(|e| anyhow!(e))?;
    root.present()?;
    Ok(())
}

/// The confusion matrix heatmap as a PNG.
pub fn draw_confusion(path: &Path, m: &ConfusionMatrix, names: &[&str]) -> Result<()> {
    register_font()?;
    let root = BitMapBackend::new(path, (640, 560)).into_drawing_area();
    charts::draw_confusion(&root, m, names).map_err(|e| anyhow!(e))?;
    root.present()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use engine::train::StepMetrics;

    #[test]
    fn draws_a_png_with_content() {
        let dir = std::env::temp_dir().join("desktop-chart-test");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("t.png");
        let steps: Vec<StepMetrics> =
            (0..50).map(|i| StepMetrics { step: i, loss: 2.0 / (1.0 + i as f32), accuracy: i as f32 / 60.0 }).collect();
        let point =
            |epoch, a| EpochPoint { epoch, train_loss: 0.5, train_accuracy: a, test_loss: 0.4, test_accuracy: a + 0.02, full_train: None };
        let data = ChartData { steps, epochs: vec![point(1, 0.8), point(2, 0.9)], steps_per_epoch: 25, planned_epochs: 2 };
        draw(&path, &data).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(&bytes[1..4], b"PNG");
        assert!(bytes.len() > 10_000, "a drawn chart, not a blank image");
    }
}
