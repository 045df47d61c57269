//! What the page's buttons and pickers do, as methods on the shared state, so every layout
//! (the full page and the embed) wires the same actions.

use crate::inspection::request_inspection;
use crate::run_loop::{resume, start_training};
use crate::state::{AppState, Phase};
use crate::{files, startup, weights_io};
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
        if let Phase::Paused = self.ui.phase.get_untracked() {
            resume(self);
        } else {
            spawn_local(start_training(self));
        }
    }

    pub fn pause(self) {
        self.session().running.set(false);
    }

    /// Starts over from the GPU: after a lost device the old one is unusable. The charts stay.
    pub fn retry(self) {
        self.session().forget_gpu();
        self.boot();
    }

    /// Forgets the run; after a failure, starts over from the GPU.
    pub fn reset(self) {
        self.reset_run();
        if matches!(self.ui.phase.get_untracked(), Phase::Failed(_)) {
            self.retry();
        } else {
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
        self.reset_run();
        spawn_local(async move {
            startup::load_builtin(self, dataset).await;
        });
    }

    pub fn use_own_files(self, images: web_sys::File, labels: web_sys::File) {
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

    pub fn load_weights(self, file: web_sys::File) {
        self.ui.weights_msg.set(None);
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
