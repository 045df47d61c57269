//! One training interface over the three backends: ours (from the engine), burn-wgpu and
//! burn's CPU backend. An enum rather than a trait object, because the interface is partly
//! async and the set of backends is closed.

use crate::model::BurnDevice;
use crate::trainer::BurnTrainer;
use engine::data::Dataset;
use engine::gpu::GpuContext;
use engine::model::Model;
#[cfg(not(target_arch = "wasm32"))]
use engine::train::{steps_for_work, EpochProgress};
use engine::train::{BackendKind, EvalResult, EvalSet, StepClock, StepMetrics, TrainConfig, TrainError, Trainer, Weights};
use engine::weights::TrainingState;

/// Whether this build includes the backend (burn-wgpu sits behind feature `wgpu`).
pub fn compiled_in(kind: BackendKind) -> bool {
    kind != BackendKind::BurnWgpu || cfg!(feature = "wgpu")
}

/// The burn device behind a burn backend.
pub fn burn_device(kind: BackendKind) -> Result<BurnDevice, TrainError> {
    match kind {
        BackendKind::BurnCpu => Ok(BurnDevice::Cpu),
        #[cfg(feature = "wgpu")]
        BackendKind::BurnWgpu => Ok(BurnDevice::Wgpu),
        #[cfg(not(feature = "wgpu"))]
        BackendKind::BurnWgpu => {
            Err(TrainError::Config("this build has no burn-wgpu backend; rebuild burn-peer with feature `wgpu`".into()))
        }
        BackendKind::Wgsl => Err(TrainError::Config("wgsl is our backend, not a burn one".into())),
    }
}

fn no_checkpoints() -> TrainError {
    TrainError::Config("checkpoints and --resume need the wgsl backend (burn keeps Adam's state inside its optimizer)".into())
}

/// A trainer on any backend.
pub enum AnyTrainer {
    Wgsl(Box<Trainer>),
    Burn(Box<BurnTrainer>),
}

macro_rules! each {
    ($self:expr, $t:ident => $body:expr) => {
        match $self {
            AnyTrainer::Wgsl($t) => $body,
            AnyTrainer::Burn($t) => $body,
        }
    };
}

impl AnyTrainer {
    /// Ours on `ctx` (a GPU context the caller acquired), or burn on its device.
    pub fn start(
        kind: BackendKind,
        ctx: Option<&GpuContext>,
        model: Model,
        data: &Dataset,
        config: TrainConfig,
    ) -> Result<Self, TrainError> {
        Ok(match (kind, ctx) {
            (BackendKind::Wgsl, Some(ctx)) => AnyTrainer::Wgsl(Box::new(Trainer::new(ctx, model, data, config)?)),
            (BackendKind::Wgsl, None) => return Err(TrainError::Config("the wgsl backend needs a GPU context".into())),
            (kind, _) => AnyTrainer::Burn(Box::new(BurnTrainer::new(burn_device(kind)?, model, data, config)?)),
        })
    }

    pub fn kind(&self) -> BackendKind {
        match self {
            AnyTrainer::Wgsl(_) => BackendKind::Wgsl,
            AnyTrainer::Burn(t) => match t.backend() {
                BurnDevice::Cpu => BackendKind::BurnCpu,
                #[cfg(feature = "wgpu")]
                BurnDevice::Wgpu => BackendKind::BurnWgpu,
            },
        }
    }
    pub fn config(&self) -> &TrainConfig {
        each!(self, t => &t.config)
    }
    pub fn clock(&self) -> StepClock {
        each!(self, t => t.clock())
    }
    pub fn step(&mut self) -> Result<(), TrainError> {
        each!(self, t => t.step())
    }
    /// Up to `count` steps in one submission (ours); burn takes one step per call.
    pub fn steps(&mut self, count: usize) -> Result<usize, TrainError> {
        match self {
            AnyTrainer::Wgsl(t) => t.steps(count),
            AnyTrainer::Burn(t) => t.step().map(|_| 1),
        }
    }
    pub fn poll_metrics(&mut self) -> Result<Vec<StepMetrics>, TrainError> {
        each!(self, t => t.poll_metrics())
    }
    pub async fn flush_metrics(&mut self) -> Result<Vec<StepMetrics>, TrainError> {
        each!(self, t => t.flush_metrics().await)
    }
    pub async fn evaluate(&mut self, set: EvalSet) -> Result<EvalResult, TrainError> {
        each!(self, t => t.evaluate(set).await)
    }
    pub async fn evaluate_predictions(&mut self, set: EvalSet) -> Result<(EvalResult, Vec<f32>), TrainError> {
        each!(self, t => t.evaluate_predictions(set).await)
    }
    pub async fn weights(&self) -> Result<Weights, TrainError> {
        match self {
            AnyTrainer::Wgsl(t) => t.weights().await,
            AnyTrainer::Burn(t) => t.net.weights().await,
        }
    }
    pub fn set_weights(&mut self, w: &Weights) -> Result<(), TrainError> {
        match self {
            AnyTrainer::Wgsl(t) => t.set_weights(w),
            AnyTrainer::Burn(t) => t.net.set_weights(w),
        }
    }

    /// Adam's state and where training stands, for a checkpoint (our backend only: burn
    /// keeps Adam's moments inside its optimizer).
    pub async fn training_state(&self) -> Result<TrainingState, TrainError> {
        match self {
            AnyTrainer::Wgsl(t) => t.training_state().await,
            AnyTrainer::Burn(_) => Err(no_checkpoints()),
        }
    }
    pub fn resume_from(&mut self, w: &Weights, state: &TrainingState) -> Result<(), TrainError> {
        match self {
            AnyTrainer::Wgsl(t) => t.resume_from(w, state),
            AnyTrainer::Burn(_) => Err(no_checkpoints()),
        }
    }

    /// Waits until every submitted step has finished (burn steps are already synchronous
    /// up to their metrics read-back, which this forces).
    pub async fn wait_idle(&mut self) -> Result<Vec<StepMetrics>, TrainError> {
        match self {
            AnyTrainer::Wgsl(t) => {
                t.gpu_idle().await?;
                t.poll_metrics()
            }
            AnyTrainer::Burn(t) => t.flush_metrics().await,
        }
    }

    /// Native convenience: trains the rest of the current epoch, calling `on_progress` after
    /// every submission with the metrics that have arrived so far (a few steps behind the
    /// device). Returns every step's metrics of the epoch once the device has finished.
    /// `stop` is asked after every submission: when it says yes the epoch ends early
    /// (Ctrl-C). The epoch's first step is timed to its end, and the rest go about 100 ms
    /// of work per submission ([`steps_for_work`]).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn run_epoch(
        &mut self,
        mut on_progress: impl FnMut(&EpochProgress),
        stop: impl Fn() -> bool,
    ) -> Result<Vec<StepMetrics>, TrainError> {
        let total = self.clock().steps_per_epoch;
        let mut metrics = Vec::with_capacity(total);
        let mut per_submission = None;
        loop {
            let begun = std::time::Instant::now();
            self.steps(per_submission.unwrap_or(1))?;
            if per_submission.is_none() {
                metrics.extend(engine::train::block_on(self.wait_idle())?);
                per_submission = Some(steps_for_work(begun.elapsed().as_secs_f64()));
            }
            metrics.extend(self.poll_metrics()?);
            let clock = self.clock();
            let done = if clock.at_epoch_start() { total } else { clock.step_in_epoch };
            on_progress(&EpochProgress { epoch: clock.epoch, step: done, steps: total, metrics: &metrics });
            if clock.at_epoch_start() || stop() {
                break;
            }
        }
        metrics.extend(engine::train::block_on(self.flush_metrics())?);
        Ok(metrics)
    }
}
