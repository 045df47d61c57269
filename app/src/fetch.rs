//! Downloads a shipped dataset's four files with byte-level progress, keeps them in the Cache API so a
//! reload does not download 11 MB again, and verifies and parses them with the engine.

use engine::data::{self, BuiltinDataset, Dataset, NamedBytes, Split};
use js_sys::{Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

const CACHE_NAME: &str = "mnist-v1";

fn js_err(what: &str, e: JsValue) -> String {
    let detail = e.as_string().or_else(|| js_sys::JSON::stringify(&e).ok().and_then(|s| s.as_string())).unwrap_or_default();
    format!("{what}: {detail}")
}

async fn open_cache() -> Option<web_sys::Cache> {
    let caches = web_sys::window()?.caches().ok()?;
    JsFuture::from(caches.open(CACHE_NAME)).await.ok()?.dyn_into().ok()
}

/// Drops cached copies (after a verification failure, so that Retry downloads afresh).
pub async fn clear_cache() {
    if let Some(caches) = web_sys::window().and_then(|w| w.caches().ok()) {
        let _ = JsFuture::from(caches.delete(CACHE_NAME)).await;
    }
}

/// Reads a response body chunk by chunk, reporting each chunk's size.
async fn read_body(file: &str, response: &web_sys::Response, on_bytes: &mut dyn FnMut(u64)) -> Result<Vec<u8>, String> {
    let Some(body) = response.body() else {
        return Ok(Vec::new());
    };
    let reader: web_sys::ReadableStreamDefaultReader = body.get_reader().dyn_into().map_err(|e| js_err(file, e.into()))?;
    let mut out = Vec::new();
    loop {
        let chunk = JsFuture::from(reader.read()).await.map_err(|e| js_err(&format!("{file}: download interrupted"), e))?;
        if Reflect::get(&chunk, &"done".into()).map(|d| d.is_truthy()).unwrap_or(true) {
            break;
        }
        let value: Uint8Array = Reflect::get(&chunk, &"value".into()).map_err(|e| js_err(file, e))?.unchecked_into();
        let start = out.len();
        out.resize(start + value.length() as usize, 0);
        value.copy_to(&mut out[start..]);
        on_bytes(value.length() as u64);
    }
    Ok(out)
}

/// Fetches one file (from the cache when it is there) and returns its bytes and whether it
/// came from the cache.
async fn fetch_file(
    base: &str,
    file: &str,
    cache: Option<&web_sys::Cache>,
    on_bytes: &mut dyn FnMut(u64),
) -> Result<(Vec<u8>, bool), String> {
    let url = format!("{base}/{file}");
    if let Some(cache) = cache {
        if let Ok(hit) = JsFuture::from(cache.match_with_str(&url)).await {
            if let Ok(response) = hit.dyn_into::<web_sys::Response>() {
                return Ok((read_body(file, &response, on_bytes).await?, true));
            }
        }
    }
    let window = web_sys::window().ok_or("no window")?;
    let response: web_sys::Response = JsFuture::from(window.fetch_with_str(&url))
        .await
        .map_err(|e| js_err(&format!("{file}: download failed (is the server running?)"), e))?
        .unchecked_into();
    if !response.ok() {
        return Err(format!("{file}: the server answered HTTP {} {}", response.status(), response.status_text()));
    }
    if let Some(cache) = cache {
        if let Ok(copy) = response.clone() {
            let _ = JsFuture::from(cache.put_with_str(&url, &copy)).await;
        }
    }
    Ok((read_body(file, &response, on_bytes).await?, false))
}

/// Progress of the download: bytes so far and bytes in all.
pub struct Progress {
    pub loaded: u64,
    pub total: u64,
}

/// Downloads `dataset` from `data/<id>/` (or reads it from the cache), verifies it against
/// its built-in checksums, and parses it. Errors name the file and the problem; a failed
/// verification also clears the cache so that a retry downloads afresh.
pub async fn load_dataset(
    dataset: &BuiltinDataset,
    use_cache: bool,
    on_progress: &mut dyn FnMut(Progress),
) -> Result<(Dataset, bool), String> {
    let base = format!("data/{}", dataset.id);
    let cache = if use_cache { open_cache().await } else { None };
    let total = dataset.total_bytes();
    let mut loaded = 0u64;
    let mut bytes = Vec::new();
    let mut all_cached = true;
    for (file, _) in dataset.gz_files() {
        let (b, cached) = fetch_file(&base, &file, cache.as_ref(), &mut |n| {
            loaded += n;
            on_progress(Progress { loaded: loaded.min(total), total });
        })
        .await?;
        all_cached &= cached;
        bytes.push(b);
    }
    // Name files without ".gz": a server that already decompressed them is fine too.
    let named = |i: usize| NamedBytes { name: data::FILE_NAMES[i], bytes: &bytes[i] };
    let verify = dataset.verification();
    // Unpacking and hashing ~60 MB takes about a second: yield to the browser every few MB
    // so the page keeps responding meanwhile.
    let mut pause = yield_to_browser;
    let parsed: Result<(Split, Split), data::DataError> = match data::parse_split_pausing(named(0), named(1), &verify, &mut pause).await {
        Ok(train) => data::parse_split_pausing(named(2), named(3), &verify, &mut pause).await.map(|test| (train, test)),
        Err(e) => Err(e),
    };
    match parsed {
        Ok((train, test)) => Ok((Dataset { train, test }, all_cached)),
        Err(e) => {
            clear_cache().await;
            Err(e.to_string())
        }
    }
}

/// Lets the browser run its event loop (input, timers, painting) before going on.
async fn yield_to_browser() {
    let promise = js_sys::Promise::new(&mut |resolve, _reject| {
        let scheduled = web_sys::window().map(|w| w.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, 0).is_ok());
        if scheduled != Some(true) {
            let _ = resolve.call0(&wasm_bindgen::JsValue::NULL);
        }
    });
    let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
}
