//! paper/model.md §6.1–6.2: one training step of every preset recomputed by hand from the pre-update
//! gradients of `ReferenceNet::forward_backward`, with each parameter's learning rate, clamp and training
//! loss read from paper/model.md's tables (written here independently of `model::Group`).

use ::inorm::model::{Batch, HiddenKind, Hyper, NetSpec, Preset, TrainedBy, Trainer};
use ::inorm::reference::network::batch_matrix;
use ::inorm::reference::ReferenceNet;
use ::inorm::testing::net_spec;
use ::inorm::tolerance::ANALYTIC_REL;
use proptest::prelude::*;
use std::collections::BTreeMap;

use super::network::{batch_for, host, perturbed};
use super::{prop, Worst};

/// Learning rate and clamp of a parameter, from paper/model.md §6.1's table (written independently of
/// `model::Group`): W_EE and biases η_E; W_IE and D_IE η_IE; W_EI and D_EI η_EI; Dale clamp for W_EE, W_IE,
/// W_EI, D_EI, never biases or D_IE.
fn spec_group(name: &str, h: &Hyper) -> (f64, bool) {
    let last = name.rsplit('.').next().unwrap();
    match last {
        "w_ee" => (h.lr_e, true),
        "bias" => (h.lr_e, false),
        "w_ie" => (h.lr_ie, true),
        "d_ie" => (h.lr_ie, false),
        "w_ei" | "d_ei" => (h.lr_ei, true),
        other => panic!("unexpected parameter {other}"),
    }
}

/// Which loss trains a parameter, from paper/model.md §1.1's tables.
fn spec_trained_by(spec: &NetSpec, name: &str) -> TrainedBy {
    if name.starts_with("out.") {
        return TrainedBy::Task;
    }
    let last = name.rsplit('.').next().unwrap();
    match (spec.preset.hidden_kind(), last) {
        (_, "lateral") => TrainedBy::Frozen,
        (_, "w_ee" | "bias") => TrainedBy::Task,
        (HiddenKind::E | HiddenKind::Ei, _) => TrainedBy::Task,
        (HiddenKind::INorm, "w_ie" | "d_ie") => TrainedBy::Local,
        (HiddenKind::INorm, _) if spec.train_inhib_out => TrainedBy::Local,
        (HiddenKind::INorm, _) => TrainedBy::Frozen,
        (HiddenKind::INormSub, _) => TrainedBy::Local,
    }
}

/// 100 cases, every preset: one `train_step` equals the update recomputed by hand from the gradients of
/// `forward_backward` at the pre-update parameters (task and local alike): `p − η_group·g`, then `max(0,·)`
/// for the clamped groups; frozen parameters (and ω) bit-identical. Learning rates large enough that the
/// clamp bites.
#[test]
fn one_training_step_by_hand() {
    let strategy = (
        prop::sample::select(Preset::ALL.to_vec()).prop_flat_map(net_spec),
        any::<u64>(),
        1e-3f64..0.5,
        1e-3f64..2.0,
        1e-4f64..0.5,
    )
        .prop_flat_map(|(s, seed, a, b, c)| {
            (
                Just(s.clone()),
                batch_for(&s),
                Just(seed),
                Just(Hyper::sgd(a, b, c)),
            )
        });
    prop(
        "one_training_step_by_hand",
        100,
        strategy,
        |(spec, (x, y), seed, hyper), w: &Worst| {
            let p = perturbed(&spec, seed);
            let hp = host(&p, &spec);
            let mut net = ReferenceNet::new(spec.clone(), &hp).unwrap();
            let xf: Vec<f32> = (0..x.nrows())
                .flat_map(|b| x.row(b).iter().map(|&v| v as f32).collect::<Vec<_>>())
                .collect();
            let batch = Batch { x: &xf, y: &y };
            let x64 = batch_matrix(&batch, spec.input).unwrap();
            let pass = net.forward_backward(&x64, &y, false).unwrap();
            let mut clamped = 0usize;
            let mut expected = BTreeMap::new();
            for info in spec.param_infos() {
                let by = spec_trained_by(&spec, &info.name);
                prop_assert_eq!(by, info.trained_by, "{}", info.name);
                let old = &p[&info.name];
                let g = match by {
                    TrainedBy::Task => Some(&pass.grads[&info.name]),
                    TrainedBy::Local => Some(&pass.local_grads[&info.name]),
                    TrainedBy::Frozen => {
                        prop_assert!(
                            !pass.grads.contains_key(&info.name)
                                && !pass.local_grads.contains_key(&info.name)
                        );
                        None
                    }
                };
                let new = match g {
                    None => old.clone(),
                    Some(g) => {
                        let (lr, clamp) = spec_group(&info.name, &hyper);
                        let mut q = old - g * lr;
                        if clamp {
                            clamped += q.iter().filter(|v| **v < 0.0).count();
                            q.apply(|v| *v = v.max(0.0));
                        }
                        q
                    }
                };
                expected.insert(info.name.clone(), new);
            }
            w.rec("clamped_entries_per_step (count)", clamped as f64);
            let report = net.train_step(batch, &hyper, false).unwrap();
            prop_assert_eq!(report.loss, pass.loss);
            let after = net.params().unwrap();
            for (name, want) in &expected {
                let got = after[name].to_matrix();
                let got = if got.shape() == want.shape() {
                    got
                } else {
                    got.reshape_generic(nalgebra::Dyn(want.nrows()), nalgebra::Dyn(want.ncols()))
                };
                let e = (got.clone() - want).amax() / want.amax().max(1.0);
                w.rec("update_by_hand", e);
                prop_assert!(e <= ANALYTIC_REL, "{} {name}: {e:.2e}", spec.preset);
                if spec_trained_by(&spec, name) == TrainedBy::Frozen {
                    prop_assert_eq!(&got, want, "frozen {} changed", name);
                }
            }
            Ok(())
        },
    );
}
