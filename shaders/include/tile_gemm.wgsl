// Shared by the tiled convolution kernels (engine/src/gpu.rs prepends it to each): one step
// of a 4x4 register block, row i of the block gaining a[i] times the row vector b.
fn outer_product_add(acc: ptr<function, array<vec4<f32>, 4>>, a: vec4<f32>, b: vec4<f32>) {
    (*acc)[0] += a.x * b;
    (*acc)[1] += a.y * b;
    (*acc)[2] += a.z * b;
    (*acc)[3] += a.w * b;
}

