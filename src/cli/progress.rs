//! Progress bars for long work (`verify`, exports, imports): drawn on
//! stderr when it is a terminal, so a member watching sees the work move
//! and what is left; hidden otherwise, so scripts and logs get only the
//! command's output.

use std::io::IsTerminal as _;

use indicatif::{ProgressBar, ProgressStyle};

/// A bar for `total` items of `what` (e.g. "entries"), or a hidden one when
/// stderr is not a terminal.
pub fn bar(total: u64, what: &str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total);
    let template = format!(
        "{{spinner}} {{msg}} [{{bar:30}}] {{human_pos}}/{{human_len}} {what} ({{per_sec}}, {{eta}} left)"
    );
    // The template is fixed text: it always parses; the default style is a
    // fine fallback if it ever did not.
    if let Ok(style) = ProgressStyle::with_template(&template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}
