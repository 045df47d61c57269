//! Running the tutorial's first half in the page: the engine's lesson functions on the
//! page's GPU context, dataset and latest weights. Each returns the tables to show, or a
//! message that says why it could not run.

use crate::state::{model, AppState};
use engine::lessons::net_grad::{self, ParamPick};
use engine::lessons::{jit, vmap, Table};
use engine::{Dataset, GpuContext, Weights};
use std::rc::Rc;

/// Timed repeats in the page (fewer than natively: software adapters are slow).
const REPEATS: usize = 10;

/// A lesson's outcome: a summary line and its tables.
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    pub summary: String,
    pub tables: Vec<(String, Table)>,
}

fn gpu(app: AppState) -> Result<GpuContext, String> {
    app.session().ctx.borrow().clone().ok_or_else(|| {
        "This lesson runs on WebGPU, which this browser does not offer (see the status above). The grad lesson's derivatives work without it.".to_string()
    })
}

fn dataset(app: AppState) -> Result<Rc<Dataset>, String> {
    app.session().dataset.borrow().clone().ok_or_else(|| "The dataset is still loading: try again when the status says ready.".to_string())
}

/// The current run's latest weights, or the initial ones from seed 0, and which.
fn weights(app: AppState) -> (Weights, &'static str) {
    match app.session().weights.borrow().clone() {
        Some(w) => (w, "the current run's latest weights"),
        None => (Weights::initial(model(), 0), "the initial weights (seed 0): train first to use trained ones"),
    }
}

pub async fn run_jit(app: AppState) -> Result<Outcome, String> {
    let ctx = gpu(app)?;
    let report = jit::run(&ctx, jit::VALUES, REPEATS).await.map_err(|e| e.to_string())?;
    Ok(Outcome { summary: report.summary(), tables: vec![("SELU, eager and compiled".into(), report.table())] })
}

/// Reads "bn1.gamma:3, dense.bias:4" into picks.
pub fn parse_picks(text: &str) -> Result<Vec<ParamPick>, String> {
    let picks: Vec<ParamPick> =
        text.split(',').map(str::trim).filter(|p| !p.is_empty()).map(ParamPick::parse).collect::<Result<_, String>>()?;
    if picks.is_empty() || picks.len() > 12 {
        return Err("Pick from 1 to 12 parameters, e.g. bn1.gamma:3, dense.bias:4".into());
    }
    for p in &picks {
        p.offset(model())?;
    }
    Ok(picks)
}

pub fn default_picks_text() -> String {
    net_grad::default_picks().iter().map(|p| format!("{}:{}", p.tensor, p.index)).collect::<Vec<_>>().join(", ")
}

pub async fn run_network_gradient(app: AppState, picks: &str) -> Result<Outcome, String> {
    let picks = parse_picks(picks)?;
    let ctx = gpu(app)?;
    let data = dataset(app)?;
    let (weights, which) = weights(app);
    let report = net_grad::run(&ctx, model(), &weights, &data.train, &picks).await.map_err(|e| e.to_string())?;
    let summary = format!(
        "Mean cross-entropy of the first {} training images with {which}: {:.6}. Relative error: |ours − difference| / max(|difference|, the tensor's gradient RMS).",
        report.batch, report.loss
    );
    Ok(Outcome { summary, tables: vec![("The network's gradient".into(), report.table())] })
}

pub async fn run_vmap(app: AppState) -> Result<Outcome, String> {
    let ctx = gpu(app)?;
    let data = dataset(app)?;
    let matvec = vmap::matvec(&ctx, REPEATS).await.map_err(|e| e.to_string())?;
    let (weights, which) = weights(app);
    let network = vmap::network(&ctx, model(), &weights, &data.test, 1).await.map_err(|e| e.to_string())?;
    Ok(Outcome {
        summary: format!("Matrix: {} Network ({which}): {}", matvec.summary(), network.summary()),
        tables: vec![
            ("A 150x100 matrix on 10 vectors".into(), matvec.table()),
            (format!("The network on {} test images", vmap::IMAGES), network.table()),
        ],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn parameter_picks_are_read_and_checked() {
        let picks = parse_picks(" bn1.gamma:3, dense.bias : 9 ").unwrap();
        assert_eq!(picks, vec![ParamPick::new("bn1.gamma", 3), ParamPick::new("dense.bias", 9)]);
        assert_eq!(parse_picks(&default_picks_text()).unwrap(), net_grad::default_picks());
        assert!(parse_picks("dense.bias:10").unwrap_err().contains("from 0 to 9"));
        assert!(parse_picks("conv7.weight:0").unwrap_err().contains("conv1.weight"));
        assert!(parse_picks("bn1.gamma").unwrap_err().contains("TENSOR:INDEX"));
        assert!(parse_picks("bn1.gamma:x").unwrap_err().contains("whole number"));
        assert!(parse_picks(" , ").unwrap_err().contains("from 1 to 12"));
    }
}
