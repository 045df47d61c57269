// Convolution backward w.r.t. the input: one invocation per input element, gathering the
// output positions whose window covers it (no atomics needed).
struct Params {
    n: u32, c: u32, h: u32, w: u32,
    o: u32, oh: u32, ow: u32, k: u32,
    stride: u32, pad_top: u32, pad_left: u32, w_off: u32,
}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> params: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 256u;
    if (i >= p.n * p.c * p.h * p.w) { return; }
    let ix = i % p.w;
    let iy = (i / p.w) % p.h;
    let ic = (i / (p.w * p.h)) % p.c;
    let s = i / (p.w * p.h * p.c);
    var acc = 0.0;
    for (var ky = 0u; ky < p.k; ky++) {
        // Output row oy reads input row oy*stride + ky - pad_top.
        let ty = i32(iy + p.pad_top) - i32(ky);
        if (ty < 0 || (u32(ty) % p.stride) != 0u) { continue; }
        let oy = u32(ty) / p.stride;
        if (oy >= p.oh) { continue; }
        for (var kx = 0u; kx < p.k; kx++) {
            let tx = i32(ix + p.pad_left) - i32(kx);
            if (tx < 0 || (u32(tx) % p.stride) != 0u) { continue; }
            let ox = u32(tx) / p.stride;
            if (ox >= p.ow) { continue; }
            for (var oc = 0u; oc < p.o; oc++) {
                acc += dy[((s * p.o + oc) * p.oh + oy) * p.ow + ox]
                     * params[p.w_off + ((oc * p.c + ic) * p.k + ky) * p.k + kx];
            }
        }
    }
    dx[i] = acc;
}
