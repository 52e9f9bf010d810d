//! Gradient checkers over plain `f64` slices and closures, reused by the tests of every backward in the crate,
//! by the benches and by the CLI: central finite differences ([`fd`]), the random-direction dot-product
//! (JVP-vs-VJP) test ([`dot`]), the Taylor-remainder rate test ([`taylor`]) and the measured noise of a
//! function that bounds what a finite difference can resolve ([`noise`]), after PyTorch `gradcheck`,
//! JAX `check_grads` and pyadjoint's `taylor_test` (docs/engineering.md); and the one norm-wise comparison of two
//! arrays ([`mod@compare`]) that the tests share.

pub mod compare;
pub mod dot;
pub mod fd;
pub mod noise;
pub mod taylor;

pub use compare::{compare, compare_with_floor, Comparison};
pub use dot::{directional_test, dot_product_test, DotReport};
pub use fd::{gradient_fd, gradient_fd4, jacobian_fd};
pub use noise::{noise_level, noise_level_search, Noise};
pub use taylor::{taylor_test, taylor_test_vector, TaylorReport};

use crate::error::{Error, Result};

/// `Err(ShapeMismatch)` unless `got == expected`.
pub(crate) fn same_len(op: &str, expected: usize, got: usize) -> Result<()> {
    if expected == got {
        Ok(())
    } else {
        Err(Error::ShapeMismatch {
            op: op.to_string(),
            expected: format!("length {expected}"),
            got: format!("length {got}"),
        })
    }
}

/// `Err(Invalid)` unless `h` is finite and positive.
pub(crate) fn positive_step(what: &str, h: f64) -> Result<()> {
    if h.is_finite() && h > 0.0 {
        Ok(())
    } else {
        Err(Error::invalid(
            what,
            format!("step must be finite and > 0, got {h}"),
        ))
    }
}

/// `x + t·u` (lengths already checked).
pub(crate) fn axpy(x: &[f64], t: f64, u: &[f64]) -> Vec<f64> {
    x.iter().zip(u).map(|(a, b)| a + t * b).collect()
}

/// Plain dot product (lengths already checked).
pub(crate) fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}
