//! Calls into browser APIs that may be missing (OPFS, service workers) through `Reflect`,
//! so a missing API is an error to show, never an exception.

use js_sys::{Function, Promise, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

/// Calls `target.method(...args)` and awaits the result when it is a promise.
pub async fn call(target: &JsValue, method: &str, args: &[JsValue]) -> Result<JsValue, JsValue> {
    let f = Reflect::get(target, &method.into())?;
    let f: Function = f.dyn_into().map_err(|_| JsValue::from_str(&format!("this browser has no {method}()")))?;
    let result = f.apply(target, &args.iter().collect())?;
    match result.dyn_into::<Promise>() {
        Ok(p) => JsFuture::from(p).await,
        Err(v) => Ok(v),
    }
}

/// An error's message (a DOM error's `message`, or a string thrown as is).
pub fn message(e: &JsValue) -> Option<String> {
    Reflect::get(e, &"message".into()).ok().and_then(|m| m.as_string()).or_else(|| e.as_string())
}
