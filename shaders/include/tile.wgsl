// Shared by the tiled convolution kernels (engine/src/gpu/pipelines.rs prepends it, after the
// register-block file): the depth of a staged slice, and the product of one staged slice.
const TK: u32 = 16u; // rows of tile_a and tile_b per staged slice
const STRIDE: u32 = WG / TK; // each invocation stages column lid % TK of every STRIDE-th row

// Waits until the slice is staged, adds its product into this invocation's block (at
// column `ta` of tile_a's `a_len`-wide rows and column `tb` of tile_b's `b_len`-wide rows),
// then waits until every invocation is done with the slice.
fn multiply_staged_slice(acc: ptr<function, Acc>, a_len: u32, ta: u32, b_len: u32, tb: u32) {
    workgroupBarrier();
    for (var q = 0u; q < TK; q++) {
        block_step(acc, q * (a_len / 4u) + ta / 4u, q * (b_len / 4u) + tb / 4u);
    }
    workgroupBarrier();
}
