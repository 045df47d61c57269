//! Native desktop binary: a thin CLI over the engine (train, eval, info, bench).

mod chart;

use anyhow::{bail, Context, Result};
use charts::{ChartData, EpochPoint};
use clap::{Args, Parser, Subcommand};
use engine::data::{self, Dataset, Verification};
use engine::inspect::ConfusionMatrix;
use engine::model::{Adam, Model};
use engine::trainer::{block_on, kernel_totals, EvalSet, KernelTime, StepMetrics, TrainConfig, Trainer};
use engine::weights::{self, WeightsMeta};
use engine::wgpu;
use engine::GpuContext;
use engine::{AnyTrainer, BackendKind};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(Parser)]
#[command(name = "desktop", version, about = "Train the JAX tutorial CNN on MNIST with our own WGSL kernels (or burn's, to compare)")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train, print the per-epoch table, write metrics.csv, epochs.csv and training.png.
    Train(TrainArgs),
    /// Evaluate saved weights on the test set.
    Eval {
        #[command(flatten)]
        data: DataArgs,
        /// A .safetensors file written by `train --save`.
        #[arg(long)]
        weights: PathBuf,
        /// wgsl (ours), burn-wgpu or burn-cpu.
        #[arg(long, default_value = "wgsl", value_parser = parse_backend)]
        backend: BackendKind,
        /// Also write the confusion matrix here (confusion.csv, confusion.png).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// List GPU adapters and their limits.
    Info,
    /// Measure training images/s and per-kernel GPU time.
    Bench {
        #[command(flatten)]
        data: DataArgs,
        #[arg(long, default_value_t = 128)]
        batch: usize,
        /// Timed steps (after 2 warm-up steps).
        #[arg(long, default_value_t = 20)]
        steps: usize,
        /// Print one JSON object per backend instead of tables.
        #[arg(long)]
        json: bool,
        /// wgsl (ours), burn-wgpu, burn-cpu, or all (each in turn, with our speed-up over each).
        #[arg(long, default_value = "wgsl")]
        backend: String,
        /// Also list every dispatch of the profiled step in order, not only per-kernel sums.
        #[arg(long)]
        dispatches: bool,
    },
}

#[derive(Args)]
struct DataArgs {
    /// mnist or fashion-mnist: the default data directory and the class names.
    #[arg(long, default_value = "mnist", value_parser = ["mnist", "fashion-mnist"])]
    dataset: String,
    /// Directory with the four idx files (raw or .gz); default public/data/<dataset>. Checked
    /// against SHA256SUMS.decompressed when the directory has one (ours do), header checks
    /// only otherwise.
    #[arg(long)]
    data: Option<PathBuf>,
    /// Evaluate on the first N test images only (default: all).
    #[arg(long)]
    test_limit: Option<usize>,
}

#[derive(Args)]
struct TrainArgs {
    #[command(flatten)]
    data: DataArgs,
    #[arg(long, default_value_t = 1)]
    epochs: usize,
    #[arg(long, default_value_t = 128)]
    batch: usize,
    #[arg(long, default_value_t = 1e-3)]
    lr: f32,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Train on the first N training images only.
    #[arg(long)]
    limit: Option<usize>,
    /// Where metrics.csv, epochs.csv, training.png and the final confusion matrix
    /// (confusion.csv, confusion.png) go.
    #[arg(long, default_value = "out")]
    out: PathBuf,
    /// Also save the trained weights (.safetensors).
    #[arg(long)]
    save: Option<PathBuf>,
    /// wgsl (ours), burn-wgpu or burn-cpu.
    #[arg(long, default_value = "wgsl", value_parser = parse_backend)]
    backend: BackendKind,
}

fn parse_backend(name: &str) -> Result<BackendKind, String> {
    BackendKind::parse(name)
}

fn main() {
    if let Err(e) = run(Cli::parse()) {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Train(args) => train(args),
        Command::Eval { data, weights, backend, out } => eval(data, &weights, backend, out.as_deref()),
        Command::Info => info(),
        Command::Bench { data, batch, steps, json, backend, dispatches } => {
            let kinds = if backend == "all" {
                BackendKind::ALL.into_iter().filter(|k| k.compiled_in()).collect()
            } else {
                vec![BackendKind::parse(&backend).map_err(anyhow::Error::msg)?]
            };
            bench(data, batch, steps, json, dispatches, &kinds)
        }
    }
}

impl DataArgs {
    fn dir(&self) -> PathBuf {
        self.data.clone().unwrap_or_else(|| Path::new("public/data").join(&self.dataset))
    }
    fn class_names(&self) -> [&'static str; 10] {
        data::BuiltinDataset::by_id(&self.dataset).unwrap_or(data::MNIST).classes
    }
}

fn load_data(args: &DataArgs) -> Result<Dataset> {
    let dir = args.dir();
    let verify = Verification::from_dir(&dir)?;
    let mut dataset = data::load_dir(&dir, &verify)?;
    if let Some(n) = args.test_limit {
        dataset.test = dataset.test.truncated(n);
    }
    Ok(dataset)
}

fn acquire() -> Result<GpuContext> {
    let ctx = block_on(GpuContext::acquire())?;
    eprintln!("adapter: {}", ctx.describe());
    Ok(ctx)
}

/// A trainer on `kind`: ours on a freshly acquired GPU context, or burn on its device.
fn make_trainer(kind: BackendKind, dataset: &Dataset, config: TrainConfig) -> Result<AnyTrainer> {
    kind.require_compiled_in()?;
    Ok(match kind {
        BackendKind::Wgsl => AnyTrainer::Wgsl(Box::new(Trainer::new(&acquire()?, Model::tutorial(), dataset, config)?)),
        #[cfg(feature = "burn")]
        _ => {
            eprintln!("backend: {kind} (burn {})", if kind == BackendKind::BurnCpu { "flex CPU" } else { "wgpu, default adapter" });
            AnyTrainer::Burn(Box::new(engine::burn_backend::BurnTrainer::new(kind.burn_device()?, Model::tutorial(), dataset, config)?))
        }
        #[cfg(not(feature = "burn"))]
        _ => unreachable!("require_compiled_in refused it"),
    })
}

/// Per-epoch summary, as the tutorial prints it.
struct EpochRow {
    point: EpochPoint,
    seconds: f64,
}

fn mean(values: impl Iterator<Item = f32>) -> f32 {
    let (sum, n) = values.fold((0.0f64, 0usize), |(s, n), v| (s + v as f64, n + 1));
    (sum / n.max(1) as f64) as f32
}

fn train(args: TrainArgs) -> Result<()> {
    let mut dataset = load_data(&args.data)?;
    if let Some(n) = args.limit {
        if n == 0 {
            bail!("--limit must be at least 1");
        }
        dataset.train = dataset.train.truncated(n);
    }
    if args.epochs == 0 {
        bail!("--epochs must be at least 1");
    }
    let config = TrainConfig { batch: args.batch, adam: Adam { lr: args.lr, ..Adam::default() }, seed: args.seed, ..Default::default() };
    config.validate(dataset.train.len())?;
    std::fs::create_dir_all(&args.out).with_context(|| format!("cannot create {}", args.out.display()))?;
    let mut trainer = make_trainer(args.backend, &dataset, config)?;
    let steps_per_epoch = trainer.steps_per_epoch();
    let memory = match &trainer {
        AnyTrainer::Wgsl(t) => format!("; GPU memory {:.1} MB", t.gpu_memory_bytes() as f64 / 1e6),
        #[cfg(feature = "burn")]
        AnyTrainer::Burn(_) => String::new(),
    };
    eprintln!(
        "training on {} images ({} steps of {} per epoch), testing on {}{memory}",
        dataset.train.len(),
        steps_per_epoch,
        args.batch,
        dataset.test.len(),
    );

    let mut steps: Vec<StepMetrics> = Vec::new();
    let mut rows: Vec<EpochRow> = Vec::new();
    let mut confusion = None;
    let style = ProgressStyle::with_template("epoch {prefix} [{bar:30}] {pos}/{len} {msg}").expect("valid template").progress_chars("=> ");
    for epoch in 1..=args.epochs {
        let bar = ProgressBar::new(steps_per_epoch as u64).with_style(style.clone()).with_prefix(epoch.to_string());
        // Without a terminal (logs, CI) indicatif draws nothing: print a line every 10% instead.
        let plain = !std::io::stderr().is_terminal();
        let started = Instant::now();
        let this_epoch = trainer.run_epoch(|p| {
            let recent = &p.metrics[p.metrics.len().saturating_sub(20)..];
            let message = format!(
                "loss {:.4} acc {:.1}% {:.0} img/s",
                mean(recent.iter().map(|m| m.loss)),
                100.0 * mean(recent.iter().map(|m| m.accuracy)),
                p.step as f64 * args.batch as f64 / started.elapsed().as_secs_f64()
            );
            bar.set_position(p.step as u64);
            bar.set_message(message.clone());
            if plain && (p.step * 10 / p.steps != (p.step - 1) * 10 / p.steps) {
                eprintln!("epoch {epoch}: step {}/{} {message}", p.step, p.steps);
            }
        })?;
        let seconds = started.elapsed().as_secs_f64();
        bar.finish();
        let (test, logprobs) = block_on(trainer.evaluate_predictions(EvalSet::Test))?;
        confusion = Some(ConfusionMatrix::from_logprobs(10, &logprobs, &dataset.test.labels));
        rows.push(EpochRow { point: EpochPoint::summarize(epoch, &this_epoch, &test), seconds });
        steps.extend(this_epoch);
        print_table(&rows);
    }
    if let AnyTrainer::Wgsl(t) = &trainer {
        eprintln!("GPU memory after training and evaluation: {:.1} MB", t.gpu_memory_bytes() as f64 / 1e6);
    }
    write_csvs(&args.out, &steps, &rows, steps_per_epoch)?;
    let png = args.out.join("training.png");
    let epochs = rows.iter().map(|r| r.point).collect();
    chart::draw(&png, &ChartData { steps, epochs, steps_per_epoch, planned_epochs: args.epochs })?;
    eprintln!("wrote {}, {} and {}", args.out.join("metrics.csv").display(), args.out.join("epochs.csv").display(), png.display());
    if let Some(m) = confusion {
        write_confusion(&args.out, &m, &args.data.class_names())?;
    }
    if let Some(path) = args.save {
        let w = block_on(trainer.weights())?;
        let meta = WeightsMeta {
            epoch: args.epochs,
            test_accuracy: rows.last().map(|r| r.point.test_accuracy),
            seed: args.seed,
            ..Default::default()
        };
        let bytes = weights::save(&Model::tutorial(), &w, &meta)?;
        std::fs::write(&path, bytes).with_context(|| format!("cannot write {}", path.display()))?;
        eprintln!("saved weights to {}", path.display());
    }
    Ok(())
}

fn print_table(rows: &[EpochRow]) {
    let (r, seconds) = rows.last().map(|r| (&r.point, r.seconds)).expect("one row at least");
    if rows.len() == 1 {
        println!("| Epoch | Time (s) | Train loss | Train acc | Test loss | Test acc |");
        println!("|------:|---------:|-----------:|----------:|----------:|---------:|");
    }
    println!(
        "| {:>5} | {:>8.1} | {:>10.4} | {:>8.2}% | {:>9.4} | {:>7.2}% |",
        r.epoch,
        seconds,
        r.train_loss,
        100.0 * r.train_accuracy,
        r.test_loss,
        100.0 * r.test_accuracy
    );
    let _ = std::io::stdout().flush();
}

fn write_csvs(out: &Path, steps: &[StepMetrics], rows: &[EpochRow], steps_per_epoch: usize) -> Result<()> {
    let mut csv = String::from("step,epoch,loss,accuracy\n");
    for m in steps {
        csv += &format!("{},{},{},{}\n", m.step, m.step as usize / steps_per_epoch.max(1) + 1, m.loss, m.accuracy);
    }
    std::fs::write(out.join("metrics.csv"), csv)?;
    let mut csv = String::from("epoch,seconds,train_loss,train_accuracy,test_loss,test_accuracy\n");
    for r in rows {
        let p = &r.point;
        csv += &format!("{},{:.3},{},{},{},{}\n", p.epoch, r.seconds, p.train_loss, p.train_accuracy, p.test_loss, p.test_accuracy);
    }
    std::fs::write(out.join("epochs.csv"), csv)?;
    Ok(())
}

/// Writes confusion.csv and confusion.png into `out` and prints the per-class accuracy.
fn write_confusion(out: &Path, m: &ConfusionMatrix, names: &[&str]) -> Result<()> {
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let csv = out.join("confusion.csv");
    std::fs::write(&csv, m.to_csv(names)).with_context(|| format!("cannot write {}", csv.display()))?;
    let png = out.join("confusion.png");
    chart::draw_confusion(&png, m, names)?;
    let per_class: Vec<String> = m
        .per_class_accuracy()
        .iter()
        .enumerate()
        .map(|(c, a)| format!("{} {}", names[c], a.map_or_else(|| "–".to_string(), |a| format!("{:.1}%", 100.0 * a))))
        .collect();
    println!("per-class test accuracy: {}", per_class.join(", "));
    eprintln!("wrote {} and {}", csv.display(), png.display());
    Ok(())
}

fn eval(data_args: DataArgs, path: &Path, backend: BackendKind, out: Option<&Path>) -> Result<()> {
    let dataset = load_data(&data_args)?;
    let model = Model::tutorial();
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let (w, meta) = weights::load(&model, &bytes).with_context(|| format!("{} is not a weight file for this model", path.display()))?;
    // Evaluation needs no training batch: a batch of one keeps the setup small.
    let config = TrainConfig { batch: 1, ..Default::default() };
    let mut trainer = make_trainer(backend, &dataset, config)?;
    trainer.set_weights(&w)?;
    let (r, logprobs) = block_on(trainer.evaluate_predictions(EvalSet::Test))?;
    println!(
        "test loss {:.4}, test accuracy {:.2}% on {} images (weights: epoch {}, seed {})",
        r.loss,
        100.0 * r.accuracy,
        r.count,
        meta.epoch,
        meta.seed
    );
    if let Some(out) = out {
        write_confusion(out, &ConfusionMatrix::from_logprobs(10, &logprobs, &dataset.test.labels), &data_args.class_names())?;
    }
    Ok(())
}

fn info() -> Result<()> {
    let instance = wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env());
    let adapters = block_on(instance.enumerate_adapters(wgpu::Backends::all()));
    if adapters.is_empty() {
        bail!("no GPU adapter found. Install a Vulkan driver (on Debian: mesa-vulkan-drivers gives the lavapipe CPU device).");
    }
    for (i, a) in adapters.iter().enumerate() {
        let info = a.get_info();
        let l = a.limits();
        println!("[{i}] {} — {:?}, {:?}, driver {} {}", info.name, info.backend, info.device_type, info.driver, info.driver_info);
        println!(
            "    max storage buffer binding {} MB, max buffer {} MB, storage buffers/stage {}",
            l.max_storage_buffer_binding_size >> 20,
            l.max_buffer_size >> 20,
            l.max_storage_buffers_per_shader_stage
        );
        println!(
            "    workgroup: {} invocations, size {}x{}x{}, {} KB shared; {} workgroups/dimension",
            l.max_compute_invocations_per_workgroup,
            l.max_compute_workgroup_size_x,
            l.max_compute_workgroup_size_y,
            l.max_compute_workgroup_size_z,
            l.max_compute_workgroup_storage_size >> 10,
            l.max_compute_workgroups_per_dimension
        );
        println!("    timestamp queries: {}", a.features().contains(wgpu::Features::TIMESTAMP_QUERY));
    }
    Ok(())
}

/// One backend's measured training speed.
struct BenchResult {
    backend: BackendKind,
    adapter: String,
    images_per_s: f64,
    ms_per_step: f64,
    /// Ours only: allocated GPU memory and per-kernel time (name, ns, dispatches).
    gpu_memory_bytes: Option<u64>,
    kernels: Vec<(&'static str, f64, usize)>,
    /// Ours only: every dispatch of the profiled step, in order.
    dispatches: Vec<KernelTime>,
}

fn bench(data_args: DataArgs, batch: usize, steps: usize, json: bool, dispatches: bool, kinds: &[BackendKind]) -> Result<()> {
    if steps == 0 {
        bail!("--steps must be at least 1");
    }
    let dataset = load_data(&data_args)?;
    let mut results = Vec::new();
    for &kind in kinds {
        let r = bench_one(kind, &dataset, batch, steps)?;
        if json {
            print_bench_json(&r, batch, steps);
        } else {
            print_bench(&r, batch, steps);
            if dispatches {
                print_dispatches(&r);
            }
        }
        results.push(r);
    }
    if results.len() > 1 && !json {
        println!("\nside by side (batch {batch}, {steps} timed steps each, same process):");
        println!("  {:<10} {:>10} {:>12}", "backend", "images/s", "wgsl is");
        let ours = results.iter().find(|r| r.backend == BackendKind::Wgsl).map(|r| r.images_per_s);
        for r in &results {
            let ratio = ours.map(|o| format!("{:.2}x", o / r.images_per_s)).unwrap_or_default();
            println!("  {:<10} {:>10.1} {:>12}", r.backend.name(), r.images_per_s, ratio);
        }
    }
    Ok(())
}

/// Two warm-up steps, then `steps` timed ones, waiting for the device at both ends.
fn bench_one(kind: BackendKind, dataset: &Dataset, batch: usize, steps: usize) -> Result<BenchResult> {
    let config = TrainConfig { batch, ..Default::default() };
    let mut trainer = make_trainer(kind, dataset, config)?;
    for _ in 0..2 {
        trainer.step()?;
    }
    block_on(trainer.wait_idle())?;
    let started = Instant::now();
    for _ in 0..steps {
        trainer.step()?;
        trainer.poll_metrics()?;
    }
    block_on(trainer.wait_idle())?;
    let seconds = started.elapsed().as_secs_f64();
    let mut r = BenchResult {
        backend: kind,
        adapter: String::new(),
        images_per_s: (steps * batch) as f64 / seconds,
        ms_per_step: seconds * 1e3 / steps as f64,
        gpu_memory_bytes: None,
        kernels: Vec::new(),
        dispatches: Vec::new(),
    };
    match &mut trainer {
        AnyTrainer::Wgsl(t) => {
            r.adapter = t.context().describe();
            r.gpu_memory_bytes = Some(t.gpu_memory_bytes());
            r.dispatches = block_on(t.profile_step())?.unwrap_or_default();
            r.kernels = kernel_totals(&r.dispatches);
        }
        #[cfg(feature = "burn")]
        AnyTrainer::Burn(_) => {
            r.adapter = if kind == BackendKind::BurnCpu { "CPU (burn flex)".into() } else { "wgpu default adapter (burn-wgpu)".into() };
        }
    }
    Ok(r)
}

fn print_bench_json(r: &BenchResult, batch: usize, steps: usize) {
    let kernels: Vec<String> =
        r.kernels.iter().map(|(n, ns, c)| format!("{{\"kernel\":\"{n}\",\"ms\":{:.3},\"dispatches\":{c}}}", ns / 1e6)).collect();
    let memory = r.gpu_memory_bytes.map(|m| format!(",\"gpu_memory_bytes\":{m}")).unwrap_or_default();
    println!(
        "{{\"backend\":\"{}\",\"adapter\":\"{}\",\"batch\":{batch},\"steps\":{steps},\"images_per_s\":{:.2},\"ms_per_step\":{:.3}{memory},\"kernels\":[{}]}}",
        r.backend.name(),
        r.adapter.replace('"', "'"),
        r.images_per_s,
        r.ms_per_step,
        kernels.join(",")
    );
}

fn print_dispatches(r: &BenchResult) {
    println!("dispatches of the profiled step, in order:");
    for (i, d) in r.dispatches.iter().enumerate() {
        println!("  {i:>3} {:<24} {:>10.3} ms", d.kernel, d.nanos / 1e6);
    }
}

fn print_bench(r: &BenchResult, batch: usize, steps: usize) {
    println!("backend: {}, adapter: {}", r.backend.name(), r.adapter);
    println!("training: {:.1} images/s ({:.1} ms per step of {batch}, {steps} steps after 2 warm-up)", r.images_per_s, r.ms_per_step);
    let Some(memory) = r.gpu_memory_bytes else { return };
    println!("GPU memory allocated: {:.1} MB", memory as f64 / 1e6);
    if r.kernels.is_empty() {
        println!("per-kernel times: this adapter has no timestamp queries");
        return;
    }
    let total: f64 = r.kernels.iter().map(|k| k.1).sum();
    println!("per-kernel GPU time in one profiled step (one pass per dispatch):");
    println!("  {:<24} {:>10} {:>7} {:>10}", "kernel", "ms", "share", "dispatches");
    for (name, ns, count) in &r.kernels {
        println!("  {:<24} {:>10.3} {:>6.1}% {:>10}", name, ns / 1e6, 100.0 * ns / total, count);
    }
    println!("  {:<24} {:>10.3}", "total", total / 1e6);
}
