//! The page's state, in one place: what the loop and the handlers share outside the
//! reactive graph ([`Session`]: GPU objects are not `Send`, so they cannot live in signals),
//! the signals the views read ([`Ui`]), and [`AppState`], which bundles both and is
//! provided as context (as Leptos's todomvc shares its state).

use crate::logic::{QueryFlags, Settings, SettingsInput};
use crate::page_trainer::PageTrainer;
use crate::views::inspection::Inspection;
use charts::ChartData;
use engine::data::BuiltinDataset;
use engine::train::{auto_backend, AutoChoice, BackendKind};
use engine::{Dataset, GpuContext, Model, Split, Weights};
use leptos::prelude::*;
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::Arc;

/// Where the page is.
#[derive(Clone, Debug, PartialEq)]
pub enum Phase {
    Starting,
    Loading,
    Ready,
    Training,
    Paused,
    Finished,
    /// Data or GPU failure; the message says what happened and what to do.
    Failed(String),
}

impl Phase {
    /// The name published in `data-phase` and `window.__train.phase`.
    pub fn name(&self) -> &'static str {
        match self {
            Phase::Starting => "starting",
            Phase::Loading => "loading",
            Phase::Ready => "ready",
            Phase::Training => "training",
            Phase::Paused => "paused",
            Phase::Finished => "finished",
            Phase::Failed(_) => "failed",
        }
    }
}

/// Step/epoch progress for the bars and the rate line.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TrainProgress {
    pub step: u64,
    pub total_steps: u64,
    pub epoch: usize,
    pub epochs: usize,
    pub images_per_s: f64,
    pub eta_s: f64,
    /// An end-of-epoch evaluation is running.
    pub evaluating: bool,
}

/// How long the page took to get going, in ms (shown under the progress bar and published
/// in `window.__train.startup`).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Startup {
    /// Navigation to the data verified and the adapter ready.
    pub ready_ms: Option<f64>,
    /// Building the trainer (data upload, buffers, pipelines requested): the part that runs
    /// on the page's thread. Browsers compile the pipelines in their GPU process.
    pub setup_ms: Option<f64>,
    /// Train pressed (or autostart) to the first training step done on the GPU, pipeline
    /// compilation included.
    pub first_step_ms: Option<f64>,
    /// Navigation to that first step.
    pub since_navigation_ms: Option<f64>,
}

impl Startup {
    pub fn text(&self) -> String {
        let s = |ms: f64| format!("{:.1} s", ms / 1000.0);
        let mut parts = Vec::new();
        if let Some(ms) = self.ready_ms {
            parts.push(format!("ready {} after the page opened", s(ms)));
        }
        if let (Some(first), Some(setup)) = (self.first_step_ms, self.setup_ms) {
            parts.push(format!("first step {} after Train ({setup:.0} ms of it on the page's thread)", s(first)));
        }
        if parts.is_empty() {
            String::new()
        } else {
            format!("Startup: {}.", parts.join(" · "))
        }
    }
}

/// What the loop and the handlers share outside the reactive graph.
#[derive(Default)]
pub struct Session {
    pub dataset: RefCell<Option<Rc<Dataset>>>,
    pub ctx: RefCell<Option<GpuContext>>,
    trainer: RefCell<Option<PageTrainer>>,
    pub settings: RefCell<Option<Settings>>,
    pub running: Cell<bool>,
    /// `?lose_device_after=N`: destroy the device after N steps (tests device-loss handling).
    pub lose_device_after: Cell<Option<u64>>,
    /// `?pause_after=N` (test builds): Pause once N steps are done.
    pub pause_after: Cell<Option<u64>>,
    /// Bumped by Reset and by every new run, so work started for an earlier run drops its
    /// results instead of clobbering the new one.
    generation: Cell<u32>,
    /// The test split of the current run (what evaluations and the gallery index into).
    pub test_split: RefCell<Option<Arc<Split>>>,
    /// The latest weights seen (for the CPU fallback of the drawing pad, and the filters).
    pub weights: RefCell<Option<Weights>>,
    /// The image the drawing pad or the gallery asked about, and where it came from.
    pub probe_image: RefCell<Option<(Vec<u8>, String)>>,
    /// An inspection was asked for; the training loop serves it at its next tick.
    pub inspect_due: Cell<bool>,
    /// An inspection outside the training loop is in progress.
    pub inspecting: Cell<bool>,
    /// The dataset in use: a built-in one's id, or "own".
    pub dataset_id: RefCell<String>,
    /// Epochs the loaded weights had already been trained for.
    pub base_epochs: Cell<usize>,
    /// When Train was pressed for a fresh trainer, until its first step is done.
    pub train_pressed_at: Cell<Option<f64>>,
    /// The form as it was when the current run started (what its checkpoints record).
    pub run_input: RefCell<Option<crate::logic::SettingsInput>>,
    /// The page was hidden during training: the loop keeps a checkpoint at its next tick.
    pub keep_due: Cell<bool>,
    /// A checkpoint is being written (another one waits for the next occasion).
    pub keeping: Cell<bool>,
    /// The step of the last checkpoint written, for `window.__train.keptSteps`.
    pub kept_steps: Cell<Option<u64>>,
    /// The run kept by an earlier visit, while the page offers it.
    pub offered: RefCell<Option<OfferedRun>>,
    /// The user's own files, when they are the dataset (what a kept run checks on resume).
    pub own_files: RefCell<Option<crate::checkpoint::OwnFiles>>,
    /// Train was pressed while the trainer was leased out (for this generation).
    resume_wanted: Cell<Option<u32>>,
}

/// What the page holds while it offers the run an earlier visit kept.
pub enum OfferedRun {
    /// A checkpoint that can continue (Resume).
    Resume(Box<crate::checkpoint::Checkpoint>),
    /// The file of a run that cannot continue, whose weights load alone (Load its weights).
    Weights(Vec<u8>),
}

/// A trainer taken out of the session for an async job, with the run it belongs to.
pub struct Lease {
    pub trainer: Option<PageTrainer>,
    generation: u32,
}

impl Lease {
    /// The run the trainer belongs to.
    pub fn generation(&self) -> u32 {
        self.generation
    }
}

impl Session {
    /// The current run's token; compare with [`Session::is_current`] after an await.
    pub fn generation(&self) -> u32 {
        self.generation.get()
    }

    /// Whether the run of `generation` is still the current one (no Reset, no new run).
    pub fn is_current(&self, generation: u32) -> bool {
        self.generation.get() == generation
    }

    /// Starts a new generation: work in flight for the old one will drop its results.
    fn next_generation(&self) {
        self.generation.set(self.generation.get() + 1);
    }

    pub fn has_trainer(&self) -> bool {
        self.trainer.borrow().is_some()
    }

    /// Steps trained in the current run (0 without one, or while the loop holds it).
    pub fn steps_done(&self) -> u64 {
        self.trainer.borrow().as_ref().map_or(0, |t| t.clock().steps)
    }

    /// Takes the trainer out (the session holds none meanwhile).
    pub fn lease(&self) -> Lease {
        Lease { trainer: self.trainer.borrow_mut().take(), generation: self.generation.get() }
    }

    /// Puts a leased trainer back, unless Reset or a new run replaced it meanwhile (then
    /// the trainer is dropped). True if it went back.
    pub fn give_back(&self, lease: Lease) -> bool {
        let Some(t) = lease.trainer else { return false };
        if self.is_current(lease.generation) && self.trainer.borrow().is_none() {
            *self.trainer.borrow_mut() = Some(t);
            return true;
        }
        false
    }

    /// Asks that the loop start when the leased trainer comes back.
    pub fn want_resume(&self) {
        self.resume_wanted.set(Some(self.generation()));
    }

    /// Whether Train was pressed for the current run while its trainer was out (and clears it).
    pub fn take_resume_wanted(&self) -> bool {
        self.resume_wanted.take() == Some(self.generation())
    }

    /// Makes `trainer` the current run's trainer.
    pub fn install(&self, trainer: PageTrainer) {
        *self.trainer.borrow_mut() = Some(trainer);
    }

    /// Forgets the current run: its trainer, weights and loaded epochs.
    pub fn forget_run(&self) {
        self.running.set(false);
        self.next_generation();
        *self.trainer.borrow_mut() = None;
        *self.weights.borrow_mut() = None;
        self.base_epochs.set(0);
    }

    /// Drops the trainer and the GPU (after a lost device, the old one is unusable).
    pub fn forget_gpu(&self) {
        self.next_generation();
        *self.trainer.borrow_mut() = None;
        *self.ctx.borrow_mut() = None;
    }
}

/// The signals the loop updates and the views read.
#[derive(Clone, Copy)]
pub struct Ui {
    pub phase: RwSignal<Phase>,
    pub progress: RwSignal<TrainProgress>,
    pub chart: RwSignal<ChartData>,
    pub form_error: RwSignal<Option<String>>,
    /// Why WebGPU is unavailable, when it is (the page then trains on the CPU).
    pub webgpu_missing: RwSignal<Option<String>>,
    /// What the Auto backend picks here, and why (set once the adapter is known).
    pub auto: RwSignal<AutoChoice>,
    /// The backend the current run trains on.
    pub training_on: RwSignal<Option<BackendKind>>,
    pub ins: Inspection,
    /// The outcome of the last weight download or upload.
    pub weights_msg: RwSignal<Option<Result<String, String>>>,
    /// A problem with the user's own data files (the current data is kept).
    pub data_error: RwSignal<Option<String>>,
    pub startup: RwSignal<Startup>,
    /// Bytes downloaded of the dataset, and its total.
    pub download: RwSignal<(u64, u64)>,
    /// The adapter's description.
    pub adapter: RwSignal<String>,
    /// What data is loaded, and how it was verified.
    pub data_note: RwSignal<String>,
    /// The own-files pickers are shown.
    pub show_own: RwSignal<bool>,
    /// What the browser keeps of this run: the last checkpoint, or why none can be kept.
    pub kept: RwSignal<Option<Result<String, String>>>,
    /// A run kept by an earlier visit: what it is, and what the page can do with it.
    pub offer: RwSignal<Option<(String, Offer)>>,
}

/// What the page can do with a run an earlier visit kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Offer {
    /// Continue it exactly.
    Resume,
    /// Its run cannot continue, but its weights are intact: start from them.
    LoadWeights,
    /// Nothing but discard it.
    Discard,
}

/// The form's fields.
#[derive(Clone, Copy)]
pub struct FormSignals {
    pub lr: RwSignal<String>,
    pub batch: RwSignal<String>,
    pub epochs: RwSignal<String>,
    pub seed: RwSignal<String>,
    pub limit: RwSignal<String>,
    pub test_limit: RwSignal<String>,
    pub backend: RwSignal<String>,
    pub eval_train: RwSignal<bool>,
    /// A built-in dataset's id, or "own".
    pub dataset: RwSignal<String>,
}

impl FormSignals {
    fn new(input: SettingsInput, dataset: &str) -> Self {
        FormSignals {
            dataset: RwSignal::new(dataset.to_string()),
            lr: RwSignal::new(input.lr),
            batch: RwSignal::new(input.batch),
            epochs: RwSignal::new(input.epochs),
            seed: RwSignal::new(input.seed),
            limit: RwSignal::new(input.limit),
            test_limit: RwSignal::new(input.test_limit),
            backend: RwSignal::new(input.backend),
            eval_train: RwSignal::new(input.eval_train),
        }
    }

    /// Fills the form with `input` (the dataset is kept).
    pub fn set(&self, input: SettingsInput) {
        self.lr.set(input.lr);
        self.batch.set(input.batch);
        self.epochs.set(input.epochs);
        self.seed.set(input.seed);
        self.limit.set(input.limit);
        self.test_limit.set(input.test_limit);
        self.backend.set(input.backend);
        self.eval_train.set(input.eval_train);
    }

    pub fn input(&self) -> SettingsInput {
        SettingsInput {
            lr: self.lr.get_untracked(),
            batch: self.batch.get_untracked(),
            epochs: self.epochs.get_untracked(),
            seed: self.seed.get_untracked(),
            limit: self.limit.get_untracked(),
            test_limit: self.test_limit.get_untracked(),
            backend: self.backend.get_untracked(),
            eval_train: self.eval_train.get_untracked(),
        }
    }
}

/// Everything the page's parts share: cheap to copy into handlers and async tasks.
#[derive(Clone, Copy)]
pub struct AppState {
    session: StoredValue<Rc<Session>, LocalStorage>,
    pub ui: Ui,
    pub form: FormSignals,
    pub flags: QueryFlags,
}

impl AppState {
    /// The state for a page opened with `query`.
    pub fn new(query: &str) -> Self {
        let (input, flags) = crate::logic::from_query(query);
        let dataset = flags.dataset.unwrap_or(engine::data::MNIST);
        let ui = Ui {
            phase: RwSignal::new(Phase::Starting),
            progress: RwSignal::new(TrainProgress::default()),
            chart: RwSignal::new(ChartData::default()),
            form_error: RwSignal::new(None),
            webgpu_missing: RwSignal::new(None),
            auto: RwSignal::new(auto_backend(None)),
            training_on: RwSignal::new(None),
            ins: Inspection::new(),
            weights_msg: RwSignal::new(None),
            data_error: RwSignal::new(None),
            startup: RwSignal::new(Startup::default()),
            download: RwSignal::new((0, dataset.total_bytes())),
            adapter: RwSignal::new(String::new()),
            data_note: RwSignal::new(String::new()),
            show_own: RwSignal::new(false),
            kept: RwSignal::new(None),
            offer: RwSignal::new(None),
        };
        let session = Session::default();
        session.lose_device_after.set(flags.lose_device_after);
        session.pause_after.set(flags.pause_after);
        AppState { session: StoredValue::new_local(Rc::new(session)), ui, form: FormSignals::new(input, dataset.id), flags }
    }

    pub fn session(&self) -> Rc<Session> {
        self.session.get_value()
    }

    /// Forgets the current run and everything derived from its model.
    pub fn reset_run(&self) {
        self.session().forget_run();
        self.ui.chart.set(ChartData::default());
        self.ui.progress.set(TrainProgress::default());
        self.ui.ins.clear();
    }

    /// The dataset the form names (MNIST if it names none).
    pub fn chosen_dataset(&self) -> BuiltinDataset {
        BuiltinDataset::by_id(&self.form.dataset.get_untracked()).unwrap_or(engine::data::MNIST)
    }
}

/// The page's model (the tutorial's CNN), built once.
pub fn model() -> &'static Model {
    static MODEL: std::sync::OnceLock<Model> = std::sync::OnceLock::new();
    MODEL.get_or_init(Model::tutorial)
}

/// The page's state, from the context [`crate::App`] provides.
pub fn use_app() -> AppState {
    use_context::<AppState>().expect("App provides the state")
}
