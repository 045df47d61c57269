//! The two live charts (the tutorial's figure, drawn with the `charts` crate) and the
//! per-epoch table.

use crate::state::use_app;
use charts::ChartData;
use leptos::html;
use leptos::prelude::*;

/// The widest a live chart is drawn, and its height for that width.
const CHART_MAX: (u32, u32) = (520, 340);
const CHART_GAP: u32 = 8;

/// Each chart's border (style.css), on both sides.
const CHART_BORDER: u32 = 2;

/// The size each live chart is drawn at in a container `available` pixels wide: two side
/// by side when both fit at 300 px or more, otherwise one per row, never wider than the
/// container (borders included).
pub fn chart_size(available: u32) -> (u32, u32) {
    let per_row = if available >= 2 * (300 + CHART_BORDER) + CHART_GAP { 2 } else { 1 };
    let slot = available.saturating_sub(CHART_GAP * (per_row - 1)) / per_row;
    let width = slot.saturating_sub(CHART_BORDER).clamp(160, CHART_MAX.0);
    (width, width * CHART_MAX.1 / CHART_MAX.0)
}

/// The latest values in words: the charts' text alternative.
fn describe(data: &ChartData, what: &str) -> String {
    let Some(last) = data.steps.last() else { return format!("{what}: no steps yet.") };
    let value = |loss: f32, accuracy: f32| if what == "Loss" { format!("{loss:.4}") } else { format!("{:.2}%", 100.0 * accuracy) };
    let mut text = format!(
        "{what}: step {} of {}, {} on its batch",
        last.step + 1,
        data.steps_per_epoch * data.planned_epochs,
        value(last.loss, last.accuracy)
    );
    if let Some(e) = data.epochs.last() {
        text += &format!("; after epoch {}, {} on the test set", e.epoch, value(e.test_loss, e.test_accuracy));
    }
    text + "."
}

/// Loss and accuracy, redrawn whenever the chart data or the space they have changes;
/// `size` fixes their size (the embed), otherwise they fit the width they get.
#[component]
pub fn Charts(#[prop(optional)] size: Option<(u32, u32)>) -> impl IntoView {
    let chart = use_app().ui.chart;
    let container = NodeRef::<html::Div>::new();
    let loss_canvas = NodeRef::<html::Canvas>::new();
    let accuracy_canvas = NodeRef::<html::Canvas>::new();
    let drawn = RwSignal::new(size.unwrap_or(CHART_MAX));
    if size.is_none() {
        let fit = move || {
            if let Some(div) = container.get_untracked() {
                drawn.set(chart_size(div.client_width().max(0) as u32));
            }
        };
        Effect::new(move |_| {
            if container.get().is_some() {
                fit();
            }
        });
        let handle = window_event_listener(leptos::ev::resize, move |_| fit());
        on_cleanup(move || handle.remove());
    }
    Effect::new(move |_| {
        let data = chart.get();
        let (width, height) = drawn.get();
        for (node, draw) in [
            (loss_canvas.get(), charts::draw_loss::<plotters_canvas::CanvasBackend> as fn(&_, &ChartData) -> Result<(), String>),
            (accuracy_canvas.get(), charts::draw_accuracy::<plotters_canvas::CanvasBackend>),
        ] {
            let Some(canvas) = node else { continue };
            // Set here, before drawing: a size change clears the canvas.
            canvas.set_width(width);
            canvas.set_height(height);
            if let Some(backend) = plotters_canvas::CanvasBackend::with_canvas_object(canvas) {
                use plotters::prelude::IntoDrawingArea;
                if let Err(e) = draw(&backend.into_drawing_area(), &data) {
                    web_sys::console::warn_1(&e.into());
                }
            }
        }
    });
    let loss_text = move || describe(&chart.get(), "Loss");
    let accuracy_text = move || describe(&chart.get(), "Accuracy");
    view! {
        <div class="charts" node_ref=container>
            <figure>
                <canvas id="loss-chart" node_ref=loss_canvas role="img" aria-label=loss_text></canvas>
                <figcaption id="loss-summary" class="chart-summary">{loss_text}</figcaption>
            </figure>
            <figure>
                <canvas id="accuracy-chart" node_ref=accuracy_canvas role="img" aria-label=accuracy_text></canvas>
                <figcaption id="accuracy-summary" class="chart-summary">{accuracy_text}</figcaption>
            </figure>
        </div>
    }
}

/// The tutorial's own figure: loss and accuracy per epoch, training in red (the whole
/// training set when the run evaluates it), validation in blue.
#[component]
pub fn TutorialFigure(#[prop(default = 760)] width: u32, #[prop(default = 300)] height: u32) -> impl IntoView {
    let chart = use_app().ui.chart;
    let canvas = NodeRef::<html::Canvas>::new();
    Effect::new(move |_| {
        let data = chart.get();
        let Some(node) = canvas.get() else { return };
        if let Some(backend) = plotters_canvas::CanvasBackend::with_canvas_object(node) {
            use plotters::prelude::IntoDrawingArea;
            if let Err(e) = charts::tutorial::draw_tutorial_figure(&backend.into_drawing_area(), &data.epochs, data.planned_epochs) {
                web_sys::console::warn_1(&e.into());
            }
        }
    });
    view! {
        <figure class="tutorial-figure">
            <canvas id="tutorial-chart" node_ref=canvas width=width height=height role="img"
                aria-label="The tutorial's figure: loss and accuracy per epoch; the values are in the table below"
                data-epochs=move || chart.get().epochs.len()
                data-training=move || if charts::tutorial::training_series(&chart.get().epochs).1 { "full" } else { "steps" }></canvas>
            <figcaption class="hint">"The tutorial's figure: one point per epoch. Training in red, validation (the test set) in blue. Tick “Evaluate the whole training set” (or press Tutorial settings) for the post's full-training-set numbers; otherwise red is the mean over the epoch's steps."</figcaption>
        </figure>
    }
}

fn percent(v: f32) -> String {
    format!("{:.2}%", 100.0 * v)
}

/// One row per epoch: training (step means, and the whole training set when evaluated) and
/// test loss and accuracy.
#[component]
pub fn EpochTable() -> impl IntoView {
    let chart = use_app().ui.chart;
    let full = move || chart.get().epochs.iter().any(|e| e.full_train.is_some());
    view! {
        <section class="epochs">
            <table id="epoch-table">
                <caption>"Each epoch: loss and accuracy on its training steps and on the test set"</caption>
                <thead><tr><th>"Epoch"</th><th>"Train loss (steps)"</th><th>"Train acc (steps)"</th>
                    {move || full().then(|| view! { <th>"Full train loss"</th><th>"Full train acc"</th> })}
                    <th>"Test loss"</th><th>"Test acc"</th></tr></thead>
                <tbody>
                    {move || chart.get().epochs.into_iter().map(|e| view! {
                        <tr><td>{e.epoch}</td><td>{format!("{:.4}", e.train_loss)}</td><td>{percent(e.train_accuracy)}</td>
                        {e.full_train.map(|t| view! { <td class="full-train-loss">{format!("{:.4}", t.loss)}</td><td class="full-train-acc">{percent(t.accuracy)}</td> })}
                        <td>{format!("{:.4}", e.test_loss)}</td><td>{percent(e.test_accuracy)}</td></tr>
                    }).collect_view()}
                </tbody>
            </table>
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::chart_size;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn charts_fit_their_container_with_borders() {
        // Two side by side: 2 * (452 + 2) + 8 = 916.
        assert_eq!(chart_size(916), (452, 295));
        assert_eq!(chart_size(2000), (520, 340), "never wider than 520");
        // One per row below 612 px: a phone's 358 px gives a 356 px chart.
        assert_eq!(chart_size(611), (520, 340));
        assert_eq!(chart_size(612).0, 300);
        assert_eq!(chart_size(358), (356, 232));
    }
}
