//! burn beside our WGSL engine, in its own crate so that the engine builds without burn.
//!
//! The same network, built op by op from the same [`engine::model::Model`] and flat
//! parameter layout, trained with burn's autodiff and burn's own Adam. It serves as an
//! independent oracle for our kernels (`tests/cross_backend.rs`), as the CPU engine where a
//! browser has no WebGPU (the page's worker), and as the peer our kernels are benchmarked
//! against (`desktop bench --backend all`).
//!
//! - [`model`]: the network on a burn device.
//! - [`trainer`]: training on our schedule and step clock.
//! - [`any`]: one interface over ours and burn's backends.

pub mod any;
pub mod model;
pub mod trainer;

pub use any::{burn_device, compiled_in, AnyTrainer};
pub use model::{read, BurnDevice, BurnForward, BurnModel};
pub use trainer::BurnTrainer;
