//! The page's pure logic (no DOM): settings from the form or the query string, validation
//! and formatting. Tested natively and, with wasm-bindgen-test, in the browser.

use engine::data::BuiltinDataset;
use engine::settings;
use engine::train::{BackendChoice, BackendKind, TrainConfig};

/// Backends the page offers: ours on WebGPU, and burn-wgpu and burn's CPU backend in Web Workers.
pub const PAGE_BACKENDS: [BackendKind; 3] = [BackendKind::Wgsl, BackendKind::BurnWgpu, BackendKind::BurnCpu];

/// The form's fields as typed.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SettingsInput {
    pub lr: String,
    pub batch: String,
    pub epochs: String,
    pub seed: String,
    /// Train on the first N images (empty: all).
    pub limit: String,
    /// Evaluate on the first N test images (empty: all).
    pub test_limit: String,
    /// `auto`, `wgsl`, `burn-wgpu` or `burn-cpu`.
    pub backend: String,
    /// Evaluate the whole training set after every epoch, as the tutorial does.
    pub eval_train: bool,
}

impl SettingsInput {
    /// The tutorial's run: 10 epochs, batch 128, Adam 1e-3, seed 0, every training image, and
    /// the whole training and test sets evaluated after each epoch. The backend is kept.
    pub fn tutorial(backend: &str) -> Self {
        SettingsInput { epochs: "10".into(), eval_train: true, backend: backend.to_string(), ..Default::default() }
    }
}

impl Default for SettingsInput {
    fn default() -> Self {
        SettingsInput {
            lr: "0.001".into(),
            batch: "128".into(),
            epochs: "1".into(),
            seed: "0".into(),
            limit: String::new(),
            test_limit: String::new(),
            backend: "auto".into(),
            eval_train: false,
        }
    }
}

/// Validated settings.
#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    pub lr: f32,
    pub batch: usize,
    pub epochs: usize,
    pub seed: u64,
    pub limit: Option<usize>,
    pub test_limit: Option<usize>,
    pub backend: BackendChoice,
    pub eval_train: bool,
}

impl Settings {
    pub fn train_config(&self) -> TrainConfig {
        let mut c = TrainConfig { batch: self.batch, seed: self.seed, ..Default::default() };
        c.adam.lr = self.lr;
        // Fewer, larger read-backs are cheap in the browser; keep the charts a few steps behind.
        c.metrics_every = 4;
        c
    }
}

/// Checks the form against a training set of `train_len` images (bounds and messages from
/// `engine::settings`, as everywhere else).
pub fn parse_settings(input: &SettingsInput, train_len: usize, test_len: usize) -> Result<Settings, String> {
    let lr = settings::parse_learning_rate(&input.lr)?;
    let batch = settings::BATCH.parse(&input.batch)?;
    let epochs = settings::EPOCHS.parse(&input.epochs)?;
    let seed = settings::parse_seed(&input.seed)?;
    let limit = settings::TRAINING_IMAGES.at_most(train_len).parse_optional(&input.limit)?;
    let test_limit = settings::TEST_IMAGES.at_most(test_len).parse_optional(&input.test_limit)?;
    settings::check_batch_fits(batch, limit.unwrap_or(train_len))?;
    let backend = page_backend(&input.backend)?;
    Ok(Settings { lr, batch, epochs, seed, limit, test_limit, backend, eval_train: input.eval_train })
}

/// A backend the page can train on, or Auto (chosen by the adapter at startup).
pub fn page_backend(name: &str) -> Result<BackendChoice, String> {
    match BackendChoice::parse(name.trim()) {
        Ok(BackendChoice::Fixed(k)) if !PAGE_BACKENDS.contains(&k) => Err(String::new()),
        other => other,
    }
    .map_err(|_| {
        format!(
            "backend must be auto, wgsl (WebGPU), burn-wgpu (WebGPU, in a Web Worker) or burn-cpu (CPU, in a Web Worker) (got {})",
            settings::quoted(name.trim())
        )
    })
}

/// Fault injection (`?lose_device_after=N`) exists only in builds for the end-to-end tests
/// (`WEBGPU_MNIST_TEST_HOOKS` set at build time), so no link can break a user's GPU device.
pub const TEST_HOOKS: bool = option_env!("WEBGPU_MNIST_TEST_HOOKS").is_some();

/// Settings and flags from a query string like `?batch=32&limit=512&autostart`.
pub fn from_query(query: &str) -> (SettingsInput, QueryFlags) {
    let mut input = SettingsInput::default();
    let mut flags = QueryFlags::default();
    for pair in query.trim_start_matches('?').split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let value = value.to_string();
        match key {
            "lr" => input.lr = value,
            "batch" => input.batch = value,
            "epochs" => input.epochs = value,
            "seed" => input.seed = value,
            "limit" => input.limit = value,
            "test_limit" => input.test_limit = value,
            "backend" if value == "all" => flags.bench_all = true,
            "backend" => input.backend = value,
            "autostart" => flags.autostart = value != "0",
            "nocache" => flags.no_cache = value != "0",
            "lose_device_after" if TEST_HOOKS => flags.lose_device_after = value.parse().ok(),
            "pause_after" if TEST_HOOKS => flags.pause_after = value.parse().ok(),
            "bench" => flags.bench_steps = Some(value.parse().unwrap_or(10).clamp(1, 10_000)),
            "embed" => flags.embed = value != "0",
            "selftest" => flags.selftest = value != "0",
            "dataset" => flags.dataset = BuiltinDataset::by_id(&value),
            "lesson" => flags.lesson = Lesson::parse(&value),
            "eval_train" => input.eval_train = value != "0",
            "preset" if value == "tutorial" => input = SettingsInput { backend: input.backend, ..SettingsInput::tutorial("") },
            _ => {}
        }
    }
    (input, flags)
}

#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct QueryFlags {
    /// Press Train as soon as the data is ready.
    pub autostart: bool,
    /// Skip the Cache API (always download).
    pub no_cache: bool,
    /// `?bench=N`: time N training steps of batch 128 after warm-up and report in the title.
    pub bench_steps: Option<usize>,
    /// `?bench=N&backend=all`: benchmark every page backend side by side.
    pub bench_all: bool,
    /// Fault injection for the end-to-end test: destroy the GPU device after N steps (only
    /// when built with [`TEST_HOOKS`]).
    pub lose_device_after: Option<u64>,
    /// For the end-to-end test of resuming: press Pause once N steps are done (only when
    /// built with [`TEST_HOOKS`]).
    pub pause_after: Option<u64>,
    /// `?embed`: the compact layout for an iframe (Train, the two charts, the drawing pad).
    pub embed: bool,
    /// `?selftest`: only the kernel self-test (every kernel against the f64 reference).
    pub selftest: bool,
    /// `?dataset=mnist|fashion-mnist` (default MNIST).
    pub dataset: Option<BuiltinDataset>,
    /// `?lesson=jit|grad|vmap`: open that lesson (with `?embed`, show only it).
    pub lesson: Option<Lesson>,
}

/// The tutorial's first half, in its order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lesson {
    Jit,
    Grad,
    Vmap,
}

impl Lesson {
    pub const ALL: [Lesson; 3] = [Lesson::Jit, Lesson::Grad, Lesson::Vmap];

    pub fn parse(name: &str) -> Option<Lesson> {
        Lesson::ALL.into_iter().find(|l| l.id() == name.trim())
    }

    pub fn id(self) -> &'static str {
        match self {
            Lesson::Jit => "jit",
            Lesson::Grad => "grad",
            Lesson::Vmap => "vmap",
        }
    }
}

/// The download name of a weight file, e.g. `tutorial-cnn-mnist-epoch2.safetensors`.
pub fn weights_file_name(dataset: &str, epoch: usize) -> String {
    let safe: String = dataset.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '-' }).collect();
    format!("tutorial-cnn-{safe}-epoch{epoch}.safetensors")
}

pub fn format_rate(images_per_s: f64) -> String {
    if !images_per_s.is_finite() || images_per_s <= 0.0 {
        "–".into()
    } else if images_per_s >= 1000.0 {
        format!("{:.1}k images/s", images_per_s / 1000.0)
    } else {
        format!("{images_per_s:.1} images/s")
    }
}

pub fn format_duration(seconds: f64) -> String {
    if !seconds.is_finite() || seconds < 0.0 {
        return "–".into();
    }
    let s = seconds.round() as u64;
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m {:02}s", s / 60, s % 60),
        _ => format!("{}h {:02}m", s / 3600, (s % 3600) / 60),
    }
}

pub fn format_bytes(bytes: u64) -> String {
    match bytes {
        0..=1023 => format!("{bytes} B"),
        1024..=1_048_575 => format!("{:.1} KB", bytes as f64 / 1024.0),
        _ => format!("{:.1} MB", bytes as f64 / 1_048_576.0),
    }
}

/// An error's first sentence, its cause, without the advice that follows it (where the
/// page acts on the advice itself, e.g. by loading the weights alone).
pub fn error_cause(error: &str) -> &str {
    error.split(". ").next().unwrap_or(error).trim_end_matches('.')
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn defaults_are_the_tutorial_settings() {
        let s = parse_settings(&SettingsInput::default(), 60_000, 10_000).unwrap();
        assert_eq!(
            s,
            Settings {
                lr: 0.001,
                batch: 128,
                epochs: 1,
                seed: 0,
                limit: None,
                test_limit: None,
                backend: BackendChoice::Auto,
                eval_train: false
            }
        );
        let c = s.train_config();
        assert_eq!((c.batch, c.adam.lr, c.adam.beta1, c.adam.beta2), (128, 0.001, 0.9, 0.999));
    }

    #[test]
    fn a_link_cannot_destroy_the_device_outside_test_builds() {
        // The suite's own builds of this crate leave WEBGPU_MNIST_TEST_HOOKS unset, as
        // scripts/run does; only the end-to-end page is built with it.
        assert_eq!(from_query("?lose_device_after=3&autostart").1.lose_device_after, None);
        assert_eq!(from_query("?pause_after=3").1.pause_after, None);
    }

    #[test]
    fn invalid_settings_say_what_is_wrong() {
        let cases = [
            (SettingsInput { lr: "-1".into(), ..Default::default() }, "learning rate"),
            (SettingsInput { lr: "abc".into(), ..Default::default() }, "learning rate"),
            (SettingsInput { lr: "NaN".into(), ..Default::default() }, "learning rate"),
            (SettingsInput { batch: "0".into(), ..Default::default() }, "batch size must be"),
            (SettingsInput { batch: "12.5".into(), ..Default::default() }, "batch size must be"),
            (SettingsInput { epochs: "".into(), ..Default::default() }, "epochs"),
            (SettingsInput { seed: "-3".into(), ..Default::default() }, "seed"),
            (SettingsInput { limit: "70000".into(), ..Default::default() }, "training images"),
            (SettingsInput { limit: "100".into(), ..Default::default() }, "larger than the 100 training images"),
            (SettingsInput { backend: "cuda".into(), ..Default::default() }, "backend must be auto, wgsl"),
            (SettingsInput { backend: "tpu".into(), ..Default::default() }, "backend must be auto, wgsl"),
        ];
        for (input, expected) in cases {
            let err = parse_settings(&input, 60_000, 10_000).unwrap_err();
            assert!(err.contains(expected), "{err} should mention {expected}");
        }
    }

    #[test]
    fn query_string_sets_fields_and_flags() {
        let (input, flags) = from_query("?limit=512&batch=32&epochs=2&autostart&test_limit=200");
        assert_eq!(
            (input.limit.as_str(), input.batch.as_str(), input.epochs.as_str(), input.test_limit.as_str()),
            ("512", "32", "2", "200")
        );
        assert!(flags.autostart && !flags.no_cache);
        let s = parse_settings(&input, 60_000, 10_000).unwrap();
        assert_eq!((s.limit, s.batch, s.test_limit), (Some(512), 32, Some(200)));
        assert_eq!(from_query("").0, SettingsInput::default());
        assert_eq!(from_query("?bench=25").1.bench_steps, Some(25));
        assert_eq!(from_query("?bench").1.bench_steps, Some(10));
        assert!(from_query("?selftest").1.selftest && !from_query("?selftest=0").1.selftest && !from_query("").1.selftest);
        let (input, flags) = from_query("?backend=burn-cpu");
        assert_eq!(parse_settings(&input, 60_000, 10_000).unwrap().backend, BackendChoice::Fixed(BackendKind::BurnCpu));
        assert_eq!(
            parse_settings(&from_query("?backend=wgsl").0, 60_000, 10_000).unwrap().backend,
            BackendChoice::Fixed(BackendKind::Wgsl)
        );
        assert!(!flags.bench_all && from_query("?bench=5&backend=all").1.bench_all);
        let flags = from_query("?embed&dataset=fashion-mnist").1;
        assert!(flags.embed && flags.dataset.map(|d| d.id) == Some("fashion-mnist"));
        assert_eq!(from_query("?dataset=nope").1.dataset, None);
    }

    #[test]
    fn lessons_and_the_tutorial_preset_from_the_query() {
        assert_eq!(from_query("?lesson=grad").1.lesson, Some(Lesson::Grad));
        let flags = from_query("?embed&lesson=vmap").1;
        assert!(flags.embed && flags.lesson == Some(Lesson::Vmap));
        assert_eq!(from_query("?lesson=jit").1.lesson, Some(Lesson::Jit));
        assert_eq!(from_query("?lesson=pmap").1.lesson, None);
        let (input, _) = from_query("?batch=32&preset=tutorial&backend=burn-cpu");
        assert_eq!(input, SettingsInput { backend: "burn-cpu".into(), ..SettingsInput::tutorial("") });
        let s = parse_settings(&input, 60_000, 10_000).unwrap();
        assert_eq!((s.epochs, s.batch, s.lr, s.seed, s.limit, s.eval_train), (10, 128, 0.001, 0, None, true));
        assert!(from_query("?eval_train").0.eval_train);
    }

    #[test]
    fn weight_file_names_are_safe() {
        assert_eq!(weights_file_name("mnist", 2), "tutorial-cnn-mnist-epoch2.safetensors");
        assert_eq!(weights_file_name("my files/x", 0), "tutorial-cnn-my-files-x-epoch0.safetensors");
    }

    #[test]
    fn formatting() {
        assert_eq!(format_rate(83.25), "83.2 images/s");
        assert_eq!(format_rate(125_000.0), "125.0k images/s");
        assert_eq!(format_rate(0.0), "–");
        assert_eq!(format_duration(42.4), "42s");
        assert_eq!(format_duration(125.0), "2m 05s");
        assert_eq!(format_duration(7300.0), "2h 01m");
        assert_eq!(format_bytes(11_594_722), "11.1 MB");
        assert_eq!(format_bytes(2048), "2.0 KB");
    }

    #[test]
    fn error_cause_is_the_first_sentence_without_its_period() {
        assert_eq!(error_cause("the file is damaged. Load the weights alone."), "the file is damaged");
        assert_eq!(error_cause("it has no training state"), "it has no training state");
        assert_eq!(error_cause("the checkpoint is damaged."), "the checkpoint is damaged");
        assert_eq!(error_cause("was saved by v1.2. Start again."), "was saved by v1.2");
    }
}
