//! Per-kernel GPU times of one training step, from timestamp queries.

use super::super::metrics::MetricsRing;
use super::super::TrainError;
use super::Trainer;
use crate::bench::KernelTime;
use crate::gpu::Dispatch;

impl Trainer {
    /// Runs one training step with one compute pass per dispatch and timestamp queries, and
    /// returns each kernel's GPU time. None if the adapter has no timestamp queries.
    pub async fn profile_step(&mut self) -> Result<Option<Vec<KernelTime>>, TrainError> {
        let ctx = self.kernels.ctx.clone();
        if !ctx.timestamps {
            return Ok(None);
        }
        let plan = self.plan_for(self.next_steps(self.clock).0);
        let dispatches: Vec<Dispatch> = plan.forward.iter().chain(&plan.backward).cloned().collect();
        let queries = (dispatches.len() * 2) as u32;
        let set = ctx.device.create_query_set(&wgpu::QuerySetDescriptor {
            label: Some("profile"),
            ty: wgpu::QueryType::Timestamp,
            count: queries,
        });
        let resolve = ctx.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("profile resolve"),
            size: queries as u64 * 8,
            usage: wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC,
            mapped_at_creation: false,
        });
        self.upload_shuffle_if_due();
        let batch = self.clock.batch_range(self.config.batch, self.train_data.len);
        self.write_step(batch.start, batch.len(), MetricsRing::slot(self.clock.steps), false);
        let mut encoder = ctx.device.create_command_encoder(&Default::default());
        for (i, d) in dispatches.iter().enumerate() {
            let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some(d.kernel),
                timestamp_writes: Some(wgpu::ComputePassTimestampWrites {
                    query_set: &set,
                    beginning_of_pass_write_index: Some(2 * i as u32),
                    end_of_pass_write_index: Some(2 * i as u32 + 1),
                }),
            });
            d.encode(&mut pass);
        }
        encoder.resolve_query_set(&set, 0..queries, &resolve, 0);
        ctx.queue.submit([encoder.finish()]);
        // Profiling counts as a real step.
        self.clock.advance();
        let bytes = ctx.read_bytes(&resolve).await?;
        let stamps: &[u64] = bytemuck::cast_slice(&bytes);
        let period = ctx.queue.get_timestamp_period() as f64;
        Ok(Some(
            dispatches
                .iter()
                .enumerate()
                .map(|(i, d)| KernelTime { kernel: d.kernel, nanos: stamps[2 * i + 1].saturating_sub(stamps[2 * i]) as f64 * period })
                .collect(),
        ))
    }
}
