//! Adam over the flat parameter vector; the learning rate and bias corrections come from
//! the per-step uniform, so one bound dispatch serves every step. It also finishes the
//! convolutions' weight gradients, summing their partial sums (see [`PendingGradients`]).

use super::uniforms::{AdamParams, AdamSegment};
use super::{elementwise, Dispatch, Kernels};
use crate::model::Adam;

/// The optimizer's buffers: parameters, their gradients and Adam's two moments.
#[derive(Clone, Copy)]
pub struct OptimizerBuffers<'a> {
    pub params: &'a wgpu::Buffer,
    pub grads: &'a wgpu::Buffer,
    pub m: &'a wgpu::Buffer,
    pub v: &'a wgpu::Buffer,
}

/// Weight gradients still in partial sums: `segments` holds `count` [`AdamSegment`]s, each
/// pointing into `partials`. Adam sums them and also stores the sums in the gradients.
#[derive(Clone, Copy)]
pub struct PendingGradients<'a> {
    pub partials: &'a wgpu::Buffer,
    pub segments: &'a wgpu::Buffer,
    pub count: usize,
}

impl Kernels {
    pub fn adam(&self, count: usize, hp: &Adam, step: &wgpu::Buffer, b: &OptimizerBuffers, pending: Option<PendingGradients>) -> Dispatch {
        let placeholder;
        let pending = match pending {
            Some(p) => p,
            None => {
                placeholder = self.ctx.zeroed_buffer("no pending gradients", size_of::<AdamSegment>() / 4);
                PendingGradients { partials: &placeholder, segments: &placeholder, count: 0 }
            }
        };
        let uniform = AdamParams {
            count: count as u32,
            beta1: hp.beta1,
            beta2: hp.beta2,
            eps: hp.eps,
            segments: pending.count as u32,
            ..Default::default()
        };
        self.dispatch("adam", &uniform, &[step, b.grads, b.params, b.m, b.v, pending.partials, pending.segments], elementwise(count))
    }
}
