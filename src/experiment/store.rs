//! The files of a sweep folder and what makes a result belong to a sweep.
//!
//! **Identity.** A sweep's identity is every setting that changes its results: the grid (conditions, ε,
//! configurations, seeds), the per-run settings (epochs, width rule, λ, backend, diagnostics, training-set
//! metric, shuffling, training/test sizes), the MD5 of the `--model` file, and the data actually used (the
//! number of training and test samples and the MD5 of their pixels and labels, [`DataId`]). It is written to
//! `DIR/sweep.json` ([`Manifest`]) by the first shard and checked by every later one. The crate version, the
//! data folder's path, the `--model` path and `--save-models` are recorded but are **not** part of the
//! identity: a long sweep resumed with a newer inorm that computes the same thing keeps its results.
//!
//! A result file belongs to the sweep when its cell is in the grid, its recorded run settings
//! ([`RunResult::config`]) are exactly those the sweep gives that cell, and its recorded data
//! ([`RunResult::data`]) is the sweep's. Anything else is *foreign* ([`foreign_reason`] says which setting
//! differs): `sweep` refuses to run over it and `merge` / `report` never use it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::data::DataId;
use crate::error::{Error, Result};
use crate::interop::write_atomic;
use crate::train::{RunResult, TrainConfig};

use super::grid::{Cell, SweepSpec};

/// `DIR/runs`.
pub fn runs_dir(dir: &Path) -> PathBuf {
    dir.join("runs")
}

/// `DIR/runs/<cell>.json`.
pub fn result_path(dir: &Path, cell: &Cell) -> PathBuf {
    runs_dir(dir).join(format!("{}.json", cell.id()))
}

/// `DIR/models/<cell>.safetensors`.
pub fn model_path(dir: &Path, cell: &Cell) -> PathBuf {
    dir.join("models")
        .join(format!("{}.safetensors", cell.id()))
}

/// `DIR/sweep.json`.
pub fn manifest_path(dir: &Path) -> PathBuf {
    dir.join("sweep.json")
}

/// Reads one result file.
pub fn read_result(path: &Path) -> Result<RunResult> {
    let s = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    serde_json::from_str(&s).map_err(|e| Error::Format {
        path: path.display().to_string(),
        reason: format!("not a run result: {e}"),
    })
}

/// Writes one result file atomically (pretty JSON).
pub fn write_result(path: &Path, r: &RunResult) -> Result<()> {
    let s = serde_json::to_string_pretty(r).map_err(|e| Error::Format {
        path: path.display().to_string(),
        reason: e.to_string(),
    })?;
    write_atomic(path, s.as_bytes())
}

/// `DIR/sweep.json`: the sweep's settings and identity (see the module documentation).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Manifest {
    /// The grid and the per-run settings.
    #[serde(flatten)]
    pub spec: SweepSpec,
    /// The training and test samples every run uses.
    pub data: DataId,
    /// MD5 of the `--model` file (`None` without one).
    pub model_md5: Option<String>,
    /// inorm version of the shard that wrote the file (recorded only).
    pub inorm_version: String,
    /// Data folder of the shard that wrote the file (recorded only).
    pub data_dir: String,
}

/// Keys of `sweep.json` that are recorded but not part of the identity.
const NOT_IDENTITY: [&str; 4] = ["inorm_version", "data_dir", "model", "save_models"];

impl Manifest {
    /// The identity as JSON (the manifest without [`NOT_IDENTITY`]'s keys).
    fn identity(&self) -> serde_json::Value {
        let mut v = serde_json::to_value(self).unwrap_or(serde_json::Value::Null);
        if let Some(o) = v.as_object_mut() {
            for k in NOT_IDENTITY {
                o.remove(k);
            }
        }
        v
    }

    /// The settings recorded in the result of `cell` when it belongs to this sweep.
    pub fn expected_config(&self, cell: &Cell) -> Result<TrainConfig> {
        let mut c = self.spec.run_config(cell)?;
        c.init_model_md5 = self.model_md5.clone();
        Ok(c)
    }
}

/// A run's settings as compared for identity: [`TrainConfig`] as JSON without the `--model` path.
fn config_identity(c: &TrainConfig) -> serde_json::Value {
    let mut v = serde_json::to_value(c).unwrap_or(serde_json::Value::Null);
    if let Some(o) = v.as_object_mut() {
        o.remove("init_model");
    }
    v
}

/// The leaves where two JSON values differ, as `key: a vs b` (nested keys joined by dots), at most `max`.
pub fn differences(a: &serde_json::Value, b: &serde_json::Value, max: usize) -> Vec<String> {
    fn walk(a: &serde_json::Value, b: &serde_json::Value, key: &str, out: &mut Vec<String>) {
        match (a, b) {
            (serde_json::Value::Object(x), serde_json::Value::Object(y)) => {
                let mut keys: Vec<&String> = x.keys().chain(y.keys()).collect();
                keys.sort();
                keys.dedup();
                for k in keys {
                    let sub = if key.is_empty() {
                        k.clone()
                    } else {
                        format!("{key}.{k}")
                    };
                    let null = serde_json::Value::Null;
                    walk(
                        x.get(k).unwrap_or(&null),
                        y.get(k).unwrap_or(&null),
                        &sub,
                        out,
                    );
                }
            }
            _ if a != b => out.push(format!("{key}: {a} vs {b}")),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(a, b, "", &mut out);
    out.truncate(max);
    out
}

/// Why `r` (found for `cell`) does not belong to the sweep of `m`, naming the first differing settings;
/// `None` when it belongs.
pub fn foreign_reason(m: &Manifest, cell: &Cell, r: &RunResult) -> Option<String> {
    if Cell::of(r).id() != cell.id() {
        return Some(format!(
            "holds cell {}, not {}",
            Cell::of(r).id(),
            cell.id()
        ));
    }
    let want = match m.expected_config(cell) {
        Ok(c) => c,
        Err(e) => return Some(format!("its cell is not valid in this sweep: {e}")),
    };
    let d = differences(&config_identity(&want), &config_identity(&r.config), 3);
    if !d.is_empty() {
        return Some(format!(
            "different run settings (this sweep vs the file): {}",
            d.join("; ")
        ));
    }
    match &r.data {
        None => Some("records no data checksums (written by an older inorm)".into()),
        Some(data) if data != &m.data => {
            let a = serde_json::to_value(&m.data).unwrap_or_default();
            let b = serde_json::to_value(data).unwrap_or_default();
            Some(format!(
                "different data (this sweep vs the file): {}",
                differences(&a, &b, 3).join("; ")
            ))
        }
        Some(_) => None,
    }
}

/// Keys of `sweep.json` that make up the grid (which cells), as against the settings of every run.
const GRID: [&str; 4] = ["presets", "eps", "configs", "seeds"];

/// How a sweep's grid relates to the grid already recorded in a folder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GridFit {
    /// The same cells (lists may be in another order).
    Same,
    /// Every cell of the new grid is in the folder's: a part of the folder's sweep.
    Within,
    /// The new grid contains the folder's and more.
    Grows,
    /// Neither contains the other.
    Other,
}

/// How the grid of `new` relates to the grid of `old`, axis by axis (conditions, ε, configurations,
/// seeds; a grid is their product, so one contains the other exactly when each axis does).
pub fn grid_fit(old: &SweepSpec, new: &SweepSpec) -> GridFit {
    fn within(a: &SweepSpec, b: &SweepSpec) -> bool {
        a.presets.iter().all(|p| b.presets.contains(p))
            && a.eps.iter().all(|e| b.eps.contains(e))
            && a.configs.iter().all(|c| b.configs.contains(c))
            && a.seeds.iter().all(|s| b.seeds.contains(s))
    }
    match (within(new, old), within(old, new)) {
        (true, true) => GridFit::Same,
        (true, false) => GridFit::Within,
        (false, true) => GridFit::Grows,
        (false, false) => GridFit::Other,
    }
}

fn without_grid(mut v: serde_json::Value) -> serde_json::Value {
    if let Some(o) = v.as_object_mut() {
        for k in GRID {
            o.remove(k);
        }
    }
    v
}

fn manifest_json(m: &Manifest, path: &Path) -> Result<String> {
    serde_json::to_string_pretty(m).map_err(|e| Error::Format {
        path: path.display().to_string(),
        reason: e.to_string(),
    })
}

/// Writes `DIR/sweep.json` if there is none (without ever replacing one another shard wrote meanwhile), or
/// checks the existing one against `m`: the run settings and data must be the same (else an error names
/// the settings that differ), and the grid of `m` must lie within the folder's ([`GridFit::Within`] or
/// `Same`: a part of that sweep). A grid that contains the folder's and more is an error unless `grow`,
/// which replaces `sweep.json` with `m` (results already in the folder keep belonging to it).
pub fn write_manifest(dir: &Path, m: &Manifest, grow: bool) -> Result<()> {
    use std::io::Write;
    let path = manifest_path(dir);
    if !path.exists() {
        let s = manifest_json(m, &path)?;
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let mut tmp = crate::interop::temp_file_in(dir, ".sweep.json.")?;
        tmp.write_all(s.as_bytes())
            .and_then(|_| tmp.as_file().sync_all())
            .map_err(|e| Error::io(&path, e))?;
        match tmp.persist_noclobber(&path) {
            Ok(_) => return Ok(()),
            // Another shard created it first: compare with theirs below.
            Err(e) if path.exists() => drop(e),
            Err(e) => return Err(Error::io(&path, e.error)),
        }
    }
    let old = read_manifest(dir)?;
    let (was, now) = (old.spec.backend.precision(), m.spec.backend.precision());
    if was != now {
        return Err(Error::invalid(
            "precision",
            format!(
                "{} holds a sweep in {} (backend {}), and this one runs in {} (backend {}): a folder \
                 never mixes precisions; use another --out folder for --precision {}",
                dir.display(),
                was.name(),
                old.spec.backend.name(),
                now.name(),
                m.spec.backend.name(),
                now.name()
            ),
        ));
    }
    let d = differences(
        &without_grid(old.identity()),
        &without_grid(m.identity()),
        5,
    );
    if !d.is_empty() {
        return Err(Error::invalid(
            "out",
            format!(
                "{} already holds a sweep with different settings ({} vs here): {}; use another --out \
                 folder, or the same settings to resume",
                dir.display(),
                path.display(),
                d.join("; ")
            ),
        ));
    }
    let grids = || {
        let g = |s: &SweepSpec| {
            format!(
                "{} condition(s) × {} ε × {} configuration(s) × {} seed(s)",
                s.presets.len(),
                s.eps.len(),
                s.configs.len(),
                s.seeds.len()
            )
        };
        format!(
            "{} holds {}, here {}; the grids differ in {}",
            path.display(),
            g(&old.spec),
            g(&m.spec),
            differences(&old.identity(), &m.identity(), 4).join("; ")
        )
    };
    match grid_fit(&old.spec, &m.spec) {
        GridFit::Same | GridFit::Within => Ok(()),
        GridFit::Grows if grow => write_atomic(&path, manifest_json(m, &path)?.as_bytes()),
        GridFit::Grows => Err(Error::invalid(
            "out",
            format!(
                "this sweep's grid contains the folder's sweep and more ({}); pass --grow to extend the \
                 folder's sweep.json to this grid (its results stay, and merge then counts the new cells \
                 as missing), or use the folder's grid to resume",
                grids()
            ),
        )),
        GridFit::Other => Err(Error::invalid(
            "out",
            format!(
                "this sweep's grid and the folder's overlap only in part ({}); use a grid that lies \
                 within the folder's, or one that contains it with --grow, or another --out folder",
                grids()
            ),
        )),
    }
}

/// Reads `DIR/sweep.json`.
pub fn read_manifest(dir: &Path) -> Result<Manifest> {
    let path = manifest_path(dir);
    let s = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
    serde_json::from_str(&s).map_err(|e| Error::Format {
        path: path.display().to_string(),
        reason: format!(
            "not a sweep manifest of this inorm ({e}); a folder of an older inorm cannot be resumed or \
             checked: start a new --out folder"
        ),
    })
}

/// Temporary files younger than this are never removed by [`remove_stale_temp`]: a writer holds its
/// temporary file for the seconds a result or model takes to write, so an older one was left by a killed
/// process. A day is far beyond any write (and any suspension of a SLURM job a user is likely to see).
pub const STALE_TEMP_AGE: Duration = Duration::from_secs(24 * 3600);

/// Removes temporary files (`.<name>.<random>.tmp`) older than `min_age` from `DIR/runs` and
/// `DIR/models` (left by a killed sweep); returns how many. Younger ones may belong to a shard writing right
/// now (another process, possibly on another node) and are left alone.
pub fn remove_stale_temp_older(dir: &Path, min_age: Duration) -> usize {
    let now = std::time::SystemTime::now();
    let mut n = 0;
    for d in [runs_dir(dir), dir.join("models")] {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if !(name.starts_with('.') && name.ends_with(".tmp")) {
                continue;
            }
            let old = e
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| now.duration_since(t).ok())
                .is_some_and(|age| age >= min_age);
            if old && std::fs::remove_file(e.path()).is_ok() {
                n += 1;
            }
        }
    }
    n
}

/// [`remove_stale_temp_older`] with [`STALE_TEMP_AGE`].
pub fn remove_stale_temp(dir: &Path) -> usize {
    remove_stale_temp_older(dir, STALE_TEMP_AGE)
}

/// The state of one cell in a sweep folder.
#[derive(Clone, Debug, PartialEq)]
pub enum CellState {
    /// No result file.
    Todo,
    /// A result file that cannot be read (it is rerun and replaced).
    Unreadable(String),
    /// A result that belongs to the sweep.
    Done,
    /// A result of other settings, with the reason.
    Foreign(String),
}

/// The state of `cell` in `dir` for the sweep of `m`.
pub fn cell_state(dir: &Path, m: &Manifest, cell: &Cell) -> CellState {
    let p = result_path(dir, cell);
    if !p.exists() {
        return CellState::Todo;
    }
    match read_result(&p) {
        Err(e) => CellState::Unreadable(e.to_string()),
        Ok(r) => match foreign_reason(m, cell, &r) {
            None => CellState::Done,
            Some(why) => CellState::Foreign(why),
        },
    }
}
