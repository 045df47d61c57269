//! The BatchNorm family's CPU mirror, and ReLU.

use crate::model::{Shape, BN_EPS, BN_MOMENTUM};

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
