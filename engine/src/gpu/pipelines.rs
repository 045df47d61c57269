//! The WGSL sources, the register block chosen for the adapter, and the pipeline cache that
//! every kernel family (conv, batchnorm, dense, loss, adam, gather) binds its dispatches with.

use super::uniforms::Uniform;
use super::{Dispatch, GpuContext, UNIFORM_WINDOW_BYTES};
use std::cell::RefCell;
use std::collections::HashMap;
use wgpu::util::DeviceExt;

/// Every WGSL file, by name. The build embeds them; tests validate each with naga (through
/// [`shader_source`], which prepends the shared `shaders/include/` files).
pub const SHADERS: &[(&str, &str)] = &[
    ("gather", include_str!("../../../shaders/gather.wgsl")),
    ("conv_forward", include_str!("../../../shaders/conv_forward.wgsl")),
    ("conv_backward_input", include_str!("../../../shaders/conv_backward_input.wgsl")),
    ("conv_backward_params", include_str!("../../../shaders/conv_backward_params.wgsl")),
    ("conv_params_reduce", include_str!("../../../shaders/conv_params_reduce.wgsl")),
    ("conv_pack_weights", include_str!("../../../shaders/conv_pack_weights.wgsl")),
    ("conv_forward_lanes", include_str!("../../../shaders/conv_forward_lanes.wgsl")),
    ("conv_backward_input_lanes", include_str!("../../../shaders/conv_backward_input_lanes.wgsl")),
    ("conv_pack_dy", include_str!("../../../shaders/conv_pack_dy.wgsl")),
    ("conv_backward_params_lanes", include_str!("../../../shaders/conv_backward_params_lanes.wgsl")),
    ("bn_forward_train", include_str!("../../../shaders/bn_forward_train.wgsl")),
    ("bn_eval_stats", include_str!("../../../shaders/bn_eval_stats.wgsl")),
    ("bn_apply", include_str!("../../../shaders/bn_apply.wgsl")),
    ("bn_backward", include_str!("../../../shaders/bn_backward.wgsl")),
    ("relu", include_str!("../../../shaders/relu.wgsl")),
    ("relu_backward", include_str!("../../../shaders/relu_backward.wgsl")),
    ("dense_forward", include_str!("../../../shaders/dense_forward.wgsl")),
    ("dense_backward_input", include_str!("../../../shaders/dense_backward_input.wgsl")),
    ("dense_backward_params", include_str!("../../../shaders/dense_backward_params.wgsl")),
    ("softmax_loss", include_str!("../../../shaders/softmax_loss.wgsl")),
    ("adam", include_str!("../../../shaders/adam.wgsl")),
    ("lesson_selu", include_str!("../../../shaders/lesson_selu.wgsl")),
    ("lesson_eager", include_str!("../../../shaders/lesson_eager.wgsl")),
];

/// Every kernel's uniform struct (`shaders/include/uniforms.wgsl`), prepended to each kernel.
pub const UNIFORMS_WGSL: &str = include_str!("../../../shaders/include/uniforms.wgsl");

/// The tiled convolution kernels, which take their register block from `shaders/include/`.
const TILED: [&str; 3] = ["conv_forward", "conv_backward_input", "conv_backward_params"];

/// Each invocation's share of a convolution. Real GPUs want many small workgroups to fill
/// their cores; CPU adapters (lavapipe, SwiftShader) run a workgroup as SIMD lanes and turn
/// every load whose address differs per lane into a gather, so they want many multiply-adds
/// per such load (measurements: docs/performance.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegisterBlock {
    /// Tiled, 4x4 per invocation, 64 invocations: 32x32 tiles.
    FourByFour,
    /// Tiled, 8x8 per invocation, 32 invocations: 64x32 tiles (32x64 for the weight gradient).
    EightByEight,
    /// No workgroup memory (`conv_*_lanes.wgsl`): per invocation, 8 pixels of its own x 16
    /// channels shared by the workgroup, whose weights are read as uniform vec4; for the
    /// weight gradient, 8 columns x 16 channels with dy as uniform vec4. Convolutions whose
    /// 16 channels' weights exceed one 64 KiB uniform binding, and weight gradients with
    /// few columns ([`super::ConvParamsSplit::lanes`]), use the 8x8 tiles.
    PixelLanes,
}

impl RegisterBlock {
    pub const ALL: [RegisterBlock; 3] = [RegisterBlock::FourByFour, RegisterBlock::EightByEight, RegisterBlock::PixelLanes];

    /// Pixel lanes on llvmpipe (lavapipe), 8x8 tiles on other CPU adapters, 4x4 on GPUs.
    /// SwiftShader ran pixel lanes slower than 8x8 tiles: unlike llvmpipe, it does not turn
    /// a uniform load at a dynamic address into one load for all lanes.
    pub fn for_adapter(info: &wgpu::AdapterInfo) -> Self {
        match info.device_type {
            wgpu::DeviceType::Cpu if info.name.contains("llvmpipe") => RegisterBlock::PixelLanes,
            wgpu::DeviceType::Cpu => RegisterBlock::EightByEight,
            _ => RegisterBlock::FourByFour,
        }
    }

    fn header(self) -> &'static str {
        match self {
            RegisterBlock::FourByFour => include_str!("../../../shaders/include/block_4x4.wgsl"),
            RegisterBlock::EightByEight | RegisterBlock::PixelLanes => include_str!("../../../shaders/include/block_8x8.wgsl"),
        }
    }

    /// Output pixels per forward and input-gradient tile (8 blocks).
    pub(crate) fn pixel_tile(self) -> usize {
        match self {
            RegisterBlock::FourByFour => 32,
            RegisterBlock::EightByEight | RegisterBlock::PixelLanes => 64,
        }
    }

    /// Columns of [weights | bias] per weight-gradient tile (8 blocks; its rows are 32 channels).
    pub(crate) fn column_tile(self) -> usize {
        self.pixel_tile()
    }
}

/// The WGSL source of kernel `name`: the uniforms first, then for the tiled kernels their
/// register block and the shared slice product (`shaders/include/tile.wgsl`), for the
/// pixel-lane ones `shaders/include/lanes.wgsl`.
pub fn shader_source(name: &str, block: RegisterBlock) -> Option<String> {
    let body = SHADERS.iter().find(|(n, _)| *n == name)?.1;
    const TILE: &str = include_str!("../../../shaders/include/tile.wgsl");
    const LANES: &str = include_str!("../../../shaders/include/lanes.wgsl");
    Some(if TILED.contains(&name) {
        format!("{UNIFORMS_WGSL}{}{TILE}{body}", block.header())
    } else if name.ends_with("_lanes") {
        format!("{UNIFORMS_WGSL}{LANES}{body}")
    } else {
        format!("{UNIFORMS_WGSL}{body}")
    })
}

/// Compiled pipelines, created on first use and cached by kernel name. The kernel families
/// (`conv`, `batchnorm`, `dense`, `loss`, `adam`, `gather`) add one constructor per kernel.
pub struct Kernels {
    pub ctx: GpuContext,
    /// The convolutions' register block, chosen for the adapter.
    pub block: RegisterBlock,
    pipelines: RefCell<HashMap<&'static str, wgpu::ComputePipeline>>,
}

impl Kernels {
    pub fn new(ctx: GpuContext) -> Self {
        let block = match RegisterBlock::for_adapter(&ctx.info) {
            // The lanes bind 64 KiB uniform buffers.
            RegisterBlock::PixelLanes if ctx.limits.max_uniform_buffer_binding_size < UNIFORM_WINDOW_BYTES => RegisterBlock::EightByEight,
            block => block,
        };
        Self::with_block(ctx, block)
    }

    /// With a given register block, whatever the adapter (tests run all three).
    pub fn with_block(ctx: GpuContext, block: RegisterBlock) -> Self {
        Kernels { ctx, block, pipelines: RefCell::new(HashMap::new()) }
    }

    fn pipeline(&self, name: &'static str) -> wgpu::ComputePipeline {
        if let Some(p) = self.pipelines.borrow().get(name) {
            return p.clone();
        }
        let source = shader_source(name, self.block).unwrap_or_else(|| panic!("kernel {name} is listed in SHADERS"));
        let device = &self.ctx.device;
        let descriptor = wgpu::ShaderModuleDescriptor { label: Some(name), source: wgpu::ShaderSource::Wgsl(source.into()) };
        // Bounds and division checks stay on. Loop bounding goes: naga wraps every loop in a
        // 64-bit guard counter, which hides the trip counts from the driver's compiler, so it
        // stops unrolling the tile loops and serialises their loads (gfx-rs/wgpu#7698).
        let checks = wgpu::ShaderRuntimeChecks { force_loop_bounding: false, ..wgpu::ShaderRuntimeChecks::checked() };
        // SAFETY: the only check dropped is loop bounding, and every loop in shaders/ counts
        // to a bound fixed when the dispatch is recorded (sizes from the model and batch), or
        // halves a constant stride to zero; none can run forever.
        let module = unsafe { device.create_shader_module_trusted(descriptor, checks) };
        let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some(name),
            layout: None,
            module: &module,
            entry_point: Some("main"),
            compilation_options: Default::default(),
            cache: None,
        });
        self.pipelines.borrow_mut().insert(name, pipeline.clone());
        pipeline
    }

    /// Binds `uniform` at binding 0 and `buffers` at bindings 1.. in order.
    pub(crate) fn dispatch<U: Uniform>(
        &self,
        kernel: &'static str,
        uniform: &U,
        buffers: &[&wgpu::Buffer],
        groups: (u32, u32),
    ) -> Dispatch {
        self.dispatch_resources(kernel, uniform, buffers.iter().map(|b| b.as_entire_binding()).collect(), groups)
    }

    /// [`Kernels::dispatch`] with any binding resources at bindings 1.. in order.
    pub(crate) fn dispatch_resources<U: Uniform>(
        &self,
        kernel: &'static str,
        uniform: &U,
        resources: Vec<wgpu::BindingResource>,
        groups: (u32, u32),
    ) -> Dispatch {
        // The Rust struct must be the one the kernel declares (checked once per bound dispatch).
        let body = SHADERS.iter().find(|(n, _)| *n == kernel).map_or("", |(_, body)| body);
        assert!(body.contains(&format!("var<uniform> p: {};", U::NAME)), "kernel {kernel} does not take a {} uniform", U::NAME);
        let pipeline = self.pipeline(kernel);
        let uniform = self.ctx.device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some(kernel),
            contents: bytemuck::bytes_of(uniform),
            usage: wgpu::BufferUsages::UNIFORM,
        });
        let mut entries = vec![wgpu::BindGroupEntry { binding: 0, resource: uniform.as_entire_binding() }];
        entries.extend(resources.into_iter().enumerate().map(|(i, resource)| wgpu::BindGroupEntry { binding: i as u32 + 1, resource }));
        let bind_group = self.ctx.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some(kernel),
            layout: &pipeline.get_bind_group_layout(0),
            entries: &entries,
        });
        Dispatch { kernel, pipeline, bind_group, groups }
    }
}
