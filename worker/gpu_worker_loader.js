// Starts the burn-wgpu worker: wasm-bindgen's no-modules glue (gpu_worker.js), then its wasm.
importScripts("./gpu_worker.js");
wasm_bindgen({ module_or_path: "./gpu_worker_bg.wasm" });
