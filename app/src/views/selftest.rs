//! `?selftest`: every WGSL kernel on this browser's WebGPU against the f64 reference, the
//! same cases as the native tests and `desktop selftest` (engine::selftest). Each case's row
//! appears as it finishes; at the end the title reads `SELFTEST {json}` for the e2e.

use engine::selftest::{self, CaseReport, SelfTest, Summary};
use engine::GpuContext;
use leptos::prelude::*;
use leptos::task::spawn_local;

#[derive(Clone, Debug, PartialEq)]
enum State {
    Running,
    Done { passed: bool, message: String },
    Failed(String),
}

async fn run(reports: RwSignal<Vec<CaseReport>>, state: RwSignal<State>, adapter: RwSignal<String>) {
    let ctx = match GpuContext::acquire().await {
        Ok(ctx) => ctx,
        Err(e) => return state.set(State::Failed(format!("No WebGPU device: {e}"))),
    };
    let test = SelfTest::new(ctx.clone());
    adapter.set(format!("{} · trains with register block {:?}", crate::startup::adapter_identity(&ctx.info), test.kernels.block));
    let plan = selftest::plan();
    let mut done = Vec::new();
    for (i, case) in plan.iter().enumerate() {
        match test.run(i, case).await {
            Ok(report) => {
                reports.update(|r| r.push(report.clone()));
                done.push(report);
            }
            Err(e) => return state.set(State::Failed(format!("The GPU failed during {}: {e}", case.name()))),
        }
    }
    let summary = Summary::new(adapter.get_untracked(), test.kernels.block, done);
    let message = match summary.verdict() {
        Ok(line) | Err(line) => format!("{line}."),
    };
    if let Some(doc) = web_sys::window().and_then(|w| w.document()) {
        doc.set_title(&format!("SELFTEST {}", summary.to_json()));
    }
    state.set(State::Done { passed: summary.passed, message });
}

#[component]
pub fn SelfTestPage() -> impl IntoView {
    let reports = RwSignal::new(Vec::<CaseReport>::new());
    let state = RwSignal::new(State::Running);
    let adapter = RwSignal::new(String::new());
    spawn_local(run(reports, state, adapter));
    let total = selftest::plan().len();
    let state_name = move || match state.get() {
        State::Running => "running",
        State::Done { passed: true, .. } => "passed",
        State::Done { .. } => "failed",
        State::Failed(_) => "error",
    };
    let summary = move || match state.get() {
        State::Running => format!("Running case {} of {total}…", reports.with(Vec::len) + 1),
        State::Done { message, .. } | State::Failed(message) => message,
    };
    let row = |r: CaseReport| {
        let verdict = if r.passed() { "ok" } else { "FAIL" };
        let worst = format!("{:.0}%", r.worst() * 100.0);
        view! {
            <tr data-passed=r.passed().to_string()>
                <td>{r.name.clone()}</td>
                <td>{verdict}</td>
                <td>{r.checks.len()}</td>
                <td>{worst}</td>
                <td class="failures">{r.failures()}</td>
            </tr>
        }
    };
    view! {
        <main>
            <section id="selftest" class="panel" data-state=state_name>
                <h2>"Kernel self-test"</h2>
                <p class="hint">
                    "Every WGSL kernel this page trains with, run on this browser's GPU and compared with the f64 CPU reference: random inputs, "
                    "outputs filled with NaN beforehand (an element a kernel forgets to write stays NaN and fails), batches of 1, 3 and 127, "
                    "and every register block, including the ones other GPUs get. Tolerances are relative to each tensor: 1e-5 for forward "
                    "kernels, 1e-4 for gradients."
                </p>
                <p class="hint">{move || adapter.get()}</p>
                <p id="selftest-summary" role="status">{summary}</p>
                <table class="lesson-table">
                    <thead><tr><th>"case"</th><th>"result"</th><th>"checks"</th><th>"worst, of its tolerance"</th><th>"failures"</th></tr></thead>
                    <tbody>{move || reports.get().into_iter().map(row).collect_view()}</tbody>
                </table>
                <p><a href="./">"Back to training"</a></p>
            </section>
        </main>
    }
}
