//! The tutorial's first half, done the WebGPU way: `jit` (one fused kernel against one
//! dispatch per operation), `grad` (nested forward-mode derivatives of a typed expression,
//! then the network's gradient against finite differences) and `vmap` (a loop of single
//! dispatches against one batched dispatch). The page and `desktop lessons` run the same
//! functions and print the same [`Table`]s.

pub mod expr;
pub mod jet;
pub mod jit;
pub mod net_grad;
pub mod timing;
pub mod vmap;

pub use timing::Timing;

use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};

/// A lesson's results: the page renders it as an HTML table, the desktop binary as Markdown.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Table {
    pub headers: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(headers: &[&str]) -> Self {
        Table { headers: headers.iter().map(|h| h.to_string()).collect(), rows: Vec::new() }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        debug_assert_eq!(cells.len(), self.headers.len());
        self.rows.push(cells);
    }

    pub fn to_markdown(&self) -> String {
        let line = |cells: &[String]| format!("| {} |\n", cells.join(" | "));
        let mut out = line(&self.headers);
        out += &line(&self.headers.iter().map(|_| "---".to_string()).collect::<Vec<_>>());
        for r in &self.rows {
            out += &line(r);
        }
        out
    }
}

/// `n` standard normal values from `seed` (Box–Muller on ChaCha8), as f32.
pub fn normal_values(n: usize, seed: u64) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut uniform = move || ((rng.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
    let mut out = Vec::with_capacity(n + 1);
    while out.len() < n {
        let (u1, u2) = (uniform(), uniform());
        let r = (-2.0 * u1.ln()).sqrt();
        let angle = std::f64::consts::TAU * u2;
        out.push((r * angle.cos()) as f32);
        out.push((r * angle.sin()) as f32);
    }
    out.truncate(n);
    out
}

/// max |ours − reference|; infinite when a value is NaN or the lengths differ.
pub fn max_difference(ours: &[f32], reference: &[f64]) -> f64 {
    if ours.len() != reference.len() {
        return f64::INFINITY;
    }
    ours.iter().zip(reference).fold(0.0f64, |m, (&a, &b)| {
        let d = (a as f64 - b).abs();
        if d.is_nan() {
            f64::INFINITY
        } else {
            m.max(d)
        }
    })
}

/// max |ours − reference| / max |reference|: the error relative to the result's scale.
pub fn max_relative_error(ours: &[f32], reference: &[f64]) -> f64 {
    let scale = reference.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    max_difference(ours, reference) / scale.max(f64::MIN_POSITIVE)
}

/// The grad lesson's row: f and its first three derivatives at `x`.
pub fn derivatives_table(source: &str, x: f64, derivatives: [f64; 4]) -> Table {
    let mut t = Table::new(&["f(x)", "x", "f", "f′ (grad)", "f″ (grad of grad)", "f‴"]);
    t.row([source.to_string(), x.to_string()].into_iter().chain(derivatives.iter().map(|v| format!("{v}"))).collect());
    t
}

/// "yes" or "NO", for equality columns.
pub fn yes_no(ok: bool) -> String {
    if ok { "yes" } else { "NO" }.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_values_have_the_right_moments() {
        let v = normal_values(100_001, 0);
        assert_eq!(v.len(), 100_001);
        let mean = v.iter().map(|&x| x as f64).sum::<f64>() / v.len() as f64;
        let var = v.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / v.len() as f64;
        assert!(mean.abs() < 0.01 && (var - 1.0).abs() < 0.02, "mean {mean}, variance {var}");
        assert_eq!(normal_values(5, 7), normal_values(5, 7));
    }

    #[test]
    fn relative_error_is_against_the_largest_value_and_catches_nan() {
        assert_eq!(max_relative_error(&[1.0, 2.5], &[1.0, 2.0]), 0.25);
        assert_eq!(max_relative_error(&[f32::NAN], &[1.0]), f64::INFINITY);
        assert_eq!(max_relative_error(&[1.0], &[1.0, 2.0]), f64::INFINITY);
    }

    #[test]
    fn tables_print_as_markdown() {
        let mut t = Table::new(&["a", "b"]);
        t.row(vec!["1".into(), "2".into()]);
        assert_eq!(t.to_markdown(), "| a | b |\n| --- | --- |\n| 1 | 2 |\n");
    }
}
