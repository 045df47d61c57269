//! The settings form, the dataset choice, and the Train / Pause / Reset buttons.

use crate::files;
use crate::state::{use_app, Phase};
use engine::train::BackendKind;
use leptos::html;
use leptos::prelude::*;

/// Train (or Resume, when paused).
#[component]
pub fn TrainButton() -> impl IntoView {
    let app = use_app();
    let phase = app.ui.phase;
    let can_train = move || matches!(phase.get(), Phase::Ready | Phase::Finished | Phase::Paused);
    view! {
        <button id="train" disabled=move || !can_train() on:click=move |_| app.train_or_resume()>
            {move || if phase.get() == Phase::Paused { "Resume" } else { "Train" }}
        </button>
    }
}

#[component]
pub fn PauseButton() -> impl IntoView {
    let app = use_app();
    let phase = app.ui.phase;
    view! { <button id="pause" disabled=move || phase.get() != Phase::Training on:click=move |_| app.pause()>"Pause"</button> }
}

/// A labelled text input bound to a signal.
#[component]
fn Field(label: &'static str, id: &'static str, value: RwSignal<String>, #[prop(optional)] placeholder: &'static str) -> impl IntoView {
    view! {
        <label for=id>{label}
            <input id=id type="text" placeholder=placeholder prop:value=move || value.get()
                on:input=move |ev| value.set(event_target_value(&ev)) />
        </label>
    }
}

/// The backend chooser: ours on WebGPU (when the browser has it), burn-wgpu, or burn's CPU backend.
#[component]
fn BackendSelect(value: RwSignal<String>, webgpu: Signal<bool>) -> impl IntoView {
    let auto = use_app().ui.auto;
    let label = |kind: BackendKind| match kind {
        BackendKind::Wgsl => "our WGSL kernels on WebGPU",
        BackendKind::BurnWgpu => "burn-wgpu in a Web Worker",
        BackendKind::BurnCpu => "burn on the CPU, in a Web Worker",
    };
    let why = move || {
        let choice = auto.get();
        let verdict = if value.get() == "auto" { "Auto trains with" } else { "Auto would train with" };
        format!("{verdict} {}: {}.", label(choice.kind), choice.reason)
    };
    view! {
        <label for="backend">"Backend"
            <select id="backend" prop:value=move || value.get() on:change=move |ev| value.set(event_target_value(&ev))>
                <option value="auto">{move || format!("Auto ({})", auto.get().kind)}</option>
                <option value="wgsl" disabled=move || !webgpu.get()>"WebGPU (our WGSL kernels)"</option>
                <option value="burn-wgpu" disabled=move || !webgpu.get()>"WebGPU (burn-wgpu, in a Web Worker)"</option>
                <option value="burn-cpu">"CPU (burn, in a Web Worker)"</option>
            </select>
        </label>
        <span id="backend-auto" class="hint">{why}</span>
    }
}

/// The dataset chooser: the shipped datasets, or the user's own idx pair.
#[component]
fn DatasetSelect(disabled: Signal<bool>) -> impl IntoView {
    let app = use_app();
    let value = app.form.dataset;
    view! {
        <label for="dataset">"Dataset"
            <select id="dataset" prop:value=move || value.get() disabled=move || disabled.get()
                on:change=move |ev| { let v = event_target_value(&ev); value.set(v.clone()); app.choose_dataset(v) }>
                {engine::data::BUILTIN_DATASETS.iter().map(|d| view! { <option value=d.id>{d.title}</option> }).collect::<Vec<_>>()}
                <option value="own">"My own idx files…"</option>
            </select>
        </label>
    }
}

/// Two file pickers for the user's own images and labels.
#[component]
fn OwnFiles() -> impl IntoView {
    let app = use_app();
    let images = NodeRef::<html::Input>::new();
    let labels = NodeRef::<html::Input>::new();
    let submit = move |_| {
        let pick = |n: NodeRef<html::Input>| n.get_untracked().and_then(|i| files::chosen_file(&i));
        match (pick(images), pick(labels)) {
            (Some(i), Some(l)) => app.use_own_files(i, l),
            _ => app
                .ui
                .data_error
                .set(Some("Choose an idx image file and an idx label file (raw or .gz), 28x28 images and labels 0–9.".into())),
        }
    };
    view! {
        <div id="own-files" class="own-files">
            <label>"Images (idx3, raw or .gz)" <input id="own-images" type="file" node_ref=images /></label>
            <label>"Labels (idx1, raw or .gz)" <input id="own-labels" type="file" node_ref=labels /></label>
            <button id="use-own" on:click=submit>"Use these files"</button>
            <span class="hint">"The last sixth is held out as the test set."</span>
        </div>
    }
}

/// The full page's settings and buttons.
#[component]
pub fn Controls() -> impl IntoView {
    let app = use_app();
    let (ui, form) = (app.ui, app.form);
    let phase = ui.phase;
    let busy = Signal::derive(move || matches!(phase.get(), Phase::Training | Phase::Loading | Phase::Starting));
    view! {
        <section class="controls">
            <DatasetSelect disabled=busy />
            <Field label="Learning rate" id="lr" value=form.lr />
            <Field label="Batch size" id="batch" value=form.batch />
            <Field label="Epochs" id="epochs" value=form.epochs />
            <Field label="Seed" id="seed" value=form.seed />
            <Field label="Training images" id="limit" value=form.limit placeholder="all 60,000" />
            <Field label="Test images" id="test-limit" value=form.test_limit placeholder="all 10,000" />
            <BackendSelect value=form.backend webgpu=Signal::derive(move || ui.webgpu_missing.get().is_none()) />
            <label for="eval-train" class="check">
                <input id="eval-train" type="checkbox" prop:checked=move || form.eval_train.get()
                    on:change=move |ev| form.eval_train.set(event_target_checked(&ev)) />
                "Evaluate the whole training set after each epoch"
            </label>
            <button id="tutorial-preset" class="secondary" disabled=busy
                title="10 epochs, batch 128, Adam 1e-3, seed 0, all 60,000 training images, the whole training and test sets evaluated after each epoch"
                on:click=move |_| form.set(crate::logic::SettingsInput::tutorial(&form.backend.get_untracked()))>
                "Tutorial settings"
            </button>
            <div class="buttons">
                <TrainButton />
                <PauseButton />
                <button id="reset" disabled=move || phase.get() == Phase::Training on:click=move |_| app.reset()>"Reset"</button>
            </div>
            {move || ui.show_own.get().then(|| view! { <OwnFiles /> })}
            {move || ui.data_error.get().map(|e| view! { <div id="data-error" class="notice error">{e}</div> })}
            {move || ui.form_error.get().map(|e| view! { <div id="form-error" class="notice error">{e}</div> })}
        </section>
    }
}
