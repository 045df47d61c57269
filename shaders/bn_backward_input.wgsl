// BatchNorm backward w.r.t. the input, elementwise, from the reduced dgamma and dbeta:
// dx = gamma * invstd / M * (M * dy - dbeta - xhat * dgamma). With a ReLU fused after the
// layer (p.relu), dy counts only where that ReLU's output y is positive.
@group(0) @binding(0) var<uniform> p: BnParams;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read> save: array<f32>;
@group(0) @binding(4) var<storage, read> params: array<f32>;
@group(0) @binding(5) var<storage, read> grads: array<f32>;
@group(0) @binding(6) var<storage, read_write> dx: array<f32>;
@group(0) @binding(7) var<storage, read> y: array<f32>;  // the fused ReLU's output (read if p.relu)

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 256u;
    if (i >= p.n * p.c * p.hw) { return; }
    let ch = (i / p.hw) % p.c;
    let m = f32(p.n * p.hw);
    let invstd = save[p.c + ch];
    let xhat = (x[i] - save[ch]) * invstd;
    let dgamma = grads[p.gamma_off + ch];
    let dbeta = grads[p.beta_off + ch];
    let g = select(0.0, dy[i], p.relu == 0u || y[i] > 0.0);
    dx[i] = params[p.gamma_off + ch] * invstd / m * (m * g - dbeta - xhat * dgamma);
}
