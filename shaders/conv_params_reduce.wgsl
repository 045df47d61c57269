// Second half of the split-K weight gradient: sums conv_backward_params' partial tiles
// [split][o][k + 1] into the weight gradient [o][k] at `w_off` and the bias gradient at
// `b_off` (the last column).
// `bias_zero`: a BatchNorm follows, so the bias gradient is exactly zero; write 0 rather
// than f32 cancellation noise, which Adam would blow up into real updates.
@group(0) @binding(0) var<uniform> p: AdamSegment;
@group(0) @binding(1) var<storage, read> partials: array<f32>;
@group(0) @binding(2) var<storage, read_write> grads: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 256u;
    let row_len = p.k + 1u;
    let len = p.o * row_len;
    if (i >= len) { return; }
    var sum = 0.0;
    for (var s = 0u; s < p.splits; s++) {
        sum += partials[p.partials_off + s * len + i];
    }
    let oc = i / row_len;
    let col = i % row_len;
    if (col < p.k) {
        grads[p.w_off + oc * p.k + col] = sum;
    } else {
        grads[p.b_off + oc] = select(sum, 0.0, p.bias_zero != 0u);
    }
}
