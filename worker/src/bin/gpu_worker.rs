//! The page's burn-wgpu worker: burn with cubecl on the browser's WebGPU (feature `webgpu`).

fn main() {
    #[cfg(target_arch = "wasm32")]
    worker::start(burn_peer::BurnDevice::Wgpu);
    #[cfg(not(target_arch = "wasm32"))]
    eprintln!("gpu_worker runs in a browser Web Worker; Trunk builds it (see index.html)");
}
