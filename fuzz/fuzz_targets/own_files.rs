//! The user's own files: any pair of files gives train and test splits or a DataError.
#![no_main]
use engine::data::{self, NamedBytes};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    let Some((&cut, rest)) = input.split_first() else { return };
    let at = (cut as usize * rest.len() / 255).min(rest.len());
    let (images, labels) = rest.split_at(at);
    if let Ok(d) =
        data::dataset_from_pair(NamedBytes { name: "mine-images", bytes: images }, NamedBytes { name: "mine-labels.gz", bytes: labels })
    {
        assert!(!d.train.is_empty() && !d.test.is_empty());
        assert!(d.test.len() <= d.train.len());
    }
});
