//! The independent oracle: JAX float64 results for this exact network
//! (tests/data/seed_cnn_golden.safetensors, conventions in tests/data/GOLDEN.md).
//! The f64 CPU reference must match to near machine precision; the GPU training step to the
//! float32 tolerances the golden README states (1e-5 forward, 1e-4 gradients and Adam).

mod common;
use common::*;
use engine::data::{Dataset, Split};
use engine::model::{Adam, Model};
use engine::reference::{self as r, Mode, RefTrainer};
use engine::trainer::{block_on, TrainConfig, Trainer, Weights};
use safetensors::SafeTensors;

struct Golden(Vec<u8>);

impl Golden {
    fn load() -> Self {
        Golden(std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/seed_cnn_golden.safetensors")).unwrap())
    }
    fn get(&self, name: &str) -> Vec<f64> {
        let st = SafeTensors::deserialize(&self.0).unwrap();
        let t = st.tensor(name).unwrap_or_else(|_| panic!("golden tensor {name}"));
        match t.dtype() {
            safetensors::Dtype::F64 => t.data().chunks(8).map(|b| f64::from_le_bytes(b.try_into().unwrap())).collect(),
            safetensors::Dtype::I32 => t.data().chunks(4).map(|b| i32::from_le_bytes(b.try_into().unwrap()) as f64).collect(),
            other => panic!("{name}: unexpected dtype {other:?}"),
        }
    }
    fn labels(&self, batch: usize) -> Vec<u8> {
        self.get(&format!("batch{batch}.labels")).iter().map(|&l| l as u8).collect()
    }
    /// A flat parameter vector in our layout from tensors named `{prefix}.{name}`.
    fn params(&self, model: &Model, prefix: &str) -> Vec<f64> {
        let mut flat = vec![0.0; model.param_count];
        for p in &model.params {
            let t = self.get(&format!("{prefix}.{}", p.name));
            assert_eq!(t.len(), p.len, "{}", p.name);
            flat[p.offset..p.offset + p.len].copy_from_slice(&t);
        }
        flat
    }
}

/// Conv biases feeding a BatchNorm have an exactly-zero true gradient.
fn zero_gradient(name: &str) -> bool {
    ["conv1.bias", "conv2.bias", "conv3.bias"].contains(&name)
}

/// Golden layer names against our op outputs: `activations[i + 1]` is op i's output.
const LAYERS: [(&str, usize); 14] = [
    ("conv1", 0),
    ("bn1", 1),
    ("relu1", 2),
    ("conv2", 3),
    ("bn2", 4),
    ("relu2", 5),
    ("conv3", 6),
    ("bn3", 7),
    ("relu3", 8),
    ("conv4", 9),
    ("relu4", 10),
    ("flatten", 11),
    ("logits", 12),
    ("logprobs", 13),
];

#[track_caller]
fn check_params(model: &Model, what: &str, ours: &[f64], golden: &[f64], tol: f64, zero_tol: f64) {
    for p in &model.params {
        let (a, b) = (&ours[p.offset..p.offset + p.len], &golden[p.offset..p.offset + p.len]);
        if b.iter().all(|v| v.abs() < 1e-12) {
            let worst = a.iter().fold(0f64, |m, v| m.max(v.abs()));
            assert!(worst < zero_tol, "{what} {}: expected zero, largest is {worst:e}", p.name);
        } else {
            assert_close(&format!("{what} {}", p.name), a, b, tol);
        }
    }
}

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
    for p in &model.params {
        let (a, b) = (&grads[p.offset..p.offset + p.len], &golden[p.offset..p.offset + p.len]);
        if zero_gradient(&p.name) {
            assert!(a.iter().chain(b).all(|v| v.abs() < 1e-12), "{} gradient is zero", p.name);
        } else {
            assert_close(&format!("reference grad {}", p.name), a, b, 1e-10);
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

/// The 24 golden images as a u8 dataset, in order.
fn golden_dataset(g: &Golden) -> Dataset {
    let mut images = Vec::new();
    let mut labels = Vec::new();
    for b in 0..3 {
        images.extend(g.get(&format!("batch{b}.images")).iter().map(|&v| (v * 255.0).round() as u8));
        labels.extend(g.labels(b));
    }
    let split = Split { images, labels };
    Dataset { train: split.clone(), test: split }
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
    check_params(&model, "GPU adam1", &after1, &g.params(&model, "adam1"), 1e-4, 1e-6);

    trainer.step().unwrap();
    trainer.step().unwrap();
    let after3 = f64s(&block_on(trainer.weights()).unwrap().params);
    check_params(&model, "GPU adam3", &after3, &g.params(&model, "adam3"), 1e-4, 1e-6);
    let metrics = block_on(trainer.flush_metrics()).unwrap();
    let losses: Vec<f64> = metrics.iter().map(|m| m.loss as f64).collect();
    assert_close("GPU losses before each Adam step", &losses, &g.get("adam.losses"), 1e-5);
}
