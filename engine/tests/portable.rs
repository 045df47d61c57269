//! Checks that must give the same answer natively and in wasm32 (run there by
//! wasm-bindgen-test): seeded weights and shuffles are bit-identical across platforms, and
//! the data path (gunzip, SHA-256, idx parsing) works on bytes as the browser gives them.

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use engine::data::{self, NamedBytes, Verification};
use engine::model::{permutation, Model};

#[test]
fn seeded_weights_are_the_same_on_every_platform() {
    let bytes: Vec<u8> = Model::tutorial().init_params(0).iter().flat_map(|v| v.to_le_bytes()).collect();
    assert_eq!(data::sha256_hex(&bytes), include_str!("data/init_seed0.sha256").trim());
}

#[test]
fn seeded_shuffle_is_the_same_on_every_platform() {
    let p = permutation(10, 42);
    let mut sorted = p.clone();
    sorted.sort();
    assert_eq!(sorted, (0..10).collect::<Vec<u32>>());
    assert_eq!(p, [1, 5, 9, 6, 3, 2, 0, 8, 4, 7]);
}

#[test]
fn parses_gzipped_idx_bytes() {
    // The real MNIST test labels, gzipped as shipped.
    let gz = include_bytes!("../../public/data/mnist/t10k-labels-idx1-ubyte.gz");
    let raw = data::decompress("t10k-labels-idx1-ubyte.gz", gz, 10_008).unwrap();
    let labels = data::parse_labels("t10k-labels-idx1-ubyte", &raw).unwrap();
    assert_eq!(labels.len(), 10_000);
    assert_eq!(&labels[..5], &[7, 2, 1, 0, 4]);
    assert_eq!(data::sha256_hex(&raw), data::MNIST_SHA256[3].1);
    let images = data::encode_images(&vec![9u8; 10_000 * 784]);
    let err = data::parse_split(
        NamedBytes { name: "a", bytes: &images },
        NamedBytes { name: "t10k-labels-idx1-ubyte.gz", bytes: gz },
        &Verification::mnist(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("no checksum") || err.to_string().contains("SHA-256"), "{err}");
}

#[test]
fn a_header_whose_size_wraps_32_bits_is_refused() {
    // 16 + 5,478,275 * 784 = 2^32 + 320: on wasm32 an unchecked sum wraps to this file's length.
    let mut bytes = data::encode_images(&[0u8; 304]);
    bytes[4..8].copy_from_slice(&5_478_275u32.to_be_bytes());
    assert_eq!(bytes.len(), 320);
    let err = data::parse_images("lying-images", &bytes).unwrap_err();
    assert!(matches!(err, data::DataError::TooMany { count: 5_478_275, max: data::MAX_EXAMPLES, .. }), "{err:?}");
    assert!(err.to_string().contains("lying-images"), "{err}");
}
