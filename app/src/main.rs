//! The page: download MNIST, press Train, and watch the tutorial CNN learn on WebGPU, with
//! live loss and accuracy charts. All the numerics are the engine's; this crate is the UI
//! and the loop that paces training so the page stays responsive. Without WebGPU (or when
//! chosen) burn trains in a Web Worker from a separate, lazily loaded bundle.
//!
//! This file only mounts the app and composes its sections; the state is in `state`, what
//! the controls do in `actions`, and each section in `views/`.

mod actions;
mod bench;
mod burn_worker;
mod checkpoint;
mod embed_api;
mod embed_protocol;
mod fetch;
mod files;
mod inspection;
mod js;
mod kept_run;
mod lessons;
mod logic;
mod offline;
mod opfs;
mod page_trainer;
mod report;
mod run_loop;
mod startup;
mod state;
mod views;
mod weights_io;

use leptos::prelude::*;
use state::AppState;
use views::charts::{Charts, EpochTable, TutorialFigure};
use views::controls::{Controls, PauseButton, TrainButton};
use views::draw_pad::DrawPad;
use views::inspection::{Activations, Confusion, Filters, Gallery};
use views::kept::KeptRun;
use views::lessons::Lessons;
use views::status::{Progress, ProgressText, Status};
use views::weights::WeightsPanel;

/// Seconds since the page opened.
pub fn now_s() -> f64 {
    web_sys::window().and_then(|w| w.performance()).map_or(0.0, |p| p.now() / 1000.0)
}

/// The footer's credit line for every shipped dataset.
fn data_credit() -> String {
    let credits: Vec<&str> = engine::data::BUILTIN_DATASETS.iter().map(|d| d.credit).collect();
    format!("Data: {}.", credits.join("; "))
}

#[component]
fn App() -> impl IntoView {
    let query = web_sys::window().and_then(|w| w.location().search().ok()).unwrap_or_default();
    let app = AppState::new(&query);
    provide_context(app);
    if app.flags.selftest {
        return view! { <views::selftest::SelfTestPage /> }.into_any();
    }
    app.boot();
    watch_visibility(app);
    let ins = app.ui.ins;
    let on_digit = Callback::new(move |digit: Option<Vec<u8>>| app.probe_drawing(digit));
    let on_pick = Callback::new(move |i: usize| app.probe_test_image(i));

    if let (true, Some(lesson)) = (app.flags.embed, app.flags.lesson) {
        // One lesson in an iframe of 640x480.
        return view! {
            <div class="embed embed-lesson">
                <Status compact=true />
                <Lessons open=Some(lesson) only=true />
                <a class="hint" href=format!("./?lesson={}", lesson.id()) target="_blank">"full page ↗"</a>
            </div>
        }
        .into_any();
    }

    if app.flags.embed {
        // The compact layout for an iframe of 640x480: Train, the two charts, the drawing pad.
        let api_error = embed_api::start(app).err();
        return view! {
            <div class="embed">
                {api_error.map(|e| view! { <div id="embed-api-error" class="notice error">{e}</div> })}
                <div class="embed-bar">
                    <TrainButton />
                    <PauseButton />
                    <ProgressText class="hint" />
                    <a class="hint" href="./" target="_blank">"full page ↗"</a>
                </div>
                <Status compact=true />
                <Charts size=(310, 180) />
                <DrawPad ins=ins on_digit=on_digit size=150 />
            </div>
        }
        .into_any();
    }

    view! {
        <header>
            <h1>"Train a CNN on your GPU"</h1>
            <p class="lead">"The JAX tutorial's network (4 conv layers with BatchNorm and ReLU, dense, log-softmax, Adam) learns MNIST in this page, on WebGPU compute shaders."</p>
        </header>
        <main>
            <Lessons open=app.flags.lesson />
            <h2 id="cnn">"2. The CNN, trained on your GPU"</h2>
            <Status />
            <KeptRun />
            <Controls />
            <div id="watch" class="watch">
                <section class="watch-main" aria-label="Training progress and charts">
                    <Progress />
                    <Charts />
                </section>
                <section id="draw-section" class="panel watch-side">
                    <h2>"Draw"</h2>
                    <p class="hint">"Draw a digit (with Fashion-MNIST, a piece of clothing). The model reads it with its latest weights, scaled and centred like MNIST's digits. Keys: arrows move the pen, Space draws."</p>
                    <DrawPad ins=ins on_digit=on_digit />
                </section>
            </div>
            <TutorialFigure />
            <EpochTable />
            <Differences />
            <Gallery ins=ins on_pick=on_pick />
            <Confusion ins=ins />
            <section id="inside-section" class="panel inside">
                <h2>"Inside the network"</h2>
                <Filters ins=ins />
                <Activations ins=ins />
            </section>
            <WeightsPanel />
        </main>
        <footer>{data_credit} " " <a href="./?selftest">"Check this GPU's kernels"</a> " " <offline::OfflineNote /></footer>
    }
    .into_any()
}

/// Where this page differs from the post, and why.
#[component]
fn Differences() -> impl IntoView {
    view! {
        <details id="differences" class="panel">
            <summary><h2>"Where we differ from the post"</h2></summary>
            <ul>
                <li>"The post feeds NCHW arrays into stax's "<code>"Conv"</code>", which expects NHWC, so its network sees each image as 1x28 pixels with 28 channels. Ours convolves 28x28 images with one channel, as intended."</li>
                <li>"It trains on raw pixels 0–255. We divide by 255."</li>
                <li>"It passes Adam's step as 0 on every call, so the bias correction never moves. We count steps from 1."</li>
                <li>"It sums the loss over the batch, so the learning rate scales with the batch size. We take the mean cross-entropy."</li>
                <li>"stax's BatchNorm normalises the test set with the test batch's own statistics. We keep running statistics during training and evaluate with them."</li>
            </ul>
            <p>"Measured with JAX on the tutorial's settings (10 epochs, batch 128, Adam 1e-3): 98.40% test accuracy for the code as written, 98.70% for the network as intended (NHWC, pixels / 255, mean cross-entropy)."</p>
        </details>
    }
}

/// When the tab is hidden (switched away from, closed, or the browser quits) or the page is
/// left, the training loop keeps a checkpoint at its next step.
fn watch_visibility(app: AppState) {
    use wasm_bindgen::JsCast;
    let Some(document) = web_sys::window().and_then(|w| w.document()) else { return };
    let doc = document.clone();
    let on_change = wasm_bindgen::closure::Closure::<dyn Fn()>::new(move || {
        if doc.visibility_state() == web_sys::VisibilityState::Hidden {
            app.page_hidden();
        }
    });
    let _ = document.add_event_listener_with_callback("visibilitychange", on_change.as_ref().unchecked_ref());
    on_change.forget(); // Lives as long as the page.

    // Leaving the page (a link, closing the tab, the back/forward cache) may come without a
    // visibility change in some browsers.
    let on_leave = wasm_bindgen::closure::Closure::<dyn Fn()>::new(move || app.page_hidden());
    if let Some(window) = web_sys::window() {
        let _ = window.add_event_listener_with_callback("pagehide", on_leave.as_ref().unchecked_ref());
    }
    on_leave.forget();
}

fn main() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(App);
}
