//! The report's comparison of a sweep with the same cells run in another precision (`inorm report DIR
//! --against OTHER`): per condition and ε, the runs at chance in each with Fisher's exact test and the
//! Clopper–Pearson interval of this sweep's count, and the accuracies paired by configuration and seed
//! (paper/claims.md, "Paper scale under the authors' numerics").

use std::fmt::Write as _;

use crate::model::Preset;
use crate::stats::{clopper_pearson, fisher_exact, median, signed_rank_exact};
use crate::train::RunResult;

use super::common::{at_chance, fmt_num as f, fmt_p};

/// The level of the Clopper–Pearson interval of the runs at chance.
pub const CHANCE_INTERVAL: f64 = 0.95;

/// How a result's numerics read in a heading: `f16-autocast`, `f32`, `f64`.
fn precision_of(rs: &[RunResult]) -> String {
    rs.first().map_or("–".into(), |r| r.dtype.clone())
}

/// The final test accuracy of each run of `preset` at `eps`, keyed by (configuration, seed).
/// One run of a condition and ε: its (configuration, seed) key, final test accuracy, and whether at chance.
type Run = ((Option<usize>, u64), f64, bool);

fn runs(rs: &[RunResult], preset: Preset, eps: f64) -> Vec<Run> {
    rs.iter()
        .filter(|r| r.config.spec.preset == preset && r.config.eps == eps)
        .map(|r| {
            (
                (r.config.config_index, r.config.seed),
                r.final_metrics.test_acc,
                at_chance(r),
            )
        })
        .collect()
}

/// The section, or an empty string when `other` has none of this sweep's cells.
pub fn against_section(results: &[RunResult], other: &[RunResult]) -> String {
    let mut keys: Vec<(Preset, f64)> = results
        .iter()
        .map(|r| (r.config.spec.preset, r.config.eps))
        .collect();
    keys.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)));
    keys.dedup();
    keys.retain(|&(p, e)| !runs(other, p, e).is_empty());
    if keys.is_empty() {
        return String::new();
    }
    let (this, that) = (precision_of(results), precision_of(other));
    let mut s = format!(
        "## {this} against {that}\n\n\
         The same cells in both (same configuration, width, seed and data). At chance: final test accuracy \
         ≤ 11 % or diverged; Fisher's exact test (two-sided) on the two counts; the {:.0} % Clopper–Pearson \
         interval of the {this} count; the median paired difference {this} − {that} with the exact paired \
         Wilcoxon p.\n\n\
         | condition | ε | runs {this} / {that} | at chance {this} / {that} | Fisher p | interval ({this}) | \
         median {this} / {that} | paired {this} − {that} | Wilcoxon p (pairs) |\n\
         |---|---|---|---|---|---|---|---|---|\n",
        100.0 * CHANCE_INTERVAL
    );
    for (p, e) in keys {
        let (a, b) = (runs(results, p, e), runs(other, p, e));
        let ka = a.iter().filter(|r| r.2).count();
        let kb = b.iter().filter(|r| r.2).count();
        let fisher = fisher_exact(ka, a.len() - ka, kb, b.len() - kb);
        let (lo, hi) =
            clopper_pearson(ka, a.len(), CHANCE_INTERVAL).unwrap_or((f64::NAN, f64::NAN));
        let d: Vec<f64> = a
            .iter()
            .filter_map(|(k, x, _)| b.iter().find(|(k2, _, _)| k2 == k).map(|(_, y, _)| x - y))
            .collect();
        let w = if d.len() >= 2 {
            signed_rank_exact(&d).map_or(f64::NAN, |w| w.p_two_sided)
        } else {
            f64::NAN
        };
        let acc = |v: &[Run]| median(&v.iter().map(|r| r.1).collect::<Vec<_>>());
        let _ = writeln!(
            s,
            "| {} | {e} | {} / {} | {ka} / {kb} | {} | {:.0}–{:.0} % | {} / {} | {} | {} ({}) |",
            p.label(),
            a.len(),
            b.len(),
            fmt_p(fisher),
            100.0 * lo,
            100.0 * hi,
            f(acc(&a), 2),
            f(acc(&b), 2),
            f(median(&d), 2),
            fmt_p(w),
            d.len()
        );
    }
    s
}
