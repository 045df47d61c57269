// The jit lesson, "compiled": SELU in one pass over x, no intermediate buffers.
// y = lambda * (x > 0 ? x : alpha * exp(x) - alpha)
@group(0) @binding(0) var<uniform> p: SeluParams;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 256u;
    if (i >= p.count) { return; }
    let v = x[i];
    y[i] = p.lambda * select(p.alpha * exp(v) - p.alpha, v, v > 0.0);
}
