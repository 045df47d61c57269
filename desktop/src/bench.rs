//! `desktop bench`: training images/s per backend, GPU memory, submissions and dispatches
//! per step and per-kernel time for ours, as tables or as the engine's [`BenchReport`] JSON.

use crate::{load_data, make_trainer, DataArgs};
use anyhow::{bail, Result};
use burn_peer::AnyTrainer;
use engine::bench::{kernel_totals, BenchReport, KernelTime};
use engine::model::Model;
use engine::train::{block_on, steps_for_work, BackendChoice, BackendKind, TrainConfig, MAX_STEPS_PER_SUBMISSION};
use engine::Dataset;
use std::time::Instant;

/// How many steps ours puts in one submission.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PerSubmission {
    /// About 100 ms of work, from the timed second warm-up step (what training does).
    Auto,
    Fixed(usize),
}

pub fn parse_per_submission(text: &str) -> Result<PerSubmission, String> {
    if text == "auto" {
        return Ok(PerSubmission::Auto);
    }
    match text.parse::<usize>() {
        Ok(n) if (1..=MAX_STEPS_PER_SUBMISSION).contains(&n) => Ok(PerSubmission::Fixed(n)),
        _ => Err(format!("steps per submission must be `auto` or a number from 1 to {MAX_STEPS_PER_SUBMISSION}, not `{text}`")),
    }
}

/// What `bench` measures, as the command line gave it.
pub struct BenchArgs {
    pub data: DataArgs,
    pub batch: usize,
    pub steps: usize,
    pub json: bool,
    /// Also list every dispatch of the profiled step in order.
    pub dispatches: bool,
    pub kinds: Vec<BackendKind>,
    /// Ours runs once per entry.
    pub per_submission: Vec<PerSubmission>,
}

pub fn bench(args: BenchArgs, model: &Model) -> Result<()> {
    if args.steps == 0 {
        bail!("the number of timed steps must be at least 1");
    }
    let dataset = load_data(&args.data)?;
    let mut reports = Vec::new();
    for &kind in &args.kinds {
        let modes = if kind == BackendKind::Wgsl { args.per_submission.clone() } else { vec![PerSubmission::Fixed(1)] };
        for mode in modes {
            let (report, dispatches) = bench_one(kind, model, &dataset, args.batch, args.steps, mode)?;
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
    }
    if reports.len() > 1 && !args.json {
        println!("\nside by side (batch {}, {} timed steps each, same process):", args.batch, args.steps);
        println!("  {:<10} {:>10} {:>12} {:>14} {:>14}", "backend", "images/s", "submissions/s", "steps/submit", "ours (first) is");
        let ours = reports.first().filter(|r| r.backend == BackendKind::Wgsl.name()).map(|r| r.images_per_s);
        for r in &reports {
            let ratio = ours.map(|o| format!("{:.2}x", o / r.images_per_s)).unwrap_or_default();
            let optional = |v: Option<f64>, digits: usize| v.map(|v| format!("{v:.digits$}")).unwrap_or_else(|| "-".into());
            println!(
                "  {:<10} {:>10.1} {:>12} {:>14} {:>14}",
                r.backend,
                r.images_per_s,
                optional(r.submissions_per_s, 1),
                optional(r.steps_per_submission, 1),
                ratio
            );
        }
    }
    Ok(())
}

/// Two warm-up steps (the second timed to its end, for `auto`), then `steps` timed ones,
/// waiting for the device at both ends. Ours also gives its memory, submissions and
/// dispatches, and one profiled step's dispatches.
fn bench_one(
    kind: BackendKind,
    model: &Model,
    dataset: &Dataset,
    batch: usize,
    steps: usize,
    mode: PerSubmission,
) -> Result<(BenchReport, Vec<KernelTime>)> {
    let config = TrainConfig { batch, ..Default::default() };
    let mut trainer = make_trainer(BackendChoice::Fixed(kind), model.clone(), dataset, config)?;
    trainer.step()?;
    block_on(trainer.wait_idle())?;
    let warm = Instant::now();
    trainer.step()?;
    block_on(trainer.wait_idle())?;
    let per_submission = match mode {
        PerSubmission::Auto => steps_for_work(warm.elapsed().as_secs_f64()),
        PerSubmission::Fixed(n) => n,
    };
    let (submissions_before, cpu_before) = match &trainer {
        AnyTrainer::Wgsl(t) => (t.submissions(), t.cpu_seconds()),
        AnyTrainer::Burn(_) => (0, (0.0, 0.0)),
    };
    let started = Instant::now();
    let mut done = 0;
    while done < steps {
        done += trainer.steps(per_submission.min(steps - done))?;
        trainer.poll_metrics()?;
    }
    block_on(trainer.wait_idle())?;
    let seconds = started.elapsed().as_secs_f64();
    let mut report = BenchReport::timed(kind.name(), batch, steps, seconds);
    let mut dispatches = Vec::new();
    match &mut trainer {
        AnyTrainer::Wgsl(t) => {
            let submissions = (t.submissions() - submissions_before) as f64;
            report.submissions_per_s = Some(submissions / seconds);
            report.steps_per_submission = Some(steps as f64 / submissions.max(1.0));
            let (encode, submit) = t.cpu_seconds();
            report.cpu_encode_ms_per_step = Some((encode - cpu_before.0) * 1e3 / steps as f64);
            report.cpu_submit_ms_per_step = Some((submit - cpu_before.1) * 1e3 / steps as f64);
            report.dispatches_per_step = Some(t.dispatches_per_step());
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
    if let (Some(rate), Some(per), Some(dispatches), Some(encode), Some(submit)) =
        (r.submissions_per_s, r.steps_per_submission, r.dispatches_per_step, r.cpu_encode_ms_per_step, r.cpu_submit_ms_per_step)
    {
        println!("submissions: {rate:.1}/s, {per:.1} steps each; {dispatches} dispatches per step");
        println!("CPU per step: encoding {encode:.3} ms, inside submit {submit:.3} ms (a software driver may do the work there)");
    }
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
