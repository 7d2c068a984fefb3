//! iam-conformance: proves that the IAM policy in a CloudFormation template grants
//! exactly the calls its scenario catalog needs.
//!
//! The core (template, policy, catalog, scenario, analysis, report) does no I/O beyond
//! what its callers hand it; the command-line shell reads files and writes reports.

pub mod analysis;
pub mod aws;
pub mod calendar;
pub mod catalog;
pub mod cli;
pub mod cli_aws;
pub mod cli_run;
pub mod emulator;
pub mod exec;
pub mod gate;
pub mod load;
pub mod loc;
pub mod policy;
pub mod report;
pub mod run;
pub mod scenario;
pub mod template;
pub mod wire;
pub mod xml;
