//! The IAM policy language: parsing (strict, located), statement matching, and the
//! decision that combines statements.

pub(crate) mod condition;
pub(crate) mod decision;
pub(crate) mod document;
pub(crate) mod eval;
pub(crate) mod wildcard;

pub use condition::Context;
pub use decision::{Decision, Outcome, StatementId, Traced, decide, decide_traced};
pub use document::{Effect, Policy, PolicyError, PolicyKind, Statement, parse_policy, statement_label};
pub use eval::Request;
