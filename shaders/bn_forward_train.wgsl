// BatchNorm forward in training, one dispatch: one workgroup per channel computes the batch
// mean and the biased variance over (N, H, W) in two passes (stable), saves mean and
// 1/sqrt(var + eps) for the backward kernel, updates the running statistics if asked, and
// then normalises its channel (ReLU fused if p.relu), the same arithmetic as bn_apply.
@group(0) @binding(0) var<uniform> p: BnTrainParams;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> save: array<f32>;   // [mean C, invstd C]
@group(0) @binding(3) var<storage, read_write> stats: array<f32>;  // running [mean C, var C] at stats_off
@group(0) @binding(4) var<storage, read> params: array<f32>;       // gamma at gamma_off, beta at beta_off
@group(0) @binding(5) var<storage, read_write> y: array<f32>;

const WG: u32 = 256u;
var<workgroup> partial: array<f32, 256>;

// Flat NCHW index of the channel's j-th element, counting over (N, H, W).
fn channel_element(ch: u32, j: u32) -> u32 {
    return ((j / p.hw) * p.c + ch) * p.hw + j % p.hw;
}

fn reduce(lid: u32, value: f32) -> f32 {
    partial[lid] = value;
    workgroupBarrier();
    for (var stride = WG / 2u; stride > 0u; stride /= 2u) {
        if (lid < stride) { partial[lid] += partial[lid + stride]; }
        workgroupBarrier();
    }
    let total = partial[0];
    workgroupBarrier();
    return total;
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let ch = wid.x;
    let m = p.n * p.hw;
    var sum = 0.0;
    for (var j = lid; j < m; j += WG) {
        sum += x[channel_element(ch, j)];
    }
    let mean = reduce(lid, sum) / f32(m);
    var sq = 0.0;
    for (var j = lid; j < m; j += WG) {
        let d = x[channel_element(ch, j)] - mean;
        sq += d * d;
    }
    let var_biased = reduce(lid, sq) / f32(m);
    let invstd = inverseSqrt(var_biased + p.eps);
    if (lid == 0u) {
        save[ch] = mean;
        save[p.c + ch] = invstd;
        if (p.update_running != 0u) {
            let unbiased = select(var_biased, var_biased * f32(m) / f32(m - 1u), m > 1u);
            let mi = p.stats_off + ch;
            let vi = p.stats_off + p.c + ch;
            stats[mi] = (1.0 - p.momentum) * stats[mi] + p.momentum * mean;
            stats[vi] = (1.0 - p.momentum) * stats[vi] + p.momentum * unbiased;
        }
    }
    let gamma = params[p.gamma_off + ch];
    let beta = params[p.beta_off + ch];
    for (var j = lid; j < m; j += WG) {
        let i = channel_element(ch, j);
        var v = gamma * (x[i] - mean) * invstd + beta;
        if (p.relu != 0u) { v = max(v, 0.0); }
        y[i] = v;
    }
}
