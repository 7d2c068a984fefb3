//! iam-conformance: proves that the IAM policy in a CloudFormation template grants
//! exactly the calls its scenario catalog needs.
//!
//! The core (template, policy, catalog, scenario, analysis, report) does no I/O beyond
//! what its callers hand it; the command-line shell reads files and writes reports.

pub mod loc;
pub mod template;
pub mod policy;
pub mod catalog;
pub mod scenario;
pub mod analysis;
pub mod load;
pub mod report;
pub mod cli;
pub mod gate;
pub mod wire;
pub mod xml;
pub mod exec;
pub mod emulator;
pub mod run;
pub mod cli_run;
