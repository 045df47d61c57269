//! The ONNX export, read by a real ONNX runtime (tract): on 100 MNIST test images its
//! log-probabilities equal the f64 reference's in evaluation mode within 1e-4, with
//! BatchNorm parameters and running statistics away from their defaults so that every
//! tensor matters. A weight set the model cannot use is refused before anything is written.

use engine::data::{self, Verification};
use engine::model::Model;
use engine::{inspect, onnx, Weights};
use std::path::Path;
use tract_onnx::prelude::*;

/// Seeded weights with every BatchNorm tensor moved off 1 and 0.
fn weights(model: &Model) -> Weights {
    let mut w = Weights::initial(model, 11);
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f32 / (1u64 << 53) as f32
    };
    for p in model.params.iter().filter(|p| p.name.starts_with("bn")) {
        for v in &mut w.params[p.offset..p.offset + p.len] {
            *v += next() - 0.5;
        }
    }
    // Running statistics: means around 0, variances between 0.5 and 1.5.
    for op in &model.ops {
        if let engine::model::Op::BatchNorm { shape, stats, .. } = *op {
            for c in 0..shape.c {
                w.stats[stats + c] = 0.3 * (next() - 0.5);
                w.stats[stats + shape.c + c] = 0.5 + next();
            }
        }
    }
    w
}

#[test]
fn an_onnx_runtime_reads_the_export_and_agrees_with_the_reference() {
    let model = Model::tutorial();
    let w = weights(&model);
    let bytes = onnx::export(&model, &w).unwrap();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../public/data/mnist");
    let test = data::load_dir(&dir, &Verification::mnist()).unwrap().test.truncated(100);
    let n = test.len();
    let pixels: Vec<f32> = (0..n).flat_map(|i| test.image_f32(i)).collect();
    let runnable = tract_onnx::onnx()
        .model_for_read(&mut bytes.as_slice())
        .unwrap()
        .with_input_fact(0, f32::fact([n, 1, 28, 28]).into())
        .unwrap()
        .into_optimized()
        .unwrap()
        .into_runnable()
        .unwrap();
    let input = Tensor::from_shape(&[n, 1, 28, 28], &pixels).unwrap();
    let out = runnable.run(tvec!(input.into_tvalue())).unwrap();
    let logprobs = out[0].to_plain_array_view::<f32>().unwrap();
    assert_eq!(logprobs.shape(), &[n, 10]);
    let mut worst = 0.0f32;
    for i in 0..n {
        let image = &test.images[i * 784..(i + 1) * 784];
        let reference = inspect::cpu_activations(&model, &w, image).pop().unwrap();
        for (c, r) in reference.iter().enumerate() {
            worst = worst.max((logprobs[[i, c]] - r).abs() / r.abs().max(1.0));
        }
    }
    assert!(worst < 1e-4, "ONNX runtime vs the f64 reference: worst relative difference {worst:e}");
}

#[test]
fn weights_the_model_cannot_use_are_refused() {
    let model = Model::tutorial();
    let mut w = weights(&model);
    w.params[3] = f32::NAN;
    assert!(onnx::export(&model, &w).unwrap_err().contains("not a finite number"));
    w.params.pop();
    assert!(onnx::export(&model, &w).unwrap_err().contains("parameters"));
}
