//! The IAM gate's pure half: which checks a request implies ([`derive`]), the denial each
//! service answers ([`deny`]), and the record of what the gate decided ([`record`]). The
//! HTTP server in front of an emulator lives in `iamc-live`.

pub mod decide;
pub mod deny;
pub mod derive;
pub mod record;
pub mod sigv4;
