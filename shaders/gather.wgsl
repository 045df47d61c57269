// Batch gather: u8 pixels and labels (packed 4 per u32) of a GPU-resident dataset, picked
// through a permutation, become f32 images in [0, 1] and u32 labels.
@group(0) @binding(0) var<uniform> p: GatherParams;
@group(0) @binding(1) var<uniform> step: Step;
@group(0) @binding(2) var<storage, read> pixels: array<u32>;
@group(0) @binding(3) var<storage, read> labels: array<u32>;
@group(0) @binding(4) var<storage, read> perm: array<u32>;
@group(0) @binding(5) var<storage, read_write> out_images: array<f32>;
@group(0) @binding(6) var<storage, read_write> out_labels: array<u32>;

fn byte_at(word: u32, index: u32) -> u32 {
    return (word >> (8u * (index & 3u))) & 0xffu;
}

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 256u;
    if (i >= p.n * p.pixels) { return; }
    let s = i / p.pixels;
    let px = i % p.pixels;
    // Past the end (a short last evaluation batch) repeats the last example; the loss ignores it.
    let example = perm[min(step.start + s, p.perm_len - 1u)];
    let at = example * p.pixels + px;
    out_images[i] = f32(byte_at(pixels[at / 4u], at)) / 255.0;
    if (px == 0u) {
        out_labels[s] = byte_at(labels[example / 4u], example);
    }
}
