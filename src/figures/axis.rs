//! Calibrating an axis from its tick labels: the straight line `value = slope·position + offset` through
//! every tick whose label is a number, fitted by least squares and refused when the ticks do not lie on one
//! line (a log axis, a mislabelled tick) or fewer than two distinct ticks carry numbers.

use crate::tolerance::TICK_FIT_REL;

/// Page position → data value along one axis, fitted to its labelled ticks.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Calibration {
    /// Data units per page unit (negative on a y axis: page y grows downwards).
    pub slope: f64,
    /// The value at page position 0.
    pub offset: f64,
    /// Ticks the fit used (those with a numeric label).
    pub ticks: usize,
    /// Largest |fit − label| over those ticks, in data units.
    pub misfit: f64,
    /// Lowest and highest tick value.
    pub span: (f64, f64),
}

impl Calibration {
    /// The data value at page position `pos`.
    pub fn value(&self, pos: f64) -> f64 {
        self.slope * pos + self.offset
    }

    /// The page position of data value `v`.
    pub fn position(&self, v: f64) -> f64 {
        (v - self.offset) / self.slope
    }
}

/// The number a matplotlib tick label stands for: plain decimals, with the Unicode minus (U+2212) that
/// matplotlib writes and an optional `$\mathdefault{…}$` wrapper. Labels with exponents or words are not
/// numbers here (None).
pub fn tick_number(label: &str) -> Option<f64> {
    let mut s = label.trim();
    if let Some(inner) = s.strip_prefix('$').and_then(|r| r.strip_suffix('$')) {
        s = inner.trim();
    }
    if let Some(inner) = s
        .strip_prefix("\\mathdefault{")
        .and_then(|r| r.strip_suffix('}'))
    {
        s = inner.trim();
    }
    let s = s.replace('\u{2212}', "-");
    if s.is_empty()
        || !s
            .bytes()
            .all(|b| b.is_ascii_digit() || b"+-.eE".contains(&b))
    {
        return None;
    }
    s.parse::<f64>().ok().filter(|v| v.is_finite())
}

/// Fits the calibration to `(position, label)` pairs. Errors, with a reason, when fewer than two ticks with
/// distinct positions carry numeric labels, or when a tick lies off the fitted line by more than
/// [`TICK_FIT_REL`] of the labels' span.
pub fn calibrate(ticks: &[(f64, Option<&str>)]) -> Result<Calibration, String> {
    let pts: Vec<(f64, f64)> = ticks
        .iter()
        .filter_map(|(p, l)| l.and_then(tick_number).map(|v| (*p, v)))
        .collect();
    let unlabelled = ticks.len() - pts.len();
    let (lo_p, hi_p) = pts.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |a, p| {
        (a.0.min(p.0), a.1.max(p.0))
    });
    if pts.len() < 2 || hi_p <= lo_p {
        return Err(format!(
            "{} tick(s) with a numeric label{} ({} tick(s) in all, {unlabelled} without a number); \
             calibrating needs 2 at distinct positions",
            pts.len(),
            if pts.len() >= 2 { ", all at one position" } else { "" },
            ticks.len()
        ));
    }
    let n = pts.len() as f64;
    let (mp, mv) = pts
        .iter()
        .fold((0.0, 0.0), |a, p| (a.0 + p.0 / n, a.1 + p.1 / n));
    let (sxy, sxx) = pts.iter().fold((0.0, 0.0), |a, p| {
        (a.0 + (p.0 - mp) * (p.1 - mv), a.1 + (p.0 - mp) * (p.0 - mp))
    });
    let slope = sxy / sxx;
    let offset = mv - slope * mp;
    let (lo, hi) = pts.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |a, p| {
        (a.0.min(p.1), a.1.max(p.1))
    });
    let misfit = pts
        .iter()
        .map(|p| (slope * p.0 + offset - p.1).abs())
        .fold(0.0, f64::max);
    if !(slope.is_finite() && slope != 0.0) || misfit > TICK_FIT_REL * (hi - lo) {
        return Err(format!(
            "the {} numeric ticks ({lo}…{hi}) do not lie on a straight line (misfit {misfit:.3e}, allowed \
             {:.1e}): a log or broken axis",
            pts.len(),
            TICK_FIT_REL * (hi - lo)
        ));
    }
    Ok(Calibration {
        slope,
        offset,
        ticks: pts.len(),
        misfit,
        span: (lo, hi),
    })
}
