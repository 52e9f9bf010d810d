//! paper/model.md §2.6: the subtractive-only I-Norm layer's local gradients (W_IE, W_EI) and task backward
//! against finite differences.

use ::inorm::reference::dense::dense_backward;
use ::inorm::reference::inorm_sub::{inorm_sub_forward, local_loss_sub, local_loss_sub_grads};
use ::inorm::reference::Mat;
use ::inorm::tolerance::{DOT_REL, FD_REL};
use proptest::prelude::*;

use super::inorm::small_layer;
use super::{
    block_scales, fd_jacobian_rel, pack, prop, rate_deficit, scalar_checks, shapes, unpack, Worst,
};
/// 128 cases: the subtractive-only layer (§2.6): local gradients of W_IE and W_EI against FD of
/// `λ/B Σ m_b²` with A held constant; task backward `Z = A − sg(S)` (the dense backward) against FD.
#[test]
fn inorm_sub_local_and_task_gradients() {
    let strategy = (small_layer(false), any::<u64>());
    prop(
        "inorm_sub_local_and_task_gradients",
        128,
        strategy,
        |(l, seed), w: &Worst| {
            let fwd = |w_ie: &Mat, w_ei: &Mat| inorm_sub_forward(&l.x, &l.w_ee, &l.b, w_ie, w_ei);
            let c = fwd(&l.w_ie, &l.w_ei);
            let (loss, g_ie, g_ei) = local_loss_sub_grads(&l.x, &l.w_ei, &c, l.lambda);
            prop_assert_eq!(loss, local_loss_sub(&c.z, l.lambda));
            let sh = shapes(&[&l.w_ie, &l.w_ei]);
            let theta = pack(&[&l.w_ie, &l.w_ei]);
            let loss_fn = |t: &[f64]| {
                let p = unpack(t, &sh);
                local_loss_sub(&fwd(&p[0], &p[1]).z, l.lambda)
            };
            let analytic = pack(&[&g_ie, &g_ei]);
            let scales = block_scales(&[&l.w_ie, &l.w_ei]);
            let r = scalar_checks(
                &loss_fn,
                &analytic,
                &theta,
                &scales,
                &[l.w_ie.len(), l.w_ei.len()],
                seed,
                1e-1,
            );
            w.rec("local_fd_gradient", r.fd_rel);
            prop_assert!(r.fd_rel <= FD_REL, "sub local FD {:.2e}", r.fd_rel);
            w.rec("local_directional", r.dir_rel);
            prop_assert!(
                r.dir_rel <= DOT_REL,
                "sub local directional {:.2e}",
                r.dir_rel
            );
            w.rec("local_taylor_rate_deficit", rate_deficit(&r.taylor));
            prop_assert!(r.taylor_verdict(), "sub local Taylor {:?}", r.taylor);
            // Task: Z = X W_EEᵀ + 1bᵀ − S₀ with S₀ constant; the network uses the dense backward.
            let bm = Mat::from_column_slice(l.b.len(), 1, l.b.as_slice());
            let tsh = shapes(&[&l.x, &l.w_ee, &bm]);
            let tt = pack(&[&l.x, &l.w_ee, &bm]);
            let s0 = c.s.clone();
            let f = |t: &[f64]| {
                let p = unpack(t, &tsh);
                let mut a = &p[0] * p[1].transpose();
                for mut row in a.row_iter_mut() {
                    row += p[2].column(0).transpose();
                }
                (a - &s0).as_slice().to_vec()
            };
            let vjp = |v: &[f64]| {
                let g = dense_backward(
                    &l.x,
                    &l.w_ee,
                    &Mat::from_column_slice(l.x.nrows(), l.w_ee.nrows(), v),
                );
                pack(&[
                    &g.x,
                    &g.w,
                    &Mat::from_column_slice(g.b.len(), 1, g.b.as_slice()),
                ])
            };
            let e = fd_jacobian_rel(&f, &vjp, &tt, 1e-5);
            w.rec("task_fd_jacobian", e);
            prop_assert!(e <= FD_REL, "sub task FD {e:.2e}");
            Ok(())
        },
    );
}
