//! A static plan per batch size: activations, gradients and every dispatch of a step,
//! bound once and encoded every step.

use crate::data::Split;
use crate::gpu::adam::{OptimizerBuffers, PendingGradients};
use crate::gpu::batchnorm::{BnBackward, BnLayer, RunningStats};
use crate::gpu::conv::{ConvGradients, ConvLayer, PARTIALS_ALIGN};
use crate::gpu::dense::DenseLayer;
use crate::gpu::gather::ResidentSplit;
use crate::gpu::loss::LossLayer;
use crate::gpu::{ConvParamsSplit, Dispatch, GpuContext, Kernels, LayerParams};
use crate::model::{Adam, ConvGeom, Model, Op};

/// One batch size's activations, gradients and bound dispatches.
pub(super) struct Plan {
    pub n: usize,
    pub acts: Vec<wgpu::Buffer>,
    /// Scratch for the lane kernels' packed weights and dy (an evaluation plan shares it).
    pub packed: wgpu::Buffer,
    pub forward: Vec<Dispatch>,
    pub backward: Vec<Dispatch>,
    /// Every buffer the plan reads or writes besides the shared ones, by role (the label),
    /// for a later plan to share.
    buffers: Vec<(String, wgpu::Buffer)>,
    /// Bytes this plan allocated itself.
    pub bytes: u64,
}

impl Plan {
    /// A command encoder holding this plan's forward pass, in one compute pass.
    pub fn forward_encoder(&self, ctx: &GpuContext) -> wgpu::CommandEncoder {
        let mut encoder = ctx.device.create_command_encoder(&Default::default());
        {
            let mut pass = encoder.begin_compute_pass(&Default::default());
            for d in &self.forward {
                d.encode(&mut pass);
            }
        }
        encoder
    }

    fn buffer(&self, role: &str) -> Option<&wgpu::Buffer> {
        self.buffers.iter().find(|(r, _)| r == role).map(|(_, b)| b)
    }
}

/// Buffers every plan shares.
pub(super) struct Shared {
    pub params: wgpu::Buffer,
    pub grads: wgpu::Buffer,
    pub stats: wgpu::Buffer,
    pub m: wgpu::Buffer,
    pub v: wgpu::Buffer,
    pub step: wgpu::Buffer,
    pub metrics: wgpu::Buffer,
    pub eval_metrics: wgpu::Buffer,
}

impl Shared {
    pub fn bytes(&self) -> u64 {
        [&self.params, &self.grads, &self.stats, &self.m, &self.v, &self.step, &self.metrics, &self.eval_metrics]
            .iter()
            .map(|b| b.size())
            .sum()
    }
}

/// Bytes padded to a multiple of 4, as buffer writes need.
pub(super) fn padded_u8(bytes: &[u8]) -> Vec<u8> {
    let mut padded = bytes.to_vec();
    padded.resize(bytes.len().div_ceil(4) * 4, 0);
    padded
}

/// The permutation 0, 1, ..., len - 1: a split read in order.
pub(super) fn identity_permutation(ctx: &GpuContext, label: &str, len: usize) -> wgpu::Buffer {
    let identity: Vec<u32> = (0..len as u32).collect();
    ctx.storage_buffer(label, bytemuck::cast_slice(&identity))
}

/// Uploads a split as packed u8, with an identity permutation.
pub(super) fn upload_split(ctx: &GpuContext, name: &str, split: &Split) -> ResidentSplit {
    ResidentSplit {
        len: split.len(),
        pixels: ctx.storage_buffer(&format!("{name} pixels"), &padded_u8(&split.images)),
        labels: ctx.storage_buffer(&format!("{name} labels"), &padded_u8(&split.labels)),
        perm: identity_permutation(ctx, &format!("{name} permutation"), split.len()),
    }
}

/// What a plan is built for.
pub(super) struct PlanSpec<'a> {
    pub model: &'a Model,
    pub adam: &'a Adam,
    pub data: &'a ResidentSplit,
    /// The metrics ring (training) or the evaluation sums.
    pub metrics: &'a wgpu::Buffer,
    pub n: usize,
    pub train: bool,
    /// The training plan: wherever one of its buffers is big enough for the same role
    /// (activations, gradients, labels, packing scratch, partial sums), this plan uses it
    /// instead of a new one. Plans run one submission at a time, and a step or an evaluation
    /// batch writes each of these before it reads it.
    pub share_with: Option<&'a Plan>,
}

/// Builds the bound dispatches of one batch size: gather, every op forward (ReLU fused into
/// a preceding convolution or BatchNorm, a dense layer into the loss after it), the loss, and
/// in training the backward pass and Adam.
pub(super) fn build_plan(k: &Kernels, shared: &Shared, spec: &PlanSpec) -> Plan {
    let PlanSpec { model, n, train, .. } = *spec;
    let ctx = &k.ctx;
    let ops = &model.ops;
    let mut bytes = 0u64;
    let mut buffers = Vec::new();
    let mut alloc = |role: &str, floats: usize| {
        let size = (floats.max(1) * 4) as u64;
        let buffer = match spec.share_with.and_then(|p| p.buffer(role)).filter(|b| b.size() >= size) {
            Some(big_enough) => big_enough.clone(),
            None => {
                bytes += size;
                ctx.zeroed_buffer(role, floats)
            }
        };
        buffers.push((role.to_string(), buffer.clone()));
        buffer
    };
    // ops[i] is fused into ops[i - 1] when it is a ReLU after a convolution or BatchNorm.
    let fused_relu =
        |i: usize| -> bool { i > 0 && matches!(ops[i], Op::Relu { .. }) && matches!(ops[i - 1], Op::Conv { .. } | Op::BatchNorm { .. }) };
    // The loss (ops[i]) computes the logits itself when a dense layer produces them.
    let loss_after_dense = |i: usize| i > 0 && matches!(ops[i - 1], Op::Dense { .. });

    let mut acts = vec![alloc("input", n * model.input_len())];
    for (i, op) in ops.iter().enumerate() {
        let aliased = matches!(op, Op::Flatten { .. }) || fused_relu(i);
        let next = if aliased { acts[i].clone() } else { alloc(&format!("activation {i}"), n * op.output_len()) };
        acts.push(next);
    }
    // grads[i] is d loss / d acts[i]; ReLU (in place) and Flatten share their output's.
    let mut grads: Vec<Option<wgpu::Buffer>> = vec![None; ops.len() + 1];
    if train {
        grads[ops.len()] = Some(alloc("unused logprob gradient", 1));
        for i in (0..ops.len()).rev() {
            let g = if matches!(ops[i], Op::Flatten { .. } | Op::Relu { .. }) {
                grads[i + 1].clone().expect("filled from the back")
            } else if i == 0 {
                alloc("unused input gradient", 1)
            } else {
                alloc(&format!("gradient {i}"), n * ops[i - 1].output_len())
            };
            grads[i] = Some(g);
        }
    }
    let grads: Vec<wgpu::Buffer> = grads.into_iter().map(|g| g.unwrap_or_else(|| acts[0].clone())).collect();
    // The weight gradients' partial sums, one region per convolution: Adam sums them all.
    let convs: Vec<&ConvGeom> = ops.iter().filter_map(|op| if let Op::Conv { geom, .. } = op { Some(geom) } else { None }).collect();
    let mut partials_offs = Vec::new();
    let mut partials_len = 0;
    for g in convs.iter().filter(|_| train) {
        partials_offs.push(partials_len);
        partials_len += ConvParamsSplit::scratch_len(g, n, k.block).next_multiple_of(PARTIALS_ALIGN);
    }
    let partials = alloc("weight gradient partial sums", partials_len);
    // Scratch that each convolution uses in turn: its weights (and dy) packed for the lane
    // kernels just before they read them.
    let packed_bytes = convs.iter().map(|g| k.packed_weights_bytes(g, n, train)).max().unwrap_or(0);
    let (packed, packed_new_bytes) = match spec.share_with.filter(|p| p.packed.size() >= packed_bytes) {
        Some(big_enough) => (big_enough.packed.clone(), 0),
        None => {
            let buffer = k.packed_weights_buffer(packed_bytes);
            let size = buffer.size();
            (buffer, size)
        }
    };
    let labels = alloc("labels", n);
    let mut saves: Vec<Option<wgpu::Buffer>> = vec![None; ops.len()];
    for (i, op) in ops.iter().enumerate() {
        if let Op::BatchNorm { shape, .. } = op {
            saves[i] = Some(alloc(&format!("bn save {i}"), 2 * shape.c));
        }
    }
    let params = |weight: usize, bias: usize| LayerParams { buffer: &shared.params, weight, bias };
    let conv = |geom, weight, bias| ConvLayer { geom, n, params: params(weight, bias), packed: &packed };
    let bn =
        |i: usize, shape, gamma, beta| BnLayer { shape, n, params: params(gamma, beta), save: saves[i].as_ref().expect("allocated above") };
    let dense = |inputs, outputs, weight, bias| DenseLayer { n, inputs, outputs, params: params(weight, bias) };
    let loss = |classes| LossLayer { n, classes, train, step: &shared.step, labels: &labels, metrics: spec.metrics };

    let mut forward = vec![k.gather(n, model.input_len(), &shared.step, spec.data, &acts[0], &labels)];
    for (i, op) in ops.iter().enumerate() {
        let fuse = ops.get(i + 1).is_some() && fused_relu(i + 1);
        let (x, y) = (&acts[i], &acts[i + 1]);
        match *op {
            Op::Conv { ref geom, weight, bias } => forward.extend(k.conv_forward(&conv(geom, weight, bias), fuse, x, y)),
            Op::BatchNorm { shape, gamma, beta, stats } => {
                let layer = bn(i, shape, gamma, beta);
                let running = RunningStats { buffer: &shared.stats, offset: stats };
                if train {
                    forward.push(k.bn_forward_train(&layer, x, running, true, fuse, y));
                } else {
                    forward.push(k.bn_eval_stats(&layer, running));
                    forward.push(k.bn_apply(&layer, fuse, x, y));
                }
            }
            Op::Relu { shape } => {
                if !fused_relu(i) {
                    forward.push(k.relu(n * shape.len(), x, y));
                }
            }
            Op::Flatten { .. } => {}
            Op::Dense { inputs, outputs, weight, bias } => {
                let layer = dense(inputs, outputs, weight, bias);
                match ops.get(i + 1) {
                    Some(&Op::LogSoftmax { classes }) => {
                        forward.push(k.dense_softmax_loss(&layer, &loss(classes), x, y, &acts[i + 2], &grads[i + 1]))
                    }
                    _ => forward.push(k.dense_forward(&layer, x, y)),
                }
            }
            Op::LogSoftmax { classes } => {
                if !loss_after_dense(i) {
                    forward.push(k.softmax_loss(&loss(classes), x, y, &grads[i]));
                }
            }
        }
    }

    // A ReLU's backward (ops[r]) is fused into the dense layer that reads its output (through
    // any Flatten), or else into the BatchNorm it follows; only otherwise is it a dispatch.
    let next_real_op = |r: usize| ops[r + 1..].iter().find(|op| !matches!(op, Op::Flatten { .. }));
    let relu_in_dense = |r: usize| matches!(next_real_op(r), Some(Op::Dense { .. }));
    let relu_before = |i: usize| ops[..i].iter().rev().find(|op| !matches!(op, Op::Flatten { .. }));
    let mut backward = Vec::new();
    let mut segments = Vec::new();
    if train {
        for (i, op) in ops.iter().enumerate().rev() {
            let fuse = ops.get(i + 1).is_some() && fused_relu(i + 1);
            let (x, y, dy, dx) = (&acts[i], &acts[i + 1], &grads[i + 1], &grads[i]);
            let count = n * op.output_len();
            // The ReLU whose backward falls here: fused after this op, or this op itself.
            let relu = if fuse { Some(i + 1) } else { (matches!(op, Op::Relu { .. }) && !fused_relu(i)).then_some(i) };
            let relu_in_bn = fuse && matches!(op, Op::BatchNorm { .. }) && !relu_in_dense(i + 1);
            if relu.is_some_and(|r| !relu_in_dense(r)) && !relu_in_bn {
                backward.push(k.relu_backward(count, y, dy));
            }
            match *op {
                Op::Conv { ref geom, weight, bias } => {
                    let layer = conv(geom, weight, bias);
                    let bias_feeds_bn = matches!(ops.get(i + 1), Some(Op::BatchNorm { .. }));
                    // Regions were laid out front to back; convolutions are visited from the back.
                    let partials_off = partials_offs.pop().expect("a region per convolution");
                    let out = ConvGradients { partials: &partials, partials_off, grads: &shared.grads, bias_feeds_bn, reduce: false };
                    backward.extend(k.conv_backward_params(&layer, &out, x, dy));
                    segments.push(k.adam_segment(&layer, &out));
                    if i > 0 {
                        backward.extend(k.conv_backward_input(&layer, dy, dx));
                    }
                }
                Op::BatchNorm { shape, gamma, beta, .. } => {
                    let layer = bn(i, shape, gamma, beta);
                    let g = BnBackward { x, dy, grads: &shared.grads, relu_output: relu_in_bn.then_some(y) };
                    backward.push(k.bn_backward(&layer, &g, (i > 0).then_some(dx)));
                }
                Op::Dense { inputs, outputs, weight, bias } => {
                    let layer = dense(inputs, outputs, weight, bias);
                    backward.push(k.dense_backward_params(&layer, x, dy, &shared.grads));
                    if i > 0 {
                        let relu_input = matches!(relu_before(i), Some(Op::Relu { .. })).then_some(x);
                        backward.push(k.dense_backward_input(&layer, dy, dx, relu_input));
                    }
                }
                Op::Relu { .. } | Op::Flatten { .. } | Op::LogSoftmax { .. } => {}
            }
        }
        let optimizer = OptimizerBuffers { params: &shared.params, grads: &shared.grads, m: &shared.m, v: &shared.v };
        let table = ctx.storage_buffer("adam segments", bytemuck::cast_slice(&segments));
        bytes += table.size();
        let pending = PendingGradients { partials: &partials, segments: &table, count: segments.len() };
        backward.push(k.adam(model.param_count, spec.adam, &shared.step, &optimizer, Some(pending)));
    }
    Plan { n, acts, packed, forward, backward, buffers, bytes: bytes + packed_new_bytes }
}
