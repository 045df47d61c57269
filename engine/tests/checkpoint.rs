//! Checkpoints: training stopped mid-epoch, saved with Adam's state, loaded into a new
//! trainer and continued gives bit-for-bit the weights, moments and statistics of the same
//! run done straight through; a checkpoint for other settings is refused with nothing
//! changed; damaged training state is refused; plain weight files still load.

mod common;
use common::*;
use engine::data::{self, Dataset, Verification};
use engine::model::Model;
use engine::train::{block_on, TrainConfig, TrainError, Trainer};
use engine::weights::{self, TrainingState, WeightsError, WeightsMeta};
use std::path::Path;

fn data() -> Dataset {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../public/data/mnist");
    let d = data::load_dir(&dir, &Verification::mnist()).unwrap();
    // 100 images in batches of 16: 7 steps an epoch, the last a short batch of 4.
    Dataset { train: d.train.truncated(100), test: d.test.truncated(8) }
}

fn config() -> TrainConfig {
    TrainConfig { batch: 16, seed: 5, ..Default::default() }
}

fn steps(t: &mut Trainer, n: usize) {
    for _ in 0..n {
        t.step().unwrap();
    }
    block_on(t.gpu_idle()).unwrap();
}

#[test]
fn a_checkpoint_continues_bit_for_bit() {
    let (ctx, data, model) = (gpu(), data(), Model::tutorial());
    // 15 steps straight: two epochs and one step into the third.
    let mut straight = Trainer::new(&ctx, model.clone(), &data, config()).unwrap();
    steps(&mut straight, 15);

    // 6 steps (the short batch is next), through a checkpoint file, then 9 more in a new
    // trainer: the resumed run starts with the short batch and crosses an epoch.
    let mut first = Trainer::new(&ctx, model.clone(), &data, config()).unwrap();
    steps(&mut first, 6);
    let state = block_on(first.training_state()).unwrap();
    assert_eq!((state.steps, state.epoch, state.step_in_epoch, state.steps_per_epoch), (6, 0, 6, 7));
    let file = weights::save_checkpoint(&model, &block_on(first.weights()).unwrap(), &WeightsMeta::default(), Some(&state)).unwrap();
    drop(first);
    let (w, _, loaded) = weights::load_checkpoint(&model, &file).unwrap();
    assert_eq!(loaded.as_ref(), Some(&state), "the state round-trips through the file");
    let mut resumed = Trainer::new(&ctx, model.clone(), &data, config()).unwrap();
    resumed.resume_from(&w, &loaded.unwrap()).unwrap();
    assert_eq!(resumed.clock(), {
        let mut c = engine::StepClock::new(7);
        (0..6).for_each(|_| c.advance());
        c
    });
    steps(&mut resumed, 9);
    // The resumed run reports its own 9 steps, numbered on from the checkpoint.
    let mut reported = resumed.poll_metrics().unwrap();
    reported.extend(block_on(resumed.flush_metrics()).unwrap());
    assert_eq!(reported.iter().map(|m| m.step).collect::<Vec<_>>(), (6..15).collect::<Vec<u64>>());
    assert!(reported.iter().all(|m| m.loss.is_finite() && m.loss > 0.0), "{reported:?}");

    let (a, b) = (block_on(straight.weights()).unwrap(), block_on(resumed.weights()).unwrap());
    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert!(bits(&a.params) == bits(&b.params), "parameters differ after resuming");
    assert!(bits(&a.stats) == bits(&b.stats), "running statistics differ after resuming");
    let (sa, sb) = (block_on(straight.training_state()).unwrap(), block_on(resumed.training_state()).unwrap());
    assert!(bits(&sa.m) == bits(&sb.m) && bits(&sa.v) == bits(&sb.v), "Adam's moments differ after resuming");
    assert_eq!((sa.steps, sa.epoch, sa.step_in_epoch), (sb.steps, sb.epoch, sb.step_in_epoch));
}

#[test]
fn a_checkpoint_for_other_settings_is_refused_and_nothing_changes() {
    let (ctx, data, model) = (gpu(), data(), Model::tutorial());
    let mut t = Trainer::new(&ctx, model.clone(), &data, config()).unwrap();
    steps(&mut t, 2);
    let (w, state) = (block_on(t.weights()).unwrap(), block_on(t.training_state()).unwrap());
    let mut other = Trainer::new(&ctx, model.clone(), &data, TrainConfig { batch: 20, ..config() }).unwrap();
    let before = block_on(other.weights()).unwrap();
    let err = other.resume_from(&w, &state).unwrap_err();
    assert!(matches!(err, TrainError::Config(ref m) if m.contains("batch 16") && m.contains("batch 20")), "{err}");
    assert_eq!(block_on(other.weights()).unwrap(), before);
    assert_eq!(other.clock().steps, 0);
}

#[test]
fn damaged_training_state_is_refused_and_plain_files_still_load() {
    let model = Model::tutorial();
    let w = engine::Weights::initial(&model, 1);
    let state = TrainingState {
        m: vec![0.0; model.param_count],
        v: vec![0.0; model.param_count],
        steps: 9,
        epoch: 1,
        step_in_epoch: 2,
        steps_per_epoch: 7,
        batch: 16,
        train_images: 100,
        lr: 1e-3,
    };
    let save = |s: &TrainingState| weights::save_checkpoint(&model, &w, &WeightsMeta::default(), Some(s)).unwrap();
    let plain = weights::save(&model, &w, &WeightsMeta::default()).unwrap();
    assert!(weights::load_checkpoint(&model, &plain).unwrap().2.is_none(), "a plain weight file has no state");
    assert_eq!(weights::load(&model, &save(&state)).unwrap().0, w, "a checkpoint loads as plain weights too");
    let cases = [
        (TrainingState { steps: 10, ..state.clone() }, "10 steps do not make epoch 1 step 2"),
        (TrainingState { step_in_epoch: 7, steps: 14, ..state.clone() }, "do not make"),
        (TrainingState { train_images: 1000, ..state.clone() }, "over 1000 images"),
    ];
    for (bad, why) in cases {
        let err = weights::load_checkpoint(&model, &save(&bad)).unwrap_err();
        assert!(matches!(err, WeightsError::State(_)) && err.to_string().contains(why), "{err}");
    }
    // An earlier version left each epoch's last 4 images out: 6 steps an epoch, not 7. Its
    // run cannot continue exactly, and the error says so; its weights still load.
    let old = TrainingState { steps: 8, steps_per_epoch: 6, ..state.clone() };
    let err = weights::load_checkpoint(&model, &save(&old)).unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(err, WeightsError::Schedule(_)) && text.contains("last 4 images (6 steps of 16") && text.contains("(7 steps)"),
        "{text}"
    );
    assert!(text.contains("Load the file as plain weights"), "{text}");
    assert_eq!(weights::load(&model, &save(&old)).unwrap().0, w, "its weights load");
    let mut negative = state.clone();
    negative.v[7] = -1.0;
    let err = weights::load_checkpoint(&model, &save(&negative)).unwrap_err();
    assert!(err.to_string().contains("adam.v") && err.to_string().contains("cannot be negative"), "{err}");
    let mut short = state.clone();
    short.m.pop();
    let err = weights::load_checkpoint(&model, &save(&short)).unwrap_err();
    assert!(matches!(err, WeightsError::Shape { ref name, .. } if name == "adam.m"), "{err}");
}
