//! Checkpoints for `desktop train`: the weights with Adam's state in one `.safetensors`
//! (engine::weights), written every `--checkpoint-every` epochs, on Ctrl-C and by `--save`,
//! and read back by `--resume`.

use anyhow::{Context, Result};
use burn_peer::AnyTrainer;
use engine::model::Model;
use engine::train::block_on;
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
    Ok(Resume { weights, state, seed: meta.seed })
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
