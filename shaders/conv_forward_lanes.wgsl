// Convolution forward for CPU adapters (lavapipe, SwiftShader), which run a workgroup as
// SIMD lanes: a load whose address differs per lane costs a gather, one that is the same
// for every lane costs a single load. So each invocation computes PX output pixels (its
// own) x 16 output channels (the dispatch's, the same for all), without workgroup memory:
// per kernel tap, PX gathered input values and four uniform vec4 of weights feed 64 PX
// multiply-adds. The weights come packed by conv_pack_weights.wgsl, one block of 16
// channels per dispatch, bound as a uniform buffer.
@group(0) @binding(0) var<uniform> p: ConvForwardLanesParams;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> params: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
// Row r (input channel, tap) holds the weights of output channels oc0 .. oc0 + 15.
@group(0) @binding(4) var<uniform> channel_rows: array<vec4<f32>, 4096>;


@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let pixels = p.g.oh * p.g.ow;
    let m_total = p.g.n * pixels;
    let m0 = wid.x * WG * PX + lid;
    // The pixels' coordinates, worked out once: the sample's offset in x and the input
    // row and column of tap (0, 0) (far below zero: no pixel).
    var x_base: array<u32, PX>;
    var iy_base: array<i32, PX>;
    var ix_base: array<i32, PX>;
    for (var i = 0u; i < PX; i++) {
        let m = m0 + WG * i;
        let pix = m % pixels;
        x_base[i] = (m / pixels) * p.g.c * p.g.h * p.g.w;
        iy_base[i] = select(-1000000, i32((pix / p.g.ow) * p.g.stride) - i32(p.g.pad_top), m < m_total);
        ix_base[i] = i32((pix % p.g.ow) * p.g.stride) - i32(p.g.pad_left);
    }
    var acc: Lanes; // acc[4i + q][j]: pixel i, channel oc0 + 4q + j
    for (var ic = 0u; ic < p.g.c; ic++) {
        for (var ky = 0u; ky < p.g.k; ky++) {
            for (var kx = 0u; kx < p.g.k; kx++) {
                var v: array<f32, PX>;
                for (var i = 0u; i < PX; i++) {
                    let iy = iy_base[i] + i32(ky);
                    let ix = ix_base[i] + i32(kx);
                    let inside = iy >= 0 && ix >= 0 && iy < i32(p.g.h) && ix < i32(p.g.w);
                    let at = select(0u, x_base[i] + (ic * p.g.h + u32(iy)) * p.g.w + u32(ix), inside);
                    v[i] = select(0.0, x[at], inside);
                }
                lanes_step(&acc, v, (ic * p.g.k + ky) * p.g.k + kx);
            }
        }
    }

    var sums = lanes_copy(&acc);
    for (var i = 0u; i < PX; i++) {
        let m = m0 + WG * i;
        for (var q = 0u; q < 4u; q++) {
            let a = sums[4u * i + q];
            let oc = p.oc0 + 4u * q;
            store(m, m_total, oc, a.x);
            store(m, m_total, oc + 1u, a.y);
            store(m, m_total, oc + 2u, a.z);
            store(m, m_total, oc + 3u, a.w);
        }
    }
}

fn store(m: u32, m_total: u32, oc: u32, sum: f32) {
    if (m >= m_total || oc >= p.g.o) { return; }
    let pixels = p.g.oh * p.g.ow;
    var v = sum + params[p.b_off + oc];
    if (p.relu != 0u) { v = max(v, 0.0); }
    y[((m / pixels) * p.g.o + oc) * pixels + m % pixels] = v;
}
