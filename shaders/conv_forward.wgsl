// Convolution forward (NCHW, OIHW weights, SAME padding given as top/left), optional fused ReLU,
// as an implicit GEMM: Y[m, oc] = sum_k A[m, k] * W[oc, k] + b[oc], where m runs over
// (sample, output row, output column), k over (input channel, kernel row, kernel column), and
// A is the image patch matrix (im2col), gathered on the fly with zeros for the padding.
// A workgroup computes a TM x 32 tile of Y (TM output pixels x 32 channels), staging
// 16-deep slices of A and W in workgroup memory; each invocation keeps a BM x BN block of
// the tile in registers (BM, BN, WG and block_step come from the prepended block file).
@group(0) @binding(0) var<uniform> p: ConvForwardParams;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> params: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

const TM: u32 = 8u * BM;
const TN: u32 = 32u;
var<workgroup> tile_a: array<vec4<f32>, TK * TM / 4u>; // A: [TK][TM / 4], 4 values per element
var<workgroup> tile_b: array<vec4<f32>, TK * TN / 4u>; // W: [TK][TN / 4], 4 values per element

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let pixels = p.g.oh * p.g.ow;
    let m_total = p.g.n * pixels;
    let area = p.g.k * p.g.k;
    let k_total = p.g.c * area;
    let m0 = wid.x * TM;
    let n0 = wid.y * TN;
    let tm = (lid % 8u) * BM;
    let tn = (lid / 8u) * BN;
    var acc: Acc; // block_value(i, j): pixel m0 + tm + i, channel n0 + tn + j

    // This invocation stages column kr = lid % 16 of each A slice, for the pixels
    // lid / 16 + STRIDE r: their coordinates do not change along k, so work them out once.
    let kr = lid % TK;
    var x_base: array<u32, TM / STRIDE>; // offset of the pixel's sample in x
    var iy_base: array<i32, TM / STRIDE>; // input row of kernel row 0 (negative: padding; far below: no pixel)
    var ix_base: array<i32, TM / STRIDE>;
    for (var r = 0u; r < TM / STRIDE; r++) {
        let m = m0 + lid / TK + STRIDE * r;
        let s = m / pixels;
        let pix = m % pixels;
        x_base[r] = s * p.g.c * p.g.h * p.g.w;
        iy_base[r] = select(-1000000, i32((pix / p.g.ow) * p.g.stride) - i32(p.g.pad_top), m < m_total);
        ix_base[r] = i32((pix % p.g.ow) * p.g.stride) - i32(p.g.pad_left);
    }

    for (var k0 = 0u; k0 < k_total; k0 += TK) {
        let kg = k0 + kr;
        let ic = kg / area;
        let ky = i32((kg % area) / p.g.k);
        let kx = i32(kg % p.g.k);
        for (var r = 0u; r < TM / STRIDE; r++) {
            let iy = iy_base[r] + ky;
            let ix = ix_base[r] + kx;
            var v = 0.0;
            if (kg < k_total && iy >= 0 && ix >= 0 && iy < i32(p.g.h) && ix < i32(p.g.w)) {
                v = x[x_base[r] + (ic * p.g.h + u32(iy)) * p.g.w + u32(ix)];
            }
            let f = kr * TM + lid / TK + STRIDE * r;
            tile_a[f / 4u][f % 4u] = v;
        }
        // The same column kr of the W slice, for the channels lid / 16 + STRIDE r.
        for (var r = 0u; r < TN / STRIDE; r++) {
            let nr = lid / TK + STRIDE * r;
            let oc = n0 + nr;
            var v = 0.0;
            if (oc < p.g.o && kg < k_total) {
                v = params[p.w_off + oc * k_total + kg];
            }
            let f = kr * TN + nr;
            tile_b[f / 4u][f % 4u] = v;
        }
        multiply_staged_slice(&acc, TM, tm, TN, tn);
    }

    for (var i = 0u; i < BM; i++) {
        let m = m0 + tm + i;
        if (m >= m_total) { continue; }
        let s = m / pixels;
        let pix = m % pixels;
        for (var j = 0u; j < BN; j++) {
            let oc = n0 + tn + j;
            if (oc >= p.g.o) { continue; }
            var v = block_value(&acc, i, j) + params[p.b_off + oc];
            if (p.relu != 0u) { v = max(v, 0.0); }
            y[(s * p.g.o + oc) * pixels + pix] = v;
        }
    }
}
