//! Training on the GPU: the settings and errors every backend shares ([`TrainConfig`],
//! [`TrainError`]), the step clock, our [`Trainer`], its static plan of bound dispatches,
//! the table that puts many steps in one submission, and the ring that brings metrics
//! back without stalling the step loop.

mod backend;
pub mod clock;
mod metrics;
mod plan;
pub mod replay;
mod submit;
mod trainer;

pub use crate::weights::Weights;
pub use backend::{auto_backend, AutoChoice, BackendChoice, BackendKind};
pub use clock::StepClock;
pub use submit::{steps_for_work, MAX_STEPS_PER_SUBMISSION};
pub use trainer::Trainer;

use crate::gpu::GpuError;
use crate::model::Adam;
use crate::settings;

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
    /// Native only: most submissions not yet finished before `steps` waits.
    pub max_in_flight: usize,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig { batch: 128, adam: Adam::default(), seed: 0, shuffle: true, eval_batch: 128, metrics_every: 8, max_in_flight: 4 }
    }
}

impl TrainConfig {
    /// Checks the settings (bounds from [`crate::settings`]) against a training set of
    /// `train_len` examples.
    pub fn validate(&self, train_len: usize) -> Result<(), TrainError> {
        let checks = || -> Result<(), String> {
            settings::BATCH.check(self.batch)?;
            settings::check_batch_fits(self.batch, train_len)?;
            settings::check_learning_rate(self.adam.lr)?;
            settings::check_adam(self.adam.beta1, self.adam.beta2, self.adam.eps)?;
            settings::EVAL_BATCH.check(self.eval_batch)?;
            settings::METRICS_EVERY.check(self.metrics_every)?;
            settings::MAX_IN_FLIGHT.check(self.max_in_flight)?;
            Ok(())
        };
        checks().map_err(TrainError::Config)
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
    #[error("the {what} need a buffer of {} MB, and this GPU allows {} MB in one: {fix}", bytes.div_ceil(1 << 20), limit >> 20)]
    TooLarge { what: &'static str, bytes: u64, limit: u64, fix: &'static str },
}

/// Loss and accuracy of one training step, as measured on the GPU during the step.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StepMetrics {
    /// 0-based global step number.
    pub step: u64,
    pub loss: f32,
    pub accuracy: f32,
}

/// Where a trainer's epoch stands, for progress displays.
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
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
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

/// Native convenience: blocks on an engine future.
#[cfg(not(target_arch = "wasm32"))]
pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    pollster::block_on(f)
}
