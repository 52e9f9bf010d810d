//! The report's section on the f16-autocast numerics (paper/model.md §14.5): per condition and ε, how close
//! the runs came to f16's limits, and for every run at chance what its collapse looked like — the largest
//! divisive drive |D_IE x| before it, the samples whose denominator or backward errors overflowed, and the
//! first tensor that held a non-finite value.

use std::fmt::Write as _;

use crate::model::Preset;
use crate::train::{EpochNumerics, RunResult};

use super::common::{at_chance, fmt_num as f};

/// The largest finite drive of a run's epochs `..upto` (all layers), NaN when none was finite.
fn largest_drive(h: &[&EpochNumerics]) -> f64 {
    h.iter()
        .flat_map(|n| n.max_drive.iter().copied())
        .filter(|d| d.is_finite())
        .fold(f64::NAN, f64::max)
}

/// `12 (step 301, hidden.0.grad.dn)` for the first epoch with a non-finite value, `–` for none.
fn first_nonfinite(r: &RunResult) -> String {
    r.history
        .iter()
        .find_map(|e| {
            let n = e.numerics.as_ref()?;
            let (step, t) = n.first_nonfinite.as_ref()?;
            Some(format!("{} (step {step}, `{t}`)", e.epoch))
        })
        .unwrap_or_else(|| "–".into())
}

/// A fraction as a percentage with two decimals (`0` when exactly 0).
fn pct(x: f64) -> String {
    if x == 0.0 {
        "0".into()
    } else {
        format!("{:.2} %", 100.0 * x)
    }
}

/// The section, or an empty string when no result carries f16-autocast numerics.
pub fn numerics_section(results: &[RunResult]) -> String {
    let runs: Vec<&RunResult> = results
        .iter()
        .filter(|r| r.history.iter().any(|e| e.numerics.is_some()))
        .collect();
    if runs.is_empty() {
        return String::new();
    }
    let mut keys: Vec<(Preset, f64)> = runs
        .iter()
        .map(|r| (r.config.spec.preset, r.config.eps))
        .collect();
    keys.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)));
    keys.dedup();
    let mut s = String::from(
        "## f16-autocast numerics (paper/model.md §14.5)\n\n\
         Largest divisive drive |D_IE x| over all epochs and layers (f16 overflows r(R²) from 256 on); \
         runs with an epoch in which some sample's denominator, or some per-sample backward error, \
         overflowed; runs with a non-finite value; runs at chance.\n\n\
         | condition | ε | n | largest drive | runs with Dn overflow | with error overflow | \
         with a non-finite value | at chance |\n|---|---|---|---|---|---|---|---|\n",
    );
    for &(pr, eps) in &keys {
        let rs: Vec<&&RunResult> = runs
            .iter()
            .filter(|r| r.config.spec.preset == pr && r.config.eps == eps)
            .collect();
        fn nums(r: &RunResult) -> Vec<&EpochNumerics> {
            r.history
                .iter()
                .filter_map(|e| e.numerics.as_ref())
                .collect()
        }
        let drive = rs
            .iter()
            .map(|r| largest_drive(&nums(r)))
            .fold(f64::NAN, f64::max);
        let count = |p: &dyn Fn(&EpochNumerics) -> bool| {
            rs.iter().filter(|r| nums(r).iter().any(|n| p(n))).count()
        };
        let _ = writeln!(
            s,
            "| {} | {eps} | {} | {} | {} | {} | {} | {} |",
            pr.label(),
            rs.len(),
            if drive.is_nan() {
                "–".into()
            } else {
                f(drive, 1)
            },
            count(&|n| n.zd_overflow > 0.0),
            count(&|n| n.grad_overflow > 0.0),
            count(&|n| n.first_nonfinite.is_some()),
            rs.iter().filter(|r| at_chance(r)).count(),
        );
    }
    let chance: Vec<&&RunResult> = runs.iter().filter(|r| at_chance(r)).collect();
    if chance.is_empty() {
        return s;
    }
    s.push_str(
        "\nRuns at chance: the epoch of the first non-finite value (its step and tensor), the test accuracy \
         before it, the largest drive before that epoch and in it, and the overflowed samples in that \
         epoch.\n\n\
         | condition | ε | config | first non-finite | accuracy before | drive before | drive then | \
         Dn overflow then | error overflow then |\n|---|---|---|---|---|---|---|---|---|\n",
    );
    for r in chance {
        let hist = &r.history;
        let at = hist
            .iter()
            .position(|e| {
                e.numerics
                    .as_ref()
                    .is_some_and(|n| n.first_nonfinite.is_some())
            })
            .unwrap_or(hist.len().saturating_sub(1));
        let before: Vec<&EpochNumerics> = hist[..at]
            .iter()
            .filter_map(|e| e.numerics.as_ref())
            .collect();
        let acc = hist[..at]
            .iter()
            .map(|e| e.test_acc)
            .filter(|a| a.is_finite());
        let (lo, hi) = acc.fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), a| {
            (l.min(a), h.max(a))
        });
        let then = hist.get(at).and_then(|e| e.numerics.as_ref());
        let drive_then = then.map_or(f64::NAN, |n| {
            n.max_drive.iter().copied().fold(f64::NAN, |m, d| {
                if d.is_finite() {
                    m.max(d)
                } else {
                    f64::INFINITY
                }
            })
        });
        let num = |x: f64| match x {
            x if x.is_nan() => "–".to_string(),
            x if x.is_infinite() => "∞".to_string(),
            x => f(x, 1),
        };
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            r.config.spec.preset.label(),
            r.config.eps,
            r.config.config_index.map_or("–".into(), |c| c.to_string()),
            first_nonfinite(r),
            if lo.is_finite() {
                format!("{}–{}", f(lo, 2), f(hi, 2))
            } else {
                "–".into()
            },
            num(largest_drive(&before)),
            num(drive_then),
            then.map_or("–".into(), |n| pct(n.zd_overflow)),
            then.map_or("–".into(), |n| pct(n.grad_overflow)),
        );
    }
    s
}
