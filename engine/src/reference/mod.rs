//! The CPU reference: every layer's forward and backward and Adam, in f64 with plain loops.
//! It is the oracle for the WGSL kernels and is itself checked by finite differences and
//! against JAX's golden vectors. Slow on purpose: clarity over speed.
//! One file per kernel family, as in `gpu/`; this one composes them into the whole model.

mod adam;
mod batchnorm;
mod conv;
mod dense;
mod loss;

pub use adam::adam_step;
pub use batchnorm::{bn_backward, bn_forward_eval, bn_forward_train, bn_update_running, relu, relu_backward, BnCache};
pub use conv::{conv_backward, conv_forward};
pub use dense::{dense_backward, dense_forward};
pub use loss::{correct_count, log_softmax, nll_loss};

use crate::model::{Adam, Model, Op};

/// Training or evaluation behaviour of BatchNorm.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Train,
    Eval,
}

/// Everything a forward pass produced: `activations[0]` is the input, `activations[i + 1]`
/// the output of op `i` (the last one is log-probabilities).
#[derive(Clone, Debug)]
pub struct Forward {
    pub n: usize,
    pub activations: Vec<Vec<f64>>,
    bn: Vec<Option<BnCache>>,
}

impl Forward {
    pub fn logprobs(&self) -> &[f64] {
        self.activations.last().expect("a model has layers")
    }
    /// Batch statistics of BatchNorm op `i` (training mode only).
    pub fn bn_cache(&self, i: usize) -> Option<&BnCache> {
        self.bn.get(i).and_then(|c| c.as_ref())
    }
}

/// Whole-model forward. `images` is [n, C*H*W] scaled to [0, 1]; `stats` the running
/// statistics (only read in evaluation mode).
pub fn forward(model: &Model, params: &[f64], stats: &[f64], images: &[f64], mode: Mode) -> Forward {
    let n = images.len() / model.input_len();
    let mut activations = vec![images.to_vec()];
    let mut bn = Vec::new();
    for op in &model.ops {
        let x = activations.last().expect("input is there");
        let mut cache = None;
        let y = match *op {
            Op::Conv { geom, weight, bias } => {
                conv_forward(&geom, n, x, &params[weight..weight + geom.weight_len()], &params[bias..bias + geom.output.c])
            }
            Op::BatchNorm { shape, gamma, beta, stats: at } => {
                let (g, b) = (&params[gamma..gamma + shape.c], &params[beta..beta + shape.c]);
                match mode {
                    Mode::Train => {
                        let (y, c) = bn_forward_train(shape, n, x, g, b);
                        cache = Some(c);
                        y
                    }
                    Mode::Eval => bn_forward_eval(shape, x, g, b, &stats[at..at + shape.c], &stats[at + shape.c..at + 2 * shape.c]),
                }
            }
            Op::Relu { .. } => relu(x),
            Op::Flatten { .. } => x.clone(),
            Op::Dense { inputs, outputs, weight, bias } => {
                dense_forward(n, inputs, outputs, x, &params[weight..weight + inputs * outputs], &params[bias..bias + outputs])
            }
            Op::LogSoftmax { classes } => log_softmax(classes, x),
        };
        bn.push(cache);
        activations.push(y);
    }
    Forward { n, activations, bn }
}

/// Loss, gradients w.r.t. the flat parameters, and the forward pass, in training mode.
pub fn loss_and_grads(model: &Model, params: &[f64], images: &[f64], labels: &[u8]) -> (f64, Vec<f64>, Forward) {
    let fwd = forward(model, params, &[], images, Mode::Train);
    let n = fwd.n;
    let mut grads = vec![0.0; params.len()];
    let (loss, mut dy) = nll_loss(model.classes, fwd.logprobs(), labels);
    for (i, op) in model.ops.iter().enumerate().rev() {
        let x = &fwd.activations[i];
        let y = &fwd.activations[i + 1];
        dy = match *op {
            // nll_loss already gave the gradient w.r.t. the logits.
            Op::LogSoftmax { .. } | Op::Flatten { .. } => dy,
            Op::Relu { .. } => relu_backward(y, &dy),
            Op::Dense { inputs, outputs, weight, bias } => {
                let (dx, dw, db) = dense_backward(n, inputs, outputs, x, &params[weight..weight + inputs * outputs], &dy);
                grads[weight..weight + dw.len()].copy_from_slice(&dw);
                grads[bias..bias + db.len()].copy_from_slice(&db);
                dx
            }
            Op::BatchNorm { shape, gamma, beta, .. } => {
                let cache = fwd.bn_cache(i).expect("training mode keeps BatchNorm caches");
                let (dx, dg, dbeta) = bn_backward(shape, n, &dy, cache, &params[gamma..gamma + shape.c]);
                grads[gamma..gamma + shape.c].copy_from_slice(&dg);
                grads[beta..beta + shape.c].copy_from_slice(&dbeta);
                dx
            }
            Op::Conv { geom, weight, bias } => {
                let (dx, dw, db) = conv_backward(&geom, n, x, &params[weight..weight + geom.weight_len()], &dy);
                grads[weight..weight + dw.len()].copy_from_slice(&dw);
                grads[bias..bias + db.len()].copy_from_slice(&db);
                dx
            }
        };
    }
    (loss, grads, fwd)
}

/// Model state for reference training: parameters, running stats and Adam moments.
#[derive(Clone, Debug)]
pub struct RefTrainer {
    pub model: Model,
    pub params: Vec<f64>,
    pub stats: Vec<f64>,
    pub m: Vec<f64>,
    pub v: Vec<f64>,
    pub t: u32,
    pub adam: Adam,
}

impl RefTrainer {
    pub fn new(model: Model, params: Vec<f64>, adam: Adam) -> Self {
        let stats = model.init_stats().iter().map(|&v| v as f64).collect();
        let len = params.len();
        RefTrainer { model, params, stats, m: vec![0.0; len], v: vec![0.0; len], t: 0, adam }
    }

    /// One training step; returns the loss before the update.
    pub fn step(&mut self, images: &[f64], labels: &[u8]) -> f64 {
        let (loss, grads, fwd) = loss_and_grads(&self.model, &self.params, images, labels);
        for (i, op) in self.model.ops.iter().enumerate() {
            if let (Op::BatchNorm { shape, stats: at, .. }, Some(cache)) = (op, fwd.bn_cache(i)) {
                let (means, vars) = self.stats[*at..at + 2 * shape.c].split_at_mut(shape.c);
                bn_update_running(fwd.n, *shape, cache, means, vars);
            }
        }
        self.t += 1;
        adam_step(&self.adam, self.t, &mut self.params, &grads, &mut self.m, &mut self.v);
        loss
    }
}
