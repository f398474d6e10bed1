//! TEMPORARY stub (replaced by the render branch).
#![allow(missing_docs)]
use crate::trace::event::Trace;
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}
pub fn use_color(choice: ColorChoice, is_terminal: bool) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => is_terminal && std::env::var_os("NO_COLOR").is_none(),
    }
}
pub struct Palette;
impl Palette {
    pub fn new(_color: bool) -> Palette {
        Palette
    }
}
pub fn render(trace: &Trace, _p: &Palette) -> String {
    format!("{:#?}\n", trace.verdict)
}
