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
