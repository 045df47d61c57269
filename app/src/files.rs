//! Files in and out of the page: reading a file the user picked, and offering bytes as a
//! download (weights).

use js_sys::{Array, Uint8Array};
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{Blob, BlobPropertyBag, File, HtmlAnchorElement, HtmlInputElement, Url};

/// The first file chosen in `input`, if any.
pub fn chosen_file(input: &HtmlInputElement) -> Option<File> {
    input.files()?.get(0)
}

/// A picked file's name and bytes.
pub async fn read_file(file: &File) -> Result<(String, Vec<u8>), String> {
    let buffer = JsFuture::from(file.array_buffer()).await.map_err(|e| format!("{}: could not be read ({e:?})", file.name()))?;
    Ok((file.name(), Uint8Array::new(&buffer).to_vec()))
}

/// Saves `bytes` as a download named `name`.
pub fn download(name: &str, bytes: &[u8]) -> Result<(), String> {
    let parts = Array::of1(&Uint8Array::from(bytes));
    let options = BlobPropertyBag::new();
    options.set_type("application/octet-stream");
    let blob = Blob::new_with_u8_array_sequence_and_options(&parts, &options).map_err(|e| format!("could not make the file ({e:?})"))?;
    let url = Url::create_object_url_with_blob(&blob).map_err(|e| format!("could not make the file ({e:?})"))?;
    let document = web_sys::window().and_then(|w| w.document()).ok_or("no document")?;
    let a: HtmlAnchorElement = document.create_element("a").map_err(|e| format!("{e:?}"))?.unchecked_into();
    a.set_href(&url);
    a.set_download(name);
    a.click();
    // The browser has taken the file once the click is handled; free the URL after that.
    let revoke = wasm_bindgen::closure::Closure::once_into_js(move || {
        let _ = Url::revoke_object_url(&url);
    });
    if let Some(w) = web_sys::window() {
        let _ = w.set_timeout_with_callback_and_timeout_and_arguments_0(revoke.unchecked_ref(), 10_000);
    }
    Ok(())
}
