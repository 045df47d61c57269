// Dense backward w.r.t. parameters: dW[i, j] = sum_s x[s, i] * dy[s, j]; db[j] = sum_s dy[s, j].
// One invocation per weight, then one per bias.
@group(0) @binding(0) var<uniform> p: DenseParams;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read_write> grads: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let g = gid.x + gid.y * nwg.x * 256u;
    let weights = p.inputs * p.outputs;
    if (g >= weights + p.outputs) { return; }
    var acc = 0.0;
    if (g < weights) {
        let k = g / p.outputs;
        let j = g % p.outputs;
        for (var s = 0u; s < p.n; s++) {
            acc += x[s * p.inputs + k] * dy[s * p.outputs + j];
        }
        grads[p.w_off + g] = acc;
    } else {
        let j = g - weights;
        for (var s = 0u; s < p.n; s++) {
            acc += dy[s * p.outputs + j];
        }
        grads[p.b_off + j] = acc;
    }
}
