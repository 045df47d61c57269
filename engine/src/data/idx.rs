//! Reading one idx file, raw or gzipped: the header first, then exactly the payload that the
//! checked header describes, hashed as it streams. Nothing is allocated from an unchecked
//! size, the output never grows past the header's size, and each byte is copied once.

use super::{DataError, Verification, IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC, IMAGE_PIXELS, IMAGE_SIDE, NUM_CLASSES};
use sha2::{Digest, Sha256};
use std::io::Read;

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// The most examples one file may claim: 784 MB of pixels, past any MNIST-style set (EMNIST's
/// largest split has 814,255). Also keeps the size arithmetic far from 32-bit overflow.
pub const MAX_EXAMPLES: u32 = 1_000_000;

/// Deflate's best ratio is about 1032:1, so a gzip of n bytes unpacks to at most this
/// multiple: the capacity reserved up front never exceeds what the input can give.
const DEFLATE_MAX_RATIO: usize = 1032;

/// Bytes unpacked and hashed between two pauses: a few tens of ms of work in a browser.
pub const PAUSE_EVERY: usize = 2 << 20;

/// The two kinds of idx file the engine reads.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum IdxKind {
    Images,
    Labels,
}

impl IdxKind {
    fn magic(self) -> u32 {
        match self {
            IdxKind::Images => IDX_IMAGES_MAGIC,
            IdxKind::Labels => IDX_LABELS_MAGIC,
        }
    }
    fn what(self) -> &'static str {
        match self {
            IdxKind::Images => "idx3 u8 images",
            IdxKind::Labels => "idx1 u8 labels",
        }
    }
    fn header_bytes(self) -> usize {
        match self {
            IdxKind::Images => 16,
            IdxKind::Labels => 8,
        }
    }
    fn example_bytes(self) -> usize {
        match self {
            IdxKind::Images => IMAGE_PIXELS,
            IdxKind::Labels => 1,
        }
    }
}

/// Hands control back between chunks of work (a browser yields to its event loop there, so
/// the page stays responsive while ~60 MB are unpacked and checked).
pub trait Pause: FnMut() -> Self::Wait {
    type Wait: std::future::Future<Output = ()>;
}

impl<F: FnMut() -> W, W: std::future::Future<Output = ()>> Pause for F {
    type Wait = W;
}

pub(crate) fn no_pause() -> std::future::Ready<()> {
    std::future::ready(())
}

/// Runs a future that never waits (every pause is [`no_pause`]) to completion.
pub(crate) fn run_without_waiting<T>(future: impl std::future::Future<Output = T>) -> T {
    let mut future = std::pin::pin!(future);
    match future.as_mut().poll(&mut std::task::Context::from_waker(std::task::Waker::noop())) {
        std::task::Poll::Ready(value) => value,
        std::task::Poll::Pending => unreachable!("nothing in it waits"),
    }
}

/// The bytes of a file, unpacked if they start with the gzip magic. Every gzip member is
/// read (concatenated members are valid gzip); bytes after the last member that are not
/// another member are an error, never ignored.
fn open<'a>(file: &str, bytes: &'a [u8]) -> Result<(Box<dyn Read + 'a>, usize), DataError> {
    if bytes.starts_with(&GZIP_MAGIC) {
        let bound = bytes.len().saturating_mul(DEFLATE_MAX_RATIO);
        return Ok((Box::new(flate2::read::MultiGzDecoder::new(bytes)), bound));
    }
    if file.ends_with(".gz") {
        return Err(DataError::NotGzip { file: file.to_string(), found: bytes.iter().take(4).copied().collect() });
    }
    Ok((Box::new(bytes), bytes.len()))
}

/// Reads until `buf` is full or the stream ends; returns how many bytes were read.
fn read_up_to(file: &str, source: &mut dyn Read, buf: &mut [u8]) -> Result<usize, DataError> {
    let mut filled = 0;
    while filled < buf.len() {
        match source.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(DataError::CorruptGzip { file: file.to_string(), reason: e.to_string() }),
        }
    }
    Ok(filled)
}

/// Reads one idx file and returns its payload (pixels or labels), after checking its header,
/// its exact length and, if `verify` lists it, the SHA-256 of its unpacked content.
pub(crate) async fn read_idx<P: Pause>(
    file: &str,
    bytes: &[u8],
    kind: IdxKind,
    verify: &Verification,
    pause: &mut P,
) -> Result<Vec<u8>, DataError> {
    let expected_sha256 = verify.expected_sha256(file)?;
    let (mut source, unpacked_bound) = open(file, bytes)?;
    let mut hasher = Sha256::new();

    let mut header = [0u8; 16];
    let header = &mut header[..kind.header_bytes()];
    let got = read_up_to(file, &mut source, header)?;
    let word = |at: usize| u32::from_be_bytes([header[at], header[at + 1], header[at + 2], header[at + 3]]);
    if got < 4 || word(0) != kind.magic() {
        if got < 4 {
            return Err(DataError::Truncated { file: file.to_string(), expected: header.len() as u64, actual: got as u64 });
        }
        return Err(DataError::BadMagic { file: file.to_string(), found: word(0), expected: kind.magic(), what: kind.what() });
    }
    if got < header.len() {
        return Err(DataError::Truncated { file: file.to_string(), expected: header.len() as u64, actual: got as u64 });
    }
    hasher.update(&header[..]);
    let count = word(4);
    if kind == IdxKind::Images && (word(8) as usize != IMAGE_SIDE || word(12) as usize != IMAGE_SIDE) {
        return Err(DataError::WrongShape { file: file.to_string(), rows: word(8), cols: word(12) });
    }
    if count == 0 {
        return Err(DataError::Empty { file: file.to_string() });
    }
    if count > MAX_EXAMPLES {
        return Err(DataError::TooMany { file: file.to_string(), count, max: MAX_EXAMPLES });
    }
    // At most 784e6, which fits a 32-bit usize.
    let payload = count as usize * kind.example_bytes();
    let total = header.len() as u64 + payload as u64;

    let mut out = Vec::with_capacity(payload.min(unpacked_bound));
    let mut since_pause = 0;
    while out.len() < payload {
        let start = out.len();
        let chunk = (payload - start).min(64 * 1024);
        out.resize(start + chunk, 0);
        let n = read_up_to(file, &mut source, &mut out[start..])?;
        out.truncate(start + n);
        if n == 0 {
            return Err(DataError::Truncated { file: file.to_string(), expected: total, actual: (header.len() + start) as u64 });
        }
        hasher.update(&out[start..]);
        since_pause += n;
        if since_pause >= PAUSE_EVERY {
            since_pause = 0;
            pause().await;
        }
    }
    if read_up_to(file, &mut source, &mut [0u8; 1])? > 0 {
        return Err(DataError::TrailingData { file: file.to_string(), expected: total });
    }
    if let Some(expected) = expected_sha256 {
        let actual = super::hex(&hasher.finalize());
        if actual != expected {
            return Err(DataError::ChecksumMismatch { file: file.to_string(), expected, actual });
        }
    }
    if kind == IdxKind::Labels {
        if let Some((index, &label)) = out.iter().enumerate().find(|(_, &l)| l as usize >= NUM_CLASSES) {
            return Err(DataError::BadLabel { file: file.to_string(), index, label });
        }
    }
    Ok(out)
}

/// Parses an idx3 image file (raw or gzipped) into u8 pixels, header checks only.
pub fn parse_images(file: &str, bytes: &[u8]) -> Result<Vec<u8>, DataError> {
    run_without_waiting(read_idx(file, bytes, IdxKind::Images, &Verification::HeaderOnly, &mut no_pause))
}

/// Parses an idx1 label file (raw or gzipped) into labels 0..=9, header checks only.
pub fn parse_labels(file: &str, bytes: &[u8]) -> Result<Vec<u8>, DataError> {
    run_without_waiting(read_idx(file, bytes, IdxKind::Labels, &Verification::HeaderOnly, &mut no_pause))
}

/// The unpacked bytes of a gzip file (every member), or the bytes themselves if they are not
/// gzip, up to `limit` bytes: more is an error, so a small file cannot fill the memory.
pub fn decompress(file: &str, bytes: &[u8], limit: usize) -> Result<Vec<u8>, DataError> {
    let (mut source, bound) = open(file, bytes)?;
    let mut out = Vec::with_capacity(bound.min(limit));
    let mut taken = (&mut source).take(limit as u64 + 1);
    taken.read_to_end(&mut out).map_err(|e| DataError::CorruptGzip { file: file.to_string(), reason: e.to_string() })?;
    if out.len() > limit {
        return Err(DataError::TrailingData { file: file.to_string(), expected: limit as u64 });
    }
    Ok(out)
}
