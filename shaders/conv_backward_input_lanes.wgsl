// Convolution backward w.r.t. the input for CPU adapters, laid out like
// conv_forward_lanes.wgsl: each invocation computes PX input pixels x 16 input channels
// (the dispatch's), with the weights as uniform vec4 packed by conv_pack_weights.wgsl
// (row (output channel, tap), 16 input channels). As in conv_backward_input.wgsl, the
// pixels are split into stride x stride phases (workgroup_id.y) that share their taps,
// so no multiply is spent on a tap that misses.
@group(0) @binding(0) var<uniform> p: ConvBackwardInputLanesParams;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read_write> dx: array<f32>;
// Row r = (oc, ky, kx) holds the weights of input channels ic0 .. ic0 + 15.
@group(0) @binding(3) var<uniform> channel_rows: array<vec4<f32>, 4096>;


@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let st = p.g.stride;
    let py = wid.y / st;
    let px = wid.y % st;
    // The phase's first row and column: (iy + pad_top) mod stride == py.
    let iy0 = (py + st - p.g.pad_top % st) % st;
    let ix0 = (px + st - p.g.pad_left % st) % st;
    if (iy0 >= p.g.h || ix0 >= p.g.w) { return; }
    let hc = (p.g.h - iy0 + st - 1u) / st;
    let wc = (p.g.w - ix0 + st - 1u) / st;
    let phase_pixels = hc * wc;
    let m_total = p.g.n * phase_pixels;
    let m0 = wid.x * WG * PX + lid;
    let kyn = select(0u, (p.g.k - py + st - 1u) / st, py < p.g.k);
    let kxn = select(0u, (p.g.k - px + st - 1u) / st, px < p.g.k);
    // iy + pad_top = stride qy + py, and tap ky = py + stride kyq reads output row qy - kyq.
    var dy_base: array<u32, PX>;
    var qy_base: array<i32, PX>; // far below zero: no pixel
    var qx_base: array<i32, PX>;
    for (var i = 0u; i < PX; i++) {
        let m = m0 + WG * i;
        let q = m % phase_pixels;
        dy_base[i] = (m / phase_pixels) * p.g.o * p.g.oh * p.g.ow;
        qy_base[i] = select(-1000000, i32((iy0 + st * (q / wc) + p.g.pad_top - py) / st), m < m_total);
        qx_base[i] = i32((ix0 + st * (q % wc) + p.g.pad_left - px) / st);
    }
    var acc: Lanes; // acc[4i + q][j]: pixel i, channel ic0 + 4q + j
    for (var oc = 0u; oc < p.g.o; oc++) {
        for (var kyq = 0u; kyq < kyn; kyq++) {
            for (var kxq = 0u; kxq < kxn; kxq++) {
                var v: array<f32, PX>;
                for (var i = 0u; i < PX; i++) {
                    let oy = qy_base[i] - i32(kyq);
                    let ox = qx_base[i] - i32(kxq);
                    let inside = oy >= 0 && ox >= 0 && oy < i32(p.g.oh) && ox < i32(p.g.ow);
                    let at = select(0u, dy_base[i] + (oc * p.g.oh + u32(oy)) * p.g.ow + u32(ox), inside);
                    v[i] = select(0.0, dy[at], inside);
                }
                lanes_step(&acc, v, (oc * p.g.k + py + st * kyq) * p.g.k + px + st * kxq);
            }
        }
    }

    var sums = lanes_copy(&acc);
    for (var i = 0u; i < PX; i++) {
        let m = m0 + WG * i;
        let q = m % phase_pixels;
        // Offset of (sample, channel 0, iy, ix) in dx.
        let at = (m / phase_pixels) * p.g.c * p.g.h * p.g.w + (iy0 + st * (q / wc)) * p.g.w + ix0 + st * (q % wc);
        for (var b = 0u; b < 4u; b++) {
            let a = sums[4u * i + b];
            let ic = p.ic0 + 4u * b;
            store(m < m_total, at, ic, a.x);
            store(m < m_total, at, ic + 1u, a.y);
            store(m < m_total, at, ic + 2u, a.z);
            store(m < m_total, at, ic + 3u, a.w);
        }
    }
}

fn store(valid: bool, at: u32, ic: u32, v: f32) {
    if (valid && ic < p.g.c) {
        dx[at + ic * p.g.h * p.g.w] = v;
    }
}
