//! The idx loader on raw and gzipped bytes: any input gives a split or a DataError, never a
//! panic, and a split's sizes agree with each other.
#![no_main]
use engine::data::{self, NamedBytes, Verification, IMAGE_PIXELS};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    let Some((&cut, rest)) = input.split_first() else { return };
    // The first byte says where the image file ends and whether the names end in .gz.
    let at = (cut as usize * rest.len() / 255).min(rest.len());
    let (images, labels) = rest.split_at(at);
    let names = if cut % 2 == 0 { ["images", "labels"] } else { ["images.gz", "labels.gz"] };
    let split = data::parse_split(
        NamedBytes { name: names[0], bytes: images },
        NamedBytes { name: names[1], bytes: labels },
        &Verification::HeaderOnly,
    );
    if let Ok(split) = split {
        assert_eq!(split.images.len(), split.labels.len() * IMAGE_PIXELS);
        assert!(split.labels.iter().all(|&l| l < 10));
    }
    let _ = data::decompress(names[0], rest, 1 << 20);
});
