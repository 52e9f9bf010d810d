//! insta snapshots (in the top-level `snapshots/`; this file sits in `tests/fast/`) per condition (candle f64, deterministic): init statistics, one step's gradient norms and
//! a 10-step loss curve, floats rounded to 6 significant digits so roundoff never flips them. Conditions
//! that differ must snapshot differently (each condition's D_EI jitter applies here too).

use super::common::{batch, conditions};
use inorm::fast::FastNet;
use inorm::init::init_params;
use inorm::model::{Batch, Hyper, Trainer};
use inorm::rng::{SeedRng, Stream};

/// 6 significant digits; values below 1e-12 in magnitude are roundoff of exact zeros (e.g. the output
/// layer's W_IE gradient, Σ(p − t) = 0) and print as 0.
fn sig6(v: f64) -> String {
    if v.abs() < 1e-12 {
        "0".into()
    } else {
        format!("{v:.5e}")
    }
}

fn norm(d: &[f64]) -> f64 {
    d.iter().map(|v| v * v).sum::<f64>().sqrt()
}

#[test]
fn per_condition_snapshots() {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("../../snapshots");
    settings.set_prepend_module_to_snapshot(false);
    settings.bind(|| {
        let mut seen: Vec<(String, String)> = vec![];
        for (name, spec, jitter_d_ei) in conditions(24, 64) {
            let mut params = init_params(&spec, 17).unwrap();
            if jitter_d_ei {
                // The condition's non-uniform D_EI (as in the comparison tests): without it a condition that
                // differs only there would snapshot exactly as its uniform twin.
                let mut rng = SeedRng::new(17, Stream::Test, 98);
                for i in 0..2 {
                    for v in params
                        .get_mut(&format!("hidden.{i}.d_ei"))
                        .unwrap()
                        .data
                        .iter_mut()
                    {
                        *v *= rng.uniform_in(0.75, 1.25);
                    }
                }
            }
            let mut init = serde_json::Map::new();
            for (k, t) in &params {
                let n = t.data.len() as f64;
                let mean = t.data.iter().sum::<f64>() / n;
                let sd = (t.data.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n).sqrt();
                let mn = t.data.iter().copied().fold(f64::INFINITY, f64::min);
                let mx = t.data.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                init.insert(
                    k.clone(),
                    serde_json::json!([sig6(mean), sig6(sd), sig6(mn), sig6(mx)]),
                );
            }
            let mut net = FastNet::new(
                spec.clone(),
                &params,
                candle_core::DType::F64,
                candle_core::Device::Cpu,
            )
            .unwrap();
            let (x, y) = batch(3, 16, spec.input);
            let g = net.grads(Batch { x: &x, y: &y }).unwrap();
            let grad_norms: serde_json::Map<_, _> = g
                .grads
                .iter()
                .chain(g.local_grads.iter())
                .map(|(k, t)| (k.clone(), serde_json::json!(sig6(norm(&t.data)))))
                .collect();
            let hyper = Hyper::sgd(0.05, 0.2, 0.01);
            let losses: Vec<String> = (0..10)
                .map(|s| {
                    let (x, y) = batch(500 + s, 16, spec.input);
                    sig6(
                        net.train_step(Batch { x: &x, y: &y }, &hyper, false)
                            .unwrap()
                            .loss,
                    )
                })
                .collect();
            let snap = serde_json::json!({
                "init [mean, std, min, max]": init,
                "grad norms": grad_norms,
                "loss curve": losses,
            });
            let body = snap.to_string();
            if let Some((twin, _)) = seen.iter().find(|(_, b)| *b == body) {
                panic!("conditions {twin} and {name} differ but snapshot identically");
            }
            seen.push((name.clone(), body));
            insta::assert_json_snapshot!(format!("fast-{name}"), snap);
        }
    });
}
