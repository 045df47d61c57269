//! Timing GPU work the way `block_until_ready` does: submit, then wait for completion. Where
//! the adapter has timestamp queries the GPU's own clock is read too; the lessons prefer it.

use crate::gpu::{Dispatch, GpuContext, GpuError};
use web_time::Instant;

/// One run of some submissions.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RunTime {
    /// From the first submission until the GPU reported the work done, in milliseconds.
    pub wall_ms: f64,
    /// From the first pass's start to the last pass's end on the GPU's clock, where the
    /// adapter has timestamp queries.
    pub gpu_ms: Option<f64>,
}

impl RunTime {
    /// The GPU's clock where there is one, else the wall clock.
    pub fn ms(&self) -> f64 {
        self.gpu_ms.unwrap_or(self.wall_ms)
    }
}

impl std::ops::Add for RunTime {
    type Output = RunTime;
    fn add(self, other: RunTime) -> RunTime {
        RunTime { wall_ms: self.wall_ms + other.wall_ms, gpu_ms: self.gpu_ms.zip(other.gpu_ms).map(|(a, b)| a + b) }
    }
}

/// Repeated runs of one workload.
#[derive(Clone, Debug, PartialEq)]
pub struct Timing {
    /// The first run, wall clock, including creating its pipelines (our analogue of tracing
    /// and compiling).
    pub first_ms: f64,
    /// The later runs, each [`RunTime::ms`].
    pub runs_ms: Vec<f64>,
    /// Whether `runs_ms` are GPU timestamps (else wall clock).
    pub gpu_clock: bool,
}

impl Timing {
    pub fn min_ms(&self) -> f64 {
        self.runs_ms.iter().cloned().fold(f64::INFINITY, f64::min)
    }

    pub fn median_ms(&self) -> f64 {
        let mut v = self.runs_ms.clone();
        v.sort_by(f64::total_cmp);
        match v.len() {
            0 => f64::NAN,
            n if n % 2 == 1 => v[n / 2],
            n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
        }
    }

    pub fn clock_name(&self) -> &'static str {
        if self.gpu_clock {
            "GPU timestamps"
        } else {
            "wall clock around a wait"
        }
    }
}

/// Milliseconds since `start`.
pub fn ms_since(start: Instant) -> f64 {
    start.elapsed().as_secs_f64() * 1000.0
}

/// Submits each group of dispatches as its own command buffer (one compute pass each), in
/// order, and waits for all of them.
pub async fn run_submissions(ctx: &GpuContext, submissions: &[&[Dispatch]]) -> Result<RunTime, GpuError> {
    let queries = ctx.timestamps.then(|| {
        let set =
            ctx.device.create_query_set(&wgpu::QuerySetDescriptor { label: Some("lesson"), ty: wgpu::QueryType::Timestamp, count: 2 });
        let resolve = ctx.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("lesson timestamps"),
            size: 16,
            usage: wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC,
            mapped_at_creation: false,
        });
        (set, resolve)
    });
    let last = submissions.len().saturating_sub(1);
    let start = Instant::now();
    for (i, dispatches) in submissions.iter().enumerate() {
        let mut encoder = ctx.device.create_command_encoder(&Default::default());
        {
            let timestamp_writes = queries.as_ref().map(|(set, _)| wgpu::ComputePassTimestampWrites {
                query_set: set,
                beginning_of_pass_write_index: (i == 0).then_some(0),
                end_of_pass_write_index: (i == last).then_some(1),
            });
            let timestamp_writes = timestamp_writes.filter(|_| i == 0 || i == last);
            let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor { label: Some("lesson"), timestamp_writes });
            for d in dispatches.iter() {
                d.encode(&mut pass);
            }
        }
        if i == last {
            if let Some((set, resolve)) = &queries {
                encoder.resolve_query_set(set, 0..2, resolve, 0);
            }
        }
        ctx.queue.submit([encoder.finish()]);
    }
    ctx.wait_idle().await?;
    let wall_ms = ms_since(start);
    let gpu_ms = match &queries {
        Some((_, resolve)) => {
            let bytes = ctx.read_bytes(resolve).await?;
            let stamps: &[u64] = bytemuck::cast_slice(&bytes);
            Some(stamps[1].saturating_sub(stamps[0]) as f64 * ctx.queue.get_timestamp_period() as f64 / 1e6)
        }
        None => None,
    };
    Ok(RunTime { wall_ms, gpu_ms })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_minimum() {
        let t = Timing { first_ms: 9.0, runs_ms: vec![3.0, 1.0, 2.0, 10.0], gpu_clock: false };
        assert_eq!((t.min_ms(), t.median_ms()), (1.0, 2.5));
        let odd = Timing { runs_ms: vec![5.0, 1.0, 4.0], ..t };
        assert_eq!(odd.median_ms(), 4.0);
    }
}
