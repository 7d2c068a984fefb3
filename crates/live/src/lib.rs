//! The effectful shell of iam-conformance: the SigV4-signed HTTP client, files, the
//! emulators' processes, the gate's HTTP server, the live run and the sweep's calls.
//! Every decision it acts on is made by `iamc-core`. See docs/architecture.md.

mod cache;
pub mod client;
pub mod container;
pub mod credentials;
pub mod emulator;
pub mod files;
pub mod gate_server;
pub mod oracle;
pub mod pipeline;
pub mod reaper;
pub mod run;
mod session;
pub mod sweep;

/// A signed-call session (client, endpoints, administrator keys), as `credentials::connect`
/// opens one.
pub use session::Session;
