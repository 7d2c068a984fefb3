//! The pure core of iam-conformance: the located document tree, CloudFormation templates,
//! the IAM policy language, the action catalog, scenario profiles, the static proof, the
//! report renderers, the wire protocol, the gate's derivation and the AWS target's pure
//! parts. Nothing here does I/O (no tokio, hyper or clap among its dependencies): callers
//! hand it text and get plain data back. See docs/architecture.md.

#![deny(missing_docs)]

pub mod analysis;
pub mod aws;
pub mod calendar;
pub mod catalog;
pub mod context;
pub mod errors;
mod exact;
pub mod gate;
pub mod load;
pub mod loc;
pub mod outcome;
pub mod policy;
pub mod report;
pub mod scenario;
pub mod suggest;
pub mod template;
pub mod tree;
pub mod wire;
pub mod xml;
