//! The network on a burn device (burn's CPU backend, or burn-wgpu with feature `wgpu`).
//!
//! The same network, built op by op from the same [`Model`] and the same flat parameter
//! vector, trained with burn's autodiff and burn's own Adam. It serves as an independent
//! oracle for our kernels, as the CPU engine where a browser has no WebGPU, and as the peer
//! our kernels are benchmarked against.
//!
//! Conventions match ours exactly: SAME padding with the extra pixel bottom/right (as an
//! asymmetric `ConvOptions` padding), BatchNorm with batch statistics, biased variance for
//! normalising and unbiased for the running variance, [`BN_EPS`] and [`BN_MOMENTUM`], mean
//! cross-entropy of log-softmax, and Adam with `m̂ / (sqrt(v̂) + eps)`.
//!
//! A conv bias that feeds a BatchNorm is applied but detached: BatchNorm subtracts the
//! batch mean, so its true gradient is exactly zero, and f32 noise in it would otherwise
//! be blown up by Adam into real updates. Our kernels write exactly zero for the same reason.

use burn::optim::{Adam as BurnAdam, AdamConfig, AdamState, Optimizer};
use burn::tensor::activation::{log_softmax, relu};
use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Device, Int, Tensor, TensorData};
use engine::model::{Model, Op, BN_EPS, BN_MOMENTUM};
use engine::train::{TrainError, Weights};

/// Which burn backend runs the model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BurnDevice {
    /// burn's pure-Rust CPU backend (flex); also runs in wasm32.
    Cpu,
    /// burn-wgpu (cubecl) on the default adapter.
    #[cfg(feature = "wgpu")]
    Wgpu,
}

impl BurnDevice {
    /// The autodiff-enabled burn device. Natively, a missing wgpu adapter is an error here
    /// rather than a panic later. In a browser, burn-wgpu needs [`BurnDevice::open_async`].
    pub fn open(self) -> Result<Device, TrainError> {
        Ok(match self {
            BurnDevice::Cpu => Device::flex().autodiff(),
            #[cfg(feature = "wgpu")]
            BurnDevice::Wgpu => open_wgpu()?.autodiff(),
        })
    }

    /// Like [`BurnDevice::open`], but also initialises burn-wgpu on the browser's WebGPU,
    /// which can only be done asynchronously.
    pub async fn open_async(self) -> Result<Device, TrainError> {
        #[cfg(all(feature = "wgpu", target_arch = "wasm32"))]
        if self == BurnDevice::Wgpu {
            let device = Device::wgpu_options().init_async().await.map_err(|e| no_wgpu_adapter(e.to_string()))?;
            return Ok(device.autodiff());
        }
        self.open()
    }
}

#[cfg(feature = "wgpu")]
fn no_wgpu_adapter(reason: String) -> TrainError {
    TrainError::Gpu(engine::gpu::GpuError::NoAdapter(format!("burn-wgpu found no usable adapter: {reason}")))
}

#[cfg(all(feature = "wgpu", not(target_arch = "wasm32")))]
fn open_wgpu() -> Result<Device, TrainError> {
    use std::sync::OnceLock;
    // burn's wgpu runtime initialises once per process; later calls reuse that device.
    static DEVICE: OnceLock<Result<Device, String>> = OnceLock::new();
    DEVICE.get_or_init(|| Device::wgpu_options().init().map_err(|e| e.to_string())).clone().map_err(no_wgpu_adapter)
}

#[cfg(all(feature = "wgpu", target_arch = "wasm32"))]
fn open_wgpu() -> Result<Device, TrainError> {
    Err(TrainError::Config("burn-wgpu in a browser is initialised asynchronously: use BurnDevice::open_async".into()))
}

/// An activation between ops: images (N, C, H, W) until Flatten, then rows (N, features).
#[derive(Clone)]
enum Act {
    Images(Tensor<4>),
    Rows(Tensor<2>),
}

impl Act {
    fn images(self) -> Tensor<4> {
        match self {
            Act::Images(t) => t,
            Act::Rows(_) => unreachable!("Model::new puts no image op after Flatten"),
        }
    }
    fn rows(self) -> Tensor<2> {
        match self {
            Act::Rows(t) => t,
            Act::Images(_) => unreachable!("Model::new puts Flatten before Dense"),
        }
    }
}

/// What one forward pass produced.
pub struct BurnForward {
    /// Log-probabilities, (N, classes).
    pub logprobs: Tensor<2>,
    /// Every op's output, in order (for comparing layers across backends).
    pub outputs: Vec<Tensor<2>>,
    /// Per BatchNorm op (in order): batch mean and biased batch variance, in training mode.
    batch_stats: Vec<(Tensor<1>, Tensor<1>)>,
}

/// The network on a burn device: one tensor per named parameter, running statistics, and
/// burn's Adam state per parameter.
pub struct BurnModel {
    pub model: Model,
    device: Device,
    /// One 1-D tensor per `model.params` entry, requiring gradients.
    params: Vec<Tensor<1>>,
    /// Running mean and variance per BatchNorm op, in op order.
    running: Vec<(Tensor<1>, Tensor<1>)>,
    adam: BurnAdam,
    adam_states: Vec<Option<AdamState<1>>>,
}

impl BurnModel {
    /// Builds the model on `device` from our flat layout.
    pub fn new(model: Model, device: Device, weights: &Weights, adam: &engine::model::Adam) -> Result<Self, TrainError> {
        weights.check(&model).map_err(TrainError::Weights)?;
        let adam_config = AdamConfig::new().with_beta_1(adam.beta1).with_beta_2(adam.beta2).with_epsilon(adam.eps);
        let mut m = BurnModel {
            adam_states: vec![None; model.params.len()],
            model,
            device,
            params: Vec::new(),
            running: Vec::new(),
            adam: adam_config.build(),
        };
        m.load(weights);
        Ok(m)
    }

    fn vector(&self, values: &[f32]) -> Tensor<1> {
        Tensor::from_data(TensorData::new(values.to_vec(), [values.len()]), &self.device)
    }

    fn load(&mut self, w: &Weights) {
        self.params = self.model.params.iter().map(|p| self.vector(&w.params[p.offset..p.offset + p.len]).require_grad()).collect();
        self.running = self
            .model
            .ops
            .iter()
            .filter_map(|op| match *op {
                Op::BatchNorm { shape, stats, .. } => {
                    let (mean, var) = (&w.stats[stats..stats + shape.c], &w.stats[stats + shape.c..stats + 2 * shape.c]);
                    Some((self.vector(mean).inner(), self.vector(var).inner()))
                }
                _ => None,
            })
            .collect();
    }

    /// Replaces parameters and running statistics (checked first; Adam's moments are kept).
    pub fn set_weights(&mut self, w: &Weights) -> Result<(), TrainError> {
        w.check(&self.model).map_err(TrainError::Weights)?;
        self.load(w);
        Ok(())
    }

    /// The parameter tensor that starts at `offset` in the flat layout.
    fn param(&self, offset: usize) -> Tensor<1> {
        let i = self.model.params.iter().position(|p| p.offset == offset).expect("offset comes from the model's ops");
        self.params[i].clone()
    }

    /// `n` images of the model's input size in floats as an (N, C, H, W) tensor.
    pub fn images(&self, pixels: Vec<f32>) -> Tensor<4> {
        let s = self.model.spec.input;
        let n = pixels.len() / s.len();
        Tensor::from_data(TensorData::new(pixels, [n, s.c, s.h, s.w]), &self.device)
    }

    /// Forward pass; `train` uses batch statistics for BatchNorm, otherwise running ones.
    pub fn forward(&self, x: Tensor<4>, train: bool) -> BurnForward {
        let ops = &self.model.ops;
        let n = x.dims()[0];
        let mut act = Act::Images(x);
        let mut outputs = Vec::with_capacity(ops.len());
        let mut batch_stats = Vec::new();
        let mut bn_index = 0;
        for (i, op) in ops.iter().enumerate() {
            act = match *op {
                Op::Conv { geom, weight, bias } => {
                    let g = geom;
                    let w = self.param(weight).reshape([g.output.c, g.input.c, g.kernel, g.kernel]);
                    let mut b = self.param(bias);
                    if matches!(ops.get(i + 1), Some(Op::BatchNorm { .. })) {
                        b = b.detach();
                    }
                    let pad_h = (g.output.h - 1) * g.stride + g.kernel - g.input.h;
                    let pad_w = (g.output.w - 1) * g.stride + g.kernel - g.input.w;
                    let options = ConvOptions::new_with_padding(
                        [g.stride, g.stride],
                        [(g.pad_top, pad_h - g.pad_top), (g.pad_left, pad_w - g.pad_left)],
                        [1, 1],
                        1,
                    );
                    Act::Images(conv2d(act.images(), w, Some(b), options))
                }
                Op::BatchNorm { shape, gamma, beta, .. } => {
                    let x = act.images();
                    let per_channel = |t: Tensor<1>| t.reshape([1, shape.c, 1, 1]);
                    let (mean, var) = if train {
                        let mean = x.clone().mean_dims(&[0, 2, 3]);
                        let var = (x.clone() - mean.clone()).powi_scalar(2).mean_dims(&[0, 2, 3]);
                        batch_stats.push((mean.clone().reshape([shape.c]), var.clone().reshape([shape.c])));
                        (mean, var)
                    } else {
                        let (m, v) = &self.running[bn_index];
                        (per_channel(m.clone()), per_channel(v.clone()))
                    };
                    bn_index += 1;
                    let xhat = (x - mean) / (var + BN_EPS as f64).sqrt();
                    Act::Images(xhat * per_channel(self.param(gamma)) + per_channel(self.param(beta)))
                }
                Op::Relu { .. } => match act {
                    Act::Images(t) => Act::Images(relu(t)),
                    Act::Rows(t) => Act::Rows(relu(t)),
                },
                Op::Flatten { shape } => Act::Rows(act.images().reshape([n, shape.len()])),
                Op::Dense { inputs, outputs: out, weight, bias } => {
                    let w = self.param(weight).reshape([inputs, out]);
                    let b = self.param(bias).reshape([1, out]);
                    Act::Rows(act.rows().matmul(w) + b)
                }
                Op::LogSoftmax { .. } => Act::Rows(log_softmax(act.rows(), 1)),
            };
            outputs.push(match &act {
                Act::Images(t) => t.clone().reshape([n, op.output_len()]),
                Act::Rows(t) => t.clone(),
            });
        }
        BurnForward { logprobs: act.rows(), outputs, batch_stats }
    }

    /// Mean cross-entropy and the number of correct arg-maxes, both as 1-element tensors.
    pub fn loss_and_correct(&self, logprobs: Tensor<2>, labels: &[u8]) -> (Tensor<1>, Tensor<1>) {
        let (n, classes) = (labels.len(), self.model.classes);
        let mut one_hot = vec![0f32; n * classes];
        for (s, &l) in labels.iter().enumerate() {
            one_hot[s * classes + l as usize] = 1.0;
        }
        let one_hot = Tensor::<2>::from_data(TensorData::new(one_hot, [n, classes]), &self.device);
        let loss = (logprobs.clone() * one_hot).sum().neg() / n as f64;
        let label_ids: Vec<i32> = labels.iter().map(|&l| l as i32).collect();
        let label_ids = Tensor::<1, Int>::from_data(TensorData::new(label_ids, [n]), &self.device);
        let predicted = logprobs.inner().argmax(1).reshape([n]);
        let correct = predicted.equal(label_ids.inner()).float().sum();
        (loss, correct)
    }

    /// One training step on a batch: forward, backward, burn's Adam, running statistics.
    /// Returns the loss and correct count as tensors (not read back).
    pub fn train_step(&mut self, images: Tensor<4>, labels: &[u8], lr: f32) -> (Tensor<1>, Tensor<1>) {
        let f = self.forward(images, true);
        let (loss, correct) = self.loss_and_correct(f.logprobs, labels);
        let mut grads = loss.backward();
        for (i, param) in self.params.iter_mut().enumerate() {
            // Detached conv biases (see the module doc) have no gradient and stay as they are.
            let Some(grad) = param.grad_remove(&mut grads) else { continue };
            let (updated, state) = self.adam.step(lr as f64, param.clone().inner(), grad, self.adam_states[i].take());
            self.adam_states[i] = state;
            *param = Tensor::from_inner(updated).require_grad();
        }
        let mo = BN_MOMENTUM as f64;
        let mut bn_index = 0;
        for op in &self.model.ops {
            if let Op::BatchNorm { shape, .. } = op {
                let count = (labels.len() * shape.spatial()) as f64;
                let unbias = if count > 1.0 { count / (count - 1.0) } else { 1.0 };
                let (mean, var) = &f.batch_stats[bn_index];
                let (rm, rv) = &mut self.running[bn_index];
                *rm = rm.clone() * (1.0 - mo) + mean.clone().inner() * mo;
                *rv = rv.clone() * (1.0 - mo) + var.clone().inner() * (mo * unbias);
                bn_index += 1;
            }
        }
        (loss.inner(), correct)
    }

    /// Gradients of the mean loss on a batch, in our flat layout (no update). Conv biases
    /// that feed a BatchNorm report exactly zero.
    pub async fn gradients(&self, images: Tensor<4>, labels: &[u8]) -> Result<(f32, Vec<f32>), TrainError> {
        let f = self.forward(images, true);
        let (loss, _) = self.loss_and_correct(f.logprobs, labels);
        let grads = loss.backward();
        let mut flat = vec![0f32; self.model.param_count];
        for (p, t) in self.model.params.iter().zip(&self.params) {
            if let Some(g) = t.grad(&grads) {
                flat[p.offset..p.offset + p.len].copy_from_slice(&read(g).await?);
            }
        }
        Ok((read(loss.inner()).await?[0], flat))
    }

    /// Current parameters and running statistics in our flat layout.
    pub async fn weights(&self) -> Result<Weights, TrainError> {
        let mut params = vec![0f32; self.model.param_count];
        for (p, t) in self.model.params.iter().zip(&self.params) {
            params[p.offset..p.offset + p.len].copy_from_slice(&read(t.clone().inner()).await?);
        }
        let mut stats = vec![0f32; self.model.stats_count];
        let bns = self.model.ops.iter().filter_map(|op| match *op {
            Op::BatchNorm { shape, stats, .. } => Some((shape.c, stats)),
            _ => None,
        });
        for ((c, at), (mean, var)) in bns.zip(&self.running) {
            stats[at..at + c].copy_from_slice(&read(mean.clone()).await?);
            stats[at + c..at + 2 * c].copy_from_slice(&read(var.clone()).await?);
        }
        Ok(Weights { params, stats })
    }
}

/// Reads a float tensor back to the host.
pub async fn read<const D: usize>(t: Tensor<D>) -> Result<Vec<f32>, TrainError> {
    let data = t.into_data_async().await.map_err(|e| TrainError::Backend(format!("burn could not read a tensor back: {e:?}")))?;
    data.convert::<f32>().try_into_vec::<f32>().map_err(|e| TrainError::Backend(format!("burn returned unexpected data: {e:?}")))
}
