//! The grad lesson's second part: the network's gradient from our WGSL backward pass on one
//! real batch, for parameters the user picks, beside central finite differences of the f64
//! CPU reference's loss.

use super::Table;
use crate::data::{Dataset, Split};
use crate::gpu::GpuContext;
use crate::model::Model;
use crate::reference;
use crate::train::{TrainConfig, TrainError, Trainer, Weights};

/// Images in the batch whose loss is differentiated.
pub const BATCH: usize = 16;
/// The central difference's step, in f64.
pub const STEP: f64 = 1e-5;

/// A parameter: a tensor by name and a flat index into it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParamPick {
    pub tensor: String,
    pub index: usize,
}

impl ParamPick {
    pub fn new(tensor: &str, index: usize) -> Self {
        ParamPick { tensor: tensor.to_string(), index }
    }

    /// Reads `TENSOR:INDEX`, e.g. `bn1.gamma:3` (the tensor is checked by [`ParamPick::offset`]).
    pub fn parse(text: &str) -> Result<Self, String> {
        let (tensor, index) = text.split_once(':').ok_or_else(|| format!("{text:?}: write TENSOR:INDEX, e.g. bn1.gamma:3"))?;
        let index = index.trim().parse().map_err(|_| format!("{text:?}: the index must be a whole number, e.g. bn1.gamma:3"))?;
        Ok(ParamPick::new(tensor.trim(), index))
    }

    /// The flat offset in the model's parameters, or why the pick is out of range.
    pub fn offset(&self, model: &Model) -> Result<usize, String> {
        let names = || model.params.iter().map(|p| p.name.as_str()).collect::<Vec<_>>().join(", ");
        let t = model.param(&self.tensor).ok_or_else(|| format!("no tensor named {:?}: pick one of {}", self.tensor, names()))?;
        if self.index >= t.len {
            return Err(format!("{} has {} values: pick an index from 0 to {}", t.name, t.len, t.len - 1));
        }
        Ok(t.offset + self.index)
    }
}

/// A few parameters from every kind of layer.
pub fn default_picks() -> Vec<ParamPick> {
    vec![
        ParamPick::new("conv1.weight", 12),
        ParamPick::new("bn1.gamma", 3),
        ParamPick::new("conv3.weight", 100),
        ParamPick::new("bn3.beta", 5),
        ParamPick::new("dense.weight", 37),
        ParamPick::new("dense.bias", 4),
    ]
}

/// One parameter's derivative, three ways.
#[derive(Clone, Debug, PartialEq)]
pub struct GradRow {
    pub pick: ParamPick,
    /// Our WGSL backward pass (f32).
    pub gpu: f32,
    /// The f64 reference's analytic backward pass.
    pub reference: f64,
    /// (L(p + h) − L(p − h)) / 2h on the f64 reference.
    pub finite_difference: f64,
    /// RMS of the reference gradient over the pick's tensor, the scale errors are judged on.
    pub tensor_rms: f64,
    /// The finite difference's error floor, 10,000 ulps of the loss over 2h: the
    /// floor of that scale where a gradient is exactly zero (a bias BatchNorm cancels).
    pub noise: f64,
}

impl GradRow {
    /// The scale an error is judged on: max(|finite difference|, tensor RMS, noise).
    pub fn scale(&self) -> f64 {
        self.finite_difference.abs().max(self.tensor_rms).max(self.noise)
    }

    /// |gpu − finite difference| / [`GradRow::scale`].
    pub fn relative_error(&self) -> f64 {
        let d = (self.gpu as f64 - self.finite_difference).abs();
        if d.is_nan() {
            return f64::INFINITY;
        }
        d / self.scale()
    }
}

/// What the lesson shows.
#[derive(Clone, Debug, PartialEq)]
pub struct NetGradReport {
    pub batch: usize,
    pub loss: f64,
    pub rows: Vec<GradRow>,
}

impl NetGradReport {
    pub fn table(&self) -> Table {
        let mut t = Table::new(&["parameter", "ours (WGSL)", "finite difference (f64)", "relative error"]);
        for r in &self.rows {
            t.row(vec![
                format!("{}[{}]", r.pick.tensor, r.pick.index),
                format!("{:.6e}", r.gpu),
                format!("{:.6e}", r.finite_difference),
                format!("{:.1e}", r.relative_error()),
            ]);
        }
        t
    }
}

/// The first `batch` training images with `weights`: our gradient of the mean
/// cross-entropy (BatchNorm in training mode) at `picks`, beside the reference's.
pub async fn run(
    ctx: &GpuContext,
    model: &Model,
    weights: &Weights,
    train: &Split,
    picks: &[ParamPick],
) -> Result<NetGradReport, TrainError> {
    let offsets: Vec<usize> = picks.iter().map(|p| p.offset(model)).collect::<Result<_, _>>().map_err(TrainError::Config)?;
    weights.check(model).map_err(TrainError::Weights)?;
    let batch = train.truncated(BATCH);
    let n = batch.len();
    let data = Dataset { train: batch.clone(), test: batch.clone() };
    let config = TrainConfig { batch: n, eval_batch: n, shuffle: false, ..Default::default() };
    let mut trainer = Trainer::new(ctx, model.clone(), &data, config)?;
    trainer.set_weights(weights)?;
    // One step computes the gradient at `weights` (Adam's update comes after it).
    trainer.step()?;
    trainer.gpu_idle().await?;
    let grads = trainer.read_grads().await?;

    let images: Vec<f64> = (0..n).flat_map(|i| batch.image_f32(i)).map(|v| v as f64).collect();
    let params: Vec<f64> = weights.params.iter().map(|&v| v as f64).collect();
    let (loss, reference_grads, _) = reference::loss_and_grads(model, &params, &images, &batch.labels);
    let loss_at = |offset: usize, delta: f64| {
        let mut p = params.clone();
        p[offset] += delta;
        let forward = reference::forward(model, &p, &[], &images, reference::Mode::Train);
        reference::nll_loss(model.classes, forward.logprobs(), &batch.labels).0
    };
    let rows = picks
        .iter()
        .zip(&offsets)
        .map(|(pick, &offset)| {
            let tensor = model.param(&pick.tensor).expect("checked above");
            let slice = &reference_grads[tensor.offset..tensor.offset + tensor.len];
            GradRow {
                pick: pick.clone(),
                gpu: grads[offset],
                reference: reference_grads[offset],
                finite_difference: (loss_at(offset, STEP) - loss_at(offset, -STEP)) / (2.0 * STEP),
                tensor_rms: (slice.iter().map(|g| g * g).sum::<f64>() / slice.len() as f64).sqrt(),
                noise: 1e4 * f64::EPSILON * loss.abs() / (2.0 * STEP),
            }
        })
        .collect();
    Ok(NetGradReport { batch: n, loss, rows })
}
