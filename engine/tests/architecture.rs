//! The engine's shape: no import circle between its top-level modules, and no burn in its
//! dependency tree (burn lives in the burn-peer crate).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Top-level module -> the top-level modules its files name as `crate::X` or `super::X`
/// from a module's root file (lib.rs itself only declares and re-exports).
fn module_graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in files {
        let relative = file.strip_prefix(&src).unwrap();
        let top = relative.components().next().unwrap().as_os_str().to_string_lossy().trim_end_matches(".rs").to_string();
        if top == "lib" {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        let uses = graph.entry(top.clone()).or_default();
        for (i, _) in text.match_indices("crate::") {
            let name: String = text[i + 7..].chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            if !name.is_empty() && name != top {
                uses.insert(name);
            }
        }
    }
    graph
}

/// A circle in `graph`, if there is one.
fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|n| n == node) {
            let mut cycle = path[at..].to_vec();
            cycle.push(node.to_string());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(c) = visit(next, graph, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    graph.keys().find_map(|node| visit(node, graph, &mut Vec::new(), &mut done))
}

#[test]
fn engine_modules_import_no_circle() {
    let graph = module_graph();
    for expected in ["data", "model", "weights", "reference", "gpu", "train", "inspect", "settings"] {
        assert!(graph.contains_key(expected), "module {expected} was read: {graph:?}");
    }
    assert_eq!(find_cycle(&graph), None, "import graph: {graph:?}");
    // The data path's lower layers use nothing above them.
    assert!(graph["data"].is_empty(), "data imports {:?}", graph["data"]);
    assert!(!graph["gpu"].contains("data") && !graph["gpu"].contains("train"), "gpu imports {:?}", graph["gpu"]);
}

#[test]
fn the_cycle_finder_finds_a_circle() {
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (from, to) in [("data", "inspect"), ("inspect", "train"), ("train", "data"), ("gpu", "model")] {
        graph.entry(from.into()).or_default().insert(to.into());
    }
    assert_eq!(find_cycle(&graph), Some(vec!["data".into(), "inspect".into(), "train".into(), "data".into()]));
}

#[cfg(not(target_arch = "wasm32"))]
#[test]
fn the_engine_builds_without_burn() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = std::process::Command::new(cargo)
        .args(["tree", "--locked", "--offline", "-p", "engine", "-e", "normal,build", "--prefix", "none"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo tree runs");
    let tree = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && tree.contains("wgpu"), "cargo tree -p engine: {}", String::from_utf8_lossy(&out.stderr));
    let burn: Vec<&str> = tree.lines().filter(|l| l.starts_with("burn")).collect();
    assert!(burn.is_empty(), "the engine depends on {burn:?}");
}
