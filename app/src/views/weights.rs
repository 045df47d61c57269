//! Download and upload of the weights.

use crate::files;
use crate::state::{use_app, Phase};
use leptos::html;
use leptos::prelude::*;

#[component]
pub fn WeightsPanel() -> impl IntoView {
    let app = use_app();
    let ui = app.ui;
    // After a failure (a lost device) the last copy of the weights can still be saved.
    let can_save = move || matches!(ui.phase.get(), Phase::Paused | Phase::Finished | Phase::Failed(_));
    let input = NodeRef::<html::Input>::new();
    view! {
        <section id="weights-section" class="panel">
            <h2>"Weights"</h2>
            <div class="weights-bar">
                <button id="download-weights" disabled=move || !can_save() on:click=move |_| app.save_weights()>"Download weights (.safetensors)"</button>
                <button id="download-onnx" class="secondary" disabled=move || !can_save() on:click=move |_| app.save_onnx()
                    title="The model in evaluation mode for any ONNX runtime (opset 13): input image N×1×28×28 = pixels / 255, output log_probs N×10">"Download as ONNX"</button>
                <label class="upload">"Load weights: "
                    <input id="upload-weights" type="file" accept=".safetensors" node_ref=input
                        on:change=move |_| if let Some(f) = input.get_untracked().and_then(|i| files::chosen_file(&i)) { app.load_weights(f) } />
                </label>
            </div>
            <p class="hint">"Files carry the architecture, epoch, test accuracy and seed; the desktop binary reads and writes the same files (train --save, eval --weights). A loaded model can be evaluated, drawn on, or trained further (Resume)."</p>
            {move || ui.weights_msg.get().map(|m| match m {
                Ok(text) => view! { <div id="weights-msg" class="notice ok">{text}</div> }.into_any(),
                Err(text) => view! { <div id="weights-msg" class="notice error">{text}</div> }.into_any(),
            })}
        </section>
    }
}
