//! The page: download MNIST, press Train, and watch the tutorial CNN learn on WebGPU, with
//! live loss and accuracy charts. All the numerics are the engine's; this crate is the UI
//! and the loop that paces training so the page stays responsive. Without WebGPU (or when
//! chosen) burn's CPU backend trains in a Web Worker from a separate, lazily loaded bundle.

mod burn_worker;
mod fetch;
mod files;
mod inspect_view;
mod logic;

use burn_worker::BurnWorker;
use charts::{ChartData, EpochPoint};
use engine::data::{BuiltinDataset, NamedBytes};
use engine::model::Model;
use engine::train::{EvalResult, EvalSet, StepMetrics, TrainConfig, TrainError, Trainer, Weights};
use engine::{inspect, weights, wgpu, BackendKind, Dataset, GpuContext, Split};
use inspect_view::{Activations, Confusion, DrawPad, Filters, Gallery, Inspection, TestPredictions};
use leptos::html;
use leptos::prelude::*;
use leptos::task::spawn_local;
use logic::{format_bytes, format_duration, format_rate, parse_settings, Settings, SettingsInput};
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::Arc;
use wasm_bindgen::JsValue;

/// Where the page is.
#[derive(Clone, Debug, PartialEq)]
enum Phase {
    Starting,
    Loading,
    Ready,
    Training,
    Paused,
    Finished,
    /// Data or GPU failure; the message says what happened and what to do.
    Failed(String),
}

/// Step/epoch progress for the bars and the rate line.
#[derive(Clone, Debug, Default, PartialEq)]
struct TrainProgress {
    step: u64,
    total_steps: u64,
    epoch: usize,
    epochs: usize,
    images_per_s: f64,
    eta_s: f64,
    /// An end-of-epoch evaluation is running.
    evaluating: bool,
}

/// How long the page took to get going, in ms (shown under the progress bar and published
/// in `window.__train.startup`).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Startup {
    /// Navigation to the data verified and the adapter ready.
    ready_ms: Option<f64>,
    /// Building the trainer (data upload, buffers, pipelines requested): the part that runs
    /// on the page's thread. Browsers compile the pipelines in their GPU process.
    setup_ms: Option<f64>,
    /// Train pressed (or autostart) to the first training step done on the GPU, pipeline
    /// compilation included.
    first_step_ms: Option<f64>,
    /// Navigation to that first step.
    since_navigation_ms: Option<f64>,
}

impl Startup {
    fn text(&self) -> String {
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

/// State the loop and the handlers share outside the reactive graph (GPU objects are not
/// `Send`, so they live here rather than in signals).
#[derive(Default)]
struct Session {
    dataset: RefCell<Option<Rc<Dataset>>>,
    ctx: RefCell<Option<GpuContext>>,
    trainer: RefCell<Option<PageTrainer>>,
    settings: RefCell<Option<Settings>>,
    running: Cell<bool>,
    /// `?lose_device_after=N`: destroy the device after N steps (tests device-loss handling).
    lose_device_after: Cell<Option<u64>>,
    /// Bumped by Reset, so a loop from an earlier run stops and drops its trainer.
    generation: Cell<u32>,
    /// The test split of the current run (what evaluations and the gallery index into).
    test_split: RefCell<Option<Arc<Split>>>,
    /// The latest weights seen (for the CPU fallback of the drawing pad, and the filters).
    weights: RefCell<Option<Weights>>,
    /// The image the drawing pad or the gallery asked about, and where it came from.
    probe_image: RefCell<Option<(Vec<u8>, String)>>,
    /// An inspection was asked for; the training loop serves it at its next tick.
    inspect_due: Cell<bool>,
    /// An inspection outside the training loop is in progress.
    inspecting: Cell<bool>,
    /// The dataset in use: a built-in one's id, or "own".
    dataset_id: RefCell<String>,
    /// Epochs the loaded weights had already been trained for.
    base_epochs: Cell<usize>,
    /// When Train was pressed for a fresh trainer, until its first step is done.
    train_pressed_at: Cell<Option<f64>>,
}

/// The signals the loop updates.
#[derive(Clone, Copy)]
struct Ui {
    phase: RwSignal<Phase>,
    progress: RwSignal<TrainProgress>,
    chart: RwSignal<ChartData>,
    form_error: RwSignal<Option<String>>,
    /// Why WebGPU is unavailable, when it is (the page then trains on the CPU).
    webgpu_missing: RwSignal<Option<String>>,
    /// The WebGPU adapter is a software renderer (where the CPU backend may be faster).
    software_adapter: RwSignal<bool>,
    ins: Inspection,
    /// The outcome of the last weight download or upload.
    weights_msg: RwSignal<Option<Result<String, String>>>,
    /// A problem with the user's own data files (the current data is kept).
    data_error: RwSignal<Option<String>>,
    startup: RwSignal<Startup>,
}

/// A trainer on one of the page's backends.
enum PageTrainer {
    /// Ours, on WebGPU in this thread (the GPU does the work).
    Gpu(Box<Trainer>),
    /// burn (CPU or burn-wgpu) in a Web Worker.
    Burn(BurnWorker),
}

impl PageTrainer {
    /// Starts a trainer for `kind` (the worker's bundle is fetched only here).
    async fn start(kind: BackendKind, ctx: Option<GpuContext>, dataset: &Dataset, config: TrainConfig) -> Result<Self, TrainError> {
        config.validate(dataset.train.len())?;
        match (kind, ctx) {
            (BackendKind::Wgsl, Some(ctx)) => Ok(PageTrainer::Gpu(Box::new(Trainer::new(&ctx, Model::tutorial(), dataset, config)?))),
            (BackendKind::Wgsl, None) => Err(TrainError::Config("WebGPU is not available in this browser: choose the CPU backend".into())),
            (BackendKind::BurnWgpu, None) => {
                Err(TrainError::Config("burn-wgpu needs WebGPU, which this browser does not offer: choose the CPU backend".into()))
            }
            (kind, _) => Ok(PageTrainer::Burn(BurnWorker::start(kind, dataset, &config).await?)),
        }
    }
    fn steps_per_epoch(&self) -> usize {
        match self {
            PageTrainer::Gpu(t) => t.steps_per_epoch(),
            PageTrainer::Burn(w) => w.steps_per_epoch,
        }
    }
    fn steps_done(&self) -> u64 {
        match self {
            PageTrainer::Gpu(t) => t.steps_done(),
            PageTrainer::Burn(w) => w.steps_done,
        }
    }
    fn epoch(&self) -> usize {
        match self {
            PageTrainer::Gpu(t) => t.epoch(),
            PageTrainer::Burn(w) => w.epoch,
        }
    }
    fn step_in_epoch(&self) -> usize {
        match self {
            PageTrainer::Gpu(t) => t.step_in_epoch(),
            PageTrainer::Burn(w) => w.step_in_epoch,
        }
    }

    /// Trains up to `count` steps, stopping at the end of an epoch, and waits for them
    /// (yielding to the event loop). Returns the metrics that have arrived; at an epoch's
    /// end, all of them.
    async fn run_steps(&mut self, count: usize, lose_device_after: &Cell<Option<u64>>) -> Result<Vec<StepMetrics>, TrainError> {
        match self {
            PageTrainer::Gpu(t) => {
                for _ in 0..count {
                    if lose_device_after.get().is_some_and(|n| t.steps_done() >= n) {
                        lose_device_after.set(None);
                        t.context().device.destroy();
                    }
                    t.step()?;
                    if t.step_in_epoch() == 0 {
                        break;
                    }
                }
                t.gpu_idle().await?;
                let mut metrics = t.poll_metrics()?;
                if t.step_in_epoch() == 0 {
                    metrics.extend(t.flush_metrics().await?);
                }
                Ok(metrics)
            }
            PageTrainer::Burn(w) => w.steps(count).await,
        }
    }

    /// Loss, accuracy and every test example's log-probabilities.
    async fn evaluate_test(&mut self) -> Result<(EvalResult, Vec<f32>), TrainError> {
        match self {
            PageTrainer::Gpu(t) => t.evaluate_predictions(EvalSet::Test).await,
            PageTrainer::Burn(w) => w.evaluate().await,
        }
    }

    async fn weights(&mut self) -> Result<Weights, TrainError> {
        match self {
            PageTrainer::Gpu(t) => t.weights().await,
            PageTrainer::Burn(w) => w.weights().await,
        }
    }

    async fn set_weights(&mut self, weights: &Weights) -> Result<(), TrainError> {
        match self {
            PageTrainer::Gpu(t) => t.set_weights(weights),
            PageTrainer::Burn(w) => w.set_weights(weights).await,
        }
    }
}

/// Weights of a model nobody has trained yet (seed 0), so the drawing pad works from the start.
fn untrained_weights() -> Weights {
    let model = Model::tutorial();
    Weights { params: model.init_params(0), stats: model.init_stats() }
}

/// Reads the current weights (for the filters and the CPU fallback) and, if an image is
/// being looked at, its probabilities and activations: on the GPU through our kernels when
/// ours holds the model, otherwise on the CPU with the engine's reference forward pass.
async fn refresh_inspection(mut trainer: Option<&mut PageTrainer>, session: &Session, ui: Ui) -> Result<(), TrainError> {
    let model = Model::tutorial();
    if let Some(t) = trainer.as_deref_mut() {
        let w = t.weights().await?;
        *session.weights.borrow_mut() = Some(w);
    }
    let trained = session.weights.borrow().is_some();
    let weights = session.weights.borrow().clone().unwrap_or_else(untrained_weights);
    if trained {
        if let Some(f) = inspect::first_conv_filters(&model, &weights.params) {
            ui.ins.filters.set(Some(Arc::new(f)));
        }
    }
    let probe = session.probe_image.borrow().clone();
    if let Some((image, source)) = probe {
        let (acts, engine) = match trainer {
            Some(PageTrainer::Gpu(t)) => (t.probe(&image).await?, "GPU (our WGSL kernels)"),
            _ if trained => (inspect::cpu_activations(&model, &weights, &image), "CPU (the engine's reference forward pass)"),
            _ => (inspect::cpu_activations(&model, &weights, &image), "CPU, with an untrained model: train or load weights first"),
        };
        ui.ins.probe_probs.set(Some(inspect::probabilities(acts.last().expect("a model has layers"))));
        ui.ins.activations.set(Some(Arc::new(acts)));
        ui.ins.probe_input.set(Some(Arc::new(image)));
        ui.ins.probe_source.set(source);
        ui.ins.probe_engine.set(engine);
    }
    Ok(())
}

/// Takes the trainer out of the session for an async job, with the generation to hand back.
fn borrow_trainer(session: &Session) -> (Option<PageTrainer>, u32) {
    (session.trainer.borrow_mut().take(), session.generation.get())
}

/// Puts a borrowed trainer back, unless Reset or a new run replaced it meanwhile.
fn return_trainer(session: &Session, trainer: Option<PageTrainer>, generation: u32) {
    if let Some(t) = trainer {
        if session.generation.get() == generation && session.trainer.borrow().is_none() {
            *session.trainer.borrow_mut() = Some(t);
        }
    }
}

/// Asks for an inspection: the training loop serves it at its next tick; otherwise it runs
/// now, with the trainer (if any) taken out of the session meanwhile.
fn request_inspection(session: Rc<Session>, ui: Ui) {
    session.inspect_due.set(true);
    if session.running.get() || session.inspecting.replace(true) {
        return;
    }
    spawn_local(async move {
        while session.inspect_due.replace(false) && !session.running.get() {
            let (mut trainer, generation) = borrow_trainer(&session);
            let result = refresh_inspection(trainer.as_mut(), &session, ui).await;
            return_trainer(&session, trainer, generation);
            if let Err(e) = result {
                ui.weights_msg.set(Some(Err(format!("Could not look inside the model: {e}"))));
            }
        }
        session.inspecting.set(false);
    });
}

/// Publishes an evaluation to the gallery and the confusion matrix.
fn publish_evaluation(session: &Session, ui: Ui, result: EvalResult, logprobs: Vec<f32>, epoch: usize) {
    let Some(test) = session.test_split.borrow().clone() else { return };
    if logprobs.len() == test.len() * 10 {
        ui.ins.eval.set(Some(Arc::new(TestPredictions { result, logprobs, test, epoch })));
    }
}

/// Forgets the current run and everything derived from its model.
fn reset_run(session: &Session, ui: Ui) {
    session.running.set(false);
    session.generation.set(session.generation.get() + 1);
    *session.trainer.borrow_mut() = None;
    *session.weights.borrow_mut() = None;
    session.base_epochs.set(0);
    ui.chart.set(ChartData::default());
    ui.progress.set(TrainProgress::default());
    ui.ins.clear();
}

/// Loads a `.safetensors` file into a fresh run with the form's settings, then evaluates
/// it. A wrong, corrupt or mismatched file is refused before anything changes.
async fn load_weights_file(session: Rc<Session>, ui: Ui, form: FormSignals, name: String, bytes: Vec<u8>) {
    let model = Model::tutorial();
    let (w, meta) = match weights::load(&model, &bytes) {
        Ok(x) => x,
        Err(e) => {
            ui.weights_msg.set(Some(Err(format!("{name} was not loaded: {e}. The current model is unchanged."))));
            return;
        }
    };
    if session.running.get() {
        ui.weights_msg.set(Some(Err(format!("Pause training before loading {name}. The current model is unchanged."))));
        return;
    }
    if !prepare_trainer(session.clone(), ui, form).await {
        return;
    }
    let Some(mut trainer) = session.trainer.borrow_mut().take() else { return };
    let generation = session.generation.get();
    let result = match trainer.set_weights(&w).await {
        Ok(()) => trainer.evaluate_test().await,
        Err(e) => Err(e),
    };
    if session.generation.get() != generation {
        return;
    }
    match result {
        Ok((eval, logprobs)) => {
            *session.weights.borrow_mut() = Some(w);
            session.base_epochs.set(meta.epoch);
            publish_evaluation(&session, ui, eval, logprobs, meta.epoch);
            let saved = meta.test_accuracy.map_or_else(String::new, |a| format!(", saved with {:.2}% test accuracy", 100.0 * a));
            ui.weights_msg.set(Some(Ok(format!(
                "Loaded {name} (epoch {}, seed {}{saved}): {:.2}% test accuracy on {} images here. Resume trains on from these weights.",
                meta.epoch,
                meta.seed,
                100.0 * eval.accuracy,
                eval.count
            ))));
            *session.trainer.borrow_mut() = Some(trainer);
            ui.phase.set(Phase::Paused);
            request_inspection(session, ui);
        }
        Err(e) => {
            ui.weights_msg.set(Some(Err(format!("{name} could not be used: {e}"))));
            ui.phase.set(Phase::Failed(format!("Loading weights failed: {e}")));
        }
    }
}

/// Offers the current weights as a `.safetensors` download with metadata.
async fn save_weights_file(session: Rc<Session>, ui: Ui) {
    let (Some(mut trainer), generation) = borrow_trainer(&session) else {
        ui.weights_msg.set(Some(Err("There is no model yet: train or load one first.".into())));
        return;
    };
    let weights = trainer.weights().await;
    let epoch = session.base_epochs.get() + trainer.epoch();
    return_trainer(&session, Some(trainer), generation);
    let meta = weights::WeightsMeta {
        epoch,
        test_accuracy: ui.ins.eval.get_untracked().map(|e| e.result.accuracy),
        seed: session.settings.borrow().as_ref().map_or(0, |s| s.seed),
        ..Default::default()
    };
    let saved = weights.map_err(|e| e.to_string()).and_then(|w| weights::save(&Model::tutorial(), &w, &meta).map_err(|e| e.to_string()));
    let name = logic::weights_file_name(&session.dataset_id.borrow(), epoch);
    match saved.and_then(|bytes| files::download(&name, &bytes).map(|()| bytes.len())) {
        Ok(len) => ui.weights_msg.set(Some(Ok(format!("Saved {name} ({}).", format_bytes(len as u64))))),
        Err(e) => ui.weights_msg.set(Some(Err(format!("Could not save the weights: {e}")))),
    }
}

/// Downloads (or reads from the cache) and verifies one of the shipped datasets.
async fn load_builtin(
    session: Rc<Session>,
    ui: Ui,
    dataset: BuiltinDataset,
    use_cache: bool,
    download: RwSignal<(u64, u64)>,
    data_note: RwSignal<String>,
) -> bool {
    ui.phase.set(Phase::Loading);
    download.set((0, dataset.total_bytes()));
    let started = now_s();
    let result = fetch::load_dataset(&dataset, use_cache, &mut |p| download.set((p.loaded, p.total))).await;
    match result {
        Ok((data, cached)) => {
            data_note.set(format!(
                "{}: {} training and {} test images, verified ({} in {:.1}s)",
                dataset.title,
                data.train.len(),
                data.test.len(),
                if cached { "from the browser cache" } else { "downloaded" },
                now_s() - started
            ));
            *session.dataset.borrow_mut() = Some(Rc::new(data));
            *session.dataset_id.borrow_mut() = dataset.id.to_string();
            ui.ins.set_classes(&dataset.classes);
            ui.phase.set(Phase::Ready);
            true
        }
        Err(e) => {
            ui.phase.set(Phase::Failed(format!("Could not load the data: {e}")));
            false
        }
    }
}

/// Uses the user's own idx pair (images and labels) as the dataset; bad files are refused
/// with the reason, and the current data is kept.
async fn load_own_files(session: Rc<Session>, ui: Ui, images: web_sys::File, labels: web_sys::File, data_note: RwSignal<String>) {
    let read = async { Ok::<_, String>((files::read_file(&images).await?, files::read_file(&labels).await?)) };
    let parsed = read.await.and_then(|((i_name, i_bytes), (l_name, l_bytes))| {
        engine::data::dataset_from_pair(NamedBytes { name: &i_name, bytes: &i_bytes }, NamedBytes { name: &l_name, bytes: &l_bytes })
            .map_err(|e| e.to_string())
    });
    match parsed {
        Ok(data) => {
            reset_run(&session, ui);
            data_note.set(format!(
                "Your files: {} training and {} test images (the last sixth is held out for testing; headers checked)",
                data.train.len(),
                data.test.len()
            ));
            *session.dataset.borrow_mut() = Some(Rc::new(data));
            *session.dataset_id.borrow_mut() = "own".into();
            ui.ins.set_classes(&inspect::MNIST_CLASSES);
            ui.data_error.set(None);
            ui.phase.set(Phase::Ready);
        }
        Err(e) => ui.data_error.set(Some(format!("{e} The current data is kept."))),
    }
}

fn now_s() -> f64 {
    web_sys::window().and_then(|w| w.performance()).map_or(0.0, |p| p.now() / 1000.0)
}

/// Publishes a small report on `window.__train` for end-to-end tests and embedding pages.
fn publish_report(phase: &str, chart: &ChartData, progress: &TrainProgress, start: &Startup) {
    let Some(window) = web_sys::window() else { return };
    let report = js_sys::Object::new();
    let set = |k: &str, v: JsValue| {
        let _ = js_sys::Reflect::set(&report, &k.into(), &v);
    };
    set("phase", phase.into());
    set("steps", (chart.steps.len() as f64).into());
    set("submitted", (progress.step as f64).into());
    set("firstLoss", chart.steps.first().map_or(JsValue::NULL, |m| (m.loss as f64).into()));
    set("lastLoss", chart.steps.last().map_or(JsValue::NULL, |m| (m.loss as f64).into()));
    set("imagesPerSecond", progress.images_per_s.into());
    set("epochs", (chart.epochs.len() as f64).into());
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

fn phase_name(p: &Phase) -> &'static str {
    match p {
        Phase::Starting => "starting",
        Phase::Loading => "loading",
        Phase::Ready => "ready",
        Phase::Training => "training",
        Phase::Paused => "paused",
        Phase::Finished => "finished",
        Phase::Failed(_) => "failed",
    }
}

fn has_webgpu() -> bool {
    web_sys::window()
        .and_then(|w| js_sys::Reflect::get(&w.navigator(), &"gpu".into()).ok())
        .is_some_and(|gpu| !gpu.is_undefined() && !gpu.is_null())
}

const NO_WEBGPU_HELP: &str =
    "The page trains on the CPU instead (burn's CPU backend in a Web Worker). That is much slower: a CPU core does \
a few GFLOP/s where a GPU does thousands. For GPU speed use a recent Chrome or Edge (or Chromium with \
--enable-unsafe-webgpu), Safari 26+, or Firefox with WebGPU enabled; on Linux, Chrome may need \
chrome://flags/#enable-unsafe-webgpu.";

/// Acquires the GPU (or falls back to the CPU backend), then downloads and verifies the data.
#[allow(clippy::too_many_arguments)]
async fn start_up(
    session: Rc<Session>,
    ui: Ui,
    download: RwSignal<(u64, u64)>,
    adapter: RwSignal<String>,
    data_note: RwSignal<String>,
    flags: logic::QueryFlags,
    form: FormSignals,
) {
    let (use_cache, autostart, bench_steps) = (!flags.no_cache, flags.autostart, flags.bench_steps);
    let no_gpu = |why: String| {
        ui.webgpu_missing.set(Some(why));
        form.backend.set(BackendKind::BurnCpu.name().into());
        adapter.set("CPU: burn's flex backend in a Web Worker".into());
    };
    if session.ctx.borrow().is_none() && !has_webgpu() {
        no_gpu(format!("This browser does not offer WebGPU. {NO_WEBGPU_HELP}"));
    } else if session.ctx.borrow().is_none() {
        match GpuContext::acquire().await {
            Ok(ctx) => {
                let l = &ctx.limits;
                // Browsers often keep the adapter's name private; the fallback flag is public.
                let name = if ctx.info.name.is_empty() { "WebGPU adapter".to_string() } else { ctx.info.name.clone() };
                let software = ctx.info.device_type == wgpu::DeviceType::Cpu;
                let kind = if software { "software (fallback)" } else { "hardware" };
                adapter.set(format!(
                    "{name} · {kind} · max storage binding {} · {} storage buffers per stage · {} invocations per workgroup",
                    format_bytes(l.max_storage_buffer_binding_size),
                    l.max_storage_buffers_per_shader_stage,
                    l.max_compute_invocations_per_workgroup
                ));
                ui.software_adapter.set(software);
                *session.ctx.borrow_mut() = Some(ctx);
            }
            Err(engine::GpuError::NoAdapter(_)) => {
                no_gpu(format!("The browser has WebGPU but offered no adapter (it may be blocked for this GPU). {NO_WEBGPU_HELP}"))
            }
            Err(e) => no_gpu(format!("{e} {NO_WEBGPU_HELP}")),
        }
    }
    let dataset = BuiltinDataset::by_id(&form.dataset.get_untracked()).unwrap_or(engine::data::MNIST);
    form.dataset.set(dataset.id.to_string());
    if !load_builtin(session.clone(), ui, dataset, use_cache, download, data_note).await {
        return;
    }
    ui.startup.update(|s| s.ready_ms = Some(now_s() * 1000.0));
    if let Some(steps) = bench_steps {
        let kinds: Vec<BackendKind> = if flags.bench_all {
            logic::PAGE_BACKENDS.to_vec()
        } else {
            vec![logic::page_backend(&form.backend.get_untracked()).unwrap_or(BackendKind::Wgsl)]
        };
        run_bench(session, ui, steps, adapter.get_untracked(), &kinds).await;
    } else if autostart {
        start_training(session, ui, form).await;
    }
}

/// The form's fields.
#[derive(Clone, Copy)]
struct FormSignals {
    lr: RwSignal<String>,
    batch: RwSignal<String>,
    epochs: RwSignal<String>,
    seed: RwSignal<String>,
    limit: RwSignal<String>,
    test_limit: RwSignal<String>,
    backend: RwSignal<String>,
    /// A built-in dataset's id, or "own".
    dataset: RwSignal<String>,
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
        }
    }
    fn input(&self) -> SettingsInput {
        SettingsInput {
            lr: self.lr.get_untracked(),
            batch: self.batch.get_untracked(),
            epochs: self.epochs.get_untracked(),
            seed: self.seed.get_untracked(),
            limit: self.limit.get_untracked(),
            test_limit: self.test_limit.get_untracked(),
            backend: self.backend.get_untracked(),
        }
    }
}

/// Validates the form and builds a trainer for a new run (starting the worker for a burn
/// backend), without starting it. False (with the reason shown) if that failed.
async fn prepare_trainer(session: Rc<Session>, ui: Ui, form: FormSignals) -> bool {
    let Some(dataset) = session.dataset.borrow().clone() else { return false };
    let ctx = session.ctx.borrow().clone();
    let settings = match parse_settings(&form.input(), dataset.train.len(), dataset.test.len()) {
        Ok(s) => s,
        Err(e) => {
            ui.form_error.set(Some(e));
            return false;
        }
    };
    ui.form_error.set(None);
    let subset = Dataset {
        train: settings.limit.map_or_else(|| dataset.train.clone(), |n| dataset.train.truncated(n)),
        test: settings.test_limit.map_or_else(|| dataset.test.clone(), |n| dataset.test.truncated(n)),
    };
    let previous = ui.phase.get_untracked();
    ui.phase.set(Phase::Training);
    let generation = session.generation.get();
    let pressed = now_s();
    let started = PageTrainer::start(settings.backend, ctx, &subset, settings.train_config()).await;
    let setup_ms = (now_s() - pressed) * 1000.0;
    if session.generation.get() != generation {
        return false; // Reset while the worker started.
    }
    let trainer = match started {
        Ok(t) => t,
        Err(e @ TrainError::Config(_)) => {
            ui.form_error.set(Some(e.to_string()));
            ui.phase.set(previous);
            return false;
        }
        Err(e) => {
            ui.phase.set(Phase::Failed(e.to_string()));
            return false;
        }
    };
    let total_steps = (trainer.steps_per_epoch() * settings.epochs) as u64;
    session.train_pressed_at.set(Some(pressed));
    ui.startup.update(|s| {
        s.setup_ms = Some(setup_ms);
        s.first_step_ms = None;
    });
    ui.chart.set(ChartData { steps_per_epoch: trainer.steps_per_epoch(), planned_epochs: settings.epochs, ..Default::default() });
    ui.progress.set(TrainProgress { total_steps, epochs: settings.epochs, ..Default::default() });
    ui.ins.eval.set(None);
    *session.test_split.borrow_mut() = Some(Arc::new(subset.test));
    *session.weights.borrow_mut() = None;
    session.base_epochs.set(0);
    *session.trainer.borrow_mut() = Some(trainer);
    *session.settings.borrow_mut() = Some(settings);
    true
}

/// Builds a trainer for a new run and starts the loop.
async fn start_training(session: Rc<Session>, ui: Ui, form: FormSignals) {
    if prepare_trainer(session.clone(), ui, form).await {
        resume(session, ui);
    }
}

fn resume(session: Rc<Session>, ui: Ui) {
    if session.trainer.borrow().is_none() || session.running.get() {
        return;
    }
    session.running.set(true);
    ui.phase.set(Phase::Training);
    let generation = session.generation.get();
    spawn_local(train_loop(session, ui, generation));
}

enum LoopEnd {
    Paused,
    Finished,
}

async fn train_loop(session: Rc<Session>, ui: Ui, generation: u32) {
    let Some(mut trainer) = session.trainer.borrow_mut().take() else { return };
    let result = run_ticks(&mut trainer, &session, ui, generation).await;
    session.running.set(false);
    if session.generation.get() != generation {
        return; // Reset while we ran: drop this trainer.
    }
    *session.trainer.borrow_mut() = Some(trainer);
    let phase = match result {
        Ok(LoopEnd::Paused) => Phase::Paused,
        Ok(LoopEnd::Finished) => Phase::Finished,
        Err(e) => Phase::Failed(format!("Training stopped: {e} The charts are kept.")),
    };
    ui.chart.with_untracked(|c| publish_report(phase_name(&phase), c, &ui.progress.get_untracked(), &ui.startup.get_untracked()));
    ui.phase.set(phase);
    if session.inspect_due.get() {
        request_inspection(session, ui);
    }
}

/// Submits a few steps, waits for the GPU (yielding to the event loop), collects metrics,
/// evaluates at epoch ends, and redraws at most four times a second.
async fn run_ticks(trainer: &mut PageTrainer, session: &Session, ui: Ui, generation: u32) -> Result<LoopEnd, TrainError> {
    let settings = session.settings.borrow().clone().expect("set with the trainer");
    let total = ui.progress.get_untracked().total_steps;
    let started = now_s();
    let steps_at_start = trainer.steps_done();
    let mut steps_per_tick = 1usize;
    let mut pending: Vec<StepMetrics> = Vec::new();
    let mut last_draw = 0.0;
    let mut last_inspect = 0.0;
    loop {
        if !session.running.get() || session.generation.get() != generation {
            return Ok(LoopEnd::Paused);
        }
        if trainer.steps_done() >= total {
            return Ok(LoopEnd::Finished);
        }
        let tick_start = now_s();
        let before = trainer.steps_done();
        let count = steps_per_tick.min((total - before) as usize);
        pending.extend(trainer.run_steps(count, &session.lose_device_after).await?);
        if let Some(pressed) = session.train_pressed_at.take() {
            let now = now_s();
            ui.startup.update(|s| {
                s.first_step_ms = Some((now - pressed) * 1000.0);
                s.since_navigation_ms = Some(now * 1000.0);
            });
        }
        // Aim for ~100 ms of work per tick: responsive on slow adapters, efficient on fast ones.
        let per_step = (now_s() - tick_start) / (trainer.steps_done() - before).max(1) as f64;
        steps_per_tick = ((0.1 / per_step.max(1e-4)) as usize).clamp(1, 32);
        let epoch_done = trainer.step_in_epoch() == 0;
        let done = trainer.steps_done();
        let elapsed = now_s() - started;
        let rate = (done - steps_at_start) as f64 * settings.batch as f64 / elapsed.max(1e-9);
        ui.progress.update(|p| {
            p.step = done;
            p.epoch = trainer.epoch();
            p.images_per_s = rate;
            p.eta_s = (total - done) as f64 * settings.batch as f64 / rate.max(1e-9);
        });
        if epoch_done || now_s() - last_draw > 0.25 {
            ui.chart.update(|c| c.steps.append(&mut pending));
            last_draw = now_s();
        }
        if epoch_done {
            ui.progress.update(|p| p.evaluating = true);
            let test = trainer.evaluate_test().await;
            ui.progress.update(|p| p.evaluating = false);
            let (test, logprobs) = test?;
            publish_evaluation(session, ui, test, logprobs, session.base_epochs.get() + trainer.epoch());
            ui.chart.update(|c| {
                let this_epoch = &c.steps[c.steps.len().saturating_sub(c.steps_per_epoch)..];
                let point = EpochPoint::summarize(trainer.epoch(), this_epoch, &test);
                c.epochs.push(point);
            });
        }
        // The filters and the drawing pad follow the latest weights, every couple of seconds.
        if session.inspect_due.get() || epoch_done || now_s() - last_inspect > 2.0 {
            session.inspect_due.set(false);
            refresh_inspection(Some(trainer), session, ui).await?;
            last_inspect = now_s();
        }
        ui.chart.with_untracked(|c| publish_report("training", c, &ui.progress.get_untracked(), &ui.startup.get_untracked()));
    }
}

/// One backend's benchmark result as a JSON object.
async fn bench_backend(
    kind: BackendKind,
    ctx: Option<GpuContext>,
    dataset: &Dataset,
    steps: usize,
    adapter: &str,
) -> Result<String, TrainError> {
    let config = TrainConfig::default();
    let batch = config.batch;
    let no_fault = Cell::new(None);
    let begun = now_s();
    let mut trainer = PageTrainer::start(kind, ctx, dataset, config).await?;
    let setup_ms = (now_s() - begun) * 1000.0;
    trainer.run_steps(1, &no_fault).await?;
    // The first step includes compiling the pipelines.
    let first_step_ms = (now_s() - begun) * 1000.0;
    let startup_ms = now_s() * 1000.0;
    trainer.run_steps(1, &no_fault).await?;
    let started = now_s();
    let mut done = 0;
    while done < steps {
        // At most one epoch per call; the GPU trainer is submitted back to back.
        let before = trainer.steps_done();
        trainer.run_steps(steps - done, &no_fault).await?;
        done += (trainer.steps_done() - before) as usize;
    }
    let seconds = now_s() - started;
    let (adapter, memory) = match &mut trainer {
        PageTrainer::Gpu(t) => {
            // Per-kernel GPU time of one more step, where the adapter has timestamp queries.
            let kernels: Vec<String> = engine::train::kernel_totals(&t.profile_step().await?.unwrap_or_default())
                .iter()
                .map(|(n, ns, count)| format!("{{\"kernel\":\"{n}\",\"ms\":{:.3},\"dispatches\":{count}}}", ns / 1e6))
                .collect();
            (adapter.to_string(), format!(",\"gpu_memory_bytes\":{},\"kernels\":[{}]", t.gpu_memory_bytes(), kernels.join(",")))
        }
        PageTrainer::Burn(_) if kind == BackendKind::BurnCpu => ("CPU (burn flex, Web Worker)".to_string(), String::new()),
        PageTrainer::Burn(_) => (format!("{adapter} (burn-wgpu, Web Worker)"), String::new()),
    };
    Ok(format!(
        "{{\"backend\":\"{}\",\"adapter\":\"{}\",\"batch\":{batch},\"steps\":{steps},\"images_per_s\":{:.2},\"ms_per_step\":{:.1},\"setup_ms\":{:.0},\"first_step_ms\":{:.0},\"startup_ms\":{:.0}{memory}}}",
        kind.name(),
        adapter.replace('"', "'"),
        (steps * batch) as f64 / seconds,
        seconds * 1000.0 / steps as f64,
        setup_ms,
        first_step_ms,
        startup_ms,
    ))
}

/// `?bench=N`: default model, batch 128, 2 warm-up steps, then N timed steps. The result goes
/// to the page and to `document.title` as `BENCH {json}`. Besides the speed it gives the
/// startup: `setup_ms` (building the trainer), `first_step_ms` (from there to the first step
/// done, pipelines compiled) and `startup_ms` (navigation to that first step). With `&backend=all` every page
/// backend runs in turn; the title holds the first (ours) with the others under `backends`.
async fn run_bench(session: Rc<Session>, ui: Ui, steps: usize, adapter: String, kinds: &[BackendKind]) {
    let Some(dataset) = session.dataset.borrow().clone() else { return };
    let ctx = session.ctx.borrow().clone();
    let title = |text: String| {
        if let Some(doc) = web_sys::window().and_then(|w| w.document()) {
            doc.set_title(&text);
        }
    };
    let mut results = Vec::new();
    for &kind in kinds {
        match bench_backend(kind, ctx.clone(), &dataset, steps, &adapter).await {
            Ok(json) => results.push(json),
            Err(e) => {
                title(format!("BENCH {{\"backend\":\"{}\",\"error\":\"{}\"}}", kind.name(), e.to_string().replace('"', "'")));
                ui.phase.set(Phase::Failed(e.to_string()));
                return;
            }
        }
    }
    let json = if results.len() == 1 {
        results[0].clone()
    } else {
        format!("{},\"backends\":[{}]}}", results[0].trim_end_matches('}'), results.join(","))
    };
    ui.form_error.set(Some(format!("Benchmark: {json}")));
    title(format!("BENCH {json}"));
}

/// The two live charts, redrawn whenever the chart data changes.
#[component]
fn Charts(chart: RwSignal<ChartData>, #[prop(default = 520)] width: u32, #[prop(default = 340)] height: u32) -> impl IntoView {
    let loss_canvas = NodeRef::<html::Canvas>::new();
    let accuracy_canvas = NodeRef::<html::Canvas>::new();
    Effect::new(move |_| {
        let data = chart.get();
        for (node, draw) in [
            (loss_canvas.get(), charts::draw_loss::<plotters_canvas::CanvasBackend> as fn(&_, &ChartData) -> Result<(), String>),
            (accuracy_canvas.get(), charts::draw_accuracy::<plotters_canvas::CanvasBackend>),
        ] {
            let Some(canvas) = node else { continue };
            if let Some(backend) = plotters_canvas::CanvasBackend::with_canvas_object(canvas) {
                use plotters::prelude::IntoDrawingArea;
                if let Err(e) = draw(&backend.into_drawing_area(), &data) {
                    web_sys::console::warn_1(&e.into());
                }
            }
        }
    });
    view! {
        <div class="charts">
            <canvas id="loss-chart" node_ref=loss_canvas width=width height=height></canvas>
            <canvas id="accuracy-chart" node_ref=accuracy_canvas width=width height=height></canvas>
        </div>
    }
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
    view! {
        <label for="backend">"Backend"
            <select id="backend" prop:value=move || value.get() on:change=move |ev| value.set(event_target_value(&ev))>
                <option value="wgsl" disabled=move || !webgpu.get()>"WebGPU (our WGSL kernels)"</option>
                <option value="burn-wgpu" disabled=move || !webgpu.get()>"WebGPU (burn-wgpu, in a Web Worker)"</option>
                <option value="burn-cpu">"CPU (burn, in a Web Worker)"</option>
            </select>
        </label>
    }
}

/// The footer's credit line for every shipped dataset.
fn data_credit() -> String {
    let credits: Vec<&str> = engine::data::BUILTIN_DATASETS.iter().map(|d| d.credit).collect();
    format!("Data: {}.", credits.join("; "))
}

/// The dataset chooser: the shipped datasets, or the user's own idx pair.
#[component]
fn DatasetSelect(value: RwSignal<String>, on_change: Callback<String>, disabled: Signal<bool>) -> impl IntoView {
    view! {
        <label for="dataset">"Dataset"
            <select id="dataset" prop:value=move || value.get() disabled=move || disabled.get()
                on:change=move |ev| { let v = event_target_value(&ev); value.set(v.clone()); on_change.run(v) }>
                {engine::data::BUILTIN_DATASETS.iter().map(|d| view! { <option value=d.id>{d.title}</option> }).collect::<Vec<_>>()}
                <option value="own">"My own idx files…"</option>
            </select>
        </label>
    }
}

/// Two file pickers for the user's own images and labels.
#[component]
fn OwnFiles(on_use: Callback<(web_sys::File, web_sys::File)>, error: RwSignal<Option<String>>) -> impl IntoView {
    let images = NodeRef::<html::Input>::new();
    let labels = NodeRef::<html::Input>::new();
    let submit = move |_| {
        let pick = |n: NodeRef<html::Input>| n.get_untracked().and_then(|i| files::chosen_file(&i));
        match (pick(images), pick(labels)) {
            (Some(i), Some(l)) => on_use.run((i, l)),
            _ => error.set(Some("Choose an idx image file and an idx label file (raw or .gz), 28x28 images and labels 0–9.".into())),
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

/// Download and upload of the weights.
#[component]
fn WeightsPanel(ui: Ui, can_save: Signal<bool>, on_save: Callback<()>, on_load: Callback<web_sys::File>) -> impl IntoView {
    let input = NodeRef::<html::Input>::new();
    view! {
        <section id="weights-section" class="panel">
            <h2>"Weights"</h2>
            <div class="weights-bar">
                <button id="download-weights" disabled=move || !can_save.get() on:click=move |_| on_save.run(())>"Download weights (.safetensors)"</button>
                <label class="upload">"Load weights: "
                    <input id="upload-weights" type="file" accept=".safetensors" node_ref=input
                        on:change=move |_| if let Some(f) = input.get_untracked().and_then(|i| files::chosen_file(&i)) { on_load.run(f) } />
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

#[component]
fn App() -> impl IntoView {
    let query = web_sys::window().and_then(|w| w.location().search().ok()).unwrap_or_default();
    let (input, flags) = logic::from_query(&query);
    let form = FormSignals::new(input, flags.dataset.unwrap_or(engine::data::MNIST).id);
    let ui = Ui {
        phase: RwSignal::new(Phase::Starting),
        progress: RwSignal::new(TrainProgress::default()),
        chart: RwSignal::new(ChartData::default()),
        form_error: RwSignal::new(None),
        webgpu_missing: RwSignal::new(None),
        software_adapter: RwSignal::new(false),
        ins: Inspection::new(),
        weights_msg: RwSignal::new(None),
        data_error: RwSignal::new(None),
        startup: RwSignal::new(Startup::default()),
    };
    let download = RwSignal::new((0u64, engine::data::MNIST.total_bytes()));
    let adapter = RwSignal::new(String::new());
    let data_note = RwSignal::new(String::new());
    let session = StoredValue::new_local(Rc::new(Session::default()));
    session.get_value().lose_device_after.set(flags.lose_device_after);

    let boot = move || spawn_local(start_up(session.get_value(), ui, download, adapter, data_note, flags, form));
    boot();

    let phase = ui.phase;
    let can_edit = move || matches!(phase.get(), Phase::Ready | Phase::Finished | Phase::Paused | Phase::Failed(_));
    let on_train = move |_| {
        let s = session.get_value();
        if let Phase::Paused = phase.get_untracked() {
            resume(s, ui);
        } else {
            spawn_local(start_training(s, ui, form));
        }
    };
    let on_pause = move |_| session.get_value().running.set(false);
    // Retry starts over from the GPU: after a lost device the old one is unusable. The charts stay.
    let retry = move || {
        let s = session.get_value();
        s.generation.set(s.generation.get() + 1);
        *s.trainer.borrow_mut() = None;
        *s.ctx.borrow_mut() = None;
        boot();
    };
    let on_reset = move |_| {
        let s = session.get_value();
        reset_run(&s, ui);
        if matches!(phase.get_untracked(), Phase::Failed(_)) {
            retry();
        } else {
            ui.phase.set(if s.dataset.borrow().is_some() { Phase::Ready } else { Phase::Starting });
        }
    };
    let on_retry = move |_| retry();
    let show_own = RwSignal::new(false);
    let on_dataset = Callback::new(move |id: String| {
        ui.data_error.set(None);
        if id == "own" {
            show_own.set(true);
            return;
        }
        show_own.set(false);
        let Some(dataset) = BuiltinDataset::by_id(&id) else { return };
        let s = session.get_value();
        reset_run(&s, ui);
        spawn_local(async move {
            load_builtin(s, ui, dataset, !flags.no_cache, download, data_note).await;
        });
    });
    let on_own = Callback::new(move |(images, labels): (web_sys::File, web_sys::File)| {
        spawn_local(load_own_files(session.get_value(), ui, images, labels, data_note));
    });
    let on_digit = Callback::new(move |digit: Option<Vec<u8>>| {
        let s = session.get_value();
        match digit {
            Some(pixels) => {
                *s.probe_image.borrow_mut() = Some((pixels, "your drawing".into()));
                request_inspection(s, ui);
            }
            None => {
                *s.probe_image.borrow_mut() = None;
                ui.ins.clear_probe();
            }
        }
    });
    let on_pick = Callback::new(move |i: usize| {
        let Some(e) = ui.ins.eval.get_untracked() else { return };
        let names = ui.ins.classes.get_untracked();
        let s = session.get_value();
        let label = &names[e.test.labels[i] as usize];
        *s.probe_image.borrow_mut() = Some((e.image(i), format!("test image {i} (a {label})")));
        request_inspection(s, ui);
    });
    let on_save = Callback::new(move |()| spawn_local(save_weights_file(session.get_value(), ui)));
    let on_load = Callback::new(move |file: web_sys::File| {
        ui.weights_msg.set(None);
        spawn_local(async move {
            match files::read_file(&file).await {
                Ok((name, bytes)) => load_weights_file(session.get_value(), ui, form, name, bytes).await,
                Err(e) => ui.weights_msg.set(Some(Err(format!("{e}. The current model is unchanged.")))),
            }
        })
    });
    let can_save = Signal::derive(move || matches!(phase.get(), Phase::Paused | Phase::Finished));
    let busy = Signal::derive(move || matches!(phase.get(), Phase::Training | Phase::Loading | Phase::Starting));

    let train_button = move || {
        view! {
            <button id="train" disabled=move || !can_edit() || matches!(phase.get(), Phase::Failed(_)) on:click=on_train>
                {move || if phase.get() == Phase::Paused { "Resume" } else { "Train" }}
            </button>
        }
    };
    let progress_text = move || {
        let p = ui.progress.get();
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
    let status_notice = move || match phase.get() {
        Phase::Failed(msg) => view! {
            <div id="error" class="notice error">{msg}" "
                <button id="retry" on:click=on_retry>"Retry"</button>
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
        _ => view! { <div class="notice ok">{move || data_note.get()}</div> }.into_any(),
    };

    if flags.embed {
        // The compact layout for an iframe of 640x480: Train, the two charts, the drawing pad.
        return view! {
            <div class="embed">
                <div class="embed-bar">
                    {train_button}
                    <button id="pause" disabled=move || phase.get() != Phase::Training on:click=on_pause>"Pause"</button>
                    <span id="progress-text" class="hint">{progress_text}</span>
                    <a class="hint" href="./" target="_blank">"full page ↗"</a>
                </div>
                <section id="status" class="embed-status" data-phase=move || phase_name(&phase.get())>
                    {move || ui.webgpu_missing.get().map(|_| view! {
                        <div id="webgpu-missing" class="notice warn">"No WebGPU here: training runs on the CPU (slower)."</div>
                    })}
                    {status_notice}
                </section>
                <Charts chart=ui.chart width=310 height=180 />
                <DrawPad ins=ui.ins on_digit=on_digit size=150 />
            </div>
        }
        .into_any();
    }

    view! {
        <header>
            <h1>"Train a CNN on your GPU"</h1>
            <p class="lead">"The JAX tutorial's network (4 conv layers with BatchNorm and ReLU, dense, log-softmax, Adam) learns MNIST in this page, on WebGPU compute shaders."</p>
        </header>
        <main>
            <section id="status" data-phase=move || phase_name(&phase.get())>
                {move || ui.webgpu_missing.get().map(|msg| view! {
                    <div id="webgpu-missing" class="notice warn"><strong>"WebGPU is not available. "</strong>{msg}</div>
                })}
                {status_notice}
                <div id="adapter" class="adapter">{move || adapter.get()}</div>
                {move || ui.software_adapter.get().then(|| view! {
                    <div id="software-hint" class="adapter">"This adapter is a software renderer, not a GPU: here the CPU backend may train faster (see the Backend choice)."</div>
                })}
            </section>

            <section class="controls">
                <DatasetSelect value=form.dataset on_change=on_dataset disabled=busy />
                <Field label="Learning rate" id="lr" value=form.lr />
                <Field label="Batch size" id="batch" value=form.batch />
                <Field label="Epochs" id="epochs" value=form.epochs />
                <Field label="Seed" id="seed" value=form.seed />
                <Field label="Training images" id="limit" value=form.limit placeholder="all 60,000" />
                <Field label="Test images" id="test-limit" value=form.test_limit placeholder="all 10,000" />
                <BackendSelect value=form.backend webgpu=Signal::derive(move || ui.webgpu_missing.get().is_none()) />
                <div class="buttons">
                    {train_button}
                    <button id="pause" disabled=move || phase.get() != Phase::Training on:click=on_pause>"Pause"</button>
                    <button id="reset" disabled=move || phase.get() == Phase::Training on:click=on_reset>"Reset"</button>
                </div>
                {move || show_own.get().then(|| view! { <OwnFiles on_use=on_own error=ui.data_error /> })}
                {move || ui.data_error.get().map(|e| view! { <div id="data-error" class="notice error">{e}</div> })}
                {move || ui.form_error.get().map(|e| view! { <div id="form-error" class="notice error">{e}</div> })}
            </section>

            <section class="progress">
                <progress id="train-progress" max=move || ui.progress.get().total_steps.max(1) as f64 value=move || ui.progress.get().step as f64></progress>
                <span id="progress-text">{progress_text}</span>
                <span id="startup" class="hint">{move || ui.startup.get().text()}</span>
            </section>

            <Charts chart=ui.chart />
            <section class="epochs">
                <table id="epoch-table">
                    <thead><tr><th>"Epoch"</th><th>"Train loss"</th><th>"Train acc"</th><th>"Test loss"</th><th>"Test acc"</th></tr></thead>
                    <tbody>
                        {move || ui.chart.get().epochs.into_iter().map(|e| view! {
                            <tr><td>{e.epoch}</td><td>{format!("{:.4}", e.train_loss)}</td><td>{format!("{:.2}%", 100.0 * e.train_accuracy)}</td>
                            <td>{format!("{:.4}", e.test_loss)}</td><td>{format!("{:.2}%", 100.0 * e.test_accuracy)}</td></tr>
                        }).collect_view()}
                    </tbody>
                </table>
            </section>

            <section id="draw-section" class="panel">
                <h2>"Draw"</h2>
                <p class="hint">"Draw a digit (or, with Fashion-MNIST, a piece of clothing). It is scaled and centred the way MNIST's digits were, and the model reads it, during training with the latest weights."</p>
                <DrawPad ins=ui.ins on_digit=on_digit />
            </section>
            <Gallery ins=ui.ins on_pick=on_pick />
            <Confusion ins=ui.ins />
            <section id="inside-section" class="panel inside">
                <h2>"Inside the network"</h2>
                <Filters ins=ui.ins />
                <Activations ins=ui.ins />
            </section>
            <WeightsPanel ui=ui can_save=can_save on_save=on_save on_load=on_load />
        </main>
        <footer>{data_credit}</footer>
    }.into_any()
}

fn main() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(App);
}
