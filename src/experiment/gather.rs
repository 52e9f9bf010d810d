//! `inorm merge`: collecting a sweep folder's results, checked against its grid and identity
//! ([`super::store`]), into `merged.json` and `merged.csv`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::interop::write_atomic;
use crate::train::{RunResult, RunStatus};

use super::grid::Cell;
use super::store::{foreign_reason, manifest_path, read_manifest, read_result, runs_dir};

/// Files that are not readable results, with the reason.
pub type Unreadable = Vec<(PathBuf, String)>;

/// Every result under `DIR/runs` (recursively, so shard folders copied in as sub-folders count too),
/// with the file it came from. Unreadable files are returned separately. Temporary files
/// (`.<name>.tmp`) are skipped.
pub fn load_results(dir: &Path) -> Result<(Vec<(PathBuf, RunResult)>, Unreadable)> {
    let root = runs_dir(dir);
    if !root.is_dir() {
        return Err(Error::invalid(
            "sweep folder",
            format!(
                "{} has no runs/ folder (is it the --out folder of a sweep?)",
                dir.display()
            ),
        ));
    }
    let mut files = Vec::new();
    let mut stack = vec![root];
    while let Some(d) = stack.pop() {
        let rd = std::fs::read_dir(&d).map_err(|e| Error::io(&d, e))?;
        for e in rd.flatten() {
            let p = e.path();
            let name = e.file_name().to_string_lossy().into_owned();
            if p.is_dir() {
                stack.push(p);
            } else if name.ends_with(".json") && !name.starts_with('.') {
                files.push(p);
            }
        }
    }
    files.sort();
    let mut ok = Vec::new();
    let mut bad = Vec::new();
    for f in files {
        match read_result(&f) {
            Ok(r) => ok.push((f, r)),
            Err(e) => bad.push((f, e.to_string())),
        }
    }
    Ok((ok, bad))
}

/// What `inorm merge` finds.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct MergeReport {
    /// Whether `DIR/sweep.json` exists (without it nothing can be checked, and the merge is never
    /// complete).
    pub manifest: bool,
    /// Cells of the grid (from `sweep.json`; 0 if there is none).
    pub expected: usize,
    /// Distinct cells found among the results used.
    pub found: usize,
    /// Cells of the grid with no result.
    pub missing: Vec<String>,
    /// Cells with more than one result file, with the files.
    pub duplicates: Vec<(String, Vec<String>)>,
    /// Results whose cell is not in the grid (not used).
    pub unexpected: Vec<String>,
    /// Results of other settings or data than `sweep.json`'s, with the file and the first differences
    /// (not used).
    pub foreign: Vec<(String, String)>,
    /// Files that are not readable results, with the reason.
    pub unreadable: Vec<(String, String)>,
    /// Diverged runs.
    pub diverged: Vec<String>,
}

impl MergeReport {
    /// True if `sweep.json` exists and nothing is missing, duplicated, unexpected, foreign or unreadable.
    pub fn complete(&self) -> bool {
        self.manifest
            && self.missing.is_empty()
            && self.duplicates.is_empty()
            && self.unexpected.is_empty()
            && self.foreign.is_empty()
            && self.unreadable.is_empty()
    }
}

/// Merges a sweep folder: checks the results against the grid and identity of `DIR/sweep.json`, and
/// returns one result per cell (the first file in path order for duplicates). Results of cells outside the
/// grid and results of other settings or data are listed in the report and never returned. Without
/// `sweep.json` every readable result is returned unchecked and the report is not complete.
pub fn merge(dir: &Path) -> Result<(MergeReport, Vec<RunResult>)> {
    let (found, bad) = load_results(dir)?;
    let manifest = if manifest_path(dir).exists() {
        Some(read_manifest(dir)?)
    } else {
        None
    };
    let grid = match &manifest {
        Some(m) => Some(m.spec.grid()?),
        None => None,
    };
    let ids: Option<BTreeSet<String>> = grid.as_ref().map(|g| g.iter().map(|c| c.id()).collect());
    let mut rep = MergeReport {
        manifest: manifest.is_some(),
        expected: grid.as_ref().map_or(0, |g| g.len()),
        unreadable: bad
            .into_iter()
            .map(|(p, e)| (p.display().to_string(), e))
            .collect(),
        ..Default::default()
    };
    let mut by_cell: BTreeMap<String, Vec<(PathBuf, RunResult)>> = BTreeMap::new();
    let mut unexpected = BTreeSet::new();
    for (p, r) in found {
        let cell = Cell::of(&r);
        let id = cell.id();
        if let (Some(m), Some(ids)) = (&manifest, &ids) {
            if !ids.contains(&id) {
                unexpected.insert(id);
                continue;
            }
            if let Some(why) = foreign_reason(m, &cell, &r) {
                rep.foreign.push((p.display().to_string(), why));
                continue;
            }
        }
        by_cell.entry(id).or_default().push((p, r));
    }
    rep.unexpected = unexpected.into_iter().collect();
    rep.found = by_cell.len();
    if let Some(g) = &grid {
        rep.missing = g
            .iter()
            .map(|c| c.id())
            .filter(|id| !by_cell.contains_key(id))
            .collect();
    }
    let mut results = Vec::new();
    for (id, mut v) in by_cell {
        if v.len() > 1 {
            rep.duplicates.push((
                id.clone(),
                v.iter().map(|(p, _)| p.display().to_string()).collect(),
            ));
        }
        let (_, r) = v.swap_remove(0);
        if r.status == RunStatus::Diverged {
            rep.diverged.push(id);
        }
        results.push(r);
    }
    Ok((rep, results))
}

/// [`merge`] and write `DIR/merged.json` (`{"report": ..., "results": [...]}`) and `DIR/merged.csv`
/// ([`results_csv`]).
pub fn merge_and_write(dir: &Path) -> Result<(MergeReport, Vec<RunResult>)> {
    let (rep, results) = merge(dir)?;
    let path = dir.join("merged.json");
    let v = serde_json::json!({ "report": rep, "results": results });
    let s = serde_json::to_string(&v).map_err(|e| Error::Format {
        path: path.display().to_string(),
        reason: e.to_string(),
    })?;
    write_atomic(&path, s.as_bytes())?;
    write_atomic(&dir.join("merged.csv"), results_csv(&results).as_bytes())?;
    Ok((rep, results))
}

/// The columns of [`results_csv`].
pub const CSV_COLUMNS: [&str; 17] = [
    "condition",
    "eps",
    "config",
    "seed",
    "width",
    "epochs",
    "status",
    "final_test_acc",
    "best_test_acc",
    "best_epoch",
    "final_test_loss",
    "output_alignment",
    "gradient_alignment",
    "mean",
    "var",
    "wall_s",
    "backend",
];

/// One field of a CSV row (RFC 4180): quoted when it holds a comma, a quote or a line break, with quotes
/// doubled.
pub fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// One row per run (header [`CSV_COLUMNS`]): the cell, width, epochs, status, the final metrics
/// (paper/model.md §8: final and best test accuracy, alignments and moments averaged over the hidden
/// layers), wall seconds and backend. Non-finite values are empty fields. For pandas / R.
pub fn results_csv(results: &[RunResult]) -> String {
    let num = |v: f64| {
        if v.is_finite() {
            format!("{v}")
        } else {
            String::new()
        }
    };
    let mut out = CSV_COLUMNS.join(",");
    out.push('\n');
    for r in results {
        let c = &r.config;
        let f = &r.final_metrics;
        let status = match r.status {
            RunStatus::Ok => "ok",
            RunStatus::Diverged => "diverged",
        };
        let row = [
            c.spec.preset.name(),
            num(c.eps),
            c.config_index.map_or(String::new(), |i| i.to_string()),
            c.seed.to_string(),
            c.spec.width.to_string(),
            c.epochs.to_string(),
            status.to_string(),
            num(f.test_acc),
            num(f.best_test_acc),
            f.best_epoch.to_string(),
            num(f.test_loss),
            num(f.output_alignment),
            num(f.gradient_alignment),
            num(f.mean),
            num(f.var),
            num(r.wall_s),
            r.backend.clone(),
        ];
        let fields: Vec<String> = row.iter().map(|s| csv_field(s)).collect();
        out.push_str(&fields.join(","));
        out.push('\n');
    }
    out
}
