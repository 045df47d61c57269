// BatchNorm evaluation: turn the running statistics into the saved mean and 1/sqrt(var + eps)
// that bn_apply reads, so training and evaluation share one apply kernel.
@group(0) @binding(0) var<uniform> p: BnEvalStatsParams;
@group(0) @binding(1) var<storage, read> stats: array<f32>;
@group(0) @binding(2) var<storage, read_write> save: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let ch = gid.x;
    if (ch >= p.c) { return; }
    save[ch] = stats[p.stats_off + ch];
    save[p.c + ch] = inverseSqrt(stats[p.stats_off + p.c + ch] + p.eps);
}
