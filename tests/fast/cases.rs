//! One table of cases (condition, shapes, seed) run against every fast backend, the way regex runs one
//! table against every engine: loss, logits, z, every task and local gradient and the diagnostics.

use super::common::{compare, conditions, fast_backends, reports, worst};
use inorm::backend::Backend;

#[test]
fn measure_all() {
    for (w, m, b) in [(16usize, 40usize, 8usize), (32, 96, 32), (100, 784, 32)] {
        for (name, spec, j) in conditions(w, m) {
            for be in fast_backends() {
                let (got, want) = reports(&spec, be, 3, b, j);
                let (k, e) = worst(&compare(&got, &want, spec.lambda));
                eprintln!("{w}x{m}x{b} {name:35} {:10} {e:.3e} {k}", be.name());
            }
        }
    }
    let _ = Backend::Reference;
}
