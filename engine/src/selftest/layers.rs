//! The layers with parameters: convolution, BatchNorm and dense. Parameters sit at odd
//! offsets inside a larger flat buffer, as in training, and nothing outside their ranges
//! may be written.

use super::{Probe, FWD_TOL, GRAD_TOL};
use crate::gpu::adam::{OptimizerBuffers, PendingGradients};
use crate::gpu::batchnorm::{BnBackward, BnLayer, RunningStats};
use crate::gpu::conv::{ConvGradients, ConvLayer, PARTIALS_ALIGN};
use crate::gpu::dense::DenseLayer;
use crate::gpu::loss::LossLayer;
use crate::gpu::{ConvParamsSplit, GpuError, Kernels, LayerParams, Step};
use crate::model::{Adam, ConvGeom, Shape};
use crate::reference as r;

/// `values` placed at the given offsets of a random flat vector of `len`.
fn flat_with(p: &mut Probe<'_>, len: usize, parts: &[(usize, &[f64])]) -> Vec<f64> {
    let mut flat = p.rng.vec(len, -1.0, 1.0);
    for (offset, values) in parts {
        flat[*offset..*offset + values.len()].copy_from_slice(values);
    }
    flat
}

/// How many values were written (are no longer the NaN poison).
fn written_count(values: &[f64]) -> usize {
    values.iter().filter(|v| !v.is_nan()).count()
}

/// The three convolution kernels (plus packing and the reduction) with one register block.
pub(super) async fn conv(p: &mut Probe<'_>, k: &Kernels, g: ConvGeom, n: usize) -> Result<(), GpuError> {
    let x = p.rng.vec(n * g.input.len(), -1.0, 1.0);
    let w = p.rng.vec(g.weight_len(), -0.5, 0.5);
    let b = p.rng.vec(g.output.c, -0.5, 0.5);
    let dy = p.rng.vec(n * g.output.len(), -1.0, 1.0);
    // Parameters sit after 7 other values, as inside the flat buffer.
    let (w_off, b_off) = (7, 7 + w.len() + 3);
    let flat = flat_with(p, b_off + b.len() + 2, &[(w_off, &w), (b_off, &b)]);

    let (xb, pb, dyb) = (p.input(&x), p.input(&flat), p.input(&dy));
    let (y, y_relu) = (p.poisoned(n * g.output.len()), p.poisoned(n * g.output.len()));
    let (dx, grads) = (p.poisoned(n * g.input.len()), p.poisoned(flat.len()));
    let partials = p.poisoned(ConvParamsSplit::scratch_len(&g, n, k.block));
    let packed = k.packed_weights_buffer(k.packed_weights_bytes(&g, n, true));
    let layer = ConvLayer { geom: &g, n, params: LayerParams { buffer: &pb, weight: w_off, bias: b_off }, packed: &packed };
    let out = ConvGradients { partials: &partials, partials_off: 0, grads: &grads, bias_feeds_bn: false, reduce: true };
    let mut dispatches = k.conv_forward(&layer, false, &xb, &y);
    dispatches.extend(k.conv_forward(&layer, true, &xb, &y_relu));
    dispatches.extend(k.conv_backward_input(&layer, &dyb, &dx));
    dispatches.extend(k.conv_backward_params(&layer, &out, &xb, &dyb));
    p.run(&dispatches);

    let block = format!("{:?}", k.block);
    let y_ref = r::conv_forward(&g, n, &x, &w, &b);
    p.close(format!("{block} forward"), &p.read(&y).await?, &y_ref, FWD_TOL);
    p.close(format!("{block} forward+relu"), &p.read(&y_relu).await?, &r::relu(&y_ref), FWD_TOL);
    let (dx_ref, dw_ref, db_ref) = r::conv_backward(&g, n, &x, &w, &dy);
    p.close(format!("{block} dx"), &p.read(&dx).await?, &dx_ref, GRAD_TOL);
    let got = p.read(&grads).await?;
    p.close(format!("{block} dw"), &got[w_off..w_off + w.len()], &dw_ref, GRAD_TOL);
    p.close(format!("{block} db"), &got[b_off..b_off + b.len()], &db_ref, GRAD_TOL);
    let outside = written_count(&got[..w_off]) + written_count(&got[w_off + w.len()..b_off]) + written_count(&got[b_off + b.len()..]);
    p.exact(format!("{block} writes only the parameter ranges"), outside, format!("{outside} gradient values written outside them"));

    // As training runs it: the partial sums left at an offset for Adam to sum (a BatchNorm
    // after the layer, so the bias gradient is exactly 0), then one Adam step.
    let fused_grads = p.poisoned(flat.len());
    let fused_partials = p.poisoned(PARTIALS_ALIGN + ConvParamsSplit::scratch_len(&g, n, k.block));
    let fused =
        ConvGradients { partials: &fused_partials, partials_off: PARTIALS_ALIGN, grads: &fused_grads, bias_feeds_bn: true, reduce: false };
    let segments = p.input_bytes(bytemuck::bytes_of(&k.adam_segment(&layer, &fused)));
    let hp = Adam::default();
    let zeros = vec![0.0; flat.len()];
    let (params, m, v) = (p.input(&flat), p.input(&zeros), p.input(&zeros));
    let step =
        p.uniform(&Step { lr: hp.lr, bc1: (1.0 - hp.beta1 as f64) as f32, bc2: (1.0 - hp.beta2 as f64) as f32, ..Default::default() });
    let optimizer = OptimizerBuffers { params: &params, grads: &fused_grads, m: &m, v: &v };
    let pending = PendingGradients { partials: &fused_partials, segments: &segments, count: 1 };
    let mut dispatches = k.conv_backward_params(&layer, &fused, &xb, &dyb);
    dispatches.push(k.adam(flat.len(), &hp, &step, &optimizer, Some(pending)));
    p.run(&dispatches);
    let got = p.read(&fused_grads).await?;
    p.close(format!("{block} dw summed by adam"), &got[w_off..w_off + w.len()], &dw_ref, GRAD_TOL);
    let nonzero = got[b_off..b_off + b.len()].iter().filter(|&&v| v != 0.0).count();
    p.exact(format!("{block} db before a BatchNorm, by adam"), nonzero, format!("{nonzero} bias gradients are not exactly 0"));
    // Adam's update from the gradients it summed (so rounding in dw does not count here).
    let mut want = flat.clone();
    let (mut m_ref, mut v_ref) = (zeros.clone(), zeros.clone());
    let mut g_ref = zeros.clone();
    g_ref[w_off..w_off + w.len()].copy_from_slice(&got[w_off..w_off + w.len()]);
    r::adam_step(&hp, 1, &mut want, &g_ref, &mut m_ref, &mut v_ref);
    let after = p.read(&params).await?;
    let update = |v: &[f64], range: std::ops::Range<usize>| -> Vec<f64> { range.map(|i| v[i] - flat[i]).collect() };
    let w_range = w_off..w_off + w.len();
    p.close(format!("{block} adam update of w"), &update(&after, w_range.clone()), &update(&want, w_range), 1e-4);
    let moved = (b_off..b_off + b.len()).filter(|&i| after[i] != flat[i]).count();
    p.exact(format!("{block} adam leaves b (zero gradient)"), moved, format!("{moved} biases moved"));
    Ok(())
}

pub(super) async fn batchnorm(p: &mut Probe<'_>, k: &Kernels, shape: Shape, n: usize) -> Result<(), GpuError> {
    let len = n * shape.len();
    // Shifted, scaled inputs so mean and variance are far from 0 and 1.
    let x = p.rng.vec(len, -1.0, 3.0);
    let gamma = p.rng.vec(shape.c, 0.5, 1.5);
    let beta = p.rng.vec(shape.c, -0.5, 0.5);
    let dy = p.rng.vec(len, -1.0, 1.0);
    let (g_off, b_off) = (3, 3 + shape.c + 1);
    let flat = flat_with(p, b_off + shape.c, &[(g_off, &gamma), (b_off, &beta)]);
    let stats_off = 2;
    let mut stats = p.rng.vec(stats_off + 2 * shape.c, 0.5, 1.5);
    let (xb, pb, dyb, sb) = (p.input(&x), p.input(&flat), p.input(&dy), p.input(&stats));
    let save = p.poisoned(2 * shape.c);
    let (y, y_relu, y_apply_relu) = (p.poisoned(len), p.poisoned(len), p.poisoned(len));
    let (dx, dx_relu) = (p.poisoned(len), p.poisoned(len));
    let (grads, grads_relu, grads_only) = (p.poisoned(flat.len()), p.poisoned(flat.len()), p.poisoned(flat.len()));
    let layer = BnLayer { shape, n, params: LayerParams { buffer: &pb, weight: g_off, bias: b_off }, save: &save };
    let running = RunningStats { buffer: &sb, offset: stats_off };
    let plain = BnBackward { x: &xb, dy: &dyb, grads: &grads, relu_output: None };
    // dy as the gradient of the fused ReLU's output (y_relu), masked inside the kernel.
    let through_relu = BnBackward { grads: &grads_relu, relu_output: Some(&y_relu), ..plain };
    p.run(&[
        k.bn_forward_train(&layer, &xb, running, true, false, &y),
        // The same batch again with the ReLU fused, the running statistics left alone.
        k.bn_forward_train(&layer, &xb, running, false, true, &y_relu),
        // The evaluation kernel's ReLU, with the batch statistics just saved.
        k.bn_apply(&layer, true, &xb, &y_apply_relu),
        k.bn_backward(&layer, &plain, Some(&dx)),
        k.bn_backward(&layer, &through_relu, Some(&dx_relu)),
        k.bn_backward(&layer, &BnBackward { grads: &grads_only, ..plain }, None),
    ]);
    let (y_ref, cache) = r::bn_forward_train(shape, n, &x, &gamma, &beta);
    p.close("forward", &p.read(&y).await?, &y_ref, FWD_TOL);
    p.close("forward+relu", &p.read(&y_relu).await?, &r::relu(&y_ref), FWD_TOL);
    p.close("apply+relu", &p.read(&y_apply_relu).await?, &r::relu(&y_ref), FWD_TOL);
    let (dx_ref, dg_ref, db_ref) = r::bn_backward(shape, n, &dy, &cache, &gamma);
    let got = p.read(&grads).await?;
    p.close("dgamma", &got[g_off..g_off + shape.c], &dg_ref, GRAD_TOL);
    p.close("dbeta", &got[b_off..b_off + shape.c], &db_ref, GRAD_TOL);
    p.close("dx", &p.read(&dx).await?, &dx_ref, GRAD_TOL);
    let only = p.read(&grads_only).await?;
    p.close("dgamma without the input gradient", &only[g_off..g_off + shape.c], &dg_ref, GRAD_TOL);
    p.close("dbeta without the input gradient", &only[b_off..b_off + shape.c], &db_ref, GRAD_TOL);
    // The ReLU's backward fused: dy kept where the kernel's own forward output is positive.
    let relu_out = p.read(&y_relu).await?;
    let dy_masked: Vec<f64> = dy.iter().zip(&relu_out).map(|(&g, &y)| if y > 0.0 { g } else { 0.0 }).collect();
    let (dx_ref, dg_ref, db_ref) = r::bn_backward(shape, n, &dy_masked, &cache, &gamma);
    let got = p.read(&grads_relu).await?;
    p.close("dgamma through a fused ReLU", &got[g_off..g_off + shape.c], &dg_ref, GRAD_TOL);
    p.close("dbeta through a fused ReLU", &got[b_off..b_off + shape.c], &db_ref, GRAD_TOL);
    p.close("dx through a fused ReLU", &p.read(&dx_relu).await?, &dx_ref, GRAD_TOL);

    // Running statistics, then evaluation mode from them.
    let (means, vars) = stats[stats_off..].split_at_mut(shape.c);
    r::bn_update_running(n, shape, &cache, means, vars);
    let got_stats = p.read(&sb).await?;
    p.close("running statistics", &got_stats[stats_off..], &stats[stats_off..], FWD_TOL);
    let (eval_save, y_eval) = (p.poisoned(2 * shape.c), p.poisoned(len));
    let eval_layer = BnLayer { save: &eval_save, ..layer };
    p.run(&[k.bn_eval_stats(&eval_layer, running), k.bn_apply(&eval_layer, false, &xb, &y_eval)]);
    let (means, vars) = stats[stats_off..].split_at(shape.c);
    let eval_ref = r::bn_forward_eval(shape, &x, &gamma, &beta, means, vars);
    p.close("evaluation forward", &p.read(&y_eval).await?, &eval_ref, FWD_TOL);

    // Batch statistics without the running update (an evaluation of training data in
    // training mode): the same normalisation, and the running statistics untouched.
    let kept = p.rng.vec(stats_off + 2 * shape.c, 0.5, 1.5);
    let kept_b = p.input(&kept);
    let (save2, y2) = (p.poisoned(2 * shape.c), p.poisoned(len));
    let layer2 = BnLayer { save: &save2, ..layer };
    let running2 = RunningStats { buffer: &kept_b, offset: stats_off };
    p.run(&[k.bn_forward_train(&layer2, &xb, running2, false, false, &y2)]);
    p.close("forward without the running update", &p.read(&y2).await?, &y_ref, FWD_TOL);
    let written = p.read(&kept_b).await?;
    let changed = written.iter().zip(&kept).filter(|(a, b)| a != b).count();
    p.exact("running statistics kept with the update off", changed, format!("{changed} running statistics changed"));
    Ok(())
}

pub(super) async fn dense(p: &mut Probe<'_>, k: &Kernels, inputs: usize, outputs: usize, n: usize) -> Result<(), GpuError> {
    let x = p.rng.vec(n * inputs, -1.0, 1.0);
    let w = p.rng.vec(inputs * outputs, -0.5, 0.5);
    let b = p.rng.vec(outputs, -0.5, 0.5);
    let dy = p.rng.vec(n * outputs, -1.0, 1.0);
    let (w_off, b_off) = (5, 5 + w.len());
    let flat = flat_with(p, b_off + outputs + 1, &[(w_off, &w), (b_off, &b)]);
    let (xb, pb, dyb) = (p.input(&x), p.input(&flat), p.input(&dy));
    let (y, dx, grads) = (p.poisoned(n * outputs), p.poisoned(n * inputs), p.poisoned(flat.len()));
    let dx_relu = p.poisoned(n * inputs);
    let layer = DenseLayer { n, inputs, outputs, params: LayerParams { buffer: &pb, weight: w_off, bias: b_off } };
    p.run(&[
        k.dense_forward(&layer, &xb, &y),
        k.dense_backward_input(&layer, &dyb, &dx, None),
        // x read as a ReLU's output (about half of it is not positive): its backward fused.
        k.dense_backward_input(&layer, &dyb, &dx_relu, Some(&xb)),
        k.dense_backward_params(&layer, &xb, &dyb, &grads),
    ]);
    p.close("forward", &p.read(&y).await?, &r::dense_forward(n, inputs, outputs, &x, &w, &b), FWD_TOL);
    let (dx_ref, dw_ref, db_ref) = r::dense_backward(n, inputs, outputs, &x, &w, &dy);
    p.close("dx", &p.read(&dx).await?, &dx_ref, GRAD_TOL);
    let masked: Vec<f64> = dx_ref.iter().zip(&x).map(|(&g, &x)| if x > 0.0 { g } else { 0.0 }).collect();
    p.close("dx through the input's ReLU", &p.read(&dx_relu).await?, &masked, GRAD_TOL);
    let got = p.read(&grads).await?;
    p.close("dw", &got[w_off..w_off + w.len()], &dw_ref, GRAD_TOL);
    p.close("db", &got[b_off..b_off + outputs], &db_ref, GRAD_TOL);

    // The loss computing its logits from this layer: logits, log-probabilities, dlogits, metrics.
    let y_ref = r::dense_forward(n, inputs, outputs, &x, &w, &b);
    let labels: Vec<u8> = (0..n).map(|_| p.rng.below(outputs as u64) as u8).collect();
    let label_words: Vec<u32> = labels.iter().map(|&l| l as u32).collect();
    let labb = p.input_bytes(bytemuck::cast_slice(&label_words));
    let (logits, lp, dl, metrics) = (p.poisoned(n * outputs), p.poisoned(n * outputs), p.poisoned(n * outputs), p.poisoned(4));
    let step = p.uniform(&Step { valid: n as u32, ..Default::default() });
    let loss = LossLayer { n, classes: outputs, train: true, step: &step, labels: &labb, metrics: &metrics };
    p.run(&[k.dense_softmax_loss(&layer, &loss, &xb, &logits, &lp, &dl)]);
    p.close("fused loss: logits", &p.read(&logits).await?, &y_ref, FWD_TOL);
    let lp_ref = r::log_softmax(outputs, &y_ref);
    let (loss_ref, dl_ref) = r::nll_loss(outputs, &lp_ref, &labels);
    p.close("fused loss: log-probabilities", &p.read(&lp).await?, &lp_ref, FWD_TOL);
    p.close("fused loss: dlogits", &p.read(&dl).await?, &dl_ref, GRAD_TOL);
    let m = p.read(&metrics).await?;
    p.close("fused loss: loss", &[m[0] / m[2]], &[loss_ref], FWD_TOL);
    let correct = r::correct_count(outputs, &y_ref, &labels);
    p.exact("fused loss: correct count", usize::from(m[1] != correct as f64), format!("{} counted, {correct} expected", m[1]));
    Ok(())
}
