//! The two live charts (the tutorial's figure, drawn with the `charts` crate) and the
//! per-epoch table.

use crate::state::use_app;
use charts::ChartData;
use leptos::html;
use leptos::prelude::*;

/// Loss and accuracy, redrawn whenever the chart data changes.
#[component]
pub fn Charts(#[prop(default = 520)] width: u32, #[prop(default = 340)] height: u32) -> impl IntoView {
    let chart = use_app().ui.chart;
    let loss_canvas = NodeRef::<html::Canvas>::new();
    let accuracy_canvas = NodeRef::<html::Canvas>::new();
    Effect::new(move |_| {
        let data = chart.get();
        for (node, draw) in [
            (loss_canvas.get(), charts::draw_loss::<plotters_canvas::CanvasBackend> as fn(&_, &ChartData) -> Result<(), String>),
            (accuracy_canvas.get(), charts::draw_accuracy::<plotters_canvas::CanvasBackend>),
        ] {
            let Some(canvas) = node else { continue };
            if let Some(backend) = plotters_canvas::CanvasBackend::with_canvas_object(canvas) {
                use plotters::prelude::IntoDrawingArea;
                if let Err(e) = draw(&backend.into_drawing_area(), &data) {
                    web_sys::console::warn_1(&e.into());
                }
            }
        }
    });
    view! {
        <div class="charts">
            <canvas id="loss-chart" node_ref=loss_canvas width=width height=height></canvas>
            <canvas id="accuracy-chart" node_ref=accuracy_canvas width=width height=height></canvas>
        </div>
    }
}

/// One row per epoch: training and test loss and accuracy.
#[component]
pub fn EpochTable() -> impl IntoView {
    let chart = use_app().ui.chart;
    view! {
        <section class="epochs">
            <table id="epoch-table">
                <thead><tr><th>"Epoch"</th><th>"Train loss"</th><th>"Train acc"</th><th>"Test loss"</th><th>"Test acc"</th></tr></thead>
                <tbody>
                    {move || chart.get().epochs.into_iter().map(|e| view! {
                        <tr><td>{e.epoch}</td><td>{format!("{:.4}", e.train_loss)}</td><td>{format!("{:.2}%", 100.0 * e.train_accuracy)}</td>
                        <td>{format!("{:.4}", e.test_loss)}</td><td>{format!("{:.2}%", 100.0 * e.test_accuracy)}</td></tr>
                    }).collect_view()}
                </tbody>
            </table>
        </section>
    }
}
