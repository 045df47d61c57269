// Convolution backward w.r.t. the input, as one GEMM per stride phase. An input pixel
// (iy, ix) receives from kernel taps ky = (iy + pad_top) mod stride (+ stride, + 2 stride,
// ...) only, and likewise for kx, so the pixels are split into stride x stride phases
// with the same taps. Within a phase: dx[m, ic] = sum_k A[m, k] * B[k, ic], where m runs
// over the phase's (sample, pixel), k over (output channel, tap) and A gathers the dy
// value each tap reads (0 past the border). No multiply is wasted on taps that miss.
// A workgroup computes 64 pixels x 32 input channels of one phase, staging 16-deep slices
// of A and B in workgroup memory, with 8x8 results per invocation (32 of them) in registers.
struct Params {
    n: u32, c: u32, h: u32, w: u32,
    o: u32, oh: u32, ow: u32, k: u32,
    stride: u32, pad_top: u32, pad_left: u32, w_off: u32,
}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> params: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;

const TM: u32 = 64u;
const TN: u32 = 32u;
const TK: u32 = 16u;
var<workgroup> a_tile: array<vec4<f32>, 256>; // [TK][TM / 4], 4 values per element
var<workgroup> b_tile: array<vec4<f32>, 128>; // [TK][TN / 4], 4 values per element

@compute @workgroup_size(32)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let st = p.stride;
    let c_tiles = (p.c + TN - 1u) / TN;
    let phase = wid.y / c_tiles;
    let c0 = (wid.y % c_tiles) * TN;
    let py = phase / st;
    let px = phase % st;
    // The first row and column of this phase: (iy + pad_top) mod stride == py.
    let iy0 = (py + st - p.pad_top % st) % st;
    let ix0 = (px + st - p.pad_left % st) % st;
    if (iy0 >= p.h || ix0 >= p.w) { return; }
    let hc = (p.h - iy0 + st - 1u) / st;
    let wc = (p.w - ix0 + st - 1u) / st;
    let phase_pixels = hc * wc;
    let m_total = p.n * phase_pixels;
    let m0 = wid.x * TM;
    if (m0 >= m_total) { return; }
    let kyn = select(0u, (p.k - py + st - 1u) / st, py < p.k);
    let kxn = select(0u, (p.k - px + st - 1u) / st, px < p.k);
    let taps = kyn * kxn;
    let k_total = p.o * taps;
    let tm = (lid % 8u) * 8u;
    let tn = (lid / 8u) * 8u;
    var acc: array<vec4<f32>, 16>; // block_value(i, j): pixel m0 + tm + i, channel c0 + tn + j

    // This invocation stages column kr = lid % 16 of each slice, for the 32 pixels (of A)
    // and 16 channels (of B) lid / 16 + 2r. The pixels' coordinates do not change along k.
    let kr = lid % TK;
    var dy_base: array<u32, 32>; // offset of the pixel's sample in dy
    var ty_base: array<i32, 32>; // iy + pad_top (negative: no pixel)
    var tx_base: array<i32, 32>;
    for (var r = 0u; r < 32u; r++) {
        let m = m0 + lid / TK + 2u * r;
        let s = m / phase_pixels;
        let q = m % phase_pixels;
        dy_base[r] = s * p.o * p.oh * p.ow;
        ty_base[r] = select(-1000000, i32(iy0 + st * (q / wc) + p.pad_top), m < m_total);
        tx_base[r] = i32(ix0 + st * (q % wc) + p.pad_left);
    }

    for (var k0 = 0u; k0 < k_total; k0 += TK) {
        let kg = k0 + kr;
        let oc = kg / taps;
        let t = kg % taps;
        let ky = py + st * (t / kxn);
        let kx = px + st * (t % kxn);
        let in_range = kg < k_total;
        for (var r = 0u; r < 32u; r++) {
            // Exact divisions: the phase makes iy + pad_top - ky a multiple of the stride.
            let ty = ty_base[r] - i32(ky);
            let tx = tx_base[r] - i32(kx);
            var v = 0.0;
            if (in_range && ty >= 0 && tx >= 0) {
                let oy = u32(ty) / st;
                let ox = u32(tx) / st;
                if (oy < p.oh && ox < p.ow) {
                    v = dy[dy_base[r] + (oc * p.oh + oy) * p.ow + ox];
                }
            }
            let f_a_tile = kr * TM + lid / TK + 2u * r;
            a_tile[f_a_tile / 4u][f_a_tile % 4u] = v;
        }
        for (var r = 0u; r < 16u; r++) {
            let col = lid / TK + 2u * r;
            let ic = c0 + col;
            var v = 0.0;
            if (in_range && ic < p.c) {
                v = params[p.w_off + ((oc * p.c + ic) * p.k + ky) * p.k + kx];
            }
            let f_b_tile = kr * TN + col;
            b_tile[f_b_tile / 4u][f_b_tile % 4u] = v;
        }
        workgroupBarrier();
        for (var q = 0u; q < TK; q++) {
            let a = q * (TM / 4u) + tm / 4u;
            let b = q * (TN / 4u) + tn / 4u;
            outer_product_add(&acc, a_tile[a], a_tile[a + 1u], b_tile[b], b_tile[b + 1u]);
        }
        workgroupBarrier();
    }

    for (var i = 0u; i < 8u; i++) {
        let m = m0 + tm + i;
        if (m >= m_total) { continue; }
        let s = m / phase_pixels;
        let q = m % phase_pixels;
        let iy = iy0 + st * (q / wc);
        let ix = ix0 + st * (q % wc);
        for (var j = 0u; j < 8u; j++) {
            let ic = c0 + tn + j;
            if (ic >= p.c) { continue; }
            dx[((s * p.c + ic) * p.h + iy) * p.w + ix] = block_value(&acc, i, j);
        }
    }
}
