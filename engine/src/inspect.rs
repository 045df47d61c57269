//! Looking inside a trained model: probabilities and top-k, the confusion matrix, the
//! first layer's filters, the activation maps worth showing, a drawn digit turned into an
//! MNIST-style input, and a CPU forward pass for when no GPU trainer is at hand. Plain
//! functions on plain data, shared by the page and the desktop binary.

use crate::data::{IMAGE_PIXELS, IMAGE_SIDE};
use crate::model::{Model, Op, Shape};
use crate::reference::{self, Mode};
use crate::weights::Weights;

/// Probabilities from one example's log-probabilities.
pub fn probabilities(logprobs: &[f32]) -> Vec<f32> {
    logprobs.iter().map(|l| l.exp()).collect()
}

/// The `k` most likely classes, most likely first, as `(class, probability)`.
pub fn top_k(probs: &[f32], k: usize) -> Vec<(usize, f32)> {
    let mut order: Vec<(usize, f32)> = probs.iter().copied().enumerate().collect();
    order.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    order.truncate(k);
    order
}

/// Index of the largest value (the first on ties, as the kernels count accuracy).
pub fn argmax(values: &[f32]) -> usize {
    let mut best = 0;
    for (i, v) in values.iter().enumerate() {
        if *v > values[best] {
            best = i;
        }
    }
    best
}

/// Counts of (true class, predicted class) over an evaluation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfusionMatrix {
    pub classes: usize,
    /// Row-major: `counts[truth * classes + predicted]`.
    pub counts: Vec<u32>,
}

impl ConfusionMatrix {
    /// From every example's log-probabilities (`labels.len() * classes` floats) and labels.
    pub fn from_logprobs(classes: usize, logprobs: &[f32], labels: &[u8]) -> Self {
        let mut counts = vec![0u32; classes * classes];
        for (row, &label) in logprobs.chunks(classes).zip(labels) {
            counts[label as usize * classes + argmax(row)] += 1;
        }
        ConfusionMatrix { classes, counts }
    }

    pub fn count(&self, truth: usize, predicted: usize) -> u32 {
        self.counts[truth * self.classes + predicted]
    }

    pub fn total(&self) -> u32 {
        self.counts.iter().sum()
    }

    pub fn correct(&self) -> u32 {
        (0..self.classes).map(|c| self.count(c, c)).sum()
    }

    pub fn accuracy(&self) -> f32 {
        self.correct() as f32 / self.total().max(1) as f32
    }

    /// Fraction of each true class predicted right (None for a class with no examples).
    pub fn per_class_accuracy(&self) -> Vec<Option<f32>> {
        (0..self.classes)
            .map(|c| {
                let row: u32 = (0..self.classes).map(|p| self.count(c, p)).sum();
                (row > 0).then(|| self.count(c, c) as f32 / row as f32)
            })
            .collect()
    }

    /// CSV: a header of predicted class names, then one row per true class with its counts
    /// and its accuracy.
    pub fn to_csv(&self, names: &[&str]) -> String {
        let name = |i: usize| names.get(i).map_or_else(|| i.to_string(), |n| n.to_string());
        let mut out = String::from("true\\predicted");
        for p in 0..self.classes {
            out += &format!(",{}", name(p));
        }
        out += ",accuracy\n";
        for (t, acc) in self.per_class_accuracy().into_iter().enumerate() {
            out += &name(t);
            for p in 0..self.classes {
                out += &format!(",{}", self.count(t, p));
            }
            out += &acc.map_or_else(String::new, |a| format!(",{a:.4}"));
            out += "\n";
        }
        out
    }
}

/// The first convolution's filters: `(count, side, weights)` with filter `f` at
/// `weights[f * side * side..]` (one input channel). None if the model does not start
/// with a single-channel convolution.
pub fn first_conv_filters(model: &Model, params: &[f32]) -> Option<(usize, usize, Vec<f32>)> {
    match model.ops.first() {
        Some(Op::Conv { geom, weight, .. }) if geom.input.c == 1 => {
            Some((geom.output.c, geom.kernel, params.get(*weight..*weight + geom.weight_len())?.to_vec()))
        }
        _ => None,
    }
}

/// An activation map worth showing: the output of each ReLU that ends a convolution block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActivationLayer {
    pub name: String,
    /// Index into the activations (`0` is the input, `i + 1` the output of op `i`).
    pub index: usize,
    pub shape: Shape,
}

pub fn conv_activation_layers(model: &Model) -> Vec<ActivationLayer> {
    let mut out = Vec::new();
    let mut convs = 0;
    for (i, op) in model.ops.iter().enumerate() {
        match op {
            Op::Conv { .. } => convs += 1,
            Op::Relu { shape } if shape.h > 1 || shape.w > 1 => {
                out.push(ActivationLayer { name: format!("conv{convs} + ReLU"), index: i + 1, shape: *shape })
            }
            _ => {}
        }
    }
    out
}

/// Every activation of one image (784 pixels, 0–255) in evaluation mode, computed on the
/// CPU with the f64 reference: the fallback when no GPU trainer holds the weights.
pub fn cpu_activations(model: &Model, weights: &Weights, image: &[u8]) -> Vec<Vec<f32>> {
    let to64 = |v: &[f32]| v.iter().map(|&x| x as f64).collect::<Vec<f64>>();
    let pixels: Vec<f64> = image.iter().map(|&p| p as f64 / 255.0).collect();
    let f = reference::forward(model, &to64(&weights.params), &to64(&weights.stats), &pixels, Mode::Eval);
    f.activations.into_iter().map(|a| a.into_iter().map(|x| x as f32).collect()).collect()
}

/// Turns a drawing into an MNIST-style input the way MNIST's digits were made: the ink's
/// bounding box is scaled (keeping its aspect ratio) to fit 20x20, then placed in 28x28
/// so that its centre of mass is at the centre. `ink` is `width * height` values in
/// [0, 1] (1 = ink). Returns 784 pixels, 0–255, or None when nothing was drawn.
pub fn digit_from_drawing(ink: &[f32], width: usize, height: usize) -> Option<Vec<u8>> {
    assert_eq!(ink.len(), width * height, "ink must be width * height values");
    let at = |x: usize, y: usize| ink[y * width + x].clamp(0.0, 1.0);
    let (mut x0, mut y0, mut x1, mut y1) = (usize::MAX, usize::MAX, 0, 0);
    for y in 0..height {
        for x in 0..width {
            if at(x, y) > 0.0 {
                (x0, y0, x1, y1) = (x0.min(x), y0.min(y), x1.max(x), y1.max(y));
            }
        }
    }
    if x0 == usize::MAX {
        return None;
    }
    let (box_w, box_h) = ((x1 - x0 + 1) as f32, (y1 - y0 + 1) as f32);
    let scale = 20.0 / box_w.max(box_h);
    let (out_w, out_h) = (((box_w * scale).round() as usize).max(1), ((box_h * scale).round() as usize).max(1));
    // Area-average the box into out_w x out_h: each output pixel covers a rectangle of input.
    let mut small = vec![0f32; out_w * out_h];
    for oy in 0..out_h {
        for ox in 0..out_w {
            let (sx0, sx1) = (x0 as f32 + ox as f32 / scale, x0 as f32 + (ox + 1) as f32 / scale);
            let (sy0, sy1) = (y0 as f32 + oy as f32 / scale, y0 as f32 + (oy + 1) as f32 / scale);
            let (mut sum, mut area) = (0f32, 0f32);
            for y in sy0.floor() as usize..(sy1.ceil() as usize).min(height) {
                let wy = (sy1.min(y as f32 + 1.0) - sy0.max(y as f32)).max(0.0);
                for x in sx0.floor() as usize..(sx1.ceil() as usize).min(width) {
                    let wx = (sx1.min(x as f32 + 1.0) - sx0.max(x as f32)).max(0.0);
                    sum += at(x, y) * wx * wy;
                    area += wx * wy;
                }
            }
            small[oy * out_w + ox] = if area > 0.0 { sum / area } else { 0.0 };
        }
    }
    // Centre of mass of the scaled digit, then the shift that puts it at (14, 14).
    let (mut mass, mut cx, mut cy) = (0f32, 0f32, 0f32);
    for y in 0..out_h {
        for x in 0..out_w {
            let v = small[y * out_w + x];
            mass += v;
            cx += v * (x as f32 + 0.5);
            cy += v * (y as f32 + 0.5);
        }
    }
    let centre = IMAGE_SIDE as f32 / 2.0;
    let (left, top) = ((centre - cx / mass).round() as isize, (centre - cy / mass).round() as isize);
    let mut out = vec![0u8; IMAGE_PIXELS];
    for y in 0..out_h {
        for x in 0..out_w {
            let (tx, ty) = (x as isize + left, y as isize + top);
            if (0..IMAGE_SIDE as isize).contains(&tx) && (0..IMAGE_SIDE as isize).contains(&ty) {
                out[ty as usize * IMAGE_SIDE + tx as usize] = (small[y * out_w + x] * 255.0).round() as u8;
            }
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_k_orders_by_probability() {
        assert_eq!(top_k(&[0.1, 0.6, 0.3], 2), vec![(1, 0.6), (2, 0.3)]);
    }

    #[test]
    fn confusion_matrix_counts_and_accuracies() {
        // Three examples of class 0 (one predicted 1) and one of class 1.
        let lp = [0.0, -5.0, /**/ -5.0, 0.0, /**/ 0.0, -1.0, /**/ -3.0, -0.1];
        let m = ConfusionMatrix::from_logprobs(2, &lp, &[0, 0, 0, 1]);
        assert_eq!(m.counts, vec![2, 1, 0, 1]);
        assert_eq!(m.per_class_accuracy(), vec![Some(2.0 / 3.0), Some(1.0)]);
        assert_eq!(m.accuracy(), 0.75);
        assert_eq!(m.to_csv(&["a", "b"]), "true\\predicted,a,b,accuracy\na,2,1,0.6667\nb,0,1,1.0000\n");
    }

    #[test]
    fn a_drawing_is_scaled_to_20_pixels_and_centred_by_mass() {
        // A 10x40 bar drawn off-centre on a 100x100 pad.
        let (w, h) = (100, 100);
        let mut ink = vec![0f32; w * h];
        for y in 5..45 {
            for x in 70..80 {
                ink[y * w + x] = 1.0;
            }
        }
        let img = digit_from_drawing(&ink, w, h).expect("something was drawn");
        let rows: Vec<usize> = (0..28).filter(|y| (0..28).any(|x| img[y * 28 + x] > 0)).collect();
        let cols: Vec<usize> = (0..28).filter(|x| (0..28).any(|y| img[y * 28 + x] > 0)).collect();
        assert_eq!(rows.len(), 20, "the long side becomes 20 pixels");
        assert_eq!(cols.len(), 5, "the aspect ratio is kept");
        let mass: f32 = img.iter().map(|&p| p as f32).sum();
        let cy: f32 = img.iter().enumerate().map(|(i, &p)| p as f32 * ((i / 28) as f32 + 0.5)).sum::<f32>() / mass;
        let cx: f32 = img.iter().enumerate().map(|(i, &p)| p as f32 * ((i % 28) as f32 + 0.5)).sum::<f32>() / mass;
        assert!((cx - 14.0).abs() <= 0.5 && (cy - 14.0).abs() <= 0.5, "centre of mass ({cx}, {cy})");
        assert_eq!(img[14 * 28 + 14], 255, "full ink stays full");
    }

    #[test]
    fn an_empty_drawing_gives_nothing() {
        assert_eq!(digit_from_drawing(&[0.0; 16], 4, 4), None);
    }
}
