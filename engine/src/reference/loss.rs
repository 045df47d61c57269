//! Log-softmax, the loss and accuracy: the CPU mirror of `softmax_loss.wgsl`.

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
