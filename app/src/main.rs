//! Browser front end (Leptos, built by Trunk). A placeholder until the browser issue:
//! it links the engine so that the workspace checks the engine's wasm32 build path.

fn main() {
    // Nothing yet: the page, its charts and the WebGPU training loop come with the browser issue.
    let _ = engine::model::Model::tutorial();
}
