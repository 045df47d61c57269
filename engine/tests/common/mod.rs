//! Test support: a GPU context (lavapipe on CI), seeded random data, NaN-poisoned outputs,
//! and the per-tensor relative error ‖ours − reference‖ / ‖reference‖.
#![allow(dead_code)]

pub mod golden;

use engine::gpu::GpuContext;
// The self-test's own helpers: buffers of f32 inputs, NaN-poisoned outputs, one pass.
#[allow(unused_imports)]
pub use engine::selftest::{input_buffer as buffer, poisoned_buffer as poisoned, rel_err, submit as run, Rng};
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

pub fn read(ctx: &GpuContext, b: &wgpu::Buffer) -> Vec<f64> {
    f64s(&engine::train::block_on(ctx.read_f32(b)).unwrap())
}

/// Asserts every element is finite (written) and the relative error is under `tol`.
#[track_caller]
pub fn assert_close(what: &str, ours: &[f64], reference: &[f64], tol: f64) {
    let compared = engine::selftest::compare(ours.len(), ours.iter().copied(), reference.len(), reference.iter().copied());
    let err = compared.unwrap_or_else(|why| panic!("{what}: {why}"));
    assert!(err < tol, "{what}: relative error {err:e} exceeds {tol:e}");
}
