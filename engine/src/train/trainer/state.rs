//! The trainer's state in and out: weights, checkpoints' Adam moments and clock, and the
//! last step's activations and gradients.

use super::super::{StepClock, TrainError, Weights};
use super::Trainer;
use crate::model::epoch_permutation;
use crate::weights::TrainingState;

impl Trainer {
    /// Current parameters and running statistics (waits for the GPU).
    pub async fn weights(&self) -> Result<Weights, TrainError> {
        let ctx = &self.kernels.ctx;
        let mut params = ctx.read_f32(&self.shared.params).await?;
        params.truncate(self.model.param_count);
        let mut stats = ctx.read_f32(&self.shared.stats).await?;
        stats.truncate(self.model.stats_count);
        Ok(Weights { params, stats })
    }

    /// Adam's moments and where training stands, for a checkpoint (waits for the GPU).
    pub async fn training_state(&self) -> Result<TrainingState, TrainError> {
        let ctx = &self.kernels.ctx;
        let mut m = ctx.read_f32(&self.shared.m).await?;
        let mut v = ctx.read_f32(&self.shared.v).await?;
        m.truncate(self.model.param_count);
        v.truncate(self.model.param_count);
        let c = self.clock;
        let (batch, train_images, lr) = (self.config.batch, self.train_data.len, self.config.adam.lr);
        Ok(TrainingState {
            m,
            v,
            steps: c.steps,
            epoch: c.epoch,
            step_in_epoch: c.step_in_epoch,
            steps_per_epoch: c.steps_per_epoch,
            batch,
            train_images,
            lr,
        })
    }

    /// Continues a checkpointed run exactly: its weights, Adam's moments and step count, and
    /// its place in the epoch's shuffle. The settings must be the checkpoint's; if anything
    /// differs, nothing changes and the error says what.
    pub fn resume_from(&mut self, weights: &Weights, state: &TrainingState) -> Result<(), TrainError> {
        weights.check(&self.model).map_err(TrainError::Weights)?;
        let ours = (self.config.batch, self.train_data.len, self.config.adam.lr, self.clock.steps_per_epoch);
        let theirs = (state.batch, state.train_images, state.lr, state.steps_per_epoch);
        if ours != theirs || state.m.len() != self.model.param_count || state.v.len() != self.model.param_count {
            return Err(TrainError::Config(format!(
                "the checkpoint was trained with batch {}, {} training images and learning rate {}, this run has batch {}, {} images and learning rate {}: resume with the checkpoint's settings",
                theirs.0, theirs.1, theirs.2, ours.0, ours.1, ours.2
            )));
        }
        let q = &self.kernels.ctx.queue;
        q.write_buffer(&self.shared.params, 0, bytemuck::cast_slice(&weights.params));
        q.write_buffer(&self.shared.stats, 0, bytemuck::cast_slice(&weights.stats));
        q.write_buffer(&self.shared.m, 0, bytemuck::cast_slice(&state.m));
        q.write_buffer(&self.shared.v, 0, bytemuck::cast_slice(&state.v));
        self.clock = StepClock {
            steps_per_epoch: state.steps_per_epoch,
            steps: state.steps,
            epoch: state.epoch,
            step_in_epoch: state.step_in_epoch,
        };
        self.ring.start_at(state.steps);
        // Mid-epoch, the epoch's shuffle is not uploaded again at its next step.
        if self.config.shuffle && !self.clock.at_epoch_start() {
            let perm = epoch_permutation(self.train_data.len, self.config.seed, self.clock.epoch);
            q.write_buffer(&self.train_data.perm, 0, bytemuck::cast_slice(&perm));
        }
        Ok(())
    }

    /// Replaces parameters and running statistics. Checks sizes and values first, so a bad
    /// file leaves the current model untouched. Adam's moments are kept.
    pub fn set_weights(&mut self, w: &Weights) -> Result<(), TrainError> {
        w.check(&self.model).map_err(TrainError::Weights)?;
        let q = &self.kernels.ctx.queue;
        if !w.stats.is_empty() {
            q.write_buffer(&self.shared.stats, 0, bytemuck::cast_slice(&w.stats));
        }
        q.write_buffer(&self.shared.params, 0, bytemuck::cast_slice(&w.params));
        Ok(())
    }

    /// Activations of the last training step: `[input, output of op 0, ...]`, each
    /// `batch * len` floats (for tests and visualisations; waits for the GPU). An evaluation
    /// since that step overwrites them: it shares the buffers (the probe has its own).
    pub async fn read_activations(&self) -> Result<Vec<Vec<f32>>, TrainError> {
        let mut out = Vec::new();
        for b in &self.train_plan.acts {
            out.push(self.kernels.ctx.read_f32(b).await?);
        }
        Ok(out)
    }

    /// Gradients w.r.t. the flat parameters from the last training step.
    pub async fn read_grads(&self) -> Result<Vec<f32>, TrainError> {
        let mut g = self.kernels.ctx.read_f32(&self.shared.grads).await?;
        g.truncate(self.model.param_count);
        Ok(g)
    }
}
