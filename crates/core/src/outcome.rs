//! What a live run observed, typed: each scenario's outcome, who decided it and why a
//! scenario was skipped, and the shards a run is split into. Reports read these; the JSON
//! spells each variant in lowercase, as before.

use std::collections::{HashMap, HashSet};
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::gate::record::GateRecord;
use crate::scenario::{Expect, Profile, Scenario};

/// What a scenario's call came to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Observed {
    /// The call was authorized.
    Allowed,
    /// The call was denied.
    Denied,
    /// Nothing decided it (the harness failed, the answer says nothing about authorization).
    Error,
    /// Not sent, or sent and not decidable, for a [`SkipReason`].
    Skipped,
}

impl Observed {
    /// The lowercase word reports print.
    pub fn as_str(self) -> &'static str {
        match self {
            Observed::Allowed => "allowed",
            Observed::Denied => "denied",
            Observed::Error => "error",
            Observed::Skipped => "skipped",
        }
    }

    /// What a scenario expecting `expect` must observe to pass.
    pub fn expected(expect: Expect) -> Observed {
        match expect {
            Expect::Allow => Observed::Allowed,
            Expect::Deny => Observed::Denied,
        }
    }
}

impl fmt::Display for Observed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who decided a scenario's allow or deny.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DecidedBy {
    /// The project's policy model (`check`, and live rows the run did not decide).
    Model,
    /// The project's gate in front of an emulator.
    Gate,
    /// The emulated service itself (it denied behind the gate).
    Service,
    /// AWS itself (`--target aws`).
    Aws,
    /// Nothing: the row is an error.
    None,
}

impl DecidedBy {
    /// The lowercase word reports print.
    pub fn as_str(self) -> &'static str {
        match self {
            DecidedBy::Model => "model",
            DecidedBy::Gate => "gate",
            DecidedBy::Service => "service",
            DecidedBy::Aws => "aws",
            DecidedBy::None => "none",
        }
    }

    /// In words: "the gate", "the service", "AWS", "the model", "nothing".
    pub fn words(self) -> &'static str {
        match self {
            DecidedBy::Model => "the model",
            DecidedBy::Gate => "the gate",
            DecidedBy::Service => "the service",
            DecidedBy::Aws => "AWS",
            DecidedBy::None => "nothing",
        }
    }
}

impl fmt::Display for DecidedBy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a scenario was skipped; the row's note says it in words.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    /// Another shard owns it (`--shard`).
    OtherShard,
    /// A synthetic probe: not a request any backend can be sent.
    Synthetic,
    /// A scenario it needs did not succeed.
    Prerequisite,
    /// The run was interrupted before it was sent.
    Interrupted,
    /// The backend does not serve the call (LocalStack's 501, moto's gaps).
    Unserved,
    /// Sent, but the answer cannot decide it (a lookup the backend does not serve, a call
    /// built on dry runs).
    NotDecided,
}

/// How one scenario's live call went.
#[derive(Clone, Debug)]
pub struct LiveResult {
    /// The scenario's id.
    pub id: String,
    /// What the call came to.
    pub observed: Observed,
    /// Who decided it.
    pub decided_by: DecidedBy,
    /// Set when `observed` is [`Observed::Skipped`].
    pub skip: Option<SkipReason>,
    /// The backend's answer, when there was one.
    pub backend: Option<BackendAnswer>,
    /// Why, in the backend's or the harness's words.
    pub note: Option<String>,
    /// The gate's record of the call (emulator targets).
    pub gate: Option<GateRecord>,
}

impl LiveResult {
    /// A scenario skipped for `reason`, said in `note`.
    pub fn skipped(id: &str, reason: SkipReason, note: String) -> LiveResult {
        LiveResult {
            id: id.to_string(),
            observed: Observed::Skipped,
            decided_by: DecidedBy::Model,
            skip: Some(reason),
            backend: None,
            note: Some(note),
            gate: None,
        }
    }

    /// A scenario nothing decided, for the reason in `note`.
    pub fn error(id: &str, note: String) -> LiveResult {
        LiveResult {
            id: id.to_string(),
            observed: Observed::Error,
            decided_by: DecidedBy::None,
            skip: None,
            backend: None,
            note: Some(note),
            gate: None,
        }
    }

    /// A decided scenario.
    pub fn decided(id: &str, observed: Observed, decided_by: DecidedBy) -> LiveResult {
        LiveResult { id: id.to_string(), observed, decided_by, skip: None, backend: None, note: None, gate: None }
    }
}

/// One of N shards of a profile's scenarios (`--shard K/N`, K from 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Shard {
    /// K, the shard's 1-based position.
    pub index: usize,
    /// N, how many shards the scenarios are split into.
    pub count: usize,
}

/// Why `--shard` was refused: it is not `K/N` with 1 ≤ K ≤ N.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("--shard `{text}` must be K/N with 1 <= K <= N, such as 2/4")]
pub struct ShardError {
    /// The value as given.
    pub text: String,
}

impl Shard {
    /// Parses `K/N` with 1 ≤ K ≤ N.
    pub fn parse(text: &str) -> Result<Shard, ShardError> {
        let bad = || ShardError { text: text.to_string() };
        let (k, n) = text.split_once('/').ok_or_else(bad)?;
        let (index, count) =
            (k.trim().parse::<usize>().map_err(|_| bad())?, n.trim().parse::<usize>().map_err(|_| bad())?);
        if index == 0 || count == 0 || index > count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }

    /// The shard (1-based) that owns the scenario at `position` in the profile.
    pub fn owner_of(&self, position: usize) -> usize {
        position % self.count + 1
    }
}

/// The scenarios a shard must run: those it owns and, transitively, what they need.
pub fn required_by(profile: &Profile, shard: Option<Shard>) -> HashSet<String> {
    let by_id: HashMap<&str, &Scenario> = profile.scenarios.iter().map(|s| (s.id.as_str(), s)).collect();
    let mut required: HashSet<String> = HashSet::new();
    let mut stack: Vec<&str> = profile
        .scenarios
        .iter()
        .enumerate()
        .filter(|(i, _)| shard.is_none_or(|sh| sh.owner_of(*i) == sh.index))
        .map(|(_, s)| s.id.as_str())
        .collect();
    while let Some(id) = stack.pop() {
        if required.insert(id.to_string()) {
            stack.extend(
                by_id.get(id).map(|s| s.needs.iter().map(String::as_str).collect::<Vec<_>>()).unwrap_or_default(),
            );
        }
    }
    required
}

/// What the emulator (or AWS) answered to a live call.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BackendAnswer {
    /// The HTTP status.
    pub status: u16,
    /// The error code, when the answer is an error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// The error message, when the answer is an error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}
