//! `window.__train`: a small report for end-to-end tests and embedding pages (phase, step
//! counts, first and last loss, speed, startup times).

use crate::state::{AppState, Phase};
use leptos::prelude::*;
use wasm_bindgen::JsValue;

pub fn publish_report(app: AppState, phase: &Phase) {
    let Some(window) = web_sys::window() else { return };
    let (progress, start) = (app.ui.progress.get_untracked(), app.ui.startup.get_untracked());
    let report = js_sys::Object::new();
    let set = |k: &str, v: JsValue| {
        let _ = js_sys::Reflect::set(&report, &k.into(), &v);
    };
    app.ui.chart.with_untracked(|chart| {
        set("phase", phase.name().into());
        set("steps", (chart.steps.len() as f64).into());
        set("submitted", (progress.step as f64).into());
        set("firstLoss", chart.steps.first().map_or(JsValue::NULL, |m| (m.loss as f64).into()));
        set("lastLoss", chart.steps.last().map_or(JsValue::NULL, |m| (m.loss as f64).into()));
        set("imagesPerSecond", progress.images_per_s.into());
        set("epochs", (chart.epochs.len() as f64).into());
        set("backend", app.ui.training_on.get_untracked().map_or(JsValue::NULL, |k| k.name().into()));
    });
    let kept = app.session().kept_steps.get();
    set("keptSteps", kept.map_or(JsValue::NULL, |s| (s as f64).into()));
    let startup = js_sys::Object::new();
    for (key, value) in [
        ("readyMs", start.ready_ms),
        ("setupMs", start.setup_ms),
        ("firstStepMs", start.first_step_ms),
        ("sinceNavigationMs", start.since_navigation_ms),
    ] {
        let _ = js_sys::Reflect::set(&startup, &key.into(), &value.map_or(JsValue::NULL, JsValue::from));
    }
    set("startup", startup.into());
    let _ = js_sys::Reflect::set(&window, &"__train".into(), &report);
}
