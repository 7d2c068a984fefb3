//! A live run's report: the static proof's report with each scenario's live result, the
//! findings those call for (skipped, undecided, live mismatches, derived checks that differ
//! from the declared ones) and the verdict recomputed.

use std::collections::{BTreeMap, HashMap};

use super::{Environment, Report};
use crate::analysis::{Finding, FindingKind, Severity, verdict_of};
use crate::outcome::{DecidedBy, LiveResult, Observed, Shard, SkipReason};
use crate::scenario::{Expect, Profile, Scenario, substitute};
use crate::template::render::Target;

/// What a live run hands to [`assemble`].
pub struct LiveRun<'a> {
    /// One result per scenario the run ran or skipped.
    pub results: Vec<LiveResult>,
    /// The static proof's findings, which the live ones join.
    pub proof_findings: Vec<Finding>,
    /// Where the run ran; its skip and error counts are recomputed here.
    pub environment: Environment,
    /// The target the scenarios were rendered for.
    pub target: &'a Target,
    /// Example ids in the profile → the ids the backend gave them.
    pub ids: &'a HashMap<String, String>,
    /// The profile that was run.
    pub profile: &'a Profile,
    /// The shard this run is, if any.
    pub shard: Option<Shard>,
}

/// Merges the live results into a report built from the static proof, with the
/// findings they call for, and recomputes the verdict.
pub fn assemble(mut report: Report, run: LiveRun<'_>) -> Report {
    let LiveRun { results: live, proof_findings, environment, target, ids, profile, shard } = run;
    let mut findings = proof_findings;
    let scenarios: HashMap<&str, &Scenario> = profile.scenarios.iter().map(|s| (s.id.as_str(), s)).collect();
    let mut by_id: HashMap<String, LiveResult> = live.into_iter().map(|l| (l.id.clone(), l)).collect();
    for (position, row) in report.scenarios.iter_mut().enumerate() {
        // Every row gets its own result; one the run never produced is an error, never a pass.
        let mut l = by_id
            .remove(&row.id)
            .unwrap_or_else(|| LiveResult::error(&row.id, "the run produced no result for this scenario".into()));
        // Another shard's scenario: reported there (here it ran, if at all, as a prerequisite).
        if let Some(sh) = shard.filter(|sh| sh.owner_of(position) != sh.index) {
            row.observed = Observed::Skipped;
            row.decided_by = DecidedBy::Model;
            row.skip_reason = Some(SkipReason::OtherShard);
            row.pass = false;
            row.gate_checks = l.gate.take().map(|g| g.checks).unwrap_or_default();
            row.backend = l.backend.take();
            row.note = Some(format!("belongs to shard {}/{}", sh.owner_of(position), sh.count));
            findings.retain(|f| f.scenario.as_deref() != Some(row.id.as_str()));
            continue;
        }
        let model_observed = row.observed;
        row.observed = l.observed;
        row.decided_by = l.decided_by;
        row.skip_reason = l.skip;
        row.backend = l.backend;
        row.note = l.note.clone();
        row.gate_checks = l.gate.as_ref().map(|g| g.checks.clone()).unwrap_or_default();
        let expected = Observed::expected(row.expect);
        row.pass = match l.observed {
            Observed::Allowed | Observed::Denied => l.observed == expected && model_observed == l.observed,
            Observed::Error | Observed::Skipped => false,
        };
        let loc = scenarios.get(row.id.as_str()).map(|s| s.loc.clone());
        match l.observed {
            Observed::Skipped => findings.push(Finding {
                kind: FindingKind::SkippedScenario,
                severity: Severity::Info,
                message: format!(
                    "scenario `{}` was not run live: {}; its verdict rests on the static proof",
                    row.id,
                    l.note.unwrap_or_default()
                ),
                action: None,
                resource: None,
                loc,
                scenario: Some(row.id.clone()),
                witness: None,
            }),
            Observed::Error => findings.push(Finding {
                kind: FindingKind::HarnessError,
                severity: Severity::Undecided,
                message: format!("scenario `{}` could not be decided: {}", row.id, l.note.unwrap_or_default()),
                action: None,
                resource: None,
                loc,
                scenario: Some(row.id.clone()),
                witness: None,
            }),
            observed if !row.pass => {
                // Name the check at fault: the one the gate allowed though the scenario
                // expects it denied, or the one it denied though expected allowed.
                let declared_deny: Vec<&str> = scenarios
                    .get(row.id.as_str())
                    .map(|s| s.checks.iter().filter(|c| c.expect == Expect::Deny).map(|c| c.action.as_str()).collect())
                    .unwrap_or_default();
                let culprit = row.gate_checks.iter().find(|c| {
                    if observed == Observed::Allowed {
                        c.outcome.is_allowed() && declared_deny.contains(&c.check.action.as_str())
                    } else {
                        !c.outcome.is_allowed()
                    }
                });
                let because = culprit
                    .map(|c| {
                        format!(
                            " ({} on `{}`, by {})",
                            c.check.action,
                            c.check.resource,
                            if c.because.is_empty() { "no statement".into() } else { c.because.join(", ") }
                        )
                    })
                    .unwrap_or_default();
                findings.push(Finding {
                    kind: FindingKind::LiveMismatch,
                    severity: Severity::Fail,
                    message: format!(
                        "scenario `{}` expects {expected}; live it was {observed} (decided by {}){because}, the model says {model_observed}",
                        row.id, row.decided_by
                    ),
                    action: culprit.map(|c| c.check.action.clone()),
                    resource: culprit.map(|c| c.check.resource.clone()),
                    loc,
                    scenario: Some(row.id.clone()),
                    witness: None,
                })
            }
            _ => {}
        }
        // The gate's own reading of the request against the scenario's declaration.
        if let (Some(g), Some(s)) = (&l.gate, scenarios.get(row.id.as_str()))
            && !g.checks.is_empty()
        {
            let reverse: Vec<(&String, &String)> = ids.iter().collect();
            let normalize = |r: &str| {
                let mut r = r.to_string();
                for (example, real) in &reverse {
                    r = r.replace(real.as_str(), example);
                }
                normalize_group_id(&r)
            };
            // A check is its action, resource and condition keys (keys compare
            // case-insensitively); whether a service-linked role still has to be created
            // depends on the account, not on the request, so those are left out.
            type Key = (String, String, BTreeMap<String, Vec<String>>);
            let keys = |ctx: &BTreeMap<String, Vec<String>>| -> BTreeMap<String, Vec<String>> {
                ctx.iter().map(|(k, v)| (k.to_ascii_lowercase(), v.iter().map(|x| normalize(x)).collect())).collect()
            };
            let comparable =
                |action: &str| action != "iam:CreateServiceLinkedRole" || s.operation == "CreateServiceLinkedRole";
            let derived: std::collections::BTreeSet<Key> = g
                .checks
                .iter()
                .filter(|c| comparable(&c.check.action))
                .map(|c| (c.check.action.clone(), normalize(&c.check.resource), keys(&c.check.context)))
                .collect();
            let declared: std::collections::BTreeSet<Key> = s
                .checks
                .iter()
                .filter(|c| comparable(&c.action))
                .map(|c| {
                    let (resource, _) = c.rendered(target);
                    let ctx: BTreeMap<String, Vec<String>> = c
                        .context
                        .iter()
                        .map(|(k, v)| (k.clone(), v.iter().map(|x| substitute(x, target)).collect()))
                        .collect();
                    (c.action.clone(), normalize_group_id(&resource), keys(&ctx))
                })
                .collect();
            if derived != declared {
                findings.push(Finding {
                        kind: FindingKind::CheckMismatch,
                        severity: Severity::Fail,
                        message: format!(
                            "scenario `{}`: the gate derived {:?} that the scenario does not declare, and the scenario declares {:?} that the gate did not derive (action, resource, condition keys)",
                            row.id,
                            derived.difference(&declared).collect::<Vec<_>>(),
                            declared.difference(&derived).collect::<Vec<_>>()
                        ),
                        action: None,
                        resource: None,
                        loc: Some(s.loc.clone()),
                        scenario: Some(row.id.clone()),
                        witness: None,
                    });
            }
        }
    }
    findings.sort_by_key(|a| (a.severity, a.kind));
    report.verdict = verdict_of(&findings);
    report.exit_code = report.verdict.exit_code();
    report.counts.scenarios_passed = report.scenarios.iter().filter(|s| s.pass).count();
    report.counts.scenarios_failed =
        report.scenarios.iter().filter(|s| !s.pass && s.observed != Observed::Skipped).count();
    report.counts.failing_findings = findings.iter().filter(|f| f.severity == Severity::Fail).count();
    report.findings = findings;
    let mut environment = environment;
    // Counted over this report's own rows (not over prerequisites run for other shards).
    environment.skipped = report
        .scenarios
        .iter()
        .filter(|r| r.observed == Observed::Skipped && r.skip_reason != Some(SkipReason::OtherShard))
        .count();
    environment.errors = report.scenarios.iter().filter(|r| r.observed == Observed::Error).count();
    report.environment = Some(environment);
    report
}

/// An Auto Scaling group's ARN holds an id AWS assigns at creation, which no example id
/// can stand for; comparisons ignore it.
fn normalize_group_id(resource: &str) -> String {
    match resource.split_once(":autoScalingGroup:") {
        Some((head, tail)) => match tail.split_once(":autoScalingGroupName/") {
            Some((_, name)) => format!("{head}:autoScalingGroup:*:autoScalingGroupName/{name}"),
            None => resource.to_string(),
        },
        None => resource.to_string(),
    }
}
