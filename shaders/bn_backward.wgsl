// BatchNorm backward, one dispatch: one workgroup per channel reduces dbeta = sum(dy) and
// dgamma = sum(dy * xhat) into the flat gradient buffer, then (if p.input_grad) writes its
// channel's input gradient dx = gamma * invstd / M * (M * dy - dbeta - xhat * dgamma).
// With a ReLU fused after the layer (p.relu), dy counts only where that ReLU's output y is
// positive.
@group(0) @binding(0) var<uniform> p: BnParams;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read> save: array<f32>;
@group(0) @binding(4) var<storage, read> params: array<f32>;
@group(0) @binding(5) var<storage, read_write> grads: array<f32>;
@group(0) @binding(6) var<storage, read_write> dx: array<f32>;
@group(0) @binding(7) var<storage, read> y: array<f32>;  // the fused ReLU's output (read if p.relu)

const WG: u32 = 256u;
var<workgroup> partial_dy: array<f32, 256>;
var<workgroup> partial_dyx: array<f32, 256>;

// Flat NCHW index of the channel's j-th element, counting over (N, H, W).
fn channel_element(ch: u32, j: u32) -> u32 {
    return ((j / p.hw) * p.c + ch) * p.hw + j % p.hw;
}

fn grad_out(i: u32) -> f32 {
    return select(0.0, dy[i], p.relu == 0u || y[i] > 0.0);
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let ch = wid.x;
    let m = p.n * p.hw;
    let mean = save[ch];
    let invstd = save[p.c + ch];
    var sum_dy = 0.0;
    var sum_dyx = 0.0;
    for (var j = lid; j < m; j += WG) {
        let i = channel_element(ch, j);
        let g = grad_out(i);
        sum_dy += g;
        sum_dyx += g * (x[i] - mean) * invstd;
    }
    partial_dy[lid] = sum_dy;
    partial_dyx[lid] = sum_dyx;
    workgroupBarrier();
    for (var stride = WG / 2u; stride > 0u; stride /= 2u) {
        if (lid < stride) {
            partial_dy[lid] += partial_dy[lid + stride];
            partial_dyx[lid] += partial_dyx[lid + stride];
        }
        workgroupBarrier();
    }
    let dgamma = partial_dyx[0];
    let dbeta = partial_dy[0];
    if (lid == 0u) {
        grads[p.gamma_off + ch] = dgamma;
        grads[p.beta_off + ch] = dbeta;
    }
    if (p.input_grad == 0u) { return; }
    let mf = f32(m);
    let scale = params[p.gamma_off + ch] * invstd / mf;
    for (var j = lid; j < m; j += WG) {
        let i = channel_element(ch, j);
        let xhat = (x[i] - mean) * invstd;
        dx[i] = scale * (mf * grad_out(i) - dbeta - xhat * dgamma);
    }
}
