// Register blocks for the tiled convolution kernels: engine/src/gpu/pipelines.rs prepends
// this file or block_8x8.wgsl to each of them. 4x4 per invocation, 64 invocations per
// workgroup: many small workgroups, what a real GPU needs to fill its cores
// (measurements: docs/performance.md).
const BM: u32 = 4u; // rows of an invocation's block
const BN: u32 = 4u; // columns
const WG: u32 = 64u; // invocations per workgroup
alias Acc = array<vec4<f32>, 4>; // acc[i][j]: row i, column j

// One step of the block: row i gains tile_a[a][i] times the row vector tile_b[b].
fn block_step(acc: ptr<function, Acc>, a: u32, b: u32) {
    let x = tile_a[a];
    let y = tile_b[b];
    (*acc)[0] += x.x * y;
    (*acc)[1] += x.y * y;
    (*acc)[2] += x.z * y;
    (*acc)[3] += x.w * y;
}

fn block_value(acc: ptr<function, Acc>, i: u32, j: u32) -> f32 {
    return (*acc)[i][j];
}
