//! The BatchNorm family: batch statistics (training, updating the running ones) or the
//! running statistics (evaluation), the normalisation with an optional fused ReLU, and
//! its two backward kernels.

use super::uniforms::{BnEvalStatsParams, BnParams, BnStatsParams};
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
    /// The uniform shared by bn_apply and both backward kernels.
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
    /// Batch statistics into `layer.save`; updates the running statistics if asked.
    pub fn bn_stats(&self, layer: &BnLayer, x: &wgpu::Buffer, running: RunningStats, update_running: bool) -> Dispatch {
        let uniform = BnStatsParams {
            n: layer.n as u32,
            c: layer.shape.c as u32,
            hw: layer.shape.spatial() as u32,
            stats_off: running.offset as u32,
            eps: BN_EPS,
            momentum: BN_MOMENTUM,
            update_running: update_running as u32,
            _pad: 0,
        };
        self.dispatch("bn_stats", &uniform, &[x, layer.save, running.buffer], (layer.shape.c as u32, 1))
    }

    /// The running statistics into `layer.save` (evaluation mode).
    pub fn bn_eval_stats(&self, layer: &BnLayer, running: RunningStats) -> Dispatch {
        let c = layer.shape.c as u32;
        let uniform = BnEvalStatsParams { c, stats_off: running.offset as u32, eps: BN_EPS, _pad: 0 };
        self.dispatch("bn_eval_stats", &uniform, &[running.buffer, layer.save], (c.div_ceil(64), 1))
    }

    pub fn bn_apply(&self, layer: &BnLayer, relu: bool, x: &wgpu::Buffer, y: &wgpu::Buffer) -> Dispatch {
        let count = layer.n * layer.shape.len();
        self.dispatch("bn_apply", &layer.uniform(relu), &[x, layer.save, layer.params.buffer, y], elementwise(count))
    }

    /// dgamma and dbeta into `g.grads` at the layer's offsets.
    pub fn bn_backward_params(&self, layer: &BnLayer, g: &BnBackward) -> Dispatch {
        let buffers = [g.x, g.dy, layer.save, g.grads, g.relu_output.unwrap_or(g.x)];
        self.dispatch("bn_backward_params", &layer.uniform(g.relu_output.is_some()), &buffers, (layer.shape.c as u32, 1))
    }

    /// Needs bn_backward_params' dgamma and dbeta already in `g.grads`.
    pub fn bn_backward_input(&self, layer: &BnLayer, g: &BnBackward, dx: &wgpu::Buffer) -> Dispatch {
        let buffers = [g.x, g.dy, layer.save, layer.params.buffer, g.grads, dx, g.relu_output.unwrap_or(g.x)];
        let uniform = layer.uniform(g.relu_output.is_some());
        self.dispatch("bn_backward_input", &uniform, &buffers, elementwise(layer.n * layer.shape.len()))
    }
}
