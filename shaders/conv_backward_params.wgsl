// Convolution backward w.r.t. weights and bias, as a GEMM over the batch:
// dW[oc, k] = sum_m dy[m, oc] * A[m, k], where m runs over (sample, output pixel), k over
// (input channel, kernel row, kernel column) and A is the image patch matrix (im2col) of x,
// gathered on the fly. One extra column of ones (k = K) gives the bias gradient in the same
// pass. A workgroup computes a 32x64 tile of [dW | db] (32 output channels x 64 columns)
// over one chunk of `m_chunk` rows (split-K: the output is tiny and m is long, so a real GPU
// needs many workgroups per tile), staging 16 rows of dy and A at a time in workgroup
// memory; each of its 32 invocations keeps 8x8 results in registers. Each chunk writes its partial
// sums to `partials` [split][o][k + 1]; conv_params_reduce adds them up into the gradients.
struct Params {
    n: u32, c: u32, h: u32, w: u32,
    o: u32, oh: u32, ow: u32, k: u32,
    stride: u32, pad_top: u32, pad_left: u32, m_chunk: u32,
    col_tiles: u32, _pad0: u32, _pad1: u32, _pad2: u32,
}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read_write> partials: array<f32>;

const TO: u32 = 32u;
const TC: u32 = 64u;
const TK: u32 = 16u;
var<workgroup> dy_tile: array<vec4<f32>, 128>; // [TK][TO / 4], 4 values per element
var<workgroup> a_tile: array<vec4<f32>, 256>;  // [TK][TC / 4], 4 values per element

@compute @workgroup_size(32)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let pixels = p.oh * p.ow;
    let m_total = p.n * pixels;
    let area = p.k * p.k;
    let k_total = p.c * area;
    let o0 = wid.x * TO;
    let c0 = (wid.y % p.col_tiles) * TC;
    let split = wid.y / p.col_tiles;
    let m_begin = split * p.m_chunk;
    let m_end = min(m_total, m_begin + p.m_chunk);
    let to = (lid % 4u) * 8u;
    let tc = (lid / 4u) * 8u;
    var acc: array<vec4<f32>, 16>; // block_value(i, j): channel o0 + to + i, column c0 + tc + j

    // This invocation stages row mr = lid % 16 of each slice, for the 16 channels (of dy) and
    // 32 columns (of A) lid / 16 + 2r. The columns' kernel taps do not change along m.
    let mr = lid % TK;
    var x_chan: array<u32, 32>; // offset of the column's input channel within a sample
    var ky_off: array<i32, 32>; // ky - pad_top
    var kx_off: array<i32, 32>;
    var kind: array<u32, 32>;   // 0: a weight column, 1: the bias column (ones), 2: past the end
    for (var r = 0u; r < 32u; r++) {
        let kg = c0 + lid / TK + 2u * r;
        let kyx = kg % area;
        x_chan[r] = (kg / area) * p.h * p.w;
        ky_off[r] = i32(kyx / p.k) - i32(p.pad_top);
        kx_off[r] = i32(kyx % p.k) - i32(p.pad_left);
        kind[r] = select(select(2u, 1u, kg == k_total), 0u, kg < k_total);
    }
    let sample_len = p.c * p.h * p.w;

    for (var m0 = m_begin; m0 < m_end; m0 += TK) {
        let m = m0 + mr;
        let in_range = m < m_end;
        let s = m / pixels;
        let pix = m % pixels;
        let y0 = i32((pix / p.ow) * p.stride);
        let x0 = i32((pix % p.ow) * p.stride);
        for (var r = 0u; r < 16u; r++) {
            let orow = lid / TK + 2u * r;
            let oc = o0 + orow;
            var v = 0.0;
            if (in_range && oc < p.o) {
                v = dy[(s * p.o + oc) * pixels + pix];
            }
            let f_dy_tile = mr * TO + orow;
            dy_tile[f_dy_tile / 4u][f_dy_tile % 4u] = v;
        }
        for (var r = 0u; r < 32u; r++) {
            let col = lid / TK + 2u * r;
            var v = 0.0;
            if (in_range && kind[r] == 0u) {
                let iy = y0 + ky_off[r];
                let ix = x0 + kx_off[r];
                if (iy >= 0 && ix >= 0 && iy < i32(p.h) && ix < i32(p.w)) {
                    v = x[s * sample_len + x_chan[r] + u32(iy) * p.w + u32(ix)];
                }
            } else if (in_range && kind[r] == 1u) {
                v = 1.0;
            }
            let f_a_tile = mr * TC + col;
            a_tile[f_a_tile / 4u][f_a_tile % 4u] = v;
        }
        workgroupBarrier();
        for (var q = 0u; q < TK; q++) {
            let a = q * (TO / 4u) + to / 4u;
            let b = q * (TC / 4u) + tc / 4u;
            outer_product_add(&acc, dy_tile[a], dy_tile[a + 1u], a_tile[b], a_tile[b + 1u]);
        }
        workgroupBarrier();
    }

    let row_len = k_total + 1u;
    for (var i = 0u; i < 8u; i++) {
        let oc = o0 + to + i;
        if (oc >= p.o) { continue; }
        for (var j = 0u; j < 8u; j++) {
            let kg = c0 + tc + j;
            if (kg < row_len) {
                partials[(split * p.o + oc) * row_len + kg] = block_value(&acc, i, j);
            }
        }
    }
}
