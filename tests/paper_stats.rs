//! `inorm::experiment::paper`: the paper's printed Mann–Whitney tables, medians and ranges, checked against
//! paper/model.md §10 (so a transcription error fails), and the report's rows beside them computed on
//! constructed results.

use inorm::experiment::paper::{
    agrees, implied_ties, mw_rows, printed_median, printed_mw, range_rows, section, Metric,
    PrintedMw, ALPHA, PAPER_N, PRINTED_MEDIANS, PRINTED_MW, PRINTED_RANGES, TIE_P_BELOW,
};
use inorm::model::{GradNorm, Preset};
use inorm::stats::{mann_whitney, mann_whitney_tie_term};
use inorm::train::RunResult;

use crate::gate::{fake, runs};

fn section10() -> String {
    let s =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/paper/model.md")).unwrap();
    let a = s.find("## 10. Experiments and claims").unwrap();
    let b = s.find("### 10.1").unwrap();
    s[a..b].replace("**", "")
}

/// The paragraph of one figure in paper/model.md §10 (from its `**Fig …**` heading to the next).
fn paragraph(fig: &str) -> String {
    let s = section10();
    let a = s
        .find(&format!("{fig}:"))
        .unwrap_or_else(|| panic!("{fig} not in §10"));
    let rest = &s[a + fig.len()..];
    let b = rest.find("\nFig ").unwrap_or(rest.len());
    rest[..b].replace('\n', " ")
}

fn num(s: &str) -> f64 {
    let t = s.trim().trim_end_matches([';', '.', ',']);
    let t = if t.starts_with('.') {
        format!("0{t}")
    } else {
        t.to_string()
    };
    t.parse().unwrap_or_else(|_| panic!("not a number: {s:?}"))
}

/// `U, p` → (U, p).
fn pair(cell: &str) -> (f64, f64) {
    let (u, p) = cell.split_once(',').unwrap();
    (num(u), num(p))
}

#[test]
fn printed_mann_whitney_values_are_those_of_paper_model_md() {
    let text = section10();
    let mut from_doc: Vec<PrintedMw> = Vec::new();
    // Fig 6a's table: | ε | scale | decorrelate | center | full |
    let cols = [
        GradNorm::Scale,
        GradNorm::Decorrelate,
        GradNorm::Center,
        GradNorm::Full,
    ];
    for line in text.lines().filter(|l| l.starts_with("| 0")) {
        let cells: Vec<&str> = line.trim_matches('|').split('|').collect();
        assert_eq!(cells.len(), 5, "{line}");
        let eps = num(cells[0]);
        for (g, c) in cols.iter().zip(&cells[1..]) {
            let (u, p) = pair(c);
            from_doc.push(PrintedMw {
                variant: *g,
                eps,
                u,
                p,
            });
        }
    }
    assert_eq!(from_doc.len(), 16, "Fig 6a table: 4 ε × 4 variants");
    // Fig 7b's lateral values: "fa_center: ε = 0: 400.0, 0.464; ε = .25: 441.5, 0.906; …"
    let p7 = paragraph("Fig 7b");
    let lat = &p7[p7.find("fa_center: ε").unwrap()..];
    for part in lat.split("ε = ").skip(1).take(4) {
        let (eps, rest) = part.split_once(':').unwrap();
        let (u, p) = pair(rest.split(';').next().unwrap());
        from_doc.push(PrintedMw {
            variant: GradNorm::Lateral,
            eps: num(eps),
            u,
            p,
        });
    }
    assert_eq!(from_doc.len(), 20);
    for d in &from_doc {
        assert_eq!(printed_mw(d.variant, d.eps), Some(*d), "{d:?}");
    }
    assert_eq!(PRINTED_MW.len(), from_doc.len());
    // Fig 5c's sentence repeats the full column.
    let p5 = paragraph("Fig 5c");
    for (e, u, p) in [
        (0.0, "548.5", "0.147"),
        (0.25, "645", "0.0040"),
        (0.5, "648", "0.0035"),
        (0.75, "656.5", "0.0023"),
    ] {
        assert!(p5.contains(&format!("U = {u}, p = {p}")), "{p5}");
        let m = printed_mw(GradNorm::Full, e).unwrap();
        assert_eq!((m.u, m.p), (num(u), num(p)));
    }
}

#[test]
fn printed_medians_are_those_of_paper_model_md() {
    let p = paragraph("Fig 6a");
    let after = &p[p.find("[fig] medians:").unwrap()..];
    for (label, preset) in [
        ("LN+ ", Preset::ELn),
        ("center about ", Preset::INormGn(GradNorm::Center)),
        ("full about ", Preset::INormGn(GradNorm::Full)),
    ] {
        let s = &after[after.find(label).unwrap() + label.len()..];
        let four: Vec<f64> = s
            .split(" / ")
            .take(4)
            .map(|t| num(t.split_whitespace().next().unwrap()))
            .collect();
        let table = PRINTED_MEDIANS
            .iter()
            .find(|(q, _)| *q == preset)
            .unwrap()
            .1;
        assert_eq!(four, table.to_vec(), "{label}");
        for (e, m) in [0.0, 0.25, 0.5, 0.75].iter().zip(table) {
            assert_eq!(printed_median(preset, *e), Some(m));
        }
    }
    assert_eq!(printed_median(Preset::ELn, 0.6), None);
    assert_eq!(printed_median(Preset::INormGn(GradNorm::Scale), 0.0), None);
}

/// The tie terms and tie-group sizes that paper/model.md §10 reads off the printed p-values below 0.001 are
/// those the printed (U, p) give, and `implied_ties` covers exactly those cells, its range bracketing each.
#[test]
fn ties_read_off_the_printed_p_values_are_those_of_paper_model_md() {
    let text = section10().replace('\n', " ");
    let eps = [0.0, 0.25, 0.5, 0.75];
    let at = |m: &PrintedMw| mann_whitney_tie_term(m.u, PAPER_N, PAPER_N, m.p).unwrap();
    let ties = implied_ties();
    assert_eq!(
        ties.iter().map(|t| t.printed).collect::<Vec<_>>(),
        PRINTED_MW
            .iter()
            .copied()
            .filter(|m| m.p < TIE_P_BELOW)
            .collect::<Vec<_>>()
    );
    let mut groups = Vec::new();
    for g in [GradNorm::Scale, GradNorm::Decorrelate] {
        let sums: Vec<String> = eps
            .iter()
            .map(|&e| format!("{:.0}", at(&printed_mw(g, e).unwrap())))
            .collect();
        let want = format!("{} {}", g.name(), sums.join(" / "));
        assert!(text.contains(&want), "§10 lacks {want:?}");
        let t: Vec<&_> = ties.iter().filter(|t| t.printed.variant == g).collect();
        assert_eq!(t.len(), 4);
        groups.push(
            t.iter()
                .map(|t| ((t.one_group.0 + t.one_group.1) / 2.0).round())
                .collect::<Vec<f64>>(),
        );
    }
    for t in &ties {
        let mid = at(&t.printed);
        assert!(t.tie_term.0 < mid && mid < t.tie_term.1, "{t:?}");
        for (g, s) in [(t.one_group.0, t.tie_term.0), (t.one_group.1, t.tie_term.1)] {
            assert!((g * g * g - g - s).abs() < 1e-6 * s.max(1.0), "{t:?}");
        }
    }
    // Decorrelate at ε = 0 shows chance ties only; the others name their groups.
    let s = &groups[0];
    let d = &groups[1];
    let want = format!(
        "about {}, {}, {} and {} scale runs, and about {}, {} and {} decorrelate runs (ε = 0.25 to 0.75)",
        s[0], s[1], s[2], s[3], d[1], d[2], d[3]
    );
    assert!(text.contains(&want), "§10 lacks {want:?}");
    assert!(d[0] <= 4.0, "decorrelate at ε = 0: {}", d[0]);
}

#[test]
fn every_printed_range_is_written_in_its_figures_paragraph() {
    let forms = |x: f64| {
        vec![
            format!("{x}"),
            format!("{x:.1}"),
            format!("{x:.2}"),
            format!("{x:.3}"),
        ]
    };
    for r in &PRINTED_RANGES {
        let p = paragraph(r.figure);
        let found = forms(r.lo).iter().any(|lo| {
            forms(r.hi)
                .iter()
                .any(|hi| p.contains(&format!("{lo}–{hi}")))
        });
        assert!(found, "{r:?} not in the {} paragraph: {p}", r.figure);
        assert!(r.lo < r.hi, "{r:?}");
    }
}

#[test]
fn agreement_needs_the_same_significance_and_direction() {
    let sig_up = printed_mw(GradNorm::Full, 0.75).unwrap(); // U 656.5 of 900, p 0.0023
    let sig_down = printed_mw(GradNorm::Scale, 0.75).unwrap(); // U 0, p 1.3e-11
    let ns = printed_mw(GradNorm::Center, 0.0).unwrap(); // p 0.280
    assert!(agrees(0.8, 0.001, &sig_up));
    assert!(!agrees(0.2, 0.001, &sig_up), "significant the other way");
    assert!(
        !agrees(0.8, 0.2, &sig_up),
        "not significant where the paper is"
    );
    assert!(agrees(0.1, 0.01, &sig_down));
    assert!(!agrees(0.6, 0.01, &sig_down));
    assert!(agrees(0.45, 0.3, &ns));
    assert!(agrees(0.9, ALPHA, &ns), "p = α is not significant");
    assert!(!agrees(0.9, ALPHA * 0.999, &ns));
}

fn accs(rs: &[RunResult], p: Preset, e: f64) -> Vec<f64> {
    rs.iter()
        .filter(|r| r.config.spec.preset == p && r.config.eps == e)
        .map(|r| r.final_metrics.test_acc)
        .collect()
}

#[test]
fn mann_whitney_rows_are_the_sweeps_statistics_beside_the_papers() {
    let scale = Preset::INormGn(GradNorm::Scale);
    let full = Preset::INormGn(GradNorm::Full);
    let mut rs = runs(Preset::ELn, &|_, _| 0.0);
    // GN full level with E LN+ (+0.1), GN scale 5 points behind with 3 runs at chance at ε = 0.75.
    rs.extend(runs(full, &|_, c| if c % 2 == 0 { 0.1 } else { -0.1 }));
    let mut sc = runs(scale, &|_, _| -5.0);
    for (r, acc) in sc
        .iter_mut()
        .filter(|r| r.config.eps > 0.0)
        .zip([10.0, 10.5, 11.0, 11.01])
    {
        r.final_metrics.test_acc = acc; // the first three at chance (≤ 11 %), the fourth just above
    }
    rs.extend(sc);
    // An ε that E LN+ lacks gives no row; a condition outside the paper's table gives none either.
    rs.push(fake(full, 0.5, 0, 87.0));
    rs.extend(runs(Preset::INorm, &|_, _| -3.0));
    let rows = mw_rows(&rs);
    let keys: Vec<(GradNorm, f64)> = rows.iter().map(|r| (r.variant, r.eps)).collect();
    assert_eq!(
        keys,
        [
            (GradNorm::Scale, 0.0),
            (GradNorm::Scale, 0.75),
            (GradNorm::Full, 0.0),
            (GradNorm::Full, 0.75)
        ]
    );
    for r in &rows {
        let p = Preset::INormGn(r.variant);
        let (a, b) = (accs(&rs, p, r.eps), accs(&rs, Preset::ELn, r.eps));
        let m = mann_whitney(&a, &b).unwrap();
        assert_eq!((r.u, r.p, r.u_frac), (m.u, m.p_two_sided, m.effect));
        assert_eq!(r.n, (10, 10));
        assert_eq!(r.printed, printed_mw(r.variant, r.eps));
        let lo = a.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = a.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        assert_eq!(r.range, (lo, hi));
    }
    let s75 = &rows[1];
    assert_eq!(s75.at_chance, 3);
    assert_eq!(rows[0].at_chance, 0);
    assert!(agrees(s75.u_frac, s75.p, &s75.printed.unwrap()));
    // GN full level with E LN+: agrees with the paper at ε = 0 (n.s. there), not at ε = 0.75 where the
    // paper's GN full is significantly ahead.
    let (f0, f75) = (&rows[2], &rows[3]);
    assert!(f0.p > ALPHA && f75.p > ALPHA);
    assert!(agrees(f0.u_frac, f0.p, &f0.printed.unwrap()));
    assert!(!agrees(f75.u_frac, f75.p, &f75.printed.unwrap()));
    let md = section(&rs);
    assert!(md.contains("| I-Norm + GN full | 0.75 | 10/10 |"), "{md}");
    assert!(md.contains("| **no** |"), "{md}");
    assert_eq!(md.matches("| **no** |").count(), 1, "{md}");
    // The ties the paper's p-values imply: GN scale's two cells (p < 0.001) beside its runs at chance; none for
    // GN full (p ≥ 0.001) or for ε = 0.5, which the sweep lacks.
    let ties: Vec<&str> = md
        .lines()
        .filter(|l| l.starts_with("| I-Norm + GN") && l.matches(" | ").count() == 6)
        .collect();
    assert_eq!(
        ties,
        [
            "| I-Norm + GN scale | 0 | 19.0 | 1.78e-10 | 953–1011 | 9.9–10.1 | 0 / 10 |",
            "| I-Norm + GN scale | 0.75 | 0.0 | 1.27e-11 | 7952–8022 | 20.0–20.0 | 3 / 10 |"
        ],
        "{md}"
    );
    assert!(section(&runs(Preset::Ei, &|_, _| 0.0)).contains("Fig 2a"));
    assert_eq!(section(&runs(Preset::INormSub, &|_, _| 0.0)), "");
}

#[test]
fn range_rows_count_the_values_outside_the_printed_range() {
    let full = Preset::INormGn(GradNorm::Full);
    let center = Preset::INormGn(GradNorm::Center);
    let mut rs = Vec::new();
    // Fig 5c: GN full at ε = 0.75 printed 83.9–86.3; Fig 6b: center gradient alignment (all ε) 0.33–0.56.
    for (c, acc) in [83.8, 83.9, 85.0, 86.3, 86.4].iter().enumerate() {
        rs.push(fake(full, 0.75, c, *acc));
    }
    for (c, g) in [0.3, 0.4, 0.6].iter().enumerate() {
        let mut r = fake(center, [0.0, 0.75][c % 2], c, 88.0);
        r.final_metrics.gradient_alignment = *g;
        rs.push(r);
    }
    let rows = range_rows(&rs);
    let find = |fig: &str, p: Preset, m: Metric| {
        rows.iter()
            .find(|r| r.printed.figure == fig && r.printed.preset == p && r.printed.metric == m)
            .unwrap_or_else(|| panic!("{fig} {p:?} {m:?}"))
    };
    let a = find("Fig 5c", full, Metric::Accuracy);
    assert_eq!((a.n, a.outside), (5, 2), "the bounds are inside");
    assert_eq!(a.ours, (83.8, 85.0, 86.4));
    // Fig 5b reads GN full's alignments at ε = 0.75: fake() sets 0.9 output and 0.2 gradient, all outside.
    assert_eq!(find("Fig 5b", full, Metric::OutputAlignment).outside, 5);
    let g = find("Fig 6b", center, Metric::GradientAlignment);
    assert_eq!((g.n, g.outside), (3, 2), "pooled over ε");
    // Fig 7b center, per ε: one run at ε = 0 (88.0 inside 86.4–89.2) … two at 0 (c = 0, 2), one at 0.75.
    let c0 = rows
        .iter()
        .find(|r| {
            r.printed.figure == "Fig 7b" && r.printed.preset == center && r.printed.eps == Some(0.0)
        })
        .unwrap();
    assert_eq!((c0.n, c0.outside), (2, 0));
    assert!(rows
        .iter()
        .all(|r| r.printed.preset == full || r.printed.preset == center));
}
