//! ReLU where it is not fused into a convolution or BatchNorm, and its backward.

use super::uniforms::ElementwiseParams;
use super::{elementwise, Dispatch, Kernels};

impl Kernels {
    pub fn relu(&self, count: usize, x: &wgpu::Buffer, y: &wgpu::Buffer) -> Dispatch {
        self.dispatch("relu", &ElementwiseParams { count: count as u32, ..Default::default() }, &[x, y], elementwise(count))
    }

    /// Zeroes `grad` in place where `y` (the ReLU's output) is not positive.
    pub fn relu_backward(&self, count: usize, y: &wgpu::Buffer, grad: &wgpu::Buffer) -> Dispatch {
        self.dispatch("relu_backward", &ElementwiseParams { count: count as u32, ..Default::default() }, &[y, grad], elementwise(count))
    }
}
