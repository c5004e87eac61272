//! Placeholder until the gate exists.
fn main() {}
