// Lays dy out for conv_backward_params_lanes.wgsl, which reads 16 output channels per row
// (output pixel m) as four vec4 from a uniform buffer: block b, row m, channel j at
// packed[(b * m_stride + m) * 16 + j], zero past the last channel.
@group(0) @binding(0) var<uniform> p: ConvPackDyParams;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read_write> packed: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let e = gid.x + gid.y * nwg.x * 256u;
    if (e >= p.count) { return; }
    let j = e % 16u;
    let m = (e / 16u) % p.m_total;
    let b = e / (16u * p.m_total);
    let oc = 16u * b + j;
    var v = 0.0;
    if (oc < p.o) { v = dy[((m / p.pixels) * p.o + oc) * p.pixels + m % p.pixels]; }
    packed[(b * p.m_stride + m) * 16u + j] = v;
}
