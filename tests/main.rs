//! The single integration-test binary: one module per area (one binary links faster and lets proptest
//! persist its failures under proptest-regressions/).

/// The f16-autocast mode: the fast path's emulation against its f64 oracle on every condition, f16
/// overflow in the forward and in the backward, subnormal errors, inf/NaN steps as the no-op scaler applies them.
mod autocast;
/// Gradient checkers (finite differences, dot-product test, Taylor rate) on functions with known derivatives.
mod check;
/// The CI gate on the paper's claims: the quick experiment on real Fashion-MNIST, each ordering with its test.
mod claims;
/// The `inorm` binary end to end: train, sweep/merge/report, init/grads interop, error messages.
mod cli;
/// Fashion-MNIST IDX reader, data discovery, luminance shift, the synthetic set and the real data.
mod data;
/// `--diag-every`: diagnostics on every k-th step leave training and the figures' numbers bit for bit.
mod diag;
/// The candle fast path against the reference: case table, properties, trajectories, snapshots.
mod fast;
/// Fault injection: each broken piece of the model is caught by the claims-gate check that should catch it.
mod faults;
/// The Fashion-MNIST downloader against a loopback server: bodies, checksums, HTTP errors, redirects.
mod fetch;
/// The claims' decision functions on constructed results: positives, negative controls, exact thresholds.
mod gate;
/// Safetensors exchange of models, batches and gradient dumps.
mod interop;
/// The crate's layering read from the sources: lower modules never import higher ones, and no two files of a
/// folder whose mod.rs is a table of contents import each other.
mod layers;
/// K networks in lockstep against K single runs, the lockstep sweep, host reads per step, the bench.
mod lockstep;
/// The paper's own runs read back from its figure SVGs: the extractor on generated figures, the committed
/// files against the paper's printed Mann–Whitney statistics, and the report's section beside ours.
mod paper_runs;
/// The report's table of the paper's printed statistics (Mann–Whitney per variant and ε, ranges) beside a
/// sweep's, and its constants against paper/model.md.
mod paper_stats;
/// Proofs for every backward of the f64 reference: FD Jacobians, dot-product and Taylor tests, LN/GN and
/// init identities (claims C1, C2), one training step by hand.
mod reference;
/// `inorm report` on constructed results, and the committed paper-scale folder regenerating byte for byte.
mod report;
/// The seeded RNG: pinned first draws of every distribution, their moments, degenerate ranges.
mod rng;
/// Rank statistics against SciPy reference values.
mod stats;
/// Sweeps under concurrency and faults: shards killed and restarted into one folder lose nothing.
mod stress;
/// Sweeps on synthetic data: grid, shards, resume after a kill, growing a grid, identity, bounds, merge.
mod sweep;
/// Theorem 1 (claim C3): unbiasedness, variance and rate of the fixed-random-inhibition mean estimator.
mod theorem;
/// The training loop on synthetic data: determinism, divergence, reference against fast, bad settings.
mod train;
/// Helpers every module shares (temporary folders).
mod util;
