//! Device acquisition (kept apart from the GPU work so tests and the browser can inject a
//! device), buffers and read-backs.

use std::sync::{Arc, Mutex};
use wgpu::util::DeviceExt;

/// Why no GPU could be used.
#[derive(Debug, thiserror::Error)]
pub enum GpuError {
    #[error("no GPU adapter found ({0}). Natively install a Vulkan driver (e.g. Debian's mesa-vulkan-drivers); in a browser, use one with WebGPU enabled.")]
    NoAdapter(String),
    #[error("the adapter refused a device: {0}")]
    NoDevice(String),
    #[error("the GPU reported an error: {0}")]
    Device(String),
    #[error("the GPU device was lost ({0}). Start again to get a new device.")]
    Lost(String),
    #[error("reading back from the GPU failed: {0}")]
    Readback(String),
}

/// A device and queue plus what we learned about the adapter.
#[derive(Clone)]
pub struct GpuContext {
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    pub info: wgpu::AdapterInfo,
    pub limits: wgpu::Limits,
    pub timestamps: bool,
    /// First uncaptured error or device loss, reported by wgpu's callbacks.
    pub fault: Arc<Mutex<Option<GpuError>>>,
}

impl GpuContext {
    /// Picks the default adapter and requests a device with the limits we need.
    pub async fn acquire() -> Result<Self, GpuError> {
        let instance = wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env());
        let adapter = instance
            .request_adapter(&wgpu::RequestAdapterOptions {
                power_preference: wgpu::PowerPreference::HighPerformance,
                ..Default::default()
            })
            .await
            .map_err(|e| GpuError::NoAdapter(e.to_string()))?;
        Self::from_adapter(&adapter).await
    }

    /// Requests a device from a given adapter (tests and `info` pick adapters themselves).
    pub async fn from_adapter(adapter: &wgpu::Adapter) -> Result<Self, GpuError> {
        let info = adapter.get_info();
        let supported = adapter.limits();
        // The dataset lives in one storage buffer: ask for as much as the adapter allows.
        // Kernels bind up to 6 storage buffers; downlevel defaults allow only 4.
        let limits = wgpu::Limits {
            max_storage_buffer_binding_size: supported.max_storage_buffer_binding_size,
            max_buffer_size: supported.max_buffer_size,
            // WebGPU's default; the lane kernels bind 64 KiB of weights.
            max_uniform_buffer_binding_size: supported.max_uniform_buffer_binding_size.min(super::UNIFORM_WINDOW_BYTES),
            max_storage_buffers_per_shader_stage: supported.max_storage_buffers_per_shader_stage.min(8),
            ..wgpu::Limits::downlevel_defaults()
        };
        let timestamps = adapter.features().contains(wgpu::Features::TIMESTAMP_QUERY);
        let features = if timestamps { wgpu::Features::TIMESTAMP_QUERY } else { wgpu::Features::empty() };
        let (device, queue) = adapter
            .request_device(&wgpu::DeviceDescriptor {
                label: Some("engine"),
                required_features: features,
                required_limits: limits.clone(),
                ..Default::default()
            })
            .await
            .map_err(|e| GpuError::NoDevice(e.to_string()))?;
        let fault = Arc::new(Mutex::new(None));
        let on_error = fault.clone();
        device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
            let mut slot = on_error.lock().unwrap_or_else(|p| p.into_inner());
            slot.get_or_insert(GpuError::Device(e.to_string()));
        }));
        let on_lost = fault.clone();
        device.set_device_lost_callback(move |reason, message| {
            let mut slot = on_lost.lock().unwrap_or_else(|p| p.into_inner());
            slot.get_or_insert(GpuError::Lost(format!("{reason:?}: {message}")));
        });
        Ok(GpuContext { device, queue, info, limits, timestamps, fault })
    }

    /// Returns (and clears) the first error wgpu reported since the last check.
    pub fn take_fault(&self) -> Option<GpuError> {
        self.fault.lock().unwrap_or_else(|p| p.into_inner()).take()
    }

    /// One line naming the adapter and backend.
    pub fn describe(&self) -> String {
        format!("{} ({:?}, {:?})", self.info.name, self.info.backend, self.info.device_type)
    }

    pub fn storage_buffer(&self, label: &str, contents: &[u8]) -> wgpu::Buffer {
        // Zero-length bindings are invalid: keep at least one word.
        let padded;
        let contents = if contents.len() < 4 {
            padded = [0u8; 4];
            &padded[..]
        } else {
            contents
        };
        self.device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some(label),
            contents,
            usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST,
        })
    }

    pub fn zeroed_buffer(&self, label: &str, floats: usize) -> wgpu::Buffer {
        self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(label),
            size: (floats.max(1) * 4) as u64,
            usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        })
    }

    /// Copies `buffer` to a staging buffer and waits for it (setup and tests only,
    /// never in the training loop).
    pub async fn read_f32(&self, buffer: &wgpu::Buffer) -> Result<Vec<f32>, GpuError> {
        let bytes = self.read_bytes(buffer).await?;
        Ok(bytemuck::cast_slice(&bytes).to_vec())
    }

    pub async fn read_bytes(&self, buffer: &wgpu::Buffer) -> Result<Vec<u8>, GpuError> {
        let staging = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("read-back"),
            size: buffer.size(),
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let mut encoder = self.device.create_command_encoder(&Default::default());
        encoder.copy_buffer_to_buffer(buffer, 0, &staging, 0, buffer.size());
        self.queue.submit([encoder.finish()]);
        map_read(self, &staging).await?;
        let bytes = staging.get_mapped_range(..).map_err(|e| GpuError::Readback(e.to_string()))?.to_vec();
        staging.unmap();
        Ok(bytes)
    }
}

impl GpuContext {
    /// Resolves when the GPU has finished everything submitted so far (natively by polling,
    /// in the browser through the event loop); reports a fault wgpu recorded meanwhile.
    pub async fn wait_idle(&self) -> Result<(), GpuError> {
        let (sender, receiver) = futures_channel::oneshot::channel();
        self.queue.on_submitted_work_done(move || {
            let _ = sender.send(());
        });
        #[cfg(not(target_arch = "wasm32"))]
        self.device.poll(wgpu::PollType::wait_indefinitely()).map_err(|e| GpuError::Device(e.to_string()))?;
        receiver.await.map_err(|_| GpuError::Lost("work-done callback dropped".into()))?;
        match self.take_fault() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

/// Maps `buffer` for reading and waits: natively by polling the device, in the browser
/// by letting the event loop run the callback.
pub async fn map_read(ctx: &GpuContext, buffer: &wgpu::Buffer) -> Result<(), GpuError> {
    let (sender, receiver) = futures_channel::oneshot::channel();
    buffer.map_async(wgpu::MapMode::Read, .., move |r| {
        let _ = sender.send(r);
    });
    #[cfg(not(target_arch = "wasm32"))]
    ctx.device.poll(wgpu::PollType::wait_indefinitely()).map_err(|e| GpuError::Readback(e.to_string()))?;
    let result = receiver.await.map_err(|_| GpuError::Readback("the map callback was dropped".into()))?;
    if let Some(fault) = ctx.take_fault() {
        return Err(fault);
    }
    result.map_err(|e| GpuError::Readback(e.to_string()))
}
