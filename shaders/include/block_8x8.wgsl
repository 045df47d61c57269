// Register blocks for the tiled convolution kernels: engine/src/gpu/pipelines.rs prepends
// this file or block_4x4.wgsl to each of them. 8x8 per invocation, 32 invocations per
// workgroup: 8 values from each side per 64 multiply-adds, half the workgroup-memory loads
// per multiply-add of a 4x4 block. For CPU adapters (lavapipe, SwiftShader), where each
// such load is a per-lane gather (measurements: docs/performance.md).
const BM: u32 = 8u; // rows of an invocation's block
const BN: u32 = 8u; // columns
const WG: u32 = 32u; // invocations per workgroup
alias Acc = array<vec4<f32>, 16>; // acc[2i + j / 4][j % 4]: row i, column j

// One step of the block: row i gains (tile_a[a], tile_a[a + 1])[i] times the row vector
// (tile_b[b], tile_b[b + 1]).
fn block_step(acc: ptr<function, Acc>, a: u32, b: u32) {
    let a0 = tile_a[a];
    let a1 = tile_a[a + 1u];
    let b0 = tile_b[b];
    let b1 = tile_b[b + 1u];
    (*acc)[0] += a0.x * b0; (*acc)[1] += a0.x * b1;
    (*acc)[2] += a0.y * b0; (*acc)[3] += a0.y * b1;
    (*acc)[4] += a0.z * b0; (*acc)[5] += a0.z * b1;
    (*acc)[6] += a0.w * b0; (*acc)[7] += a0.w * b1;
    (*acc)[8] += a1.x * b0; (*acc)[9] += a1.x * b1;
    (*acc)[10] += a1.y * b0; (*acc)[11] += a1.y * b1;
    (*acc)[12] += a1.z * b0; (*acc)[13] += a1.z * b1;
    (*acc)[14] += a1.w * b0; (*acc)[15] += a1.w * b1;
}

fn block_value(acc: ptr<function, Acc>, i: u32, j: u32) -> f32 {
    return (*acc)[2u * i + j / 4u][j % 4u];
}
