//! The embed API in the browser: a host page drives the demo in its iframe with
//! `postMessage` (docs/embed-api.md, examples/embed-host.html). Only the origins named by
//! `?embed&host=…` may send commands, and events are posted to those origins alone.

use crate::embed_protocol::{self as protocol, Command};
use crate::logic::parse_settings;
use crate::state::{AppState, Phase};
use leptos::prelude::*;
use serde_json::Value;
use std::cell::Cell;
use std::rc::Rc;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;

/// The allowed host origins from the page's query; `Ok(empty)` when the API is not asked for.
fn host_origins() -> Result<Vec<String>, String> {
    let search = web_sys::window().and_then(|w| w.location().search().ok()).unwrap_or_default();
    let params = web_sys::UrlSearchParams::new_with_str(&search).map_err(|_| "the address's query cannot be read".to_string())?;
    let values: Vec<String> = params.get_all("host").iter().filter_map(|v| v.as_string()).collect();
    protocol::parse_origins(values.iter().map(String::as_str))
}

/// Posts `message` to the parent page, for each allowed origin (the browser delivers it
/// only if the parent is at that origin).
fn post(origins: &[String], message: &Value) {
    let Some(parent) = web_sys::window().and_then(|w| w.parent().ok().flatten()) else { return };
    let Ok(value) = js_sys::JSON::parse(&message.to_string()) else { return };
    for origin in origins {
        let _ = parent.post_message(&value, origin);
    }
}

/// Starts the API when the page was asked for it; the error says why it is off.
pub fn start(app: AppState) -> Result<(), String> {
    let origins = host_origins().map_err(|e| format!("The embed API is off: {e}."))?;
    if origins.is_empty() {
        return Ok(());
    }
    let origins = Rc::new(origins);
    listen(app, origins.clone());
    post(&origins, &protocol::hello(app.ui.phase.get_untracked().name()));
    send_events(app, origins);
    Ok(())
}

fn listen(app: AppState, origins: Rc<Vec<String>>) {
    let Some(window) = web_sys::window() else { return };
    let parent = window.parent().ok().flatten();
    let on_message = Closure::<dyn Fn(web_sys::MessageEvent)>::new(move |event: web_sys::MessageEvent| {
        let origin = event.origin();
        let from_parent = match (event.source(), &parent) {
            (Some(source), Some(parent)) => js_sys::Object::is(&source, parent),
            _ => false,
        };
        if !origins.contains(&origin) || !from_parent {
            web_sys::console::warn_1(
                &format!(
                    "embed API: ignored a message from {origin}: commands come from the parent page at an origin named by ?host= ({})",
                    origins.join(", ")
                )
                .into(),
            );
            return;
        }
        let message: Value = js_sys::JSON::stringify(&event.data())
            .ok()
            .and_then(|s| s.as_string())
            .and_then(|s| serde_json::from_str(&s).ok())
            .unwrap_or(Value::Null);
        let (id, command) = protocol::parse_command(&message);
        let result = command.and_then(|c| run(app, c));
        post(&[origin], &protocol::ack(id, &result));
    });
    let _ = window.add_event_listener_with_callback("message", on_message.as_ref().unchecked_ref());
    on_message.forget(); // Lives as long as the page.
}

/// Carries out a host's command, or says why it cannot be done now.
fn run(app: AppState, command: Command) -> Result<(), String> {
    let phase = app.ui.phase.get_untracked();
    let loading = "the data is still loading: wait for the phase event \"ready\"";
    match command {
        Command::Train => match phase {
            Phase::Training => Err("a run is already training".into()),
            Phase::Starting | Phase::Loading => Err(loading.into()),
            Phase::Failed(e) => Err(format!("the page failed ({e}); send reset first")),
            _ => {
                app.train_or_resume_unasked();
                Ok(())
            }
        },
        Command::Pause => match phase {
            Phase::Training => {
                app.pause();
                Ok(())
            }
            _ => Err(format!("nothing is training (the phase is {})", phase.name())),
        },
        Command::Reset => {
            app.reset_unasked();
            Ok(())
        }
        Command::Settings(patch) => {
            if matches!(phase, Phase::Training | Phase::Paused) {
                return Err("a run is in progress: settings apply to a new run, so send reset first (or wait until it finishes)".into());
            }
            let Some(dataset) = app.session().dataset.borrow().clone() else { return Err(loading.into()) };
            let input = patch.apply(&app.form.input())?;
            parse_settings(&input, dataset.train.len(), dataset.test.len())?;
            app.form.set(input);
            app.ui.form_error.set(None);
            Ok(())
        }
    }
}

/// Posts the page's phase changes, failures, each training step and each epoch's results.
fn send_events(app: AppState, origins: Rc<Vec<String>>) {
    let ui = app.ui;
    let to = origins.clone();
    Effect::new(move |_| {
        let phase = ui.phase.get();
        post(&to, &protocol::phase(phase.name()));
        if let Phase::Failed(message) = &phase {
            post(&to, &protocol::error(message));
        }
    });
    let to = origins.clone();
    Effect::new(move |_| {
        if let Some(message) = ui.form_error.get() {
            post(&to, &protocol::error(&message));
        }
    });
    let (sent_steps, sent_epochs) = (Rc::new(Cell::new(0usize)), Rc::new(Cell::new(0usize)));
    Effect::new(move |_| {
        ui.chart.with(|chart| {
            // A shorter history is a new run (or a reset): start counting again.
            if chart.steps.len() < sent_steps.get() || chart.epochs.len() < sent_epochs.get() {
                sent_steps.set(0);
                sent_epochs.set(0);
            }
            for m in &chart.steps[sent_steps.get()..] {
                post(&origins, &protocol::step(m, chart.steps_per_epoch));
            }
            for p in &chart.epochs[sent_epochs.get()..] {
                post(&origins, &protocol::epoch(p));
            }
            sent_steps.set(chart.steps.len());
            sent_epochs.set(chart.epochs.len());
        });
    });
}
