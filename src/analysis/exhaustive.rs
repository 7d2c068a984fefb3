//! The exhaustive catalog probe: every action of the catalog, against representative
//! resources of each of its resource types, with and without the condition values the
//! policy mentions. Whatever the policy allows must be part of the contract.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::StatementRef;
use crate::catalog::{ActionRef, Catalog, fill_format};
use crate::loc::Loc;
use crate::policy::condition::OpKind;
use crate::policy::{Context, Effect, Policy, Request, decide};
use crate::scenario::{Expect, Scenario};
use crate::template::render::Target;

/// A granted action no allowed scenario needs.
#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct UnexpectedGrant {
    pub action: String,
    /// One resource it is granted on.
    pub resource: String,
    pub statements: Vec<StatementRef>,
    /// The Action entry that grants it.
    pub loc: Loc,
}

/// A contract action granted on resource types no scenario uses (informational: a
/// `Resource: "*"` grant covers every type the action has).
#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct Breadth {
    pub action: String,
    pub unexercised_resource_types: Vec<String>,
}

#[derive(Clone, Debug, Default, Serialize, serde::Deserialize)]
pub struct CatalogProbe {
    pub actions_in_catalog: usize,
    pub probes: usize,
    pub allowed_actions: usize,
    pub unexpected: Vec<UnexpectedGrant>,
    pub breadth: Vec<Breadth>,
}

/// Fills an ARN format for the target; other placeholders get `example`.
fn representative(format: &str, target: &Target) -> String {
    fill_format(format, &|name| match name {
        "Partition" => target.partition.clone(),
        "Region" => target.region.clone(),
        "Account" => target.account_id.clone(),
        _ => "example".into(),
    })
}

/// The resources the policy's own scoped statements name, made concrete: `*` in the
/// partition, region and account segments becomes the target's, elsewhere `example`.
pub(crate) fn policy_resources(policies: &[Policy], target: &Target) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for s in policies.iter().flat_map(|p| &p.statements) {
        let Some(r) = &s.resource else { continue };
        for item in r.items.iter().filter(|i| i.text() != "*" && !i.pattern.has_variable()) {
            let parts: Vec<&str> = item.text().splitn(6, ':').collect();
            if parts.len() < 6 {
                continue;
            }
            let seg = |i: usize, v: &str| if parts[i] == "*" { v.to_string() } else { parts[i].to_string() };
            let resource = parts[5].replace('*', "example").replace('?', "x");
            out.insert(format!(
                "arn:{}:{}:{}:{}:{resource}",
                seg(1, &target.partition),
                parts[2],
                seg(3, &target.region),
                seg(4, &target.account_id)
            ));
        }
    }
    out
}

/// The contexts every action is probed with: none at all, and one per statement with a
/// Condition that satisfies that statement's every clause (a value inside each CIDR, past
/// each numeric or date bound, present for `Null: false`…), so a grant hidden behind a
/// condition is found too.
pub(crate) fn policy_contexts(policies: &[Policy]) -> Vec<Context> {
    let mut out = vec![Context::new()];
    for s in policies.iter().flat_map(|p| &p.statements).filter(|s| !s.conditions.is_empty()) {
        let mut ctx = Context::new();
        for c in &s.conditions {
            if let Some(value) = c.values.iter().find_map(|v| satisfying_value(c.operator.kind, &v.text)) {
                ctx.insert(&c.key, vec![value]);
            }
        }
        if !out.contains(&ctx) {
            out.push(ctx);
        }
    }
    out
}

/// A request value that satisfies `kind` against the policy value `text`; `None` when
/// the key should be absent (`Null: true`).
fn satisfying_value(kind: OpKind, text: &str) -> Option<String> {
    use OpKind::*;
    let literal = || text.replace('*', "example").replace('?', "x");
    let number = |delta: f64| text.trim().parse::<f64>().ok().map(|n| format!("{}", n + delta));
    let date = |delta: f64| crate::policy::condition::parse_date(text).map(|d| format!("{}", d + delta));
    Some(match kind {
        StringEquals | StringEqualsIgnoreCase | StringLike | ArnEquals | ArnLike | BinaryEquals | Bool => literal(),
        StringNotEquals | StringNotEqualsIgnoreCase | StringNotLike | ArnNotEquals | ArnNotLike => {
            format!("not-{}", literal())
        }
        NumericEquals | NumericLessThanEquals | NumericGreaterThanEquals => number(0.0)?,
        NumericLessThan => number(-1.0)?,
        NumericGreaterThan | NumericNotEquals => number(1.0)?,
        DateEquals | DateLessThanEquals | DateGreaterThanEquals => date(0.0)?,
        DateLessThan => date(-1.0)?,
        DateGreaterThan | DateNotEquals => date(1.0)?,
        // The network's own address is inside it; for NotIpAddress, one from TEST-NET-1
        // (RFC 5737) unless the policy names that very range.
        IpAddress => text.split('/').next().unwrap_or(text).to_string(),
        NotIpAddress => {
            if text.starts_with("192.0.2.") {
                "198.51.100.1".into()
            } else {
                "192.0.2.1".into()
            }
        }
        Null => {
            if text.eq_ignore_ascii_case("true") {
                return None;
            }
            "example".into()
        }
    })
}

/// The resources to probe an action with: representatives of its resource types plus
/// the policy's own resources that fit one of them; `*` when it has no types.
pub(crate) fn resources_for(
    catalog: &Catalog,
    action: &ActionRef<'_>,
    policy_resources: &BTreeSet<String>,
    target: &Target,
) -> Vec<(String, Option<String>)> {
    if action.action.resources.is_empty() {
        return vec![("*".into(), None)];
    }
    let mut out = Vec::new();
    for r in &action.action.resources {
        if let Some(t) = catalog.resource_type(action.service, &r.resource_type) {
            out.push((representative(&t.arn, target), Some(r.resource_type.clone())));
        }
    }
    for arn in policy_resources {
        if let Some(t) = catalog.classify(action, arn).into_iter().next() {
            out.push((arn.clone(), Some(t)));
        }
    }
    out
}

/// Probes the catalog. `contract` holds the lowercase actions the allowed scenarios need.
pub fn probe(
    catalog: &Catalog,
    policies: &[Policy],
    scenarios: &[Scenario],
    contract: &BTreeSet<String>,
    target: &Target,
) -> CatalogProbe {
    let mut result = CatalogProbe::default();
    let resources = policy_resources(policies, target);
    let contexts = policy_contexts(policies);
    let allow_items: Vec<_> =
        policies.iter().flat_map(|p| &p.statements).filter(|s| s.effect == Effect::Allow).map(|s| &s.action).collect();
    // Resource types each contract action is exercised on, from the allowed checks.
    let mut exercised: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for c in scenarios
        .iter()
        .filter(|s| s.expect == Expect::Allow)
        .flat_map(|s| &s.checks)
        .filter(|c| c.expect == Expect::Allow)
    {
        if let Some(a) = catalog.action(&c.action) {
            let (resource, _) = c.rendered(target);
            let types = exercised.entry(a.full_name()).or_default();
            if resource == "*" {
                types.extend(a.action.resources.iter().map(|r| r.resource_type.clone()));
            } else {
                types.extend(catalog.classify(&a, &resource));
            }
        }
    }
    for action in catalog.actions() {
        result.actions_in_catalog += 1;
        let full = action.full_name();
        // Only actions some Allow statement names can be allowed at all.
        if !allow_items.iter().any(|e| e.items.iter().any(|i| i.pattern.matches(&full)) != e.negated) {
            continue;
        }
        let mut allowed_types = BTreeSet::new();
        let mut first_grant = None;
        for (resource, rtype) in resources_for(catalog, &action, &resources, target) {
            for ctx in &contexts {
                result.probes += 1;
                let d = decide(policies, &Request { action: &full, resource: &resource, context: ctx });
                if d.outcome.is_allowed() {
                    if let Some(t) = &rtype {
                        allowed_types.insert(t.clone());
                    }
                    first_grant.get_or_insert((resource.clone(), d.because.clone()));
                }
            }
        }
        let Some((resource, because)) = first_grant else { continue };
        result.allowed_actions += 1;
        if !contract.contains(&full.to_ascii_lowercase()) {
            let statements: Vec<StatementRef> = because.iter().map(|id| StatementRef::new(policies, *id)).collect();
            // Point at the Action entry that grants it.
            let loc = because
                .first()
                .and_then(|id| {
                    policies[id.policy].statements[id.statement]
                        .action
                        .items
                        .iter()
                        .find(|i| i.pattern.matches(&full))
                        .map(|i| i.loc.clone())
                })
                .unwrap_or_else(|| statements[0].loc.clone());
            result.unexpected.push(UnexpectedGrant { action: full, resource, statements, loc });
        } else {
            let used = exercised.get(&full).cloned().unwrap_or_default();
            let extra: Vec<String> = allowed_types.difference(&used).cloned().collect();
            if !extra.is_empty() {
                result.breadth.push(Breadth { action: full, unexercised_resource_types: extra });
            }
        }
    }
    result
}

/// Whether the policy grants `action` on any representative resource (for drift).
pub fn action_granted(catalog: &Catalog, policies: &[Policy], action: &str, target: &Target) -> bool {
    let Some(a) = catalog.action(action) else { return false };
    let full = a.full_name();
    let resources = policy_resources(policies, target);
    let contexts = policy_contexts(policies);
    resources_for(catalog, &a, &resources, target).iter().any(|(r, _)| {
        contexts
            .iter()
            .any(|ctx| decide(policies, &Request { action: &full, resource: r, context: ctx }).outcome.is_allowed())
    })
}
