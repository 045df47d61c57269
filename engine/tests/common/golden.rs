//! The golden JAX vectors (tests/data/seed_cnn_golden.safetensors, conventions in
//! tests/data/GOLDEN.md) and helpers to compare against them.

use super::assert_close;
use engine::data::{Dataset, Split};
use engine::model::Model;
use safetensors::SafeTensors;

pub struct Golden(Vec<u8>);

impl Golden {
    pub fn load() -> Self {
        Golden(std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../engine/tests/data/seed_cnn_golden.safetensors")).unwrap())
    }
    pub fn get(&self, name: &str) -> Vec<f64> {
        let st = SafeTensors::deserialize(&self.0).unwrap();
        let t = st.tensor(name).unwrap_or_else(|_| panic!("golden tensor {name}"));
        match t.dtype() {
            safetensors::Dtype::F64 => t.data().chunks(8).map(|b| f64::from_le_bytes(b.try_into().unwrap())).collect(),
            safetensors::Dtype::I32 => t.data().chunks(4).map(|b| i32::from_le_bytes(b.try_into().unwrap()) as f64).collect(),
            other => panic!("{name}: unexpected dtype {other:?}"),
        }
    }
    pub fn labels(&self, batch: usize) -> Vec<u8> {
        self.get(&format!("batch{batch}.labels")).iter().map(|&l| l as u8).collect()
    }
    /// A flat parameter vector in our layout from tensors named `{prefix}.{name}`.
    pub fn params(&self, model: &Model, prefix: &str) -> Vec<f64> {
        let mut flat = vec![0.0; model.param_count];
        for p in &model.params {
            let t = self.get(&format!("{prefix}.{}", p.name));
            assert_eq!(t.len(), p.len, "{}", p.name);
            flat[p.offset..p.offset + p.len].copy_from_slice(&t);
        }
        flat
    }
}

/// Golden layer names against our op outputs: `activations[i + 1]` is op i's output.
pub const LAYERS: [(&str, usize); 14] = [
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
pub fn check_params(model: &Model, what: &str, ours: &[f64], golden: &[f64], tol: f64, zero_tol: f64) {
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

/// An f32 step against an f64 one, per tensor, relative to the update (measured: at most
/// 3.8e-5 on lavapipe and burn's CPU backend).
pub const UPDATE_TOL: f64 = 2e-4;

#[allow(unused_imports)]
pub use engine::train::replay::{param_tensors, stats_tensors};

/// Compares what optimizer steps changed, tensor by tensor, relative to the reference's
/// change (a step moves BatchNorm's gamma by about 1e-3 of its value, which an error
/// relative to the values themselves would hide); zero-gradient conv biases may move by at
/// most `noise_step` (see `TensorCheck`). Returns the worst error.
#[track_caller]
pub fn check_updates(
    tensors: &[(String, usize, usize, bool)],
    what: &str,
    before: &[f64],
    ours: &[f64],
    reference: &[f64],
    tol: f64,
    noise_step: f64,
) -> f64 {
    let checks = engine::train::replay::compare_updates(tensors, before, ours, reference);
    for c in &checks {
        assert!(c.passes(tol, noise_step), "{what} {}: {c:?} (tolerance {tol:e}, noise step {noise_step:e})", c.name);
    }
    let worst = checks.iter().filter(|c| !c.zero_gradient).fold(0f64, |m, c| m.max(c.error));
    eprintln!("{what}: worst per-tensor error relative to the update {worst:e} (tolerance {tol:e})");
    worst
}

/// The 24 golden images as a u8 dataset, in order.
pub fn golden_dataset(g: &Golden) -> Dataset {
    let mut images = Vec::new();
    let mut labels = Vec::new();
    for b in 0..3 {
        images.extend(g.get(&format!("batch{b}.images")).iter().map(|&v| (v * 255.0).round() as u8));
        labels.extend(g.labels(b));
    }
    let split = Split { images, labels };
    Dataset { train: split.clone(), test: split }
}
