//! The page: download MNIST, press Train, and watch the tutorial CNN learn on WebGPU, with
//! live loss and accuracy charts. All the numerics are the engine's; this crate is the UI
//! and the loop that paces training so the page stays responsive. Without WebGPU (or when
//! chosen) burn's CPU backend trains in a Web Worker from a separate, lazily loaded bundle.

mod burn_worker;
mod fetch;
mod logic;

use burn_worker::BurnWorker;
use charts::{ChartData, EpochPoint};
use engine::model::Model;
use engine::trainer::{EvalResult, EvalSet, StepMetrics, TrainConfig, TrainError, Trainer};
use engine::{wgpu, BackendKind, Dataset, GpuContext};
use leptos::html;
use leptos::prelude::*;
use leptos::task::spawn_local;
use logic::{format_bytes, format_duration, format_rate, parse_settings, Settings, SettingsInput};
use std::cell::{Cell, RefCell};
use std::rc::Rc;
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

    async fn evaluate_test(&mut self) -> Result<EvalResult, TrainError> {
        match self {
            PageTrainer::Gpu(t) => t.evaluate(EvalSet::Test).await,
            PageTrainer::Burn(w) => w.evaluate().await,
        }
    }
}

fn now_s() -> f64 {
    web_sys::window().and_then(|w| w.performance()).map_or(0.0, |p| p.now() / 1000.0)
}

/// Publishes a small report on `window.__train` for end-to-end tests and embedding pages.
fn publish_report(phase: &str, chart: &ChartData, progress: &TrainProgress) {
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
    ui.phase.set(Phase::Loading);
    let started = now_s();
    let result = fetch::load_mnist("data/mnist", use_cache, &mut |p| download.set((p.loaded, p.total))).await;
    match result {
        Ok((dataset, cached)) => {
            data_note.set(format!(
                "MNIST: {} training and {} test images, verified ({} in {:.1}s)",
                dataset.train.len(),
                dataset.test.len(),
                if cached { "from the browser cache" } else { "downloaded" },
                now_s() - started
            ));
            *session.dataset.borrow_mut() = Some(Rc::new(dataset));
            ui.phase.set(Phase::Ready);
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
        Err(e) => ui.phase.set(Phase::Failed(format!("Could not load the data: {e}"))),
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
}

impl FormSignals {
    fn new(input: SettingsInput) -> Self {
        FormSignals {
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

/// Validates the form, builds a trainer (starting the worker for the CPU backend) and
/// starts the loop.
async fn start_training(session: Rc<Session>, ui: Ui, form: FormSignals) {
    let Some(dataset) = session.dataset.borrow().clone() else { return };
    let ctx = session.ctx.borrow().clone();
    let settings = match parse_settings(&form.input(), dataset.train.len(), dataset.test.len()) {
        Ok(s) => s,
        Err(e) => {
            ui.form_error.set(Some(e));
            return;
        }
    };
    ui.form_error.set(None);
    let subset = Dataset {
        train: settings.limit.map_or_else(|| dataset.train.clone(), |n| dataset.train.truncated(n)),
        test: settings.test_limit.map_or_else(|| dataset.test.clone(), |n| dataset.test.truncated(n)),
    };
    ui.phase.set(Phase::Training);
    let generation = session.generation.get();
    let started = PageTrainer::start(settings.backend, ctx, &subset, settings.train_config()).await;
    if session.generation.get() != generation {
        return; // Reset while the worker started.
    }
    let trainer = match started {
        Ok(t) => t,
        Err(e @ TrainError::Config(_)) => {
            ui.form_error.set(Some(e.to_string()));
            ui.phase.set(Phase::Ready);
            return;
        }
        Err(e) => {
            ui.phase.set(Phase::Failed(e.to_string()));
            return;
        }
    };
    let total_steps = (trainer.steps_per_epoch() * settings.epochs) as u64;
    ui.chart.set(ChartData { steps_per_epoch: trainer.steps_per_epoch(), planned_epochs: settings.epochs, ..Default::default() });
    ui.progress.set(TrainProgress { total_steps, epochs: settings.epochs, ..Default::default() });
    *session.trainer.borrow_mut() = Some(trainer);
    *session.settings.borrow_mut() = Some(settings);
    resume(session, ui);
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
    ui.chart.with_untracked(|c| publish_report(phase_name(&phase), c, &ui.progress.get_untracked()));
    ui.phase.set(phase);
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
            let test = test?;
            ui.chart.update(|c| {
                let this_epoch = &c.steps[c.steps.len().saturating_sub(c.steps_per_epoch)..];
                let point = EpochPoint::summarize(trainer.epoch(), this_epoch, &test);
                c.epochs.push(point);
            });
        }
        ui.chart.with_untracked(|c| publish_report("training", c, &ui.progress.get_untracked()));
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
    let mut trainer = PageTrainer::start(kind, ctx, dataset, config).await?;
    for _ in 0..2 {
        trainer.run_steps(1, &no_fault).await?;
    }
    let first_step_ms = now_s() * 1000.0;
    let started = now_s();
    let mut done = 0;
    while done < steps {
        // At most one epoch per call; the GPU trainer is submitted back to back.
        let before = trainer.steps_done();
        trainer.run_steps(steps - done, &no_fault).await?;
        done += (trainer.steps_done() - before) as usize;
    }
    let seconds = now_s() - started;
    let (adapter, memory) = match &trainer {
        PageTrainer::Gpu(t) => (adapter.to_string(), format!(",\"gpu_memory_bytes\":{}", t.gpu_memory_bytes())),
        PageTrainer::Burn(_) if kind == BackendKind::BurnCpu => ("CPU (burn flex, Web Worker)".to_string(), String::new()),
        PageTrainer::Burn(_) => (format!("{adapter} (burn-wgpu, Web Worker)"), String::new()),
    };
    Ok(format!(
        "{{\"backend\":\"{}\",\"adapter\":\"{}\",\"batch\":{batch},\"steps\":{steps},\"images_per_s\":{:.2},\"ms_per_step\":{:.1},\"first_step_ms\":{:.0}{memory}}}",
        kind.name(),
        adapter.replace('"', "'"),
        (steps * batch) as f64 / seconds,
        seconds * 1000.0 / steps as f64,
        first_step_ms,
    ))
}

/// `?bench=N`: default model, batch 128, 2 warm-up steps, then N timed steps. The result goes
/// to the page and to `document.title` as `BENCH {json}`. With `&backend=all` every page
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
fn Charts(chart: RwSignal<ChartData>) -> impl IntoView {
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
            <canvas id="loss-chart" node_ref=loss_canvas width="520" height="340"></canvas>
            <canvas id="accuracy-chart" node_ref=accuracy_canvas width="520" height="340"></canvas>
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

#[component]
fn App() -> impl IntoView {
    let query = web_sys::window().and_then(|w| w.location().search().ok()).unwrap_or_default();
    let (input, flags) = logic::from_query(&query);
    let form = FormSignals::new(input);
    let ui = Ui {
        phase: RwSignal::new(Phase::Starting),
        progress: RwSignal::new(TrainProgress::default()),
        chart: RwSignal::new(ChartData::default()),
        form_error: RwSignal::new(None),
        webgpu_missing: RwSignal::new(None),
        software_adapter: RwSignal::new(false),
    };
    let download = RwSignal::new((0u64, fetch::total_bytes()));
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
        s.running.set(false);
        s.generation.set(s.generation.get() + 1);
        *s.trainer.borrow_mut() = None;
        ui.chart.set(ChartData::default());
        ui.progress.set(TrainProgress::default());
        if matches!(phase.get_untracked(), Phase::Failed(_)) {
            retry();
        } else {
            ui.phase.set(if s.dataset.borrow().is_some() { Phase::Ready } else { Phase::Starting });
        }
    };
    let on_retry = move |_| retry();

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
                {move || match phase.get() {
                    Phase::Failed(msg) => view! {
                        <div id="error" class="notice error">{msg}" "
                            <button id="retry" on:click=on_retry>"Retry"</button>
                        </div>
                    }.into_any(),
                    Phase::Starting => view! { <div class="notice">"Looking for a GPU…"</div> }.into_any(),
                    Phase::Loading => view! {
                        <div class="notice">
                            "Downloading MNIST… "
                            <progress id="download-progress" max=move || download.get().1 as f64 value=move || download.get().0 as f64></progress>
                            " " {move || format!("{} / {}", format_bytes(download.get().0), format_bytes(download.get().1))}
                        </div>
                    }.into_any(),
                    _ => view! { <div class="notice ok">{move || data_note.get()}</div> }.into_any(),
                }}
                <div id="adapter" class="adapter">{move || adapter.get()}</div>
                {move || ui.software_adapter.get().then(|| view! {
                    <div id="software-hint" class="adapter">"This adapter is a software renderer, not a GPU: here the CPU backend may train faster (see the Backend choice)."</div>
                })}
            </section>

            <section class="controls">
                <Field label="Learning rate" id="lr" value=form.lr />
                <Field label="Batch size" id="batch" value=form.batch />
                <Field label="Epochs" id="epochs" value=form.epochs />
                <Field label="Seed" id="seed" value=form.seed />
                <Field label="Training images" id="limit" value=form.limit placeholder="all 60,000" />
                <Field label="Test images" id="test-limit" value=form.test_limit placeholder="all 10,000" />
                <BackendSelect value=form.backend webgpu=Signal::derive(move || ui.webgpu_missing.get().is_none()) />
                <div class="buttons">
                    <button id="train" disabled=move || !can_edit() || matches!(phase.get(), Phase::Failed(_)) on:click=on_train>
                        {move || if phase.get() == Phase::Paused { "Resume" } else { "Train" }}
                    </button>
                    <button id="pause" disabled=move || phase.get() != Phase::Training on:click=on_pause>"Pause"</button>
                    <button id="reset" disabled=move || phase.get() == Phase::Training on:click=on_reset>"Reset"</button>
                </div>
                {move || ui.form_error.get().map(|e| view! { <div id="form-error" class="notice error">{e}</div> })}
            </section>

            <section class="progress">
                <progress id="train-progress" max=move || ui.progress.get().total_steps.max(1) as f64 value=move || ui.progress.get().step as f64></progress>
                <span id="progress-text">{move || {
                    let p = ui.progress.get();
                    if p.total_steps == 0 { return "Not started".to_string(); }
                    let status = format!("step {} of {} · epoch {} of {} · {} · ETA {}", p.step, p.total_steps, (p.epoch + 1).min(p.epochs), p.epochs, format_rate(p.images_per_s), format_duration(p.eta_s));
                    if p.evaluating { format!("{status} · evaluating on the test set…") } else { status }
                }}</span>
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
        </main>
        <footer>"Data: MNIST (LeCun, Cortes, Burges), CC BY-SA 3.0."</footer>
    }
}

fn main() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(App);
}
