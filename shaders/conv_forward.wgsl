// Convolution forward (NCHW, OIHW weights, SAME padding given as top/left), optional fused ReLU.
// One invocation per output element.
struct Params {
    n: u32, c: u32, h: u32, w: u32,
    o: u32, oh: u32, ow: u32, k: u32,
    stride: u32, pad_top: u32, pad_left: u32, w_off: u32,
    b_off: u32, relu: u32, _pad0: u32, _pad1: u32,
}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> params: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 256u;
    if (i >= p.n * p.o * p.oh * p.ow) { return; }
    let ox = i % p.ow;
    let oy = (i / p.ow) % p.oh;
    let oc = (i / (p.ow * p.oh)) % p.o;
    let s = i / (p.ow * p.oh * p.o);
    var acc = params[p.b_off + oc];
    for (var ic = 0u; ic < p.c; ic++) {
        let x_base = (s * p.c + ic) * p.h;
        let w_base = p.w_off + (oc * p.c + ic) * p.k * p.k;
        for (var ky = 0u; ky < p.k; ky++) {
            let iy = i32(oy * p.stride + ky) - i32(p.pad_top);
            if (iy < 0 || iy >= i32(p.h)) { continue; }
            for (var kx = 0u; kx < p.k; kx++) {
                let ix = i32(ox * p.stride + kx) - i32(p.pad_left);
                if (ix < 0 || ix >= i32(p.w)) { continue; }
                acc += x[(x_base + u32(iy)) * p.w + u32(ix)] * params[w_base + ky * p.k + kx];
            }
        }
    }
    if (p.relu != 0u) { acc = max(acc, 0.0); }
    y[i] = acc;
}
