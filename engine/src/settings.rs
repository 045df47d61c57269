//! Every training setting's bounds, stated once, and the checks that the engine, the page's
//! form and the desktop binary all use. Messages name the setting as a user sees it
//! ("batch size"), not a command-line flag or a form field.

/// A whole-number setting from `min` to `max`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WholeNumber {
    pub name: &'static str,
    pub min: usize,
    pub max: usize,
}

/// Largest batch (the loss kernel is one workgroup looping over the batch; this bound keeps
/// a step's buffers well inside WebGPU's default limits).
pub const MAX_BATCH: usize = 4096;

pub const BATCH: WholeNumber = WholeNumber { name: "batch size", min: 1, max: MAX_BATCH };
pub const EVAL_BATCH: WholeNumber = WholeNumber { name: "evaluation batch size", min: 1, max: MAX_BATCH };
pub const EPOCHS: WholeNumber = WholeNumber { name: "epochs", min: 1, max: 1000 };
/// A subset of the data: the first N images (bounded by the data with [`WholeNumber::at_most`]).
pub const TRAINING_IMAGES: WholeNumber = WholeNumber { name: "training images", min: 1, max: usize::MAX };
pub const TEST_IMAGES: WholeNumber = WholeNumber { name: "test images", min: 1, max: usize::MAX };
/// Steps between metric read-backs, and steps in flight before a native step waits.
pub const METRICS_EVERY: WholeNumber = WholeNumber { name: "metrics interval", min: 1, max: usize::MAX };
pub const MAX_IN_FLIGHT: WholeNumber = WholeNumber { name: "steps in flight", min: 1, max: usize::MAX };

/// What a user typed, quoted for a message: control characters escaped, cut after 40
/// characters (a query string can carry anything).
pub fn quoted(text: &str) -> String {
    quoted_up_to(text, 40)
}

/// `text` quoted with its control characters escaped, cut after `max_chars` characters
/// (marked with "…").
pub fn quoted_up_to(text: &str, max_chars: usize) -> String {
    let escaped = format!("{:?}", text.chars().take(max_chars).collect::<String>());
    if text.chars().count() > max_chars {
        format!("{escaped}…")
    } else {
        escaped
    }
}

/// The learning rate's range, (0, LR_MAX].
pub const LR_MAX: f32 = 1.0;

impl WholeNumber {
    /// The same setting with another upper bound (a subset's size is bounded by the data).
    pub fn at_most(self, max: usize) -> Self {
        WholeNumber { max, ..self }
    }

    pub fn check(&self, value: usize) -> Result<usize, String> {
        if (self.min..=self.max).contains(&value) {
            Ok(value)
        } else {
            Err(self.problem(&value.to_string()))
        }
    }

    /// Parses what a user typed.
    pub fn parse(&self, text: &str) -> Result<usize, String> {
        text.trim().parse::<usize>().map_err(|_| self.problem(text.trim())).and_then(|v| self.check(v))
    }

    /// Empty means "not set".
    pub fn parse_optional(&self, text: &str) -> Result<Option<usize>, String> {
        if text.trim().is_empty() {
            Ok(None)
        } else {
            self.parse(text).map(Some)
        }
    }

    fn problem(&self, got: &str) -> String {
        let got = quoted(got);
        if self.max == usize::MAX {
            format!("{} must be a whole number of at least {} (got {got})", self.name, self.min)
        } else {
            format!("{} must be a whole number from {} to {} (got {got})", self.name, self.min, self.max)
        }
    }
}

pub fn check_learning_rate(lr: f32) -> Result<f32, String> {
    if lr.is_finite() && lr > 0.0 && lr <= LR_MAX {
        Ok(lr)
    } else {
        Err(learning_rate_problem(&lr.to_string()))
    }
}

pub fn parse_learning_rate(text: &str) -> Result<f32, String> {
    text.trim().parse::<f32>().map_err(|_| learning_rate_problem(text.trim())).and_then(check_learning_rate)
}

fn learning_rate_problem(got: &str) -> String {
    format!("learning rate must be a number above 0 and at most {LR_MAX}, e.g. 0.001 (got {})", quoted(got))
}

/// Adam's betas are in [0, 1) and its epsilon is positive.
pub fn check_adam(beta1: f32, beta2: f32, eps: f32) -> Result<(), String> {
    for (name, b) in [("Adam beta1", beta1), ("Adam beta2", beta2)] {
        if !(0.0..1.0).contains(&b) {
            return Err(format!("{name} must be in [0, 1) (got {b})"));
        }
    }
    if !(eps.is_finite() && eps > 0.0) {
        return Err(format!("Adam epsilon must be a positive number (got {eps})"));
    }
    Ok(())
}

pub fn parse_seed(text: &str) -> Result<u64, String> {
    text.trim().parse::<u64>().map_err(|_| format!("seed must be a whole number ≥ 0 (got {})", quoted(text.trim())))
}

/// A batch must fit in the training images.
pub fn check_batch_fits(batch: usize, training_images: usize) -> Result<(), String> {
    if batch > training_images {
        return Err(format!(
            "batch size {batch} is larger than the {training_images} training images: lower the batch size or train on more images"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_and_messages() {
        assert_eq!(BATCH.parse(" 128 "), Ok(128));
        assert_eq!(BATCH.parse("0").unwrap_err(), "batch size must be a whole number from 1 to 4096 (got \"0\")");
        assert_eq!(BATCH.parse("4097").unwrap_err(), "batch size must be a whole number from 1 to 4096 (got \"4097\")");
        assert!(BATCH.parse("12.5").is_err() && EPOCHS.parse("").is_err());
        assert_eq!(EPOCHS.at_most(3).check(4).unwrap_err(), "epochs must be a whole number from 1 to 3 (got \"4\")");
        assert_eq!(BATCH.parse_optional("  "), Ok(None));
        assert_eq!(METRICS_EVERY.check(0).unwrap_err(), "metrics interval must be a whole number of at least 1 (got \"0\")");
        // What a user typed is escaped and cut short in the message.
        let long = format!("\u{1b}[2J{}", "9".repeat(10_000));
        assert_eq!(
            BATCH.parse(&long).unwrap_err(),
            format!("batch size must be a whole number from 1 to 4096 (got \"\\u{{1b}}[2J{}\"…)", "9".repeat(36))
        );
        assert_eq!(parse_learning_rate("0.001"), Ok(0.001));
        for bad in ["0", "-1", "NaN", "inf", "1.5", "abc"] {
            assert!(parse_learning_rate(bad).unwrap_err().starts_with("learning rate must be"), "{bad}");
        }
        assert_eq!(parse_learning_rate("1"), Ok(1.0));
        assert!(check_adam(0.9, 0.999, 1e-8).is_ok());
        assert!(check_adam(1.0, 0.999, 1e-8).unwrap_err().contains("beta1"));
        assert!(check_adam(0.9, 0.999, 0.0).unwrap_err().contains("epsilon"));
        assert_eq!(parse_seed("7"), Ok(7));
        assert!(parse_seed("-3").is_err());
        assert!(check_batch_fits(100, 100).is_ok());
        assert!(check_batch_fits(101, 100).unwrap_err().contains("larger than the 100 training images"));
    }
}
