//! Looking inside the model in the page: the test predictions gallery, the confusion
//! matrix, the drawing pad with live probability bars, the first layer's filters and the
//! activation maps. The numbers come from the engine (`engine::inspect`); these components
//! only draw them.

use engine::inspect::{self, ActivationLayer, ConfusionMatrix};
use engine::train::EvalResult;
use engine::Split;
use leptos::html;
use leptos::prelude::*;
use std::sync::Arc;
use wasm_bindgen::{Clamped, JsCast};
use web_sys::{CanvasRenderingContext2d, HtmlCanvasElement, ImageData};

/// Images shown per gallery page.
pub const GALLERY_SIZE: usize = 32;

/// The first convolution's filters: (count, side, weights), as `inspect::first_conv_filters`.
pub type FilterImages = (usize, usize, Vec<f32>);

/// The latest evaluation of the test set: every example's log-probabilities.
#[derive(Clone, Debug)]
pub struct TestPredictions {
    pub result: EvalResult,
    pub logprobs: Vec<f32>,
    pub test: Arc<Split>,
    /// Epochs trained when it was taken.
    pub epoch: usize,
    classes: usize,
    pixels: usize,
}

impl TestPredictions {
    /// None unless there are log-probabilities for every test image, one per class of the model.
    pub fn new(result: EvalResult, logprobs: Vec<f32>, test: Arc<Split>, epoch: usize) -> Option<Self> {
        let model = crate::state::model();
        let (classes, pixels) = (model.classes, model.input_len());
        (logprobs.len() == test.len() * classes && test.images.len() == test.len() * pixels).then_some(TestPredictions {
            result,
            logprobs,
            test,
            epoch,
            classes,
            pixels,
        })
    }
    fn row(&self, i: usize) -> &[f32] {
        &self.logprobs[i * self.classes..(i + 1) * self.classes]
    }
    pub fn probs(&self, i: usize) -> Vec<f32> {
        inspect::probabilities(self.row(i))
    }
    pub fn predicted(&self, i: usize) -> usize {
        inspect::argmax(self.row(i))
    }
    pub fn confusion(&self) -> ConfusionMatrix {
        ConfusionMatrix::from_logprobs(self.classes, &self.logprobs, &self.test.labels)
    }
    /// Test image `i`'s pixels.
    pub fn image(&self, i: usize) -> Vec<u8> {
        self.test.images[i * self.pixels..(i + 1) * self.pixels].to_vec()
    }
}

/// What the inspection panels show. Plain data in signals; the GPU work that fills them
/// lives with the trainer (see `inspection.rs`).
#[derive(Clone, Copy)]
pub struct Inspection {
    pub eval: RwSignal<Option<Arc<TestPredictions>>>,
    /// The first convolution's filters: (count, side, weights).
    pub filters: RwSignal<Option<Arc<FilterImages>>>,
    /// The image being looked at (the drawn digit or a chosen test image), as the model sees it.
    pub probe_input: RwSignal<Option<Arc<Vec<u8>>>>,
    /// Where `probe_input` came from, for the caption.
    pub probe_source: RwSignal<String>,
    /// Class probabilities and every activation of `probe_input`.
    pub probe_probs: RwSignal<Option<Vec<f32>>>,
    pub activations: RwSignal<Option<Arc<Vec<Vec<f32>>>>>,
    /// Where the numbers came from: "GPU (our kernels)" or "CPU (engine reference)".
    pub probe_engine: RwSignal<&'static str>,
    pub classes: RwSignal<Vec<String>>,
}

impl Inspection {
    pub fn new() -> Self {
        Inspection {
            eval: RwSignal::new(None),
            filters: RwSignal::new(None),
            probe_input: RwSignal::new(None),
            probe_source: RwSignal::new(String::new()),
            probe_probs: RwSignal::new(None),
            activations: RwSignal::new(None),
            probe_engine: RwSignal::new(""),
            classes: RwSignal::new(engine::data::MNIST_CLASSES.iter().map(|s| s.to_string()).collect()),
        }
    }
    /// Forgets everything that belongs to a model (on Reset or a new dataset); the probed
    /// image stays, to be read again by the next model.
    pub fn clear(&self) {
        self.eval.set(None);
        self.filters.set(None);
        self.clear_probe_results();
    }
    /// Forgets the probed image and what the model made of it (the pad was cleared).
    pub fn clear_probe(&self) {
        self.clear_probe_results();
        self.probe_input.set(None);
        self.probe_source.set(String::new());
    }
    fn clear_probe_results(&self) {
        self.probe_probs.set(None);
        self.activations.set(None);
    }
    pub fn set_classes(&self, names: &[&str]) {
        self.classes.set(names.iter().map(|c| c.to_string()).collect());
    }
}

fn context(canvas: &HtmlCanvasElement) -> Option<CanvasRenderingContext2d> {
    canvas.get_context("2d").ok().flatten()?.dyn_into().ok()
}

/// Draws `pixels` (0–255, 255 = ink) as dark ink on white, one canvas pixel each.
fn draw_gray(canvas: &HtmlCanvasElement, width: u32, height: u32, pixels: &[u8]) {
    let Some(ctx) = context(canvas) else { return };
    let rgba: Vec<u8> = pixels.iter().flat_map(|&p| [255 - p, 255 - p, 255 - p, 255]).collect();
    if let Ok(data) = ImageData::new_with_u8_clamped_array_and_sh(Clamped(&rgba), width, height) {
        let _ = ctx.put_image_data(&data, 0.0, 0.0);
    }
}

/// A small grayscale image, scaled up by CSS with crisp pixels.
#[component]
pub fn GrayImage(pixels: Vec<u8>, #[prop(default = 28)] side: u32, #[prop(default = "thumb-img")] class: &'static str) -> impl IntoView {
    let node = NodeRef::<html::Canvas>::new();
    Effect::new(move |_| {
        if let Some(c) = node.get() {
            draw_gray(&c, side, side, &pixels);
        }
    });
    view! { <canvas node_ref=node width=side height=side class=class></canvas> }
}

fn percent(p: f32) -> String {
    format!("{:.0}%", 100.0 * p)
}

/// A grid of test images with the predicted class and the top three probabilities;
/// mistakes stand out, and a "show mistakes" view pages through all of them. Clicking an
/// image shows its activations.
#[component]
pub fn Gallery(ins: Inspection, on_pick: Callback<usize>) -> impl IntoView {
    let seed = RwSignal::new(0u64);
    let mistakes_only = RwSignal::new(false);
    let page = RwSignal::new(0usize);
    // The misclassified test images, worked out once per evaluation.
    let wrong = Memo::new(move |_| {
        ins.eval.get().map_or_else(Vec::new, |e| (0..e.test.len()).filter(|&i| e.predicted(i) != e.test.labels[i] as usize).collect())
    });
    let shown = move || -> Vec<usize> {
        let Some(e) = ins.eval.get() else { return Vec::new() };
        if mistakes_only.get() {
            wrong.with(|w| w.iter().copied().skip(page.get() * GALLERY_SIZE).take(GALLERY_SIZE).collect())
        } else {
            engine::model::permutation(e.test.len(), seed.get()).into_iter().take(GALLERY_SIZE).map(|i| i as usize).collect()
        }
    };
    let mistakes = move || wrong.with(Vec::len);
    let pages = move || mistakes().div_ceil(GALLERY_SIZE).max(1);
    view! {
        <section id="gallery-section" class="panel">
            <h2>"Test predictions"</h2>
            {move || match ins.eval.get() {
                None => view! { <p class="hint">"After the first evaluation (at the end of each epoch, or after loading weights) this shows test images with the model's guesses."</p> }.into_any(),
                Some(e) => view! {
                    <div class="gallery-bar">
                        <button id="reshuffle" on:click=move |_| { mistakes_only.set(false); seed.update(|s| *s += 1) }>"Reshuffle"</button>
                        <button id="show-mistakes" on:click=move |_| { page.set(0); mistakes_only.update(|m| *m = !*m) }>
                            {move || if mistakes_only.get() { "Show all" } else { "Show mistakes" }}
                        </button>
                        {move || mistakes_only.get().then(|| view! {
                            <button id="mistakes-prev" disabled=move || page.get() == 0 on:click=move |_| page.update(|p| *p = p.saturating_sub(1))>"‹"</button>
                            <span id="mistakes-page">{move || format!("page {} of {}", page.get() + 1, pages())}</span>
                            <button id="mistakes-next" disabled=move || page.get() + 1 >= pages() on:click=move |_| page.update(|p| *p += 1)>"›"</button>
                        })}
                        <span class="hint">{format!("epoch {} · {} of {} test images right · {} mistakes", e.epoch, e.test.len() - mistakes(), e.test.len(), mistakes())}</span>
                    </div>
                }.into_any(),
            }}
            <div id="gallery" class="gallery">
                {move || {
                    let Some(e) = ins.eval.get() else { return Vec::new() };
                    let names = ins.classes.get();
                    shown().into_iter().map(|i| {
                        let probs = e.probs(i);
                        let (truth, guess) = (e.test.labels[i] as usize, e.predicted(i));
                        let top = inspect::top_k(&probs, 3).into_iter().map(|(c, p)| format!("{} {}", names[c], percent(p))).collect::<Vec<_>>().join(" · ");
                        let caption = if truth == guess { names[guess].clone() } else { format!("{} (is {})", names[guess], names[truth]) };
                        view! {
                            <button type="button" class="thumb" class:wrong=truth != guess data-index=i data-predicted=guess data-label=truth
                                title=format!("test image {i}: click to see its activations") on:click=move |_| on_pick.run(i)>
                                <GrayImage pixels=e.image(i) />
                                <span class="guess">{caption}</span>
                                <span class="top3">{top}</span>
                            </button>
                        }
                    }).collect::<Vec<_>>()
                }}
            </div>
        </section>
    }
}

/// The confusion matrix of the latest evaluation as a heatmap, with per-class accuracy.
#[component]
pub fn Confusion(ins: Inspection) -> impl IntoView {
    let canvas = NodeRef::<html::Canvas>::new();
    let matrix = Memo::new(move |_| ins.eval.get().map(|e| e.confusion()));
    Effect::new(move |_| {
        let (Some(m), Some(node)) = (matrix.get(), canvas.get()) else { return };
        let names = ins.classes.get();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        if let Some(backend) = plotters_canvas::CanvasBackend::with_canvas_object(node) {
            use plotters::prelude::IntoDrawingArea;
            if let Err(err) = charts::draw_confusion(&backend.into_drawing_area(), &m, &names) {
                web_sys::console::warn_1(&err.into());
            }
        }
    });
    let total = move || matrix.with(|m| m.as_ref().map_or(0, ConfusionMatrix::total));
    let correct = move || matrix.with(|m| m.as_ref().map_or(0, ConfusionMatrix::correct));
    view! {
        <section id="confusion-section" class="panel">
            <h2>"Confusion matrix"</h2>
            <p class="hint">{move || match ins.eval.get() {
                None => "Appears after the first evaluation.".to_string(),
                Some(e) => format!("Test set after epoch {}: rows are the true class, columns the prediction; per-class accuracy on the right.", e.epoch),
            }}</p>
            <canvas id="confusion" node_ref=canvas width="600" height="520" data-total=total data-correct=correct
                class:empty=move || ins.eval.get().is_none()></canvas>
        </section>
    }
}

/// The class probabilities of the probed image as bars (`data-prob` on each, for tests).
#[component]
pub fn ProbabilityBars(ins: Inspection, #[prop(default = false)] only_drawing: bool) -> impl IntoView {
    view! {
        <div id="prob-bars" class="bars">
            {move || {
                let probs = ins.probe_probs.get().filter(|_| !only_drawing || ins.probe_source.get() == "your drawing");
                let Some(probs) = probs else {
                    return view! { <p class="hint">"Draw a digit: the bars show what the model thinks it is."</p> }.into_any();
                };
                let best = inspect::argmax(&probs);
                let names = ins.classes.get();
                view! {
                    <div class="bar-list" data-engine=move || ins.probe_engine.get()>
                        {probs.iter().enumerate().map(|(c, &p)| view! {
                            <div class="bar" class:best=c == best data-class=c data-prob=p.to_string()>
                                <span class="bar-label">{names[c].clone()}</span>
                                <span class="bar-track"><span class="bar-fill" style=format!("width:{:.1}%", 100.0 * p)></span></span>
                                <span class="bar-value">{format!("{:.1}%", 100.0 * p)}</span>
                            </div>
                        }).collect::<Vec<_>>()}
                        <div class="hint">{move || format!("computed on the {}", ins.probe_engine.get())}</div>
                    </div>
                }.into_any()
            }}
        </div>
    }
}

/// Draws a grid of small maps, each normalised by `scale` (the largest magnitude), with
/// `diverging` colours (blue negative, red positive) or gray for non-negative maps.
fn draw_maps(canvas: &HtmlCanvasElement, maps: &[&[f32]], h: usize, w: usize, per_row: usize, zoom: usize, diverging: bool) {
    let Some(ctx) = context(canvas) else { return };
    let gap = 2;
    let rows = maps.len().div_ceil(per_row);
    canvas.set_width((per_row * (w * zoom + gap)) as u32);
    canvas.set_height((rows * (h * zoom + gap)) as u32);
    ctx.clear_rect(0.0, 0.0, canvas.width() as f64, canvas.height() as f64);
    let scale = maps.iter().flat_map(|m| m.iter()).fold(1e-9f32, |a, v| a.max(v.abs()));
    for (k, map) in maps.iter().enumerate() {
        let (ox, oy) = ((k % per_row) * (w * zoom + gap), (k / per_row) * (h * zoom + gap));
        for y in 0..h {
            for x in 0..w {
                let v = (map[y * w + x] / scale).clamp(-1.0, 1.0);
                let color = if diverging {
                    let t = (255.0 * (1.0 - v.abs())) as u8;
                    if v >= 0.0 {
                        format!("rgb(255,{t},{t})")
                    } else {
                        format!("rgb({t},{t},255)")
                    }
                } else {
                    let g = (255.0 * (1.0 - v)) as u8;
                    format!("rgb({g},{g},{g})")
                };
                ctx.set_fill_style_str(&color);
                ctx.fill_rect((ox + x * zoom) as f64, (oy + y * zoom) as f64, zoom as f64, zoom as f64);
            }
        }
    }
}

/// The first convolution's filters, redrawn as training changes them.
#[component]
pub fn Filters(ins: Inspection) -> impl IntoView {
    let canvas = NodeRef::<html::Canvas>::new();
    Effect::new(move |_| {
        let (Some(f), Some(c)) = (ins.filters.get(), canvas.get()) else { return };
        let (count, side, weights) = &*f;
        let maps: Vec<&[f32]> = weights.chunks(side * side).take(*count).collect();
        draw_maps(&c, &maps, *side, *side, 8, 9, true);
    });
    view! {
        <div class="filters">
            <h3>"First-layer filters"</h3>
            <p class="hint">{move || ins.filters.get().map_or_else(|| "Appear when a model exists.".to_string(),
                |f| format!("{} filters of {}x{}; red positive, blue negative; updated as training goes on.", f.0, f.1, f.1))}</p>
            <canvas id="filters" node_ref=canvas width="1" height="1"></canvas>
        </div>
    }
}

/// One conv layer's activation maps.
#[component]
fn LayerMaps(ins: Inspection, layer: ActivationLayer) -> impl IntoView {
    let canvas = NodeRef::<html::Canvas>::new();
    let shape = layer.shape;
    let index = layer.index;
    Effect::new(move |_| {
        let (Some(acts), Some(c)) = (ins.activations.get(), canvas.get()) else { return };
        let Some(a) = acts.get(index) else { return };
        let maps: Vec<&[f32]> = a.chunks(shape.h * shape.w).take(shape.c).collect();
        let zoom = (56 / shape.h).clamp(3, 14);
        draw_maps(&c, &maps, shape.h, shape.w, 8, zoom, false);
    });
    view! {
        <div class="layer-maps">
            <div class="hint">{format!("{}: {} maps of {}x{}", layer.name, shape.c, shape.h, shape.w)}</div>
            <canvas class="activation-maps" node_ref=canvas width="1" height="1"></canvas>
        </div>
    }
}

/// Activation maps of every conv layer for the probed image.
#[component]
pub fn Activations(ins: Inspection) -> impl IntoView {
    let layers = inspect::conv_activation_layers(crate::state::model());
    view! {
        <div id="activations" class="activations">
            <h3>"Activations"</h3>
            <p class="hint">{move || if ins.activations.get().is_some() {
                format!("Of {} (BatchNorm with running statistics), each conv block after its ReLU; darker is stronger.", ins.probe_source.get())
            } else {
                "Draw a digit or click a test image in the gallery to see what each conv layer makes of it.".to_string()
            }}</p>
            {move || ins.probe_input.get().filter(|_| ins.activations.get().is_some()).map(|p| view! { <GrayImage pixels=p.to_vec() class="probe-input" /> })}
            {layers.into_iter().map(|layer| view! { <LayerMaps ins=ins layer=layer /> }).collect::<Vec<_>>()}
        </div>
    }
}
