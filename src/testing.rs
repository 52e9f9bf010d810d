//! proptest strategies for the proofs of the reference (tests/reference/) and for anyone testing their own
//! variant of a layer: general small matrices, activations with the hard cases of normalization (constant
//! rows where the variance is 0 and ε dominates; rows with |mean| ≫ std, the luminance-shift case where a
//! one-pass `E[x²] − mean²` cancels; widths n = 1 and 2), Dale-constrained weights with entries exactly 0,
//! row-stochastic E←I weights, and small networks of every [`Preset`](crate::model::Preset).
//!
//! Every strategy returns plain f64 nalgebra matrices (batch-major activations, post × pre weights), so
//! values shrink towards simple cases (0, small widths) when a property fails.
//!
//! ```
//! use inorm::testing::activations;
//! use proptest::strategy::{Strategy, ValueTree};
//! use proptest::test_runner::TestRunner;
//!
//! let mut runner = TestRunner::deterministic();
//! let z = activations(3, 4).new_tree(&mut runner).unwrap().current();
//! assert_eq!(z.shape(), (3, 4));
//! ```

use nalgebra::DMatrix;
use proptest::prelude::*;

use crate::model::{DivisiveInit, GradNorm, HiddenKind, NetSpec, Preset};

/// Dense f64 matrix, as in [`crate::reference::Mat`].
pub type Mat = DMatrix<f64>;

/// Offset of the luminance-shift rows: |mean| ≈ 50 with spread 1e-3, so |mean|/std ≈ 1e5.
pub const SHIFT_MEAN: f64 = 50.0;
/// Spread of the luminance-shift rows (`SHIFT_MEAN + SHIFT_SPREAD·u`, u ∈ [−1, 1)).
pub const SHIFT_SPREAD: f64 = 1e-3;

/// A rows × cols matrix with i.i.d. entries in [−2, 2) (no structure; small shapes in the tests).
pub fn matrix(rows: usize, cols: usize) -> impl Strategy<Value = Mat> {
    prop::collection::vec(-2.0f64..2.0, rows * cols)
        .prop_map(move |v| Mat::from_row_slice(rows, cols, &v))
}

/// A small shape `(rows, cols)` with `1 ≤ rows ≤ max_rows`, `1 ≤ cols ≤ max_cols`.
pub fn small_shape(max_rows: usize, max_cols: usize) -> impl Strategy<Value = (usize, usize)> {
    (1..=max_rows, 1..=max_cols)
}

/// Weights obeying Dale's law: entries ≥ 0, about one in four exactly 0 (the Dale clamp produces exact zeros,
/// where `ReLU'`-like kinks and `max(0,·)` must behave), the others in (0, 2).
pub fn dale_matrix(rows: usize, cols: usize) -> impl Strategy<Value = Mat> {
    prop::collection::vec(
        prop_oneof![1 => Just(0.0f64), 3 => 1e-3f64..2.0],
        rows * cols,
    )
    .prop_map(move |v| Mat::from_row_slice(rows, cols, &v))
}

/// Positive weights whose rows sum to 1 (the E←I weights W_EI at init, paper/model.md §5.2).
pub fn row_stochastic(rows: usize, cols: usize) -> impl Strategy<Value = Mat> {
    prop::collection::vec(0.05f64..1.0, rows * cols).prop_map(move |v| {
        let mut m = Mat::from_row_slice(rows, cols, &v);
        for mut r in m.row_iter_mut() {
            let s: f64 = r.sum();
            r /= s;
        }
        m
    })
}

/// What kind of row an activation row is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RowKind {
    /// Entries i.i.d. in [−3, 3).
    Generic,
    /// All entries equal: variance exactly 0, LayerNorm's σ is `sqrt(ε)`.
    Constant,
    /// `SHIFT_MEAN·(±1) + SHIFT_SPREAD·u`: |mean| ≫ std (variance ≈ 3e-7 ≪ ε = 1e-5).
    Shifted,
}

/// One activation row of width n of a random [`RowKind`] (generic rows twice as likely).
pub fn activation_row(n: usize) -> impl Strategy<Value = (RowKind, Vec<f64>)> {
    prop_oneof![
        2 => prop::collection::vec(-3.0f64..3.0, n).prop_map(|v| (RowKind::Generic, v)),
        1 => (-3.0f64..3.0).prop_map(move |c| (RowKind::Constant, vec![c; n])),
        1 => (any::<bool>(), prop::collection::vec(-1.0f64..1.0, n)).prop_map(|(neg, u)| {
            let c = if neg { -SHIFT_MEAN } else { SHIFT_MEAN };
            (RowKind::Shifted, u.iter().map(|e| c + SHIFT_SPREAD * e).collect())
        }),
    ]
}

/// A rows × n activation matrix whose rows are drawn by [`activation_row`] (mixed kinds in one batch).
pub fn activations(rows: usize, n: usize) -> impl Strategy<Value = Mat> {
    prop::collection::vec(activation_row(n), rows)
        .prop_map(move |rs| Mat::from_row_iterator(rows, n, rs.into_iter().flat_map(|(_, v)| v)))
}

/// Activations of a given [`RowKind`] only (e.g. all rows constant).
pub fn activations_of(kind: RowKind, rows: usize, n: usize) -> impl Strategy<Value = Mat> {
    prop::collection::vec(activation_row(n), rows)
        .prop_filter("row kind", move |rs| rs.iter().all(|(k, _)| *k == kind))
        .prop_map(move |rs| Mat::from_row_iterator(rows, n, rs.into_iter().flat_map(|(_, v)| v)))
}

/// Activations `(kind, B×n)` with every row of the same kind, the kind itself drawn at random; cheaper than
/// filtering [`activations_of`].
pub fn uniform_kind_activations(rows: usize, n: usize) -> impl Strategy<Value = (RowKind, Mat)> {
    let generic = prop::collection::vec(-3.0f64..3.0, rows * n)
        .prop_map(move |v| (RowKind::Generic, Mat::from_row_slice(rows, n, &v)));
    let constant = prop::collection::vec(-3.0f64..3.0, rows)
        .prop_map(move |c| (RowKind::Constant, Mat::from_fn(rows, n, |b, _| c[b])));
    let shifted = (
        prop::collection::vec(any::<bool>(), rows),
        prop::collection::vec(-1.0f64..1.0, rows * n),
    )
        .prop_map(move |(neg, u)| {
            let m = Mat::from_fn(rows, n, |b, j| {
                let c = if neg[b] { -SHIFT_MEAN } else { SHIFT_MEAN };
                c + SHIFT_SPREAD * u[b * n + j]
            });
            (RowKind::Shifted, m)
        });
    prop_oneof![2 => generic, 1 => constant, 1 => shifted]
}

/// Layer inputs like the data (paper/model.md §7): pixels in [0, 1) shifted per row by c ∈ [−0.75, 0.75) and clamped,
/// so rows can be constant (all 0 or all 1) or have |mean| ≫ std.
pub fn luminance_inputs(rows: usize, m: usize) -> impl Strategy<Value = Mat> {
    (
        prop::collection::vec(-0.75f64..0.75, rows),
        prop::collection::vec(0.0f64..1.0, rows * m),
    )
        .prop_map(move |(c, u)| Mat::from_fn(rows, m, |b, j| (u[b * m + j] + c[b]).clamp(0.0, 1.0)))
}

/// Class labels in 0..10.
pub fn labels(rows: usize) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(0u8..10, rows)
}

/// A [`NetSpec`] of `preset` at a small width `2 ≤ n ≤ 6` and input dimension `n ≤ m ≤ n + 6` (I-Norm needs
/// m ≥ n), with the faithful defaults of paper/model.md §11 otherwise; I-Norm presets also draw `train_inhib_out`, the
/// divisive init (SVD or direct) and, for GradNorm full, `eq2_exact`; `inorm-sub` draws its GradNorm.
pub fn net_spec(preset: Preset) -> impl Strategy<Value = NetSpec> {
    (2usize..=6, 0usize..=6, any::<[bool; 4]>()).prop_map(move |(width, extra, flags)| {
        let mut s = NetSpec::new(preset, width);
        s.input = width + extra;
        if preset.hidden_kind() == HiddenKind::INorm {
            s.train_inhib_out = flags[0];
            s.divisive_init = if flags[1] {
                DivisiveInit::Svd
            } else {
                DivisiveInit::Direct
            };
            s.eq2_exact = flags[2] && preset.grad_norm() == GradNorm::Full;
        }
        if preset == Preset::INormSub && flags[3] {
            s.sub_grad_norm = GradNorm::Center;
        }
        s
    })
}

/// A [`NetSpec`] of any preset (uniformly), as [`net_spec`].
pub fn any_net_spec() -> impl Strategy<Value = NetSpec> {
    prop::sample::select(Preset::ALL.to_vec()).prop_flat_map(net_spec)
}

/// The proptest RNG seed: fixed under CI (`CI` set), so that CI replays the same cases on every run and
/// a pass or a failure there is reproducible; random otherwise, so that local runs keep exploring (a
/// failure found locally is saved under proptest-regressions/ and then replayed by CI too).
/// `PROPTEST_RNG_SEED` overrides both.
pub fn rng_seed() -> proptest::test_runner::RngSeed {
    use proptest::test_runner::RngSeed;
    if let Some(s) = std::env::var("PROPTEST_RNG_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        RngSeed::Fixed(s)
    } else if std::env::var_os("CI").is_some() {
        RngSeed::Fixed(0x1a0f_2026)
    } else {
        RngSeed::Random
    }
}
