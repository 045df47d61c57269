//! `desktop predict`: read digits from an idx3 image file with saved weights, through the
//! engine's f64 reference forward pass (BatchNorm with its running statistics). The page's
//! end-to-end test checks the page's answers for a drawing against it.

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
