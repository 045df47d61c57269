//! The messages between the page and its burn worker (`worker/`), as serde types that both
//! sides use: the page posts a [`WorkerRequest`], the worker answers each with exactly one
//! [`WorkerReply`] (one request at a time). In the browser they travel as JS objects
//! (serde-wasm-bindgen: the byte fields as Uint8Array). Enums are externally tagged
//! (`{"steps": {"count": 3}}`), which serde-wasm-bindgen reads without buffering: an
//! internally tagged enum would buffer each field, and cannot buffer a Uint8Array.

use crate::data::{Dataset, Split};
use crate::train::{EvalResult, StepClock, StepMetrics, TrainConfig, Weights};
use serde::{Deserialize, Serialize};

/// The page asks.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum WorkerRequest {
    /// The data and settings of a new run.
    Init {
        #[serde(with = "serde_bytes")]
        train_images: Vec<u8>,
        #[serde(with = "serde_bytes")]
        train_labels: Vec<u8>,
        #[serde(with = "serde_bytes")]
        test_images: Vec<u8>,
        #[serde(with = "serde_bytes")]
        test_labels: Vec<u8>,
        batch: usize,
        lr: f32,
        seed: u64,
    },
    /// Train up to `count` steps, stopping at the end of an epoch.
    Steps { count: usize },
    /// Loss, accuracy and log-probabilities on the test split.
    Evaluate,
    /// Loss and accuracy on the whole training split (no log-probabilities).
    EvaluateTrain,
    /// The current weights.
    Weights,
    /// Replace the weights (checked first: bad weights are refused and the model is kept).
    SetWeights { params: Vec<f32>, stats: Vec<f32> },
}

/// The worker answers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum WorkerReply {
    /// Posted once when the worker's bundle has loaded.
    Loaded,
    Ready {
        clock: StepClock,
    },
    Stepped {
        metrics: Vec<StepMetrics>,
        clock: StepClock,
    },
    /// `logprobs`: `count * classes` floats, in split order.
    Evaluated {
        result: EvalResult,
        logprobs: Vec<f32>,
    },
    Weights {
        params: Vec<f32>,
        stats: Vec<f32>,
    },
    WeightsSet,
    Error {
        message: String,
    },
}

impl WorkerRequest {
    pub fn init(dataset: &Dataset, config: &TrainConfig) -> Self {
        WorkerRequest::Init {
            train_images: dataset.train.images.clone(),
            train_labels: dataset.train.labels.clone(),
            test_images: dataset.test.images.clone(),
            test_labels: dataset.test.labels.clone(),
            batch: config.batch,
            lr: config.adam.lr,
            seed: config.seed,
        }
    }

    /// The dataset and settings an `Init` carries (None for other requests). The worker
    /// checks them again as any trainer does.
    pub fn into_run(self) -> Option<(Dataset, TrainConfig)> {
        let WorkerRequest::Init { train_images, train_labels, test_images, test_labels, batch, lr, seed } = self else {
            return None;
        };
        let dataset = Dataset {
            train: Split { images: train_images, labels: train_labels },
            test: Split { images: test_images, labels: test_labels },
        };
        let mut config = TrainConfig { batch, seed, ..Default::default() };
        config.adam.lr = lr;
        Some((dataset, config))
    }

    pub fn set_weights(w: &Weights) -> Self {
        WorkerRequest::SetWeights { params: w.params.clone(), stats: w.stats.clone() }
    }
}

impl WorkerReply {
    /// The kind's name as it travels, for messages about unexpected replies.
    pub fn kind(&self) -> &'static str {
        match self {
            WorkerReply::Loaded => "loaded",
            WorkerReply::Ready { .. } => "ready",
            WorkerReply::Stepped { .. } => "stepped",
            WorkerReply::Evaluated { .. } => "evaluated",
            WorkerReply::Weights { .. } => "weights",
            WorkerReply::WeightsSet => "weightsSet",
            WorkerReply::Error { .. } => "error",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_keep_their_wire_names_and_round_trip() {
        let json = serde_json::to_string(&WorkerRequest::Steps { count: 3 }).unwrap();
        assert_eq!(json, r#"{"steps":{"count":3}}"#);
        assert_eq!(serde_json::to_string(&WorkerRequest::Evaluate).unwrap(), r#""evaluate""#);
        assert_eq!(
            serde_json::to_string(&WorkerRequest::SetWeights { params: vec![1.5], stats: vec![] }).unwrap(),
            r#"{"setWeights":{"params":[1.5],"stats":[]}}"#
        );
        let clock = StepClock { steps_per_epoch: 4, steps: 5, epoch: 1, step_in_epoch: 1 };
        let reply = WorkerReply::Stepped { metrics: vec![StepMetrics { step: 4, loss: 0.5, accuracy: 0.25 }], clock };
        let json = serde_json::to_string(&reply).unwrap();
        assert!(json.starts_with(r#"{"stepped":{"metrics":[{"step":4,"loss":0.5,"accuracy":0.25}]"#), "{json}");
        assert_eq!(serde_json::from_str::<WorkerReply>(&json).unwrap(), reply);
        assert_eq!(serde_json::to_string(&WorkerReply::WeightsSet).unwrap(), r#""weightsSet""#);
        assert_eq!(WorkerReply::WeightsSet.kind(), "weightsSet");
        assert!(serde_json::from_str::<WorkerRequest>(r#"{"fly":{}}"#).is_err());
    }

    #[test]
    fn init_carries_the_run() {
        let dataset = Dataset {
            train: Split { images: vec![1; 784 * 2], labels: vec![3, 4] },
            test: Split { images: vec![2; 784], labels: vec![5] },
        };
        let mut config = TrainConfig { batch: 2, seed: 9, ..Default::default() };
        config.adam.lr = 0.01;
        let (d, c) = WorkerRequest::init(&dataset, &config).into_run().unwrap();
        assert_eq!((d.train.labels, d.test.labels, d.test.images.len()), (vec![3, 4], vec![5], 784));
        assert_eq!((c.batch, c.seed, c.adam.lr), (2, 9, 0.01));
        assert!(WorkerRequest::Evaluate.into_run().is_none());
        assert_eq!(serde_json::to_string(&WorkerRequest::EvaluateTrain).unwrap(), r#""evaluateTrain""#);
    }
}
