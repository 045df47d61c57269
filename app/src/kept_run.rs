//! Keeping the current run in the browser (OPFS) so that a reload or a closed tab loses
//! nothing: a checkpoint at every epoch's end, on Pause and when the page is hidden during
//! training; on the next visit, an offer to resume it exactly (or, when its run cannot
//! continue, to load its weights), or to discard it. Loading a downloaded checkpoint goes
//! through the same restore.

use crate::checkpoint::{self, Checkpoint, RunRecord};
use crate::inspection::{publish_evaluation, request_inspection};
use crate::logic::format_bytes;
use crate::opfs;
use crate::page_trainer::PageTrainer;
use crate::run_loop::{build_run, install_run};
use crate::state::{model, AppState, Offer, OfferedRun, Phase};
use engine::data::BuiltinDataset;
use engine::train::{StepMetrics, TrainError};
use engine::weights::{TrainingState, WeightsMeta};
use leptos::prelude::*;

const NOT_KEPT_BURN: &str =
    "This run is not kept in the browser: burn keeps Adam's state inside its worker, so only runs on our WGSL backend can continue exactly after a reload. Download the weights to keep them.";

/// The current run as a checkpoint file: weights, Adam's state and the page's record. None
/// on burn backends. `pending` (metrics not yet charted) is charted first, with every metric
/// still on the GPU, so the record's history covers every step done.
pub async fn snapshot(
    app: AppState,
    trainer: &mut PageTrainer,
    pending: &mut Vec<StepMetrics>,
) -> Result<Option<(Vec<u8>, TrainingState)>, TrainError> {
    let Some(state) = trainer.training_state().await? else { return Ok(None) };
    pending.extend(trainer.flush_metrics().await?);
    app.ui.chart.update(|c| c.steps.append(pending));
    let weights = trainer.weights().await?;
    let session = app.session();
    let input = session.run_input.borrow().clone().unwrap_or_else(|| app.form.input());
    let dataset = session.dataset_id.borrow().clone();
    let own_files = if dataset == "own" { session.own_files.borrow().clone() } else { None };
    let record = app.ui.chart.with_untracked(|c| RunRecord::new(&dataset, input, session.base_epochs.get(), c.clone(), own_files));
    let meta = WeightsMeta {
        epoch: session.base_epochs.get() + state.epoch,
        test_accuracy: app.ui.ins.eval.get_untracked().map(|e| e.result.accuracy),
        seed: session.settings.borrow().as_ref().map_or(0, |s| s.seed),
        ..Default::default()
    };
    let bytes = checkpoint::encode(model(), &weights, meta, Some(&state), Some(&record)).map_err(TrainError::Weights)?;
    Ok(Some((bytes, state)))
}

/// Writes a checkpoint of the run to the browser's storage. A storage failure is shown and
/// training goes on; a GPU failure is returned (the run cannot go on either).
pub async fn keep(app: AppState, trainer: &mut PageTrainer, pending: &mut Vec<StepMetrics>) -> Result<(), TrainError> {
    let session = app.session();
    if session.keeping.replace(true) {
        return Ok(()); // One write at a time; the next occasion writes a newer one.
    }
    let result = keep_now(app, trainer, pending).await;
    session.keeping.set(false);
    result
}

async fn keep_now(app: AppState, trainer: &mut PageTrainer, pending: &mut Vec<StepMetrics>) -> Result<(), TrainError> {
    let Some((bytes, state)) = snapshot(app, trainer, pending).await? else {
        app.ui.kept.set(Some(Err(NOT_KEPT_BURN.into())));
        return Ok(());
    };
    let planned = app.ui.chart.with_untracked(|c| c.planned_epochs);
    match opfs::write(&bytes).await {
        Ok(()) => {
            app.session().kept_steps.set(Some(state.steps));
            app.ui.kept.set(Some(Ok(format!(
                "Kept in this browser at {} ({}): a reload offers to resume it.",
                checkpoint::progress_text(&state, planned),
                format_bytes(bytes.len() as u64)
            ))));
        }
        Err(e) => app.ui.kept.set(Some(Err(format!(
            "This run could not be kept in the browser: {e}. Training goes on; download the weights to keep them."
        )))),
    }
    Ok(())
}

/// Keeps a checkpoint of the paused run the session holds (after Pause, a load or a restore).
pub async fn keep_idle(app: AppState) {
    let session = app.session();
    let mut lease = session.lease();
    let Some(trainer) = lease.trainer.as_mut() else { return };
    let result = keep(app, trainer, &mut Vec::new()).await;
    crate::run_loop::return_lease(app, lease);
    if let Err(e) = result {
        app.ui.kept.set(Some(Err(format!("This run could not be kept in the browser: {e}"))));
    }
}

/// Forgets the kept run (Reset, Discard, a new run).
pub async fn forget(app: AppState) {
    app.session().kept_steps.set(None);
    if let Err(e) = opfs::remove().await {
        app.ui.kept.set(Some(Err(format!("The kept run could not be deleted: {e}. Clear this site's data in the browser to remove it."))));
    }
}

/// On start-up: offers the run an earlier visit kept, if there is one.
pub async fn offer(app: AppState) {
    let ui = app.ui;
    match opfs::read().await {
        Ok(None) => {}
        Ok(Some(bytes)) => match checkpoint::decode(model(), &bytes) {
            Ok(cp) => match (&cp.state, &cp.record) {
                (Some(state), Some(record)) => {
                    let data = BuiltinDataset::by_id(&record.dataset).map_or("your own files", |d| d.title);
                    let progress = checkpoint::progress_text(state, record.chart.planned_epochs);
                    ui.offer.set(Some((format!("Resume your run ({progress}, on {data})?"), Offer::Resume)));
                    *app.session().offered.borrow_mut() = Some(OfferedRun::Resume(Box::new(cp)));
                }
                _ => offer_weights(app, "it has no training state".into(), bytes),
            },
            Err(e) => offer_weights(app, e, bytes),
        },
        Err(e) => {
            ui.kept.set(Some(Err(format!("Runs cannot be kept in this browser: {e}. Training works; download the weights to keep them."))))
        }
    }
}

/// A kept run that cannot continue: its weights, when they are intact, can still be loaded.
fn offer_weights(app: AppState, why: String, bytes: Vec<u8>) {
    // Its advice (load the weights alone) is the button.
    let why = crate::logic::error_cause(&why);
    if engine::weights::load(model(), &bytes).is_ok() {
        let text = format!("The run kept in this browser cannot be resumed: {why}. Its weights are intact.");
        app.ui.offer.set(Some((text, Offer::LoadWeights)));
        *app.session().offered.borrow_mut() = Some(OfferedRun::Weights(bytes));
    } else {
        app.ui.offer.set(Some((format!("The run kept in this browser cannot be resumed: {why}."), Offer::Discard)));
    }
}

/// The offer's Load its weights: a fresh run from the kept run's weights, which then
/// becomes the kept run.
pub async fn load_offered_weights(app: AppState) {
    let bytes = match app.session().offered.take() {
        Some(OfferedRun::Weights(bytes)) => bytes,
        other => return *app.session().offered.borrow_mut() = other,
    };
    app.ui.offer.set(None);
    crate::weights_io::load_weights_file(app, "the kept run".into(), bytes).await;
}

/// The offer's Resume: restores the kept run and trains on.
pub async fn resume_offered(app: AppState) {
    let cp = match app.session().offered.take() {
        Some(OfferedRun::Resume(cp)) => cp,
        other => return *app.session().offered.borrow_mut() = other,
    };
    match restore(app, &cp).await {
        Ok(progress) => {
            app.ui.offer.set(None);
            app.ui.kept.set(Some(Ok(format!("Resumed your run at {progress}."))));
            if app.ui.phase.get_untracked() == Phase::Paused {
                crate::run_loop::resume(app);
            }
        }
        Err(e) => {
            let text = format!("Your run could not be resumed: {e}");
            *app.session().offered.borrow_mut() = Some(OfferedRun::Resume(cp));
            app.ui.offer.set(Some((text, Offer::Resume)));
        }
    }
}

/// The offer's Discard.
pub async fn discard_offered(app: AppState) {
    app.session().offered.take();
    app.ui.offer.set(None);
    forget(app).await;
}

/// Makes a checkpoint the current run, exactly where it stopped: its dataset and settings,
/// weights, Adam's state, place in the shuffle, and charts. The page ends paused (or
/// finished). Returns where the run stands.
pub async fn restore(app: AppState, cp: &Checkpoint) -> Result<String, String> {
    let (session, ui) = (app.session(), app.ui);
    let (Some(state), Some(record)) = (&cp.state, &cp.record) else { return Err("it holds no training state".into()) };
    if record.dataset != *session.dataset_id.borrow() {
        let Some(dataset) = BuiltinDataset::by_id(&record.dataset) else {
            return Err("it trained on your own idx files. Choose them again (Dataset: My own idx files), then press Resume here.".into());
        };
        app.reset_run();
        app.form.dataset.set(dataset.id.to_string());
        if !crate::startup::load_builtin(app, dataset).await {
            return Err(format!("{} could not be loaded", dataset.title));
        }
    }
    checkpoint::check_own_files(record, session.own_files.borrow().as_ref())?;
    // The state is our kernels' (Adam's moments in our layout).
    app.form.set(crate::logic::SettingsInput { backend: "wgsl".into(), ..record.settings.clone() });
    let Some(mut run) = build_run(app).await else {
        return Err(ui.form_error.get_untracked().unwrap_or_else(|| "a trainer for its settings could not be started".into()));
    };
    let evaluated = match run.trainer.resume_from(&cp.weights, state) {
        Ok(()) => run.trainer.evaluate_test().await,
        Err(e) => Err(e),
    };
    if !run.is_current(app) {
        return Err("the page was reset while the run loaded".into());
    }
    let (eval, logprobs) = match evaluated {
        Ok(x) => x,
        Err(e) => {
            ui.phase.set(run.previous);
            return Err(e.to_string());
        }
    };
    // Proven: it replaces the current run.
    install_run(app, run);
    session.base_epochs.set(record.base_epochs);
    *session.weights.borrow_mut() = Some(cp.weights.clone());
    ui.chart.set(record.chart.clone());
    ui.progress.update(|p| {
        p.step = state.steps;
        p.epoch = state.epoch;
    });
    publish_evaluation(app, eval, logprobs, record.base_epochs + state.epoch);
    let finished = state.steps >= ui.progress.get_untracked().total_steps;
    ui.phase.set(if finished { Phase::Finished } else { Phase::Paused });
    crate::report::publish_report(app, &ui.phase.get_untracked());
    request_inspection(app);
    Ok(checkpoint::progress_text(state, record.chart.planned_epochs))
}
