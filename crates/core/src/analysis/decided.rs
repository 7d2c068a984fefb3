//! The exact procedure inside the proof (docs/exact.md): each mutant no scenario kills is
//! decided equivalent (with what was compared) or not (with a request that tells it from
//! the policy), and every catalog action's grant is decided against the contract (with a
//! request the contract does not need), instead of resting on samples.

use std::collections::BTreeSet;

use super::exhaustive::{CatalogProbe, UnexpectedGrant};
use super::mutation::Mutant;
use super::{EquivalenceProof, StatementRef};
use crate::catalog::{ActionRef, Catalog};
use crate::exact::{Comparison, Exact, Undecided, Witness, names_action};
use crate::policy::wildcard::Pattern;
use crate::policy::{Effect, Policy, Request, Statement, decide};
use crate::scenario::Scope;

/// What the procedure says of one mutant no scenario kills.
pub(crate) enum MutantAnswer {
    /// It allows exactly what the policy allows.
    Equivalent(EquivalenceProof),
    /// This request is decided otherwise; `policy_allows` says which way.
    Differs { witness: Witness, policy_allows: bool },
    /// It could not say, and why.
    Undecided(String),
}

/// Decides a mutant against the policy over every catalog action its edit touches.
pub(crate) fn decide_mutant(exact: &mut Exact<'_>, catalog: &Catalog, policies: &[Policy], m: &Mutant) -> MutantAnswer {
    let edited: Vec<&Statement> = changed(policies, &m.policies).chain(changed(&m.policies, policies)).collect();
    if let Some(outside) = edited.iter().flat_map(|s| outside_catalog(catalog, s)).next() {
        return MutantAnswer::Undecided(format!("the edit touches `{outside}`, outside the catalog's services"));
    }
    let touched = |a: &str| match edited.as_slice() {
        // An edit of the Action element alone changes only the actions named on one side.
        [before, after] if same_but_actions(before, after) => names_action(before, a) != names_action(after, a),
        _ => edited.iter().any(|s| names_action(s, a)),
    };
    let actions: Vec<ActionRef<'_>> = catalog.actions().filter(|a| touched(&a.full_name())).collect();
    match exact.compare(&actions, policies, &m.policies) {
        Comparison::Equal(compared) => {
            let requests: usize = compared.iter().map(|c| c.requests).sum();
            let names: Vec<&str> = compared.iter().map(|c| c.action.as_str()).take(4).collect();
            let more = if compared.len() > 4 { format!(" and {} more", compared.len() - 4) } else { String::new() };
            let summary = format!(
                "the requests the policy and the mutant allow are equal for every action the edit touches ({}{more}): \
                 the resource languages (the catalog's ARN formats against every pattern of both) and each condition \
                 key's value classes were compared, {requests} representative requests decided alike",
                names.join(", ")
            );
            MutantAnswer::Equivalent(EquivalenceProof { summary, compared })
        }
        Comparison::Differs { witness, first_allows } => MutantAnswer::Differs { witness, policy_allows: first_allows },
        Comparison::Undecided(u) => MutantAnswer::Undecided(format!("{}: {}", u.action, u.reason)),
    }
}

/// Whether two statements differ in their Action element only.
fn same_but_actions(a: &Statement, b: &Statement) -> bool {
    let mut b = b.clone();
    b.action = a.action.clone();
    *a == b
}

/// Statements of `a` that `b` does not hold (as a multiset).
fn changed<'p>(a: &'p [Policy], b: &'p [Policy]) -> impl Iterator<Item = &'p Statement> {
    let theirs: Vec<&Statement> = b.iter().flat_map(|p| &p.statements).collect();
    let mut used = vec![false; theirs.len()];
    a.iter().flat_map(|p| &p.statements).filter(move |s| {
        match theirs.iter().enumerate().position(|(i, t)| !used[i] && t == s) {
            Some(i) => {
                used[i] = true;
                false
            }
            None => true,
        }
    })
}

/// An Action entry of the statement that names a service the catalog does not hold (the
/// procedure can only decide the catalog's actions).
fn outside_catalog(catalog: &Catalog, s: &Statement) -> Option<String> {
    if s.action.negated {
        return None;
    }
    s.action
        .items
        .iter()
        .find(|i| {
            let service = i.text().split(':').next().unwrap_or_default();
            !service.contains(['*', '?']) && !catalog.services.keys().any(|k| k.eq_ignore_ascii_case(service))
        })
        .map(|i| i.text().to_string())
}

/// The catalog probe's answers, decided exactly: every action an Allow names that is
/// granted beyond what the contract needs gets a witness. `contract` holds the lowercase
/// actions allowed scenarios need; a contract action is needed on the resources of the
/// scopes naming it, or anywhere when none does. The sampled answers cross-check: a grant
/// the samples saw and the procedure did not is a defect, reported undecided.
pub(crate) fn decide_grants(
    exact: &mut Exact<'_>,
    catalog: &Catalog,
    policies: &[Policy],
    contract: &BTreeSet<String>,
    scopes: &[Scope],
    sampled: CatalogProbe,
) -> CatalogProbe {
    let mut probe = CatalogProbe { unexpected: Vec::new(), ..sampled.clone() };
    let allows: Vec<&Statement> =
        policies.iter().flat_map(|p| &p.statements).filter(|s| s.effect == Effect::Allow).collect();
    for action in catalog.actions() {
        let full = action.full_name();
        if !allows.iter().any(|s| names_action(s, &full)) {
            continue;
        }
        let in_contract = contract.contains(&full.to_ascii_lowercase());
        let needed: Vec<Pattern> = scopes
            .iter()
            .filter(|sc| sc.actions.iter().any(|a| a.matches(&full)))
            .flat_map(|sc| sc.resources.iter().cloned())
            .collect();
        if in_contract && needed.is_empty() {
            continue;
        }
        probe.decided_actions += 1;
        let sampled_grant = sampled.unexpected.iter().find(|u| u.action == full && u.witness.is_none());
        match exact.allowed_outside(&action, policies, &needed) {
            Ok(Some(witness)) => {
                if in_contract {
                    probe.widened.extend(grant(policies, witness).map(|g| at_resource_entry(policies, g)));
                } else {
                    probe.unexpected.extend(grant(policies, witness));
                }
            }
            Ok(None) => {
                if let Some(s) = sampled_grant.filter(|s| !s.resource.starts_with('(')) {
                    probe.undecided.push(Undecided {
                        action: full,
                        reason: format!(
                            "the sampled probe found it granted on `{}` but the exact procedure found no such request \
                             (a defect of one of them, reported rather than resolved)",
                            s.resource
                        ),
                    });
                    probe.unexpected.push(s.clone());
                }
            }
            // A grant the samples found concretely stands (the sample is a real request);
            // with none, the question stays open.
            Err(u) => match sampled_grant.filter(|s| !s.resource.starts_with('(')) {
                Some(s) => probe.unexpected.push(s.clone()),
                None => {
                    probe.undecided.push(u);
                    probe.unexpected.extend(sampled_grant.cloned());
                }
            },
        }
    }
    probe
}

/// A widened scope is fixed where the resource is written: the first allowing statement's
/// Resource entry that matches the witness (else where the grant already points).
fn at_resource_entry(policies: &[Policy], mut g: UnexpectedGrant) -> UnexpectedGrant {
    let entry = g.statements.iter().find_map(|s| {
        let statement = policies.iter().find(|p| p.name == s.policy)?.statements.get(s.index)?;
        let r = statement.resource.as_ref().filter(|r| !r.negated)?;
        r.items.iter().find(|i| i.pattern.matches(&g.resource)).map(|i| i.loc.clone())
    });
    if let Some(loc) = entry {
        g.loc = loc;
    }
    g
}

/// A grant shown by `witness`, located at the Action entry of the first statement allowing
/// it (`None` only if nothing allows it, which `allowed_outside` rules out).
fn grant(policies: &[Policy], witness: Witness) -> Option<UnexpectedGrant> {
    let d = decide(
        policies,
        &Request { action: &witness.action, resource: &witness.resource, context: &witness.context() },
    );
    let statements: Vec<StatementRef> = d.because.iter().map(|id| StatementRef::new(policies, *id)).collect();
    let loc = d
        .because
        .first()
        .and_then(|id| {
            let s = &policies[id.policy].statements[id.statement];
            s.action.items.iter().find(|i| i.pattern.matches(&witness.action)).map(|i| i.loc.clone())
        })
        .or_else(|| statements.first().map(|s| s.loc.clone()))?;
    Some(UnexpectedGrant {
        action: witness.action.clone(),
        resource: witness.resource.clone(),
        statements,
        loc,
        context: None,
        witness: Some(witness),
    })
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::super::{FindingKind, MutantStatus};
    use crate::policy::{Context, Request};

    #[test]
    fn a_grant_the_samples_miss_is_found_with_a_witness() {
        // Allowed for teams starting with `a`, denied for teams ending in `e`: the sample
        // value `aexample` is both, so no probe reaches the grant; `a` does.
        let hidden = "\
- Effect: Allow
  Action: ec2:DeleteVpc
  Resource: '*'
  Condition:
    StringLike:
      aws:ResourceTag/team: a*
- Effect: Deny
  Action: ec2:DeleteVpc
  Resource: '*'
  Condition:
    StringLike:
      aws:ResourceTag/team: '*e'
";
        let p = policies(&format!("{TIGHT_POLICY}{hidden}"));
        let proof = prove_of(&p, &tight_profile("", ""), &[]);
        let grants = messages(&proof, FindingKind::UnexpectedGrant);
        assert_eq!(grants.len(), 1, "{:#?}", proof.findings);
        let w = proof.catalog.unexpected[0].witness.as_ref().expect("a witness");
        assert_eq!(w.action, "ec2:DeleteVpc");
        let team = &w.context["aws:resourcetag/team"][0];
        assert!(team.starts_with('a') && !team.ends_with('e'), "{w:?}");
        let ctx: Context = w.context();
        let allowed = crate::policy::decide(&p, &Request { action: &w.action, resource: &w.resource, context: &ctx });
        assert!(allowed.outcome.is_allowed());
    }

    #[test]
    fn a_contract_action_beyond_its_scope_is_a_widened_scope() {
        let scope = "
[[scope]]
actions = [\"secretsmanager:CreateSecret\"]
resources = [\"arn:*:secretsmanager:*:*:secret:app/*\"]
source = \"test\"
";
        // The tight policy is inside the scope.
        let proof = prove_of(&policies(TIGHT_POLICY), &tight_profile("", scope), &[]);
        assert!(messages(&proof, FindingKind::WidenedScope).is_empty(), "{:#?}", proof.findings);
        assert_eq!(proof.catalog.decided_actions, 1);
        // Without its trailing slash the prefix admits `app-…` and `appx…`.
        let wide = TIGHT_POLICY.replace("secret:app/*", "secret:app*");
        let proof = prove_of(&policies(&wide), &tight_profile("", scope), &[]);
        let widened = messages(&proof, FindingKind::WidenedScope);
        assert_eq!(widened.len(), 1, "{:#?}", proof.findings);
        let w = proof.catalog.widened[0].witness.as_ref().unwrap();
        assert!(w.resource.contains(":secret:app") && !w.resource.contains(":secret:app/"), "{w:?}");
    }

    #[test]
    fn a_scope_that_leaves_out_a_needed_call_is_refused() {
        let scope = "
[[scope]]
actions = [\"secretsmanager:CreateSecret\"]
resources = [\"arn:*:secretsmanager:*:*:secret:other/*\"]
source = \"test\"
";
        let profile = tight_profile("", scope);
        let err = crate::scenario::validate_profile(&profile).unwrap_err();
        assert!(err.message.contains("outside the [[scope]]"), "{err}");
        assert_eq!(&*err.loc.file, "s.toml");
    }

    #[test]
    fn an_edit_outside_the_catalog_is_undecided_not_proven() {
        let s3 = format!("{TIGHT_POLICY}- Effect: Allow\n  Action: s3:GetObject\n  Resource: 'arn:aws:s3:::b/*'\n");
        let proof = prove_of(&policies(&s3), &tight_profile("", ""), &[]);
        let m =
            proof.mutants.iter().find(|m| m.id.starts_with("widen-resource:p@")).expect("the s3 statement's mutant");
        assert_eq!(m.status, MutantStatus::Survived);
        assert!(m.undecided.as_deref().is_some_and(|u| u.contains("s3:GetObject")), "{m:?}");
    }
}
