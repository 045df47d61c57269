//! The network as data: a list of layer specs, resolved into shapes, SAME padding and
//! offsets into one flat parameter vector. Kernels and the CPU reference both read this,
//! so a new preset is a new list of specs, not new kernels.

use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};

/// One layer of a sequential model.
#[derive(Clone, Debug, PartialEq)]
pub enum LayerSpec {
    /// 2-D convolution with SAME padding (extra padding bottom/right, as TF/JAX).
    Conv {
        out_channels: usize,
        kernel: usize,
        stride: usize,
    },
    /// BatchNorm over (N, H, W): batch statistics in training, running ones in evaluation.
    BatchNorm,
    Relu,
    /// NCHW flatten: index = c*H*W + y*W + x.
    Flatten,
    /// `y = x @ W + b` with W stored [in, out].
    Dense {
        out: usize,
    },
    /// Must be last: log-softmax, trained with mean cross-entropy.
    LogSoftmax,
}

/// A model: input shape (C, H, W) and its layers.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelSpec {
    pub input: Shape,
    pub layers: Vec<LayerSpec>,
}

/// The classic JAX tutorial CNN for MNIST (30,822 parameters).
pub fn tutorial_cnn() -> ModelSpec {
    use LayerSpec::*;
    ModelSpec {
        input: Shape { c: 1, h: 28, w: 28 },
        layers: vec![
            Conv { out_channels: 32, kernel: 5, stride: 2 },
            BatchNorm,
            Relu,
            Conv { out_channels: 32, kernel: 5, stride: 2 },
            BatchNorm,
            Relu,
            Conv { out_channels: 10, kernel: 3, stride: 2 },
            BatchNorm,
            Relu,
            Conv { out_channels: 10, kernel: 3, stride: 2 },
            Relu,
            Flatten,
            Dense { out: 10 },
            LogSoftmax,
        ],
    }
}

/// Per-sample activation shape, channels first. A flat vector of n is (n, 1, 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shape {
    pub c: usize,
    pub h: usize,
    pub w: usize,
}

impl Shape {
    pub fn len(&self) -> usize {
        self.c * self.h * self.w
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    pub fn spatial(&self) -> usize {
        self.h * self.w
    }
}

/// A convolution's resolved geometry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvGeom {
    pub input: Shape,
    pub output: Shape,
    pub kernel: usize,
    pub stride: usize,
    pub pad_top: usize,
    pub pad_left: usize,
}

impl ConvGeom {
    /// SAME padding: out = ceil(in / stride); the odd extra pixel goes bottom/right.
    pub fn same(input: Shape, out_channels: usize, kernel: usize, stride: usize) -> Self {
        let out_h = input.h.div_ceil(stride);
        let out_w = input.w.div_ceil(stride);
        let total = |inp: usize, out: usize| ((out - 1) * stride + kernel).saturating_sub(inp);
        ConvGeom {
            input,
            output: Shape { c: out_channels, h: out_h, w: out_w },
            kernel,
            stride,
            pad_top: total(input.h, out_h) / 2,
            pad_left: total(input.w, out_w) / 2,
        }
    }
    pub fn weight_len(&self) -> usize {
        self.output.c * self.input.c * self.kernel * self.kernel
    }
}

/// A layer resolved against its input shape, with parameter offsets.
#[derive(Clone, Debug, PartialEq)]
pub enum Op {
    Conv { geom: ConvGeom, weight: usize, bias: usize },
    BatchNorm { shape: Shape, gamma: usize, beta: usize, stats: usize },
    Relu { shape: Shape },
    Flatten { shape: Shape },
    Dense { inputs: usize, outputs: usize, weight: usize, bias: usize },
    LogSoftmax { classes: usize },
}

impl Op {
    /// Per-example length of this op's output.
    pub fn output_len(&self) -> usize {
        match *self {
            Op::Conv { geom, .. } => geom.output.len(),
            Op::BatchNorm { shape, .. } | Op::Relu { shape } | Op::Flatten { shape } => shape.len(),
            Op::Dense { outputs, .. } => outputs,
            Op::LogSoftmax { classes } => classes,
        }
    }
}

/// One named tensor inside the flat parameter vector.
#[derive(Clone, Debug, PartialEq)]
pub struct ParamTensor {
    pub name: String,
    pub shape: Vec<usize>,
    pub offset: usize,
    pub len: usize,
    pub init: Init,
}

/// How a tensor starts.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Init {
    /// stax's default for weights (`glorot_normal`): a normal truncated to ±2 standard
    /// deviations, scaled so the variance is 2 / (fan_in + fan_out).
    GlorotNormal {
        fan_in: usize,
        fan_out: usize,
    },
    /// stax's default for biases: normal with this standard deviation.
    Normal {
        std: f64,
    },
    Zeros,
    Ones,
}

/// stax's bias initialisers: `Conv`'s `normal(1e-6)` and `Dense`'s `normal()` (0.01).
const STAX_CONV_BIAS_STD: f64 = 1e-6;
const STAX_DENSE_BIAS_STD: f64 = 1e-2;
/// The standard deviation of a standard normal truncated to ±2.
const TRUNCATED_NORMAL_STD: f64 = 0.879_625_661_034_239_8;

/// One standard normal draw (Box–Muller, cosine branch only).
fn standard_normal(rng: &mut ChaCha8Rng) -> f64 {
    // 53 random bits -> [0, 1) exactly; 1 - u is in (0, 1], so the logarithm is finite.
    let mut unit = || (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
    let radius = (-2.0 * libm::log(1.0 - unit())).sqrt();
    radius * libm::cos(std::f64::consts::TAU * unit())
}

/// BatchNorm constants shared by every backend.
pub const BN_EPS: f32 = 1e-5;
/// Running statistics: running = (1 - momentum) * running + momentum * batch.
pub const BN_MOMENTUM: f32 = 0.1;

/// A spec resolved into ops, shapes and the flat parameter layout.
#[derive(Clone, Debug, PartialEq)]
pub struct Model {
    pub spec: ModelSpec,
    pub ops: Vec<Op>,
    pub params: Vec<ParamTensor>,
    pub param_count: usize,
    /// Running statistics: per BatchNorm, `C` means then `C` variances.
    pub stats_count: usize,
    pub classes: usize,
}

/// Why a model spec cannot be built.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ModelError {
    #[error("layer {index} ({layer}): {reason}")]
    BadLayer { index: usize, layer: String, reason: String },
    #[error("the last layer must be LogSoftmax over a flat vector")]
    NoLogSoftmax,
}

impl Model {
    pub fn new(spec: ModelSpec) -> Result<Self, ModelError> {
        let mut ops = Vec::new();
        let mut params = Vec::new();
        let mut offset = 0usize;
        let mut stats_count = 0usize;
        let mut shape = spec.input;
        let (mut convs, mut bns, mut denses) = (0, 0, 0);
        let mut add = |name: String, dims: Vec<usize>, init: Init, params: &mut Vec<ParamTensor>| {
            let len = dims.iter().product();
            params.push(ParamTensor { name, shape: dims, offset, len, init });
            offset += len;
            offset - len
        };
        let n_layers = spec.layers.len();
        for (index, layer) in spec.layers.iter().enumerate() {
            let bad = |reason: &str| ModelError::BadLayer { index, layer: format!("{layer:?}"), reason: reason.to_string() };
            match *layer {
                LayerSpec::Conv { out_channels, kernel, stride } => {
                    if out_channels == 0 || kernel == 0 || stride == 0 {
                        return Err(bad("channels, kernel and stride must be positive"));
                    }
                    convs += 1;
                    let geom = ConvGeom::same(shape, out_channels, kernel, stride);
                    let fan_in = shape.c * kernel * kernel;
                    let fan_out = out_channels * kernel * kernel;
                    let weight = add(
                        format!("conv{convs}.weight"),
                        vec![out_channels, shape.c, kernel, kernel],
                        Init::GlorotNormal { fan_in, fan_out },
                        &mut params,
                    );
                    let bias_init = Init::Normal { std: STAX_CONV_BIAS_STD };
                    let bias = add(format!("conv{convs}.bias"), vec![out_channels], bias_init, &mut params);
                    ops.push(Op::Conv { geom, weight, bias });
                    shape = geom.output;
                }
                LayerSpec::BatchNorm => {
                    bns += 1;
                    let gamma = add(format!("bn{bns}.gamma"), vec![shape.c], Init::Ones, &mut params);
                    let beta = add(format!("bn{bns}.beta"), vec![shape.c], Init::Zeros, &mut params);
                    ops.push(Op::BatchNorm { shape, gamma, beta, stats: stats_count });
                    stats_count += 2 * shape.c;
                }
                LayerSpec::Relu => ops.push(Op::Relu { shape }),
                LayerSpec::Flatten => {
                    ops.push(Op::Flatten { shape });
                    shape = Shape { c: shape.len(), h: 1, w: 1 };
                }
                LayerSpec::Dense { out } => {
                    if shape.h != 1 || shape.w != 1 {
                        return Err(bad("Dense needs a flat input: put Flatten before it"));
                    }
                    if out == 0 {
                        return Err(bad("Dense needs at least one output"));
                    }
                    denses += 1;
                    let name = if denses == 1 { "dense".to_string() } else { format!("dense{denses}") };
                    let weight_init = Init::GlorotNormal { fan_in: shape.c, fan_out: out };
                    let weight = add(format!("{name}.weight"), vec![shape.c, out], weight_init, &mut params);
                    let bias_init = Init::Normal { std: STAX_DENSE_BIAS_STD };
                    let bias = add(format!("{name}.bias"), vec![out], bias_init, &mut params);
                    ops.push(Op::Dense { inputs: shape.c, outputs: out, weight, bias });
                    shape = Shape { c: out, h: 1, w: 1 };
                }
                LayerSpec::LogSoftmax => {
                    if index + 1 != n_layers || shape.h != 1 || shape.w != 1 {
                        return Err(ModelError::NoLogSoftmax);
                    }
                    ops.push(Op::LogSoftmax { classes: shape.c });
                }
            }
        }
        if !matches!(ops.last(), Some(Op::LogSoftmax { .. })) {
            return Err(ModelError::NoLogSoftmax);
        }
        Ok(Model { classes: shape.c, spec, ops, params, param_count: offset, stats_count })
    }

    /// The tutorial CNN, resolved.
    pub fn tutorial() -> Self {
        Model::new(tutorial_cnn()).expect("the built-in spec is valid")
    }

    pub fn input_len(&self) -> usize {
        self.spec.input.len()
    }

    /// Per-example length of every activation: the input, then each op's output.
    pub fn activation_lens(&self) -> Vec<usize> {
        std::iter::once(self.input_len()).chain(self.ops.iter().map(Op::output_len)).collect()
    }

    pub fn param(&self, name: &str) -> Option<&ParamTensor> {
        self.params.iter().find(|p| p.name == name)
    }

    /// Seeded initial parameters, drawn as stax draws them. The same seed gives the same
    /// weights on every platform: ChaCha8 bits, and the pure-Rust `libm` for the logarithm
    /// and cosine, so no platform's own maths library takes part.
    pub fn init_params(&self, seed: u64) -> Vec<f32> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut out = vec![0f32; self.param_count];
        for p in &self.params {
            let slot = &mut out[p.offset..p.offset + p.len];
            match p.init {
                Init::Zeros => slot.fill(0.0),
                Init::Ones => slot.fill(1.0),
                Init::Normal { std } => slot.iter_mut().for_each(|v| *v = (standard_normal(&mut rng) * std) as f32),
                Init::GlorotNormal { fan_in, fan_out } => {
                    let std = (2.0 / (fan_in + fan_out) as f64).sqrt() / TRUNCATED_NORMAL_STD;
                    for v in slot {
                        let z = loop {
                            let z = standard_normal(&mut rng);
                            if z.abs() < 2.0 {
                                break z;
                            }
                        };
                        *v = (z * std) as f32;
                    }
                }
            }
        }
        out
    }

    /// Starting running statistics: means 0, variances 1.
    pub fn init_stats(&self) -> Vec<f32> {
        let mut stats = vec![0f32; self.stats_count];
        for op in &self.ops {
            if let Op::BatchNorm { shape, stats: at, .. } = op {
                stats[at + shape.c..at + 2 * shape.c].fill(1.0);
            }
        }
        stats
    }
}

/// Adam hyperparameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Adam {
    pub lr: f32,
    pub beta1: f32,
    pub beta2: f32,
    pub eps: f32,
}

impl Default for Adam {
    fn default() -> Self {
        Adam { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8 }
    }
}

/// A seeded Fisher-Yates permutation of `0..n` (same on every platform).
pub fn permutation(n: usize, seed: u64) -> Vec<u32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut perm: Vec<u32> = (0..n as u32).collect();
    for i in (1..n).rev() {
        let j = (rng.next_u64() % (i as u64 + 1)) as usize;
        perm.swap(i, j);
    }
    perm
}

/// The training shuffle of epoch `epoch` (0-based), shared by every backend so that they
/// see the same batches.
pub fn epoch_permutation(n: usize, seed: u64, epoch: usize) -> Vec<u32> {
    permutation(n, seed ^ (epoch as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15))
}
