//! The convolution family: forward, input gradient and weight gradient, each as 4x4 or 8x8
//! register-blocked tiles or as pixel lanes (see [`RegisterBlock`]), plus the lane
//! kernels' packing and the weight gradient's reduction of partial sums.

use super::uniforms::{
    AdamSegment, ConvBackwardInputLanesParams, ConvBackwardInputParams, ConvBackwardParamsLanesParams, ConvBackwardParamsParams,
    ConvForwardLanesParams, ConvForwardParams, ConvPackDyParams, ConvPackWeightsParams, ConvShape,
};
use super::{elementwise, Dispatch, Kernels, LayerParams, RegisterBlock, UNIFORM_WINDOW_BYTES};
use crate::model::ConvGeom;

/// One convolution layer at one batch size: its shape, its parameters, and the scratch the
/// lane kernels pack weights (and dy) into, of at least [`Kernels::packed_weights_bytes`].
#[derive(Clone, Copy)]
pub struct ConvLayer<'a> {
    pub geom: &'a ConvGeom,
    pub n: usize,
    pub params: LayerParams<'a>,
    pub packed: &'a wgpu::Buffer,
}

/// Where the weight gradient goes: partial sums per chunk of the batch
/// ([`ConvParamsSplit::scratch_len`] floats from `partials_off`, a multiple of
/// [`PARTIALS_ALIGN`]), then their sum into the flat `grads`.
#[derive(Clone, Copy)]
pub struct ConvGradients<'a> {
    pub partials: &'a wgpu::Buffer,
    pub partials_off: usize,
    pub grads: &'a wgpu::Buffer,
    /// A following BatchNorm cancels any bias, so its gradient is written as exactly zero.
    pub bias_feeds_bn: bool,
    /// Sum the partials in a `conv_params_reduce` dispatch; without it, Adam sums them
    /// (give it [`Kernels::adam_segment`]).
    pub reduce: bool,
}

/// Floats between the starts of two convolutions' partial sums in one buffer: 256 bytes,
/// WebGPU's default storage-binding offset alignment.
pub const PARTIALS_ALIGN: usize = 64;

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
    /// only with enough columns to fill half a workgroup's 512 column slots (fewer ran
    /// slower than the tiles; docs/performance.md).
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
    const BINDING_BYTES: u64 = UNIFORM_WINDOW_BYTES;
    /// Rows of 16 channels in one binding: the shaders' `array<vec4<f32>, 4096>`.
    const MAX_ROWS: usize = (Self::BINDING_BYTES / (Self::CHANNELS as u64 * 4)) as usize;
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

impl Kernels {
    /// Packs W (at `w_off` in `params`) into `packed` as `lanes` lays it out.
    fn pack_weights(&self, layer: &ConvLayer, lanes: &LaneWeights, transpose: bool) -> Dispatch {
        let g = layer.geom;
        let count = lanes.blocks * lanes.rows * LaneWeights::CHANNELS;
        let uniform = ConvPackWeightsParams {
            o: g.output.c as u32,
            c: g.input.c as u32,
            area: (g.kernel * g.kernel) as u32,
            w_off: layer.params.weight as u32,
            transpose: transpose as u32,
            rows: lanes.rows as u32,
            count: count as u32,
            block_stride: lanes.block_stride as u32,
        };
        self.dispatch("conv_pack_weights", &uniform, &[layer.params.buffer, layer.packed], elementwise(count))
    }

    /// y = conv(x, W) + b, then ReLU if `relu`.
    pub fn conv_forward(&self, layer: &ConvLayer, relu: bool, x: &wgpu::Buffer, y: &wgpu::Buffer) -> Vec<Dispatch> {
        let (g, n) = (layer.geom, layer.n);
        let shape = ConvShape::new(g, n);
        let pixels = n * g.output.h * g.output.w;
        let (b_off, relu) = (layer.params.bias as u32, relu as u32);
        if let (Some(lanes), _) = self.lane_weights(g) {
            // A pack, then one dispatch per block of 16 output channels.
            let mut dispatches = vec![self.pack_weights(layer, &lanes, false)];
            for block in 0..lanes.blocks {
                let uniform = ConvForwardLanesParams { g: shape, oc0: (block * LaneWeights::CHANNELS) as u32, b_off, relu, _pad: 0 };
                let resources = vec![
                    x.as_entire_binding(),
                    layer.params.buffer.as_entire_binding(),
                    y.as_entire_binding(),
                    lanes.binding(layer.packed, block),
                ];
                let groups = (pixels.div_ceil(LaneWeights::PIXELS) as u32, 1);
                dispatches.push(self.dispatch_resources("conv_forward_lanes", &uniform, resources, groups));
            }
            return dispatches;
        }
        let uniform = ConvForwardParams { g: shape, w_off: layer.params.weight as u32, b_off, relu, _pad: 0 };
        // One workgroup per tile of output pixels x 32 channels (the batch is at most
        // MAX_BATCH, so the pixel tiles stay well under the 65,535 limit).
        let tiles = (pixels.div_ceil(self.block.pixel_tile()) as u32, g.output.c.div_ceil(32) as u32);
        vec![self.dispatch("conv_forward", &uniform, &[x, layer.params.buffer, y], tiles)]
    }

    /// dx from dy and W.
    pub fn conv_backward_input(&self, layer: &ConvLayer, dy: &wgpu::Buffer, dx: &wgpu::Buffer) -> Vec<Dispatch> {
        let (g, n) = (layer.geom, layer.n);
        let shape = ConvShape::new(g, n);
        let phase_pixels = n * g.input.h.div_ceil(g.stride) * g.input.w.div_ceil(g.stride);
        let phases = g.stride * g.stride;
        if let (_, Some(lanes)) = self.lane_weights(g) {
            // A pack, then one dispatch per block of 16 input channels, each over every phase.
            let mut dispatches = vec![self.pack_weights(layer, &lanes, true)];
            let groups = (phase_pixels.div_ceil(LaneWeights::PIXELS), phases);
            assert!(groups.0 <= 65_535 && groups.1 <= 65_535, "conv_backward_input: {groups:?} workgroups exceed the dispatch limit");
            for block in 0..lanes.blocks {
                let ic0 = (block * LaneWeights::CHANNELS) as u32;
                let uniform = ConvBackwardInputLanesParams { g: shape, ic0, ..Default::default() };
                let resources = vec![dy.as_entire_binding(), dx.as_entire_binding(), lanes.binding(layer.packed, block)];
                let groups = (groups.0 as u32, groups.1 as u32);
                dispatches.push(self.dispatch_resources("conv_backward_input_lanes", &uniform, resources, groups));
            }
            return dispatches;
        }
        let uniform = ConvBackwardInputParams { g: shape, w_off: layer.params.weight as u32, ..Default::default() };
        // One workgroup per tile of pixels x 32 channels of each of the stride x stride phases.
        let tiles = (phase_pixels.div_ceil(self.block.pixel_tile()), g.input.c.div_ceil(32) * phases);
        assert!(tiles.0 <= 65_535 && tiles.1 <= 65_535, "conv_backward_input: {tiles:?} workgroups exceed the dispatch limit");
        vec![self.dispatch("conv_backward_input", &uniform, &[dy, layer.params.buffer, dx], (tiles.0 as u32, tiles.1 as u32))]
    }

    /// Where Adam (or `conv_params_reduce`) finds this convolution's partial sums.
    pub fn adam_segment(&self, layer: &ConvLayer, out: &ConvGradients) -> AdamSegment {
        let g = layer.geom;
        AdamSegment {
            o: g.output.c as u32,
            k: (ConvParamsSplit::columns(g) - 1) as u32,
            splits: ConvParamsSplit::new(g, layer.n, self.block).splits as u32,
            w_off: layer.params.weight as u32,
            b_off: layer.params.bias as u32,
            bias_zero: out.bias_feeds_bn as u32,
            partials_off: out.partials_off as u32,
            _pad: 0,
        }
    }

    /// Writes dW and db into `out.grads` at the layer's offsets: partial sums per chunk of
    /// the batch, then (with `out.reduce`) their sum.
    pub fn conv_backward_params(&self, layer: &ConvLayer, out: &ConvGradients, x: &wgpu::Buffer, dy: &wgpu::Buffer) -> Vec<Dispatch> {
        let (g, n) = (layer.geom, layer.n);
        let shape = ConvShape::new(g, n);
        let split = ConvParamsSplit::new(g, n, self.block);
        let columns = ConvParamsSplit::columns(g);
        assert_eq!(out.partials_off % PARTIALS_ALIGN, 0, "partial sums must start on a binding-offset boundary");
        let partials = || {
            wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                buffer: out.partials,
                offset: (out.partials_off * 4) as u64,
                size: wgpu::BufferSize::new((ConvParamsSplit::scratch_len(g, n, self.block) * 4) as u64),
            })
        };
        let reduce = out.reduce.then(|| {
            let segment = self.adam_segment(layer, out);
            self.dispatch("conv_params_reduce", &segment, &[out.partials, out.grads], elementwise(g.output.c * columns))
        });
        if ConvParamsSplit::lanes(g, self.block) {
            // dy packed, then one dispatch per block of 16 output channels x chunk of rows.
            let m_total = n * g.output.h * g.output.w;
            let (m_stride, _) = Self::packed_dy(g, n);
            let blocks = g.output.c.div_ceil(LaneWeights::CHANNELS);
            let count = blocks * m_total * LaneWeights::CHANNELS;
            let pack_uniform = ConvPackDyParams {
                o: g.output.c as u32,
                pixels: (g.output.h * g.output.w) as u32,
                m_total: m_total as u32,
                m_stride: m_stride as u32,
                count: count as u32,
                ..Default::default()
            };
            let mut dispatches = vec![self.dispatch("conv_pack_dy", &pack_uniform, &[dy, layer.packed], elementwise(count))];
            let groups = (columns.div_ceil(LaneWeights::PIXELS) as u32, 1);
            for block in 0..blocks {
                for chunk in 0..split.splits {
                    let m_begin = chunk * split.m_chunk;
                    let uniform = ConvBackwardParamsLanesParams {
                        g: shape,
                        oc0: (block * LaneWeights::CHANNELS) as u32,
                        m_begin: m_begin as u32,
                        m_end: m_total.min(m_begin + split.m_chunk) as u32,
                        chunk: chunk as u32,
                    };
                    let rows = LaneWeights::window(layer.packed, (block * m_stride + m_begin) * LaneWeights::CHANNELS * 4);
                    let resources = vec![x.as_entire_binding(), partials(), rows];
                    dispatches.push(self.dispatch_resources("conv_backward_params_lanes", &uniform, resources, groups));
                }
            }
            dispatches.extend(reduce);
            return dispatches;
        }
        let col_tiles = columns.div_ceil(self.block.column_tile());
        let uniform =
            ConvBackwardParamsParams { g: shape, m_chunk: split.m_chunk as u32, col_tiles: col_tiles as u32, ..Default::default() };
        // One workgroup per 32 output channels x a tile of columns of [weights | bias] x chunk of m.
        let tiles = (g.output.c.div_ceil(32) as u32, (col_tiles * split.splits) as u32);
        let resources = vec![x.as_entire_binding(), dy.as_entire_binding(), partials()];
        std::iter::once(self.dispatch_resources("conv_backward_params", &uniform, resources, tiles)).chain(reduce).collect()
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
}
