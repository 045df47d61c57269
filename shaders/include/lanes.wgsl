// Shared by the pixel-lane convolution kernels (conv_*_lanes.wgsl; engine/src/gpu/pipelines.rs
// prepends it). Each invocation keeps PX values of its own (pixels or weight columns
// lid + WG i) times the dispatch's 16 channels in registers.
const WG: u32 = 64u; // invocations per workgroup
const PX: u32 = 8u; // own values per invocation
alias Lanes = array<vec4<f32>, 4u * PX>; // [4i + q][j]: own value i, channel 4q + j

// Own value i times row `row` of the kernel's `channel_rows` (16 channels as four uniform
// vec4, the same for every lane) into acc[4i .. 4i + 3].
fn lanes_step(acc: ptr<function, Lanes>, v: array<f32, PX>, row: u32) {
    let w0 = channel_rows[4u * row];
    let w1 = channel_rows[4u * row + 1u];
    let w2 = channel_rows[4u * row + 2u];
    let w3 = channel_rows[4u * row + 3u];
    for (var i = 0u; i < PX; i++) {
        (*acc)[4u * i] += v[i] * w0;
        (*acc)[4u * i + 1u] += v[i] * w1;
        (*acc)[4u * i + 2u] += v[i] * w2;
        (*acc)[4u * i + 3u] += v[i] * w3;
    }
}

// A copy to index with variables when storing: acc itself must only ever be indexed by
// constants (this loop unrolls), or it lives in memory for the whole kernel (on llvmpipe
// that made the forward 3x slower).
fn lanes_copy(acc: ptr<function, Lanes>) -> Lanes {
    var sums: Lanes;
    for (var t = 0u; t < 4u * PX; t++) {
        sums[t] = (*acc)[t];
    }
    return sums;
}
