//! Adam over the flat parameter vector; the learning rate and bias corrections come from
//! the per-step uniform, so one bound dispatch serves every step.

use super::uniforms::AdamParams;
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

impl Kernels {
    pub fn adam(&self, count: usize, hp: &Adam, step: &wgpu::Buffer, b: &OptimizerBuffers) -> Dispatch {
        let uniform = AdamParams { count: count as u32, beta1: hp.beta1, beta2: hp.beta2, eps: hp.eps };
        self.dispatch("adam", &uniform, &[step, b.grads, b.params, b.m, b.v], elementwise(count))
    }
}
