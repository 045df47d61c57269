//! The burn training workers: burn's CPU backend (`cpu_worker`) or burn-wgpu on the
//! browser's WebGPU (`gpu_worker`, feature `webgpu`), each in its own wasm bundle, so the
//! page's default bundle carries no burn, and burn's training never blocks the page.
//!
//! Protocol (one request at a time; every request gets exactly one reply):
//! - on start the worker posts `{kind: "loaded"}`;
//! - `{cmd: "init", trainImages, trainLabels, testImages, testLabels, batch, lr, seed}`
//!   (Uint8Arrays and numbers) → `{kind: "ready", stepsPerEpoch}`;
//! - `{cmd: "steps", count}` trains up to `count` steps, stopping at the end of an epoch →
//!   `{kind: "stepped", metrics: Float64Array [step, loss, accuracy, ...], stepsDone, epoch, stepInEpoch}`;
//! - `{cmd: "evaluate"}` → `{kind: "evaluated", loss, accuracy, count, logprobs: Float32Array}`
//!   on the test split (`count * 10` log-probabilities, in order);
//! - `{cmd: "weights"}` → `{kind: "weights", params, stats}` (Float32Arrays);
//! - `{cmd: "setWeights", params, stats}` → `{kind: "weightsSet"}` (checked first: bad weights
//!   are refused and the model is kept);
//! - any failure → `{kind: "error", message}`.

#[cfg(target_arch = "wasm32")]
pub use worker::start;

#[cfg(target_arch = "wasm32")]
mod worker {
    use engine::burn_backend::{BurnDevice, BurnTrainer};
    use engine::model::Model;
    use engine::train::{EvalSet, TrainConfig, TrainError, Weights};
    use engine::{Dataset, Split};
    use js_sys::{Float32Array, Float64Array, Object, Reflect, Uint8Array};
    use std::cell::{Cell, RefCell};
    use wasm_bindgen::prelude::*;
    use wasm_bindgen::JsCast;
    use wasm_bindgen_futures::spawn_local;
    use web_sys::{DedicatedWorkerGlobalScope, MessageEvent};

    thread_local! {
        static TRAINER: RefCell<Option<BurnTrainer>> = const { RefCell::new(None) };
        static BACKEND: Cell<BurnDevice> = const { Cell::new(BurnDevice::Cpu) };
    }

    fn get(msg: &JsValue, key: &str) -> JsValue {
        Reflect::get(msg, &key.into()).unwrap_or(JsValue::UNDEFINED)
    }

    fn number(msg: &JsValue, key: &str) -> Result<f64, String> {
        get(msg, key).as_f64().ok_or_else(|| format!("message field `{key}` must be a number"))
    }

    fn bytes(msg: &JsValue, key: &str) -> Result<Vec<u8>, String> {
        get(msg, key).dyn_into::<Uint8Array>().map(|a| a.to_vec()).map_err(|_| format!("message field `{key}` must be a Uint8Array"))
    }

    fn reply(kind: &str, fields: &[(&str, JsValue)]) -> Object {
        let o = Object::new();
        let _ = Reflect::set(&o, &"kind".into(), &kind.into());
        for (k, v) in fields {
            let _ = Reflect::set(&o, &(*k).into(), v);
        }
        o
    }

    /// The trainer, taken out for the duration of a request (requests come one at a time).
    fn take_trainer() -> Result<BurnTrainer, String> {
        TRAINER.with(|t| t.borrow_mut().take()).ok_or_else(|| "the worker has no model yet: send `init` first".to_string())
    }

    fn put_trainer(t: BurnTrainer) {
        TRAINER.with(|cell| *cell.borrow_mut() = Some(t));
    }

    async fn init(msg: &JsValue) -> Result<Object, String> {
        let split = |images: &str, labels: &str| -> Result<Split, String> {
            Ok(Split { images: bytes(msg, images)?, labels: bytes(msg, labels)? })
        };
        let dataset = Dataset { train: split("trainImages", "trainLabels")?, test: split("testImages", "testLabels")? };
        let mut config = TrainConfig { batch: number(msg, "batch")? as usize, seed: number(msg, "seed")? as u64, ..Default::default() };
        config.adam.lr = number(msg, "lr")? as f32;
        // Metrics come back with every `steps` reply, so no periodic read-back is needed.
        config.metrics_every = usize::MAX;
        let backend = BACKEND.with(Cell::get);
        let trainer = BurnTrainer::new_async(backend, Model::tutorial(), &dataset, config).await.map_err(|e| e.to_string())?;
        let steps_per_epoch = trainer.steps_per_epoch();
        put_trainer(trainer);
        Ok(reply("ready", &[("stepsPerEpoch", (steps_per_epoch as f64).into())]))
    }

    async fn steps(msg: &JsValue) -> Result<Object, String> {
        let count = number(msg, "count")? as usize;
        let mut t = take_trainer()?;
        let result = run_steps(&mut t, count).await;
        put_trainer(t);
        let (metrics, steps_done, epoch, step_in_epoch) = result.map_err(|e| e.to_string())?;
        let flat: Vec<f64> = metrics.iter().flat_map(|m| [m.step as f64, m.loss as f64, m.accuracy as f64]).collect();
        Ok(reply(
            "stepped",
            &[
                ("metrics", Float64Array::from(flat.as_slice()).into()),
                ("stepsDone", (steps_done as f64).into()),
                ("epoch", (epoch as f64).into()),
                ("stepInEpoch", (step_in_epoch as f64).into()),
            ],
        ))
    }

    type Stepped = (Vec<engine::StepMetrics>, u64, usize, usize);

    async fn run_steps(t: &mut BurnTrainer, count: usize) -> Result<Stepped, TrainError> {
        for _ in 0..count.max(1) {
            t.step()?;
            if t.step_in_epoch() == 0 {
                break;
            }
        }
        let metrics = t.flush_metrics().await?;
        Ok((metrics, t.steps_done(), t.epoch(), t.step_in_epoch()))
    }

    async fn evaluate() -> Result<Object, String> {
        let mut t = take_trainer()?;
        let r = t.evaluate_predictions(EvalSet::Test).await;
        put_trainer(t);
        let (r, logprobs) = r.map_err(|e| e.to_string())?;
        Ok(reply(
            "evaluated",
            &[
                ("loss", (r.loss as f64).into()),
                ("accuracy", (r.accuracy as f64).into()),
                ("count", (r.count as f64).into()),
                ("logprobs", Float32Array::from(logprobs.as_slice()).into()),
            ],
        ))
    }

    async fn weights() -> Result<Object, String> {
        let t = take_trainer()?;
        let w = t.net.weights().await;
        put_trainer(t);
        let w = w.map_err(|e| e.to_string())?;
        Ok(reply(
            "weights",
            &[("params", Float32Array::from(w.params.as_slice()).into()), ("stats", Float32Array::from(w.stats.as_slice()).into())],
        ))
    }

    fn floats(msg: &JsValue, key: &str) -> Result<Vec<f32>, String> {
        get(msg, key).dyn_into::<Float32Array>().map(|a| a.to_vec()).map_err(|_| format!("message field `{key}` must be a Float32Array"))
    }

    fn set_weights(msg: &JsValue) -> Result<Object, String> {
        let w = Weights { params: floats(msg, "params")?, stats: floats(msg, "stats")? };
        let mut t = take_trainer()?;
        let r = t.net.set_weights(&w);
        put_trainer(t);
        r.map_err(|e| e.to_string())?;
        Ok(reply("weightsSet", &[]))
    }

    async fn handle(msg: JsValue) -> Object {
        let cmd = get(&msg, "cmd").as_string().unwrap_or_default();
        let result = match cmd.as_str() {
            "init" => init(&msg).await,
            "steps" => steps(&msg).await,
            "evaluate" => evaluate().await,
            "weights" => weights().await,
            "setWeights" => set_weights(&msg),
            other => Err(format!("unknown command `{other}`")),
        };
        result.unwrap_or_else(|message| reply("error", &[("message", message.into())]))
    }

    /// Installs the message handler; the worker then trains on `backend`.
    pub fn start(backend: BurnDevice) {
        console_error_panic_hook::set_once();
        BACKEND.with(|b| b.set(backend));
        let scope: DedicatedWorkerGlobalScope = js_sys::global().unchecked_into();
        let post_scope = scope.clone();
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |ev: MessageEvent| {
            let scope = post_scope.clone();
            spawn_local(async move {
                let _ = scope.post_message(&handle(ev.data()).await.into());
            });
        });
        scope.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        on_message.forget();
        let _ = scope.post_message(&reply("loaded", &[]));
    }
}
