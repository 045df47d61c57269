//! `?bench=N`: default model, batch 128, 2 warm-up steps, then N timed steps. The result,
//! the engine's [`BenchReport`] as JSON, goes to the page and to `document.title` as
//! `BENCH {json}`. Besides the speed it gives the startup: `setup_ms` (building the
//! trainer), `first_step_ms` (from there to the first step done, pipelines compiled) and
//! `startup_ms` (navigation to that first step). With `&backend=all` every page backend
//! runs in turn; the report is the first (ours), with all of them under `backends`.

use crate::now_s;
use crate::page_trainer::PageTrainer;
use crate::state::{AppState, Phase};
use engine::bench::{kernel_totals, BenchReport};
use engine::train::{BackendKind, TrainConfig, TrainError};
use engine::{Dataset, GpuContext};
use leptos::prelude::*;
use std::cell::Cell;

/// One backend's benchmark.
async fn bench_backend(
    kind: BackendKind,
    ctx: Option<GpuContext>,
    dataset: &Dataset,
    steps: usize,
    adapter: &str,
) -> Result<BenchReport, TrainError> {
    let config = TrainConfig::default();
    let batch = config.batch;
    let no_fault = Cell::new(None);
    let begun = now_s();
    let mut trainer = PageTrainer::start(kind, ctx, crate::state::model().clone(), dataset, config).await?;
    let setup_ms = (now_s() - begun) * 1000.0;
    trainer.run_steps(1, &no_fault).await?;
    // The first step includes compiling the pipelines.
    let first_step_ms = (now_s() - begun) * 1000.0;
    let startup_ms = now_s() * 1000.0;
    trainer.run_steps(1, &no_fault).await?;
    let started = now_s();
    let submissions_before = match &trainer {
        PageTrainer::Gpu(t) => t.submissions(),
        PageTrainer::Burn(_) => 0,
    };
    let mut done = 0;
    while done < steps {
        // At most one epoch and MAX_STEPS_PER_SUBMISSION steps per call: ours submits them
        // in one command buffer and waits once.
        let before = trainer.clock().steps;
        trainer.run_steps(steps - done, &no_fault).await?;
        done += (trainer.clock().steps - before) as usize;
    }
    let seconds = now_s() - started;
    let mut report = BenchReport {
        setup_ms: Some(setup_ms),
        first_step_ms: Some(first_step_ms),
        startup_ms: Some(startup_ms),
        ..BenchReport::timed(kind.name(), batch, steps, seconds)
    };
    match &mut trainer {
        PageTrainer::Gpu(t) => {
            report.adapter = adapter.to_string();
            report.gpu_memory_bytes = Some(t.gpu_memory_bytes());
            let submissions = (t.submissions() - submissions_before) as f64;
            report.submissions_per_s = Some(submissions / seconds);
            report.steps_per_submission = Some(steps as f64 / submissions.max(1.0));
            report.dispatches_per_step = Some(t.dispatches_per_step());
            // Per-kernel GPU time of one more step, where the adapter has timestamp queries.
            report.kernels = kernel_totals(&t.profile_step().await?.unwrap_or_default());
        }
        PageTrainer::Burn(_) if kind == BackendKind::BurnCpu => report.adapter = "CPU (burn flex, Web Worker)".into(),
        PageTrainer::Burn(_) => report.adapter = format!("{adapter} (burn-wgpu, Web Worker)"),
    }
    Ok(report)
}

pub async fn run_bench(app: AppState, steps: usize, kinds: &[BackendKind]) {
    let session = app.session();
    let Some(dataset) = session.dataset.borrow().clone() else { return };
    let ctx = session.ctx.borrow().clone();
    let adapter = app.ui.adapter.get_untracked();
    let title = |report: &BenchReport| {
        if let Some(doc) = web_sys::window().and_then(|w| w.document()) {
            doc.set_title(&format!("BENCH {}", report.to_json()));
        }
    };
    let mut reports = Vec::new();
    for &kind in kinds {
        match bench_backend(kind, ctx.clone(), &dataset, steps, &adapter).await {
            Ok(report) => reports.push(report),
            Err(e) => {
                title(&BenchReport { backend: kind.name().into(), error: Some(e.to_string()), ..Default::default() });
                app.ui.phase.set(Phase::Failed(e.to_string()));
                return;
            }
        }
    }
    let mut report = reports[0].clone();
    if reports.len() > 1 {
        report.backends = reports;
    }
    app.ui.form_error.set(Some(format!("Benchmark: {}", report.to_json())));
    title(&report);
}
