//! The metrics ring: the loss kernel adds each step's loss and accuracy to a slot of a GPU
//! buffer, and every few steps the unread slots are copied to a free staging buffer and
//! mapped. Nothing waits for them; [`MetricsRing::poll`] collects those that have arrived.

use super::{StepMetrics, TrainError};
use crate::gpu::{GpuContext, GpuError};
use std::sync::{Arc, Mutex};

/// Metric slots in the ring; more unread steps than this and the oldest are dropped.
pub(super) const METRIC_SLOTS: usize = 1024;
/// Bytes per slot: loss sum, correct count, example count, unused.
pub(super) const SLOT_BYTES: usize = 16;
const STAGING_BUFFERS: usize = 4;

struct Readback {
    buffer: wgpu::Buffer,
    first_step: u64,
    count: usize,
    done: Arc<Mutex<Option<Result<(), wgpu::BufferAsyncError>>>>,
    busy: bool,
}

pub(super) struct MetricsRing {
    readbacks: Vec<Readback>,
    /// First step whose metrics have not been requested yet.
    unrequested: u64,
}

impl MetricsRing {
    pub fn new(ctx: &GpuContext) -> Self {
        let readbacks = (0..STAGING_BUFFERS)
            .map(|i| Readback {
                buffer: ctx.device.create_buffer(&wgpu::BufferDescriptor {
                    label: Some(&format!("metrics staging {i}")),
                    size: (METRIC_SLOTS * SLOT_BYTES) as u64,
                    usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
                    mapped_at_creation: false,
                }),
                first_step: 0,
                count: 0,
                done: Arc::new(Mutex::new(None)),
                busy: false,
            })
            .collect();
        MetricsRing { readbacks, unrequested: 0 }
    }

    pub fn bytes(&self) -> u64 {
        self.readbacks.iter().map(|r| r.buffer.size()).sum()
    }

    /// The slot step `step` writes.
    /// A resumed run's metrics begin at its first new step: the earlier slots were never
    /// written on this GPU.
    pub fn start_at(&mut self, steps: u64) {
        self.unrequested = steps;
    }

    pub fn slot(step: u64) -> usize {
        step as usize % METRIC_SLOTS
    }

    /// Whether steps up to `steps` call for a request, every `every` steps or at an epoch's end.
    pub fn due(&self, steps: u64, every: usize, epoch_end: bool) -> bool {
        steps - self.unrequested >= every as u64 || epoch_end
    }

    /// Every step up to `steps` has been requested and has come back.
    pub fn drained(&self, steps: u64) -> bool {
        self.readbacks.iter().all(|r| !r.busy) && self.unrequested >= steps
    }

    /// More to request, and a staging buffer free to take it.
    pub fn can_request(&self, steps: u64) -> bool {
        self.unrequested < steps && self.readbacks.iter().any(|r| !r.busy)
    }

    /// Copies the unread slots of steps before `steps` into a free staging buffer, if one
    /// is free; [`MetricsRing::map`] it once the encoder is submitted.
    pub fn stage(&mut self, encoder: &mut wgpu::CommandEncoder, metrics: &wgpu::Buffer, steps: u64) -> Option<usize> {
        let free = self.readbacks.iter().position(|r| !r.busy)?;
        // Slots older than the ring were overwritten: skip them.
        let first = self.unrequested.max(steps.saturating_sub(METRIC_SLOTS as u64));
        let first_slot = Self::slot(first);
        // Stop at the end of the ring; the rest goes in the next request.
        let count = ((steps - first) as usize).min(METRIC_SLOTS - first_slot);
        if count == 0 {
            return None;
        }
        let bytes = |slots: usize| (slots * SLOT_BYTES) as u64;
        encoder.copy_buffer_to_buffer(metrics, bytes(first_slot), &self.readbacks[free].buffer, 0, bytes(count));
        let r = &mut self.readbacks[free];
        r.first_step = first;
        r.count = count;
        r.busy = true;
        self.unrequested = first + count as u64;
        Some(free)
    }

    /// Maps staging buffer `i` (its copy is submitted); the callback marks it done.
    pub fn map(&self, i: usize) {
        let done = self.readbacks[i].done.clone();
        self.readbacks[i].buffer.map_async(wgpu::MapMode::Read, .., move |r| {
            *done.lock().unwrap_or_else(|p| p.into_inner()) = Some(r);
        });
    }

    /// Metrics of steps whose read-back has completed, oldest first. A non-finite loss is
    /// an error.
    pub fn poll(&mut self) -> Result<Vec<StepMetrics>, TrainError> {
        let mut out = Vec::new();
        let mut order: Vec<usize> = (0..self.readbacks.len()).filter(|&i| self.readbacks[i].busy).collect();
        order.sort_by_key(|&i| self.readbacks[i].first_step);
        for i in order {
            let r = &mut self.readbacks[i];
            let Some(result) = r.done.lock().unwrap_or_else(|p| p.into_inner()).take() else {
                // Keep step order: later read-backs wait for this one.
                break;
            };
            result.map_err(|e| GpuError::Readback(e.to_string()))?;
            {
                let view = r.buffer.get_mapped_range(..).map_err(|e| GpuError::Readback(e.to_string()))?;
                let words: &[f32] = bytemuck::cast_slice(&view);
                for k in 0..r.count {
                    let slot = &words[k * 4..k * 4 + 4];
                    out.push(StepMetrics { step: r.first_step + k as u64, loss: slot[0] / slot[2], accuracy: slot[1] / slot[2] });
                }
            }
            r.buffer.unmap();
            r.busy = false;
        }
        if let Some(bad) = out.iter().find(|m| !m.loss.is_finite()) {
            return Err(TrainError::NonFiniteLoss { step: bad.step, loss: bad.loss });
        }
        Ok(out)
    }
}
