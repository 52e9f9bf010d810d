//! Shared helpers of the fast-path tests: the condition list, seeded synthetic batches, and the comparison of
//! two [`GradReport`]s tensor by tensor, relative to each reference tensor's max-abs.

use inorm::backend::{make_trainer, Backend};
use inorm::check::compare_with_floor;
use inorm::init::init_params;
use inorm::model::{GradNorm, GradReport, HiddenKind, HostTensor, NetSpec, ParamSet, Preset};
use inorm::rng::{SeedRng, Stream};

/// A condition of the tests: a name, the spec, and whether D_EI is perturbed away from `11ᵀ/n` (the general
/// denominator chain; always with `train_inhib_out`).
pub type Condition = (String, NetSpec, bool);

/// Every condition: all presets plus the `NetSpec` options.
pub fn conditions(width: usize, input: usize) -> Vec<Condition> {
    let mut out: Vec<Condition> = spec_options(width, input)
        .into_iter()
        .map(|(n, s)| {
            let j = s.train_inhib_out;
            (n, s, j)
        })
        .collect();
    let mut s = NetSpec::new(Preset::INormGn(GradNorm::Full), width);
    s.input = input;
    out.push(("inorm-gn-full+frozen-nonuniform-d-ei".into(), s, true));
    out
}

fn spec_options(width: usize, input: usize) -> Vec<(String, NetSpec)> {
    let mk = |p: Preset| {
        let mut s = NetSpec::new(p, width);
        s.input = input;
        s
    };
    let mut out: Vec<(String, NetSpec)> = Preset::ALL.iter().map(|&p| (p.name(), mk(p))).collect();
    let mut s = mk(Preset::INormGn(GradNorm::Full));
    s.eq2_exact = true;
    out.push(("inorm-gn-full+eq2-exact".into(), s));
    let mut s = mk(Preset::INorm);
    s.train_inhib_out = true;
    out.push(("inorm+train-inhib-out".into(), s));
    let mut s = mk(Preset::INormGn(GradNorm::Center));
    s.train_inhib_out = true;
    out.push(("inorm-gn-center+train-inhib-out".into(), s));
    for p in [Preset::EiLn, Preset::ELn] {
        let mut s = mk(p);
        s.ln_backward = false;
        out.push((format!("{}+ln-forward-only", p.name()), s));
    }
    let mut s = mk(Preset::INormSub);
    s.sub_grad_norm = GradNorm::Center;
    out.push(("inorm-sub+center".into(), s));
    out
}

/// A synthetic batch: inputs Uniform[0,1) shifted per image by c ~ U[−0.75, 0.75) and clamped (paper/model.md §7's
/// luminance shift, so rows have |mean| ≫ std), labels uniform in 0..10.
pub fn batch(seed: u64, rows: usize, dim: usize) -> (Vec<f32>, Vec<u8>) {
    let mut rng = SeedRng::new(seed, Stream::Test, 7);
    let mut x = Vec::with_capacity(rows * dim);
    let mut y = Vec::with_capacity(rows);
    for _ in 0..rows {
        let c = rng.uniform_in(-0.75, 0.75);
        for _ in 0..dim {
            x.push((rng.uniform() + c).clamp(0.0, 1.0) as f32);
        }
        y.push(rng.below(10) as u8);
    }
    (x, y)
}

/// `max|a − b| / max(max|b|, floor)` ([`inorm::check::compare_with_floor`]); infinite on a shape mismatch
/// or a non-finite difference.
pub fn rel_to_maxabs(a: &HostTensor, b: &HostTensor, floor: f64) -> f64 {
    if a.shape != b.shape {
        return f64::INFINITY;
    }
    match compare_with_floor(&a.data, &b.data, floor) {
        Ok(c) if c.max_abs.is_finite() => c.max_rel,
        _ => f64::INFINITY,
    }
}

/// The worst disagreement of `got` against `want` (reference), per quantity, as (name, error) pairs:
/// tensors relative to their max-abs, scalars relative to max(|want|, 1) (local loss: max(|want|, λ)).
pub fn compare(got: &GradReport, want: &GradReport, lambda: f64) -> Vec<(String, f64)> {
    let tiny = 1e-30;
    let mut out = vec![(
        "loss".to_string(),
        (got.loss - want.loss).abs() / want.loss.abs().max(1.0),
    )];
    for (i, (a, b)) in got.local_loss.iter().zip(&want.local_loss).enumerate() {
        out.push((
            format!("local_loss.{i}"),
            (a - b).abs() / b.abs().max(lambda.max(tiny)),
        ));
    }
    if got.local_loss.len() != want.local_loss.len() {
        out.push(("local_loss.len".into(), f64::INFINITY));
    }
    out.push((
        "logits".into(),
        rel_to_maxabs(&got.logits, &want.logits, tiny),
    ));
    for (i, (a, b)) in got.z.iter().zip(&want.z).enumerate() {
        out.push((format!("z.{i}"), rel_to_maxabs(a, b, tiny)));
    }
    for (i, (a, b)) in got.y.iter().zip(&want.y).enumerate() {
        out.push((format!("y.{i}"), rel_to_maxabs(a, b, tiny)));
    }
    if (got.z.len(), got.y.len()) != (want.z.len(), want.y.len()) {
        out.push(("z/y.len".into(), f64::INFINITY));
    }
    for (kind, g, w) in [
        ("grad", &got.grads, &want.grads),
        ("local_grad", &got.local_grads, &want.local_grads),
    ] {
        let gk: Vec<_> = g.keys().collect();
        let wk: Vec<_> = w.keys().collect();
        if gk != wk {
            out.push((format!("{kind} names {gk:?} vs {wk:?}"), f64::INFINITY));
            continue;
        }
        for (k, b) in w {
            out.push((format!("{kind}.{k}"), rel_to_maxabs(&g[k], b, tiny)));
        }
    }
    if got.diag.len() != want.diag.len() {
        out.push(("diag.len".into(), f64::INFINITY));
    }
    for (i, (a, b)) in got.diag.iter().zip(&want.diag).enumerate() {
        for (name, x, y) in [
            ("output_alignment", a.output_alignment, b.output_alignment),
            (
                "gradient_alignment",
                a.gradient_alignment,
                b.gradient_alignment,
            ),
            ("mean", a.mean, b.mean),
            ("var", a.var, b.var),
        ] {
            let e = (x - y).abs() / y.abs().max(1.0);
            out.push((
                format!("diag.{i}.{name}"),
                if e.is_finite() { e } else { f64::INFINITY },
            ));
        }
    }
    out
}

/// The worst entry of [`compare`].
pub fn worst(errs: &[(String, f64)]) -> (String, f64) {
    errs.iter()
        .cloned()
        .fold(("none".into(), 0.0), |a, b| if b.1 > a.1 { b } else { a })
}

/// The backends compared with the reference: candle f64 and f32 on the CPU, and on CUDA with the feature.
pub fn fast_backends() -> Vec<Backend> {
    let mut v = vec![Backend::Fast { f64: true }, Backend::Fast { f64: false }];
    if cfg!(feature = "cuda") {
        v.push(Backend::FastCuda { f64: true });
        v.push(Backend::FastCuda { f64: false });
    }
    v
}

/// Init parameters moved off the exact init identities (paper/model.md §5: centered inhibition, I-Norm = LN), which
/// make some gradients vanish to roundoff (local losses, W_IE of a k = 1 layer): weights × U[0.75, 1.25)
/// (signs and Dale's law kept), biases + U[−0.1, 0.1); D_EI only when `jitter_d_ei`; ω never.
pub fn perturbed_params(spec: &NetSpec, seed: u64, jitter_d_ei: bool) -> ParamSet {
    let mut params = init_params(spec, seed).expect("init");
    let mut rng = SeedRng::new(seed, Stream::Test, 99);
    for (name, t) in params.iter_mut() {
        if name.ends_with("lateral") || (name.ends_with("d_ei") && !jitter_d_ei) {
            continue;
        }
        for v in t.data.iter_mut() {
            if name.ends_with("bias") {
                *v += rng.uniform_in(-0.1, 0.1);
            } else {
                *v *= rng.uniform_in(0.75, 1.25);
            }
        }
    }
    params
}

/// Gradient reports of `spec` on `backend` and on the reference, from the same parameters and batch.
pub fn reports(
    spec: &NetSpec,
    backend: Backend,
    seed: u64,
    rows: usize,
    jitter_d_ei: bool,
) -> (GradReport, GradReport) {
    let params = perturbed_params(spec, seed, jitter_d_ei);
    let (x, y) = batch(seed ^ 0x5eed, rows, spec.input);
    let b = inorm::model::Batch { x: &x, y: &y };
    let mut r = make_trainer(Backend::Reference, spec.clone(), &params).expect("reference");
    let mut f = make_trainer(backend, spec.clone(), &params).expect("fast");
    (
        f.grads(b).expect("fast grads"),
        r.grads(b).expect("ref grads"),
    )
}

/// The cancellation of each hidden layer's normalizing backward on the error it actually receives (the
/// reference's `Pass::errors`), as the ratio of the summed magnitudes of the backward's terms to the size of
/// their sum, over the batch: LayerNorm's `δ − mean(δ)1 − y·mean(δ∘y)` (y = LN(z)); GradNorm full's
/// `δ − mean(δ)1 − z⟨δ,z⟩/n` (ŷ for z with eq2_exact), center's, decorrelate's and lateral's
/// `δ − ⟨ω,δ⟩1` (paper/model.md §2.3, §2.7); 1 for backwards that do not subtract. The rounding of δ (f32:
/// relative EPS32) reaches the result amplified by this; and an error cancelled at layer i flows on to every
/// layer below it, so the task gradients of hidden layer j carry the product over layers i ≥ j
/// ([`hidden_backward_conditioning`]). Measured: f32 e-ln, n = 4, B = 1, one unit active at layer 0 with
/// y ≈ √3 (the extreme point of the normalized sphere): the backward keeps 0.4 % of its terms and
/// `grad.hidden.0.w_ee` is off by 1.0e-3, 5 × the tolerance without this κ.
pub fn backward_cancellation(
    spec: &NetSpec,
    params: &ParamSet,
    x: &[f32],
    y: &[u8],
    want: &GradReport,
) -> Vec<f64> {
    use inorm::reference::network::{batch_matrix, ReferenceNet};
    let net = ReferenceNet::new(spec.clone(), params).expect("reference");
    let b = inorm::model::Batch { x, y };
    let pass = net
        .forward_backward(&batch_matrix(&b, spec.input).expect("batch"), y, false)
        .expect("reference pass");
    let gn = match spec.preset.hidden_kind() {
        HiddenKind::INorm => spec.preset.grad_norm(),
        HiddenKind::INormSub => spec.sub_grad_norm,
        _ => GradNorm::Off,
    };
    let ln = spec.preset.layer_norm() && spec.ln_backward;
    pass.errors
        .iter()
        .enumerate()
        .map(|(i, err)| {
            let n = err.ncols();
            let (mut mag, mut res) = (0.0f64, 0.0f64);
            for row in 0..err.nrows() {
                let d: Vec<f64> = (0..n).map(|j| err[(row, j)]).collect();
                let zr = &want.z[i].data[row * n..(row + 1) * n];
                let yr = &want.y[i].data[row * n..(row + 1) * n];
                let mean_d = d.iter().sum::<f64>() / n as f64;
                // The vector the decorrelation term projects on: y for LN; z, or ŷ with eq2_exact, for GN.
                let p: Vec<f64> = if ln {
                    yr.to_vec()
                } else if spec.eq2_exact {
                    let (m, v) = row_moments(zr);
                    let s = (v + inorm::model::LN_EPS).sqrt();
                    zr.iter().map(|u| (u - m) / s).collect()
                } else {
                    zr.to_vec()
                };
                let dot = d.iter().zip(&p).map(|(a, b)| a * b).sum::<f64>() / n as f64;
                let lateral = || {
                    let w = &params[&format!("hidden.{i}.lateral")].data;
                    d.iter().zip(w).map(|(a, b)| a * b).sum::<f64>()
                };
                let (centre, decor) = match (ln, gn) {
                    (true, _) | (false, GradNorm::Full) => (mean_d, true),
                    (false, GradNorm::Center) => (mean_d, false),
                    (false, GradNorm::Decorrelate) => (0.0, true),
                    (false, GradNorm::Lateral) => (lateral(), false),
                    _ => (0.0, false),
                };
                for j in 0..n {
                    let t = [d[j], -centre, if decor { -p[j] * dot } else { 0.0 }];
                    mag += t.iter().map(|v| v.abs()).sum::<f64>().powi(2);
                    res += t.iter().sum::<f64>().powi(2);
                }
            }
            if mag == 0.0 {
                1.0
            } else {
                (mag / res.max(f64::MIN_POSITIVE)).sqrt().max(1.0)
            }
        })
        .collect()
}

/// The task gradients of hidden layer `j` carry the cancellations of every normalizing backward at or
/// above it: the product of [`backward_cancellation`] over layers i ≥ j.
pub fn hidden_backward_conditioning(per_layer: &[f64], j: usize) -> f64 {
    per_layer[j..].iter().product()
}

/// Whether the gradient alignment of hidden layer `i` is 0/0 in exact arithmetic: every unit active in every
/// row makes the own surrogate's error (paper/model.md §8.2) the all-ones vector, which a backward that
/// centres (LayerNorm's; GradNorm center, full, lateral: `1 − ⟨ω, 1⟩ = 0`) maps to exactly 0, so the
/// cosine compares roundoff with a real gradient (measured: f32 inorm-gn-full+eq2-exact, n = 4, B = 2,
/// layer 0 all active, −0.133 against the reference's 8.5e-9). Such an entry is not compared.
pub fn own_surrogate_vanishes(r: &GradReport, spec: &NetSpec, i: usize) -> bool {
    let centring = match spec.preset.hidden_kind() {
        HiddenKind::INorm => spec.preset.grad_norm(),
        HiddenKind::INormSub => spec.sub_grad_norm,
        _ => GradNorm::Off,
    };
    let centres = (spec.preset.layer_norm() && spec.ln_backward)
        || matches!(
            centring,
            GradNorm::Center | GradNorm::Full | GradNorm::Lateral
        );
    centres && r.y.get(i).is_some_and(|y| y.data.iter().all(|&v| v > 0.0))
}

/// How far each compared quantity of the reference moves when every parameter is perturbed by a relative
/// `eps` (uniform in ±eps per entry, `draws` independent draws; the worst over draws): the conditioning of
/// each tensor as measured, where the κ models above estimate it. A backward-stable computation in a
/// precision of unit roundoff `eps` is the exact result for inputs perturbed by a few `eps` per operation,
/// so the fast path may differ from the reference by [`inorm::tolerance::FAST_VS_PERTURBED`] × this (eps =
/// EPS32 for f32, EPS64 for f64). Names as in [`compare`].
pub fn perturbation_sensitivity(
    spec: &NetSpec,
    seed: u64,
    rows: usize,
    jitter_d_ei: bool,
    want: &GradReport,
    eps: f64,
    draws: u64,
) -> std::collections::BTreeMap<String, f64> {
    let params = perturbed_params(spec, seed, jitter_d_ei);
    let (x, y) = batch(seed ^ 0x5eed, rows, spec.input);
    let b = inorm::model::Batch { x: &x, y: &y };
    let mut worst = std::collections::BTreeMap::new();
    for d in 0..draws {
        let mut rng = SeedRng::new(seed, Stream::Test, 200 + d);
        let mut p = params.clone();
        for t in p.values_mut() {
            for v in t.data.iter_mut() {
                *v *= 1.0 + eps * rng.uniform_in(-1.0, 1.0);
            }
        }
        let mut r = make_trainer(Backend::Reference, spec.clone(), &p).expect("reference");
        let got = r.grads(b).expect("perturbed reference grads");
        for (k, e) in compare(&got, want, spec.lambda) {
            let w = worst.entry(k).or_insert(0.0f64);
            *w = w.max(e);
        }
    }
    worst
}

/// Worst row conditioning of a report's hidden outputs z, for every tensor: `max|z_b| / sqrt(pvar(z_b) + ε)`
/// (f32 rounding of z amplified by a normalization of the row).
pub fn row_conditioning(r: &GradReport) -> f64 {
    let mut k = 0.0f64;
    for z in &r.z {
        let n = z.cols();
        for row in z.data.chunks(n) {
            let (_, var) = row_moments(row);
            let mx = row.iter().fold(0.0f64, |m, v| m.max(v.abs()));
            k = k.max(mx / (var + inorm::model::LN_EPS).sqrt());
        }
    }
    k
}

/// The local losses' own conditioning, for the local-loss tensors only (`local_loss.*`, `local_grad.*`):
/// their error is proportional to `v_b − 1` (I-Norm; κ = `pvar(z_b)/|pvar(z_b) − 1|`) or `m_b` (I-Norm sub;
/// κ = `max|z_b|/|m_b|`); 0 for presets without a local loss. Logits and task gradients never see it.
pub fn local_loss_conditioning(r: &GradReport, spec: &NetSpec) -> f64 {
    let kind = spec.preset.hidden_kind();
    let mut k = 0.0f64;
    for z in &r.z {
        let n = z.cols();
        for row in z.data.chunks(n) {
            let (mean, var) = row_moments(row);
            let mx = row.iter().fold(0.0f64, |m, v| m.max(v.abs()));
            match kind {
                HiddenKind::INorm => k = k.max(var / (var - 1.0).abs()),
                HiddenKind::INormSub => k = k.max(mx / mean.abs()),
                _ => {}
            }
        }
    }
    k
}

/// Worst of [`row_conditioning`] and [`local_loss_conditioning`] (whole-report tolerance, as in the CLI test).
pub fn conditioning(r: &GradReport, spec: &NetSpec) -> f64 {
    row_conditioning(r).max(local_loss_conditioning(r, spec))
}

/// The backward's own cancellation at width n = 2, for the task gradients of hidden parameters (which the
/// error reaches through a normalizing backward): at n = 2 LayerNorm's Jacobian (and GradNorm full's,
/// decorrelate's, whose z is LN-normalized there) is exactly its ε-term,
/// `J = ε/(2σ(v + ε))·[[1, −1], [−1, 1]]` (paper/model.md §2.3), i.e. the result is `ε/(v + ε)` of its
/// inputs' scale and their rounding is amplified by κ = `(v + ε)/ε` (v = pvar of the normalized row). 1
/// at other widths and for backwards that do not normalize.
pub fn backward_conditioning(r: &GradReport, spec: &NetSpec) -> f64 {
    let normalizing = spec.preset.layer_norm() && spec.ln_backward
        || matches!(
            spec.preset.grad_norm(),
            GradNorm::Full | GradNorm::Decorrelate
        ) && spec.preset.hidden_kind() == HiddenKind::INorm;
    if !normalizing || spec.width != 2 {
        return 1.0;
    }
    let eps = inorm::model::LN_EPS;
    let mut k = 1.0f64;
    for z in &r.z {
        for row in z.data.chunks(2) {
            k = k.max((row_moments(row).1 + eps) / eps);
        }
    }
    k
}

/// The closest any ReLU input of the reference comes to the ReLU's kink, in units of how far the fast path's
/// value may physically be from it: the minimum over hidden layers and entries of `|y| / τ_y` for the
/// layer's ReLU input y and of `|z − mean(z_b)| / τ_z` for the row-standardized `LN(z)` whose sign is the
/// mask of the alignment surrogate, with τ = [`inorm::tolerance::KINK_VS_PERTURBED`] × the measured
/// sensitivity of `y.i` / `z.i` ([`perturbation_sensitivity`], relative to the tensor's max-abs) × that
/// max-abs. Below 1, rounding alone may put the fast path on the other side of the kink: the mask flips and
/// the gradient past it takes another, equally valid, branch (measured: f32 inorm-gn-full, n = 17, B = 6,
/// y = 3.2e-8 in the reference and −3.2e-7 in f32, `grad.hidden.0.w_ee` off by 9 %). The derivative is not
/// defined there, so such a draw is outside the property. (Measured on 3,000 drawn cases: the z tolerance,
/// ≥ 2e-4 × max|y|, as the margin rejected 11.5 % of the f32 draws; FAST_VS_PERTURBED × the sensitivity,
/// 4.5 %; this margin, 1.6 % (43 of 2,720).)
pub fn kink_margin(r: &GradReport, sens: &std::collections::BTreeMap<String, f64>) -> f64 {
    let maxabs = |v: &[f64]| v.iter().fold(0.0f64, |a, x| a.max(x.abs()));
    let tau = |key: String, scale: f64| {
        (inorm::tolerance::KINK_VS_PERTURBED * sens.get(&key).copied().unwrap_or(0.0) * scale)
            .max(f64::MIN_POSITIVE)
    };
    let mut m = f64::INFINITY;
    for (i, (z, y)) in r.z.iter().zip(&r.y).enumerate() {
        let ty = tau(format!("y.{i}"), maxabs(&y.data));
        for v in &y.data {
            m = m.min(v.abs() / ty);
        }
        let tz = tau(format!("z.{i}"), maxabs(&z.data));
        for row in z.data.chunks(z.cols()) {
            let (mean, _) = row_moments(row);
            for v in row {
                m = m.min((v - mean).abs() / tz);
            }
        }
    }
    m
}

fn row_moments(row: &[f64]) -> (f64, f64) {
    let n = row.len() as f64;
    let mean = row.iter().sum::<f64>() / n;
    let var = row.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
    (mean, var)
}

/// Cancellation of the I-Norm local error through W_EI, `∂L/∂H_S = −(G⊘d) W_EI`:
/// `Σ_{b,l} Σ_j |G_bj W_EI,jl| / Σ_{b,l} |Σ_j G_bj W_EI,jl|` with G from the reference's z (= U) by paper/model.md §2.5
/// (d_b cancels per row). Large when G is nearly orthogonal to W_EI's columns (k = 1: W_EI ≈ 1 and G's
/// centered part sums to 0). 1 for other presets.
pub fn local_conditioning(r: &GradReport, spec: &NetSpec, params: &ParamSet) -> f64 {
    if spec.preset.hidden_kind() != HiddenKind::INorm {
        return 1.0;
    }
    let mut worst = 1.0f64;
    for (i, z) in r.z.iter().enumerate() {
        let n = z.cols();
        let w = &params[&format!("hidden.{i}.w_ei")];
        let k = w.cols();
        let (mut abs_sum, mut sum_abs) = (0.0, 0.0);
        for row in z.data.chunks(n) {
            let m = row.iter().sum::<f64>() / n as f64;
            let v = row.iter().map(|u| (u - m) * (u - m)).sum::<f64>() / n as f64;
            let g: Vec<f64> = row.iter().map(|u| m + 2.0 * (v - 1.0) * (u - m)).collect();
            for l in 0..k {
                let (mut s, mut a) = (0.0, 0.0);
                for j in 0..n {
                    s += g[j] * w.data[j * k + l];
                    a += (g[j] * w.data[j * k + l]).abs();
                }
                abs_sum += a;
                sum_abs += s.abs();
            }
        }
        worst = worst.max(abs_sum / sum_abs.max(1e-300));
    }
    worst
}

/// Cancellation of the gradient-alignment surrogate (paper/model.md §8.2, D5): the reference gradient back-propagates
/// δ = 1[LN(z) > 0] through LN, δ̂ = δ − mean(δ) − y·mean(δ∘y), which nearly vanishes for some rows at tiny
/// widths (n = 3, B = 1: f32 rounding of z then shows at ‖δ‖/‖δ̂‖ times its size). The worst row's
/// ‖δ‖/‖δ̂‖ over the hidden outputs, for rows with some active unit.
pub fn alignment_conditioning(r: &GradReport) -> f64 {
    let mut k = 1.0f64;
    for z in &r.z {
        let n = z.cols();
        for row in z.data.chunks(n) {
            let mean = row.iter().sum::<f64>() / n as f64;
            let var = row.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n as f64;
            let s = (var + inorm::model::LN_EPS).sqrt();
            let y: Vec<f64> = row.iter().map(|v| (v - mean) / s).collect();
            let d: Vec<f64> = y.iter().map(|&v| f64::from(u8::from(v > 0.0))).collect();
            let md = d.iter().sum::<f64>() / n as f64;
            let mdy = d.iter().zip(&y).map(|(a, b)| a * b).sum::<f64>() / n as f64;
            let hat: f64 = d
                .iter()
                .zip(&y)
                .map(|(a, b)| (a - md - b * mdy).powi(2))
                .sum::<f64>()
                .sqrt();
            let norm: f64 = d.iter().map(|a| a * a).sum::<f64>().sqrt();
            if norm > 0.0 {
                k = k.max(norm / hat.max(f64::MIN_POSITIVE));
            }
        }
    }
    k
}

/// Cancellation in the output layer's task gradient of W_IE, `∂L/∂W_IE = −(Δ W_EI)ᵀ H` (paper/model.md §2.2):
/// each row's `Σ_j Δ_bj W_EI,j` sums an error Δ = softmax − target whose entries sum to 0 against a W_EI of
/// nearly equal entries (k = 1), so it nearly cancels, and so can the sum over the batch. κ =
/// `max_l Σ_b (Σ_j |Δ_bj W_EI,jl|)·|H_bl| / max_l |Σ_b (Σ_j Δ_bj W_EI,jl)·H_bl|` with Δ from the reference's
/// logits and the labels `y`, H = ReLU of the last hidden layer's ReLU input (measured: f32 inorm, n = 4,
/// B = 10, `grad.out.w_ie` 1.26 × the tolerance without it, κ ≈ 8).
pub fn out_ie_conditioning(r: &GradReport, spec: &NetSpec, params: &ParamSet, y: &[u8]) -> f64 {
    let w = &params["out.w_ei"];
    let k = w.cols();
    let h = r.y.last().expect("a hidden layer");
    let (rows, n) = (h.rows(), h.cols());
    let classes = r.logits.cols();
    let ls = spec.label_smoothing;
    let (mut abs_sum, mut sum) = (vec![0.0f64; n], vec![0.0f64; n]);
    for l in 0..k {
        for b in 0..rows {
            let z = &r.logits.data[b * classes..(b + 1) * classes];
            let mx = z.iter().fold(f64::NEG_INFINITY, |m, &v| m.max(v));
            let e: Vec<f64> = z.iter().map(|v| (v - mx).exp()).collect();
            let tot: f64 = e.iter().sum();
            let (mut c, mut a) = (0.0, 0.0);
            for j in 0..classes {
                let target = ls / classes as f64 + if j == y[b] as usize { 1.0 - ls } else { 0.0 };
                let t = (e[j] / tot - target) * w.data[j * k + l];
                c += t;
                a += t.abs();
            }
            for c2 in 0..n {
                let hv = h.data[b * n + c2].max(0.0);
                abs_sum[c2] += a * hv;
                sum[c2] += c * hv;
            }
        }
    }
    let num = abs_sum.iter().fold(0.0f64, |m, v| m.max(*v));
    let den = sum.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    (num / den.max(1e-300)).max(1.0)
}

/// Cancellation across the batch of the subtractive-only I-Norm local gradients (paper/model.md §2.6): with
/// G_bj = 2λ m_b/(Bn) the same for every unit, ∂/∂W_EI ∝ Σ_b m_b H_S[b,:] and ∂/∂W_IE ∝ Σ_b m_b x_b, sums
/// whose terms have the signs of the row means m_b (near 0, of either sign, since the subtractive pathway
/// centers exactly at init). κ = Σ|terms| / |Σ terms| over both, worst layer; 1 for other presets.
/// `x` is the batch input (B×m, row-major).
pub fn sub_local_conditioning(r: &GradReport, spec: &NetSpec, params: &ParamSet, x: &[f32]) -> f64 {
    if spec.preset.hidden_kind() != HiddenKind::INormSub {
        return 1.0;
    }
    let ratio = |terms: &dyn Fn(usize, usize) -> f64, rows: usize, cols: usize| -> f64 {
        let (mut abs_sum, mut sum_abs) = (0.0f64, 0.0f64);
        for c in 0..cols {
            let (mut s, mut a) = (0.0, 0.0);
            for b in 0..rows {
                let t = terms(b, c);
                s += t;
                a += t.abs();
            }
            abs_sum += a;
            sum_abs += s.abs();
        }
        abs_sum / sum_abs.max(1e-300)
    };
    let mut worst = 1.0f64;
    for (i, z) in r.z.iter().enumerate() {
        let (rows, n) = (z.rows(), z.cols());
        let input: Vec<f64> = if i == 0 {
            x.iter().map(|&v| f64::from(v)).collect()
        } else {
            r.z[i - 1].data.iter().map(|&v| v.max(0.0)).collect()
        };
        let m_in = input.len() / rows;
        let w_ie = &params[&format!("hidden.{i}.w_ie")];
        let k = w_ie.rows();
        let means: Vec<f64> = z
            .data
            .chunks(n)
            .map(|row| row.iter().sum::<f64>() / n as f64)
            .collect();
        let h = |b: usize, l: usize| -> f64 {
            (0..m_in)
                .map(|c| input[b * m_in + c] * w_ie.data[l * m_in + c])
                .sum()
        };
        worst = worst.max(ratio(&|b, l| means[b] * h(b, l), rows, k));
        worst = worst.max(ratio(&|b, c| means[b] * input[b * m_in + c], rows, m_in));
    }
    worst
}
