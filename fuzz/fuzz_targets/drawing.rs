//! The drawing preprocessor: any ink (NaN, infinities, any size up to the pad's) gives None
//! or 784 pixels.
#![no_main]
use engine::inspect::digit_from_drawing;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    let Some((&w, rest)) = input.split_first() else { return };
    let width = (w as usize % 64) + 1;
    let ink: Vec<f32> = rest.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
    let height = ink.len() / width;
    if height == 0 {
        return;
    }
    let ink = &ink[..width * height];
    if let Some(pixels) = digit_from_drawing(ink, width, height) {
        assert_eq!(pixels.len(), 784);
    }
});
