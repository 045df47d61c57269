//! Every WGSL kernel against the f64 CPU reference, through [`engine::selftest`], the same
//! cases `desktop selftest` and the page's `?selftest` run: random inputs, odd batch sizes
//! (1, 3, 127), parameters at non-zero offsets, outputs poisoned with NaN beforehand, every
//! register block. Plus the dispatch structure each block records.

mod common;
use common::*;
use engine::gpu::conv::{ConvGradients, ConvLayer};
use engine::gpu::{ConvParamsSplit, Kernels, LayerParams, RegisterBlock};
use engine::model::{ConvGeom, Shape};
use engine::selftest::{self, conv_geometries as geometries, Case, CaseReport, SelfTest};

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
fn pixel_lanes_run_where_they_fit_and_tiles_elsewhere() {
    let k = Kernels::with_block(gpu(), RegisterBlock::PixelLanes);
    let names = |dispatches: Vec<engine::gpu::Dispatch>| dispatches.iter().map(|d| d.kernel).collect::<Vec<_>>();
    let (x, dy, params) = (poisoned(&k.ctx, 1 << 16), poisoned(&k.ctx, 1 << 16), poisoned(&k.ctx, 1 << 16));
    let (partials, grads) = (poisoned(&k.ctx, 1 << 18), poisoned(&k.ctx, 1 << 16));
    let lane_case = |g: &ConvGeom, n: usize| {
        let packed = k.packed_weights_buffer(k.packed_weights_bytes(g, n, true));
        let layer = ConvLayer { geom: g, n, params: LayerParams { buffer: &params, weight: 0, bias: 0 }, packed: &packed };
        let out = ConvGradients { partials: &partials, partials_off: 0, grads: &grads, bias_feeds_bn: false, reduce: true };
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

/// The plan's cases for which `family` holds, each against the reference.
fn run_family(family: fn(&Case) -> bool) -> Vec<CaseReport> {
    let test = SelfTest::new(gpu());
    let mut reports = Vec::new();
    for (i, case) in selftest::plan().iter().enumerate().filter(|(_, c)| family(c)) {
        let report = engine::train::block_on(test.run(i, case)).expect("no GPU error");
        assert!(report.passed(), "{}", report.failures());
        reports.push(report);
    }
    assert!(!reports.is_empty(), "the family has cases");
    reports
}

fn conv(c: &Case) -> bool {
    matches!(c, Case::Conv { .. })
}
fn batchnorm(c: &Case) -> bool {
    matches!(c, Case::BatchNorm { .. })
}
fn dense(c: &Case) -> bool {
    matches!(c, Case::Dense { .. })
}
fn elementwise(c: &Case) -> bool {
    matches!(c, Case::Relu { .. } | Case::SoftmaxLoss { .. } | Case::Gather { .. } | Case::Adam { .. } | Case::Lesson { .. })
}

#[test]
fn the_family_tests_run_every_case_once() {
    for case in selftest::plan() {
        let families = [conv, batchnorm, dense, elementwise].iter().filter(|f| f(&case)).count();
        assert_eq!(families, 1, "{}", case.name());
    }
}

#[test]
fn conv_kernels_match_reference() {
    let reports = run_family(conv);
    // Every block ran on every case: 10 checks per block (6 with the reduction dispatch, 4
    // with Adam summing the partials as training does).
    assert!(reports.iter().all(|r| r.checks.len() == 10 * RegisterBlock::ALL.len()), "{:?}", reports[0].checks);
}

#[test]
fn batchnorm_kernels_match_reference() {
    run_family(batchnorm);
}

#[test]
fn dense_kernels_match_reference() {
    run_family(dense);
}

#[test]
fn elementwise_kernels_match_reference() {
    run_family(elementwise);
}

#[test]
fn the_plan_dispatches_every_kernel() {
    // Cheap cases only: one per family covers every kernel but the lane variants, which the
    // pixel-lane block dispatches on the tutorial's second convolution.
    let test = SelfTest::new(gpu());
    let plan = selftest::plan();
    let mut reports = Vec::new();
    let mut seen = Vec::new();
    for (i, case) in plan.iter().enumerate() {
        let family = std::mem::discriminant(case);
        let lanes = matches!(case, Case::Conv { geom, n: 3 } if geom.input.c == 32 && geom.input.h == 14);
        if !seen.contains(&family) || lanes {
            seen.push(family);
            reports.push(engine::train::block_on(test.run(i, case)).unwrap());
        }
    }
    assert_eq!(selftest::uncovered(&reports), Vec::<&str>::new(), "kernels no case dispatches");
    // And a report that dropped a kernel would show it.
    reports.retain(|r| !r.kernels.contains(&"gather"));
    assert_eq!(selftest::uncovered(&reports), ["gather"]);
}
