//! `inorm report` on constructed results (markdown, figures, accuracy and local-loss tables) and the committed paper-scale folder, which must parse and regenerate byte for byte.

use crate::gate::runs;
use crate::util::tmpdir;
use inorm::data::synthetic;
use inorm::experiment::{merge_and_write, runs_dir};
use inorm::model::Preset;
use inorm::train::RunStatus;
use std::path::PathBuf;

#[test]
fn claims_report_writes_markdown_and_figures() {
    let dir = tmpdir("exp", "report");
    let mut r = runs(Preset::Ei, &|_, _| 0.0);
    r.extend(runs(Preset::EiLn, &|e, _| 3.0 * e));
    r.extend(runs(Preset::ELn, &|e, _| 3.0 * e));
    r.extend(runs(Preset::INorm, &|e, _| -3.0 * e));
    let imgs = synthetic(16, 1);
    let (claims, figs) =
        inorm::experiment::report::write_report(&r, None, Some(&imgs), &dir).unwrap();
    let md = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(md.contains("| C4 |") && md.contains("C16"));
    assert_eq!(claims.len(), 13);
    for id in ["Fig 1b", "Fig 2a", "Fig 2b", "Fig 3b", "Fig 4a", "Fig 4b"] {
        let f = figs.iter().find(|f| f.id == id).unwrap();
        let file = f
            .file
            .as_ref()
            .unwrap_or_else(|| panic!("{id}: {}", f.note));
        let svg = std::fs::read_to_string(dir.join(file)).unwrap();
        assert!(svg.starts_with("<svg") || svg.contains("<svg"), "{id}");
    }
    let f5 = figs.iter().find(|f| f.id == "Fig 5c").unwrap();
    assert!(f5.file.is_none() && f5.note.contains("skipped"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// The report's accuracy table gives median, range, n and the runs at chance per condition and ε; a
/// diverged run (recorded at 10 %) counts at chance, a run at 11.5 % does not.
#[test]
fn report_accuracy_table_gives_median_range_and_runs_at_chance() {
    let mut r = vec![
        crate::gate::fake(Preset::INorm, 0.75, 0, 81.0),
        crate::gate::fake(Preset::INorm, 0.75, 1, 10.0),
        crate::gate::fake(Preset::INorm, 0.75, 2, 83.5),
        crate::gate::fake(Preset::INorm, 0.75, 3, 11.5),
        crate::gate::fake(Preset::ELn, 0.0, 0, 88.25),
        crate::gate::fake(Preset::ELn, 0.0, 1, 87.75),
    ];
    r[1].status = RunStatus::Diverged;
    let t = inorm::experiment::report::accuracy_table(&r);
    let row = |label: &str| {
        t.lines()
            .find(|l| l.starts_with(&format!("| {label} |")))
            .unwrap_or_else(|| panic!("no row {label} in\n{t}"))
            .to_string()
    };
    assert!(t.contains("| condition | ε=0 | ε=0.75 |"), "{t}");
    assert_eq!(
        row(&Preset::INorm.label()),
        format!(
            "| {} | – | 46.25 [10.00–83.50] (n=4, 1 at chance) |",
            Preset::INorm.label()
        )
    );
    assert_eq!(
        row(&Preset::ELn.label()),
        format!(
            "| {} | 88.00 [87.75–88.25] (n=2) | – |",
            Preset::ELn.label()
        )
    );
}

/// The report's local-loss section counts, per I-Norm condition and ε, the runs whose epoch-mean local loss
/// rose above the excursion threshold (a NaN, as a diverged run records it, counts as one), splits the runs at
/// chance by whether they had one, and leaves out conditions without I-Norm layers.
#[test]
fn report_local_loss_table_counts_excursions_and_runs_at_chance() {
    use inorm::experiment::report::{local_loss_table, LOCAL_LOSS_EXCURSION};
    use inorm::model::GradNorm;
    let epoch = |local_loss: f64| inorm::train::EpochRecord {
        epoch: 1,
        steps: 1,
        train_acc: 80.0,
        train_loss: 0.5,
        test_acc: 80.0,
        test_loss: 0.5,
        local_loss,
        output_alignment: Vec::new(),
        gradient_alignment: Vec::new(),
        last_output_alignment: Vec::new(),
        last_gradient_alignment: Vec::new(),
        test_mean: Vec::new(),
        test_var: Vec::new(),
        seconds: 1.0,
        numerics: None,
    };
    let gn = Preset::INormGn(GradNorm::Decorrelate);
    let run = |c: usize, acc: f64, losses: &[f64]| {
        let mut r = crate::gate::fake(gn, 0.75, c, acc);
        r.history = losses.iter().map(|&l| epoch(l)).collect();
        r
    };
    let at = LOCAL_LOSS_EXCURSION;
    let mut r = vec![
        // Normalizes throughout: median 0.002.
        run(0, 82.0, &[0.001, 0.002, 0.003]),
        // Exactly at the threshold is not an excursion; median 0.1.
        run(1, 81.0, &[at, at, 0.05]),
        // A recovered excursion: median 0.5, largest 14.
        run(2, 80.0, &[0.004, 14.0, 0.5]),
        // Diverged with a NaN local loss: at chance after an excursion.
        run(3, 10.0, &[0.001, 0.2, f64::NAN]),
        // At chance without an excursion.
        run(4, 10.0, &[0.001, 0.001, 0.001]),
    ];
    r[3].status = RunStatus::Diverged;
    r.push(crate::gate::fake(Preset::ELn, 0.75, 0, 85.0));
    let t = local_loss_table(&r);
    let rows: Vec<&str> = t.lines().filter(|l| l.starts_with("| I-Norm")).collect();
    assert_eq!(
        rows,
        vec![format!(
            "| {} | 0.75 | 5 | 0.1000 | NaN | 2 | 1 | 1 |",
            gn.label()
        )],
        "{t}"
    );
    assert!(!t.contains(&Preset::ELn.label()), "{t}");
    assert!(
        t.starts_with("## I-Norm local loss: excursions and runs at chance\n\nEpoch means")
            && t.contains("\n| condition | ε | n | median local loss | largest | runs with an excursion | of them at chance | at chance without one |\n|---|---|---|---|---|---|---|---|\n"),
        "{t}"
    );
    // The largest finite value when no run has a NaN; no I-Norm runs, no section.
    assert!(local_loss_table(&r[..3]).contains("| 3 | 0.1000 | 14.0000 | 1 | 0 | 0 |"));
    assert!(local_loss_table(&r[5..]).is_empty());
}

/// The committed paper-scale run (`paper/results/paper-scale/`, docs/paper-scale.md): every
/// committed result parses and belongs to the sweep (no duplicate, unexpected, foreign or unreadable file),
/// all 360 cells are there, the committed merge and report regenerate byte for byte from the committed
/// results (regenerate them with `inorm report paper/results/paper-scale` after adding results), and
/// paper/claims.md's paper-scale column quotes the p's of the report's C11, C12 and C15 notes.
/// A copy of the committed sweep folder `paper/results/<name>` (its sweep.json and result files, not the
/// hidden temporary files of a sweep running there), and how many results it holds.
fn committed_copy(name: &str) -> (PathBuf, PathBuf, usize) {
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("paper/results")
        .join(name);
    let dir = tmpdir("exp", name);
    std::fs::create_dir_all(runs_dir(&dir)).unwrap();
    std::fs::copy(src.join("sweep.json"), dir.join("sweep.json")).unwrap();
    let mut files = 0;
    for e in std::fs::read_dir(runs_dir(&src)).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        if name.ends_with(".json") && !name.starts_with('.') {
            std::fs::copy(&p, runs_dir(&dir).join(&name)).unwrap();
            files += 1;
        }
    }
    (src, dir, files)
}

/// The files `inorm report` writes into a sweep folder equal the committed ones, byte for byte.
fn assert_regenerated(src: &std::path::Path, dir: &std::path::Path, name: &str, command: &str) {
    for f in [
        "merged.json",
        "merged.csv",
        "report/report.md",
        "report/claims.json",
    ] {
        let got = std::fs::read_to_string(dir.join(f)).unwrap();
        let want = std::fs::read_to_string(src.join(f)).unwrap_or_default();
        assert!(
            got == want,
            "paper/results/{name}/{f} is not what its committed results give; regenerate it with `{command}`"
        );
    }
}

#[test]
fn committed_paper_scale_folder_parses_and_its_report_regenerates() {
    let (src, dir, files) = committed_copy("paper-scale");
    let (rep, results) = merge_and_write(&dir).unwrap();
    assert!(rep.manifest);
    // The folder's grid: the 360 targeted cells (E LN+ and five GradNorm variants) grown by EI LN−, EI LN+,
    // I-Norm and I-Norm (sub) to 10 conditions × ε ∈ {0, 0.75} × 30 configurations × seed 0.
    assert_eq!(rep.expected, 600);
    assert_eq!((rep.found, results.len()), (files, files));
    assert_eq!(rep.found + rep.missing.len(), 600);
    // The targeted run is complete: a result of it lost from the folder fails here, not only in
    // `merge --strict`. The grown cells may still be missing while their runs come in.
    let targeted = ["e-ln_", "inorm-gn-"];
    let lost: Vec<&String> = rep
        .missing
        .iter()
        .filter(|c| targeted.iter().any(|t| c.starts_with(t)))
        .collect();
    assert!(
        lost.is_empty(),
        "paper/results/paper-scale lacks {} of its 360 targeted results: {lost:?}",
        lost.len()
    );
    assert!(rep.duplicates.is_empty(), "{:?}", rep.duplicates);
    assert!(rep.unexpected.is_empty(), "{:?}", rep.unexpected);
    assert!(rep.foreign.is_empty(), "{:?}", rep.foreign);
    assert!(rep.unreadable.is_empty(), "{:?}", rep.unreadable);
    // The report as `inorm report` writes it (Fig 1b from the data when it is installed, as in CI).
    let images = inorm::data::locate(None)
        .ok()
        .and_then(|d| inorm::data::load(&d).ok())
        .map(|d| d.train.take(16));
    let out = dir.join("report");
    let (claims, _) =
        inorm::experiment::report::write_report(&results, Some(&rep), images.as_ref(), &out)
            .unwrap();
    assert_regenerated(
        &src,
        &dir,
        "paper-scale",
        "inorm report paper/results/paper-scale",
    );
    // paper/claims.md's paper-scale column quotes the p of every test the verdicts of C11, C12 and C15
    // rest on, as the report's notes give them: a report that moves leaves the column stale and fails here.
    let registry =
        std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("paper/claims.md"))
            .unwrap();
    let mut quoted = 0;
    for c in claims
        .iter()
        .filter(|c| ["C11", "C12", "C15"].contains(&c.id))
    {
        let note = &c.note;
        for part in note.split("(p = ").skip(1) {
            let ps = &part[..part.find(')').unwrap()];
            assert!(
                registry.contains(ps),
                "paper/claims.md does not quote `{ps}` from {}'s paper-scale note: {note}",
                c.id
            );
            quoted += 1;
        }
    }
    assert_eq!(quoted, 3, "one group of p's per claim");
}

#[test]
fn report_numerics_section_shows_what_each_collapse_looked_like() {
    use inorm::experiment::numerics::numerics_section;
    use inorm::model::GradNorm;
    use inorm::train::{EpochNumerics, EpochRecord};
    let epoch =
        |e: usize, acc: f64, drive: f64, zd: f64, grad: f64, first: Option<(usize, &str)>| {
            EpochRecord {
                epoch: e,
                steps: 1875,
                train_acc: acc,
                train_loss: 0.5,
                test_acc: acc,
                test_loss: 0.5,
                local_loss: 0.001,
                output_alignment: Vec::new(),
                gradient_alignment: Vec::new(),
                last_output_alignment: Vec::new(),
                last_gradient_alignment: Vec::new(),
                test_mean: Vec::new(),
                test_var: Vec::new(),
                seconds: 1.0,
                numerics: Some(EpochNumerics {
                    max_drive: vec![drive, drive / 2.0],
                    zd_overflow: zd,
                    grad_overflow: grad,
                    first_nonfinite: first.map(|(s, t)| (s, t.to_string())),
                }),
            }
        };
    let scale = Preset::INormGn(GradNorm::Scale);
    let mut ok = crate::gate::fake(scale, 0.75, 0, 80.0);
    ok.history = vec![
        epoch(1, 78.0, 20.0, 0.0, 0.0, None),
        epoch(2, 80.0, 31.5, 0.0, 0.0, None),
    ];
    let mut collapsed = crate::gate::fake(scale, 0.75, 7, 10.0);
    collapsed.status = RunStatus::Diverged;
    collapsed.history = vec![
        epoch(1, 76.0, 27.0, 0.0, 0.0, None),
        epoch(2, 78.0, 28.0, 0.0, 0.0, None),
        epoch(
            3,
            10.0,
            f64::NAN,
            0.5,
            0.25,
            Some((301, "hidden.0.grad.dn")),
        ),
    ];
    let f32_run = crate::gate::fake(scale, 0.75, 1, 79.0);
    let s = numerics_section(&[ok.clone(), collapsed, f32_run.clone()]);
    assert!(s.starts_with("## f16-autocast numerics"), "{s}");
    // Two runs carry numerics; the largest finite drive is 31.5; one run overflowed; one is at chance.
    assert!(
        s.contains(&format!(
            "| {} | 0.75 | 2 | 31.5 | 1 | 1 | 1 | 1 |",
            scale.label()
        )),
        "{s}"
    );
    assert!(
        s.contains(&format!(
            "| {} | 0.75 | 7 | 3 (step 301, `hidden.0.grad.dn`) | 76.00–78.00 | 28.0 | ∞ | 50.00 % | 25.00 % |",
            scale.label()
        )),
        "{s}"
    );
    // Without numerics (f32 and f64 runs) there is no section; without a run at chance, no collapse table.
    assert!(numerics_section(&[f32_run]).is_empty());
    assert!(!numerics_section(&[ok]).contains("Runs at chance"));
}

#[test]
fn report_against_section_pairs_the_cells_of_two_precisions() {
    use inorm::experiment::precision::against_section;
    use inorm::model::GradNorm;
    let scale = Preset::INormGn(GradNorm::Scale);
    // f16: 3 of 4 at chance; f32: none, every run 1 point higher than its f16 pair where both trained.
    let mk = |acc: &[f64], dtype: &str| -> Vec<inorm::train::RunResult> {
        acc.iter()
            .enumerate()
            .map(|(c, &a)| {
                let mut r = crate::gate::fake(scale, 0.75, c, a);
                r.dtype = dtype.into();
                r
            })
            .collect()
    };
    let f16 = mk(&[10.0, 10.0, 10.0, 79.0], "f16-autocast");
    let f32 = mk(&[78.0, 79.0, 80.0, 80.0], "f32");
    let s = against_section(&f16, &f32);
    assert!(s.starts_with("## f16-autocast against f32"), "{s}");
    // Fisher: [[3, 1], [0, 4]] → 0.143; Clopper–Pearson of 3 of 4: 19–99 %; paired medians −68.5 (4 pairs,
    // all negative: exact two-sided p = 2/16).
    assert!(
        s.contains(&format!(
            "| {} | 0.75 | 4 / 4 | 3 / 0 | 0.143 | 19–99 % | 10.00 / 79.50 | -68.50 | 0.125 (4) |",
            scale.label()
        )),
        "{s}"
    );
    // Cells the other sweep lacks are left out; no common cell, no section.
    assert!(against_section(&f16, &mk(&[80.0], "f32")[..0]).is_empty());
}

/// The committed f16-autocast runs (`paper/results/paper-scale-f16/`, paper/model.md §14): every result
/// belongs to the sweep, was computed in the mode and records its numerics per epoch; the merge and the
/// report against the f32 folder regenerate byte for byte.
#[test]
fn committed_f16_folder_parses_and_its_report_against_f32_regenerates() {
    let (src, dir, files) = committed_copy("paper-scale-f16");
    let (rep, results) = merge_and_write(&dir).unwrap();
    assert!(rep.manifest);
    // E LN+, I-Norm, GN full, GN scale and GN decorrelate × ε ∈ {0, 0.75} × 30 configurations.
    assert_eq!(rep.expected, 300);
    assert_eq!((rep.found, results.len()), (files, files));
    assert!(
        rep.duplicates.is_empty() && rep.unexpected.is_empty(),
        "{rep:?}"
    );
    assert!(
        rep.foreign.is_empty() && rep.unreadable.is_empty(),
        "{rep:?}"
    );
    for r in &results {
        assert_eq!(
            (r.config.backend.name(), r.dtype.as_str()),
            ("fast-f16-autocast", "f16-autocast")
        );
        assert!(
            r.history.iter().all(|e| e.numerics.is_some()),
            "{:?}",
            r.config.spec.preset
        );
    }
    let f32_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("paper/results/paper-scale");
    let against = inorm::experiment::merge(&f32_dir).unwrap().1;
    // Fig 1b from the data when it is installed, as `inorm report` draws it.
    let images = inorm::data::locate(None)
        .ok()
        .and_then(|d| inorm::data::load(&d).ok())
        .map(|d| d.train.take(16));
    inorm::experiment::report::write_report_against(
        &results,
        Some(&rep),
        images.as_ref(),
        &dir.join("report"),
        &against,
    )
    .unwrap();
    assert_regenerated(
        &src,
        &dir,
        "paper-scale-f16",
        "inorm report paper/results/paper-scale-f16 --against paper/results/paper-scale",
    );
}
