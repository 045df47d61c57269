//! Weight files are untrusted: a damaged or foreign file is refused with a message that
//! names the tensor and the cause, and text from the file is escaped and cut short.

use engine::model::Model;
use engine::weights::{self, Weights, WeightsError, WeightsMeta, MAX_MAGNITUDE};
use safetensors::tensor::{Dtype, TensorView};
use std::collections::HashMap;

fn saved(model: &Model, edit: impl FnOnce(&mut Weights)) -> Vec<u8> {
    let mut w = Weights::initial(model, 1);
    edit(&mut w);
    weights::save(model, &w, &WeightsMeta::default()).unwrap()
}

/// The stats offset of BatchNorm 2's running variance (after its running mean).
fn second_running_var(model: &Model) -> usize {
    let bn = model.ops.iter().filter_map(|op| match op {
        engine::model::Op::BatchNorm { shape, stats, .. } => Some((*stats, shape.c)),
        _ => None,
    });
    let (stats, c) = bn.clone().nth(1).unwrap();
    stats + c
}

#[test]
fn a_negative_running_variance_is_refused_and_named() {
    let model = Model::tutorial();
    let at = second_running_var(&model) + 3;
    let bytes = saved(&model, |w| w.stats[at] = -0.5);
    let err = weights::load(&model, &bytes).unwrap_err();
    assert!(matches!(&err, WeightsError::Implausible { name, index: 3, .. } if name == "bn2.running_var"), "{err:?}");
    assert!(err.to_string().contains("cannot be negative"), "{err}");
    // Zero is a valid variance (a channel that never fired).
    let ok = saved(&model, |w| w.stats[at] = 0.0);
    assert!(weights::load(&model, &ok).is_ok());
}

#[test]
fn an_absurd_magnitude_is_refused_and_the_limit_is_inclusive() {
    let model = Model::tutorial();
    let name = model.params[2].name.clone();
    let offset = model.params[2].offset;
    let bytes = saved(&model, |w| w.params[offset + 1] = MAX_MAGNITUDE * 2.0);
    let err = weights::load(&model, &bytes).unwrap_err();
    assert!(matches!(&err, WeightsError::Implausible { name: n, index: 1, .. } if *n == name), "{err:?}");
    let at_limit = saved(&model, |w| w.params[offset + 1] = -MAX_MAGNITUDE);
    assert!(weights::load(&model, &at_limit).is_ok());
}

#[test]
fn a_foreign_architecture_string_is_escaped_and_cut_short() {
    let model = Model::tutorial();
    let data = vec![0u8; 4];
    let view = TensorView::new(Dtype::F32, vec![1], &data).unwrap();
    let evil = format!("\u{1b}[31mred\n{}", "x".repeat(100_000));
    let info = HashMap::from([("architecture".to_string(), evil)]);
    let bytes = safetensors::serialize([("w", view)], Some(info)).unwrap();
    let err = weights::load(&model, &bytes).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, WeightsError::Architecture { .. }), "{err:?}");
    assert!(msg.contains(r#""\u{1b}[31mred\nxxx"#), "{msg}");
    assert!(!msg.contains('\u{1b}') && !msg.contains('\n'), "{msg}");
    assert!(msg.contains("(100009 characters)") && msg.len() < 1_000, "{} bytes", msg.len());
}

#[test]
fn an_accuracy_outside_0_to_1_in_the_metadata_is_ignored() {
    let model = Model::tutorial();
    for (text, expected) in [("NaN", None), ("1.5", None), ("-0.1", None), ("0.9", Some(0.9))] {
        let mut bytes = saved(&model, |_| {});
        // Re-save with the given accuracy text in the metadata.
        let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
        let tensors: Vec<(String, TensorView)> = st.tensors();
        let (_, header) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
        let mut info = header.metadata().clone().unwrap_or_default();
        info.insert("test_accuracy".into(), text.into());
        bytes = safetensors::serialize(tensors, Some(info)).unwrap();
        let (_, meta) = weights::load(&model, &bytes).unwrap();
        assert_eq!(meta.test_accuracy, expected, "{text}");
    }
}

#[test]
fn notes_come_back_under_their_own_keys_and_nothing_else_does() {
    let model = Model::tutorial();
    let mut meta = WeightsMeta { epoch: 3, ..Default::default() };
    meta.notes.insert("run".into(), r#"{"chart":[1,2]}"#.into());
    meta.notes.insert("empty".into(), String::new());
    let bytes = weights::save(&model, &Weights::initial(&model, 1), &meta).unwrap();
    let (_, back) = weights::load(&model, &bytes).unwrap();
    assert_eq!(back.notes, meta.notes);
    // The fixed keys (architecture, epoch, seed) are not notes.
    assert_eq!(back.notes.len(), 2);
}
