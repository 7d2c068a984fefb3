//! `run`: the live conformance run. Deploys the template as a CloudFormation stack on
//! an emulator, reads back what the emulator's IAM holds, assumes the role, makes every
//! scenario's call through the gate, tears everything down, and reports — with the
//! static proof of `check` in the same report.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::task::JoinSet;

use crate::client::{Answer, Client, Credentials, ExecError};
use crate::gate_server::{Gate, GateOptions, GateRecord, GateVerdict, Refusal, SCENARIO_HEADER, Subject};
pub use crate::session::{CallError, Endpoints, ReadBackError, Session, read_back};
use crate::session::{read_output, text_at};
use iamc_core::aws::errors::{ErrorClass, classify, classify_answer, worded_as_denial};
pub use iamc_core::aws::retry::RetryPolicy;
use iamc_core::gate::deny::is_denial_code;
pub use iamc_core::outcome::{DecidedBy, LiveResult, Observed, Shard, SkipReason, required_by};
use iamc_core::policy::Policy;
use iamc_core::report::BackendAnswer;
use iamc_core::scenario::{Expect, Fixture, Profile, Scenario, substitute};
use iamc_core::template::render::Target;

/// The harness's own credentials on an emulator (any key works there; the gate knows
/// this one as the administrator's and does not evaluate its calls).
///
/// The key id is drawn at random once per process: the gate lets this key's calls pass
/// unevaluated, so it must not be guessable by another client of a standalone gate.
pub fn admin_credentials() -> Credentials {
    static KEY: std::sync::OnceLock<(String, String)> = std::sync::OnceLock::new();
    let (key, secret) = KEY.get_or_init(|| {
        use std::io::Read;
        let mut bytes = [0u8; 40];
        let read = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut bytes));
        if read.is_err() {
            // No /dev/urandom: the clock is a weaker but still per-process source.
            let seed =
                std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
            for (i, b) in bytes.iter_mut().enumerate() {
                *b = (seed >> ((i % 16) * 8)) as u8 ^ (i as u8).wrapping_mul(151);
            }
        }
        let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
        let tail: String = bytes[..10].iter().map(|b| alphabet[(*b as usize) % 32] as char).collect();
        // The gate verifies the administrator's signatures with this secret: drawn at
        // random too, so the printed key id alone lets no one in.
        let secret: String = bytes[10..].iter().map(|b| alphabet[(*b as usize) % 32] as char).collect();
        (format!("AKIAIAMCADMIN{tail}"), secret)
    });
    Credentials { access_key_id: key.clone(), secret_access_key: secret.clone(), session_token: None }
}

// Errors: one per operation below, each message naming the operation as the run's phase
// ("deploy: …"), with its cause's words in it and the cause itself as `source`. The
// pipeline's `RunError` gathers the phases' errors.

/// Why the stack did not deploy ([`deploy`]), or a given stack was not found.
#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    /// CreateStack or DescribeStacks failed.
    #[error("deploy: {0}")]
    Call(#[source] CallError),
    /// CloudFormation gave up on the stack (a failed or rolled back status).
    #[error("deploy: stack {stack} is {status}: {reason}")]
    Failed { stack: String, status: String, reason: String },
    /// The stack was still being created when the wait ended.
    #[error("deploy: stack {stack} still {status} after {seconds} s")]
    TimedOut { stack: String, status: String, seconds: u64 },
    /// The stack named by `--stack` could not be described.
    #[error("stack `{stack}` (--stack): {source}")]
    GivenStack {
        stack: String,
        #[source]
        source: CallError,
    },
}

/// A fixture's call that failed ([`run_fixtures`]).
#[derive(Debug, thiserror::Error)]
#[error("fixture {fixture}: {source}")]
pub struct FixtureError {
    /// The fixture's id.
    pub fixture: String,
    /// The failed call.
    #[source]
    pub source: CallError,
}

/// Why the principal's credentials were not obtained, or never behaved ([`become_role`]).
#[derive(Debug, thiserror::Error)]
pub enum BecomeError {
    /// AssumeRole got no answer.
    #[error("assume role: {0}")]
    Call(#[source] ExecError),
    /// Patience ran out (IAM propagation); says what the last attempt saw.
    #[error("assume role: the role did not behave within {seconds} s: {last}")]
    NotReady { seconds: u64, last: LastAttempt },
}

/// What the last attempt to become the principal saw.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LastAttempt {
    /// No attempt was made (no patience).
    None,
    /// AssumeRole answered with an error.
    Refused { code: String, message: String },
    /// The credentials came, but a readiness probe was not answered as it must be.
    Probes { allow: String, allow_denied: bool, deny: String, deny_denied: bool },
}

impl std::fmt::Display for LastAttempt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LastAttempt::None => Ok(()),
            LastAttempt::Refused { code, message } => write!(f, "AssumeRole answered {code}: {message}"),
            LastAttempt::Probes { allow, allow_denied, deny, deny_denied } => {
                write!(f, "probe `{allow}` denied: {allow_denied}, probe `{deny}` denied: {deny_denied}")
            }
        }
    }
}

/// Why the gate did not start ([`start_gate`]).
#[derive(Debug, thiserror::Error)]
#[error("gate: failed to listen on 127.0.0.1: {0}")]
pub struct GateStartError(#[source] pub std::io::Error);

/// A deployed stack and the role it made, as the emulator's IAM holds them.
pub struct Deployed {
    pub stack: String,
    pub role_arn: String,
    pub policies: Vec<Policy>,
}

/// How long a stack may take to be created.
const DEPLOY_PATIENCE: Duration = Duration::from_secs(300);

/// Deploys the rendered template and waits for the stack.
pub async fn deploy(session: &Session, stack: &str, template_json: &str) -> Result<(), DeployError> {
    deploy_with(session, stack, template_json, None).await
}

/// Deploys with stack tags (a JSON list of `{Key, Value}`), and waits for the stack.
pub async fn deploy_with(
    session: &Session,
    stack: &str,
    template_json: &str,
    tags: Option<Value>,
) -> Result<(), DeployError> {
    let mut input = serde_json::json!({"StackName": stack, "TemplateBody": template_json, "Capabilities": ["CAPABILITY_NAMED_IAM"]});
    if let Some(tags) = tags {
        input["Tags"] = tags;
    }
    session.admin_ok("cloudformation", "CreateStack", input).await.map_err(DeployError::Call)?;
    let started = Instant::now();
    loop {
        // Named, the stack is the one answer: no paging.
        let output = session
            .admin_read("cloudformation", "DescribeStacks", serde_json::json!({"StackName": stack}))
            .await
            .map_err(DeployError::Call)?;
        let status = text_at(&output, "/Stacks/0/StackStatus").unwrap_or_default();
        match status.as_str() {
            "CREATE_COMPLETE" => return Ok(()),
            s if s.ends_with("FAILED") || s.contains("ROLLBACK") => {
                let reason = text_at(&output, "/Stacks/0/StackStatusReason").unwrap_or_default();
                return Err(DeployError::Failed { stack: stack.to_string(), status: s.to_string(), reason });
            }
            _ if started.elapsed() > DEPLOY_PATIENCE => {
                return Err(DeployError::TimedOut {
                    stack: stack.to_string(),
                    status,
                    seconds: DEPLOY_PATIENCE.as_secs(),
                });
            }
            // Quick on an emulator, gentle on AWS's DescribeStacks rate.
            _ => {
                tokio::time::sleep(Duration::from_millis(250).max(started.elapsed() / 10).min(Duration::from_secs(5)))
                    .await
            }
        }
    }
}

/// Assumes the role through the gate (so the gate learns its keys), then waits until one
/// call that must be allowed is and one that must be denied is (IAM propagation).
///
/// Without a gate (`--target aws`) AWS's own answers decide: the allowed probe answers
/// without a denial, the denied probe with one. IAM is eventually consistent, so a new
/// role's AssumeRole and permissions are retried with backoff for up to `patience`.
pub async fn assume(
    session: &Session,
    gate: Option<&Gate>,
    role_arn: &str,
    probes: (&Scenario, &Scenario),
    target: &Target,
    patience: Duration,
) -> Result<Credentials, BecomeError> {
    become_role(session, gate, &CredentialSource::AssumeRole(role_arn.to_string()), probes, target, patience).await
}

/// Where the role's credentials come from.
#[derive(Clone, Debug)]
pub enum CredentialSource {
    /// The administrator assumes the role.
    AssumeRole(String),
    /// Credentials that already act under the policy (an instance profile's, a user's).
    Given(Credentials),
}

/// Obtains the role's credentials and waits until they behave (see `assume`).
pub async fn become_role(
    session: &Session,
    gate: Option<&Gate>,
    source: &CredentialSource,
    probes: (&Scenario, &Scenario),
    target: &Target,
    patience: Duration,
) -> Result<Credentials, BecomeError> {
    let started = Instant::now();
    let mut delay = Duration::from_millis(200);
    let mut last = LastAttempt::None;
    let mut attempt = 0u64;
    while started.elapsed() < patience {
        attempt += 1;
        let obtained = match source {
            CredentialSource::Given(creds) => Ok(creds.clone()),
            CredentialSource::AssumeRole(role_arn) => {
                let answer = session
                    .admin(
                        "sts",
                        "AssumeRole",
                        serde_json::json!({"RoleArn": role_arn, "RoleSessionName": "iam-conformance", "DurationSeconds": 3600}),
                    )
                    .await
                    .map_err(BecomeError::Call)?;
                match &answer.error {
                    None => {
                        // An answer the wire model cannot read gives empty credentials, as
                        // an answer without them does: the probes then fail and are retried.
                        let output =
                            read_output("sts", "AssumeRole", answer.status, &answer.body).unwrap_or(Value::Null);
                        let get = |n: &str| text_at(&output, &format!("/Credentials/{n}")).unwrap_or_default();
                        Ok(Credentials {
                            access_key_id: get("AccessKeyId"),
                            secret_access_key: get("SecretAccessKey"),
                            session_token: Some(get("SessionToken")),
                        })
                    }
                    Some((code, message)) => Err(LastAttempt::Refused { code: code.clone(), message: message.clone() }),
                }
            }
        };
        if let Ok(creds) = obtained {
            // The gate's own records say whether the role behaves: the allowed probe
            // evaluated and forwarded, the denied probe evaluated and denied (a refusal
            // proves nothing).
            let tag = format!("readiness-probe-{attempt}");
            let (allow_tag, deny_tag) = (format!("{tag}-allow"), format!("{tag}-deny"));
            let allowed = call_scenario(session, &creds, probes.0, &HashMap::new(), target, &allow_tag).await;
            let denied = call_scenario(session, &creds, probes.1, &HashMap::new(), target, &deny_tag).await;
            let is_denied = |r: &Result<Answer, ExecError>| {
                r.as_ref().ok().and_then(|a| a.error.as_ref()).is_some_and(|(c, _)| is_denial_code(c))
            };
            let (allow_ok, deny_ok) = match gate {
                Some(gate) => {
                    let verdict_of = |t: &str| {
                        gate.records()
                            .into_iter()
                            .rev()
                            .find(|r| r.scenario.as_deref() == Some(t))
                            .map(|r| (r.verdict, r.reason.is_none()))
                    };
                    (
                        allowed.is_ok() && verdict_of(&allow_tag) == Some((GateVerdict::Forwarded, true)),
                        denied.is_ok() && matches!(verdict_of(&deny_tag), Some((GateVerdict::Denied, _))),
                    )
                }
                // AWS decides: an answer without an error for the one, a denial for the other.
                None => (allowed.as_ref().is_ok_and(|a| a.error.is_none()), is_denied(&denied)),
            };
            if allow_ok && deny_ok {
                return Ok(creds);
            }
            last = LastAttempt::Probes {
                allow: probes.0.id.clone(),
                allow_denied: is_denied(&allowed),
                deny: probes.1.id.clone(),
                deny_denied: is_denied(&denied),
            };
        } else if let Err(why) = obtained {
            last = why;
        }
        // Exponential backoff with jitter from the clock's low bits.
        let jitter = Duration::from_millis((Instant::now().elapsed().subsec_nanos() as u64 + attempt * 37) % 150);
        tokio::time::sleep(delay + jitter).await;
        delay = (delay * 2).min(Duration::from_secs(5));
    }
    Err(BecomeError::NotReady { seconds: patience.as_secs(), last })
}

/// Replaces example ids by the real ones and the `${AWS::…}` variables.
pub fn concrete_input(input: &Value, ids: &HashMap<String, String>, target: &Target) -> Value {
    let mut text = substitute(&input.to_string(), target);
    let mut pairs: Vec<(&String, &String)> = ids.iter().collect();
    pairs.sort_by_key(|(k, _)| std::cmp::Reverse(k.len()));
    for (example, real) in pairs {
        text = text.replace(example.as_str(), real);
    }
    serde_json::from_str(&text).unwrap_or_else(|_| input.clone())
}

/// Makes a scenario's call; `tag` is what the gate records it under (the scenario id for
/// the scenario itself, something else for readiness probes).
async fn call_scenario(
    session: &Session,
    creds: &Credentials,
    s: &Scenario,
    ids: &HashMap<String, String>,
    target: &Target,
    tag: &str,
) -> Result<Answer, ExecError> {
    let input = concrete_input(&s.input, ids, target);
    session.call(creds, &s.service, &s.operation, &input, &[(SCENARIO_HEADER, tag)]).await
}

/// Runs the fixtures with the administrator's credentials, recording what they produce.
pub async fn run_fixtures(
    session: &Session,
    fixtures: &[Fixture],
    ids: &mut HashMap<String, String>,
    target: &Target,
    created: &Mutex<Vec<Fixture>>,
    shared_ids: &Mutex<HashMap<String, String>>,
) -> Result<(), FixtureError> {
    for f in fixtures {
        let input = concrete_input(&f.input, ids, target);
        let body = session
            .admin_ok(&f.service, &f.operation, input)
            .await
            .map_err(|source| FixtureError { fixture: f.id.clone(), source })?;
        // A fixture's answer is successful (admin_ok): HTTP 2xx, read as 200.
        record_produced(&f.service, &f.operation, &f.produces, 200, &body, ids)
            .map_err(|source| FixtureError { fixture: f.id.clone(), source })?;
        // Kept as each fixture lands, so a teardown after a later failure can undo it.
        if let Ok(mut done) = created.lock() {
            done.push(f.clone());
        }
        if let Ok(mut known) = shared_ids.lock() {
            known.clone_from(ids);
        }
    }
    Ok(())
}

/// The call that undoes a fixture, where the harness knows one: (service, operation,
/// input), built from the fixture's own input and what it produced.
pub fn undo(f: &Fixture, ids: &HashMap<String, String>, target: &Target) -> Option<(String, String, Value)> {
    let input = concrete_input(&f.input, ids, target);
    let pick = |keys: &[&str]| -> Value {
        Value::Object(keys.iter().filter_map(|k| input.get(*k).map(|v| (k.to_string(), v.clone()))).collect())
    };
    let (service, operation, args) = match (f.service.as_str(), f.operation.as_str()) {
        ("iam", "CreateRole") => ("iam", "DeleteRole", pick(&["RoleName"])),
        ("iam", "CreateInstanceProfile") => ("iam", "DeleteInstanceProfile", pick(&["InstanceProfileName"])),
        ("iam", "AddRoleToInstanceProfile") => {
            ("iam", "RemoveRoleFromInstanceProfile", pick(&["InstanceProfileName", "RoleName"]))
        }
        ("ec2", "CreateKeyPair") => ("ec2", "DeleteKeyPair", pick(&["KeyName"])),
        ("ec2", "CreateVolume") => {
            let (example, _) = f.produces.iter().find(|(_, field)| field.eq_ignore_ascii_case("volumeId"))?;
            ("ec2", "DeleteVolume", serde_json::json!({"VolumeId": ids.get(example)?}))
        }
        _ => return None,
    };
    Some((service.to_string(), operation.to_string(), args))
}

/// Undoes the fixtures in reverse order, best effort (on an emulator the harness started,
/// resetting or stopping it removes the rest). Returns the fixtures it could not undo.
pub async fn undo_fixtures(
    session: &Session,
    fixtures: &[Fixture],
    ids: &HashMap<String, String>,
    target: &Target,
) -> Vec<String> {
    let mut left = Vec::new();
    for f in fixtures.iter().rev() {
        match undo(f, ids, target) {
            Some((service, operation, input)) => {
                // Already gone (a sweep by the run's tag removed it first) is done.
                let done = session
                    .admin(&service, &operation, input)
                    .await
                    .is_ok_and(|a| a.ok() || a.error.as_ref().is_some_and(|(c, m)| classify(c, m) == ErrorClass::Gone));
                if !done {
                    left.push(f.id.clone());
                }
            }
            // Lookups (DescribeImages) create nothing.
            None if f.operation.starts_with("Describe") => {}
            None => left.push(f.id.clone()),
        }
    }
    left
}

/// Records the real ids a successful answer carries for the example ids of `produces`
/// (example id → the answer's field, e.g. `"vpc-0a1b…" = "vpcId"`). The answer is read by
/// the wire model; a field names a member of its output (compared ignoring ASCII case,
/// so the wire's `vpcId` is the member `VpcId`), found depth-first in the output's member
/// order (the first of the answer's `imagesSet` items for `imageId`). A field the answer
/// lacks records nothing. Nothing is read when nothing is produced.
fn record_produced(
    service: &str,
    operation: &str,
    produces: &BTreeMap<String, String>,
    status: u16,
    body: &str,
    ids: &mut HashMap<String, String>,
) -> Result<(), CallError> {
    if produces.is_empty() {
        return Ok(());
    }
    let output = read_output(service, operation, status, body)?;
    for (example, field) in produces {
        if let Some(v) = first_member(&output, field) {
            ids.insert(example.clone(), v);
        }
    }
    Ok(())
}

/// The first text (a string, or a number's decimal text) under a key equal to `field`
/// ignoring ASCII case, depth-first in the output's order.
fn first_member(value: &Value, field: &str) -> Option<String> {
    match value {
        Value::Object(members) => members.iter().find_map(|(name, v)| {
            let own = match v {
                Value::String(s) if name.eq_ignore_ascii_case(field) => Some(s.clone()),
                Value::Number(n) if name.eq_ignore_ascii_case(field) => Some(n.to_string()),
                _ => None,
            };
            own.or_else(|| first_member(v, field))
        }),
        Value::Array(items) => items.iter().find_map(|v| first_member(v, field)),
        _ => None,
    }
}

/// Whether the backend says it cannot serve the call (LocalStack's 501, moto's 500 page).
fn unserved(answer: &Answer) -> Option<String> {
    let lower = answer.body.to_ascii_lowercase();
    let moto_gap = answer.status == 500
        && (lower.contains("not yet implemented")
            || lower.contains("notimplemented")
            || lower.contains("<html")
            || lower.contains("internal server error"));
    if answer.status == 501 || moto_gap {
        let reason = answer.error.as_ref().map(|(c, m)| format!("{c}: {m}")).unwrap_or_else(|| {
            answer.body.lines().find(|l| !l.trim().is_empty()).unwrap_or_default().chars().take(160).collect()
        });
        let what = if answer.status == 500 {
            "moto's answer for calls it does not implement or cannot handle"
        } else {
            "not served"
        };
        let first_line = reason.lines().find(|l| !l.trim().is_empty()).unwrap_or_default().trim().to_string();
        return Some(format!("backend answered HTTP {} ({what}): {first_line}", answer.status));
    }
    None
}

/// Runs every scenario, at most `concurrency` at a time, each after the scenarios it needs.
#[allow(clippy::too_many_arguments)]
pub async fn run_scenarios(
    session: Arc<Session>,
    creds: Credentials,
    profile: &Profile,
    ids: HashMap<String, String>,
    target: &Target,
    concurrency: usize,
    gate: Option<&Gate>,
    shard: Option<Shard>,
    options: &CallOptions,
    progress: &(dyn Fn(usize, usize, &LiveResult) + Sync),
) -> (Vec<LiveResult>, HashMap<String, String>) {
    let ids = Arc::new(Mutex::new(ids));
    let scenarios: HashMap<String, Scenario> = profile.scenarios.iter().map(|s| (s.id.clone(), s.clone())).collect();
    let required = required_by(profile, shard);
    let mut pending: Vec<String> = Vec::new();
    let mut finished: HashMap<String, LiveResult> = HashMap::new();
    for (i, s) in profile.scenarios.iter().enumerate() {
        if required.contains(&s.id) {
            pending.push(s.id.clone());
        } else if let Some(sh) = shard {
            finished.insert(
                s.id.clone(),
                LiveResult::skipped(
                    &s.id,
                    SkipReason::OtherShard,
                    format!("belongs to shard {}/{}", sh.owner_of(i), sh.count),
                ),
            );
        }
    }
    let mut running: HashSet<String> = HashSet::new();
    // Scenarios sent as EC2 dry runs (`--mode dry-run`).
    let mut dry_runs: HashSet<String> = HashSet::new();
    let mut tasks: JoinSet<Call> = JoinSet::new();
    let mut task_ids: HashMap<tokio::task::Id, String> = HashMap::new();
    let total = pending.len();
    loop {
        // Start whatever is ready; settling one without a call (skipped) can make
        // earlier entries ready, so scan again until nothing changes.
        loop {
            let mut settled = false;
            let mut i = 0;
            if options.stop.as_ref().is_some_and(|f| f.load(std::sync::atomic::Ordering::SeqCst)) {
                for id in pending.drain(..) {
                    finished.insert(
                        id.clone(),
                        LiveResult::skipped(&id, SkipReason::Interrupted, "not run: the run was interrupted".into()),
                    );
                }
            }
            while i < pending.len() && running.len() < concurrency.max(1) {
                let id = pending[i].clone();
                let s = &scenarios[&id];
                if !s.needs.iter().all(|n| finished.contains_key(n)) {
                    i += 1;
                    continue;
                }
                pending.remove(i);
                if let Some(r) = settled_without_call(s, &finished, &scenarios) {
                    progress(finished.len() + 1, total, &r);
                    finished.insert(id, r);
                    settled = true;
                    continue;
                }
                running.insert(id.clone());
                let (session, creds, ids, target, s, options) =
                    (Arc::clone(&session), creds.clone(), Arc::clone(&ids), target.clone(), s.clone(), options.clone());
                // A dry run of a create produces nothing its dependants could use.
                let dry_run = options.dry_run && iamc_core::aws::accepts_dry_run(&s.service, &s.operation);
                // Transitively: a live call on top of a dry run's missing resource passes the
                // taint on to what needs it.
                let dry_needs: Vec<String> =
                    s.needs.iter().filter(|n| dry_runs.contains(n.as_str())).cloned().collect();
                if dry_run || !dry_needs.is_empty() {
                    dry_runs.insert(id.clone());
                }
                let handle = tasks.spawn(async move {
                    let mut call = make_call(&session, &creds, s, &ids, &target, &options, dry_run).await;
                    call.dry_needs = dry_needs;
                    call
                });
                task_ids.insert(handle.id(), id);
            }
            if !settled {
                break;
            }
        }
        if tasks.is_empty() {
            if pending.is_empty() {
                break;
            }
            // Nothing runs and nothing can start: the rest waits on each other (cannot
            // happen with a validated profile) — report them rather than hang.
            for id in pending.drain(..) {
                finished.insert(id.clone(), LiveResult::error(&id, "prerequisites never finished".into()));
            }
            break;
        }
        let Some(joined) = tasks.join_next_with_id().await else { continue };
        let (id, call) = match joined {
            Ok((task, call)) => (task_ids.remove(&task).unwrap_or_default(), Some(call)),
            Err(e) => (task_ids.remove(&e.id()).unwrap_or_default(), None),
        };
        running.remove(&id);
        let s = &scenarios[&id];
        let live = match (call, gate) {
            (Some(call), Some(gate)) => {
                let record = gate.records().into_iter().rev().find(|r| r.scenario.as_deref() == Some(id.as_str()));
                resolve(s, call.answer, record)
            }
            (Some(call), None) => {
                let mut live = resolve_direct(s, call.answer, call.dry_run, &call.dry_needs);
                if !call.tag_failures.is_empty() {
                    let note = format!("not tagged for sweep: {}", call.tag_failures.join("; "));
                    live.note = Some(live.note.map(|n| format!("{n}; {note}")).unwrap_or(note));
                }
                live
            }
            (None, _) => LiveResult::error(&id, "the call's task failed (a bug in the harness)".into()),
        };
        progress(finished.len() + 1, total, &live);
        finished.insert(id, live);
    }
    let results = profile.scenarios.iter().filter_map(|s| finished.remove(&s.id)).collect();
    let ids = ids.lock().map(|m| m.clone()).unwrap_or_default();
    (results, ids)
}

/// A scenario settled without a call: a synthetic probe, or an allowed call whose
/// prerequisite did not succeed.
fn settled_without_call(
    s: &Scenario,
    finished: &HashMap<String, LiveResult>,
    scenarios: &HashMap<String, Scenario>,
) -> Option<LiveResult> {
    if let Some(reason) = &s.synthetic {
        let why = format!("synthetic probe, not a real request: {reason}");
        return Some(LiveResult::skipped(&s.id, SkipReason::Synthetic, why));
    }
    let failed_need =
        s.needs.iter().find(|n| finished.get(*n).is_some_and(|r| need_failed(r, scenarios[n.as_str()].expect)));
    match (s.expect, failed_need) {
        (Expect::Allow, Some(need)) => {
            let why = format!("prerequisite `{need}` did not succeed");
            Some(LiveResult::skipped(&s.id, SkipReason::Prerequisite, why))
        }
        _ => None,
    }
}

/// One scenario's call (as an EC2 dry run when `dry_run`), retried while AWS says "not
/// yet"; what it created is recorded under its example ids and tagged for the sweep.
async fn make_call(
    session: &Session,
    creds: &Credentials,
    mut s: Scenario,
    ids: &Mutex<HashMap<String, String>>,
    target: &Target,
    options: &CallOptions,
    dry_run: bool,
) -> Call {
    let known = ids.lock().map(|m| m.clone()).unwrap_or_default();
    if dry_run && let Value::Object(input) = &mut s.input {
        input.insert("DryRun".into(), Value::Bool(true));
    }
    let answer = call_until_settled(options.retry, || call_scenario(session, creds, &s, &known, target, &s.id)).await;
    let mut produced: Vec<(iamc_core::aws::sweep::Kind, String)> = Vec::new();
    if let Ok(a) = &answer
        && a.error.is_none()
        && let Ok(mut m) = ids.lock()
    {
        // Best effort, as for a field the answer lacks: an answer the wire model cannot
        // read records nothing (what needs its ids then fails).
        let _ = record_produced(&s.service, &s.operation, &s.produces, a.status, &a.body, &mut m);
        produced = s
            .produces
            .keys()
            .filter_map(|example| m.get(example).cloned())
            .filter_map(|id| iamc_core::aws::sweep::kind_of(&id).map(|k| (k, id)))
            .collect();
        let input = concrete_input(&s.input, &known, target);
        produced.extend(iamc_core::aws::created_named(&s.service, &s.operation, &input, &a.body));
    }
    // What the role created carries the run's tags, so a sweep finds it even if this run
    // is killed before its teardown.
    let tag_failures = tag_created(session, options, &produced).await;
    Call { answer, dry_run, dry_needs: Vec::new(), tag_failures }
}

/// Whether a finished prerequisite leaves its dependents without what they need: it
/// errored, was denied, was answered with an error, or was itself skipped for want of a
/// prerequisite. A call the backend cannot serve (or a synthetic probe) does not block
/// the calls after it: they run and say for themselves what the backend answers.
fn need_failed(r: &LiveResult, expect: Expect) -> bool {
    match r.observed {
        // An EC2 dry run that was authorized created nothing, but its dependants are still
        // sent: AWS says for each whether it can decide without the missing resource.
        Observed::Allowed => r
            .backend
            .as_ref()
            .is_some_and(|b| b.code.as_deref().is_some_and(|c| classify(c, "") != ErrorClass::DryRunAuthorized)),
        // A denial probe that was denied did what it is there for.
        Observed::Denied => expect != Expect::Deny,
        Observed::Skipped => r.skip == Some(SkipReason::Prerequisite),
        _ => true,
    }
}

/// Tags resources a scenario created with the run's tags (administrator's credentials);
/// returns what could not be tagged.
async fn tag_created(
    session: &Session,
    options: &CallOptions,
    produced: &[(iamc_core::aws::sweep::Kind, String)],
) -> Vec<String> {
    let mut failures = Vec::new();
    let Some((run_id, expires)) = &options.tags else { return failures };
    for (kind, id) in produced {
        let Some((service, operation, input)) = iamc_core::aws::sweep::tag_call(*kind, id, run_id, expires) else {
            continue;
        };
        match session.admin(service, operation, input).await {
            Ok(a) if a.error.is_none() => {}
            Ok(a) => failures.push(format!(
                "{id}: {service}:{operation} answered {}",
                a.error.map(|(c, m)| format!("{c}: {m}")).unwrap_or_default()
            )),
            Err(e) => failures.push(format!("{id}: {e}")),
        }
    }
    failures
}

/// Resolves when the process receives SIGTERM (never, where there is no such signal).
pub async fn sigterm() {
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(mut s) => {
            s.recv().await;
        }
        Err(_) => std::future::pending::<()>().await,
    }
}

/// What one scenario task brings back.
struct Call {
    answer: Result<Answer, ExecError>,
    /// Sent with EC2's `DryRun` flag.
    dry_run: bool,
    /// Prerequisites that were only dry runs (their ids do not exist).
    dry_needs: Vec<String>,
    /// Created resources the administrator could not tag.
    tag_failures: Vec<String>,
}

/// How scenario calls are made beyond the call itself.
#[derive(Clone, Debug, Default)]
pub struct CallOptions {
    /// Send EC2 calls that accept it with `DryRun` (`--mode dry-run`).
    pub dry_run: bool,
    /// Tag what each call creates with (run id, expiry), with the administrator's credentials.
    pub tags: Option<(String, String)>,
    /// Retrying a call AWS answers with "not yet", throttling or a 5xx: on AWS a delete
    /// right after the deletes it depends on waits for them to finish.
    pub retry: RetryPolicy,
    /// Set on Ctrl-C/SIGTERM: no new call starts; the calls under way finish (and tag what
    /// they create), the rest are reported as not run.
    pub stop: Option<Arc<std::sync::atomic::AtomicBool>>,
}

/// Makes a call, and again after the policy's wait while the answer is of a class it
/// retries (throttling, "not yet", a 5xx if asked), within its patience. The last answer
/// is returned whatever it is.
pub async fn call_until_settled<F, Fut>(policy: RetryPolicy, mut call: F) -> Result<Answer, ExecError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Answer, ExecError>>,
{
    let started = Instant::now();
    let mut retries = 0;
    loop {
        let answer = call().await;
        let wait = match &answer {
            Ok(a) => a
                .error
                .as_ref()
                .and_then(|(c, m)| policy.next_wait(retries, started.elapsed(), classify_answer(a.status, c, m))),
            Err(_) => None,
        };
        let Some(wait) = wait else { return answer };
        tokio::time::sleep(wait).await;
        retries += 1;
    }
}

/// Reads one call from the gate's record of it first, then the backend's answer:
/// - the gate denied → denied, decided by the gate (the backend never saw it);
/// - the gate refused (could not evaluate), or left no record → error: nothing decided;
/// - the gate forwarded → allowed by the gate, unless the backend itself denied (then
///   the service decided), authentication failed (the harness is at fault: error), or the
///   backend cannot serve the call: then an allow scenario is skipped with its reason, but
///   a deny scenario has its answer already — the gate let through what must be denied.
///   A backend error after authorization (a missing resource…) is recorded, not a verdict.
fn resolve(s: &Scenario, answer: Result<Answer, ExecError>, record: Option<GateRecord>) -> LiveResult {
    let answer = match answer {
        // Inputs are checked against the wire models when the profile loads, so a call
        // that cannot be written now is the harness's fault.
        Err(e) => return LiveResult::error(&s.id, e.to_string()),
        Ok(a) => a,
    };
    let backend = backend_answer(&answer);
    let Some(record) = record else {
        return LiveResult::error(
            &s.id,
            format!("the gate kept no record of this call (HTTP {} from the gate)", answer.status),
        );
    };
    let live = |observed, decided_by, backend, note| LiveResult {
        backend,
        note,
        gate: Some(record.clone()),
        ..LiveResult::decided(&s.id, observed, decided_by)
    };
    match record.verdict {
        GateVerdict::Denied => {
            let note = format!(
                "denied by the gate: HTTP {} {}: {}",
                backend.status,
                backend.code.unwrap_or_default(),
                backend.message.unwrap_or_default()
            );
            live(Observed::Denied, DecidedBy::Gate, None, Some(note))
        }
        GateVerdict::Rejected if record.refusal == Some(Refusal::UnservedLookup) => {
            let why = record.reason.clone().unwrap_or_default();
            LiveResult {
                gate: Some(record.clone()),
                ..LiveResult::skipped(&s.id, SkipReason::NotDecided, format!("not decided: {why}"))
            }
        }
        GateVerdict::Rejected | GateVerdict::PassedThrough => {
            let why = record.reason.clone().unwrap_or_else(|| "it passed as the harness's own call".into());
            LiveResult {
                gate: Some(record.clone()),
                ..LiveResult::error(&s.id, format!("the gate did not evaluate this call: {why}"))
            }
        }
        // The gate forwarded, but the upstream never answered (the gate's own 502).
        GateVerdict::Forwarded if record.reason.is_some() => LiveResult {
            gate: Some(record.clone()),
            ..LiveResult::error(&s.id, format!("the gate allowed it but {}", record.reason.clone().unwrap_or_default()))
        },
        GateVerdict::Forwarded => {
            if let Some(reason) = unserved(&answer) {
                return match s.expect {
                    Expect::Allow => LiveResult {
                        gate: Some(record.clone()),
                        ..LiveResult::skipped(&s.id, SkipReason::Unserved, reason)
                    },
                    Expect::Deny => live(
                        Observed::Allowed,
                        DecidedBy::Gate,
                        Some(backend),
                        Some(format!("the gate let it through; then {reason}")),
                    ),
                };
            }
            match &answer.error {
                // The gate — the decider on these targets — allowed it; a denial behind it
                // is not the policy's answer: a mismatch for a deny scenario, an error for an
                // allow scenario (the harness and the backend disagree).
                Some((code, _)) if is_denial_code(code) => match s.expect {
                    Expect::Deny => live(
                        Observed::Allowed,
                        DecidedBy::Gate,
                        Some(backend),
                        Some("the gate let it through; the backend then denied it".into()),
                    ),
                    Expect::Allow => LiveResult {
                        gate: Some(record.clone()),
                        backend: Some(backend),
                        ..LiveResult::error(&s.id, "the gate allowed it but the backend denied it".into())
                    },
                },
                Some((code, message)) if classify(code, "") == ErrorClass::AuthFailure => LiveResult {
                    gate: Some(record.clone()),
                    ..LiveResult::error(
                        &s.id,
                        format!("authentication failed ({code}: {message}): the harness, not the policy, is at fault"),
                    )
                },
                _ => live(Observed::Allowed, DecidedBy::Gate, Some(backend), None),
            }
        }
    }
}

/// What the backend answered: status, error code and message, if any.
fn backend_answer(answer: &Answer) -> BackendAnswer {
    BackendAnswer {
        status: answer.status,
        code: answer.error.as_ref().map(|(c, _)| c.clone()),
        message: answer.error.as_ref().map(|(_, m)| m.clone()).filter(|m| !m.is_empty()),
    }
}

/// Reads one call AWS itself decided (`--target aws`, no gate):
/// - no error, or `DryRunOperation` (EC2 checked authorization and stopped there) → allowed;
/// - a call built on dry runs that AWS denies or answers with any other error → skipped:
///   the missing resource, not the policy, may explain it;
/// - a denial code, or an error worded as a denial → denied, decided by AWS;
/// - an error code the scenario declares in `authorized_when` → allowed;
/// - an authentication failure, or any other error → error (undecided): nothing says
///   whether the call was authorized.
fn resolve_direct(s: &Scenario, answer: Result<Answer, ExecError>, dry_run: bool, dry_needs: &[String]) -> LiveResult {
    let answer = match answer {
        Err(e) => return LiveResult::error(&s.id, e.to_string()),
        Ok(a) => a,
    };
    let backend = backend_answer(&answer);
    let live = |observed, note: Option<String>| LiveResult {
        backend: Some(backend.clone()),
        note,
        ..LiveResult::decided(&s.id, observed, DecidedBy::Aws)
    };
    if let Some(reason) = unserved(&answer) {
        return LiveResult {
            backend: Some(backend.clone()),
            ..LiveResult::skipped(&s.id, SkipReason::Unserved, reason)
        };
    }
    match &answer.error {
        None => live(Observed::Allowed, None),
        // A denial of a call that names what dry runs never created may come from the
        // missing resource (conditions on its tags, a role AWS cannot resolve), not from
        // the policy: it proves nothing either way.
        Some((code, message)) if is_denial_code(code) && !dry_needs.is_empty() => LiveResult {
            backend: Some(backend.clone()),
            ..LiveResult::skipped(
                &s.id,
                SkipReason::NotDecided,
                format!(
                    "not decided: AWS denied it ({code}: {message}), but it uses what dry run(s) {} would have created, so the denial may come from the missing resource",
                    dry_needs.join(", ")
                ),
            )
        },
        Some((code, _)) if is_denial_code(code) => live(Observed::Denied, None),
        // An answer worded as a denial under another code is read as one: Auto Scaling
        // says "You are not authorized to use launch template: lt-…" when the caller may
        // not launch from it (seen with AccessDenied in ansible-collections/community.aws
        // #831); an allow scenario answered so must fail, not be passed over.
        Some((code, message)) if worded_as_denial(message) => {
            live(Observed::Denied, Some(format!("AWS answered {code}, worded as a denial: {message}")))
        }
        Some((code, message)) if classify(code, message) == ErrorClass::DryRunAuthorized => {
            live(Observed::Allowed, Some("EC2 dry run: authorized, nothing was done".into()))
        }
        Some((code, message)) if classify(code, "") == ErrorClass::AuthFailure => LiveResult {
            backend: Some(backend.clone()),
            ..LiveResult::error(
                &s.id,
                format!("authentication failed ({code}: {message}): the harness, not the policy, is at fault"),
            )
        },
        // The scenario says this answer comes after authorization (and why).
        Some((code, message)) if s.authorized_when.contains_key(code) => live(
            Observed::Allowed,
            Some(format!("AWS answered {code}: {message}; authorized, because {}", s.authorized_when[code])),
        ),
        // Built on dry runs: expected not to decide — skipped, with AWS's words.
        Some((code, message)) if !dry_needs.is_empty() => LiveResult {
            backend: Some(backend.clone()),
            ..LiveResult::skipped(
                &s.id,
                SkipReason::NotDecided,
                format!(
                    "not decided: AWS answered {code}: {message} (it uses what dry run(s) {} would have created)",
                    dry_needs.join(", ")
                ),
            )
        },
        // Otherwise nothing explains it: undecided, for someone to look at.
        Some((code, message)) => {
            let dry = if dry_run { " to the dry run" } else { "" };
            LiveResult {
                backend: Some(backend.clone()),
                ..LiveResult::error(
                    &s.id,
                    format!("AWS answered{dry} {code}: {message}, which does not say whether the call was authorized"),
                )
            }
        }
    }
}

/// The deny canary: the denied probe sent straight to the emulator, around the gate.
/// True only when the emulator itself answers with a denial.
pub async fn service_enforces_iam(
    client: &Client,
    endpoint: &str,
    target: &Target,
    creds: &Credentials,
    denied: &Scenario,
) -> Option<bool> {
    let input = concrete_input(&denied.input, &HashMap::new(), target);
    // No answer at all leaves the question open.
    let answer =
        client.call(endpoint, &target.region, creds, &denied.service, &denied.operation, &input, &[]).await.ok()?;
    Some(answer.error.as_ref().is_some_and(|(c, _)| is_denial_code(c)))
}

/// Picks the readiness probes: an allowed and a denied scenario that need nothing.
pub fn probes(profile: &Profile) -> Option<(&Scenario, &Scenario)> {
    let free = |e: Expect| {
        profile.scenarios.iter().find(|s| {
            s.expect == e
                && s.needs.is_empty()
                && s.synthetic.is_none()
                && s.produces.is_empty()
                && s.operation.starts_with("Describe")
        })
    };
    let deny = profile
        .scenarios
        .iter()
        .find(|s| {
            s.expect == Expect::Deny
                && s.needs.is_empty()
                && s.synthetic.is_none()
                && s.operation.starts_with("Describe")
        })
        .or_else(|| {
            profile.scenarios.iter().find(|s| s.expect == Expect::Deny && s.needs.is_empty() && s.synthetic.is_none())
        });
    Some((free(Expect::Allow)?, deny?))
}

/// Starts a gate in front of `upstream`.
pub async fn start_gate(upstream: &str, target: &Target) -> Result<Gate, GateStartError> {
    Gate::start(
        std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
        GateOptions {
            upstream: upstream.to_string(),
            target: target.clone(),
            admin: admin_credentials(),
            subject: None,
        },
    )
    .await
    .map_err(GateStartError)
}

/// Hands the read-back role to the gate.
pub fn enforce(gate: &Gate, deployed: &Deployed) {
    gate.set_subject(Subject { role_arn: deployed.role_arn.clone(), policies: deployed.policies.clone() });
}

#[cfg(test)]
mod tests {
    use super::*;
    use iamc_core::wire::Protocol;

    /// An answer as the client builds it from a replayed status and body.
    fn answer(protocol: Protocol, status: u16, body: &str) -> Result<Answer, ExecError> {
        let error = crate::client::service_error(protocol, status, &[], body);
        Ok(Answer { status, body: body.to_string(), headers: Vec::new(), error })
    }

    /// The wire model's captured answers (moto's, `catalog/capture_responses.py`).
    fn captured() -> Vec<Value> {
        let fixtures: Value =
            serde_json::from_str(include_str!("../../core/src/wire/fixtures/responses.json")).unwrap();
        fixtures["cases"].as_array().unwrap().clone()
    }

    #[test]
    fn produced_ids_are_read_by_the_model_as_the_text_search_read_them() {
        // Every (service, operation, field) the scenarios and fixtures produce.
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/dkp-bootstrapper");
        let read = |f: &str| std::fs::read_to_string(dir.join(f)).unwrap();
        let profile = iamc_core::scenario::parse_profile(&read("profile.toml"), "profile.toml").unwrap();
        let mut produced: HashSet<(String, String, String)> = HashSet::new();
        for f in &profile.fixtures {
            produced.extend(f.produces.values().map(|v| (f.service.clone(), f.operation.clone(), v.clone())));
        }
        for entry in std::fs::read_dir(&dir).unwrap() {
            let name = entry.unwrap().file_name().into_string().unwrap();
            if !name.ends_with(".toml") || name == "profile.toml" {
                continue;
            }
            let catalog = iamc_core::catalog::Catalog::embedded();
            for s in iamc_core::scenario::parse_scenarios(&read(&name), &name, catalog).unwrap() {
                produced.extend(s.produces.values().map(|v| (s.service.clone(), s.operation.clone(), v.clone())));
            }
        }
        assert!(produced.len() >= 15, "{produced:?}");
        let cases = captured();
        let mut found = 0;
        for (service, operation, field) in &produced {
            let answers: Vec<&str> = cases
                .iter()
                .filter(|c| c["service"] == service.as_str() && c["operation"] == operation.as_str())
                .map(|c| c["body"].as_str().unwrap())
                .collect();
            assert!(!answers.is_empty(), "no captured answer of {service}:{operation}");
            for body in answers {
                let mut ids = HashMap::new();
                let produces = BTreeMap::from([("example".to_string(), field.clone())]);
                record_produced(service, operation, &produces, 200, body, &mut ids).unwrap();
                let old = iamc_core::xml::first(body, field);
                assert_eq!(ids.get("example"), old.as_ref(), "{service}:{operation} {field}");
                found += usize::from(old.is_some());
            }
        }
        assert!(found >= produced.len() - 2, "most produced fields are in the captured answers: {found}");
        // Nothing produced: nothing is read, whatever the body.
        let mut ids = HashMap::new();
        record_produced("iam", "CreateInstanceProfile", &BTreeMap::new(), 200, "not XML", &mut ids).unwrap();
        assert!(ids.is_empty());
        let produces = BTreeMap::from([("vpc-1".to_string(), "vpcId".to_string())]);
        let err = record_produced("ec2", "CreateVpc", &produces, 200, "not XML", &mut ids).unwrap_err();
        assert!(matches!(err, CallError::Unreadable { .. }), "{err}");
    }

    #[test]
    fn stack_status_and_credentials_are_read_by_the_model() {
        let cases = captured();
        let body = |operation: &str| {
            cases.iter().find(|c| c["operation"] == operation).unwrap()["body"].as_str().unwrap().to_string()
        };
        let stacks = read_output("cloudformation", "DescribeStacks", 200, &body("DescribeStacks")).unwrap();
        assert_eq!(text_at(&stacks, "/Stacks/0/StackStatus").as_deref(), Some("CREATE_COMPLETE"));
        assert_eq!(text_at(&stacks, "/Stacks/0/StackStatusReason"), None);
        let creds = read_output("sts", "AssumeRole", 200, &body("AssumeRole")).unwrap();
        for field in ["AccessKeyId", "SecretAccessKey", "SessionToken"] {
            let old = iamc_core::xml::first(&body("AssumeRole"), field);
            assert_eq!(text_at(&creds, &format!("/Credentials/{field}")), old, "{field}");
        }
    }

    fn scenario() -> Scenario {
        let target = Target::default();
        let loaded = crate::files::load(&iamc_core::load::ProfileSource::Embedded, None, &target).expect("seed loads");
        loaded.profile.scenarios[0].clone()
    }

    // Denial shapes as each protocol writes them (docs/aws-facts.md, "Denial shapes per
    // protocol"; EC2's encoded message shortened).
    const EC2_DENIED: &str = "<Response><Errors><Error><Code>UnauthorizedOperation</Code><Message>You are not authorized to perform this operation. Encoded authorization failure message: AbCd</Message></Error></Errors><RequestID>r</RequestID></Response>";
    const EC2_DRY_RUN: &str = "<Response><Errors><Error><Code>DryRunOperation</Code><Message>Request would have succeeded, but DryRun flag is set.</Message></Error></Errors><RequestID>r</RequestID></Response>";
    const EC2_NOT_FOUND: &str = "<Response><Errors><Error><Code>InvalidVpcID.NotFound</Code><Message>The vpc ID 'vpc-0a1b2c3d4e5f60001' does not exist</Message></Error></Errors><RequestID>r</RequestID></Response>";
    const EC2_AUTH: &str = "<Response><Errors><Error><Code>AuthFailure</Code><Message>AWS was not able to validate the provided access credentials</Message></Error></Errors><RequestID>r</RequestID></Response>";
    const QUERY_DENIED: &str = "<ErrorResponse xmlns=\"http://elasticloadbalancing.amazonaws.com/doc/2012-06-01/\"><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>User: arn:aws:sts::123456789012:assumed-role/dkp-bootstrapper-role/x is not authorized to perform: elasticloadbalancing:DeleteLoadBalancerPolicy</Message></Error><RequestId>r</RequestId></ErrorResponse>";
    // Auto Scaling's wording when the caller may not launch from a launch template,
    // under a non-denial code: read as a denial by its words.
    const ASG_LAUNCH_TEMPLATE: &str = "<ErrorResponse xmlns=\"http://autoscaling.amazonaws.com/doc/2011-01-01/\"><Error><Type>Sender</Type><Code>ValidationError</Code><Message>You are not authorized to use launch template: lt-0a1b2c3d4e5f60015</Message></Error><RequestId>r</RequestId></ErrorResponse>";
    const JSON_DENIED: &str = "{\"__type\":\"AccessDeniedException\",\"Message\":\"User: arn:aws:sts::123456789012:assumed-role/dkp-bootstrapper-role/x is not authorized to perform: secretsmanager:CreateSecret\"}";

    #[test]
    fn aws_answers_are_read_per_protocol() {
        let s = scenario();
        let cases: Vec<(Result<Answer, ExecError>, bool, Observed)> = vec![
            (answer(Protocol::Ec2, 200, "<R/>"), false, Observed::Allowed),
            (answer(Protocol::Ec2, 403, EC2_DENIED), false, Observed::Denied),
            (answer(Protocol::Ec2, 412, EC2_DRY_RUN), true, Observed::Allowed),
            (answer(Protocol::Query, 403, QUERY_DENIED), false, Observed::Denied),
            (answer(Protocol::Json, 400, JSON_DENIED), false, Observed::Denied),
            (answer(Protocol::Ec2, 401, EC2_AUTH), false, Observed::Error),
            (answer(Protocol::Ec2, 400, EC2_NOT_FOUND), false, Observed::Error),
            (answer(Protocol::Query, 400, ASG_LAUNCH_TEMPLATE), false, Observed::Denied),
        ];
        for (a, dry, expected) in cases {
            let shown = format!("{a:?}");
            let r = resolve_direct(&s, a, dry, &[]);
            assert_eq!(r.observed, expected, "{shown}\n{r:?}");
            if expected == Observed::Allowed || expected == Observed::Denied {
                assert_eq!(r.decided_by, DecidedBy::Aws, "{r:?}");
            }
        }
    }

    #[tokio::test]
    async fn busy_answers_are_retried_until_they_settle_or_patience_runs_out() {
        let busy = "<Response><Errors><Error><Code>DependencyViolation</Code><Message>The subnet 'subnet-1' has dependencies and cannot be deleted.</Message></Error></Errors><RequestID>r</RequestID></Response>";
        let calls = std::sync::atomic::AtomicUsize::new(0);
        // Busy twice, then done.
        let ms = Duration::from_millis;
        let retry = |patience| RetryPolicy::scenario_calls(ms(patience), ms(20), true);
        let a = call_until_settled(retry(6000), || {
            let n = calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            async move { if n < 2 { answer(Protocol::Ec2, 400, busy) } else { answer(Protocol::Ec2, 200, "<R/>") } }
        })
        .await
        .unwrap();
        assert!(a.error.is_none());
        assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 3);
        // Always busy: the last answer comes back once patience is spent.
        calls.store(0, std::sync::atomic::Ordering::SeqCst);
        let a = call_until_settled(retry(100), || {
            calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            async { answer(Protocol::Ec2, 400, busy) }
        })
        .await
        .unwrap();
        assert_eq!(a.error.unwrap().0, "DependencyViolation");
        let n = calls.load(std::sync::atomic::Ordering::SeqCst);
        assert!((2..=4).contains(&n), "waits of 20 ms and 40 ms fit in 100 ms, 80 ms more does not: {n} calls");
        // Any other error, and zero patience, are answered at once.
        calls.store(0, std::sync::atomic::Ordering::SeqCst);
        let _ = call_until_settled(retry(0), || {
            calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            async { answer(Protocol::Ec2, 400, busy) }
        })
        .await;
        assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 1);
    }

    #[test]
    fn a_declared_after_authorization_answer_is_allowed() {
        let mut s = scenario();
        let taken = "<ErrorResponse><Error><Type>Sender</Type><Code>InvalidInput</Code><Message>Service role name AWSServiceRoleForAutoScaling has been taken in this account, please try a different suffix.</Message></Error><RequestId>r</RequestId></ErrorResponse>";
        // Undeclared: nothing says whether it was authorized.
        assert_eq!(resolve_direct(&s, answer(Protocol::Query, 400, taken), false, &[]).observed, Observed::Error);
        s.authorized_when.insert("InvalidInput".into(), "the role exists; IAM checks authorization first".into());
        let r = resolve_direct(&s, answer(Protocol::Query, 400, taken), false, &[]);
        assert_eq!((r.observed, r.decided_by), (Observed::Allowed, DecidedBy::Aws));
        assert!(r.note.unwrap().contains("has been taken"));
    }

    #[test]
    fn an_answer_that_decides_nothing_says_why() {
        let s = scenario();
        let r = resolve_direct(&s, answer(Protocol::Ec2, 400, EC2_NOT_FOUND), true, &["ec2.create-vpc".to_string()]);
        assert_eq!(r.observed, Observed::Skipped);
        let note = r.note.unwrap();
        assert!(note.contains("InvalidVpcID.NotFound") && note.contains("ec2.create-vpc"), "{note}");
        // A denial of a call built on dry runs is not the policy's answer.
        let r = resolve_direct(&s, answer(Protocol::Query, 403, QUERY_DENIED), false, &["lt".to_string()]);
        assert_eq!(r.observed, Observed::Skipped);
        assert!(r.note.unwrap().contains("may come from the missing resource"));
        let r = resolve_direct(&s, answer(Protocol::Ec2, 403, EC2_DRY_RUN), true, &[]);
        assert!(r.note.unwrap().contains("dry run"));
        // The encoded message stays on the answer, for decoding.
        let r = resolve_direct(&s, answer(Protocol::Ec2, 403, EC2_DENIED), false, &[]);
        assert!(r.backend.unwrap().message.unwrap().contains("Encoded authorization failure message: AbCd"));
    }
}
