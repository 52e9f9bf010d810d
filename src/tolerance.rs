//! Every tolerance used by a check or test, named, with the reason for its size. No bare `1e-4` in tests.
//!
//! Conventions: `EPS64 = 2.2e-16` and `EPS32 = 1.2e-7` are the unit roundoffs; a tolerance is roundoff ×
//! a conditioning factor (depth of the computation, size of reductions, division by small variances).

/// Unit roundoff of f64.
pub const EPS64: f64 = f64::EPSILON;

/// Smallest accepted Taylor-remainder rate for a right gradient: the true rate is 2 up to an `O(h)` correction
/// (the cubic term), which stays below 0.2 once `h·|L'''|/|L''| ≲ 0.3`; a wrong gradient gives ≈ 1.
pub const TAYLOR_MIN_RATE: f64 = 1.8;

/// Largest Taylor rate that still counts as "first order" (wrong gradient) in tests: rate 1 plus the same `O(h)`
/// margin as `TAYLOR_MIN_RATE`.
pub const TAYLOR_WRONG_MAX_RATE: f64 = 1.2;

/// Taylor steps whose remainder is below this × max|L| are skipped: roundoff of `L(x+hu) − L(x)` is a few
/// `EPS64·|L|` ≈ 1e-15·|L|, so at 1e-11·|L| it perturbs a rate by < 1e-3.
pub const TAYLOR_NOISE_FLOOR: f64 = 1e-11;

/// Relative error (to ‖numeric‖_∞) of a 2-point central difference with `h = 1e-5` on O(1) smooth functions:
/// truncation `h²·|f'''|/6 ≈ 2e-11` plus roundoff `EPS64·|f|/h ≈ 2e-11`, × 100 for conditioning of the test
/// functions (|f'''| and |f| up to ~ 50).
pub const FD_REL: f64 = 1e-8;

/// Relative error of the 5-point stencil with `h = 1e-3`: truncation `h⁴·|f⁽⁵⁾|/30 ≈ 3e-14` plus roundoff
/// `1.5·EPS64·|f|/h ≈ 3e-13`, × 100 for conditioning.
pub const FD4_REL: f64 = 1e-10;

/// Relative error accepted by the dot-product / directional test (5-point stencil in t, `h = 1e-3`): as
/// `FD4_REL`, with `|f|` replaced by `|vᵀf|` over a ≤ 100-dim reduction (× 10).
pub const DOT_REL: f64 = 1e-9;

/// Multiple of a 5-point stencil's measured roundoff (`σ·√130/(12h)`, its standard deviation, with `σ` the
/// function's own noise from [`crate::check::noise_level_search`]) below which a finite-difference derivative
/// cannot be told from the analytic one. On injected noise of known σ the 32-point estimate was 0.63–2.4 σ over
/// 400 draws (tests/check/noise.rs), so 10 estimated standard deviations are at least 6 true ones. A wrong
/// derivative is still caught wherever its error exceeds this, e.g. a 1e-6 relative error of a derivative 10³×
/// the noise.
pub const NOISE_SIGMAS: f64 = 10.0;

/// Smallest relative error that a deliberately wrong derivative (one entry off by O(1), or scaled by 1.01)
/// must show in the dot test: a 1% scale error gives exactly 1e-2; an O(1) wrong entry is diluted by at most
/// ~n = 20 entries of the random projection, so ≥ 1e-3 leaves a factor 10 of slack.
pub const DOT_WRONG_MIN_REL: f64 = 1e-3;

/// Absolute agreement of a tie term recovered by `stats::mann_whitney_tie_term` with the one counted: the
/// inversion subtracts from n³ − n (215,940 for 60 runs) a term computed from a bisected normal quantile, so
/// f64 roundoff of a few ULP in z and in the normal tail leaves an error of order 1e-9 of it; 1e-6 is that
/// with margin, and far below the smallest tie group's 6.
pub const TIE_TERM_ABS: f64 = 1e-6;

/// Relative agreement with hard-coded SciPy p-values and statistics: both use the double-precision normal
/// tail (`erfc`), accurate to a few ULP; 1e-9 allows for different `erfc` implementations in the far tail.
pub const SCIPY_REL: f64 = 1e-9;

/// False-alarm rate of each two-sided z-bound in the Monte-Carlo tests of Theorem 1 (fixed seeds, so a test
/// either always passes or always fails; this sets how unlikely the chosen seed's failure would have been).
pub const MC_FALSE_ALARM: f64 = 1e-6;

// ---------------------------------------------------------------------------------------------------------
// Fast (candle) path against the f64 reference. All relative to the max-abs of each compared tensor (scalars:
// to max(|value|, 1); local loss: max(|value|, λ)).

/// Machine epsilon of f32 (2^-23).
pub const EPS32: f64 = f32::EPSILON as f64;

/// candle f64 vs the nalgebra f64 reference: both in f64, different summation orders (blocked SIMD GEMM vs
/// nalgebra's kernels). Error ≈ EPS64 (2.2e-16) × reduction length (≤ 784) × depth (≈ 6 matmul stages) ×
/// cancellation (≤ 100: A − S, centering of Dale-positive activity) ≈ 1e-10. Observed worst: 5e-14.
pub const FAST_F64_REL: f64 = 1e-10;

/// Cancellation allowed for in [`FAST_F32_REL`]: the subtractive pathway computes `A − S` of two positive
/// currents of similar size, and LayerNorm/GradNorm centre rows whose |mean| exceeds their std (luminance
/// shift); |A|/|A − S| and max|z|/σ stay ≤ 10 for the perturbed-init networks of the tests.
pub const F32_CANCELLATION: f64 = 10.0;

/// candle f32 (statistics accumulated in f64) vs the f64 reference, one forward and backward pass:
/// EPS32 (1.19e-7) × √784 (random-walk growth of a length-K f32 dot product, K ≤ 784: 28) × depth 6
/// (matmul stages from the input to the first layer's gradient) × [`F32_CANCELLATION`] = 2.0e-4.
/// Observed worst over the case table: 1.4e-5 (`inorm-sub` local gradient of W_IE).
pub const FAST_F32_REL: f64 = EPS32 * 28.0 * 6.0 * F32_CANCELLATION;

/// [`FAST_F32_REL`] for a pass whose worst row conditioning `kappa = max_j |z_bj| / sqrt(pvar(z_b) + ε)`
/// exceeds [`F32_CANCELLATION`]: the f32 rounding of z (relative EPS32·√K to |z|) reaches the normalized
/// output divided by σ, so the error grows linearly with κ (tiny widths, e.g. n = 2, and rows with
/// |mean| ≫ std). The local losses add their own κ: the I-Norm error `G ∝ v_b − 1` has κ = v/|v − 1|, the
/// subtractive one `G ∝ m_b` has κ = max|z|/|m| (the tests pass the worst of these).
pub fn fast_f32_rel(kappa: f64) -> f64 {
    FAST_F32_REL * (kappa / F32_CANCELLATION).max(1.0)
}

/// How far the fast path may be from the f64 reference, as a multiple of the reference's own movement under
/// a relative perturbation of every parameter by the fast path's unit roundoff (EPS32 for f32, EPS64 for
/// f64: the measured conditioning of each tensor, in the property tests): a perturbation rounds once, at
/// the inputs; the fast path rounds at every operation, √784 (28, random-walk growth of a length-K dot
/// product) × depth 6 (matmul stages) times, each propagated with the same conditioning. The same 28 × 6
/// as [`FAST_F32_REL`], with the measured κ in place of [`F32_CANCELLATION`].
pub const FAST_VS_PERTURBED: f64 = 28.0 * 6.0;

/// How far a fast-path ReLU input (a hidden layer's y, two matmul stages deep at most) may be from the
/// reference, as a multiple of the reference's movement under the unit-roundoff parameter perturbation:
/// √784 (28, random-walk growth of the f32 dot products' rounding) × 2 stages. Used as the margin around a
/// ReLU kink inside which a property-test draw is not covered (the fast path may legitimately take the
/// other branch there); [`FAST_VS_PERTURBED`]'s depth 6 is for the whole backward pass. Measured flip: a
/// 1.5e-7 relative difference, against margins of about 1e-5 with this factor.
pub const KINK_VS_PERTURBED: f64 = 28.0 * 2.0;

/// How a cosine's error follows from its two vectors' relative errors r_a, r_b: with u = a/‖a‖, a relative
/// perturbation r_a moves u by at most r_a to first order (only the part orthogonal to a counts), so
/// |Δ cos(a, b)| ≤ ‖Δu‖ + ‖Δv‖ ≤ r_a + r_b = 2 × the vectors' relative tolerance. The f32 alignments
/// (cosines of two gradients, or of two activations) are compared against 2 × [`fast_f32_rel`], with κ
/// including the cancellation of the alignment's LN surrogate backward (see `tests/fast/common.rs`).
pub const COSINE_OF_TWO: f64 = 2.0;

/// Gradient alignment (a cosine, compared absolutely) from the B×B Gram identity
/// `⟨PᵀX, QᵀX⟩ = Σ (PQᵀ)∘(XXᵀ)` in f64: a sum of B² terms, so its rounding is EPS64 × B² (≤ 144 in the
/// property tests) relative to Σ|terms|, amplified by the cancellation κ_G = Σ|terms| / |result|. κ_G
/// reaches ≈ 1e5 at n = 2, where LN's backward is its ε-term (‖PᵀX‖ ≈ 1e-5 ‖P‖‖X‖): 2.2e-16 × 144 × 1e5 ≈
/// 3e-9, rounded up to 1e-8. At the paper's widths the observed agreement is 2e-14.
pub const FAST_F64_GRAM_COS: f64 = 1e-8;

/// Final parameters and every loss of a 50-step candle f64 trajectory vs the reference (width 32, input
/// 196, batch 16): per-step disagreement ≤ [`FAST_F64_REL`]-sized roundoff, propagated through 50 steps
/// whose Jacobian norm stays O(1) at these learning rates (no ReLU flips at f64 noise levels): 50 ×
/// 1e-12 ≪ 1e-9.
pub const FAST_F64_TRAJECTORY: f64 = 1e-9;

/// The same for candle f32: 50 steps × a per-step error of EPS32 × √196 × depth 6 × [`F32_CANCELLATION`]
/// (1.0e-4), with the same O(1) amplification = 5e-3. (A ReLU unit whose input crosses 0 within the f32
/// noise would exceed it; none does on these seeds.)
pub const FAST_F32_TRAJECTORY: f64 = 50.0 * EPS32 * 14.0 * 6.0 * F32_CANCELLATION;

/// How far an f32 trajectory may be from the f64 one, as a multiple of the trajectory's measured
/// sensitivity (the f64 reference restarted from parameters perturbed by EPS32 per entry): f32 injects an
/// error of ≈ √K·EPS32 (K ≤ 196: 14×) at each step rather than once, and an amplifying (chaotic, e.g.
/// GradNorm scale) trajectory propagates each injection like the initial perturbation: 14 × a few = 100.
pub const F32_TRAJECTORY_VS_PERTURBED: f64 = 100.0;
/// z-score bound for Monte Carlo checks of a sample statistic against its exact expectation (tolerance =
/// `MC_Z` × the statistic's standard error): a correct implementation fails a given check with probability
/// below 6e-7, while a wrong distribution (e.g. a wrong range or variance) is many standard errors off.
pub const MC_Z: f64 = 5.0;

/// Largest rounding error when a value in [0, 1] computed in f64 is stored as f32: half an f32 ulp at 1,
/// 2⁻²⁵ ≈ 3.0e-8 (used when recovering luminance offsets from f32 pixels).
pub const F32_UNIT_STORE: f64 = 3.0e-8;

// ---------------------------------------------------------------------------------------------------------
// Reference (f64 oracle) proofs: tests/reference/.

/// Gram identities of the divisive init, `D_IEᵀ D_IE = Wᵀ W` and `D_IE D_IEᵀ = diag(λ)`, relative to
/// max|WᵀW|: the eigenvectors of the n×n matrix `W Wᵀ` are orthonormal to ≈ n·EPS64 (n ≤ 178 in the tests,
/// 4e-14), and each Gram entry is a reduction of length ≤ max(n, m) = 784 (1.7e-13): together ≈ 2e-13, ×50
/// for the spread of eigenvalue magnitudes = 1e-11.
pub const GRAM_REL: f64 = 1e-11;

/// Two algebraically equal f64 evaluations of one quantity (an explicit Jacobian against the backward, a
/// GradNorm variant against its formula written out in the test, the closed-form local gradient against the
/// general chain, a layer's gradient against the same product formed by hand): each side is a few
/// reductions of length ≤ 800 of the same terms, rounding ≲ 800·EPS64 ≈ 2e-13 relative to the largest term,
/// ×5 for the differences of such reductions = 1e-12 (relative to the max-abs of the result).
pub const ANALYTIC_REL: f64 = 1e-12;

/// The 5-point FD of a LayerNorm row with the step relative to the row's scale, `h = 1e-3·σ`, relative to
/// ‖J‖_∞ ≈ 1/σ: `FD4_REL` (truncation and output roundoff, as for an O(1) function) plus the rounding of
/// the perturbed input `z + h` itself, `EPS64·|z|/2` absolute = a relative error `EPS64·κ/(2·1e-3)` of the
/// stencil with `κ = max|z|/σ` (κ ≈ 1.6e4 for the |mean| ≫ std rows: 50 over σ = sqrt(ε)); this is below
/// `FD4_REL·κ` since `FD4_REL` carries 1.5·EPS64/1e-3 × 100.
pub fn fd4_rel(kappa: f64) -> f64 {
    FD4_REL * (1.0 + kappa)
}

/// A sum of n terms that is exactly 0 in exact arithmetic (LN/GN rows summing to 0, the ŷ-component
/// minus its exact ε-value, outputs invariant to a shift/scale), relative to the sum of |terms|: each
/// reduction rounds by ≤ n·EPS64 of Σ|terms|, ×4 for the reductions feeding the terms (mean δ, ⟨δ, y⟩, the
/// row mean of z), and y itself inherits the rounding of the row mean, EPS64·|z| over σ, i.e. a factor
/// (1 + κ) with `κ = max|z|/σ`.
pub fn cancel_rel(n: usize, kappa: f64) -> f64 {
    4.0 * n as f64 * EPS64 * (1.0 + kappa)
}

/// Claim C1 (paper/model.md §10.1): at init the I-Norm output equals LN(X W_EEᵀ) with max abs difference ≲ 1e-5 (the
/// paper's bound, set by the authors' float32 test). The f64 reference must meet it with a wide margin:
/// see [`INIT_IDENTITY_ABS`].
pub const C1_INORM_LN_ABS: f64 = 1e-5;

/// The f64 size of the init identities (I-Norm = LN(X W_EEᵀ); SVD and direct D_IE give the same output and
/// local loss), absolute on outputs of size ≤ √n: both sides divide the same row of `X W_EEᵀ` by
/// `sqrt(pvar + ε)`, computed once as `(1/n)‖D_IE x‖²` through the Gram identity (relative error
/// [`GRAM_REL`]-sized, observed ≤ 1e-14) and once as a two-pass variance; the numerator `A − S` rounds by
/// EPS64·m·|A| with m ≤ 784 and |A|/std(A) ≤ 100 for inputs in [−2, 2] or [0, 1]: 2.2e-16 × 784 × 100 ×
/// √n(≤ 8) ≈ 1.4e-10, rounded to 1e-9.
pub const INIT_IDENTITY_ABS: f64 = 1e-9;

/// Forward-error bound of a sum of `len` floating-point terms (each a product or quotient of exact-ish
/// inputs) relative to the sum of their magnitudes `abs_sum = Σ|terms|`: recursive summation rounds by at
/// most `γ_len ≈ len·EPS64` of Σ|terms| (Higham, Accuracy and Stability, §4.2), each term by one more
/// EPS64; ×4 covers two implementations summing in different orders and the products feeding the terms.
/// Used where a test recomputes a quantity by a second, differently ordered implementation (the alignment
/// and moment diagnostics, tests/reference/metrics/independent.rs) and the bound must follow cancellations
/// entry by entry rather than relative to a max-abs.
pub fn sum_abs_tol(len: usize, abs_sum: f64) -> f64 {
    4.0 * (len as f64 + 1.0) * EPS64 * abs_sum
}

/// Critical value of the one-sample Kolmogorov–Smirnov statistic for `n` draws at false-alarm
/// [`MC_FALSE_ALARM`]: the asymptotic law `P(√n·D > t) ≤ 2·exp(−2t²)` gives `t = sqrt(ln(2/α)/2)` = 2.69,
/// with Stephens' finite-n correction `√n + 0.12 + 0.11/√n` in place of `√n`.
pub fn ks_crit(n: usize) -> f64 {
    let t = ((2.0 / MC_FALSE_ALARM).ln() / 2.0).sqrt();
    let s = (n as f64).sqrt();
    t / (s + 0.12 + 0.11 / s)
}

/// The f16-autocast mode against its oracle (paper/model.md §14.4), for values that are computed in f32
/// between f16 rounding points (Z, logits, the normalized activity): the fast path computes those in f32,
/// the oracle in f64, from the same f16 inputs. A sum of ≤ 784 terms in f32 is off by at most ~784·EPS32
/// of its terms' size in the worst case and ~√784·EPS32 ≈ 3e-6 typically; 1e-5 of the tensor's max-abs
/// (84 EPS32) covers that with the GradNorm/LayerNorm cancellation of the tests' random rows. A missing f16
/// rounding moves values by up to 2⁻¹¹ ≈ 4.9e-4 relative, 49 × this.
pub const AUTOCAST_F32_REL: f64 = 1e-5;

/// The f16-autocast mode against its oracle (paper/model.md §14.4): the relative size of the perturbation of
/// every parameter and input in the oracle runs that bracket where an f16 rounding is decided by f32
/// accumulation error. A dot product of K ≤ 784 terms in f32 is off by about √K·EPS32 ≈ 3.3e-6 of its
/// terms' size (random walk): a perturbation of that size moves the oracle's unrounded values as much, so a
/// rounding the fast path's f32 sums can flip, some oracle run flips too. It is 150 times smaller than an f16
/// step (2⁻¹⁰ ≈ 9.8e-4 at the bottom of a binade), so a missing rounding stays outside the envelope.
pub const AUTOCAST_JITTER: f64 = 28.0 * EPS32;

/// The f16-autocast mode against its oracle: the perturbed oracle runs that make the envelope.
pub const AUTOCAST_DRAWS: u64 = 8;

/// The f16-autocast mode against its oracle: the largest fraction of one case's elements allowed outside the
/// envelope of the oracle runs. A rounding decided by f32 error that none of the [`AUTOCAST_DRAWS`] runs
/// flipped the same way (or a pair of such roundings that no run flipped together) stays outside, and where
/// two f16 values nearly cancel (the I-Norm numerator `A − S`, an EI layer's `W_EE − W_EI W_IE`) one f16 step
/// of theirs is a large step of the difference, carried into every tensor below: measured on the case table,
/// at most 5.3 % of a case (276 of 5,228 elements; 0.33 % over all cases). The f32 path puts 68 % of a case
/// outside.
pub const AUTOCAST_MAX_OUTSIDE: f64 = 0.1;

/// The f16-autocast mode against its oracle: the largest fraction of all the case table's elements allowed
/// outside the envelope (measured 0.33 %; see [`AUTOCAST_MAX_OUTSIDE`]).
pub const AUTOCAST_MAX_OUTSIDE_ALL: f64 = 0.01;

// ---------------------------------------------------------------------------------------------------------
// Reading the authors' figures back (src/figures/, src/experiment/paper_runs/).

/// Two page coordinates of an SVG that count as the same position (page units, 1/72 inch for matplotlib):
/// matplotlib writes coordinates with 6 decimals, so two numbers computed from the same data value differ by
/// at most 1e-6; 1e-3 is a thousand times that and still far below the smallest sizes that tell elements
/// apart (a marker's 5-unit radius, a box's 17-unit width).
pub const SVG_SAME_POS: f64 = 1e-3;

/// Largest misfit of a straight line through an axis's labelled ticks, relative to the span of the labels:
/// tick positions carry 6 decimals over spans of ≥ 100 page units (≤ 1e-8 relative) and labels are exact,
/// so a linear axis fits to about 1e-8; a log axis or a mislabelled tick misses by ≥ 1e-2. 1e-5 separates
/// the two with three decades to spare.
pub const TICK_FIT_REL: f64 = 1e-5;

/// Largest distance (accuracy points) of a value read off the authors' figures from the 0.01-point grid on
/// which a final test accuracy over 10,000 images lies: the calibration's error is ≤ 1e-8 of an axis span of
/// ≤ 100 points, so the values land within 1e-6 of the grid; 1e-3 is far above that and far below the
/// grid's half step (0.005), so snapping can never move a value to the wrong neighbour.
pub const ACC_GRID_ABS: f64 = 1e-3;

/// Relative error (to the axis span) of a value read back from an SVG written with 6-decimal coordinates
/// over a plot ≥ 100 page units wide: 5e-7 page units of rounding over ≥ 100 units is ≤ 5e-9; 1e-7 leaves a
/// factor 20 for the tick positions' own rounding in the calibration.
pub const SVG_ROUND_TRIP_REL: f64 = 1e-7;

/// Agreement of a quartile or median stored in `paper/results/paper-runs/*-boxes.csv` with the same
/// statistic recomputed from the runs: the files store them to 4 decimals, so half a unit of the 4th
/// decimal; the reading itself is 1e-6 closer (ACC_GRID_ABS's reasoning).
pub const BOX_STAT_ABS: f64 = 5e-5;

/// Beta quantiles (the Clopper–Pearson interval) against SciPy's `beta.ppf`: statrs inverts the Beta CDF
/// numerically (bisection to about 1e-9 in probability); 1e-7 in the quantile leaves a margin of 100 and
/// is far below the 1/30 spacing of the proportions the report prints.
pub const BETA_QUANTILE_ABS: f64 = 1e-7;
