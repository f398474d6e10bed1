//! Renderers: turn trace events (and the loaded model) into text.

pub mod save;
