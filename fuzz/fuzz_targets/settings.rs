//! The page's query string and form parser (app/src/logic.rs, compiled here without the page
//! so that the fuzz build skips Leptos): any text gives settings within their bounds or a
//! message.
#![no_main]
#[allow(dead_code)]
#[path = "../../app/src/logic.rs"]
mod logic;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    let Ok(text) = std::str::from_utf8(input) else { return };
    let (form, _flags) = logic::from_query(text);
    if let Ok(s) = logic::parse_settings(&form, 60_000, 10_000) {
        assert!(s.lr.is_finite() && s.lr > 0.0);
        assert!(s.batch >= 1 && s.batch <= s.limit.unwrap_or(60_000));
        assert!(s.epochs >= 1);
        assert!(s.test_limit.is_none_or(|n| (1..=10_000).contains(&n)));
    }
});
