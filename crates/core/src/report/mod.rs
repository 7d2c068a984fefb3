//! Reports: one data model ([`Report`]) built from a finished proof, and renderers that
//! turn it into `report.json`, `junit.xml`, `summary.md` and the terminal summary.
//! Renderers only format; every verdict and pass/fail is decided by the analysis.

pub mod assemble;
pub mod events;
pub mod html;
pub mod junit;
pub mod markdown;
pub mod merge;
pub mod terminal;
#[cfg(test)]
mod test_support;

/// Re-exported from `outcome`, where the live result that carries it lives.
pub use crate::outcome::BackendAnswer;

use serde::Serialize;

use crate::analysis::exhaustive::CatalogProbe;
use crate::analysis::{Coverage, Drift, Finding, MutantResult, MutantStatus, Proof, Severity, StatementRef, Verdict};
use crate::catalog::Source;
use crate::outcome::{DecidedBy, Observed, SkipReason};
use crate::scenario::Expect;

/// Bumped whenever a field changes meaning or disappears.
pub const SCHEMA_VERSION: u32 = 1;

/// Facts about the run the shell supplies (the core has no clock).
#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct RunInfo {
    /// A fresh id per run, naming its report directory and its AWS resources.
    pub run_id: String,
    /// The command that made the report (`check`, `run`…).
    pub command: String,
    /// When, as RFC 3339 text from the shell's clock.
    pub generated_at: String,
    /// The tool's version, so a report can be reproduced.
    pub tool_version: String,
}

impl RunInfo {
    /// Facts about a run of this build of the tool.
    pub fn new(run_id: &str, command: &str, generated_at: &str) -> RunInfo {
        RunInfo {
            run_id: run_id.into(),
            command: command.into(),
            generated_at: generated_at.into(),
            tool_version: env!("CARGO_PKG_VERSION").into(),
        }
    }
}

/// What was checked: the profile, the template, the role and the target.
#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct SubjectInfo {
    /// The profile, as found (`scenarios/dkp-bootstrapper (embedded)` or a path).
    pub profile: String,
    /// The template, as found.
    pub template: String,
    /// The role under test, by its name.
    pub role: String,
    /// The policies that reach the role.
    pub policies: Vec<String>,
    /// The account the scenarios are rendered for.
    pub account_id: String,
    /// The region the scenarios are rendered for.
    pub region: String,
    /// The partition the scenarios are rendered for.
    pub partition: String,
    /// A digest of the template's content (not its path), so reports of different
    /// templates are never taken for one.
    #[serde(default)]
    pub template_digest: String,
}

impl SubjectInfo {
    /// What a loaded profile checks, for a target.
    pub fn of(loaded: &crate::load::Loaded, target: &crate::template::render::Target) -> SubjectInfo {
        SubjectInfo {
            profile: loaded.profile_label.clone(),
            template: loaded.template_label.clone(),
            role: loaded.role.role.name.clone(),
            policies: loaded.role.policies.iter().map(|p| p.name.clone()).collect(),
            account_id: target.account_id.clone(),
            region: target.region.clone(),
            partition: target.partition.clone(),
            template_digest: {
                let text = loaded.template.root.to_json().to_string();
                let hash = text
                    .bytes()
                    .fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
                format!("{hash:016x}")
            },
        }
    }
}

/// One scenario as reported; `check` only ever produces model decisions.
#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct ScenarioRow {
    /// The scenario's id.
    pub id: String,
    /// The service called.
    pub service: String,
    /// The operation called.
    pub operation: String,
    /// Whether the call must be allowed or denied.
    pub expect: Expect,
    /// What the call got.
    pub observed: Observed,
    /// Who decided it: the model, the gate or the service.
    pub decided_by: DecidedBy,
    /// Why it was skipped (skipped rows only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skip_reason: Option<SkipReason>,
    /// Whether it got what it expects (and, live, agrees with the model).
    pub pass: bool,
    /// Every statement that decided one of its checks, once each.
    pub matched_statements: Vec<StatementRef>,
    /// Who makes this call upstream.
    pub provenance: String,
    /// For a deny scenario, the edge it probes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boundary: Option<String>,
    /// The declared checks, decided by the model.
    pub checks: Vec<crate::analysis::CheckResult>,
    /// Live runs only: what the gate derived and decided for this call.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gate_checks: Vec<crate::gate::record::CheckDecision>,
    /// Live runs only: the backend's answer (status, error code, message).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backend: Option<BackendAnswer>,
    /// Why the scenario was skipped or errored, in the backend's or the harness's words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// How a live run's emulator ran.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct EmulatorRun {
    /// `container` (started through testcontainers), `host` (a process the harness
    /// started) or `endpoint` (one given with `--endpoint`).
    pub how: String,
    /// The container image (`name:tag`), for containers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// The version the emulator reports (LocalStack's health endpoint), or the pinned one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

/// Where a live run ran and who decided allow/deny there.
#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct Environment {
    /// The target run against, in words (the emulator, or the AWS account and mode).
    pub target: String,
    /// The endpoint the calls went to.
    pub endpoint: String,
    /// The gate in front of the service, in words (`none: AWS decides` on AWS).
    pub gate: String,
    /// `gate` when the project's gate decides allow/deny (emulators), `service` when the
    /// service itself enforces IAM.
    pub iam_decided_by: DecidedBy,
    /// Whether the emulator itself denied a call the policy denies, when asked directly
    /// (the deny canary). The gate decides either way; this says what the emulator adds.
    /// `null` when the canary got no answer.
    pub service_enforces_iam: Option<bool>,
    /// What the emulator says it serves, where it says (LocalStack's health endpoint).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub emulator_services: std::collections::BTreeMap<String, String>,
    /// How the emulator ran (container, host process, or a given endpoint), with the
    /// version it reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emulator: Option<EmulatorRun>,
    /// The CloudFormation stack the run deployed.
    pub stack: String,
    /// The role the scenarios ran as.
    pub role_arn: String,
    /// Scenarios the backend could not serve.
    pub skipped: usize,
    /// Scenarios the harness could not run.
    pub errors: usize,
    /// Set for one shard of a sharded run (`--shard K/N`); `iam-conformance merge` joins them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<crate::outcome::Shard>,
    /// Requests that went through the gate, and the time it spent deciding them.
    pub gate_requests: usize,
    /// The time the gate spent deciding them, in milliseconds.
    pub gate_decision_ms: f64,
    /// The summed latency of those requests as their callers saw it (gate included);
    /// `gate_decision_ms / gate_request_ms` is the gate's share of each call.
    pub gate_request_ms: f64,
    /// Wall time of the scenario phase and of the whole run (start to teardown).
    pub scenario_seconds: f64,
    /// Wall time of the whole run, start to teardown.
    pub run_seconds: f64,
    /// Wall time of each phase of the run, in order.
    pub phase_seconds: Vec<(String, f64)>,
}

/// The numbers a summary shows, counted once here so renderers agree.
#[derive(Clone, Debug, Default, Serialize, serde::Deserialize)]
pub struct Counts {
    /// Scenarios in the profile.
    pub scenarios: usize,
    /// Those that got what they expect.
    pub scenarios_passed: usize,
    /// Those that did not.
    pub scenarios_failed: usize,
    /// Scenarios expecting allow.
    pub allow_scenarios: usize,
    /// Scenarios expecting deny.
    pub deny_scenarios: usize,
    /// Mutants of the policy.
    pub mutants: usize,
    /// Mutants some scenario notices.
    pub mutants_killed: usize,
    /// Mutants the profile accepts as equivalent.
    pub mutants_equivalent: usize,
    /// Mutants nothing notices or explains.
    pub mutants_survived: usize,
    /// Findings that make the verdict nonconformant.
    pub failing_findings: usize,
}

/// How the proof shows the policy is minimal, beyond the scenarios.
#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct Minimality {
    /// How much of the policy the scenarios exercise.
    pub coverage: Coverage,
    /// Every mutant and its status.
    pub mutants: Vec<MutantResult>,
    /// What the whole-catalog probe found.
    pub catalog: CatalogProbe,
    /// Upstream drift, for information.
    pub drift: Drift,
}

/// Everything a run established, as `report.json` holds it and every renderer reads it.
#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct Report {
    /// [`SCHEMA_VERSION`], so readers can refuse a layout they do not know.
    pub schema_version: u32,
    /// Facts about the run.
    pub run: RunInfo,
    /// What was checked.
    pub subject: SubjectInfo,
    /// Where the action catalog comes from.
    pub catalog_source: Source,
    /// The conclusion.
    pub verdict: Verdict,
    /// The exit code the verdict maps to.
    pub exit_code: i32,
    /// The summary numbers.
    pub counts: Counts,
    /// Everything wrong, sorted by severity then kind.
    pub findings: Vec<Finding>,
    /// Every scenario as reported.
    pub scenarios: Vec<ScenarioRow>,
    /// Coverage, mutants, catalog probe and drift.
    pub minimality: Minimality,
    /// Live runs only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<Environment>,
    /// The request context the decisions were made in (principal, region, the fixed
    /// instant…), when some decision read a key of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_context: Option<crate::context::Summary>,
}

impl Report {
    /// The report of a static proof; a live run adds its results and environment later.
    pub fn new(proof: Proof, run: RunInfo, subject: SubjectInfo, catalog_source: Source) -> Report {
        let read_any = proof.scenarios.iter().flat_map(|s| &s.checks).any(|c| !c.keys_read.is_empty());
        let request_context = proof.request_context.as_ref().filter(|_| read_any).map(|m| m.summary());
        let scenarios: Vec<ScenarioRow> = proof
            .scenarios
            .into_iter()
            .map(|s| {
                let mut matched: Vec<StatementRef> = Vec::new();
                for m in s.checks.iter().flat_map(|c| &c.matched) {
                    if !matched.contains(m) {
                        matched.push(m.clone());
                    }
                }
                ScenarioRow {
                    id: s.id,
                    service: s.service,
                    operation: s.operation,
                    expect: s.expect,
                    observed: match s.observed {
                        crate::analysis::Observed::Allowed => Observed::Allowed,
                        crate::analysis::Observed::Denied => Observed::Denied,
                    },
                    decided_by: DecidedBy::Model,
                    skip_reason: None,
                    pass: s.pass,
                    matched_statements: matched,
                    provenance: s.provenance,
                    boundary: s.boundary,
                    checks: s.checks,
                    gate_checks: Vec::new(),
                    backend: None,
                    note: None,
                }
            })
            .collect();
        let status_count = |st: MutantStatus| proof.mutants.iter().filter(|m| m.status == st).count();
        let counts = Counts {
            scenarios: scenarios.len(),
            scenarios_passed: scenarios.iter().filter(|s| s.pass).count(),
            scenarios_failed: scenarios.iter().filter(|s| !s.pass).count(),
            allow_scenarios: scenarios.iter().filter(|s| s.expect == Expect::Allow).count(),
            deny_scenarios: scenarios.iter().filter(|s| s.expect == Expect::Deny).count(),
            mutants: proof.mutants.len(),
            mutants_killed: status_count(MutantStatus::Killed),
            mutants_equivalent: status_count(MutantStatus::Equivalent),
            mutants_survived: status_count(MutantStatus::Survived),
            failing_findings: proof.findings.iter().filter(|f| f.severity == Severity::Fail).count(),
        };
        Report {
            schema_version: SCHEMA_VERSION,
            run,
            subject,
            catalog_source,
            verdict: proof.verdict,
            exit_code: proof.verdict.exit_code(),
            counts,
            findings: proof.findings,
            scenarios,
            minimality: Minimality {
                coverage: proof.coverage,
                mutants: proof.mutants,
                catalog: proof.catalog,
                drift: proof.drift,
            },
            environment: None,
            request_context,
        }
    }

    /// `report.json`'s text, with a final newline.
    pub fn to_json(&self) -> String {
        // Serializing plain data with string keys cannot fail.
        let mut text = serde_json::to_string_pretty(self).unwrap_or_default();
        text.push('\n');
        text
    }

    /// The verdict as reports print it.
    pub fn verdict_word(&self) -> &'static str {
        match self.verdict {
            Verdict::Conformant => "conformant",
            Verdict::Nonconformant => "nonconformant",
            Verdict::Inconclusive => "inconclusive",
        }
    }
}
