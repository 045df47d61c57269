//! Adam's CPU mirror.

use crate::model::Adam;

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
