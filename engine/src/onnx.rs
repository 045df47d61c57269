//! ONNX export: the model in evaluation mode as an ONNX graph (opset 13) that any ONNX
//! runtime can run. Input `image`: N×1×28×28 float pixels divided by 255 (as training saw
//! them); output `log_probs`: N×10 log-probabilities. Convolutions carry SAME padding as
//! explicit pads, BatchNorm its running statistics. Encoding is prost's, over the subset of
//! `onnx.proto`'s messages the graph needs (same field numbers as the official schema).

use crate::model::{Model, Op, BN_EPS};
use crate::weights::Weights;
use prost::Message;

/// The opset the graph is written against.
pub const OPSET: i64 = 13;
/// ONNX IR version 7 goes with opset 13.
const IR_VERSION: i64 = 7;
const FLOAT: i32 = 1;
const ATTR_FLOAT: i32 = 1;
const ATTR_INT: i32 = 2;
const ATTR_INTS: i32 = 7;
pub const INPUT: &str = "image";
pub const OUTPUT: &str = "log_probs";

#[derive(Clone, PartialEq, Message)]
struct ModelProto {
    #[prost(int64, tag = "1")]
    ir_version: i64,
    #[prost(string, tag = "2")]
    producer_name: String,
    #[prost(string, tag = "3")]
    producer_version: String,
    #[prost(string, tag = "6")]
    doc_string: String,
    #[prost(message, optional, tag = "7")]
    graph: Option<GraphProto>,
    #[prost(message, repeated, tag = "8")]
    opset_import: Vec<OperatorSetIdProto>,
}

#[derive(Clone, PartialEq, Message)]
struct OperatorSetIdProto {
    #[prost(string, tag = "1")]
    domain: String,
    #[prost(int64, tag = "2")]
    version: i64,
}

#[derive(Clone, PartialEq, Message)]
struct GraphProto {
    #[prost(message, repeated, tag = "1")]
    node: Vec<NodeProto>,
    #[prost(string, tag = "2")]
    name: String,
    #[prost(message, repeated, tag = "5")]
    initializer: Vec<TensorProto>,
    #[prost(string, tag = "10")]
    doc_string: String,
    #[prost(message, repeated, tag = "11")]
    input: Vec<ValueInfoProto>,
    #[prost(message, repeated, tag = "12")]
    output: Vec<ValueInfoProto>,
}

#[derive(Clone, PartialEq, Message)]
struct NodeProto {
    #[prost(string, repeated, tag = "1")]
    input: Vec<String>,
    #[prost(string, repeated, tag = "2")]
    output: Vec<String>,
    #[prost(string, tag = "3")]
    name: String,
    #[prost(string, tag = "4")]
    op_type: String,
    #[prost(message, repeated, tag = "5")]
    attribute: Vec<AttributeProto>,
}

#[derive(Clone, PartialEq, Message)]
struct AttributeProto {
    #[prost(string, tag = "1")]
    name: String,
    #[prost(float, tag = "2")]
    f: f32,
    #[prost(int64, tag = "3")]
    i: i64,
    #[prost(int64, repeated, tag = "8")]
    ints: Vec<i64>,
    #[prost(int32, tag = "20")]
    r#type: i32,
}

#[derive(Clone, PartialEq, Message)]
struct TensorProto {
    #[prost(int64, repeated, tag = "1")]
    dims: Vec<i64>,
    #[prost(int32, tag = "2")]
    data_type: i32,
    #[prost(string, tag = "8")]
    name: String,
    /// Little-endian f32s.
    #[prost(bytes = "vec", tag = "9")]
    raw_data: Vec<u8>,
}

#[derive(Clone, PartialEq, Message)]
struct ValueInfoProto {
    #[prost(string, tag = "1")]
    name: String,
    #[prost(message, optional, tag = "2")]
    r#type: Option<TypeProto>,
    #[prost(string, tag = "3")]
    doc_string: String,
}

#[derive(Clone, PartialEq, Message)]
struct TypeProto {
    #[prost(message, optional, tag = "1")]
    tensor_type: Option<TensorType>,
}

#[derive(Clone, PartialEq, Message)]
struct TensorType {
    #[prost(int32, tag = "1")]
    elem_type: i32,
    #[prost(message, optional, tag = "2")]
    shape: Option<TensorShapeProto>,
}

#[derive(Clone, PartialEq, Message)]
struct TensorShapeProto {
    #[prost(message, repeated, tag = "1")]
    dim: Vec<Dimension>,
}

#[derive(Clone, PartialEq, Message)]
struct Dimension {
    #[prost(int64, optional, tag = "1")]
    dim_value: Option<i64>,
    #[prost(string, optional, tag = "2")]
    dim_param: Option<String>,
}

fn ints(name: &str, values: &[usize]) -> AttributeProto {
    AttributeProto { name: name.into(), ints: values.iter().map(|&v| v as i64).collect(), r#type: ATTR_INTS, ..Default::default() }
}

fn int(name: &str, value: i64) -> AttributeProto {
    AttributeProto { name: name.into(), i: value, r#type: ATTR_INT, ..Default::default() }
}

fn node(op_type: &str, inputs: &[&str], output: &str, attribute: Vec<AttributeProto>) -> NodeProto {
    NodeProto {
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: vec![output.into()],
        name: output.into(),
        op_type: op_type.into(),
        attribute,
    }
}

fn tensor(name: &str, dims: &[usize], values: &[f32]) -> TensorProto {
    TensorProto {
        dims: dims.iter().map(|&d| d as i64).collect(),
        data_type: FLOAT,
        name: name.into(),
        raw_data: values.iter().flat_map(|v| v.to_le_bytes()).collect(),
    }
}

/// A float tensor of shape N×`dims` (N symbolic: any batch).
fn value_info(name: &str, dims: &[usize], doc: &str) -> ValueInfoProto {
    let batch = Dimension { dim_param: Some("N".into()), ..Default::default() };
    let dim = std::iter::once(batch).chain(dims.iter().map(|&d| Dimension { dim_value: Some(d as i64), ..Default::default() })).collect();
    let tensor_type = TensorType { elem_type: FLOAT, shape: Some(TensorShapeProto { dim }) };
    ValueInfoProto { name: name.into(), r#type: Some(TypeProto { tensor_type: Some(tensor_type) }), doc_string: doc.into() }
}

/// The ONNX file of `model` with `weights` (checked first), in evaluation mode.
pub fn export(model: &Model, weights: &Weights) -> Result<Vec<u8>, String> {
    weights.check(model)?;
    let param = |offset: usize| model.params.iter().find(|p| p.offset == offset).expect("every op's tensors are model parameters");
    let mut graph = GraphProto { name: "tutorial_cnn".into(), ..Default::default() };
    let mut initialize = |name: &str, dims: &[usize], values: &[f32]| graph.initializer.push(tensor(name, dims, values));
    for p in &model.params {
        initialize(&p.name, &p.shape, &weights.params[p.offset..p.offset + p.len]);
    }
    let mut nodes = Vec::new();
    let mut x = INPUT.to_string();
    let mut bns = 0;
    for (i, op) in model.ops.iter().enumerate() {
        let out = if i + 1 == model.ops.len() { OUTPUT.to_string() } else { format!("t{i}") };
        let n = match *op {
            Op::Conv { geom: g, weight, bias } => {
                let extra = |inp: usize, out: usize| ((out - 1) * g.stride + g.kernel).saturating_sub(inp);
                let (bottom, right) = (extra(g.input.h, g.output.h) - g.pad_top, extra(g.input.w, g.output.w) - g.pad_left);
                let attrs = vec![
                    ints("kernel_shape", &[g.kernel, g.kernel]),
                    ints("strides", &[g.stride, g.stride]),
                    ints("pads", &[g.pad_top, g.pad_left, bottom, right]),
                ];
                node("Conv", &[&x, &param(weight).name, &param(bias).name], &out, attrs)
            }
            Op::BatchNorm { shape, gamma, beta, stats } => {
                bns += 1;
                let (mean, var) = (format!("bn{bns}.running_mean"), format!("bn{bns}.running_var"));
                initialize(&mean, &[shape.c], &weights.stats[stats..stats + shape.c]);
                initialize(&var, &[shape.c], &weights.stats[stats + shape.c..stats + 2 * shape.c]);
                let eps = AttributeProto { name: "epsilon".into(), f: BN_EPS, r#type: ATTR_FLOAT, ..Default::default() };
                node("BatchNormalization", &[&x, &param(gamma).name, &param(beta).name, &mean, &var], &out, vec![eps])
            }
            Op::Relu { .. } => node("Relu", &[&x], &out, vec![]),
            Op::Flatten { .. } => node("Flatten", &[&x], &out, vec![int("axis", 1)]),
            // Our dense weight is [inputs, outputs]: Gemm's B without transposition.
            Op::Dense { weight, bias, .. } => node("Gemm", &[&x, &param(weight).name, &param(bias).name], &out, vec![]),
            Op::LogSoftmax { .. } => node("LogSoftmax", &[&x], &out, vec![int("axis", 1)]),
        };
        nodes.push(n);
        x = out;
    }
    graph.node = nodes;
    let input = model.spec.input;
    graph.input =
        vec![value_info(INPUT, &[input.c, input.h, input.w], "N×1×28×28 grey images, pixel values divided by 255 (0 = background)")];
    graph.output = vec![value_info(OUTPUT, &[model.classes], "natural-log probabilities of the classes")];
    graph.doc_string = "The tutorial's CNN in evaluation mode (BatchNorm with its running statistics).".into();
    let proto = ModelProto {
        ir_version: IR_VERSION,
        producer_name: "webgpu-mnist".into(),
        producer_version: env!("CARGO_PKG_VERSION").into(),
        doc_string: "Trained with our WGSL kernels (or burn); input `image` N×1×28×28 = pixels / 255, output `log_probs` N×10.".into(),
        graph: Some(graph),
        opset_import: vec![OperatorSetIdProto { domain: String::new(), version: OPSET }],
    };
    Ok(proto.encode_to_vec())
}
