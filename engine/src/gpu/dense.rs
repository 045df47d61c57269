//! The dense family: y = x W + b, and its backward (both gradients in one dispatch).

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

    /// dW and db into `grads` at the layer's offsets and, with `input`, dx in the same
    /// dispatch. `input.relu`: the layer's input is a ReLU's output, and that ReLU's backward
    /// is fused here (dx kept only where the input is positive).
    pub fn dense_backward(&self, layer: &DenseLayer, x: &wgpu::Buffer, dy: &wgpu::Buffer, grads: &wgpu::Buffer, input: DenseInputGrad) -> Dispatch {
        let uniform = DenseParams { relu: input.relu as u32, input_grad: input.dx.is_some() as u32, ..layer.uniform() };
        // Without dx the kernel writes none; a one-float buffer fills the binding.
        let unused;
        let dx = match input.dx {
            Some(dx) => dx,
            None => {
                unused = self.ctx.zeroed_buffer("unused dense input gradient", 1);
                &unused
            }
        };
        let params_count = layer.inputs * layer.outputs + layer.outputs;
        let input_count = if input.dx.is_some() { layer.n * layer.inputs } else { 0 };
        self.dispatch("dense_backward", &uniform, &[x, dy, layer.params.buffer, grads, dx], elementwise(params_count + input_count))
    }
}

/// Where [`Kernels::dense_backward`] writes the input gradient, if anywhere.
#[derive(Clone, Copy, Default)]
pub struct DenseInputGrad<'a> {
    pub dx: Option<&'a wgpu::Buffer>,
    /// The layer's input is a ReLU's output.
    pub relu: bool,
}
