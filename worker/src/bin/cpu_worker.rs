//! The page's CPU worker: burn's CPU backend (flex). See the crate docs for the protocol.

fn main() {
    #[cfg(target_arch = "wasm32")]
    worker::start(burn_peer::BurnDevice::Cpu);
    #[cfg(not(target_arch = "wasm32"))]
    eprintln!("cpu_worker runs in a browser Web Worker; Trunk builds it (see index.html)");
}
