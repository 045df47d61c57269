// Convolution backward w.r.t. weights and bias for CPU adapters, laid out like
// conv_forward_lanes.wgsl: [dW | db][oc, col] = sum_m dy[m, oc] * A[m, col], where col runs
// over (input channel, kernel row, kernel column) and a last column of ones (the bias).
// Each invocation sums PX columns of its own x 16 output channels (the dispatch's) over one
// chunk of up to 1,024 rows m (the dispatch's), with the chunk's dy rows as uniform vec4
// packed by conv_pack_dy.wgsl. Per row: PX gathered patch values and four uniform vec4 of
// dy feed 64 PX multiply-adds. The chunks' sums go to `partials` [chunk][o][col], which
// conv_params_reduce.wgsl adds up, as for the tiled kernel.
@group(0) @binding(0) var<uniform> p: ConvBackwardParamsLanesParams;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> partials: array<f32>;
// Row m - m_begin holds dy[m, oc0 .. oc0 + 15].
@group(0) @binding(3) var<uniform> channel_rows: array<vec4<f32>, 4096>;


@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let area = p.g.k * p.g.k;
    let k_total = p.g.c * area;
    let pixels = p.g.oh * p.g.ow;
    let col0 = wid.x * WG * PX + lid;
    // The columns' taps, worked out once: the input channel's offset within a sample, the
    // kernel row and column less the padding, and whether it is the bias column (ones) or
    // past the end (zeros: a row far outside the image).
    var x_chan: array<u32, PX>;
    var ky_off: array<i32, PX>;
    var kx_off: array<i32, PX>;
    var ones: array<f32, PX>;
    for (var i = 0u; i < PX; i++) {
        let col = col0 + WG * i;
        let tap = col % area;
        x_chan[i] = min(col / area, p.g.c - 1u) * p.g.h * p.g.w;
        ky_off[i] = select(-1000000, i32(tap / p.g.k) - i32(p.g.pad_top), col < k_total);
        kx_off[i] = i32(tap % p.g.k) - i32(p.g.pad_left);
        ones[i] = select(0.0, 1.0, col == k_total);
    }
    let sample_len = p.g.c * p.g.h * p.g.w;
    var acc: Lanes; // acc[4i + q][j]: column i, channel oc0 + 4q + j
    // The row's sample and output pixel, stepped along without divisions.
    var s = p.m_begin / pixels;
    var oy = (p.m_begin % pixels) / p.g.ow;
    var ox = p.m_begin % p.g.ow;
    for (var r = 0u; r < p.m_end - p.m_begin; r++) {
        var v: array<f32, PX>;
        for (var i = 0u; i < PX; i++) {
            let iy = i32(oy * p.g.stride) + ky_off[i];
            let ix = i32(ox * p.g.stride) + kx_off[i];
            let inside = iy >= 0 && ix >= 0 && iy < i32(p.g.h) && ix < i32(p.g.w);
            let at = select(0u, s * sample_len + x_chan[i] + u32(iy) * p.g.w + u32(ix), inside);
            v[i] = select(ones[i], x[at], inside);
        }
        lanes_step(&acc, v, r);
        ox++;
        if (ox == p.g.ow) {
            ox = 0u;
            oy++;
            if (oy == p.g.oh) {
                oy = 0u;
                s++;
            }
        }
    }

    var sums = lanes_copy(&acc);
    for (var i = 0u; i < PX; i++) {
        let col = col0 + WG * i;
        for (var q = 0u; q < 4u; q++) {
            let a = sums[4u * i + q];
            let oc = p.oc0 + 4u * q;
            store(col, oc, a.x);
            store(col, oc + 1u, a.y);
            store(col, oc + 2u, a.z);
            store(col, oc + 3u, a.w);
        }
    }
}

fn store(col: u32, oc: u32, v: f32) {
    let row_len = p.g.c * p.g.k * p.g.k + 1u;
    if (col < row_len && oc < p.g.o) {
        partials[(p.chunk * p.g.o + oc) * row_len + col] = v;
    }
}
