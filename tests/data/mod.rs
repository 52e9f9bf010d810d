//! Data layer (paper/model.md §7): IDX reading and validation, locating and loading Fashion-MNIST, the luminance shift,
//! epoch order, the synthetic set and the real data (the luminance shift and the epoch order are in
//! [`shift`], the downloader in `fetch.rs`).

/// The luminance shift and the epoch order.
mod shift;

use crate::util::TempDir;
use inorm::data::idx::{
    self, encode_images, encode_labels, parse_images, parse_labels, read_images, read_labels,
};
use inorm::data::{self, locate_in, Dataset, FILE_STEMS};
use inorm::rng::{SeedRng, Stream};
use inorm::Error;
use proptest::prelude::*;
use std::io::Write;
use std::path::Path;

// ---------------------------------------------------------------------------------------------------------
// helpers

pub(crate) fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

pub(crate) fn write(path: &Path, bytes: &[u8]) {
    std::fs::write(path, bytes).unwrap();
}

/// Deterministic bytes for test images.
fn bytes_from(seed: u64, n: usize) -> Vec<u8> {
    let mut rng = SeedRng::new(seed, Stream::Test, 77);
    (0..n).map(|_| rng.next_u64() as u8).collect()
}

fn labels_from(seed: u64, n: usize) -> Vec<u8> {
    let mut rng = SeedRng::new(seed, Stream::Test, 78);
    (0..n).map(|_| rng.below(10) as u8).collect()
}

/// A small valid image file: 5 images of 4×3.
fn small_images() -> (Vec<u8>, Vec<u8>) {
    let px = bytes_from(1, 5 * 4 * 3);
    (encode_images(5, 4, 3, &px).unwrap(), px)
}

/// Writes a complete data folder: `n_train`/`n_test` samples of `rows×cols`; train plain, test gzipped.
pub(crate) fn write_dataset(
    dir: &Path,
    n_train: usize,
    n_test: usize,
    rows: usize,
    cols: usize,
) -> (Dataset, Dataset) {
    let d = rows * cols;
    let train = Dataset {
        images: bytes_from(10, n_train * d),
        labels: labels_from(11, n_train),
        dim: d,
    };
    let test = Dataset {
        images: bytes_from(12, n_test * d),
        labels: labels_from(13, n_test),
        dim: d,
    };
    write(
        &dir.join(data::TRAIN_IMAGES),
        &encode_images(n_train, rows, cols, &train.images).unwrap(),
    );
    write(
        &dir.join(data::TRAIN_LABELS),
        &encode_labels(&train.labels).unwrap(),
    );
    write(
        &dir.join(format!("{}.gz", data::TEST_IMAGES)),
        &gzip(&encode_images(n_test, rows, cols, &test.images).unwrap()),
    );
    write(
        &dir.join(format!("{}.gz", data::TEST_LABELS)),
        &gzip(&encode_labels(&test.labels).unwrap()),
    );
    (train, test)
}

/// Asserts `r` is a `BadIdx` for `path` whose message contains every one of `needles`.
fn assert_bad_idx<T: std::fmt::Debug>(r: inorm::Result<T>, path: &Path, needles: &[&str]) {
    match r {
        Err(e @ Error::BadIdx { .. }) => {
            let Error::BadIdx { path: p, reason } = &e else {
                unreachable!()
            };
            assert_eq!(p, path, "wrong path in {e}");
            let msg = e.to_string();
            assert!(
                msg.contains(&path.display().to_string()),
                "message does not name the file: {msg}"
            );
            for n in needles {
                assert!(reason.contains(n), "reason {reason:?} lacks {n:?}");
            }
        }
        other => panic!("expected BadIdx for {}, got {other:?}", path.display()),
    }
}

// ---------------------------------------------------------------------------------------------------------
// IDX reading

#[test]
fn idx_round_trip_plain_and_gz() {
    let t = TempDir::new("rt");
    let (img, px) = small_images();
    let labels = vec![0, 9, 3, 3, 7];
    let lab = encode_labels(&labels).unwrap();
    for gz in [false, true] {
        let (ip, lp) = (
            t.path().join(format!("i{gz}")),
            t.path().join(format!("l{gz}")),
        );
        write(&ip, &if gz { gzip(&img) } else { img.clone() });
        write(&lp, &if gz { gzip(&lab) } else { lab.clone() });
        let im = read_images(&ip).unwrap();
        assert_eq!((im.count, im.rows, im.cols), (5, 4, 3));
        assert_eq!(im.pixels, px);
        assert_eq!(read_labels(&lp).unwrap(), labels);
    }
}

#[test]
fn idx_rejects_each_kind_of_corruption() {
    let t = TempDir::new("bad");
    let (img, _) = small_images();
    let lab = encode_labels(&[1, 2, 3]).unwrap();
    let total = img.len(); // 16 + 60
    let check_img = |name: &str, bytes: &[u8], needles: &[&str]| {
        let p = t.path().join(name);
        write(&p, bytes);
        assert_bad_idx(read_images(&p), &p, needles);
    };
    let mut b = img.clone();
    b[0] = 0x12;
    check_img("magic", &b, &["bad magic number 0x12000803", "offset 0"]);
    let mut b = img.clone();
    b[2] = 0x0d;
    check_img("type", &b, &["element type byte at offset 2 is 0x0d"]);
    check_img(
        "ndim",
        &lab,
        &["number of dimensions at offset 3 is 1, expected 3"],
    );
    check_img(
        "hdr2",
        &img[..2],
        &["magic number is missing", "file has 2 bytes"],
    );
    check_img(
        "hdr10",
        &img[..10],
        &["truncated header", "needs 16 bytes", "file has 10"],
    );
    check_img(
        "body",
        &img[..total - 7],
        &[
            &format!("need {total} bytes"),
            &format!("file has {}", total - 7),
            "7 missing",
        ],
    );
    let mut b = img.clone();
    b.extend_from_slice(&[1, 2, 3]);
    check_img(
        "trail",
        &b,
        &["3 trailing bytes", &format!("end at offset {total}")],
    );
    // Three u32::MAX dimensions overflow a 64-bit size; a huge count that does not overflow is truncation.
    let mut b = idx::MAGIC_IMAGES.to_be_bytes().to_vec();
    b.extend_from_slice(&[0xff; 12]);
    check_img(
        "overflow",
        &b,
        &["overflow", "4294967295×4294967295×4294967295"],
    );
    let mut b = idx::MAGIC_IMAGES.to_be_bytes().to_vec();
    for d in [u32::MAX, 28, 28] {
        b.extend_from_slice(&d.to_be_bytes());
    }
    check_img("huge", &b, &["truncated", "file has 16"]);
    check_img("gz", &[0x1f, 0x8b, 8, 0, 1, 2, 3, 4], &["corrupt gzip"]);

    let check_lab = |name: &str, bytes: &[u8], needles: &[&str]| {
        let p = t.path().join(name);
        write(&p, bytes);
        assert_bad_idx(read_labels(&p), &p, needles);
    };
    check_lab(
        "l_ndim",
        &img,
        &["number of dimensions at offset 3 is 3, expected 1"],
    );
    check_lab(
        "l_range",
        &encode_labels(&[1, 2, 10, 3]).unwrap(),
        &["label 10 at index 2 (byte offset 10)"],
    );
    check_lab(
        "l_255",
        &encode_labels(&[255]).unwrap(),
        &["label 255 at index 0"],
    );
    check_lab(
        "l_trunc",
        &lab[..lab.len() - 1],
        &["truncated", "need 11 bytes", "file has 10"],
    );
}

#[test]
fn load_checks_counts_and_dims_and_round_trips() {
    let t = TempDir::new("load");
    let (train, test) = write_dataset(t.path(), 7, 3, 4, 5);
    let fm = data::load(t.path()).unwrap();
    assert_eq!(fm.train, train);
    assert_eq!(fm.test, test);
    assert_eq!((fm.train.dim, fm.train.len(), fm.test.len()), (20, 7, 3));
    assert_eq!(fm.dir, t.path());
    let first = fm.train.take(2);
    assert_eq!(first.len(), 2);
    assert_eq!(first.images, train.images[..40]);
    assert_eq!(fm.train.take(100), train);
    assert!(fm.train.take(0).is_empty());

    // Image/label count mismatch: reported on the label file, naming both counts.
    let lp = t.path().join(data::TRAIN_LABELS);
    write(&lp, &encode_labels(&[1, 2, 3, 4]).unwrap());
    assert_bad_idx(data::load(t.path()), &lp, &["4 labels", "7 images"]);

    // Train and test image sizes disagree.
    let t2 = TempDir::new("load2");
    write_dataset(t2.path(), 2, 2, 4, 5);
    write(
        &t2.path().join(data::TRAIN_IMAGES),
        &encode_images(2, 5, 4, &bytes_from(3, 40)).unwrap(),
    );
    let tp = t2.path().join(format!("{}.gz", data::TEST_IMAGES));
    assert_bad_idx(
        data::load(t2.path()),
        &tp,
        &["test images are 4×5", "training images are 5×4"],
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Mutated, truncated or extended bytes of a valid file (plain or gzipped) never panic, and whatever
    /// parses is self-consistent.
    #[test]
    fn idx_arbitrary_bytes_never_panic(
        muts in proptest::collection::vec((0usize..96, any::<u8>()), 0..6),
        cut in 0usize..100,
        extra in proptest::collection::vec(any::<u8>(), 0..4),
        labels_file in any::<bool>(),
        gz in any::<bool>(),
    ) {
        let mut b = if labels_file { encode_labels(&[1, 2, 3, 4, 5, 6, 7, 8]).unwrap() } else { small_images().0 };
        for (pos, v) in muts {
            if let Some(x) = b.get_mut(pos) { *x = v; }
        }
        b.truncate(cut);
        b.extend_from_slice(&extra);
        let p = Path::new("mem.idx");
        if labels_file {
            if let Ok(l) = parse_labels(&b, p) {
                prop_assert!(l.iter().all(|&x| x < 10));
                prop_assert_eq!(l.len() + 8, b.len());
            }
        }
        if let Ok(im) = parse_images(&b, p) {
            prop_assert_eq!(im.pixels.len(), im.count * im.rows * im.cols);
            prop_assert_eq!(im.pixels.len() + 16, b.len());
        }
        if gz {
            let t = TempDir::new("prop");
            let f = t.path().join("f");
            let mut z = gzip(&b);
            // Also corrupt the compressed stream itself.
            let n = z.len();
            if n > 12 { z[n / 2] ^= 0x5a; }
            write(&f, &z);
            let _ = read_images(&f);
            let _ = read_labels(&f);
        }
    }
}

// ---------------------------------------------------------------------------------------------------------
// locating the data

fn complete_dir(tag: &str, gz: bool) -> TempDir {
    let t = TempDir::new(tag);
    for s in FILE_STEMS {
        let name = if gz { format!("{s}.gz") } else { s.to_string() };
        write(&t.path().join(name), b"");
    }
    t
}

#[test]
fn locate_order_data_dir_then_env_then_system() {
    let (a, b, c) = (
        complete_dir("a", false),
        complete_dir("b", true),
        complete_dir("c", true),
    );
    let (a, b, c) = (a.path(), b.path(), c.path());
    assert_eq!(locate_in(Some(a), Some(b), c).unwrap(), a);
    assert_eq!(locate_in(None, Some(b), c).unwrap(), b);
    assert_eq!(locate_in(None, None, c).unwrap(), c);
    assert_eq!(
        locate_in(None, Some(Path::new("")), c).unwrap(),
        c,
        "empty $INORM_DATA counts as unset"
    );
    // The public wrapper honours --data-dir before anything else.
    assert_eq!(data::locate(Some(a)).unwrap(), a);
}

#[test]
fn locate_incomplete_explicit_dir_names_missing_files() {
    let (b, c) = (complete_dir("b", true), complete_dir("c", false));
    let a = complete_dir("a", false);
    std::fs::remove_file(a.path().join(data::TEST_LABELS)).unwrap();
    std::fs::remove_file(a.path().join(data::TRAIN_IMAGES)).unwrap();
    // A half-filled --data-dir is an error, not a silent fallback to another copy.
    let msg = locate_in(Some(a.path()), Some(b.path()), c.path())
        .unwrap_err()
        .to_string();
    for n in [
        "--data-dir",
        &a.path().display().to_string(),
        data::TEST_LABELS,
        data::TRAIN_IMAGES,
    ] {
        assert!(msg.contains(n), "{msg:?} lacks {n:?}");
    }
    let missing_clause = msg.split("To get the data").next().unwrap();
    assert!(
        !missing_clause.contains(data::TRAIN_LABELS),
        "names a file that is present: {msg}"
    );
    let msg = locate_in(None, Some(a.path()), c.path())
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("$INORM_DATA") && msg.contains(data::TEST_LABELS),
        "{msg}"
    );
    let nowhere = a.path().join("nonexistent");
    let msg = locate_in(Some(&nowhere), None, c.path())
        .unwrap_err()
        .to_string();
    assert!(msg.contains("does not exist"), "{msg}");
}

#[test]
fn locate_not_found_names_every_place_and_remedy() {
    let sys = TempDir::new("nosys");
    let sys = sys.path().join("fashion-mnist");
    let e = locate_in(None, None, &sys).unwrap_err();
    assert!(matches!(e, Error::DataNotFound(_)));
    let msg = e.to_string();
    for n in [
        "--data-dir",
        "INORM_DATA",
        &sys.display().to_string(),
        "apt-get install dataset-fashion-mnist",
        "--data-dir DIR",
        "INORM_DATA=DIR",
        "inorm data fetch",
    ] {
        assert!(msg.contains(n), "{msg:?} lacks {n:?}");
    }
}

// ---------------------------------------------------------------------------------------------------------
// synthetic set

#[test]
fn synthetic_is_deterministic_and_learnable() {
    let ds = data::synthetic(600, 4);
    assert_eq!((ds.len(), ds.dim, ds.images.len()), (600, 784, 600 * 784));
    assert_eq!(ds, data::synthetic(600, 4));
    assert_ne!(ds, data::synthetic(600, 5));
    assert_eq!(
        data::synthetic(10, 4),
        ds.take(10),
        "a prefix of a larger set"
    );
    let mut counts = [0usize; 10];
    ds.labels.iter().for_each(|&l| counts[l as usize] += 1);
    assert!(
        counts.iter().all(|&k| k >= 30),
        "unbalanced classes {counts:?}"
    );
    // Nearest class mean, fitted on the first half, classifies the second half.
    let mut sums = vec![[0.0f64; 784]; 10];
    let mut ns = [0.0f64; 10];
    for i in 0..300 {
        let l = ds.labels[i] as usize;
        ns[l] += 1.0;
        for (s, &p) in sums[l].iter_mut().zip(ds.image(i)) {
            *s += p as f64;
        }
    }
    let correct = (300..600)
        .filter(|&i| {
            let d = |k: usize| -> f64 {
                sums[k]
                    .iter()
                    .zip(ds.image(i))
                    .map(|(s, &p)| (s / ns[k].max(1.0) - p as f64).powi(2))
                    .sum()
            };
            let best = (0..10).min_by(|&a, &b| d(a).total_cmp(&d(b))).unwrap();
            best == ds.labels[i] as usize
        })
        .count();
    assert!(
        correct >= 285,
        "nearest-mean accuracy {correct}/300: synthetic set is not learnable"
    );
}

// ---------------------------------------------------------------------------------------------------------
// the real data (the Debian package dataset-fashion-mnist; CI installs it)

#[test]
fn real_fashion_mnist_from_system_dir() {
    let dir = Path::new(data::SYSTEM_DIR);
    let missing = data::missing_files(dir);
    assert!(
        missing.is_empty(),
        "Fashion-MNIST is not installed in {} (missing {missing:?}): run `apt-get install dataset-fashion-mnist`",
        dir.display()
    );
    let fm = data::load(dir).unwrap();
    assert_eq!(
        (fm.train.len(), fm.test.len(), fm.train.dim, fm.test.dim),
        (60_000, 10_000, 784, 784)
    );
    assert_eq!(fm.train.images.len(), 60_000 * 784);
    for (set, per_class) in [(&fm.train, 6000), (&fm.test, 1000)] {
        let mut counts = [0usize; 10];
        set.labels.iter().for_each(|&l| counts[l as usize] += 1);
        assert_eq!(counts, [per_class; 10]);
    }
    // Real images use the full intensity range.
    assert_eq!(fm.train.images.iter().max(), Some(&255));
    assert_eq!(fm.train.images.iter().min(), Some(&0));
}
