//! What the gate did with each request: who called, the checks it derived and their
//! decisions, its verdict or why it refused. Plain data, recorded by the gate server and
//! read by reports.

use serde::Serialize;

use super::derive::Derived;
use crate::policy::Outcome;

/// Who made a request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "arn")]
pub enum Caller {
    /// The harness's own key: passed through unevaluated.
    Admin,
    /// A role the gate issued credentials for, by ARN.
    Role(String),
    /// A key the gate does not know, by access key id.
    Unknown(String),
}

/// One derived check and its decision.
#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct CheckDecision {
    /// The check: action, resource and context.
    #[serde(flatten)]
    pub check: Derived,
    /// How the policies decided it.
    pub outcome: Outcome,
    /// Statements that decided it (`policy#index`).
    pub because: Vec<String>,
}

/// What the gate did with a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GateVerdict {
    /// The harness's own call: forwarded without evaluation.
    PassedThrough,
    /// Every check allowed: forwarded.
    Forwarded,
    /// A check denied: answered with the service's denial.
    Denied,
    /// Not understood (unknown service or operation, bad signature header): denied,
    /// since what cannot be evaluated cannot be allowed.
    Rejected,
}

/// Why the gate refused to evaluate a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Refusal {
    /// Unknown service or operation, or a body the wire model cannot read.
    Unreadable,
    /// Parameters in the URL, which the gate does not evaluate.
    QueryString,
    /// A key that is neither the harness's nor one issued for the role under test.
    UnknownCaller,
    /// A role other than the one whose policies the gate holds.
    NotSubject,
    /// Something the checks depend on could not be looked up.
    Unresolved,
    /// As `Unresolved`, because the backend does not serve the lookup.
    UnservedLookup,
    /// The request implies no check the gate knows how to derive.
    NoChecks,
    /// The derivation failed inside the gate.
    Internal,
    /// The SigV4 signature did not verify (unknown key, wrong signature or token, a
    /// stale request, expired session credentials): answered as the service does.
    Unauthenticated,
    /// The signing scope, method, path, host, target header or content type disagree
    /// with the service and operation decided, so the emulator could run another call.
    Mismatch,
    /// An emulator control path (`/moto-api/…`, `/_localstack/…`): administrator only.
    ControlPath,
    /// The body is over the gate's size limit (413).
    TooLarge,
    /// The body did not arrive within the gate's read timeout (408).
    Timeout,
}

/// Everything the gate did with one request.
#[derive(Clone, Debug, Serialize)]
pub struct GateRecord {
    /// The request's number, in order of arrival.
    pub seq: u64,
    /// The scenario the harness's header named, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scenario: Option<String>,
    /// Who made the request.
    pub caller: Caller,
    /// The IAM service prefix.
    pub service: String,
    /// The operation (empty when it could not be read).
    pub operation: String,
    /// The derived checks and their decisions.
    pub checks: Vec<CheckDecision>,
    /// What the gate did.
    pub verdict: GateVerdict,
    /// Why it was refused, or what went wrong forwarding it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Set when the verdict is `Rejected`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refusal: Option<Refusal>,
    /// The HTTP status the caller got.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// The error code the caller got, when the answer was an error.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    /// Time the gate spent deciding (parsing, derivation with its lookups, evaluation),
    /// in microseconds; the upstream's own time is not included.
    pub decision_us: u64,
    /// Time from the request's arrival to the gate's answer, upstream included.
    pub total_us: u64,
    /// When the request arrived (set by the server, for `total_us`).
    #[serde(skip)]
    pub received: Option<std::time::Instant>,
}
