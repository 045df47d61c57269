//! The Rust side of `shaders/include/uniforms.wgsl`: one `#[repr(C)]` struct per WGSL
//! struct, with the same name and fields. `engine/tests/shaders.rs` checks with naga that
//! each pair agrees on member names, offsets, types and size.

use crate::model::ConvGeom;

/// A member of a uniform struct, as the layout test compares it with the WGSL side.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UniformField {
    pub name: &'static str,
    pub offset: usize,
    /// The WGSL type's name: `u32`, `f32` or a struct's name.
    pub ty: &'static str,
}

/// A uniform struct shared with WGSL.
pub trait Uniform: bytemuck::Pod {
    /// The WGSL struct's name.
    const NAME: &'static str;
    fn fields() -> Vec<UniformField>;
}

/// The WGSL name of a member's type.
pub trait WgslType {
    const WGSL: &'static str;
}
impl WgslType for u32 {
    const WGSL: &'static str = "u32";
}
impl WgslType for f32 {
    const WGSL: &'static str = "f32";
}

/// A uniform's name, members and size, for the layout test.
pub struct UniformLayout {
    pub name: &'static str,
    pub fields: Vec<UniformField>,
    pub size: usize,
}

macro_rules! uniforms {
    ($( $(#[$meta:meta])* struct $name:ident { $( $field:ident : $ty:ty ),* $(,)? } )*) => {
        $(
            $(#[$meta])*
            #[repr(C)]
            #[derive(Clone, Copy, Debug, Default, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
            pub struct $name { $( pub $field: $ty ),* }

            impl Uniform for $name {
                const NAME: &'static str = stringify!($name);
                fn fields() -> Vec<UniformField> {
                    vec![$( UniformField {
                        name: stringify!($field),
                        offset: std::mem::offset_of!($name, $field),
                        ty: <$ty as WgslType>::WGSL,
                    } ),*]
                }
            }

            impl WgslType for $name {
                const WGSL: &'static str = stringify!($name);
            }
        )*

        /// Every uniform struct the kernels use, for the layout test.
        pub fn all_layouts() -> Vec<UniformLayout> {
            vec![$( UniformLayout { name: stringify!($name), fields: <$name>::fields(), size: std::mem::size_of::<$name>() } ),*]
        }
    };
}

uniforms! {
    /// Per-step values every step-aware kernel reads from one small uniform buffer.
    struct Step { start: u32, valid: u32, slot: u32, accumulate: u32, lr: f32, bc1: f32, bc2: f32, _pad: f32 }
    struct GatherParams { n: u32, pixels: u32, perm_len: u32, _pad: u32 }
    struct ConvShape {
        n: u32, c: u32, h: u32, w: u32, o: u32, oh: u32, ow: u32, k: u32, stride: u32, pad_top: u32, pad_left: u32, _pad: u32,
    }
    struct ConvForwardParams { g: ConvShape, w_off: u32, b_off: u32, relu: u32, _pad: u32 }
    struct ConvForwardLanesParams { g: ConvShape, oc0: u32, b_off: u32, relu: u32, _pad: u32 }
    struct ConvBackwardInputParams { g: ConvShape, w_off: u32, _pad0: u32, _pad1: u32, _pad2: u32 }
    struct ConvBackwardInputLanesParams { g: ConvShape, ic0: u32, _pad0: u32, _pad1: u32, _pad2: u32 }
    struct ConvBackwardParamsParams { g: ConvShape, m_chunk: u32, col_tiles: u32, _pad0: u32, _pad1: u32 }
    struct ConvBackwardParamsLanesParams { g: ConvShape, oc0: u32, m_begin: u32, m_end: u32, chunk: u32 }
    struct ConvPackWeightsParams { o: u32, c: u32, area: u32, w_off: u32, transpose: u32, rows: u32, count: u32, block_stride: u32 }
    struct ConvPackDyParams { o: u32, pixels: u32, m_total: u32, m_stride: u32, count: u32, _pad0: u32, _pad1: u32, _pad2: u32 }
    struct BnTrainParams { n: u32, c: u32, hw: u32, stats_off: u32, eps: f32, momentum: f32, update_running: u32, relu: u32, gamma_off: u32, beta_off: u32, _pad0: u32, _pad1: u32 }
    struct BnEvalStatsParams { c: u32, stats_off: u32, eps: f32, _pad: u32 }
    struct BnParams { n: u32, c: u32, hw: u32, relu: u32, gamma_off: u32, beta_off: u32, input_grad: u32, _pad1: u32 }
    struct ElementwiseParams { count: u32, _pad0: u32, _pad1: u32, _pad2: u32 }
    struct DenseParams { n: u32, inputs: u32, outputs: u32, w_off: u32, b_off: u32, relu: u32, _pad1: u32, _pad2: u32 }
    struct LossParams { n: u32, classes: u32, train: u32, dense: u32, inputs: u32, w_off: u32, b_off: u32, _pad: u32 }
    struct AdamParams { count: u32, beta1: f32, beta2: f32, eps: f32, segments: u32, _pad0: u32, _pad1: u32, _pad2: u32 }
    struct AdamSegment { o: u32, k: u32, splits: u32, w_off: u32, b_off: u32, bias_zero: u32, partials_off: u32, _pad: u32 }
    struct SeluParams { count: u32, alpha: f32, lambda: f32, _pad: u32 }
    struct EagerOpParams { count: u32, op: u32, s: f32, _pad: u32 }
}

impl ConvShape {
    pub fn new(g: &ConvGeom, n: usize) -> Self {
        let u = |v: usize| v as u32;
        ConvShape {
            n: u(n),
            c: u(g.input.c),
            h: u(g.input.h),
            w: u(g.input.w),
            o: u(g.output.c),
            oh: u(g.output.h),
            ow: u(g.output.w),
            k: u(g.kernel),
            stride: u(g.stride),
            pad_top: u(g.pad_top),
            pad_left: u(g.pad_left),
            _pad: 0,
        }
    }
}
