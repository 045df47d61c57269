//! Trains with burn on the same schedule as ours: the same shuffle, batches, step clock and
//! metrics, so that losses can be compared step by step.

use crate::model::{read, BurnDevice, BurnModel};
use burn::tensor::{Device, Tensor};
use engine::data::{Dataset, Split};
use engine::model::{epoch_permutation, Model};
use engine::train::{EvalResult, EvalSet, StepClock, StepMetrics, TrainConfig, TrainError, Weights};

/// Pixels of `examples` (`pixels` each) as floats in [0, 1], in order.
fn gather(split: &Split, pixels_per_image: usize, examples: impl Iterator<Item = usize>) -> (Vec<f32>, Vec<u8>) {
    let mut pixels = Vec::new();
    let mut labels = Vec::new();
    for e in examples {
        pixels.extend(split.images[e * pixels_per_image..(e + 1) * pixels_per_image].iter().map(|&p| p as f32 / 255.0));
        labels.push(split.labels[e]);
    }
    (pixels, labels)
}

/// Trains with burn: the same schedule, shuffle and metrics as [`engine::train::Trainer`].
pub struct BurnTrainer {
    pub config: TrainConfig,
    pub net: BurnModel,
    backend: BurnDevice,
    train: Split,
    test: Split,
    perm: Vec<u32>,
    clock: StepClock,
    /// Steps (number, batch size) whose loss and correct count are still on the device.
    pending: Vec<(u64, usize, Tensor<1>, Tensor<1>)>,
    /// Metrics read back but not yet returned by `poll_metrics`.
    ready: Vec<StepMetrics>,
}

impl BurnTrainer {
    pub fn new(backend: BurnDevice, model: Model, data: &Dataset, config: TrainConfig) -> Result<Self, TrainError> {
        config.validate(data.train.len())?;
        Self::on_device(backend, backend.open()?, model, data, config)
    }

    /// As [`BurnTrainer::new`], opening the device asynchronously (burn-wgpu in a browser).
    pub async fn new_async(backend: BurnDevice, model: Model, data: &Dataset, config: TrainConfig) -> Result<Self, TrainError> {
        config.validate(data.train.len())?;
        Self::on_device(backend, backend.open_async().await?, model, data, config)
    }

    fn on_device(backend: BurnDevice, device: Device, model: Model, data: &Dataset, config: TrainConfig) -> Result<Self, TrainError> {
        let weights = Weights::initial(&model, config.seed);
        let net = BurnModel::new(model, device, &weights, &config.adam)?;
        Ok(BurnTrainer {
            perm: (0..data.train.len() as u32).collect(),
            net,
            backend,
            train: data.train.clone(),
            test: data.test.clone(),
            clock: StepClock::for_epochs(data.train.len(), config.batch),
            config,
            pending: Vec::new(),
            ready: Vec::new(),
        })
    }

    pub fn backend(&self) -> BurnDevice {
        self.backend
    }
    /// Steps done and where they fall in epochs.
    pub fn clock(&self) -> StepClock {
        self.clock
    }

    /// Runs one training step. Reads metrics back (a device sync) only every
    /// `metrics_every` steps and at the end of an epoch.
    pub fn step(&mut self) -> Result<(), TrainError> {
        if self.clock.at_epoch_start() && self.config.shuffle {
            self.perm = epoch_permutation(self.train.len(), self.config.seed, self.clock.epoch);
        }
        let batch = self.clock.batch_range(self.config.batch, self.train.len());
        let examples = self.perm[batch].iter().map(|&e| e as usize);
        let (pixels, labels) = gather(&self.train, self.net.model.input_len(), examples);
        let images = self.net.images(pixels);
        let (loss, correct) = self.net.train_step(images, &labels, self.config.adam.lr);
        self.pending.push((self.clock.steps, labels.len(), loss, correct));
        self.clock.advance();
        // In a browser the caller awaits `flush_metrics` instead (read-backs are async there).
        #[cfg(not(target_arch = "wasm32"))]
        if self.pending.len() >= self.config.metrics_every || self.clock.at_epoch_start() {
            let read = engine::train::block_on(self.read_pending())?;
            self.ready.extend(read);
        }
        Ok(())
    }

    /// Reads back the loss and accuracy of every pending step in one transfer.
    async fn read_pending(&mut self) -> Result<Vec<StepMetrics>, TrainError> {
        if self.pending.is_empty() {
            return Ok(Vec::new());
        }
        let pending = std::mem::take(&mut self.pending);
        let values: Vec<Tensor<1>> = pending.iter().flat_map(|(_, _, l, c)| [l.clone(), c.clone()]).collect();
        let values = read(Tensor::cat(values, 0)).await?;
        let mut out = Vec::with_capacity(pending.len());
        for ((step, batch, _, _), pair) in pending.iter().zip(values.chunks(2)) {
            if !pair[0].is_finite() {
                return Err(TrainError::NonFiniteLoss { step: *step, loss: pair[0] });
            }
            out.push(StepMetrics { step: *step, loss: pair[0], accuracy: pair[1] / *batch as f32 });
        }
        Ok(out)
    }

    /// Metrics read back so far, oldest first (never waits).
    pub fn poll_metrics(&mut self) -> Result<Vec<StepMetrics>, TrainError> {
        Ok(std::mem::take(&mut self.ready))
    }

    /// Every outstanding metric, waiting for the device.
    pub async fn flush_metrics(&mut self) -> Result<Vec<StepMetrics>, TrainError> {
        let mut out = std::mem::take(&mut self.ready);
        out.extend(self.read_pending().await?);
        Ok(out)
    }

    /// Loss and accuracy over a split, BatchNorm in evaluation mode.
    pub async fn evaluate(&mut self, set: EvalSet) -> Result<EvalResult, TrainError> {
        Ok(self.run_evaluation(set, false).await?.0)
    }

    /// Like [`BurnTrainer::evaluate`], and also every example's log-probabilities.
    pub async fn evaluate_predictions(&mut self, set: EvalSet) -> Result<(EvalResult, Vec<f32>), TrainError> {
        self.run_evaluation(set, true).await
    }

    async fn run_evaluation(&mut self, set: EvalSet, keep_logprobs: bool) -> Result<(EvalResult, Vec<f32>), TrainError> {
        let split = match set {
            EvalSet::Train => &self.train,
            EvalSet::Test => &self.test,
        };
        let (mut loss_sum, mut correct) = (0f64, 0f64);
        let mut logprobs = Vec::new();
        for start in (0..split.len()).step_by(self.config.eval_batch) {
            let end = (start + self.config.eval_batch).min(split.len());
            let (pixels, labels) = gather(split, self.net.model.input_len(), start..end);
            let f = self.net.forward(self.net.images(pixels), false);
            if keep_logprobs {
                logprobs.extend(read(f.logprobs.clone().inner()).await?);
            }
            let (loss, right) = self.net.loss_and_correct(f.logprobs, &labels);
            let v = read(Tensor::cat(vec![loss.inner(), right], 0)).await?;
            loss_sum += v[0] as f64 * labels.len() as f64;
            correct += v[1] as f64;
        }
        let count = split.len();
        Ok((EvalResult { loss: (loss_sum / count as f64) as f32, accuracy: (correct / count as f64) as f32, count }, logprobs))
    }
}
