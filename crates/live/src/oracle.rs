//! The oracles a run on AWS consults after its scenarios: the decoded authorization
//! message of each EC2 denial, and AWS's policy simulator on each declared check.

use std::collections::HashMap;

use iamc_core::aws::authz::{self, DecodeError, SimDecision, SimulatedCheck, SimulationError};

use crate::client::ExecError;
use crate::run::{self, LiveResult, Observed, Session};

/// Why an EC2 denial's message was not decoded (said in the scenario's note).
#[derive(Debug, thiserror::Error)]
enum DecodeCallError {
    /// The call got no answer.
    #[error("{0}")]
    Call(#[source] ExecError),
    /// STS answered with an error.
    #[error("sts:DecodeAuthorizationMessage answered {code}: {message}")]
    Answered { code: String, message: String },
    /// The answer could not be read.
    #[error("{0}")]
    Read(#[source] DecodeError),
}

/// Why the policy simulator was not consulted (said in one finding).
#[derive(Debug, thiserror::Error)]
enum SimulateCallError {
    /// The call got no answer.
    #[error("{0}")]
    Call(#[source] ExecError),
    /// IAM answered with an error.
    #[error("{code}: {message}")]
    Answered { code: String, message: String },
    /// The answer could not be read.
    #[error("{0}")]
    Read(#[source] SimulationError),
    /// The answer held no result for the check.
    #[error("the simulator answered without a result")]
    NoResult,
}

/// Decodes the encoded authorization message of each EC2 denial (administrator's
/// sts:DecodeAuthorizationMessage) into the scenario's note.
pub async fn decode_denials(session: &Session, results: &mut [LiveResult]) {
    for r in results.iter_mut().filter(|r| r.observed == Observed::Denied) {
        let Some(message) = r.backend.as_ref().and_then(|b| b.message.clone()) else { continue };
        let Some(encoded) = authz::encoded_message(&message) else { continue };
        let decoded = match session.admin("sts", "DecodeAuthorizationMessage", authz::decode_input(encoded)).await {
            Ok(a) => match a.error {
                None => authz::parse_decoded(&a.body).map(|d| d.summary()).map_err(DecodeCallError::Read),
                Some((code, message)) => Err(DecodeCallError::Answered { code, message }),
            },
            Err(e) => Err(DecodeCallError::Call(e)),
        };
        let text = match decoded {
            Ok(summary) => summary,
            Err(e) => format!("the authorization message could not be decoded: {e}"),
        };
        r.note = Some(r.note.take().map(|n| format!("{n}; {text}")).unwrap_or(text));
    }
}

/// The third oracle: AWS's policy simulator on each scenario's declared checks, against
/// our model (per check) and AWS's live answer (per scenario). A disagreement means one
/// of the three readings of AWS is wrong: the verdict cannot be trusted until it is
/// explained, so it is undecided. An administrator who may not simulate gets one note.
pub async fn simulate(
    session: &Session,
    retry: run::RetryPolicy,
    role_arn: &str,
    scenarios: &[iamc_core::analysis::ScenarioResult],
    results: &[LiveResult],
) -> Vec<iamc_core::analysis::Finding> {
    use iamc_core::analysis::{Finding, FindingKind, Severity};
    let live: HashMap<&str, &LiveResult> = results.iter().map(|r| (r.id.as_str(), r)).collect();
    let mut findings = Vec::new();
    for row in scenarios {
        let mut sim_allowed = true;
        for c in &row.checks {
            let check =
                SimulatedCheck { action: c.action.clone(), resource: c.resource.clone(), context: c.context.clone() };
            // Throttling is waited out: some 300 simulations in a row are likely to meet it.
            let input = authz::simulate_input(role_arn, &check);
            let answer =
                run::call_until_settled(retry, || session.admin("iam", "SimulatePrincipalPolicy", input.clone())).await;
            let sims = match answer {
                Ok(a) => match a.error {
                    None => authz::parse_simulation(&a.body).map_err(SimulateCallError::Read),
                    Some((code, message)) => Err(SimulateCallError::Answered { code, message }),
                },
                Err(e) => Err(SimulateCallError::Call(e)),
            };
            let sim = match sims.and_then(|s| s.into_iter().next().ok_or(SimulateCallError::NoResult)) {
                Ok(sim) => sim,
                Err(e) => {
                    findings.push(Finding {
                        kind: FindingKind::SkippedScenario,
                        severity: Severity::Info,
                        message: format!(
                            "the policy simulator was not consulted: iam:SimulatePrincipalPolicy failed ({e})"
                        ),
                        action: None,
                        resource: None,
                        loc: None,
                        scenario: None,
                        witness: None,
                    });
                    return findings;
                }
            };
            sim_allowed &= sim.decision == SimDecision::Allowed;
            // Something beside the policy under test denies it here: AWS's live answer
            // for it is not the policy's, so the run cannot decide it.
            let outside: Vec<&String> = sim
                .matched
                .iter()
                .filter(|m| {
                    m.starts_with("denied by an AWS Organizations SCP")
                        || m.starts_with("denied by the permissions boundary")
                })
                .collect();
            if !outside.is_empty() {
                findings.push(Finding {
                    kind: FindingKind::OracleDisagreement,
                    severity: Severity::Undecided,
                    message: format!(
                        "scenario `{}`, {} on `{}`: the simulator says it is {}, so a live denial is not the policy's answer; run in an account where nothing but the policy decides these actions",
                        row.id,
                        c.action,
                        c.resource,
                        outside.iter().map(|m| m.as_str()).collect::<Vec<_>>().join(" and ")
                    ),
                    action: Some(c.action.clone()),
                    resource: Some(c.resource.clone()),
                    loc: Some(c.loc.clone()),
                    scenario: Some(row.id.clone()),
                    witness: None,
                });
            }
            if let Some(why) = authz::disagreement(c.outcome.is_allowed(), None, sim.decision) {
                findings.push(Finding {
                    kind: FindingKind::OracleDisagreement,
                    severity: Severity::Undecided,
                    message: format!("scenario `{}`, {} on `{}`: {why}", row.id, c.action, c.resource),
                    action: Some(c.action.clone()),
                    resource: Some(c.resource.clone()),
                    loc: Some(c.loc.clone()),
                    scenario: Some(row.id.clone()),
                    witness: None,
                });
            }
        }
        let live_allowed = live.get(row.id.as_str()).and_then(|l| match l.observed {
            Observed::Allowed => Some(true),
            Observed::Denied => Some(false),
            _ => None,
        });
        if let Some(live_allowed) = live_allowed
            && live_allowed != sim_allowed
        {
            let sim = if sim_allowed { SimDecision::Allowed } else { SimDecision::ImplicitDeny };
            let model_allowed = row.checks.iter().all(|c| c.outcome.is_allowed());
            if let Some(why) = authz::disagreement(model_allowed, Some(live_allowed), sim) {
                findings.push(Finding {
                    kind: FindingKind::OracleDisagreement,
                    severity: Severity::Undecided,
                    message: format!("scenario `{}`: {why}", row.id),
                    action: None,
                    resource: None,
                    loc: None,
                    scenario: Some(row.id.clone()),
                    witness: None,
                });
            }
        }
    }
    findings
}
