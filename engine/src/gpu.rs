//! Device acquisition (kept apart from the GPU work so tests and the browser can inject a
//! device), the WGSL sources, cached pipelines, and one constructor per kernel that binds
//! buffers into a ready-to-encode [`Dispatch`].

use crate::model::{Adam, ConvGeom, Shape, BN_EPS, BN_MOMENTUM};
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use wgpu::util::DeviceExt;

/// Every WGSL file, by name. The build embeds them; tests validate each with naga (through
/// [`shader_source`], which prepends the shared `shaders/include/` files).
pub const SHADERS: &[(&str, &str)] = &[
    ("gather", include_str!("../../shaders/gather.wgsl")),
    ("conv_forward", include_str!("../../shaders/conv_forward.wgsl")),
    ("conv_backward_input", include_str!("../../shaders/conv_backward_input.wgsl")),
    ("conv_backward_params", include_str!("../../shaders/conv_backward_params.wgsl")),
    ("conv_params_reduce", include_str!("../../shaders/conv_params_reduce.wgsl")),
    ("conv_pack_weights", include_str!("../../shaders/conv_pack_weights.wgsl")),
    ("conv_forward_lanes", include_str!("../../shaders/conv_forward_lanes.wgsl")),
    ("conv_backward_input_lanes", include_str!("../../shaders/conv_backward_input_lanes.wgsl")),
    ("conv_pack_dy", include_str!("../../shaders/conv_pack_dy.wgsl")),
    ("conv_backward_params_lanes", include_str!("../../shaders/conv_backward_params_lanes.wgsl")),
    ("bn_stats", include_str!("../../shaders/bn_stats.wgsl")),
    ("bn_eval_stats", include_str!("../../shaders/bn_eval_stats.wgsl")),
    ("bn_apply", include_str!("../../shaders/bn_apply.wgsl")),
    ("bn_backward_params", include_str!("../../shaders/bn_backward_params.wgsl")),
    ("bn_backward_input", include_str!("../../shaders/bn_backward_input.wgsl")),
    ("relu", include_str!("../../shaders/relu.wgsl")),
    ("relu_backward", include_str!("../../shaders/relu_backward.wgsl")),
    ("dense_forward", include_str!("../../shaders/dense_forward.wgsl")),
    ("dense_backward_input", include_str!("../../shaders/dense_backward_input.wgsl")),
    ("dense_backward_params", include_str!("../../shaders/dense_backward_params.wgsl")),
    ("softmax_loss", include_str!("../../shaders/softmax_loss.wgsl")),
    ("adam", include_str!("../../shaders/adam.wgsl")),
];

/// The tiled convolution kernels, which take their register block from `shaders/include/`.
const TILED: [&str; 3] = ["conv_forward", "conv_backward_input", "conv_backward_params"];

/// Each invocation's share of a convolution. Real GPUs want many small workgroups to fill
/// their cores; CPU adapters (lavapipe, SwiftShader) run a workgroup as SIMD lanes and turn
/// every load whose address differs per lane into a gather, so they want many multiply-adds
/// per such load. Measured: 4x4 ran an H100 training step in 0.52 ms against 1.0 ms for
/// 8x8; 8x8 took SwiftShader from 112 to about 180 images/s and lavapipe from 370 to 440;
/// pixel lanes took lavapipe's forward convolutions from 92 to about 30 ms per step.
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
    /// few columns ([`ConvParamsSplit::lanes`]), use the 8x8 tiles.
    PixelLanes,
}

impl RegisterBlock {
    pub const ALL: [RegisterBlock; 3] = [RegisterBlock::FourByFour, RegisterBlock::EightByEight, RegisterBlock::PixelLanes];

    /// Pixel lanes on llvmpipe (lavapipe), 8x8 tiles on other CPU adapters, 4x4 on GPUs.
    /// SwiftShader in Chromium ran pixel lanes slower than 8x8 tiles (115 against 190
    /// images/s): unlike llvmpipe, it does not turn a uniform load at a dynamic address into
    /// one load for all lanes.
    pub fn for_adapter(info: &wgpu::AdapterInfo) -> Self {
        match info.device_type {
            wgpu::DeviceType::Cpu if info.name.contains("llvmpipe") => RegisterBlock::PixelLanes,
            wgpu::DeviceType::Cpu => RegisterBlock::EightByEight,
            _ => RegisterBlock::FourByFour,
        }
    }

    fn header(self) -> &'static str {
        match self {
            RegisterBlock::FourByFour => include_str!("../../shaders/include/block_4x4.wgsl"),
            RegisterBlock::EightByEight | RegisterBlock::PixelLanes => include_str!("../../shaders/include/block_8x8.wgsl"),
        }
    }

    /// Output pixels per forward and input-gradient tile (8 blocks).
    fn pixel_tile(self) -> usize {
        match self {
            RegisterBlock::FourByFour => 32,
            RegisterBlock::EightByEight | RegisterBlock::PixelLanes => 64,
        }
    }

    /// Columns of [weights | bias] per weight-gradient tile (8 blocks; its rows are 32 channels).
    fn column_tile(self) -> usize {
        self.pixel_tile()
    }
}

/// The WGSL source of kernel `name`; the tiled ones get their register block and the shared
/// slice product (`shaders/include/tile.wgsl`) prepended, the pixel-lane ones
/// `shaders/include/lanes.wgsl`.
pub fn shader_source(name: &str, block: RegisterBlock) -> Option<String> {
    let body = SHADERS.iter().find(|(n, _)| *n == name)?.1;
    const TILE: &str = include_str!("../../shaders/include/tile.wgsl");
    const LANES: &str = include_str!("../../shaders/include/lanes.wgsl");
    Some(if TILED.contains(&name) {
        format!("{}{TILE}{body}", block.header())
    } else if name.ends_with("_lanes") {
        format!("{LANES}{body}")
    } else {
        body.to_string()
    })
}

/// Why no GPU could be used.
#[derive(Debug, thiserror::Error)]
pub enum GpuError {
    #[error("no GPU adapter found ({0}). Natively install a Vulkan driver (e.g. Debian's mesa-vulkan-drivers); in a browser, use one with WebGPU enabled.")]
    NoAdapter(String),
    #[error("the adapter refused a device: {0}")]
    NoDevice(String),
    #[error("the GPU reported an error: {0}")]
    Device(String),
    #[error("the GPU device was lost ({0}). Start again to get a new device.")]
    Lost(String),
    #[error("reading back from the GPU failed: {0}")]
    Readback(String),
}

/// A device and queue plus what we learned about the adapter.
#[derive(Clone)]
pub struct GpuContext {
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    pub info: wgpu::AdapterInfo,
    pub limits: wgpu::Limits,
    pub timestamps: bool,
    /// First uncaptured error or device loss, reported by wgpu's callbacks.
    pub fault: Arc<Mutex<Option<GpuError>>>,
}

impl GpuContext {
    /// Picks the default adapter and requests a device with the limits we need.
    pub async fn acquire() -> Result<Self, GpuError> {
        let instance = wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env());
        let adapter = instance
            .request_adapter(&wgpu::RequestAdapterOptions {
                power_preference: wgpu::PowerPreference::HighPerformance,
                ..Default::default()
            })
            .await
            .map_err(|e| GpuError::NoAdapter(e.to_string()))?;
        Self::from_adapter(&adapter).await
    }

    /// Requests a device from a given adapter (tests and `info` pick adapters themselves).
    pub async fn from_adapter(adapter: &wgpu::Adapter) -> Result<Self, GpuError> {
        let info = adapter.get_info();
        let supported = adapter.limits();
        // The dataset lives in one storage buffer: ask for as much as the adapter allows.
        // Kernels bind up to 6 storage buffers; downlevel defaults allow only 4.
        let limits = wgpu::Limits {
            max_storage_buffer_binding_size: supported.max_storage_buffer_binding_size,
            max_buffer_size: supported.max_buffer_size,
            // WebGPU's default; the lane kernels bind 64 KiB of weights.
            max_uniform_buffer_binding_size: supported.max_uniform_buffer_binding_size.min(LaneWeights::BINDING_BYTES),
            max_storage_buffers_per_shader_stage: supported.max_storage_buffers_per_shader_stage.min(8),
            ..wgpu::Limits::downlevel_defaults()
        };
        let timestamps = adapter.features().contains(wgpu::Features::TIMESTAMP_QUERY);
        let features = if timestamps { wgpu::Features::TIMESTAMP_QUERY } else { wgpu::Features::empty() };
        let (device, queue) = adapter
            .request_device(&wgpu::DeviceDescriptor {
                label: Some("engine"),
                required_features: features,
                required_limits: limits.clone(),
                ..Default::default()
            })
            .await
            .map_err(|e| GpuError::NoDevice(e.to_string()))?;
        let fault = Arc::new(Mutex::new(None));
        let on_error = fault.clone();
        device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
            let mut slot = on_error.lock().unwrap_or_else(|p| p.into_inner());
            slot.get_or_insert(GpuError::Device(e.to_string()));
        }));
        let on_lost = fault.clone();
        device.set_device_lost_callback(move |reason, message| {
            let mut slot = on_lost.lock().unwrap_or_else(|p| p.into_inner());
            slot.get_or_insert(GpuError::Lost(format!("{reason:?}: {message}")));
        });
        Ok(GpuContext { device, queue, info, limits, timestamps, fault })
    }

    /// Returns (and clears) the first error wgpu reported since the last check.
    pub fn take_fault(&self) -> Option<GpuError> {
        self.fault.lock().unwrap_or_else(|p| p.into_inner()).take()
    }

    /// One line naming the adapter and backend.
    pub fn describe(&self) -> String {
        format!("{} ({:?}, {:?})", self.info.name, self.info.backend, self.info.device_type)
    }

    pub fn storage_buffer(&self, label: &str, contents: &[u8]) -> wgpu::Buffer {
        // Zero-length bindings are invalid: keep at least one word.
        let padded;
        let contents = if contents.len() < 4 {
            padded = [0u8; 4];
            &padded[..]
        } else {
            contents
        };
        self.device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some(label),
            contents,
            usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST,
        })
    }

    pub fn zeroed_buffer(&self, label: &str, floats: usize) -> wgpu::Buffer {
        self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(label),
            size: (floats.max(1) * 4) as u64,
            usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        })
    }

    /// Copies `buffer` to a staging buffer and waits for it (setup and tests only,
    /// never in the training loop).
    pub async fn read_f32(&self, buffer: &wgpu::Buffer) -> Result<Vec<f32>, GpuError> {
        let bytes = self.read_bytes(buffer).await?;
        Ok(bytemuck::cast_slice(&bytes).to_vec())
    }

    pub async fn read_bytes(&self, buffer: &wgpu::Buffer) -> Result<Vec<u8>, GpuError> {
        let staging = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("read-back"),
            size: buffer.size(),
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let mut encoder = self.device.create_command_encoder(&Default::default());
        encoder.copy_buffer_to_buffer(buffer, 0, &staging, 0, buffer.size());
        self.queue.submit([encoder.finish()]);
        map_read(self, &staging).await?;
        let bytes = staging.get_mapped_range(..).map_err(|e| GpuError::Readback(e.to_string()))?.to_vec();
        staging.unmap();
        Ok(bytes)
    }
}

/// Maps `buffer` for reading and waits: natively by polling the device, in the browser
/// by letting the event loop run the callback.
pub async fn map_read(ctx: &GpuContext, buffer: &wgpu::Buffer) -> Result<(), GpuError> {
    let (sender, receiver) = futures_channel::oneshot::channel();
    buffer.map_async(wgpu::MapMode::Read, .., move |r| {
        let _ = sender.send(r);
    });
    #[cfg(not(target_arch = "wasm32"))]
    ctx.device.poll(wgpu::PollType::wait_indefinitely()).map_err(|e| GpuError::Readback(e.to_string()))?;
    let result = receiver.await.map_err(|_| GpuError::Readback("the map callback was dropped".into()))?;
    if let Some(fault) = ctx.take_fault() {
        return Err(fault);
    }
    result.map_err(|e| GpuError::Readback(e.to_string()))
}

/// Per-step values every step-aware kernel reads from one small uniform buffer.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, bytemuck::Pod, bytemuck::Zeroable)]
pub struct StepUniform {
    /// First permutation index of this batch.
    pub start: u32,
    /// Examples of the batch that count in the metrics (a short last batch has fewer).
    pub valid: u32,
    /// Metrics slot the loss kernel writes.
    pub slot: u32,
    /// 0: overwrite the slot, 1: add to it.
    pub accumulate: u32,
    pub lr: f32,
    /// Adam's bias corrections 1 - beta1^t and 1 - beta2^t.
    pub bc1: f32,
    pub bc2: f32,
    pub _pad: f32,
}

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

/// Splits `count` workgroups over x and y so neither exceeds the 65,535 limit.
fn grid(count: usize) -> (u32, u32) {
    let count = count.max(1) as u32;
    let x = count.min(32_768);
    (x, count.div_ceil(x))
}

/// How the weight gradient's GEMM splits its long reduction (over batch x output pixels)
/// into chunks, each a workgroup per output tile writing partial sums: a real GPU needs
/// hundreds of workgroups, and the output has only one to a few dozen tiles.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ConvParamsSplit {
    pub splits: usize,
    /// Rows of the reduction per chunk, a multiple of the kernel's 16-row slices.
    pub m_chunk: usize,
}

impl ConvParamsSplit {
    /// Keep chunks at least this long, so the partial sums stay a small extra cost.
    const MIN_CHUNK: usize = 256;

    /// About this many workgroups per weight-gradient dispatch: hundreds for a real GPU's
    /// cores; a few dozen for a CPU adapter's threads, where each workgroup's set-up (the
    /// columns' kernel taps) is better spread over long chunks.
    fn target_workgroups(block: RegisterBlock) -> usize {
        match block {
            RegisterBlock::FourByFour => 512,
            RegisterBlock::EightByEight | RegisterBlock::PixelLanes => 32,
        }
    }

    pub fn new(g: &ConvGeom, n: usize, block: RegisterBlock) -> Self {
        let m_total = (n * g.output.h * g.output.w).max(1);
        if Self::lanes(g, block) {
            // As many rows as one uniform binding of packed dy holds.
            let m_chunk = LaneWeights::MAX_ROWS;
            return ConvParamsSplit { splits: m_total.div_ceil(m_chunk), m_chunk };
        }
        let tiles = g.output.c.div_ceil(32) * Self::columns(g).div_ceil(block.column_tile());
        let wanted = Self::target_workgroups(block).div_ceil(tiles).min(m_total.div_ceil(Self::MIN_CHUNK)).max(1);
        let m_chunk = m_total.div_ceil(wanted).next_multiple_of(16);
        ConvParamsSplit { splits: m_total.div_ceil(m_chunk), m_chunk }
    }

    /// Whether the weight gradient runs as pixel lanes (`conv_backward_params_lanes.wgsl`):
    /// only with enough columns to fill half a workgroup's 512 column slots. On lavapipe the
    /// second convolution's 801 columns ran in 24 ms rather than 44 as 8x8 tiles, the third's
    /// 289 in 3.8 rather than 5.5; the first's 26 took 80 ms rather than 13.
    pub fn lanes(g: &ConvGeom, block: RegisterBlock) -> bool {
        block == RegisterBlock::PixelLanes && Self::columns(g) >= LaneWeights::PIXELS / 2
    }

    /// Columns of the weight gradient's GEMM: one per weight of an output channel, and the bias.
    fn columns(g: &ConvGeom) -> usize {
        g.input.c * g.kernel * g.kernel + 1
    }

    /// Floats of scratch the partial sums need.
    pub fn scratch_len(g: &ConvGeom, n: usize, block: RegisterBlock) -> usize {
        Self::new(g, n, block).splits * g.output.c * Self::columns(g)
    }
}

/// How the lane kernels (`conv_*_lanes.wgsl`) get a convolution's weights: packed into
/// blocks of 16 channels x `rows`, each block bound as one uniform buffer of 64 KiB.
#[derive(Clone, Copy, Debug, PartialEq)]
struct LaneWeights {
    blocks: usize,
    rows: usize,
    /// Floats from one block to the next, a multiple of the 256-byte binding alignment.
    block_stride: usize,
}

impl LaneWeights {
    const CHANNELS: usize = 16;
    /// Rows of 16 channels in one binding: the shaders' `array<vec4<f32>, 4096>`.
    const MAX_ROWS: usize = 1024;
    const BINDING_BYTES: u64 = (Self::MAX_ROWS * Self::CHANNELS * 4) as u64;
    /// Pixels per workgroup: 64 invocations of 8.
    const PIXELS: usize = 512;

    /// `None` when a block's rows do not fit one binding.
    fn new(channels: usize, rows: usize) -> Option<Self> {
        (rows <= Self::MAX_ROWS).then(|| LaneWeights {
            blocks: channels.div_ceil(Self::CHANNELS),
            rows,
            block_stride: (rows * Self::CHANNELS).next_multiple_of(64),
        })
    }

    /// Forward: blocks of output channels, rows (input channel, tap).
    fn forward(g: &ConvGeom) -> Option<Self> {
        Self::new(g.output.c, g.input.c * g.kernel * g.kernel)
    }

    /// Input gradient: blocks of input channels, rows (output channel, tap).
    fn input_gradient(g: &ConvGeom) -> Option<Self> {
        Self::new(g.input.c, g.output.c * g.kernel * g.kernel)
    }

    /// The packed buffer: the last block's binding reaches 64 KiB past its start.
    fn buffer_bytes(&self) -> u64 {
        ((self.blocks - 1) * self.block_stride * 4) as u64 + Self::BINDING_BYTES
    }

    fn binding<'a>(&self, packed: &'a wgpu::Buffer, block: usize) -> wgpu::BindingResource<'a> {
        Self::window(packed, block * self.block_stride * 4)
    }

    /// The 64 KiB of `packed` from `offset` bytes, as the lane kernels' uniform binding.
    fn window(packed: &wgpu::Buffer, offset: usize) -> wgpu::BindingResource<'_> {
        wgpu::BindingResource::Buffer(wgpu::BufferBinding {
            buffer: packed,
            offset: offset as u64,
            size: wgpu::BufferSize::new(Self::BINDING_BYTES),
        })
    }
}

fn elementwise(count: usize) -> (u32, u32) {
    grid(count.div_ceil(256))
}

/// Compiled pipelines, created on first use and cached by kernel name.
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
            RegisterBlock::PixelLanes if ctx.limits.max_uniform_buffer_binding_size < LaneWeights::BINDING_BYTES => {
                RegisterBlock::EightByEight
            }
            block => block,
        };
        Self::with_block(ctx, block)
    }

    /// With a given register block, whatever the adapter (tests run both).
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
        // stops unrolling the tile loops and serialises their loads (gfx-rs/wgpu#7698; on an
        // H100 the convolutions ran several times slower with it).
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

    /// Binds `uniform words` at binding 0 and `buffers` at bindings 1.. in order.
    fn dispatch(&self, kernel: &'static str, words: &[u32], buffers: &[&wgpu::Buffer], groups: (u32, u32)) -> Dispatch {
        self.dispatch_resources(kernel, words, buffers.iter().map(|b| b.as_entire_binding()).collect(), groups)
    }

    /// [`Kernels::dispatch`] with any binding resources at bindings 1.. in order.
    fn dispatch_resources(
        &self,
        kernel: &'static str,
        words: &[u32],
        resources: Vec<wgpu::BindingResource>,
        groups: (u32, u32),
    ) -> Dispatch {
        let pipeline = self.pipeline(kernel);
        let mut padded = words.to_vec();
        padded.resize(words.len().div_ceil(4).max(1) * 4, 0);
        let uniform = self.ctx.device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some(kernel),
            contents: bytemuck::cast_slice(&padded),
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

    /// Gathers `n` images (f32 in [0,1]) and labels from packed u8 data through `perm`.
    #[allow(clippy::too_many_arguments)]
    pub fn gather(
        &self,
        n: usize,
        perm_len: usize,
        step: &wgpu::Buffer,
        pixels: &wgpu::Buffer,
        labels: &wgpu::Buffer,
        perm: &wgpu::Buffer,
        out_images: &wgpu::Buffer,
        out_labels: &wgpu::Buffer,
    ) -> Dispatch {
        let px = crate::data::IMAGE_PIXELS;
        self.dispatch(
            "gather",
            &[n as u32, px as u32, perm_len as u32],
            &[step, pixels, labels, perm, out_images, out_labels],
            elementwise(n * px),
        )
    }

    fn conv_words(g: &ConvGeom, n: usize) -> Vec<u32> {
        [n, g.input.c, g.input.h, g.input.w, g.output.c, g.output.h, g.output.w, g.kernel, g.stride, g.pad_top, g.pad_left]
            .iter()
            .map(|&v| v as u32)
            .collect()
    }

    /// The lane kernels' weight layouts for this convolution (forward, input gradient), each
    /// `None` where the tiled kernel runs instead.
    fn lane_weights(&self, g: &ConvGeom) -> (Option<LaneWeights>, Option<LaneWeights>) {
        match self.block {
            RegisterBlock::PixelLanes => (LaneWeights::forward(g), LaneWeights::input_gradient(g)),
            _ => (None, None),
        }
    }

    /// Bytes of the packed-weights buffer ([`Kernels::packed_weights_buffer`]) that this
    /// convolution needs: for its weights (forward and input gradient) and, when `train`,
    /// for dy of batch `n` (weight gradient); 0 when it needs none.
    pub fn packed_weights_bytes(&self, g: &ConvGeom, n: usize, train: bool) -> u64 {
        let (forward, input) = self.lane_weights(g);
        let weights = [forward, input].iter().flatten().map(LaneWeights::buffer_bytes).max().unwrap_or(0);
        let dy = if train && ConvParamsSplit::lanes(g, self.block) { Self::packed_dy(g, n).1 } else { 0 };
        weights.max(dy)
    }

    /// Packed dy's rows per block of 16 channels (aligned for the bindings) and its bytes.
    fn packed_dy(g: &ConvGeom, n: usize) -> (usize, u64) {
        let m_stride = (n * g.output.h * g.output.w).next_multiple_of(4);
        let blocks = g.output.c.div_ceil(LaneWeights::CHANNELS);
        // The last chunk's binding may reach 64 KiB past the last block's start.
        (m_stride, (blocks * m_stride * LaneWeights::CHANNELS * 4) as u64 + LaneWeights::BINDING_BYTES)
    }

    /// A scratch buffer for packed weights, written and then read as uniforms within a step.
    pub fn packed_weights_buffer(&self, bytes: u64) -> wgpu::Buffer {
        self.ctx.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("packed weights"),
            size: bytes.max(4),
            usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::UNIFORM,
            mapped_at_creation: false,
        })
    }

    /// Packs W (at `w_off` in `params`) into `packed` as `lanes` lays it out.
    fn pack_weights(
        &self,
        g: &ConvGeom,
        lanes: &LaneWeights,
        transpose: bool,
        params: &wgpu::Buffer,
        w_off: usize,
        packed: &wgpu::Buffer,
    ) -> Dispatch {
        let count = lanes.blocks * lanes.rows * LaneWeights::CHANNELS;
        let words = [g.output.c, g.input.c, g.kernel * g.kernel, w_off, transpose as usize, lanes.rows, count, lanes.block_stride];
        self.dispatch("conv_pack_weights", &words.map(|v| v as u32), &[params, packed], elementwise(count))
    }

    /// y = conv(x, W) + b (then ReLU if `relu`); W and b live at offsets in `params`.
    /// `packed` is scratch of at least [`Kernels::packed_weights_bytes`].
    #[allow(clippy::too_many_arguments)]
    pub fn conv_forward(
        &self,
        g: &ConvGeom,
        n: usize,
        relu: bool,
        x: &wgpu::Buffer,
        params: &wgpu::Buffer,
        w_off: usize,
        b_off: usize,
        y: &wgpu::Buffer,
        packed: &wgpu::Buffer,
    ) -> Vec<Dispatch> {
        let mut words = Self::conv_words(g, n);
        let pixels = n * g.output.h * g.output.w;
        if let (Some(lanes), _) = self.lane_weights(g) {
            // A pack, then one dispatch per block of 16 output channels.
            let mut dispatches = vec![self.pack_weights(g, &lanes, false, params, w_off, packed)];
            for block in 0..lanes.blocks {
                let mut words = words.clone();
                words.extend([(block * LaneWeights::CHANNELS) as u32, b_off as u32, relu as u32]);
                let resources =
                    vec![x.as_entire_binding(), params.as_entire_binding(), y.as_entire_binding(), lanes.binding(packed, block)];
                dispatches.push(self.dispatch_resources(
                    "conv_forward_lanes",
                    &words,
                    resources,
                    (pixels.div_ceil(LaneWeights::PIXELS) as u32, 1),
                ));
            }
            return dispatches;
        }
        words.extend([w_off as u32, b_off as u32, relu as u32]);
        // One workgroup per tile of output pixels x 32 channels (the batch is at most
        // MAX_BATCH, so the pixel tiles stay well under the 65,535 limit).
        let tiles = (pixels.div_ceil(self.block.pixel_tile()) as u32, g.output.c.div_ceil(32) as u32);
        vec![self.dispatch("conv_forward", &words, &[x, params, y], tiles)]
    }

    /// dx from dy and W (at `w_off` in `params`); `packed` as for [`Kernels::conv_forward`].
    #[allow(clippy::too_many_arguments)]
    pub fn conv_backward_input(
        &self,
        g: &ConvGeom,
        n: usize,
        dy: &wgpu::Buffer,
        params: &wgpu::Buffer,
        w_off: usize,
        dx: &wgpu::Buffer,
        packed: &wgpu::Buffer,
    ) -> Vec<Dispatch> {
        let mut words = Self::conv_words(g, n);
        let phase_pixels = n * g.input.h.div_ceil(g.stride) * g.input.w.div_ceil(g.stride);
        let phases = g.stride * g.stride;
        if let (_, Some(lanes)) = self.lane_weights(g) {
            // A pack, then one dispatch per block of 16 input channels, each over every phase.
            let mut dispatches = vec![self.pack_weights(g, &lanes, true, params, w_off, packed)];
            let groups = (phase_pixels.div_ceil(LaneWeights::PIXELS), phases);
            assert!(groups.0 <= 65_535 && groups.1 <= 65_535, "conv_backward_input: {groups:?} workgroups exceed the dispatch limit");
            for block in 0..lanes.blocks {
                let mut words = words.clone();
                words.push((block * LaneWeights::CHANNELS) as u32);
                let resources = vec![dy.as_entire_binding(), dx.as_entire_binding(), lanes.binding(packed, block)];
                dispatches.push(self.dispatch_resources(
                    "conv_backward_input_lanes",
                    &words,
                    resources,
                    (groups.0 as u32, groups.1 as u32),
                ));
            }
            return dispatches;
        }
        words.push(w_off as u32);
        // One workgroup per tile of pixels x 32 channels of each of the stride x stride phases.
        let tiles = (phase_pixels.div_ceil(self.block.pixel_tile()), g.input.c.div_ceil(32) * phases);
        assert!(tiles.0 <= 65_535 && tiles.1 <= 65_535, "conv_backward_input: {tiles:?} workgroups exceed the dispatch limit");
        vec![self.dispatch("conv_backward_input", &words, &[dy, params, dx], (tiles.0 as u32, tiles.1 as u32))]
    }

    /// Writes dW and db into `grads` at the given offsets: partial sums per chunk of the
    /// batch into `partials` (at least [`ConvParamsSplit::scratch_len`] floats), then their
    /// sum. With `bias_feeds_bn` the bias gradient is written as exactly zero (a following
    /// BatchNorm cancels any bias). `packed` as for [`Kernels::conv_forward`].
    #[allow(clippy::too_many_arguments)]
    pub fn conv_backward_params(
        &self,
        g: &ConvGeom,
        n: usize,
        bias_feeds_bn: bool,
        x: &wgpu::Buffer,
        dy: &wgpu::Buffer,
        partials: &wgpu::Buffer,
        grads: &wgpu::Buffer,
        w_off: usize,
        b_off: usize,
        packed: &wgpu::Buffer,
    ) -> Vec<Dispatch> {
        let split = ConvParamsSplit::new(g, n, self.block);
        let columns = ConvParamsSplit::columns(g);
        let reduce_words = [g.output.c, columns - 1, split.splits, w_off, b_off, bias_feeds_bn as usize].map(|v| v as u32);
        let reduce = self.dispatch("conv_params_reduce", &reduce_words, &[partials, grads], elementwise(g.output.c * columns));
        let words = Self::conv_words(g, n);
        if ConvParamsSplit::lanes(g, self.block) {
            // dy packed, then one dispatch per block of 16 output channels x chunk of rows.
            let m_total = n * g.output.h * g.output.w;
            let (m_stride, _) = Self::packed_dy(g, n);
            let blocks = g.output.c.div_ceil(LaneWeights::CHANNELS);
            let count = blocks * m_total * LaneWeights::CHANNELS;
            let pack_words = [g.output.c, g.output.h * g.output.w, m_total, m_stride, count].map(|v| v as u32);
            let mut dispatches = vec![self.dispatch("conv_pack_dy", &pack_words, &[dy, packed], elementwise(count))];
            let groups = (columns.div_ceil(LaneWeights::PIXELS) as u32, 1);
            for block in 0..blocks {
                for chunk in 0..split.splits {
                    let m_begin = chunk * split.m_chunk;
                    let mut words = words.clone();
                    words.extend([block * LaneWeights::CHANNELS, m_begin, m_total.min(m_begin + split.m_chunk), chunk].map(|v| v as u32));
                    let rows = LaneWeights::window(packed, (block * m_stride + m_begin) * LaneWeights::CHANNELS * 4);
                    let resources = vec![x.as_entire_binding(), partials.as_entire_binding(), rows];
                    dispatches.push(self.dispatch_resources("conv_backward_params_lanes", &words, resources, groups));
                }
            }
            dispatches.push(reduce);
            return dispatches;
        }
        let col_tiles = columns.div_ceil(self.block.column_tile());
        let mut words = words;
        words.extend([split.m_chunk as u32, col_tiles as u32]);
        // One workgroup per 32 output channels x a tile of columns of [weights | bias] x chunk of m.
        let tiles = (g.output.c.div_ceil(32) as u32, (col_tiles * split.splits) as u32);
        vec![self.dispatch("conv_backward_params", &words, &[x, dy, partials], tiles), reduce]
    }

    /// Batch statistics into `save` ([mean C, invstd C]); updates running stats if asked.
    #[allow(clippy::too_many_arguments)]
    pub fn bn_stats(
        &self,
        shape: Shape,
        n: usize,
        update_running: bool,
        x: &wgpu::Buffer,
        save: &wgpu::Buffer,
        stats: &wgpu::Buffer,
        stats_off: usize,
    ) -> Dispatch {
        let words = [
            n as u32,
            shape.c as u32,
            shape.spatial() as u32,
            stats_off as u32,
            BN_EPS.to_bits(),
            BN_MOMENTUM.to_bits(),
            update_running as u32,
        ];
        self.dispatch("bn_stats", &words, &[x, save, stats], (shape.c as u32, 1))
    }

    pub fn bn_eval_stats(&self, shape: Shape, stats: &wgpu::Buffer, stats_off: usize, save: &wgpu::Buffer) -> Dispatch {
        let words = [shape.c as u32, stats_off as u32, BN_EPS.to_bits()];
        self.dispatch("bn_eval_stats", &words, &[stats, save], ((shape.c as u32).div_ceil(64), 1))
    }

    /// The uniform shared by bn_apply and both BatchNorm backward kernels.
    fn bn_words(shape: Shape, n: usize, relu: bool, gamma_off: usize, beta_off: usize) -> [u32; 6] {
        [n as u32, shape.c as u32, shape.spatial() as u32, relu as u32, gamma_off as u32, beta_off as u32]
    }

    #[allow(clippy::too_many_arguments)]
    pub fn bn_apply(
        &self,
        shape: Shape,
        n: usize,
        relu: bool,
        x: &wgpu::Buffer,
        save: &wgpu::Buffer,
        params: &wgpu::Buffer,
        gamma_off: usize,
        beta_off: usize,
        y: &wgpu::Buffer,
    ) -> Dispatch {
        let words = Self::bn_words(shape, n, relu, gamma_off, beta_off);
        self.dispatch("bn_apply", &words, &[x, save, params, y], elementwise(n * shape.len()))
    }

    #[allow(clippy::too_many_arguments)]
    pub fn bn_backward_params(
        &self,
        shape: Shape,
        n: usize,
        x: &wgpu::Buffer,
        dy: &wgpu::Buffer,
        save: &wgpu::Buffer,
        grads: &wgpu::Buffer,
        gamma_off: usize,
        beta_off: usize,
    ) -> Dispatch {
        let words = Self::bn_words(shape, n, false, gamma_off, beta_off);
        self.dispatch("bn_backward_params", &words, &[x, dy, save, grads], (shape.c as u32, 1))
    }

    /// Needs bn_backward_params' dgamma and dbeta already in `grads`.
    #[allow(clippy::too_many_arguments)]
    pub fn bn_backward_input(
        &self,
        shape: Shape,
        n: usize,
        x: &wgpu::Buffer,
        dy: &wgpu::Buffer,
        save: &wgpu::Buffer,
        params: &wgpu::Buffer,
        grads: &wgpu::Buffer,
        gamma_off: usize,
        beta_off: usize,
        dx: &wgpu::Buffer,
    ) -> Dispatch {
        let words = Self::bn_words(shape, n, false, gamma_off, beta_off);
        self.dispatch("bn_backward_input", &words, &[x, dy, save, params, grads, dx], elementwise(n * shape.len()))
    }

    pub fn relu(&self, count: usize, x: &wgpu::Buffer, y: &wgpu::Buffer) -> Dispatch {
        self.dispatch("relu", &[count as u32], &[x, y], elementwise(count))
    }

    /// Zeroes `grad` in place where `y` (the ReLU's output) is not positive.
    pub fn relu_backward(&self, count: usize, y: &wgpu::Buffer, grad: &wgpu::Buffer) -> Dispatch {
        self.dispatch("relu_backward", &[count as u32], &[y, grad], elementwise(count))
    }

    #[allow(clippy::too_many_arguments)]
    pub fn dense_forward(
        &self,
        n: usize,
        inputs: usize,
        outputs: usize,
        x: &wgpu::Buffer,
        params: &wgpu::Buffer,
        w_off: usize,
        b_off: usize,
        y: &wgpu::Buffer,
    ) -> Dispatch {
        let words = [n, inputs, outputs, w_off, b_off].map(|v| v as u32);
        self.dispatch("dense_forward", &words, &[x, params, y], elementwise(n * outputs))
    }

    #[allow(clippy::too_many_arguments)]
    pub fn dense_backward_input(
        &self,
        n: usize,
        inputs: usize,
        outputs: usize,
        dy: &wgpu::Buffer,
        params: &wgpu::Buffer,
        w_off: usize,
        dx: &wgpu::Buffer,
    ) -> Dispatch {
        let words = [n, inputs, outputs, w_off].map(|v| v as u32);
        self.dispatch("dense_backward_input", &words, &[dy, params, dx], elementwise(n * inputs))
    }

    #[allow(clippy::too_many_arguments)]
    pub fn dense_backward_params(
        &self,
        n: usize,
        inputs: usize,
        outputs: usize,
        x: &wgpu::Buffer,
        dy: &wgpu::Buffer,
        grads: &wgpu::Buffer,
        w_off: usize,
        b_off: usize,
    ) -> Dispatch {
        let words = [n, inputs, outputs, w_off, b_off].map(|v| v as u32);
        self.dispatch("dense_backward_params", &words, &[x, dy, grads], elementwise(inputs * outputs + outputs))
    }

    /// Log-softmax, loss and accuracy into a metrics slot; with `train`, also dlogits.
    #[allow(clippy::too_many_arguments)]
    pub fn softmax_loss(
        &self,
        n: usize,
        classes: usize,
        train: bool,
        step: &wgpu::Buffer,
        logits: &wgpu::Buffer,
        labels: &wgpu::Buffer,
        logprobs: &wgpu::Buffer,
        dlogits: &wgpu::Buffer,
        metrics: &wgpu::Buffer,
    ) -> Dispatch {
        let words = [n as u32, classes as u32, train as u32];
        self.dispatch("softmax_loss", &words, &[step, logits, labels, logprobs, dlogits, metrics], (1, 1))
    }

    /// Adam over `count` parameters; lr and bias corrections come from `step`.
    #[allow(clippy::too_many_arguments)]
    pub fn adam(
        &self,
        count: usize,
        hp: &Adam,
        step: &wgpu::Buffer,
        grads: &wgpu::Buffer,
        params: &wgpu::Buffer,
        m: &wgpu::Buffer,
        v: &wgpu::Buffer,
    ) -> Dispatch {
        let words = [count as u32, hp.beta1.to_bits(), hp.beta2.to_bits(), hp.eps.to_bits()];
        self.dispatch("adam", &words, &[step, grads, params, m, v], elementwise(count))
    }
}
