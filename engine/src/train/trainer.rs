//! Our trainer: the dataset resident on the GPU as u8, a static plan of bound dispatches
//! per batch size, and many training steps per command buffer.

use super::metrics::{MetricsRing, METRIC_SLOTS, SLOT_BYTES};
use super::plan::{build_plan, upload_split, Plan, PlanSpec, Shared};
use super::submit::{StepTable, MAX_STEPS_PER_SUBMISSION};
use super::{EvalSet, StepClock, StepMetrics, TrainConfig, TrainError, Weights};
use crate::data::{Dataset, Split};
use crate::gpu::gather::ResidentSplit;
#[cfg(not(target_arch = "wasm32"))]
use crate::gpu::GpuError;
use crate::gpu::{GpuContext, Kernels, Step};
use crate::model::{epoch_permutation, Adam, Model};
use std::collections::{HashMap, VecDeque};

mod evaluation;
mod profile;
mod state;

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
    /// The plan of an epoch's short last batch, when the batch does not divide the
    /// training set; it shares the training plan's buffers.
    tail_plan: Option<Plan>,
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
            share_with: None,
        };
        let train_plan = build_plan(&kernels, &shared, &spec);
        let tail = train_data.len % config.batch;
        let tail_plan = (tail > 0).then(|| build_plan(&kernels, &shared, &PlanSpec { n: tail, share_with: Some(&train_plan), ..spec }));
        let trainer = Trainer {
            clock: StepClock::for_epochs(train_data.len, config.batch),
            model,
            config,
            ring: MetricsRing::new(ctx),
            kernels,
            shared,
            train_data,
            eval_data: HashMap::new(),
            train_plan,
            tail_plan,
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
            + self.tail_plan.as_ref().map_or(0, |p| p.bytes)
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
        let batch = clock.batch_range(self.config.batch, self.train_data.len);
        self.step_uniform(clock.steps + 1, batch.start, batch.len(), MetricsRing::slot(clock.steps), false)
    }

    /// The short last batch's plan, or the training plan.
    fn plan_for(&self, tail: bool) -> &Plan {
        match (&self.tail_plan, tail) {
            (Some(short), true) => short,
            _ => &self.train_plan,
        }
    }

    /// Whether the step after `clock` is an epoch's short last batch, and how many steps in
    /// a row from there use the same plan (up to the epoch's end, or its short batch).
    fn next_steps(&self, clock: StepClock) -> (bool, usize) {
        let full_steps = self.train_data.len / self.config.batch;
        match self.tail_plan {
            Some(_) if clock.step_in_epoch == full_steps => (true, 1),
            _ => (false, full_steps - clock.step_in_epoch),
        }
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
    /// submissions; an epoch's short last batch goes alone) into one command buffer and
    /// submits it. Returns the steps submitted.
    /// Never waits for the GPU except to keep at most `max_in_flight` submissions queued
    /// (natively).
    pub fn steps(&mut self, count: usize) -> Result<usize, TrainError> {
        self.check_fault()?;
        #[cfg(not(target_arch = "wasm32"))]
        let begun = std::time::Instant::now();
        let ctx = self.kernels.ctx.clone();
        self.upload_shuffle_if_due();
        let (tail, same_plan_steps) = self.next_steps(self.clock);
        let count = count.clamp(1, MAX_STEPS_PER_SUBMISSION).min(same_plan_steps);
        let mut uniforms = Vec::with_capacity(count);
        for _ in 0..count {
            uniforms.push(self.train_uniform(self.clock));
            self.clock.advance();
        }
        let mut encoder = ctx.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("train steps") });
        let plan = self.plan_for(tail);
        let plan = [&plan.forward[..], &plan.backward[..]];
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
