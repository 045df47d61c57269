// Convolution backward w.r.t. weights and bias, as a GEMM over the batch:
// dW[oc, k] = sum_m dy[m, oc] * A[m, k], where m runs over (sample, output pixel), k over
// (input channel, kernel row, kernel column) and A is the image patch matrix (im2col) of x,
// gathered on the fly. One extra column of ones (k = K) gives the bias gradient in the same
// pass. A workgroup computes a 32 x TC tile of [dW | db] (32 output channels x TC columns)
// over one chunk of `m_chunk` rows (split-K: the output is tiny and m is long, so a real GPU
// needs many workgroups per tile), staging 16 rows of dy and A at a time in workgroup
// memory; each invocation keeps a BM x BN block in registers (from the prepended block file). Each chunk writes its partial
// sums to `partials` [split][o][k + 1]; conv_params_reduce adds them up into the gradients.
@group(0) @binding(0) var<uniform> p: ConvBackwardParamsParams;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read_write> partials: array<f32>;

const TO: u32 = 32u;
const TC: u32 = 8u * BN;
var<workgroup> tile_a: array<vec4<f32>, TK * TO / 4u>; // dy: [TK][TO / 4], 4 values per element
var<workgroup> tile_b: array<vec4<f32>, TK * TC / 4u>; // A: [TK][TC / 4], 4 values per element

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let pixels = p.g.oh * p.g.ow;
    let m_total = p.g.n * pixels;
    let area = p.g.k * p.g.k;
    let k_total = p.g.c * area;
    let o0 = wid.x * TO;
    let c0 = (wid.y % p.col_tiles) * TC;
    let split = wid.y / p.col_tiles;
    let m_begin = split * p.m_chunk;
    let m_end = min(m_total, m_begin + p.m_chunk);
    let to = (lid % (TO / BM)) * BM;
    let tc = (lid / (TO / BM)) * BN;
    var acc: Acc; // block_value(i, j): channel o0 + to + i, column c0 + tc + j

    // This invocation stages row mr = lid % 16 of each slice, for the channels (of dy) and
    // columns (of A) lid / 16 + STRIDE r. The columns' kernel taps do not change along m.
    let mr = lid % TK;
    var x_chan: array<u32, TC / STRIDE>; // offset of the column's input channel within a sample
    var ky_off: array<i32, TC / STRIDE>; // ky - pad_top
    var kx_off: array<i32, TC / STRIDE>;
    var kind: array<u32, TC / STRIDE>;   // 0: a weight column, 1: the bias column (ones), 2: past the end
    for (var r = 0u; r < TC / STRIDE; r++) {
        let kg = c0 + lid / TK + STRIDE * r;
        let kyx = kg % area;
        x_chan[r] = (kg / area) * p.g.h * p.g.w;
        ky_off[r] = i32(kyx / p.g.k) - i32(p.g.pad_top);
        kx_off[r] = i32(kyx % p.g.k) - i32(p.g.pad_left);
        kind[r] = select(select(2u, 1u, kg == k_total), 0u, kg < k_total);
    }
    let sample_len = p.g.c * p.g.h * p.g.w;

    for (var m0 = m_begin; m0 < m_end; m0 += TK) {
        let m = m0 + mr;
        let in_range = m < m_end;
        let s = m / pixels;
        let pix = m % pixels;
        let y0 = i32((pix / p.g.ow) * p.g.stride);
        let x0 = i32((pix % p.g.ow) * p.g.stride);
        for (var r = 0u; r < TO / STRIDE; r++) {
            let orow = lid / TK + STRIDE * r;
            let oc = o0 + orow;
            var v = 0.0;
            if (in_range && oc < p.g.o) {
                v = dy[(s * p.g.o + oc) * pixels + pix];
            }
            let f = mr * TO + orow;
            tile_a[f / 4u][f % 4u] = v;
        }
        for (var r = 0u; r < TC / STRIDE; r++) {
            let col = lid / TK + STRIDE * r;
            var v = 0.0;
            if (in_range && kind[r] == 0u) {
                let iy = y0 + ky_off[r];
                let ix = x0 + kx_off[r];
                if (iy >= 0 && ix >= 0 && iy < i32(p.g.h) && ix < i32(p.g.w)) {
                    v = x[s * sample_len + x_chan[r] + u32(iy) * p.g.w + u32(ix)];
                }
            } else if (in_range && kind[r] == 1u) {
                v = 1.0;
            }
            let f = mr * TC + col;
            tile_b[f / 4u][f % 4u] = v;
        }
        multiply_staged_slice(&acc, TO, to, TC, tc);
    }

    let row_len = k_total + 1u;
    for (var i = 0u; i < BM; i++) {
        let oc = o0 + to + i;
        if (oc >= p.g.o) { continue; }
        for (var j = 0u; j < BN; j++) {
            let kg = c0 + tc + j;
            if (kg < row_len) {
                partials[(split * p.g.o + oc) * row_len + kg] = block_value(&acc, i, j);
            }
        }
    }
}
