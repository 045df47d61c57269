//! The tutorial's first half (its jit kernels are in the self-test, `kernels.rs`): nested
//! derivatives exact on polynomials and equal to finite differences on random expressions, the vmap lesson's loop and batch agreeing, and the network gradient
//! the grad lesson shows agreeing with the f64 reference.

mod common;
use common::*;
use engine::data::{self, Verification};
use engine::lessons::expr::{parse, Expr, Func};
use engine::lessons::jet::{derivatives, value};
use engine::lessons::net_grad::{self, ParamPick};
use engine::lessons::{jit, vmap};
use engine::model::Model;
use engine::train::{block_on, Weights};
use std::path::Path;

#[test]
fn the_jit_lesson_reports_equal_results_and_its_timings() {
    let ctx = gpu();
    let report = block_on(jit::run(&ctx, 10_007, 3)).unwrap();
    assert!(report.eager_error <= jit::TOLERANCE && report.compiled_error <= jit::TOLERANCE, "{report:?}");
    assert_eq!(report.eager_dispatches, 6);
    for t in [&report.eager, &report.compiled] {
        assert_eq!(t.runs_ms.len(), 3);
        assert!(t.first_ms.is_finite() && t.runs_ms.iter().all(|v| v.is_finite()), "{t:?}");
    }
    let table = report.table();
    assert_eq!(table.rows.len(), 2);
    assert!(table.rows.iter().all(|r| r.last().unwrap() == "yes"), "{}", table.to_markdown());
}

#[test]
fn derivatives_are_exact_on_polynomials() {
    let d = |s: &str, x: f64| derivatives(&parse(s).unwrap(), x);
    // The tutorial's example: x² at 2 gives 4, then 4, 2 and 0.
    assert_eq!(d("x^2", 2.0), [4.0, 4.0, 2.0, 0.0]);
    assert_eq!(d("x*x", 2.0), [4.0, 4.0, 2.0, 0.0]);
    // 3x³ − 2x + 1 at 1.5: 8.125, 9x² − 2 = 18.25, 18x = 27, 18.
    assert_eq!(d("3*x^3 - 2*x + 1", 1.5), [8.125, 18.25, 27.0, 18.0]);
    // (x + 1)^4 at 1: 16, 32, 48, 48.
    assert_eq!(d("(x + 1)**4", 1.0), [16.0, 32.0, 48.0, 48.0]);
    // 1/x at 2: 1/2, −1/4, 2/8, −6/16.
    assert_eq!(d("x^-1", 2.0), [0.5, -0.25, 0.25, -0.375]);
    assert_eq!(d("1 / x", 2.0), [0.5, -0.25, 0.25, -0.375]);
    assert_eq!(d("-x^2", 3.0), [-9.0, -6.0, -2.0, 0.0]);
    assert_eq!(d("7", 3.0), [7.0, 0.0, 0.0, 0.0]);
    // The elementary functions at points where their derivatives are known in closed form.
    let close = |a: [f64; 4], b: [f64; 4]| a.iter().zip(&b).all(|(x, y)| (x - y).abs() < 1e-12);
    assert!(close(d("exp(x)", 0.0), [1.0; 4]));
    assert!(close(d("sin(x)", 0.0), [0.0, 1.0, 0.0, -1.0]));
    assert!(close(d("cos(x)", 0.0), [1.0, 0.0, -1.0, 0.0]));
    assert!(close(d("log(x)", 1.0), [0.0, 1.0, -1.0, 2.0]));
    assert!(close(d("tanh(x)", 0.0), [0.0, 1.0, 0.0, -2.0]));
    assert!(close(d("relu(x)", 2.0), [2.0, 1.0, 0.0, 0.0]));
    assert!(close(d("relu(x)", -2.0), [0.0; 4]));
    let (a, l) = (1.67f32 as f64, 1.05f32 as f64);
    assert!(close(d("selu(x)", 2.0), [2.0 * l, l, 0.0, 0.0]));
    let e = (-1.0f64).exp();
    assert!(close(d("selu(x)", -1.0), [l * a * (e - 1.0), l * a * e, l * a * e, l * a * e]));
}

/// A random smooth expression (log and division only of positive quantities).
fn random_expr(rng: &mut Rng, depth: usize) -> Expr {
    let leaf = depth == 0 || rng.below(4) == 0;
    if leaf {
        return if rng.below(3) == 0 { Expr::Const(rng.uniform(-2.0, 2.0)) } else { Expr::X };
    }
    let (choice, power) = (rng.below(11), rng.below(4) as i32);
    let mut sub = || Box::new(random_expr(rng, depth - 1));
    match choice {
        0 => Expr::Add(sub(), sub()),
        1 => Expr::Sub(sub(), sub()),
        2 | 3 => Expr::Mul(sub(), sub()),
        // a / (1 + b²) and log(1 + a²): defined everywhere.
        4 => Expr::Div(sub(), Box::new(Expr::Add(Box::new(Expr::Const(1.0)), Box::new(Expr::Pow(sub(), 2))))),
        5 => Expr::Call(Func::Log, Box::new(Expr::Add(Box::new(Expr::Const(1.0)), Box::new(Expr::Pow(sub(), 2))))),
        6 => Expr::Pow(sub(), power),
        7 => Expr::Call(Func::Sin, sub()),
        8 => Expr::Call(Func::Cos, sub()),
        9 => Expr::Call(Func::Tanh, sub()),
        _ => Expr::Call(Func::Exp, Box::new(Expr::Call(Func::Tanh, sub()))),
    }
}

#[test]
fn derivatives_match_finite_differences_on_random_expressions() {
    let mut rng = Rng::new(14);
    let h = 1e-4;
    let mut checked = 0;
    for case in 0..2_000 {
        let e = random_expr(&mut rng, 4);
        let x = rng.uniform(-1.5, 1.5);
        let d = derivatives(&e, x);
        assert!((d[0] - value(&e, x)).abs() <= 1e-12 * d[0].abs().max(1.0), "case {case}: {e} at {x}: value");
        // Each order against the central difference of the one below it (the lower orders
        // from the jets), fourth-order accurate: (−f(x+2h) + 8f(x+h) − 8f(x−h) + f(x−2h)) / 12h.
        for order in 1..=3 {
            let f = |t: f64| derivatives(&e, t)[order - 1];
            let fd = (-f(x + 2.0 * h) + 8.0 * f(x + h) - 8.0 * f(x - h) + f(x - 2.0 * h)) / (12.0 * h);
            let scale = d.iter().fold(1.0f64, |m, v| m.max(v.abs()));
            assert!((d[order] - fd).abs() <= 1e-6 * scale, "case {case}: {e} at {x}: order {order}: jet {} vs difference {fd}", d[order]);
        }
        checked += 1;
    }
    assert_eq!(checked, 2_000);
}

#[test]
fn a_wrong_derivative_rule_is_caught() {
    // The check above can fail: perturb one coefficient and a difference sees it.
    let e = parse("sin(x) * exp(x)").unwrap();
    let x = 0.3;
    let h = 1e-4;
    let f = |t: f64| derivatives(&e, t)[1];
    let fd = (-f(x + 2.0 * h) + 8.0 * f(x + h) - 8.0 * f(x - h) + f(x - 2.0 * h)) / (12.0 * h);
    let wrong = derivatives(&e, x)[2] * 1.001;
    assert!((wrong - fd).abs() > 1e-6);
}

#[test]
fn the_vmap_lesson_gets_the_same_products_both_ways() {
    let ctx = gpu();
    let report = block_on(vmap::matvec(&ctx, 2)).unwrap();
    assert!(report.equal(), "{report:?}");
    assert!(report.difference <= vmap::MATVEC_TOLERANCE && report.cpu_error.unwrap() <= vmap::MATVEC_TOLERANCE, "{report:?}");
    assert_eq!((report.looped.submissions, report.batched.submissions), (10, 1));
    assert!(report.table().rows.iter().all(|r| r.last().unwrap() == "yes"));
}

fn mnist() -> data::Dataset {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../public/data/mnist");
    data::load_dir(&dir, &Verification::mnist()).unwrap()
}

#[test]
fn the_network_gives_the_same_log_probabilities_one_at_a_time_and_batched() {
    let ctx = gpu();
    let model = Model::tutorial();
    let data = mnist();
    let report = block_on(vmap::network(&ctx, &model, &Weights::initial(&model, 3), &data.test, 1)).unwrap();
    assert!(report.difference <= vmap::LOGPROB_TOLERANCE, "{report:?}");
    assert_eq!(report.looped.submissions, vmap::IMAGES);
}

#[test]
fn the_network_gradient_agrees_with_the_reference_and_finite_differences() {
    let ctx = gpu();
    let model = Model::tutorial();
    let data = mnist();
    let weights = Weights::initial(&model, 5);
    let mut picks = net_grad::default_picks();
    picks.push(ParamPick::new("conv2.bias", 0)); // exactly 0: BatchNorm cancels it
    let report = block_on(net_grad::run(&ctx, &model, &weights, &data.train, &picks)).unwrap();
    assert_eq!(report.rows.len(), picks.len());
    for r in &report.rows {
        let scale = r.scale();
        // Ours (f32) against the reference's analytic gradient; the lesson's finite
        // difference against it too, which checks the difference itself.
        assert!((r.gpu as f64 - r.reference).abs() <= 1e-3 * scale, "{r:?}");
        let exact_scale = r.reference.abs().max(r.tensor_rms);
        assert!((r.finite_difference - r.reference).abs() <= 1e-5 * exact_scale + r.noise, "{r:?}");
        assert!(r.relative_error() <= 1e-3, "{r:?}");
    }
    let bad = block_on(net_grad::run(&ctx, &model, &weights, &data.train, &[ParamPick::new("dense.bias", 10)])).err().unwrap();
    assert!(bad.to_string().contains("pick an index from 0 to 9"), "{bad}");
    let bad = block_on(net_grad::run(&ctx, &model, &weights, &data.train, &[ParamPick::new("conv9.weight", 0)])).err().unwrap();
    assert!(bad.to_string().contains("conv1.weight"), "{bad}");
}
