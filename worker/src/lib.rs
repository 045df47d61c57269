//! The burn training workers: burn's CPU backend (`cpu_worker`) or burn-wgpu on the
//! browser's WebGPU (`gpu_worker`, feature `webgpu`), each in its own wasm bundle, so the
//! page's default bundle carries no burn, and burn's training never blocks the page.
//!
//! The messages are `engine::protocol`'s serde types, shared with the page: on start the
//! worker posts `Loaded`; then each `WorkerRequest` gets exactly one `WorkerReply`, an
//! `Error` naming the cause when it fails.

#[cfg(target_arch = "wasm32")]
pub use worker::start;

#[cfg(target_arch = "wasm32")]
mod worker {
    use burn_peer::{BurnDevice, BurnTrainer};
    use engine::model::Model;
    use engine::protocol::{WorkerReply, WorkerRequest};
    use engine::train::{EvalSet, TrainError, Weights};
    use std::cell::{Cell, RefCell};
    use wasm_bindgen::prelude::*;
    use wasm_bindgen::JsCast;
    use wasm_bindgen_futures::spawn_local;
    use web_sys::{DedicatedWorkerGlobalScope, MessageEvent};

    thread_local! {
        static TRAINER: RefCell<Option<BurnTrainer>> = const { RefCell::new(None) };
        static BACKEND: Cell<BurnDevice> = const { Cell::new(BurnDevice::Cpu) };
    }

    /// The trainer, taken out for the duration of a request (requests come one at a time).
    fn take_trainer() -> Result<BurnTrainer, String> {
        TRAINER.with(|t| t.borrow_mut().take()).ok_or_else(|| "the worker has no model yet: send `init` first".to_string())
    }

    fn put_trainer(t: BurnTrainer) {
        TRAINER.with(|cell| *cell.borrow_mut() = Some(t));
    }

    /// Runs `job` on the trainer and puts it back, whatever the outcome.
    async fn with_trainer<T>(job: impl AsyncFnOnce(&mut BurnTrainer) -> Result<T, TrainError>) -> Result<T, String> {
        let mut t = take_trainer()?;
        let result = job(&mut t).await;
        put_trainer(t);
        result.map_err(|e| e.to_string())
    }

    async fn handle(request: WorkerRequest) -> Result<WorkerReply, String> {
        match request {
            init @ WorkerRequest::Init { .. } => {
                let (dataset, mut config) = init.into_run().expect("an Init request");
                // Metrics come back with every `Steps` reply, so no periodic read-back is needed.
                config.metrics_every = usize::MAX;
                let backend = BACKEND.with(Cell::get);
                let trainer = BurnTrainer::new_async(backend, Model::tutorial(), &dataset, config).await.map_err(|e| e.to_string())?;
                let clock = trainer.clock();
                put_trainer(trainer);
                Ok(WorkerReply::Ready { clock })
            }
            WorkerRequest::Steps { count } => {
                with_trainer(async |t| {
                    for _ in 0..count.max(1) {
                        t.step()?;
                        if t.clock().at_epoch_start() {
                            break;
                        }
                    }
                    // A non-finite loss is refused by the read-back.
                    Ok(WorkerReply::Stepped { metrics: t.flush_metrics().await?, clock: t.clock() })
                })
                .await
            }
            WorkerRequest::Evaluate => {
                with_trainer(async |t| {
                    let (result, logprobs) = t.evaluate_predictions(EvalSet::Test).await?;
                    Ok(WorkerReply::Evaluated { result, logprobs })
                })
                .await
            }
            WorkerRequest::EvaluateTrain => {
                with_trainer(async |t| {
                    let result = t.evaluate(EvalSet::Train).await?;
                    Ok(WorkerReply::Evaluated { result, logprobs: Vec::new() })
                })
                .await
            }
            WorkerRequest::Weights => {
                with_trainer(async |t| {
                    let Weights { params, stats } = t.net.weights().await?;
                    Ok(WorkerReply::Weights { params, stats })
                })
                .await
            }
            WorkerRequest::SetWeights { params, stats } => {
                with_trainer(async |t| t.net.set_weights(&Weights { params, stats }).map(|()| WorkerReply::WeightsSet)).await
            }
        }
    }

    fn post(scope: &DedicatedWorkerGlobalScope, reply: &WorkerReply) {
        let value = serde_wasm_bindgen::to_value(reply)
            .unwrap_or_else(|e| serde_wasm_bindgen::to_value(&WorkerReply::Error { message: e.to_string() }).unwrap_or(JsValue::NULL));
        let _ = scope.post_message(&value);
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
                let reply = match serde_wasm_bindgen::from_value::<WorkerRequest>(ev.data()) {
                    Ok(request) => handle(request).await,
                    Err(e) => Err(format!("the worker could not read a message: {e}")),
                };
                post(&scope, &reply.unwrap_or_else(|message| WorkerReply::Error { message }));
            });
        });
        scope.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        on_message.forget();
        post(&scope, &WorkerReply::Loaded);
    }
}
