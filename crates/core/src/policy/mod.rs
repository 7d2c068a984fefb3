//! The IAM policy language: parsing (strict, located), statement matching, and the
//! decision that combines statements.

pub mod condition;
pub mod decision;
pub mod document;
pub mod eval;
pub mod wildcard;

pub use condition::Context;
pub use decision::{Decision, Outcome, StatementId, Traced, decide, decide_traced};
pub use document::{Effect, Policy, PolicyError, PolicyKind, Statement, parse_policy};
pub use eval::Request;
