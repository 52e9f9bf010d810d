//! paper/model.md §7: the luminance shift (one uniform offset per image, fresh per epoch and per pass,
//! reproducible from the seed, clipped as the formula says) and the epoch order.

use inorm::data::shift::{epoch_order, shift_rng, shifted_batch};
use inorm::data::Dataset;
use inorm::tolerance::{F32_UNIT_STORE, MC_Z};
use proptest::prelude::*;

/// Every pixel value 0..=255 in one image, repeated `n` times.
fn ramp_set(n: usize) -> Dataset {
    Dataset {
        images: (0..n).flat_map(|_| 0..=255u8).collect(),
        labels: (0..n).map(|i| (i % 10) as u8).collect(),
        dim: 256,
    }
}

#[test]
fn shift_matches_formula_with_one_draw_per_image() {
    let ds = ramp_set(40);
    let idx: Vec<usize> = (0..40).rev().collect();
    for eps in [0.0, 0.25, 0.5, 0.75] {
        let mut rng = shift_rng(3, true, 0);
        let mut reference = rng.clone();
        let (mut x, mut y) = (vec![9.0; 5], vec![9; 2]);
        shifted_batch(&ds, &idx, eps, &mut rng, &mut x, &mut y);
        assert_eq!(x.len(), 40 * 256);
        assert_eq!(y, idx.iter().map(|&i| ds.labels[i]).collect::<Vec<_>>());
        let (mut clamped_hi, mut clamped_lo) = (0, 0);
        for (k, &i) in idx.iter().enumerate() {
            let c = reference.uniform_in(-eps, eps);
            assert!(
                -eps <= c && (c < eps || eps == 0.0),
                "offset {c} outside [-{eps}, {eps})"
            );
            for (j, &p) in ds.image(i).iter().enumerate() {
                let v = x[k * 256 + j];
                assert!((0.0..=1.0).contains(&v));
                assert_eq!(v, (p as f64 / 255.0 + c).clamp(0.0, 1.0) as f32);
                if eps == 0.0 {
                    assert_eq!(v, p as f32 / 255.0, "eps = 0 must be exactly x/255");
                }
                clamped_hi += usize::from(p == 255 && c > 0.0 && v == 1.0);
                clamped_lo += usize::from(p == 0 && c < 0.0 && v == 0.0);
            }
        }
        // Bright pixels pushed up and dark pixels pushed down saturate at exactly 1 and 0.
        if eps > 0.0 {
            assert!(
                clamped_hi > 5 && clamped_lo > 5,
                "eps {eps}: {clamped_hi} / {clamped_lo} clamps"
            );
        }
        // The generator advanced by exactly one draw per image, whatever eps.
        assert_eq!(rng.next_u64(), reference.next_u64());
    }
}

#[test]
fn shift_fresh_offsets_per_epoch_and_pass_and_reproducible() {
    let ds = ramp_set(8);
    let idx: Vec<usize> = (0..8).collect();
    let run = |seed, train, epoch| {
        let (mut x, mut y) = (Vec::new(), Vec::new());
        shifted_batch(
            &ds,
            &idx,
            0.5,
            &mut shift_rng(seed, train, epoch),
            &mut x,
            &mut y,
        );
        x
    };
    let base = run(1, true, 0);
    assert_eq!(base, run(1, true, 0), "same seed and epoch must reproduce");
    assert_ne!(base, run(1, true, 1), "new epoch must draw new offsets");
    assert_ne!(
        base,
        run(1, false, 0),
        "evaluation pass must not reuse training offsets"
    );
    assert_ne!(base, run(2, true, 0), "seed must matter");
    assert_ne!(run(1, false, 0), run(1, false, 1));
    // Loading the same image twice in one pass gives two different offsets.
    let (mut x, mut y) = (Vec::new(), Vec::new());
    shifted_batch(
        &ds,
        &[3, 3],
        0.5,
        &mut shift_rng(1, true, 0),
        &mut x,
        &mut y,
    );
    assert_ne!(x[..256], x[256..]);
}

#[test]
fn shift_offsets_are_uniform() {
    // Mid-grey single-pixel images never clamp for eps = 0.45, so x' − x/255 recovers each offset.
    const N: usize = 40_000;
    let eps = 0.45;
    let ds = Dataset {
        images: vec![128; N],
        labels: vec![0; N],
        dim: 1,
    };
    let idx: Vec<usize> = (0..N).collect();
    for seed in [0, 1, 2] {
        let (mut x, mut y) = (Vec::new(), Vec::new());
        shifted_batch(
            &ds,
            &idx,
            eps,
            &mut shift_rng(seed, true, 5),
            &mut x,
            &mut y,
        );
        let c: Vec<f64> = x.iter().map(|&v| v as f64 - 128.0 / 255.0).collect();
        assert!(c
            .iter()
            .all(|&c| c >= -eps - F32_UNIT_STORE && c < eps + F32_UNIT_STORE));
        let n = N as f64;
        let mean = c.iter().sum::<f64>() / n;
        let var = c.iter().map(|c| (c - mean).powi(2)).sum::<f64>() / (n - 1.0);
        // Uniform[−ε, ε): mean 0, variance ε²/3, Var(c) / n for the mean and (ε⁴/5 − ε⁴/9)/n for E[c²].
        let se_mean = (eps * eps / 3.0 / n).sqrt();
        let se_var = (eps.powi(4) * (1.0 / 5.0 - 1.0 / 9.0) / n).sqrt();
        assert!(
            mean.abs() <= MC_Z * se_mean,
            "seed {seed}: mean {mean} vs 0 ± {}",
            MC_Z * se_mean
        );
        assert!(
            (var - eps * eps / 3.0).abs() <= MC_Z * se_var,
            "seed {seed}: var {var} vs {} ± {}",
            eps * eps / 3.0,
            MC_Z * se_var
        );
        // Ten equal bins each hold a binomial(n, 1/10) count.
        let mut bins = [0usize; 10];
        for &c in &c {
            bins[(((c + eps) / (2.0 * eps) * 10.0) as usize).min(9)] += 1;
        }
        let se_bin = (n * 0.1 * 0.9).sqrt();
        for (b, &k) in bins.iter().enumerate() {
            assert!(
                (k as f64 - n / 10.0).abs() <= MC_Z * se_bin,
                "seed {seed}: bin {b} has {k} of {N}"
            );
        }
    }
}

#[test]
fn epoch_order_identity_or_permutation() {
    assert_eq!(epoch_order(5, false, 9, 3), vec![0, 1, 2, 3, 4]);
    let o = epoch_order(100, true, 9, 0);
    assert_ne!(o, (0..100).collect::<Vec<_>>());
    assert_eq!(o, epoch_order(100, true, 9, 0));
    assert_ne!(o, epoch_order(100, true, 9, 1), "each epoch reshuffles");
    assert_ne!(o, epoch_order(100, true, 8, 0));
    assert!(epoch_order(0, true, 1, 1).is_empty());
}

proptest! {
    #[test]
    fn epoch_order_is_a_permutation(n in 0usize..300, seed in any::<u64>(), epoch in any::<u64>(), shuffle in any::<bool>()) {
        let mut o = epoch_order(n, shuffle, seed, epoch);
        prop_assert_eq!(o.len(), n);
        o.sort_unstable();
        prop_assert_eq!(o, (0..n).collect::<Vec<_>>());
    }
}
