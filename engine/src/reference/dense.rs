//! The dense family's CPU mirror.

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
