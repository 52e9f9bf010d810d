//! What both paths share: the conditions of the paper (presets), the network specification, parameter
//! names, shapes and optimizer groups, hyperparameters, the 30 configurations of SPEC §12, the host tensor
//! type that crosses between backends, and the [`Trainer`] interface that the reference and the fast path
//! both implement.

use std::collections::BTreeMap;
use std::fmt;

use crate::error::{Error, Result};

/// ε inside LayerNorm's σ (SPEC §2.3).
pub const LN_EPS: f64 = 1e-5;
/// ε_d inside the I-Norm denominator (SPEC §2.5).
pub const INORM_EPS: f64 = 1e-5;
/// ε inside GradNorm's s_z (SPEC §2.7).
pub const GN_EPS: f64 = 1e-5;
/// Input dimension (28×28 Fashion-MNIST).
pub const INPUT_DIM: usize = 784;
/// Number of classes.
pub const CLASSES: usize = 10;
/// Number of hidden layers (SPEC §3).
pub const HIDDEN_LAYERS: usize = 2;

/// Subtractive inhibitory population size `k = max(1, ⌊0.1·n⌋)` (SPEC §1, D20).
pub fn inhib_width(n: usize) -> usize {
    (n / 10).max(1)
}

/// GradNorm variant (SPEC §2.7): the backward replacement applied to an I-Norm layer's output.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum GradNorm {
    /// Identity backward.
    Off,
    /// `(γ − mean γ − z⟨γ,z⟩/n)/s_z`.
    Full,
    /// `γ − mean γ`.
    Center,
    /// `γ/s_z`.
    Scale,
    /// `γ − z⟨γ,z⟩/n`.
    Decorrelate,
    /// `γ − ⟨ω,γ⟩` with fixed random ω (the authors' `fa_center`).
    Lateral,
}

impl GradNorm {
    /// All variants, `Off` first.
    pub const ALL: [GradNorm; 6] = [
        GradNorm::Off,
        GradNorm::Full,
        GradNorm::Center,
        GradNorm::Scale,
        GradNorm::Decorrelate,
        GradNorm::Lateral,
    ];

    /// Name used in presets and files.
    pub fn name(self) -> &'static str {
        match self {
            GradNorm::Off => "off",
            GradNorm::Full => "full",
            GradNorm::Center => "center",
            GradNorm::Scale => "scale",
            GradNorm::Decorrelate => "decorrelate",
            GradNorm::Lateral => "lateral",
        }
    }
}

/// Kind of the two hidden layers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HiddenKind {
    /// E-only dense layer (§2.1).
    E,
    /// EI layer with subtractive feed-forward inhibition (§2.2).
    Ei,
    /// I-Norm layer, subtractive and divisive (§2.5).
    INorm,
    /// Subtractive-only I-Norm layer (§2.6).
    INormSub,
}

/// A condition of the paper's figures (SPEC §3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Preset {
    /// EI network without LayerNorm ("No-Norm", EI LN−).
    Ei,
    /// EI network with LayerNorm (EI LN+).
    EiLn,
    /// E-only network with LayerNorm (the LN+ baseline of Figs 4–7).
    ELn,
    /// I-Norm network, GradNorm off.
    INorm,
    /// Subtractive-only I-Norm (Fig 3b).
    INormSub,
    /// I-Norm with a GradNorm variant (never `Off`: that is [`Preset::INorm`]).
    INormGn(GradNorm),
}

impl Preset {
    /// Every preset, in the order figures list them.
    pub const ALL: [Preset; 10] = [
        Preset::Ei,
        Preset::EiLn,
        Preset::ELn,
        Preset::INorm,
        Preset::INormSub,
        Preset::INormGn(GradNorm::Full),
        Preset::INormGn(GradNorm::Center),
        Preset::INormGn(GradNorm::Scale),
        Preset::INormGn(GradNorm::Decorrelate),
        Preset::INormGn(GradNorm::Lateral),
    ];

    /// The CLI / file name (`ei`, `ei-ln`, `e-ln`, `inorm`, `inorm-sub`, `inorm-gn-full`, ...).
    pub fn name(self) -> String {
        match self {
            Preset::Ei => "ei".into(),
            Preset::EiLn => "ei-ln".into(),
            Preset::ELn => "e-ln".into(),
            Preset::INorm => "inorm".into(),
            Preset::INormSub => "inorm-sub".into(),
            Preset::INormGn(g) => format!("inorm-gn-{}", g.name()),
        }
    }

    /// The paper's label.
    pub fn label(self) -> String {
        match self {
            Preset::Ei => "EI LN−".into(),
            Preset::EiLn => "EI LN+".into(),
            Preset::ELn => "E LN+".into(),
            Preset::INorm => "I-Norm".into(),
            Preset::INormSub => "I-Norm (sub)".into(),
            Preset::INormGn(g) => format!("I-Norm + GN {}", g.name()),
        }
    }

    /// Parses a preset name.
    pub fn parse(s: &str) -> Result<Preset> {
        Preset::ALL
            .iter()
            .copied()
            .find(|p| p.name() == s)
            .ok_or_else(|| Error::Unknown {
                what: "preset",
                got: s.to_string(),
                valid: Preset::ALL
                    .iter()
                    .map(|p| p.name())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }

    /// Hidden layer kind.
    pub fn hidden_kind(self) -> HiddenKind {
        match self {
            Preset::Ei | Preset::EiLn => HiddenKind::Ei,
            Preset::ELn => HiddenKind::E,
            Preset::INorm | Preset::INormGn(_) => HiddenKind::INorm,
            Preset::INormSub => HiddenKind::INormSub,
        }
    }

    /// Whether hidden layers apply LayerNorm after the bias (E/EI nets only).
    pub fn layer_norm(self) -> bool {
        matches!(self, Preset::EiLn | Preset::ELn)
    }

    /// GradNorm variant of the hidden layers (`Off` for non-I-Norm presets).
    pub fn grad_norm(self) -> GradNorm {
        match self {
            Preset::INormGn(g) => g,
            _ => GradNorm::Off,
        }
    }
}

impl fmt::Display for Preset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

impl serde::Serialize for Preset {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.name())
    }
}

impl<'de> serde::Deserialize<'de> for Preset {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Preset::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// Distribution of the excitatory weights (SPEC §5.1, D1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum InitDist {
    /// Lognormal with mean = std = σ_t (the implementation's default, used for all runs).
    Lognormal,
    /// Exponential with scale σ_t (the paper's text).
    Exponential,
}

/// Construction of the divisive pathway D_IE (SPEC §5.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DivisiveInit {
    /// `D_IE = diag(s) V_nᵀ` from the SVD of the effective W (faithful default).
    Svd,
    /// `D_IE = W` (equivalent in exact arithmetic).
    Direct,
}

/// Everything that fixes a network's structure and its losses (not the learning rates).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct NetSpec {
    /// The condition.
    pub preset: Preset,
    /// Hidden width n (both hidden layers).
    pub width: usize,
    /// Input dimension m of the first layer.
    pub input: usize,
    /// I-Norm local-loss weight λ (I-Norm presets; also λ_sub for `inorm-sub`).
    pub lambda: f64,
    /// Label smoothing of the cross-entropy (0.1 faithful; D8).
    pub label_smoothing: f64,
    /// Excitatory weight distribution.
    pub init: InitDist,
    /// D_IE construction.
    pub divisive_init: DivisiveInit,
    /// GradNorm `full` in the paper's Eq. 2 form (D3) instead of the implementation's.
    pub eq2_exact: bool,
    /// Train W_EI and D_EI of I-Norm layers by the local loss (the paper's text, D2); default frozen.
    pub train_inhib_out: bool,
    /// LN with backward (true) or forward-only with straight-through backward (unused in figures).
    pub ln_backward: bool,
    /// GradNorm applied by `inorm-sub` layers: `Off` or `Center` (SPEC §2.6 leaves it open).
    pub sub_grad_norm: GradNorm,
}

impl NetSpec {
    /// The faithful defaults of SPEC for `preset` at width `width`.
    pub fn new(preset: Preset, width: usize) -> NetSpec {
        NetSpec {
            preset,
            width,
            input: INPUT_DIM,
            lambda: 0.01,
            label_smoothing: 0.1,
            init: InitDist::Lognormal,
            divisive_init: DivisiveInit::Svd,
            eq2_exact: false,
            train_inhib_out: false,
            ln_backward: true,
            sub_grad_norm: GradNorm::Off,
        }
    }

    /// Checks sizes and options; returns a clear error for anything a network cannot be built from.
    pub fn validate(&self) -> Result<()> {
        if self.width < 2 {
            return Err(Error::invalid(
                "width",
                format!("{} (a hidden layer needs at least 2 units)", self.width),
            ));
        }
        if self.input == 0 {
            return Err(Error::invalid("input", "0 (needs at least one input)"));
        }
        if self.preset.hidden_kind() == HiddenKind::INorm && self.input < self.width {
            return Err(Error::invalid(
                "width",
                format!(
                    "{} > input {}: the I-Norm SVD init needs m ≥ n (SPEC §2.5)",
                    self.width, self.input
                ),
            ));
        }
        if !(self.lambda.is_finite() && self.lambda >= 0.0) {
            return Err(Error::invalid(
                "lambda",
                format!("{} (must be finite and ≥ 0)", self.lambda),
            ));
        }
        if !(0.0..1.0).contains(&self.label_smoothing) {
            return Err(Error::invalid(
                "label-smoothing",
                format!("{} (must be in [0, 1))", self.label_smoothing),
            ));
        }
        if !matches!(self.sub_grad_norm, GradNorm::Off | GradNorm::Center) {
            return Err(Error::invalid(
                "sub-grad-norm",
                "inorm-sub supports only off or center",
            ));
        }
        Ok(())
    }

    /// Fan-in of hidden layer `i`.
    pub fn fan_in(&self, layer: usize) -> usize {
        if layer == 0 {
            self.input
        } else {
            self.width
        }
    }

    /// The parameters of this network, in a fixed order, with their shapes and optimizer groups.
    pub fn param_infos(&self) -> Vec<ParamInfo> {
        let n = self.width;
        let k = inhib_width(n);
        let mut out = Vec::new();
        let kind = self.preset.hidden_kind();
        for i in 0..HIDDEN_LAYERS {
            let m = self.fan_in(i);
            let p =
                |name: &str, shape: Vec<usize>, group: Group, trained_by: TrainedBy| ParamInfo {
                    name: format!("hidden.{i}.{name}"),
                    shape,
                    group,
                    trained_by,
                };
            match kind {
                HiddenKind::E => {
                    out.push(p("w_ee", vec![n, m], Group::Exc, TrainedBy::Task));
                    out.push(p("bias", vec![n], Group::Bias, TrainedBy::Task));
                }
                HiddenKind::Ei => {
                    out.push(p("w_ee", vec![n, m], Group::Exc, TrainedBy::Task));
                    out.push(p("w_ie", vec![k, m], Group::InhIE, TrainedBy::Task));
                    out.push(p("w_ei", vec![n, k], Group::InhEI, TrainedBy::Task));
                    out.push(p("bias", vec![n], Group::Bias, TrainedBy::Task));
                }
                HiddenKind::INorm => {
                    let out_by = if self.train_inhib_out {
                        TrainedBy::Local
                    } else {
                        TrainedBy::Frozen
                    };
                    out.push(p("w_ee", vec![n, m], Group::Exc, TrainedBy::Task));
                    out.push(p("w_ie", vec![k, m], Group::InhIE, TrainedBy::Local));
                    out.push(p("w_ei", vec![n, k], Group::InhEI, out_by));
                    out.push(p("bias", vec![n], Group::Bias, TrainedBy::Task));
                    out.push(p("d_ie", vec![n, m], Group::DivIE, TrainedBy::Local));
                    out.push(p("d_ei", vec![n, n], Group::InhEI, out_by));
                    if self.preset.grad_norm() == GradNorm::Lateral {
                        out.push(p("lateral", vec![n], Group::Fixed, TrainedBy::Frozen));
                    }
                }
                HiddenKind::INormSub => {
                    out.push(p("w_ee", vec![n, m], Group::Exc, TrainedBy::Task));
                    out.push(p("w_ie", vec![k, m], Group::InhIE, TrainedBy::Local));
                    out.push(p("w_ei", vec![n, k], Group::InhEI, TrainedBy::Local));
                    out.push(p("bias", vec![n], Group::Bias, TrainedBy::Task));
                }
            }
        }
        let o = |name: &str, shape: Vec<usize>, group: Group| ParamInfo {
            name: format!("out.{name}"),
            shape,
            group,
            trained_by: TrainedBy::Task,
        };
        out.push(o("w_ee", vec![CLASSES, n], Group::Exc));
        out.push(o("w_ie", vec![1, n], Group::InhIE));
        out.push(o("w_ei", vec![CLASSES, 1], Group::InhEI));
        out.push(o("bias", vec![CLASSES], Group::Bias));
        out
    }

    /// Forward FLOPs (2mnk per matmul) of one sample, matmuls only; backward is counted by the benches.
    pub fn matmul_flops_forward(&self) -> f64 {
        self.param_infos()
            .iter()
            .filter(|p| p.shape.len() == 2 && !p.name.ends_with("d_ei"))
            .map(|p| 2.0 * (p.shape[0] * p.shape[1]) as f64)
            .sum()
    }
}

/// Optimizer group of a parameter (SPEC §6.1): fixes its learning rate, momentum, weight decay and clamp.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum Group {
    /// W_EE: η_E, μ, weight decay, Dale clamp.
    Exc,
    /// Biases: η_E, μ, weight decay, no clamp.
    Bias,
    /// W_IE: η_IE, μ_inh, clamp.
    InhIE,
    /// D_IE: η_IE, μ_inh, **no** clamp (sign-free).
    DivIE,
    /// W_EI and D_EI: η_EI, μ_inh, clamp.
    InhEI,
    /// Not a parameter (lateral pooling weights ω): never updated.
    Fixed,
}

impl Group {
    /// Dale clamp `max(0,·)` after every step.
    pub fn clamped(self) -> bool {
        matches!(self, Group::Exc | Group::InhIE | Group::InhEI)
    }
    /// Learning rate of this group.
    pub fn lr(self, h: &Hyper) -> f64 {
        match self {
            Group::Exc | Group::Bias => h.lr_e,
            Group::InhIE | Group::DivIE => h.lr_ie,
            Group::InhEI => h.lr_ei,
            Group::Fixed => 0.0,
        }
    }
    /// Momentum of this group.
    pub fn momentum(self, h: &Hyper) -> f64 {
        match self {
            Group::Exc | Group::Bias => h.momentum,
            Group::InhIE | Group::DivIE | Group::InhEI => h.momentum_inh,
            Group::Fixed => 0.0,
        }
    }
    /// Decoupled weight decay (non-inhibitory groups only).
    pub fn weight_decay(self, h: &Hyper) -> f64 {
        match self {
            Group::Exc | Group::Bias => h.weight_decay,
            _ => 0.0,
        }
    }
}

/// Which loss trains a parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum TrainedBy {
    /// The task cross-entropy.
    Task,
    /// The I-Norm local loss.
    Local,
    /// Never updated.
    Frozen,
}

/// Name, shape and role of one parameter.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct ParamInfo {
    /// `hidden.{i}.w_ee`, `out.bias`, ... (the safetensors names).
    pub name: String,
    /// Shape, post × pre for matrices.
    pub shape: Vec<usize>,
    /// Optimizer group.
    pub group: Group,
    /// Which loss updates it.
    pub trained_by: TrainedBy,
}

/// Optimizer hyperparameters (SPEC §6.1, §12).
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

/// One of the paper's 30 hyperparameter configurations (SPEC §12).
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

/// The 30 configurations used for every condition (SPEC §12): (η_E, η_EI, η_IE, n).
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

/// Per-hidden-layer diagnostics of one training step (SPEC §8.2–8.3).
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LayerDiag {
    /// cos(ReLU(LN(Z)), ReLU(Z)).
    pub output_alignment: f64,
    /// cos(∂L_ref/∂W_EE, ∂L_own/∂W_EE).
    pub gradient_alignment: f64,
    /// μ̄ = batch mean of the per-sample unit means of Z.
    pub mean: f64,
    /// v̄ = batch mean of the per-sample population variances of Z.
    pub var: f64,
}

/// What one training step reports.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct StepReport {
    /// Mean task loss of the batch (before the update).
    pub loss: f64,
    /// Sum over hidden layers of the local loss (I-Norm presets; 0 otherwise).
    pub local_loss: f64,
    /// Number of correctly classified samples (before the update).
    pub correct: usize,
    /// Diagnostics per hidden layer (empty when not asked for).
    pub diag: Vec<LayerDiag>,
}

/// One forward and backward pass without update (SPEC §6.2 steps 1–3).
#[derive(Clone, Debug, PartialEq)]
pub struct GradReport {
    /// Mean task loss.
    pub loss: f64,
    /// Local loss per hidden layer.
    pub local_loss: Vec<f64>,
    /// Logits, B×10.
    pub logits: HostTensor,
    /// Each hidden layer's pre-activation `Z` (`hidden.{i}.z`), B×n, as the metrics of paper/model.md §8.2
    /// define it: `X W_EEᵀ + b` (E layers), `X W_EEᵀ + b − H_I W_EIᵀ` (EI layers), both **before** LayerNorm
    /// in LN networks; the divided output `(A − S) ⊘ Dn` (I-Norm layers); `A − S` (subtractive-only I-Norm).
    pub z: Vec<HostTensor>,
    /// Each hidden layer's ReLU input (`hidden.{i}.y`), B×n: `LN(Z)` in LN networks (`ei-ln`, `e-ln`), `Z`
    /// itself otherwise (for I-Norm layers that is the output after the division). The layer's output is
    /// `ReLU(y)`.
    pub y: Vec<HostTensor>,
    /// Task-loss gradient of every parameter trained by the task (`hidden.0.w_ee`, ...).
    pub grads: ParamSet,
    /// Local-loss gradient of every parameter trained by the local loss.
    pub local_grads: ParamSet,
    /// Diagnostics per hidden layer.
    pub diag: Vec<LayerDiag>,
}

/// Evaluation of a batch without gradients.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct EvalReport {
    /// Sum (not mean) of per-sample task losses.
    pub loss_sum: f64,
    /// Number of correct argmax predictions.
    pub correct: usize,
    /// Moments (μ̄, v̄) of each hidden layer's pre-ReLU output on this batch.
    pub moments: Vec<(f64, f64)>,
}

/// Which implementation runs a network.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BackendInfo {
    /// `reference` or `fast`.
    pub backend: String,
    /// `f64` or `f32`.
    pub dtype: String,
    /// `cpu`, `cuda:0`, ...
    pub device: String,
}

/// The interface both paths implement, so tests, benches and the CLI switch backend with a flag.
pub trait Trainer {
    /// The network's specification.
    fn spec(&self) -> &NetSpec;
    /// Backend, dtype and device.
    fn backend(&self) -> BackendInfo;
    /// Current parameters (the names of [`NetSpec::param_infos`]).
    fn params(&self) -> Result<ParamSet>;
    /// Forward and backward on a batch, no update.
    fn grads(&mut self, batch: Batch<'_>) -> Result<GradReport>;
    /// One SGD step (SPEC §6.1–6.2); diagnostics computed when `diag` is true.
    fn train_step(&mut self, batch: Batch<'_>, hyper: &Hyper, diag: bool) -> Result<StepReport>;
    /// Evaluation without gradients (GradNorm is the identity, no local loss).
    fn evaluate(&mut self, batch: Batch<'_>) -> Result<EvalReport>;
}

/// Checks that `params` has exactly the tensors of `spec`, with the right shapes.
pub fn validate_params(spec: &NetSpec, params: &ParamSet, file: &str) -> Result<()> {
    let infos = spec.param_infos();
    for info in &infos {
        match params.get(&info.name) {
            None => {
                return Err(Error::BadTensor {
                    name: info.name.clone(),
                    file: file.into(),
                    preset: spec.preset.name(),
                    reason: format!("missing (expected shape {:?})", info.shape),
                })
            }
            Some(t) if t.shape != info.shape => {
                return Err(Error::BadTensor {
                    name: info.name.clone(),
                    file: file.into(),
                    preset: spec.preset.name(),
                    reason: format!("expected shape {:?}, got {:?}", info.shape, t.shape),
                })
            }
            Some(t) if t.data.len() != t.shape.iter().product::<usize>() => {
                return Err(Error::BadTensor {
                    name: info.name.clone(),
                    file: file.into(),
                    preset: spec.preset.name(),
                    reason: format!("shape {:?} but {} values", t.shape, t.data.len()),
                })
            }
            _ => {}
        }
    }
    for name in params.keys() {
        if !infos.iter().any(|i| &i.name == name) {
            return Err(Error::BadTensor {
                name: name.clone(),
                file: file.into(),
                preset: spec.preset.name(),
                reason: "does not belong to this preset".into(),
            });
        }
    }
    Ok(())
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
