//! The tutorial's two-panel figure, shared by the desktop binary (PNG) and the page
//! (canvas): loss per step (raw and smoothed) with test loss per epoch, and accuracy
//! (running training accuracy, training and test accuracy per epoch). The x axis is epochs.
//! [`tutorial`] draws the post's own figure from the per-epoch evaluations, and [`lessons`]
//! the grad lesson's plot of a function and its derivatives.

pub mod lessons;
pub mod tutorial;

use engine::inspect::ConfusionMatrix;
use engine::train::{EvalResult, StepMetrics};
use plotters::coord::types::RangedCoordf32;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::ops::Range;

/// Per-epoch summary.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EpochPoint {
    /// 1-based.
    pub epoch: usize,
    pub train_loss: f32,
    pub train_accuracy: f32,
    pub test_loss: f32,
    pub test_accuracy: f32,
    /// An evaluation of the whole training set after the epoch (BatchNorm in evaluation
    /// mode), as the tutorial does; None when the run skipped it.
    pub full_train: Option<EvalResult>,
}

impl EpochPoint {
    /// An epoch's row: training loss and accuracy are the means over its steps (measured
    /// during training), the test ones come from the evaluation after it.
    pub fn summarize(epoch: usize, steps: &[StepMetrics], test: &EvalResult) -> Self {
        let mean = |f: fn(&StepMetrics) -> f32| (steps.iter().map(|m| f(m) as f64).sum::<f64>() / steps.len().max(1) as f64) as f32;
        EpochPoint {
            epoch,
            train_loss: mean(|m| m.loss),
            train_accuracy: mean(|m| m.accuracy),
            test_loss: test.loss,
            test_accuracy: test.accuracy,
            full_train: None,
        }
    }
}

/// Everything the two panels show.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ChartData {
    pub steps: Vec<StepMetrics>,
    pub epochs: Vec<EpochPoint>,
    pub steps_per_epoch: usize,
    /// Epochs the x axis spans (at least the epochs done so far).
    pub planned_epochs: usize,
}

/// Centred moving average over `2 * half + 1` points (fewer at the ends): it does not lag
/// behind the raw curve the way a running average does.
pub fn smooth(values: &[f32], half: usize) -> Vec<f32> {
    (0..values.len())
        .map(|i| {
            let window = &values[i.saturating_sub(half)..(i + half + 1).min(values.len())];
            window.iter().sum::<f32>() / window.len() as f32
        })
        .collect()
}

pub(crate) const FONT: &str = "sans-serif";

impl ChartData {
    fn x_of(&self, step: u64) -> f32 {
        (step as f32 + 1.0) / self.steps_per_epoch.max(1) as f32
    }
    fn x_max(&self) -> f32 {
        let seen = self.steps.last().map_or(0.0, |m| self.x_of(m.step));
        (self.planned_epochs.max(self.epochs.len()).max(1) as f32).max(seen)
    }
    fn half_window(&self) -> usize {
        (self.steps.len() / 50).clamp(1, 25)
    }
}

pub(crate) type Result<T> = std::result::Result<T, String>;

pub(crate) fn err<E: std::fmt::Debug>(e: E) -> String {
    format!("chart: {e:?}")
}

type Panel<'a, DB> = ChartContext<'a, DB, Cartesian2d<RangedCoordf32, RangedCoordf32>>;

/// A captioned panel with epochs on x and a labelled mesh.
fn panel<'a, DB: DrawingBackend>(
    area: &'a DrawingArea<DB, Shift>,
    caption: &str,
    y_desc: &str,
    x_max: f32,
    y: Range<f32>,
) -> Result<Panel<'a, DB>> {
    let mut chart = ChartBuilder::on(area)
        .caption(caption, (FONT, 20))
        .margin(10)
        .x_label_area_size(36)
        .y_label_area_size(50)
        .build_cartesian_2d(0f32..x_max, y)
        .map_err(err)?;
    chart.configure_mesh().x_desc("epoch").y_desc(y_desc).label_style((FONT, 13)).draw().map_err(err)?;
    Ok(chart)
}

/// Loss panel.
pub fn draw_loss<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, data: &ChartData) -> Result<()> {
    area.fill(&WHITE).map_err(err)?;
    let losses: Vec<f32> = data.steps.iter().map(|m| m.loss).collect();
    let smoothed = smooth(&losses, data.half_window());
    let top = losses.iter().chain(data.epochs.iter().map(|e| &e.test_loss)).cloned().fold(0.5f32, f32::max).min(5.0) * 1.05;
    let mut chart = panel(area, "Loss", "cross-entropy", data.x_max(), 0f32..top)?;
    let raw = BLUE.mix(0.3);
    chart
        .draw_series(LineSeries::new(data.steps.iter().zip(&losses).map(|(m, &l)| (data.x_of(m.step), l)), raw))
        .map_err(err)?
        .label("train, per step")
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], raw));
    chart
        .draw_series(LineSeries::new(data.steps.iter().zip(&smoothed).map(|(m, &l)| (data.x_of(m.step), l)), BLUE.stroke_width(2)))
        .map_err(err)?
        .label("train, smoothed")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], BLUE.stroke_width(2)));
    chart
        .draw_series(LineSeries::new(data.epochs.iter().map(|e| (e.epoch as f32, e.test_loss)), RED.stroke_width(2)).point_size(4))
        .map_err(err)?
        .label("test, per epoch")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], RED.stroke_width(2)));
    chart.configure_series_labels().background_style(WHITE.mix(0.9)).border_style(BLACK).label_font((FONT, 13)).draw().map_err(err)?;
    area.present().map_err(err)
}

/// Accuracy panel.
pub fn draw_accuracy<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, data: &ChartData) -> Result<()> {
    area.fill(&WHITE).map_err(err)?;
    let accs: Vec<f32> = data.steps.iter().map(|m| m.accuracy).collect();
    let running = smooth(&accs, data.half_window());
    let bottom = running.iter().chain(data.epochs.iter().map(|e| &e.test_accuracy)).cloned().fold(0.9f32, f32::min).max(0.0) * 0.98;
    let mut chart = panel(area, "Accuracy", "accuracy", data.x_max(), bottom..1.0f32)?;
    let running_style = BLUE.mix(0.5);
    chart
        .draw_series(LineSeries::new(data.steps.iter().zip(&running).map(|(m, &a)| (data.x_of(m.step), a)), running_style))
        .map_err(err)?
        .label("train, running")
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], running_style));
    chart
        .draw_series(LineSeries::new(data.epochs.iter().map(|e| (e.epoch as f32, e.train_accuracy)), BLUE.stroke_width(2)).point_size(4))
        .map_err(err)?
        .label("train, per epoch")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], BLUE.stroke_width(2)));
    chart
        .draw_series(LineSeries::new(data.epochs.iter().map(|e| (e.epoch as f32, e.test_accuracy)), RED.stroke_width(2)).point_size(4))
        .map_err(err)?
        .label("test, per epoch")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], RED.stroke_width(2)));
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .label_font((FONT, 13))
        .draw()
        .map_err(err)?;
    area.present().map_err(err)
}

/// The confusion matrix as a heatmap: one row per true class, one column per predicted
/// class, each cell shaded by its share of the row and labelled with its count; each row's
/// accuracy on the right. `names` label the classes.
pub fn draw_confusion<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, m: &ConfusionMatrix, names: &[&str]) -> Result<()> {
    area.fill(&WHITE).map_err(err)?;
    let (w, h) = area.dim_in_pixel();
    let n = m.classes.max(1) as i32;
    let (left, top, right, bottom) = (92i32, 40i32, 56i32, 24i32);
    let cell = ((w as i32 - left - right) / n).min((h as i32 - top - bottom) / n).max(4);
    let name = |i: usize| names.get(i).map_or_else(|| i.to_string(), |s| s.to_string());
    let small = (FONT, (cell as f64 * 0.36).clamp(8.0, 13.0));
    let centre =
        plotters::style::text_anchor::Pos::new(plotters::style::text_anchor::HPos::Center, plotters::style::text_anchor::VPos::Center);
    let dark_text = TextStyle::from(small.into_font()).color(&BLACK).pos(centre);
    let light_text = TextStyle::from(small.into_font()).color(&WHITE).pos(centre);
    let right_aligned = TextStyle::from(small.into_font())
        .pos(plotters::style::text_anchor::Pos::new(plotters::style::text_anchor::HPos::Right, plotters::style::text_anchor::VPos::Center));
    area.draw(&Text::new("predicted →", (left, 4), (FONT, 13))).map_err(err)?;
    area.draw(&Text::new("true ↓", (4, 4), (FONT, 13))).map_err(err)?;
    let accuracy = m.per_class_accuracy();
    for (t, row_accuracy) in accuracy.iter().enumerate() {
        let y = top + t as i32 * cell;
        let row: u32 = (0..m.classes).map(|p| m.count(t, p)).sum();
        area.draw(&Text::new(name(t), (left - 6, y + cell / 2), right_aligned.clone())).map_err(err)?;
        for p in 0..m.classes {
            let x = left + p as i32 * cell;
            let count = m.count(t, p);
            let share = count as f64 / row.max(1) as f64;
            // Diagonal cells in blue, mistakes in red, both darker with a larger share.
            let base = if t == p { (33.0, 102.0, 172.0) } else { (214.0, 39.0, 40.0) };
            let mix = |c: f64| (255.0 - (255.0 - c) * share.sqrt()) as u8;
            let fill = RGBColor(mix(base.0), mix(base.1), mix(base.2));
            area.draw(&Rectangle::new([(x, y), (x + cell - 1, y + cell - 1)], fill.filled())).map_err(err)?;
            if count > 0 {
                let style = if share > 0.45 { &light_text } else { &dark_text };
                area.draw(&Text::new(count.to_string(), (x + cell / 2, y + cell / 2), style.clone())).map_err(err)?;
            }
        }
        let acc = row_accuracy.map_or_else(|| "–".to_string(), |a| format!("{:.1}%", 100.0 * a));
        area.draw(&Text::new(acc, (left + n * cell + 6, y + cell / 2 - 6), small)).map_err(err)?;
    }
    for p in 0..m.classes {
        let label: String = name(p).chars().take(((cell / 6).max(1)) as usize).collect();
        area.draw(&Text::new(label, (left + p as i32 * cell + cell / 2, top - 12), dark_text.clone())).map_err(err)?;
    }
    let summary = format!("{} of {} right ({:.2}%)", m.correct(), m.total(), 100.0 * m.accuracy());
    area.draw(&Text::new(summary, (left, top + n * cell + 6), (FONT, 13))).map_err(err)?;
    area.present().map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smoothing_averages_a_centred_window() {
        assert_eq!(smooth(&[3.0, 0.0, 3.0, 0.0], 1), vec![1.5, 2.0, 1.0, 1.5]);
        assert!(smooth(&[], 3).is_empty());
    }

    #[test]
    fn epoch_summary_averages_the_steps() {
        let steps = [StepMetrics { step: 0, loss: 1.0, accuracy: 0.5 }, StepMetrics { step: 1, loss: 3.0, accuracy: 1.0 }];
        let p = EpochPoint::summarize(1, &steps, &EvalResult { loss: 0.25, accuracy: 0.9, count: 10 });
        assert_eq!(
            p,
            EpochPoint { epoch: 1, train_loss: 2.0, train_accuracy: 0.75, test_loss: 0.25, test_accuracy: 0.9, full_train: None }
        );
    }

    #[test]
    fn x_axis_is_in_epochs() {
        let data = ChartData { steps_per_epoch: 10, planned_epochs: 3, ..Default::default() };
        assert_eq!(data.x_of(9), 1.0);
        assert_eq!(data.x_max(), 3.0);
    }
}
