//! The batch gather: `n` images (f32 in [0, 1]) and labels from the resident u8 split
//! through its permutation, starting at the per-step uniform's `start`.

use super::uniforms::GatherParams;
use super::{elementwise, Dispatch, Kernels};

/// A split resident on the GPU: pixels and labels packed four u8 per u32, and the order to
/// read them in.
#[derive(Clone)]
pub struct ResidentSplit {
    pub len: usize,
    pub pixels: wgpu::Buffer,
    pub labels: wgpu::Buffer,
    /// Training: the epoch's shuffle. Evaluation: identity.
    pub perm: wgpu::Buffer,
}

impl ResidentSplit {
    pub fn bytes(&self) -> u64 {
        self.pixels.size() + self.labels.size() + self.perm.size()
    }
}

impl Kernels {
    /// `pixels` per image, as the model's input says.
    pub fn gather(
        &self,
        n: usize,
        pixels: usize,
        step: &wgpu::Buffer,
        split: &ResidentSplit,
        out_images: &wgpu::Buffer,
        out_labels: &wgpu::Buffer,
    ) -> Dispatch {
        let uniform = GatherParams { n: n as u32, pixels: pixels as u32, perm_len: split.len as u32, _pad: 0 };
        let buffers = [step, &split.pixels, &split.labels, &split.perm, out_images, out_labels];
        self.dispatch("gather", &uniform, &buffers, elementwise(n * pixels))
    }
}
