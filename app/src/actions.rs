//! What the page's buttons and pickers do, as methods on the shared state, so every layout
//! (the full page and the embed) wires the same actions.

use crate::inspection::request_inspection;
use crate::run_loop::{resume, start_training};
use crate::state::{AppState, Offer, OfferedRun, Phase};
use crate::{files, kept_run, startup, weights_io};
use engine::data::BuiltinDataset;
use leptos::prelude::*;
use leptos::task::spawn_local;

impl AppState {
    /// Starts the page: the GPU, then the data.
    pub fn boot(self) {
        spawn_local(startup::start_up(self));
    }

    /// Train a new run, or resume a paused one.
    pub fn train_or_resume(self) {
        show_training();
        self.start_or_resume(true);
    }

    /// Train or Resume without asking (the embed API's host asked already).
    pub fn train_or_resume_unasked(self) {
        self.start_or_resume(false);
    }

    /// Resumes a paused run, or starts a new one (asking first when `ask` and a run would be
    /// replaced).
    fn start_or_resume(self, ask: bool) {
        match self.ui.phase.get_untracked() {
            // A second click (or a click while the data loads) does nothing.
            Phase::Training | Phase::Loading | Phase::Starting => {}
            Phase::Paused => resume(self),
            _ if !ask || self.confirm_replacing("Start a new run?") => spawn_local(start_training(self)),
            _ => {}
        }
    }

    pub fn pause(self) {
        self.session().running.set(false);
    }

    /// What would be thrown away: the current run, or a kept one still on offer.
    fn unsaved_work(self) -> Option<String> {
        let steps = self.session().steps_done().max(self.ui.progress.get_untracked().step);
        if steps > 0 {
            return Some(format!("the current run ({steps} steps)"));
        }
        self.ui.offer.get_untracked().filter(|(_, offer)| *offer != Offer::Discard).map(|_| "the run kept from your last visit".to_string())
    }

    /// Asks before `action` throws away a run; true when there is none, or the user agreed.
    fn confirm_replacing(self, action: &str) -> bool {
        let Some(what) = self.unsaved_work() else { return true };
        let text = format!("{action} This replaces {what}, here and in this browser's storage. Download the weights first to keep it.");
        web_sys::window().is_none_or(|w| w.confirm_with_message(&text).unwrap_or(false))
    }

    /// The offer's Resume: the kept run continues where it stopped.
    pub fn resume_kept(self) {
        spawn_local(kept_run::resume_offered(self));
    }

    /// The offer's Load its weights, for a kept run that cannot continue.
    pub fn load_kept_weights(self) {
        spawn_local(kept_run::load_offered_weights(self));
    }

    /// The offer's Discard (asks first: the run is gone afterwards).
    pub fn discard_kept(self) {
        let ok =
            web_sys::window().is_none_or(|w| w.confirm_with_message("Discard the kept run? It cannot be brought back.").unwrap_or(false));
        if ok {
            spawn_local(kept_run::discard_offered(self));
        }
    }

    /// The page was hidden: keep the run now (the tab may never come back).
    pub fn page_hidden(self) {
        let session = self.session();
        if session.running.get() {
            session.keep_due.set(true);
        }
    }

    /// Starts over from the GPU (after a lost device the old one is unusable), keeping the
    /// data, and continues from the run's last checkpoint when the browser kept one.
    pub fn retry(self) {
        self.session().forget_gpu();
        self.ui.phase.set(Phase::Starting);
        spawn_local(async move {
            startup::start_up(self).await;
            if self.ui.phase.get_untracked() != Phase::Ready {
                return;
            }
            kept_run::offer(self).await;
            if matches!(*self.session().offered.borrow(), Some(OfferedRun::Resume(_))) {
                kept_run::resume_offered(self).await;
            }
        });
    }

    /// Forgets the run (and the one kept in the browser); after a failure, starts over from
    /// the GPU.
    pub fn reset(self) {
        if self.confirm_replacing("Reset?") {
            self.reset_unasked();
        }
    }

    /// Reset without asking (the embed API's host asked already).
    pub fn reset_unasked(self) {
        self.reset_run();
        if matches!(self.ui.phase.get_untracked(), Phase::Failed(_)) {
            // A fresh start: the kept run goes before the new device comes.
            self.session().forget_gpu();
            spawn_local(async move {
                kept_run::forget(self).await;
                startup::start_up(self).await;
            });
        } else {
            spawn_local(kept_run::forget(self));
            let has_data = self.session().dataset.borrow().is_some();
            self.ui.phase.set(if has_data { Phase::Ready } else { Phase::Starting });
        }
    }

    /// Another dataset: a shipped one by id, or "own" (shows the file pickers).
    pub fn choose_dataset(self, id: String) {
        let ui = self.ui;
        ui.data_error.set(None);
        if id == "own" {
            ui.show_own.set(true);
            return;
        }
        ui.show_own.set(false);
        let Some(dataset) = BuiltinDataset::by_id(&id) else { return };
        if !self.confirm_replacing(&format!("Switch to {}?", dataset.title)) {
            self.form.dataset.set(self.session().dataset_id.borrow().clone());
            return;
        }
        self.reset_run();
        spawn_local(async move {
            startup::load_builtin(self, dataset).await;
        });
    }

    pub fn use_own_files(self, images: web_sys::File, labels: web_sys::File) {
        if !self.confirm_replacing("Train on your own files?") {
            return;
        }
        spawn_local(startup::load_own_files(self, images, labels));
    }

    /// The drawing pad's digit (None: the pad was cleared).
    pub fn probe_drawing(self, digit: Option<Vec<u8>>) {
        match digit {
            Some(pixels) => {
                *self.session().probe_image.borrow_mut() = Some((pixels, "your drawing".into()));
                request_inspection(self);
            }
            None => {
                *self.session().probe_image.borrow_mut() = None;
                self.ui.ins.clear_probe();
            }
        }
    }

    /// A test image picked in the gallery.
    pub fn probe_test_image(self, i: usize) {
        let Some(e) = self.ui.ins.eval.get_untracked() else { return };
        let names = self.ui.ins.classes.get_untracked();
        let label = &names[e.test.labels[i] as usize];
        *self.session().probe_image.borrow_mut() = Some((e.image(i), format!("test image {i} (a {label})")));
        request_inspection(self);
    }

    pub fn save_weights(self) {
        spawn_local(weights_io::save_weights_file(self));
    }

    pub fn save_onnx(self) {
        spawn_local(weights_io::save_onnx_file(self));
    }

    pub fn load_weights(self, file: web_sys::File) {
        self.ui.weights_msg.set(None);
        if self.session().running.get() {
            self.ui.weights_msg.set(Some(Err(format!("Pause training before loading {}. The current model is unchanged.", file.name()))));
            return;
        }
        if !self.confirm_replacing(&format!("Load {}?", file.name())) {
            self.ui.weights_msg.set(Some(Err(format!("{} was not loaded. The current model is unchanged.", file.name()))));
            return;
        }
        spawn_local(async move {
            match files::read_file(&file).await {
                Ok((name, bytes)) => weights_io::load_weights_file(self, name, bytes).await,
                Err(e) => {
                    self.ui.weights_msg.set(Some(Err(format!("{}. The current model is unchanged.", e.to_string().trim_end_matches('.')))))
                }
            }
        })
    }
}

/// Scrolls the progress, the charts and the pad into view (as little as it takes), so a
/// click on Train shows what to watch.
fn show_training() {
    let Some(watch) = web_sys::window().and_then(|w| w.document()).and_then(|d| d.get_element_by_id("watch")) else { return };
    let options = web_sys::ScrollIntoViewOptions::new();
    options.set_block(web_sys::ScrollLogicalPosition::Nearest);
    watch.scroll_into_view_with_scroll_into_view_options(&options);
}
