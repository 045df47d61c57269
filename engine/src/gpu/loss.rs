//! Log-softmax and the mean cross-entropy, fused, with their gradient and the metrics slot.

use super::uniforms::LossParams;
use super::{Dispatch, Kernels};

/// The loss at one batch size: the per-step uniform ([`super::Step`]), the batch's labels,
/// and the metrics ring (or evaluation sums) it adds loss and accuracy to.
#[derive(Clone, Copy)]
pub struct LossLayer<'a> {
    pub n: usize,
    pub classes: usize,
    /// Also write d loss / d logits.
    pub train: bool,
    pub step: &'a wgpu::Buffer,
    pub labels: &'a wgpu::Buffer,
    pub metrics: &'a wgpu::Buffer,
}

impl Kernels {
    /// Log-probabilities into `logprobs`, loss and accuracy into the metrics slot; with
    /// `train`, also dlogits.
    pub fn softmax_loss(&self, layer: &LossLayer, logits: &wgpu::Buffer, logprobs: &wgpu::Buffer, dlogits: &wgpu::Buffer) -> Dispatch {
        let uniform = LossParams { n: layer.n as u32, classes: layer.classes as u32, train: layer.train as u32, _pad: 0 };
        let buffers = [layer.step, logits, layer.labels, logprobs, dlogits, layer.metrics];
        self.dispatch("softmax_loss", &uniform, &buffers, (1, 1))
    }
}
