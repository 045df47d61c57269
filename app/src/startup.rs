//! Getting going: the GPU (or the CPU fallback when there is no WebGPU), then the data,
//! then what the query string asked for (a benchmark, or training right away). Also the
//! dataset switches: another shipped dataset, or the user's own idx files.

use crate::logic::{self, format_bytes};
use crate::state::{AppState, Phase};
use crate::{bench, now_s, run_loop};
use engine::data::{BuiltinDataset, NamedBytes};
use engine::train::BackendKind;
use engine::{wgpu, GpuContext};
use leptos::prelude::*;
use std::rc::Rc;

fn has_webgpu() -> bool {
    web_sys::window()
        .and_then(|w| js_sys::Reflect::get(&w.navigator(), &"gpu".into()).ok())
        .is_some_and(|gpu| !gpu.is_undefined() && !gpu.is_null())
}

pub const NO_WEBGPU_HELP: &str =
    "The page trains on the CPU instead (burn's CPU backend in a Web Worker). That is much slower: a CPU core does \
a few GFLOP/s where a GPU does thousands. For GPU speed use a recent Chrome or Edge (or Chromium with \
--enable-unsafe-webgpu), Safari 26+, or Firefox with WebGPU enabled; on Linux, Chrome may need \
chrome://flags/#enable-unsafe-webgpu.";

/// The adapter's name and whether it is hardware, e.g. "WebGPU adapter · software (fallback)".
pub fn adapter_identity(info: &wgpu::AdapterInfo) -> String {
    // Browsers often keep the adapter's name private; the fallback flag is public.
    let name = if info.name.is_empty() { "WebGPU adapter" } else { info.name.as_str() };
    let kind = if info.device_type == wgpu::DeviceType::Cpu { "software (fallback)" } else { "hardware" };
    format!("{name} · {kind}")
}

/// Acquires the GPU (or falls back to the CPU backend), then downloads and verifies the data.
pub async fn start_up(app: AppState) {
    let (ui, form, flags) = (app.ui, app.form, app.flags);
    let session = app.session();
    let no_gpu = |why: String| {
        ui.webgpu_missing.set(Some(why));
        form.backend.set(BackendKind::BurnCpu.name().into());
        ui.adapter.set("CPU: burn's flex backend in a Web Worker".into());
    };
    if session.ctx.borrow().is_none() && !has_webgpu() {
        no_gpu(format!("This browser does not offer WebGPU. {NO_WEBGPU_HELP}"));
    } else if session.ctx.borrow().is_none() {
        match GpuContext::acquire().await {
            Ok(ctx) => {
                let l = &ctx.limits;
                ui.adapter.set(format!(
                    "{} · max storage binding {} · {} storage buffers per stage · {} invocations per workgroup",
                    adapter_identity(&ctx.info),
                    format_bytes(l.max_storage_buffer_binding_size),
                    l.max_storage_buffers_per_shader_stage,
                    l.max_compute_invocations_per_workgroup
                ));
                ui.auto.set(engine::train::auto_backend(Some(&ctx.info)));
                *session.ctx.borrow_mut() = Some(ctx);
            }
            Err(engine::GpuError::NoAdapter(_)) => {
                no_gpu(format!("The browser has WebGPU but offered no adapter (it may be blocked for this GPU). {NO_WEBGPU_HELP}"))
            }
            Err(e) => no_gpu(format!("{e} {NO_WEBGPU_HELP}")),
        }
    }
    if session.dataset.borrow().is_some() {
        // A retry after a lost device: the data (perhaps the user's own files) is still here.
        ui.phase.set(Phase::Ready);
        return;
    }
    let dataset = app.chosen_dataset();
    form.dataset.set(dataset.id.to_string());
    if !load_builtin(app, dataset).await {
        return;
    }
    ui.startup.update(|s| s.ready_ms = Some(now_s() * 1000.0));
    if let Some(steps) = flags.bench_steps {
        let kinds: Vec<BackendKind> = if flags.bench_all {
            logic::PAGE_BACKENDS.to_vec()
        } else {
            let auto = ui.auto.get_untracked().kind;
            vec![logic::page_backend(&form.backend.get_untracked()).map_or(BackendKind::Wgsl, |c| c.resolve(auto))]
        };
        bench::run_bench(app, steps, &kinds).await;
    } else if flags.autostart {
        run_loop::start_training(app).await;
    } else if !flags.embed {
        crate::kept_run::offer(app).await;
    }
}

/// Downloads (or reads from the cache) and verifies one of the shipped datasets.
pub async fn load_builtin(app: AppState, dataset: BuiltinDataset) -> bool {
    let ui = app.ui;
    ui.phase.set(Phase::Loading);
    ui.download.set((0, dataset.total_bytes()));
    let started = now_s();
    let result = crate::fetch::load_dataset(&dataset, !app.flags.no_cache, &mut |p| ui.download.set((p.loaded, p.total))).await;
    match result {
        Ok((data, cached)) => {
            ui.data_note.set(format!(
                "{}: {} training and {} test images, verified ({} in {:.1}s)",
                dataset.title,
                data.train.len(),
                data.test.len(),
                if cached { "from the browser cache" } else { "downloaded" },
                now_s() - started
            ));
            let session = app.session();
            *session.dataset.borrow_mut() = Some(Rc::new(data));
            *session.dataset_id.borrow_mut() = dataset.id.to_string();
            // The own files' identity describes only the own files while they are loaded.
            *session.own_files.borrow_mut() = None;
            ui.ins.set_classes(&dataset.classes);
            ui.phase.set(Phase::Ready);
            true
        }
        Err(e) => {
            ui.phase.set(Phase::Failed(format!("Could not load the data: {e}")));
            false
        }
    }
}

/// Uses the user's own idx pair (images and labels) as the dataset; bad files are refused
/// with the reason, and the current data is kept.
pub async fn load_own_files(app: AppState, images: web_sys::File, labels: web_sys::File) {
    let ui = app.ui;
    let read = async { Ok::<_, String>((crate::files::read_file(&images).await?, crate::files::read_file(&labels).await?)) };
    let parsed = read.await.and_then(|((i_name, i_bytes), (l_name, l_bytes))| {
        let identity = crate::checkpoint::OwnFiles::new((&i_name, &i_bytes), (&l_name, &l_bytes));
        engine::data::dataset_from_pair(NamedBytes { name: &i_name, bytes: &i_bytes }, NamedBytes { name: &l_name, bytes: &l_bytes })
            .map(|data| (data, identity))
            .map_err(|e| e.to_string())
    });
    match parsed {
        Ok((data, identity)) => {
            app.reset_run();
            ui.data_note.set(format!(
                "Your files: {} training and {} test images (the last sixth is held out for testing; headers checked)",
                data.train.len(),
                data.test.len()
            ));
            let session = app.session();
            *session.dataset.borrow_mut() = Some(Rc::new(data));
            *session.dataset_id.borrow_mut() = "own".into();
            *session.own_files.borrow_mut() = Some(identity);
            ui.ins.set_classes(&engine::data::MNIST_CLASSES);
            ui.data_error.set(None);
            ui.phase.set(Phase::Ready);
        }
        Err(e) => ui.data_error.set(Some(format!("{e} The current data is kept."))),
    }
}
