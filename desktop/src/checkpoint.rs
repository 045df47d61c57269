//! Checkpoints for `desktop train`: the weights with Adam's state in one `.safetensors`
//! (engine::weights), written every `--checkpoint-every` epochs, on Ctrl-C and by `--save`,
//! and read back by `--resume`.

use anyhow::{Context, Result};
use burn_peer::AnyTrainer;
use charts::EpochPoint;
use engine::model::Model;
use engine::train::block_on;
use engine::train::StepMetrics;
use engine::weights::{self, TrainingState, WeightsMeta};
use engine::Weights;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// A checkpoint read for `--resume`.
pub struct Resume {
    pub weights: Weights,
    pub state: TrainingState,
    pub seed: u64,
    /// The metrics so far, so the CSVs, the table and the figures cover the whole run.
    pub history: Option<History>,
}

/// Every step's metrics and every epoch's row so far, kept in the checkpoint's metadata.
#[derive(Default, serde::Serialize, serde::Deserialize)]
pub struct History {
    pub steps: Vec<StepMetrics>,
    pub rows: Vec<EpochRow>,
}

/// Per-epoch summary, as the tutorial prints it.
#[derive(Clone, Copy, serde::Serialize, serde::Deserialize)]
pub struct EpochRow {
    pub point: EpochPoint,
    pub seconds: f64,
}

const HISTORY_NOTE: &str = "desktop.history";

/// `meta` with the run's history added.
pub fn with_history(mut meta: WeightsMeta, steps: &[StepMetrics], rows: &[EpochRow]) -> WeightsMeta {
    let history = History { steps: steps.to_vec(), rows: rows.to_vec() };
    if let Ok(text) = serde_json::to_string(&history) {
        meta.notes.insert(HISTORY_NOTE.into(), text);
    }
    meta
}

/// The history in a checkpoint, if it has one that agrees with its training state.
fn read_history(meta: &WeightsMeta, state: &TrainingState, path: &Path) -> Option<History> {
    let text = meta.notes.get(HISTORY_NOTE)?;
    let history = serde_json::from_str::<History>(text).ok().filter(|h| {
        h.steps.len() as u64 == state.steps
            && h.steps.iter().enumerate().all(|(i, m)| m.step == i as u64)
            && h.rows.len() == state.epoch
            && h.rows.iter().enumerate().all(|(i, r)| r.point.epoch == i + 1)
    });
    if history.is_none() {
        eprintln!(
            "warning: the metrics history in {} is damaged or does not match its training state; the CSVs and figures will start at the resumed epoch",
            path.display()
        );
    }
    history
}

pub fn read(path: &Path, model: &Model) -> Result<Resume> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read the checkpoint {} (--resume)", path.display()))?;
    let (weights, meta, state) =
        weights::load_checkpoint(model, &bytes).with_context(|| format!("{} is not a checkpoint for this model", path.display()))?;
    let state = state.with_context(|| {
        format!(
            "{} holds weights but no training state (Adam's moments and the step), so training cannot continue exactly from it. \
Resume from a file written by `train --save`, `--checkpoint-every` or Ctrl-C.",
            path.display()
        )
    })?;
    let history = read_history(&meta, &state, path);
    Ok(Resume { weights, state, seed: meta.seed, history })
}

/// Writes the trainer's weights and training state to `path`, through a temporary file and
/// a rename, so an interruption never leaves half a checkpoint.
pub fn write(path: &Path, model: &Model, trainer: &AnyTrainer, meta: &WeightsMeta) -> Result<()> {
    let w = block_on(trainer.weights())?;
    let state = match trainer {
        AnyTrainer::Wgsl(_) => Some(block_on(trainer.training_state())?),
        // burn keeps Adam's moments inside its optimizer: plain weights.
        AnyTrainer::Burn(_) => None,
    };
    let bytes = weights::save_checkpoint(model, &w, meta, state.as_ref())?;
    let partial = path.with_extension("partial");
    std::fs::write(&partial, bytes).with_context(|| format!("cannot write {}", partial.display()))?;
    std::fs::rename(&partial, path).with_context(|| format!("cannot move {} to {}", partial.display(), path.display()))?;
    Ok(())
}

/// Set by Ctrl-C (SIGINT); training stops after the step in flight.
pub fn interrupted() -> Result<Arc<AtomicBool>> {
    let flag = Arc::new(AtomicBool::new(false));
    let set = flag.clone();
    ctrlc::set_handler(move || set.store(true, Ordering::SeqCst)).context("cannot install the Ctrl-C handler")?;
    Ok(flag)
}
