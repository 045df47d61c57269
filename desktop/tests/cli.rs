//! The desktop binary as a user runs it: a short training run writes its table, CSVs, chart
//! and weights; `eval` reads the weights back; bad input fails with a clear message.

use std::path::Path;
use std::process::{Command, Output};

fn desktop(args: &[&str]) -> Output {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let xdg = std::env::temp_dir().join("desktop-cli-xdg");
    std::fs::create_dir_all(&xdg).unwrap();
    Command::new(env!("CARGO_BIN_EXE_desktop")).args(args).current_dir(root).env("XDG_RUNTIME_DIR", xdg).output().unwrap()
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

#[test]
fn train_then_eval_a_small_run() {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().to_str().unwrap();
    let weights = out.path().join("w.safetensors");
    // 160 images in batches of 32: 5 steps an epoch, 10 in all, within what `verify`'s
    // tolerance suits (f32 and f64 drift apart chaotically: at 16 steps some seeds pass and
    // some do not).
    let o = desktop(&[
        "train",
        "--limit",
        "160",
        "--batch",
        "32",
        "--epochs",
        "2",
        "--test-limit",
        "100",
        "--out",
        dir,
        "--save",
        weights.to_str().unwrap(),
    ]);
    let log = text(&o);
    assert!(o.status.success(), "{log}");
    assert!(log.contains("| Epoch |") && log.contains("|     2 |"), "per-epoch table: {log}");
    let metrics = std::fs::read_to_string(out.path().join("metrics.csv")).unwrap();
    assert_eq!(metrics.lines().count(), 1 + 2 * 5, "a row per step: {metrics}");
    let epochs = std::fs::read_to_string(out.path().join("epochs.csv")).unwrap();
    assert_eq!(epochs.lines().count(), 3);
    // Without --eval-train the full training-set columns stay empty.
    assert!(epochs.lines().nth(1).unwrap().split(',').nth(4) == Some(""), "{epochs}");
    for png in ["training.png", "tutorial.png"] {
        let bytes = std::fs::read(out.path().join(png)).unwrap();
        assert_eq!(&bytes[1..4], b"PNG", "{png}");
    }

    // The final evaluation's confusion matrix: a header and one row per class, 100 in all.
    let confusion = std::fs::read_to_string(out.path().join("confusion.csv")).unwrap();
    assert_eq!(confusion.lines().count(), 11, "{confusion}");
    assert!(confusion.starts_with("true\\predicted,0,1,2"), "{confusion}");
    let counted: u32 = confusion.lines().skip(1).flat_map(|l| l.split(',').skip(1).take(10).map(|c| c.parse::<u32>().unwrap())).sum();
    assert_eq!(counted, 100, "{confusion}");
    assert!(log.contains("per-class test accuracy: 0 "), "{log}");
    let png = std::fs::read(out.path().join("confusion.png")).unwrap();
    assert_eq!(&png[1..4], b"PNG");

    let eval_out = out.path().join("eval");
    let o = desktop(&["eval", "--weights", weights.to_str().unwrap(), "--test-limit", "100", "--out", eval_out.to_str().unwrap()]);
    let log = text(&o);
    assert!(o.status.success(), "{log}");
    assert!(log.contains("on 100 images") && log.contains("epoch 2"), "{log}");
    let again = std::fs::read_to_string(eval_out.join("confusion.csv")).unwrap();
    assert_eq!(again, confusion, "eval of the saved weights gives the training run's final confusion matrix");

    // predict reads the same 100 test images through the f64 reference: the same right answers.
    let test =
        engine::data::load_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../public/data/mnist"), &engine::data::Verification::mnist())
            .unwrap()
            .test
            .truncated(100);
    let idx = out.path().join("first100.idx");
    std::fs::write(&idx, engine::data::encode_images(&test.images)).unwrap();
    let o = desktop(&["predict", "--weights", weights.to_str().unwrap(), "--images", idx.to_str().unwrap(), "--json"]);
    assert!(o.status.success(), "{}", text(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    let predicted: Vec<usize> =
        stdout.lines().map(|l| l.split("\"predicted\":").nth(1).unwrap().split(',').next().unwrap().parse().unwrap()).collect();
    assert_eq!(predicted.len(), 100, "{stdout}");
    let right = predicted.iter().zip(&test.labels).filter(|(p, &l)| **p == l as usize).count() as u32;
    let diagonal: u32 = confusion.lines().skip(1).enumerate().map(|(i, l)| l.split(',').nth(1 + i).unwrap().parse::<u32>().unwrap()).sum();
    assert_eq!(right, diagonal, "predict and the GPU evaluation agree on which images are right");

    // verify replays the run in f64: every tensor agrees; under another seed none does.
    let run = ["--limit", "160", "--batch", "32", "--epochs", "2"];
    let o = desktop(&[&["verify", "--weights", weights.to_str().unwrap()][..], &run].concat());
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("verified: every tensor within 2e-3 of its update") && text(&o).contains("after 10 steps"), "{}", text(&o));
    assert!(text(&o).contains("| bn1.gamma |") && text(&o).contains("| bn3.running_var |"), "{}", text(&o));
    let o = desktop(&[&["verify", "--weights", weights.to_str().unwrap(), "--seed", "1"][..], &run].concat());
    assert!(!o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("differ from the f64 reference") && text(&o).contains("bn1.gamma"), "{}", text(&o));
    assert!(text(&o).contains("Were they trained with these settings") && !text(&o).contains("note: past"), "{}", text(&o));
    // Past 10 steps the failure says the run may be too long to replay, rather than only
    // blaming the settings (these weights had 10 steps; 4 epochs asks for 20).
    let o = desktop(&["verify", "--weights", weights.to_str().unwrap(), "--limit", "160", "--batch", "32", "--epochs", "4"]);
    assert!(!o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("note: past about 10 steps") && text(&o).contains("20 steps are too many to replay exactly"), "{}", text(&o));
}

#[test]
fn the_tutorial_preset_evaluates_the_whole_training_set_every_epoch() {
    let out = tempfile::tempdir().unwrap();
    // The preset's 10 epochs of batch 128, on 256 images so that the test stays short.
    let o = desktop(&["train", "--preset", "tutorial", "--limit", "256", "--test-limit", "50", "--out", out.path().to_str().unwrap()]);
    let log = text(&o);
    assert!(o.status.success(), "{log}");
    assert!(log.contains("Full train acc") && log.contains("|    10 |"), "{log}");
    let epochs = std::fs::read_to_string(out.path().join("epochs.csv")).unwrap();
    let header = epochs.lines().next().unwrap();
    assert_eq!(header, "epoch,seconds,train_loss,train_accuracy,full_train_loss,full_train_accuracy,test_loss,test_accuracy");
    assert_eq!(epochs.lines().count(), 11, "{epochs}");
    for line in epochs.lines().skip(1) {
        let cells: Vec<f64> = line.split(',').map(|c| c.parse().unwrap()).collect();
        let (full_loss, full_accuracy) = (cells[4], cells[5]);
        // A real evaluation of 256 images: a finite loss and a whole number of them right.
        assert!(full_loss.is_finite() && full_loss > 0.0, "{line}");
        assert!((full_accuracy * 256.0 - (full_accuracy * 256.0).round()).abs() < 1e-3, "{line}");
    }
    assert_eq!(&std::fs::read(out.path().join("tutorial.png")).unwrap()[1..4], b"PNG");

    // The preset sets epochs, batch, learning rate and seed: naming one as well is refused.
    let o = desktop(&["train", "--preset", "tutorial", "--epochs", "3"]);
    assert!(!o.status.success() && text(&o).contains("--epochs"), "{}", text(&o));
}

#[test]
fn lessons_print_the_three_tables() {
    let o = desktop(&["lessons", "--repeats", "2", "--expr", "x^2", "--at", "2"]);
    let log = text(&o);
    assert!(o.status.success(), "{log}");
    for heading in ["## 1.1 jit", "## 1.2 grad", "## 1.3 vmap"] {
        assert!(log.contains(heading), "{heading}: {log}");
    }
    // The tutorial's derivatives of x² at 2, and "yes" in every equality column.
    assert!(log.contains("| x^2 | 2 | 4 | 4 | 2 | 0 |"), "{log}");
    let rows_ending_yes = log.lines().filter(|l| l.ends_with("| yes |")).count();
    assert_eq!(rows_ending_yes, 2 + 2 + 2, "jit, matrix and network rows: {log}");
    assert!(!log.contains("| NO |"), "{log}");
    let gradient_rows = log.lines().filter(|l| l.starts_with("| conv") || l.starts_with("| bn") || l.starts_with("| dense")).count();
    assert_eq!(gradient_rows, 6, "{log}");

    let o = desktop(&["lessons", "--expr", "x + * 2"]);
    assert!(!o.status.success());
    assert!(text(&o).contains("x + * 2\n    ^\nat character 5"), "{}", text(&o));
    let o = desktop(&["lessons", "--param", "dense.bias:10"]);
    assert!(!o.status.success() && text(&o).contains("from 0 to 9"), "{}", text(&o));
}

#[test]
fn bad_input_fails_with_a_clear_message() {
    let o = desktop(&["train", "--lr", "0", "--limit", "256"]);
    assert!(!o.status.success());
    assert!(text(&o).contains("learning rate must be a number above 0 and at most 1, e.g. 0.001 (got \"0\")"), "{}", text(&o));

    let o = desktop(&["train", "--data", "/nonexistent/dir"]);
    assert!(!o.status.success());
    assert!(text(&o).contains("train-images-idx3-ubyte") && text(&o).contains("not found"), "{}", text(&o));

    let o = desktop(&["train", "--test-limit", "0", "--limit", "256"]);
    assert!(!o.status.success());
    assert!(text(&o).contains("test images must be a whole number from 1 to 10000 (got \"0\")"), "{}", text(&o));

    // An unwritable --save path fails before any training.
    let o = desktop(&["train", "--limit", "256", "--save", "/nonexistent/dir/w.safetensors"]);
    assert!(!o.status.success());
    assert!(text(&o).contains("cannot write the weights to /nonexistent/dir/w.safetensors (--save)"), "{}", text(&o));
    assert!(!text(&o).contains("training on"), "{}", text(&o));

    let junk = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(junk.path(), b"junk").unwrap();
    let o = desktop(&["eval", "--weights", junk.path().to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(text(&o).contains("not a weight file"), "{}", text(&o));
    assert!(!text(&o).contains("panicked"));
}

#[test]
fn info_lists_adapters_and_bench_reports_json() {
    let o = desktop(&["info"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("storage buffer binding"));
    let o = desktop(&["bench", "--batch", "16", "--steps", "2", "--json"]);
    assert!(o.status.success(), "{}", text(&o));
    let line = String::from_utf8_lossy(&o.stdout);
    for key in ["\"images_per_s\":", "\"backend\":\"wgsl\"", "\"adapter\":", "\"gpu_memory_bytes\":", "\"kernels\":"] {
        assert!(line.contains(key), "{key} in {line}");
    }
}

/// Weights trained by burn's CPU backend evaluate the same with our kernels: the backends
/// share one weight format and one model.
#[test]
fn burn_cpu_trains_and_our_engine_evaluates_its_weights() {
    let out = tempfile::tempdir().unwrap();
    let weights = out.path().join("burn.safetensors");
    let args = ["--limit", "64", "--batch", "16", "--test-limit", "50", "--out", out.path().to_str().unwrap()];
    let o = desktop(&[&["train", "--backend", "burn-cpu", "--save", weights.to_str().unwrap()][..], &args].concat());
    let log = text(&o);
    assert!(o.status.success(), "{log}");
    assert!(log.contains("backend: burn-cpu"), "{log}");
    let row = log.lines().find(|l| l.starts_with("|     1 |")).unwrap_or_else(|| panic!("epoch row in {log}"));
    let burn_test_acc: f32 = row.split('|').nth(6).unwrap().trim().trim_end_matches('%').parse().unwrap();

    let eval = |backend: &str| {
        let o = desktop(&["eval", "--backend", backend, "--weights", weights.to_str().unwrap(), "--test-limit", "50"]);
        let log = text(&o);
        assert!(o.status.success(), "{log}");
        let acc = log.split("test accuracy ").nth(1).and_then(|s| s.split('%').next()).unwrap_or_else(|| panic!("{log}"));
        acc.parse::<f32>().unwrap()
    };
    // 50 images: one image is 2%, so equal accuracy means the same predictions up to a tie.
    assert!((eval("wgsl") - burn_test_acc).abs() < 2.1, "wgsl evaluates burn's weights like burn did ({burn_test_acc}%)");
    assert_eq!(eval("burn-cpu"), burn_test_acc);
    // Auto on this machine's software adapter (lavapipe or llvmpipe) picks burn's CPU backend
    // and says why; its predictions are burn-cpu's.
    let o = desktop(&["eval", "--backend", "auto", "--weights", weights.to_str().unwrap(), "--test-limit", "50"]);
    let log = text(&o);
    assert!(log.contains("backend: auto chose burn-cpu: ") && log.contains("is a software renderer"), "{log}");
    assert_eq!(eval("auto"), burn_test_acc);
}

#[test]
fn bench_all_backends_side_by_side() {
    let o = desktop(&["bench", "--backend", "all", "--batch", "8", "--steps", "1"]);
    let log = text(&o);
    assert!(o.status.success(), "{log}");
    assert!(log.contains("side by side"), "{log}");
    for backend in ["wgsl", "burn-wgpu", "burn-cpu"] {
        assert!(log.lines().any(|l| l.trim_start().starts_with(backend) && l.contains('x')), "{backend} row with a ratio in {log}");
    }
    let o = desktop(&["bench", "--backend", "tpu"]);
    assert!(!o.status.success() && text(&o).contains("unknown backend `tpu`"), "{}", text(&o));
}

#[test]
fn export_writes_the_engines_onnx_file_and_refuses_bad_input() {
    use engine::{model::Model, onnx, weights, Weights};
    let dir = tempfile::tempdir().unwrap();
    let model = Model::tutorial();
    let w = Weights::initial(&model, 4);
    let saved = dir.path().join("w.safetensors");
    std::fs::write(&saved, weights::save(&model, &w, &Default::default()).unwrap()).unwrap();
    let out = dir.path().join("model.onnx");
    let o = desktop(&["export", "--weights", saved.to_str().unwrap(), "--onnx", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("ONNX opset 13") && text(&o).contains("`image` N×1×28×28"), "{}", text(&o));
    // The same bytes as the engine's export (which engine/tests/onnx.rs runs in tract).
    assert!(std::fs::read(&out).unwrap() == onnx::export(&model, &w).unwrap(), "the file is the engine's export");

    let o = desktop(&["export", "--weights", "/nonexistent.safetensors", "--onnx", out.to_str().unwrap()]);
    assert!(!o.status.success() && text(&o).contains("cannot read /nonexistent.safetensors"), "{}", text(&o));
    let o = desktop(&["export", "--weights", saved.to_str().unwrap(), "--onnx", "/nonexistent/dir/m.onnx"]);
    assert!(!o.status.success() && text(&o).contains("cannot write /nonexistent/dir/m.onnx"), "{}", text(&o));
    assert!(!text(&o).contains("panicked"));
}
