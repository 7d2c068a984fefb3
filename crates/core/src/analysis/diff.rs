//! `diff`: what a template change does to the effective permissions. Both policy sets
//! answer the same probes — every catalog action either names, against representative
//! resources of its types and the resources both policies scope to, with and without the
//! condition values both name — and the answers are compared per action.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::StatementRef;
use super::exhaustive::{policy_contexts, policy_resources, resources_for};
use crate::catalog::Catalog;
use crate::context::Model;
use crate::policy::{Context, Effect, Policy, Request, StatementId, decide};
use crate::scenario::{Expect, Scenario};
use crate::template::render::Target;

/// How an action's grant changed between the old and the new policies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    /// Granted now, not before.
    Added,
    /// Granted before, not now.
    Removed,
    /// Granted on more probes than before, and on all it was granted on.
    Widened,
    /// Granted on fewer probes than before, all of them granted before.
    Narrowed,
    /// Granted on some new probes and no longer on others.
    Changed,
}

/// How one action's grant changed, with the statements that grant it on each side.
#[derive(Clone, Debug, Serialize)]
pub struct ActionChange {
    /// The action, as the catalog spells it.
    pub action: String,
    /// Which way the grant moved.
    pub kind: ChangeKind,
    /// Probes (resource, with `+ condition values` when the policy's values were
    /// supplied) allowed only by the new policies, and only by the old.
    pub only_new: Vec<String>,
    /// Probes allowed only by the old policies.
    pub only_old: Vec<String>,
    /// The statements that grant it in the old policies.
    pub old_statements: Vec<StatementRef>,
    /// The statements that grant it in the new policies.
    pub new_statements: Vec<StatementRef>,
    /// Whether some allowed scenario of the profile needs the action.
    pub in_contract: bool,
}

/// A scenario whose static verdict differs between the two templates.
#[derive(Clone, Debug, Serialize)]
pub struct ScenarioChange {
    /// The scenario's id.
    pub id: String,
    /// What the scenario expects.
    pub expect: Expect,
    /// Whether it passed against the old template.
    pub old_pass: bool,
    /// Whether it passes against the new template.
    pub new_pass: bool,
}

/// What a template change does to the effective permissions, as `diff` reports it.
#[derive(Clone, Debug, Serialize)]
pub struct PermissionDiff {
    /// True when both answer every probe alike.
    pub equal: bool,
    /// How many (action, resource, context) probes both sides answered.
    pub probes: usize,
    /// Each action whose grant changed.
    pub changes: Vec<ActionChange>,
    /// Scenarios whose verdict changed.
    pub scenario_changes: Vec<ScenarioChange>,
    /// Actions the new policies grant that the old did not and no allowed scenario needs.
    pub uncovered_new_grants: Vec<String>,
}

struct Answer {
    allowed: bool,
    because: Vec<StatementId>,
}

fn probe(policies: &[Policy], action: &str, resource: &str, ctx: &Context) -> Answer {
    let d = decide(policies, &Request { action, resource, context: ctx });
    Answer { allowed: d.outcome.is_allowed(), because: d.because }
}

/// Compares two policy sets; `scenarios` (the profile's) show which verdicts change. The
/// probes are made in the static request context of [`Model::statically`] (no principal
/// known); [`diff_in`] takes the profile's.
pub fn diff(
    catalog: &Catalog,
    old: &[Policy],
    new: &[Policy],
    scenarios: &[Scenario],
    target: &Target,
) -> PermissionDiff {
    diff_in(catalog, old, new, scenarios, target, &Model::statically(target))
}

/// [`diff`] with every probe and scenario decided in the request context `model` builds,
/// and also in each probe of the context space either policy set reads (another region,
/// principal, transport…), so that a change behind a condition every real request
/// satisfies, or one outside the contract's context, is seen.
pub fn diff_in(
    catalog: &Catalog,
    old: &[Policy],
    new: &[Policy],
    scenarios: &[Scenario],
    target: &Target,
    model: &Model,
) -> PermissionDiff {
    let mut resources = policy_resources(old, target);
    resources.extend(policy_resources(new, target));
    let mut both: Vec<Policy> = old.to_vec();
    both.extend(new.iter().cloned());
    let setting = super::Setting::new(model, &both, catalog);
    let satisfying = policy_contexts(&both);
    let named_by = |policies: &[Policy], action: &str| {
        policies
            .iter()
            .flat_map(|p| &p.statements)
            .filter(|s| s.effect == Effect::Allow)
            .any(|s| s.action.items.iter().any(|i| i.pattern.matches(action)) != s.action.negated)
    };
    let contract: BTreeSet<String> = scenarios
        .iter()
        .filter(|s| s.expect == Expect::Allow)
        .flat_map(|s| &s.checks)
        .map(|c| c.action.to_ascii_lowercase())
        .collect();

    let mut probes = 0;
    let mut changes = Vec::new();
    for action in catalog.actions() {
        let full = action.full_name();
        if !named_by(old, &full) && !named_by(new, &full) {
            continue;
        }
        let mut only_new = Vec::new();
        let mut only_old = Vec::new();
        let (mut any_old, mut any_new) = (false, false);
        let mut old_because = BTreeSet::new();
        let mut new_because = BTreeSet::new();
        for (resource, _) in resources_for(catalog, &action, &resources, target) {
            for (label, ctx) in super::exhaustive::probe_contexts(&setting, &satisfying, &full, &resource) {
                let label = match label {
                    None => String::new(),
                    Some(l) => format!(" + {l}"),
                };
                probes += 1;
                let o = probe(old, &full, &resource, &ctx);
                let n = probe(new, &full, &resource, &ctx);
                any_old |= o.allowed;
                any_new |= n.allowed;
                if o.allowed {
                    old_because.extend(o.because);
                }
                if n.allowed {
                    new_because.extend(n.because);
                }
                match (o.allowed, n.allowed) {
                    (false, true) => only_new.push(format!("{resource}{label}")),
                    (true, false) => only_old.push(format!("{resource}{label}")),
                    _ => {}
                }
            }
        }
        dedup(&mut only_new);
        dedup(&mut only_old);
        if only_new.is_empty() && only_old.is_empty() {
            continue;
        }
        let kind = match (any_old, any_new, only_new.is_empty(), only_old.is_empty()) {
            (false, true, _, _) => ChangeKind::Added,
            (true, false, _, _) => ChangeKind::Removed,
            (_, _, false, true) => ChangeKind::Widened,
            (_, _, true, false) => ChangeKind::Narrowed,
            _ => ChangeKind::Changed,
        };
        changes.push(ActionChange {
            in_contract: contract.contains(&full.to_ascii_lowercase()),
            action: full,
            kind,
            only_new,
            only_old,
            old_statements: old_because.into_iter().map(|id| StatementRef::new(old, id)).collect(),
            new_statements: new_because.into_iter().map(|id| StatementRef::new(new, id)).collect(),
        });
    }

    let prepared = super::prepare(scenarios, &[], target, &setting);
    let scenario_changes: Vec<ScenarioChange> = prepared
        .iter()
        .filter_map(|p| {
            let s = p.scenario;
            let (old_pass, new_pass) = (super::scenario_passes(old, p), super::scenario_passes(new, p));
            (old_pass != new_pass).then(|| ScenarioChange { id: s.id.clone(), expect: s.expect, old_pass, new_pass })
        })
        .collect();
    let uncovered_new_grants = changes
        .iter()
        .filter(|c| matches!(c.kind, ChangeKind::Added) && !c.in_contract)
        .map(|c| c.action.clone())
        .collect();
    PermissionDiff { equal: changes.is_empty(), probes, changes, scenario_changes, uncovered_new_grants }
}

/// Drops repeats, and a `+ condition values` probe when the bare resource is listed.
fn dedup(v: &mut Vec<String>) {
    let bare: BTreeSet<String> = v.iter().filter(|x| !x.ends_with(" + condition values")).cloned().collect();
    let mut seen = BTreeMap::new();
    v.retain(|x| {
        let redundant = x.strip_suffix(" + condition values").is_some_and(|b| bare.contains(b));
        !redundant && seen.insert(x.clone(), ()).is_none()
    });
}

/// The diff as Markdown, fit for a pull-request comment.
pub fn markdown(d: &PermissionDiff, old_label: &str, new_label: &str) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    if d.equal {
        let _ = writeln!(
            out,
            "## IAM diff: effective permissions unchanged\n\n`{old_label}` → `{new_label}`: {} probes, all answered alike.",
            d.probes
        );
        return out;
    }
    let _ = writeln!(
        out,
        "## IAM diff: effective permissions changed\n\n`{old_label}` → `{new_label}` ({} probes).\n",
        d.probes
    );
    let _ = writeln!(
        out,
        "| action | change | granted only by the new template | granted only by the old | in contract |\n|---|---|---|---|---|"
    );
    for c in &d.changes {
        let show = |v: &[String]| {
            if v.is_empty() {
                "—".to_string()
            } else {
                v.iter().take(3).map(|r| format!("`{r}`")).collect::<Vec<_>>().join("<br>")
                    + if v.len() > 3 { "<br>…" } else { "" }
            }
        };
        let _ = writeln!(
            out,
            "| `{}` | {:?} | {} | {} | {} |",
            c.action,
            c.kind,
            show(&c.only_new),
            show(&c.only_old),
            if c.in_contract { "yes" } else { "**no**" }
        );
    }
    out.push('\n');
    for c in &d.changes {
        let locs = |v: &[StatementRef]| {
            v.iter().map(|s| format!("{} (`{}`)", s.label(), s.loc)).collect::<Vec<_>>().join(", ")
        };
        let _ = writeln!(
            out,
            "- `{}`: old {}; new {}",
            c.action,
            if c.old_statements.is_empty() { "—".into() } else { locs(&c.old_statements) },
            if c.new_statements.is_empty() { "—".into() } else { locs(&c.new_statements) }
        );
    }
    if !d.scenario_changes.is_empty() {
        let _ = writeln!(out, "\n### Scenarios whose static verdict changes\n");
        for s in &d.scenario_changes {
            let word = |p: bool| if p { "pass" } else { "fail" };
            let _ = writeln!(
                out,
                "- `{}` (expects {}): {} → {}",
                s.id,
                s.expect.as_str(),
                word(s.old_pass),
                word(s.new_pass)
            );
        }
    }
    if !d.uncovered_new_grants.is_empty() {
        let _ = writeln!(out, "\n### New grants no scenario covers\n");
        for a in &d.uncovered_new_grants {
            let _ = writeln!(out, "- `{a}`");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{PolicyKind, parse_policy};
    use crate::template::yaml;
    use std::sync::Arc;

    fn policy(text: &str) -> Vec<Policy> {
        vec![parse_policy("p", &yaml::parse(text, &Arc::from("p.yaml")).unwrap(), PolicyKind::Identity).unwrap()]
    }

    const BASE: &str = "Version: 2012-10-17\nStatement:\n- Effect: Allow\n  Action: [ec2:DescribeVpcs]\n  Resource: '*'\n- Effect: Allow\n  Action: iam:PassRole\n  Resource: 'arn:*:iam::*:role/*.capa'\n";

    #[test]
    fn the_same_policy_is_equal() {
        let d = diff(Catalog::embedded(), &policy(BASE), &policy(BASE), &[], &Target::default());
        assert!(d.equal);
        assert!(d.probes > 0);
    }

    /// A Deny outside one region changes nothing in the contract's region and narrows
    /// every grant in another: `diff` asks there too. With the principal known (the
    /// profile's role), a Deny for other principals changes nothing for it.
    #[test]
    fn changes_outside_the_contracts_context_are_seen() {
        let region = format!(
            "{BASE}- Effect: Deny\n  NotAction: iam:*\n  Resource: '*'\n  Condition:\n    StringNotEquals:\n      aws:RequestedRegion: us-west-2\n"
        );
        let d = diff(Catalog::embedded(), &policy(BASE), &policy(&region), &[], &Target::default());
        let vpcs = d.changes.iter().find(|c| c.action == "ec2:DescribeVpcs").expect("DescribeVpcs changes");
        assert_eq!(vpcs.kind, ChangeKind::Narrowed);
        assert!(vpcs.only_old.contains(&"* + another region".to_string()), "{:?}", vpcs.only_old);
        assert!(!vpcs.only_old.contains(&"*".to_string()), "unchanged in the contract's region: {:?}", vpcs.only_old);
        assert!(d.changes.iter().all(|c| c.action != "iam:PassRole"), "IAM is exempt");
        let others = format!(
            "{BASE}- Effect: Deny\n  Action: ec2:*\n  Resource: '*'\n  Condition:\n    ArnNotEquals:\n      aws:PrincipalArn: arn:aws:iam::000000000000:role/r\n"
        );
        let target = Target::default();
        let model = Model::statically(&target).with_principal(crate::context::Principal::harness_session(
            "arn:aws:iam::000000000000:role/r",
            Some(Vec::new()),
            crate::context::STATIC_INSTANT,
        ));
        let d = diff_in(Catalog::embedded(), &policy(BASE), &policy(&others), &[], &target, &model);
        let vpcs = d.changes.iter().find(|c| c.action == "ec2:DescribeVpcs").expect("DescribeVpcs changes");
        assert!(vpcs.only_old.contains(&"* + another principal and account".to_string()), "{:?}", vpcs.only_old);
        assert!(!vpcs.only_old.contains(&"*".to_string()), "unchanged for the profile's role: {:?}", vpcs.only_old);
    }

    #[test]
    fn added_widened_and_removed() {
        let new = BASE.replace("[ec2:DescribeVpcs]", "[ec2:CreateVolume]").replace("role/*.capa", "role/*");
        let d = diff(Catalog::embedded(), &policy(BASE), &policy(&new), &[], &Target::default());
        let kind = |a: &str| d.changes.iter().find(|c| c.action == a).map(|c| c.kind);
        assert_eq!(kind("ec2:CreateVolume"), Some(ChangeKind::Added));
        assert_eq!(kind("ec2:DescribeVpcs"), Some(ChangeKind::Removed));
        assert_eq!(kind("iam:PassRole"), Some(ChangeKind::Widened));
        assert_eq!(d.uncovered_new_grants, ["ec2:CreateVolume"]);
        let back = diff(Catalog::embedded(), &policy(&new), &policy(BASE), &[], &Target::default());
        assert_eq!(
            back.changes.iter().find(|c| c.action == "iam:PassRole").map(|c| c.kind),
            Some(ChangeKind::Narrowed)
        );
        let md = markdown(&d, "old.yaml", "new.yaml");
        assert!(md.contains("`ec2:CreateVolume` | Added"), "{md}");
    }
}
