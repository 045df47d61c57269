// Every kernel's uniform, in one place (engine/src/gpu/uniforms.rs mirrors each struct with
// one #[repr(C)] Rust struct; engine/tests/shaders.rs checks that names, offsets and sizes
// agree). The engine prepends this file to every kernel.

// Per-step values, written once per step: gather, softmax_loss and adam read them.
struct Step {
    start: u32, // first permutation index of this batch
    valid: u32, // examples of the batch that count in the metrics
    slot: u32, // metrics slot the loss kernel writes
    accumulate: u32, // 0: overwrite the slot, 1: add to it
    lr: f32,
    bc1: f32, // Adam's bias corrections 1 - beta1^t and 1 - beta2^t
    bc2: f32,
    _pad: f32,
}

struct GatherParams { n: u32, pixels: u32, perm_len: u32, _pad: u32 }

// A convolution's shape (NCHW input, OIHW weights, SAME padding given as top/left).
struct ConvShape {
    n: u32, c: u32, h: u32, w: u32,
    o: u32, oh: u32, ow: u32, k: u32,
    stride: u32, pad_top: u32, pad_left: u32, _pad: u32,
}

struct ConvForwardParams { g: ConvShape, w_off: u32, b_off: u32, relu: u32, _pad: u32 }
// oc0: the dispatch's first output channel (blocks of 16).
struct ConvForwardLanesParams { g: ConvShape, oc0: u32, b_off: u32, relu: u32, _pad: u32 }
struct ConvBackwardInputParams { g: ConvShape, w_off: u32, _pad0: u32, _pad1: u32, _pad2: u32 }
// ic0: the dispatch's first input channel (blocks of 16).
struct ConvBackwardInputLanesParams { g: ConvShape, ic0: u32, _pad0: u32, _pad1: u32, _pad2: u32 }
struct ConvBackwardParamsParams { g: ConvShape, m_chunk: u32, col_tiles: u32, _pad0: u32, _pad1: u32 }
struct ConvBackwardParamsLanesParams { g: ConvShape, oc0: u32, m_begin: u32, m_end: u32, chunk: u32 }
// k: columns minus one (the weights; column k is the bias).
struct ConvPackWeightsParams { o: u32, c: u32, area: u32, w_off: u32, transpose: u32, rows: u32, count: u32, block_stride: u32 }
struct ConvPackDyParams { o: u32, pixels: u32, m_total: u32, m_stride: u32, count: u32, _pad0: u32, _pad1: u32, _pad2: u32 }

// bn_forward_train: batch statistics (running update if update_running) and the
// normalisation (relu: the ReLU after the layer, fused).
struct BnTrainParams { n: u32, c: u32, hw: u32, stats_off: u32, eps: f32, momentum: f32, update_running: u32, relu: u32, gamma_off: u32, beta_off: u32, _pad0: u32, _pad1: u32 }
struct BnEvalStatsParams { c: u32, stats_off: u32, eps: f32, _pad: u32 }
// bn_apply (evaluation) and bn_backward (relu: the ReLU after the layer, fused into both;
// input_grad: bn_backward also writes the input gradient).
struct BnParams { n: u32, c: u32, hw: u32, relu: u32, gamma_off: u32, beta_off: u32, input_grad: u32, _pad1: u32 }

struct ElementwiseParams { count: u32, _pad0: u32, _pad1: u32, _pad2: u32 }
// relu: dense_backward_input masks dx by x > 0 (the input is a ReLU's output).
struct DenseParams { n: u32, inputs: u32, outputs: u32, w_off: u32, b_off: u32, relu: u32, _pad1: u32, _pad2: u32 }
// With dense, the loss first computes its logits from the dense layer before it.
struct LossParams { n: u32, classes: u32, train: u32, dense: u32, inputs: u32, w_off: u32, b_off: u32, _pad: u32 }
// segments: how many AdamSegment entries adam reads (0: the gradients are all in place).
struct AdamParams { count: u32, beta1: f32, beta2: f32, eps: f32, segments: u32, _pad0: u32, _pad1: u32, _pad2: u32 }
// A convolution whose weight gradient Adam sums itself from conv_backward_params' partial
// sums [split][o][k + 1] at `partials_off` (the bias in the last column), instead of a
// conv_params_reduce dispatch (which takes the same struct when it runs). bias_zero: a BatchNorm follows, so the bias gradient is 0.
struct AdamSegment { o: u32, k: u32, splits: u32, w_off: u32, b_off: u32, bias_zero: u32, partials_off: u32, _pad: u32 }

// The jit lesson: SELU fused into one kernel, and the same maths one operation per dispatch.
struct SeluParams { count: u32, alpha: f32, lambda: f32, _pad: u32 }
// op: 0 exp(a), 1 a * s, 2 a + s, 3 a > s (1 or 0), 4 select(c, b, a != 0)
struct EagerOpParams { count: u32, op: u32, s: f32, _pad: u32 }
