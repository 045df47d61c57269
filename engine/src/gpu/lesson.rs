//! The jit lesson's kernels: SELU fused into one dispatch, and one elementwise operation
//! per dispatch for the eager version.

use super::uniforms::{EagerOpParams, SeluParams};
use super::{elementwise, Dispatch, Kernels};

/// One eager elementwise operation (`shaders/lesson_eager.wgsl`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum EagerOp {
    /// exp(a)
    Exp,
    /// a * s
    Scale(f32),
    /// a + s
    Shift(f32),
    /// 1 where a > s, else 0
    Greater(f32),
    /// b where a != 0, else c
    Select,
}

impl EagerOp {
    fn code_and_scalar(self) -> (u32, f32) {
        match self {
            EagerOp::Exp => (0, 0.0),
            EagerOp::Scale(s) => (1, s),
            EagerOp::Shift(s) => (2, s),
            EagerOp::Greater(s) => (3, s),
            EagerOp::Select => (4, 0.0),
        }
    }
}

impl Kernels {
    /// y = lambda * (x > 0 ? x : alpha * exp(x) - alpha), in one dispatch.
    pub fn selu(&self, count: usize, alpha: f32, lambda: f32, x: &wgpu::Buffer, y: &wgpu::Buffer) -> Dispatch {
        let uniform = SeluParams { count: count as u32, alpha, lambda, _pad: 0 };
        self.dispatch("lesson_selu", &uniform, &[x, y], elementwise(count))
    }

    /// `out = op(a, b, c)` elementwise; `b` and `c` are read by [`EagerOp::Select`] only (pass
    /// `a` for the others).
    pub fn eager_op(&self, op: EagerOp, count: usize, inputs: [&wgpu::Buffer; 3], out: &wgpu::Buffer) -> Dispatch {
        let (code, s) = op.code_and_scalar();
        let uniform = EagerOpParams { count: count as u32, op: code, s, _pad: 0 };
        self.dispatch("lesson_eager", &uniform, &[inputs[0], inputs[1], inputs[2], out], elementwise(count))
    }
}
