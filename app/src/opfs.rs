//! The browser's origin-private file system (OPFS), where the page keeps the current run in
//! one file. Writes go through the browser's swap file and land only on `close()`, so an
//! interrupted write leaves the previous checkpoint intact. Every call goes through
//! `Reflect`, so a browser without OPFS (or a private window that refuses it) gives an error
//! to show, never an exception.

use crate::js::{call, message};
use js_sys::{Object, Reflect, Uint8Array};
use wasm_bindgen::JsValue;

const FILE: &str = "current-run.safetensors";
/// A checkpoint of the tutorial's CNN is a few MB; anything far larger is not ours.
const MAX_BYTES: f64 = 256.0 * 1024.0 * 1024.0;

/// A DOM error's name, e.g. "NotFoundError" or "QuotaExceededError".
fn error_name(e: &JsValue) -> String {
    Reflect::get(e, &"name".into()).ok().and_then(|n| n.as_string()).unwrap_or_default()
}

/// Plain words for a storage error.
pub fn describe(e: &JsValue) -> String {
    let message = message(e).unwrap_or_default();
    match error_name(e).as_str() {
        "QuotaExceededError" => "the browser's storage for this site is full".into(),
        "SecurityError" | "NotAllowedError" => format!("this browser does not allow the page to store files here ({message})"),
        _ if message.is_empty() => "the browser's storage is unavailable".into(),
        _ => format!("the browser's storage failed ({message})"),
    }
}

async fn root() -> Result<JsValue, JsValue> {
    let window = web_sys::window().ok_or_else(|| JsValue::from_str("no window"))?;
    let storage = Reflect::get(&window.navigator(), &"storage".into())?;
    if storage.is_undefined() || storage.is_null() {
        return Err(JsValue::from_str("this browser offers no storage for the page (navigator.storage is missing)"));
    }
    call(&storage, "getDirectory", &[]).await
}

async fn file_handle(create: bool) -> Result<JsValue, JsValue> {
    let options = Object::new();
    Reflect::set(&options, &"create".into(), &create.into())?;
    call(&root().await?, "getFileHandle", &[FILE.into(), options.into()]).await
}

/// Replaces the kept file with `bytes`.
pub async fn write(bytes: &[u8]) -> Result<(), String> {
    let inner = async {
        let writable = call(&file_handle(true).await?, "createWritable", &[]).await?;
        call(&writable, "write", &[Uint8Array::from(bytes).into()]).await?;
        call(&writable, "close", &[]).await
    };
    inner.await.map(|_| ()).map_err(|e| describe(&e))
}

/// The kept file, or None when there is none.
pub async fn read() -> Result<Option<Vec<u8>>, String> {
    let inner = async {
        let handle = match file_handle(false).await {
            Err(e) if error_name(&e) == "NotFoundError" => return Ok(None),
            other => other?,
        };
        let file = call(&handle, "getFile", &[]).await?;
        let size = Reflect::get(&file, &"size".into())?.as_f64().unwrap_or(0.0);
        if size > MAX_BYTES {
            return Err(JsValue::from_str(&format!("the kept file is {size} bytes, far more than a checkpoint of this model")));
        }
        let buffer = call(&file, "arrayBuffer", &[]).await?;
        Ok(Some(Uint8Array::new(&buffer).to_vec()))
    };
    inner.await.map_err(|e| describe(&e))
}

/// Deletes the kept file (none is fine).
pub async fn remove() -> Result<(), String> {
    let inner = async {
        match call(&root().await?, "removeEntry", &[FILE.into()]).await {
            Err(e) if error_name(&e) == "NotFoundError" => Ok(JsValue::UNDEFINED),
            other => other,
        }
    };
    inner.await.map(|_| ()).map_err(|e| describe(&e))
}
