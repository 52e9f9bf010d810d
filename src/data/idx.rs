//! Reader (and a small writer, for tests and tools) of the IDX format that Fashion-MNIST ships in.
//!
//! An IDX file is a 4-byte magic `00 00 TT NN` (TT = element type, 0x08 = u8; NN = number of dimensions), then
//! NN big-endian `u32` dimensions, then the row-major elements. Fashion-MNIST uses `00 00 08 03` for images
//! (count × rows × cols) and `00 00 08 01` for labels (count). Files may be gzipped (detected by the gzip
//! magic `1f 8b`, not by the file name). Every check names the file and what is wrong, with the byte offset
//! where it matters; arbitrary bytes never panic: declared sizes are multiplied with `checked_mul` and compared
//! with the actual length before anything is allocated.

use crate::error::{Error, Result};
use std::io::Read;
use std::path::Path;

/// IDX element-type byte for unsigned bytes, the only type Fashion-MNIST uses.
pub const TYPE_U8: u8 = 0x08;
/// Magic number of an IDX image file (u8 elements, 3 dimensions).
pub const MAGIC_IMAGES: u32 = 0x0000_0803;
/// Magic number of an IDX label file (u8 elements, 1 dimension).
pub const MAGIC_LABELS: u32 = 0x0000_0801;
/// Number of classes; every label must be below this.
pub const NUM_CLASSES: u8 = 10;

/// The contents of an IDX image file: `count` images of `rows × cols` u8 pixels, row-major, image after image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdxImages {
    /// Number of images.
    pub count: usize,
    /// Rows per image (28 for Fashion-MNIST).
    pub rows: usize,
    /// Columns per image (28 for Fashion-MNIST).
    pub cols: usize,
    /// `count × rows × cols` pixels.
    pub pixels: Vec<u8>,
}

fn bad(path: &Path, reason: impl Into<String>) -> Error {
    Error::BadIdx {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

/// Most bytes a data file may hold, plain or after decompression (256 MiB; Fashion-MNIST's largest file is
/// 47,040,016 bytes): a bound so a corrupt or hostile `.gz` (a "gzip bomb") cannot exhaust memory.
pub const MAX_FILE_BYTES: u64 = 256 << 20;

/// Reads a file, gunzipping it if it starts with the gzip magic `1f 8b`; at most [`MAX_FILE_BYTES`].
///
/// A corrupt gzip stream or a file past the limit gives [`Error::BadIdx`]; a file that cannot be opened
/// gives [`Error::Io`].
pub fn read_maybe_gz(path: &Path) -> Result<Vec<u8>> {
    read_maybe_gz_limited(path, MAX_FILE_BYTES)
}

/// [`read_maybe_gz`] with the limit `max_bytes` (on the file and on its decompressed content).
pub fn read_maybe_gz_limited(path: &Path, max_bytes: u64) -> Result<Vec<u8>> {
    let f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut raw = Vec::new();
    f.take(max_bytes + 1)
        .read_to_end(&mut raw)
        .map_err(|e| Error::io(path, e))?;
    let too_big = |what: &str| {
        bad(
            path,
            format!(
                "{what} more than {max_bytes} bytes, the limit for a data file (Fashion-MNIST's largest \
                 is 47,040,016); is it the right file?"
            ),
        )
    };
    if raw.len() as u64 > max_bytes {
        return Err(too_big("holds"));
    }
    if raw.len() >= 2 && raw[0] == 0x1f && raw[1] == 0x8b {
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(&raw[..])
            .take(max_bytes + 1)
            .read_to_end(&mut out)
            .map_err(|e| {
                bad(
                    path,
                    format!(
                        "corrupt gzip stream ({e}) after {} decompressed bytes",
                        out.len()
                    ),
                )
            })?;
        if out.len() as u64 > max_bytes {
            return Err(too_big("decompresses to"));
        }
        Ok(out)
    } else {
        Ok(raw)
    }
}

fn be_u32(b: &[u8], off: usize) -> Option<u32> {
    let s = b.get(off..off.checked_add(4)?)?;
    Some(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

/// Parses an IDX header expecting `ndim` dimensions of u8 elements, checks that the body length matches the
/// declared dimensions exactly, and returns the dimensions and the body.
fn parse_u8_idx<'a>(
    bytes: &'a [u8],
    path: &Path,
    ndim: u8,
    what: &str,
) -> Result<(Vec<usize>, &'a [u8])> {
    let expected_magic = u32::from(TYPE_U8) << 8 | u32::from(ndim);
    let Some(magic) = be_u32(bytes, 0) else {
        return Err(bad(
            path,
            format!(
                "truncated header: the 4-byte magic number is missing (file has {} bytes); expected {what} magic 0x{expected_magic:08x}",
                bytes.len()
            ),
        ));
    };
    if bytes[0] != 0 || bytes[1] != 0 {
        return Err(bad(
            path,
            format!(
                "bad magic number 0x{magic:08x} at offset 0: the first two bytes must be zero; expected {what} magic 0x{expected_magic:08x} (is this an IDX file?)"
            ),
        ));
    }
    if bytes[2] != TYPE_U8 {
        return Err(bad(
            path,
            format!(
                "bad magic number 0x{magic:08x}: element type byte at offset 2 is 0x{:02x}, expected 0x{TYPE_U8:02x} (unsigned byte)",
                bytes[2]
            ),
        ));
    }
    if bytes[3] != ndim {
        return Err(bad(
            path,
            format!(
                "bad magic number 0x{magic:08x}: number of dimensions at offset 3 is {}, expected {ndim} for {what} (magic 0x{expected_magic:08x})",
                bytes[3]
            ),
        ));
    }
    let header = 4 + 4 * usize::from(ndim);
    if bytes.len() < header {
        return Err(bad(
            path,
            format!(
                "truncated header: {what} header needs {header} bytes (magic + {ndim} dimensions), file has {}",
                bytes.len()
            ),
        ));
    }
    let mut dims = Vec::with_capacity(usize::from(ndim));
    for i in 0..usize::from(ndim) {
        // Cannot fail: bytes.len() >= header was checked above.
        let d = be_u32(bytes, 4 + 4 * i).unwrap_or(0);
        dims.push(d as usize);
    }
    let dims_text = dims
        .iter()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join("×");
    let body_len = dims.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d));
    let total = body_len.and_then(|b| b.checked_add(header));
    let Some(total) = total else {
        return Err(bad(
            path,
            format!("declared dimensions {dims_text} overflow the address space (header at offsets 4..{header})"),
        ));
    };
    if bytes.len() < total {
        return Err(bad(
            path,
            format!(
                "truncated: {what} of dimensions {dims_text} need {total} bytes ({header}-byte header + {} data bytes), file has {} ({} missing; data ends early at offset {})",
                total - header,
                bytes.len(),
                total - bytes.len(),
                bytes.len()
            ),
        ));
    }
    if bytes.len() > total {
        return Err(bad(
            path,
            format!(
                "{} trailing bytes after the declared data: {what} of dimensions {dims_text} end at offset {total}, file has {} bytes",
                bytes.len() - total,
                bytes.len()
            ),
        ));
    }
    Ok((dims, &bytes[header..total]))
}

/// Parses the bytes of an IDX image file (already gunzipped). `path` is only used in error messages.
///
/// Accepts any rows/cols (Fashion-MNIST has 28×28); rejects a wrong magic, element type or number of
/// dimensions, a truncated header or body, and trailing bytes, all as [`Error::BadIdx`].
pub fn parse_images(bytes: &[u8], path: &Path) -> Result<IdxImages> {
    let (dims, body) = parse_u8_idx(bytes, path, 3, "images")?;
    Ok(IdxImages {
        count: dims[0],
        rows: dims[1],
        cols: dims[2],
        pixels: body.to_vec(),
    })
}

/// Parses the bytes of an IDX label file (already gunzipped). `path` is only used in error messages.
///
/// Besides the format checks of [`parse_images`], every label must be `< 10`; the first one that is not is
/// reported with its index and byte offset.
pub fn parse_labels(bytes: &[u8], path: &Path) -> Result<Vec<u8>> {
    let (_, body) = parse_u8_idx(bytes, path, 1, "labels")?;
    if let Some(i) = body.iter().position(|&l| l >= NUM_CLASSES) {
        return Err(bad(
            path,
            format!(
                "label {} at index {i} (byte offset {}) is out of range; labels must be 0..={}",
                body[i],
                8 + i,
                NUM_CLASSES - 1
            ),
        ));
    }
    Ok(body.to_vec())
}

/// Reads and parses an IDX image file, gzipped or not.
pub fn read_images(path: &Path) -> Result<IdxImages> {
    parse_images(&read_maybe_gz(path)?, path)
}

/// Reads and parses an IDX label file, gzipped or not.
pub fn read_labels(path: &Path) -> Result<Vec<u8>> {
    parse_labels(&read_maybe_gz(path)?, path)
}

/// Encodes images as an (uncompressed) IDX image file. For tests and tools.
///
/// Returns [`Error::Invalid`] if `pixels.len() != count·rows·cols` or a dimension does not fit in `u32`.
pub fn encode_images(count: usize, rows: usize, cols: usize, pixels: &[u8]) -> Result<Vec<u8>> {
    let n = count.checked_mul(rows).and_then(|v| v.checked_mul(cols));
    if n != Some(pixels.len()) {
        return Err(Error::invalid(
            "IDX images",
            format!(
                "{count}×{rows}×{cols} images need that many pixels, got {}",
                pixels.len()
            ),
        ));
    }
    let mut out = MAGIC_IMAGES.to_be_bytes().to_vec();
    for d in [count, rows, cols] {
        let d = u32::try_from(d)
            .map_err(|_| Error::invalid("IDX images", format!("dimension {d} > u32::MAX")))?;
        out.extend_from_slice(&d.to_be_bytes());
    }
    out.extend_from_slice(pixels);
    Ok(out)
}

/// Encodes labels as an (uncompressed) IDX label file. For tests and tools. Does not check the label range,
/// so tests can write invalid files.
pub fn encode_labels(labels: &[u8]) -> Result<Vec<u8>> {
    let n = u32::try_from(labels.len())
        .map_err(|_| Error::invalid("IDX labels", format!("{} labels > u32::MAX", labels.len())))?;
    let mut out = MAGIC_LABELS.to_be_bytes().to_vec();
    out.extend_from_slice(&n.to_be_bytes());
    out.extend_from_slice(labels);
    Ok(out)
}
