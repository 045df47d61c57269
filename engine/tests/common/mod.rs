//! Test support: a GPU context (lavapipe on CI), seeded random data, NaN-poisoned outputs,
//! and the per-tensor relative error ‖ours − reference‖ / ‖reference‖.
#![allow(dead_code)]

pub mod golden;

use engine::gpu::{Dispatch, GpuContext};
#[allow(unused_imports)]
pub use engine::selftest::{rel_err, Rng};
use engine::wgpu;

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

/// Asserts every element is finite (written) and the relative error is under `tol`.
#[track_caller]
pub fn assert_close(what: &str, ours: &[f64], reference: &[f64], tol: f64) {
    if let Some(i) = ours.iter().position(|v| !v.is_finite()) {
        panic!("{what}: element {i} of {} was not written (still NaN) or is not finite", ours.len());
    }
    assert_eq!(ours.len(), reference.len(), "{what}: lengths differ");
    let err = rel_err(ours.iter().copied(), reference.iter().copied());
    assert!(err < tol, "{what}: relative error {err:e} exceeds {tol:e}");
}
