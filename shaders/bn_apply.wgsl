// BatchNorm normalisation and affine transform with the saved statistics, optional fused ReLU.
@group(0) @binding(0) var<uniform> p: BnParams;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> save: array<f32>;
@group(0) @binding(3) var<storage, read> params: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 256u;
    if (i >= p.n * p.c * p.hw) { return; }
    let ch = (i / p.hw) % p.c;
    var v = params[p.gamma_off + ch] * (x[i] - save[ch]) * save[p.c + ch] + params[p.beta_off + ch];
    if (p.relu != 0u) { v = max(v, 0.0); }
    y[i] = v;
}
