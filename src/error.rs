//! The library's one error type. Every variant says what was wrong, where, and how to fix it.

use std::path::PathBuf;

/// Result alias used throughout the library.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in inorm's library code. Library code never panics on user input.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Two shapes that must agree do not.
    #[error("shape mismatch in {op}: expected {expected}, got {got}")]
    ShapeMismatch {
        /// The operation or tensor that was checked.
        op: String,
        /// The shape it needs.
        expected: String,
        /// The shape it was given.
        got: String,
    },
    /// A malformed IDX (Fashion-MNIST) file.
    #[error("bad IDX file {path}: {reason}")]
    BadIdx {
        /// The file.
        path: PathBuf,
        /// What is wrong, with the byte offset where it matters.
        reason: String,
    },
    /// No Fashion-MNIST data was found.
    #[error("{0}")]
    DataNotFound(String),
    /// A name (preset, GradNorm variant, config index...) that inorm does not know.
    #[error("unknown {what} '{got}'; valid values: {valid}")]
    Unknown {
        /// What kind of name.
        what: &'static str,
        /// The name given.
        got: String,
        /// The names that would work.
        valid: String,
    },
    /// An argument outside its valid range.
    #[error("invalid {what}: {reason}")]
    Invalid {
        /// The argument.
        what: String,
        /// Why, and what would be valid.
        reason: String,
    },
    /// A model or batch file whose tensors do not match the preset.
    #[error("tensor '{name}' in {file}: {reason} (preset {preset})")]
    BadTensor {
        /// The tensor name.
        name: String,
        /// The file it came from.
        file: String,
        /// The preset it was checked against.
        preset: String,
        /// Expected vs actual shape or dtype.
        reason: String,
    },
    /// A network update produced NaN or infinity.
    #[error("diverged: {0}")]
    Diverged(String),
    /// An I/O error, with the path involved.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A download failed.
    #[error("download of {url} failed: {reason}")]
    Download {
        /// The address.
        url: String,
        /// Why.
        reason: String,
    },
    /// A (de)serialization error of a result or model file.
    #[error("{path}: {reason}")]
    Format {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// An error from the candle tensor library (fast path).
    #[error("candle: {0}")]
    Candle(#[from] candle_core::Error),
}

impl Error {
    /// Wraps an I/O error with its path.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// Shorthand for [`Error::Invalid`].
    pub fn invalid(what: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Invalid {
            what: what.into(),
            reason: reason.into(),
        }
    }
}
