//! Offline use: registers the service worker (`sw.js`, written into the build by
//! scripts/offline.mjs), which keeps this deployment's files so that the page opens and
//! trains without a network after the first visit. The datasets stay in the page's own cache.

use crate::js;
use crate::state::use_app;
use js_sys::{Promise, Reflect};
use leptos::prelude::*;
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;

/// Registers `sw.js` and waits until a worker is active (its install cached the files).
async fn register() -> Result<(), String> {
    let window = web_sys::window().ok_or("no window")?;
    let container = Reflect::get(&window.navigator(), &"serviceWorker".into()).unwrap_or(JsValue::UNDEFINED);
    if container.is_undefined() {
        // Browsers offer service workers only on https:// and localhost addresses.
        return Err("this browser offers no service worker here (it needs https:// or localhost)".into());
    }
    let describe = |e: JsValue| js::message(&e).unwrap_or_else(|| "unknown error".into());
    js::call(&container, "register", &["sw.js".into()]).await.map_err(describe)?;
    let ready = Reflect::get(&container, &"ready".into()).map_err(describe)?;
    JsFuture::from(Promise::from(ready)).await.map_err(describe)?;
    Ok(())
}

/// The footer's line on offline use; registers the worker unless `?nocache` asked for no caching.
#[component]
pub fn OfflineNote() -> impl IntoView {
    let app = use_app();
    let note = RwSignal::new(String::new());
    let state = RwSignal::new("pending");
    if !app.flags.no_cache {
        leptos::task::spawn_local(async move {
            match register().await {
                Ok(()) => {
                    note.set("Works offline: next time the page, and the data it has loaded, open without a network.".into());
                    state.set("ready");
                }
                Err(e) => {
                    note.set(format!("Needs the network on each visit: {e}."));
                    state.set("unavailable");
                }
            }
        });
    }
    view! { <span id="offline-status" data-state=move || state.get()>{move || note.get()}</span> }
}
