//! Every WGSL file parses and validates with naga (no GPU needed).

use engine::gpu::{shader_source, RegisterBlock, SHADERS};

#[test]
fn every_shader_validates_with_naga() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shaders");
    let on_disk = std::fs::read_dir(&dir).unwrap().filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|x| x == "wgsl")).count();
    assert_eq!(on_disk, SHADERS.len(), "every file in shaders/ is listed in engine::gpu::SHADERS");
    for ((name, _), block) in SHADERS.iter().flat_map(|s| RegisterBlock::ALL.map(|b| (s, b))) {
        let source = &shader_source(name, block).expect("listed");
        let module =
            naga::front::wgsl::parse_str(source).unwrap_or_else(|e| panic!("{name}.wgsl ({block:?}): {}", e.emit_to_string(source)));
        let mut validator = naga::valid::Validator::new(naga::valid::ValidationFlags::all(), naga::valid::Capabilities::empty());
        validator.validate(&module).unwrap_or_else(|e| panic!("{name}.wgsl ({block:?}): {}", e.emit_to_string(source)));
        assert!(
            module.entry_points.iter().any(|ep| ep.name == "main" && ep.stage == naga::ShaderStage::Compute),
            "{name}.wgsl ({block:?}) has a compute entry point `main`"
        );
    }
}

#[test]
fn a_broken_shader_is_rejected() {
    let broken = "@compute @workgroup_size(64) fn main() { let x: f32 = 1u; }";
    let module = naga::front::wgsl::parse_str(broken);
    let rejected = match module {
        Err(_) => true,
        Ok(m) => naga::valid::Validator::new(naga::valid::ValidationFlags::all(), naga::valid::Capabilities::empty()).validate(&m).is_err(),
    };
    assert!(rejected);
}
