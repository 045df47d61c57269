//! The safetensors weight loader: any bytes give weights that pass the model's checks, or a
//! WeightsError with a bounded message. A tiny model (one 3x3 convolution with BatchNorm, one
//! dense layer) keeps a whole valid file near 2 KB, so the input is tried twice: as a file of
//! its own, and as byte edits to a valid file, which reach the per-tensor checks.
#![no_main]
use engine::model::{LayerSpec, Model, ModelSpec};
use engine::weights::{self, Weights, WeightsMeta};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fn tiny() -> &'static (Model, Vec<u8>) {
    static TINY: OnceLock<(Model, Vec<u8>)> = OnceLock::new();
    TINY.get_or_init(|| {
        let layers = vec![
            LayerSpec::Conv { out_channels: 1, kernel: 3, stride: 4 },
            LayerSpec::BatchNorm,
            LayerSpec::Relu,
            LayerSpec::Flatten,
            LayerSpec::Dense { out: 10 },
            LayerSpec::LogSoftmax,
        ];
        let model = Model::new(ModelSpec { layers, ..Model::tutorial().spec }).expect("a valid spec");
        let file = weights::save(&model, &Weights::initial(&model, 0), &WeightsMeta::default()).expect("saves");
        (model, file)
    })
}

fn try_load(model: &Model, file: &[u8]) {
    match weights::load(model, file) {
        Ok((w, _)) => assert!(w.check(model).is_ok()),
        Err(e) => assert!(e.to_string().len() < 2_000, "{}", e.to_string().len()),
    }
}

fuzz_target!(|input: &[u8]| {
    let (model, valid) = tiny();
    try_load(model, input);
    // Edits: (offset: u16 little-endian, new byte); a last lone byte cuts the file short.
    let mut file = valid.clone();
    for edit in input.chunks(3) {
        match edit {
            [lo, hi, byte] => {
                let at = u16::from_le_bytes([*lo, *hi]) as usize % file.len();
                file[at] = *byte;
            }
            [keep, ..] => file.truncate(file.len() * *keep as usize / 255),
            [] => {}
        }
    }
    try_load(model, &file);
});
