//! The static proof's findings, one function per family. Each reads what the proof
//! established (scenario results, coverage, mutants, the catalog probe) and says what
//! is wrong with it, located where a user must edit; [`super::prove`] composes them.

use super::exhaustive::CatalogProbe;
use super::{
    CheckResult, Coverage, Finding, FindingKind, MutantResult, MutantStatus, ScenarioResult, Severity, StatementRef,
};
use crate::loc::Loc;
use crate::policy::{Outcome, Policy};
use crate::scenario::{Expect, Profile};

/// A finding at `loc` about no particular action, resource or scenario.
fn at(kind: FindingKind, severity: Severity, message: String, loc: &Loc) -> Finding {
    Finding {
        kind,
        severity,
        message,
        action: None,
        resource: None,
        loc: Some(loc.clone()),
        scenario: None,
        witness: None,
    }
}

/// Policies attached from outside the template: their grants are unknown, so the
/// verdict cannot be decided.
pub(super) fn external_policies(external: &[(String, Loc)]) -> Vec<Finding> {
    external
        .iter()
        .map(|(arn, loc)| Finding {
            resource: Some(arn.clone()),
            ..at(
                FindingKind::ExternalPolicy,
                Severity::Undecided,
                format!(
                    "managed policy `{arn}` is attached but not defined in the template; its grants cannot be checked"
                ),
                loc,
            )
        })
        .collect()
}

/// Every check that did not get its expected decision: a missing grant where an allowed
/// check is denied (at the check), an excess grant where a denied one is allowed (at the
/// grant that allows it).
pub(super) fn failed_checks(policies: &[Policy], scenarios: &[ScenarioResult]) -> Vec<Finding> {
    let mut out = Vec::new();
    for s in scenarios {
        // An undecided check is reported as such (`unmodelled_keys`), not as a guess.
        for c in s.checks.iter().filter(|c| !c.pass && c.undecided.is_empty()) {
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
            out.push(Finding {
                action: Some(c.action.clone()),
                resource: Some(c.resource.clone()),
                scenario: Some(s.id.clone()),
                ..at(kind, Severity::Fail, message, &loc)
            });
        }
    }
    out
}

/// Checks whose decision depends on a condition key the request-context model does not
/// provide for the request: undecided, at the policy's condition that reads the key.
pub(super) fn unmodelled_keys(policies: &[Policy], scenarios: &[ScenarioResult]) -> Vec<Finding> {
    let mut out = Vec::new();
    for s in scenarios {
        for c in s.checks.iter().filter(|c| !c.undecided.is_empty()) {
            let keys = c.undecided.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ");
            // Where the policy reads the (first) key, for the user to see which condition.
            let loc = policies
                .iter()
                .flat_map(|p| &p.statements)
                .flat_map(|st| &st.conditions)
                .find(|cl| c.undecided.iter().any(|k| cl.key.eq_ignore_ascii_case(k)))
                .map(|cl| cl.key_loc.clone())
                .unwrap_or_else(|| c.loc.clone());
            out.push(Finding {
                action: Some(c.action.clone()),
                resource: Some(c.resource.clone()),
                scenario: Some(s.id.clone()),
                ..at(
                    FindingKind::UnmodelledKey,
                    Severity::Undecided,
                    format!(
                        "scenario `{}`: whether `{}` on `{}` is allowed depends on {keys}, which the request-context model does not provide for this request (the keys each request carries, with their pages: crates/core/src/context/mod.rs); it is not guessed — declare the key in the check's `context` if the scenario fixes it",
                        s.id, c.action, c.resource
                    ),
                    &loc,
                )
            });
        }
    }
    out
}

/// Actions the catalog probe found granted that no allowed scenario needs.
pub(super) fn unexpected_grants(catalog: &CatalogProbe) -> Vec<Finding> {
    catalog
        .unexpected
        .iter()
        .map(|g| {
            let request = match &g.witness {
                Some(w) => format!("e.g. the request {}", w.describe()),
                None => format!("e.g. on `{}`", g.resource),
            };
            let message = format!(
                "the policy grants `{}` ({request}) through {}, but no allowed scenario needs it",
                g.action,
                statements(g)
            );
            grant_finding(FindingKind::UnexpectedGrant, message, g)
        })
        .collect()
}

/// Contract actions granted beyond the resources the profile's scope says they are needed on.
pub(super) fn widened_scopes(catalog: &CatalogProbe) -> Vec<Finding> {
    catalog
        .widened
        .iter()
        .map(|g| {
            let request = g.witness.as_ref().map(|w| w.describe()).unwrap_or_else(|| format!("on `{}`", g.resource));
            let message = format!(
                "the policy grants `{}` beyond its [[scope]] through {}: the request {request} is allowed, \
                 but the contract needs the action only inside its scope",
                g.action,
                statements(g)
            );
            grant_finding(FindingKind::WidenedScope, message, g)
        })
        .collect()
}

/// The statements that grant `g`, by label.
fn statements(g: &super::exhaustive::UnexpectedGrant) -> String {
    g.statements.iter().map(StatementRef::label).collect::<Vec<_>>().join(", ")
}

/// A failing finding about a grant: its action, resource and witness, at its entry.
fn grant_finding(kind: FindingKind, message: String, g: &super::exhaustive::UnexpectedGrant) -> Finding {
    Finding {
        action: Some(g.action.clone()),
        resource: Some(g.resource.clone()),
        witness: g.witness.clone(),
        ..at(kind, Severity::Fail, message, &g.loc)
    }
}

/// Questions the exact procedure could not decide: the grants stand on samples there
/// (undecided), and mutants accepted only by their written reason are said to be (info).
pub(super) fn undecided_questions(catalog: &CatalogProbe, mutants: &[MutantResult]) -> Vec<Finding> {
    let grants = catalog.undecided.iter().map(|u| Finding {
        action: Some(u.action.clone()),
        kind: FindingKind::UndecidedQuestion,
        severity: Severity::Undecided,
        message: format!("whether the policy grants `{}` beyond the contract is undecided: {}", u.action, u.reason),
        resource: None,
        loc: None,
        scenario: None,
        witness: None,
    });
    let accepted = mutants.iter().filter(|m| m.status == MutantStatus::Equivalent && m.proof.is_none()).map(|m| {
        let message = format!(
            "mutant `{}` is accepted as equivalent by its written reason only; the exact procedure could not decide it ({})",
            m.id,
            m.undecided.as_deref().unwrap_or("no reason given")
        );
        at(FindingKind::UndecidedQuestion, Severity::Info, message, &m.loc)
    });
    grants.chain(accepted).collect()
}

/// Action entries no allowed scenario exercises: nothing shows they are needed.
pub(super) fn unexercised_actions(coverage: &Coverage) -> Vec<Finding> {
    coverage
        .unexercised_actions
        .iter()
        .map(|a| Finding {
            action: Some(a.action.clone()),
            ..at(
                FindingKind::UnexercisedAction,
                Severity::Fail,
                format!("`{}` in {} is granted but no allowed scenario exercises it", a.action, a.statement.label()),
                &a.loc,
            )
        })
        .collect()
}

/// Scoped statements no denied check crosses: nothing shows their scope holds.
pub(super) fn uncrossed_statements(coverage: &Coverage) -> Vec<Finding> {
    coverage
        .uncrossed_statements
        .iter()
        .map(|s| {
            let message = format!("scoped statement {} has no denied scenario probing its boundary", s.label());
            at(FindingKind::UncrossedStatement, Severity::Fail, message, &s.loc)
        })
        .collect()
}

/// Mutants no scenario notices and the profile does not explain.
pub(super) fn surviving_mutants(mutants: &[MutantResult]) -> Vec<Finding> {
    mutants
        .iter()
        .filter(|m| m.status == MutantStatus::Survived)
        .map(|m| {
            let mut message = format!("no scenario notices mutant `{}` ({})", m.id, m.description);
            if let Some(w) = &m.witness {
                let (allows, denies) =
                    if m.policy_allows_witness == Some(true) { ("policy", "mutant") } else { ("mutant", "policy") };
                message.push_str(&format!(
                    ": the {allows} allows and the {denies} denies the request {}; a scenario expecting the \
                     policy's answer to it would kill the mutant",
                    w.describe()
                ));
            } else if let Some(why) = &m.undecided {
                message.push_str(&format!("; the exact procedure could not decide it ({why})"));
            }
            if m.reason.is_some() && m.witness.is_some() {
                message.push_str("; the profile's equivalent-mutant entry for it is refuted by this request");
            }
            Finding { witness: m.witness.clone(), ..at(FindingKind::SurvivingMutant, Severity::Fail, message, &m.loc) }
        })
        .collect()
}

/// Equivalent-mutant entries that no longer apply (no such mutant, or a scenario kills
/// it), so that accepted holes are reviewed again when the policy changes.
pub(super) fn stale_equivalent_mutants(profile: &Profile, mutants: &[MutantResult]) -> Vec<Finding> {
    profile
        .equivalent_mutants
        .iter()
        .filter_map(|e| {
            let problem = match mutants.iter().find(|m| m.id == e.id).map(|m| m.status) {
                None => "names no mutant of this policy",
                Some(MutantStatus::Killed) => "is killed by a scenario, so it is not equivalent",
                _ => return None,
            };
            let message = format!("equivalent-mutant entry `{}` {problem}; remove it", e.id);
            Some(at(FindingKind::StaleEquivalentMutant, Severity::Info, message, &e.loc))
        })
        .collect()
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

fn outcome_words(o: Outcome) -> &'static str {
    match o {
        Outcome::Allowed => "allowed",
        Outcome::ExplicitDeny => "an explicit Deny matches",
        Outcome::ImplicitDeny => "no statement allows it",
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::super::{Verdict, verdict_of};
    use super::*;

    /// The findings of one kind.
    fn of(proof: &super::super::Proof, kind: FindingKind) -> Vec<&Finding> {
        proof.findings.iter().filter(|f| f.kind == kind).collect()
    }

    #[test]
    fn a_tight_policy_has_no_findings() {
        let proof = prove_of(&policies(TIGHT_POLICY), &tight_profile("", ""), &[]);
        assert!(proof.findings.is_empty(), "{:#?}", proof.findings);
        assert_eq!(proof.verdict, Verdict::Conformant);
        let status = |s: MutantStatus| proof.mutants.iter().filter(|m| m.status == s).count();
        assert_eq!((status(MutantStatus::Killed), status(MutantStatus::Equivalent)), (4, 2), "{:#?}", proof.mutants);
    }

    #[test]
    fn an_external_policy_makes_the_proof_undecided() {
        let loc = Loc::builtin("template");
        let arn = "arn:aws:iam::aws:policy/AdministratorAccess".to_string();
        let proof = prove_of(&policies(TIGHT_POLICY), &tight_profile("", ""), &[(arn.clone(), loc.clone())]);
        let found = of(&proof, FindingKind::ExternalPolicy);
        assert_eq!(found.len(), 1, "{:#?}", proof.findings);
        assert_eq!(
            (found[0].severity, found[0].resource.as_ref(), found[0].loc.as_ref()),
            (Severity::Undecided, Some(&arn), Some(&loc))
        );
        assert_eq!(proof.verdict, Verdict::Inconclusive);
        assert!(external_policies(&[]).is_empty());
    }

    #[test]
    fn a_denied_allow_check_is_a_missing_grant_located_at_the_check() {
        let more = scenario("ec2.create-vpc", "allow", "ec2:CreateVpc", "*");
        let proof = prove_of(&policies(TIGHT_POLICY), &tight_profile(&more, ""), &[]);
        let found = of(&proof, FindingKind::MissingGrant);
        assert_eq!(found.len(), 1, "{:#?}", proof.findings);
        let f = found[0];
        assert_eq!(
            f.message,
            "scenario `ec2.create-vpc` needs `ec2:CreateVpc` on `*`, which the policy does not allow (no statement allows it)"
        );
        assert_eq!(
            (f.severity, f.scenario.as_deref(), f.action.as_deref()),
            (Severity::Fail, Some("ec2.create-vpc"), Some("ec2:CreateVpc"))
        );
        let check = &proof.scenarios.iter().find(|s| s.id == "ec2.create-vpc").unwrap().checks[0];
        assert_eq!(f.loc.as_ref(), Some(&check.loc));
        assert_eq!(&*check.loc.file, "s.toml");
        assert!(of(&proof, FindingKind::ExcessGrant).is_empty());
        assert_eq!(proof.verdict, Verdict::Nonconformant);
        // An explicit Deny is named as such.
        let denied = format!("{TIGHT_POLICY}- Effect: Deny\n  Action: ec2:DescribeVpcs\n  Resource: '*'\n");
        let proof = prove_of(&policies(&denied), &tight_profile("", ""), &[]);
        let found = of(&proof, FindingKind::MissingGrant);
        assert_eq!(found.len(), 1, "{:#?}", proof.findings);
        assert!(found[0].message.ends_with("(an explicit Deny matches)"), "{}", found[0].message);
    }

    #[test]
    fn an_allowed_deny_check_is_an_excess_grant_located_at_the_resource_entry() {
        let wide = TIGHT_POLICY.replace("secret:app/*", "secret:*");
        let proof = prove_of(&policies(&wide), &profile(&tight_scenarios(""), ""), &[]);
        let found = of(&proof, FindingKind::ExcessGrant);
        assert_eq!(found.len(), 1, "{:#?}", proof.findings);
        let f = found[0];
        assert_eq!(f.scenario.as_deref(), Some("deny.secrets.other"));
        assert!(
            f.message.starts_with(&format!("scenario `deny.secrets.other` must be denied `secretsmanager:CreateSecret` on `{OTHER_SECRET}`, but p#Secrets at p.yaml:6:")),
            "{}",
            f.message
        );
        // The line to edit: the Resource entry of the statement that allows it (line 9 of
        // p.yaml, the seventh of the statements).
        let loc = f.loc.as_ref().unwrap();
        assert_eq!((&*loc.file, loc.line), ("p.yaml", 9), "{loc}");
        assert!(of(&proof, FindingKind::MissingGrant).is_empty());
    }

    #[test]
    fn a_granted_action_no_scenario_needs_is_an_unexpected_grant() {
        let extra = format!("{TIGHT_POLICY}- Effect: Allow\n  Action: ec2:DeleteVpc\n  Resource: '*'\n");
        let proof = prove_of(&policies(&extra), &tight_profile("", ""), &[]);
        let found = of(&proof, FindingKind::UnexpectedGrant);
        assert_eq!(found.len(), 1, "{:#?}", proof.findings);
        assert_eq!(found[0].action.as_deref(), Some("ec2:DeleteVpc"));
        assert!(found[0].message.contains("through p#2, but no allowed scenario needs it"), "{}", found[0].message);
        assert_eq!(found[0].loc.as_ref().map(|l| l.line), Some(11), "at the Action entry");
        // A wildcard is probed action by action: only what no scenario needs is unexpected.
        let wildcard = TIGHT_POLICY.replace("ec2:DescribeVpcs", "ec2:DescribeVpc*");
        let proof = prove_of(&policies(&wildcard), &tight_profile("", ""), &[]);
        let actions: Vec<&str> =
            of(&proof, FindingKind::UnexpectedGrant).iter().filter_map(|f| f.action.as_deref()).collect();
        assert!(actions.contains(&"ec2:DescribeVpcAttribute"), "{actions:?}");
        assert!(!actions.contains(&"ec2:DescribeVpcs"), "{actions:?}");
        assert!(actions.iter().all(|a| a.starts_with("ec2:DescribeVpc")), "{actions:?}");
    }

    #[test]
    fn an_action_entry_no_allowed_scenario_exercises_is_reported_at_the_entry() {
        let two = TIGHT_POLICY.replace("Action: ec2:DescribeVpcs", "Action: [ec2:DescribeVpcs, ec2:DescribeSubnets]");
        // A deny scenario does not exercise a grant.
        let more = scenario("deny.subnets", "deny", "ec2:DeleteSubnet", "*");
        let proof = prove_of(&policies(&two), &tight_profile(&more, ""), &[]);
        assert_eq!(
            messages(&proof, FindingKind::UnexercisedAction),
            ["`ec2:DescribeSubnets` in p#0 is granted but no allowed scenario exercises it"]
        );
        let f = of(&proof, FindingKind::UnexercisedAction)[0];
        assert_eq!((f.loc.as_ref().map(|l| l.line), f.action.as_deref()), (Some(4), Some("ec2:DescribeSubnets")));
        assert_eq!((proof.coverage.granted_actions, proof.coverage.exercised_actions), (3, 2));
    }

    #[test]
    fn a_scoped_statement_no_denied_check_crosses_is_uncrossed() {
        let allowed_only = [
            scenario("ec2.describe-vpcs", "allow", "ec2:DescribeVpcs", "*"),
            scenario("secrets.app", "allow", "secretsmanager:CreateSecret", APP_SECRET),
            // Denied, but for an action the statement does not grant: it crosses nothing.
            scenario("deny.secrets.delete", "deny", "secretsmanager:DeleteSecret", OTHER_SECRET),
        ]
        .concat();
        let proof = prove_of(&policies(TIGHT_POLICY), &profile(&allowed_only, TIGHT_EQUIVALENTS), &[]);
        assert_eq!(
            messages(&proof, FindingKind::UncrossedStatement),
            ["scoped statement p#Secrets has no denied scenario probing its boundary"]
        );
        assert_eq!(of(&proof, FindingKind::UncrossedStatement)[0].loc.as_ref().map(|l| l.line), Some(6));
        assert_eq!(proof.coverage.scoped_statements, 1);
        // `Resource: '*'` without a Condition is not scoped; the tight profile crosses the other.
        let proof = prove_of(&policies(TIGHT_POLICY), &tight_profile("", ""), &[]);
        assert!(proof.coverage.uncrossed_statements.is_empty());
    }

    #[test]
    fn a_mutant_no_scenario_notices_is_proven_equivalent_or_survives_with_a_witness() {
        // Widening the service or the `secret` part of the ARN admits no ARN CreateSecret can
        // be asked about: proven, without any written reason.
        let proof = prove_of(&policies(TIGHT_POLICY), &profile(&tight_scenarios(""), ""), &[]);
        assert!(of(&proof, FindingKind::SurvivingMutant).is_empty(), "{:#?}", proof.findings);
        let proven: Vec<_> = proof.mutants.iter().filter(|m| m.status == MutantStatus::Equivalent).collect();
        assert_eq!(proven.len(), 2, "{proven:#?}");
        assert!(proven.iter().all(|m| m.proof.is_some() && m.reason.is_none()));
        // Killed mutants name who kills them.
        let widened = proof.mutants.iter().find(|m| m.id == "widen-resource:p#Secrets@86c7dd6b:0").unwrap();
        assert_eq!(widened.killed_by, ["deny.secrets.other"]);

        // Without the deny scenario, widening the resource survives, with a request the
        // policy denies and the mutant allows.
        let allowed_only = [
            scenario("ec2.describe-vpcs", "allow", "ec2:DescribeVpcs", "*"),
            scenario("secrets.app", "allow", "secretsmanager:CreateSecret", APP_SECRET),
        ]
        .concat();
        let proof = prove_of(&policies(TIGHT_POLICY), &profile(&allowed_only, ""), &[]);
        let surviving = of(&proof, FindingKind::SurvivingMutant);
        let widened = surviving
            .iter()
            .find(|f| f.message.starts_with("no scenario notices mutant `widen-resource:p#Secrets@86c7dd6b:0` ("))
            .unwrap_or_else(|| panic!("{surviving:#?}"));
        assert!(widened.message.contains("the mutant allows and the policy denies the request"), "{}", widened.message);
        let w = widened.witness.as_ref().expect("a witness");
        assert!(w.resource.contains(":secret:") && !w.resource.contains(":secret:app/"), "{w:?}");
        assert!(surviving.iter().all(|f| f.loc.as_ref().is_some_and(|l| l.line == 9)));

        // A written reason the procedure refutes is said to be refuted; one it confirms is
        // kept beside the proof.
        let entries = "
[[equivalent_mutant]]
id = \"widen-resource:p#Secrets@86c7dd6b:0\"
reason = \"believed harmless\"
";
        let proof =
            prove_of(&policies(TIGHT_POLICY), &profile(&allowed_only, &format!("{TIGHT_EQUIVALENTS}{entries}")), &[]);
        let refuted = of(&proof, FindingKind::SurvivingMutant);
        assert!(
            refuted.iter().any(|f| f.message.contains("equivalent-mutant entry for it is refuted")),
            "{refuted:#?}"
        );
        let kept: Vec<_> = proof.mutants.iter().filter(|m| m.status == MutantStatus::Equivalent).collect();
        assert!(
            kept.iter().all(|m| m.proof.is_some() && m.reason.as_deref() == Some("CreateSecret only acts on secrets."))
        );
    }

    #[test]
    fn stale_equivalent_entries_are_information_only() {
        let stale = "
[[equivalent_mutant]]
id = \"widen-resource:p#Secrets@00000000:0\"
reason = \"written for an older statement\"

[[equivalent_mutant]]
id = \"widen-resource:p#Secrets@86c7dd6b:0\"
reason = \"but a scenario kills it\"
";
        let proof = prove_of(&policies(TIGHT_POLICY), &tight_profile("", stale), &[]);
        assert_eq!(
            messages(&proof, FindingKind::StaleEquivalentMutant),
            [
                "equivalent-mutant entry `widen-resource:p#Secrets@00000000:0` names no mutant of this policy; remove it",
                "equivalent-mutant entry `widen-resource:p#Secrets@86c7dd6b:0` is killed by a scenario, so it is not equivalent; remove it",
            ]
        );
        assert!(
            proof
                .findings
                .iter()
                .all(|f| f.severity == Severity::Info && f.loc.as_ref().is_some_and(|l| &*l.file == "profile.toml"))
        );
        assert_eq!(proof.verdict, Verdict::Conformant);
        // Entries that do apply are not stale.
        assert!(stale_equivalent_mutants(&tight_profile("", ""), &proof.mutants).is_empty());
    }

    #[test]
    fn findings_are_ordered_by_severity_then_kind_and_decide_the_verdict() {
        let stale = "[[equivalent_mutant]]\nid = \"gone\"\nreason = \"r\"\n";
        let more = scenario("ec2.create-vpc", "allow", "ec2:CreateVpc", "*");
        let two = TIGHT_POLICY.replace("Action: ec2:DescribeVpcs", "Action: [ec2:DescribeVpcs, ec2:DescribeSubnets]");
        let external = [("arn:aws:iam::aws:policy/X".to_string(), Loc::builtin("template"))];
        let proof = prove_of(&policies(&two), &tight_profile(&more, stale), &external);
        let kinds: Vec<FindingKind> = proof.findings.iter().map(|f| f.kind).collect();
        assert_eq!(
            kinds,
            [
                FindingKind::MissingGrant,
                FindingKind::UnexpectedGrant,
                FindingKind::UnexercisedAction,
                // Dropping the unexercised entry changes nothing either.
                FindingKind::SurvivingMutant,
                FindingKind::ExternalPolicy,
                FindingKind::StaleEquivalentMutant
            ]
        );
        assert_eq!(proof.verdict, Verdict::Inconclusive);
        let without_external: Vec<Finding> =
            proof.findings.iter().filter(|f| f.kind != FindingKind::ExternalPolicy).cloned().collect();
        assert_eq!(verdict_of(&without_external), Verdict::Nonconformant);
        assert_eq!(verdict_of(&without_external[without_external.len() - 1..]), Verdict::Conformant);
        assert_eq!(verdict_of(&[]), Verdict::Conformant);
    }
}
