// Convolution backward w.r.t. the input, as one GEMM per stride phase. An input pixel
// (iy, ix) receives from kernel taps ky = (iy + pad_top) mod stride (+ stride, + 2 stride,
// ...) only, and likewise for kx, so the pixels are split into stride x stride phases
// with the same taps. Within a phase: dx[m, ic] = sum_k A[m, k] * B[k, ic], where m runs
// over the phase's (sample, pixel), k over (output channel, tap) and A gathers the dy
// value each tap reads (0 past the border). No multiply is wasted on taps that miss.
// A workgroup computes TM pixels x 32 input channels of one phase, staging 16-deep slices
// of A and B in workgroup memory, with a BM x BN block per invocation in registers (from
// the prepended block file).
@group(0) @binding(0) var<uniform> p: ConvBackwardInputParams;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> params: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;

const TM: u32 = 8u * BM;
const TN: u32 = 32u;
var<workgroup> tile_a: array<vec4<f32>, TK * TM / 4u>; // A: [TK][TM / 4], 4 values per element
var<workgroup> tile_b: array<vec4<f32>, TK * TN / 4u>; // B: [TK][TN / 4], 4 values per element

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let st = p.g.stride;
    let c_tiles = (p.g.c + TN - 1u) / TN;
    let phase = wid.y / c_tiles;
    let c0 = (wid.y % c_tiles) * TN;
    let py = phase / st;
    let px = phase % st;
    // The first row and column of this phase: (iy + pad_top) mod stride == py.
    let iy0 = (py + st - p.g.pad_top % st) % st;
    let ix0 = (px + st - p.g.pad_left % st) % st;
    if (iy0 >= p.g.h || ix0 >= p.g.w) { return; }
    let hc = (p.g.h - iy0 + st - 1u) / st;
    let wc = (p.g.w - ix0 + st - 1u) / st;
    let phase_pixels = hc * wc;
    let m_total = p.g.n * phase_pixels;
    let m0 = wid.x * TM;
    if (m0 >= m_total) { return; }
    let kyn = select(0u, (p.g.k - py + st - 1u) / st, py < p.g.k);
    let kxn = select(0u, (p.g.k - px + st - 1u) / st, px < p.g.k);
    let taps = kyn * kxn;
    let k_total = p.g.o * taps;
    let tm = (lid % 8u) * BM;
    let tn = (lid / 8u) * BN;
    var acc: Acc; // block_value(i, j): pixel m0 + tm + i, channel c0 + tn + j

    // This invocation stages column kr = lid % 16 of each slice, for the pixels (of A) and
    // channels (of B) lid / 16 + STRIDE r. The pixels' coordinates do not change along k.
    let kr = lid % TK;
    // In the phase, iy + pad_top = stride * qy + py, and a tap ky = py + stride * kyq reads
    // output row oy = qy - kyq: no division per staged value.
    var dy_base: array<u32, TM / STRIDE>; // offset of the pixel's sample in dy
    var qy_base: array<i32, TM / STRIDE>; // qy (very negative: no pixel)
    var qx_base: array<i32, TM / STRIDE>;
    for (var r = 0u; r < TM / STRIDE; r++) {
        let m = m0 + lid / TK + STRIDE * r;
        let s = m / phase_pixels;
        let q = m % phase_pixels;
        dy_base[r] = s * p.g.o * p.g.oh * p.g.ow;
        qy_base[r] = select(-1000000, i32((iy0 + st * (q / wc) + p.g.pad_top - py) / st), m < m_total);
        qx_base[r] = i32((ix0 + st * (q % wc) + p.g.pad_left - px) / st);
    }

    for (var k0 = 0u; k0 < k_total; k0 += TK) {
        let kg = k0 + kr;
        let oc = kg / taps;
        let t = kg % taps;
        let kyq = t / kxn;
        let kxq = t % kxn;
        let ky = py + st * kyq;
        let kx = px + st * kxq;
        let in_range = kg < k_total;
        for (var r = 0u; r < TM / STRIDE; r++) {
            let oy = qy_base[r] - i32(kyq);
            let ox = qx_base[r] - i32(kxq);
            var v = 0.0;
            if (in_range && oy >= 0 && ox >= 0 && oy < i32(p.g.oh) && ox < i32(p.g.ow)) {
                v = dy[dy_base[r] + (oc * p.g.oh + u32(oy)) * p.g.ow + u32(ox)];
            }
            let f = kr * TM + lid / TK + STRIDE * r;
            tile_a[f / 4u][f % 4u] = v;
        }
        for (var r = 0u; r < TN / STRIDE; r++) {
            let col = lid / TK + STRIDE * r;
            let ic = c0 + col;
            var v = 0.0;
            if (in_range && ic < p.g.c) {
                v = params[p.w_off + ((oc * p.g.c + ic) * p.g.k + ky) * p.g.k + kx];
            }
            let f = kr * TN + col;
            tile_b[f / 4u][f % 4u] = v;
        }
        multiply_staged_slice(&acc, TM, tm, TN, tn);
    }

    for (var i = 0u; i < BM; i++) {
        let m = m0 + tm + i;
        if (m >= m_total) { continue; }
        let s = m / phase_pixels;
        let q = m % phase_pixels;
        let iy = iy0 + st * (q / wc);
        let ix = ix0 + st * (q % wc);
        for (var j = 0u; j < BN; j++) {
            let ic = c0 + tn + j;
            if (ic >= p.g.c) { continue; }
            dx[((s * p.g.c + ic) * p.g.h + iy) * p.g.w + ix] = block_value(&acc, i, j);
        }
    }
}
