//! The engine: trains the classic JAX tutorial CNN on MNIST with our own WGSL kernels.
//! It has no UI and no burn in it (burn lives in the `burn-peer` crate).
//!
//! The data path, in module order (each module uses only those above it):
//! - [`settings`]: every setting's bounds and checks, stated once.
//! - [`data`]: idx parsing, gzip, SHA-256 verification, the shipped datasets.
//! - [`model`]: the architecture as a list of layer specs and the flat parameter layout.
//! - [`weights`]: trained weights, and their safetensors files.
//! - [`reference`]: the f64 CPU mirror of every kernel family, the oracle for the kernels.
//! - [`bench`]: the benchmark report, one serde type for the desktop binary and the page.
//! - [`gpu`]: device acquisition, pipelines, uniforms, one file per kernel family.
//! - [`train`]: the trainer, its plan, the step clock and the metrics ring.
//! - [`selftest`]: every kernel against the reference, for the tests, the CLI and the page.
//! - [`inspect`]: confusion matrix, filters, activation maps, drawn digits.
//! - [`protocol`]: the messages between the page and its burn worker.
//! - [`lessons`]: the tutorial's first half (jit, grad, vmap) on the GPU and the CPU.

pub mod bench;
pub mod data;
pub mod gpu;
pub mod inspect;
pub mod lessons;
pub mod model;
pub mod onnx;
pub mod protocol;
pub mod reference;
pub mod selftest;
pub mod settings;
pub mod train;
pub mod weights;

pub use data::{Dataset, Split};
pub use gpu::{GpuContext, GpuError};
pub use model::{Adam, Model};
pub use train::{BackendKind, EvalResult, EvalSet, StepClock, StepMetrics, TrainConfig, TrainError, Trainer, Weights};
pub use wgpu;
