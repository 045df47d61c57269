// Dense backward, both gradients in one dispatch. Invocations [0, P) take the parameters
// (P = inputs * outputs + outputs): dW[i, j] = sum_s x[s, i] * dy[s, j], then
// db[j] = sum_s dy[s, j]. With p.input_grad, the next n * inputs invocations take the input:
// dx[s, i] = sum_j dy[s, j] * W[i, j], kept only where x > 0 when the input comes from a
// ReLU (p.relu), so that ReLU's backward is fused here too.
@group(0) @binding(0) var<uniform> p: DenseParams;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read> params: array<f32>;
@group(0) @binding(4) var<storage, read_write> grads: array<f32>;
@group(0) @binding(5) var<storage, read_write> dx: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let g = gid.x + gid.y * nwg.x * 256u;
    let weights = p.inputs * p.outputs;
    let param_count = weights + p.outputs;
    var acc = 0.0;
    if (g < weights) {
        let k = g / p.outputs;
        let j = g % p.outputs;
        for (var s = 0u; s < p.n; s++) {
            acc += x[s * p.inputs + k] * dy[s * p.outputs + j];
        }
        grads[p.w_off + g] = acc;
    } else if (g < param_count) {
        let j = g - weights;
        for (var s = 0u; s < p.n; s++) {
            acc += dy[s * p.outputs + j];
        }
        grads[p.b_off + j] = acc;
    } else if (p.input_grad != 0u && g < param_count + p.n * p.inputs) {
        let i = g - param_count;
        let k = i % p.inputs;
        let s = i / p.inputs;
        for (var j = 0u; j < p.outputs; j++) {
            acc += dy[s * p.outputs + j] * params[p.w_off + k * p.outputs + j];
        }
        dx[i] = select(0.0, acc, p.relu == 0u || x[i] > 0.0);
    }
}
