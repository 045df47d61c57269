//! Weight files in the page: `.safetensors` downloads with metadata, and uploads that start
//! a fresh run from the file's weights. A wrong, corrupt or mismatched file is refused
//! before anything changes.

use crate::checkpoint;
use crate::files;
use crate::inspection::{publish_evaluation, request_inspection};
use crate::kept_run;
use crate::logic::{self, format_bytes};
use crate::page_trainer::PageTrainer;
use crate::run_loop::{build_run, install_run, return_lease};
use crate::state::{model, AppState, Phase};
use engine::train::TrainError;
use engine::weights;
use engine::Weights;
use leptos::prelude::*;

/// Loads a `.safetensors` file into a fresh run with the form's settings, then evaluates it.
/// A checkpoint this page wrote resumes its run exactly instead (settings, Adam, charts).
pub async fn load_weights_file(app: AppState, name: String, bytes: Vec<u8>) {
    let (session, ui) = (app.session(), app.ui);
    // A checkpoint whose training state or run record cannot be used still has its weights.
    let (cp, unused_state) = match checkpoint::decode(model(), &bytes) {
        Ok(x) => (x, None),
        Err(e) => match weights::load(model(), &bytes) {
            Ok((weights, meta)) => (checkpoint::Checkpoint { weights, meta, state: None, record: None }, Some(e)),
            Err(_) => {
                ui.weights_msg
                    .set(Some(Err(format!("{name} was not loaded: {}. The current model is unchanged.", e.trim_end_matches('.')))));
                return;
            }
        },
    };
    if session.running.get() {
        ui.weights_msg.set(Some(Err(format!("Pause training before loading {name}. The current model is unchanged."))));
        return;
    }
    if cp.state.is_some() && cp.record.is_some() {
        match kept_run::restore(app, &cp).await {
            Ok(progress) => {
                ui.weights_msg.set(Some(Ok(format!(
                    "Loaded {name}: its run stands at {progress}, with its settings, optimizer state and charts. Resume trains on exactly where it stopped."
                ))));
                kept_run::keep_idle(app).await;
            }
            Err(e) => ui.weights_msg.set(Some(Err(format!("{name} could not be resumed: {e}")))),
        }
        return;
    }
    let (w, meta) = (cp.weights, cp.meta);
    // The file's model is built and evaluated beside the current run, which it replaces only
    // once that worked.
    let Some(mut run) = build_run(app).await else { return };
    let result = match run.trainer.set_weights(&w).await {
        Ok(()) => run.trainer.evaluate_test().await,
        Err(e) => Err(e),
    };
    if !run.is_current(app) {
        return;
    }
    match result {
        Ok((eval, logprobs)) => {
            install_run(app, run);
            *session.weights.borrow_mut() = Some(w);
            session.base_epochs.set(meta.epoch);
            publish_evaluation(app, eval, logprobs, meta.epoch);
            let saved = meta.test_accuracy.map_or_else(String::new, |a| format!(", saved with {:.2}% test accuracy", 100.0 * a));
            // Its advice (load the weights alone) was just followed.
            let unused = unused_state
                .map_or_else(String::new, |e| format!(" Only its weights were loaded, not its run: {}.", crate::logic::error_cause(&e)));
            ui.weights_msg.set(Some(Ok(format!(
                "Loaded {name} (epoch {}, seed {}{saved}): {:.2}% test accuracy on {} images here. Resume trains on from these weights.{unused}",
                meta.epoch,
                meta.seed,
                100.0 * eval.accuracy,
                eval.count
            ))));
            ui.phase.set(Phase::Paused);
            request_inspection(app);
            kept_run::keep_idle(app).await;
        }
        Err(e) => {
            ui.weights_msg.set(Some(Err(format!("{name} could not be used: {e}. The current run is unchanged."))));
            ui.phase.set(run.previous);
        }
    }
}

/// Offers the current weights as a `.safetensors` download with metadata.
pub async fn save_weights_file(app: AppState) {
    let (session, ui) = (app.session(), app.ui);
    let name = |epoch| logic::weights_file_name(&session.dataset_id.borrow(), epoch);
    // Our backend's runs download as checkpoints: loading the file resumes the run exactly.
    // Other backends (and a failed read) give plain weights, read in the same lease.
    let mut lease = session.lease();
    let (mut checkpoint, mut from_gpu) = (None, None);
    if let Some(trainer) = lease.trainer.as_mut() {
        match kept_run::snapshot(app, trainer, &mut Vec::new()).await {
            Ok(Some(snapshot)) => checkpoint = Some(snapshot),
            _ => from_gpu = Some(read_trainer(app, trainer).await),
        }
    }
    return_lease(app, lease);
    if let Some((bytes, state)) = checkpoint {
        let name = name(session.base_epochs.get() + state.epoch);
        match files::download(&name, &bytes) {
            Ok(()) => ui.weights_msg.set(Some(Ok(format!(
                "Saved {name} ({}), with the optimizer's state and the charts: loading it resumes this run exactly.",
                format_bytes(bytes.len() as u64)
            )))),
            Err(e) => ui.weights_msg.set(Some(Err(format!("Could not save the weights: {e}")))),
        }
        return;
    }
    let (weights, epoch, note) = match weights_or_kept_copy(app, from_gpu) {
        Ok(x) => x,
        Err(e) => {
            ui.weights_msg.set(Some(Err(e)));
            return;
        }
    };
    let meta = weights::WeightsMeta {
        epoch,
        test_accuracy: ui.ins.eval.get_untracked().map(|e| e.result.accuracy),
        seed: session.settings.borrow().as_ref().map_or(0, |s| s.seed),
        ..Default::default()
    };
    let saved = weights::save(model(), &weights, &meta).map_err(|e| e.to_string());
    let name = name(epoch);
    match saved.and_then(|bytes| files::download(&name, &bytes).map(|()| bytes.len())) {
        Ok(len) => ui.weights_msg.set(Some(Ok(format!("Saved {name} ({}).{note}", format_bytes(len as u64))))),
        Err(e) => ui.weights_msg.set(Some(Err(format!("Could not save the weights: {e}")))),
    }
}

/// The trainer's weights read from the GPU, and the epoch they were trained to.
type GpuWeights = (Result<Weights, TrainError>, usize);

async fn read_trainer(app: AppState, trainer: &mut PageTrainer) -> GpuWeights {
    (trainer.weights().await, app.session().base_epochs.get() + trainer.clock().epoch)
}

/// Weights read from the GPU, or (after a lost device, or with no trainer) the copy the page
/// keeps for the drawing pad (refreshed every couple of seconds during training), with a
/// note saying so.
fn weights_or_kept_copy(app: AppState, from_gpu: Option<GpuWeights>) -> Result<(Weights, usize, &'static str), String> {
    let (session, ui) = (app.session(), app.ui);
    let kept = || session.weights.borrow().clone().map(|w| (w, session.base_epochs.get() + ui.chart.with_untracked(|c| c.epochs.len())));
    match from_gpu {
        Some((Ok(w), epoch)) => Ok((w, epoch, "")),
        _ => match kept() {
            Some((w, epoch)) => {
                Ok((w, epoch, " The GPU could not be read, so this is the last copy the page kept (at most a few seconds older)."))
            }
            None => Err("There is no model yet: train or load one first.".into()),
        },
    }
}

/// The current weights and their epoch (see [`weights_or_kept_copy`]).
async fn current_weights(app: AppState) -> Result<(Weights, usize, &'static str), String> {
    let mut lease = app.session().lease();
    let from_gpu = match lease.trainer.as_mut() {
        Some(trainer) => Some(read_trainer(app, trainer).await),
        None => None,
    };
    return_lease(app, lease);
    weights_or_kept_copy(app, from_gpu)
}

/// Offers the current model as an ONNX file (opset 13, evaluation mode) for other runtimes.
pub async fn save_onnx_file(app: AppState) {
    let ui = app.ui;
    let result = match current_weights(app).await {
        Ok((w, epoch, note)) => engine::onnx::export(model(), &w).and_then(|bytes| {
            let name = logic::weights_file_name(&app.session().dataset_id.borrow(), epoch).replace(".safetensors", ".onnx");
            files::download(&name, &bytes).map(|()| {
                format!(
                    "Saved {name} ({}): ONNX opset {}, input `image` N×1×28×28 (pixels / 255), output `log_probs` N×10.{note}",
                    format_bytes(bytes.len() as u64),
                    engine::onnx::OPSET
                )
            })
        }),
        Err(e) => Err(e),
    };
    ui.weights_msg.set(Some(result.map_err(|e| format!("Could not export the model: {e}"))));
}
