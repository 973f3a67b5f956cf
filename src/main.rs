//! Placeholder while the CLI lands.
fn main() {}
