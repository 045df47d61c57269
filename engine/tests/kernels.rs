//! Every WGSL kernel against the f64 CPU reference: random inputs, odd batch sizes
//! (1, 3, 127), parameters at non-zero offsets, outputs poisoned with NaN beforehand.
//! Tolerance: 1e-5 relative (per-tensor norm) for forward kernels, 1e-4 for reductions
//! and gradients, which sum thousands of f32 products.

mod common;
use common::*;
use engine::gpu::adam::OptimizerBuffers;
use engine::gpu::batchnorm::{BnLayer, RunningStats};
use engine::gpu::conv::{ConvGradients, ConvLayer};
use engine::gpu::dense::DenseLayer;
use engine::gpu::gather::ResidentSplit;
use engine::gpu::loss::LossLayer;
use engine::gpu::{ConvParamsSplit, Kernels, LayerParams, RegisterBlock, Step};
use engine::model::{Adam, ConvGeom, Shape};
use engine::reference as r;

const BATCHES: [usize; 3] = [1, 3, 127];
const FWD_TOL: f64 = 1e-5;
const GRAD_TOL: f64 = 1e-4;

/// The tutorial's four convolutions plus a non-square, stride-1 and a stride-3 case.
fn geometries() -> Vec<ConvGeom> {
    vec![
        ConvGeom::same(Shape { c: 1, h: 28, w: 28 }, 32, 5, 2),
        ConvGeom::same(Shape { c: 32, h: 14, w: 14 }, 32, 5, 2),
        ConvGeom::same(Shape { c: 32, h: 7, w: 7 }, 10, 3, 2),
        ConvGeom::same(Shape { c: 10, h: 4, w: 4 }, 10, 3, 2),
        ConvGeom::same(Shape { c: 3, h: 9, w: 6 }, 5, 3, 1),
        ConvGeom::same(Shape { c: 2, h: 11, w: 8 }, 4, 4, 3),
        // More than one 32-wide tile of channels and of weight columns, neither a multiple of 16.
        ConvGeom::same(Shape { c: 5, h: 6, w: 5 }, 37, 3, 2),
        // Pixel lanes: 1,200 rows of weights are too many for one uniform binding (the
        // forward falls back to tiles), the input gradient's 175 are not.
        ConvGeom::same(Shape { c: 48, h: 5, w: 4 }, 7, 5, 1),
    ]
}

fn step_buffer(ctx: &engine::GpuContext, s: Step) -> wgpu::Buffer {
    ctx.device.create_buffer_init_uniform(bytemuck::bytes_of(&s))
}

trait UniformInit {
    fn create_buffer_init_uniform(&self, bytes: &[u8]) -> wgpu::Buffer;
}
impl UniformInit for wgpu::Device {
    fn create_buffer_init_uniform(&self, bytes: &[u8]) -> wgpu::Buffer {
        use wgpu::util::DeviceExt;
        self.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some("step"),
            contents: bytes,
            usage: wgpu::BufferUsages::UNIFORM,
        })
    }
}

#[test]
fn same_padding_matches_the_golden_conventions() {
    let pads: Vec<(usize, usize, usize)> = geometries()[..4].iter().map(|g| (g.output.h, g.pad_top, g.output.w)).collect();
    // 28→14→7→4→2, with 1,1,1,0 on top (the extra row goes to the bottom).
    assert_eq!(pads, vec![(14, 1, 14), (7, 1, 7), (4, 1, 4), (2, 0, 2)]);
}

#[test]
fn weight_gradient_chunks_cover_the_batch_exactly() {
    for (g, block) in geometries().into_iter().flat_map(|g| RegisterBlock::ALL.map(|b| (g, b))) {
        for n in [1, 2, 3, 64, 127, 128, 500, 4096] {
            let m_total = n * g.output.h * g.output.w;
            let s = ConvParamsSplit::new(&g, n, block);
            assert_eq!(s.m_chunk % 16, 0, "{g:?} batch {n}: {s:?}");
            // Every row in exactly one chunk, and no chunk empty.
            assert!(s.splits * s.m_chunk >= m_total && (s.splits - 1) * s.m_chunk < m_total, "{g:?} batch {n}: {s:?}");
        }
    }
}

#[test]
fn conv_kernels_match_reference() {
    let ctx = gpu();
    let mut rng = Rng::new(1);
    // Every register block, whichever this adapter would pick.
    for block in RegisterBlock::ALL {
        let k = Kernels::with_block(ctx.clone(), block);
        for g in geometries() {
            for n in BATCHES {
                conv_case(&ctx, &k, &mut rng, g, n);
            }
        }
    }
}

#[test]
fn pixel_lanes_run_where_they_fit_and_tiles_elsewhere() {
    let k = Kernels::with_block(gpu(), RegisterBlock::PixelLanes);
    let names = |dispatches: Vec<engine::gpu::Dispatch>| dispatches.iter().map(|d| d.kernel).collect::<Vec<_>>();
    let (x, dy, params) = (poisoned(&k.ctx, 1 << 16), poisoned(&k.ctx, 1 << 16), poisoned(&k.ctx, 1 << 16));
    let (partials, grads) = (poisoned(&k.ctx, 1 << 18), poisoned(&k.ctx, 1 << 16));
    let lane_case = |g: &ConvGeom, n: usize| {
        let packed = k.packed_weights_buffer(k.packed_weights_bytes(g, n, true));
        let layer = ConvLayer { geom: g, n, params: LayerParams { buffer: &params, weight: 0, bias: 0 }, packed: &packed };
        let out = ConvGradients { partials: &partials, grads: &grads, bias_feeds_bn: false };
        let forward = names(k.conv_forward(&layer, false, &x, &dy));
        let input = names(k.conv_backward_input(&layer, &dy, &x));
        let weights = names(k.conv_backward_params(&layer, &out, &x, &dy));
        (forward, input, weights)
    };
    // The tutorial's conv2: 16 channels' weights take 51,200 bytes of a 64 KiB binding;
    // two blocks of 16 channels; 801 weight-gradient columns, rows in chunks of 1,024.
    let conv2 = ConvGeom::same(Shape { c: 32, h: 14, w: 14 }, 32, 5, 2);
    let (forward, input, weights) = lane_case(&conv2, 127);
    assert_eq!(forward, ["conv_pack_weights", "conv_forward_lanes", "conv_forward_lanes"]);
    assert_eq!(input, ["conv_pack_weights", "conv_backward_input_lanes", "conv_backward_input_lanes"]);
    assert_eq!(weights.len(), 1 + 2 * (127 * 49usize).div_ceil(1024) + 1, "{weights:?}");
    assert_eq!((weights[0], weights[1], weights[weights.len() - 1]), ("conv_pack_dy", "conv_backward_params_lanes", "conv_params_reduce"));
    // 48 input channels x 25 taps: 1,200 rows do not fit one binding, so the forward is tiled;
    // the input gradient's 7 x 25 rows do. conv1's 26 columns are too few for lanes.
    let (forward, input, _) = lane_case(&ConvGeom::same(Shape { c: 48, h: 5, w: 4 }, 7, 5, 1), 3);
    assert_eq!((forward.as_slice(), input[1]), (["conv_forward"].as_slice(), "conv_backward_input_lanes"));
    let (_, _, weights) = lane_case(&ConvGeom::same(Shape { c: 1, h: 28, w: 28 }, 32, 5, 2), 3);
    assert_eq!(weights, ["conv_backward_params", "conv_params_reduce"]);
}

/// The three convolution kernels on one geometry and batch against the reference.
fn conv_case(ctx: &engine::GpuContext, k: &Kernels, rng: &mut Rng, g: ConvGeom, n: usize) {
    let x = rng.vec(n * g.input.len(), -1.0, 1.0);
    let w = rng.vec(g.weight_len(), -0.5, 0.5);
    let b = rng.vec(g.output.c, -0.5, 0.5);
    let dy = rng.vec(n * g.output.len(), -1.0, 1.0);
    // Parameters sit after 7 other values, as inside the flat buffer.
    let (w_off, b_off) = (7, 7 + w.len() + 3);
    let mut flat = rng.vec(b_off + b.len() + 2, -1.0, 1.0);
    flat[w_off..w_off + w.len()].copy_from_slice(&w);
    flat[b_off..b_off + b.len()].copy_from_slice(&b);
    let grads_len = flat.len();

    let (xb, pb, dyb) = (buffer(ctx, &x), buffer(ctx, &flat), buffer(ctx, &dy));
    let y = poisoned(ctx, n * g.output.len());
    let y_relu = poisoned(ctx, n * g.output.len());
    let dx = poisoned(ctx, n * g.input.len());
    let grads = poisoned(ctx, grads_len);
    let partials = poisoned(ctx, ConvParamsSplit::scratch_len(&g, n, k.block));
    let packed = k.packed_weights_buffer(k.packed_weights_bytes(&g, n, true));
    let layer = ConvLayer { geom: &g, n, params: LayerParams { buffer: &pb, weight: w_off, bias: b_off }, packed: &packed };
    let out = ConvGradients { partials: &partials, grads: &grads, bias_feeds_bn: false };
    let mut dispatches = k.conv_forward(&layer, false, &xb, &y);
    dispatches.extend(k.conv_forward(&layer, true, &xb, &y_relu));
    dispatches.extend(k.conv_backward_input(&layer, &dyb, &dx));
    dispatches.extend(k.conv_backward_params(&layer, &out, &xb, &dyb));
    run(ctx, &dispatches);
    let what = format!("conv {g:?} batch {n} {:?}", k.block);
    let y_ref = r::conv_forward(&g, n, &x, &w, &b);
    assert_close(&format!("{what} forward"), &read(ctx, &y), &y_ref, FWD_TOL);
    assert_close(&format!("{what} forward+relu"), &read(ctx, &y_relu), &r::relu(&y_ref), FWD_TOL);
    let (dx_ref, dw_ref, db_ref) = r::conv_backward(&g, n, &x, &w, &dy);
    assert_close(&format!("{what} dx"), &read(ctx, &dx), &dx_ref, GRAD_TOL);
    let got = read(ctx, &grads);
    assert_close(&format!("{what} dw"), &got[w_off..w_off + w.len()], &dw_ref, GRAD_TOL);
    assert_close(&format!("{what} db"), &got[b_off..b_off + b.len()], &db_ref, GRAD_TOL);
    // Only the parameter ranges are written.
    assert!(got[..w_off].iter().all(|v| v.is_nan()), "{what}: wrote before the weights");
}

#[test]
fn batchnorm_kernels_match_reference() {
    let ctx = gpu();
    let k = Kernels::new(ctx.clone());
    let mut rng = Rng::new(2);
    for shape in [Shape { c: 32, h: 14, w: 14 }, Shape { c: 10, h: 4, w: 4 }, Shape { c: 3, h: 5, w: 3 }] {
        for n in BATCHES {
            let len = n * shape.len();
            // Shifted, scaled inputs so mean and variance are far from 0 and 1.
            let x: Vec<f64> = rng.vec(len, -1.0, 3.0);
            let gamma = rng.vec(shape.c, 0.5, 1.5);
            let beta = rng.vec(shape.c, -0.5, 0.5);
            let dy = rng.vec(len, -1.0, 1.0);
            let (g_off, b_off) = (3, 3 + shape.c + 1);
            let mut flat = rng.vec(b_off + shape.c, -1.0, 1.0);
            flat[g_off..g_off + shape.c].copy_from_slice(&gamma);
            flat[b_off..b_off + shape.c].copy_from_slice(&beta);
            let stats_off = 2;
            let mut stats = rng.vec(stats_off + 2 * shape.c, 0.5, 1.5);
            let (xb, pb, dyb, sb) = (buffer(&ctx, &x), buffer(&ctx, &flat), buffer(&ctx, &dy), buffer(&ctx, &stats));
            let save = poisoned(&ctx, 2 * shape.c);
            let y = poisoned(&ctx, len);
            let y_relu = poisoned(&ctx, len);
            let grads = poisoned(&ctx, flat.len());
            let dx = poisoned(&ctx, len);
            let params = LayerParams { buffer: &pb, weight: g_off, bias: b_off };
            let layer = BnLayer { shape, n, params, save: &save };
            let running = RunningStats { buffer: &sb, offset: stats_off };
            run(
                &ctx,
                &[
                    k.bn_stats(&layer, &xb, running, true),
                    k.bn_apply(&layer, false, &xb, &y),
                    k.bn_apply(&layer, true, &xb, &y_relu),
                    k.bn_backward_params(&layer, &xb, &dyb, &grads),
                    k.bn_backward_input(&layer, &xb, &dyb, &grads, &dx),
                ],
            );
            let what = format!("batchnorm {shape:?} batch {n}");
            let (y_ref, cache) = r::bn_forward_train(shape, n, &x, &gamma, &beta);
            assert_close(&format!("{what} forward"), &read(&ctx, &y), &y_ref, FWD_TOL);
            assert_close(&format!("{what} forward+relu"), &read(&ctx, &y_relu), &r::relu(&y_ref), FWD_TOL);
            let (dx_ref, dg_ref, db_ref) = r::bn_backward(shape, n, &dy, &cache, &gamma);
            let got = read(&ctx, &grads);
            assert_close(&format!("{what} dgamma"), &got[g_off..g_off + shape.c], &dg_ref, GRAD_TOL);
            assert_close(&format!("{what} dbeta"), &got[b_off..b_off + shape.c], &db_ref, GRAD_TOL);
            assert_close(&format!("{what} dx"), &read(&ctx, &dx), &dx_ref, GRAD_TOL);

            // Running statistics, then evaluation mode from them.
            let (means, vars) = stats[stats_off..].split_at_mut(shape.c);
            r::bn_update_running(n, shape, &cache, means, vars);
            let got_stats = read(&ctx, &sb);
            assert_close(&format!("{what} running stats"), &got_stats[stats_off..], &stats[stats_off..], FWD_TOL);
            let eval_save = poisoned(&ctx, 2 * shape.c);
            let y_eval = poisoned(&ctx, len);
            let eval_layer = BnLayer { save: &eval_save, ..layer };
            run(&ctx, &[k.bn_eval_stats(&eval_layer, running), k.bn_apply(&eval_layer, false, &xb, &y_eval)]);
            let (means, vars) = stats[stats_off..].split_at(shape.c);
            let eval_ref = r::bn_forward_eval(shape, &x, &gamma, &beta, means, vars);
            assert_close(&format!("{what} eval forward"), &read(&ctx, &y_eval), &eval_ref, FWD_TOL);

            // Batch statistics without the running update (an evaluation of training data in
            // training mode): the same normalisation, and the running statistics untouched.
            let kept = rng.vec(stats_off + 2 * shape.c, 0.5, 1.5);
            let kept_b = buffer(&ctx, &kept);
            let (save2, y2) = (poisoned(&ctx, 2 * shape.c), poisoned(&ctx, len));
            let layer2 = BnLayer { save: &save2, ..layer };
            let running2 = RunningStats { buffer: &kept_b, offset: stats_off };
            run(&ctx, &[k.bn_stats(&layer2, &xb, running2, false), k.bn_apply(&layer2, false, &xb, &y2)]);
            assert_close(&format!("{what} forward without the running update"), &read(&ctx, &y2), &y_ref, FWD_TOL);
            let written = read(&ctx, &kept_b);
            let kept_f32: Vec<f64> = kept.iter().map(|&v| v as f32 as f64).collect();
            assert_eq!(written, kept_f32, "{what}: bn_stats changed the running statistics with the update off");
        }
    }
}

#[test]
fn relu_kernels_match_reference() {
    let ctx = gpu();
    let k = Kernels::new(ctx.clone());
    let mut rng = Rng::new(3);
    // 8,400,001 elements need more than 32,768 workgroups of 256: the grid's second row.
    for count in [1, 3, 127 * 40, 70_001, 8_400_001] {
        let x = rng.vec(count, -1.0, 1.0);
        let dy = rng.vec(count, -1.0, 1.0);
        let (xb, y) = (buffer(&ctx, &x), poisoned(&ctx, count));
        let g = buffer(&ctx, &dy);
        run(&ctx, &[k.relu(count, &xb, &y), k.relu_backward(count, &y, &g)]);
        let y_ref = r::relu(&x);
        assert_close("relu", &read(&ctx, &y), &y_ref, FWD_TOL);
        assert_close("relu backward", &read(&ctx, &g), &r::relu_backward(&y_ref, &dy), FWD_TOL);
    }
}

#[test]
fn dense_kernels_match_reference() {
    let ctx = gpu();
    let k = Kernels::new(ctx.clone());
    let mut rng = Rng::new(4);
    for (inputs, outputs) in [(40, 10), (7, 13)] {
        for n in BATCHES {
            let x = rng.vec(n * inputs, -1.0, 1.0);
            let w = rng.vec(inputs * outputs, -0.5, 0.5);
            let b = rng.vec(outputs, -0.5, 0.5);
            let dy = rng.vec(n * outputs, -1.0, 1.0);
            let (w_off, b_off) = (5, 5 + w.len());
            let mut flat = rng.vec(b_off + outputs + 1, -1.0, 1.0);
            flat[w_off..w_off + w.len()].copy_from_slice(&w);
            flat[b_off..b_off + outputs].copy_from_slice(&b);
            let (xb, pb, dyb) = (buffer(&ctx, &x), buffer(&ctx, &flat), buffer(&ctx, &dy));
            let (y, dx, grads) = (poisoned(&ctx, n * outputs), poisoned(&ctx, n * inputs), poisoned(&ctx, flat.len()));
            let layer = DenseLayer { n, inputs, outputs, params: LayerParams { buffer: &pb, weight: w_off, bias: b_off } };
            run(
                &ctx,
                &[
                    k.dense_forward(&layer, &xb, &y),
                    k.dense_backward_input(&layer, &dyb, &dx),
                    k.dense_backward_params(&layer, &xb, &dyb, &grads),
                ],
            );
            let what = format!("dense {inputs}->{outputs} batch {n}");
            assert_close(&format!("{what} forward"), &read(&ctx, &y), &r::dense_forward(n, inputs, outputs, &x, &w, &b), FWD_TOL);
            let (dx_ref, dw_ref, db_ref) = r::dense_backward(n, inputs, outputs, &x, &w, &dy);
            assert_close(&format!("{what} dx"), &read(&ctx, &dx), &dx_ref, GRAD_TOL);
            let got = read(&ctx, &grads);
            assert_close(&format!("{what} dw"), &got[w_off..w_off + w.len()], &dw_ref, GRAD_TOL);
            assert_close(&format!("{what} db"), &got[b_off..b_off + outputs], &db_ref, GRAD_TOL);
        }
    }
}

#[test]
fn softmax_loss_matches_reference() {
    let ctx = gpu();
    let k = Kernels::new(ctx.clone());
    let mut rng = Rng::new(5);
    let classes = 10;
    for n in [1, 3, 127, 300] {
        let logits = rng.vec(n * classes, -4.0, 4.0);
        let labels: Vec<u8> = (0..n).map(|_| rng.below(classes as u64) as u8).collect();
        let label_words: Vec<u32> = labels.iter().map(|&l| l as u32).collect();
        let lb = buffer(&ctx, &logits);
        let labb = ctx.storage_buffer("labels", bytemuck::cast_slice(&label_words));
        let (lp, dl) = (poisoned(&ctx, n * classes), poisoned(&ctx, n * classes));
        let metrics = poisoned(&ctx, 8);
        let step = step_buffer(&ctx, Step { slot: 1, valid: n as u32, ..Default::default() });
        let layer = LossLayer { n, classes, train: true, step: &step, labels: &labb, metrics: &metrics };
        run(&ctx, &[k.softmax_loss(&layer, &lb, &lp, &dl)]);
        let lp_ref = r::log_softmax(classes, &logits);
        let (loss_ref, dl_ref) = r::nll_loss(classes, &lp_ref, &labels);
        let what = format!("softmax loss batch {n}");
        assert_close(&format!("{what} logprobs"), &read(&ctx, &lp), &lp_ref, FWD_TOL);
        assert_close(&format!("{what} dlogits"), &read(&ctx, &dl), &dl_ref, GRAD_TOL);
        let m = read(&ctx, &metrics);
        assert!(m[..4].iter().all(|v| v.is_nan()), "{what}: only slot 1 is written");
        assert_close(&format!("{what} loss"), &[m[4] / m[6]], &[loss_ref], FWD_TOL);
        assert_eq!(m[5] as usize, r::correct_count(classes, &logits, &labels), "{what}: correct count");
        assert_eq!(m[6] as usize, n);

        // Evaluation: accumulate over two launches, counting only `valid` examples.
        let valid = n.div_ceil(2);
        let acc = ctx.storage_buffer("acc", bytemuck::cast_slice(&[0f32; 4]));
        let step = step_buffer(&ctx, Step { slot: 0, valid: valid as u32, accumulate: 1, ..Default::default() });
        let layer = LossLayer { n, classes, train: false, step: &step, labels: &labb, metrics: &acc };
        let d = k.softmax_loss(&layer, &lb, &lp, &dl);
        run(&ctx, &[d.clone(), d]);
        let (loss_v, _) = r::nll_loss(classes, &lp_ref[..valid * classes], &labels[..valid]);
        let m = read(&ctx, &acc);
        assert_eq!(m[2] as usize, 2 * valid);
        assert_close(&format!("{what} accumulated loss"), &[m[0] / m[2]], &[loss_v], FWD_TOL);
    }
}

#[test]
fn gather_matches_reference() {
    let ctx = gpu();
    let k = Kernels::new(ctx.clone());
    let mut rng = Rng::new(6);
    let count = 301;
    let pixels: Vec<u8> = (0..count * 784).map(|_| rng.below(256) as u8).collect();
    let labels: Vec<u8> = (0..count).map(|_| rng.below(10) as u8).collect();
    let perm = engine::model::permutation(count, 9);
    let pad = |b: &[u8]| {
        let mut v = b.to_vec();
        v.resize(b.len().div_ceil(4) * 4, 0);
        v
    };
    let split = ResidentSplit {
        len: count,
        pixels: ctx.storage_buffer("pixels", &pad(&pixels)),
        labels: ctx.storage_buffer("labels", &pad(&labels)),
        perm: ctx.storage_buffer("perm", bytemuck::cast_slice(&perm)),
    };
    // (5, 298) runs off the end: samples 3 and 4 clamp to the permutation's last entry.
    for (n, start) in [(1, 0), (3, 5), (127, 173), (5, 298)] {
        let (imgs, labs) = (poisoned(&ctx, n * 784), poisoned(&ctx, n));
        let step = step_buffer(&ctx, Step { start: start as u32, valid: n as u32, ..Default::default() });
        run(&ctx, &[k.gather(n, 784, &step, &split, &imgs, &labs)]);
        let got = read(&ctx, &imgs);
        let got_labels: Vec<u32> = bytemuck::cast_slice(&engine::train::block_on(ctx.read_bytes(&labs)).unwrap()).to_vec();
        for s in 0..n {
            // Past the end of the permutation the last example repeats.
            let ex = perm[(start + s).min(count - 1)] as usize;
            let want: Vec<f64> = pixels[ex * 784..(ex + 1) * 784].iter().map(|&p| p as f32 as f64 / 255.0).collect();
            assert_close(&format!("gather batch {n} sample {s}"), &got[s * 784..(s + 1) * 784], &want, 1e-7);
            assert_eq!(got_labels[s], labels[ex] as u32, "label of sample {s}");
        }
    }
}

#[test]
fn adam_matches_reference() {
    let ctx = gpu();
    let k = Kernels::new(ctx.clone());
    let mut rng = Rng::new(7);
    let hp = Adam::default();
    for count in [1, 3, 30_822] {
        let mut params = rng.vec(count, -1.0, 1.0);
        let (mut m, mut v) = (vec![0.0; count], vec![0.0; count]);
        let (pb, mb, vb) = (buffer(&ctx, &params), buffer(&ctx, &m), buffer(&ctx, &v));
        for t in 1..=3u32 {
            let grads = rng.vec(count, -0.1, 0.1);
            let gb = buffer(&ctx, &grads);
            let step = step_buffer(
                &ctx,
                Step {
                    lr: hp.lr,
                    bc1: (1.0 - 0.9f64.powi(t as i32)) as f32,
                    bc2: (1.0 - 0.999f64.powi(t as i32)) as f32,
                    ..Default::default()
                },
            );
            let buffers = OptimizerBuffers { params: &pb, grads: &gb, m: &mb, v: &vb };
            run(&ctx, &[k.adam(count, &hp, &step, &buffers)]);
            r::adam_step(&hp, t, &mut params, &grads, &mut m, &mut v);
            assert_close(&format!("adam {count} params step {t}"), &read(&ctx, &pb), &params, 1e-6);
            assert_close(&format!("adam {count} m step {t}"), &read(&ctx, &mb), &m, 1e-5);
            assert_close(&format!("adam {count} v step {t}"), &read(&ctx, &vb), &v, 1e-5);
        }
    }
}
