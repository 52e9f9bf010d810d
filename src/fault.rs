//! Test-only fault injection: breaks one piece of the model at a time, so that a test can show that the
//! claims gate catches it (paper/model.md §10.1).
//!
//! Each [`Fault`] is one or two lines at the exact place where the math lives (the fast path's ops, the
//! training loop, the luminance shift, the diagnostics). The switch is a thread-local, set only by
//! `with_fault`, which exists only with the `fault-injection` cargo feature; the test binary turns that
//! feature on through a self dev-dependency, so `cargo test` exercises it without flags while `cargo build`
//! and the `inorm` CLI never contain it (without the feature [`active`] is the constant `false`). Being
//! thread-local, a fault never leaks into other tests running in parallel in the same process.

/// One way to break the model.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Fault {
    /// GradNorm center and full (§2.7) skip the centering: the mean of γ is taken as 0.
    GradNormCenteringOff,
    /// The LayerNorm backward (Eq. 2, §2.3) drops its decorrelation term `y·mean(δ∘y)`.
    LnDecorrelationDropped,
    /// SGD (§6.1) no longer clamps the sign-constrained weights at 0 (Dale's law off).
    DaleClampOff,
    /// The cross-entropy (§4) uses one-hot targets instead of label smoothing 0.1.
    LabelSmoothingOff,
    /// The I-Norm local loss (§2.5) is switched off (λ = 0: the inhibitory weights stop learning).
    LocalLossOff,
    /// The luminance shift (§7) adds 0 instead of `c ~ U[−ε, ε)` (the draw is still taken).
    LuminanceShiftOff,
    /// The gradient-alignment surrogate (§8.2) masks the reference LN error with the network's own ReLU
    /// mask `1[z > 0]` instead of the LN output's `1[LN(z) > 0]`.
    SurrogateOwnMask,
}

impl Fault {
    /// Every fault.
    pub const ALL: [Fault; 7] = [
        Fault::GradNormCenteringOff,
        Fault::LnDecorrelationDropped,
        Fault::DaleClampOff,
        Fault::LabelSmoothingOff,
        Fault::LocalLossOff,
        Fault::LuminanceShiftOff,
        Fault::SurrogateOwnMask,
    ];
}

#[cfg(feature = "fault-injection")]
thread_local! {
    static ACTIVE: std::cell::Cell<Option<Fault>> = const { std::cell::Cell::new(None) };
}

/// Whether `fault` is switched on in this thread (always `false` without the `fault-injection` feature).
#[inline]
pub fn active(fault: Fault) -> bool {
    #[cfg(feature = "fault-injection")]
    {
        ACTIVE.with(|a| a.get() == Some(fault))
    }
    #[cfg(not(feature = "fault-injection"))]
    {
        let _ = fault;
        false
    }
}

/// Runs `body` with `fault` switched on in the calling thread (only there: work `body` hands to other
/// threads runs unfaulted), and switches it off again afterwards, also on a panic. Only with the
/// `fault-injection` feature (tests).
#[cfg(feature = "fault-injection")]
pub fn with_fault<R>(fault: Fault, body: impl FnOnce() -> R) -> R {
    struct Reset(Option<Fault>);
    impl Drop for Reset {
        fn drop(&mut self) {
            ACTIVE.with(|a| a.set(self.0));
        }
    }
    let _reset = Reset(ACTIVE.with(|a| a.replace(Some(fault))));
    body()
}
