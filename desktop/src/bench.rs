//! `desktop bench`: training images/s per backend, GPU memory and per-kernel time for ours,
//! as tables or as the engine's [`BenchReport`] JSON.

use crate::{load_data, make_trainer, DataArgs};
use anyhow::{bail, Result};
use burn_peer::AnyTrainer;
use engine::bench::{kernel_totals, BenchReport, KernelTime};
use engine::model::Model;
use engine::train::{block_on, BackendChoice, BackendKind, TrainConfig};
use engine::Dataset;
use std::time::Instant;

/// What `bench` measures, as the command line gave it.
pub struct BenchArgs {
    pub data: DataArgs,
    pub batch: usize,
    pub steps: usize,
    pub json: bool,
    /// Also list every dispatch of the profiled step in order.
    pub dispatches: bool,
    pub kinds: Vec<BackendKind>,
}

pub fn bench(args: BenchArgs, model: &Model) -> Result<()> {
    if args.steps == 0 {
        bail!("the number of timed steps must be at least 1");
    }
    let dataset = load_data(&args.data)?;
    let mut reports = Vec::new();
    for &kind in &args.kinds {
        let (report, dispatches) = bench_one(kind, model, &dataset, args.batch, args.steps)?;
        if args.json {
            println!("{}", report.to_json());
        } else {
            print_bench(&report);
            if args.dispatches {
                print_dispatches(&dispatches);
            }
        }
        reports.push(report);
    }
    if reports.len() > 1 && !args.json {
        println!("\nside by side (batch {}, {} timed steps each, same process):", args.batch, args.steps);
        println!("  {:<10} {:>10} {:>12}", "backend", "images/s", "wgsl is");
        let ours = reports.iter().find(|r| r.backend == BackendKind::Wgsl.name()).map(|r| r.images_per_s);
        for r in &reports {
            let ratio = ours.map(|o| format!("{:.2}x", o / r.images_per_s)).unwrap_or_default();
            println!("  {:<10} {:>10.1} {:>12}", r.backend, r.images_per_s, ratio);
        }
    }
    Ok(())
}

/// Two warm-up steps, then `steps` timed ones, waiting for the device at both ends. Ours
/// also gives its memory and one profiled step's dispatches.
fn bench_one(kind: BackendKind, model: &Model, dataset: &Dataset, batch: usize, steps: usize) -> Result<(BenchReport, Vec<KernelTime>)> {
    let config = TrainConfig { batch, ..Default::default() };
    let mut trainer = make_trainer(BackendChoice::Fixed(kind), model.clone(), dataset, config)?;
    for _ in 0..2 {
        trainer.step()?;
    }
    block_on(trainer.wait_idle())?;
    let started = Instant::now();
    for _ in 0..steps {
        trainer.step()?;
        trainer.poll_metrics()?;
    }
    block_on(trainer.wait_idle())?;
    let seconds = started.elapsed().as_secs_f64();
    let mut report = BenchReport::timed(kind.name(), batch, steps, seconds);
    let mut dispatches = Vec::new();
    match &mut trainer {
        AnyTrainer::Wgsl(t) => {
            report.adapter = t.context().describe();
            report.gpu_memory_bytes = Some(t.gpu_memory_bytes());
            dispatches = block_on(t.profile_step())?.unwrap_or_default();
            report.kernels = kernel_totals(&dispatches);
        }
        AnyTrainer::Burn(_) => {
            report.adapter =
                if kind == BackendKind::BurnCpu { "CPU (burn flex)".into() } else { "wgpu default adapter (burn-wgpu)".into() };
        }
    }
    Ok((report, dispatches))
}

fn print_dispatches(dispatches: &[KernelTime]) {
    println!("dispatches of the profiled step, in order:");
    for (i, d) in dispatches.iter().enumerate() {
        println!("  {i:>3} {:<24} {:>10.3} ms", d.kernel, d.nanos / 1e6);
    }
}

fn print_bench(r: &BenchReport) {
    println!("backend: {}, adapter: {}", r.backend, r.adapter);
    println!(
        "training: {:.1} images/s ({:.1} ms per step of {}, {} steps after 2 warm-up)",
        r.images_per_s, r.ms_per_step, r.batch, r.steps
    );
    let Some(memory) = r.gpu_memory_bytes else { return };
    println!("GPU memory allocated: {:.1} MB", memory as f64 / 1e6);
    if r.kernels.is_empty() {
        println!("per-kernel times: this adapter has no timestamp queries");
        return;
    }
    let total: f64 = r.kernels.iter().map(|k| k.ms).sum();
    println!("per-kernel GPU time in one profiled step (one pass per dispatch):");
    println!("  {:<24} {:>10} {:>7} {:>10}", "kernel", "ms", "share", "dispatches");
    for k in &r.kernels {
        println!("  {:<24} {:>10.3} {:>6.1}% {:>10}", k.kernel, k.ms, 100.0 * k.ms / total, k.dispatches);
    }
    println!("  {:<24} {:>10.3}", "total", total);
}
