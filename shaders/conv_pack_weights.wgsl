// Lays a convolution's weights out for the lane kernels (conv_*_lanes.wgsl), which read
// 16 channels' weights per row as four vec4 from a uniform buffer: block b, row r,
// channel j at packed[b * block_stride + 16 r + j], zero past the last channel.
//   forward (transpose 0): blocks of 16 output channels, rows (input channel, tap);
//   input gradient (transpose 1): blocks of 16 input channels, rows (output channel, tap).
@group(0) @binding(0) var<uniform> p: ConvPackWeightsParams;
@group(0) @binding(1) var<storage, read> params: array<f32>;
@group(0) @binding(2) var<storage, read_write> packed: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let e = gid.x + gid.y * nwg.x * 256u;
    if (e >= p.count) { return; }
    let j = e % 16u;
    let r = (e / 16u) % p.rows;
    let b = e / (16u * p.rows);
    let ch = 16u * b + j;
    var v = 0.0;
    if (p.transpose == 0u) {
        // W[ch][r], r = (input channel, tap)
        if (ch < p.o) { v = params[p.w_off + ch * p.rows + r]; }
    } else {
        // W[oc][ch][tap], r = (oc, tap)
        let oc = r / p.area;
        let tap = r % p.area;
        if (ch < p.c) { v = params[p.w_off + (oc * p.c + ch) * p.area + tap]; }
    }
    packed[b * p.block_stride + 16u * r + j] = v;
}
