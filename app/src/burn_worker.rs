//! The page's side of the burn workers (worker/): burn's CPU backend or burn-wgpu training
//! in a Web Worker, each loaded only when its backend is chosen (the CPU one also when
//! WebGPU is missing). See worker/src/lib.rs for the message protocol.

use engine::train::{EvalResult, StepMetrics, TrainConfig, TrainError, Weights};
use engine::{BackendKind, Dataset};
use futures_channel::oneshot;
use js_sys::{Float32Array, Float64Array, Object, Reflect, Uint8Array};
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{ErrorEvent, MessageEvent, Worker};

/// The loader of each burn backend's worker bundle (index.html builds `cpu_worker` and
/// `gpu_worker`).
fn worker_url(kind: BackendKind) -> &'static str {
    if kind == BackendKind::BurnWgpu {
        "./gpu_worker_loader.js"
    } else {
        "./cpu_worker_loader.js"
    }
}

type Waiter = Rc<RefCell<Option<oneshot::Sender<Result<JsValue, String>>>>>;

/// A trainer in a burn worker. One request is in flight at a time.
pub struct BurnWorker {
    worker: Worker,
    waiter: Waiter,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_error: Closure<dyn FnMut(ErrorEvent)>,
    pub steps_per_epoch: usize,
    pub steps_done: u64,
    pub epoch: usize,
    pub step_in_epoch: usize,
}

impl Drop for BurnWorker {
    fn drop(&mut self) {
        self.worker.terminate();
    }
}

fn field(o: &JsValue, key: &str) -> JsValue {
    Reflect::get(o, &key.into()).unwrap_or(JsValue::UNDEFINED)
}

fn number(o: &JsValue, key: &str) -> f64 {
    field(o, key).as_f64().unwrap_or(0.0)
}

fn floats(o: &JsValue, key: &str) -> Vec<f32> {
    field(o, key).dyn_into::<Float32Array>().map(|a| a.to_vec()).unwrap_or_default()
}

fn set(o: &Object, key: &str, value: JsValue) {
    let _ = Reflect::set(o, &key.into(), &value);
}

fn worker_error(message: String) -> TrainError {
    TrainError::Backend(format!("The burn worker failed: {message}"))
}

impl BurnWorker {
    /// Starts the worker, waits for its bundle to load, and sends it the data and settings.
    pub async fn start(kind: BackendKind, dataset: &Dataset, config: &TrainConfig) -> Result<Self, TrainError> {
        let worker = Worker::new(worker_url(kind)).map_err(|e| worker_error(format!("could not start it ({e:?})")))?;
        let waiter: Waiter = Rc::new(RefCell::new(None));
        let on_reply = waiter.clone();
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |ev: MessageEvent| {
            if let Some(tx) = on_reply.borrow_mut().take() {
                let _ = tx.send(Ok(ev.data()));
            }
        });
        let on_fail = waiter.clone();
        let on_error = Closure::<dyn FnMut(ErrorEvent)>::new(move |ev: ErrorEvent| {
            ev.prevent_default();
            let message = if ev.message().is_empty() { "its script could not be loaded".to_string() } else { ev.message() };
            if let Some(tx) = on_fail.borrow_mut().take() {
                let _ = tx.send(Err(message));
            }
        });
        worker.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        worker.set_onerror(Some(on_error.as_ref().unchecked_ref()));
        let mut w = BurnWorker {
            worker,
            waiter,
            _on_message: on_message,
            _on_error: on_error,
            steps_per_epoch: 0,
            steps_done: 0,
            epoch: 0,
            step_in_epoch: 0,
        };
        w.wait("loaded").await?;

        let init = Object::new();
        set(&init, "cmd", "init".into());
        set(&init, "trainImages", Uint8Array::from(dataset.train.images.as_slice()).into());
        set(&init, "trainLabels", Uint8Array::from(dataset.train.labels.as_slice()).into());
        set(&init, "testImages", Uint8Array::from(dataset.test.images.as_slice()).into());
        set(&init, "testLabels", Uint8Array::from(dataset.test.labels.as_slice()).into());
        set(&init, "batch", (config.batch as f64).into());
        set(&init, "lr", (config.adam.lr as f64).into());
        set(&init, "seed", (config.seed as f64).into());
        let ready = w.request(&init, "ready").await?;
        w.steps_per_epoch = number(&ready, "stepsPerEpoch") as usize;
        Ok(w)
    }

    /// Waits for the next message, which must be of `kind`.
    async fn wait(&mut self, kind: &str) -> Result<JsValue, TrainError> {
        let (tx, rx) = oneshot::channel();
        *self.waiter.borrow_mut() = Some(tx);
        let reply = rx.await.map_err(|_| worker_error("it stopped answering".into()))?.map_err(worker_error)?;
        match field(&reply, "kind").as_string().as_deref() {
            Some(k) if k == kind => Ok(reply),
            Some("error") => Err(TrainError::Backend(field(&reply, "message").as_string().unwrap_or_default())),
            other => Err(worker_error(format!("unexpected reply {other:?} (expected {kind})"))),
        }
    }

    /// Sends a request and waits for its reply. The reply cannot arrive before we wait:
    /// messages are delivered by the event loop, which runs only once this task yields.
    async fn request(&mut self, msg: &Object, kind: &str) -> Result<JsValue, TrainError> {
        self.worker.post_message(msg).map_err(|e| worker_error(format!("could not send a message ({e:?})")))?;
        self.wait(kind).await
    }

    /// Trains up to `count` steps (stopping at an epoch's end) and returns their metrics.
    pub async fn steps(&mut self, count: usize) -> Result<Vec<StepMetrics>, TrainError> {
        let msg = Object::new();
        set(&msg, "cmd", "steps".into());
        set(&msg, "count", (count as f64).into());
        let reply = self.request(&msg, "stepped").await?;
        self.steps_done = number(&reply, "stepsDone") as u64;
        self.epoch = number(&reply, "epoch") as usize;
        self.step_in_epoch = number(&reply, "stepInEpoch") as usize;
        let flat = field(&reply, "metrics").dyn_into::<Float64Array>().map(|a| a.to_vec()).unwrap_or_default();
        // The worker has already refused a non-finite loss (BurnTrainer's read-back checks it).
        Ok(flat.chunks(3).map(|c| StepMetrics { step: c[0] as u64, loss: c[1] as f32, accuracy: c[2] as f32 }).collect())
    }

    /// Loss and accuracy on the test split, and every test example's log-probabilities.
    pub async fn evaluate(&mut self) -> Result<(EvalResult, Vec<f32>), TrainError> {
        let msg = Object::new();
        set(&msg, "cmd", "evaluate".into());
        let r = self.request(&msg, "evaluated").await?;
        let result =
            EvalResult { loss: number(&r, "loss") as f32, accuracy: number(&r, "accuracy") as f32, count: number(&r, "count") as usize };
        Ok((result, floats(&r, "logprobs")))
    }

    /// The worker model's current parameters and running statistics.
    pub async fn weights(&mut self) -> Result<Weights, TrainError> {
        let msg = Object::new();
        set(&msg, "cmd", "weights".into());
        let r = self.request(&msg, "weights").await?;
        Ok(Weights { params: floats(&r, "params"), stats: floats(&r, "stats") })
    }

    /// Replaces the worker model's weights (the worker checks them and keeps its own on error).
    pub async fn set_weights(&mut self, w: &Weights) -> Result<(), TrainError> {
        let msg = Object::new();
        set(&msg, "cmd", "setWeights".into());
        set(&msg, "params", Float32Array::from(w.params.as_slice()).into());
        set(&msg, "stats", Float32Array::from(w.stats.as_slice()).into());
        self.request(&msg, "weightsSet").await.map(|_| ())
    }
}
