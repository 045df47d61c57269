//! Log-softmax and the mean cross-entropy, fused, with their gradient and the metrics slot;
//! optionally with the dense layer that computes the logits.

use super::dense::DenseLayer;
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

impl LossLayer<'_> {
    fn uniform(&self) -> LossParams {
        LossParams { n: self.n as u32, classes: self.classes as u32, train: self.train as u32, ..Default::default() }
    }
}

impl Kernels {
    /// Log-probabilities into `logprobs`, loss and accuracy into the metrics slot; with
    /// `train`, also dlogits.
    pub fn softmax_loss(&self, layer: &LossLayer, logits: &wgpu::Buffer, logprobs: &wgpu::Buffer, dlogits: &wgpu::Buffer) -> Dispatch {
        // The dense input and parameters are not read: the labels fill their bindings.
        let buffers = [layer.step, layer.labels, layer.labels, layer.labels, logits, logprobs, dlogits, layer.metrics];
        self.dispatch("softmax_loss", &layer.uniform(), &buffers, (1, 1))
    }

    /// The dense layer before the loss and the loss in one dispatch: each example's logits
    /// from `x` into `logits`, then as [`Kernels::softmax_loss`].
    pub fn dense_softmax_loss(
        &self,
        dense: &DenseLayer,
        layer: &LossLayer,
        x: &wgpu::Buffer,
        logits: &wgpu::Buffer,
        logprobs: &wgpu::Buffer,
        dlogits: &wgpu::Buffer,
    ) -> Dispatch {
        debug_assert_eq!((dense.n, dense.outputs), (layer.n, layer.classes));
        let uniform = LossParams {
            dense: 1,
            inputs: dense.inputs as u32,
            w_off: dense.params.weight as u32,
            b_off: dense.params.bias as u32,
            ..layer.uniform()
        };
        let buffers = [layer.step, x, dense.params.buffer, layer.labels, logits, logprobs, dlogits, layer.metrics];
        self.dispatch("softmax_loss", &uniform, &buffers, (1, 1))
    }
}
