//! Fashion-MNIST (paper/model.md §7): finding the IDX files, loading them into a [`Dataset`], the per-image luminance
//! shift ([`shift`]), downloading them ([`fetch`]) and a tiny deterministic synthetic set for tests
//! ([`synthetic`]).
//!
//! The data is looked for, in order, in the `--data-dir` argument, in `$INORM_DATA`, and in
//! `/usr/share/datasets/fashion-mnist` (Debian package `dataset-fashion-mnist`). A folder counts if it holds
//! all four files, each either gzipped (`.gz`) or plain.

pub mod fetch;
pub mod idx;
pub mod shift;

use crate::error::{Error, Result};
use crate::rng::{SeedRng, Stream};
use std::path::{Path, PathBuf};

/// Where the Debian package `dataset-fashion-mnist` installs the four `.gz` files.
pub const SYSTEM_DIR: &str = "/usr/share/datasets/fashion-mnist";
/// The environment variable naming a data folder.
pub const ENV_VAR: &str = "INORM_DATA";
/// Training images (IDX, 60000×28×28), without the optional `.gz`.
pub const TRAIN_IMAGES: &str = "train-images-idx3-ubyte";
/// Training labels (IDX, 60000).
pub const TRAIN_LABELS: &str = "train-labels-idx1-ubyte";
/// Test images (IDX, 10000×28×28).
pub const TEST_IMAGES: &str = "t10k-images-idx3-ubyte";
/// Test labels (IDX, 10000).
pub const TEST_LABELS: &str = "t10k-labels-idx1-ubyte";
/// The four file stems, in the order train images, train labels, test images, test labels.
pub const FILE_STEMS: [&str; 4] = [TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS];

/// A labelled image set: `images` is `N × dim` u8 pixels, row-major (image after image); `labels` has `N`
/// entries in `0..10`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dataset {
    /// `len() × dim` pixels, row-major.
    pub images: Vec<u8>,
    /// One label per image, each `< 10`.
    pub labels: Vec<u8>,
    /// Pixels per image (784 for Fashion-MNIST).
    pub dim: usize,
}

impl Dataset {
    /// Number of samples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no samples.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The first `min(n, len())` samples. Panics if `images` holds fewer than `len() × dim` pixels (a
    /// hand-built, inconsistent `Dataset`; [`load`] and [`synthetic`] never make one).
    pub fn take(&self, n: usize) -> Dataset {
        let n = n.min(self.len());
        Dataset {
            images: self.images[..n * self.dim].to_vec(),
            labels: self.labels[..n].to_vec(),
            dim: self.dim,
        }
    }

    /// The pixels of sample `i` (`dim` bytes). Panics if `i >= len()`.
    pub fn image(&self, i: usize) -> &[u8] {
        &self.images[i * self.dim..(i + 1) * self.dim]
    }
}

/// What identifies the samples a run used: the first `n` samples of a set, by count and content. Two runs
/// with equal ids saw the same pixels and labels, whatever folder, file name or compression they came from.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SubsetId {
    /// Samples used (the first `n` of the set).
    pub n: usize,
    /// Pixels per image.
    pub dim: usize,
    /// MD5 (hex) of the `n × dim` pixel bytes used, row-major, as stored in the IDX file after its header.
    pub images_md5: String,
    /// MD5 (hex) of the `n` label bytes used.
    pub labels_md5: String,
}

/// The data of a run or a sweep: the training and test samples actually used (paper/model.md §7).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DataId {
    /// The training samples used.
    pub train: SubsetId,
    /// The test samples used.
    pub test: SubsetId,
}

impl Dataset {
    /// The [`SubsetId`] of the first `min(n, len())` samples.
    pub fn subset_id(&self, n: usize) -> SubsetId {
        use md5::{Digest, Md5};
        let n = n.min(self.len());
        let hex = |bytes: &[u8]| {
            Md5::digest(bytes)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        };
        let end = (n * self.dim).min(self.images.len());
        SubsetId {
            n,
            dim: self.dim,
            images_md5: hex(&self.images[..end]),
            labels_md5: hex(&self.labels[..n]),
        }
    }
}

/// The numbers of training and test samples a run uses: `train_size` / `test_size` when given (each must be
/// ≥ 1 and at most the set's size: a larger request is an error, never silently shortened), else the whole
/// set.
pub fn used_sizes(
    train_size: Option<usize>,
    test_size: Option<usize>,
    train: &Dataset,
    test: &Dataset,
) -> Result<(usize, usize)> {
    let pick = |what: &str, asked: Option<usize>, ds: &Dataset| -> Result<usize> {
        match asked {
            None => Ok(ds.len()),
            Some(0) => Err(Error::invalid(what, "0 (need at least one sample)")),
            Some(n) if n > ds.len() => Err(Error::invalid(
                what,
                format!(
                    "{n}, but the {} set has only {} samples; use at most {} or leave it out (all samples)",
                    if what == "train-size" { "training" } else { "test" },
                    ds.len(),
                    ds.len()
                ),
            )),
            Some(n) => Ok(n),
        }
    };
    Ok((
        pick("train-size", train_size, train)?,
        pick("test-size", test_size, test)?,
    ))
}

/// The [`DataId`] of a run using the first `n_train` training and `n_test` test samples.
pub fn data_id(train: &Dataset, test: &Dataset, n_train: usize, n_test: usize) -> DataId {
    DataId {
        train: train.subset_id(n_train),
        test: test.subset_id(n_test),
    }
}

/// The Fashion-MNIST train and test sets and the folder they were loaded from.
#[derive(Clone, Debug)]
pub struct FashionMnist {
    /// The training set (60,000 samples).
    pub train: Dataset,
    /// The test set (10,000 samples), also the per-epoch evaluation set (paper/model.md §7).
    pub test: Dataset,
    /// The folder the files came from.
    pub dir: PathBuf,
}

/// The path of file `stem` in `dir`: the plain file if it exists, else `stem.gz` if that exists.
pub fn find_file(dir: &Path, stem: &str) -> Option<PathBuf> {
    let plain = dir.join(stem);
    if plain.is_file() {
        return Some(plain);
    }
    let gz = dir.join(format!("{stem}.gz"));
    gz.is_file().then_some(gz)
}

/// The file stems missing from `dir` (each neither plain nor `.gz`).
pub fn missing_files(dir: &Path) -> Vec<&'static str> {
    FILE_STEMS
        .iter()
        .copied()
        .filter(|s| find_file(dir, s).is_none())
        .collect()
}

fn describe_missing(dir: &Path) -> String {
    if !dir.is_dir() {
        return "does not exist or is not a folder".into();
    }
    let missing = missing_files(dir);
    format!("missing {} (plain or .gz)", missing.join(", "))
}

const HOW_TO_GET: &str = "To get the data: `apt-get install dataset-fashion-mnist` (installs it into \
/usr/share/datasets/fashion-mnist), or pass `--data-dir DIR`, or set `INORM_DATA=DIR`, where DIR holds \
train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte \
(each plain or .gz), or download them with `inorm data fetch`.";

/// Finds the Fashion-MNIST folder: `data_dir` (the `--data-dir` argument), then `$INORM_DATA`, then
/// [`SYSTEM_DIR`]. See [`locate_in`].
pub fn locate(data_dir: Option<&Path>) -> Result<PathBuf> {
    let env = std::env::var_os(ENV_VAR).map(PathBuf::from);
    locate_in(data_dir, env.as_deref(), Path::new(SYSTEM_DIR))
}

/// [`locate`] with the environment value and the system folder passed in (so it can be tested).
///
/// A folder given explicitly (`data_dir`, or a non-empty `env`) must be complete: if it is not, the error
/// says which files are missing there rather than silently using another copy. Only when neither is given is
/// `system_dir` consulted. [`Error::DataNotFound`] names every place looked and the ways to get the data.
pub fn locate_in(
    data_dir: Option<&Path>,
    env: Option<&Path>,
    system_dir: &Path,
) -> Result<PathBuf> {
    if let Some(d) = data_dir {
        if missing_files(d).is_empty() {
            return Ok(d.to_path_buf());
        }
        return Err(Error::DataNotFound(format!(
            "Fashion-MNIST not found in --data-dir {}: {}. {HOW_TO_GET}",
            d.display(),
            describe_missing(d)
        )));
    }
    if let Some(e) = env.filter(|e| !e.as_os_str().is_empty()) {
        if missing_files(e).is_empty() {
            return Ok(e.to_path_buf());
        }
        return Err(Error::DataNotFound(format!(
            "Fashion-MNIST not found in ${ENV_VAR}={}: {}. {HOW_TO_GET}",
            e.display(),
            describe_missing(e)
        )));
    }
    if missing_files(system_dir).is_empty() {
        return Ok(system_dir.to_path_buf());
    }
    Err(Error::DataNotFound(format!(
        "Fashion-MNIST not found. Looked in: --data-dir (not given); ${ENV_VAR} (not set); {} ({}). {HOW_TO_GET}",
        system_dir.display(),
        describe_missing(system_dir)
    )))
}

fn load_split(
    dir: &Path,
    images: &str,
    labels: &str,
    split: &str,
) -> Result<(Dataset, usize, usize)> {
    let missing = |stem: &str| {
        Error::DataNotFound(format!(
            "{split} file {stem} (plain or .gz) not found in {}. {HOW_TO_GET}",
            dir.display()
        ))
    };
    let ip = find_file(dir, images).ok_or_else(|| missing(images))?;
    let lp = find_file(dir, labels).ok_or_else(|| missing(labels))?;
    let im = idx::read_images(&ip)?;
    let lb = idx::read_labels(&lp)?;
    if im.count != lb.len() {
        return Err(Error::BadIdx {
            path: lp.clone(),
            reason: format!(
                "has {} labels but {} has {} images",
                lb.len(),
                ip.display(),
                im.count
            ),
        });
    }
    let dim = im.rows * im.cols; // cannot overflow: rows·cols·count bytes were read
    Ok((
        Dataset {
            images: im.pixels,
            labels: lb,
            dim,
        },
        im.rows,
        im.cols,
    ))
}

/// Loads the four files from `dir` (each gzipped or plain; see [`locate`] to find `dir`).
///
/// Counts are checked only for consistency (images vs labels of each split), not for 60000/10000; the image
/// size must agree between train and test.
pub fn load(dir: &Path) -> Result<FashionMnist> {
    let (train, tr, tc) = load_split(dir, TRAIN_IMAGES, TRAIN_LABELS, "training")?;
    let (test, sr, sc) = load_split(dir, TEST_IMAGES, TEST_LABELS, "test")?;
    if (tr, tc) != (sr, sc) {
        let p = find_file(dir, TEST_IMAGES).unwrap_or_else(|| dir.join(TEST_IMAGES));
        return Err(Error::BadIdx {
            path: p,
            reason: format!("test images are {sr}×{sc} but training images are {tr}×{tc}"),
        });
    }
    Ok(FashionMnist {
        train,
        test,
        dir: dir.to_path_buf(),
    })
}

/// Side of the synthetic images (28, as Fashion-MNIST).
pub const SYNTH_SIDE: usize = 28;

/// A small deterministic, learnable 784-dimensional 10-class set for tests: class `k` is a bright Gaussian
/// blob (σ = 3 px) centred at one of ten fixed grid positions, jittered by up to ±2 px, on uniform noise in
/// `0..40`. Labels are uniform in `0..10`. Drawn from [`SeedRng`] stream `Test` (sub 0x5e7) so the same
/// `(n, seed)` always gives the same set.
pub fn synthetic(n: usize, seed: u64) -> Dataset {
    // Ten centres on a 4-column grid, far enough apart (≥ 7 px) that the classes are separable.
    const CENTRES: [(f64, f64); 10] = [
        (5.0, 5.0),
        (5.0, 11.0),
        (5.0, 17.0),
        (5.0, 23.0),
        (13.0, 5.0),
        (13.0, 11.0),
        (13.0, 17.0),
        (13.0, 23.0),
        (21.0, 9.0),
        (21.0, 19.0),
    ];
    let side = SYNTH_SIDE;
    let dim = side * side;
    let mut rng = SeedRng::new(seed, Stream::Test, 0x5e7);
    let mut images = Vec::with_capacity(n * dim);
    let mut labels = Vec::with_capacity(n);
    for _ in 0..n {
        let k = rng.below(10) as usize;
        let (cr, cc) = CENTRES[k];
        let cr = cr + rng.uniform_in(-2.0, 2.0);
        let cc = cc + rng.uniform_in(-2.0, 2.0);
        for r in 0..side {
            for c in 0..side {
                let d2 = (r as f64 - cr).powi(2) + (c as f64 - cc).powi(2);
                let v = 40.0 * rng.uniform() + 215.0 * (-d2 / (2.0 * 9.0)).exp();
                images.push(v.clamp(0.0, 255.0) as u8);
            }
        }
        labels.push(k as u8);
    }
    Dataset {
        images,
        labels,
        dim,
    }
}
