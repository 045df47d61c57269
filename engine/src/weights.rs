//! Trained weights as `.safetensors`: every parameter tensor under its name (`conv1.weight`,
//! `bn1.gamma`, ...), BatchNorm running statistics as `bnK.running_mean` / `bnK.running_var`,
//! and metadata (architecture, epoch, test accuracy, seed). Loading checks every name and
//! shape against the model, so a wrong file is rejected before anything changes.

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

/// What a weight file says about itself.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct WeightsMeta {
    pub architecture: String,
    pub epoch: usize,
    pub test_accuracy: Option<f32>,
    pub seed: u64,
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
    let bytes: Vec<(String, Vec<usize>, Vec<u8>)> = layout(model)
        .into_iter()
        .map(|(name, shape, offset, stats)| {
            let len: usize = shape.iter().product();
            let src = if stats { &weights.stats } else { &weights.params };
            let data = bytemuck::cast_slice(&src[offset..offset + len]).to_vec();
            (name, shape, data)
        })
        .collect();
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
    safetensors::serialize(views, Some(info)).map_err(|e| WeightsError::Format(e.to_string()))
}

pub fn load(model: &Model, bytes: &[u8]) -> Result<(Weights, WeightsMeta), WeightsError> {
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
    };
    Ok((weights, meta))
}
