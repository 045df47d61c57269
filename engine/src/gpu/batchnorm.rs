//! The BatchNorm family: in training, batch statistics (updating the running ones) and
//! the normalisation in one dispatch, and the backward (parameter and input gradients) in
//! one more; in evaluation, the running statistics and the normalisation. Each takes the
//! ReLU after the layer fused.

use super::uniforms::{BnEvalStatsParams, BnParams, BnTrainParams};
use super::{elementwise, Dispatch, Kernels, LayerParams};
use crate::model::{Shape, BN_EPS, BN_MOMENTUM};

/// One BatchNorm layer at one batch size. `params` holds gamma (as `weight`) and beta (as
/// `bias`); `save` holds the statistics in use ([mean C, invstd C]) from forward to backward.
#[derive(Clone, Copy)]
pub struct BnLayer<'a> {
    pub shape: Shape,
    pub n: usize,
    pub params: LayerParams<'a>,
    pub save: &'a wgpu::Buffer,
}

/// The running statistics ([mean C, var C]) at `offset` floats in `buffer`.
#[derive(Clone, Copy)]
pub struct RunningStats<'a> {
    pub buffer: &'a wgpu::Buffer,
    pub offset: usize,
}

/// What a BatchNorm layer's backward kernels read: its input `x`, the gradient `dy` of its
/// output, and the flat gradients `grads` (dgamma and dbeta go there).
#[derive(Clone, Copy)]
pub struct BnBackward<'a> {
    pub x: &'a wgpu::Buffer,
    pub dy: &'a wgpu::Buffer,
    pub grads: &'a wgpu::Buffer,
    /// The output of a ReLU fused after the layer: `dy` is the ReLU's output gradient, and
    /// counts only where this is positive (the ReLU's backward, without its own dispatch).
    pub relu_output: Option<&'a wgpu::Buffer>,
}

impl BnLayer<'_> {
    /// The uniform of bn_apply and bn_backward.
    fn uniform(&self, relu: bool) -> BnParams {
        BnParams {
            n: self.n as u32,
            c: self.shape.c as u32,
            hw: self.shape.spatial() as u32,
            relu: relu as u32,
            gamma_off: self.params.weight as u32,
            beta_off: self.params.bias as u32,
            ..Default::default()
        }
    }
}

impl Kernels {
    /// Training forward in one dispatch: batch statistics into `layer.save` (the running
    /// statistics updated if asked), then `y`, the normalised `x` (ReLU fused if `relu`).
    pub fn bn_forward_train(
        &self,
        layer: &BnLayer,
        x: &wgpu::Buffer,
        running: RunningStats,
        update_running: bool,
        relu: bool,
        y: &wgpu::Buffer,
    ) -> Dispatch {
        let uniform = BnTrainParams {
            n: layer.n as u32,
            c: layer.shape.c as u32,
            hw: layer.shape.spatial() as u32,
            stats_off: running.offset as u32,
            eps: BN_EPS,
            momentum: BN_MOMENTUM,
            update_running: update_running as u32,
            relu: relu as u32,
            gamma_off: layer.params.weight as u32,
            beta_off: layer.params.bias as u32,
            ..Default::default()
        };
        let buffers = [x, layer.save, running.buffer, layer.params.buffer, y];
        self.dispatch("bn_forward_train", &uniform, &buffers, (layer.shape.c as u32, 1))
    }

    /// The running statistics into `layer.save` (evaluation mode).
    pub fn bn_eval_stats(&self, layer: &BnLayer, running: RunningStats) -> Dispatch {
        let c = layer.shape.c as u32;
        let uniform = BnEvalStatsParams { c, stats_off: running.offset as u32, eps: BN_EPS, _pad: 0 };
        self.dispatch("bn_eval_stats", &uniform, &[running.buffer, layer.save], (c.div_ceil(64), 1))
    }

    /// Evaluation: `x` normalised with the statistics in `layer.save`.
    pub fn bn_apply(&self, layer: &BnLayer, relu: bool, x: &wgpu::Buffer, y: &wgpu::Buffer) -> Dispatch {
        let count = layer.n * layer.shape.len();
        self.dispatch("bn_apply", &layer.uniform(relu), &[x, layer.save, layer.params.buffer, y], elementwise(count))
    }

    /// Backward in one dispatch: dgamma and dbeta into `g.grads` at the layer's offsets,
    /// and the input gradient into `dx` unless it is None (a first layer needs none).
    pub fn bn_backward(&self, layer: &BnLayer, g: &BnBackward, dx: Option<&wgpu::Buffer>) -> Dispatch {
        let uniform = BnParams { input_grad: dx.is_some() as u32, ..layer.uniform(g.relu_output.is_some()) };
        // Without dx the kernel writes none; a one-float buffer fills the binding.
        let unused;
        let dx = match dx {
            Some(dx) => dx,
            None => {
                unused = self.ctx.zeroed_buffer("unused BatchNorm input gradient", 1);
                &unused
            }
        };
        let buffers = [g.x, g.dy, layer.save, layer.params.buffer, g.grads, dx, g.relu_output.unwrap_or(g.x)];
        self.dispatch("bn_backward", &uniform, &buffers, (layer.shape.c as u32, 1))
    }
}
