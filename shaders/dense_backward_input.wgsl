// Dense backward w.r.t. the input: dx[s, i] = sum_j dy[s, j] * W[i, j]. When the input comes
// from a ReLU (p.relu), that ReLU's backward is fused here: dx is kept only where x > 0.
@group(0) @binding(0) var<uniform> p: DenseParams;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> params: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;
@group(0) @binding(4) var<storage, read> x: array<f32>;  // the layer's input (read if p.relu)

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 256u;
    if (i >= p.n * p.inputs) { return; }
    let k = i % p.inputs;
    let s = i / p.inputs;
    var acc = 0.0;
    for (var j = 0u; j < p.outputs; j++) {
        acc += dy[s * p.outputs + j] * params[p.w_off + k * p.outputs + j];
    }
    dx[i] = select(0.0, acc, p.relu == 0u || x[i] > 0.0);
}
