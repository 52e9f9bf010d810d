//! The single test binary: one module per area (one binary links faster and lets proptest persist its
//! failures under proptest-regressions/).

mod interop;
