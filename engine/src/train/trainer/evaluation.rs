//! Evaluation: whole splits in chunks of batches per submission, and the batch-1 probe.

use super::super::plan::{build_plan, identity_permutation, padded_u8, upload_split, PlanSpec};
use super::super::submit::MAX_STEPS_PER_SUBMISSION;
use super::super::{EvalResult, EvalSet, TrainError};
use super::Trainer;
use crate::data::Split;
use crate::gpu::gather::ResidentSplit;
use crate::gpu::Step;

impl Trainer {
    /// Loss and accuracy over a split (BatchNorm in evaluation mode). Waits for the GPU.
    pub async fn evaluate(&mut self, set: EvalSet) -> Result<EvalResult, TrainError> {
        Ok(self.run_evaluation(set, false).await?.0)
    }

    /// Like [`Trainer::evaluate`], and also every example's log-probabilities
    /// (`count * classes` floats, in split order), for confusion matrices and galleries.
    pub async fn evaluate_predictions(&mut self, set: EvalSet) -> Result<(EvalResult, Vec<f32>), TrainError> {
        self.run_evaluation(set, true).await
    }

    async fn run_evaluation(&mut self, set: EvalSet, keep_logprobs: bool) -> Result<(EvalResult, Vec<f32>), TrainError> {
        self.ensure_eval_plan(set);
        let ctx = self.kernels.ctx.clone();
        let len = self.eval_data[&set].len;
        let plan = &self.eval_plans[&set];
        let eval_batch = plan.n;
        let classes = self.model.classes;
        let logprobs_out = plan.acts.last().expect("a model has layers");
        // Each batch's log-probabilities are copied out before the next batch overwrites them.
        let kept = keep_logprobs.then(|| ctx.zeroed_buffer("evaluation log-probabilities", len * classes));
        let mut encoder = ctx.device.create_command_encoder(&Default::default());
        encoder.clear_buffer(&self.shared.eval_metrics, 0, None);
        ctx.queue.submit([encoder.finish()]);
        // Every batch adds into metrics slot 0; up to MAX_STEPS_PER_SUBMISSION batches per
        // submission.
        let batches: Vec<Step> = (0..len)
            .step_by(eval_batch)
            .map(|start| self.step_uniform(self.clock.steps + 1, start, eval_batch.min(len - start), 0, true))
            .collect();
        for chunk in batches.chunks(MAX_STEPS_PER_SUBMISSION) {
            let mut encoder = ctx.device.create_command_encoder(&Default::default());
            self.table.encode(&ctx, &mut encoder, chunk, &self.shared.step, &[&plan.forward], |encoder, k| {
                if let Some(kept) = &kept {
                    let (start, valid) = (chunk[k].start as usize, chunk[k].valid as usize);
                    let bytes = |n: usize| (n * classes * 4) as u64;
                    encoder.copy_buffer_to_buffer(logprobs_out, 0, kept, bytes(start), bytes(valid));
                }
            });
            ctx.queue.submit([encoder.finish()]);
            self.submissions += 1;
        }
        let sums = ctx.read_f32(&self.shared.eval_metrics).await?;
        let logprobs = match &kept {
            Some(kept) => {
                let mut v = ctx.read_f32(kept).await?;
                v.truncate(len * classes);
                v
            }
            None => Vec::new(),
        };
        self.check_fault()?;
        Ok((EvalResult { loss: sums[0] / sums[2], accuracy: sums[1] / sums[2], count: sums[2] as usize }, logprobs))
    }

    /// Every activation of one image in evaluation mode (running BatchNorm statistics):
    /// `[input, output of op 0, ...]`, for visualisations and the drawing pad (an op
    /// followed by a ReLU is fused with it, so its output is already rectified). `image` is
    /// 784 pixels, 0–255. Waits for the GPU; a small plan of batch 1 is built once.
    pub async fn probe(&mut self, image: &[u8]) -> Result<Vec<Vec<f32>>, TrainError> {
        self.run_probe(image)?;
        let plan = &self.probe.as_ref().expect("run_probe built it").1;
        let mut out = Vec::with_capacity(plan.acts.len());
        for (buffer, len) in plan.acts.iter().zip(self.model.activation_lens()) {
            let mut v = self.kernels.ctx.read_f32(buffer).await?;
            v.truncate(len);
            out.push(v);
        }
        self.check_fault()?;
        Ok(out)
    }

    /// One image's log-probabilities through the same batch-1 plan as [`Trainer::probe`],
    /// reading back only those.
    pub async fn classify(&mut self, image: &[u8]) -> Result<Vec<f32>, TrainError> {
        self.run_probe(image)?;
        let plan = &self.probe.as_ref().expect("run_probe built it").1;
        let mut v = self.kernels.ctx.read_f32(plan.acts.last().expect("a model has layers")).await?;
        v.truncate(self.model.classes);
        self.check_fault()?;
        Ok(v)
    }

    /// Submits the batch-1 evaluation of `image` (building its plan on first use).
    fn run_probe(&mut self, image: &[u8]) -> Result<(), TrainError> {
        if image.len() != self.model.input_len() {
            return Err(TrainError::Config(format!("an image has {} pixels, the model takes {}", image.len(), self.model.input_len())));
        }
        self.check_fault()?;
        let ctx = self.kernels.ctx.clone();
        if self.probe.is_none() {
            let one = Split { images: image.to_vec(), labels: vec![0] };
            let data = upload_split(&ctx, "probe", &one);
            let metrics = ctx.zeroed_buffer("probe metrics", 4);
            // Its own activations (small): each probe reads all of them back.
            let spec = PlanSpec {
                model: &self.model,
                adam: &self.config.adam,
                data: &data,
                metrics: &metrics,
                n: 1,
                train: false,
                share_with: None,
            };
            let plan = build_plan(&self.kernels, &self.shared, &spec);
            self.probe = Some((data, plan));
        }
        self.write_step(0, 1, 0, true);
        let (data, plan) = self.probe.as_ref().expect("built above");
        ctx.queue.write_buffer(&data.pixels, 0, &padded_u8(image));
        ctx.queue.submit([plan.forward_encoder(&ctx).finish()]);
        Ok(())
    }

    fn ensure_eval_plan(&mut self, set: EvalSet) {
        if self.eval_plans.contains_key(&set) {
            return;
        }
        let ctx = self.kernels.ctx.clone();
        // The training pixels are already on the GPU: reuse them with an identity permutation.
        let data = match set {
            EvalSet::Test => upload_split(&ctx, "test", &self.test_split),
            EvalSet::Train => ResidentSplit {
                perm: identity_permutation(&ctx, "train identity permutation", self.train_data.len),
                ..self.train_data.clone()
            },
        };
        let n = self.config.eval_batch.min(data.len.max(1));
        let spec = PlanSpec {
            model: &self.model,
            adam: &self.config.adam,
            data: &data,
            metrics: &self.shared.eval_metrics,
            n,
            train: false,
            share_with: Some(&self.train_plan),
        };
        let plan = build_plan(&self.kernels, &self.shared, &spec);
        self.eval_data.insert(set, data);
        self.eval_plans.insert(set, plan);
    }
}
