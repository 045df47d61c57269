//! Many steps in one submission. Each step's uniform differs (batch start, metrics slot,
//! Adam's bias corrections), so all of a submission's uniforms are written to a table
//! first, and each step begins by copying its row into the one uniform the kernels read.
//! Nothing else changes between steps: the dataset, the shuffle and the metrics ring are
//! already on the GPU.

use crate::gpu::{Dispatch, GpuContext, Step};

/// Most steps (or evaluation batches) encoded into one submission. The metrics ring holds
/// more slots than this, so a whole submission's metrics fit in one read-back.
pub const MAX_STEPS_PER_SUBMISSION: usize = 256;

const ROW_BYTES: u64 = std::mem::size_of::<Step>() as u64;

/// The uniforms of one submission's steps, copied row by row into the step uniform.
pub(super) struct StepTable {
    rows: wgpu::Buffer,
}

impl StepTable {
    pub fn new(ctx: &GpuContext) -> Self {
        let rows = ctx.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("step table"),
            size: MAX_STEPS_PER_SUBMISSION as u64 * ROW_BYTES,
            usage: wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        StepTable { rows }
    }

    pub fn bytes(&self) -> u64 {
        self.rows.size()
    }

    /// Encodes one step per uniform in `steps`: its row copied into `uniform`, then one
    /// compute pass with every dispatch, then `after(encoder, k)` (a copy out, if any).
    /// The rows are written through the queue, so they land before this encoder runs and
    /// after everything submitted earlier has read the previous ones.
    pub fn encode(
        &self,
        ctx: &GpuContext,
        encoder: &mut wgpu::CommandEncoder,
        steps: &[Step],
        uniform: &wgpu::Buffer,
        dispatches: &[&[Dispatch]],
        mut after: impl FnMut(&mut wgpu::CommandEncoder, usize),
    ) {
        assert!(steps.len() <= MAX_STEPS_PER_SUBMISSION, "callers split submissions at MAX_STEPS_PER_SUBMISSION");
        ctx.queue.write_buffer(&self.rows, 0, bytemuck::cast_slice(steps));
        for k in 0..steps.len() {
            encoder.copy_buffer_to_buffer(&self.rows, k as u64 * ROW_BYTES, uniform, 0, ROW_BYTES);
            {
                let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor { label: Some("step"), timestamp_writes: None });
                for d in dispatches.iter().flat_map(|list| list.iter()) {
                    d.encode(&mut pass);
                }
            }
            after(encoder, k);
        }
    }
}

/// Steps that make about 100 ms of work at `seconds_per_step`: few on a slow adapter, so a
/// pause or Ctrl-C takes effect soon; many on a fast one, so it is not bound by
/// submissions.
pub fn steps_for_work(seconds_per_step: f64) -> usize {
    if !seconds_per_step.is_finite() || seconds_per_step <= 0.0 {
        return 1;
    }
    ((0.1 / seconds_per_step) as usize).clamp(1, MAX_STEPS_PER_SUBMISSION)
}

#[cfg(test)]
mod tests {
    use super::{steps_for_work, MAX_STEPS_PER_SUBMISSION};

    #[test]
    fn about_a_tenth_of_a_second_of_steps() {
        assert_eq!(steps_for_work(0.25), 1, "lavapipe: one step is already more than 100 ms");
        assert_eq!(steps_for_work(0.01), 10);
        assert_eq!(steps_for_work(0.0005), 200, "an H100's step");
        assert_eq!(steps_for_work(1e-6), MAX_STEPS_PER_SUBMISSION);
        assert_eq!(steps_for_work(0.0), 1);
        assert_eq!(steps_for_work(f64::NAN), 1);
    }
}
