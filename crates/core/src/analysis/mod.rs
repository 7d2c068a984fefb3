//! The static proof: evaluate every scenario against the policy, measure coverage,
//! run the mutants, probe the whole action catalog, and report upstream drift. The
//! verdict is decided here and only here; reporters render it.

pub mod diff;
pub mod exhaustive;
pub mod mutation;

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::catalog::Catalog;
use crate::loc::Loc;
use crate::policy::{Context, Decision, Effect, Outcome, Policy, Request, StatementId, decide};
use crate::scenario::{Expect, NO_KNOWN_CALLER, Profile, Scenario};
use crate::template::render::Target;

/// A statement as reports name it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct StatementRef {
    pub policy: String,
    pub index: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    pub loc: Loc,
}

impl StatementRef {
    pub fn new(policies: &[Policy], id: StatementId) -> StatementRef {
        let policy = &policies[id.policy];
        let statement = &policy.statements[id.statement];
        StatementRef {
            policy: policy.name.clone(),
            index: id.statement,
            sid: statement.sid.clone(),
            loc: statement.loc.clone(),
        }
    }

    pub fn label(&self) -> String {
        match &self.sid {
            Some(sid) => format!("{}#{sid}", self.policy),
            None => format!("{}#{}", self.policy, self.index),
        }
    }
}

#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct CheckResult {
    pub action: String,
    pub resource: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub context: BTreeMap<String, Vec<String>>,
    pub implicit: bool,
    pub expect: Expect,
    pub outcome: Outcome,
    pub pass: bool,
    pub matched: Vec<StatementRef>,
    /// Where the check is written in its scenario file.
    pub loc: Loc,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Observed {
    Allowed,
    Denied,
}

#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct ScenarioResult {
    pub id: String,
    pub service: String,
    pub operation: String,
    pub expect: Expect,
    pub observed: Observed,
    pub pass: bool,
    pub provenance: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boundary: Option<String>,
    pub checks: Vec<CheckResult>,
    pub loc: Loc,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MutantStatus {
    /// Some scenario changes its result under the mutant.
    Killed,
    /// No scenario notices and the profile gives no reason why none can.
    Survived,
    /// No scenario notices, and the profile explains why none can.
    Equivalent,
}

#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct MutantResult {
    pub id: String,
    pub description: String,
    pub loc: Loc,
    pub status: MutantStatus,
    /// Scenarios whose result changed (the first few).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub killed_by: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Whether and how the scenarios exercise the policy.
#[derive(Clone, Debug, Default, Serialize, serde::Deserialize)]
pub struct Coverage {
    /// Action entries of Allow statements that no allowed scenario exercises.
    pub unexercised_actions: Vec<LocatedAction>,
    /// Scoped Allow statements (a Resource other than `*`, or a Condition) that no
    /// denied check crosses.
    pub uncrossed_statements: Vec<StatementRef>,
    pub granted_actions: usize,
    pub exercised_actions: usize,
    pub scoped_statements: usize,
}

#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct LocatedAction {
    pub action: String,
    pub statement: StatementRef,
    pub loc: Loc,
}

/// Upstream drift, for information: grants nobody is known to use, and calls upstream
/// makes that the policy lacks.
#[derive(Clone, Debug, Default, Serialize, serde::Deserialize)]
pub struct Drift {
    pub no_known_caller: Vec<NoKnownCaller>,
    pub upstream_missing: Vec<UpstreamGap>,
}

#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct NoKnownCaller {
    pub action: String,
    pub scenarios: Vec<String>,
}

#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct UpstreamGap {
    pub action: String,
    pub source: String,
    pub note: String,
    /// Whether the policy under test grants it (then the drift is closed).
    pub granted: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    /// An allowed scenario is denied: the policy lacks a grant its users need.
    MissingGrant,
    /// A denied scenario is allowed: the policy grants more than it should.
    ExcessGrant,
    /// The catalog probe found an action the policy grants that no scenario needs.
    UnexpectedGrant,
    /// An Action entry no allowed scenario exercises.
    UnexercisedAction,
    /// A scoped statement no denied scenario crosses.
    UncrossedStatement,
    /// A mutant no scenario notices.
    SurvivingMutant,
    /// A policy attached from outside the template: its grants are unknown here.
    ExternalPolicy,
    /// An equivalent-mutant entry that does not apply (killed, or no such mutant).
    StaleEquivalentMutant,
    /// Live: a call's observed decision differs from its expectation or from the model.
    LiveMismatch,
    /// Live: the checks the gate derived from the request differ from those the scenario
    /// declares (one of the two models of AWS is wrong).
    CheckMismatch,
    /// Live: the backend could not serve the call.
    SkippedScenario,
    /// Live: the call could not be made or the harness is broken (auth failure, no answer).
    HarnessError,
    /// `--target aws`: AWS's policy simulator disagrees with our model or with AWS's live
    /// answer (one of the three readings of AWS is wrong).
    OracleDisagreement,
}

impl FindingKind {
    /// The name used in report.json and in summaries.
    pub fn as_str(self) -> &'static str {
        match self {
            FindingKind::MissingGrant => "missing_grant",
            FindingKind::ExcessGrant => "excess_grant",
            FindingKind::UnexpectedGrant => "unexpected_grant",
            FindingKind::UnexercisedAction => "unexercised_action",
            FindingKind::UncrossedStatement => "uncrossed_statement",
            FindingKind::SurvivingMutant => "surviving_mutant",
            FindingKind::ExternalPolicy => "external_policy",
            FindingKind::StaleEquivalentMutant => "stale_equivalent_mutant",
            FindingKind::LiveMismatch => "live_mismatch",
            FindingKind::CheckMismatch => "check_mismatch",
            FindingKind::SkippedScenario => "skipped_scenario",
            FindingKind::HarnessError => "harness_error",
            FindingKind::OracleDisagreement => "oracle_disagreement",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Makes the verdict nonconformant.
    Fail,
    /// Makes the verdict inconclusive.
    Undecided,
    /// Reported, changes nothing.
    Info,
}

#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct Finding {
    pub kind: FindingKind,
    pub severity: Severity,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loc: Option<Loc>,
    /// The scenario the finding is about, for findings about one scenario.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scenario: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Conformant,
    Nonconformant,
    Inconclusive,
}

impl Verdict {
    /// The documented exit code: 0 conformant, 1 not conformant, 2 could not decide.
    pub fn exit_code(self) -> i32 {
        match self {
            Verdict::Conformant => 0,
            Verdict::Nonconformant => 1,
            Verdict::Inconclusive => 2,
        }
    }
}

/// Everything the static proof established.
#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct Proof {
    pub verdict: Verdict,
    pub scenarios: Vec<ScenarioResult>,
    pub coverage: Coverage,
    pub mutants: Vec<MutantResult>,
    pub catalog: exhaustive::CatalogProbe,
    pub drift: Drift,
    pub findings: Vec<Finding>,
}

/// What the proof needs: the policies that reach the role, and the profile.
pub struct Subject<'a> {
    pub policies: &'a [Policy],
    /// Policies attached from outside the template (ARN and where it is attached).
    pub external: &'a [(String, Loc)],
    pub profile: &'a Profile,
    pub target: &'a Target,
    pub catalog: &'a Catalog,
}

/// A scenario's checks rendered for the target, ready to evaluate many times.
struct Prepared<'a> {
    scenario: &'a Scenario,
    checks: Vec<(String, Context)>,
}

fn prepare<'a>(scenarios: &'a [Scenario], target: &Target) -> Vec<Prepared<'a>> {
    scenarios
        .iter()
        .map(|s| Prepared { scenario: s, checks: s.checks.iter().map(|c| c.rendered(target)).collect() })
        .collect()
}

/// Evaluates the checks of one scenario; returns each decision.
fn decisions(policies: &[Policy], p: &Prepared<'_>) -> Vec<Decision> {
    p.scenario
        .checks
        .iter()
        .zip(&p.checks)
        .map(|(c, (resource, ctx))| decide(policies, &Request { action: &c.action, resource, context: ctx }))
        .collect()
}

fn check_passes(expect: Expect, outcome: Outcome) -> bool {
    outcome.is_allowed() == (expect == Expect::Allow)
}

/// Whether every check of a scenario got the decision it expects.
fn scenario_passes(policies: &[Policy], p: &Prepared<'_>) -> bool {
    p.scenario.checks.iter().zip(&p.checks).all(|(c, (resource, ctx))| {
        check_passes(c.expect, decide(policies, &Request { action: &c.action, resource, context: ctx }).outcome)
    })
}

/// Runs the whole static proof.
pub fn prove(subject: &Subject<'_>) -> Proof {
    let policies = subject.policies;
    let profile = subject.profile;
    let prepared = prepare(&profile.scenarios, subject.target);

    let scenarios: Vec<ScenarioResult> = prepared
        .iter()
        .map(|p| {
            let checks: Vec<CheckResult> = p
                .scenario
                .checks
                .iter()
                .zip(&p.checks)
                .zip(decisions(policies, p))
                .map(|((c, (resource, ctx)), d)| CheckResult {
                    action: c.action.clone(),
                    resource: resource.clone(),
                    context: ctx.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
                    implicit: c.implicit,
                    expect: c.expect,
                    outcome: d.outcome,
                    pass: check_passes(c.expect, d.outcome),
                    matched: d.because.iter().map(|id| StatementRef::new(policies, *id)).collect(),
                    loc: c.loc.clone(),
                })
                .collect();
            let observed =
                if checks.iter().all(|c| c.outcome.is_allowed()) { Observed::Allowed } else { Observed::Denied };
            ScenarioResult {
                id: p.scenario.id.clone(),
                service: p.scenario.service.clone(),
                operation: p.scenario.operation.clone(),
                expect: p.scenario.expect,
                observed,
                pass: checks.iter().all(|c| c.pass),
                provenance: p.scenario.provenance.clone(),
                boundary: p.scenario.boundary.clone(),
                checks,
                loc: p.scenario.loc.clone(),
            }
        })
        .collect();

    let contract = contract_actions(&profile.scenarios);
    let coverage = coverage(policies, &profile.scenarios, &contract, subject.target);
    let mutants = run_mutants(policies, &prepared, profile);
    let catalog = exhaustive::probe(subject.catalog, policies, &profile.scenarios, &contract, subject.target);
    let drift = drift(subject.catalog, policies, profile, &contract, subject.target);

    let mut findings = Vec::new();
    for (arn, loc) in subject.external {
        findings.push(Finding {
            kind: FindingKind::ExternalPolicy,
            severity: Severity::Undecided,
            message: format!(
                "managed policy `{arn}` is attached but not defined in the template; its grants cannot be checked"
            ),
            action: None,
            resource: Some(arn.clone()),
            loc: Some(loc.clone()),
            scenario: None,
        });
    }
    for s in &scenarios {
        for c in s.checks.iter().filter(|c| !c.pass) {
            let (kind, message, loc) = match c.expect {
                Expect::Allow => (
                    FindingKind::MissingGrant,
                    format!(
                        "scenario `{}` needs `{}` on `{}`, which the policy does not allow ({})",
                        s.id,
                        c.action,
                        c.resource,
                        outcome_words(c.outcome)
                    ),
                    c.loc.clone(),
                ),
                Expect::Deny => {
                    let by: Vec<String> = c.matched.iter().map(|m| format!("{} at {}", m.label(), m.loc)).collect();
                    (
                        FindingKind::ExcessGrant,
                        format!(
                            "scenario `{}` must be denied `{}` on `{}`, but {} allows it",
                            s.id,
                            c.action,
                            c.resource,
                            by.join(", ")
                        ),
                        excess_location(policies, c),
                    )
                }
            };
            findings.push(Finding {
                kind,
                severity: Severity::Fail,
                message,
                action: Some(c.action.clone()),
                resource: Some(c.resource.clone()),
                loc: Some(loc),
                scenario: Some(s.id.clone()),
            });
        }
    }
    for g in &catalog.unexpected {
        findings.push(Finding {
            kind: FindingKind::UnexpectedGrant,
            severity: Severity::Fail,
            message: format!(
                "the policy grants `{}` (e.g. on `{}`) through {}, but no allowed scenario needs it",
                g.action,
                g.resource,
                g.statements.iter().map(StatementRef::label).collect::<Vec<_>>().join(", ")
            ),
            action: Some(g.action.clone()),
            resource: Some(g.resource.clone()),
            loc: Some(g.loc.clone()),
            scenario: None,
        });
    }
    for a in &coverage.unexercised_actions {
        findings.push(Finding {
            kind: FindingKind::UnexercisedAction,
            severity: Severity::Fail,
            message: format!(
                "`{}` in {} is granted but no allowed scenario exercises it",
                a.action,
                a.statement.label()
            ),
            action: Some(a.action.clone()),
            resource: None,
            loc: Some(a.loc.clone()),
            scenario: None,
        });
    }
    for s in &coverage.uncrossed_statements {
        findings.push(Finding {
            kind: FindingKind::UncrossedStatement,
            severity: Severity::Fail,
            message: format!("scoped statement {} has no denied scenario probing its boundary", s.label()),
            action: None,
            resource: None,
            loc: Some(s.loc.clone()),
            scenario: None,
        });
    }
    for m in &mutants {
        if m.status == MutantStatus::Survived {
            findings.push(Finding {
                kind: FindingKind::SurvivingMutant,
                severity: Severity::Fail,
                message: format!("no scenario notices mutant `{}` ({})", m.id, m.description),
                action: None,
                resource: None,
                loc: Some(m.loc.clone()),
                scenario: None,
            });
        }
    }
    for e in &profile.equivalent_mutants {
        let status = mutants.iter().find(|m| m.id == e.id).map(|m| m.status);
        let problem = match status {
            None => Some("names no mutant of this policy"),
            Some(MutantStatus::Killed) => Some("is killed by a scenario, so it is not equivalent"),
            _ => None,
        };
        if let Some(problem) = problem {
            findings.push(Finding {
                kind: FindingKind::StaleEquivalentMutant,
                severity: Severity::Info,
                message: format!("equivalent-mutant entry `{}` {problem}; remove it", e.id),
                action: None,
                resource: None,
                loc: Some(e.loc.clone()),
                scenario: None,
            });
        }
    }
    findings.sort_by_key(|a| (a.severity, a.kind));

    let verdict = verdict_of(&findings);
    Proof { verdict, scenarios, coverage, mutants, catalog, drift, findings }
}

/// Where an excess grant comes from: the Resource entry of the first allowing statement
/// that matches the request (the line to edit), else the statement itself.
fn excess_location(policies: &[Policy], check: &CheckResult) -> Loc {
    let Some(m) = check.matched.first() else { return check.loc.clone() };
    let statement = policies.iter().find(|p| p.name == m.policy).and_then(|p| p.statements.get(m.index));
    statement
        .and_then(|s| s.resource.as_ref())
        .filter(|r| !r.negated)
        .and_then(|r| r.items.iter().find(|i| i.pattern.matches(&check.resource)))
        .map(|i| i.loc.clone())
        .unwrap_or_else(|| m.loc.clone())
}

/// The verdict findings call for: any undecided finding makes it inconclusive, else any
/// failing one nonconformant.
pub fn verdict_of(findings: &[Finding]) -> Verdict {
    if findings.iter().any(|f| f.severity == Severity::Undecided) {
        Verdict::Inconclusive
    } else if findings.iter().any(|f| f.severity == Severity::Fail) {
        Verdict::Nonconformant
    } else {
        Verdict::Conformant
    }
}

fn outcome_words(o: Outcome) -> &'static str {
    match o {
        Outcome::Allowed => "allowed",
        Outcome::ExplicitDeny => "an explicit Deny matches",
        Outcome::ImplicitDeny => "no statement allows it",
    }
}

/// The actions the allowed scenarios need (lowercase, as IAM compares them).
fn contract_actions(scenarios: &[Scenario]) -> BTreeSet<String> {
    scenarios
        .iter()
        .filter(|s| s.expect == Expect::Allow)
        .flat_map(|s| s.checks.iter().filter(|c| c.expect == Expect::Allow))
        .map(|c| c.action.to_ascii_lowercase())
        .collect()
}

fn coverage(policies: &[Policy], scenarios: &[Scenario], contract: &BTreeSet<String>, target: &Target) -> Coverage {
    let mut cov = Coverage::default();
    let deny_checks: Vec<(String, String, Context)> = scenarios
        .iter()
        .flat_map(|s| s.checks.iter())
        .filter(|c| c.expect == Expect::Deny)
        .map(|c| {
            let (r, ctx) = c.rendered(target);
            (c.action.clone(), r, ctx)
        })
        .collect();
    for (p, policy) in policies.iter().enumerate() {
        for (s, statement) in policy.statements.iter().enumerate() {
            if statement.effect != Effect::Allow {
                continue;
            }
            let sref = StatementRef::new(policies, StatementId { policy: p, statement: s });
            if !statement.action.negated {
                for item in &statement.action.items {
                    cov.granted_actions += 1;
                    if contract.iter().any(|a| item.pattern.matches(a)) {
                        cov.exercised_actions += 1;
                    } else {
                        cov.unexercised_actions.push(LocatedAction {
                            action: item.text().to_string(),
                            statement: sref.clone(),
                            loc: item.loc.clone(),
                        });
                    }
                }
            }
            let scoped = !statement.conditions.is_empty()
                || statement.resource.as_ref().is_some_and(|r| r.negated || r.items.iter().any(|i| i.text() != "*"));
            if scoped {
                cov.scoped_statements += 1;
                let only_this = std::slice::from_ref(statement);
                let crossed = deny_checks.iter().any(|(action, resource, ctx)| {
                    let action_in =
                        statement.action.items.iter().any(|i| i.pattern.matches(action)) != statement.action.negated;
                    action_in
                        && !crate::policy::eval::statement_applies(
                            &only_this[0],
                            &Request { action, resource, context: ctx },
                        )
                });
                if !crossed {
                    cov.uncrossed_statements.push(sref);
                }
            }
        }
    }
    cov
}

fn run_mutants(policies: &[Policy], prepared: &[Prepared<'_>], profile: &Profile) -> Vec<MutantResult> {
    let baseline: Vec<bool> = prepared.iter().map(|p| scenario_passes(policies, p)).collect();
    mutation::mutants(policies)
        .into_iter()
        .map(|m| {
            let mut killed_by = Vec::new();
            for (p, base) in prepared.iter().zip(&baseline) {
                if scenario_passes(&m.policies, p) != *base {
                    killed_by.push(p.scenario.id.clone());
                    if killed_by.len() == 3 {
                        break;
                    }
                }
            }
            let declared = profile.equivalent_mutants.iter().find(|e| e.id == m.id);
            let (status, reason) = match (killed_by.is_empty(), declared) {
                (false, _) => (MutantStatus::Killed, None),
                (true, Some(e)) => (MutantStatus::Equivalent, Some(e.reason.clone())),
                (true, None) => (MutantStatus::Survived, None),
            };
            MutantResult { id: m.id, description: m.description, loc: m.loc, status, killed_by, reason }
        })
        .collect()
}

fn drift(
    catalog: &Catalog,
    policies: &[Policy],
    profile: &Profile,
    contract: &BTreeSet<String>,
    target: &Target,
) -> Drift {
    let mut d = Drift::default();
    for action in contract {
        let users: Vec<&Scenario> = profile
            .scenarios
            .iter()
            .filter(|s| s.expect == Expect::Allow && s.checks.iter().any(|c| c.action.eq_ignore_ascii_case(action)))
            .collect();
        if !users.is_empty() && users.iter().all(|s| s.provenance.trim().eq_ignore_ascii_case(NO_KNOWN_CALLER)) {
            let name = catalog.action(action).map(|a| a.full_name()).unwrap_or_else(|| action.clone());
            d.no_known_caller
                .push(NoKnownCaller { action: name, scenarios: users.iter().map(|s| s.id.clone()).collect() });
        }
    }
    for u in &profile.upstream_missing {
        let granted = exhaustive::action_granted(catalog, policies, &u.action, target);
        d.upstream_missing.push(UpstreamGap {
            action: u.action.clone(),
            source: u.source.clone(),
            note: u.note.clone(),
            granted,
        });
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finding_kind_names_match_serde() {
        for kind in [
            FindingKind::MissingGrant,
            FindingKind::ExcessGrant,
            FindingKind::UnexpectedGrant,
            FindingKind::UnexercisedAction,
            FindingKind::UncrossedStatement,
            FindingKind::SurvivingMutant,
            FindingKind::ExternalPolicy,
            FindingKind::StaleEquivalentMutant,
            FindingKind::LiveMismatch,
            FindingKind::CheckMismatch,
            FindingKind::SkippedScenario,
            FindingKind::HarnessError,
        ] {
            assert_eq!(serde_json::to_value(kind).unwrap(), kind.as_str());
        }
    }
}
