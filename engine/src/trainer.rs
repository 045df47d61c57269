//! The trainer: the dataset resident on the GPU as u8, a static plan of bound dispatches
//! per batch size, one command buffer per training step, and metrics that come back
//! through a ring of staging buffers without stalling the step loop.

use crate::data::{Dataset, Split, IMAGE_PIXELS};
use crate::gpu::{ConvParamsSplit, Dispatch, GpuContext, GpuError, Kernels, StepUniform};
use crate::model::{epoch_permutation, Adam, ConvGeom, Model, Op};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

/// Training hyperparameters and loop settings.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainConfig {
    pub batch: usize,
    pub adam: Adam,
    /// Seeds the initial weights and every epoch's shuffle.
    pub seed: u64,
    /// Shuffle each epoch (off: batches in file order, as the golden tests need).
    pub shuffle: bool,
    /// Batch size for evaluation passes. Up to `batch`, evaluation reuses the training
    /// activations instead of allocating its own.
    pub eval_batch: usize,
    /// Request metrics from the GPU every this many steps.
    pub metrics_every: usize,
    /// Native only: most submitted steps not yet finished before `step` waits.
    pub max_in_flight: usize,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig { batch: 128, adam: Adam::default(), seed: 0, shuffle: true, eval_batch: 128, metrics_every: 8, max_in_flight: 4 }
    }
}

/// Largest batch we accept (the loss kernel is one workgroup looping over the batch; this
/// bound keeps a step's buffers well inside WebGPU's default limits).
pub const MAX_BATCH: usize = 4096;

impl TrainConfig {
    /// Checks the settings against a training set of `train_len` examples.
    pub fn validate(&self, train_len: usize) -> Result<(), TrainError> {
        let bad = |msg: String| Err(TrainError::Config(msg));
        if self.batch == 0 || self.batch > MAX_BATCH {
            return bad(format!("batch size {} must be between 1 and {MAX_BATCH}", self.batch));
        }
        if train_len < self.batch {
            return bad(format!(
                "batch size {} is larger than the {train_len} training examples; lower --batch or raise --limit",
                self.batch
            ));
        }
        if !(self.adam.lr.is_finite() && self.adam.lr > 0.0 && self.adam.lr <= 10.0) {
            return bad(format!("learning rate {} must be a number in (0, 10]; 1e-3 is the usual value", self.adam.lr));
        }
        for (name, b) in [("beta1", self.adam.beta1), ("beta2", self.adam.beta2)] {
            if !(0.0..1.0).contains(&b) {
                return bad(format!("Adam {name} = {b} must be in [0, 1)"));
            }
        }
        if !(self.adam.eps.is_finite() && self.adam.eps > 0.0) {
            return bad(format!("Adam epsilon {} must be positive", self.adam.eps));
        }
        if self.eval_batch == 0 || self.eval_batch > MAX_BATCH {
            return bad(format!("evaluation batch {} must be between 1 and {MAX_BATCH}", self.eval_batch));
        }
        if self.metrics_every == 0 || self.max_in_flight == 0 {
            return bad("metrics_every and max_in_flight must be at least 1".into());
        }
        Ok(())
    }
}

/// Why training stopped.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error("invalid setting: {0}")]
    Config(String),
    #[error(transparent)]
    Gpu(#[from] GpuError),
    #[error("the loss became {loss} at step {step}: training diverged. Lower the learning rate and start again.")]
    NonFiniteLoss { step: u64, loss: f32 },
    #[error("these weights do not fit this model: {0}")]
    Weights(String),
    #[error("{0}")]
    Backend(String),
}

/// Loss and accuracy of one training step, as measured on the GPU during the step.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepMetrics {
    /// 0-based global step number.
    pub step: u64,
    pub loss: f32,
    pub accuracy: f32,
}

/// Where [`Trainer::run_epoch`] stands, for progress displays.
pub struct EpochProgress<'a> {
    /// Completed epochs (the epoch in progress is `epoch + 1` until the last step).
    pub epoch: usize,
    /// Steps submitted in this epoch, of `steps`.
    pub step: usize,
    pub steps: usize,
    /// Metrics received so far in this epoch.
    pub metrics: &'a [StepMetrics],
}

/// Mean loss and accuracy over a whole split.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EvalResult {
    pub loss: f32,
    pub accuracy: f32,
    pub count: usize,
}

/// Which split to evaluate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EvalSet {
    Train,
    Test,
}

/// Trained state: flat parameters and BatchNorm running statistics.
#[derive(Clone, Debug, PartialEq)]
pub struct Weights {
    pub params: Vec<f32>,
    pub stats: Vec<f32>,
}

impl Weights {
    /// Checks sizes and values against `model`, so that bad weights are refused before
    /// anything changes.
    pub fn check(&self, model: &Model) -> Result<(), TrainError> {
        if self.params.len() != model.param_count || self.stats.len() != model.stats_count {
            return Err(TrainError::Weights(format!(
                "{} parameters and {} statistics given, the model has {} and {}",
                self.params.len(),
                self.stats.len(),
                model.param_count,
                model.stats_count
            )));
        }
        if let Some(i) = self.params.iter().chain(&self.stats).position(|v| !v.is_finite()) {
            return Err(TrainError::Weights(format!("value {i} is not a finite number")));
        }
        Ok(())
    }
}

/// GPU time of one kernel in a profiled step.
#[derive(Clone, Debug, PartialEq)]
pub struct KernelTime {
    pub kernel: &'static str,
    pub nanos: f64,
}

/// Each kernel's total time over a profiled step's dispatches, and how many dispatches it
/// had: `(kernel, nanos, dispatches)`, slowest first.
pub fn kernel_totals(times: &[KernelTime]) -> Vec<(&'static str, f64, usize)> {
    let mut totals: Vec<(&'static str, f64, usize)> = Vec::new();
    for t in times {
        match totals.iter_mut().find(|(name, _, _)| *name == t.kernel) {
            Some(total) => {
                total.1 += t.nanos;
                total.2 += 1;
            }
            None => totals.push((t.kernel, t.nanos, 1)),
        }
    }
    totals.sort_by(|a, b| b.1.total_cmp(&a.1));
    totals
}

/// Metric slots in the ring; more unread steps than this and the oldest are dropped.
const METRIC_SLOTS: usize = 1024;
const STAGING_BUFFERS: usize = 4;

/// One batch size's activations, gradients and bound dispatches.
struct Plan {
    n: usize,
    acts: Vec<wgpu::Buffer>,
    /// Scratch for the lane kernels' packed weights and dy (an evaluation plan shares it).
    packed: wgpu::Buffer,
    forward: Vec<Dispatch>,
    backward: Vec<Dispatch>,
    bytes: u64,
}

impl Plan {
    /// A command encoder holding this plan's forward pass, in one compute pass.
    fn forward_encoder(&self, ctx: &GpuContext) -> wgpu::CommandEncoder {
        let mut encoder = ctx.device.create_command_encoder(&Default::default());
        {
            let mut pass = encoder.begin_compute_pass(&Default::default());
            for d in &self.forward {
                d.encode(&mut pass);
            }
        }
        encoder
    }
}

/// Buffers every plan shares.
struct Shared {
    params: wgpu::Buffer,
    grads: wgpu::Buffer,
    stats: wgpu::Buffer,
    m: wgpu::Buffer,
    v: wgpu::Buffer,
    step: wgpu::Buffer,
    metrics: wgpu::Buffer,
    eval_metrics: wgpu::Buffer,
}

/// A split resident on the GPU: pixels and labels packed four u8 per u32.
struct GpuSplit {
    len: usize,
    pixels: wgpu::Buffer,
    labels: wgpu::Buffer,
    /// Training: the epoch's shuffle. Evaluation: identity.
    perm: wgpu::Buffer,
}

/// Bytes padded to a multiple of 4, as buffer writes need.
fn padded_u8(bytes: &[u8]) -> Vec<u8> {
    let mut padded = bytes.to_vec();
    padded.resize(bytes.len().div_ceil(4) * 4, 0);
    padded
}

fn pack_u8(ctx: &GpuContext, label: &str, bytes: &[u8]) -> wgpu::Buffer {
    ctx.storage_buffer(label, &padded_u8(bytes))
}

impl GpuSplit {
    fn upload(ctx: &GpuContext, name: &str, split: &Split) -> Self {
        let identity: Vec<u32> = (0..split.len() as u32).collect();
        GpuSplit {
            len: split.len(),
            pixels: pack_u8(ctx, &format!("{name} pixels"), &split.images),
            labels: pack_u8(ctx, &format!("{name} labels"), &split.labels),
            perm: ctx.storage_buffer(&format!("{name} permutation"), bytemuck::cast_slice(&identity)),
        }
    }
    fn bytes(&self) -> u64 {
        self.pixels.size() + self.labels.size() + self.perm.size()
    }
}

struct Readback {
    buffer: wgpu::Buffer,
    first_step: u64,
    count: usize,
    done: Arc<Mutex<Option<Result<(), wgpu::BufferAsyncError>>>>,
    busy: bool,
}

/// Trains a [`Model`] on the GPU. Drive it with [`Trainer::step`] and collect metrics with
/// [`Trainer::poll_metrics`]; both return at once, so a browser can call them from its
/// event loop.
pub struct Trainer {
    pub model: Model,
    pub config: TrainConfig,
    kernels: Kernels,
    shared: Shared,
    train_data: GpuSplit,
    eval_data: HashMap<EvalSet, GpuSplit>,
    train_plan: Plan,
    eval_plans: HashMap<EvalSet, Plan>,
    /// Batch-1 evaluation plan for [`Trainer::probe`], built on first use.
    probe: Option<(GpuSplit, Plan)>,
    test_split: Split,
    readbacks: Vec<Readback>,
    in_flight: VecDeque<wgpu::SubmissionIndex>,
    /// Steps done so far (global), the Adam step count.
    steps: u64,
    /// First step whose metrics have not been requested yet.
    unrequested: u64,
    epoch: usize,
    step_in_epoch: usize,
}

impl Trainer {
    /// Uploads the data, initialises weights from `config.seed` and builds the training plan.
    pub fn new(ctx: &GpuContext, model: Model, data: &Dataset, config: TrainConfig) -> Result<Self, TrainError> {
        config.validate(data.train.len())?;
        let kernels = Kernels::new(ctx.clone());
        let params = model.init_params(config.seed);
        let stats = model.init_stats();
        let metric_bytes = vec![0u8; METRIC_SLOTS * 16];
        let shared = Shared {
            params: ctx.storage_buffer("params", bytemuck::cast_slice(&params)),
            grads: ctx.zeroed_buffer("grads", model.param_count),
            stats: ctx.storage_buffer("running stats", bytemuck::cast_slice(&stats)),
            m: ctx.zeroed_buffer("adam m", model.param_count),
            v: ctx.zeroed_buffer("adam v", model.param_count),
            step: ctx.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("step uniform"),
                size: std::mem::size_of::<StepUniform>() as u64,
                usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            }),
            metrics: ctx.storage_buffer("metrics ring", &metric_bytes),
            eval_metrics: ctx.zeroed_buffer("eval metrics", 4),
        };
        let train_data = GpuSplit::upload(ctx, "train", &data.train);
        let train_plan = build_plan(&kernels, &model, &config.adam, &shared, &train_data, &shared.metrics, config.batch, true, None);
        let readbacks = (0..STAGING_BUFFERS)
            .map(|i| Readback {
                buffer: ctx.device.create_buffer(&wgpu::BufferDescriptor {
                    label: Some(&format!("metrics staging {i}")),
                    size: (METRIC_SLOTS * 16) as u64,
                    usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
                    mapped_at_creation: false,
                }),
                first_step: 0,
                count: 0,
                done: Arc::new(Mutex::new(None)),
                busy: false,
            })
            .collect();
        let trainer = Trainer {
            model,
            config,
            kernels,
            shared,
            train_data,
            eval_data: HashMap::new(),
            train_plan,
            eval_plans: HashMap::new(),
            probe: None,
            test_split: data.test.clone(),
            readbacks,
            in_flight: VecDeque::new(),
            steps: 0,
            unrequested: 0,
            epoch: 0,
            step_in_epoch: 0,
        };
        trainer.check_fault()?;
        Ok(trainer)
    }

    pub fn context(&self) -> &GpuContext {
        &self.kernels.ctx
    }

    /// Training steps per epoch (the last partial batch is dropped).
    pub fn steps_per_epoch(&self) -> usize {
        self.train_data.len / self.config.batch
    }

    /// Global steps done.
    pub fn steps_done(&self) -> u64 {
        self.steps
    }

    /// Completed epochs.
    pub fn epoch(&self) -> usize {
        self.epoch
    }

    /// Steps done in the current epoch.
    pub fn step_in_epoch(&self) -> usize {
        self.step_in_epoch
    }

    /// Sets the learning rate for the following steps.
    pub fn set_learning_rate(&mut self, lr: f32) -> Result<(), TrainError> {
        let config = TrainConfig { adam: Adam { lr, ..self.config.adam }, ..self.config.clone() };
        config.validate(self.train_data.len)?;
        self.config = config;
        Ok(())
    }

    /// GPU memory this trainer allocated, in bytes (data, parameters, optimizer, activations).
    pub fn gpu_memory_bytes(&self) -> u64 {
        let s = &self.shared;
        let shared =
            [&s.params, &s.grads, &s.stats, &s.m, &s.v, &s.step, &s.metrics, &s.eval_metrics].iter().map(|b| b.size()).sum::<u64>();
        let staging = self.readbacks.iter().map(|r| r.buffer.size()).sum::<u64>();
        shared
            + staging
            + self.train_data.bytes()
            + self.eval_data.values().map(GpuSplit::bytes).sum::<u64>()
            + self.train_plan.bytes
            + self.eval_plans.values().map(|p| p.bytes).sum::<u64>()
    }

    fn check_fault(&self) -> Result<(), TrainError> {
        match self.kernels.ctx.take_fault() {
            Some(e) => Err(e.into()),
            None => Ok(()),
        }
    }

    fn write_step(&self, start: usize, valid: usize, slot: usize, accumulate: bool) {
        let t = self.steps as i32 + 1;
        let adam = &self.config.adam;
        let uniform = StepUniform {
            start: start as u32,
            valid: valid as u32,
            slot: slot as u32,
            accumulate: accumulate as u32,
            lr: adam.lr,
            bc1: (1.0 - (adam.beta1 as f64).powi(t)) as f32,
            bc2: (1.0 - (adam.beta2 as f64).powi(t)) as f32,
            _pad: 0.0,
        };
        self.kernels.ctx.queue.write_buffer(&self.shared.step, 0, bytemuck::bytes_of(&uniform));
    }

    /// Uploads the epoch's shuffle at its first step, and this step's uniform.
    fn begin_step(&self) {
        if self.step_in_epoch == 0 && self.config.shuffle {
            let perm = epoch_permutation(self.train_data.len, self.config.seed, self.epoch);
            self.kernels.ctx.queue.write_buffer(&self.train_data.perm, 0, bytemuck::cast_slice(&perm));
        }
        let batch = self.config.batch;
        self.write_step(self.step_in_epoch * batch, batch, self.steps as usize % METRIC_SLOTS, false);
    }

    /// Counts a submitted step and moves to the next epoch after its last one.
    fn advance(&mut self) {
        self.steps += 1;
        self.step_in_epoch += 1;
        if self.step_in_epoch == self.steps_per_epoch() {
            self.step_in_epoch = 0;
            self.epoch += 1;
        }
    }

    /// Encodes and submits one training step; never waits for the GPU except to keep at most
    /// `max_in_flight` steps queued (natively).
    pub fn step(&mut self) -> Result<(), TrainError> {
        self.check_fault()?;
        let ctx = self.kernels.ctx.clone();
        self.begin_step();
        let mut encoder = ctx.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("train step") });
        {
            let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor { label: Some("train step"), timestamp_writes: None });
            for d in self.train_plan.forward.iter().chain(&self.train_plan.backward) {
                d.encode(&mut pass);
            }
        }
        self.advance();
        let request = self.steps - self.unrequested >= self.config.metrics_every as u64 || self.step_in_epoch == 0;
        let staged = if request { self.stage_metrics(&mut encoder) } else { None };
        let index = ctx.queue.submit([encoder.finish()]);
        if let Some(i) = staged {
            self.map_readback(i);
        }
        self.in_flight.push_back(index);
        self.throttle()?;
        Ok(())
    }

    /// Copies the unread metric slots into a free staging buffer, if one is free.
    fn stage_metrics(&mut self, encoder: &mut wgpu::CommandEncoder) -> Option<usize> {
        let free = self.readbacks.iter().position(|r| !r.busy)?;
        // Slots older than the ring were overwritten: skip them.
        let first = self.unrequested.max(self.steps.saturating_sub(METRIC_SLOTS as u64));
        let first_slot = first as usize % METRIC_SLOTS;
        // Stop at the end of the ring; the rest goes in the next request.
        let count = ((self.steps - first) as usize).min(METRIC_SLOTS - first_slot);
        if count == 0 {
            return None;
        }
        encoder.copy_buffer_to_buffer(&self.shared.metrics, (first_slot * 16) as u64, &self.readbacks[free].buffer, 0, (count * 16) as u64);
        let r = &mut self.readbacks[free];
        r.first_step = first;
        r.count = count;
        r.busy = true;
        self.unrequested = first + count as u64;
        Some(free)
    }

    /// Maps staging buffer `i` once the submission holding its copy is queued; the callback
    /// marks it done for `poll_metrics`.
    fn map_readback(&self, i: usize) {
        let done = self.readbacks[i].done.clone();
        self.readbacks[i].buffer.map_async(wgpu::MapMode::Read, .., move |r| {
            *done.lock().unwrap_or_else(|p| p.into_inner()) = Some(r);
        });
    }

    #[cfg(not(target_arch = "wasm32"))]
    fn throttle(&mut self) -> Result<(), TrainError> {
        while self.in_flight.len() > self.config.max_in_flight {
            let oldest = self.in_flight.pop_front().expect("non-empty");
            self.kernels
                .ctx
                .device
                .poll(wgpu::PollType::Wait { submission_index: Some(oldest), timeout: None })
                .map_err(|e| GpuError::Device(e.to_string()))?;
        }
        Ok(())
    }

    /// In the browser the caller paces steps (see [`Trainer::gpu_idle`]).
    #[cfg(target_arch = "wasm32")]
    fn throttle(&mut self) -> Result<(), TrainError> {
        self.in_flight.clear();
        Ok(())
    }

    /// Resolves when the GPU has finished everything submitted so far.
    pub async fn gpu_idle(&mut self) -> Result<(), TrainError> {
        let (sender, receiver) = futures_channel::oneshot::channel();
        self.kernels.ctx.queue.on_submitted_work_done(move || {
            let _ = sender.send(());
        });
        #[cfg(not(target_arch = "wasm32"))]
        self.kernels.ctx.device.poll(wgpu::PollType::wait_indefinitely()).map_err(|e| GpuError::Device(e.to_string()))?;
        receiver.await.map_err(|_| GpuError::Lost("work-done callback dropped".into()))?;
        self.in_flight.clear();
        self.check_fault()
    }

    /// Metrics of steps whose read-back has completed, oldest first. Never blocks.
    /// A non-finite loss is an error.
    pub fn poll_metrics(&mut self) -> Result<Vec<StepMetrics>, TrainError> {
        #[cfg(not(target_arch = "wasm32"))]
        self.kernels.ctx.device.poll(wgpu::PollType::Poll).map_err(|e| GpuError::Device(e.to_string()))?;
        self.check_fault()?;
        let mut out = Vec::new();
        let mut order: Vec<usize> = (0..self.readbacks.len()).filter(|&i| self.readbacks[i].busy).collect();
        order.sort_by_key(|&i| self.readbacks[i].first_step);
        for i in order {
            let r = &mut self.readbacks[i];
            let Some(result) = r.done.lock().unwrap_or_else(|p| p.into_inner()).take() else {
                // Keep step order: later read-backs wait for this one.
                break;
            };
            result.map_err(|e| GpuError::Readback(e.to_string()))?;
            {
                let view = r.buffer.get_mapped_range(..).map_err(|e| GpuError::Readback(e.to_string()))?;
                let words: &[f32] = bytemuck::cast_slice(&view);
                for k in 0..r.count {
                    let slot = &words[k * 4..k * 4 + 4];
                    out.push(StepMetrics { step: r.first_step + k as u64, loss: slot[0] / slot[2], accuracy: slot[1] / slot[2] });
                }
            }
            r.buffer.unmap();
            r.busy = false;
        }
        if let Some(bad) = out.iter().find(|m| !m.loss.is_finite()) {
            return Err(TrainError::NonFiniteLoss { step: bad.step, loss: bad.loss });
        }
        Ok(out)
    }

    /// Waits until every step's metrics requested so far have come back, requesting the
    /// rest first.
    pub async fn flush_metrics(&mut self) -> Result<Vec<StepMetrics>, TrainError> {
        let mut out = Vec::new();
        loop {
            if self.unrequested < self.steps && self.readbacks.iter().any(|r| !r.busy) {
                let ctx = self.kernels.ctx.clone();
                let mut encoder = ctx.device.create_command_encoder(&Default::default());
                if let Some(i) = self.stage_metrics(&mut encoder) {
                    ctx.queue.submit([encoder.finish()]);
                    self.map_readback(i);
                }
            }
            if self.readbacks.iter().all(|r| !r.busy) && self.unrequested >= self.steps {
                return Ok(out);
            }
            self.gpu_idle().await?;
            out.extend(self.poll_metrics()?);
        }
    }

    /// Loss and accuracy over a split (BatchNorm in evaluation mode). Waits for the GPU.
    pub async fn evaluate(&mut self, set: EvalSet) -> Result<EvalResult, TrainError> {
        Ok(self.run_evaluation(set, false).await?.0)
    }

    /// Like [`Trainer::evaluate`], and also every example's log-probabilities
    /// (`count * classes` floats, in split order), for confusion matrices and galleries.
    pub async fn evaluate_predictions(&mut self, set: EvalSet) -> Result<(EvalResult, Vec<f32>), TrainError> {
        self.run_evaluation(set, true).await
    }

    async fn run_evaluation(&mut self, set: EvalSet, keep_logprobs: bool) -> Result<(EvalResult, Vec<f32>), TrainError> {
        self.ensure_eval_plan(set);
        let ctx = self.kernels.ctx.clone();
        let len = self.eval_data[&set].len;
        let plan = &self.eval_plans[&set];
        let eval_batch = plan.n;
        let classes = self.model.classes;
        let logprobs_out = plan.acts.last().expect("a model has layers");
        // Each batch's log-probabilities are copied out before the next batch overwrites them.
        let kept = keep_logprobs.then(|| ctx.zeroed_buffer("evaluation log-probabilities", len * classes));
        let mut encoder = ctx.device.create_command_encoder(&Default::default());
        encoder.clear_buffer(&self.shared.eval_metrics, 0, None);
        ctx.queue.submit([encoder.finish()]);
        for start in (0..len).step_by(eval_batch) {
            let valid = eval_batch.min(len - start);
            self.write_step(start, valid, 0, true);
            let mut encoder = plan.forward_encoder(&ctx);
            if let Some(kept) = &kept {
                let bytes = |n: usize| (n * classes * 4) as u64;
                encoder.copy_buffer_to_buffer(logprobs_out, 0, kept, bytes(start), bytes(valid));
            }
            ctx.queue.submit([encoder.finish()]);
        }
        let sums = ctx.read_f32(&self.shared.eval_metrics).await?;
        let logprobs = match &kept {
            Some(kept) => {
                let mut v = ctx.read_f32(kept).await?;
                v.truncate(len * classes);
                v
            }
            None => Vec::new(),
        };
        self.check_fault()?;
        Ok((EvalResult { loss: sums[0] / sums[2], accuracy: sums[1] / sums[2], count: sums[2] as usize }, logprobs))
    }

    /// Every activation of one image in evaluation mode (running BatchNorm statistics):
    /// `[input, output of op 0, ...]`, for visualisations and the drawing pad (an op
    /// followed by a ReLU is fused with it, so its output is already rectified). `image` is
    /// 784 pixels, 0–255. Waits for the GPU; a small plan of batch 1 is built once.
    pub async fn probe(&mut self, image: &[u8]) -> Result<Vec<Vec<f32>>, TrainError> {
        if image.len() != self.model.input_len() {
            return Err(TrainError::Config(format!("an image has {} pixels, the model takes {}", image.len(), self.model.input_len())));
        }
        self.check_fault()?;
        let ctx = self.kernels.ctx.clone();
        if self.probe.is_none() {
            let one = Split { images: image.to_vec(), labels: vec![0] };
            let data = GpuSplit::upload(&ctx, "probe", &one);
            let metrics = ctx.zeroed_buffer("probe metrics", 4);
            // Its own activations (67 KB): each probe reads all of them back.
            let plan = build_plan(&self.kernels, &self.model, &self.config.adam, &self.shared, &data, &metrics, 1, false, None);
            self.probe = Some((data, plan));
        }
        let (data, plan) = self.probe.as_ref().expect("built above");
        ctx.queue.write_buffer(&data.pixels, 0, &padded_u8(image));
        self.write_step(0, 1, 0, true);
        ctx.queue.submit([plan.forward_encoder(&ctx).finish()]);
        let mut out = Vec::with_capacity(plan.acts.len());
        for (buffer, len) in plan.acts.iter().zip(self.model.activation_lens()) {
            let mut v = ctx.read_f32(buffer).await?;
            v.truncate(len);
            out.push(v);
        }
        self.check_fault()?;
        Ok(out)
    }

    fn ensure_eval_plan(&mut self, set: EvalSet) {
        if self.eval_plans.contains_key(&set) {
            return;
        }
        let ctx = self.kernels.ctx.clone();
        // The training pixels are already on the GPU: reuse them with an identity permutation.
        let data = match set {
            EvalSet::Test => GpuSplit::upload(&ctx, "test", &self.test_split),
            EvalSet::Train => {
                let identity: Vec<u32> = (0..self.train_data.len as u32).collect();
                GpuSplit {
                    len: self.train_data.len,
                    pixels: self.train_data.pixels.clone(),
                    labels: self.train_data.labels.clone(),
                    perm: ctx.storage_buffer("train identity permutation", bytemuck::cast_slice(&identity)),
                }
            }
        };
        let n = self.config.eval_batch.min(data.len.max(1));
        let plan = build_plan(
            &self.kernels,
            &self.model,
            &self.config.adam,
            &self.shared,
            &data,
            &self.shared.eval_metrics,
            n,
            false,
            Some(&self.train_plan),
        );
        self.eval_data.insert(set, data);
        self.eval_plans.insert(set, plan);
    }

    /// Current parameters and running statistics (waits for the GPU).
    pub async fn weights(&self) -> Result<Weights, TrainError> {
        let ctx = &self.kernels.ctx;
        let mut params = ctx.read_f32(&self.shared.params).await?;
        params.truncate(self.model.param_count);
        let mut stats = ctx.read_f32(&self.shared.stats).await?;
        stats.truncate(self.model.stats_count);
        Ok(Weights { params, stats })
    }

    /// Replaces parameters and running statistics. Checks sizes and values first, so a bad
    /// file leaves the current model untouched. Adam's moments are kept.
    pub fn set_weights(&mut self, w: &Weights) -> Result<(), TrainError> {
        w.check(&self.model)?;
        let q = &self.kernels.ctx.queue;
        if !w.stats.is_empty() {
            q.write_buffer(&self.shared.stats, 0, bytemuck::cast_slice(&w.stats));
        }
        q.write_buffer(&self.shared.params, 0, bytemuck::cast_slice(&w.params));
        Ok(())
    }

    /// Activations of the last training step: `[input, output of op 0, ...]`, each
    /// `batch * len` floats (for tests and visualisations; waits for the GPU). An evaluation
    /// since that step overwrites them: it shares the buffers (the probe has its own).
    pub async fn read_activations(&self) -> Result<Vec<Vec<f32>>, TrainError> {
        let mut out = Vec::new();
        for b in &self.train_plan.acts {
            out.push(self.kernels.ctx.read_f32(b).await?);
        }
        Ok(out)
    }

    /// Gradients w.r.t. the flat parameters from the last training step.
    pub async fn read_grads(&self) -> Result<Vec<f32>, TrainError> {
        let mut g = self.kernels.ctx.read_f32(&self.shared.grads).await?;
        g.truncate(self.model.param_count);
        Ok(g)
    }

    /// Runs one training step with one compute pass per dispatch and timestamp queries, and
    /// returns each kernel's GPU time. None if the adapter has no timestamp queries.
    pub async fn profile_step(&mut self) -> Result<Option<Vec<KernelTime>>, TrainError> {
        let ctx = self.kernels.ctx.clone();
        if !ctx.timestamps {
            return Ok(None);
        }
        let dispatches: Vec<Dispatch> = self.train_plan.forward.iter().chain(&self.train_plan.backward).cloned().collect();
        let queries = (dispatches.len() * 2) as u32;
        let set = ctx.device.create_query_set(&wgpu::QuerySetDescriptor {
            label: Some("profile"),
            ty: wgpu::QueryType::Timestamp,
            count: queries,
        });
        let resolve = ctx.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("profile resolve"),
            size: queries as u64 * 8,
            usage: wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC,
            mapped_at_creation: false,
        });
        self.begin_step();
        let mut encoder = ctx.device.create_command_encoder(&Default::default());
        for (i, d) in dispatches.iter().enumerate() {
            let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some(d.kernel),
                timestamp_writes: Some(wgpu::ComputePassTimestampWrites {
                    query_set: &set,
                    beginning_of_pass_write_index: Some(2 * i as u32),
                    end_of_pass_write_index: Some(2 * i as u32 + 1),
                }),
            });
            d.encode(&mut pass);
        }
        encoder.resolve_query_set(&set, 0..queries, &resolve, 0);
        ctx.queue.submit([encoder.finish()]);
        // Profiling counts as a real step.
        self.advance();
        let bytes = ctx.read_bytes(&resolve).await?;
        let stamps: &[u64] = bytemuck::cast_slice(&bytes);
        let period = ctx.queue.get_timestamp_period() as f64;
        Ok(Some(
            dispatches
                .iter()
                .enumerate()
                .map(|(i, d)| KernelTime { kernel: d.kernel, nanos: stamps[2 * i + 1].saturating_sub(stamps[2 * i]) as f64 * period })
                .collect(),
        ))
    }
}

/// Builds the bound dispatches of one batch size: gather, every op forward (ReLU fused into
/// a preceding convolution or BatchNorm), the loss, and in training the backward pass and Adam.
/// With `shared_acts` (the training plan) of at least this batch size, the forward pass writes
/// into that plan's activations instead of new ones: plans run one submission at a time, and
/// a training step writes all its activations before it reads them.
#[allow(clippy::too_many_arguments)]
fn build_plan(
    k: &Kernels,
    model: &Model,
    adam: &Adam,
    shared: &Shared,
    data: &GpuSplit,
    metrics: &wgpu::Buffer,
    n: usize,
    train: bool,
    shared_acts: Option<&Plan>,
) -> Plan {
    let ctx = &k.ctx;
    let ops = &model.ops;
    let mut bytes = 0u64;
    let mut alloc = |label: &str, floats: usize| {
        bytes += (floats.max(1) * 4) as u64;
        ctx.zeroed_buffer(label, floats)
    };
    // ops[i] is fused into ops[i - 1] when it is a ReLU after a convolution or BatchNorm.
    let fused_relu =
        |i: usize| -> bool { i > 0 && matches!(ops[i], Op::Relu { .. }) && matches!(ops[i - 1], Op::Conv { .. } | Op::BatchNorm { .. }) };

    let acts = match shared_acts.filter(|p| p.n >= n) {
        Some(big_enough) => big_enough.acts.clone(),
        None => {
            let mut acts = vec![alloc("input", n * IMAGE_PIXELS)];
            for (i, op) in ops.iter().enumerate() {
                let aliased = matches!(op, Op::Flatten { .. }) || fused_relu(i);
                let next = if aliased { acts[i].clone() } else { alloc(&format!("activation {i}"), n * op.output_len()) };
                acts.push(next);
            }
            acts
        }
    };
    // grads[i] is d loss / d acts[i]; ReLU (in place) and Flatten share their output's.
    let mut grads: Vec<Option<wgpu::Buffer>> = vec![None; ops.len() + 1];
    if train {
        grads[ops.len()] = Some(alloc("unused logprob gradient", 1));
        for i in (0..ops.len()).rev() {
            let g = if matches!(ops[i], Op::Flatten { .. } | Op::Relu { .. }) {
                grads[i + 1].clone().expect("filled from the back")
            } else if i == 0 {
                alloc("unused input gradient", 1)
            } else {
                alloc(&format!("gradient {i}"), n * ops[i - 1].output_len())
            };
            grads[i] = Some(g);
        }
    }
    let grads: Vec<wgpu::Buffer> = grads.into_iter().map(|g| g.unwrap_or_else(|| acts[0].clone())).collect();
    // Scratch that each convolution uses in turn: the weight gradients' partial sums, and
    // its weights (and dy) packed for the lane kernels just before they read them.
    let convs: Vec<&ConvGeom> = ops.iter().filter_map(|op| if let Op::Conv { geom, .. } = op { Some(geom) } else { None }).collect();
    let scratch_len = convs.iter().filter(|_| train).map(|g| ConvParamsSplit::scratch_len(g, n, k.block)).max().unwrap_or(1);
    let partials = alloc("weight gradient partial sums", scratch_len);
    let packed_bytes = convs.iter().map(|g| k.packed_weights_bytes(g, n, train)).max().unwrap_or(0);
    let (packed, packed_new_bytes) = match shared_acts.filter(|p| p.packed.size() >= packed_bytes) {
        Some(big_enough) => (big_enough.packed.clone(), 0),
        None => {
            let buffer = k.packed_weights_buffer(packed_bytes);
            let size = buffer.size();
            (buffer, size)
        }
    };
    let labels = alloc("labels", n);
    let mut saves: Vec<Option<wgpu::Buffer>> = vec![None; ops.len()];

    let mut forward = vec![k.gather(n, data.len, &shared.step, &data.pixels, &data.labels, &data.perm, &acts[0], &labels)];
    for (i, op) in ops.iter().enumerate() {
        let fuse = ops.get(i + 1).is_some() && fused_relu(i + 1);
        let (x, y) = (&acts[i], &acts[i + 1]);
        match *op {
            Op::Conv { geom, weight, bias } => forward.extend(k.conv_forward(&geom, n, fuse, x, &shared.params, weight, bias, y, &packed)),
            Op::BatchNorm { shape, gamma, beta, stats } => {
                let save = alloc(&format!("bn save {i}"), 2 * shape.c);
                forward.push(if train {
                    k.bn_stats(shape, n, true, x, &save, &shared.stats, stats)
                } else {
                    k.bn_eval_stats(shape, &shared.stats, stats, &save)
                });
                forward.push(k.bn_apply(shape, n, fuse, x, &save, &shared.params, gamma, beta, y));
                saves[i] = Some(save);
            }
            Op::Relu { shape } => {
                if !fused_relu(i) {
                    forward.push(k.relu(n * shape.len(), x, y));
                }
            }
            Op::Flatten { .. } => {}
            Op::Dense { inputs, outputs, weight, bias } => {
                forward.push(k.dense_forward(n, inputs, outputs, x, &shared.params, weight, bias, y))
            }
            Op::LogSoftmax { classes } => forward.push(k.softmax_loss(n, classes, train, &shared.step, x, &labels, y, &grads[i], metrics)),
        }
    }

    let mut backward = Vec::new();
    if train {
        for (i, op) in ops.iter().enumerate().rev() {
            let fuse = ops.get(i + 1).is_some() && fused_relu(i + 1);
            let (x, y, dy, dx) = (&acts[i], &acts[i + 1], &grads[i + 1], &grads[i]);
            let count = n * op.output_len();
            if fuse || (matches!(op, Op::Relu { .. }) && !fused_relu(i)) {
                backward.push(k.relu_backward(count, y, dy));
            }
            match *op {
                Op::Conv { geom, weight, bias } => {
                    let bias_feeds_bn = matches!(ops.get(i + 1), Some(Op::BatchNorm { .. }));
                    backward.extend(k.conv_backward_params(
                        &geom,
                        n,
                        bias_feeds_bn,
                        x,
                        dy,
                        &partials,
                        &shared.grads,
                        weight,
                        bias,
                        &packed,
                    ));
                    if i > 0 {
                        backward.extend(k.conv_backward_input(&geom, n, dy, &shared.params, weight, dx, &packed));
                    }
                }
                Op::BatchNorm { shape, gamma, beta, .. } => {
                    let save = saves[i].as_ref().expect("made in forward");
                    backward.push(k.bn_backward_params(shape, n, x, dy, save, &shared.grads, gamma, beta));
                    if i > 0 {
                        backward.push(k.bn_backward_input(shape, n, x, dy, save, &shared.params, &shared.grads, gamma, beta, dx));
                    }
                }
                Op::Dense { inputs, outputs, weight, bias } => {
                    backward.push(k.dense_backward_params(n, inputs, outputs, x, dy, &shared.grads, weight, bias));
                    if i > 0 {
                        backward.push(k.dense_backward_input(n, inputs, outputs, dy, &shared.params, weight, dx));
                    }
                }
                Op::Relu { .. } | Op::Flatten { .. } | Op::LogSoftmax { .. } => {}
            }
        }
        backward.push(k.adam(model.param_count, adam, &shared.step, &shared.grads, &shared.params, &shared.m, &shared.v));
    }
    Plan { n, acts, packed, forward, backward, bytes: bytes + packed_new_bytes }
}

/// Native convenience: blocks on an engine future.
#[cfg(not(target_arch = "wasm32"))]
pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    pollster::block_on(f)
}
