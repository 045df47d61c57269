//! Many steps per submission: a run submitted in chunks (split at epoch ends and before each
//! epoch's short last batch, each step's uniform copied from the step table) is bit for bit
//! the run submitted one step at a time, with the same metrics; an evaluation of more
//! batches than one submission holds matches the f64 reference.

mod common;
use common::*;
use engine::data::{self, Dataset, Verification};
use engine::model::Model;
use engine::reference::{self as r, Mode};
use engine::train::{block_on, EvalSet, StepMetrics, TrainConfig, Trainer, MAX_STEPS_PER_SUBMISSION};
use std::path::Path;

fn mnist(train: usize, test: usize) -> Dataset {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../public/data/mnist");
    let d = data::load_dir(&dir, &Verification::mnist()).unwrap();
    Dataset { train: d.train.truncated(train), test: d.test.truncated(test) }
}

fn all_metrics(t: &mut Trainer) -> Vec<StepMetrics> {
    let mut got = t.poll_metrics().unwrap();
    got.extend(block_on(t.flush_metrics()).unwrap());
    got
}

#[test]
fn steps_in_one_submission_are_the_steps_one_at_a_time() {
    let (ctx, model) = (gpu(), Model::tutorial());
    // 43 images in batches of 8: 5 full steps and a short one of 3 an epoch, shuffled per
    // epoch.
    let data = mnist(43, 8);
    let config = TrainConfig { batch: 8, seed: 3, metrics_every: 4, ..Default::default() };

    let mut single = Trainer::new(&ctx, model.clone(), &data, config.clone()).unwrap();
    let mut single_metrics = Vec::new();
    for _ in 0..12 {
        single.step().unwrap();
        single_metrics.extend(single.poll_metrics().unwrap());
    }
    single_metrics.extend(all_metrics(&mut single));

    let mut chunked = Trainer::new(&ctx, model.clone(), &data, config).unwrap();
    let mut sizes = Vec::new();
    let mut chunked_metrics = Vec::new();
    while chunked.clock().steps < 12 {
        let left = 12 - chunked.clock().steps as usize;
        sizes.push(chunked.steps(left.min(MAX_STEPS_PER_SUBMISSION)).unwrap());
        chunked_metrics.extend(chunked.poll_metrics().unwrap());
    }
    chunked_metrics.extend(all_metrics(&mut chunked));
    assert_eq!(sizes, vec![5, 1, 5, 1], "a submission ends before the epoch's short batch, which goes alone");
    assert_eq!(chunked.submissions(), 4);

    let (a, b) = (block_on(single.weights()).unwrap(), block_on(chunked.weights()).unwrap());
    assert_eq!(a, b, "parameters and running statistics differ");
    let (sa, sb) = (block_on(single.training_state()).unwrap(), block_on(chunked.training_state()).unwrap());
    assert_eq!(sa, sb, "Adam's moments or the clock differ");
    assert_eq!(single_metrics.len(), 12);
    assert_eq!(single_metrics, chunked_metrics, "every step's loss and accuracy, in order");
}

/// The tutorial network's ReLUs cost no dispatch of their own, forward or backward: the
/// first three are fused into BatchNorm (forward and backward), the last into conv4's
/// forward and the dense layer's input gradient. Each BatchNorm is two dispatches, and the
/// dense layer has none forward (the loss computes the logits).
#[test]
fn a_step_has_no_relu_dispatch_two_per_batchnorm_no_dense_forward_and_no_reduction() {
    let (ctx, model) = (gpu(), Model::tutorial());
    let t = Trainer::new(&ctx, model, &mnist(16, 8), TrainConfig { batch: 8, ..Default::default() }).unwrap();
    let kernels = t.step_kernels();
    let count = |name: &str| kernels.iter().filter(|k| **k == name).count();
    assert_eq!((count("relu"), count("relu_backward")), (0, 0), "{kernels:?}");
    assert_eq!((count("bn_backward"), count("dense_backward_input")), (3, 1));
    assert_eq!((count("dense_forward"), count("softmax_loss")), (0, 1));
    // BatchNorm's statistics and normalisation are one dispatch, and so is its backward.
    assert_eq!((count("bn_forward_train"), count("bn_apply"), count("bn_eval_stats")), (3, 0, 0));
    // Adam sums the four convolutions' partial weight gradients itself.
    assert_eq!((count("conv_params_reduce"), count("adam")), (0, 1), "{kernels:?}");
    assert_eq!(t.dispatches_per_step(), kernels.len());
}

#[test]
fn an_evaluation_longer_than_one_submission_matches_the_reference() {
    let (ctx, model) = (gpu(), Model::tutorial());
    // Batches of 1 over 300 images: 256 in the first submission, 44 in the second.
    let data = mnist(16, 300);
    let config = TrainConfig { batch: 8, eval_batch: 1, ..Default::default() };
    let mut t = Trainer::new(&ctx, model.clone(), &data, config).unwrap();
    t.step().unwrap();
    let before = t.submissions();
    let (eval, logprobs) = block_on(t.evaluate_predictions(EvalSet::Test)).unwrap();
    assert_eq!(t.submissions() - before, 300u64.div_ceil(MAX_STEPS_PER_SUBMISSION as u64));
    let w = block_on(t.weights()).unwrap();
    let images: Vec<f64> = (0..300).flat_map(|i| data.test.image_f32(i)).map(|v| v as f64).collect();
    let fwd = r::forward(&model, &f64s(&w.params), &f64s(&w.stats), &images, Mode::Eval);
    let want: Vec<f64> = fwd.logprobs().to_vec();
    assert_eq!(eval.count, 300);
    assert_close("log-probabilities of 300 images, one per batch", &f64s(&logprobs), &want, 1e-4);
    let (loss, _) = r::nll_loss(10, fwd.logprobs(), &data.test.labels);
    assert_close("evaluation loss", &[eval.loss as f64], &[loss], 1e-4);
}
