//! The tutorial's own figure: loss and accuracy against epochs, training in red and
//! validation in blue, from the evaluations after each epoch.

use crate::{err, EpochPoint, Result, FONT};
use plotters::coord::Shift;
use plotters::prelude::*;

/// Each epoch's training numbers: the full training-set evaluation where the run made one,
/// else the means over the epoch's steps. The bool says which.
pub fn training_series(epochs: &[EpochPoint]) -> (Vec<(f32, f32, f32)>, bool) {
    let full = !epochs.is_empty() && epochs.iter().all(|e| e.full_train.is_some());
    let points = epochs
        .iter()
        .map(|e| match (full, e.full_train) {
            (true, Some(t)) => (e.epoch as f32, t.loss, t.accuracy),
            _ => (e.epoch as f32, e.train_loss, e.train_accuracy),
        })
        .collect();
    (points, full)
}

/// Two panels side by side on `area`: loss, then accuracy, against epoch.
pub fn draw_tutorial_figure<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, epochs: &[EpochPoint], planned_epochs: usize) -> Result<()> {
    area.fill(&WHITE).map_err(err)?;
    let (w, _) = area.dim_in_pixel();
    let (left, right) = area.split_horizontally(w / 2);
    let (train, full) = training_series(epochs);
    let train_label = if full { "training (full set)" } else { "training (mean of steps)" };
    let x_max = planned_epochs.max(epochs.len()).max(1) as f32 + 0.2;
    let loss_train: Vec<(f32, f32)> = train.iter().map(|&(x, l, _)| (x, l)).collect();
    let loss_test: Vec<(f32, f32)> = epochs.iter().map(|e| (e.epoch as f32, e.test_loss)).collect();
    let acc_train: Vec<(f32, f32)> = train.iter().map(|&(x, _, a)| (x, a)).collect();
    let acc_test: Vec<(f32, f32)> = epochs.iter().map(|e| (e.epoch as f32, e.test_accuracy)).collect();
    let top = loss_train.iter().chain(&loss_test).map(|p| p.1).filter(|v| v.is_finite()).fold(0.1f32, f32::max) * 1.1;
    let bottom = acc_train.iter().chain(&acc_test).map(|p| p.1).filter(|v| v.is_finite()).fold(0.95f32, f32::min) - 0.01;
    panel(
        &left,
        "Loss",
        x_max,
        0.0..top,
        [(&loss_train, train_label), (&loss_test, "validation (test set)")],
        SeriesLabelPosition::UpperRight,
    )?;
    panel(
        &right,
        "Accuracy",
        x_max,
        bottom.max(0.0)..1.0,
        [(&acc_train, train_label), (&acc_test, "validation (test set)")],
        SeriesLabelPosition::LowerRight,
    )?;
    area.present().map_err(err)
}

fn panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    caption: &str,
    x_max: f32,
    y: std::ops::Range<f32>,
    series: [(&Vec<(f32, f32)>, &str); 2],
    legend: SeriesLabelPosition,
) -> Result<()> {
    let mut chart = ChartBuilder::on(area)
        .caption(caption, (FONT, 20))
        .margin(10)
        .x_label_area_size(36)
        .y_label_area_size(50)
        .build_cartesian_2d(0.8f32..x_max, y)
        .map_err(err)?;
    chart.configure_mesh().x_desc("epoch").x_label_formatter(&|x| format!("{x:.0}")).label_style((FONT, 13)).draw().map_err(err)?;
    for ((points, label), colour) in series.into_iter().zip([RED, BLUE]) {
        chart
            .draw_series(LineSeries::new(points.iter().cloned(), colour.stroke_width(2)).point_size(3))
            .map_err(err)?
            .label(label)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], colour.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .position(legend)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .label_font((FONT, 13))
        .draw()
        .map_err(err)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use engine::train::EvalResult;

    fn point(epoch: usize, full: Option<f32>) -> EpochPoint {
        EpochPoint {
            epoch,
            train_loss: 0.5,
            train_accuracy: 0.8,
            test_loss: 0.4,
            test_accuracy: 0.9,
            full_train: full.map(|a| EvalResult { loss: 0.1, accuracy: a, count: 60_000 }),
        }
    }

    #[test]
    fn training_numbers_come_from_the_full_evaluation_when_every_epoch_has_one() {
        assert_eq!(training_series(&[point(1, Some(0.97)), point(2, Some(0.98))]), (vec![(1.0, 0.1, 0.97), (2.0, 0.1, 0.98)], true));
        // One epoch without it: the step means throughout, and the label says so.
        assert_eq!(training_series(&[point(1, Some(0.97)), point(2, None)]), (vec![(1.0, 0.5, 0.8), (2.0, 0.5, 0.8)], false));
    }
}
