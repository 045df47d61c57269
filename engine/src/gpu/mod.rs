//! The GPU host side: the device ([`context`]), the pipeline cache ([`pipelines`]), the
//! uniforms shared with WGSL ([`uniforms`]), and one file per kernel family, each adding
//! constructors to [`Kernels`] that bind buffers into a ready-to-encode [`Dispatch`]. Each
//! family takes a small config struct (which layer, which buffers) rather than a long list
//! of positional arguments.

pub mod adam;
pub mod batchnorm;
pub mod context;
pub mod conv;
pub mod dense;
pub mod gather;
pub mod lesson;
pub mod loss;
pub mod pipelines;
pub mod relu;
pub mod uniforms;

pub use context::{map_read, GpuContext, GpuError};
pub use conv::ConvParamsSplit;
pub use pipelines::{shader_source, Kernels, RegisterBlock, SHADERS};
pub use uniforms::Step;

/// One uniform binding of the lane kernels: WebGPU's default limit, 64 KiB.
pub(crate) const UNIFORM_WINDOW_BYTES: u64 = 64 * 1024;

/// A bound kernel invocation, built once and encoded every step.
#[derive(Clone)]
pub struct Dispatch {
    pub kernel: &'static str,
    pipeline: wgpu::ComputePipeline,
    bind_group: wgpu::BindGroup,
    groups: (u32, u32),
}

impl Dispatch {
    pub fn encode(&self, pass: &mut wgpu::ComputePass) {
        pass.set_pipeline(&self.pipeline);
        pass.set_bind_group(0, &self.bind_group, &[]);
        pass.dispatch_workgroups(self.groups.0, self.groups.1, 1);
    }
}

/// A layer's parameters: the shared flat buffer and where the layer's two tensors start in
/// it (weight and bias; gamma and beta for BatchNorm).
#[derive(Clone, Copy)]
pub struct LayerParams<'a> {
    pub buffer: &'a wgpu::Buffer,
    pub weight: usize,
    pub bias: usize,
}

/// Splits `count` workgroups over x and y so neither exceeds the 65,535 limit.
fn grid(count: usize) -> (u32, u32) {
    let count = count.max(1) as u32;
    let x = count.min(32_768);
    (x, count.div_ceil(x))
}

/// Workgroups of 256 invocations for one invocation per element.
fn elementwise(count: usize) -> (u32, u32) {
    grid(count.div_ceil(256))
}
