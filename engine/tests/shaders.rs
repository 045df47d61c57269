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

/// A uniform struct as compared: (name, [(member, offset, type)], size).
type Layout = (String, Vec<(String, usize, String)>, usize);

/// The WGSL name of a member's type: a struct's name, or the scalar's.
fn wgsl_type_name(module: &naga::Module, ty: naga::Handle<naga::Type>) -> String {
    let t = &module.types[ty];
    if let Some(name) = &t.name {
        return name.clone();
    }
    match t.inner {
        naga::TypeInner::Scalar(naga::Scalar { kind: naga::ScalarKind::Uint, width: 4 }) => "u32".into(),
        naga::TypeInner::Scalar(naga::Scalar { kind: naga::ScalarKind::Float, width: 4 }) => "f32".into(),
        ref other => format!("{other:?}"),
    }
}

/// Every struct in `shaders/include/uniforms.wgsl` as (name, [(member, offset, type)], size).
fn wgsl_uniforms(source: &str) -> Vec<Layout> {
    let module = naga::front::wgsl::parse_str(source).unwrap_or_else(|e| panic!("uniforms.wgsl: {}", e.emit_to_string(source)));
    let mut out = Vec::new();
    for (_, t) in module.types.iter() {
        if let (Some(name), naga::TypeInner::Struct { members, span }) = (&t.name, &t.inner) {
            let members =
                members.iter().map(|m| (m.name.clone().unwrap_or_default(), m.offset as usize, wgsl_type_name(&module, m.ty))).collect();
            out.push((name.clone(), members, *span as usize));
        }
    }
    out
}

fn rust_uniforms() -> Vec<Layout> {
    engine::gpu::uniforms::all_layouts()
        .into_iter()
        .map(|l| (l.name.to_string(), l.fields.iter().map(|f| (f.name.to_string(), f.offset, f.ty.to_string())).collect(), l.size))
        .collect()
}

#[test]
fn every_uniform_has_one_layout_in_rust_and_wgsl() {
    let mut wgsl = wgsl_uniforms(engine::gpu::pipelines::UNIFORMS_WGSL);
    let mut rust = rust_uniforms();
    wgsl.sort();
    rust.sort();
    let names = |v: &[Layout]| v.iter().map(|u| u.0.clone()).collect::<Vec<_>>();
    assert_eq!(names(&wgsl), names(&rust), "the same structs on both sides");
    for (w, r) in wgsl.iter().zip(&rust) {
        assert_eq!(w, r, "struct {}: WGSL (left) and Rust (right) disagree", w.0);
        assert_eq!(w.2 % 16, 0, "struct {}: a uniform's size is a multiple of 16 bytes", w.0);
    }
}

#[test]
fn the_layout_check_catches_a_moved_member() {
    // The same check on a WGSL side with two members swapped must fail.
    let swapped = engine::gpu::pipelines::UNIFORMS_WGSL.replace(
        "struct AdamParams { count: u32, beta1: f32, beta2: f32, eps: f32, segments: u32,",
        "struct AdamParams { count: u32, beta2: f32, beta1: f32, eps: f32, segments: u32,",
    );
    assert_ne!(swapped, engine::gpu::pipelines::UNIFORMS_WGSL, "the test edits the real declaration");
    let wgsl = wgsl_uniforms(&swapped);
    let rust = rust_uniforms();
    let adam = |v: &[Layout]| v.iter().find(|u| u.0 == "AdamParams").cloned().unwrap();
    assert_ne!(adam(&wgsl), adam(&rust));
}

#[test]
fn every_kernel_takes_a_shared_uniform() {
    let names: Vec<String> = rust_uniforms().into_iter().map(|u| u.0).collect();
    for (name, body) in SHADERS {
        let declared = body
            .lines()
            .find_map(|l| l.trim().strip_prefix("@group(0) @binding(0) var<uniform> p: "))
            .unwrap_or_else(|| panic!("{name}.wgsl declares its uniform `p` at binding 0"));
        let ty = declared.trim_end_matches(';');
        assert!(names.iter().any(|n| n == ty), "{name}.wgsl's uniform {ty} is in shaders/include/uniforms.wgsl and mirrored in Rust");
        assert!(!body.contains("struct Params") && !body.contains("struct Step"), "{name}.wgsl declares no uniform struct of its own");
    }
}
