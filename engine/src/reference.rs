//! The CPU reference: every layer's forward and backward and Adam, in f64 with plain loops.
//! It is the oracle for the WGSL kernels and is itself checked by finite differences and
//! against JAX's golden vectors. Slow on purpose: clarity over speed.

use crate::model::{Adam, ConvGeom, Model, Op, Shape, BN_EPS, BN_MOMENTUM};

/// Convolution forward. `x` is [n, C, H, W], `w` [O, C, k, k], `b` [O]; returns [n, O, OH, OW].
pub fn conv_forward(g: &ConvGeom, n: usize, x: &[f64], w: &[f64], b: &[f64]) -> Vec<f64> {
    let (i, o, k) = (g.input, g.output, g.kernel);
    let mut y = vec![0.0; n * o.len()];
    for s in 0..n {
        for oc in 0..o.c {
            for oy in 0..o.h {
                for ox in 0..o.w {
                    let mut acc = b[oc];
                    for ic in 0..i.c {
                        for ky in 0..k {
                            for kx in 0..k {
                                let Some((iy, ix)) = input_pos(g, oy, ox, ky, kx) else { continue };
                                acc += x[((s * i.c + ic) * i.h + iy) * i.w + ix] * w[((oc * i.c + ic) * k + ky) * k + kx];
                            }
                        }
                    }
                    y[((s * o.c + oc) * o.h + oy) * o.w + ox] = acc;
                }
            }
        }
    }
    y
}

/// The input pixel a kernel tap reads, or None where it falls in the padding.
fn input_pos(g: &ConvGeom, oy: usize, ox: usize, ky: usize, kx: usize) -> Option<(usize, usize)> {
    let iy = (oy * g.stride + ky) as isize - g.pad_top as isize;
    let ix = (ox * g.stride + kx) as isize - g.pad_left as isize;
    if iy < 0 || ix < 0 || iy >= g.input.h as isize || ix >= g.input.w as isize {
        return None;
    }
    Some((iy as usize, ix as usize))
}

/// Convolution backward: returns (dx, dw, db).
pub fn conv_backward(g: &ConvGeom, n: usize, x: &[f64], w: &[f64], dy: &[f64]) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let (i, o, k) = (g.input, g.output, g.kernel);
    let mut dx = vec![0.0; n * i.len()];
    let mut dw = vec![0.0; w.len()];
    let mut db = vec![0.0; o.c];
    for s in 0..n {
        for oc in 0..o.c {
            for oy in 0..o.h {
                for ox in 0..o.w {
                    let d = dy[((s * o.c + oc) * o.h + oy) * o.w + ox];
                    db[oc] += d;
                    for ic in 0..i.c {
                        for ky in 0..k {
                            for kx in 0..k {
                                let Some((iy, ix)) = input_pos(g, oy, ox, ky, kx) else { continue };
                                let xi = ((s * i.c + ic) * i.h + iy) * i.w + ix;
                                let wi = ((oc * i.c + ic) * k + ky) * k + kx;
                                dx[xi] += d * w[wi];
                                dw[wi] += d * x[xi];
                            }
                        }
                    }
                }
            }
        }
    }
    (dx, dw, db)
}

/// What BatchNorm's training forward keeps for its backward pass.
#[derive(Clone, Debug)]
pub struct BnCache {
    pub xhat: Vec<f64>,
    pub mean: Vec<f64>,
    /// Biased batch variance.
    pub var: Vec<f64>,
}

/// BatchNorm training forward over (N, H, W) with biased variance.
pub fn bn_forward_train(shape: Shape, n: usize, x: &[f64], gamma: &[f64], beta: &[f64]) -> (Vec<f64>, BnCache) {
    let (c, hw) = (shape.c, shape.spatial());
    let m = (n * hw) as f64;
    let mut mean = vec![0.0; c];
    let mut var = vec![0.0; c];
    for ch in 0..c {
        let vals = || (0..n).flat_map(move |s| (0..hw).map(move |p| (s * c + ch) * hw + p));
        mean[ch] = vals().map(|i| x[i]).sum::<f64>() / m;
        var[ch] = vals().map(|i| (x[i] - mean[ch]).powi(2)).sum::<f64>() / m;
    }
    let mut xhat = vec![0.0; x.len()];
    let mut y = vec![0.0; x.len()];
    for (i, (&xi, (xh, yi))) in x.iter().zip(xhat.iter_mut().zip(y.iter_mut())).enumerate() {
        let ch = (i / hw) % c;
        *xh = (xi - mean[ch]) / (var[ch] + BN_EPS as f64).sqrt();
        *yi = gamma[ch] * *xh + beta[ch];
    }
    (y, BnCache { xhat, mean, var })
}

/// BatchNorm evaluation forward with running statistics.
pub fn bn_forward_eval(shape: Shape, x: &[f64], gamma: &[f64], beta: &[f64], mean: &[f64], var: &[f64]) -> Vec<f64> {
    let (c, hw) = (shape.c, shape.spatial());
    x.iter()
        .enumerate()
        .map(|(i, &xi)| {
            let ch = (i / hw) % c;
            gamma[ch] * (xi - mean[ch]) / (var[ch] + BN_EPS as f64).sqrt() + beta[ch]
        })
        .collect()
}

/// Updates running statistics from a batch (unbiased variance, as PyTorch does).
pub fn bn_update_running(n: usize, shape: Shape, cache: &BnCache, running_mean: &mut [f64], running_var: &mut [f64]) {
    let m = (n * shape.spatial()) as f64;
    let unbias = if m > 1.0 { m / (m - 1.0) } else { 1.0 };
    let mo = BN_MOMENTUM as f64;
    for ch in 0..shape.c {
        running_mean[ch] = (1.0 - mo) * running_mean[ch] + mo * cache.mean[ch];
        running_var[ch] = (1.0 - mo) * running_var[ch] + mo * cache.var[ch] * unbias;
    }
}

/// BatchNorm training backward: returns (dx, dgamma, dbeta).
pub fn bn_backward(shape: Shape, n: usize, dy: &[f64], cache: &BnCache, gamma: &[f64]) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let (c, hw) = (shape.c, shape.spatial());
    let m = (n * hw) as f64;
    let mut dgamma = vec![0.0; c];
    let mut dbeta = vec![0.0; c];
    for (i, &d) in dy.iter().enumerate() {
        let ch = (i / hw) % c;
        dbeta[ch] += d;
        dgamma[ch] += d * cache.xhat[i];
    }
    let dx = dy
        .iter()
        .enumerate()
        .map(|(i, &d)| {
            let ch = (i / hw) % c;
            let invstd = 1.0 / (cache.var[ch] + BN_EPS as f64).sqrt();
            gamma[ch] * invstd / m * (m * d - dbeta[ch] - cache.xhat[i] * dgamma[ch])
        })
        .collect();
    (dx, dgamma, dbeta)
}

pub fn relu(x: &[f64]) -> Vec<f64> {
    x.iter().map(|&v| v.max(0.0)).collect()
}

/// ReLU backward given its output `y`: passes the gradient where y > 0.
pub fn relu_backward(y: &[f64], dy: &[f64]) -> Vec<f64> {
    y.iter().zip(dy).map(|(&y, &d)| if y > 0.0 { d } else { 0.0 }).collect()
}

/// Dense forward: x [n, in] @ w [in, out] + b.
pub fn dense_forward(n: usize, inputs: usize, outputs: usize, x: &[f64], w: &[f64], b: &[f64]) -> Vec<f64> {
    let mut y = vec![0.0; n * outputs];
    for s in 0..n {
        for j in 0..outputs {
            y[s * outputs + j] = b[j] + (0..inputs).map(|i| x[s * inputs + i] * w[i * outputs + j]).sum::<f64>();
        }
    }
    y
}

/// Dense backward: returns (dx, dw, db).
pub fn dense_backward(n: usize, inputs: usize, outputs: usize, x: &[f64], w: &[f64], dy: &[f64]) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let mut dx = vec![0.0; n * inputs];
    let mut dw = vec![0.0; inputs * outputs];
    let mut db = vec![0.0; outputs];
    for s in 0..n {
        for j in 0..outputs {
            let d = dy[s * outputs + j];
            db[j] += d;
            for i in 0..inputs {
                dx[s * inputs + i] += d * w[i * outputs + j];
                dw[i * outputs + j] += d * x[s * inputs + i];
            }
        }
    }
    (dx, dw, db)
}

/// Row-wise log-softmax of [n, classes].
pub fn log_softmax(classes: usize, logits: &[f64]) -> Vec<f64> {
    logits
        .chunks(classes)
        .flat_map(|row| {
            let max = row.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let lse = max + row.iter().map(|v| (v - max).exp()).sum::<f64>().ln();
            row.iter().map(move |v| v - lse)
        })
        .collect()
}

/// Mean negative log-likelihood of log-probabilities, and its gradient w.r.t. the logits.
pub fn nll_loss(classes: usize, logprobs: &[f64], labels: &[u8]) -> (f64, Vec<f64>) {
    let n = labels.len();
    let loss = labels.iter().enumerate().map(|(s, &l)| -logprobs[s * classes + l as usize]).sum::<f64>() / n as f64;
    let dlogits = logprobs
        .iter()
        .enumerate()
        .map(|(i, lp)| {
            let (s, j) = (i / classes, i % classes);
            (lp.exp() - if labels[s] as usize == j { 1.0 } else { 0.0 }) / n as f64
        })
        .collect();
    (loss, dlogits)
}

/// Number of rows whose arg-max (first on ties) equals the label.
pub fn correct_count(classes: usize, scores: &[f64], labels: &[u8]) -> usize {
    scores
        .chunks(classes)
        .zip(labels)
        .filter(|(row, &l)| {
            let best = row.iter().enumerate().fold(0, |b, (j, &v)| if v > row[b] { j } else { b });
            best == l as usize
        })
        .count()
}

/// One Adam step (bias-corrected) at step number `t` (1-based), in place.
pub fn adam_step(hp: &Adam, t: u32, params: &mut [f64], grads: &[f64], m: &mut [f64], v: &mut [f64]) {
    let (b1, b2) = (hp.beta1 as f64, hp.beta2 as f64);
    let bc1 = 1.0 - b1.powi(t as i32);
    let bc2 = 1.0 - b2.powi(t as i32);
    for i in 0..params.len() {
        m[i] = b1 * m[i] + (1.0 - b1) * grads[i];
        v[i] = b2 * v[i] + (1.0 - b2) * grads[i] * grads[i];
        params[i] -= hp.lr as f64 * (m[i] / bc1) / ((v[i] / bc2).sqrt() + hp.eps as f64);
    }
}

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
