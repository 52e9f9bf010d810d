//! paper/model.md §6.1 with momentum and weight decay (0 in the figure runs, but options of the harness):
//! several `train_step`s against the SGD formula written out here, per parameter,
//! `v ← μ_g·v + g` (buffer from 0), `p ← p − η_g·v`, decoupled `p ← p − η_g·wd·p` for W_EE and biases only,
//! then the Dale clamp; μ_g = μ for W_EE and biases, μ_inh for W_IE, W_EI, D_IE, D_EI. The gradients are the
//! network's own at each step's pre-update parameters (proven elsewhere); what is checked is the update.

use std::collections::BTreeMap;

use ::inorm::init::init_params;
use ::inorm::model::{Batch, Hyper, NetSpec, Preset, Trainer};
use ::inorm::reference::ReferenceNet;
use ::inorm::rng::{SeedRng, Stream};
use ::inorm::testing::net_spec;
use ::inorm::tolerance::ANALYTIC_REL;
use proptest::prelude::*;

use super::{prop, Worst};

/// (learning rate, momentum, weight decay, Dale clamp) of a parameter, from paper/model.md §6.1's table.
fn group(name: &str, h: &Hyper) -> (f64, f64, f64, bool) {
    match name.rsplit('.').next().unwrap() {
        "w_ee" => (h.lr_e, h.momentum, h.weight_decay, true),
        "bias" => (h.lr_e, h.momentum, h.weight_decay, false),
        "w_ie" => (h.lr_ie, h.momentum_inh, 0.0, true),
        "d_ie" => (h.lr_ie, h.momentum_inh, 0.0, false),
        "w_ei" | "d_ei" => (h.lr_ei, h.momentum_inh, 0.0, true),
        other => panic!("unexpected parameter {other}"),
    }
}

/// 48 cases, every preset, 4 steps each with momentum μ, μ_inh ∈ [0, 0.95) and weight decay ∈ [0, 0.5):
/// the parameters after each step equal the formula applied to the step's gradients, relative to max|p|.
#[test]
fn momentum_and_weight_decay_follow_the_sgd_formula() {
    let strategy = (
        prop::sample::select(Preset::ALL.to_vec()).prop_flat_map(net_spec),
        any::<u64>(),
        (1e-3f64..0.3, 1e-3f64..0.5, 1e-3f64..0.3),
        (0.0f64..0.95, 0.0f64..0.95, 0.0f64..0.5),
    );
    prop(
        "momentum_and_weight_decay_follow_the_sgd_formula",
        48,
        strategy,
        |(spec, seed, (lr_e, lr_ie, lr_ei), (mu, mu_inh, wd)), w: &Worst| {
            let hyper = Hyper {
                lr_e,
                lr_ie,
                lr_ei,
                momentum: mu,
                momentum_inh: mu_inh,
                weight_decay: wd,
            };
            run(&spec, seed, &hyper, w)
        },
    );
}

fn run(spec: &NetSpec, seed: u64, hyper: &Hyper, w: &Worst) -> Result<(), TestCaseError> {
    let params = init_params(spec, seed).unwrap();
    let mut net = ReferenceNet::new(spec.clone(), &params).unwrap();
    let mut rng = SeedRng::new(seed, Stream::Test, 61);
    let mut mine: BTreeMap<String, Vec<f64>> = params
        .iter()
        .map(|(k, t)| (k.clone(), t.data.clone()))
        .collect();
    let mut vel: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    let mut decayed = 0usize;
    for _step in 0..4 {
        let rows = 3;
        let x: Vec<f32> = (0..rows * spec.input)
            .map(|_| rng.uniform() as f32)
            .collect();
        let y: Vec<u8> = (0..rows).map(|_| rng.below(10) as u8).collect();
        let batch = Batch { x: &x, y: &y };
        let g = net.grads(batch).unwrap();
        for (name, grad) in g.grads.iter().chain(g.local_grads.iter()) {
            let (lr, m, d, clamp) = group(name, hyper);
            let v = vel
                .entry(name.clone())
                .or_insert_with(|| vec![0.0; grad.data.len()]);
            let p = mine.get_mut(name).unwrap();
            for ((pi, vi), gi) in p.iter_mut().zip(v.iter_mut()).zip(&grad.data) {
                *vi = m * *vi + gi;
                *pi -= lr * *vi;
                *pi -= lr * d * *pi;
                if clamp {
                    *pi = pi.max(0.0);
                }
            }
            if d > 0.0 {
                decayed += 1;
            }
        }
        net.train_step(batch, hyper, false).unwrap();
        let after = net.params().unwrap();
        for (name, want) in &mine {
            let got = &after[name].data;
            let scale = want.iter().fold(1.0f64, |a, v| a.max(v.abs()));
            let e = got
                .iter()
                .zip(want)
                .fold(0.0f64, |a, (u, v)| a.max((u - v).abs()))
                / scale;
            w.rec("update_vs_formula", e);
            prop_assert!(
                e <= ANALYTIC_REL,
                "{} {name}: {e:.2e} after a step with μ {}, μ_inh {}, wd {}",
                spec.preset,
                hyper.momentum,
                hyper.momentum_inh,
                hyper.weight_decay
            );
        }
    }
    w.add("decayed_tensor_steps (count)", decayed as f64);
    Ok(())
}
