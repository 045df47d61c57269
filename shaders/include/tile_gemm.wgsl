// Shared by the tiled convolution kernels (engine/src/gpu.rs prepends it to each): one step
// of an 8x8 register block. Row i of the block (a0 then a1 hold its 8 multipliers) gains
// a[i] times the row vector (b0, b1); acc[2i] holds columns 0-3 and acc[2i + 1] columns 4-7.
// Eight values from each side per 64 multiply-adds: on SwiftShader, where every workgroup
// memory load is a per-lane gather, this halves the loads per multiply-add of a 4x4 block.
fn outer_product_add(acc: ptr<function, array<vec4<f32>, 16>>, a0: vec4<f32>, a1: vec4<f32>, b0: vec4<f32>, b1: vec4<f32>) {
    (*acc)[0] += a0.x * b0; (*acc)[1] += a0.x * b1;
    (*acc)[2] += a0.y * b0; (*acc)[3] += a0.y * b1;
    (*acc)[4] += a0.z * b0; (*acc)[5] += a0.z * b1;
    (*acc)[6] += a0.w * b0; (*acc)[7] += a0.w * b1;
    (*acc)[8] += a1.x * b0; (*acc)[9] += a1.x * b1;
    (*acc)[10] += a1.y * b0; (*acc)[11] += a1.y * b1;
    (*acc)[12] += a1.z * b0; (*acc)[13] += a1.z * b1;
    (*acc)[14] += a1.w * b0; (*acc)[15] += a1.w * b1;
}

// acc's value for row i, column j of the 8x8 block.
fn block_value(acc: ptr<function, array<vec4<f32>, 16>>, i: u32, j: u32) -> f32 {
    return (*acc)[2u * i + j / 4u][j % 4u];
}
