//! One live run, whatever the target: deploy → read back → fixtures → become the
//! principal → scenarios → oracles → teardown, over a [`Backend`] (an emulator behind the
//! project's gate, or AWS). The run emits [`RunEvent`]s as it goes; the command turns
//! them into terminal lines and the report's `environment`. The guards (allow-list, cost,
//! the credentials' account) come before: they decide whether a backend is made at all.

mod aws;
mod emulator;
mod signals;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

pub use aws::{AwsBackend, AwsOptions, Principal, PrincipalError};
pub use emulator::{EmulatorBackend, EmulatorKind, EmulatorOptions, LocalStackMode, StartError};
use iamc_core::analysis::{Finding, ScenarioResult};
use iamc_core::load::Loaded;
use iamc_core::outcome::{LiveResult, Shard};
use iamc_core::report::events::{Phase, RunEvent};
use iamc_core::scenario::{Fixture, Scenario};
use iamc_core::template::render::Target;
pub use signals::Signals;

use crate::client::Credentials;
use crate::gate_server::Gate;
use crate::run::{self, BecomeError, CallOptions, DeployError, Deployed, FixtureError, ReadBackError, Session};

/// Why a run stopped before its scenarios: the failed phase's own error (each message
/// names the phase), so the command says it in one line and can tell the phases apart.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// Deploying the stack, or finding a given one.
    #[error(transparent)]
    Deploy(#[from] DeployError),
    /// Reading the role and its policies back from IAM.
    #[error(transparent)]
    ReadBack(#[from] ReadBackError),
    /// Checking a given principal's credentials (`--principal user`, `instance-profile`).
    #[error(transparent)]
    Principal(#[from] PrincipalError),
    /// A fixture's call.
    #[error(transparent)]
    Fixture(#[from] FixtureError),
    /// Becoming the principal (AssumeRole, IAM propagation).
    #[error(transparent)]
    Become(#[from] BecomeError),
}

/// What to run: the loaded profile, rendered for the target.
pub struct Plan<'a> {
    /// The profile, its template and the role's policies.
    pub loaded: &'a Loaded,
    /// The target the template was rendered for (account, region, stack name).
    pub target: &'a Target,
    /// The template as deployed (resource references kept for CloudFormation).
    pub deploy_json: &'a str,
    /// An allowed and a denied scenario that need nothing: readiness probes.
    pub probes: (&'a Scenario, &'a Scenario),
    /// The static proof's rows, for the oracles.
    pub proof_scenarios: &'a [ScenarioResult],
    /// Scenarios in flight at once.
    pub concurrency: usize,
    /// This run's shard, if the profile is split.
    pub shard: Option<Shard>,
    /// Leave everything in place (`--keep`).
    pub keep: bool,
}

/// What the run produced, when it finished.
pub struct Ran {
    /// The stack and role, as the backend's IAM holds them.
    pub deployed: Deployed,
    /// One result per scenario.
    pub results: Vec<LiveResult>,
    /// Example ids → the backend's ids.
    pub ids: HashMap<String, String>,
    /// The oracles' findings.
    pub findings: Vec<Finding>,
}

/// How a run ended. Teardown has run in every case.
pub enum Outcome {
    /// Every phase ran.
    Finished(Ran),
    /// A phase failed; the run cannot decide.
    Failed(RunError),
    /// Ctrl-C or SIGTERM.
    Interrupted,
}

/// Fixtures made so far and the ids they produced, kept as they land so teardown can
/// undo them after a failure or a signal.
#[derive(Default)]
pub struct Made {
    fixtures: Mutex<Vec<Fixture>>,
    ids: Mutex<HashMap<String, String>>,
}

impl Made {
    /// The fixtures made, in order, and every id they produced.
    pub fn take(&self) -> (Vec<Fixture>, HashMap<String, String>) {
        (
            self.fixtures.lock().map(|f| f.clone()).unwrap_or_default(),
            self.ids.lock().map(|k| k.clone()).unwrap_or_default(),
        )
    }
}

/// What differs between targets. Each step defaults to doing nothing extra.
#[allow(async_fn_in_trait, reason = "the pipeline awaits backends in place; no Send bound is needed")]
pub trait Backend {
    /// The administrator's session (through the gate on emulators).
    fn session(&self) -> &Arc<Session>;

    /// The gate deciding this backend's calls, if any.
    fn gate(&self) -> Option<&Gate> {
        None
    }

    /// How scenario calls are made (dry runs, tags, retries); `stop` is set on a signal.
    fn call_options(&self, stop: Arc<AtomicBool>) -> CallOptions;

    /// Deploys the stack (or checks a given one exists).
    async fn deploy(&mut self, plan: &Plan<'_>) -> Result<(), RunError>;

    /// After read-back: hand the policies to the gate, check a given principal.
    async fn deployed(&mut self, _deployed: &Deployed) -> Result<(), RunError> {
        Ok(())
    }

    /// After the fixtures: anything to tag; returns warnings.
    async fn fixtures_made(&mut self, _plan: &Plan<'_>, _ids: &HashMap<String, String>) -> Vec<String> {
        Vec::new()
    }

    /// The principal's credentials, once they behave.
    async fn become_principal(&mut self, plan: &Plan<'_>, deployed: &Deployed) -> Result<Credentials, RunError>;

    /// The deny canary: whether the service itself denies what the policy denies.
    async fn canary(&mut self, _plan: &Plan<'_>, _creds: &Credentials) -> Option<bool> {
        None
    }

    /// Oracles over the results (decoded denials into notes; findings).
    async fn oracles(&mut self, _plan: &Plan<'_>, _deployed: &Deployed, _results: &mut [LiveResult]) -> Vec<Finding> {
        Vec::new()
    }

    /// Removes what the run made; returns events to report (notes and warnings).
    async fn teardown(&mut self, plan: &Plan<'_>, made: &Made) -> Vec<RunEvent>;

    /// What the gate saw, if there is one: (requests, decision ms, request ms).
    fn traffic(&self) -> Option<(usize, f64, f64)> {
        self.gate().map(|g| {
            let records = g.records();
            (
                records.len(),
                records.iter().map(|r| r.decision_us as f64 / 1000.0).sum(),
                records.iter().map(|r| r.total_us as f64 / 1000.0).sum(),
            )
        })
    }
}

/// Runs every phase over `backend`, emitting events. On a signal before the scenarios the
/// work stops at once; during them no new call starts and the calls under way finish (so
/// nothing is created untagged), a second signal stops those too. Teardown always runs.
pub async fn run<B: Backend>(
    backend: &mut B,
    plan: &Plan<'_>,
    signals: &mut Signals,
    emit: &mut (dyn FnMut(RunEvent) + Send),
) -> Outcome {
    let started = Instant::now();
    let emit = Mutex::new(emit);
    let say = |e: RunEvent| {
        if let Ok(mut f) = emit.lock() {
            (*f)(e)
        }
    };
    let made = Made::default();
    let stop = Arc::new(AtomicBool::new(false));
    let in_scenarios = AtomicBool::new(false);
    let mut interrupted = false;
    let outcome = {
        let work = phases(backend, plan, &made, &stop, &in_scenarios, &say);
        tokio::pin!(work);
        tokio::select! {
            r = &mut work => Some(r),
            _ = signals.next() => {
                interrupted = true;
                if in_scenarios.load(Ordering::SeqCst) {
                    stop.store(true, Ordering::SeqCst);
                    say(RunEvent::Note("interrupted; letting the calls under way finish, then tearing down".into()));
                    tokio::select! {
                        r = &mut work => Some(r),
                        _ = signals.next() => None,
                    }
                } else {
                    None
                }
            }
        }
    };
    let mut outcome = outcome;
    let mut oracle_findings = Vec::new();
    if !interrupted && let Some(Ok((deployed, results, _))) = outcome.as_mut() {
        let since = Instant::now();
        tokio::select! {
            found = backend.oracles(plan, deployed, results) => oracle_findings = found,
            _ = signals.next() => interrupted = true,
        }
        say(RunEvent::PhaseFinished { phase: Phase::Oracles, seconds: since.elapsed().as_secs_f64() });
    }
    let since = Instant::now();
    for e in backend.teardown(plan, &made).await {
        say(e);
    }
    say(RunEvent::PhaseFinished { phase: Phase::Teardown, seconds: since.elapsed().as_secs_f64() });
    if let Some((requests, decision_ms, request_ms)) = backend.traffic() {
        say(RunEvent::GateTraffic { requests, decision_ms, request_ms });
    }
    say(RunEvent::Finished { run_seconds: started.elapsed().as_secs_f64() });
    match (interrupted, outcome) {
        (true, _) | (false, None) => Outcome::Interrupted,
        (false, Some(Err(e))) => Outcome::Failed(e),
        (false, Some(Ok((deployed, results, ids)))) => {
            Outcome::Finished(Ran { deployed, results, ids, findings: oracle_findings })
        }
    }
}

/// The phases up to the scenarios' end, each timed.
async fn phases<B: Backend>(
    backend: &mut B,
    plan: &Plan<'_>,
    made: &Made,
    stop: &Arc<AtomicBool>,
    in_scenarios: &AtomicBool,
    say: &(dyn Fn(RunEvent) + Sync),
) -> Result<(Deployed, Vec<LiveResult>, HashMap<String, String>), RunError> {
    let mut since = Instant::now();
    let done = |phase: Phase, since: &mut Instant| {
        say(RunEvent::PhaseFinished { phase, seconds: since.elapsed().as_secs_f64() });
        *since = Instant::now();
    };
    backend.deploy(plan).await?;
    done(Phase::Deploy, &mut since);
    let session = Arc::clone(backend.session());
    let (role_arn, policies) = run::read_back(&session, &plan.loaded.role.role.name).await?;
    let deployed = Deployed { stack: plan.target.stack_name.clone(), role_arn, policies };
    backend.deployed(&deployed).await?;
    say(RunEvent::Deployed { stack: deployed.stack.clone(), role_arn: deployed.role_arn.clone() });
    done(Phase::ReadBack, &mut since);
    let mut ids = HashMap::new();
    run::run_fixtures(&session, &plan.loaded.profile.fixtures, &mut ids, plan.target, &made.fixtures, &made.ids)
        .await?;
    for warning in backend.fixtures_made(plan, &ids).await {
        say(RunEvent::Warning(warning));
    }
    done(Phase::Fixtures, &mut since);
    let creds = backend.become_principal(plan, &deployed).await?;
    say(RunEvent::Canary(backend.canary(plan, &creds).await));
    done(Phase::Become, &mut since);
    let options = backend.call_options(Arc::clone(stop));
    in_scenarios.store(true, Ordering::SeqCst);
    let progress = |done: usize, total: usize, r: &LiveResult| {
        say(RunEvent::Scenario { done, total, result: r.clone() });
    };
    let (results, ids) = run::run_scenarios(
        session,
        creds,
        &plan.loaded.profile,
        ids,
        plan.target,
        plan.concurrency,
        backend.gate(),
        plan.shard,
        &options,
        &progress,
    )
    .await;
    done(Phase::Scenarios, &mut since);
    Ok((deployed, results, ids))
}
