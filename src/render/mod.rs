//! Renderers: turn trace events (and the loaded model) into text. They never
//! evaluate; the evaluator never formats.

pub mod analysis;
pub mod human;
pub mod json;
pub mod log;
pub mod save;
