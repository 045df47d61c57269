//! Every WGSL kernel against the f64 [`reference`](crate::reference), as a library, so that
//! the native tests (lavapipe), `desktop selftest` and the page's `?selftest` (the browser's
//! WebGPU) run the same cases on whatever adapter they have.
//!
//! Each case draws random inputs from its own seed, poisons every output with NaN first (an
//! element a kernel forgets to write stays NaN and fails), and compares per tensor:
//! ‖ours − reference‖ / ‖reference‖ under 1e-5 for forward kernels and 1e-4 for reductions
//! and gradients, which sum thousands of f32 products. Batches are 1, 3 and 127, and the
//! convolutions run with every register block (the adapter's own and the others, including
//! the 4x4 blocks that real GPUs get).

mod elementwise;
mod layers;

use crate::gpu::{Dispatch, GpuContext, GpuError, Kernels, RegisterBlock, SHADERS};
use crate::model::{ConvGeom, Shape};
use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};
use serde::Serialize;
use std::cell::RefCell;
use std::collections::BTreeSet;

pub const BATCHES: [usize; 3] = [1, 3, 127];
pub const FWD_TOL: f64 = 1e-5;
pub const GRAD_TOL: f64 = 1e-4;

/// One self-test case: a kernel family at one size.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Case {
    /// Forward (with and without ReLU), input gradient and weight gradient, every block.
    Conv {
        geom: ConvGeom,
        n: usize,
    },
    /// Statistics, apply (with and without ReLU), both backward kernels, running statistics,
    /// evaluation mode, and statistics without the running update.
    BatchNorm {
        shape: Shape,
        n: usize,
    },
    Dense {
        inputs: usize,
        outputs: usize,
        n: usize,
    },
    /// ReLU and its backward over `count` elements.
    Relu {
        count: usize,
    },
    /// Log-softmax, NLL, its gradient and the metrics, in training and evaluation.
    SoftmaxLoss {
        n: usize,
    },
    /// Batches gathered from resident u8 data through the permutation.
    Gather {
        n: usize,
        start: usize,
    },
    /// Three Adam steps on `count` parameters.
    Adam {
        count: usize,
    },
    /// The jit lesson's fused SELU and its five eager operations.
    Lesson {
        count: usize,
    },
}

/// The tutorial's four convolutions plus odd geometries: non-square, stride 1, stride 3,
/// more than one 32-wide tile of channels, and weights too large for one uniform binding.
pub fn conv_geometries() -> Vec<ConvGeom> {
    let s = |c, h, w| Shape { c, h, w };
    vec![
        ConvGeom::same(s(1, 28, 28), 32, 5, 2),
        ConvGeom::same(s(32, 14, 14), 32, 5, 2),
        ConvGeom::same(s(32, 7, 7), 10, 3, 2),
        ConvGeom::same(s(10, 4, 4), 10, 3, 2),
        ConvGeom::same(s(3, 9, 6), 5, 3, 1),
        ConvGeom::same(s(2, 11, 8), 4, 4, 3),
        ConvGeom::same(s(5, 6, 5), 37, 3, 2),
        // Pixel lanes: 1,200 rows of weights are too many for one uniform binding (the
        // forward falls back to tiles), the input gradient's 175 are not.
        ConvGeom::same(s(48, 5, 4), 7, 5, 1),
    ]
}

/// Every case, in a fixed order (a case's seed is its position).
pub fn plan() -> Vec<Case> {
    let mut cases = Vec::new();
    for geom in conv_geometries() {
        cases.extend(BATCHES.map(|n| Case::Conv { geom, n }));
    }
    for shape in [Shape { c: 32, h: 14, w: 14 }, Shape { c: 10, h: 4, w: 4 }, Shape { c: 3, h: 5, w: 3 }] {
        cases.extend(BATCHES.map(|n| Case::BatchNorm { shape, n }));
    }
    for (inputs, outputs) in [(40, 10), (7, 13)] {
        cases.extend(BATCHES.map(|n| Case::Dense { inputs, outputs, n }));
    }
    // 8,400,001 elements need more than 32,768 workgroups of 256: the grid's second row.
    cases.extend([1, 3, 127 * 40, 70_001, 8_400_001].map(|count| Case::Relu { count }));
    cases.extend([1, 3, 127, 300].map(|n| Case::SoftmaxLoss { n }));
    // (5, 298) runs off the end of 301 examples: the gather clamps to the last one.
    cases.extend([(1, 0), (3, 5), (127, 173), (5, 298)].map(|(n, start)| Case::Gather { n, start }));
    cases.extend([1, 3, 30_822].map(|count| Case::Adam { count }));
    cases.extend([1, 257, 70_001].map(|count| Case::Lesson { count }));
    cases
}

impl Case {
    pub fn name(&self) -> String {
        match *self {
            Case::Conv { geom: g, n } => format!(
                "conv {}x{}x{} -> {}x{}x{} k{} s{} batch {n}",
                g.input.c, g.input.h, g.input.w, g.output.c, g.output.h, g.output.w, g.kernel, g.stride
            ),
            Case::BatchNorm { shape: s, n } => format!("batchnorm {}x{}x{} batch {n}", s.c, s.h, s.w),
            Case::Dense { inputs, outputs, n } => format!("dense {inputs} -> {outputs} batch {n}"),
            Case::Relu { count } => format!("relu {count} elements"),
            Case::SoftmaxLoss { n } => format!("softmax loss batch {n}"),
            Case::Gather { n, start } => format!("gather batch {n} from {start}"),
            Case::Adam { count } => format!("adam {count} parameters"),
            Case::Lesson { count } => format!("jit lesson {count} values"),
        }
    }
}

/// One comparison. It passes when `error <= tolerance`; NaN (an unwritten element) fails.
#[derive(Clone, Debug, Serialize)]
pub struct Check {
    pub what: String,
    /// Relative error, or a count of mismatches for exact checks (tolerance 0).
    pub error: f64,
    pub tolerance: f64,
    /// Why it failed, when the number alone does not say (empty when it passed).
    pub note: String,
}

impl Check {
    pub fn passed(&self) -> bool {
        self.error <= self.tolerance
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct CaseReport {
    pub name: String,
    /// The kernels this case dispatched.
    pub kernels: Vec<&'static str>,
    pub checks: Vec<Check>,
}

impl CaseReport {
    /// One line of JSON (`desktop selftest --json`, the page's report).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The worst check as a fraction of its tolerance (an exact check that failed counts as
    /// its mismatches; an unwritten element as infinity).
    pub fn worst(&self) -> f64 {
        let fraction = |c: &Check| match c.error {
            e if e.is_nan() => f64::INFINITY,
            e if c.tolerance > 0.0 => e / c.tolerance,
            e => e,
        };
        self.checks.iter().map(fraction).fold(0.0, f64::max)
    }

    pub fn passed(&self) -> bool {
        !self.checks.is_empty() && self.checks.iter().all(Check::passed)
    }

    /// One line per failed check (empty when the case passed).
    pub fn failures(&self) -> String {
        let failed = self.checks.iter().filter(|c| !c.passed());
        let lines: Vec<String> =
            failed.map(|c| format!("{} / {}: error {:e} over {:e} {}", self.name, c.what, c.error, c.tolerance, c.note)).collect();
        if self.checks.is_empty() {
            return format!("{}: no check ran", self.name);
        }
        lines.join("\n")
    }
}

/// A whole run, as the page reports it (`SELFTEST {json}` in its title).
#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    pub adapter: String,
    /// The register block the adapter's training uses.
    pub block: String,
    pub reports: Vec<CaseReport>,
    pub uncovered: Vec<&'static str>,
    /// Every case in the plan ran and passed, and every kernel ran.
    pub passed: bool,
}

impl Summary {
    pub fn new(adapter: String, block: RegisterBlock, reports: Vec<CaseReport>) -> Self {
        let uncovered = uncovered(&reports);
        let passed = reports.len() == plan().len() && reports.iter().all(CaseReport::passed) && uncovered.is_empty();
        Summary { adapter, block: format!("{block:?}"), reports, uncovered, passed }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// One sentence on the whole run: what passed, or what did not.
    pub fn verdict(&self) -> Result<String, String> {
        let n = self.reports.len();
        let failed = self.reports.iter().filter(|r| !r.passed()).count();
        if !self.uncovered.is_empty() {
            Err(format!("No case dispatched these kernels: {}", self.uncovered.join(", ")))
        } else if failed > 0 {
            Err(format!("{failed} of {n} cases failed: this GPU's results differ from the f64 reference beyond the tolerances"))
        } else if !self.passed {
            Err(format!("{n} of the plan's {} cases ran", plan().len()))
        } else {
            Ok(format!("All {n} cases match the f64 reference, and every kernel in shaders/ ran"))
        }
    }
}

/// The kernels in `shaders/` that no report dispatched (empty when the run covered all).
pub fn uncovered(reports: &[CaseReport]) -> Vec<&'static str> {
    let covered: BTreeSet<&str> = reports.iter().flat_map(|r| r.kernels.iter().copied()).collect();
    SHADERS.iter().map(|(name, _)| *name).filter(|name| !covered.contains(name)).collect()
}

/// The compiled kernels for every register block, built once for a whole run.
pub struct SelfTest {
    pub ctx: GpuContext,
    /// The adapter's own choice, used for every family but the convolutions.
    pub kernels: Kernels,
    by_block: Vec<Kernels>,
}

impl SelfTest {
    pub fn new(ctx: GpuContext) -> Self {
        let by_block = RegisterBlock::ALL.iter().map(|&b| Kernels::with_block(ctx.clone(), b)).collect();
        SelfTest { kernels: Kernels::new(ctx.clone()), ctx, by_block }
    }

    /// Runs case `index` of [`plan`]. A GPU error (device lost) is an `Err`; a wrong result
    /// is a failed check in the report.
    pub async fn run(&self, index: usize, case: &Case) -> Result<CaseReport, GpuError> {
        let mut p = Probe::new(&self.ctx, 1000 + index as u64);
        match *case {
            Case::Conv { geom, n } => {
                for k in &self.by_block {
                    layers::conv(&mut p, k, geom, n).await?;
                }
            }
            Case::BatchNorm { shape, n } => layers::batchnorm(&mut p, &self.kernels, shape, n).await?,
            Case::Dense { inputs, outputs, n } => layers::dense(&mut p, &self.kernels, inputs, outputs, n).await?,
            Case::Relu { count } => elementwise::relu(&mut p, &self.kernels, count).await?,
            Case::SoftmaxLoss { n } => elementwise::softmax_loss(&mut p, &self.kernels, n).await?,
            Case::Gather { n, start } => elementwise::gather(&mut p, &self.kernels, n, start).await?,
            Case::Adam { count } => elementwise::adam(&mut p, &self.kernels, count).await?,
            Case::Lesson { count } => elementwise::lesson(&mut p, &self.kernels, count).await?,
        }
        if let Some(fault) = self.ctx.take_fault() {
            return Err(fault);
        }
        let kernels = p.kernels.into_inner().into_iter().collect();
        Ok(CaseReport { name: case.name(), kernels, checks: p.checks })
    }
}

/// Seeded random numbers (ChaCha8), the same on every platform.
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

/// ‖a − b‖ / ‖b‖ over two equally long sequences (NaN anywhere gives NaN).
pub fn rel_err(ours: impl IntoIterator<Item = f64>, reference: impl IntoIterator<Item = f64>) -> f64 {
    let (mut diff, mut norm) = (0.0, 0.0);
    for (a, b) in ours.into_iter().zip(reference) {
        diff += (a - b) * (a - b);
        norm += b * b;
    }
    (diff / f64::max(norm, 1e-300)).sqrt()
}

/// The relative error of `ours` against `reference` ([`rel_err`]), or why there is none:
/// the lengths differ, or an element was not written (still NaN) or is not finite.
pub fn compare(
    ours_len: usize,
    ours: impl Iterator<Item = f64> + Clone,
    reference_len: usize,
    reference: impl Iterator<Item = f64>,
) -> Result<f64, String> {
    if ours_len != reference_len {
        return Err(format!("{ours_len} values where the reference has {reference_len}"));
    }
    match ours.clone().position(|v| !v.is_finite()) {
        Some(i) => Err(format!("element {i} of {ours_len} was not written (still NaN) or is not finite")),
        None => Ok(rel_err(ours, reference)),
    }
}

/// A storage buffer holding `values` as f32.
pub fn input_buffer(ctx: &GpuContext, values: &[f64]) -> wgpu::Buffer {
    let floats: Vec<f32> = values.iter().map(|&v| v as f32).collect();
    ctx.storage_buffer("self-test input", bytemuck::cast_slice(&floats))
}

/// An output buffer filled with NaN, so that elements a kernel fails to write are caught.
pub fn poisoned_buffer(ctx: &GpuContext, floats: usize) -> wgpu::Buffer {
    ctx.storage_buffer("poisoned output", bytemuck::cast_slice(&vec![f32::NAN; floats]))
}

/// Encodes `dispatches` in one compute pass and submits them.
pub fn submit(ctx: &GpuContext, dispatches: &[Dispatch]) {
    let mut encoder = ctx.device.create_command_encoder(&Default::default());
    {
        let mut pass = encoder.begin_compute_pass(&Default::default());
        for d in dispatches {
            d.encode(&mut pass);
        }
    }
    ctx.queue.submit([encoder.finish()]);
}

/// One case's buffers, random numbers and checks.
pub(crate) struct Probe<'a> {
    ctx: &'a GpuContext,
    pub rng: Rng,
    checks: Vec<Check>,
    kernels: RefCell<BTreeSet<&'static str>>,
}

impl<'a> Probe<'a> {
    fn new(ctx: &'a GpuContext, seed: u64) -> Self {
        Probe { ctx, rng: Rng::new(seed), checks: Vec::new(), kernels: RefCell::new(BTreeSet::new()) }
    }

    pub fn input(&self, values: &[f64]) -> wgpu::Buffer {
        input_buffer(self.ctx, values)
    }

    pub fn input_bytes(&self, bytes: &[u8]) -> wgpu::Buffer {
        self.ctx.storage_buffer("self-test input", bytes)
    }

    pub fn poisoned(&self, floats: usize) -> wgpu::Buffer {
        poisoned_buffer(self.ctx, floats)
    }

    pub fn uniform<T: bytemuck::Pod>(&self, value: &T) -> wgpu::Buffer {
        use wgpu::util::DeviceExt;
        let usage = wgpu::BufferUsages::UNIFORM;
        self.ctx.device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some("step"),
            contents: bytemuck::bytes_of(value),
            usage,
        })
    }

    /// [`submit`], noting which kernels ran.
    pub fn run(&self, dispatches: &[Dispatch]) {
        self.kernels.borrow_mut().extend(dispatches.iter().map(|d| d.kernel));
        submit(self.ctx, dispatches);
    }

    pub async fn read(&self, buffer: &wgpu::Buffer) -> Result<Vec<f64>, GpuError> {
        Ok(self.read_f32(buffer).await?.into_iter().map(f64::from).collect())
    }

    pub async fn read_f32(&self, buffer: &wgpu::Buffer) -> Result<Vec<f32>, GpuError> {
        self.ctx.read_f32(buffer).await
    }

    pub async fn read_u32(&self, buffer: &wgpu::Buffer) -> Result<Vec<u32>, GpuError> {
        Ok(bytemuck::cast_slice(&self.ctx.read_bytes(buffer).await?).to_vec())
    }

    /// Every element written and finite, and the relative error under `tolerance`.
    pub fn close(&mut self, what: impl Into<String>, ours: &[f64], reference: &[f64], tolerance: f64) {
        self.close_iter(what, ours.len(), ours.iter().copied(), reference.len(), reference.iter().copied(), tolerance);
    }

    /// [`Probe::close`] over sequences, for outputs too large to copy into f64.
    pub fn close_iter(
        &mut self,
        what: impl Into<String>,
        ours_len: usize,
        ours: impl Iterator<Item = f64> + Clone,
        reference_len: usize,
        reference: impl Iterator<Item = f64>,
        tolerance: f64,
    ) {
        let (error, note) = match compare(ours_len, ours, reference_len, reference) {
            Err(why) => (f64::NAN, why),
            Ok(e) if e <= tolerance => (e, String::new()),
            Ok(e) => (e, "relative error over the tolerance".into()),
        };
        self.checks.push(Check { what: what.into(), error, tolerance, note });
    }

    /// An exact expectation: `mismatches` must be 0; `note` says what differed.
    pub fn exact(&mut self, what: impl Into<String>, mismatches: usize, note: impl Into<String>) {
        let note = if mismatches == 0 { String::new() } else { note.into() };
        self.checks.push(Check { what: what.into(), error: mismatches as f64, tolerance: 0.0, note });
    }
}
