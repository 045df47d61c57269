//! Soak: train epoch after epoch and sample, after each, the GPU memory that wgpu's allocator
//! reports and the process's resident memory. Nothing may grow after the second epoch.
//! The suite runs 6 epochs on 512 images; `SOAK_EPOCHS=50 SOAK_IMAGES=2048` gives the long
//! run recorded in docs/performance.md.

mod common;
use common::*;
use engine::data::{self, Dataset, Verification};
use engine::model::Model;
use engine::train::{block_on, EvalSet, TrainConfig, Trainer};
use std::path::Path;

fn resident_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("Linux: /proc/self/statm");
    let pages: u64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

#[test]
fn nothing_grows_after_the_second_epoch() {
    let (epochs, images) = (env_or("SOAK_EPOCHS", 6), env_or("SOAK_IMAGES", 512));
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../public/data/mnist");
    let all = data::load_dir(&dir, &Verification::mnist()).unwrap();
    let data = Dataset { train: all.train.truncated(images), test: all.test.truncated(256) };
    drop(all);
    let ctx = gpu();
    let mut trainer = Trainer::new(&ctx, Model::tutorial(), &data, TrainConfig { batch: 32, ..Default::default() }).unwrap();
    let steps = images / 32;
    let mut samples = Vec::new();
    eprintln!("| epoch | GPU allocated (wgpu) | GPU reserved | blocks | our count | RSS |");
    eprintln!("|---|---|---|---|---|---|");
    for epoch in 1..=epochs {
        for _ in 0..steps {
            trainer.step().unwrap();
        }
        block_on(trainer.flush_metrics()).unwrap();
        block_on(trainer.evaluate(EvalSet::Test)).unwrap();
        block_on(trainer.evaluate(EvalSet::Train)).unwrap();
        block_on(ctx.wait_idle()).unwrap();
        let report = ctx.device.generate_allocator_report().expect("this adapter's wgpu backend reports its allocations");
        let sample =
            (report.total_allocated_bytes, report.total_reserved_bytes, report.blocks.len(), trainer.gpu_memory_bytes(), resident_bytes());
        eprintln!("| {epoch} | {} | {} | {} | {} | {:.1} MB |", sample.0, sample.1, sample.2, sample.3, sample.4 as f64 / 1e6);
        samples.push(sample);
    }
    let second = samples[1];
    for (i, s) in samples.iter().enumerate().skip(2) {
        let epoch = i + 1;
        assert_eq!((s.0, s.1, s.2, s.3), (second.0, second.1, second.2, second.3), "GPU memory grew by epoch {epoch}: {samples:?}");
        // malloc keeps some slack; a leaked step's buffers (megabytes) fail this at once, and
        // the long run (50 epochs) shows slower leaks.
        assert!(s.4 <= second.4 + (1 << 20), "resident memory grew by epoch {epoch}: {samples:?}");
    }
}
