//! Native desktop binary: a thin CLI over the engine (train, eval, predict, lessons, info, bench).

mod bench;
mod chart;
mod checkpoint;
mod lessons;
mod predict;
mod selftest;
mod train;

use anyhow::{bail, Result};
use burn_peer::AnyTrainer;
use clap::{Args, Parser, Subcommand};
use engine::data::{self, Dataset, Verification};
use engine::model::Model;
use engine::settings;
use engine::train::{auto_backend, block_on, BackendChoice, BackendKind, TrainConfig};
use engine::wgpu;
use engine::GpuContext;
use std::path::{Path, PathBuf};

#[derive(Parser)]
#[command(name = "desktop", version, about = "Train the JAX tutorial CNN on MNIST with our own WGSL kernels (or burn's, to compare)")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train, print the per-epoch table, write metrics.csv, epochs.csv, training.png and
    /// tutorial.png (the post's figure).
    Train(TrainArgs),
    /// Evaluate saved weights on the test set.
    Eval {
        #[command(flatten)]
        data: DataArgs,
        /// A .safetensors file written by `train --save`.
        #[arg(long)]
        weights: PathBuf,
        /// wgsl (ours), burn-wgpu, burn-cpu, or auto (ours on a hardware GPU, burn-cpu on a
        /// software adapter such as lavapipe, or without one).
        #[arg(long, default_value = "wgsl", value_parser = parse_backend)]
        backend: BackendChoice,
        /// Also write the confusion matrix here (confusion.csv, confusion.png).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Read digits: each image's class probabilities from saved weights (CPU, f64 reference).
    Predict {
        /// A .safetensors file written by `train --save` or downloaded from the page.
        #[arg(long)]
        weights: PathBuf,
        /// An idx3 file of 28x28 images (raw or .gz), e.g. the page's drawing saved as idx.
        #[arg(long)]
        images: PathBuf,
        /// One JSON object per image, probabilities at full precision.
        #[arg(long)]
        json: bool,
    },
    /// Write saved weights as an ONNX model (opset 13, evaluation mode) for any ONNX
    /// runtime: input `image` N×1×28×28 (pixels / 255), output `log_probs` N×10.
    Export {
        /// A .safetensors file written by `train --save` or downloaded from the page.
        #[arg(long)]
        weights: PathBuf,
        /// Where to write the .onnx file.
        #[arg(long)]
        onnx: PathBuf,
    },
    /// Check weights trained elsewhere (the page, another GPU) against the f64 reference
    /// trained on the same batches from the same seed, tensor by tensor.
    Verify {
        #[command(flatten)]
        data: DataArgs,
        /// The .safetensors file to check.
        #[arg(long)]
        weights: PathBuf,
        /// The run's settings: training images, batch, epochs, seed and learning rate.
        #[arg(long)]
        limit: Option<usize>,
        #[arg(long, default_value_t = 128)]
        batch: usize,
        #[arg(long, default_value_t = 1)]
        epochs: usize,
        #[arg(long, default_value_t = 0)]
        seed: u64,
        #[arg(long, default_value_t = 1e-3)]
        lr: f32,
        /// Largest error allowed, relative to each tensor's update. f32 and f64 training
        /// drift apart step by step (chaotically: ReLU kinks, Adam on tiny gradients), so this
        /// suits runs of up to about 10 steps.
        #[arg(long, default_value_t = 2e-3)]
        tolerance: f64,
    },
    /// The tutorial's first half on this GPU: jit, grad and vmap, as tables.
    Lessons(lessons::LessonArgs),
    /// List GPU adapters and their limits.
    Info,
    /// Check every WGSL kernel on this GPU against the f64 reference (poisoned outputs,
    /// batches 1, 3 and 127, every register block). Exits non-zero on any difference.
    Selftest {
        /// Only list the cases.
        #[arg(long)]
        list: bool,
        /// One JSON object per case, with every check's error and tolerance.
        #[arg(long)]
        json: bool,
    },
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
        /// Ours: steps per submission, `auto` (about 100 ms of work each, as training does)
        /// or a number up to 256. A comma-separated list runs each in turn, side by side.
        #[arg(long, default_value = "auto", value_delimiter = ',', value_parser = bench::parse_per_submission)]
        per_submission: Vec<bench::PerSubmission>,
    },
}

#[derive(Args)]
pub struct DataArgs {
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
pub struct TrainArgs {
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
    /// Also save the trained weights (.safetensors), with Adam's state, so that
    /// `--resume` can continue from them.
    #[arg(long)]
    save: Option<PathBuf>,
    /// Write a checkpoint (weights and Adam's state) to OUT/checkpoint.safetensors after
    /// every N epochs, with the metrics so far. Ctrl-C always writes one.
    #[arg(long)]
    checkpoint_every: Option<usize>,
    /// Continue a run exactly from a checkpoint (or a --save file), with its batch, learning
    /// rate, seed and number of training images; --epochs is the total to reach.
    #[arg(long, conflicts_with_all = ["batch", "lr", "seed", "limit", "preset"])]
    resume: Option<PathBuf>,
    /// wgsl (ours), burn-wgpu, burn-cpu, or auto (ours on a hardware GPU, burn-cpu on a
    /// software adapter such as lavapipe, or without one).
    #[arg(long, default_value = "wgsl", value_parser = parse_backend)]
    backend: BackendChoice,
    /// tutorial: the post's run (10 epochs, batch 128, Adam 1e-3, seed 0), with the whole
    /// training set evaluated after every epoch.
    #[arg(long, value_parser = ["tutorial"], conflicts_with_all = ["epochs", "batch", "lr", "seed"])]
    preset: Option<String>,
    /// Evaluate the whole training set after every epoch (BatchNorm in evaluation mode), as
    /// the tutorial does; its numbers fill the table's and tutorial.png's training columns.
    #[arg(long)]
    eval_train: bool,
}

fn parse_backend(name: &str) -> Result<BackendChoice, String> {
    BackendChoice::parse(name)
}

fn main() {
    if let Err(e) = run(Cli::parse()) {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

fn run(cli: Cli) -> Result<()> {
    // The one model every command trains, evaluates or benchmarks.
    let model = Model::tutorial();
    match cli.command {
        Command::Train(args) => train::train(args, &model),
        Command::Eval { data, weights, backend, out } => train::eval(data, &weights, backend, out.as_deref(), &model),
        Command::Predict { weights, images, json } => predict::predict(&weights, &images, json, &model),
        Command::Export { weights, onnx } => predict::export_onnx(&weights, &onnx, &model),
        Command::Verify { data, weights, limit, batch, epochs, seed, lr, tolerance } => {
            let mut dataset = load_data(&data)?;
            limit_training(&mut dataset, limit)?;
            settings::EPOCHS.check(epochs).map_err(anyhow::Error::msg)?;
            let config = TrainConfig { batch, seed, adam: engine::model::Adam { lr, ..Default::default() }, ..Default::default() };
            config.validate(dataset.train.len())?;
            let args = predict::VerifyArgs { weights: &weights, train: &dataset.train, config, epochs, tolerance };
            predict::verify(args, &model)
        }
        Command::Lessons(args) => lessons::lessons(args, &model),
        Command::Info => info(),
        Command::Selftest { list, json } => selftest::selftest(list, json),
        Command::Bench { data, batch, steps, json, backend, dispatches, per_submission } => {
            let kinds = if backend == "all" {
                BackendKind::ALL.into_iter().filter(|&k| burn_peer::compiled_in(k)).collect()
            } else {
                vec![BackendKind::parse(&backend).map_err(anyhow::Error::msg)?]
            };
            bench::bench(bench::BenchArgs { data, batch, steps, json, dispatches, kinds, per_submission }, &model)
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

/// Keeps the first `limit` training images (checked against the data).
fn limit_training(dataset: &mut Dataset, limit: Option<usize>) -> Result<()> {
    if let Some(n) = limit {
        settings::TRAINING_IMAGES.at_most(dataset.train.len()).check(n).map_err(anyhow::Error::msg)?;
        dataset.train = dataset.train.truncated(n);
    }
    Ok(())
}

fn load_data(args: &DataArgs) -> Result<Dataset> {
    let dir = args.dir();
    let verify = Verification::from_dir(&dir)?;
    let mut dataset = data::load_dir(&dir, &verify)?;
    if let Some(n) = args.test_limit {
        settings::TEST_IMAGES.at_most(dataset.test.len()).check(n).map_err(anyhow::Error::msg)?;
        dataset.test = dataset.test.truncated(n);
    }
    Ok(dataset)
}

fn acquire() -> Result<GpuContext> {
    let ctx = block_on(GpuContext::acquire())?;
    eprintln!("adapter: {}", ctx.describe());
    Ok(ctx)
}

/// A trainer on `choice`: ours on a freshly acquired GPU context, or burn on its device.
/// Auto looks at the adapter first and says what it picked and why.
fn make_trainer(choice: BackendChoice, model: Model, dataset: &Dataset, config: TrainConfig) -> Result<AnyTrainer> {
    let (kind, found) = match choice {
        BackendChoice::Fixed(kind) => (kind, None),
        BackendChoice::Auto => {
            let found = block_on(GpuContext::acquire()).ok();
            let auto = auto_backend(found.as_ref().map(|ctx| &ctx.info));
            eprintln!("backend: auto chose {}: {}", auto.kind, auto.reason);
            (auto.kind, found)
        }
    };
    let ctx = match (kind, found) {
        (BackendKind::Wgsl, Some(ctx)) => {
            eprintln!("adapter: {}", ctx.describe());
            Some(ctx)
        }
        (BackendKind::Wgsl, None) => Some(acquire()?),
        _ => {
            eprintln!("backend: {kind} (burn {})", if kind == BackendKind::BurnCpu { "flex CPU" } else { "wgpu, default adapter" });
            None
        }
    };
    Ok(AnyTrainer::start(kind, ctx.as_ref(), model, dataset, config)?)
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
