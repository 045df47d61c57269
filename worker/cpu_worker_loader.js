// Starts the CPU worker: wasm-bindgen's no-modules glue (cpu_worker.js), then its wasm.
importScripts("./cpu_worker.js");
wasm_bindgen({ module_or_path: "./cpu_worker_bg.wasm" });
