//! Placeholder until the decision-latency bench lands.
fn main() {}
