//! Trained weights as `.safetensors`: every parameter tensor under its name (`conv1.weight`,
//! `bn1.gamma`, ...), BatchNorm running statistics as `bnK.running_mean` / `bnK.running_var`,
//! and metadata (architecture, epoch, test accuracy, seed). Loading checks every name and
//! shape against the model, so a wrong file is rejected before anything changes.
//!
//! A checkpoint is the same file with the training state added: Adam's moments as two
//! flat tensors (`adam.m`, `adam.v`) and where training stands in `resume.*` metadata, so
//! that training continues exactly. Files without them load as plain weights.

use crate::model::{Model, Op};
use safetensors::tensor::{Dtype, TensorView};
use std::collections::HashMap;

/// Trained state: flat parameters and BatchNorm running statistics.
#[derive(Clone, Debug, PartialEq)]
pub struct Weights {
    pub params: Vec<f32>,
    pub stats: Vec<f32>,
}

impl Weights {
    /// A model nobody has trained yet: the initial weights of `seed`.
    pub fn initial(model: &Model, seed: u64) -> Self {
        Weights { params: model.init_params(seed), stats: model.init_stats() }
    }

    /// Checks sizes and values against `model`, so that bad weights are refused before
    /// anything changes.
    pub fn check(&self, model: &Model) -> Result<(), String> {
        if self.params.len() != model.param_count || self.stats.len() != model.stats_count {
            return Err(format!(
                "{} parameters and {} statistics given, the model has {} and {}",
                self.params.len(),
                self.stats.len(),
                model.param_count,
                model.stats_count
            ));
        }
        if let Some(i) = self.params.iter().chain(&self.stats).position(|v| !v.is_finite()) {
            return Err(format!("value {i} is not a finite number"));
        }
        Ok(())
    }
}

/// What a checkpoint adds to the weights: Adam's moments, its step count, the position in
/// the epoch's shuffle, and the settings that must match to continue exactly.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainingState {
    pub m: Vec<f32>,
    pub v: Vec<f32>,
    /// Steps done (Adam's step count).
    pub steps: u64,
    /// Completed epochs, and steps done in the current one.
    pub epoch: usize,
    pub step_in_epoch: usize,
    pub steps_per_epoch: usize,
    pub batch: usize,
    pub train_images: usize,
    pub lr: f32,
}

/// What a weight file says about itself.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct WeightsMeta {
    pub architecture: String,
    pub epoch: usize,
    pub test_accuracy: Option<f32>,
    pub seed: u64,
    /// Free-form text kept with the file under `note.<key>` (the page keeps its run record
    /// here: settings and chart history).
    pub notes: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, thiserror::Error)]
pub enum WeightsError {
    #[error("not a readable safetensors file ({0}). Choose a .safetensors file saved by this page or by `desktop train --save`.")]
    Format(String),
    #[error("the file was saved for architecture {found}, this model is `{expected}`. Load a file saved for this model.")]
    Architecture { found: String, expected: String },
    #[error("tensor `{0}` is missing from the file")]
    Missing(String),
    #[error("tensor `{name}` has shape {found:?} and type {dtype}, the model needs {expected:?} F32")]
    Shape { name: String, found: Vec<usize>, expected: Vec<usize>, dtype: String },
    #[error("tensor `{0}` holds a value that is not a finite number")]
    NotFinite(String),
    #[error("tensor `{name}` holds {value:e} at index {index}: {why}. The file is damaged or not a trained model.")]
    Implausible { name: String, index: usize, value: f32, why: &'static str },
    #[error("the checkpoint's training state is damaged: {0}. Resume from another checkpoint, or load the file as plain weights.")]
    State(String),
    #[error("the checkpoint {0}. Load the file as plain weights (they are intact) and train on from them.")]
    Schedule(String),
}

/// No trained value of this model comes near this magnitude (inputs are in [0, 1] and every
/// convolution is followed by BatchNorm); a larger one means a damaged file.
pub const MAX_MAGNITUDE: f32 = 1e6;

/// Text from a file, quoted with its control characters escaped and cut to a readable length.
fn quoted(text: &str) -> String {
    const MAX_CHARS: usize = 120;
    let quoted = crate::settings::quoted_up_to(text, MAX_CHARS);
    match text.chars().count() {
        n if n > MAX_CHARS => format!("{quoted} ({n} characters)"),
        _ => quoted,
    }
}

/// A short, stable description of the architecture, stored in the file's metadata.
pub fn architecture_id(model: &Model) -> String {
    format!("{:?}->{:?}", model.spec.input, model.spec.layers).replace(' ', "")
}

/// (name, shape, offset into params or stats, from stats?) of every stored tensor.
fn layout(model: &Model) -> Vec<(String, Vec<usize>, usize, bool)> {
    let mut out: Vec<_> = model.params.iter().map(|p| (p.name.clone(), p.shape.clone(), p.offset, false)).collect();
    let mut bn = 0;
    for op in &model.ops {
        if let Op::BatchNorm { shape, stats, .. } = op {
            bn += 1;
            out.push((format!("bn{bn}.running_mean"), vec![shape.c], *stats, true));
            out.push((format!("bn{bn}.running_var"), vec![shape.c], stats + shape.c, true));
        }
    }
    out
}

pub fn save(model: &Model, weights: &Weights, meta: &WeightsMeta) -> Result<Vec<u8>, WeightsError> {
    save_checkpoint(model, weights, meta, None)
}

/// [`save`], plus the training state when given (a checkpoint).
pub fn save_checkpoint(
    model: &Model,
    weights: &Weights,
    meta: &WeightsMeta,
    state: Option<&TrainingState>,
) -> Result<Vec<u8>, WeightsError> {
    let mut bytes: Vec<(String, Vec<usize>, Vec<u8>)> = layout(model)
        .into_iter()
        .map(|(name, shape, offset, stats)| {
            let len: usize = shape.iter().product();
            let src = if stats { &weights.stats } else { &weights.params };
            let data = bytemuck::cast_slice(&src[offset..offset + len]).to_vec();
            (name, shape, data)
        })
        .collect();
    if let Some(state) = state {
        for (name, values) in [(ADAM_M, &state.m), (ADAM_V, &state.v)] {
            bytes.push((name.to_string(), vec![values.len()], bytemuck::cast_slice(values).to_vec()));
        }
    }
    let views = bytes
        .iter()
        .map(|(name, shape, data)| {
            TensorView::new(Dtype::F32, shape.clone(), data).map(|v| (name.clone(), v)).map_err(|e| WeightsError::Format(e.to_string()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut info = HashMap::new();
    info.insert("architecture".to_string(), architecture_id(model));
    info.insert("epoch".to_string(), meta.epoch.to_string());
    info.insert("seed".to_string(), meta.seed.to_string());
    if let Some(acc) = meta.test_accuracy {
        info.insert("test_accuracy".to_string(), acc.to_string());
    }
    info.extend(meta.notes.iter().map(|(k, v)| (format!("{NOTE}{k}"), v.clone())));
    if let Some(s) = state {
        let fields = [
            ("steps", s.steps.to_string()),
            ("epoch", s.epoch.to_string()),
            ("step_in_epoch", s.step_in_epoch.to_string()),
            ("steps_per_epoch", s.steps_per_epoch.to_string()),
            ("batch", s.batch.to_string()),
            ("train_images", s.train_images.to_string()),
            ("lr", s.lr.to_string()),
        ];
        info.extend(fields.into_iter().map(|(k, v)| (format!("resume.{k}"), v)));
    }
    safetensors::serialize(views, Some(info)).map_err(|e| WeightsError::Format(e.to_string()))
}

/// The weights and what the file says about them. A checkpoint's training state is not
/// read, so the weights of a checkpoint that cannot be resumed still load.
pub fn load(model: &Model, bytes: &[u8]) -> Result<(Weights, WeightsMeta), WeightsError> {
    read(model, bytes, false).map(|(w, meta, _)| (w, meta))
}

const ADAM_M: &str = "adam.m";
const NOTE: &str = "note.";
const ADAM_V: &str = "adam.v";

/// [`load`], plus the training state when the file has one (a checkpoint).
pub fn load_checkpoint(model: &Model, bytes: &[u8]) -> Result<(Weights, WeightsMeta, Option<TrainingState>), WeightsError> {
    read(model, bytes, true)
}

fn read(model: &Model, bytes: &[u8], with_state: bool) -> Result<(Weights, WeightsMeta, Option<TrainingState>), WeightsError> {
    let format = |e: safetensors::SafeTensorError| WeightsError::Format(quoted(&e.to_string()));
    let (_, header) = safetensors::SafeTensors::read_metadata(bytes).map_err(format)?;
    let info = header.metadata().clone().unwrap_or_default();
    let expected = architecture_id(model);
    if let Some(found) = info.get("architecture") {
        if *found != expected {
            return Err(WeightsError::Architecture { found: quoted(found), expected });
        }
    }
    let st = safetensors::SafeTensors::deserialize(bytes).map_err(format)?;
    let mut weights = Weights { params: vec![0.0; model.param_count], stats: vec![0.0; model.stats_count] };
    for (name, shape, offset, stats) in layout(model) {
        let t = st.tensor(&name).map_err(|_| WeightsError::Missing(name.clone()))?;
        if t.dtype() != Dtype::F32 || t.shape() != shape.as_slice() {
            return Err(WeightsError::Shape { name, found: t.shape().to_vec(), expected: shape, dtype: format!("{:?}", t.dtype()) });
        }
        let values: Vec<f32> = t.data().chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
        if values.iter().any(|v| !v.is_finite()) {
            return Err(WeightsError::NotFinite(name));
        }
        if let Some(index) = values.iter().position(|v| v.abs() > MAX_MAGNITUDE) {
            return Err(WeightsError::Implausible { name, index, value: values[index], why: "larger than any trained value" });
        }
        if name.ends_with("running_var") {
            if let Some(index) = values.iter().position(|&v| v < 0.0) {
                return Err(WeightsError::Implausible { name, index, value: values[index], why: "a variance cannot be negative" });
            }
        }
        let dst = if stats { &mut weights.stats } else { &mut weights.params };
        dst[offset..offset + values.len()].copy_from_slice(&values);
    }
    let meta = WeightsMeta {
        architecture: info.get("architecture").cloned().unwrap_or_default(),
        epoch: info.get("epoch").and_then(|v| v.parse().ok()).unwrap_or(0),
        test_accuracy: info.get("test_accuracy").and_then(|v| v.parse().ok()).filter(|a| (0.0..=1.0).contains(a)),
        seed: info.get("seed").and_then(|v| v.parse().ok()).unwrap_or(0),
        notes: info.iter().filter_map(|(k, v)| Some((k.strip_prefix(NOTE)?.to_string(), v.clone()))).collect(),
    };
    let state = match (st.tensor(ADAM_M), st.tensor(ADAM_V)) {
        _ if !with_state => None,
        (Err(_), Err(_)) => None,
        (Ok(m), Ok(v)) => Some(training_state(model, &info, m, v)?),
        _ => return Err(WeightsError::State("it has only one of Adam's two moments".into())),
    };
    Ok((weights, meta, state))
}

/// Adam's moments and the `resume.*` metadata, checked against the model and each other.
fn training_state(model: &Model, info: &HashMap<String, String>, m: TensorView, v: TensorView) -> Result<TrainingState, WeightsError> {
    let floats = |name: &str, t: &TensorView| -> Result<Vec<f32>, WeightsError> {
        if t.dtype() != Dtype::F32 || t.shape() != [model.param_count] {
            let found = t.shape().to_vec();
            return Err(WeightsError::Shape {
                name: name.into(),
                found,
                expected: vec![model.param_count],
                dtype: format!("{:?}", t.dtype()),
            });
        }
        let values: Vec<f32> = t.data().chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
        match values.iter().any(|x| !x.is_finite()) {
            true => Err(WeightsError::NotFinite(name.into())),
            false => Ok(values),
        }
    };
    let (m, v) = (floats(ADAM_M, &m)?, floats(ADAM_V, &v)?);
    if let Some(index) = v.iter().position(|&x| x < 0.0) {
        return Err(WeightsError::Implausible { name: ADAM_V.into(), index, value: v[index], why: "a second moment cannot be negative" });
    }
    let field = |key: &str| -> Result<u64, WeightsError> {
        info.get(&format!("resume.{key}"))
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| WeightsError::State(format!("`resume.{key}` is missing or not a whole number")))
    };
    let size =
        |key: &str| field(key).and_then(|n| usize::try_from(n).map_err(|_| WeightsError::State(format!("`resume.{key}` is too large"))));
    let lr = info.get("resume.lr").and_then(|v| v.parse::<f32>().ok()).filter(|lr| lr.is_finite() && *lr > 0.0);
    let state = TrainingState {
        m,
        v,
        steps: field("steps")?,
        epoch: size("epoch")?,
        step_in_epoch: size("step_in_epoch")?,
        steps_per_epoch: size("steps_per_epoch")?,
        batch: size("batch")?,
        train_images: size("train_images")?,
        lr: lr.ok_or_else(|| WeightsError::State("`resume.lr` is missing or not a positive number".into()))?,
    };
    if state.batch > 0 && !state.train_images.is_multiple_of(state.batch) && state.steps_per_epoch == state.train_images / state.batch {
        return Err(WeightsError::Schedule(format!(
            "was saved by an earlier version, whose epochs left out their last {} images ({} steps of {} an epoch); epochs now train them too ({} steps), so that run cannot continue exactly",
            state.train_images % state.batch,
            state.steps_per_epoch,
            state.batch,
            state.train_images.div_ceil(state.batch)
        )));
    }
    let consistent = state.steps_per_epoch > 0
        && state.batch > 0
        && state.step_in_epoch < state.steps_per_epoch
        && state.train_images.div_ceil(state.batch) == state.steps_per_epoch
        && (state.epoch as u64).checked_mul(state.steps_per_epoch as u64).and_then(|s| s.checked_add(state.step_in_epoch as u64))
            == Some(state.steps);
    if !consistent {
        return Err(WeightsError::State(format!(
            "{} steps do not make epoch {} step {} at {} steps of {} per epoch over {} images",
            state.steps, state.epoch, state.step_in_epoch, state.steps_per_epoch, state.batch, state.train_images
        )));
    }
    Ok(state)
}
