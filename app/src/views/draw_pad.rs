//! The drawing pad: mouse, pen and touch through pointer events, and the keyboard (arrow
//! keys move a pen, Space puts it down or lifts it, Delete clears). Each stroke becomes an
//! MNIST-style 28x28 input; the bars beside it show the model's probabilities.

use super::inspection::{GrayImage, Inspection, ProbabilityBars};
use engine::inspect;
use leptos::html;
use leptos::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{CanvasRenderingContext2d, HtmlCanvasElement, KeyboardEvent, PointerEvent};

/// The pad's context: its pixels are read back after every stroke, so ask the browser to
/// keep them on the CPU.
fn pad_context(canvas: &HtmlCanvasElement) -> Option<CanvasRenderingContext2d> {
    let options = js_sys::Object::new();
    let _ = js_sys::Reflect::set(&options, &"willReadFrequently".into(), &true.into());
    canvas.get_context_with_context_options("2d", &options).ok().flatten()?.dyn_into().ok()
}

/// Where a pointer event is in canvas pixels.
fn canvas_point(canvas: &HtmlCanvasElement, ev: &PointerEvent) -> (f64, f64) {
    let rect = canvas.get_bounding_client_rect();
    let sx = canvas.width() as f64 / rect.width().max(1.0);
    let sy = canvas.height() as f64 / rect.height().max(1.0);
    ((ev.client_x() as f64 - rect.left()) * sx, (ev.client_y() as f64 - rect.top()) * sy)
}

/// The ink on the pad: each pixel's alpha in [0, 1].
fn read_ink(canvas: &HtmlCanvasElement) -> Option<Vec<f32>> {
    let ctx = pad_context(canvas)?;
    let data = ctx.get_image_data(0.0, 0.0, canvas.width() as f64, canvas.height() as f64).ok()?.data();
    Some(data.0.chunks(4).map(|p| p[3] as f32 / 255.0).collect())
}

/// Where an arrow key moves the keyboard pen from `at`, on a pad `size` pixels wide; None
/// for other keys.
pub fn pen_step(key: &str, at: (f64, f64), size: f64) -> Option<(f64, f64)> {
    let step = size / 20.0;
    let (dx, dy) = match key {
        "ArrowLeft" => (-step, 0.0),
        "ArrowRight" => (step, 0.0),
        "ArrowUp" => (0.0, -step),
        "ArrowDown" => (0.0, step),
        _ => return None,
    };
    Some(((at.0 + dx).clamp(0.0, size), (at.1 + dy).clamp(0.0, size)))
}

#[component]
pub fn DrawPad(ins: Inspection, on_digit: Callback<Option<Vec<u8>>>, #[prop(default = 280)] size: u32) -> impl IntoView {
    let canvas = NodeRef::<html::Canvas>::new();
    let drawing = RwSignal::new(false);
    let last_sent = RwSignal::new(0.0f64);
    let centre = size as f64 / 2.0;
    // The keyboard pen: where it is, whether it draws, and whether the pad has focus.
    let pen = RwSignal::new((centre, centre));
    let pen_down = RwSignal::new(false);
    let focused = RwSignal::new(false);
    let send = move || {
        let Some(c) = canvas.get_untracked() else { return };
        let Some(ink) = read_ink(&c) else { return };
        last_sent.set(js_sys::Date::now());
        on_digit.run(inspect::digit_from_drawing(&ink, c.width() as usize, c.height() as usize));
    };
    let line = move |from: Option<(f64, f64)>, to: (f64, f64)| {
        let Some(c) = canvas.get_untracked() else { return };
        let Some(ctx) = pad_context(&c) else { return };
        ctx.set_line_width(size as f64 / 14.0);
        ctx.set_line_cap("round");
        ctx.set_line_join("round");
        ctx.set_stroke_style_str("#111");
        if let Some(from) = from {
            ctx.begin_path();
            ctx.move_to(from.0, from.1);
        }
        ctx.line_to(to.0, to.1);
        ctx.stroke();
    };
    let at = move |ev: &PointerEvent| canvas.get_untracked().map(|c| canvas_point(&c, ev));
    let on_down = move |ev: PointerEvent| {
        ev.prevent_default();
        if let Some(c) = canvas.get_untracked() {
            let _ = c.set_pointer_capture(ev.pointer_id());
        }
        drawing.set(true);
        if let Some(p) = at(&ev) {
            line(Some(p), p);
        }
    };
    let on_move = move |ev: PointerEvent| {
        if drawing.get_untracked() {
            if let Some(p) = at(&ev) {
                line(None, p);
            }
            // Live bars while drawing, a few times a second.
            if js_sys::Date::now() - last_sent.get_untracked() > 250.0 {
                send();
            }
        }
    };
    let on_up = move |_: PointerEvent| {
        if drawing.get_untracked() {
            drawing.set(false);
            send();
        }
    };
    let clear = move || {
        if let Some(c) = canvas.get_untracked() {
            if let Some(ctx) = pad_context(&c) {
                ctx.clear_rect(0.0, 0.0, c.width() as f64, c.height() as f64);
            }
        }
        on_digit.run(None);
    };
    let on_key = move |ev: KeyboardEvent| {
        let key = ev.key();
        let from = pen.get_untracked();
        if let Some(to) = pen_step(&key, from, size as f64) {
            pen.set(to);
            if pen_down.get_untracked() {
                line(Some(from), to);
                send();
            }
        } else if key == " " {
            pen_down.update(|d| *d = !*d);
            if pen_down.get_untracked() {
                line(Some(from), from);
                send();
            }
        } else if key == "Delete" || key == "Backspace" {
            pen_down.set(false);
            clear();
        } else {
            return;
        }
        ev.prevent_default(); // No page scrolling while drawing with the keys.
    };
    // The pen marker, in CSS pixels (the canvas may be shown smaller than it is).
    let pen_style = move || {
        let (x, y) = pen.get();
        let scale = canvas.get().map_or(1.0, |c| c.client_width().max(1) as f64 / c.width().max(1) as f64);
        format!("left:{:.1}px;top:{:.1}px", x * scale, y * scale)
    };
    let from_drawing = move || ins.probe_source.get() == "your drawing";
    view! {
        <div class="drawpad">
            <div class="pad-column">
                <div class="pad-frame">
                    <canvas id="draw-pad" node_ref=canvas width=size height=size tabindex="0" role="img"
                        aria-label="Drawing pad. Arrow keys move the pen, Space puts it down or lifts it, Delete clears."
                        on:pointerdown=on_down on:pointermove=on_move on:pointerup=on_up on:pointercancel=on_up
                        on:keydown=on_key on:focus=move |_| focused.set(true) on:blur=move |_| focused.set(false)></canvas>
                    <span id="pad-pen" class:down=move || pen_down.get() style=pen_style hidden=move || !focused.get()></span>
                </div>
                <div class="pad-buttons">
                    <button id="clear-pad" on:click=move |_| clear()>"Clear"</button>
                    {move || ins.probe_input.get().filter(|_| from_drawing()).map(|p| view! {
                        <span class="hint">"model input:"</span><GrayImage pixels=p.to_vec() class="pad-input" />
                    })}
                </div>
            </div>
            <ProbabilityBars ins=ins only_drawing=true />
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::pen_step;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn the_pen_moves_by_a_twentieth_and_stays_on_the_pad() {
        assert_eq!(pen_step("ArrowDown", (140.0, 140.0), 280.0), Some((140.0, 154.0)));
        assert_eq!(pen_step("ArrowLeft", (5.0, 10.0), 280.0), Some((0.0, 10.0)));
        assert_eq!(pen_step("ArrowRight", (279.0, 10.0), 280.0), Some((280.0, 10.0)));
        assert_eq!(pen_step("ArrowUp", (1.0, 3.0), 280.0), Some((1.0, 0.0)));
        assert_eq!(pen_step("a", (1.0, 3.0), 280.0), None);
    }
}
