//! The tutorial's first half: 1.1 jit, 1.2 grad, 1.3 vmap, each with a few sentences, the
//! source it runs (from the real files), a Run button, its results table and, for grad, a
//! plot. `?lesson=` opens one; with `?embed` only that one is shown.

use crate::lessons::{self, Outcome};
use crate::logic::Lesson;
use crate::state::{use_app, AppState};
use engine::lessons::{derivatives_table, expr, jet, jit, vmap, Table};
use leptos::html;
use leptos::prelude::*;
use leptos::task::spawn_local;
use std::future::Future;

const JET_SOURCE: &str = include_str!("../../../engine/src/lessons/jet.rs");

/// A results table; `data-lesson-table` names it for tests.
#[component]
fn ResultTable(name: String, table: Table) -> impl IntoView {
    let attribute = name.clone();
    view! {
        <table class="lesson-table" data-lesson-table=attribute>
            <caption>{name}</caption>
            <thead><tr>{table.headers.into_iter().map(|h| view! { <th>{h}</th> }).collect_view()}</tr></thead>
            <tbody>{table.rows.into_iter().map(|r| view! { <tr>{r.into_iter().map(|c| view! { <td>{c}</td> }).collect_view()}</tr> }).collect_view()}</tbody>
        </table>
    }
}

/// What a Run button produced.
#[derive(Clone, Debug, PartialEq)]
enum RunState {
    Idle,
    Running,
    Done(Outcome),
    Failed(String),
}

/// Runs `job` unless one is running, and shows its outcome in `state`.
fn start<F: Future<Output = Result<Outcome, String>> + 'static>(state: RwSignal<RunState>, job: F) {
    if state.get_untracked() == RunState::Running {
        return;
    }
    state.set(RunState::Running);
    spawn_local(async move {
        state.set(match job.await {
            Ok(o) => RunState::Done(o),
            Err(e) => RunState::Failed(e),
        });
    });
}

/// The Run button and what it produced.
#[component]
fn Runner(id: &'static str, label: &'static str, state: RwSignal<RunState>, on_run: Callback<()>) -> impl IntoView {
    view! {
        <div class="runner">
            <button id=id disabled=move || state.get() == RunState::Running on:click=move |_| on_run.run(())>
                {move || if state.get() == RunState::Running { "Running…" } else { label }}
            </button>
            <div class="lesson-result" data-state=move || match state.get() { RunState::Idle => "idle", RunState::Running => "running", RunState::Done(_) => "done", RunState::Failed(_) => "failed" }>
                {move || match state.get() {
                    RunState::Done(o) => view! {
                        <p class="summary">{o.summary}</p>
                        {o.tables.into_iter().map(|(name, t)| view! { <ResultTable name=name table=t /> }).collect_view()}
                    }.into_any(),
                    RunState::Failed(e) => view! { <p class="notice error pointed">{e}</p> }.into_any(),
                    _ => ().into_any(),
                }}
            </div>
        </div>
    }
}

#[component]
fn Source(title: &'static str, code: &'static str) -> impl IntoView {
    view! { <details class="source"><summary>{title}</summary><pre tabindex="0"><code>{code}</code></pre></details> }
}

#[component]
fn JitLesson(app: AppState) -> impl IntoView {
    let state = RwSignal::new(RunState::Idle);
    let on_run = Callback::new(move |_| start(state, lessons::run_jit(app)));
    view! {
        <p>"Without "<code>"jit"</code>", an array library runs "<code>"λ·where(x > 0, x, α·exp(x) − α)"</code>" one operation at a time: six kernel launches, each reading its inputs from memory and writing a new intermediate array. "<code>"jit"</code>" traces the function once and compiles it into one kernel that reads x and writes y."</p>
        <p>"On a GPU that is the difference between six dispatches with five temporary buffers and one dispatch. Both run here on "{jit::VALUES}" seeded normal values (α = 1.67, λ = 1.05), timed with GPU timestamps where the adapter has them, otherwise with the wall clock around a wait for completion (our "<code>"block_until_ready"</code>"). The first run, which creates the pipelines, is our analogue of tracing and compiling; it is timed on its own."</p>
        <Source title="WGSL: compiled (shaders/lesson_selu.wgsl)" code=jit::FUSED_SOURCE />
        <Source title="WGSL: eager, one operation per dispatch (shaders/lesson_eager.wgsl)" code=jit::EAGER_SOURCE />
        <Runner id="run-jit" label="Run jit" state=state on_run=on_run />
    }
}

#[component]
fn GradLesson(app: AppState) -> impl IntoView {
    let source = RwSignal::new("x^2".to_string());
    let at = RwSignal::new("2".to_string());
    let derivatives = RwSignal::new(RunState::Idle);
    let canvas = NodeRef::<html::Canvas>::new();
    let samples = RwSignal::new(Vec::<(f64, [f64; 4])>::new());
    let run_derivatives = Callback::new(move |_| {
        let text = source.get_untracked();
        let result = (|| {
            let e = expr::parse(&text).map_err(|e| e.pointed(&text))?;
            let x: f64 =
                at.get_untracked().trim().parse().ok().filter(|x: &f64| x.is_finite()).ok_or("x must be a number, like 2 or -0.5")?;
            let d = jet::derivatives(&e, x);
            samples.set(jet::sample(&e, x - 3.0, x + 3.0, 241));
            let t = derivatives_table(&text, x, d);
            Ok::<_, String>(Outcome {
                summary: format!("{} and its first three derivatives at x = {x}, from one pass of order-3 jets.", e),
                tables: vec![("Derivatives".into(), t)],
            })
        })();
        derivatives.set(match result {
            Ok(o) => RunState::Done(o),
            Err(e) => {
                samples.set(Vec::new());
                RunState::Failed(e)
            }
        });
    });
    Effect::new(move |_| {
        let s = samples.get();
        let Some(node) = canvas.get() else { return };
        if let Some(backend) = plotters_canvas::CanvasBackend::with_canvas_object(node) {
            use plotters::prelude::IntoDrawingArea;
            let _ = charts::lessons::draw_derivatives(&backend.into_drawing_area(), &s, "f and its derivatives");
        }
    });
    let picks = RwSignal::new(lessons::default_picks_text());
    let network = RwSignal::new(RunState::Idle);
    let run_network =
        Callback::new(move |_| start(network, async move { lessons::run_network_gradient(app, &picks.get_untracked()).await }));
    let names: Vec<String> = crate::state::model().params.iter().map(|p| format!("{} ({} values)", p.name, p.len)).collect();
    view! {
        <p><code>"grad(f)"</code>" is a new function; "<code>"grad(grad(f))"</code>" differentiates that one again. Here the same nesting comes from forward-mode jets: each value carries its truncated Taylor series to order 3, every operation maps series to series exactly, and the k-th derivative is k! times the k-th coefficient. No finite differences, no symbolic algebra."</p>
        <p>"Type a function of x: numbers, "<code>"+ - * /"</code>", integer powers ("<code>"x^3"</code>", "<code>"x**-1"</code>"), "<code>"exp log sin cos tanh relu selu"</code>". The tutorial's "<code>"x^2"</code>" at 2 gives 4, 2 and 0."</p>
        <div class="lesson-inputs">
            <label for="grad-expr">"f(x) = " <input id="grad-expr" type="text" prop:value=move || source.get() on:input=move |ev| source.set(event_target_value(&ev)) /></label>
            <label for="grad-at">"at x = " <input id="grad-at" type="text" size="6" prop:value=move || at.get() on:input=move |ev| at.set(event_target_value(&ev)) /></label>
        </div>
        <Runner id="run-grad" label="Differentiate" state=derivatives on_run=run_derivatives />
        <canvas id="grad-chart" node_ref=canvas width=520 height=260></canvas>
        <Source title="Rust: the jet rules (engine/src/lessons/jet.rs)" code=JET_SOURCE />
        <h4>"The network"</h4>
        <p>"The CNN's gradient comes from our WGSL backward pass on one real batch (the first 16 training images, BatchNorm in training mode). Beside it: central finite differences of the f64 CPU reference's loss, (L(p + h) − L(p − h)) / 2h with h = 1e-5. Pick parameters as TENSOR:INDEX."</p>
        <label for="grad-params">"Parameters " <input id="grad-params" type="text" size="60" prop:value=move || picks.get() on:input=move |ev| picks.set(event_target_value(&ev)) /></label>
        <p class="hint">"Tensors: "{names.join(", ")}</p>
        <Runner id="run-net-grad" label="Compare gradients" state=network on_run=run_network />
    }
}

#[component]
fn VmapLesson(app: AppState) -> impl IntoView {
    let state = RwSignal::new(RunState::Idle);
    let on_run = Callback::new(move |_| start(state, lessons::run_vmap(app)));
    view! {
        <p><code>"vmap"</code>" turns a function of one example into a function of a batch. On a GPU a batch is one dispatch whose invocations cover every example, instead of a loop that pays a submission and a wait for each."</p>
        <p>"First the tutorial's example: a 150x100 matrix applied to 10 vectors of length 100, as 10 single matrix-vector dispatches (each submitted and waited for) and as one batched dispatch of our dense kernel. Then the network: 128 test images through the batch-1 evaluation plan one at a time, and as one batch of 128. Times are the wall clock around each wait, since the loop's cost is in the waits."</p>
        <Source title="WGSL: the dense kernel both run (shaders/dense_forward.wgsl)" code=vmap::SOURCE />
        <Runner id="run-vmap" label="Run vmap" state=state on_run=on_run />
    }
}

/// The three lessons; `open` starts with that one open and in view.
#[component]
pub fn Lessons(open: Option<Lesson>, #[prop(default = false)] only: bool) -> impl IntoView {
    let app = use_app();
    let shown = move |l: Lesson| !only || open == Some(l);
    let section = move |l: Lesson, number: &'static str, title: &'static str, body: AnyView| {
        shown(l).then(|| {
            view! {
                <details class="lesson" id=format!("lesson-{}", l.id()) open=open == Some(l)>
                    <summary><h3>{number}" "<code>{l.id()}</code>": "{title}</h3></summary>
                    {body}
                </details>
            }
        })
    };
    let root = NodeRef::<html::Section>::new();
    Effect::new(move |_| {
        if let (Some(l), Some(_)) = (open, root.get()) {
            if let Some(el) = web_sys::window().and_then(|w| w.document()).and_then(|d| d.get_element_by_id(&format!("lesson-{}", l.id())))
            {
                el.scroll_into_view();
            }
        }
    });
    view! {
        <section id="lessons" class="panel lessons" node_ref=root>
            <h2>"1. The ideas: jit, grad and vmap"</h2>
            {(!only).then(|| view! { <p class="hint">"The tutorial's first half, on your GPU. Open a lesson and press its button."</p> })}
            {section(Lesson::Jit, "1.1", "one fused kernel instead of one dispatch per operation", view! { <JitLesson app=app /> }.into_any())}
            {section(Lesson::Grad, "1.2", "derivatives that nest", view! { <GradLesson app=app /> }.into_any())}
            {section(Lesson::Vmap, "1.3", "one batched dispatch instead of a loop", view! { <VmapLesson app=app /> }.into_any())}
        </section>
    }
}
