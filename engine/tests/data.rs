//! Data loading: the shipped MNIST verifies, and every kind of bad input gives a typed error
//! whose message names the file and the problem.

use engine::data::{self, DataError, Verification, FILE_NAMES, IMAGE_PIXELS};
use flate2::write::GzEncoder;
use std::io::Write;
use std::path::{Path, PathBuf};

fn mnist_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../public/data/mnist")
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// A small valid dataset: 5 train and 3 test images with labels, gzipped.
fn small_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let images = |n: usize| data::encode_images(&(0..n * IMAGE_PIXELS).map(|i| (i * 7 % 256) as u8).collect::<Vec<_>>());
    let labels = |n: usize| data::encode_labels(&(0..n).map(|i| (i % 10) as u8).collect::<Vec<_>>());
    for (name, content) in
        [(data::TRAIN_IMAGES, images(5)), (data::TRAIN_LABELS, labels(5)), (data::TEST_IMAGES, images(3)), (data::TEST_LABELS, labels(3))]
    {
        std::fs::write(dir.path().join(format!("{name}.gz")), gzip(&content)).unwrap();
    }
    dir
}

fn write(dir: &Path, name: &str, bytes: &[u8]) {
    for f in [dir.join(name), dir.join(format!("{name}.gz"))] {
        let _ = std::fs::remove_file(f);
    }
    std::fs::write(dir.join(name), bytes).unwrap();
}

fn load(dir: &Path) -> Result<data::Dataset, DataError> {
    data::load_dir(dir, &Verification::from_dir(dir).unwrap())
}

#[track_caller]
fn assert_message(err: &DataError, parts: &[&str]) {
    let msg = err.to_string();
    for p in parts {
        assert!(msg.contains(p), "message {msg:?} should mention {p:?}");
    }
}

#[test]
fn shipped_mnist_loads_and_verifies() {
    let dir = mnist_dir();
    let verify = Verification::from_dir(&dir).unwrap();
    assert!(matches!(verify, Verification::Sha256 { .. }), "public/data/mnist ships its checksums");
    let d = data::load_dir(&dir, &verify).unwrap();
    assert_eq!((d.train.len(), d.test.len()), (60_000, 10_000));
    assert_eq!(d.train.images.len(), 60_000 * 784);
    // The first training labels of MNIST are 5, 0, 4, 1, 9.
    assert_eq!(&d.train.labels[..5], &[5, 0, 4, 1, 9]);
    // Also against the checksums built into the engine (what the browser uses).
    data::load_dir(&dir, &Verification::mnist()).unwrap();
}

#[test]
fn shipped_checksum_file_agrees_with_built_in_checksums() {
    let text = std::fs::read_to_string(mnist_dir().join(data::SUMS_FILE)).unwrap();
    let mut from_file = data::parse_sums(&text);
    from_file.sort();
    let mut built_in: Vec<(String, String)> = data::MNIST_SHA256.iter().map(|(f, h)| (f.to_string(), h.to_string())).collect();
    built_in.sort();
    assert_eq!(from_file, built_in);
}

#[test]
fn raw_and_gzipped_files_give_the_same_dataset() {
    let dir = small_dir();
    let gz = load(dir.path()).unwrap();
    for name in FILE_NAMES {
        let bytes = std::fs::read(dir.path().join(format!("{name}.gz"))).unwrap();
        let raw = data::decompress(name, &bytes, 1 << 20).unwrap();
        write(dir.path(), name, &raw);
    }
    assert_eq!(load(dir.path()).unwrap(), gz);
    assert_eq!(gz.train.len(), 5);
    assert_eq!(gz.test.labels, vec![0, 1, 2]);
}

#[test]
fn header_only_accepts_another_dataset_of_the_same_shape() {
    // No SHA256SUMS file: any idx data of the right shape loads (e.g. Fashion-MNIST).
    let dir = small_dir();
    assert!(matches!(Verification::from_dir(dir.path()).unwrap(), Verification::HeaderOnly));
    assert!(load(dir.path()).is_ok());
}

#[test]
fn missing_file() {
    let dir = small_dir();
    std::fs::remove_file(dir.path().join(format!("{}.gz", data::TEST_LABELS))).unwrap();
    let err = load(dir.path()).unwrap_err();
    assert!(matches!(err, DataError::Missing { .. }), "{err:?}");
    assert_message(&err, &[data::TEST_LABELS, "not found"]);
}

#[test]
fn truncated_file() {
    let dir = small_dir();
    let full = data::encode_images(&vec![1u8; 5 * IMAGE_PIXELS]);
    write(dir.path(), data::TRAIN_IMAGES, &full[..full.len() - 100]);
    let err = load(dir.path()).unwrap_err();
    assert!(matches!(err, DataError::Truncated { .. }), "{err:?}");
    assert_message(&err, &[data::TRAIN_IMAGES, "truncated"]);
    // A file cut inside its header is truncated too.
    write(dir.path(), data::TRAIN_IMAGES, &full[..6]);
    assert!(matches!(load(dir.path()).unwrap_err(), DataError::Truncated { .. }));
}

#[test]
fn truncated_gzip_stream() {
    let dir = small_dir();
    let gz = std::fs::read(dir.path().join(format!("{}.gz", data::TRAIN_IMAGES))).unwrap();
    std::fs::write(dir.path().join(format!("{}.gz", data::TRAIN_IMAGES)), &gz[..gz.len() / 2]).unwrap();
    let err = load(dir.path()).unwrap_err();
    assert!(matches!(err, DataError::CorruptGzip { .. }), "{err:?}");
    assert_message(&err, &[data::TRAIN_IMAGES, "gzip"]);
}

#[test]
fn wrong_magic() {
    let dir = small_dir();
    // A label file where the images should be.
    write(dir.path(), data::TRAIN_IMAGES, &data::encode_labels(&[1, 2, 3]));
    let err = load(dir.path()).unwrap_err();
    assert!(matches!(err, DataError::BadMagic { found: 2049, expected: 2051, .. }), "{err:?}");
    assert_message(&err, &[data::TRAIN_IMAGES, "magic"]);
}

#[test]
fn wrong_image_shape() {
    let dir = small_dir();
    let mut bytes = data::encode_images(&vec![0u8; IMAGE_PIXELS]);
    bytes[11] = 32; // rows = 32
    write(dir.path(), data::TEST_IMAGES, &bytes);
    let err = load(dir.path()).unwrap_err();
    assert!(matches!(err, DataError::WrongShape { rows: 32, cols: 28, .. }), "{err:?}");
    assert_message(&err, &[data::TEST_IMAGES, "32x28"]);
}

#[test]
fn count_mismatch() {
    let dir = small_dir();
    write(dir.path(), data::TRAIN_LABELS, &data::encode_labels(&[1, 2, 3, 4]));
    let err = load(dir.path()).unwrap_err();
    assert!(matches!(err, DataError::CountMismatch { images: 5, labels: 4, .. }), "{err:?}");
    assert_message(&err, &[data::TRAIN_IMAGES, data::TRAIN_LABELS, "5", "4"]);
}

#[test]
fn label_out_of_range() {
    let dir = small_dir();
    write(dir.path(), data::TRAIN_LABELS, &data::encode_labels(&[1, 2, 12, 4, 5]));
    let err = load(dir.path()).unwrap_err();
    assert!(matches!(err, DataError::BadLabel { index: 2, label: 12, .. }), "{err:?}");
}

#[test]
fn trailing_bytes() {
    let dir = small_dir();
    let mut bytes = data::encode_labels(&[1, 2, 3, 4, 5]);
    bytes.extend_from_slice(&[0, 0]);
    write(dir.path(), data::TRAIN_LABELS, &bytes);
    let err = load(dir.path()).unwrap_err();
    assert!(matches!(err, DataError::TrailingData { expected: 13, .. }), "{err:?}");
    assert_message(&err, &[data::TRAIN_LABELS, "more data than the 13 bytes"]);
}

#[test]
fn not_gzip() {
    let dir = small_dir();
    std::fs::write(dir.path().join(format!("{}.gz", data::TRAIN_LABELS)), b"<html>not found</html>").unwrap();
    let err = load(dir.path()).unwrap_err();
    assert!(matches!(err, DataError::NotGzip { .. }), "{err:?}");
    assert_message(&err, &[data::TRAIN_LABELS, "not gzip"]);
}

#[test]
fn checksum_mismatch() {
    let dir = small_dir();
    let content = data::encode_labels(&[1, 2, 3, 4, 5]);
    let mut sums = String::new();
    for name in FILE_NAMES {
        let bytes = std::fs::read(dir.path().join(format!("{name}.gz"))).unwrap();
        let mut hash = data::sha256_hex(&data::decompress(name, &bytes, 1 << 20).unwrap());
        if name == data::TRAIN_LABELS {
            hash = data::sha256_hex(&[&content[..], b"x"].concat());
        }
        sums += &format!("{hash}  {name}\n");
    }
    std::fs::write(dir.path().join(data::SUMS_FILE), sums).unwrap();
    let err = load(dir.path()).unwrap_err();
    assert!(matches!(err, DataError::ChecksumMismatch { .. }), "{err:?}");
    assert_message(&err, &[data::TRAIN_LABELS, "SHA-256"]);
}

#[test]
fn one_flipped_pixel_in_mnist_fails_its_checksum() {
    let bytes = std::fs::read(mnist_dir().join("t10k-labels-idx1-ubyte.gz")).unwrap();
    let mut raw = data::decompress("t10k-labels-idx1-ubyte.gz", &bytes, 10_008).unwrap();
    raw[100] = (raw[100] + 1) % 10;
    let images = std::fs::read(mnist_dir().join("t10k-images-idx3-ubyte.gz")).unwrap();
    let err = data::parse_split(
        data::NamedBytes { name: "t10k-images-idx3-ubyte.gz", bytes: &images },
        data::NamedBytes { name: "t10k-labels-idx1-ubyte", bytes: &raw },
        &Verification::mnist(),
    )
    .unwrap_err();
    assert!(matches!(err, DataError::ChecksumMismatch { .. }), "{err:?}");
}

#[test]
fn checksum_missing_from_sums_file() {
    let dir = small_dir();
    std::fs::write(dir.path().join(data::SUMS_FILE), "abc  some-other-file\n").unwrap();
    assert!(matches!(load(dir.path()).unwrap_err(), DataError::ChecksumMissing { .. }));
}

#[test]
fn empty_short_and_garbage_bytes_get_their_own_error() {
    use DataError::*;
    type Expected = fn(&DataError) -> bool;
    let cases: [(&[u8], &str, Expected); 7] = [
        (b"", "x", |e| matches!(e, Truncated { expected: 16, actual: 0, .. })),
        (b"\x1f", "x", |e| matches!(e, Truncated { expected: 16, actual: 1, .. })),
        (b"\x00\x00\x08\x03", "x", |e| matches!(e, Truncated { expected: 16, actual: 4, .. })),
        (&[0xff; 40], "x", |e| matches!(e, BadMagic { found: 0xffff_ffff, .. })),
        (b"\x1f\x8b", "x.gz", |e| matches!(e, CorruptGzip { .. })),
        (b"<html>", "x.gz", |e| matches!(e, NotGzip { .. })),
        (&[0xff; 40], "x.gz", |e| matches!(e, NotGzip { .. })),
    ];
    for (bytes, name, expected) in cases {
        let err = data::parse_images(name, bytes).unwrap_err();
        assert!(expected(&err), "{bytes:?} as {name}: {err:?}");
        assert!(err.to_string().starts_with(name), "{err}");
    }
}

#[test]
fn a_small_gzip_that_unpacks_past_its_header_stops_one_byte_later() {
    // 40 MB of zeros gzips to ~40 KB; the header claims one label. Reading stops after the
    // header's 9 bytes plus one: the error comes without unpacking the rest.
    let mut content = data::encode_labels(&[3]);
    content.resize(40 << 20, 0);
    let mut e = GzEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(&content).unwrap();
    let bomb = e.finish().unwrap();
    assert!(bomb.len() < 100_000, "{}", bomb.len());
    let err = data::parse_labels("bomb.gz", &bomb).unwrap_err();
    assert!(matches!(err, DataError::TrailingData { expected: 9, .. }), "{err:?}");
    let err = data::decompress("bomb.gz", &bomb, 1000).unwrap_err();
    assert!(matches!(err, DataError::TrailingData { expected: 1000, .. }), "{err:?}");
    // A header claiming more than MAX_EXAMPLES is refused before anything is allocated.
    let mut huge = data::encode_labels(&[1]);
    huge[4..8].copy_from_slice(&(data::MAX_EXAMPLES + 1).to_be_bytes());
    assert!(matches!(data::parse_labels("huge", &huge).unwrap_err(), DataError::TooMany { .. }));
}

#[test]
fn concatenated_gzip_members_are_one_file_and_trailing_garbage_is_an_error() {
    let content = data::encode_labels(&[1, 2, 3, 4, 5]);
    let two_members = [gzip(&content[..7]), gzip(&content[7..])].concat();
    assert_eq!(data::parse_labels("two.gz", &two_members).unwrap(), vec![1, 2, 3, 4, 5]);
    let with_garbage = [gzip(&content), b"garbage".to_vec()].concat();
    let err = data::parse_labels("tail.gz", &with_garbage).unwrap_err();
    assert!(matches!(err, DataError::CorruptGzip { .. }), "{err:?}");
    assert_message(&err, &["tail.gz", "gzip"]);
}

#[test]
fn shipped_fashion_mnist_loads_and_matches_its_built_in_entry() {
    let fashion = data::FASHION_MNIST;
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../public/data").join(fashion.id);
    let d = data::load_dir(&dir, &fashion.verification()).unwrap();
    assert_eq!((d.train.len(), d.test.len()), (60_000, 10_000));
    // Fashion-MNIST's first training label is 9 (ankle boot).
    assert_eq!(d.train.labels[0], 9);
    assert_eq!(fashion.classes[9], "Ankle boot");
    for (name, bytes) in fashion.gz_files() {
        assert_eq!(std::fs::metadata(dir.join(&name)).unwrap().len(), bytes, "{name}: the size the page's progress bar expects");
    }
    for (name, bytes) in data::MNIST.gz_files() {
        assert_eq!(std::fs::metadata(mnist_dir().join(&name)).unwrap().len(), bytes, "{name}");
    }
}

#[test]
fn own_idx_pair_is_split_into_train_and_test() {
    let images = data::encode_images(&(0..12 * IMAGE_PIXELS).map(|i| (i * 5 % 256) as u8).collect::<Vec<_>>());
    let labels = data::encode_labels(&(0..12).map(|i| (i % 10) as u8).collect::<Vec<_>>());
    let named = |name, bytes| data::NamedBytes { name, bytes };
    let gzipped = gzip(&images);
    let d = data::dataset_from_pair(named("mine-images.gz", &gzipped), named("mine-labels", &labels)).unwrap();
    assert_eq!((d.train.len(), d.test.len()), (10, 2));
    assert_eq!(d.test.labels, vec![0, 1]);

    // Swapped files, mismatched counts and a single example are refused with the reason.
    let e = data::dataset_from_pair(named("labels.idx", &labels), named("images.idx", &images)).unwrap_err();
    assert_message(&e, &["labels.idx", "wrong magic number"]);
    let fewer = data::encode_labels(&[1, 2, 3]);
    let e = data::dataset_from_pair(named("i", &images), named("l", &fewer)).unwrap_err();
    assert_message(&e, &["12 images", "3 labels"]);
    let one = data::encode_images(&[7; IMAGE_PIXELS]);
    let e = data::dataset_from_pair(named("i", &one), named("l", &data::encode_labels(&[3]))).unwrap_err();
    assert_message(&e, &["at least 2"]);
}

#[test]
fn unpacking_pauses_every_few_megabytes_and_gives_the_same_split() {
    // The page yields to the browser at each pause; the result must not depend on it.
    let dir = mnist_dir();
    let read = |name: &str| std::fs::read(dir.join(format!("{name}.gz"))).unwrap();
    let (images, labels) = (read(FILE_NAMES[0]), read(FILE_NAMES[1]));
    let named = |name: &'static str, bytes: &'static [u8]| data::NamedBytes { name, bytes };
    let (images, labels): (&'static [u8], &'static [u8]) = (images.leak(), labels.leak());
    let verify = Verification::mnist();
    let mut pauses = 0;
    let mut pause = || {
        pauses += 1;
        std::future::ready(())
    };
    let pausing =
        engine::train::block_on(data::parse_split_pausing(named(FILE_NAMES[0], images), named(FILE_NAMES[1], labels), &verify, &mut pause))
            .unwrap();
    let plain = data::parse_split(named(FILE_NAMES[0], images), named(FILE_NAMES[1], labels), &verify).unwrap();
    assert_eq!(pausing.images, plain.images);
    assert_eq!(pausing.labels, plain.labels);
    // 47 MB of pixels unpacked and hashed, pausing after each full chunk.
    assert_eq!(pauses, 60_000 * IMAGE_PIXELS / data::PAUSE_EVERY, "pauses");
    // A corrupt file still fails with its own error.
    let cut = &images[..images.len() / 2];
    let err =
        engine::train::block_on(data::parse_split_pausing(named(FILE_NAMES[0], cut), named(FILE_NAMES[1], labels), &verify, &mut || {
            std::future::ready(())
        }))
        .unwrap_err();
    assert!(matches!(err, DataError::CorruptGzip { .. }), "{err}");
}
