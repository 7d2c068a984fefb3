//! What a live run tells its reporters as it goes. The pipeline emits these events; the
//! terminal prints them and [`EnvironmentBuilder`] folds them into the report's
//! `environment`. Neither decides anything (docs/architecture.md).

use std::collections::BTreeMap;

use super::{EmulatorRun, Environment};
use crate::outcome::{DecidedBy, LiveResult, Shard};

/// The phases of a live run, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// The stack is deployed (or, for a given principal, found).
    Deploy,
    /// The role and its policies are read back from the backend's IAM.
    ReadBack,
    /// The profile's fixtures are made with the administrator's credentials.
    Fixtures,
    /// The run obtains the principal's credentials and waits until they behave.
    Become,
    /// Every scenario is sent.
    Scenarios,
    /// The oracles are consulted (decoded denials, the policy simulator).
    Oracles,
    /// Everything the run made is removed.
    Teardown,
}

impl Phase {
    /// The name the report's `phase_seconds` uses.
    pub fn name(self) -> &'static str {
        match self {
            Phase::Deploy => "deploy",
            Phase::ReadBack => "read back",
            Phase::Fixtures => "fixtures",
            Phase::Become => "assume",
            Phase::Scenarios => "scenarios",
            Phase::Oracles => "oracles",
            Phase::Teardown => "teardown",
        }
    }
}

/// Where the run's calls go and who decides them, as the backend describes itself.
#[derive(Clone, Debug, PartialEq)]
pub struct BackendInfo {
    /// `moto 5.2.5`, `AWS account …, us-west-2 (dry-run mode, principal: assumed role)`.
    pub target: String,
    /// The URL calls are sent to.
    pub endpoint: String,
    /// The gate in front of it, or why there is none.
    pub gate: String,
    /// Who decides allow/deny there.
    pub decided_by: DecidedBy,
    /// What the emulator says it serves, where it says.
    pub services: BTreeMap<String, String>,
    /// How the emulator ran, for emulator backends.
    pub emulator: Option<EmulatorRun>,
}

/// One thing that happened during a live run.
#[derive(Clone, Debug)]
pub enum RunEvent {
    /// The backend is ready.
    Backend(BackendInfo),
    /// A progress line for the terminal (`preparing moto…`, `gate … → …`).
    Note(String),
    /// Something a user should see that does not change the verdict.
    Warning(String),
    /// The stack and role the run works with.
    Deployed {
        /// The stack's name.
        stack: String,
        /// The role's ARN, as the backend's IAM holds it.
        role_arn: String,
    },
    /// The deny canary's answer: whether the service itself denies what the policy denies.
    Canary(Option<bool>),
    /// One scenario finished (`done` of `total`).
    Scenario {
        /// How many have finished, this one included.
        done: usize,
        /// How many the run sends.
        total: usize,
        /// Its result.
        result: LiveResult,
    },
    /// A phase finished after `seconds` of wall time.
    PhaseFinished {
        /// Which phase.
        phase: Phase,
        /// Its wall time.
        seconds: f64,
    },
    /// What the gate saw, summed over the run.
    GateTraffic {
        /// Requests it handled.
        requests: usize,
        /// Its own decision time, in milliseconds.
        decision_ms: f64,
        /// Time from arrival to answer, upstream included, in milliseconds.
        request_ms: f64,
    },
    /// The run is over (teardown included).
    Finished {
        /// Wall time of the whole run.
        run_seconds: f64,
    },
}

/// Folds a run's events into the report's [`Environment`].
#[derive(Debug, Default)]
pub struct EnvironmentBuilder {
    backend: Option<BackendInfo>,
    deployed: Option<(String, String)>,
    canary: Option<bool>,
    phases: Vec<(String, f64)>,
    gate: (usize, f64, f64),
    run_seconds: f64,
}

impl EnvironmentBuilder {
    /// Takes one event into account.
    pub fn observe(&mut self, event: &RunEvent) {
        match event {
            RunEvent::Backend(info) => self.backend = Some(info.clone()),
            RunEvent::Deployed { stack, role_arn } => self.deployed = Some((stack.clone(), role_arn.clone())),
            RunEvent::Canary(answer) => self.canary = *answer,
            RunEvent::PhaseFinished { phase, seconds } => self.phases.push((phase.name().to_string(), *seconds)),
            RunEvent::GateTraffic { requests, decision_ms, request_ms } => {
                self.gate = (*requests, *decision_ms, *request_ms)
            }
            RunEvent::Finished { run_seconds } => self.run_seconds = *run_seconds,
            RunEvent::Note(_) | RunEvent::Warning(_) | RunEvent::Scenario { .. } => {}
        }
    }

    /// The environment the events describe; `None` before the backend announced itself.
    /// Skip and error counts are left to the report's assembly, which counts its rows.
    pub fn build(self, shard: Option<Shard>) -> Option<Environment> {
        let backend = self.backend?;
        let (stack, role_arn) = self.deployed.unwrap_or_default();
        let scenario_seconds =
            self.phases.iter().find(|(n, _)| n == Phase::Scenarios.name()).map(|(_, t)| *t).unwrap_or(0.0);
        Some(Environment {
            target: backend.target,
            endpoint: backend.endpoint,
            gate: backend.gate,
            iam_decided_by: backend.decided_by,
            service_enforces_iam: if backend.decided_by == DecidedBy::Aws { Some(true) } else { self.canary },
            emulator_services: backend.services,
            emulator: backend.emulator,
            stack,
            role_arn,
            skipped: 0,
            errors: 0,
            shard,
            gate_requests: self.gate.0,
            gate_decision_ms: self.gate.1,
            gate_request_ms: self.gate.2,
            scenario_seconds,
            phase_seconds: self.phases,
            run_seconds: self.run_seconds,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_environment_is_what_the_events_say() {
        let mut b = EnvironmentBuilder::default();
        assert!(EnvironmentBuilder::default().build(None).is_none(), "no backend, no environment");
        for e in [
            RunEvent::Backend(BackendInfo {
                target: "moto 5.2.5".into(),
                endpoint: "http://127.0.0.1:1".into(),
                gate: "g".into(),
                decided_by: DecidedBy::Gate,
                services: BTreeMap::new(),
                emulator: None,
            }),
            RunEvent::Deployed { stack: "s".into(), role_arn: "arn:r".into() },
            RunEvent::Canary(Some(false)),
            RunEvent::PhaseFinished { phase: Phase::Deploy, seconds: 1.5 },
            RunEvent::PhaseFinished { phase: Phase::Scenarios, seconds: 2.5 },
            RunEvent::GateTraffic { requests: 7, decision_ms: 3.0, request_ms: 9.0 },
            RunEvent::Finished { run_seconds: 5.0 },
        ] {
            b.observe(&e);
        }
        let env = b.build(None).unwrap();
        assert_eq!((env.target.as_str(), env.stack.as_str(), env.role_arn.as_str()), ("moto 5.2.5", "s", "arn:r"));
        assert_eq!(env.service_enforces_iam, Some(false));
        assert_eq!(env.scenario_seconds, 2.5);
        assert_eq!(env.phase_seconds, vec![("deploy".to_string(), 1.5), ("scenarios".to_string(), 2.5)]);
        assert_eq!((env.gate_requests, env.run_seconds), (7, 5.0));
    }
}
