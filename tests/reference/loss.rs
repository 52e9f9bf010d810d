//! paper/model.md §4: softmax cross-entropy with label smoothing, `∂L/∂O = (p − t)/B`, against FD, the directional
//! test and the Taylor rate, for smoothing 0 (plain CE), 0.1 (faithful) and arbitrary values in [0, 1).

use ::inorm::reference::loss::{argmax, cross_entropy, smoothed_targets};
use ::inorm::reference::Mat;
use ::inorm::testing::{labels, matrix};
use ::inorm::tolerance::ANALYTIC_REL;
use proptest::prelude::*;

use super::{prop, scalar_checks, Worst};

/// 256 cases: B ≤ 8, logits in [−2, 2) scaled by up to 3. (A saturated softmax, |o| ≳ 15 with smoothing 0, has a gradient ≈ e^{−|o|} far below the FD's roundoff EPS64·|o|/h of the loss value, which is computed as `lse − o`: no FD can check it in f64.), smoothing 0, 0.1 or random.
#[test]
fn cross_entropy_label_smoothing_gradient() {
    let strategy = (1usize..=8)
        .prop_flat_map(|b| (matrix(b, 10), labels(b)))
        .prop_flat_map(|(o, y)| {
            (
                Just(o),
                Just(y),
                0.1f64..3.0,
                prop_oneof![Just(0.0), Just(0.1), 0.0f64..0.99],
                any::<u64>(),
            )
        });
    prop(
        "cross_entropy_label_smoothing_gradient",
        256,
        strategy,
        |(o, y, scale, s, seed), w: &Worst| {
            let o = o * scale;
            let (bsz, c) = o.shape();
            let ce = cross_entropy(&o, &y, s);
            // Targets: correct class 1 − s + s/C, others s/C, rows sum to 1.
            let t = smoothed_targets(&y, c, s);
            for b in 0..bsz {
                prop_assert!((t.row(b).sum() - 1.0).abs() <= ANALYTIC_REL);
                prop_assert!(
                    (t[(b, y[b] as usize)] - (1.0 - s + s / c as f64)).abs() <= ANALYTIC_REL
                );
            }
            let loss = |v: &[f64]| cross_entropy(&Mat::from_column_slice(bsz, c, v), &y, s).loss;
            let x = o.as_slice().to_vec();
            prop_assert!((loss(&x) - ce.loss).abs() <= ANALYTIC_REL * ce.loss.abs().max(1.0));
            let r = scalar_checks(
                &loss,
                ce.grad.as_slice(),
                &x,
                &vec![1.0; x.len()],
                &[x.len()],
                seed,
                1e-1,
            );
            r.check(w, "CE")?;
            // Gradient rows sum to 0 (Σ p = Σ t = 1).
            for b in 0..bsz {
                prop_assert!(ce.grad.row(b).sum().abs() <= ANALYTIC_REL);
            }
            Ok(())
        },
    );
}

/// `correct` counts the rows whose first maximal logit is the label (ties go to the earlier class), and
/// `argmax` returns the first maximum, never a NaN's index.
#[test]
fn cross_entropy_counts_correct_rows_first_maximum_on_ties() {
    let o = Mat::from_row_slice(
        4,
        3,
        &[
            0.1, 2.0, -1.0, // argmax 1
            3.0, 3.0, 0.0, // tie of classes 0 and 1: argmax 0
            1.0, 1.0, 0.5, // tie of classes 0 and 1: argmax 0
            0.0, -1.0, 0.2, // argmax 2
        ],
    );
    assert_eq!(cross_entropy(&o, &[1, 0, 1, 2], 0.1).correct, 3);
    assert_eq!(cross_entropy(&o, &[1, 0, 0, 2], 0.0).correct, 4);
    assert_eq!(argmax([1.0, 3.0, 3.0, 0.0].into_iter()), 1);
    assert_eq!(argmax([-2.0, -1.0, -3.0].into_iter()), 1);
    assert_eq!(argmax([0.0, 1.0, 5.0].into_iter()), 2);
    assert_eq!(argmax([f64::NAN, 1.0, f64::NAN].into_iter()), 1);
}
