//! The f64 reference trained on exactly the batches a trainer sees (the same seeded shuffle
//! per epoch, and the same short last batch), and a per-tensor comparison of what training
//! changed. With these, weights trained anywhere (the page's GPU, a worker, another machine)
//! can be checked against the maths.

use super::{StepClock, TrainConfig};
use crate::data::Split;
use crate::model::{epoch_permutation, Model, Op};
use crate::reference::RefTrainer;
use crate::weights::Weights;

/// The reference after `steps` steps from `init` on `train`, batched as `config` says.
pub fn train_on_the_same_batches(model: &Model, train: &Split, config: &TrainConfig, init: &Weights, steps: usize) -> RefTrainer {
    let mut r = RefTrainer::new(model.clone(), init.params.iter().map(|&v| v as f64).collect(), config.adam);
    r.stats = init.stats.iter().map(|&v| v as f64).collect();
    let mut order: Vec<u32> = (0..train.len() as u32).collect();
    let mut clock = StepClock::for_epochs(train.len(), config.batch);
    for _ in 0..steps {
        if clock.at_epoch_start() && config.shuffle {
            order = epoch_permutation(train.len(), config.seed, clock.epoch);
        }
        let picked = &order[clock.batch_range(config.batch, train.len())];
        clock.advance();
        let images: Vec<f64> = picked.iter().flat_map(|&i| train.image_f32(i as usize)).map(|v| v as f64).collect();
        let labels: Vec<u8> = picked.iter().map(|&i| train.labels[i as usize]).collect();
        r.step(&images, &labels);
    }
    r
}

/// One tensor's comparison.
#[derive(Clone, Debug, PartialEq)]
pub struct TensorCheck {
    pub name: String,
    /// ‖ours − reference‖ / ‖reference − before‖: the error relative to the update.
    pub error: f64,
    /// The largest change of any element, ours and the reference's.
    pub moved: f64,
    pub reference_moved: f64,
    /// A conv bias feeding a BatchNorm: its true gradient is exactly zero, so Adam's step on
    /// it is rounding noise divided by its own size, and only its size can be compared.
    pub zero_gradient: bool,
}

impl TensorCheck {
    /// Within `tol` of the update, or, for a zero-gradient tensor, moved by at most
    /// `noise_step` (the learning rate times the steps) on both sides.
    pub fn passes(&self, tol: f64, noise_step: f64) -> bool {
        if self.zero_gradient {
            self.moved <= noise_step && self.reference_moved <= noise_step
        } else {
            self.error < tol
        }
    }
}

/// (name, offset, length, zero gradient) of every parameter tensor.
pub fn param_tensors(model: &Model) -> Vec<(String, usize, usize, bool)> {
    let feeds_batchnorm: Vec<usize> = model
        .ops
        .windows(2)
        .filter_map(|w| match w {
            [Op::Conv { bias, .. }, Op::BatchNorm { .. }] => Some(*bias),
            _ => None,
        })
        .collect();
    model.params.iter().map(|p| (p.name.clone(), p.offset, p.len, feeds_batchnorm.contains(&p.offset))).collect()
}

/// (name, offset, length, false) of every BatchNorm running statistic.
pub fn stats_tensors(model: &Model) -> Vec<(String, usize, usize, bool)> {
    let mut out = Vec::new();
    let batchnorms = model.ops.iter().filter_map(|op| match op {
        Op::BatchNorm { shape, stats, .. } => Some((*stats, shape.c)),
        _ => None,
    });
    for (k, (stats, c)) in batchnorms.enumerate() {
        out.push((format!("bn{}.running_mean", k + 1), stats, c, false));
        out.push((format!("bn{}.running_var", k + 1), stats + c, c, false));
    }
    out
}

/// Compares `ours − before` with `reference − before`, tensor by tensor. Non-finite values
/// give an infinite error.
pub fn compare_updates(tensors: &[(String, usize, usize, bool)], before: &[f64], ours: &[f64], reference: &[f64]) -> Vec<TensorCheck> {
    tensors
        .iter()
        .map(|(name, offset, len, zero_gradient)| {
            let r = *offset..offset + len;
            let ours_update: Vec<f64> = ours[r.clone()].iter().zip(&before[r.clone()]).map(|(a, b)| a - b).collect();
            let ref_update: Vec<f64> = reference[r.clone()].iter().zip(&before[r.clone()]).map(|(a, b)| a - b).collect();
            let diff: f64 = ours_update.iter().zip(&ref_update).map(|(a, b)| (a - b).powi(2)).sum();
            let norm: f64 = ref_update.iter().map(|b| b * b).sum();
            let error = if diff.is_finite() { (diff / norm.max(1e-300)).sqrt() } else { f64::INFINITY };
            let largest = |u: &[f64]| u.iter().fold(0f64, |m, v| if v.is_finite() { m.max(v.abs()) } else { f64::INFINITY });
            TensorCheck {
                name: name.clone(),
                error,
                moved: largest(&ours_update),
                reference_moved: largest(&ref_update),
                zero_gradient: *zero_gradient,
            }
        })
        .collect()
}
