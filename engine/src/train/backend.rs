//! The training backends by the names users type. Ours is in this crate; the burn ones live
//! in the `burn-peer` crate, which also holds the enum that trains on any of them.

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
}

impl std::fmt::Display for BackendKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A backend setting: one backend, or Auto, which picks by the GPU adapter
/// ([`auto_backend`]). The page's default; `desktop --backend auto`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackendChoice {
    Auto,
    Fixed(BackendKind),
}

impl BackendChoice {
    pub fn parse(name: &str) -> Result<Self, String> {
        match name {
            "auto" => Ok(BackendChoice::Auto),
            _ => BackendKind::parse(name)
                .map(BackendChoice::Fixed)
                .map_err(|_| format!("unknown backend `{name}`; use auto, wgsl, burn-wgpu or burn-cpu")),
        }
    }

    /// The backend to train on, given what Auto would pick here.
    pub fn resolve(self, auto: BackendKind) -> BackendKind {
        match self {
            BackendChoice::Auto => auto,
            BackendChoice::Fixed(kind) => kind,
        }
    }
}

/// What Auto picked and why, in a sentence for the page and the terminal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AutoChoice {
    pub kind: BackendKind,
    pub reason: String,
}

/// The Auto rule: our kernels on a hardware GPU; burn's CPU backend where there is no
/// adapter, or only a software one (SwiftShader, llvmpipe, lavapipe: a GPU emulated on the
/// CPU), because there burn's CPU code trains faster than GPU emulation (about 3x in the
/// browser, 1.7x natively: docs/performance.md).
pub fn auto_backend(adapter: Option<&wgpu::AdapterInfo>) -> AutoChoice {
    let name = |info: &wgpu::AdapterInfo| if info.name.is_empty() { "this adapter".to_string() } else { info.name.clone() };
    match adapter {
        None => AutoChoice { kind: BackendKind::BurnCpu, reason: "there is no GPU adapter, so training runs on the CPU".into() },
        Some(info) if info.device_type == wgpu::DeviceType::Cpu => AutoChoice {
            kind: BackendKind::BurnCpu,
            reason: format!(
                "{} is a software renderer (a GPU emulated on the CPU), where burn's CPU backend trains faster than our kernels",
                name(info)
            ),
        },
        Some(info) => {
            AutoChoice { kind: BackendKind::Wgsl, reason: format!("{} is a hardware GPU, where our WGSL kernels are fastest", name(info)) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn adapter(name: &str, device_type: wgpu::DeviceType) -> wgpu::AdapterInfo {
        wgpu::AdapterInfo {
            name: name.into(),
            vendor: 0,
            device: 0,
            device_type,
            device_pci_bus_id: String::new(),
            driver: String::new(),
            driver_info: String::new(),
            backend: wgpu::Backend::Vulkan,
            subgroup_min_size: 32,
            subgroup_max_size: 32,
            transient_saves_memory: None,
            limit_bucket: None,
        }
    }

    #[test]
    fn auto_picks_ours_on_hardware_and_the_cpu_otherwise() {
        assert_eq!(auto_backend(None).kind, BackendKind::BurnCpu);
        for software in ["SwiftShader Device (Subzero)", "llvmpipe (LLVM 15.0.6, 256 bits)", ""] {
            let choice = auto_backend(Some(&adapter(software, wgpu::DeviceType::Cpu)));
            assert_eq!(choice.kind, BackendKind::BurnCpu, "{software}");
            assert!(choice.reason.contains("software renderer"), "{}", choice.reason);
        }
        for hardware in [wgpu::DeviceType::DiscreteGpu, wgpu::DeviceType::IntegratedGpu, wgpu::DeviceType::Other] {
            let choice = auto_backend(Some(&adapter("NVIDIA H100", hardware)));
            assert_eq!(choice.kind, BackendKind::Wgsl, "{hardware:?}");
            assert!(choice.reason.starts_with("NVIDIA H100 is a hardware GPU"), "{}", choice.reason);
        }
    }

    #[test]
    fn a_choice_parses_and_resolves() {
        assert_eq!(BackendChoice::parse("auto"), Ok(BackendChoice::Auto));
        assert_eq!(BackendChoice::parse("burn-wgpu"), Ok(BackendChoice::Fixed(BackendKind::BurnWgpu)));
        assert!(BackendChoice::parse("cuda").unwrap_err().contains("use auto, wgsl"));
        assert_eq!(BackendChoice::Auto.resolve(BackendKind::BurnCpu), BackendKind::BurnCpu);
        assert_eq!(BackendChoice::Fixed(BackendKind::Wgsl).resolve(BackendKind::BurnCpu), BackendKind::Wgsl);
    }
}
