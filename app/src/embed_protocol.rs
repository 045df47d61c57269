//! The embed API's messages, as plain data (the browser glue is in `embed_api`): which host
//! origins may drive the demo, the commands a host sends, and the events the demo posts.
//! Everything a host sends is untrusted: a malformed message gets an `ack` that says why.

use crate::logic::SettingsInput;
use charts::EpochPoint;
use engine::train::StepMetrics;
use serde::Deserialize;
use serde_json::{json, Map, Value};

/// Every event carries `source: SOURCE`, so a host can tell them from other messages.
pub const SOURCE: &str = "webgpu-mnist";
/// Bumped when a message changes shape.
pub const VERSION: u32 = 1;

/// Checks one `?host=` value: an origin (`https://blog.example`, `http://127.0.0.1:8000`),
/// returned lowercased without a trailing slash, as browsers write `MessageEvent.origin`.
pub fn parse_origin(text: &str) -> Result<String, String> {
    let refuse = |why: &str| {
        Err(format!("host {} is not allowed: {why}. Give an origin, like ?embed&host=https://blog.example", engine::settings::quoted(text)))
    };
    let lower = text.trim().trim_end_matches('/').to_ascii_lowercase();
    let Some((scheme, rest)) = lower.split_once("://") else { return refuse("it has no http:// or https://") };
    if scheme != "http" && scheme != "https" {
        return refuse("only http and https pages can embed the demo");
    }
    // An IPv6 address is bracketed: [::1]:8000.
    let split_at = if rest.starts_with('[') { rest.find(']').map(|i| i + 1).unwrap_or(rest.len()) } else { 0 };
    let (host, port) = match rest[split_at..].find(':') {
        Some(i) => (&rest[..split_at + i], Some(&rest[split_at + i + 1..])),
        None => (rest, None),
    };
    let host_ok = if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        !inner.is_empty() && inner.chars().all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.')
    } else {
        !host.is_empty()
            && host
                .split('.')
                .all(|label| !label.is_empty() && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') && !label.starts_with('-'))
    };
    if !host_ok {
        return refuse("the host name is not valid (an origin has no path, query or user name)");
    }
    if let Some(port) = port {
        if port.is_empty() || port.len() > 5 || !port.chars().all(|c| c.is_ascii_digit()) || port.parse::<u32>().map_or(true, |p| p > 65535)
        {
            return refuse("the port is not a number from 0 to 65535");
        }
    }
    Ok(lower)
}

/// The allowed host origins from every `?host=` value (each may list several, comma-separated).
pub fn parse_origins<'a>(values: impl IntoIterator<Item = &'a str>) -> Result<Vec<String>, String> {
    let mut origins = Vec::new();
    for value in values {
        for part in value.split(',').filter(|p| !p.trim().is_empty()) {
            let origin = parse_origin(part)?;
            if !origins.contains(&origin) {
                origins.push(origin);
            }
        }
    }
    Ok(origins)
}

/// What a host can ask.
#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    /// Train a new run, or resume the paused one.
    Train,
    Pause,
    /// Forget the run (no question is asked: the host asked).
    Reset,
    /// Change the form's fields (only those given); checked like the form.
    Settings(Box<SettingsPatch>),
}

/// Settings fields a host may set; numbers may be sent as JSON numbers or strings.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettingsPatch {
    lr: Option<Value>,
    batch: Option<Value>,
    epochs: Option<Value>,
    seed: Option<Value>,
    limit: Option<Value>,
    test_limit: Option<Value>,
    backend: Option<Value>,
    eval_train: Option<bool>,
}

impl SettingsPatch {
    /// `input` with this patch's fields in place of its own.
    pub fn apply(&self, input: &SettingsInput) -> Result<SettingsInput, String> {
        let text = |name: &str, v: &Option<Value>, old: &String| -> Result<String, String> {
            match v {
                None => Ok(old.clone()),
                Some(Value::String(s)) => Ok(s.clone()),
                Some(Value::Number(n)) => Ok(n.to_string()),
                Some(Value::Null) => Ok(String::new()),
                Some(other) => Err(format!("settings.{name} must be a number or a string (got {other})")),
            }
        };
        Ok(SettingsInput {
            lr: text("lr", &self.lr, &input.lr)?,
            batch: text("batch", &self.batch, &input.batch)?,
            epochs: text("epochs", &self.epochs, &input.epochs)?,
            seed: text("seed", &self.seed, &input.seed)?,
            limit: text("limit", &self.limit, &input.limit)?,
            test_limit: text("test_limit", &self.test_limit, &input.test_limit)?,
            backend: text("backend", &self.backend, &input.backend)?,
            eval_train: self.eval_train.unwrap_or(input.eval_train),
        })
    }
}

/// A host's message: its command, and the `id` to echo in the `ack` (any JSON value).
/// The error, when there is one, says what is wrong in the host developer's terms.
pub fn parse_command(message: &Value) -> (Value, Result<Command, String>) {
    let id = message.get("id").cloned().unwrap_or(Value::Null);
    let Some(kind) = message.get("type").and_then(Value::as_str) else {
        return (id, Err("a command is an object with a \"type\": train, pause, reset or settings".into()));
    };
    let command = match kind {
        "train" => Ok(Command::Train),
        "pause" => Ok(Command::Pause),
        "reset" => Ok(Command::Reset),
        "settings" => match message.get("settings") {
            Some(s) => SettingsPatch::deserialize(s)
                .map(|patch| Command::Settings(Box::new(patch)))
                .map_err(|e| format!("settings: {e} (the fields are lr, batch, epochs, seed, limit, test_limit, backend, eval_train)")),
            None => Err("a settings command carries \"settings\": {…}".into()),
        },
        other => Err(format!("unknown command {} (known: train, pause, reset, settings)", engine::settings::quoted(other))),
    };
    (id, command)
}

fn event(kind: &str, fields: Value) -> Value {
    let mut out = Map::new();
    out.insert("source".into(), SOURCE.into());
    out.insert("type".into(), kind.into());
    if let Value::Object(fields) = fields {
        out.extend(fields);
    }
    Value::Object(out)
}

/// Sent once the demo listens: the protocol version and where the page is.
pub fn hello(phase: &str) -> Value {
    event("hello", json!({ "version": VERSION, "phase": phase }))
}

/// The answer to each command.
pub fn ack(id: Value, result: &Result<(), String>) -> Value {
    match result {
        Ok(()) => event("ack", json!({ "id": id, "ok": true })),
        Err(e) => event("ack", json!({ "id": id, "ok": false, "error": e })),
    }
}

pub fn phase(name: &str) -> Value {
    event("phase", json!({ "phase": name }))
}

pub fn error(message: &str) -> Value {
    event("error", json!({ "message": message }))
}

/// One training step: `step` counts from 1, `epoch` too.
pub fn step(m: &StepMetrics, steps_per_epoch: usize) -> Value {
    let epoch = m.step / steps_per_epoch.max(1) as u64 + 1;
    event("step", json!({ "step": m.step + 1, "epoch": epoch, "loss": m.loss, "accuracy": m.accuracy }))
}

/// An epoch's results, with the same fields as the page's per-epoch table.
pub fn epoch(p: &EpochPoint) -> Value {
    event("epoch", serde_json::to_value(p).unwrap_or(Value::Null))
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn origins_are_checked_and_normalised() {
        assert_eq!(parse_origin("https://Blog.Example/").unwrap(), "https://blog.example");
        assert_eq!(parse_origin("http://127.0.0.1:8000").unwrap(), "http://127.0.0.1:8000");
        assert_eq!(parse_origin("http://[::1]:9").unwrap(), "http://[::1]:9");
        assert_eq!(parse_origin("http://[::1]").unwrap(), "http://[::1]");
        for bad in [
            "*",
            "blog.example",
            "javascript:alert(1)",
            "https://a.example/path",
            "https://u@a.example",
            "https://a.example:99999",
            "ftp://a.example",
            "https://",
            "https://a..b",
            "https://a.example:",
        ] {
            let e = parse_origin(bad).unwrap_err();
            assert!(e.contains("is not allowed") && e.contains("?embed&host="), "{bad}: {e}");
        }
        assert_eq!(
            parse_origins(["https://a.example,https://b.example", "https://a.example"]).unwrap(),
            ["https://a.example", "https://b.example"]
        );
        assert!(parse_origins(["https://a.example,nope"]).is_err());
    }

    #[test]
    fn commands_parse_or_say_why() {
        let parse = |s: &str| parse_command(&serde_json::from_str(s).unwrap());
        assert_eq!(parse(r#"{"type":"train","id":7}"#), (json!(7), Ok(Command::Train)));
        assert_eq!(parse(r#"{"type":"pause"}"#), (Value::Null, Ok(Command::Pause)));
        assert_eq!(parse(r#"{"type":"reset","id":"r"}"#).1, Ok(Command::Reset));
        let (_, settings) = parse(r#"{"type":"settings","settings":{"batch":16,"limit":"128","test_limit":null,"eval_train":true}}"#);
        let Ok(Command::Settings(patch)) = settings else { panic!("{settings:?}") };
        let input = patch.apply(&SettingsInput::default()).unwrap();
        assert_eq!((input.batch.as_str(), input.limit.as_str(), input.test_limit.as_str(), input.eval_train), ("16", "128", "", true));
        assert_eq!(input.lr, SettingsInput::default().lr, "fields not given are kept");
        assert!(parse(r#"{"type":"fly"}"#).1.unwrap_err().contains("unknown command"));
        assert!(parse(r#"[1]"#).1.unwrap_err().contains("\"type\""));
        assert!(parse(r#"{"type":"settings"}"#).1.is_err());
        assert!(parse(r#"{"type":"settings","settings":{"bach":16}}"#).1.unwrap_err().contains("bach"));
        let (_, c) = parse(r#"{"type":"settings","settings":{"batch":[16]}}"#);
        let Ok(Command::Settings(patch)) = c else { panic!() };
        assert!(patch.apply(&SettingsInput::default()).unwrap_err().contains("settings.batch"));
    }

    #[test]
    fn events_have_their_fields() {
        let m = StepMetrics { step: 8, loss: 0.5, accuracy: 0.25 };
        assert_eq!(step(&m, 4), json!({"source": SOURCE, "type": "step", "step": 9, "epoch": 3, "loss": 0.5, "accuracy": 0.25}));
        assert_eq!(ack(json!(1), &Err("no".into())), json!({"source": SOURCE, "type": "ack", "id": 1, "ok": false, "error": "no"}));
        assert_eq!(hello("ready")["version"], json!(VERSION));
        let p = EpochPoint { epoch: 2, train_loss: 0.5, train_accuracy: 0.75, test_loss: 0.25, test_accuracy: 0.875, full_train: None };
        assert_eq!(epoch(&p)["test_accuracy"], json!(0.875));
    }
}
