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
    /// The action, as the catalog spells it.
    pub action: String,
    /// One resource it is granted on.
    pub resource: String,
    /// The statements that allow it there.
    pub statements: Vec<StatementRef>,
    /// The Action entry that grants it.
    pub loc: Loc,
    /// The probe of the context space it is granted in, when only outside the contract's
    /// context (another region, principal, transport…) or under condition values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
    /// The request the exact procedure found allowed (docs/exact.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub witness: Option<crate::exact::Witness>,
}

/// A contract action granted on resource types no scenario uses (informational: a
/// `Resource: "*"` grant covers every type the action has).
#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct Breadth {
    /// The action, as the catalog spells it.
    pub action: String,
    /// Resource types it is granted on that no allowed check uses.
    pub unexercised_resource_types: Vec<String>,
}

/// What probing the whole catalog found: the grants beyond the contract.
#[derive(Clone, Debug, Default, Serialize, serde::Deserialize)]
pub struct CatalogProbe {
    /// Actions the catalog holds.
    pub actions_in_catalog: usize,
    /// Requests decided, over every action, resource and context tried.
    pub probes: usize,
    /// Actions allowed on at least one probe.
    pub allowed_actions: usize,
    /// Granted actions no allowed scenario needs.
    pub unexpected: Vec<UnexpectedGrant>,
    /// Contract actions granted on more resource types than the scenarios use.
    pub breadth: Vec<Breadth>,
    /// Actions whose grant the exact procedure decided (docs/exact.md).
    #[serde(default)]
    pub decided_actions: usize,
    /// Contract actions granted beyond the profile's `[[scope]]` for them, each with a witness.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub widened: Vec<UnexpectedGrant>,
    /// Actions the exact procedure could not decide, and why (their sampled answers stand).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub undecided: Vec<crate::exact::Undecided>,
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

/// The contexts every action is probed with: none at all, and for each statement with a
/// Condition one that satisfies every clause of it (a value inside each CIDR, past each
/// numeric or date bound, present for `Null: false`, policy variables given values…),
/// found by trying each clause's candidate values per key and keeping a combination the
/// statement's own clauses accept. Statements for which none is found are returned
/// apart: their grants cannot be probed, and the caller must not call them absent.
pub(crate) fn policy_contexts(policies: &[Policy]) -> Vec<Context> {
    contexts_and_unsatisfied(policies).0
}

/// See [`policy_contexts`]; also the conditioned statements no context satisfies.
pub(crate) fn contexts_and_unsatisfied(policies: &[Policy]) -> (Vec<Context>, Vec<crate::policy::StatementId>) {
    let mut out = vec![Context::new()];
    let mut unsatisfied = Vec::new();
    for (p, policy) in policies.iter().enumerate() {
        for (i, s) in policy.statements.iter().enumerate() {
            if s.conditions.is_empty() {
                continue;
            }
            match satisfying_context(s) {
                Some(ctx) if !out.contains(&ctx) => out.push(ctx),
                Some(_) => {}
                None => unsatisfied.push(crate::policy::StatementId { policy: p, statement: i }),
            }
        }
    }
    (out, unsatisfied)
}

/// Policy-variable names in a value (`${aws:username}`; not `${*}`, `${?}`, `${$}`), with
/// their defaults.
fn variables_in(text: &str) -> Vec<(String, Option<String>)> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else { break };
        let inner = after[..end].trim();
        if !matches!(inner, "*" | "?" | "$") {
            match inner.split_once(',') {
                Some((k, d)) => out.push((k.trim().to_string(), Some(d.trim().trim_matches('\'').to_string()))),
                None => out.push((inner.to_string(), None)),
            }
        }
        rest = &after[end + 1..];
    }
    out
}

/// A context under which every clause of the statement holds, if the candidates find one.
fn satisfying_context(statement: &crate::policy::Statement) -> Option<Context> {
    // Variables without a default get a value; with one, they are left to the default.
    let mut base: BTreeMap<String, String> = BTreeMap::new();
    for c in &statement.conditions {
        for v in &c.values {
            for (key, default) in variables_in(&v.text) {
                if default.is_none() {
                    base.entry(key).or_insert_with(|| "example".into());
                }
            }
        }
    }
    let bind = |text: &str| -> String {
        let mut bound = text.to_string();
        for (key, default) in variables_in(text) {
            let value = base.get(&key).cloned().or(default).unwrap_or_default();
            let pattern = match text.find(&format!("${{{key}")) {
                Some(at) => text[at..].split_once('}').map(|(head, _)| format!("{head}}}")).unwrap_or_default(),
                None => continue,
            };
            bound = bound.replace(&pattern, &value);
        }
        bound
    };
    // Candidate values per key (None = the key absent), from every value of every clause.
    let mut candidates: BTreeMap<String, Vec<Option<String>>> = BTreeMap::new();
    for c in &statement.conditions {
        let entry = candidates.entry(c.key.to_ascii_lowercase()).or_default();
        for v in &c.values {
            let value = satisfying_value(c.operator.kind, &bind(&v.text));
            if !entry.contains(&value) {
                entry.push(value);
            }
        }
        if !entry.contains(&None) {
            entry.push(None);
        }
    }
    let keys: Vec<(&String, &Vec<Option<String>>)> = candidates.iter().collect();
    let total: usize = keys.iter().map(|(_, v)| v.len()).product();
    // Enumerate combinations (bounded: a statement with more is reported unsatisfied).
    for n in 0..total.min(4096) {
        let mut ctx = Context::new();
        for (k, v) in &base {
            ctx.insert(k, vec![v.clone()]);
        }
        let mut rest = n;
        for (key, values) in &keys {
            if let Some(value) = &values[rest % values.len()] {
                ctx.insert(key, vec![value.clone()]);
            }
            rest /= values.len();
        }
        if statement
            .conditions
            .iter()
            .all(|c| crate::policy::condition::clause_holds(&c.operator, &c.key, &c.values, &ctx))
        {
            return Some(ctx);
        }
    }
    None
}

/// A request value that satisfies `kind` against the policy value `text`; `None` when
/// the key should be absent (`Null: true`).
fn satisfying_value(kind: OpKind, text: &str) -> Option<String> {
    use OpKind::*;
    let literal = || text.replace('*', "example").replace('?', "x");
    let verbatim = || text.to_string();
    let number = |delta: f64| text.trim().parse::<f64>().ok().map(|n| format!("{}", n + delta));
    let date = |delta: f64| crate::policy::condition::parse_date(text).map(|d| format!("{}", d + delta));
    Some(match kind {
        // Equality compares literally: a `*` in the value is a star.
        StringEquals | StringEqualsIgnoreCase | BinaryEquals | Bool => verbatim(),
        StringLike | ArnEquals | ArnLike => literal(),
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

/// The contexts one (action, resource) is probed with: the request context of the run
/// (labelled `None`), the same request in each probe of the context space, and the
/// contexts that satisfy each conditioned statement.
pub(crate) fn probe_contexts<'c>(
    setting: &super::Setting<'_>,
    satisfying: &'c [Context],
    action: &str,
    resource: &str,
) -> Vec<(Option<&'static str>, std::borrow::Cow<'c, Context>)> {
    use std::borrow::Cow;
    let service = action.split(':').next().unwrap_or_default();
    let world = crate::context::NoWorld;
    let mut out = Vec::with_capacity(satisfying.len() + 1 + setting.variants.len());
    out.push((
        None,
        Cow::Owned(setting.complete(setting.model, Context::new(), service, action, resource, None, &world)),
    ));
    for (v, m) in &setting.variants {
        out.push((
            Some(v.label()),
            Cow::Owned(setting.complete(m, Context::new(), service, action, resource, None, &world)),
        ));
    }
    // The first satisfying context is the empty one, which the run's context replaces.
    out.extend(satisfying.iter().skip(1).map(|c| (Some("condition values"), Cow::Borrowed(c))));
    out
}

/// [`probe`] in the request context of `setting`.
pub(crate) fn probe_in(
    catalog: &Catalog,
    policies: &[Policy],
    scenarios: &[Scenario],
    contract: &BTreeSet<String>,
    target: &Target,
    setting: &super::Setting<'_>,
) -> CatalogProbe {
    let mut result = CatalogProbe::default();
    let resources = policy_resources(policies, target);
    let (contexts, unsatisfied) = contexts_and_unsatisfied(policies);
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
    // Conditioned grants no probe context reaches: every action they name that the
    // contract does not need counts as granted (they cannot be shown not to be).
    for id in &unsatisfied {
        let statement = &policies[id.policy].statements[id.statement];
        if statement.effect != Effect::Allow {
            continue;
        }
        for action in catalog.actions() {
            let full = action.full_name();
            let named = statement.action.items.iter().any(|i| i.pattern.matches(&full)) != statement.action.negated;
            if named
                && !contract.contains(&full.to_ascii_lowercase())
                && !result.unexpected.iter().any(|u| u.action == full)
            {
                let loc = statement
                    .action
                    .items
                    .iter()
                    .find(|i| i.pattern.matches(&full))
                    .map(|i| i.loc.clone())
                    .unwrap_or_else(|| statement.loc.clone());
                result.unexpected.push(UnexpectedGrant {
                    action: full,
                    resource: "(under a Condition no probe could satisfy)".into(),
                    statements: vec![StatementRef::new(policies, *id)],
                    loc,
                    context: None,
                    witness: None,
                });
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
            for (label, ctx) in probe_contexts(setting, &contexts, &full, &resource) {
                result.probes += 1;
                let d = decide(policies, &Request { action: &full, resource: &resource, context: &ctx });
                if d.outcome.is_allowed() {
                    if let Some(t) = &rtype {
                        allowed_types.insert(t.clone());
                    }
                    first_grant.get_or_insert((resource.clone(), d.because.clone(), label));
                }
            }
        }
        let Some((resource, because, label)) = first_grant else { continue };
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
            result.unexpected.push(UnexpectedGrant {
                action: full,
                resource,
                statements,
                loc,
                context: label.filter(|l| *l != "condition values").map(str::to_string),
                witness: None,
            });
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

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::*;

    fn contract(profile: &crate::scenario::Profile) -> BTreeSet<String> {
        super::super::contract_actions(&profile.scenarios)
    }

    fn probe_of(statements: &str, profile: &crate::scenario::Profile) -> CatalogProbe {
        let target = Target::default();
        // The static request context, as the proof probes with.
        let (catalog, policies) = (Catalog::embedded(), policies(statements));
        let model = crate::context::Model::statically(&target);
        let setting = super::super::Setting::new(&model, &policies, catalog);
        probe_in(catalog, &policies, &profile.scenarios, &contract(profile), &target, &setting)
    }

    #[test]
    fn only_actions_an_allow_statement_names_are_probed_and_needed_ones_pass() {
        let p = probe_of(TIGHT_POLICY, &tight_profile("", ""));
        assert_eq!(p.allowed_actions, 2, "{p:#?}");
        assert!(p.unexpected.is_empty(), "{:#?}", p.unexpected);
        assert!(p.actions_in_catalog > 1000, "the whole catalog is counted: {}", p.actions_in_catalog);
        assert!(p.probes > 0);
    }

    #[test]
    fn a_granted_action_outside_the_contract_is_unexpected_at_its_action_entry() {
        let extra =
            format!("{TIGHT_POLICY}- Effect: Allow\n  Action: [ec2:DescribeSubnets, ec2:DeleteVpc]\n  Resource: '*'\n");
        let p = probe_of(&extra, &tight_profile("", ""));
        let names: Vec<&str> = p.unexpected.iter().map(|u| u.action.as_str()).collect();
        assert_eq!(names, ["ec2:DeleteVpc", "ec2:DescribeSubnets"]);
        let delete = &p.unexpected[0];
        assert_eq!(delete.resource, "arn:aws:ec2:us-west-2:000000000000:vpc/example");
        assert_eq!(delete.statements.iter().map(StatementRef::label).collect::<Vec<_>>(), ["p#2"]);
        assert_eq!((delete.loc.line, delete.loc.column), (11, 33), "the DeleteVpc entry");
    }

    #[test]
    fn a_condition_is_probed_with_a_context_that_satisfies_it() {
        let conditioned = "\
- Effect: Allow
  Action: ec2:DeleteVpc
  Resource: '*'
  Condition:
    StringEquals:
      aws:ResourceTag/owner: team-a
    IpAddress:
      aws:SourceIp: 10.0.0.0/8
";
        let p = probe_of(&format!("{TIGHT_POLICY}{conditioned}"), &tight_profile("", ""));
        assert_eq!(p.unexpected.iter().map(|u| u.action.as_str()).collect::<Vec<_>>(), ["ec2:DeleteVpc"]);
        let contexts = policy_contexts(&policies(conditioned));
        assert_eq!(contexts.len(), 2, "no context, and the one satisfying the statement: {contexts:?}");
        assert_eq!(contexts[1].single("aws:resourcetag/owner").as_deref(), Some("team-a"));
        assert_eq!(contexts[1].single("aws:sourceip").as_deref(), Some("10.0.0.0"));
    }

    #[test]
    fn a_condition_no_context_satisfies_counts_as_granted() {
        // Equal to team-a and not equal to it: no probe can reach the grant, so the probe
        // cannot show it absent.
        let contradictory = "\
- Effect: Allow
  Action: ec2:DeleteVpc
  Resource: '*'
  Condition:
    StringEquals:
      aws:ResourceTag/owner: team-a
    StringNotEquals:
      aws:ResourceTag/owner: team-a
";
        let (_, unsatisfied) = contexts_and_unsatisfied(&policies(contradictory));
        assert_eq!(unsatisfied.len(), 1);
        let p = probe_of(&format!("{TIGHT_POLICY}{contradictory}"), &tight_profile("", ""));
        assert_eq!(p.unexpected.len(), 1, "{:#?}", p.unexpected);
        assert_eq!(p.unexpected[0].action, "ec2:DeleteVpc");
        assert_eq!(p.unexpected[0].resource, "(under a Condition no probe could satisfy)");
    }

    #[test]
    fn satisfying_values_cross_each_operator_the_right_way() {
        use OpKind::*;
        let cases = [
            (StringEquals, "a*", Some("a*")),
            (StringLike, "a*", Some("aexample")),
            (StringNotEquals, "a", Some("not-a")),
            (NumericLessThan, "5", Some("4")),
            (NumericGreaterThan, "5", Some("6")),
            (IpAddress, "10.0.0.0/8", Some("10.0.0.0")),
            (NotIpAddress, "10.0.0.0/8", Some("192.0.2.1")),
            (NotIpAddress, "192.0.2.0/24", Some("198.51.100.1")),
            (Null, "true", None),
            (Null, "false", Some("example")),
        ];
        for (kind, text, want) in cases {
            assert_eq!(satisfying_value(kind, text).as_deref(), want, "{kind:?} {text}");
        }
        assert_eq!(satisfying_value(NumericEquals, "not a number"), None);
    }

    #[test]
    fn policy_variables_are_found_with_their_defaults() {
        assert_eq!(
            variables_in("a/${aws:username}/${aws:PrincipalTag/team, 'none'}/${*}"),
            [("aws:username".to_string(), None), ("aws:PrincipalTag/team".to_string(), Some("none".to_string()))]
        );
    }

    #[test]
    fn policy_resources_are_made_concrete_for_the_target() {
        let resources = policy_resources(&policies(TIGHT_POLICY), &Target::default());
        assert_eq!(
            resources.into_iter().collect::<Vec<_>>(),
            ["arn:aws:secretsmanager:us-west-2:000000000000:secret:app/example"]
        );
    }

    #[test]
    fn breadth_names_the_resource_types_no_scenario_uses() {
        let subnets = "- Effect: Allow\n  Action: ec2:CreateSubnet\n  Resource: '*'\n";
        let profile = profile(
            &scenario("ec2.create-subnet", "allow", "ec2:CreateSubnet", "arn:aws:ec2:us-west-2:000000000000:subnet/*"),
            "",
        );
        let p = probe_of(subnets, &profile);
        assert!(p.unexpected.is_empty());
        assert_eq!(p.breadth.len(), 1, "{:#?}", p.breadth);
        assert_eq!(p.breadth[0].action, "ec2:CreateSubnet");
        assert!(p.breadth[0].unexercised_resource_types.contains(&"vpc".to_string()), "{:?}", p.breadth[0]);
        assert!(!p.breadth[0].unexercised_resource_types.contains(&"subnet".to_string()));
    }

    #[test]
    fn action_granted_reads_the_policy() {
        let target = Target::default();
        let p = policies(TIGHT_POLICY);
        assert!(action_granted(Catalog::embedded(), &p, "ec2:DescribeVpcs", &target));
        assert!(action_granted(Catalog::embedded(), &p, "secretsmanager:createsecret", &target));
        assert!(!action_granted(Catalog::embedded(), &p, "ec2:DeleteVpc", &target));
        assert!(!action_granted(Catalog::embedded(), &p, "ec2:NoSuchAction", &target));
    }
}
