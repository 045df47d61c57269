//! MNIST-style idx data: parsing (raw or gzipped, detected by magic bytes), header
//! checks, SHA-256 verification of the decompressed content, and loading a directory.
//!
//! Parsing works on bytes so that the browser (which fetches) and the desktop binary
//! (which reads files) share it. Every problem is a [`DataError`] naming the file.

mod idx;

pub use idx::{decompress, parse_images, parse_labels, Pause, MAX_EXAMPLES, PAUSE_EVERY};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// Images are 28x28 single-channel u8.
pub const IMAGE_SIDE: usize = 28;
pub const IMAGE_PIXELS: usize = IMAGE_SIDE * IMAGE_SIDE;
pub const NUM_CLASSES: usize = 10;

const IDX_IMAGES_MAGIC: u32 = 2051;
const IDX_LABELS_MAGIC: u32 = 2049;

/// Standard file names (Fashion-MNIST uses the same ones), without `.gz`.
pub const TRAIN_IMAGES: &str = "train-images-idx3-ubyte";
pub const TRAIN_LABELS: &str = "train-labels-idx1-ubyte";
pub const TEST_IMAGES: &str = "t10k-images-idx3-ubyte";
pub const TEST_LABELS: &str = "t10k-labels-idx1-ubyte";
pub const FILE_NAMES: [&str; 4] = [TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS];

/// SHA-256 of the decompressed content of the four MNIST files.
pub const MNIST_SHA256: [(&str, &str); 4] = [
    (TRAIN_IMAGES, "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"),
    (TRAIN_LABELS, "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"),
    (TEST_IMAGES, "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"),
    (TEST_LABELS, "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"),
];

/// SHA-256 of the decompressed content of the four Fashion-MNIST files (Debian's
/// `dataset-fashion-mnist`, the same files as Zalando's release).
pub const FASHION_MNIST_SHA256: [(&str, &str); 4] = [
    (TRAIN_IMAGES, "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"),
    (TRAIN_LABELS, "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9"),
    (TEST_IMAGES, "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b"),
    (TEST_LABELS, "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"),
];

/// The labels of MNIST's ten classes.
pub const MNIST_CLASSES: [&str; 10] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];

/// The labels of Fashion-MNIST's ten classes, in label order.
pub const FASHION_CLASSES: [&str; 10] =
    ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];

/// A dataset the project ships: where its files live under `public/data/`, their
/// compressed sizes (for download progress), checksums and class names.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BuiltinDataset {
    /// Also the directory name under `public/data/`.
    pub id: &'static str,
    pub title: &'static str,
    /// Sizes of the four `.gz` files, in the order of [`FILE_NAMES`] (for download progress).
    pub gz_bytes: [u64; 4],
    pub sha256: [(&'static str, &'static str); 4],
    pub classes: [&'static str; 10],
    pub credit: &'static str,
}

pub const MNIST: BuiltinDataset = BuiltinDataset {
    id: "mnist",
    title: "MNIST",
    gz_bytes: [9_719_438, 28_857, 1_616_508, 4_517],
    sha256: MNIST_SHA256,
    classes: MNIST_CLASSES,
    credit: "MNIST (LeCun, Cortes, Burges), CC BY-SA 3.0",
};

pub const FASHION_MNIST: BuiltinDataset = BuiltinDataset {
    id: "fashion-mnist",
    title: "Fashion-MNIST",
    gz_bytes: [26_421_856, 29_491, 4_422_079, 5_125],
    sha256: FASHION_MNIST_SHA256,
    classes: FASHION_CLASSES,
    credit: "Fashion-MNIST (Xiao, Rasul and Vollgraf, Zalando SE), MIT licence",
};

pub const BUILTIN_DATASETS: [BuiltinDataset; 2] = [MNIST, FASHION_MNIST];

impl BuiltinDataset {
    pub fn by_id(id: &str) -> Option<BuiltinDataset> {
        BUILTIN_DATASETS.into_iter().find(|d| d.id == id)
    }
    /// The shipped files (`<name>.gz`) and their sizes.
    pub fn gz_files(&self) -> impl Iterator<Item = (String, u64)> {
        FILE_NAMES.into_iter().zip(self.gz_bytes).map(|(name, bytes)| (format!("{name}.gz"), bytes))
    }
    pub fn total_bytes(&self) -> u64 {
        self.gz_bytes.iter().sum()
    }
    pub fn verification(&self) -> Verification {
        Verification::Sha256 {
            source: format!("the engine's built-in {} checksums", self.title),
            sums: self.sha256.iter().map(|(f, h)| (f.to_string(), h.to_string())).collect(),
        }
    }
}

/// Name of the optional checksum file in a data directory (`sha256sum` format).
pub const SUMS_FILE: &str = "SHA256SUMS.decompressed";

/// What went wrong with a data file. Each variant names the file and says what to do.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("{file}: cannot read it ({source}). Check that the data directory holds the four idx files (optionally .gz).")]
    Io {
        file: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{file}: not found in {dir}. Expected `{file}` or `{file}.gz` there.")]
    Missing { file: String, dir: String },
    #[error("{file}: named .gz but it is not gzip data (first bytes {found:02x?}). Re-download or re-copy the file.")]
    NotGzip { file: String, found: Vec<u8> },
    #[error("{file}: corrupt gzip stream ({reason}). Re-download or re-copy the file.")]
    CorruptGzip { file: String, reason: String },
    #[error("{file}: wrong magic number {found:#010x}, expected {expected:#010x} ({what}). Is this the right file?")]
    BadMagic { file: String, found: u32, expected: u32, what: &'static str },
    #[error("{file}: truncated: it needs {expected} bytes (header included), the file holds {actual}. Re-download or re-copy the file.")]
    Truncated { file: String, expected: u64, actual: u64 },
    #[error("{file}: more data than the {expected} bytes its header describes. Is this the right file?")]
    TrailingData { file: String, expected: u64 },
    #[error("{file}: its header claims {count} examples; this engine takes at most {max}. Is this the right file? A larger dataset needs splitting.")]
    TooMany { file: String, count: u32, max: u32 },
    #[error("{file}: images are {rows}x{cols}, this engine needs 28x28.")]
    WrongShape { file: String, rows: u32, cols: u32 },
    #[error("{images_file} holds {images} images but {labels_file} holds {labels} labels; they must agree.")]
    CountMismatch { images_file: String, images: usize, labels_file: String, labels: usize },
    #[error("{file}: label {label} at index {index} is outside 0..=9.")]
    BadLabel { file: String, index: usize, label: u8 },
    #[error("{file}: SHA-256 of the decompressed content is {actual}, expected {expected}. The file is corrupt or not the published one; re-copy it.")]
    ChecksumMismatch { file: String, expected: String, actual: String },
    #[error("{file}: no checksum listed for it in {sums}.")]
    ChecksumMissing { file: String, sums: String },
    #[error("{file}: holds no images.")]
    Empty { file: String },
    #[error("only {count} example(s): at least 2 are needed, one to train on and one to test.")]
    TooFew { count: usize },
}

/// One split (train or test): `count` images of 784 u8 pixels, row-major, and their labels.
#[derive(Clone, Debug, PartialEq)]
pub struct Split {
    pub images: Vec<u8>,
    pub labels: Vec<u8>,
}

impl Split {
    pub fn len(&self) -> usize {
        self.labels.len()
    }
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }
    /// The first `n` examples (or all, if there are fewer).
    pub fn truncated(&self, n: usize) -> Split {
        let n = n.min(self.len());
        Split { images: self.images[..n * IMAGE_PIXELS].to_vec(), labels: self.labels[..n].to_vec() }
    }
    /// Examples `start..start+n`, as a new split.
    pub fn slice(&self, start: usize, n: usize) -> Split {
        let end = (start + n).min(self.len());
        let start = start.min(end);
        Split { images: self.images[start * IMAGE_PIXELS..end * IMAGE_PIXELS].to_vec(), labels: self.labels[start..end].to_vec() }
    }
    /// Pixels of example `i` scaled to [0, 1], as the model sees them.
    pub fn image_f32(&self, i: usize) -> Vec<f32> {
        self.images[i * IMAGE_PIXELS..(i + 1) * IMAGE_PIXELS].iter().map(|&p| p as f32 / 255.0).collect()
    }
}

/// Training and test splits.
#[derive(Clone, Debug, PartialEq)]
pub struct Dataset {
    pub train: Split,
    pub test: Split,
}

/// How to verify the decompressed content of each file.
#[derive(Clone, Debug)]
pub enum Verification {
    /// Header checks only (any idx dataset of the right shape).
    HeaderOnly,
    /// Header checks and SHA-256 against `(file name without .gz, hex digest)` pairs.
    Sha256 { source: String, sums: Vec<(String, String)> },
}

impl Verification {
    /// The published MNIST checksums, built into the engine.
    pub fn mnist() -> Self {
        MNIST.verification()
    }

    /// Checksums from `dir/SHA256SUMS.decompressed` if that file exists, else header checks only.
    pub fn from_dir(dir: &Path) -> Result<Self, DataError> {
        let path = dir.join(SUMS_FILE);
        if !path.exists() {
            return Ok(Verification::HeaderOnly);
        }
        let text = std::fs::read_to_string(&path).map_err(|source| DataError::Io { file: path.display().to_string(), source })?;
        Ok(Verification::Sha256 { source: path.display().to_string(), sums: parse_sums(&text) })
    }

    /// The hex digest listed for `file` (without `.gz` or its directory), or `None` when only
    /// headers are checked.
    fn expected_sha256(&self, file: &str) -> Result<Option<String>, DataError> {
        let Verification::Sha256 { source, sums } = self else {
            return Ok(None);
        };
        let base = file.trim_end_matches(".gz");
        let base = base.rsplit(['/', '\\']).next().unwrap_or(base);
        sums.iter()
            .find(|(name, _)| name == base)
            .map(|(_, h)| Some(h.to_ascii_lowercase()))
            .ok_or_else(|| DataError::ChecksumMissing { file: file.to_string(), sums: source.clone() })
    }
}

/// Parses `sha256sum` output: `<hex>  <name>` per line.
pub fn parse_sums(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|line| {
            let mut parts = line.split_whitespace();
            let hash = parts.next()?;
            let name = parts.next()?.trim_start_matches('*');
            Some((name.to_string(), hash.to_string()))
        })
        .collect()
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// One file as fetched or read: its name (with `.gz` if it has one) and its bytes.
pub struct NamedBytes<'a> {
    pub name: &'a str,
    pub bytes: &'a [u8],
}

/// Builds a split from an image file and a label file (raw or gzipped bytes).
pub fn parse_split(images: NamedBytes, labels: NamedBytes, verify: &Verification) -> Result<Split, DataError> {
    idx::run_without_waiting(parse_split_pausing(images, labels, verify, &mut idx::no_pause))
}

/// [`parse_split`], calling `pause` between chunks of unpacking and hashing.
pub async fn parse_split_pausing<P: Pause>(
    images: NamedBytes<'_>,
    labels: NamedBytes<'_>,
    verify: &Verification,
    pause: &mut P,
) -> Result<Split, DataError> {
    let images_u8 = idx::read_idx(images.name, images.bytes, idx::IdxKind::Images, verify, pause).await?;
    let labels_u8 = idx::read_idx(labels.name, labels.bytes, idx::IdxKind::Labels, verify, pause).await?;
    let image_count = images_u8.len() / IMAGE_PIXELS;
    if image_count != labels_u8.len() {
        return Err(DataError::CountMismatch {
            images_file: images.name.to_string(),
            images: image_count,
            labels_file: labels.name.to_string(),
            labels: labels_u8.len(),
        });
    }
    Ok(Split { images: images_u8, labels: labels_u8 })
}

/// A user's own images and labels (idx, raw or gzipped, header checks only), split so that
/// the last sixth (at least one example) is held out as the test set.
pub fn dataset_from_pair(images: NamedBytes, labels: NamedBytes) -> Result<Dataset, DataError> {
    let all = parse_split(images, labels, &Verification::HeaderOnly)?;
    if all.len() < 2 {
        return Err(DataError::TooFew { count: all.len() });
    }
    let test = (all.len() / 6).max(1);
    let train = all.len() - test;
    Ok(Dataset { train: all.slice(0, train), test: all.slice(train, test) })
}

/// Finds `name` or `name.gz` in `dir`, preferring the gzipped one.
pub fn find_file(dir: &Path, name: &str) -> Result<PathBuf, DataError> {
    let gz = dir.join(format!("{name}.gz"));
    if gz.is_file() {
        return Ok(gz);
    }
    let raw = dir.join(name);
    if raw.is_file() {
        return Ok(raw);
    }
    Err(DataError::Missing { file: name.to_string(), dir: dir.display().to_string() })
}

fn read_file(path: &Path) -> Result<Vec<u8>, DataError> {
    std::fs::read(path).map_err(|source| DataError::Io { file: path.display().to_string(), source })
}

/// Loads the four standard files from `dir`, verifying them as `verify` says.
pub fn load_dir(dir: &Path, verify: &Verification) -> Result<Dataset, DataError> {
    let load_split = |images: &str, labels: &str| -> Result<Split, DataError> {
        let image_path = find_file(dir, images)?;
        let label_path = find_file(dir, labels)?;
        let image_bytes = read_file(&image_path)?;
        let label_bytes = read_file(&label_path)?;
        parse_split(
            NamedBytes { name: &image_path.display().to_string(), bytes: &image_bytes },
            NamedBytes { name: &label_path.display().to_string(), bytes: &label_bytes },
            verify,
        )
    };
    Ok(Dataset { train: load_split(TRAIN_IMAGES, TRAIN_LABELS)?, test: load_split(TEST_IMAGES, TEST_LABELS)? })
}

/// Writes an idx3 image file's raw content (used by tests and tools that make small datasets).
pub fn encode_images(images: &[u8]) -> Vec<u8> {
    let count = (images.len() / IMAGE_PIXELS) as u32;
    let mut out = Vec::with_capacity(16 + images.len());
    for v in [IDX_IMAGES_MAGIC, count, IMAGE_SIDE as u32, IMAGE_SIDE as u32] {
        out.extend_from_slice(&v.to_be_bytes());
    }
    out.extend_from_slice(images);
    out
}

/// Writes an idx1 label file's raw content.
pub fn encode_labels(labels: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + labels.len());
    out.extend_from_slice(&IDX_LABELS_MAGIC.to_be_bytes());
    out.extend_from_slice(&(labels.len() as u32).to_be_bytes());
    out.extend_from_slice(labels);
    out
}
