//! Lesson 1.1, `jit`: SELU on a million values, once as one dispatch per elementwise
//! operation with an intermediate buffer each (how an array library runs without `jit`),
//! once as one fused kernel (what `jit` compiles it into).

use super::timing::{ms_since, run_submissions, RunTime, Timing};
use super::{max_relative_error, normal_values, yes_no, Table};
use crate::gpu::lesson::EagerOp;
use crate::gpu::{Dispatch, GpuContext, GpuError, Kernels};
use web_time::Instant;

/// The tutorial's SELU constants.
pub const ALPHA: f32 = 1.67;
pub const LAMBDA: f32 = 1.05;
/// The tutorial's workload: a million seeded normal values.
pub const VALUES: usize = 1_000_000;
/// Results must equal the CPU's within this, relative to the largest output.
pub const TOLERANCE: f64 = 1e-6;

/// The WGSL each version runs, for the page to show.
pub const FUSED_SOURCE: &str = include_str!("../../../shaders/lesson_selu.wgsl");
pub const EAGER_SOURCE: &str = include_str!("../../../shaders/lesson_eager.wgsl");

/// SELU in f64 on the CPU, the reference both GPU versions are compared with.
pub fn selu_reference(x: &[f32]) -> Vec<f64> {
    let (alpha, lambda) = (ALPHA as f64, LAMBDA as f64);
    x.iter().map(|&v| v as f64).map(|v| lambda * if v > 0.0 { v } else { alpha * v.exp() - alpha }).collect()
}

/// What the lesson measured.
#[derive(Clone, Debug, PartialEq)]
pub struct JitReport {
    pub values: usize,
    pub eager: Timing,
    pub compiled: Timing,
    pub eager_dispatches: usize,
    /// Each version's [`max_relative_error`] against [`selu_reference`].
    pub eager_error: f64,
    pub compiled_error: f64,
}

impl JitReport {
    /// Median eager time over median compiled time.
    pub fn speedup(&self) -> f64 {
        self.eager.median_ms() / self.compiled.median_ms()
    }

    pub fn table(&self) -> Table {
        let mut t = Table::new(&["version", "dispatches", "first run (ms)", "min (ms)", "median (ms)", "max error vs CPU", "equal (1e-6)"]);
        for (name, timing, dispatches, error) in [
            ("eager: one dispatch per operation", &self.eager, self.eager_dispatches, self.eager_error),
            ("compiled: one fused kernel", &self.compiled, 1, self.compiled_error),
        ] {
            t.row(vec![
                name.to_string(),
                dispatches.to_string(),
                format!("{:.2}", timing.first_ms),
                format!("{:.3}", timing.min_ms()),
                format!("{:.3}", timing.median_ms()),
                format!("{error:.1e}"),
                yes_no(error <= TOLERANCE),
            ]);
        }
        t
    }

    pub fn summary(&self) -> String {
        format!(
            "{} values, {} runs each, timed with {}: the fused kernel is {:.1}x faster than one dispatch per operation (medians).",
            self.values,
            self.compiled.runs_ms.len(),
            self.compiled.clock_name(),
            self.speedup()
        )
    }
}

/// The eager version's dispatches: exp, scale, shift, compare, select, scale, as
/// `lambda * where(x > 0, x, alpha * exp(x) - alpha)` is evaluated op by op.
pub fn eager_dispatches(k: &Kernels, n: usize, x: &wgpu::Buffer, temps: &[wgpu::Buffer; 5], y: &wgpu::Buffer) -> Vec<Dispatch> {
    let [exp, scaled, shifted, mask, selected] = temps;
    vec![
        k.eager_op(EagerOp::Exp, n, [x, x, x], exp),
        k.eager_op(EagerOp::Scale(ALPHA), n, [exp, exp, exp], scaled),
        k.eager_op(EagerOp::Shift(-ALPHA), n, [scaled, scaled, scaled], shifted),
        k.eager_op(EagerOp::Greater(0.0), n, [x, x, x], mask),
        k.eager_op(EagerOp::Select, n, [mask, x, shifted], selected),
        k.eager_op(EagerOp::Scale(LAMBDA), n, [selected, selected, selected], y),
    ]
}

/// Runs both versions `repeats` times after a first, separately timed run each.
pub async fn run(ctx: &GpuContext, values: usize, repeats: usize) -> Result<JitReport, GpuError> {
    let x_host = normal_values(values, 0);
    let reference = selu_reference(&x_host);
    let x = ctx.storage_buffer("selu input", bytemuck::cast_slice(&x_host));

    // Fresh kernel caches, so that each first run pays for its own pipeline creation.
    let eager_kernels = Kernels::new(ctx.clone());
    let temps = [(); 5].map(|_| ctx.zeroed_buffer("eager intermediate", values));
    let eager_out = ctx.zeroed_buffer("eager output", values);
    let start = Instant::now();
    let eager = eager_dispatches(&eager_kernels, values, &x, &temps, &eager_out);
    let per_op: Vec<&[Dispatch]> = eager.iter().map(std::slice::from_ref).collect();
    run_submissions(ctx, &per_op).await?;
    let eager_first = ms_since(start);

    let fused_kernels = Kernels::new(ctx.clone());
    let fused_out = ctx.zeroed_buffer("fused output", values);
    let start = Instant::now();
    let fused = [fused_kernels.selu(values, ALPHA, LAMBDA, &x, &fused_out)];
    run_submissions(ctx, &[&fused]).await?;
    let fused_first = ms_since(start);

    // Alternate the two, so that a busy moment on the machine hits both alike.
    let (mut eager_runs, mut fused_runs) = (Vec::new(), Vec::new());
    for _ in 0..repeats {
        eager_runs.push(run_submissions(ctx, &per_op).await?);
        fused_runs.push(run_submissions(ctx, &[&fused]).await?);
    }
    let gpu_clock = ctx.timestamps;
    let timing = |first_ms, runs: Vec<RunTime>| Timing { first_ms, runs_ms: runs.iter().map(RunTime::ms).collect(), gpu_clock };
    let read = |b| async move { ctx.read_f32(b).await };
    let eager_error = max_relative_error(&read(&eager_out).await?, &reference);
    let compiled_error = max_relative_error(&read(&fused_out).await?, &reference);
    Ok(JitReport {
        values,
        eager: timing(eager_first, eager_runs),
        compiled: timing(fused_first, fused_runs),
        eager_dispatches: eager.len(),
        eager_error,
        compiled_error,
    })
}
