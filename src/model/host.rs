//! The host side of a network: [`HostTensor`], the dense f64 tensor that crosses between backends,
//! files and tests, named tensor sets ([`ParamSet`]) and the minibatch view ([`Batch`]).

use std::collections::BTreeMap;

use super::CLASSES;
use crate::error::{Error, Result};

/// A dense row-major f64 tensor on the host: what crosses between backends, files and tests.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct HostTensor {
    /// Shape (row-major).
    pub shape: Vec<usize>,
    /// Values, row-major.
    pub data: Vec<f64>,
}

impl HostTensor {
    /// A tensor from shape and data; errors if they disagree.
    pub fn new(shape: Vec<usize>, data: Vec<f64>) -> Result<HostTensor> {
        let n: usize = shape.iter().product();
        if n != data.len() {
            return Err(Error::ShapeMismatch {
                op: "HostTensor::new".into(),
                expected: format!("{shape:?} = {n} values"),
                got: format!("{} values", data.len()),
            });
        }
        Ok(HostTensor { shape, data })
    }
    /// Zeros of a shape.
    pub fn zeros(shape: Vec<usize>) -> HostTensor {
        let n = shape.iter().product();
        HostTensor {
            shape,
            data: vec![0.0; n],
        }
    }
    /// Scalar.
    pub fn scalar(v: f64) -> HostTensor {
        HostTensor {
            shape: vec![],
            data: vec![v],
        }
    }
    /// Number of rows (first dimension; 1 for scalars).
    pub fn rows(&self) -> usize {
        self.shape.first().copied().unwrap_or(1)
    }
    /// Number of columns (product of the other dimensions).
    pub fn cols(&self) -> usize {
        self.shape.iter().skip(1).product()
    }
    /// Largest |a − b| / max(|b|, floor) over elements, and the largest |a − b|.
    pub fn max_rel_diff(&self, other: &HostTensor, floor: f64) -> (f64, f64) {
        let mut rel = 0.0f64;
        let mut abs = 0.0f64;
        for (a, b) in self.data.iter().zip(&other.data) {
            let d = (a - b).abs();
            abs = abs.max(d);
            rel = rel.max(d / b.abs().max(floor));
        }
        if self.data.len() != other.data.len() {
            rel = f64::INFINITY;
        }
        (rel, abs)
    }
}

/// Named tensors: parameters, gradients, activations. Ordered by name.
pub type ParamSet = BTreeMap<String, HostTensor>;

/// A minibatch: `x` is rows × `dim` row-major in [0, 1], `y` the labels.
#[derive(Clone, Copy, Debug)]
pub struct Batch<'a> {
    /// Inputs, row-major.
    pub x: &'a [f32],
    /// Labels in 0..10.
    pub y: &'a [u8],
}

impl Batch<'_> {
    /// Number of samples.
    pub fn rows(&self) -> usize {
        self.y.len()
    }
    /// Checks that x holds rows × dim values and labels are < 10.
    pub fn validate(&self, dim: usize) -> Result<()> {
        if self.x.len() != self.y.len() * dim {
            return Err(Error::ShapeMismatch {
                op: "batch".into(),
                expected: format!("{} × {dim} = {} inputs", self.y.len(), self.y.len() * dim),
                got: format!("{} inputs", self.x.len()),
            });
        }
        if let Some((i, &c)) = self
            .y
            .iter()
            .enumerate()
            .find(|(_, &c)| c as usize >= CLASSES)
        {
            return Err(Error::invalid(
                "label",
                format!("y[{i}] = {c}, must be < {CLASSES}"),
            ));
        }
        if self.y.is_empty() {
            return Err(Error::invalid("batch", "empty batch"));
        }
        Ok(())
    }
}

impl HostTensor {
    /// As an nalgebra matrix: a vector of length n becomes n×1 (a column); a matrix keeps its shape.
    pub fn to_matrix(&self) -> nalgebra::DMatrix<f64> {
        match self.shape.len() {
            0 => nalgebra::DMatrix::from_element(1, 1, self.data[0]),
            1 => nalgebra::DMatrix::from_column_slice(self.shape[0], 1, &self.data),
            _ => nalgebra::DMatrix::from_row_slice(self.rows(), self.cols(), &self.data),
        }
    }
    /// From an nalgebra matrix (row-major copy, shape rows × cols).
    pub fn from_matrix(m: &nalgebra::DMatrix<f64>) -> HostTensor {
        let mut data = Vec::with_capacity(m.len());
        for r in 0..m.nrows() {
            data.extend(m.row(r).iter());
        }
        HostTensor {
            shape: vec![m.nrows(), m.ncols()],
            data,
        }
    }
    /// From an nalgebra column vector (shape `[n]`).
    pub fn from_vector(v: &nalgebra::DVector<f64>) -> HostTensor {
        HostTensor {
            shape: vec![v.len()],
            data: v.iter().copied().collect(),
        }
    }
}
