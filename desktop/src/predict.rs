//! `desktop predict` reads digits from an idx3 image file with saved weights, `desktop export`
//! writes them as ONNX, and `desktop
//! verify` checks weights trained elsewhere against the f64 reference trained on the same
//! batches. Both use the engine's f64 reference; the page's end-to-end test relies on them.

use anyhow::{Context, Result};
use engine::data::{self, IMAGE_PIXELS};
use engine::inspect;
use engine::model::Model;
use engine::weights;
use std::path::Path;

pub fn predict(weights_path: &Path, images_path: &Path, json: bool, model: &Model) -> Result<()> {
    let bytes = std::fs::read(weights_path).with_context(|| format!("cannot read {}", weights_path.display()))?;
    let (w, _) = weights::load(model, &bytes).with_context(|| format!("{} is not a weight file for this model", weights_path.display()))?;
    let file = std::fs::read(images_path).with_context(|| format!("cannot read {}", images_path.display()))?;
    let pixels = data::parse_images(&images_path.display().to_string(), &file)?;
    for (i, image) in pixels.chunks_exact(IMAGE_PIXELS).enumerate() {
        let acts = inspect::cpu_activations(model, &w, image);
        let probs = inspect::probabilities(acts.last().context("the model has no layers")?);
        let best = inspect::argmax(&probs);
        if json {
            let list: Vec<String> = probs.iter().map(|p| format!("{p:e}")).collect();
            println!("{{\"image\":{i},\"predicted\":{best},\"probabilities\":[{}]}}", list.join(","));
        } else {
            let list: Vec<String> = probs.iter().map(|p| format!("{p:.4}")).collect();
            println!("image {i}: {best} ({:.1}%) · probabilities {}", 100.0 * probs[best], list.join(" "));
        }
    }
    Ok(())
}

/// `desktop export --onnx`: the weights as an ONNX model (engine::onnx).
pub fn export_onnx(weights_path: &Path, onnx_path: &Path, model: &Model) -> Result<()> {
    let bytes = std::fs::read(weights_path).with_context(|| format!("cannot read {}", weights_path.display()))?;
    let (w, _) = weights::load(model, &bytes).with_context(|| format!("{} is not a weight file for this model", weights_path.display()))?;
    let file = engine::onnx::export(model, &w).map_err(anyhow::Error::msg)?;
    std::fs::write(onnx_path, &file)
        .with_context(|| format!("cannot write {}: choose a path in a writable directory", onnx_path.display()))?;
    eprintln!(
        "wrote {} ({} bytes, ONNX opset {}): input `{}` N×1×28×28 = pixels / 255, output `{}` N×10 log-probabilities",
        onnx_path.display(),
        file.len(),
        engine::onnx::OPSET,
        engine::onnx::INPUT,
        engine::onnx::OUTPUT
    );
    Ok(())
}

/// What `desktop verify` needs: the weights to check and the run that made them.
pub struct VerifyArgs<'a> {
    pub weights: &'a Path,
    pub train: &'a engine::data::Split,
    pub config: engine::train::TrainConfig,
    pub epochs: usize,
    /// Error relative to each tensor's update.
    pub tolerance: f64,
}

/// How many steps `verify` replays reliably: past this, f32 and f64 training drift apart
/// (ReLU kinks, Adam on tiny gradients) for some seeds and not others.
const RELIABLE_STEPS: usize = 10;

/// Checks weights trained elsewhere (the page, another GPU) against the f64 reference
/// trained on the same batches from the same seed, tensor by tensor, relative to what
/// training changed. Fails when a tensor is off.
pub fn verify(args: VerifyArgs, model: &Model) -> Result<()> {
    use engine::train::replay;
    let bytes = std::fs::read(args.weights).with_context(|| format!("cannot read {}", args.weights.display()))?;
    let (w, meta) =
        weights::load(model, &bytes).with_context(|| format!("{} is not a weight file for this model", args.weights.display()))?;
    let init = engine::Weights::initial(model, args.config.seed);
    let steps = args.epochs * engine::StepClock::steps_per_epoch(args.train.len(), args.config.batch);
    eprintln!(
        "replaying {steps} steps of {} from seed {} on {} images in f64 (weights say epoch {}, seed {})",
        args.config.batch,
        args.config.seed,
        args.train.len(),
        meta.epoch,
        meta.seed
    );
    let too_long = steps > RELIABLE_STEPS;
    if too_long {
        eprintln!(
            "note: past about {RELIABLE_STEPS} steps f32 and f64 training drift apart chaotically (2.5e-2 of the update after 32 steps on lavapipe), so {steps} steps may fail however they were trained: verify a run of at most {RELIABLE_STEPS} steps with the same settings (fewer --epochs or a smaller --limit)"
        );
    }
    let reference = replay::train_on_the_same_batches(model, args.train, &args.config, &init, steps);
    let f64s = |v: &[f32]| v.iter().map(|&x| x as f64).collect::<Vec<f64>>();
    let mut checks = replay::compare_updates(&replay::param_tensors(model), &f64s(&init.params), &f64s(&w.params), &reference.params);
    checks.extend(replay::compare_updates(&replay::stats_tensors(model), &f64s(&init.stats), &f64s(&w.stats), &reference.stats));
    let noise_step = args.config.adam.lr as f64 * steps as f64;
    println!("| tensor | error / update | largest change (ours, reference) | ok |");
    println!("|---|---|---|---|");
    for c in &checks {
        let error = if c.zero_gradient { "zero gradient: size only".to_string() } else { format!("{:.2e}", c.error) };
        let ok = if c.passes(args.tolerance, noise_step) { "yes" } else { "NO" };
        println!("| {} | {error} | {:.2e}, {:.2e} | {ok} |", c.name, c.moved, c.reference_moved);
    }
    let worst = checks.iter().filter(|c| !c.zero_gradient).fold(0f64, |m, c| m.max(c.error));
    let failed: Vec<&str> = checks.iter().filter(|c| !c.passes(args.tolerance, noise_step)).map(|c| c.name.as_str()).collect();
    if !failed.is_empty() {
        let hint = if too_long {
            format!("Either they were trained with other settings, or {steps} steps are too many to replay exactly (see the note above).")
        } else {
            "Were they trained with these settings (--limit, --batch, --epochs, --seed, --lr)?".to_string()
        };
        anyhow::bail!(
            "{} tensor(s) differ from the f64 reference by more than {:e} of their update: {}. {hint}",
            failed.len(),
            args.tolerance,
            failed.join(", ")
        );
    }
    println!("verified: every tensor within {:e} of its update (worst {worst:.2e}) after {steps} steps", args.tolerance);
    Ok(())
}
