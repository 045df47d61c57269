//! A run the page keeps (pure, no DOM): the engine's checkpoint file (weights, BatchNorm
//! statistics, Adam's moments and step, the place in the epoch's shuffle) with the page's
//! run record in its metadata: the form's settings, the dataset, and the history behind the
//! charts and the table. The same bytes go to the browser's storage and into a download, so
//! a downloaded file resumes as exactly as a reload does.

use crate::logic::SettingsInput;
use charts::ChartData;
use engine::weights::{self, TrainingState, WeightsMeta};
use engine::{Model, Weights};
use serde::{Deserialize, Serialize};

/// The metadata note that holds the record.
const RECORD_NOTE: &str = "page.run";
/// Bumped when the record's meaning changes; older records are refused, not misread.
const RECORD_VERSION: u32 = 1;

/// What the page needs besides the engine's state to continue a run and redraw it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    pub version: u32,
    /// A built-in dataset's id, or "own".
    pub dataset: String,
    pub settings: SettingsInput,
    /// Epochs the run's starting weights had been trained for (a loaded file's).
    pub base_epochs: usize,
    pub chart: ChartData,
    /// Which files, when the run trained on the user's own (records from before this field
    /// have none, and are resumed on whatever own files are loaded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub own_files: Option<OwnFiles>,
}

/// The user's own idx pair: its names, and the SHA-256 of the two files' SHA-256s.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OwnFiles {
    pub names: String,
    pub sha256: String,
}

impl OwnFiles {
    pub fn new(images: (&str, &[u8]), labels: (&str, &[u8])) -> Self {
        let sums = engine::data::sha256_hex(images.1) + &engine::data::sha256_hex(labels.1);
        OwnFiles { names: format!("{} and {}", images.0, labels.0), sha256: engine::data::sha256_hex(sums.as_bytes()) }
    }
}

impl RunRecord {
    pub fn new(dataset: &str, settings: SettingsInput, base_epochs: usize, chart: ChartData, own_files: Option<OwnFiles>) -> Self {
        RunRecord { version: RECORD_VERSION, dataset: dataset.to_string(), settings, base_epochs, chart, own_files }
    }
}

/// Whether the own files loaded now are the ones the run trained on (a run on a shipped
/// dataset, or a record from before own files were named, always passes).
pub fn check_own_files(record: &RunRecord, loaded: Option<&OwnFiles>) -> Result<(), String> {
    let Some(wanted) = record.own_files.as_ref().filter(|_| record.dataset == "own") else { return Ok(()) };
    match loaded {
        Some(now) if now.sha256 == wanted.sha256 => Ok(()),
        Some(now) => Err(format!(
            "it trained on your own files {}, and the files loaded now ({}) are not the same. Choose those files again, then press Resume here.",
            wanted.names, now.names
        )),
        None => Err(format!(
            "it trained on your own files {}. Choose them again (Dataset: My own idx files), then press Resume here.",
            wanted.names
        )),
    }
}

/// A checkpoint read back: what any weight file has, plus what only checkpoints have.
pub struct Checkpoint {
    pub weights: Weights,
    pub meta: WeightsMeta,
    pub state: Option<TrainingState>,
    /// Present in files the page wrote; the desktop binary's have none.
    pub record: Option<RunRecord>,
}

/// The file for `weights` and, when given, the training state and the page's record.
pub fn encode(
    model: &Model,
    weights: &Weights,
    mut meta: WeightsMeta,
    state: Option<&TrainingState>,
    record: Option<&RunRecord>,
) -> Result<Vec<u8>, String> {
    if let Some(record) = record {
        meta.notes.insert(RECORD_NOTE.into(), serde_json::to_string(record).map_err(|e| e.to_string())?);
    }
    weights::save_checkpoint(model, weights, &meta, state).map_err(|e| e.to_string())
}

/// Reads a weight file or checkpoint. The record is checked against the training state, so
/// a damaged record is refused rather than drawn or resumed from.
pub fn decode(model: &Model, bytes: &[u8]) -> Result<Checkpoint, String> {
    let (weights, mut meta, state) = weights::load_checkpoint(model, bytes).map_err(|e| e.to_string())?;
    let record = match meta.notes.remove(RECORD_NOTE) {
        None => None,
        Some(text) => Some(read_record(&text, state.as_ref())?),
    };
    Ok(Checkpoint { weights, meta, state, record })
}

fn read_record(text: &str, state: Option<&TrainingState>) -> Result<RunRecord, String> {
    let damaged = |why: String| format!("its run record is damaged ({why}). Discard it, or load the weights from a downloaded file");
    let record: RunRecord = serde_json::from_str(text).map_err(|e| damaged(e.to_string()))?;
    if record.version != RECORD_VERSION {
        return Err(format!(
            "it was saved by another version of this page (run record version {}, this page reads {RECORD_VERSION}). Discard it and train again",
            record.version
        ));
    }
    if engine::data::BuiltinDataset::by_id(&record.dataset).is_none() && record.dataset != "own" {
        return Err(damaged(format!("unknown dataset {}", engine::settings::quoted(&record.dataset))));
    }
    let Some(state) = state else { return Err(damaged("it has no training state".into())) };
    let chart = &record.chart;
    if chart.steps_per_epoch != state.steps_per_epoch {
        return Err(damaged(format!("{} steps per epoch, the training state has {}", chart.steps_per_epoch, state.steps_per_epoch)));
    }
    if chart.steps.len() as u64 != state.steps || chart.steps.iter().enumerate().any(|(i, m)| m.step != i as u64) {
        return Err(damaged("the step history does not match the training state".into()));
    }
    if chart.epochs.len() != state.epoch || chart.epochs.iter().enumerate().any(|(i, p)| p.epoch != i + 1) {
        return Err(damaged(format!("{} epochs in the history, {} in the training state", chart.epochs.len(), state.epoch)));
    }
    if chart.planned_epochs > engine::settings::EPOCHS.max {
        return Err(damaged(format!("{} planned epochs", chart.planned_epochs)));
    }
    Ok(record)
}

/// "epoch 3 of 10, step 1,204": where a kept run stands (the epoch in progress, 1-based).
pub fn progress_text(state: &TrainingState, planned_epochs: usize) -> String {
    let done = state.steps >= (state.steps_per_epoch * planned_epochs) as u64;
    let epoch = if done { planned_epochs } else { state.epoch + 1 };
    format!("epoch {epoch} of {planned_epochs}, step {}", thousands(state.steps))
}

fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use charts::EpochPoint;
    use engine::train::StepMetrics;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    /// A run of 2 epochs of 3 steps, stopped after step 4, with awkward float values.
    fn sample() -> (Model, Weights, TrainingState, RunRecord) {
        let model = Model::tutorial();
        let w = Weights::initial(&model, 5);
        let state = TrainingState {
            m: w.params.iter().map(|x| x * 1e-3).collect(),
            v: w.params.iter().map(|x| x * x).collect(),
            steps: 4,
            epoch: 1,
            step_in_epoch: 1,
            steps_per_epoch: 3,
            batch: 32,
            train_images: 96,
            lr: 1e-3,
        };
        let steps: Vec<_> = (0..4).map(|i| StepMetrics { step: i, loss: 0.1f32 + 1e-7 * i as f32, accuracy: 1.0 / 3.0 }).collect();
        let point = EpochPoint {
            epoch: 1,
            train_loss: f32::MIN_POSITIVE,
            train_accuracy: 0.3,
            test_loss: 1.234_567_9,
            test_accuracy: 0.1,
            full_train: None,
        };
        let chart = ChartData { steps, epochs: vec![point], steps_per_epoch: 3, planned_epochs: 2 };
        let input = SettingsInput { batch: "32".into(), limit: "96".into(), epochs: "2".into(), ..Default::default() };
        (model, w, state, RunRecord::new("fashion-mnist", input, 0, chart, None))
    }

    #[test]
    fn a_checkpoint_comes_back_bit_for_bit() {
        let (model, w, state, record) = sample();
        let bytes = encode(&model, &w, WeightsMeta { seed: 9, ..Default::default() }, Some(&state), Some(&record)).unwrap();
        let back = decode(&model, &bytes).unwrap();
        assert_eq!(back.record.as_ref(), Some(&record));
        assert_eq!(back.state.as_ref(), Some(&state));
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&back.weights.params), bits(&w.params));
        let chart_bits = |c: &ChartData| c.steps.iter().map(|m| (m.loss.to_bits(), m.accuracy.to_bits())).collect::<Vec<_>>();
        assert_eq!(chart_bits(&back.record.unwrap().chart), chart_bits(&record.chart));
        assert_eq!(back.meta.seed, 9);
        assert!(back.meta.notes.is_empty(), "the record is taken out of the notes");
    }

    #[test]
    fn plain_weight_files_have_no_record_and_still_load() {
        let (model, w, _, _) = sample();
        let bytes = encode(&model, &w, WeightsMeta::default(), None, None).unwrap();
        let back = decode(&model, &bytes).unwrap();
        assert!(back.state.is_none() && back.record.is_none());
    }

    #[test]
    fn a_record_that_disagrees_with_the_training_state_is_refused() {
        let (model, w, state, record) = sample();
        type Edit = fn(&mut RunRecord, &mut TrainingState);
        let cases: [(&str, Edit); 6] = [
            ("steps per epoch", |r, _| r.chart.steps_per_epoch = 4),
            ("step history", |r, _| r.chart.steps[2].step = 7),
            ("step history", |r, _| {
                r.chart.steps.pop();
            }),
            ("0 epochs in the history, 1", |r, _| r.chart.epochs.clear()),
            ("unknown dataset", |r, _| r.dataset = "cifar".into()),
            ("another version", |r, _| r.version = 2),
        ];
        for (expected, edit) in cases {
            let (mut r, mut s) = (record.clone(), state.clone());
            edit(&mut r, &mut s);
            let bytes = encode(&model, &w, WeightsMeta::default(), Some(&s), Some(&r)).unwrap();
            let err = decode(&model, &bytes).err().expect(expected);
            assert!(err.contains(expected), "{expected}: {err}");
        }
        let mut meta = WeightsMeta::default();
        meta.notes.insert(RECORD_NOTE.into(), "{\"version\":1,".into());
        let bytes = weights::save_checkpoint(&model, &w, &meta, Some(&state)).unwrap();
        assert!(decode(&model, &bytes).err().unwrap().contains("run record is damaged"));
    }

    #[test]
    fn progress_reads_like_the_offer() {
        let (_, _, mut state, _) = sample();
        state.steps = 1204;
        state.epoch = 2;
        state.steps_per_epoch = 469;
        assert_eq!(progress_text(&state, 10), "epoch 3 of 10, step 1,204");
        state.steps = 4690;
        state.epoch = 10;
        assert_eq!(progress_text(&state, 10), "epoch 10 of 10, step 4,690");
    }

    #[test]
    fn own_files_must_be_the_same_files() {
        let (_, _, _, mut record) = sample();
        let ours = OwnFiles::new(("a-images.idx", &b"images"[..]), ("a-labels.idx", &b"labels"[..]));
        let same_bytes_other_names = OwnFiles::new(("b-images.idx", &b"images"[..]), ("b-labels.idx", &b"labels"[..]));
        let other = OwnFiles::new(("a-images.idx", &b"images"[..]), ("a-labels.idx", &b"labelz"[..]));
        assert_eq!(check_own_files(&record, Some(&other)), Ok(()), "a shipped dataset's run");
        record.dataset = "own".into();
        assert_eq!(check_own_files(&record, None), Ok(()), "a record from before own files were named");
        record.own_files = Some(ours.clone());
        assert_eq!(check_own_files(&record, Some(&ours)), Ok(()));
        assert_eq!(check_own_files(&record, Some(&same_bytes_other_names)), Ok(()), "the bytes count, not the names");
        let e = check_own_files(&record, Some(&other)).unwrap_err();
        assert!(e.contains("a-images.idx and a-labels.idx") && e.contains("not the same"), "{e}");
        assert!(check_own_files(&record, None).unwrap_err().contains("Choose them again"));
        // The names and sums survive the file.
        let (model, w, state, _) = sample();
        let bytes = encode(&model, &w, WeightsMeta::default(), Some(&state), Some(&record)).unwrap();
        assert_eq!(decode(&model, &bytes).unwrap().record.unwrap().own_files, Some(ours));
    }
}
