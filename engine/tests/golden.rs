//! The independent oracle: JAX float64 results for this exact network
//! (tests/data/seed_cnn_golden.safetensors, conventions in tests/data/GOLDEN.md).
//! The f64 CPU reference must match to near machine precision; the GPU training step to the
//! float32 tolerances the golden README states (1e-5 forward, 1e-4 gradients and Adam).

mod common;
use common::golden::*;
use common::*;
use engine::model::{Adam, Model};
use engine::reference::{self as r, Mode, RefTrainer};
use engine::train::{block_on, TrainConfig, Trainer, Weights};

#[test]
fn reference_forward_matches_golden_every_layer() {
    let g = Golden::load();
    let model = Model::tutorial();
    let params = g.params(&model, "param");
    let fwd = r::forward(&model, &params, &[], &g.get("batch0.images"), Mode::Train);
    for (name, op) in LAYERS {
        assert_close(&format!("reference fwd.{name}"), &fwd.activations[op + 1], &g.get(&format!("fwd.{name}")), 1e-10);
    }
}

#[test]
fn reference_loss_and_gradients_match_golden() {
    let g = Golden::load();
    let model = Model::tutorial();
    let params = g.params(&model, "param");
    let (loss, grads, _) = r::loss_and_grads(&model, &params, &g.get("batch0.images"), &g.labels(0));
    assert_close("reference loss", &[loss], &g.get("loss"), 1e-12);
    let golden = g.params(&model, "grad");
    for (name, offset, len, zero_gradient) in param_tensors(&model) {
        let (a, b) = (&grads[offset..offset + len], &golden[offset..offset + len]);
        if zero_gradient {
            assert!(a.iter().chain(b).all(|v| v.abs() < 1e-12), "{name} gradient is zero");
        } else {
            assert_close(&format!("reference grad {name}"), a, b, 1e-10);
        }
    }
}

#[test]
fn reference_adam_steps_match_golden() {
    let g = Golden::load();
    let model = Model::tutorial();
    let mut t = RefTrainer::new(model.clone(), g.params(&model, "param"), Adam::default());
    let losses = g.get("adam.losses");
    for (step, &golden_loss) in losses.iter().enumerate() {
        let loss = t.step(&g.get(&format!("batch{step}.images")), &g.labels(step));
        assert_close(&format!("reference loss before step {}", step + 1), &[loss], &[golden_loss], 1e-8);
        check_params(
            &model,
            &format!("reference adam{}", step + 1),
            &t.params,
            &g.params(&model, &format!("adam{}", step + 1)),
            1e-8,
            1e-12,
        );
    }
}

#[test]
fn gpu_training_step_matches_golden() {
    let ctx = gpu();
    let g = Golden::load();
    let model = Model::tutorial();
    let config = TrainConfig { batch: 8, shuffle: false, ..Default::default() };
    let mut trainer = Trainer::new(&ctx, model.clone(), &golden_dataset(&g), config).unwrap();
    trainer.set_weights(&Weights { params: f32s(&g.params(&model, "param")), stats: model.init_stats() }).unwrap();
    trainer.step().unwrap();

    // Forward: BatchNorm is fused with its ReLU on the GPU, so bn1..3 are checked through relu1..3.
    let acts: Vec<Vec<f64>> = block_on(trainer.read_activations()).unwrap().iter().map(|a| f64s(a)).collect();
    for (name, op) in LAYERS {
        if name.starts_with("bn") || name == "conv4" {
            continue;
        }
        assert_close(&format!("GPU fwd.{name}"), &acts[op + 1], &g.get(&format!("fwd.{name}")), 1e-5);
    }
    let grads = f64s(&block_on(trainer.read_grads()).unwrap());
    check_params(&model, "GPU grad", &grads, &g.params(&model, "grad"), 1e-4, 1e-6);
    let after1 = f64s(&block_on(trainer.weights()).unwrap().params);
    let (tensors, start) = (param_tensors(&model), g.params(&model, "param"));
    check_updates(&tensors, "GPU adam1", &start, &after1, &g.params(&model, "adam1"), UPDATE_TOL, 1e-3);

    trainer.step().unwrap();
    trainer.step().unwrap();
    let after3 = f64s(&block_on(trainer.weights()).unwrap().params);
    check_updates(&tensors, "GPU adam3", &start, &after3, &g.params(&model, "adam3"), UPDATE_TOL, 3e-3);
    let metrics = block_on(trainer.flush_metrics()).unwrap();
    let losses: Vec<f64> = metrics.iter().map(|m| m.loss as f64).collect();
    assert_close("GPU losses before each Adam step", &losses, &g.get("adam.losses"), 1e-5);
}
