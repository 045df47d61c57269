//! Where the page stands: the GPU or its absence, the data download, failures with Retry,
//! and the training progress.

use crate::logic::{format_bytes, format_duration, format_rate};
use crate::state::{use_app, Phase};
use leptos::prelude::*;

/// The status line: looking for a GPU, downloading, the loaded data, or what failed.
#[component]
fn StatusNotice() -> impl IntoView {
    let app = use_app();
    let ui = app.ui;
    let download = ui.download;
    move || match ui.phase.get() {
        Phase::Failed(msg) => view! {
            <div id="error" class="notice error">{msg}" "
                <button id="retry" on:click=move |_| app.retry()>"Retry"</button>
            </div>
        }
        .into_any(),
        Phase::Starting => view! { <div class="notice">"Looking for a GPU…"</div> }.into_any(),
        Phase::Loading => view! {
            <div class="notice">
                "Downloading the data… "
                <progress id="download-progress" max=move || download.get().1 as f64 value=move || download.get().0 as f64></progress>
                " " {move || format!("{} / {}", format_bytes(download.get().0), format_bytes(download.get().1))}
            </div>
        }
        .into_any(),
        _ => view! { <div class="notice ok">{move || ui.data_note.get()}</div> }.into_any(),
    }
}

/// The status section; `compact` for the embed (a short note instead of the adapter details).
#[component]
pub fn Status(#[prop(default = false)] compact: bool) -> impl IntoView {
    let ui = use_app().ui;
    let phase = ui.phase;
    let missing = move || {
        ui.webgpu_missing.get().map(|msg| {
            if compact {
                view! { <div id="webgpu-missing" class="notice warn">"No WebGPU here: training runs on the CPU (slower)."</div> }.into_any()
            } else {
                view! { <div id="webgpu-missing" class="notice warn"><strong>"WebGPU is not available. "</strong>{msg}</div> }.into_any()
            }
        })
    };
    let details = (!compact).then(|| {
        view! {
            <div id="adapter" class="adapter">{move || ui.adapter.get()}</div>
        }
    });
    view! {
        <section id="status" class=if compact { "embed-status" } else { "" } data-phase=move || phase.get().name()>
            {missing}
            <StatusNotice />
            {details}
        </section>
    }
}

/// "step 120 of 468 · epoch 1 of 1 · 181.7 images/s · ETA 2m 05s".
#[component]
pub fn ProgressText(#[prop(default = "")] class: &'static str) -> impl IntoView {
    let progress = use_app().ui.progress;
    let text = move || {
        let p = progress.get();
        if p.total_steps == 0 {
            return "Not started".to_string();
        }
        let status = format!(
            "step {} of {} · epoch {} of {} · {} · ETA {}",
            p.step,
            p.total_steps,
            (p.epoch + 1).min(p.epochs),
            p.epochs,
            format_rate(p.images_per_s),
            format_duration(p.eta_s)
        );
        if p.evaluating {
            format!("{status} · evaluating on the test set…")
        } else {
            status
        }
    };
    view! { <span id="progress-text" class=class>{text}</span> }
}

/// The progress bar, the progress line and the startup times.
#[component]
pub fn Progress() -> impl IntoView {
    let ui = use_app().ui;
    view! {
        <section class="progress">
            <progress id="train-progress" max=move || ui.progress.get().total_steps.max(1) as f64 value=move || ui.progress.get().step as f64></progress>
            <ProgressText />
            <span id="startup" class="hint">{move || ui.startup.get().text()}</span>
        </section>
    }
}
