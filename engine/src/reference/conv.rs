//! The convolution family's CPU mirror (NCHW input, OIHW weights, SAME padding).

use crate::model::ConvGeom;

/// Convolution forward. `x` is [n, C, H, W], `w` [O, C, k, k], `b` [O]; returns [n, O, OH, OW].
pub fn conv_forward(g: &ConvGeom, n: usize, x: &[f64], w: &[f64], b: &[f64]) -> Vec<f64> {
    let (i, o, k) = (g.input, g.output, g.kernel);
    let mut y = vec![0.0; n * o.len()];
    for s in 0..n {
        for oc in 0..o.c {
            for oy in 0..o.h {
                for ox in 0..o.w {
                    let mut acc = b[oc];
                    for ic in 0..i.c {
                        for ky in 0..k {
                            for kx in 0..k {
                                let Some((iy, ix)) = input_pos(g, oy, ox, ky, kx) else { continue };
                                acc += x[((s * i.c + ic) * i.h + iy) * i.w + ix] * w[((oc * i.c + ic) * k + ky) * k + kx];
                            }
                        }
                    }
                    y[((s * o.c + oc) * o.h + oy) * o.w + ox] = acc;
                }
            }
        }
    }
    y
}

/// The input pixel a kernel tap reads, or None where it falls in the padding.
fn input_pos(g: &ConvGeom, oy: usize, ox: usize, ky: usize, kx: usize) -> Option<(usize, usize)> {
    let iy = (oy * g.stride + ky) as isize - g.pad_top as isize;
    let ix = (ox * g.stride + kx) as isize - g.pad_left as isize;
    if iy < 0 || ix < 0 || iy >= g.input.h as isize || ix >= g.input.w as isize {
        return None;
    }
    Some((iy as usize, ix as usize))
}

/// Convolution backward: returns (dx, dw, db).
pub fn conv_backward(g: &ConvGeom, n: usize, x: &[f64], w: &[f64], dy: &[f64]) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let (i, o, k) = (g.input, g.output, g.kernel);
    let mut dx = vec![0.0; n * i.len()];
    let mut dw = vec![0.0; w.len()];
    let mut db = vec![0.0; o.c];
    for s in 0..n {
        for oc in 0..o.c {
            for oy in 0..o.h {
                for ox in 0..o.w {
                    let d = dy[((s * o.c + oc) * o.h + oy) * o.w + ox];
                    db[oc] += d;
                    for ic in 0..i.c {
                        for ky in 0..k {
                            for kx in 0..k {
                                let Some((iy, ix)) = input_pos(g, oy, ox, ky, kx) else { continue };
                                let xi = ((s * i.c + ic) * i.h + iy) * i.w + ix;
                                let wi = ((oc * i.c + ic) * k + ky) * k + kx;
                                dx[xi] += d * w[wi];
                                dw[wi] += d * x[xi];
                            }
                        }
                    }
                }
            }
        }
    }
    (dx, dw, db)
}
