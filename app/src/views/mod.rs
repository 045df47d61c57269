//! The page's sections. Each reads the shared state from context ([`crate::state::use_app`]);
//! the full page and the embed compose the same sections.

pub mod charts;
pub mod controls;
pub mod draw_pad;
pub mod inspection;
pub mod kept;
pub mod lessons;
pub mod selftest;
pub mod status;
pub mod weights;
