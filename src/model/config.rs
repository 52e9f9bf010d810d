//! The optimizer's hyperparameters and the paper's 30 configurations (paper/model.md §6.1, §12).

use crate::error::{Error, Result};

/// Optimizer hyperparameters (paper/model.md §6.1, §12).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Hyper {
    /// η_E: W_EE and biases.
    pub lr_e: f64,
    /// η_IE: W_IE and D_IE.
    pub lr_ie: f64,
    /// η_EI: W_EI (and D_EI).
    pub lr_ei: f64,
    /// μ for W_EE and biases (0 in figure runs).
    pub momentum: f64,
    /// μ_inh for the inhibitory groups (0 in figure runs).
    pub momentum_inh: f64,
    /// Decoupled weight decay for W_EE and biases (0 in figure runs).
    pub weight_decay: f64,
}

impl Hyper {
    /// Plain SGD with the three learning rates (figure runs).
    pub fn sgd(lr_e: f64, lr_ie: f64, lr_ei: f64) -> Hyper {
        Hyper {
            lr_e,
            lr_ie,
            lr_ei,
            momentum: 0.0,
            momentum_inh: 0.0,
            weight_decay: 0.0,
        }
    }
}

/// One of the paper's 30 hyperparameter configurations (paper/model.md §12).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct PaperConfig {
    /// η_E.
    pub lr_e: f64,
    /// η_EI.
    pub lr_ei: f64,
    /// η_IE.
    pub lr_ie: f64,
    /// Hidden width n.
    pub width: usize,
}

impl PaperConfig {
    /// The optimizer settings of this configuration (momentum and weight decay 0).
    pub fn hyper(&self) -> Hyper {
        Hyper::sgd(self.lr_e, self.lr_ie, self.lr_ei)
    }
}

const fn pc(lr_e: f64, lr_ei: f64, lr_ie: f64, width: usize) -> PaperConfig {
    PaperConfig {
        lr_e,
        lr_ei,
        lr_ie,
        width,
    }
}

/// The 30 configurations used for every condition (paper/model.md §12): (η_E, η_EI, η_IE, n).
pub const PAPER_CONFIGS: [PaperConfig; 30] = [
    pc(4.6949e-3, 4.9791e-4, 8.3138e-1, 178),
    pc(5.7875e-3, 2.7366e-4, 1.0253e-1, 210),
    pc(9.4517e-3, 6.5423e-4, 1.6396e-1, 282),
    pc(3.5494e-3, 3.0257e-5, 4.2080e-2, 252),
    pc(1.1047e-3, 7.1393e-3, 2.8781e-2, 242),
    pc(8.8641e-3, 1.2459e-3, 1.1812e-2, 263),
    pc(9.7130e-3, 1.2319e-4, 1.2121e-2, 354),
    pc(4.9651e-3, 3.3530e-5, 5.0703e-1, 228),
    pc(8.0910e-3, 1.5476e-4, 3.1077e-1, 197),
    pc(1.1045e-3, 5.4707e-4, 3.7757e-1, 488),
    pc(9.4073e-3, 1.1557e-3, 7.1464e-1, 308),
    pc(5.2501e-3, 1.8443e-5, 7.2805e-2, 198),
    pc(1.5021e-3, 1.7195e-5, 1.7584e-1, 197),
    pc(9.8099e-3, 2.9488e-3, 6.4647e-1, 234),
    pc(2.2141e-3, 3.8666e-4, 1.8148e-1, 284),
    pc(2.2443e-3, 4.4467e-3, 2.3399e-1, 375),
    pc(3.0680e-3, 9.2566e-4, 1.4801e-2, 453),
    pc(2.3119e-3, 5.9445e-3, 4.5829e-1, 479),
    pc(1.2656e-3, 6.5239e-4, 1.5505e-1, 436),
    pc(3.2756e-3, 3.9475e-3, 5.6981e-1, 440),
    pc(4.1793e-3, 1.4417e-3, 4.0622e-2, 252),
    pc(2.5830e-3, 3.3940e-3, 3.0757e-1, 294),
    pc(5.2593e-3, 1.7584e-4, 1.5008e-1, 473),
    pc(7.5898e-3, 1.8143e-3, 3.1435e-2, 252),
    pc(4.1127e-3, 5.3156e-3, 5.2005e-1, 293),
    pc(2.3137e-3, 1.8359e-3, 3.6071e-1, 206),
    pc(3.0644e-3, 1.9926e-4, 5.7728e-2, 190),
    pc(2.0535e-3, 1.3833e-5, 2.5188e-1, 348),
    pc(5.4800e-3, 5.8255e-3, 4.1498e-2, 468),
    pc(2.2543e-3, 6.2032e-3, 8.9295e-2, 332),
];

/// The `i`-th paper configuration, with a clear error for an index out of range.
pub fn paper_config(i: usize) -> Result<PaperConfig> {
    PAPER_CONFIGS.get(i).copied().ok_or_else(|| {
        Error::invalid(
            "config",
            format!("{i} (the paper has configurations 0..=29)"),
        )
    })
}
