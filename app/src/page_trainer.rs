//! A trainer on one of the page's backends: ours on WebGPU in the page's thread, or burn
//! (CPU or burn-wgpu) in a Web Worker. Both report the engine's step clock.

use crate::burn_worker::BurnWorker;
use engine::train::{BackendKind, EvalResult, EvalSet, StepClock, StepMetrics, TrainConfig, TrainError, Trainer, Weights};
use engine::weights::TrainingState;
use engine::{Dataset, GpuContext, Model};
use std::cell::Cell;

pub enum PageTrainer {
    /// Ours, on WebGPU in this thread (the GPU does the work).
    Gpu(Box<Trainer>),
    /// burn (CPU or burn-wgpu) in a Web Worker.
    Burn(BurnWorker),
}

impl PageTrainer {
    /// Starts a trainer for `kind` (the worker's bundle is fetched only here).
    pub async fn start(
        kind: BackendKind,
        ctx: Option<GpuContext>,
        model: Model,
        dataset: &Dataset,
        config: TrainConfig,
    ) -> Result<Self, TrainError> {
        config.validate(dataset.train.len())?;
        match (kind, ctx) {
            (BackendKind::Wgsl, Some(ctx)) => Ok(PageTrainer::Gpu(Box::new(Trainer::new(&ctx, model, dataset, config)?))),
            (BackendKind::Wgsl, None) => Err(TrainError::Config("WebGPU is not available in this browser: choose the CPU backend".into())),
            (BackendKind::BurnWgpu, None) => {
                Err(TrainError::Config("burn-wgpu needs WebGPU, which this browser does not offer: choose the CPU backend".into()))
            }
            (kind, _) => Ok(PageTrainer::Burn(BurnWorker::start(kind, dataset, &config).await?)),
        }
    }

    pub fn clock(&self) -> StepClock {
        match self {
            PageTrainer::Gpu(t) => t.clock(),
            PageTrainer::Burn(w) => w.clock,
        }
    }

    /// Trains up to `count` steps (ours: in one submission of at most
    /// [`engine::train::MAX_STEPS_PER_SUBMISSION`]), stopping at the end of an epoch, and
    /// waits for them (yielding to the event loop). Returns the metrics that have arrived; at an epoch's
    /// end, all of them. `lose_device_after` injects a device loss (tests).
    pub async fn run_steps(&mut self, count: usize, lose_device_after: &Cell<Option<u64>>) -> Result<Vec<StepMetrics>, TrainError> {
        match self {
            PageTrainer::Gpu(t) => {
                let mut count = count;
                if let Some(n) = lose_device_after.get() {
                    let steps = t.clock().steps;
                    if steps >= n {
                        lose_device_after.set(None);
                        t.context().device.destroy();
                    } else {
                        count = count.min((n - steps) as usize);
                    }
                }
                // One submission: `steps` stops at the epoch's end by itself.
                t.steps(count)?;
                t.gpu_idle().await?;
                let mut metrics = t.poll_metrics()?;
                if t.clock().at_epoch_start() {
                    metrics.extend(t.flush_metrics().await?);
                }
                Ok(metrics)
            }
            PageTrainer::Burn(w) => w.steps(count).await,
        }
    }

    /// Loss, accuracy and every test example's log-probabilities.
    pub async fn evaluate_test(&mut self) -> Result<(EvalResult, Vec<f32>), TrainError> {
        match self {
            PageTrainer::Gpu(t) => t.evaluate_predictions(EvalSet::Test).await,
            PageTrainer::Burn(w) => w.evaluate().await,
        }
    }

    /// Loss and accuracy over the whole training split (the tutorial's per-epoch numbers).
    pub async fn evaluate_train(&mut self) -> Result<EvalResult, TrainError> {
        match self {
            PageTrainer::Gpu(t) => t.evaluate(EvalSet::Train).await,
            PageTrainer::Burn(w) => w.evaluate_train().await,
        }
    }

    pub async fn weights(&mut self) -> Result<Weights, TrainError> {
        match self {
            PageTrainer::Gpu(t) => t.weights().await,
            PageTrainer::Burn(w) => w.weights().await,
        }
    }

    pub async fn set_weights(&mut self, weights: &Weights) -> Result<(), TrainError> {
        match self {
            PageTrainer::Gpu(t) => t.set_weights(weights),
            PageTrainer::Burn(w) => w.set_weights(weights).await,
        }
    }

    /// Adam's moments and where training stands (our backend only: burn keeps its
    /// optimizer's state inside the worker).
    pub async fn training_state(&mut self) -> Result<Option<TrainingState>, TrainError> {
        match self {
            PageTrainer::Gpu(t) => Ok(Some(t.training_state().await?)),
            PageTrainer::Burn(_) => Ok(None),
        }
    }

    /// The metrics of every step done so far that have not been reported yet.
    pub async fn flush_metrics(&mut self) -> Result<Vec<StepMetrics>, TrainError> {
        match self {
            PageTrainer::Gpu(t) => t.flush_metrics().await,
            // The worker reports every step's metrics with the steps.
            PageTrainer::Burn(_) => Ok(Vec::new()),
        }
    }

    /// Continues a checkpointed run exactly (our backend only).
    pub fn resume_from(&mut self, weights: &Weights, state: &TrainingState) -> Result<(), TrainError> {
        match self {
            PageTrainer::Gpu(t) => t.resume_from(weights, state),
            PageTrainer::Burn(_) => Err(TrainError::Config("a kept run continues only on our WGSL backend".into())),
        }
    }
}
