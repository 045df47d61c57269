//! The kernels without layer parameters: ReLU, the softmax loss and its metrics, the batch
//! gather, Adam, and the jit lesson's SELU and eager operations.

use super::{Probe, FWD_TOL, GRAD_TOL};
use crate::gpu::adam::OptimizerBuffers;
use crate::gpu::gather::ResidentSplit;
use crate::gpu::lesson::EagerOp;
use crate::gpu::loss::LossLayer;
use crate::gpu::{GpuError, Kernels, Step};
use crate::lessons::{jit, normal_values};
use crate::model::{permutation, Adam};
use crate::reference as r;

/// ReLU and its backward; compared as f32 streams, since 8.4M elements in f64 would hold
/// hundreds of MB in the page's wasm memory.
pub(super) async fn relu(p: &mut Probe<'_>, k: &Kernels, count: usize) -> Result<(), GpuError> {
    let x: Vec<f32> = (0..count).map(|_| p.rng.uniform(-1.0, 1.0) as f32).collect();
    let dy: Vec<f32> = (0..count).map(|_| p.rng.uniform(-1.0, 1.0) as f32).collect();
    let (xb, g) = (p.input_bytes(bytemuck::cast_slice(&x)), p.input_bytes(bytemuck::cast_slice(&dy)));
    let y = p.poisoned(count);
    p.run(&[k.relu(count, &xb, &y), k.relu_backward(count, &y, &g)]);
    let relu = |v: f32| f64::from(v).max(0.0);
    let got = p.read_f32(&y).await?;
    p.close_iter("relu", got.len(), got.iter().map(|&v| f64::from(v)), count, x.iter().map(|&v| relu(v)), FWD_TOL);
    drop(got);
    let got = p.read_f32(&g).await?;
    let want = x.iter().zip(&dy).map(|(&x, &d)| if x > 0.0 { f64::from(d) } else { 0.0 });
    p.close_iter("relu backward", got.len(), got.iter().map(|&v| f64::from(v)), count, want, FWD_TOL);
    Ok(())
}

pub(super) async fn softmax_loss(p: &mut Probe<'_>, k: &Kernels, n: usize) -> Result<(), GpuError> {
    let classes = 10;
    let logits = p.rng.vec(n * classes, -4.0, 4.0);
    let labels: Vec<u8> = (0..n).map(|_| p.rng.below(classes as u64) as u8).collect();
    let label_words: Vec<u32> = labels.iter().map(|&l| l as u32).collect();
    let (lb, labb) = (p.input(&logits), p.input_bytes(bytemuck::cast_slice(&label_words)));
    let (lp, dl) = (p.poisoned(n * classes), p.poisoned(n * classes));
    let metrics = p.poisoned(8);
    let step = p.uniform(&Step { slot: 1, valid: n as u32, ..Default::default() });
    let layer = LossLayer { n, classes, train: true, step: &step, labels: &labb, metrics: &metrics };
    p.run(&[k.softmax_loss(&layer, &lb, &lp, &dl)]);
    let lp_ref = r::log_softmax(classes, &logits);
    let (loss_ref, dl_ref) = r::nll_loss(classes, &lp_ref, &labels);
    p.close("log-probabilities", &p.read(&lp).await?, &lp_ref, FWD_TOL);
    p.close("dlogits", &p.read(&dl).await?, &dl_ref, GRAD_TOL);
    let m = p.read(&metrics).await?;
    let other_slot = m[..4].iter().filter(|v| !v.is_nan()).count();
    p.exact("writes only its metrics slot", other_slot, format!("{other_slot} values of slot 0 written"));
    p.close("loss", &[m[4] / m[6]], &[loss_ref], FWD_TOL);
    let correct = r::correct_count(classes, &logits, &labels);
    p.exact("correct count", usize::from(m[5] != correct as f64), format!("{} counted, {correct} expected", m[5]));
    p.exact("example count", usize::from(m[6] != n as f64), format!("{} counted, {n} expected", m[6]));

    // Evaluation: accumulate over two launches, counting only `valid` examples.
    let valid = n.div_ceil(2);
    let acc = p.input(&[0.0; 4]);
    let step = p.uniform(&Step { slot: 0, valid: valid as u32, accumulate: 1, ..Default::default() });
    let layer = LossLayer { n, classes, train: false, step: &step, labels: &labb, metrics: &acc };
    let d = k.softmax_loss(&layer, &lb, &lp, &dl);
    p.run(&[d.clone(), d]);
    let (loss_v, _) = r::nll_loss(classes, &lp_ref[..valid * classes], &labels[..valid]);
    let m = p.read(&acc).await?;
    p.exact("accumulated count", usize::from(m[2] != (2 * valid) as f64), format!("{} counted, {} expected", m[2], 2 * valid));
    p.close("accumulated loss", &[m[0] / m[2]], &[loss_v], FWD_TOL);
    Ok(())
}

/// A batch gathered through the permutation from 301 resident u8 examples.
pub(super) async fn gather(p: &mut Probe<'_>, k: &Kernels, n: usize, start: usize) -> Result<(), GpuError> {
    let count = 301;
    let pixels: Vec<u8> = (0..count * 784).map(|_| p.rng.below(256) as u8).collect();
    let labels: Vec<u8> = (0..count).map(|_| p.rng.below(10) as u8).collect();
    let perm = permutation(count, 9);
    let padded = |b: &[u8]| {
        let mut v = b.to_vec();
        v.resize(b.len().div_ceil(4) * 4, 0);
        v
    };
    let split = ResidentSplit {
        len: count,
        pixels: p.input_bytes(&padded(&pixels)),
        labels: p.input_bytes(&padded(&labels)),
        perm: p.input_bytes(bytemuck::cast_slice(&perm)),
    };
    let (imgs, labs) = (p.poisoned(n * 784), p.poisoned(n));
    let step = p.uniform(&Step { start: start as u32, valid: n as u32, ..Default::default() });
    p.run(&[k.gather(n, 784, &step, &split, &imgs, &labs)]);
    let got = p.read(&imgs).await?;
    let got_labels = p.read_u32(&labs).await?;
    // Past the end of the permutation the last example repeats.
    let examples: Vec<usize> = (0..n).map(|s| perm[(start + s).min(count - 1)] as usize).collect();
    let want: Vec<f64> = examples.iter().flat_map(|&ex| &pixels[ex * 784..(ex + 1) * 784]).map(|&v| f64::from(v as f32 / 255.0)).collect();
    p.close("pixels", &got, &want, 1e-7);
    let wrong = examples.iter().zip(&got_labels).filter(|(&ex, &l)| l != labels[ex] as u32).count();
    p.exact("labels", wrong, format!("{wrong} of {n} labels differ"));
    Ok(())
}

/// Three steps, so the bias corrections and the moments' carry-over are exercised.
pub(super) async fn adam(p: &mut Probe<'_>, k: &Kernels, count: usize) -> Result<(), GpuError> {
    let hp = Adam::default();
    let mut params = p.rng.vec(count, -1.0, 1.0);
    let (mut m, mut v) = (vec![0.0; count], vec![0.0; count]);
    let (pb, mb, vb) = (p.input(&params), p.input(&m), p.input(&v));
    for t in 1..=3u32 {
        let grads = p.rng.vec(count, -0.1, 0.1);
        let gb = p.input(&grads);
        let bc = |beta: f64| (1.0 - beta.powi(t as i32)) as f32;
        let step = p.uniform(&Step { lr: hp.lr, bc1: bc(hp.beta1 as f64), bc2: bc(hp.beta2 as f64), ..Default::default() });
        let before = params.clone();
        p.run(&[k.adam(count, &hp, &step, &OptimizerBuffers { params: &pb, grads: &gb, m: &mb, v: &vb }, None)]);
        r::adam_step(&hp, t, &mut params, &grads, &mut m, &mut v);
        // Relative to the update, not to the parameters, which barely move in one step.
        let got = p.read(&pb).await?;
        let ours: Vec<f64> = got.iter().zip(&before).map(|(a, b)| a - b).collect();
        let want: Vec<f64> = params.iter().zip(&before).map(|(a, b)| a - b).collect();
        p.close(format!("update, step {t}"), &ours, &want, 1e-4);
        p.close(format!("m, step {t}"), &p.read(&mb).await?, &m, 1e-5);
        p.close(format!("v, step {t}"), &p.read(&vb).await?, &v, 1e-5);
        // Keep the reference on the GPU's rounding, so that steps do not drift apart.
        params = got;
    }
    Ok(())
}

/// The fused SELU and each eager operation the unfused version chains.
pub(super) async fn lesson(p: &mut Probe<'_>, k: &Kernels, count: usize) -> Result<(), GpuError> {
    // Normal values times 3: both SELU branches and exp over a wide range.
    let seed = p.rng.below(1 << 32);
    let values = |s: u64| -> Vec<f64> { normal_values(count, seed + s).into_iter().map(|v| f64::from(3.0 * v)).collect() };
    let (a, b, c) = (values(0), values(1), values(2));
    let y = p.poisoned(count);
    p.run(&[k.selu(count, jit::ALPHA, jit::LAMBDA, &p.input(&a), &y)]);
    let a32: Vec<f32> = a.iter().map(|&v| v as f32).collect();
    p.close("fused SELU", &p.read(&y).await?, &jit::selu_reference(&a32), 1e-6);
    // A mask with zeros and ones, as the comparison writes it.
    let mask: Vec<f64> = a.iter().map(|&v| f64::from(u8::from(v > 0.5))).collect();
    let f32_of = |v: f32| f64::from(v);
    let cases: Vec<(EagerOp, &[f64], Vec<f64>)> = vec![
        (EagerOp::Exp, &a, a.iter().map(|&v| v.exp()).collect()),
        (EagerOp::Scale(1.67), &a, a.iter().map(|&v| v * f32_of(1.67)).collect()),
        (EagerOp::Shift(-1.67), &a, a.iter().map(|&v| v - f32_of(1.67)).collect()),
        (EagerOp::Greater(0.25), &a, a.iter().map(|&v| f64::from(u8::from(v > 0.25))).collect()),
        (EagerOp::Select, &mask, mask.iter().zip(&b).zip(&c).map(|((&m, &b), &c)| if m != 0.0 { b } else { c }).collect()),
    ];
    let (bb, cb) = (p.input(&b), p.input(&c));
    for (op, first, expected) in cases {
        let (ab, out) = (p.input(first), p.poisoned(count));
        p.run(&[k.eager_op(op, count, [&ab, &bb, &cb], &out)]);
        p.close(format!("eager {op:?}"), &p.read(&out).await?, &expected, 1e-6);
    }
    Ok(())
}
