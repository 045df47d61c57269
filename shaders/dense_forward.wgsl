// Dense forward: y[s, j] = b[j] + sum_i x[s, i] * W[i, j], with W stored [in, out].
@group(0) @binding(0) var<uniform> p: DenseParams;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> params: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 256u;
    if (i >= p.n * p.outputs) { return; }
    let j = i % p.outputs;
    let s = i / p.outputs;
    var acc = params[p.b_off + j];
    for (var k = 0u; k < p.inputs; k++) {
        acc += x[s * p.inputs + k] * params[p.w_off + k * p.outputs + j];
    }
    y[i] = acc;
}
