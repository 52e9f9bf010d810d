//! `inorm train`: one training run.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use inorm::data;
use inorm::error::{Error, Result};
use inorm::experiment;
use inorm::interop::{self, FileDtype};
use inorm::model::{paper_config, Hyper, NetSpec, Preset};
use inorm::train::{train_run, Progress, RunStatus, TrainConfig};

use crate::args::{get_data, DataArgs, RunArgs, TrainingArgs};
use crate::progress::{bar, lines};

#[derive(clap::Args)]
pub(crate) struct TrainArgs {
    /// Condition: ei, ei-ln, e-ln, inorm, inorm-sub, inorm-gn-{full,center,scale,decorrelate,lateral}.
    #[arg(long)]
    pub(crate) net: String,
    /// Luminance-shift ε.
    #[arg(long, default_value_t = 0.75)]
    pub(crate) eps: f64,
    /// Paper configuration 0..=29 (learning rates and width); default 0 unless --lr-* are given.
    #[arg(long)]
    pub(crate) config: Option<usize>,
    /// Hidden width (overrides the configuration's).
    #[arg(long)]
    pub(crate) width: Option<usize>,
    /// η_E (W_EE, biases).
    #[arg(long)]
    pub(crate) lr_e: Option<f64>,
    /// η_IE (W_IE, D_IE).
    #[arg(long)]
    pub(crate) lr_ie: Option<f64>,
    /// η_EI (W_EI).
    #[arg(long)]
    pub(crate) lr_ei: Option<f64>,
    /// Seed.
    #[arg(long, default_value_t = 0)]
    pub(crate) seed: u64,
    #[command(flatten)]
    pub(crate) training: TrainingArgs,
    #[command(flatten)]
    pub(crate) run: RunArgs,
    #[command(flatten)]
    pub(crate) data: DataArgs,
    /// Result JSON.
    #[arg(long)]
    pub(crate) out: Option<PathBuf>,
    /// Write the final parameters here (safetensors, f32).
    #[arg(long)]
    pub(crate) save_model: Option<PathBuf>,
}

pub(crate) fn cmd_train(a: TrainArgs, show: bool) -> Result<ExitCode> {
    let preset = Preset::parse(&a.net)?;
    let any_lr = a.lr_e.is_some() || a.lr_ie.is_some() || a.lr_ei.is_some();
    let (hyper, width, config_index) = if any_lr && a.config.is_none() {
        let (Some(e), Some(ie), Some(ei)) = (a.lr_e, a.lr_ie, a.lr_ei) else {
            return Err(Error::invalid(
                "learning rates",
                "give all three of --lr-e, --lr-ie, --lr-ei (or --config I)",
            ));
        };
        let w = a.width.ok_or_else(|| {
            Error::invalid("width", "--width N is needed with explicit learning rates")
        })?;
        (Hyper::sgd(e, ie, ei), w, None)
    } else {
        let i = a.config.unwrap_or(0);
        let pc = paper_config(i)?;
        let mut h = pc.hyper();
        if let Some(v) = a.lr_e {
            h.lr_e = v;
        }
        if let Some(v) = a.lr_ie {
            h.lr_ie = v;
        }
        if let Some(v) = a.lr_ei {
            h.lr_ei = v;
        }
        (h, a.width.unwrap_or(pc.width), Some(i))
    };
    let mut cfg = TrainConfig::new(NetSpec::new(preset, width), hyper, a.eps);
    a.training.apply_to_run(&mut cfg)?;
    a.run.apply_to_run(&mut cfg)?;
    cfg.config_index = config_index;
    cfg.seed = a.seed;
    cfg.validate()?;
    check_outputs(a.out.as_deref(), a.save_model.as_deref())?;
    let ds = get_data(&a.data)?;
    let (n_train, _) = data::used_sizes(cfg.train_size, cfg.test_size, &ds.train, &ds.test)?;
    let steps = n_train.div_ceil(cfg.batch_size) as u64;
    let pb = bar(
        show,
        steps * cfg.epochs as u64,
        "{spinner} {msg} [{bar:30}] {pos}/{len} steps {per_sec} ETA {eta}",
    );
    pb.set_message(format!("{preset} ε={} epoch 1/{}", cfg.eps, cfg.epochs));
    let epochs = cfg.epochs;
    let out = train_run(&cfg, &ds.train, &ds.test, &mut |p| match p {
        Progress::Step { epoch, loss, .. } => {
            pb.inc(1);
            if pb.position() % 50 == 0 {
                pb.set_message(format!("{preset} epoch {epoch}/{epochs} loss {loss:.3}"));
            }
        }
        Progress::Epoch { epoch, test_acc } => {
            let line = format!("epoch {epoch}/{epochs}: test accuracy {test_acc:.2} %");
            if show {
                pb.println(line);
            } else if lines() {
                eprintln!("{line}");
            }
        }
    })?;
    pb.finish_and_clear();
    let r = &out.result;
    if let Some(path) = &a.out {
        experiment::write_result(path, r)?;
    }
    if let Some(path) = &a.save_model {
        interop::save_model(path, &cfg.spec, &out.params, FileDtype::F32)?;
    }
    let fm = &r.final_metrics;
    println!(
        "{} ε={} width {} config {} seed {} on {} ({}, {}): status {:?}",
        preset,
        cfg.eps,
        cfg.spec.width,
        config_index.map_or("custom".into(), |i| i.to_string()),
        cfg.seed,
        r.backend,
        r.dtype,
        r.device,
        r.status
    );
    if let Some(d) = &r.divergence {
        println!(
            "diverged at epoch {} step {}: {}",
            d.epoch, d.step, d.reason
        );
    }
    println!(
        "final test accuracy {:.2} % (best {:.2} % at epoch {}), test loss {:.4}, train accuracy {:.2} %",
        fm.test_acc, fm.best_test_acc, fm.best_epoch, fm.test_loss, fm.train_acc
    );
    println!(
        "alignment (last step, mean fc0/fc1): output {:.4}, gradient {:.4}; test moments μ̄ {:.4}, v̄ {:.4}",
        fm.output_alignment, fm.gradient_alignment, fm.mean, fm.var
    );
    println!(
        "{:.0} samples/s (training steps), wall {:.1} s{}",
        r.samples_per_s,
        r.wall_s,
        a.out
            .as_ref()
            .map_or(String::new(), |p| format!(", result in {}", p.display()))
    );
    Ok(if r.status == RunStatus::Ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(3)
    })
}

/// `--out` and `--save-model` are writable and not the same file, checked before training.
fn check_outputs(out: Option<&Path>, model: Option<&Path>) -> Result<()> {
    if let (Some(o), Some(m)) = (out, model) {
        let same = o == m
            || matches!((o.canonicalize(), m.canonicalize()), (Ok(a), Ok(b)) if a == b)
            || (o.file_name() == m.file_name()
                && matches!(
                    (o.parent().map(std::fs::canonicalize), m.parent().map(std::fs::canonicalize)),
                    (Some(Ok(a)), Some(Ok(b))) if a == b
                ));
        if same {
            return Err(Error::invalid(
                "save-model",
                format!(
                    "{} is also the --out result file; give the model another name (e.g. model.safetensors)",
                    m.display()
                ),
            ));
        }
    }
    if let Some(o) = out {
        interop::check_writable(o, "out")?;
    }
    if let Some(m) = model {
        interop::check_writable(m, "save-model")?;
    }
    Ok(())
}
