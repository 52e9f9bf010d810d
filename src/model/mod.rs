//! What both paths share: the conditions of the paper (presets), the network specification, parameter
//! names, shapes and optimizer groups (here); the hyperparameters and the 30 configurations of
//! paper/model.md §12, in `config.rs`; the host tensor type that crosses between backends, in `host.rs`; and
//! the [`Trainer`] interface that the reference and the fast path both implement, in `trainer.rs`.

use std::fmt;

mod config;
mod host;
mod trainer;

pub use config::{paper_config, Hyper, PaperConfig, PAPER_CONFIGS};

pub use host::{Batch, HostTensor, ParamSet};
pub use trainer::{
    BackendInfo, EvalReport, GradReport, LayerDiag, NumericsReport, StepReport, Trainer,
};

use crate::error::{Error, Result};

/// ε inside LayerNorm's σ (paper/model.md §2.3).
pub const LN_EPS: f64 = 1e-5;
/// ε_d inside the I-Norm denominator (paper/model.md §2.5).
pub const INORM_EPS: f64 = 1e-5;
/// ε inside GradNorm's s_z (paper/model.md §2.7).
pub const GN_EPS: f64 = 1e-5;
/// Input dimension (28×28 Fashion-MNIST).
pub const INPUT_DIM: usize = 784;
/// Number of classes.
pub const CLASSES: usize = 10;
/// Number of hidden layers (paper/model.md §3).
pub const HIDDEN_LAYERS: usize = 2;

/// Subtractive inhibitory population size `k = max(1, ⌊0.1·n⌋)` (paper/model.md §1, D20).
pub fn inhib_width(n: usize) -> usize {
    (n / 10).max(1)
}

/// GradNorm variant (paper/model.md §2.7): the backward replacement applied to an I-Norm layer's output.
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

/// A condition of the paper's figures (paper/model.md §3).
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

/// Distribution of the excitatory weights (paper/model.md §5.1, D1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum InitDist {
    /// Lognormal with mean = std = σ_t (the implementation's default, used for all runs).
    Lognormal,
    /// Exponential with scale σ_t (the paper's text).
    Exponential,
}

/// Construction of the divisive pathway D_IE (paper/model.md §5.3).
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
    /// GradNorm applied by `inorm-sub` layers: `Off` or `Center` (paper/model.md §2.6 leaves it open).
    pub sub_grad_norm: GradNorm,
}

impl NetSpec {
    /// The faithful defaults (paper/model.md §11) for `preset` at width `width`.
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
                    "{} > input {}: the I-Norm SVD init needs m ≥ n (paper/model.md §2.5)",
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

/// Optimizer group of a parameter (paper/model.md §6.1): fixes its learning rate, momentum, weight decay and clamp.
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
