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
            <canvas id="tutorial-chart" node_ref=canvas width=width height=height
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
