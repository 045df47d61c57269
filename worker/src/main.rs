//! The CPU training worker: burn's CPU backend (flex) in its own wasm bundle, so the page's
//! default bundle carries no burn, and training on the CPU never blocks the page.
//!
//! Protocol (one request at a time; every request gets exactly one reply):
//! - on start the worker posts `{kind: "loaded"}`;
//! - `{cmd: "init", trainImages, trainLabels, testImages, testLabels, batch, lr, seed}`
//!   (Uint8Arrays and numbers) → `{kind: "ready", stepsPerEpoch}`;
//! - `{cmd: "steps", count}` trains up to `count` steps, stopping at the end of an epoch →
//!   `{kind: "stepped", metrics: Float64Array [step, loss, accuracy, ...], stepsDone, epoch, stepInEpoch}`;
//! - `{cmd: "evaluate"}` → `{kind: "evaluated", loss, accuracy, count}` on the test split;
//! - any failure → `{kind: "error", message}`.

#[cfg(target_arch = "wasm32")]
mod worker {
    use engine::burn_backend::{BurnDevice, BurnTrainer};
    use engine::model::Model;
    use engine::trainer::{EvalSet, TrainConfig, TrainError};
    use engine::{Dataset, Split};
    use js_sys::{Float64Array, Object, Reflect, Uint8Array};
    use std::cell::RefCell;
    use wasm_bindgen::prelude::*;
    use wasm_bindgen::JsCast;
    use web_sys::{DedicatedWorkerGlobalScope, MessageEvent};

    thread_local! {
        static TRAINER: RefCell<Option<BurnTrainer>> = const { RefCell::new(None) };
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

    fn with_trainer<T>(f: impl FnOnce(&mut BurnTrainer) -> Result<T, TrainError>) -> Result<T, String> {
        TRAINER.with(|t| match t.borrow_mut().as_mut() {
            Some(trainer) => f(trainer).map_err(|e| e.to_string()),
            None => Err("the worker has no model yet: send `init` first".into()),
        })
    }

    fn init(msg: &JsValue) -> Result<Object, String> {
        let split = |images: &str, labels: &str| -> Result<Split, String> { Ok(Split { images: bytes(msg, images)?, labels: bytes(msg, labels)? }) };
        let dataset = Dataset { train: split("trainImages", "trainLabels")?, test: split("testImages", "testLabels")? };
        let mut config = TrainConfig { batch: number(msg, "batch")? as usize, seed: number(msg, "seed")? as u64, ..Default::default() };
        config.adam.lr = number(msg, "lr")? as f32;
        // Metrics come back with every `steps` reply, so no periodic read-back is needed.
        config.metrics_every = usize::MAX;
        let trainer = BurnTrainer::new(BurnDevice::Cpu, Model::tutorial(), &dataset, config).map_err(|e| e.to_string())?;
        let steps_per_epoch = trainer.steps_per_epoch();
        TRAINER.with(|t| *t.borrow_mut() = Some(trainer));
        Ok(reply("ready", &[("stepsPerEpoch", (steps_per_epoch as f64).into())]))
    }

    fn steps(msg: &JsValue) -> Result<Object, String> {
        let count = number(msg, "count")? as usize;
        with_trainer(|t| {
            for _ in 0..count.max(1) {
                t.step()?;
                if t.step_in_epoch() == 0 {
                    break;
                }
            }
            // flex computes eagerly: the read-back future is already complete.
            let metrics = futures_now(t.flush_metrics())?;
            let flat: Vec<f64> = metrics.iter().flat_map(|m| [m.step as f64, m.loss as f64, m.accuracy as f64]).collect();
            Ok(reply(
                "stepped",
                &[
                    ("metrics", Float64Array::from(flat.as_slice()).into()),
                    ("stepsDone", (t.steps_done() as f64).into()),
                    ("epoch", (t.epoch() as f64).into()),
                    ("stepInEpoch", (t.step_in_epoch() as f64).into()),
                ],
            ))
        })
    }

    fn evaluate() -> Result<Object, String> {
        with_trainer(|t| {
            let r = futures_now(t.evaluate(EvalSet::Test))?;
            Ok(reply(
                "evaluated",
                &[("loss", (r.loss as f64).into()), ("accuracy", (r.accuracy as f64).into()), ("count", (r.count as f64).into())],
            ))
        })
    }

    /// Polls a future that is ready at once (burn's CPU backend never waits).
    fn futures_now<F: std::future::Future>(f: F) -> F::Output {
        let waker = std::task::Waker::noop();
        let mut cx = std::task::Context::from_waker(waker);
        let mut f = std::pin::pin!(f);
        match f.as_mut().poll(&mut cx) {
            std::task::Poll::Ready(v) => v,
            std::task::Poll::Pending => panic!("burn's CPU backend returned a pending read-back"),
        }
    }

    fn handle(msg: &JsValue) -> Object {
        let cmd = get(msg, "cmd").as_string().unwrap_or_default();
        let result = match cmd.as_str() {
            "init" => init(msg),
            "steps" => steps(msg),
            "evaluate" => evaluate(),
            other => Err(format!("unknown command `{other}`")),
        };
        result.unwrap_or_else(|message| reply("error", &[("message", message.into())]))
    }

    pub fn start() {
        console_error_panic_hook::set_once();
        let scope: DedicatedWorkerGlobalScope = js_sys::global().unchecked_into();
        let post_scope = scope.clone();
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |ev: MessageEvent| {
            let _ = post_scope.post_message(&handle(&ev.data()));
        });
        scope.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        on_message.forget();
        let _ = scope.post_message(&reply("loaded", &[]));
    }
}

fn main() {
    #[cfg(target_arch = "wasm32")]
    worker::start();
    #[cfg(not(target_arch = "wasm32"))]
    eprintln!("cpu_worker runs in a browser Web Worker; build it with Trunk (see index.html)");
}
