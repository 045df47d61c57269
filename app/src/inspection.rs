//! The inspection refresh: the current weights (for the filters and the CPU fallback) and,
//! if an image is being looked at, its probabilities and activations, on the GPU through
//! our kernels when ours holds the model, otherwise with the engine's CPU forward pass.
//! Also where a finished evaluation goes (the gallery and the confusion matrix).

use crate::page_trainer::PageTrainer;
use crate::state::AppState;
use crate::views::inspection::TestPredictions;
use engine::train::{EvalResult, TrainError};
use engine::{inspect, Weights};
use leptos::prelude::*;
use leptos::task::spawn_local;
use std::sync::Arc;

pub async fn refresh_inspection(app: AppState, mut trainer: Option<&mut PageTrainer>) -> Result<(), TrainError> {
    let (session, ui) = (app.session(), app.ui);
    let model = crate::state::model();
    if let Some(t) = trainer.as_deref_mut() {
        let w = t.weights().await?;
        *session.weights.borrow_mut() = Some(w);
    }
    let trained = session.weights.borrow().is_some();
    // Until a model is trained or loaded, the pad reads with seed 0's untrained weights.
    let weights = session.weights.borrow().clone().unwrap_or_else(|| Weights::initial(model, 0));
    if trained {
        if let Some(f) = inspect::first_conv_filters(model, &weights.params) {
            ui.ins.filters.set(Some(Arc::new(f)));
        }
    }
    let probe = session.probe_image.borrow().clone();
    if let Some((image, source)) = probe {
        let (acts, engine) = match trainer {
            Some(PageTrainer::Gpu(t)) => (t.probe(&image).await?, "GPU (our WGSL kernels)"),
            _ if trained => (inspect::cpu_activations(model, &weights, &image), "CPU (the engine's reference forward pass)"),
            _ => (inspect::cpu_activations(model, &weights, &image), "CPU, with an untrained model: train or load weights first"),
        };
        ui.ins.probe_probs.set(Some(inspect::probabilities(acts.last().expect("a model has layers"))));
        ui.ins.activations.set(Some(Arc::new(acts)));
        ui.ins.probe_input.set(Some(Arc::new(image)));
        ui.ins.probe_source.set(source);
        ui.ins.probe_engine.set(engine);
    }
    Ok(())
}

/// Asks for an inspection: the training loop serves it at its next tick; otherwise it runs
/// now, with the trainer (if any) leased from the session meanwhile.
pub fn request_inspection(app: AppState) {
    let session = app.session();
    session.inspect_due.set(true);
    if session.running.get() || session.inspecting.replace(true) {
        return;
    }
    spawn_local(async move {
        while session.inspect_due.replace(false) && !session.running.get() {
            let mut lease = session.lease();
            let result = refresh_inspection(app, lease.trainer.as_mut()).await;
            crate::run_loop::return_lease(app, lease);
            if let Err(e) = result {
                app.ui.weights_msg.set(Some(Err(format!("Could not look inside the model: {e}"))));
            }
        }
        session.inspecting.set(false);
    });
}

/// Publishes an evaluation to the gallery and the confusion matrix.
pub fn publish_evaluation(app: AppState, result: EvalResult, logprobs: Vec<f32>, epoch: usize) {
    let Some(test) = app.session().test_split.borrow().clone() else { return };
    if let Some(predictions) = TestPredictions::new(result, logprobs, test, epoch) {
        app.ui.ins.eval.set(Some(Arc::new(predictions)));
    }
}
