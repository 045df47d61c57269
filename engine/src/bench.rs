//! What a benchmark reports, as one serde type: the desktop binary's `bench --json` and the
//! page's `?bench` title both write it, and the browser benchmarks read it.

use serde::{Deserialize, Serialize};

/// GPU time of one dispatch in a profiled step.
#[derive(Clone, Debug, PartialEq)]
pub struct KernelTime {
    pub kernel: &'static str,
    pub nanos: f64,
}

/// One kernel's total over a profiled step.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KernelTotal {
    pub kernel: String,
    pub ms: f64,
    pub dispatches: usize,
}

/// Each kernel's total time over a profiled step's dispatches, slowest first.
pub fn kernel_totals(times: &[KernelTime]) -> Vec<KernelTotal> {
    let mut totals: Vec<KernelTotal> = Vec::new();
    for t in times {
        match totals.iter_mut().find(|total| total.kernel == t.kernel) {
            Some(total) => {
                total.ms += t.nanos / 1e6;
                total.dispatches += 1;
            }
            None => totals.push(KernelTotal { kernel: t.kernel.to_string(), ms: t.nanos / 1e6, dispatches: 1 }),
        }
    }
    totals.sort_by(|a, b| b.ms.total_cmp(&a.ms));
    totals
}

/// One backend's measured training speed.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct BenchReport {
    /// `wgsl`, `burn-wgpu` or `burn-cpu`.
    pub backend: String,
    pub adapter: String,
    pub batch: usize,
    /// Timed steps, after warm-up.
    pub steps: usize,
    pub images_per_s: f64,
    pub ms_per_step: f64,
    /// Ours only: GPU memory the trainer allocated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu_memory_bytes: Option<u64>,
    /// Ours only: the timed steps' submissions per second, kernel dispatches per step, and
    /// (natively) CPU time per step spent encoding and inside the submit call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub submissions_per_s: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dispatches_per_step: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_encode_ms_per_step: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_submit_ms_per_step: Option<f64>,
    /// Ours only: the timed steps per submission, on average (1: one per step).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steps_per_submission: Option<f64>,
    /// Ours only, where the adapter has timestamp queries: one profiled step, per kernel.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kernels: Vec<KernelTotal>,
    /// The page only: building the trainer, from there to the first step done (pipelines
    /// compiled), and from navigation to that first step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub setup_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_step_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub startup_ms: Option<f64>,
    /// With several backends side by side: every one of them, this first one included.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub backends: Vec<BenchReport>,
    /// Set when the benchmark failed; the numbers are then zero.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl BenchReport {
    /// `steps` timed steps of `batch` images that took `seconds`, on `backend`.
    pub fn timed(backend: &str, batch: usize, steps: usize, seconds: f64) -> Self {
        BenchReport {
            backend: backend.into(),
            batch,
            steps,
            images_per_s: (steps * batch) as f64 / seconds,
            ms_per_step: seconds * 1e3 / steps as f64,
            ..Default::default()
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a bench report serialises")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals_sum_per_kernel_slowest_first() {
        let t = |kernel, nanos| KernelTime { kernel, nanos };
        let totals = kernel_totals(&[t("a", 1e6), t("b", 5e6), t("a", 2e6)]);
        assert_eq!(
            totals,
            vec![KernelTotal { kernel: "b".into(), ms: 5.0, dispatches: 1 }, KernelTotal { kernel: "a".into(), ms: 3.0, dispatches: 2 }]
        );
    }

    #[test]
    fn json_round_trips_and_leaves_out_what_is_not_measured() {
        let r = BenchReport::timed("burn-cpu", 128, 5, 2.0);
        let json = r.to_json();
        assert_eq!(json, r#"{"backend":"burn-cpu","adapter":"","batch":128,"steps":5,"images_per_s":320.0,"ms_per_step":400.0}"#);
        let mut both = BenchReport { backend: "wgsl".into(), gpu_memory_bytes: Some(7), ..Default::default() };
        both.backends.push(r);
        assert_eq!(serde_json::from_str::<BenchReport>(&both.to_json()).unwrap(), both);
    }
}
