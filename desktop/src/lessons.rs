//! `desktop lessons`: the tutorial's first half (jit, grad, vmap) on this machine's GPU,
//! printed as the same tables the page shows.

use crate::{acquire, load_data, DataArgs};
use anyhow::{anyhow, bail, Context, Result};
use clap::Args;
use engine::lessons::net_grad::{self, ParamPick};
use engine::lessons::{derivatives_table, expr, jet, jit, vmap, Table};
use engine::model::Model;
use engine::train::{block_on, Weights};
use engine::weights;
use std::path::PathBuf;

#[derive(Args)]
pub struct LessonArgs {
    #[command(flatten)]
    data: DataArgs,
    /// The grad lesson's function of x (x, numbers, + - * / ^, exp log sin cos tanh relu selu).
    #[arg(long, default_value = "x^2", allow_hyphen_values = true)]
    expr: String,
    /// Where to take its derivatives.
    #[arg(long, default_value_t = 2.0, allow_hyphen_values = true)]
    at: f64,
    /// Timed runs of each version, after a first run timed on its own.
    #[arg(long, default_value_t = 20)]
    repeats: usize,
    /// Weights for the network parts (a .safetensors from `train --save`); default: the
    /// initial weights from seed 0.
    #[arg(long)]
    weights: Option<PathBuf>,
    /// The network gradient at these parameters, e.g. bn1.gamma:3 (repeatable); default: one
    /// in each kind of layer.
    #[arg(long = "param")]
    params: Vec<String>,
}

fn print(title: &str, summary: &str, table: &Table) {
    println!("\n## {title}\n");
    if !summary.is_empty() {
        println!("{summary}\n");
    }
    print!("{}", table.to_markdown());
}

pub fn lessons(args: LessonArgs, model: &Model) -> Result<()> {
    if !(1..=1000).contains(&args.repeats) {
        bail!("--repeats must be from 1 to 1000 (got {})", args.repeats);
    }
    if !args.at.is_finite() {
        bail!("--at must be a finite number (got {})", args.at);
    }
    let expression = expr::parse(&args.expr).map_err(|e| anyhow!("--expr is not a valid expression:\n{}", e.pointed(&args.expr)))?;
    let picks = if args.params.is_empty() {
        net_grad::default_picks()
    } else {
        args.params.iter().map(|p| ParamPick::parse(p).map_err(|e| anyhow!("--param {e}"))).collect::<Result<_>>()?
    };
    for p in &picks {
        p.offset(model).map_err(|e| anyhow!("--param {}:{}: {e}", p.tensor, p.index))?;
    }
    let weights = match &args.weights {
        Some(path) => {
            let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
            weights::load(model, &bytes).with_context(|| format!("{} is not a weight file for this model", path.display()))?.0
        }
        None => Weights::initial(model, 0),
    };
    let dataset = load_data(&args.data)?;
    let ctx = acquire()?;

    let report = block_on(jit::run(&ctx, jit::VALUES, args.repeats))?;
    print("1.1 jit: SELU on a million values", &report.summary(), &report.table());

    let table = derivatives_table(&args.expr, args.at, jet::derivatives(&expression, args.at));
    print("1.2 grad: nested derivatives (order-3 jets)", "", &table);
    let grads = block_on(net_grad::run(&ctx, model, &weights, &dataset.train, &picks))?;
    let summary = format!("The network's loss on the first {} training images: {:.6}.", grads.batch, grads.loss);
    print("1.2 grad: the network, ours against finite differences of the f64 reference", &summary, &grads.table());

    let report = block_on(vmap::matvec(&ctx, args.repeats))?;
    print("1.3 vmap: a 150x100 matrix on 10 vectors", &report.summary(), &report.table());
    let report = block_on(vmap::network(&ctx, model, &weights, &dataset.test, args.repeats.min(5)))?;
    print("1.3 vmap: the network on 128 test images", &report.summary(), &report.table());
    Ok(())
}
