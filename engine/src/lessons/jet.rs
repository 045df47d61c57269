//! Nested derivatives without finite differences: forward-mode jets, i.e. truncated Taylor
//! series `f(x + t) = c0 + c1 t + c2 t^2 + c3 t^3`. Every operation maps input coefficients
//! to output coefficients exactly (the usual recurrences for products, quotients and the
//! elementary functions), so the k-th derivative is `k! * ck`: `grad`, `grad(grad)` and
//! `grad(grad(grad))` from one pass.

use super::expr::{Expr, Func};
use super::jit::{ALPHA, LAMBDA};

/// Derivatives up to this order.
pub const ORDER: usize = 3;
const N: usize = ORDER + 1;

/// Taylor coefficients c0..c3.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Jet(pub [f64; N]);

impl Jet {
    pub fn constant(c: f64) -> Self {
        Jet([c, 0.0, 0.0, 0.0])
    }

    /// The variable itself at `x`: x + t.
    pub fn variable(x: f64) -> Self {
        Jet([x, 1.0, 0.0, 0.0])
    }

    /// f, f', f'', f''' (the k-th coefficient times k!).
    pub fn derivatives(&self) -> [f64; N] {
        let mut factorial = 1.0;
        let mut out = [0.0; N];
        for (k, c) in self.0.iter().enumerate() {
            if k > 0 {
                factorial *= k as f64;
            }
            out[k] = c * factorial;
        }
        out
    }

    fn map2(self, other: Jet, f: impl Fn(f64, f64) -> f64) -> Jet {
        Jet(std::array::from_fn(|k| f(self.0[k], other.0[k])))
    }

    pub fn scale(self, s: f64) -> Jet {
        Jet(self.0.map(|a| a * s))
    }

    /// e = exp(a) from e' = a' e: k e_k = Σ_{j≥1} j a_j e_{k−j}.
    pub fn exp(self) -> Jet {
        let a = self.0;
        let mut e = [0.0; N];
        e[0] = a[0].exp();
        for k in 1..N {
            e[k] = (1..=k).map(|j| j as f64 * a[j] * e[k - j]).sum::<f64>() / k as f64;
        }
        Jet(e)
    }

    /// l = log(a) from a l' = a': l_k = (a_k − (1/k) Σ_{1≤j<k} j l_j a_{k−j}) / a_0.
    pub fn ln(self) -> Jet {
        let a = self.0;
        let mut l = [0.0; N];
        l[0] = a[0].ln();
        for k in 1..N {
            l[k] = (a[k] - (1..k).map(|j| j as f64 * l[j] * a[k - j]).sum::<f64>() / k as f64) / a[0];
        }
        Jet(l)
    }

    /// sin and cos together: s' = a' c, c' = −a' s.
    pub fn sin_cos(self) -> (Jet, Jet) {
        let a = self.0;
        let (mut s, mut c) = ([0.0; N], [0.0; N]);
        (s[0], c[0]) = a[0].sin_cos();
        for k in 1..N {
            s[k] = (1..=k).map(|j| j as f64 * a[j] * c[k - j]).sum::<f64>() / k as f64;
            c[k] = -(1..=k).map(|j| j as f64 * a[j] * s[k - j]).sum::<f64>() / k as f64;
        }
        (Jet(s), Jet(c))
    }

    /// t = tanh(a) from t' = a' (1 − t²).
    pub fn tanh(self) -> Jet {
        let a = self.0;
        let mut t = [0.0; N];
        let mut u = [0.0; N]; // 1 − t², filled as t grows
        t[0] = a[0].tanh();
        u[0] = 1.0 - t[0] * t[0];
        for k in 1..N {
            t[k] = (1..=k).map(|j| j as f64 * a[j] * u[k - j]).sum::<f64>() / k as f64;
            u[k] = -(0..=k).map(|j| t[j] * t[k - j]).sum::<f64>();
        }
        Jet(t)
    }

    /// max(a, 0), with derivative 0 at the kink (as JAX).
    pub fn relu(self) -> Jet {
        if self.0[0] > 0.0 {
            self
        } else {
            Jet::constant(0.0)
        }
    }

    /// The tutorial's SELU (alpha 1.67, lambda 1.05).
    pub fn selu(self) -> Jet {
        let (alpha, lambda) = (ALPHA as f64, LAMBDA as f64);
        if self.0[0] > 0.0 {
            self.scale(lambda)
        } else {
            (self.exp() - Jet::constant(1.0)).scale(lambda * alpha)
        }
    }

    /// Integer powers by repeated squaring; negative ones through 1 / a^n.
    pub fn powi(self, n: i32) -> Jet {
        let mut result = Jet::constant(1.0);
        let mut base = self;
        let mut e = n.unsigned_abs();
        while e > 0 {
            if e & 1 == 1 {
                result = result * base;
            }
            base = base * base;
            e >>= 1;
        }
        if n < 0 {
            Jet::constant(1.0) / result
        } else {
            result
        }
    }
}

impl std::ops::Add for Jet {
    type Output = Jet;
    fn add(self, other: Jet) -> Jet {
        self.map2(other, |a, b| a + b)
    }
}

impl std::ops::Sub for Jet {
    type Output = Jet;
    fn sub(self, other: Jet) -> Jet {
        self.map2(other, |a, b| a - b)
    }
}

impl std::ops::Mul for Jet {
    type Output = Jet;
    /// The Cauchy product, truncated.
    fn mul(self, other: Jet) -> Jet {
        let (a, b) = (self.0, other.0);
        Jet(std::array::from_fn(|k| (0..=k).map(|j| a[j] * b[k - j]).sum()))
    }
}

impl std::ops::Div for Jet {
    type Output = Jet;
    /// q = a / b from a = q b: q_k = (a_k − Σ_{j≥1} b_j q_{k−j}) / b_0.
    fn div(self, other: Jet) -> Jet {
        let (a, b) = (self.0, other.0);
        let mut q = [0.0; N];
        for k in 0..N {
            q[k] = (a[k] - (1..=k).map(|j| b[j] * q[k - j]).sum::<f64>()) / b[0];
        }
        Jet(q)
    }
}

/// The expression's jet at `x`.
pub fn jet(e: &Expr, x: f64) -> Jet {
    match e {
        Expr::X => Jet::variable(x),
        Expr::Const(c) => Jet::constant(*c),
        Expr::Neg(a) => jet(a, x).scale(-1.0),
        Expr::Add(a, b) => jet(a, x) + jet(b, x),
        Expr::Sub(a, b) => jet(a, x) - jet(b, x),
        Expr::Mul(a, b) => jet(a, x) * jet(b, x),
        Expr::Div(a, b) => jet(a, x) / jet(b, x),
        Expr::Pow(a, n) => jet(a, x).powi(*n),
        Expr::Call(f, a) => {
            let a = jet(a, x);
            match f {
                Func::Exp => a.exp(),
                Func::Log => a.ln(),
                Func::Sin => a.sin_cos().0,
                Func::Cos => a.sin_cos().1,
                Func::Tanh => a.tanh(),
                Func::Relu => a.relu(),
                Func::Selu => a.selu(),
            }
        }
    }
}

/// f(x), f'(x), f''(x), f'''(x).
pub fn derivatives(e: &Expr, x: f64) -> [f64; N] {
    jet(e, x).derivatives()
}

/// The expression's value alone, in plain f64 arithmetic (the finite differences use it).
pub fn value(e: &Expr, x: f64) -> f64 {
    match e {
        Expr::X => x,
        Expr::Const(c) => *c,
        Expr::Neg(a) => -value(a, x),
        Expr::Add(a, b) => value(a, x) + value(b, x),
        Expr::Sub(a, b) => value(a, x) - value(b, x),
        Expr::Mul(a, b) => value(a, x) * value(b, x),
        Expr::Div(a, b) => value(a, x) / value(b, x),
        Expr::Pow(a, n) => value(a, x).powi(*n),
        Expr::Call(f, a) => {
            let v = value(a, x);
            match f {
                Func::Exp => v.exp(),
                Func::Log => v.ln(),
                Func::Sin => v.sin(),
                Func::Cos => v.cos(),
                Func::Tanh => v.tanh(),
                Func::Relu => v.max(0.0),
                Func::Selu => LAMBDA as f64 * if v > 0.0 { v } else { ALPHA as f64 * (v.exp() - 1.0) },
            }
        }
    }
}

/// f and its three derivatives at `points` evenly spaced x in [lo, hi], for the plot.
pub fn sample(e: &Expr, lo: f64, hi: f64, points: usize) -> Vec<(f64, [f64; N])> {
    let points = points.max(2);
    (0..points)
        .map(|i| {
            let x = lo + (hi - lo) * i as f64 / (points - 1) as f64;
            (x, derivatives(e, x))
        })
        .collect()
}
