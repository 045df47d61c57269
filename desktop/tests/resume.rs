//! Checkpoints from the command line: a run saved and resumed gives bit-for-bit the weights
//! and Adam's moments of the run done straight through; Ctrl-C mid-epoch writes a checkpoint
//! and the metrics so far, exits with 130 and says how to continue, and continuing from it
//! is exact too; a file without training state is refused for --resume with the reason. The
//! resumed run's CSVs equal the straight run's (the checkpoint carries the history).

use engine::model::Model;
use engine::weights::{self, TrainingState};
use engine::Weights;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn desktop_command(args: &[&str]) -> Command {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let xdg = std::env::temp_dir().join("desktop-cli-xdg");
    std::fs::create_dir_all(&xdg).unwrap();
    let mut c = Command::new(env!("CARGO_BIN_EXE_desktop"));
    c.args(args).current_dir(root).env("XDG_RUNTIME_DIR", xdg);
    c
}

fn desktop(args: &[&str]) -> (Output, String) {
    let o = desktop_command(args).output().unwrap();
    let log = format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    (o, log)
}

fn checkpoint(path: &Path) -> (Weights, TrainingState) {
    let (w, _, state) = weights::load_checkpoint(&Model::tutorial(), &std::fs::read(path).unwrap()).unwrap();
    (w, state.expect("the file carries the training state"))
}

/// Parameters, statistics and both moments, bit for bit.
fn assert_same_bits(a: &Path, b: &Path) {
    let ((wa, sa), (wb, sb)) = (checkpoint(a), checkpoint(b));
    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert!(bits(&wa.params) == bits(&wb.params), "parameters differ");
    assert!(bits(&wa.stats) == bits(&wb.stats), "running statistics differ");
    assert!(bits(&sa.m) == bits(&sb.m) && bits(&sa.v) == bits(&sb.v), "Adam's moments differ");
    assert_eq!(sa.steps, sb.steps);
}

/// metrics.csv byte for byte, and epochs.csv but for the seconds each epoch took: the
/// checkpoint carries the history, so a resumed run's files cover the whole run.
fn assert_same_csvs(a: &Path, b: &Path) {
    let read = |dir: &Path, name: &str| std::fs::read_to_string(dir.join(name)).unwrap();
    assert_eq!(read(a, "metrics.csv"), read(b, "metrics.csv"), "metrics.csv differs");
    let without_seconds = |text: String| {
        text.lines()
            .map(|l| l.split(',').enumerate().filter(|(i, _)| *i != 1).map(|(_, f)| f).collect::<Vec<_>>().join(","))
            .collect::<Vec<_>>()
    };
    assert_eq!(without_seconds(read(a, "epochs.csv")), without_seconds(read(b, "epochs.csv")), "epochs.csv differs");
}

fn path(dir: &Path, name: &str) -> String {
    dir.join(name).to_str().unwrap().to_string()
}

#[test]
fn a_saved_run_resumes_bit_for_bit() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // 160 images in batches of 32: 5 steps an epoch.
    let common = ["--limit", "160", "--batch", "32", "--seed", "3", "--test-limit", "20"];
    let (o, log) =
        desktop(&[&["train", "--epochs", "3", "--out", &path(d, "a"), "--save", &path(d, "a.safetensors")][..], &common].concat());
    assert!(o.status.success(), "{log}");
    let (o, log) =
        desktop(&[&["train", "--epochs", "1", "--out", &path(d, "b"), "--save", &path(d, "b1.safetensors")][..], &common].concat());
    assert!(o.status.success(), "{log}");
    assert_eq!(checkpoint(&d.join("b1.safetensors")).1.steps, 5);
    // --resume takes batch, learning rate, seed and training images from the file.
    let resume = ["train", "--resume", &path(d, "b1.safetensors"), "--epochs", "3", "--test-limit", "20"];
    let (o, log) = desktop(&[&resume[..], &["--out", &path(d, "b"), "--save", &path(d, "b3.safetensors")]].concat());
    assert!(o.status.success(), "{log}");
    assert!(log.contains("resuming at epoch 2 step 0 of 5 (step 5 in all)"), "{log}");
    assert!(log.contains("|     3 |") && log.contains("|     1 |"), "the table covers the whole run: {log}");
    assert_same_bits(&d.join("a.safetensors"), &d.join("b3.safetensors"));
    assert_same_csvs(&d.join("a"), &d.join("b"));

    // Asking for fewer epochs than the checkpoint has, or changing its settings, is refused.
    let (o, log) = desktop(&["train", "--resume", &path(d, "b3.safetensors"), "--epochs", "3", "--out", &path(d, "c")]);
    assert!(!o.status.success() && log.contains("already trained 3 epochs"), "{log}");
    let (o, log) = desktop(&["train", "--resume", &path(d, "b1.safetensors"), "--batch", "16", "--out", &path(d, "c")]);
    assert!(!o.status.success() && log.contains("cannot be used with"), "{log}");
    // Plain weights (no Adam state) cannot continue exactly.
    let plain = d.join("plain.safetensors");
    let (w, _) = checkpoint(&d.join("b1.safetensors"));
    std::fs::write(&plain, weights::save(&Model::tutorial(), &w, &Default::default()).unwrap()).unwrap();
    let (o, log) = desktop(&["train", "--resume", plain.to_str().unwrap(), "--epochs", "2", "--out", &path(d, "c")]);
    assert!(!o.status.success() && log.contains("no training state"), "{log}");
}

#[cfg(unix)]
#[test]
fn ctrl_c_writes_a_checkpoint_that_resumes_bit_for_bit() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // 512 images in batches of 16: 32 steps an epoch, and far more epochs than will run.
    let common = ["--limit", "512", "--batch", "16", "--test-limit", "20"];
    let out = d.join("run");
    let mut child =
        desktop_command(&[&["train", "--epochs", "1000", "--checkpoint-every", "1", "--out", out.to_str().unwrap()][..], &common].concat())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
    // Interrupt once the first epoch's checkpoint exists: mid-way through epoch 2 or later.
    // (Before training the writability check creates and removes an empty file there.)
    let ckpt: PathBuf = out.join("checkpoint.safetensors");
    let written =
        |p: &Path| std::fs::read(p).is_ok_and(|b| weights::load_checkpoint(&Model::tutorial(), &b).is_ok_and(|(_, _, s)| s.is_some()));
    while !written(&ckpt) {
        assert!(child.try_wait().unwrap().is_none(), "training ended before its first checkpoint");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap().success());
    let o = child.wait_with_output().unwrap();
    let log = format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    assert_eq!(o.status.code(), Some(130), "{log}");
    let (_, state) = checkpoint(&ckpt);
    let expected = format!("interrupted at epoch {} step {} of 32: wrote {}", state.epoch + 1, state.step_in_epoch, ckpt.display());
    assert!(log.contains(&expected) && log.contains("--resume"), "{expected} in {log}");
    let metrics = std::fs::read_to_string(out.join("metrics.csv")).unwrap();
    assert_eq!(metrics.lines().count() as u64, 1 + state.steps, "every step so far in metrics.csv");

    // Continue to the end of the interrupted epoch, and compare with a straight run.
    let epochs = (state.epoch + 1).to_string();
    let resumed = d.join("resumed.safetensors");
    let resume = ["train", "--resume", ckpt.to_str().unwrap(), "--epochs", &epochs, "--test-limit", "20"];
    let (o, log) = desktop(&[&resume[..], &["--out", &path(d, "resumed"), "--save", resumed.to_str().unwrap()]].concat());
    assert!(o.status.success(), "{log}");
    let straight = d.join("straight.safetensors");
    let run = ["train", "--epochs", &epochs, "--out", &path(d, "straight"), "--save", straight.to_str().unwrap()];
    let (o, log) = desktop(&[&run[..], &common].concat());
    assert!(o.status.success(), "{log}");
    assert_same_bits(&straight, &resumed);
    assert_same_csvs(&d.join("straight"), &d.join("resumed"));
}
