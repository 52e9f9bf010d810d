//! The proofs for every backward of the f64 reference (SPEC §2, §4, §6): full finite-difference Jacobians on
//! small shapes, random-direction dot-product tests on realistic shapes, Taylor remainder rates ≈ 2, the
//! LayerNorm and GradNorm identities (claim C2), the initialization identities (claim C1), the authors'
//! hand-computed EI example and one training step recomputed by hand.
//!
//! The crate is referred to as `::inorm` because this module is itself named `reference`. Every property
//! test states its number of cases and persists failing seeds in `proptest-regressions/reference.txt`; each
//! test prints the worst relative error each of its checks saw (`cargo test -- --nocapture`).

mod init;
