//! The IAM gate: an HTTP proxy in front of an emulator that decides allow/deny itself,
//! with the project's evaluator, for every request it forwards.

pub mod deny;
pub mod derive;
pub mod server;
