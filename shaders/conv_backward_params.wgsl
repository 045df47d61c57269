// Convolution backward w.r.t. weights and bias. One workgroup per weight element (then one
// per bias), reducing over batch and output positions in workgroup memory.
// `bias_feeds_bn`: a BatchNorm follows, so the bias gradient is exactly zero; write 0 rather
// than f32 cancellation noise, which Adam would blow up into real updates.
struct Params {
    n: u32, c: u32, h: u32, w: u32,
    o: u32, oh: u32, ow: u32, k: u32,
    stride: u32, pad_top: u32, pad_left: u32, w_off: u32,
    b_off: u32, bias_feeds_bn: u32, _pad1: u32, _pad2: u32,
}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read_write> grads: array<f32>;

const WG: u32 = 64u;
var<workgroup> partial: array<f32, 64>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let g = wid.x + wid.y * nwg.x;
    let weights = p.o * p.c * p.k * p.k;
    if (g >= weights + p.o) { return; }
    let per_sample = p.oh * p.ow;
    let total = p.n * per_sample;
    var acc = 0.0;
    if (g < weights) {
        let kx = g % p.k;
        let ky = (g / p.k) % p.k;
        let ic = (g / (p.k * p.k)) % p.c;
        let oc = g / (p.k * p.k * p.c);
        for (var j = lid; j < total; j += WG) {
            let s = j / per_sample;
            let oy = (j / p.ow) % p.oh;
            let ox = j % p.ow;
            let iy = i32(oy * p.stride + ky) - i32(p.pad_top);
            let ix = i32(ox * p.stride + kx) - i32(p.pad_left);
            if (iy < 0 || ix < 0 || iy >= i32(p.h) || ix >= i32(p.w)) { continue; }
            acc += dy[(s * p.o + oc) * per_sample + oy * p.ow + ox]
                 * x[((s * p.c + ic) * p.h + u32(iy)) * p.w + u32(ix)];
        }
    } else if (p.bias_feeds_bn == 0u) {
        let oc = g - weights;
        for (var j = lid; j < total; j += WG) {
            let s = j / per_sample;
            acc += dy[(s * p.o + oc) * per_sample + j % per_sample];
        }
    }
    partial[lid] = acc;
    workgroupBarrier();
    for (var stride = WG / 2u; stride > 0u; stride /= 2u) {
        if (lid < stride) { partial[lid] += partial[lid + stride]; }
        workgroupBarrier();
    }
    if (lid == 0u) {
        if (g < weights) { grads[p.w_off + g] = partial[0]; } else { grads[p.b_off + g - weights] = partial[0]; }
    }
}
