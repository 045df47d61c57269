//! The engine: trains the classic JAX tutorial CNN on MNIST with our own WGSL kernels.
//!
//! - [`data`]: idx parsing, gzip, SHA-256 verification.
//! - [`model`]: the architecture as a list of layer specs and the flat parameter layout.
//! - [`gpu`]: device acquisition, WGSL sources, cached pipelines, one constructor per kernel.
//! - [`trainer`]: the training loop on the GPU, asynchronous metrics, evaluation.
//! - [`reference`]: f64 CPU reference of every layer and of Adam, the oracle for the kernels.
//! - [`backend`]: one training interface over wgsl, burn-wgpu and burn-cpu.
//! - [`inspect`]: confusion matrix, filters, activation maps, drawn digits.
//! - [`weights`]: safetensors files of trained weights.
//! - `burn_backend` (feature `burn`): the same network on burn's CPU backend and burn-wgpu.

pub mod backend;
#[cfg(feature = "burn")]
pub mod burn_backend;
pub mod data;
pub mod gpu;
pub mod inspect;
pub mod model;
pub mod reference;
pub mod trainer;
pub mod weights;

pub use backend::{AnyTrainer, BackendKind};
pub use data::{Dataset, Split};
pub use gpu::{GpuContext, GpuError};
pub use model::{Adam, Model};
pub use trainer::{EvalResult, EvalSet, StepMetrics, TrainConfig, TrainError, Trainer, Weights};
pub use wgpu;
