//! `diff`: what a template change does to the effective permissions. For every catalog
//! action an Allow statement of either side names, the exact procedure
//! ([`crate::exact::Exact::differences`]) finds a request only the new policies allow and
//! one only the old allow, each a witness the evaluator confirms. Sampled probes — against
//! representative resources of the action's types and the resources both policies scope
//! to, with and without the condition values both name — cross-check it, and stand in for
//! it, said so, where it cannot decide.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::StatementRef;
use super::exhaustive::{policy_contexts, policy_resources, resources_for};
use crate::catalog::{ActionRef, Catalog};
use crate::context::Model;
use crate::exact::{Exact, Undecided, Witness, names_action};
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
    /// Granted on more requests than before, and on all it was granted on.
    Widened,
    /// Granted on fewer requests than before, all of them granted before.
    Narrowed,
    /// Granted on some new requests and no longer on others.
    Changed,
}

/// How one action's grant changed, with the statements that grant it on each side.
#[derive(Clone, Debug, Serialize)]
pub struct ActionChange {
    /// The action, as the catalog spells it.
    pub action: String,
    /// Which way the grant moved.
    pub kind: ChangeKind,
    /// Sampled probes (resource, with `+ condition values` when the policy's values were
    /// supplied) allowed only by the new policies.
    pub only_new: Vec<String>,
    /// Sampled probes allowed only by the old policies.
    pub only_old: Vec<String>,
    /// A request the new policies allow and the old deny, from the exact procedure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub added_witness: Option<Witness>,
    /// A request the old policies allow and the new deny, from the exact procedure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub removed_witness: Option<Witness>,
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
    /// True when the exact procedure decided every action alike for both and nothing is
    /// undecided.
    pub equal: bool,
    /// How many sampled (action, resource, context) probes both sides answered.
    pub probes: usize,
    /// Each action whose grant changed.
    pub changes: Vec<ActionChange>,
    /// Actions the exact procedure could not decide (their changes come from the sampled
    /// probes alone), or on which it and the probes disagree.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub undecided: Vec<Undecided>,
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

/// The witness's decision by `policies`, with the statements behind it.
fn probe_witness(policies: &[Policy], w: &Witness) -> Answer {
    probe(policies, &w.action, &w.resource, &w.context())
}

/// Everything the sampled probes of both sides need, built once per diff.
struct Sampler<'a> {
    catalog: &'a Catalog,
    target: &'a Target,
    old: &'a [Policy],
    new: &'a [Policy],
    resources: BTreeSet<String>,
    setting: super::Setting<'a>,
    satisfying: Vec<Context>,
}

/// What the sampled probes saw for one action.
#[derive(Default)]
struct Sampled {
    only_new: Vec<String>,
    only_old: Vec<String>,
    any_old: bool,
    any_new: bool,
    old_because: BTreeSet<StatementId>,
    new_because: BTreeSet<StatementId>,
}

impl Sampled {
    /// The change the probes alone show, if any.
    fn kind(&self) -> Option<ChangeKind> {
        Some(match (!self.only_new.is_empty(), !self.only_old.is_empty()) {
            (false, false) => return None,
            (true, false) if !self.any_old => ChangeKind::Added,
            (false, true) if !self.any_new => ChangeKind::Removed,
            (true, false) => ChangeKind::Widened,
            (false, true) => ChangeKind::Narrowed,
            (true, true) => ChangeKind::Changed,
        })
    }
}

impl<'a> Sampler<'a> {
    /// Answers every probe of `action` on both sides; `count` is bumped per probe.
    fn sample(&self, action: &ActionRef<'_>, count: &mut usize) -> Sampled {
        let full = action.full_name();
        let mut s = Sampled::default();
        for (resource, _) in resources_for(self.catalog, action, &self.resources, self.target) {
            let contexts = super::exhaustive::probe_contexts(&self.setting, &self.satisfying, &full, &resource);
            for (label, ctx) in contexts {
                let label = label.map(|l| format!(" + {l}")).unwrap_or_default();
                *count += 1;
                let o = probe(self.old, &full, &resource, &ctx);
                let n = probe(self.new, &full, &resource, &ctx);
                s.any_old |= o.allowed;
                s.any_new |= n.allowed;
                if o.allowed {
                    s.old_because.extend(o.because);
                }
                if n.allowed {
                    s.new_because.extend(n.because);
                }
                match (o.allowed, n.allowed) {
                    (false, true) => s.only_new.push(format!("{resource}{label}")),
                    (true, false) => s.only_old.push(format!("{resource}{label}")),
                    _ => {}
                }
            }
        }
        dedup(&mut s.only_new);
        dedup(&mut s.only_old);
        s
    }
}

/// Whether an Allow statement of `policies` names `action`.
fn named_by(policies: &[Policy], action: &str) -> bool {
    policies.iter().flat_map(|p| &p.statements).any(|s| s.effect == Effect::Allow && names_action(s, action))
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

/// [`diff`] with every sampled probe and scenario decided in the request context `model`
/// builds, and also in each probe of the context space either policy set reads (another
/// region, principal, transport…); the exact procedure ignores `model`, since it
/// quantifies over every request AWS can ask.
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
    let sampler = Sampler { catalog, target, old, new, resources, setting, satisfying };
    let contract: BTreeSet<String> = scenarios
        .iter()
        .filter(|s| s.expect == Expect::Allow)
        .flat_map(|s| &s.checks)
        .map(|c| c.action.to_ascii_lowercase())
        .collect();

    let mut exact = Exact::new(catalog, target);
    let (mut probes, mut changes, mut undecided) = (0, Vec::new(), Vec::new());
    for action in catalog.actions() {
        let full = action.full_name();
        if !named_by(old, &full) && !named_by(new, &full) {
            continue;
        }
        let sampled = sampler.sample(&action, &mut probes);
        if let Some(mut change) = compare_action(&mut exact, &action, &sampler, sampled, &mut undecided) {
            change.in_contract = contract.contains(&full.to_ascii_lowercase());
            changes.push(change);
        }
    }

    let prepared = super::prepare(scenarios, &[], target, &sampler.setting);
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
    let equal = changes.is_empty() && undecided.is_empty();
    PermissionDiff { equal, probes, changes, undecided, scenario_changes, uncovered_new_grants }
}

/// One action's change: the exact procedure's, checked against the samples; the samples'
/// alone (and the action listed in `undecided`) where the procedure cannot decide.
fn compare_action(
    exact: &mut Exact<'_>,
    action: &ActionRef<'_>,
    sampler: &Sampler<'_>,
    mut sampled: Sampled,
    undecided: &mut Vec<Undecided>,
) -> Option<ActionChange> {
    let full = action.full_name();
    let (added, removed) = match exact.differences(action, sampler.old, sampler.new) {
        Ok(found) => found,
        Err(u) => {
            undecided.push(Undecided { reason: format!("{}; the sampled probes are shown instead", u.reason), ..u });
            return sampled.kind().map(|kind| change(&full, kind, sampled, None, None, sampler));
        }
    };
    // A sampled difference the exact answer denies is a bug in one of them: say so.
    if let Some(reason) = disagreement(&sampled, added.is_some(), removed.is_some()) {
        undecided.push(Undecided { action: full.clone(), reason });
    }
    // On a disagreement both answers are shown, so the change is their union.
    let gained = added.is_some() || !sampled.only_new.is_empty();
    let lost = removed.is_some() || !sampled.only_old.is_empty();
    let kind = match (gained, lost) {
        (false, false) => return None,
        (true, false) if !allows_anything(exact, action, sampler.old, sampled.any_old, undecided) => ChangeKind::Added,
        (false, true) if !allows_anything(exact, action, sampler.new, sampled.any_new, undecided) => {
            ChangeKind::Removed
        }
        (true, false) => ChangeKind::Widened,
        (false, true) => ChangeKind::Narrowed,
        (true, true) => ChangeKind::Changed,
    };
    // The statements behind each witness, which the samples may not have reached.
    if let Some(w) = &added {
        sampled.new_because.extend(probe_witness(sampler.new, w).because);
    }
    if let Some(w) = &removed {
        sampled.old_because.extend(probe_witness(sampler.old, w).because);
    }
    Some(change(&full, kind, sampled, added, removed, sampler))
}

/// Why the samples and the exact answer conflict, when a sample shows a difference the
/// procedure says does not exist.
fn disagreement(sampled: &Sampled, added: bool, removed: bool) -> Option<String> {
    let conflict = |probes: &[String], found: bool, side: &str| {
        (!found && !probes.is_empty()).then(|| {
            format!(
                "the sampled probe and the exact procedure disagree: `{}` is allowed only by the {side} policies, \
                 and the exact procedure found no such request",
                probes[0]
            )
        })
    };
    conflict(&sampled.only_new, added, "new").or_else(|| conflict(&sampled.only_old, removed, "old"))
}

/// Whether `policies` allow any request of `action`, decided exactly; the samples' answer
/// (and the action listed in `undecided`) where the procedure cannot decide.
fn allows_anything(
    exact: &mut Exact<'_>,
    action: &ActionRef<'_>,
    policies: &[Policy],
    sampled: bool,
    undecided: &mut Vec<Undecided>,
) -> bool {
    match exact.allowed_outside(action, policies, &[]) {
        Ok(Some(_)) => true,
        Ok(None) if sampled => {
            let reason = "the sampled probe and the exact procedure disagree: a probe is allowed, \
                          and the exact procedure found no request allowed"
                .to_string();
            undecided.push(Undecided { action: action.full_name(), reason });
            true
        }
        Ok(None) => false,
        Err(u) => {
            let reason = format!("whether one side allows anything: {}; the sampled probes' answer is used", u.reason);
            undecided.push(Undecided { reason, ..u });
            sampled
        }
    }
}

/// The reported change (`in_contract` is set by the caller).
fn change(
    full: &str,
    kind: ChangeKind,
    sampled: Sampled,
    added_witness: Option<Witness>,
    removed_witness: Option<Witness>,
    sampler: &Sampler<'_>,
) -> ActionChange {
    let refs = |p: &[Policy], ids: BTreeSet<StatementId>| ids.into_iter().map(|id| StatementRef::new(p, id)).collect();
    ActionChange {
        action: full.to_string(),
        kind,
        only_new: sampled.only_new,
        only_old: sampled.only_old,
        added_witness,
        removed_witness,
        old_statements: refs(sampler.old, sampled.old_because),
        new_statements: refs(sampler.new, sampled.new_because),
        in_contract: false,
    }
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
            "## IAM diff: effective permissions unchanged\n\n`{old_label}` → `{new_label}`: every request decided \
             alike (exact), and the {} sampled probes agree.",
            d.probes
        );
        return out;
    }
    let _ = writeln!(
        out,
        "## IAM diff: effective permissions changed\n\n`{old_label}` → `{new_label}` (exact, cross-checked by {} \
         sampled probes).\n",
        d.probes
    );
    changes_table(&mut out, &d.changes);
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
    requests_to_try(&mut out, &d.changes);
    if !d.undecided.is_empty() {
        let _ = writeln!(out, "\n### Not decided exactly\n");
        for u in &d.undecided {
            let _ = writeln!(out, "- `{}`: {}", u.action, u.reason);
        }
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

/// One row per change: the witness's resource first, then up to three sampled probes.
fn changes_table(out: &mut String, changes: &[ActionChange]) {
    use std::fmt::Write;
    let _ = writeln!(
        out,
        "| action | change | granted only by the new template | granted only by the old | in contract |\n|---|---|---|---|---|"
    );
    let show = |w: &Option<Witness>, v: &[String]| {
        let mut cells: Vec<String> = w.iter().map(|w| format!("`{}`", w.resource)).collect();
        let probes: Vec<&String> = v.iter().filter(|r| w.as_ref().is_none_or(|w| &w.resource != *r)).collect();
        cells.extend(probes.iter().take(3).map(|r| format!("`{r}`")));
        if probes.len() > 3 {
            cells.push("…".into());
        }
        if cells.is_empty() { "—".to_string() } else { cells.join("<br>") }
    };
    for c in changes {
        let _ = writeln!(
            out,
            "| `{}` | {:?} | {} | {} | {} |",
            c.action,
            c.kind,
            show(&c.added_witness, &c.only_new),
            show(&c.removed_witness, &c.only_old),
            if c.in_contract { "yes" } else { "**no**" }
        );
    }
}

/// Each witness as a whole request (action, resource, condition keys) a reader can try.
fn requests_to_try(out: &mut String, changes: &[ActionChange]) {
    use std::fmt::Write;
    let witnesses: Vec<(&Witness, &str)> = changes
        .iter()
        .flat_map(|c| {
            let added = c.added_witness.as_ref().map(|w| (w, "allowed by the new template, denied by the old"));
            let removed = c.removed_witness.as_ref().map(|w| (w, "allowed by the old template, denied by the new"));
            added.into_iter().chain(removed)
        })
        .collect();
    if witnesses.is_empty() {
        return;
    }
    let _ = writeln!(out, "\n### Requests to try\n");
    for (w, what) in witnesses {
        let _ = writeln!(out, "- {}: {what}", w.describe());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::test_support::policies;
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
        assert!(d.equal && d.undecided.is_empty());
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
        assert!(d.undecided.is_empty(), "{:?}", d.undecided);
        let back = diff(Catalog::embedded(), &policy(&new), &policy(BASE), &[], &Target::default());
        assert_eq!(
            back.changes.iter().find(|c| c.action == "iam:PassRole").map(|c| c.kind),
            Some(ChangeKind::Narrowed)
        );
        let md = markdown(&d, "old.yaml", "new.yaml");
        assert!(md.contains("`ec2:CreateVolume` | Added"), "{md}");
    }

    fn statement(action: &str, resource: &str) -> String {
        format!("- Effect: Allow\n  Action: {action}\n  Resource: '{resource}'\n")
    }

    fn allows(p: &[Policy], w: &Witness) -> bool {
        decide(p, &Request { action: &w.action, resource: &w.resource, context: &w.context() }).outcome.is_allowed()
    }

    /// The diff of one action granted on `old` and then on `new`, with its change if any.
    fn one(action: &str, old: &str, new: &str) -> (Vec<Policy>, Vec<Policy>, PermissionDiff) {
        let (o, n) = (policies(&statement(action, old)), policies(&statement(action, new)));
        let d = diff(Catalog::embedded(), &o, &n, &[], &Target::default());
        (o, n, d)
    }

    const SECRET: &str = "arn:*:secretsmanager:*:*:secret:aws.cluster.x-k8s.io/*";
    const ROLE: &str = "arn:*:iam::*:role/*.cluster-api-provider-aws.sigs.k8s.io";
    const ASG: &str = "arn:*:autoscaling:*:*:autoScalingGroup:*:autoScalingGroupName/*";

    /// Widenings of the held-out kind, which a sample can miss: each is a change with a
    /// witness the new policy allows and the old denies, and reversed, a narrowing.
    #[test]
    fn held_out_widenings_come_with_a_witness_the_old_policy_denies() {
        let cases = [
            // A prefix without its trailing slash.
            ("secretsmanager:CreateSecret", SECRET, "arn:*:secretsmanager:*:*:secret:aws.cluster.x-k8s.io*"),
            // A dropped separator.
            ("iam:PassRole", ROLE, "arn:*:iam::*:role/*cluster-api-provider-aws.sigs.k8s.io"),
            // A wildcard appended to a suffix.
            ("iam:PassRole", ROLE, "arn:*:iam::*:role/*.cluster-api-provider-aws.sigs.k8s.io*"),
        ];
        for (action, narrow, wide) in cases {
            for (old, new, kind) in [(narrow, wide, ChangeKind::Widened), (wide, narrow, ChangeKind::Narrowed)] {
                let (o, n, d) = one(action, old, new);
                assert!(!d.equal && d.undecided.is_empty(), "{old} → {new}: {d:#?}");
                let [c] = &d.changes[..] else { panic!("{old} → {new}: one change: {d:#?}") };
                assert_eq!((c.action.as_str(), c.kind), (action, kind), "{old} → {new}");
                let (gained, lost) = match kind {
                    ChangeKind::Widened => (c.added_witness.as_ref(), c.removed_witness.as_ref()),
                    _ => (c.removed_witness.as_ref(), c.added_witness.as_ref()),
                };
                let w = gained.unwrap_or_else(|| panic!("{old} → {new}: a witness: {c:#?}"));
                assert!(lost.is_none(), "{old} → {new}: {c:#?}");
                let (wider, narrower) = if kind == ChangeKind::Widened { (&n, &o) } else { (&o, &n) };
                assert!(allows(wider, w) && !allows(narrower, w), "{old} → {new}: {w:?}");
                assert!(!c.new_statements.is_empty() || kind == ChangeKind::Narrowed, "{c:#?}");
                let md = markdown(&d, "old.yaml", "new.yaml");
                assert!(md.contains(&w.describe()), "the request to try: {md}");
            }
        }
    }

    /// Rewrites every request decides alike are equal: a segment the ARN format fixes
    /// widened to `*`, and statements split differently.
    #[test]
    fn rewrites_that_decide_every_request_alike_are_equal() {
        let asg = "autoscaling:UpdateAutoScalingGroup";
        let cases = [
            (statement(asg, ASG), statement(asg, "arn:*:*:*:*:autoScalingGroup:*:autoScalingGroupName/*")),
            (
                statement("[iam:PassRole, iam:GetRole]", ROLE),
                statement("iam:PassRole", ROLE) + &statement("iam:GetRole", ROLE),
            ),
        ];
        for (old, new) in cases {
            let d = diff(Catalog::embedded(), &policies(&old), &policies(&new), &[], &Target::default());
            assert!(d.equal, "{old} → {new}: {d:#?}");
            assert!(d.changes.is_empty() && d.undecided.is_empty());
            assert!(markdown(&d, "o", "n").contains("unchanged"));
        }
    }

    /// Both directions at once is a change with both witnesses; a grant from nothing is
    /// Added and one to nothing Removed, each with its witness.
    #[test]
    fn changed_added_and_removed_carry_their_witnesses() {
        let (o, n, d) = one("iam:PassRole", ROLE, "arn:*:iam::*:role/other-*");
        let c = &d.changes[0];
        assert_eq!(c.kind, ChangeKind::Changed);
        let (a, r) = (c.added_witness.as_ref().unwrap(), c.removed_witness.as_ref().unwrap());
        assert!(allows(&n, a) && !allows(&o, a) && allows(&o, r) && !allows(&n, r), "{c:#?}");

        let nothing = policies(&statement("ec2:DescribeVpcs", "*"));
        let role = policies(&statement("iam:PassRole", ROLE));
        for (old, new, kind) in [(&nothing, &role, ChangeKind::Added), (&role, &nothing, ChangeKind::Removed)] {
            let d = diff(Catalog::embedded(), old, new, &[], &Target::default());
            let c = d.changes.iter().find(|c| c.action == "iam:PassRole").expect("PassRole changes");
            assert_eq!(c.kind, kind);
            let w = c.added_witness.as_ref().or(c.removed_witness.as_ref()).expect("a witness");
            assert_eq!(allows(old, w), kind == ChangeKind::Removed, "{w:?}");
        }
    }

    /// An action the procedure cannot decide falls back to the samples and is listed, so
    /// the diff is never `equal` on a guess.
    #[test]
    fn an_undecided_action_is_listed_and_never_equal() {
        let variable = "arn:*:iam::*:role/${aws:username}";
        let (_, _, d) = one("iam:PassRole", variable, variable);
        assert!(!d.equal, "{d:#?}");
        assert!(d.changes.is_empty());
        let [u] = &d.undecided[..] else { panic!("{d:#?}") };
        assert_eq!(u.action, "iam:PassRole");
        assert!(u.reason.contains("policy variable") && u.reason.contains("sampled probes"), "{u:?}");
        let (_, _, d) = one("iam:PassRole", variable, "arn:*:iam::*:role/*");
        // The samples carry no user name, so to them the old grant allowed nothing.
        let [c] = &d.changes[..] else { panic!("{d:#?}") };
        assert_eq!((c.kind, c.added_witness.as_ref()), (ChangeKind::Added, None), "from the samples");
        assert!(markdown(&d, "o", "n").contains("### Not decided exactly"));
    }

    /// A sampled difference the exact answer denies is reported, never resolved silently.
    #[test]
    fn a_sample_the_exact_answer_contradicts_is_reported() {
        let sampled = Sampled { only_new: vec!["arn:aws:iam::000000000000:role/x".into()], ..Sampled::default() };
        let reason = disagreement(&sampled, false, false).expect("a disagreement");
        assert!(reason.starts_with("the sampled probe and the exact procedure disagree"), "{reason}");
        assert!(reason.contains("role/x") && reason.contains("new"), "{reason}");
        assert_eq!(disagreement(&sampled, true, false), None, "both saw it");
        assert_eq!(disagreement(&Sampled::default(), true, true), None, "the samples may miss one");
    }
}
