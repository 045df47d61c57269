//! The page's side of the burn workers (worker/): burn's CPU backend or burn-wgpu training
//! in a Web Worker, each loaded only when its backend is chosen (the CPU one also when
//! WebGPU is missing). The messages are `engine::protocol`'s, shared with the worker.

use engine::protocol::{WorkerReply, WorkerRequest};
use engine::train::{BackendKind, EvalResult, StepClock, StepMetrics, TrainConfig, TrainError, Weights};
use engine::Dataset;
use futures_channel::oneshot;
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
    /// The worker's step clock, as of its last reply.
    pub clock: StepClock,
}

impl Drop for BurnWorker {
    fn drop(&mut self) {
        self.worker.terminate();
    }
}

fn worker_error(message: String) -> TrainError {
    TrainError::Backend(format!("The burn worker failed: {message}"))
}

fn unexpected(reply: &WorkerReply, expected: &str) -> TrainError {
    worker_error(format!("unexpected reply {} (expected {expected})", reply.kind()))
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
        let mut w = BurnWorker { worker, waiter, _on_message: on_message, _on_error: on_error, clock: StepClock::default() };
        match w.wait().await? {
            WorkerReply::Loaded => {}
            other => return Err(unexpected(&other, "loaded")),
        }
        match w.request(&WorkerRequest::init(dataset, config)).await? {
            WorkerReply::Ready { clock } => w.clock = clock,
            other => return Err(unexpected(&other, "ready")),
        }
        Ok(w)
    }

    /// Waits for the next message; an `Error` reply becomes the error.
    async fn wait(&mut self) -> Result<WorkerReply, TrainError> {
        let (tx, rx) = oneshot::channel();
        *self.waiter.borrow_mut() = Some(tx);
        let value = rx.await.map_err(|_| worker_error("it stopped answering".into()))?.map_err(worker_error)?;
        match serde_wasm_bindgen::from_value::<WorkerReply>(value) {
            Ok(WorkerReply::Error { message }) => Err(TrainError::Backend(message)),
            Ok(reply) => Ok(reply),
            Err(e) => Err(worker_error(format!("its reply could not be read: {e}"))),
        }
    }

    /// Sends a request and waits for its reply. The reply cannot arrive before we wait:
    /// messages are delivered by the event loop, which runs only once this task yields.
    async fn request(&mut self, request: &WorkerRequest) -> Result<WorkerReply, TrainError> {
        let message = serde_wasm_bindgen::to_value(request).map_err(|e| worker_error(format!("could not encode a message ({e})")))?;
        self.worker.post_message(&message).map_err(|e| worker_error(format!("could not send a message ({e:?})")))?;
        self.wait().await
    }

    /// Trains up to `count` steps (stopping at an epoch's end) and returns their metrics.
    pub async fn steps(&mut self, count: usize) -> Result<Vec<StepMetrics>, TrainError> {
        match self.request(&WorkerRequest::Steps { count }).await? {
            WorkerReply::Stepped { metrics, clock } => {
                self.clock = clock;
                Ok(metrics)
            }
            other => Err(unexpected(&other, "stepped")),
        }
    }

    /// Loss and accuracy on the test split, and every test example's log-probabilities.
    pub async fn evaluate(&mut self) -> Result<(EvalResult, Vec<f32>), TrainError> {
        match self.request(&WorkerRequest::Evaluate).await? {
            WorkerReply::Evaluated { result, logprobs } => Ok((result, logprobs)),
            other => Err(unexpected(&other, "evaluated")),
        }
    }

    /// Loss and accuracy on the whole training split.
    pub async fn evaluate_train(&mut self) -> Result<EvalResult, TrainError> {
        match self.request(&WorkerRequest::EvaluateTrain).await? {
            WorkerReply::Evaluated { result, .. } => Ok(result),
            other => Err(unexpected(&other, "evaluated")),
        }
    }

    /// The worker model's current parameters and running statistics.
    pub async fn weights(&mut self) -> Result<Weights, TrainError> {
        match self.request(&WorkerRequest::Weights).await? {
            WorkerReply::Weights { params, stats } => Ok(Weights { params, stats }),
            other => Err(unexpected(&other, "weights")),
        }
    }

    /// Replaces the worker model's weights (the worker checks them and keeps its own on error).
    pub async fn set_weights(&mut self, w: &Weights) -> Result<(), TrainError> {
        match self.request(&WorkerRequest::set_weights(w)).await? {
            WorkerReply::WeightsSet => Ok(()),
            other => Err(unexpected(&other, "weightsSet")),
        }
    }
}
