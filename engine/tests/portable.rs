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

/// stax's defaults: weights from a normal truncated to ±2 standard deviations with variance
/// 2 / (fan_in + fan_out) (`glorot_normal`), conv biases normal(1e-6), dense bias normal(0.01).
#[test]
fn seeded_weights_follow_stax_initialisers() {
    let model = Model::tutorial();
    let params = model.init_params(0);
    let values = |name: &str| {
        let p = model.param(name).unwrap();
        &params[p.offset..p.offset + p.len]
    };
    let std_of = |v: &[f32]| {
        let mean = v.iter().map(|&x| x as f64).sum::<f64>() / v.len() as f64;
        (v.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / v.len() as f64).sqrt()
    };
    // (name, fan_in, fan_out): kernel 5x5 for conv1-2, 3x3 for conv3-4, then 40 -> 10.
    for (name, fan_in, fan_out) in [
        ("conv1.weight", 25, 800),
        ("conv2.weight", 800, 800),
        ("conv3.weight", 288, 90),
        ("conv4.weight", 90, 90),
        ("dense.weight", 40, 10),
    ] {
        let v = values(name);
        let target = (2.0 / (fan_in + fan_out) as f64).sqrt();
        let bound = 2.0 * target / 0.879_625_661_034_239_8;
        let got = std_of(v);
        // The sample standard deviation of n draws is within a few times target/sqrt(2n).
        let slack = 4.0 * target / (2.0 * v.len() as f64).sqrt();
        assert!((got - target).abs() < slack, "{name}: std {got} against {target} (± {slack}) over {} values", v.len());
        assert!(v.iter().all(|&x| (x.abs() as f64) < bound), "{name}: a value beyond the truncation at {bound}");
        // This truncated normal puts 71.5% of its values within one untruncated sigma; a
        // uniform with the same variance puts 65.6% there.
        let inside = v.iter().filter(|&&x| (x.abs() as f64) < bound / 2.0).count() as f64 / v.len() as f64;
        if v.len() >= 10_000 {
            assert!((inside - 0.7152).abs() < 0.02, "{name}: {inside} of the values within one sigma");
        }
    }
    for conv in 1..=4 {
        let b = values(&format!("conv{conv}.bias"));
        assert!(b.iter().all(|&x| x != 0.0 && x.abs() < 6e-6), "conv{conv}.bias: {b:?}");
    }
    let dense_bias = values("dense.bias");
    assert!(dense_bias.iter().all(|&x| x != 0.0 && x.abs() < 0.06), "dense.bias: {dense_bias:?}");
    assert!(std_of(dense_bias) > 0.002, "dense.bias: {dense_bias:?}");
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
