//! `desktop train` and `desktop eval`: the per-epoch table, CSVs, the tutorial's figure, the
//! confusion matrix, and weight files.

use crate::checkpoint::{with_history, EpochRow};
use crate::{chart, checkpoint, limit_training, load_data, make_trainer, DataArgs, TrainArgs};
use anyhow::{Context, Result};
use burn_peer::AnyTrainer;
use charts::{ChartData, EpochPoint};
use engine::inspect::ConfusionMatrix;
use engine::model::{Adam, Model};
use engine::settings;
use engine::train::{block_on, BackendChoice, EvalSet, StepMetrics, TrainConfig};
use engine::weights::{self, WeightsMeta};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::{IsTerminal, Write};
use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::Instant;

fn mean(values: impl Iterator<Item = f32>) -> f32 {
    let (sum, n) = values.fold((0.0f64, 0usize), |(s, n), v| (s + v as f64, n + 1));
    (sum / n.max(1) as f64) as f32
}

/// The tutorial's run: 10 epochs, batch 128, Adam 1e-3, seed 0, full training-set evaluations.
fn apply_preset(args: &mut TrainArgs) {
    if args.preset.as_deref() == Some("tutorial") {
        (args.epochs, args.batch, args.lr, args.seed, args.eval_train) = (10, 128, 1e-3, 0, true);
    }
}

pub fn train(mut args: TrainArgs, model: &Model) -> Result<()> {
    apply_preset(&mut args);
    let resume = args.resume.as_deref().map(|path| checkpoint::read(path, model)).transpose()?;
    if let Some(r) = &resume {
        // The checkpoint's settings, so that the run continues exactly.
        (args.batch, args.lr, args.seed, args.limit) = (r.state.batch, r.state.lr, r.seed, Some(r.state.train_images));
        if args.epochs <= r.state.epoch {
            anyhow::bail!("the checkpoint has already trained {} epochs: give --epochs more than that (the total to reach)", r.state.epoch);
        }
    }
    let mut dataset = load_data(&args.data)?;
    limit_training(&mut dataset, args.limit)?;
    settings::EPOCHS.check(args.epochs).map_err(anyhow::Error::msg)?;
    let config = TrainConfig { batch: args.batch, adam: Adam { lr: args.lr, ..Adam::default() }, seed: args.seed, ..Default::default() };
    config.validate(dataset.train.len())?;
    std::fs::create_dir_all(&args.out).with_context(|| format!("cannot create {}", args.out.display()))?;
    if let Some(path) = &args.save {
        check_writable(path, "--save")?;
    }
    let checkpoint_path = args.out.join("checkpoint.safetensors");
    check_writable(&checkpoint_path, "checkpoints, in --out")?;
    let stop = checkpoint::interrupted()?;
    let mut trainer = make_trainer(args.backend, model.clone(), &dataset, config)?;
    if let Some(r) = &resume {
        trainer.resume_from(&r.weights, &r.state)?;
        eprintln!(
            "resuming at epoch {} step {} of {} (step {} in all)",
            r.state.epoch + 1,
            r.state.step_in_epoch,
            r.state.steps_per_epoch,
            r.state.steps
        );
    }
    let steps_per_epoch = trainer.clock().steps_per_epoch;
    let memory = match &trainer {
        AnyTrainer::Wgsl(t) => format!("; GPU memory {:.1} MB", t.gpu_memory_bytes() as f64 / 1e6),
        AnyTrainer::Burn(_) => String::new(),
    };
    eprintln!(
        "training on {} images ({} steps of {} per epoch), testing on {}{memory}",
        dataset.train.len(),
        steps_per_epoch,
        args.batch,
        dataset.test.len(),
    );

    // A resumed run goes on from the checkpoint's history.
    let history = resume.and_then(|r| r.history).unwrap_or_default();
    let (mut steps, mut rows): (Vec<StepMetrics>, Vec<EpochRow>) = (history.steps, history.rows);
    // A resumed run's table starts with the checkpoint's epochs.
    let mut printed = print_table(&rows, 0);
    let mut confusion = None;
    let style = ProgressStyle::with_template("epoch {prefix} [{bar:30}] {pos}/{len} {msg}").expect("valid template").progress_chars("=> ");
    let first_epoch = trainer.clock().epoch + 1;
    let meta = |epoch: usize, steps: &[StepMetrics], rows: &[EpochRow]| {
        let meta = WeightsMeta { epoch, test_accuracy: rows.last().map(|r| r.point.test_accuracy), seed: args.seed, ..Default::default() };
        with_history(meta, steps, rows)
    };
    for epoch in first_epoch..=args.epochs {
        let bar = ProgressBar::new(steps_per_epoch as u64).with_style(style.clone()).with_prefix(epoch.to_string());
        // Without a terminal (logs, CI) indicatif draws nothing: print a line every 10% instead.
        let plain = !std::io::stderr().is_terminal();
        let started = Instant::now();
        let this_epoch = trainer.run_epoch(
            |p| {
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
            },
            || stop.load(Ordering::SeqCst),
        )?;
        let seconds = started.elapsed().as_secs_f64();
        bar.finish();
        if stop.load(Ordering::SeqCst) {
            steps.extend(this_epoch);
            return interrupt(&args, model, &trainer, &steps, &rows, meta(epoch - 1, &steps, &rows));
        }
        let (test, logprobs) = block_on(trainer.evaluate_predictions(EvalSet::Test))?;
        confusion = Some(ConfusionMatrix::from_logprobs(model.classes, &logprobs, &dataset.test.labels));
        steps.extend(this_epoch);
        // The whole epoch's steps, those before a mid-epoch resume included.
        let first_step = ((epoch - 1) * steps_per_epoch) as u64;
        let this_epoch: Vec<StepMetrics> = steps.iter().filter(|m| m.step >= first_step).copied().collect();
        let mut point = EpochPoint::summarize(epoch, &this_epoch, &test);
        if args.eval_train {
            point.full_train = Some(block_on(trainer.evaluate(EvalSet::Train))?);
        }
        check_finite(&point)?;
        rows.push(EpochRow { point, seconds });
        printed = print_table(&rows, printed);
        if args.checkpoint_every.is_some_and(|n| epoch % n == 0) && epoch < args.epochs {
            checkpoint::write(&checkpoint_path, model, &trainer, &meta(epoch, &steps, &rows))?;
            write_csvs(&args.out, &steps, &rows, steps_per_epoch)?;
            eprintln!("checkpoint after epoch {epoch}: {}", checkpoint_path.display());
        }
    }
    if let AnyTrainer::Wgsl(t) = &trainer {
        eprintln!("GPU memory after training and evaluation: {:.1} MB", t.gpu_memory_bytes() as f64 / 1e6);
    }
    write_csvs(&args.out, &steps, &rows, steps_per_epoch)?;
    let png = args.out.join("training.png");
    let epochs: Vec<EpochPoint> = rows.iter().map(|r| r.point).collect();
    let tutorial_png = args.out.join("tutorial.png");
    chart::draw_tutorial(&tutorial_png, &epochs, args.epochs)?;
    chart::draw(&png, &ChartData { steps: steps.clone(), epochs, steps_per_epoch, planned_epochs: args.epochs })?;
    eprintln!(
        "wrote {}, {}, {} and {}",
        args.out.join("metrics.csv").display(),
        args.out.join("epochs.csv").display(),
        png.display(),
        tutorial_png.display()
    );
    if let Some(m) = confusion {
        write_confusion(&args.out, &m, &args.data.class_names())?;
    }
    if let Some(path) = &args.save {
        checkpoint::write(path, model, &trainer, &meta(args.epochs, &steps, &rows))?;
        eprintln!("saved weights to {}", path.display());
    }
    Ok(())
}

/// Ctrl-C: the checkpoint and the metrics so far, then a line saying how to go on.
fn interrupt(
    args: &TrainArgs,
    model: &Model,
    trainer: &AnyTrainer,
    steps: &[StepMetrics],
    rows: &[EpochRow],
    meta: WeightsMeta,
) -> Result<()> {
    let path = args.out.join("checkpoint.safetensors");
    checkpoint::write(&path, model, trainer, &meta)?;
    let c = trainer.clock();
    write_csvs(&args.out, steps, rows, c.steps_per_epoch)?;
    let next = match trainer {
        AnyTrainer::Wgsl(_) => format!("continue with `desktop train --resume {} --epochs {}`", path.display(), args.epochs),
        // Burn keeps Adam's moments inside its optimizer: the file holds plain weights.
        AnyTrainer::Burn(_) => {
            "these are plain weights (burn keeps Adam's state inside its optimizer), so this run cannot be resumed exactly".into()
        }
    };
    eprintln!(
        "interrupted at epoch {} step {} of {}: wrote {} and the metrics so far; {next}",
        c.epoch + 1,
        c.step_in_epoch,
        c.steps_per_epoch,
        path.display(),
    );
    std::process::exit(130)
}

/// Fails now, not after an hour of training, if the weights could not be saved to `path`.
/// An existing file is left as it is; a file this check creates is removed again.
fn check_writable(path: &Path, flag: &str) -> Result<()> {
    let existed = path.exists();
    std::fs::OpenOptions::new().append(true).create(true).open(path).with_context(|| {
        format!("cannot write the weights to {} ({flag}): choose a path in a directory that exists and is writable", path.display())
    })?;
    if !existed {
        let _ = std::fs::remove_file(path);
    }
    Ok(())
}

/// A NaN or infinite evaluation is an error, not a number to print.
fn check_finite(p: &EpochPoint) -> Result<()> {
    let full = p.full_train.map_or([0.0; 2], |t| [t.loss, t.accuracy]);
    if [p.test_loss, p.test_accuracy].iter().chain(&full).all(|v| v.is_finite()) {
        Ok(())
    } else {
        anyhow::bail!(
            "the evaluation after epoch {} gave a non-finite loss or accuracy: training diverged. Lower the learning rate.",
            p.epoch
        )
    }
}

/// The step means, then (with full training-set evaluations) those, then the test set.
/// Prints the rows not printed yet (`printed` of them were), with the header first.
/// Returns how many have been printed.
fn print_table(rows: &[EpochRow], printed: usize) -> usize {
    let Some(first) = rows.first() else { return 0 };
    let full = first.point.full_train.is_some();
    if printed == 0 {
        let extra = if full { " Full train loss | Full train acc |" } else { "" };
        let rule = if full { "----------------:|---------------:|" } else { "" };
        println!("| Epoch | Time (s) | Train loss | Train acc |{extra} Test loss | Test acc |");
        println!("|------:|---------:|-----------:|----------:|{rule}----------:|---------:|");
    }
    for row in &rows[printed.min(rows.len())..] {
        let r = &row.point;
        let extra = r.full_train.map_or(String::new(), |t| format!(" {:>15.4} | {:>13.2}% |", t.loss, 100.0 * t.accuracy));
        println!(
            "| {:>5} | {:>8.1} | {:>10.4} | {:>8.2}% |{extra} {:>9.4} | {:>7.2}% |",
            r.epoch,
            row.seconds,
            r.train_loss,
            100.0 * r.train_accuracy,
            r.test_loss,
            100.0 * r.test_accuracy
        );
    }
    let _ = std::io::stdout().flush();
    rows.len()
}

fn write_csvs(out: &Path, steps: &[StepMetrics], rows: &[EpochRow], steps_per_epoch: usize) -> Result<()> {
    let mut csv = String::from("step,epoch,loss,accuracy\n");
    for m in steps {
        csv += &format!("{},{},{},{}\n", m.step, m.step as usize / steps_per_epoch.max(1) + 1, m.loss, m.accuracy);
    }
    std::fs::write(out.join("metrics.csv"), csv)?;
    // train_*: means over the epoch's steps; full_train_*: the evaluation of the whole
    // training set after the epoch (empty without --eval-train or --preset tutorial).
    let mut csv = String::from("epoch,seconds,train_loss,train_accuracy,full_train_loss,full_train_accuracy,test_loss,test_accuracy\n");
    for r in rows {
        let p = &r.point;
        let (full_loss, full_acc) = p.full_train.map_or((String::new(), String::new()), |t| (t.loss.to_string(), t.accuracy.to_string()));
        csv += &format!(
            "{},{:.3},{},{},{full_loss},{full_acc},{},{}\n",
            p.epoch, r.seconds, p.train_loss, p.train_accuracy, p.test_loss, p.test_accuracy
        );
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

pub fn eval(data_args: DataArgs, path: &Path, backend: BackendChoice, out: Option<&Path>, model: &Model) -> Result<()> {
    let dataset = load_data(&data_args)?;
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let (w, meta) = weights::load(model, &bytes).with_context(|| format!("{} is not a weight file for this model", path.display()))?;
    // Evaluation needs no training batch: a batch of one keeps the setup small.
    let config = TrainConfig { batch: 1, ..Default::default() };
    let mut trainer = make_trainer(backend, model.clone(), &dataset, config)?;
    trainer.set_weights(&w)?;
    let (r, logprobs) = block_on(trainer.evaluate_predictions(EvalSet::Test))?;
    if !(r.loss.is_finite() && r.accuracy.is_finite()) {
        anyhow::bail!("evaluating {} gave a non-finite loss or accuracy: the weights are damaged.", path.display());
    }
    println!(
        "test loss {:.4}, test accuracy {:.2}% on {} images (weights: epoch {}, seed {})",
        r.loss,
        100.0 * r.accuracy,
        r.count,
        meta.epoch,
        meta.seed
    );
    if let Some(out) = out {
        write_confusion(out, &ConfusionMatrix::from_logprobs(model.classes, &logprobs, &dataset.test.labels), &data_args.class_names())?;
    }
    Ok(())
}
