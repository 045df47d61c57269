// The jit lesson, "eager": one elementwise operation per dispatch, each writing its own
// intermediate buffer, the way an array library runs op by op without compilation.
@group(0) @binding(0) var<uniform> p: EagerOpParams;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read> c: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 256u;
    if (i >= p.count) { return; }
    switch p.op {
        case 0u: { out[i] = exp(a[i]); }
        case 1u: { out[i] = a[i] * p.s; }
        case 2u: { out[i] = a[i] + p.s; }
        case 3u: { out[i] = select(0.0, 1.0, a[i] > p.s); }
        default: { out[i] = select(c[i], b[i], a[i] != 0.0); }
    }
}
