//! The static proof: evaluate every scenario against the policy, measure coverage,
//! run the mutants, probe the whole action catalog, and report upstream drift. The
//! verdict is decided here and only here; reporters render it.

mod decided;
pub mod diff;
pub(crate) mod exhaustive;
mod findings;
pub(crate) mod mutation;
#[cfg(test)]
pub(crate) mod test_support;

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::catalog::Catalog;
use crate::context::{Model, ResourceTags, Variant, world};
use crate::loc::Loc;
use crate::policy::{Context, Effect, Outcome, Policy, Request, StatementId, decide, decide_traced};
use crate::scenario::{Expect, NO_KNOWN_CALLER, Profile, Scenario};
use crate::template::render::Target;

/// The exact procedure's answers, as the proof's findings carry them (docs/exact.md).
pub use crate::exact::{Compared, Undecided, Unmodelled, Witness};

/// A statement as reports name it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct StatementRef {
    /// The policy's name, as the template gives it.
    pub policy: String,
    /// The statement's position in its policy, for statements without a Sid.
    pub index: usize,
    /// The statement's Sid, which labels it when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    /// Where the statement is written.
    pub loc: Loc,
}

impl StatementRef {
    /// Names the statement `id` points at in `policies`.
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

    /// `policy#Sid`, or `policy#index` without a Sid: how messages name a statement.
    pub fn label(&self) -> String {
        crate::policy::statement_label(&self.policy, self.index, self.sid.as_deref())
    }
}

/// One declared check of a scenario, decided against the policy.
#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct CheckResult {
    /// The action checked.
    pub action: String,
    /// The resource checked, rendered for the target.
    pub resource: String,
    /// The condition keys the check supplies, rendered for the target.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub context: BTreeMap<String, Vec<String>>,
    /// Whether AWS makes the check on top of the operation's own action.
    pub implicit: bool,
    /// The decision the scenario expects.
    pub expect: Expect,
    /// The decision the policy gives.
    pub outcome: Outcome,
    /// Whether the decision is the expected one.
    pub pass: bool,
    /// The statements that decided it (the allowing ones, or the denying ones).
    pub matched: Vec<StatementRef>,
    /// Where the check is written in its scenario file.
    pub loc: Loc,
    /// The condition keys (and policy variables) the decision read, each with where its
    /// value came from: the check itself, the request-context model, or neither.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keys_read: Vec<KeyRead>,
    /// Keys the decision depends on that the request-context model does not provide for
    /// this request: the outcome above reads them as absent, and is not relied on.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub undecided: Vec<String>,
}

/// One condition key a decision read, and what it was for the request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct KeyRead {
    /// The key, lowercased (IAM compares keys case-insensitively).
    pub key: String,
    /// Where its value comes from.
    pub status: KeyStatus,
    /// Its values, when present.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
    /// The page (or reason) behind a value the model gave or an absence it decided.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub source: String,
}

/// Where a key read by a decision got its value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyStatus {
    /// The scenario's check states it.
    Declared,
    /// The request-context model provides it.
    Provided,
    /// Absent from the request, as AWS documents.
    Absent,
    /// The model cannot say.
    NotModelled,
}

/// What a scenario's call got: allowed only when every check is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Observed {
    /// Every check allowed.
    Allowed,
    /// At least one check denied.
    Denied,
}

/// One scenario, decided: its checks and whether it got what it expects.
#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct ScenarioResult {
    /// The scenario's id.
    pub id: String,
    /// The service the call goes to.
    pub service: String,
    /// The API operation called.
    pub operation: String,
    /// Whether the call must be allowed or denied.
    pub expect: Expect,
    /// What the call got.
    pub observed: Observed,
    /// Whether every check got its expected decision.
    pub pass: bool,
    /// Who makes this call upstream, so a grant can be traced to its user.
    pub provenance: String,
    /// For a deny scenario, the edge of the policy it probes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boundary: Option<String>,
    /// Each declared check with its decision.
    pub checks: Vec<CheckResult>,
    /// Where the scenario is written.
    pub loc: Loc,
}

/// Whether the scenarios tell a mutant from the policy.
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

/// One mutant and whether the scenarios notice it.
#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct MutantResult {
    /// The mutant's stable id, as equivalent-mutant entries name it.
    pub id: String,
    /// The edit, in words.
    pub description: String,
    /// Where the edited element is written.
    pub loc: Loc,
    /// Killed, survived or accepted as equivalent.
    pub status: MutantStatus,
    /// Scenarios whose result changed (the first few).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub killed_by: Vec<String>,
    /// Why the profile says no scenario can notice it, for an equivalent mutant (kept as
    /// commentary beside a computed proof).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// For a mutant no scenario kills: the exact procedure's proof that it allows exactly
    /// the requests the policy allows (docs/exact.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proof: Option<EquivalenceProof>,
    /// For a mutant no scenario kills that is not equivalent: a request the policy and the
    /// mutant decide differently, which a deny (or allow) scenario should make.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub witness: Option<crate::exact::Witness>,
    /// Whether the policy (rather than the mutant) allows the witness.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_allows_witness: Option<bool>,
    /// Why the procedure could not decide it, when it could not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub undecided: Option<String>,
}

/// What the exact procedure compared to find a mutant equivalent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct EquivalenceProof {
    /// In words: which languages were compared and found equal.
    pub summary: String,
    /// Per action the edit touches, the classes of request compared.
    pub compared: Vec<crate::exact::Compared>,
}

/// Whether and how the scenarios exercise the policy.
#[derive(Clone, Debug, Default, Serialize, serde::Deserialize)]
pub struct Coverage {
    /// Action entries of Allow statements that no allowed scenario exercises.
    pub unexercised_actions: Vec<LocatedAction>,
    /// Scoped Allow statements (a Resource other than `*`, or a Condition) that no
    /// denied check crosses.
    pub uncrossed_statements: Vec<StatementRef>,
    /// Action entries of Allow statements, counted once per entry.
    pub granted_actions: usize,
    /// Those some allowed scenario exercises.
    pub exercised_actions: usize,
    /// Scoped Allow statements, crossed or not.
    pub scoped_statements: usize,
}

/// An Action entry, with the statement it is in.
#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct LocatedAction {
    /// The entry's text (an action or a pattern).
    pub action: String,
    /// The statement holding it.
    pub statement: StatementRef,
    /// Where the entry is written.
    pub loc: Loc,
}

/// Upstream drift, for information: grants nobody is known to use, and calls upstream
/// makes that the policy lacks.
#[derive(Clone, Debug, Default, Serialize, serde::Deserialize)]
pub struct Drift {
    /// Contract actions only `no known caller` scenarios need.
    pub no_known_caller: Vec<NoKnownCaller>,
    /// Calls upstream makes that the profile says the policy lacks.
    pub upstream_missing: Vec<UpstreamGap>,
}

/// A contract action no known caller needs: a candidate for removal upstream.
#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct NoKnownCaller {
    /// The action, as the catalog spells it.
    pub action: String,
    /// The scenarios that need it.
    pub scenarios: Vec<String>,
}

/// An upstream call the policy is known to lack.
#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct UpstreamGap {
    /// The action upstream calls.
    pub action: String,
    /// Where the call was seen.
    pub source: String,
    /// What the profile says about it.
    pub note: String,
    /// Whether the policy under test grants it (then the drift is closed).
    pub granted: bool,
}

/// What a finding is about; its name is part of report.json.
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
    /// A decision depends on a condition key the request-context model does not provide
    /// for the request (undecided: the key is named, never guessed).
    UnmodelledKey,
    /// A contract action is granted on a resource outside the scope the profile declares
    /// for it (`[[scope]]`), shown by a witness request.
    WidenedScope,
    /// The exact procedure could not decide a question (a policy variable, a budget): the
    /// proof of minimality is incomplete there.
    UndecidedQuestion,
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
            FindingKind::UnmodelledKey => "unmodelled_key",
            FindingKind::WidenedScope => "widened_scope",
            FindingKind::UndecidedQuestion => "undecided_question",
        }
    }
}

/// How a finding weighs on the verdict.
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

/// One thing wrong (or worth knowing), located where a user must edit.
#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct Finding {
    /// What the finding is about.
    pub kind: FindingKind,
    /// How it weighs on the verdict.
    pub severity: Severity,
    /// One sentence a user can act on.
    pub message: String,
    /// The action concerned, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// The resource (or policy ARN) concerned, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    /// The line to edit, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loc: Option<Loc>,
    /// The scenario the finding is about, for findings about one scenario.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scenario: Option<String>,
    /// A concrete request that shows the finding (the exact procedure's witness).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub witness: Option<crate::exact::Witness>,
}

/// The proof's conclusion, which decides the exit code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// The policy is exactly what the scenarios need.
    Conformant,
    /// The policy grants too much or too little, or the scenarios do not show it is minimal.
    Nonconformant,
    /// Something could not be decided (an external policy, a harness error).
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
    /// The conclusion the findings call for.
    pub verdict: Verdict,
    /// Every scenario, decided.
    pub scenarios: Vec<ScenarioResult>,
    /// How much of the policy the scenarios exercise.
    pub coverage: Coverage,
    /// Every mutant and whether it is noticed.
    pub mutants: Vec<MutantResult>,
    /// What the whole-catalog probe found granted.
    pub catalog: exhaustive::CatalogProbe,
    /// Upstream drift, for information.
    pub drift: Drift,
    /// Everything wrong, sorted by severity then kind.
    pub findings: Vec<Finding>,
    /// The request context the checks were decided in.
    #[serde(skip)]
    pub request_context: Option<Model>,
}

/// What the proof needs: the policies that reach the role, and the profile.
pub struct Subject<'a> {
    /// The policies attached to the profile's role.
    pub policies: &'a [Policy],
    /// Policies attached from outside the template (ARN and where it is attached).
    pub external: &'a [(String, Loc)],
    /// The scenarios, equivalent mutants and upstream gaps.
    pub profile: &'a Profile,
    /// The account, region and partition scenarios are rendered for.
    pub target: &'a Target,
    /// The action catalog the probe walks.
    pub catalog: &'a Catalog,
}

/// The request context the proof decides in: the model, the keys the policies read, the
/// probes of the context space worth making, and the world each scenario sees.
pub(crate) struct Setting<'a> {
    pub(crate) model: &'a Model,
    pub(crate) needed: BTreeSet<String>,
    pub(crate) variants: Vec<(Variant, Model)>,
    pub(crate) catalog: &'a Catalog,
}

impl<'a> Setting<'a> {
    pub(crate) fn new(model: &'a Model, policies: &[Policy], catalog: &'a Catalog) -> Setting<'a> {
        let needed = crate::context::keys_read(policies);
        let variants = Variant::relevant(&needed).into_iter().map(|v| (v, model.variant(v))).collect();
        Setting { model, needed, variants, catalog }
    }

    /// `ctx` (a check's own keys) completed by `model` for a check of `action` on
    /// `resource` in a call to `service` with `input` (when known).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn complete(
        &self,
        model: &Model,
        mut ctx: Context,
        service: &str,
        action: &str,
        resource: &str,
        input: Option<&serde_json::Value>,
        world: &dyn ResourceTags,
    ) -> Context {
        let at = crate::context::At { service, action, resource, input };
        model.complete(&mut ctx, at, &self.needed, self.catalog, world);
        ctx
    }
}

/// A scenario's checks rendered for the target and completed with the request context,
/// ready to evaluate many times.
pub(crate) struct Prepared<'a> {
    scenario: &'a Scenario,
    /// Per check: the resource, the context the contract's request has, the check's own keys.
    checks: Vec<(String, Context, Context)>,
    /// Per probe of the context space (the setting's variants), per check: its context there.
    variants: Vec<Vec<Context>>,
    /// The resources (and tags) the scenario's calls see, when a policy reads tags.
    world: Option<world::Snapshot>,
    /// The call's input, rendered for the target (for the keys AWS takes from it).
    input: serde_json::Value,
}

pub(crate) fn prepare<'a>(
    scenarios: &'a [Scenario],
    fixtures: &[crate::scenario::Fixture],
    target: &Target,
    setting: &Setting<'_>,
) -> Vec<Prepared<'a>> {
    let worlds = if setting.needed.iter().any(|k| k.contains("resourcetag/")) {
        world::replay_calls(fixtures, scenarios)
    } else {
        Default::default()
    };
    let empty = world::Snapshot::default();
    scenarios
        .iter()
        .map(|s| {
            let world = worlds.get(&s.id).unwrap_or(&empty);
            let rendered = rendered_input(&s.input, target);
            let input = Some(&rendered);
            let checks: Vec<(String, Context, Context)> = s
                .checks
                .iter()
                .map(|c| {
                    let (resource, declared) = c.rendered(target);
                    let ctx = setting.complete(
                        setting.model,
                        declared.clone(),
                        &s.service,
                        &c.action,
                        &resource,
                        input,
                        world,
                    );
                    (resource, ctx, declared)
                })
                .collect();
            let variants = setting
                .variants
                .iter()
                .map(|(_, m)| {
                    s.checks
                        .iter()
                        .zip(&checks)
                        .map(|(c, (resource, _, declared))| {
                            setting.complete(m, declared.clone(), &s.service, &c.action, resource, input, world)
                        })
                        .collect()
                })
                .collect();
            Prepared { scenario: s, checks, variants, world: worlds.get(&s.id).cloned(), input: rendered }
        })
        .collect()
}

/// A scenario's input with `${AWS::…}` rendered for the target, as the call sends it.
pub(crate) fn rendered_input(input: &serde_json::Value, target: &Target) -> serde_json::Value {
    serde_json::from_str(&crate::scenario::substitute(&input.to_string(), target)).unwrap_or_else(|_| input.clone())
}

/// Evaluates the checks of one scenario; returns each decision.
fn decisions(policies: &[Policy], p: &Prepared<'_>) -> Vec<crate::policy::Traced> {
    p.scenario
        .checks
        .iter()
        .zip(&p.checks)
        .map(|(c, (resource, ctx, _))| decide_traced(policies, &Request { action: &c.action, resource, context: ctx }))
        .collect()
}

fn check_passes(expect: Expect, outcome: Outcome) -> bool {
    outcome.is_allowed() == (expect == Expect::Allow)
}

/// Whether every check of a scenario got the decision it expects.
pub(crate) fn scenario_passes(policies: &[Policy], p: &Prepared<'_>) -> bool {
    p.scenario.checks.iter().zip(&p.checks).all(|(c, (resource, ctx, _))| {
        check_passes(c.expect, decide(policies, &Request { action: &c.action, resource, context: ctx }).outcome)
    })
}

/// The outcome of every check of a scenario in each probe of the context space.
fn variant_outcomes(policies: &[Policy], p: &Prepared<'_>) -> Vec<Vec<Outcome>> {
    p.variants
        .iter()
        .map(|ctxs| {
            p.scenario
                .checks
                .iter()
                .zip(&p.checks)
                .zip(ctxs)
                .map(|((c, (resource, _, _)), ctx)| {
                    decide(policies, &Request { action: &c.action, resource, context: ctx }).outcome
                })
                .collect()
        })
        .collect()
}

/// Runs the whole static proof, in the request context of [`Model::statically`] (no
/// principal known: a decision reading a principal key is undecided). Profiles loaded
/// from a template know their role: [`crate::load::Loaded::prove_in_context`].
pub fn prove(subject: &Subject<'_>) -> Proof {
    prove_in(subject, &Model::statically(subject.target))
}

/// Runs the whole static proof, every check decided in the request context `model` builds.
pub fn prove_in(subject: &Subject<'_>, model: &Model) -> Proof {
    let policies = subject.policies;
    let profile = subject.profile;
    let setting = Setting::new(model, policies, subject.catalog);
    let prepared = prepare(&profile.scenarios, &profile.fixtures, subject.target, &setting);
    let scenarios: Vec<ScenarioResult> = prepared.iter().map(|p| evaluate(policies, p, &setting)).collect();
    let contract = contract_actions(&profile.scenarios);
    let coverage = coverage(policies, &prepared, &contract);
    let mut exact = crate::exact::Exact::new(subject.catalog, subject.target);
    let mutants = run_mutants(policies, &prepared, profile, &setting, &mut exact);
    let sampled =
        exhaustive::probe_in(subject.catalog, policies, &profile.scenarios, &contract, subject.target, &setting);
    let catalog = decided::decide_grants(&mut exact, subject.catalog, policies, &contract, &profile.scopes, sampled);
    let drift = drift(subject.catalog, policies, profile, &contract, subject.target);

    let mut findings = [
        findings::external_policies(subject.external),
        findings::failed_checks(policies, &scenarios),
        findings::unmodelled_keys(policies, &scenarios),
        findings::unexpected_grants(&catalog),
        findings::widened_scopes(&catalog),
        findings::undecided_questions(&catalog, &mutants),
        findings::unexercised_actions(&coverage),
        findings::uncrossed_statements(&coverage),
        findings::surviving_mutants(&mutants),
        findings::stale_equivalent_mutants(profile, &mutants),
    ]
    .concat();
    // Stable: within a kind, findings keep the order of the scenarios and the policy.
    findings.sort_by_key(|a| (a.severity, a.kind));
    let verdict = verdict_of(&findings);
    Proof { verdict, scenarios, coverage, mutants, catalog, drift, findings, request_context: Some(model.clone()) }
}

/// One scenario's result: each check decided against the policies, with the statements
/// that decided it and the keys it read.
fn evaluate(policies: &[Policy], p: &Prepared<'_>, setting: &Setting<'_>) -> ScenarioResult {
    let checks: Vec<CheckResult> = p
        .scenario
        .checks
        .iter()
        .zip(&p.checks)
        .zip(decisions(policies, p))
        .map(|((c, (resource, _, declared)), t)| {
            let d = &t.decision;
            let keys_read = t
                .read
                .iter()
                .map(|key| {
                    let site = crate::context::Site {
                        service: &p.scenario.service,
                        action: &c.action,
                        resource,
                        declared,
                        input: Some(&p.input),
                    };
                    key_read(key, &site, p.world.as_ref(), setting)
                })
                .collect();
            let undecided: Vec<String> = t.undecided.iter().cloned().collect();
            CheckResult {
                action: c.action.clone(),
                resource: resource.clone(),
                context: declared.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
                implicit: c.implicit,
                expect: c.expect,
                outcome: d.outcome,
                pass: undecided.is_empty() && check_passes(c.expect, d.outcome),
                matched: d.because.iter().map(|id| StatementRef::new(policies, *id)).collect(),
                loc: c.loc.clone(),
                keys_read,
                undecided,
            }
        })
        .collect();
    let observed = if checks.iter().all(|c| c.outcome.is_allowed()) { Observed::Allowed } else { Observed::Denied };
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
}

/// What one key read by a check's decision was, and why.
fn key_read(
    key: &str,
    site: &crate::context::Site<'_>,
    world: Option<&world::Snapshot>,
    setting: &Setting<'_>,
) -> KeyRead {
    if let Some(v) = site.declared.get(key) {
        return KeyRead {
            key: key.to_string(),
            status: KeyStatus::Declared,
            values: v.to_vec(),
            source: String::new(),
        };
    }
    let resolved = match world {
        Some(w) => setting.model.resolve(key, site, setting.catalog, w),
        None => setting.model.resolve(key, site, setting.catalog, &crate::context::NoWorld),
    };
    let (status, values) = match resolved.value {
        crate::context::Value::Provided(v) => (KeyStatus::Provided, v),
        crate::context::Value::Absent => (KeyStatus::Absent, Vec::new()),
        crate::context::Value::NotModelled => (KeyStatus::NotModelled, Vec::new()),
    };
    KeyRead { key: key.to_string(), status, values, source: resolved.source.to_string() }
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

/// The actions the allowed scenarios need (lowercase, as IAM compares them).
fn contract_actions(scenarios: &[Scenario]) -> BTreeSet<String> {
    scenarios
        .iter()
        .filter(|s| s.expect == Expect::Allow)
        .flat_map(|s| s.checks.iter().filter(|c| c.expect == Expect::Allow))
        .map(|c| c.action.to_ascii_lowercase())
        .collect()
}

fn coverage(policies: &[Policy], prepared: &[Prepared<'_>], contract: &BTreeSet<String>) -> Coverage {
    let mut cov = Coverage::default();
    // Every denied check in its contract context.
    let deny_checks: Vec<(&str, &str, &Context)> = prepared
        .iter()
        .flat_map(|p| p.scenario.checks.iter().zip(&p.checks))
        .filter(|(c, _)| c.expect == Expect::Deny)
        .map(|(c, (r, ctx, _))| (c.action.as_str(), r.as_str(), ctx))
        .collect();
    // Every check, in its contract context and in each probe of the context space.
    let probed: Vec<(&str, &str, &Context, &Context)> = prepared
        .iter()
        .flat_map(|p| {
            p.variants.iter().flat_map(move |ctxs| {
                p.scenario
                    .checks
                    .iter()
                    .zip(&p.checks)
                    .zip(ctxs)
                    .map(|((c, (r, ctx, _)), alt)| (c.action.as_str(), r.as_str(), ctx, alt))
            })
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
                let applies = |action: &str, resource: &str, ctx: &Context| {
                    crate::policy::eval::statement_applies(statement, &Request { action, resource, context: ctx })
                };
                let action_in = |action: &str| {
                    statement.action.items.iter().any(|i| i.pattern.matches(action)) != statement.action.negated
                };
                let crossed = deny_checks.iter().any(|(action, resource, ctx)| action_in(action) && !applies(action, resource, ctx))
                    // A condition is also crossed by the same request outside the
                    // contract's context (another region, principal, transport…).
                    || (!statement.conditions.is_empty()
                        && probed.iter().any(|(action, resource, ctx, alt)| {
                            action_in(action) && applies(action, resource, ctx) && !applies(action, resource, alt)
                        }));
                if !crossed {
                    cov.uncrossed_statements.push(sref);
                }
            }
        }
    }
    cov
}

fn run_mutants(
    policies: &[Policy],
    prepared: &[Prepared<'_>],
    profile: &Profile,
    setting: &Setting<'_>,
    exact: &mut crate::exact::Exact<'_>,
) -> Vec<MutantResult> {
    let baseline: Vec<bool> = prepared.iter().map(|p| scenario_passes(policies, p)).collect();
    let baseline_variants: Vec<Vec<Vec<Outcome>>> = prepared.iter().map(|p| variant_outcomes(policies, p)).collect();
    // A scenario whose decision rests on a key the model does not provide kills nothing:
    // its answer under the mutant would be as much a guess as under the policy.
    let decided: Vec<bool> =
        prepared.iter().map(|p| decisions(policies, p).iter().all(|t| t.undecided.is_empty())).collect();
    mutation::mutants(policies)
        .into_iter()
        .map(|m| {
            let mut killed_by = Vec::new();
            for (((p, base), base_variants), _) in
                prepared.iter().zip(&baseline).zip(&baseline_variants).zip(&decided).filter(|(_, d)| **d)
            {
                if scenario_passes(&m.policies, p) != *base {
                    killed_by.push(p.scenario.id.clone());
                } else if !base_variants.is_empty() {
                    // The same requests outside the contract's context: a mutant that
                    // decides one of them otherwise widens or narrows what the policy does.
                    let mutated = variant_outcomes(&m.policies, p);
                    if let Some(v) = mutated.iter().zip(base_variants).position(|(a, b)| a != b) {
                        killed_by.push(format!("{} ({})", p.scenario.id, setting.variants[v].0.label()));
                    }
                }
                if killed_by.len() == 3 {
                    break;
                }
            }
            let declared = profile.equivalent_mutants.iter().find(|e| e.id == m.id).map(|e| e.reason.clone());
            let mut result = MutantResult {
                id: m.id.clone(),
                description: m.description.clone(),
                loc: m.loc.clone(),
                status: MutantStatus::Killed,
                killed_by,
                reason: None,
                proof: None,
                witness: None,
                policy_allows_witness: None,
                undecided: None,
            };
            if result.killed_by.is_empty() {
                // No scenario notices it: the procedure decides, the written reason stays
                // as commentary (and is refuted by a witness).
                result.reason = declared.clone();
                match decided::decide_mutant(exact, setting.catalog, policies, &m) {
                    decided::MutantAnswer::Equivalent(proof) => {
                        result.status = MutantStatus::Equivalent;
                        result.proof = Some(proof);
                    }
                    decided::MutantAnswer::Differs { witness, policy_allows } => {
                        result.status = MutantStatus::Survived;
                        result.witness = Some(witness);
                        result.policy_allows_witness = Some(policy_allows);
                    }
                    decided::MutantAnswer::Undecided(why) => {
                        result.status =
                            if declared.is_some() { MutantStatus::Equivalent } else { MutantStatus::Survived };
                        result.undecided = Some(why);
                    }
                }
            }
            result
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
            FindingKind::WidenedScope,
            FindingKind::UndecidedQuestion,
        ] {
            assert_eq!(serde_json::to_value(kind).unwrap(), kind.as_str());
        }
    }
}
