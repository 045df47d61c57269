//! The run: validating the form and starting a trainer, then the loop that paces training
//! so the page stays responsive (about 100 ms of work per tick), collects metrics,
//! evaluates at epoch ends and redraws at most four times a second.

use crate::inspection::{publish_evaluation, refresh_inspection, request_inspection};
use crate::kept_run::keep;
use crate::logic::{parse_settings, Settings, SettingsInput};
use crate::now_s;
use crate::page_trainer::PageTrainer;
use crate::report::publish_report;
use crate::state::{AppState, Lease, Phase, TrainProgress};
use charts::{ChartData, EpochPoint};
use engine::train::{steps_for_work, BackendKind, StepMetrics, TrainError};
use engine::{Dataset, Split};
use leptos::prelude::*;
use leptos::task::spawn_local;
use std::sync::Arc;

/// A trainer built for the form's settings that is not the page's run yet: a load or a
/// restore proves it (weights set, test set evaluated) before it replaces the current run.
pub struct NewRun {
    pub trainer: PageTrainer,
    settings: Settings,
    input: SettingsInput,
    test: Split,
    backend: BackendKind,
    pressed: f64,
    setup_ms: f64,
    generation: u32,
    /// The phase before the build, to go back to if the new run is not used.
    pub previous: Phase,
}

impl NewRun {
    /// Whether the page is still where it was when the build began (no Reset meanwhile).
    pub fn is_current(&self, app: AppState) -> bool {
        app.session().is_current(self.generation)
    }
}

/// Validates the form and builds a trainer for it (starting the worker for a burn
/// backend), leaving the current run as it is. None (with the reason shown) if that failed.
pub async fn build_run(app: AppState) -> Option<NewRun> {
    let (session, ui) = (app.session(), app.ui);
    let dataset = session.dataset.borrow().clone()?;
    let ctx = session.ctx.borrow().clone();
    let input = app.form.input();
    let settings = match parse_settings(&input, dataset.train.len(), dataset.test.len()) {
        Ok(s) => s,
        Err(e) => {
            ui.form_error.set(Some(e));
            return None;
        }
    };
    ui.form_error.set(None);
    let subset = Dataset {
        train: settings.limit.map_or_else(|| dataset.train.clone(), |n| dataset.train.truncated(n)),
        test: settings.test_limit.map_or_else(|| dataset.test.clone(), |n| dataset.test.truncated(n)),
    };
    let previous = ui.phase.get_untracked();
    ui.phase.set(Phase::Training);
    let generation = session.generation();
    let pressed = now_s();
    let backend = settings.backend.resolve(ui.auto.get_untracked().kind);
    let started = PageTrainer::start(backend, ctx, crate::state::model().clone(), &subset, settings.train_config()).await;
    let setup_ms = (now_s() - pressed) * 1000.0;
    if !session.is_current(generation) {
        return None; // Reset while the worker started.
    }
    match started {
        Ok(trainer) => Some(NewRun { trainer, settings, input, test: subset.test, backend, pressed, setup_ms, generation, previous }),
        Err(e @ TrainError::Config(_)) => {
            ui.form_error.set(Some(e.to_string()));
            ui.phase.set(previous);
            None
        }
        Err(e) => {
            ui.phase.set(Phase::Failed(e.to_string()));
            None
        }
    }
}

/// Makes `run` the page's run: the old one (trainer, charts, evaluation) is dropped.
pub fn install_run(app: AppState, run: NewRun) {
    let (session, ui) = (app.session(), app.ui);
    let steps_per_epoch = run.trainer.clock().steps_per_epoch;
    session.train_pressed_at.set(Some(run.pressed));
    ui.startup.update(|s| {
        s.setup_ms = Some(run.setup_ms);
        s.first_step_ms = None;
    });
    ui.chart.set(ChartData { steps_per_epoch, planned_epochs: run.settings.epochs, ..Default::default() });
    ui.progress.set(TrainProgress {
        total_steps: (steps_per_epoch * run.settings.epochs) as u64,
        epochs: run.settings.epochs,
        ..Default::default()
    });
    ui.ins.eval.set(None);
    *session.test_split.borrow_mut() = Some(Arc::new(run.test));
    *session.weights.borrow_mut() = None;
    session.base_epochs.set(0);
    session.install(run.trainer);
    *session.run_input.borrow_mut() = Some(run.input);
    ui.training_on.set(Some(run.backend));
    *session.settings.borrow_mut() = Some(run.settings);
}

/// Builds a trainer for the form and makes it the page's run, without starting it. False
/// (with the reason shown) if that failed.
pub async fn prepare_trainer(app: AppState) -> bool {
    match build_run(app).await {
        Some(run) => {
            install_run(app, run);
            true
        }
        None => false,
    }
}

/// Builds a trainer for a new run and starts the loop. The new run replaces the one kept in
/// the browser (and the offer to resume it): that file goes first, so it cannot remove a
/// checkpoint the new run writes.
pub async fn start_training(app: AppState) {
    if prepare_trainer(app).await {
        app.session().offered.take();
        app.ui.offer.set(None);
        crate::kept_run::forget(app).await;
        resume(app);
    }
}

/// Starts (or resumes) the loop on the session's trainer.
pub fn resume(app: AppState) {
    let session = app.session();
    if session.running.get() {
        return;
    }
    if !session.has_trainer() {
        // Out for a moment (an inspection, a checkpoint being written): whoever holds it
        // starts the loop when giving it back ([`return_lease`]).
        session.want_resume();
        return;
    }
    session.running.set(true);
    app.ui.phase.set(Phase::Training);
    spawn_local(train_loop(app));
}

/// Puts a leased trainer back, and starts the loop if Train was pressed while it was out.
/// True if it went back (no Reset or new run meanwhile).
pub fn return_lease(app: AppState, lease: Lease) -> bool {
    let session = app.session();
    let back = session.give_back(lease);
    if back && session.take_resume_wanted() {
        resume(app);
    }
    back
}

enum LoopEnd {
    Paused,
    Finished,
}

async fn train_loop(app: AppState) {
    let (session, ui) = (app.session(), app.ui);
    let mut lease = session.lease();
    let generation = lease.generation();
    let Some(trainer) = lease.trainer.as_mut() else { return };
    let result = run_ticks(app, trainer, generation).await;
    session.running.set(false);
    if !session.give_back(lease) {
        return; // Reset while we ran: the trainer was dropped.
    }
    let phase = match result {
        Ok(LoopEnd::Paused) => Phase::Paused,
        Ok(LoopEnd::Finished) => Phase::Finished,
        Err(e) => Phase::Failed(format!("Training stopped: {e} The charts are kept.")),
    };
    publish_report(app, &phase);
    ui.phase.set(phase);
    if session.inspect_due.get() {
        request_inspection(app);
    }
}

/// Submits a few steps, waits for the GPU (yielding to the event loop), collects metrics,
/// evaluates at epoch ends, and redraws at most four times a second.
async fn run_ticks(app: AppState, trainer: &mut PageTrainer, generation: u32) -> Result<LoopEnd, TrainError> {
    let (session, ui) = (app.session(), app.ui);
    let settings = session.settings.borrow().clone().expect("set with the trainer");
    let total = ui.progress.get_untracked().total_steps;
    let started = now_s();
    let steps_at_start = trainer.clock().steps;
    let mut steps_per_tick = 1usize;
    let mut pending: Vec<StepMetrics> = Vec::new();
    let mut last_draw = 0.0;
    let mut last_inspect = 0.0;
    loop {
        if !session.is_current(generation) {
            return Ok(LoopEnd::Paused);
        }
        if !session.running.get() {
            // Paused: keep the run, so closing the tab now loses nothing.
            keep(app, trainer, &mut pending).await?;
            return Ok(LoopEnd::Paused);
        }
        let before = trainer.clock().steps;
        if before >= total {
            return Ok(LoopEnd::Finished);
        }
        let tick_start = now_s();
        let mut count = steps_per_tick.min((total - before) as usize);
        if let Some(n) = session.pause_after.get() {
            if before >= n {
                session.pause_after.set(None);
                session.running.set(false);
                continue;
            }
            count = count.min((n - before) as usize);
        }
        pending.extend(trainer.run_steps(count, &session.lose_device_after).await?);
        if let Some(pressed) = session.train_pressed_at.take() {
            let now = now_s();
            ui.startup.update(|s| {
                s.first_step_ms = Some((now - pressed) * 1000.0);
                s.since_navigation_ms = Some(now * 1000.0);
            });
        }
        let clock = trainer.clock();
        // Aim for ~100 ms of work per tick: responsive on slow adapters, efficient on fast ones.
        let per_step = (now_s() - tick_start) / (clock.steps - before).max(1) as f64;
        steps_per_tick = steps_for_work(per_step);
        let epoch_done = clock.at_epoch_start();
        let rate = (clock.steps - steps_at_start) as f64 * settings.batch as f64 / (now_s() - started).max(1e-9);
        ui.progress.update(|p| {
            p.step = clock.steps;
            p.epoch = clock.epoch;
            p.images_per_s = rate;
            p.eta_s = (total - clock.steps) as f64 * settings.batch as f64 / rate.max(1e-9);
        });
        if epoch_done || now_s() - last_draw > 0.25 {
            ui.chart.update(|c| c.steps.append(&mut pending));
            last_draw = now_s();
        }
        if epoch_done {
            ui.progress.update(|p| p.evaluating = true);
            let test = trainer.evaluate_test().await;
            let full_train = match (&test, settings.eval_train) {
                (Ok(_), true) => Some(trainer.evaluate_train().await),
                _ => None,
            };
            ui.progress.update(|p| p.evaluating = false);
            let (test, logprobs) = test?;
            let full_train = full_train.transpose()?;
            publish_evaluation(app, test, logprobs, session.base_epochs.get() + clock.epoch);
            ui.chart.update(|c| {
                let this_epoch = &c.steps[c.steps.len().saturating_sub(c.steps_per_epoch)..];
                let mut point = EpochPoint::summarize(clock.epoch, this_epoch, &test);
                point.full_train = full_train;
                c.epochs.push(point);
            });
            keep(app, trainer, &mut pending).await?;
        } else if session.keep_due.take() {
            keep(app, trainer, &mut pending).await?;
        }
        // The filters and the drawing pad follow the latest weights, every couple of seconds.
        if session.inspect_due.get() || epoch_done || now_s() - last_inspect > 2.0 {
            session.inspect_due.set(false);
            refresh_inspection(app, Some(trainer)).await?;
            last_inspect = now_s();
        }
        publish_report(app, &Phase::Training);
    }
}
