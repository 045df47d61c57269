//! The run kept in the browser: the offer to resume it on the next visit, and a line on
//! what is kept (or why nothing can be).

use crate::state::{use_app, Offer};
use leptos::prelude::*;

#[component]
pub fn KeptRun() -> impl IntoView {
    let app = use_app();
    let ui = app.ui;
    let offer = move || {
        ui.offer.get().map(|(text, offer)| {
            view! {
                <div id="kept-offer" class="notice">
                    {text}" "
                    {(offer == Offer::Resume).then(|| view! { <button id="resume-kept" on:click=move |_| app.resume_kept()>"Resume"</button> })}
                    {(offer == Offer::LoadWeights).then(|| view! { <button id="load-kept-weights" on:click=move |_| app.load_kept_weights()>"Load its weights"</button> })}
                    " " <button id="discard-kept" class="secondary" on:click=move |_| app.discard_kept()>"Discard"</button>
                </div>
            }
        })
    };
    let kept = move || {
        ui.kept.get().map(|m| match m {
            Ok(text) => view! { <div id="kept-msg" class="hint">{text}</div> }.into_any(),
            Err(text) => view! { <div id="kept-msg" class="notice error">{text}</div> }.into_any(),
        })
    };
    view! { {offer} {kept} }
}
