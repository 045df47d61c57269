//! The CPU reference checked by central finite differences (f64), layer by layer and for
//! the whole model. Random, non-zero inputs and parameters throughout.

mod common;
use common::Rng;
use engine::model::{Adam, ConvGeom, Model, Shape};
use engine::reference::{self as r, Mode};

const H: f64 = 1e-6;
const TOL: f64 = 1e-6;

/// Checks `analytic` against central differences of the scalar `f` at `x`, on up to `probes` entries.
fn check(what: &str, x: &[f64], analytic: &[f64], probes: usize, rng: &mut Rng, f: &dyn Fn(&[f64]) -> f64) {
    let scale = analytic.iter().fold(0f64, |m, v| m.max(v.abs())).max(1e-8);
    for _ in 0..probes.min(x.len()) {
        let i = rng.below(x.len() as u64) as usize;
        let mut plus = x.to_vec();
        plus[i] += H;
        let mut minus = x.to_vec();
        minus[i] -= H;
        let numeric = (f(&plus) - f(&minus)) / (2.0 * H);
        let err = (numeric - analytic[i]).abs() / scale;
        assert!(err < TOL, "{what}[{i}]: analytic {} vs numeric {numeric} (error {err:e} of the largest gradient)", analytic[i]);
    }
}

/// A fixed random projection turns a tensor into a scalar loss: L = sum(y * proj).
fn project(y: &[f64], proj: &[f64]) -> f64 {
    y.iter().zip(proj).map(|(a, b)| a * b).sum()
}

#[test]
fn conv_backward_matches_finite_differences() {
    let mut rng = Rng::new(10);
    for g in [
        ConvGeom::same(Shape { c: 2, h: 7, w: 6 }, 3, 5, 2),
        ConvGeom::same(Shape { c: 3, h: 4, w: 4 }, 2, 3, 2),
        ConvGeom::same(Shape { c: 1, h: 5, w: 5 }, 2, 3, 1),
    ] {
        let n = 3;
        let x = rng.vec(n * g.input.len(), -1.0, 1.0);
        let w = rng.vec(g.weight_len(), -1.0, 1.0);
        let b = rng.vec(g.output.c, -1.0, 1.0);
        let proj = rng.vec(n * g.output.len(), -1.0, 1.0);
        let (dx, dw, db) = r::conv_backward(&g, n, &x, &w, &proj);
        check("conv dx", &x, &dx, 40, &mut rng, &|x| project(&r::conv_forward(&g, n, x, &w, &b), &proj));
        check("conv dw", &w, &dw, 40, &mut rng, &|w| project(&r::conv_forward(&g, n, &x, w, &b), &proj));
        check("conv db", &b, &db, 10, &mut rng, &|b| project(&r::conv_forward(&g, n, &x, &w, b), &proj));
    }
}

#[test]
fn batchnorm_backward_matches_finite_differences() {
    let mut rng = Rng::new(11);
    let shape = Shape { c: 3, h: 2, w: 3 };
    for n in [1, 3] {
        let x = rng.vec(n * shape.len(), -1.0, 2.0);
        let gamma = rng.vec(shape.c, 0.5, 1.5);
        let beta = rng.vec(shape.c, -0.5, 0.5);
        let proj = rng.vec(n * shape.len(), -1.0, 1.0);
        let (_, cache) = r::bn_forward_train(shape, n, &x, &gamma, &beta);
        let (dx, dg, db) = r::bn_backward(shape, n, &proj, &cache, &gamma);
        let f = |x: &[f64], g: &[f64], b: &[f64]| project(&r::bn_forward_train(shape, n, x, g, b).0, &proj);
        check("bn dx", &x, &dx, 30, &mut rng, &|x| f(x, &gamma, &beta));
        check("bn dgamma", &gamma, &dg, 3, &mut rng, &|g| f(&x, g, &beta));
        check("bn dbeta", &beta, &db, 3, &mut rng, &|b| f(&x, &gamma, b));
    }
}

#[test]
fn dense_and_loss_backward_match_finite_differences() {
    let mut rng = Rng::new(12);
    let (n, inputs, outputs) = (3, 5, 4);
    let x = rng.vec(n * inputs, -1.0, 1.0);
    let w = rng.vec(inputs * outputs, -1.0, 1.0);
    let b = rng.vec(outputs, -1.0, 1.0);
    let labels = [1u8, 3, 0];
    let loss = |x: &[f64], w: &[f64], b: &[f64]| {
        let logits = r::dense_forward(n, inputs, outputs, x, w, b);
        r::nll_loss(outputs, &r::log_softmax(outputs, &logits), &labels).0
    };
    let logits = r::dense_forward(n, inputs, outputs, &x, &w, &b);
    let (_, dlogits) = r::nll_loss(outputs, &r::log_softmax(outputs, &logits), &labels);
    let (dx, dw, db) = r::dense_backward(n, inputs, outputs, &x, &w, &dlogits);
    check("dense dx", &x, &dx, 15, &mut rng, &|x| loss(x, &w, &b));
    check("dense dw", &w, &dw, 20, &mut rng, &|w| loss(&x, w, &b));
    check("dense db", &b, &db, 4, &mut rng, &|b| loss(&x, &w, b));
}

#[test]
fn whole_model_gradients_match_finite_differences() {
    let mut rng = Rng::new(13);
    let model = Model::tutorial();
    let n = 3;
    let images = rng.vec(n * 784, 0.0, 1.0);
    let labels = [7u8, 2, 9];
    // Random weights scaled like the initialiser, with random BatchNorm affine parameters.
    let mut params: Vec<f64> = model.init_params(5).iter().map(|&v| v as f64).collect();
    for p in model.params.iter().filter(|p| !p.name.ends_with("weight")) {
        for v in &mut params[p.offset..p.offset + p.len] {
            *v = rng.uniform(0.5, 1.5) * if p.name.ends_with("beta") || p.name.ends_with("bias") { 0.3 } else { 1.0 };
        }
    }
    let (_, grads, _) = r::loss_and_grads(&model, &params, &images, &labels);
    for p in &model.params {
        let probes: Vec<usize> = (0..4).map(|_| p.offset + rng.below(p.len as u64) as usize).collect();
        let scale = grads[p.offset..p.offset + p.len].iter().fold(0f64, |m, v| m.max(v.abs()));
        // Conv biases before a BatchNorm have a zero gradient: there the floor makes it an
        // absolute check, since finite differences only see rounding noise (~1e-10).
        let scale = scale.max(1e-3);
        for i in probes {
            let mut plus = params.clone();
            plus[i] += H;
            let mut minus = params.clone();
            minus[i] -= H;
            let l = |q: &[f64]| r::loss_and_grads(&model, q, &images, &labels).0;
            let numeric = (l(&plus) - l(&minus)) / (2.0 * H);
            let err = (numeric - grads[i]).abs() / scale;
            assert!(err < 1e-5, "{}[{}]: analytic {} vs numeric {numeric} ({err:e})", p.name, i - p.offset, grads[i]);
        }
    }
}

#[test]
fn adam_reference_follows_the_formula() {
    // One step from zero moments moves each parameter by lr * sign(g) (up to eps).
    let hp = Adam::default();
    let mut params = vec![0.5, -0.25, 1.0];
    let grads = [0.3, -2.0, 1e-3];
    let (mut m, mut v) = (vec![0.0; 3], vec![0.0; 3]);
    r::adam_step(&hp, 1, &mut params, &grads, &mut m, &mut v);
    for (p, (start, g)) in params.iter().zip([0.5f64, -0.25, 1.0].iter().zip(grads)) {
        let expected = start - hp.lr as f64 * g / (g.abs() + hp.eps as f64);
        assert!((p - expected).abs() < 1e-12, "{p} vs {expected}");
    }
}

#[test]
fn eval_mode_uses_running_statistics() {
    let model = Model::tutorial();
    let mut rng = Rng::new(14);
    let params: Vec<f64> = model.init_params(1).iter().map(|&v| v as f64).collect();
    let images = rng.vec(2 * 784, 0.0, 1.0);
    let stats_a: Vec<f64> = model.init_stats().iter().map(|&v| v as f64).collect();
    let stats_b: Vec<f64> = stats_a.iter().map(|v| v * 2.0 + 0.1).collect();
    let a = r::forward(&model, &params, &stats_a, &images, Mode::Eval);
    let b = r::forward(&model, &params, &stats_b, &images, Mode::Eval);
    assert_ne!(a.logprobs(), b.logprobs(), "evaluation output depends on running statistics");
    // Per-example in evaluation: the first image alone gives the same output as in the pair.
    let single = r::forward(&model, &params, &stats_a, &images[..784], Mode::Eval);
    for (x, y) in single.logprobs().iter().zip(&a.logprobs()[..10]) {
        assert!((x - y).abs() < 1e-12);
    }
}
