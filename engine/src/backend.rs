//! One training interface over three backends: our WGSL kernels (the default), burn-wgpu
//! and burn's CPU backend. An enum rather than a trait object, because the interface is
//! partly async and the set of backends is closed.

#[cfg(feature = "burn")]
use crate::burn_backend::BurnTrainer;
use crate::trainer::{EvalResult, EvalSet, StepMetrics, TrainError, Trainer, Weights};

/// A training backend, by the name users type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BackendKind {
    /// Our WGSL compute shaders on wgpu.
    Wgsl,
    /// burn with burn-wgpu (cubecl), on the default wgpu adapter.
    BurnWgpu,
    /// burn's pure-Rust CPU backend (flex).
    BurnCpu,
}

impl BackendKind {
    pub const ALL: [BackendKind; 3] = [BackendKind::Wgsl, BackendKind::BurnWgpu, BackendKind::BurnCpu];

    pub fn name(self) -> &'static str {
        match self {
            BackendKind::Wgsl => "wgsl",
            BackendKind::BurnWgpu => "burn-wgpu",
            BackendKind::BurnCpu => "burn-cpu",
        }
    }

    pub fn parse(name: &str) -> Result<Self, String> {
        Self::ALL.into_iter().find(|k| k.name() == name).ok_or_else(|| format!("unknown backend `{name}`; use wgsl, burn-wgpu or burn-cpu"))
    }

    /// Whether this build includes the backend (burn ones sit behind cargo features).
    pub fn compiled_in(self) -> bool {
        match self {
            BackendKind::Wgsl => true,
            BackendKind::BurnWgpu => cfg!(feature = "burn-wgpu"),
            BackendKind::BurnCpu => cfg!(feature = "burn"),
        }
    }

    /// An error for a backend this build does not include, naming the feature to enable.
    pub fn require_compiled_in(self) -> Result<(), TrainError> {
        if self.compiled_in() {
            return Ok(());
        }
        let feature = if self == BackendKind::BurnWgpu { "burn-wgpu" } else { "burn" };
        Err(TrainError::Config(format!("this build has no {} backend; rebuild with `--features {feature}`", self.name())))
    }

    /// The burn device behind a burn backend.
    #[cfg(feature = "burn")]
    pub fn burn_device(self) -> Result<crate::burn_backend::BurnDevice, TrainError> {
        use crate::burn_backend::BurnDevice;
        self.require_compiled_in()?;
        match self {
            BackendKind::BurnCpu => Ok(BurnDevice::Cpu),
            #[cfg(feature = "burn-wgpu")]
            BackendKind::BurnWgpu => Ok(BurnDevice::Wgpu),
            _ => Err(TrainError::Config(format!("{} is not a burn backend", self.name()))),
        }
    }
}

impl std::fmt::Display for BackendKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A trainer on any backend.
pub enum AnyTrainer {
    Wgsl(Box<Trainer>),
    #[cfg(feature = "burn")]
    Burn(Box<BurnTrainer>),
}

macro_rules! each {
    ($self:expr, $t:ident => $body:expr) => {
        match $self {
            AnyTrainer::Wgsl($t) => $body,
            #[cfg(feature = "burn")]
            AnyTrainer::Burn($t) => $body,
        }
    };
}

impl AnyTrainer {
    pub fn kind(&self) -> BackendKind {
        match self {
            AnyTrainer::Wgsl(_) => BackendKind::Wgsl,
            #[cfg(feature = "burn")]
            AnyTrainer::Burn(t) => match t.backend() {
                crate::burn_backend::BurnDevice::Cpu => BackendKind::BurnCpu,
                #[cfg(feature = "burn-wgpu")]
                crate::burn_backend::BurnDevice::Wgpu => BackendKind::BurnWgpu,
            },
        }
    }
    pub fn config(&self) -> &crate::TrainConfig {
        each!(self, t => &t.config)
    }
    pub fn steps_per_epoch(&self) -> usize {
        each!(self, t => t.steps_per_epoch())
    }
    pub fn steps_done(&self) -> u64 {
        each!(self, t => t.steps_done())
    }
    pub fn epoch(&self) -> usize {
        each!(self, t => t.epoch())
    }
    pub fn step_in_epoch(&self) -> usize {
        each!(self, t => t.step_in_epoch())
    }
    pub fn step(&mut self) -> Result<(), TrainError> {
        each!(self, t => t.step())
    }
    pub fn poll_metrics(&mut self) -> Result<Vec<StepMetrics>, TrainError> {
        each!(self, t => t.poll_metrics())
    }
    pub async fn flush_metrics(&mut self) -> Result<Vec<StepMetrics>, TrainError> {
        each!(self, t => t.flush_metrics().await)
    }
    pub async fn evaluate(&mut self, set: EvalSet) -> Result<EvalResult, TrainError> {
        each!(self, t => t.evaluate(set).await)
    }
    pub async fn evaluate_predictions(&mut self, set: EvalSet) -> Result<(EvalResult, Vec<f32>), TrainError> {
        each!(self, t => t.evaluate_predictions(set).await)
    }
    pub async fn weights(&self) -> Result<Weights, TrainError> {
        match self {
            AnyTrainer::Wgsl(t) => t.weights().await,
            #[cfg(feature = "burn")]
            AnyTrainer::Burn(t) => t.net.weights().await,
        }
    }
    pub fn set_weights(&mut self, w: &Weights) -> Result<(), TrainError> {
        match self {
            AnyTrainer::Wgsl(t) => t.set_weights(w),
            #[cfg(feature = "burn")]
            AnyTrainer::Burn(t) => t.net.set_weights(w),
        }
    }

    /// Waits until every submitted step has finished (burn steps are already synchronous
    /// up to their metrics read-back, which this forces).
    pub async fn wait_idle(&mut self) -> Result<Vec<StepMetrics>, TrainError> {
        match self {
            AnyTrainer::Wgsl(t) => {
                t.gpu_idle().await?;
                t.poll_metrics()
            }
            #[cfg(feature = "burn")]
            AnyTrainer::Burn(t) => t.flush_metrics().await,
        }
    }

    /// Native convenience: trains the rest of the current epoch, calling `on_progress` after
    /// every step with the metrics that have arrived so far (a few steps behind the device).
    /// Returns every step's metrics of the epoch once the device has finished.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn run_epoch(&mut self, mut on_progress: impl FnMut(&crate::trainer::EpochProgress)) -> Result<Vec<StepMetrics>, TrainError> {
        let total = self.steps_per_epoch();
        let mut metrics = Vec::with_capacity(total);
        loop {
            self.step()?;
            metrics.extend(self.poll_metrics()?);
            let done = if self.step_in_epoch() == 0 { total } else { self.step_in_epoch() };
            on_progress(&crate::trainer::EpochProgress { epoch: self.epoch(), step: done, steps: total, metrics: &metrics });
            if self.step_in_epoch() == 0 {
                break;
            }
        }
        metrics.extend(crate::trainer::block_on(self.flush_metrics())?);
        Ok(metrics)
    }
}
