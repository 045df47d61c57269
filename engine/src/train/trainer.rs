//! Our trainer: the dataset resident on the GPU as u8, a static plan of bound dispatches
//! per batch size, and many training steps per command buffer.

use super::metrics::{MetricsRing, METRIC_SLOTS, SLOT_BYTES};
use super::plan::{build_plan, identity_permutation, padded_u8, upload_split, Plan, PlanSpec, Shared};
use super::submit::{StepTable, MAX_STEPS_PER_SUBMISSION};
use super::{EvalResult, EvalSet, StepClock, StepMetrics, TrainConfig, TrainError, Weights};
use crate::bench::KernelTime;
use crate::data::{Dataset, Split};
use crate::gpu::gather::ResidentSplit;
#[cfg(not(target_arch = "wasm32"))]
use crate::gpu::GpuError;
use crate::gpu::{Dispatch, GpuContext, Kernels, Step};
use crate::model::{epoch_permutation, Adam, Model};
use crate::weights::TrainingState;
use std::collections::{HashMap, VecDeque};

/// Trains a [`Model`] on the GPU. Drive it with [`Trainer::step`] and collect metrics with
/// [`Trainer::poll_metrics`]; both return at once, so a browser can call them from its
/// event loop.
pub struct Trainer {
    pub model: Model,
    pub config: TrainConfig,
    kernels: Kernels,
    shared: Shared,
    train_data: ResidentSplit,
    eval_data: HashMap<EvalSet, ResidentSplit>,
    train_plan: Plan,
    eval_plans: HashMap<EvalSet, Plan>,
    /// Batch-1 evaluation plan for [`Trainer::probe`], built on first use.
    probe: Option<(ResidentSplit, Plan)>,
    test_split: Split,
    ring: MetricsRing,
    in_flight: VecDeque<wgpu::SubmissionIndex>,
    clock: StepClock,
    table: StepTable,
    submissions: u64,
    /// Native only: CPU time spent encoding training steps, and inside the submit call.
    encode_seconds: f64,
    submit_seconds: f64,
}

impl Trainer {
    /// Uploads the data, initialises weights from `config.seed` and builds the training plan.
    pub fn new(ctx: &GpuContext, model: Model, data: &Dataset, config: TrainConfig) -> Result<Self, TrainError> {
        config.validate(data.train.len())?;
        check_fits(ctx, &model, data, &config)?;
        let kernels = Kernels::new(ctx.clone());
        let initial = Weights::initial(&model, config.seed);
        let shared = Shared {
            params: ctx.storage_buffer("params", bytemuck::cast_slice(&initial.params)),
            grads: ctx.zeroed_buffer("grads", model.param_count),
            stats: ctx.storage_buffer("running stats", bytemuck::cast_slice(&initial.stats)),
            m: ctx.zeroed_buffer("adam m", model.param_count),
            v: ctx.zeroed_buffer("adam v", model.param_count),
            step: ctx.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("step uniform"),
                size: std::mem::size_of::<Step>() as u64,
                usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            }),
            metrics: ctx.storage_buffer("metrics ring", &vec![0u8; METRIC_SLOTS * SLOT_BYTES]),
            eval_metrics: ctx.zeroed_buffer("eval metrics", 4),
        };
        let train_data = upload_split(ctx, "train", &data.train);
        let spec = PlanSpec {
            model: &model,
            adam: &config.adam,
            data: &train_data,
            metrics: &shared.metrics,
            n: config.batch,
            train: true,
            shared_acts: None,
        };
        let train_plan = build_plan(&kernels, &shared, &spec);
        let trainer = Trainer {
            clock: StepClock::new(train_data.len / config.batch),
            model,
            config,
            ring: MetricsRing::new(ctx),
            kernels,
            shared,
            train_data,
            eval_data: HashMap::new(),
            train_plan,
            eval_plans: HashMap::new(),
            probe: None,
            test_split: data.test.clone(),
            in_flight: VecDeque::new(),
            table: StepTable::new(ctx),
            submissions: 0,
            encode_seconds: 0.0,
            submit_seconds: 0.0,
        };
        trainer.check_fault()?;
        Ok(trainer)
    }

    pub fn context(&self) -> &GpuContext {
        &self.kernels.ctx
    }

    /// Steps done and where they fall in epochs.
    pub fn clock(&self) -> StepClock {
        self.clock
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
        self.shared.bytes()
            + self.table.bytes()
            + self.ring.bytes()
            + self.train_data.bytes()
            // The training set's evaluation view shares the training pixels and labels.
            + self.eval_data.iter().map(|(set, d)| if *set == EvalSet::Train { d.perm.size() } else { d.bytes() }).sum::<u64>()
            + self.train_plan.bytes
            + self.eval_plans.values().map(|p| p.bytes).sum::<u64>()
    }

    fn check_fault(&self) -> Result<(), TrainError> {
        match self.kernels.ctx.take_fault() {
            Some(e) => Err(e.into()),
            None => Ok(()),
        }
    }

    /// The uniform of a step or evaluation batch; `t` is Adam's step number, from 1.
    fn step_uniform(&self, t: u64, start: usize, valid: usize, slot: usize, accumulate: bool) -> Step {
        let adam = &self.config.adam;
        let t = t.min(i32::MAX as u64) as i32;
        Step {
            start: start as u32,
            valid: valid as u32,
            slot: slot as u32,
            accumulate: accumulate as u32,
            lr: adam.lr,
            bc1: (1.0 - (adam.beta1 as f64).powi(t)) as f32,
            bc2: (1.0 - (adam.beta2 as f64).powi(t)) as f32,
            _pad: 0.0,
        }
    }

    /// The uniform of the training step after `clock`.
    fn train_uniform(&self, clock: StepClock) -> Step {
        let batch = self.config.batch;
        self.step_uniform(clock.steps + 1, clock.batch_start(batch), batch, MetricsRing::slot(clock.steps), false)
    }

    /// Writes one step's uniform directly (evaluation, probes, profiling).
    fn write_step(&self, start: usize, valid: usize, slot: usize, accumulate: bool) {
        let uniform = self.step_uniform(self.clock.steps + 1, start, valid, slot, accumulate);
        self.kernels.ctx.queue.write_buffer(&self.shared.step, 0, bytemuck::bytes_of(&uniform));
    }

    /// Uploads the epoch's shuffle at its first step.
    fn upload_shuffle_if_due(&self) {
        if self.clock.at_epoch_start() && self.config.shuffle {
            let perm = epoch_permutation(self.train_data.len, self.config.seed, self.clock.epoch);
            self.kernels.ctx.queue.write_buffer(&self.train_data.perm, 0, bytemuck::cast_slice(&perm));
        }
    }

    /// Submissions so far (training steps and evaluations), for benchmarks.
    pub fn submissions(&self) -> u64 {
        self.submissions
    }

    /// CPU seconds spent so far encoding training steps, and inside the queue's submit
    /// call (natively; both 0 in the browser, which has no monotonic clock here). A
    /// software driver may run the work inside submit.
    pub fn cpu_seconds(&self) -> (f64, f64) {
        (self.encode_seconds, self.submit_seconds)
    }

    /// Dispatches (kernel launches) in one training step; each step also copies its uniform.
    pub fn dispatches_per_step(&self) -> usize {
        self.train_plan.forward.len() + self.train_plan.backward.len()
    }

    /// The kernels of one training step's dispatches, in order.
    pub fn step_kernels(&self) -> Vec<&'static str> {
        self.train_plan.forward.iter().chain(&self.train_plan.backward).map(|d| d.kernel).collect()
    }

    /// Encodes and submits one training step. See [`Trainer::steps`].
    pub fn step(&mut self) -> Result<(), TrainError> {
        self.steps(1).map(|_| ())
    }

    /// Encodes up to `count` training steps (at most [`MAX_STEPS_PER_SUBMISSION`], and
    /// never past the end of the epoch, whose next shuffle is uploaded between
    /// submissions) into one command buffer and submits it. Returns the steps submitted.
    /// Never waits for the GPU except to keep at most `max_in_flight` submissions queued
    /// (natively).
    pub fn steps(&mut self, count: usize) -> Result<usize, TrainError> {
        self.check_fault()?;
        #[cfg(not(target_arch = "wasm32"))]
        let begun = std::time::Instant::now();
        let ctx = self.kernels.ctx.clone();
        self.upload_shuffle_if_due();
        let left_in_epoch = self.clock.steps_per_epoch - self.clock.step_in_epoch;
        let count = count.clamp(1, MAX_STEPS_PER_SUBMISSION).min(left_in_epoch);
        let mut uniforms = Vec::with_capacity(count);
        for _ in 0..count {
            uniforms.push(self.train_uniform(self.clock));
            self.clock.advance();
        }
        let mut encoder = ctx.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("train steps") });
        let plan = [&self.train_plan.forward[..], &self.train_plan.backward[..]];
        self.table.encode(&ctx, &mut encoder, &uniforms, &self.shared.step, &plan, |_, _| {});
        let request = self.ring.due(self.clock.steps, self.config.metrics_every, self.clock.at_epoch_start());
        let staged = if request { self.ring.stage(&mut encoder, &self.shared.metrics, self.clock.steps) } else { None };
        let commands = encoder.finish();
        #[cfg(not(target_arch = "wasm32"))]
        let encoded = std::time::Instant::now();
        let index = ctx.queue.submit([commands]);
        #[cfg(not(target_arch = "wasm32"))]
        {
            self.encode_seconds += (encoded - begun).as_secs_f64();
            self.submit_seconds += encoded.elapsed().as_secs_f64();
        }
        self.submissions += 1;
        if let Some(i) = staged {
            self.ring.map(i);
        }
        self.in_flight.push_back(index);
        self.throttle()?;
        Ok(count)
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
        self.kernels.ctx.wait_idle().await?;
        self.in_flight.clear();
        Ok(())
    }

    /// Metrics of steps whose read-back has completed, oldest first. Never blocks.
    /// A non-finite loss is an error.
    pub fn poll_metrics(&mut self) -> Result<Vec<StepMetrics>, TrainError> {
        #[cfg(not(target_arch = "wasm32"))]
        self.kernels.ctx.device.poll(wgpu::PollType::Poll).map_err(|e| GpuError::Device(e.to_string()))?;
        self.check_fault()?;
        self.ring.poll()
    }

    /// Waits until every step's metrics requested so far have come back, requesting the
    /// rest first.
    pub async fn flush_metrics(&mut self) -> Result<Vec<StepMetrics>, TrainError> {
        let mut out = Vec::new();
        loop {
            let steps = self.clock.steps;
            if self.ring.can_request(steps) {
                let ctx = self.kernels.ctx.clone();
                let mut encoder = ctx.device.create_command_encoder(&Default::default());
                if let Some(i) = self.ring.stage(&mut encoder, &self.shared.metrics, steps) {
                    ctx.queue.submit([encoder.finish()]);
                    self.ring.map(i);
                }
            }
            if self.ring.drained(steps) {
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
        // Every batch adds into metrics slot 0; up to MAX_STEPS_PER_SUBMISSION batches per
        // submission.
        let batches: Vec<Step> = (0..len)
            .step_by(eval_batch)
            .map(|start| self.step_uniform(self.clock.steps + 1, start, eval_batch.min(len - start), 0, true))
            .collect();
        for (chunk_index, chunk) in batches.chunks(MAX_STEPS_PER_SUBMISSION).enumerate() {
            let mut encoder = ctx.device.create_command_encoder(&Default::default());
            let first = chunk_index * MAX_STEPS_PER_SUBMISSION;
            self.table.encode(&ctx, &mut encoder, chunk, &self.shared.step, &[&plan.forward], |encoder, k| {
                if let Some(kept) = &kept {
                    let (start, valid) = (chunk[k].start as usize, chunk[k].valid as usize);
                    let bytes = |n: usize| (n * classes * 4) as u64;
                    debug_assert_eq!(start, (first + k) * eval_batch);
                    encoder.copy_buffer_to_buffer(logprobs_out, 0, kept, bytes(start), bytes(valid));
                }
            });
            ctx.queue.submit([encoder.finish()]);
            self.submissions += 1;
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
        self.run_probe(image)?;
        let plan = &self.probe.as_ref().expect("run_probe built it").1;
        let mut out = Vec::with_capacity(plan.acts.len());
        for (buffer, len) in plan.acts.iter().zip(self.model.activation_lens()) {
            let mut v = self.kernels.ctx.read_f32(buffer).await?;
            v.truncate(len);
            out.push(v);
        }
        self.check_fault()?;
        Ok(out)
    }

    /// One image's log-probabilities through the same batch-1 plan as [`Trainer::probe`],
    /// reading back only those.
    pub async fn classify(&mut self, image: &[u8]) -> Result<Vec<f32>, TrainError> {
        self.run_probe(image)?;
        let plan = &self.probe.as_ref().expect("run_probe built it").1;
        let mut v = self.kernels.ctx.read_f32(plan.acts.last().expect("a model has layers")).await?;
        v.truncate(self.model.classes);
        self.check_fault()?;
        Ok(v)
    }

    /// Submits the batch-1 evaluation of `image` (building its plan on first use).
    fn run_probe(&mut self, image: &[u8]) -> Result<(), TrainError> {
        if image.len() != self.model.input_len() {
            return Err(TrainError::Config(format!("an image has {} pixels, the model takes {}", image.len(), self.model.input_len())));
        }
        self.check_fault()?;
        let ctx = self.kernels.ctx.clone();
        if self.probe.is_none() {
            let one = Split { images: image.to_vec(), labels: vec![0] };
            let data = upload_split(&ctx, "probe", &one);
            let metrics = ctx.zeroed_buffer("probe metrics", 4);
            // Its own activations (small): each probe reads all of them back.
            let spec = PlanSpec {
                model: &self.model,
                adam: &self.config.adam,
                data: &data,
                metrics: &metrics,
                n: 1,
                train: false,
                shared_acts: None,
            };
            let plan = build_plan(&self.kernels, &self.shared, &spec);
            self.probe = Some((data, plan));
        }
        self.write_step(0, 1, 0, true);
        let (data, plan) = self.probe.as_ref().expect("built above");
        ctx.queue.write_buffer(&data.pixels, 0, &padded_u8(image));
        ctx.queue.submit([plan.forward_encoder(&ctx).finish()]);
        Ok(())
    }

    fn ensure_eval_plan(&mut self, set: EvalSet) {
        if self.eval_plans.contains_key(&set) {
            return;
        }
        let ctx = self.kernels.ctx.clone();
        // The training pixels are already on the GPU: reuse them with an identity permutation.
        let data = match set {
            EvalSet::Test => upload_split(&ctx, "test", &self.test_split),
            EvalSet::Train => ResidentSplit {
                perm: identity_permutation(&ctx, "train identity permutation", self.train_data.len),
                ..self.train_data.clone()
            },
        };
        let n = self.config.eval_batch.min(data.len.max(1));
        let spec = PlanSpec {
            model: &self.model,
            adam: &self.config.adam,
            data: &data,
            metrics: &self.shared.eval_metrics,
            n,
            train: false,
            shared_acts: Some(&self.train_plan),
        };
        let plan = build_plan(&self.kernels, &self.shared, &spec);
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

    /// Adam's moments and where training stands, for a checkpoint (waits for the GPU).
    pub async fn training_state(&self) -> Result<TrainingState, TrainError> {
        let ctx = &self.kernels.ctx;
        let mut m = ctx.read_f32(&self.shared.m).await?;
        let mut v = ctx.read_f32(&self.shared.v).await?;
        m.truncate(self.model.param_count);
        v.truncate(self.model.param_count);
        let c = self.clock;
        let (batch, train_images, lr) = (self.config.batch, self.train_data.len, self.config.adam.lr);
        Ok(TrainingState {
            m,
            v,
            steps: c.steps,
            epoch: c.epoch,
            step_in_epoch: c.step_in_epoch,
            steps_per_epoch: c.steps_per_epoch,
            batch,
            train_images,
            lr,
        })
    }

    /// Continues a checkpointed run exactly: its weights, Adam's moments and step count, and
    /// its place in the epoch's shuffle. The settings must be the checkpoint's; if anything
    /// differs, nothing changes and the error says what.
    pub fn resume_from(&mut self, weights: &Weights, state: &TrainingState) -> Result<(), TrainError> {
        weights.check(&self.model).map_err(TrainError::Weights)?;
        let ours = (self.config.batch, self.train_data.len, self.config.adam.lr, self.clock.steps_per_epoch);
        let theirs = (state.batch, state.train_images, state.lr, state.steps_per_epoch);
        if ours != theirs || state.m.len() != self.model.param_count || state.v.len() != self.model.param_count {
            return Err(TrainError::Config(format!(
                "the checkpoint was trained with batch {}, {} training images and learning rate {}, this run has batch {}, {} images and learning rate {}: resume with the checkpoint's settings",
                theirs.0, theirs.1, theirs.2, ours.0, ours.1, ours.2
            )));
        }
        let q = &self.kernels.ctx.queue;
        q.write_buffer(&self.shared.params, 0, bytemuck::cast_slice(&weights.params));
        q.write_buffer(&self.shared.stats, 0, bytemuck::cast_slice(&weights.stats));
        q.write_buffer(&self.shared.m, 0, bytemuck::cast_slice(&state.m));
        q.write_buffer(&self.shared.v, 0, bytemuck::cast_slice(&state.v));
        self.clock = StepClock {
            steps_per_epoch: state.steps_per_epoch,
            steps: state.steps,
            epoch: state.epoch,
            step_in_epoch: state.step_in_epoch,
        };
        self.ring.start_at(state.steps);
        // Mid-epoch, the epoch's shuffle is not uploaded again at its next step.
        if self.config.shuffle && !self.clock.at_epoch_start() {
            let perm = epoch_permutation(self.train_data.len, self.config.seed, self.clock.epoch);
            q.write_buffer(&self.train_data.perm, 0, bytemuck::cast_slice(&perm));
        }
        Ok(())
    }

    /// Replaces parameters and running statistics. Checks sizes and values first, so a bad
    /// file leaves the current model untouched. Adam's moments are kept.
    pub fn set_weights(&mut self, w: &Weights) -> Result<(), TrainError> {
        w.check(&self.model).map_err(TrainError::Weights)?;
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
        self.upload_shuffle_if_due();
        self.write_step(self.clock.batch_start(self.config.batch), self.config.batch, MetricsRing::slot(self.clock.steps), false);
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
        self.clock.advance();
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

/// Refuses, before any buffer exists, data or a batch that one buffer of this adapter
/// cannot hold (the page's limit is often 128 MB; lavapipe's and real GPUs' are larger).
fn check_fits(ctx: &GpuContext, model: &Model, data: &Dataset, config: &TrainConfig) -> Result<(), TrainError> {
    let limit = ctx.limits.max_storage_buffer_binding_size.min(ctx.limits.max_buffer_size);
    let largest_activation = model.ops.iter().map(|op| op.output_len()).max().unwrap_or(0).max(model.spec.input.len()) as u64;
    let needs = [
        (
            "training images",
            data.train.images.len().next_multiple_of(4) as u64,
            "train on fewer images (the training images setting, or --limit).",
        ),
        (
            "test images",
            data.test.images.len().next_multiple_of(4) as u64,
            "test on fewer images (the test images setting, or --test-limit).",
        ),
        ("activations of one batch", 4 * largest_activation * config.batch.max(config.eval_batch) as u64, "lower the batch size."),
    ];
    for (what, bytes, fix) in needs {
        if bytes > limit {
            return Err(TrainError::TooLarge { what, bytes, limit, fix });
        }
    }
    Ok(())
}
