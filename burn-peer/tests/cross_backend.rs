//! Our WGSL engine against burn: the burn model against the golden JAX
//! vectors, our logits, loss and every gradient against burn's CPU autodiff for the same
//! weights and batch, one Adam step, and ten-step loss curves on all three backends.
//!
//! Tolerances are relative errors per tensor (‖a − b‖ / ‖b‖): 1e-5 for the forward pass,
//! 1e-4 for gradients and Adam steps (float32 summation order differs), 2e-3 for the loss
//! after ten steps (the differences compound through Adam).
#[path = "../../engine/tests/common/mod.rs"]
mod common;
use burn_peer::{burn_device, read, AnyTrainer, BurnDevice, BurnModel, BurnTrainer};
use common::golden::*;
use common::*;
use engine::data::{self, Dataset, Verification};
use engine::model::{Adam, Model};
use engine::train::{block_on, EvalSet, StepMetrics, TrainConfig, Trainer, Weights};
use engine::BackendKind;
use std::path::Path;

fn mnist_subset(train: usize, test: usize) -> Dataset {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../public/data/mnist");
    let d = data::load_dir(&dir, &Verification::mnist()).unwrap();
    Dataset { train: d.train.truncated(train), test: d.test.truncated(test) }
}

fn burn_cpu(model: &Model, w: &Weights) -> BurnModel {
    BurnModel::new(model.clone(), BurnDevice::Cpu.open().unwrap(), w, &Adam::default()).unwrap()
}

#[test]
fn burn_model_matches_golden_forward_loss_and_gradients() {
    let g = Golden::load();
    let model = Model::tutorial();
    let w = Weights { params: f32s(&g.params(&model, "param")), stats: model.init_stats() };
    let net = burn_cpu(&model, &w);
    let images = f32s(&g.get("batch0.images"));
    let f = net.forward(net.images(images.clone()), true);
    for (name, op) in LAYERS {
        let ours = f64s(&block_on(read(f.outputs[op].clone())).unwrap());
        assert_close(&format!("burn fwd.{name}"), &ours, &g.get(&format!("fwd.{name}")), 1e-5);
    }
    let (loss, grads) = block_on(net.gradients(net.images(images), &g.labels(0))).unwrap();
    assert_close("burn loss", &[loss as f64], &g.get("loss"), 1e-5);
    check_params(&model, "burn grad", &f64s(&grads), &g.params(&model, "grad"), 1e-4, 1e-6);
}

#[test]
fn burn_adam_steps_match_golden() {
    let g = Golden::load();
    let model = Model::tutorial();
    let config = TrainConfig { batch: 8, shuffle: false, ..Default::default() };
    let mut t = BurnTrainer::new(BurnDevice::Cpu, model.clone(), &golden_dataset(&g), config).unwrap();
    t.net.set_weights(&Weights { params: f32s(&g.params(&model, "param")), stats: model.init_stats() }).unwrap();
    t.step().unwrap();
    let after1 = f64s(&block_on(t.net.weights()).unwrap().params);
    let (tensors, start) = (param_tensors(&model), g.params(&model, "param"));
    check_updates(&tensors, "burn adam1", &start, &after1, &g.params(&model, "adam1"), UPDATE_TOL, 1e-3);
    t.step().unwrap();
    t.step().unwrap();
    let after3 = f64s(&block_on(t.net.weights()).unwrap().params);
    check_updates(&tensors, "burn adam3", &start, &after3, &g.params(&model, "adam3"), UPDATE_TOL, 3e-3);
    let losses: Vec<f64> = block_on(t.flush_metrics()).unwrap().iter().map(|m| m.loss as f64).collect();
    assert_close("burn losses before each Adam step", &losses, &g.get("adam.losses"), 1e-5);
}

/// One step of ours and of burn's CPU backend from the same seeded weights on the same
/// batch (odd size 13): logits, log-probabilities, loss, every gradient, the Adam update and
/// the running statistics.
#[test]
fn wgsl_matches_burn_cpu_on_one_step() {
    let ctx = gpu();
    let data = mnist_subset(13, 10);
    let model = Model::tutorial();
    let config = TrainConfig { batch: 13, shuffle: false, ..Default::default() };
    let mut ours = Trainer::new(&ctx, model.clone(), &data, config.clone()).unwrap();
    let start = block_on(ours.weights()).unwrap();
    ours.step().unwrap();
    let acts: Vec<Vec<f64>> = block_on(ours.read_activations()).unwrap().iter().map(|a| f64s(a)).collect();
    let our_grads = f64s(&block_on(ours.read_grads()).unwrap());
    let our_loss = block_on(ours.flush_metrics()).unwrap()[0].loss;
    let ours_after = block_on(ours.weights()).unwrap();

    let mut burn = BurnTrainer::new(BurnDevice::Cpu, model.clone(), &data, config).unwrap();
    assert_eq!(block_on(burn.net.weights()).unwrap(), start, "both start from the same flat parameters");
    let pixels: Vec<f32> = (0..13).flat_map(|i| data.train.image_f32(i)).collect();
    let f = burn.net.forward(burn.net.images(pixels.clone()), true);
    let (logits_op, logprobs_op) = (model.ops.len() - 2, model.ops.len() - 1);
    for (what, op) in [("logits", logits_op), ("log-probabilities", logprobs_op)] {
        let theirs = f64s(&block_on(read(f.outputs[op].clone())).unwrap());
        assert_close(&format!("wgsl vs burn-cpu {what}"), &acts[op + 1], &theirs, 1e-5);
    }
    let (burn_loss, burn_grads) = block_on(burn.net.gradients(burn.net.images(pixels), &data.train.labels[..13])).unwrap();
    assert_close("wgsl vs burn-cpu loss", &[our_loss as f64], &[burn_loss as f64], 1e-5);
    check_params(&model, "wgsl vs burn-cpu gradient", &our_grads, &f64s(&burn_grads), 1e-4, 1e-12);

    burn.step().unwrap();
    let burn_after = block_on(burn.net.weights()).unwrap();
    let tensors = param_tensors(&model);
    let (before, ours_p, burn_p) = (f64s(&start.params), f64s(&ours_after.params), f64s(&burn_after.params));
    check_updates(&tensors, "wgsl vs burn-cpu after one Adam step", &before, &ours_p, &burn_p, 1e-5, 1e-3);
    let (before, ours_s, burn_s) = (f64s(&start.stats), f64s(&ours_after.stats), f64s(&burn_after.stats));
    check_updates(&stats_tensors(&model), "wgsl vs burn-cpu running statistics", &before, &ours_s, &burn_s, 1e-5, 1e-3);
}

fn ten_losses(mut t: AnyTrainer) -> Vec<f64> {
    let mut metrics: Vec<StepMetrics> = Vec::new();
    for _ in 0..10 {
        t.step().unwrap();
        metrics.extend(t.poll_metrics().unwrap());
    }
    metrics.extend(block_on(t.flush_metrics()).unwrap());
    assert_eq!(metrics.iter().map(|m| m.step).collect::<Vec<_>>(), (0..10).collect::<Vec<_>>());
    metrics.iter().map(|m| m.loss as f64).collect()
}

/// Ten steps on a fixed batch sequence (shuffled by the shared seeded permutation): 76
/// images make an epoch of nine batches of 8 and a short one of 4, its tenth step. The loss
/// curves agree on all three backends, and they go down.
#[test]
fn ten_step_loss_curves_agree_across_backends() {
    let data = mnist_subset(76, 10);
    let model = Model::tutorial();
    let config = TrainConfig { batch: 8, seed: 7, ..Default::default() };
    let ours = ten_losses(AnyTrainer::Wgsl(Box::new(Trainer::new(&gpu(), model.clone(), &data, config.clone()).unwrap())));
    for kind in [BackendKind::BurnCpu, BackendKind::BurnWgpu] {
        let t = BurnTrainer::new(burn_device(kind).unwrap(), model.clone(), &data, config.clone()).unwrap();
        let theirs = ten_losses(AnyTrainer::Burn(Box::new(t)));
        eprintln!("wgsl:  {ours:.4?}\n{kind}: {theirs:.4?}");
        assert_close(&format!("ten-step losses, wgsl vs {kind}"), &ours, &theirs, 2e-3);
    }
    let (first, last) = (ours[..3].iter().sum::<f64>(), ours[7..].iter().sum::<f64>());
    assert!(last < first, "the loss goes down over ten steps: {ours:?}");
}

/// Bad weights are refused by burn as by ours, and leave the model as it was.
#[test]
fn burn_refuses_bad_weights_and_keeps_its_own() {
    let model = Model::tutorial();
    let w = Weights { params: model.init_params(3), stats: model.init_stats() };
    let mut net = burn_cpu(&model, &w);
    let short = Weights { params: w.params[1..].to_vec(), stats: w.stats.clone() };
    let mut nan = w.clone();
    nan.params[5] = f32::NAN;
    for bad in [short, nan] {
        assert!(net.set_weights(&bad).is_err());
        assert_eq!(block_on(net.weights()).unwrap(), w);
    }
}

/// Test-set predictions (for the confusion matrix and gallery) agree between ours and burn's
/// CPU backend given the same weights; the set has an odd size and a short last batch.
#[test]
fn evaluation_predictions_agree_with_burn_cpu() {
    let data = mnist_subset(16, 37);
    let model = Model::tutorial();
    let config = TrainConfig { batch: 8, eval_batch: 16, ..Default::default() };
    let mut ours = Trainer::new(&gpu(), model.clone(), &data, config.clone()).unwrap();
    ours.step().unwrap();
    ours.step().unwrap();
    let w = block_on(ours.weights()).unwrap();
    let mut burn = BurnTrainer::new(BurnDevice::Cpu, model.clone(), &data, config).unwrap();
    burn.net.set_weights(&w).unwrap();
    let (our_eval, our_lp) = block_on(ours.evaluate_predictions(EvalSet::Test)).unwrap();
    let (burn_eval, burn_lp) = block_on(burn.evaluate_predictions(EvalSet::Test)).unwrap();
    assert_eq!(burn_lp.len(), 37 * 10);
    assert_close("wgsl vs burn-cpu test log-probabilities", &f64s(&our_lp), &f64s(&burn_lp), 1e-4);
    assert!((our_eval.accuracy - burn_eval.accuracy).abs() < 1e-6);
}
