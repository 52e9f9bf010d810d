//! Sweeps on synthetic data: the grid, shards, resume after a kill, growing a grid, the folder's identity, bounds, and `merge` (missing, duplicates, CSV).

use inorm::data::synthetic;
use inorm::model::Preset;
use inorm::train::TrainEval;

use crate::train::curve;
use crate::util::tmpdir;
use inorm::data::FashionMnist;
use inorm::experiment::{
    merge, merge_and_write, read_result, result_path, run_sweep, runs_dir, Cell, Shard, SweepSpec,
    WidthRule, STALE_TEMP_AGE,
};
use inorm::model::GradNorm;
use inorm::train::RunResult;
use std::path::PathBuf;

fn tiny_data() -> FashionMnist {
    FashionMnist {
        train: synthetic(64, 11),
        test: synthetic(32, 12),
        dir: PathBuf::from("<synthetic>"),
    }
}

fn tiny_sweep() -> SweepSpec {
    let mut s = SweepSpec::new(vec![Preset::Ei, Preset::INorm]);
    s.eps = vec![0.0, 0.5];
    s.configs = vec![0, 1];
    s.seeds = vec![0];
    s.epochs = 1;
    s.width = WidthRule::Fixed(12);
    s.train_eval = TrainEval::Running;
    s
}

#[test]
fn sweep_grid_ids_are_unique_and_filename_safe() {
    let mut s = SweepSpec::new(Preset::ALL.to_vec());
    s.seeds = vec![0, 1];
    let g = s.grid().unwrap();
    assert_eq!(g.len(), 10 * 4 * 30 * 2);
    let ids: std::collections::BTreeSet<String> = g.iter().map(|c| c.id()).collect();
    assert_eq!(ids.len(), g.len());
    for id in &ids {
        assert!(
            id.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)),
            "{id}"
        );
    }
    assert_eq!(
        Cell {
            preset: Preset::INormGn(GradNorm::Full),
            eps: 0.75,
            config: 7,
            seed: 0
        }
        .id(),
        "inorm-gn-full_eps0.75_c07_s0"
    );
    s.configs = vec![30];
    assert!(s.grid().unwrap_err().to_string().contains("0..=29"));
}

#[test]
fn sweep_shards_partition_the_grid_exactly() {
    let g = SweepSpec::new(Preset::ALL.to_vec()).grid().unwrap();
    for count in [1, 2, 3, 7, 100, 1200, 1500] {
        let mut seen = vec![0usize; g.len()];
        let mut sizes = Vec::new();
        for index in 0..count {
            let sh = Shard::new(index, count).unwrap();
            let cells = sh.select(&(0..g.len()).collect::<Vec<_>>());
            sizes.push(cells.len());
            for c in cells {
                seen[c] += 1;
            }
        }
        assert!(seen.iter().all(|&k| k == 1), "count {count}");
        let (mn, mx) = (sizes.iter().min().unwrap(), sizes.iter().max().unwrap());
        assert!(mx - mn <= 1, "count {count}: {mn}..{mx}");
    }
    assert_eq!(Shard::parse("3/100").unwrap(), Shard::new(3, 100).unwrap());
    for bad in ["3/3", "5/3", "a/b", "1", "0/0", "-1/4", ""] {
        let e = Shard::parse(bad).unwrap_err().to_string();
        assert!(e.contains("shard"), "{bad}: {e}");
    }
    assert_eq!(Shard::from_vars(None, None, None).unwrap(), Shard::ALL);
    assert_eq!(
        Shard::from_vars(Some("7"), Some("100"), Some("0")).unwrap(),
        Shard::new(7, 100).unwrap()
    );
    assert_eq!(
        Shard::from_vars(Some("100"), Some("100"), Some("1")).unwrap(),
        Shard::new(99, 100).unwrap()
    );
    assert!(Shard::from_vars(Some("7"), None, None).is_err());
    assert!(Shard::from_vars(Some("x"), Some("4"), None).is_err());
    assert!(Shard::from_vars(Some("4"), Some("4"), None).is_err());
}

#[test]
fn sweep_resumes_after_a_kill_running_only_missing_cells() {
    let dir = tmpdir("exp", "resume");
    let data = tiny_data();
    let spec = tiny_sweep();
    let s1 = run_sweep(&spec, &dir, Shard::ALL, 2, &data, &|_| {}).unwrap();
    assert_eq!((s1.grid, s1.ran, s1.skipped), (8, 8, 0));
    assert!(s1.failed.is_empty(), "{:?}", s1.failed);
    let grid = spec.grid().unwrap();
    // Results and the manifest get the mode of a plainly created file (others in a shared SLURM folder
    // can read them), not the temporary file's private 0o600.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        let plain = dir.join("plain-file-mode");
        std::fs::write(&plain, b"").unwrap();
        assert_eq!(mode(&result_path(&dir, &grid[0])), mode(&plain));
        assert_eq!(mode(&dir.join("sweep.json")), mode(&plain));
        std::fs::remove_file(&plain).unwrap();
    }
    let before: Vec<(Vec<u8>, std::time::SystemTime)> = grid
        .iter()
        .map(|c| {
            let p = result_path(&dir, c);
            (
                std::fs::read(&p).unwrap(),
                std::fs::metadata(&p).unwrap().modified().unwrap(),
            )
        })
        .collect();
    // Simulate a kill: two results never written, one half-written temp file left behind a day ago, and
    // one temp file another shard is writing right now (which a starting sweep must not touch).
    std::fs::remove_file(result_path(&dir, &grid[1])).unwrap();
    std::fs::remove_file(result_path(&dir, &grid[6])).unwrap();
    let stale = runs_dir(&dir).join(format!(".{}.json.99999.tmp", grid[1].id()));
    std::fs::write(&stale, b"{\"trunc").unwrap();
    let day_ago =
        std::time::SystemTime::now() - STALE_TEMP_AGE - std::time::Duration::from_secs(60);
    std::fs::File::options()
        .write(true)
        .open(&stale)
        .unwrap()
        .set_modified(day_ago)
        .unwrap();
    let busy = runs_dir(&dir).join(".ei_eps0_c09_s0.json.aB3xYz.tmp");
    std::fs::write(&busy, b"{\"being written").unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    let started = std::sync::Mutex::new(Vec::new());
    let s2 = run_sweep(&spec, &dir, Shard::ALL, 2, &data, &|e| {
        if let inorm::experiment::SweepEvent::Started { cell, .. } = e {
            started.lock().unwrap().push(cell.id());
        }
    })
    .unwrap();
    assert_eq!((s2.ran, s2.skipped, s2.stale_removed), (2, 6, 1));
    let mut st = started.into_inner().unwrap();
    st.sort();
    assert_eq!(st, vec![grid[1].id(), grid[6].id()]);
    assert!(!stale.exists());
    assert!(
        busy.exists(),
        "a starting sweep removed a fresh temp file of another writer"
    );
    std::fs::remove_file(&busy).unwrap();
    for (i, c) in grid.iter().enumerate() {
        let p = result_path(&dir, c);
        if i != 1 && i != 6 {
            assert_eq!(std::fs::read(&p).unwrap(), before[i].0, "{}", c.id());
            assert_eq!(
                std::fs::metadata(&p).unwrap().modified().unwrap(),
                before[i].1
            );
        }
        assert_eq!(Cell::of(&read_result(&p).unwrap()).id(), c.id());
    }
    // A re-run on the same results gives the same numbers (deterministic per cell).
    let r1: RunResult = serde_json::from_slice(&before[1].0).unwrap();
    let r1b = read_result(&result_path(&dir, &grid[1])).unwrap();
    assert_eq!(curve(&r1), curve(&r1b));
    // Nothing left to do.
    let s3 = run_sweep(&spec, &dir, Shard::ALL, 1, &data, &|_| {}).unwrap();
    assert_eq!((s3.ran, s3.skipped), (0, 8));
    // A folder never mixes precisions: an f16-autocast sweep into it is refused, naming the precision.
    let mut f16 = spec.clone();
    f16.backend = inorm::backend::Backend::FastAutocast;
    let e = run_sweep(&f16, &dir, Shard::ALL, 1, &data, &|_| {})
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("never mixes precisions")
            && e.contains("f32")
            && e.contains("--precision f16-autocast"),
        "{e}"
    );
    assert_eq!(
        inorm::experiment::read_manifest(&dir).unwrap().spec.backend,
        spec.backend
    );
    // Different settings in the same folder are refused.
    let mut other = spec.clone();
    other.epochs = 2;
    let e = run_sweep(&other, &dir, Shard::ALL, 1, &data, &|_| {}).unwrap_err();
    let e = e.to_string();
    assert!(
        e.contains("different settings") && e.contains("epochs: 1 vs 2"),
        "{e}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn sweep_shards_fill_one_folder_and_merge_reports_missing_and_duplicates() {
    let dir = tmpdir("exp", "merge");
    let data = tiny_data();
    let spec = tiny_sweep();
    for i in 0..3 {
        run_sweep(&spec, &dir, Shard::new(i, 3).unwrap(), 1, &data, &|_| {}).unwrap();
    }
    let (rep, results) = merge(&dir).unwrap();
    assert!(rep.complete(), "{rep:?}");
    assert_eq!((rep.expected, rep.found, results.len()), (8, 8, 8));
    let grid = spec.grid().unwrap();
    std::fs::remove_file(result_path(&dir, &grid[3])).unwrap();
    let sub = runs_dir(&dir).join("copied-shard");
    std::fs::create_dir_all(&sub).unwrap();
    std::fs::copy(result_path(&dir, &grid[5]), sub.join("dup.json")).unwrap();
    std::fs::write(runs_dir(&dir).join("garbage.json"), b"not json").unwrap();
    let (rep, results) = merge(&dir).unwrap();
    assert!(!rep.complete());
    assert_eq!(rep.missing, vec![grid[3].id()]);
    assert_eq!(rep.duplicates.len(), 1);
    assert_eq!(rep.duplicates[0].0, grid[5].id());
    assert_eq!(rep.duplicates[0].1.len(), 2);
    assert_eq!(rep.unreadable.len(), 1);
    assert_eq!(results.len(), 7);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Copies `from`'s result of `cell` into `to`'s runs/ under `name`.
fn copy_result(from: &std::path::Path, to: &std::path::Path, cell: &Cell, name: &str) {
    std::fs::copy(result_path(from, cell), runs_dir(to).join(name)).unwrap();
}

#[test]
fn sweep_grid_grows_only_with_grow_and_any_part_of_it_resumes() {
    use inorm::experiment::{grid_fit, read_manifest, GridFit};
    let dir = tmpdir("exp", "grow");
    let data = tiny_data();
    let spec = tiny_sweep(); // 2 conditions × ε {0, 0.5} × configs {0, 1}: 8 cells
    run_sweep(&spec, &dir, Shard::ALL, 2, &data, &|_| {}).unwrap();
    let mut wider = spec.clone();
    wider.eps = vec![0.0, 0.5, 0.25];
    let mut part = spec.clone();
    part.eps = vec![0.5];
    let mut reordered = spec.clone();
    reordered.eps = vec![0.5, 0.0];
    reordered.presets.reverse();
    let mut overlap = spec.clone();
    overlap.eps = vec![0.0, 0.25];
    assert_eq!(grid_fit(&spec, &wider), GridFit::Grows);
    assert_eq!(grid_fit(&spec, &part), GridFit::Within);
    assert_eq!(grid_fit(&spec, &reordered), GridFit::Same);
    assert_eq!(grid_fit(&spec, &overlap), GridFit::Other);
    assert_eq!(grid_fit(&wider, &spec), GridFit::Within);
    let refused = |g: &SweepSpec| {
        run_sweep(g, &dir, Shard::ALL, 1, &data, &|_| {})
            .unwrap_err()
            .to_string()
    };
    // A larger grid without --grow: refused, naming the flag; sweep.json is left as it was.
    let e = refused(&wider);
    assert!(
        e.contains("--grow") && e.contains("contains the folder's sweep"),
        "{e}"
    );
    assert_eq!(read_manifest(&dir).unwrap().spec.eps, spec.eps);
    // Grids that only overlap are refused; a part of the folder's grid, or the same cells in another
    // order, resume with nothing to do.
    let e = refused(&overlap);
    assert!(e.contains("overlap only in part"), "{e}");
    for g in [&part, &reordered] {
        let s = run_sweep(g, &dir, Shard::ALL, 1, &data, &|_| {}).unwrap();
        assert_eq!(s.ran, 0, "{g:?}");
    }
    // Other run settings stay refused whatever the grid.
    let mut other = wider.clone();
    other.epochs = 2;
    other.grow = true;
    let e = refused(&other);
    assert!(
        e.contains("different settings") && e.contains("epochs: 1 vs 2"),
        "{e}"
    );
    // --grow: one shard extends sweep.json; merge counts the new cells as missing and keeps the 8 results.
    wider.grow = true;
    run_sweep(&wider, &dir, Shard::new(0, 4).unwrap(), 1, &data, &|_| {}).unwrap();
    assert_eq!(read_manifest(&dir).unwrap().spec.eps, wider.eps);
    let (rep, results) = merge(&dir).unwrap();
    assert_eq!(rep.expected, 12);
    assert_eq!(results.len() + rep.missing.len(), 12, "{rep:?}");
    let missing = rep.missing.len();
    assert!(results.len() >= 8 && missing <= 4, "{rep:?}");
    assert!(rep.missing.iter().all(|m| m.contains("eps0.25")), "{rep:?}");
    assert!(rep.foreign.is_empty() && rep.duplicates.is_empty() && rep.unexpected.is_empty());
    // The old grid is now a part of the folder's sweep; the rest of the grown grid completes it.
    assert_eq!(
        run_sweep(&spec, &dir, Shard::ALL, 1, &data, &|_| {})
            .unwrap()
            .ran,
        0
    );
    wider.grow = false;
    let s = run_sweep(&wider, &dir, Shard::ALL, 2, &data, &|_| {}).unwrap();
    assert_eq!((s.ran, s.skipped), (missing, 12 - missing));
    let (rep, results) = merge(&dir).unwrap();
    assert!(rep.complete() && results.len() == 12, "{rep:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn sweep_identity_keeps_results_of_other_settings_and_data_out() {
    let root = tmpdir("exp", "identity");
    let (a, b, c, d) = (
        root.join("a"),
        root.join("b"),
        root.join("c"),
        root.join("d"),
    );
    let data = tiny_data();
    let spec = tiny_sweep();
    let grid = spec.grid().unwrap();
    run_sweep(&spec, &a, Shard::ALL, 2, &data, &|_| {}).unwrap();
    let (rep, results) = merge(&a).unwrap();
    assert!(rep.complete() && results.len() == 8, "{rep:?}");
    let r0 = read_result(&result_path(&a, &grid[0])).unwrap();
    let id = r0.data.clone().expect("results record the data used");
    assert_eq!((id.train.n, id.test.n), (64, 32));
    assert_eq!(r0.version, env!("CARGO_PKG_VERSION"));
    // Other settings (epochs), same cell ids.
    let mut other = spec.clone();
    other.epochs = 2;
    run_sweep(&other, &b, Shard::new(0, 4).unwrap(), 1, &data, &|_| {}).unwrap();
    // Same settings, other data (different images, same sizes).
    let data2 = FashionMnist {
        train: synthetic(64, 21),
        test: synthetic(32, 12),
        dir: PathBuf::from("<synthetic-2>"),
    };
    run_sweep(&spec, &c, Shard::new(0, 4).unwrap(), 1, &data2, &|_| {}).unwrap();
    // Same settings and data, another grid (ε = 0.25 is not in `spec`).
    let mut wider = spec.clone();
    wider.eps = vec![0.25];
    run_sweep(&wider, &d, Shard::new(0, 4).unwrap(), 1, &data, &|_| {}).unwrap();
    let gw = wider.grid().unwrap();
    // A result of other settings under the very name of a cell of `a`: not done, and never overwritten.
    copy_result(&b, &a, &grid[0], &format!("{}.json", grid[0].id()));
    let e = run_sweep(&spec, &a, Shard::ALL, 1, &data, &|_| {})
        .unwrap_err()
        .to_string();
    assert!(
        e.contains(&grid[0].id()) && e.contains("epochs: 1 vs 2") && e.contains("move them"),
        "{e}"
    );
    let (rep, results) = merge(&a).unwrap();
    assert!(!rep.complete());
    assert_eq!(rep.missing, vec![grid[0].id()]);
    assert_eq!(rep.foreign.len(), 1);
    assert!(rep.foreign[0].1.contains("epochs"), "{:?}", rep.foreign);
    assert_eq!(results.len(), 7);
    assert!(results.iter().all(|r| r.config.epochs == 1));
    // Remove it and resume, then drop in results of other data and of another grid under new names.
    std::fs::remove_file(result_path(&a, &grid[0])).unwrap();
    run_sweep(&spec, &a, Shard::ALL, 1, &data, &|_| {}).unwrap();
    copy_result(&c, &a, &grid[0], "other-data.json");
    copy_result(&d, &a, &gw[0], "other-grid.json");
    let (rep, results) = merge(&a).unwrap();
    assert!(!rep.complete());
    assert!(
        rep.missing.is_empty() && rep.duplicates.is_empty(),
        "{rep:?}"
    );
    assert_eq!(rep.unexpected, vec![gw[0].id()]);
    assert_eq!(rep.foreign.len(), 1, "{:?}", rep.foreign);
    assert!(
        rep.foreign[0].0.ends_with("other-data.json") && rep.foreign[0].1.contains("images_md5"),
        "{:?}",
        rep.foreign
    );
    assert_eq!(
        results.len(),
        8,
        "foreign and unexpected results are never used"
    );
    assert!(results.iter().all(|r| r.data.as_ref() == Some(&id)));
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn sweep_grids_deduplicate_are_bounded_and_sizes_must_fit_the_data() {
    let dir = tmpdir("exp", "dedup");
    let data = tiny_data();
    let mut spec = tiny_sweep();
    spec.presets = vec![Preset::Ei, Preset::Ei];
    spec.eps = vec![0.0, -0.0, 0.5, 0.5];
    spec.configs = vec![1, 1];
    spec.seeds = vec![3, 3, 3];
    let g = spec.grid().unwrap();
    assert_eq!(
        g.iter().map(|c| c.id()).collect::<Vec<_>>(),
        vec!["ei_eps0_c01_s3", "ei_eps0.5_c01_s3"]
    );
    let sm = run_sweep(&spec, &dir, Shard::ALL, 1, &data, &|_| {}).unwrap();
    assert_eq!((sm.grid, sm.ran), (2, 2));
    let (rep, results) = merge(&dir).unwrap();
    assert!(rep.complete(), "{rep:?}");
    assert_eq!((rep.expected, rep.found, results.len()), (2, 2, 2));
    // More cells than MAX_GRID: an error naming the sizes, before anything is allocated for the cells.
    let mut big = tiny_sweep();
    big.seeds = (0..600_000).collect();
    let e = big.grid().unwrap_err().to_string();
    assert!(e.contains("600000 seeds") && e.contains("1000000"), "{e}");
    // A training subset larger than the data is an error, not a silently shorter run.
    let mut too_many = tiny_sweep();
    too_many.train_size = Some(65);
    let e = run_sweep(
        &too_many,
        &tmpdir("exp", "dedup-size"),
        Shard::ALL,
        1,
        &data,
        &|_| {},
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("train-size") && e.contains("only 64"), "{e}");
    let mut zero = tiny_sweep();
    zero.epochs = 0;
    let e = run_sweep(
        &zero,
        &tmpdir("exp", "dedup-epochs"),
        Shard::ALL,
        1,
        &data,
        &|_| {},
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("epochs") && e.contains("1..="), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn merge_without_a_manifest_is_never_complete_and_writes_a_csv() {
    let dir = tmpdir("exp", "csv");
    let data = tiny_data();
    let spec = tiny_sweep();
    run_sweep(&spec, &dir, Shard::ALL, 2, &data, &|_| {}).unwrap();
    let (rep, results) = merge_and_write(&dir).unwrap();
    assert!(rep.complete());
    let csv = std::fs::read_to_string(dir.join("merged.csv")).unwrap();
    let rows = parse_csv(&csv);
    assert_eq!(rows[0], inorm::experiment::gather::CSV_COLUMNS.to_vec());
    assert_eq!(rows.len(), 1 + results.len());
    let col = |name: &str| rows[0].iter().position(|c| c == name).unwrap();
    let mut cells: Vec<String> = rows[1..]
        .iter()
        .map(|r| {
            assert_eq!(r.len(), rows[0].len());
            let acc: f64 = r[col("final_test_acc")].parse().unwrap();
            assert!((0.0..=100.0).contains(&acc));
            format!(
                "{}_eps{}_c{:02}_s{}",
                r[col("condition")],
                r[col("eps")],
                r[col("config")].parse::<usize>().unwrap(),
                r[col("seed")]
            )
        })
        .collect();
    cells.sort();
    let mut want: Vec<String> = spec.grid().unwrap().iter().map(|c| c.id()).collect();
    want.sort();
    assert_eq!(cells, want);
    assert_eq!(
        inorm::experiment::gather::csv_field("a,\"b\"\nc"),
        "\"a,\"\"b\"\"\nc\""
    );
    assert_eq!(
        parse_csv("x,\"a,\"\"b\"\"\nc\"\n"),
        vec![vec!["x".to_string(), "a,\"b\"\nc".to_string()]]
    );
    std::fs::remove_file(dir.join("sweep.json")).unwrap();
    let (rep, results) = merge(&dir).unwrap();
    assert!(!rep.manifest && !rep.complete(), "{rep:?}");
    assert_eq!(results.len(), 8);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A strict RFC 4180 reader (quoted fields, doubled quotes, line breaks inside quotes); panics on
/// malformed input.
fn parse_csv(s: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let (mut row, mut field) = (Vec::new(), String::new());
    let mut chars = s.chars().peekable();
    let mut quoted = false;
    while let Some(ch) = chars.next() {
        match (quoted, ch) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => {
                quoted = false;
                assert!(matches!(chars.peek(), None | Some(',') | Some('\n')), "{s}");
            }
            (true, c) => field.push(c),
            (false, '"') => {
                assert!(field.is_empty(), "quote inside an unquoted field: {s}");
                quoted = true;
            }
            (false, ',') => row.push(std::mem::take(&mut field)),
            (false, '\n') => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => field.push(c),
        }
    }
    assert!(
        !quoted && field.is_empty() && row.is_empty(),
        "unterminated: {s}"
    );
    rows
}
