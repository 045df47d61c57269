//! The dense family: y = x W + b and its two backward kernels.

use super::uniforms::DenseParams;
use super::{elementwise, Dispatch, Kernels, LayerParams};

/// One dense layer at one batch size.
#[derive(Clone, Copy)]
pub struct DenseLayer<'a> {
    pub n: usize,
    pub inputs: usize,
    pub outputs: usize,
    pub params: LayerParams<'a>,
}

impl DenseLayer<'_> {
    fn uniform(&self) -> DenseParams {
        DenseParams {
            n: self.n as u32,
            inputs: self.inputs as u32,
            outputs: self.outputs as u32,
            w_off: self.params.weight as u32,
            b_off: self.params.bias as u32,
            ..Default::default()
        }
    }
}

impl Kernels {
    pub fn dense_forward(&self, layer: &DenseLayer, x: &wgpu::Buffer, y: &wgpu::Buffer) -> Dispatch {
        self.dispatch("dense_forward", &layer.uniform(), &[x, layer.params.buffer, y], elementwise(layer.n * layer.outputs))
    }

    /// `relu_input`: the layer's input, when it is a ReLU's output; that ReLU's backward is
    /// fused here (dx kept only where the input is positive).
    pub fn dense_backward_input(
        &self,
        layer: &DenseLayer,
        dy: &wgpu::Buffer,
        dx: &wgpu::Buffer,
        relu_input: Option<&wgpu::Buffer>,
    ) -> Dispatch {
        let uniform = DenseParams { relu: relu_input.is_some() as u32, ..layer.uniform() };
        let buffers = [dy, layer.params.buffer, dx, relu_input.unwrap_or(dy)];
        self.dispatch("dense_backward_input", &uniform, &buffers, elementwise(layer.n * layer.inputs))
    }

    /// dW and db into `grads` at the layer's offsets.
    pub fn dense_backward_params(&self, layer: &DenseLayer, x: &wgpu::Buffer, dy: &wgpu::Buffer, grads: &wgpu::Buffer) -> Dispatch {
        let count = layer.inputs * layer.outputs + layer.outputs;
        self.dispatch("dense_backward_params", &layer.uniform(), &[x, dy, grads], elementwise(count))
    }
}
