//! Test support: a GPU context (lavapipe on CI), seeded random data, NaN-poisoned outputs,
//! and the per-tensor relative error ‖ours − reference‖ / ‖reference‖.
#![allow(dead_code)]

pub mod golden;

use engine::gpu::{Dispatch, GpuContext};
use engine::wgpu;
use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};

pub fn gpu() -> GpuContext {
    std::env::var("XDG_RUNTIME_DIR").is_err().then(|| {
        let dir = std::env::temp_dir().join("engine-xdg");
        let _ = std::fs::create_dir_all(&dir);
        // SAFETY: set before any thread reads the environment in this test binary.
        unsafe { std::env::set_var("XDG_RUNTIME_DIR", dir) };
    });
    let ctx = engine::train::block_on(GpuContext::acquire()).expect("a GPU adapter (install mesa-vulkan-drivers for lavapipe)");
    eprintln!("adapter: {}", ctx.describe());
    ctx
}

pub struct Rng(ChaCha8Rng);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(ChaCha8Rng::seed_from_u64(seed))
    }
    /// Uniform in [lo, hi).
    pub fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * ((self.0.next_u64() >> 11) as f64 / (1u64 << 53) as f64)
    }
    /// `n` values uniform in [lo, hi), rounded to f32 so both sides see the same numbers.
    pub fn vec(&mut self, n: usize, lo: f64, hi: f64) -> Vec<f64> {
        (0..n).map(|_| self.uniform(lo, hi) as f32 as f64).collect()
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.0.next_u64() % n
    }
}

pub fn f32s(v: &[f64]) -> Vec<f32> {
    v.iter().map(|&x| x as f32).collect()
}

pub fn f64s(v: &[f32]) -> Vec<f64> {
    v.iter().map(|&x| x as f64).collect()
}

pub fn buffer(ctx: &GpuContext, values: &[f64]) -> wgpu::Buffer {
    ctx.storage_buffer("test input", bytemuck::cast_slice(&f32s(values)))
}

/// An output buffer filled with NaN, so that elements a kernel fails to write are caught.
pub fn poisoned(ctx: &GpuContext, floats: usize) -> wgpu::Buffer {
    ctx.storage_buffer("poisoned output", bytemuck::cast_slice(&vec![f32::NAN; floats]))
}

pub fn run(ctx: &GpuContext, dispatches: &[Dispatch]) {
    let mut encoder = ctx.device.create_command_encoder(&Default::default());
    {
        let mut pass = encoder.begin_compute_pass(&Default::default());
        for d in dispatches {
            d.encode(&mut pass);
        }
    }
    ctx.queue.submit([encoder.finish()]);
}

pub fn read(ctx: &GpuContext, b: &wgpu::Buffer) -> Vec<f64> {
    f64s(&engine::train::block_on(ctx.read_f32(b)).unwrap())
}

/// ‖a − b‖ / ‖b‖ (NaN anywhere gives NaN, which fails every `<` check).
pub fn rel_err(ours: &[f64], reference: &[f64]) -> f64 {
    assert_eq!(ours.len(), reference.len(), "lengths differ");
    let diff: f64 = ours.iter().zip(reference).map(|(a, b)| (a - b).powi(2)).sum();
    let norm: f64 = reference.iter().map(|b| b * b).sum();
    (diff / norm.max(1e-300)).sqrt()
}

/// Asserts every element is finite (written) and the relative error is under `tol`.
#[track_caller]
pub fn assert_close(what: &str, ours: &[f64], reference: &[f64], tol: f64) {
    if let Some(i) = ours.iter().position(|v| !v.is_finite()) {
        panic!("{what}: element {i} of {} was not written (still NaN) or is not finite", ours.len());
    }
    let err = rel_err(ours, reference);
    assert!(err < tol, "{what}: relative error {err:e} exceeds {tol:e}");
}
