//! Lesson 1.3, `vmap`: the same work as a loop of single dispatches, each submitted and
//! waited for, and as one batched dispatch. First the tutorial's 150x100 matrix on 10
//! vectors (our dense kernel, batch 1 against batch 10), then the network: 128 test images
//! through the batch-1 evaluation plan one at a time, against one batch of 128.

use super::timing::{ms_since, run_submissions, RunTime, Timing};
use super::{normal_values, yes_no, Table};
use crate::data::{Dataset, Split};
use crate::gpu::dense::DenseLayer;
use crate::gpu::{GpuContext, GpuError, Kernels, LayerParams};
use crate::model::Model;
use crate::train::{EvalSet, TrainConfig, TrainError, Trainer, Weights};
use web_time::Instant;

/// The tutorial's sizes: `mat` is 150x100, `batched_x` is 10x100.
pub const ROWS: usize = 150;
pub const COLUMNS: usize = 100;
pub const VECTORS: usize = 10;
/// The network part: images, and the log-probabilities' agreement.
pub const IMAGES: usize = 128;
pub const LOGPROB_TOLERANCE: f64 = 1e-5;
/// The matrix products' agreement, relative to the largest entry.
pub const MATVEC_TOLERANCE: f64 = 1e-6;

pub const SOURCE: &str = include_str!("../../../shaders/dense_forward.wgsl");

/// One way of doing the work, timed.
#[derive(Clone, Debug, PartialEq)]
pub struct Way {
    pub name: String,
    pub submissions: usize,
    pub timing: Timing,
}

/// Both ways, and how far apart their results are.
#[derive(Clone, Debug, PartialEq)]
pub struct VmapReport {
    pub looped: Way,
    pub batched: Way,
    /// Largest difference between the two results (relative to the largest entry for the
    /// matrix, absolute for log-probabilities), and the bound it must stay under.
    pub difference: f64,
    pub tolerance: f64,
    /// The matrix part: the largest difference from the f64 CPU product.
    pub cpu_error: Option<f64>,
}

impl VmapReport {
    pub fn equal(&self) -> bool {
        self.difference <= self.tolerance && self.cpu_error.is_none_or(|e| e <= self.tolerance)
    }

    pub fn speedup(&self) -> f64 {
        self.looped.timing.median_ms() / self.batched.timing.median_ms()
    }

    pub fn table(&self) -> Table {
        let mut t = Table::new(&["version", "submissions", "first run (ms)", "min (ms)", "median (ms)", "same results"]);
        for way in [&self.looped, &self.batched] {
            t.row(vec![
                way.name.clone(),
                way.submissions.to_string(),
                format!("{:.2}", way.timing.first_ms),
                format!("{:.3}", way.timing.min_ms()),
                format!("{:.3}", way.timing.median_ms()),
                yes_no(self.equal()),
            ]);
        }
        t
    }

    pub fn summary(&self) -> String {
        let cpu = self.cpu_error.map_or(String::new(), |e| format!(", {e:.1e} from the CPU's product"));
        format!(
            "largest difference {:.1e} (bound {:.0e}){cpu}; batched is {:.1}x faster (medians, wall clock around each wait).",
            self.difference,
            self.tolerance,
            self.speedup()
        )
    }
}

/// `mat` (150x100, row-major) times each of the 10 vectors, in f64.
pub fn matvec_reference(mat: &[f32], vectors: &[f32]) -> Vec<f64> {
    let mut out = Vec::with_capacity(VECTORS * ROWS);
    for v in vectors.chunks(COLUMNS) {
        for row in mat.chunks(COLUMNS) {
            out.push(row.iter().zip(v).map(|(&a, &b)| a as f64 * b as f64).sum());
        }
    }
    out
}

fn summarize(first_ms: f64, runs: &[RunTime]) -> Timing {
    Timing { first_ms, runs_ms: runs.iter().map(|r| r.wall_ms).collect(), gpu_clock: false }
}

/// The tutorial's example, `repeats` times each way after a first run.
pub async fn matvec(ctx: &GpuContext, repeats: usize) -> Result<VmapReport, GpuError> {
    let mat = normal_values(ROWS * COLUMNS, 1);
    let vectors = normal_values(VECTORS * COLUMNS, 2);
    // The dense kernel computes x W + b with W stored [in, out]: W is mat transposed.
    let mut params: Vec<f32> = (0..COLUMNS * ROWS).map(|i| mat[(i % ROWS) * COLUMNS + i / ROWS]).collect();
    params.extend(std::iter::repeat_n(0.0, ROWS));
    let params = ctx.storage_buffer("mat", bytemuck::cast_slice(&params));
    let layer =
        |n| DenseLayer { n, inputs: COLUMNS, outputs: ROWS, params: LayerParams { buffer: &params, weight: 0, bias: COLUMNS * ROWS } };
    let kernels = Kernels::new(ctx.clone());

    // The loop: one buffer per vector and per result, as `np.stack([apply(v) for v in x])`.
    let inputs: Vec<wgpu::Buffer> = vectors.chunks(COLUMNS).map(|v| ctx.storage_buffer("vector", bytemuck::cast_slice(v))).collect();
    let outputs: Vec<wgpu::Buffer> = (0..VECTORS).map(|_| ctx.zeroed_buffer("product", ROWS)).collect();
    let start = Instant::now();
    let single: Vec<_> = inputs.iter().zip(&outputs).map(|(x, y)| [kernels.dense_forward(&layer(1), x, y)]).collect();
    let run_loop = || async {
        let mut total = RunTime { wall_ms: 0.0, gpu_ms: Some(0.0) };
        for d in &single {
            total = total + run_submissions(ctx, &[d]).await?;
        }
        Ok::<_, GpuError>(total)
    };
    run_loop().await?;
    let loop_first = ms_since(start);

    let x = ctx.storage_buffer("batched vectors", bytemuck::cast_slice(&vectors));
    let y = ctx.zeroed_buffer("batched products", VECTORS * ROWS);
    let start = Instant::now();
    let batched = [kernels.dense_forward(&layer(VECTORS), &x, &y)];
    run_submissions(ctx, &[&batched]).await?;
    let batched_first = ms_since(start);

    let (mut loop_runs, mut batched_runs) = (Vec::new(), Vec::new());
    for _ in 0..repeats {
        loop_runs.push(run_loop().await?);
        batched_runs.push(run_submissions(ctx, &[&batched]).await?);
    }

    let mut looped_result = Vec::new();
    for b in &outputs {
        looped_result.extend(ctx.read_f32(b).await?);
    }
    let batched_result = ctx.read_f32(&y).await?;
    let reference = matvec_reference(&mat, &vectors);
    let as_f64 = |v: &[f32]| v.iter().map(|&a| a as f64).collect::<Vec<_>>();
    Ok(VmapReport {
        looped: Way {
            name: format!("loop: {VECTORS} matrix-vector dispatches"),
            submissions: VECTORS,
            timing: summarize(loop_first, &loop_runs),
        },
        batched: Way {
            name: format!("batched: one dispatch of {VECTORS}"),
            submissions: 1,
            timing: summarize(batched_first, &batched_runs),
        },
        difference: super::max_relative_error(&looped_result, &as_f64(&batched_result)),
        tolerance: MATVEC_TOLERANCE,
        cpu_error: Some(super::max_relative_error(&batched_result, &reference).max(super::max_relative_error(&looped_result, &reference))),
    })
}

async fn one_at_a_time(trainer: &mut Trainer, images: &Split, pixels: usize) -> Result<Vec<f32>, TrainError> {
    let mut all = Vec::new();
    for image in images.images.chunks(pixels) {
        all.extend(trainer.classify(image).await?);
    }
    Ok(all)
}

/// The network: the first [`IMAGES`] of `test` through the batch-1 plan one at a time, and
/// as one batch, with `weights`.
pub async fn network(ctx: &GpuContext, model: &Model, weights: &Weights, test: &Split, repeats: usize) -> Result<VmapReport, TrainError> {
    let images = test.truncated(IMAGES);
    let n = images.len();
    let data = Dataset { train: images.clone(), test: images.clone() };
    let config = TrainConfig { batch: n, eval_batch: n, shuffle: false, ..Default::default() };
    let mut trainer = Trainer::new(ctx, model.clone(), &data, config)?;
    trainer.set_weights(weights)?;
    let pixels = model.input_len();

    let start = Instant::now();
    let looped_result = one_at_a_time(&mut trainer, &images, pixels).await?;
    let loop_first = ms_since(start);
    let start = Instant::now();
    let (_, batched_result) = trainer.evaluate_predictions(EvalSet::Test).await?;
    let batched_first = ms_since(start);

    let (mut loop_runs, mut batched_runs) = (Vec::new(), Vec::new());
    for _ in 0..repeats {
        let start = Instant::now();
        one_at_a_time(&mut trainer, &images, pixels).await?;
        loop_runs.push(ms_since(start));
        let start = Instant::now();
        trainer.evaluate_predictions(EvalSet::Test).await?;
        batched_runs.push(ms_since(start));
    }
    let batched_f64: Vec<f64> = batched_result.iter().map(|&v| v as f64).collect();
    let difference = super::max_difference(&looped_result, &batched_f64);
    let timing = |first_ms, runs_ms| Timing { first_ms, runs_ms, gpu_clock: false };
    Ok(VmapReport {
        looped: Way { name: format!("loop: {n} images through the batch-1 plan"), submissions: n, timing: timing(loop_first, loop_runs) },
        batched: Way { name: format!("batched: one evaluation of {n}"), submissions: 1, timing: timing(batched_first, batched_runs) },
        difference,
        tolerance: LOGPROB_TOLERANCE,
        cpu_error: None,
    })
}
