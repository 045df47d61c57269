// Log-softmax + mean cross-entropy, fused. One workgroup handles the whole batch:
// writes log-probabilities, (in training) the gradient w.r.t. the logits, and reduces the
// loss sum and correct count into a metrics slot, so no per-step read-back is needed.
// With p.dense, each example's logits are first computed here from the dense layer before
// the loss (logits = b + x W, W stored [in, out]) and written out, saving that dispatch.
@group(0) @binding(0) var<uniform> p: LossParams;
@group(0) @binding(1) var<uniform> step: Step;
@group(0) @binding(2) var<storage, read> x: array<f32>;  // the dense input (read if p.dense)
@group(0) @binding(3) var<storage, read> params: array<f32>;  // (read if p.dense)
@group(0) @binding(4) var<storage, read> labels: array<u32>;
@group(0) @binding(5) var<storage, read_write> logits: array<f32>;
@group(0) @binding(6) var<storage, read_write> logprobs: array<f32>;
@group(0) @binding(7) var<storage, read_write> dlogits: array<f32>;
// Per slot: loss sum, correct count, example count, unused.
@group(0) @binding(8) var<storage, read_write> metrics: array<f32>;

const WG: u32 = 256u;
var<workgroup> partial_loss: array<f32, 256>;
var<workgroup> partial_correct: array<f32, 256>;

@compute @workgroup_size(256)
fn main(@builtin(local_invocation_index) lid: u32) {
    let valid = min(step.valid, p.n);
    var loss = 0.0;
    var correct = 0.0;
    for (var s = lid; s < p.n; s += WG) {
        let row = s * p.classes;
        if (p.dense != 0u) {
            for (var j = 0u; j < p.classes; j++) {
                var acc = params[p.b_off + j];
                for (var k = 0u; k < p.inputs; k++) {
                    acc += x[s * p.inputs + k] * params[p.w_off + k * p.classes + j];
                }
                logits[row + j] = acc;
            }
        }
        var best = 0u;
        var max_logit = logits[row];
        for (var j = 1u; j < p.classes; j++) {
            if (logits[row + j] > max_logit) { max_logit = logits[row + j]; best = j; }
        }
        var sum_exp = 0.0;
        for (var j = 0u; j < p.classes; j++) { sum_exp += exp(logits[row + j] - max_logit); }
        let lse = max_logit + log(sum_exp);
        let label = labels[s];
        for (var j = 0u; j < p.classes; j++) {
            let lp = logits[row + j] - lse;
            logprobs[row + j] = lp;
            if (p.train != 0u) {
                dlogits[row + j] = (exp(lp) - select(0.0, 1.0, j == label)) / f32(p.n);
            }
        }
        if (s < valid) {
            loss -= logits[row + label] - lse;
            correct += select(0.0, 1.0, best == label);
        }
    }
    partial_loss[lid] = loss;
    partial_correct[lid] = correct;
    workgroupBarrier();
    for (var stride = WG / 2u; stride > 0u; stride /= 2u) {
        if (lid < stride) {
            partial_loss[lid] += partial_loss[lid + stride];
            partial_correct[lid] += partial_correct[lid + stride];
        }
        workgroupBarrier();
    }
    if (lid == 0u) {
        let at = step.slot * 4u;
        if (step.accumulate != 0u) {
            metrics[at] += partial_loss[0];
            metrics[at + 1u] += partial_correct[0];
            metrics[at + 2u] += f32(valid);
        } else {
            metrics[at] = partial_loss[0];
            metrics[at + 1u] = partial_correct[0];
            metrics[at + 2u] = f32(valid);
            metrics[at + 3u] = 0.0;
        }
    }
}
