// Adam over the whole flat parameter buffer in one dispatch. The bias corrections
// 1 - beta^t come from the per-step uniform, computed on the host in f64.
// Convolutions listed in `segments` left their weight gradient as partial sums per chunk of
// the batch: each parameter of theirs sums its column here (and stores the sum in `grads`,
// which the inspection reads), which saves one reduction dispatch per convolution.
@group(0) @binding(0) var<uniform> p: AdamParams;
@group(0) @binding(1) var<uniform> step: Step;
@group(0) @binding(2) var<storage, read_write> grads: array<f32>;
@group(0) @binding(3) var<storage, read_write> params: array<f32>;
@group(0) @binding(4) var<storage, read_write> m: array<f32>;
@group(0) @binding(5) var<storage, read_write> v: array<f32>;
@group(0) @binding(6) var<storage, read> partials: array<f32>;
@group(0) @binding(7) var<storage, read> segments: array<AdamSegment>;

// Parameter i's gradient: summed from its convolution's partials, or as stored.
fn gradient(i: u32) -> f32 {
    for (var s = 0u; s < p.segments; s++) {
        let seg = segments[s];
        let row_len = seg.k + 1u;
        var row = 0u;
        var col = 0u;
        if (i >= seg.w_off && i < seg.w_off + seg.o * seg.k) {
            row = (i - seg.w_off) / seg.k;
            col = (i - seg.w_off) % seg.k;
        } else if (i >= seg.b_off && i < seg.b_off + seg.o) {
            if (seg.bias_zero != 0u) {
                // Exactly 0 rather than f32 cancellation noise, which Adam would blow up.
                grads[i] = 0.0;
                return 0.0;
            }
            row = i - seg.b_off;
            col = seg.k;
        } else {
            continue;
        }
        let len = seg.o * row_len;
        var sum = 0.0;
        for (var c = 0u; c < seg.splits; c++) {
            sum += partials[seg.partials_off + c * len + row * row_len + col];
        }
        grads[i] = sum;
        return sum;
    }
    return grads[i];
}

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 256u;
    if (i >= p.count) { return; }
    let g = gradient(i);
    let mi = p.beta1 * m[i] + (1.0 - p.beta1) * g;
    let vi = p.beta2 * v[i] + (1.0 - p.beta2) * g * g;
    m[i] = mi;
    v[i] = vi;
    params[i] -= step.lr * (mi / step.bc1) / (sqrt(vi / step.bc2) + p.eps);
}
