//! Policy mutants: small edits a careless change could make. Each one the scenario
//! catalog cannot tell from the original is a hole in the contract.

use crate::loc::Loc;
use crate::policy::Policy;
use crate::policy::document::Located;
use crate::policy::wildcard::{Flavour, Pattern};

/// One edited copy of the policy set.
#[derive(Clone, Debug)]
pub struct Mutant {
    /// Stable id, e.g. `widen-resource:dkp-bootstrapper-policy#5:0`.
    pub id: String,
    /// The edit, in words, for messages.
    pub description: String,
    /// Where the edited element is written.
    pub loc: Loc,
    /// The whole policy set with the one edit applied.
    pub policies: Vec<Policy>,
}

/// How mutant ids name a statement: `policy@fingerprint`, or `policy#Sid@fingerprint`.
/// Positions are left out so that adding or moving another statement does not void the
/// accepted mutants of this one; a position is added only to tell apart identical
/// statements (`policy#3@fingerprint`).
pub fn mutant_label(policy: &Policy, index: usize) -> String {
    let statement = &policy.statements[index];
    let fp = fingerprint(statement);
    if let Some(sid) = &statement.sid {
        return format!("{}#{sid}@{fp}", policy.name);
    }
    let twins = policy.statements.iter().filter(|other| fingerprint(other) == fp).count();
    if twins > 1 { format!("{}#{index}@{fp}", policy.name) } else { format!("{}@{fp}", policy.name) }
}

/// A short fingerprint of a statement's content (not its location). It is part of every
/// mutant id, so an equivalent-mutant entry written for one version of a statement stops
/// applying as soon as that statement changes, and the change must be reviewed again.
pub fn fingerprint(statement: &crate::policy::Statement) -> String {
    let mut text = format!("{:?}|{}|", statement.effect, statement.action.negated);
    for a in &statement.action.items {
        text.push_str(a.text());
        text.push(',');
    }
    if let Some(r) = &statement.resource {
        text.push_str(&format!("|{}|", r.negated));
        for i in &r.items {
            text.push_str(i.text());
            text.push(',');
        }
    }
    for c in &statement.conditions {
        text.push_str(&format!("|{}:{}=", c.operator.name(), c.key));
        for v in &c.values {
            text.push_str(&v.text);
            text.push(',');
        }
    }
    // FNV-1a, 32 bits: stable across platforms and releases, enough to tell edits apart.
    let hash = text.bytes().fold(0x811c_9dc5u32, |h, b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193));
    format!("{hash:08x}")
}

/// Every mutant of every statement of every policy, in a stable order.
pub fn mutants(policies: &[Policy]) -> Vec<Mutant> {
    let mut out = Vec::new();
    for (p, policy) in policies.iter().enumerate() {
        for (s, statement) in policy.statements.iter().enumerate() {
            let label = mutant_label(policy, s);
            let variables = policy.has_variables();
            let mut push = |kind: &str, detail: String, description: String, loc: &Loc, edit: &dyn Fn(&mut Policy)| {
                let mut policies = policies.to_vec();
                edit(&mut policies[p]);
                let id = if detail.is_empty() { format!("{kind}:{label}") } else { format!("{kind}:{label}:{detail}") };
                out.push(Mutant { id, description, loc: loc.clone(), policies });
            };

            push("drop-statement", String::new(), format!("remove statement {label}"), &statement.loc, &|pol| {
                pol.statements.remove(s);
            });

            // With one item, dropping it is the same edit as dropping the statement.
            if statement.action.items.len() > 1 {
                for (i, item) in statement.action.items.iter().enumerate() {
                    let what = if statement.action.negated { "NotAction" } else { "Action" };
                    push(
                        "drop-action",
                        item.text().to_string(),
                        format!("remove `{}` from the {what} of {label}", item.text()),
                        &item.loc,
                        &|pol| {
                            pol.statements[s].action.items.remove(i);
                        },
                    );
                }
            }

            for (c, clause) in statement.conditions.iter().enumerate() {
                let name = format!("{}:{}", clause.operator.name(), clause.key);
                push(
                    "drop-condition",
                    name.clone(),
                    format!("remove the condition `{name}` of {label}"),
                    &clause.operator_loc,
                    &|pol| {
                        pol.statements[s].conditions.remove(c);
                    },
                );
                if let Some(opposite) = clause.operator.kind.opposite() {
                    let mut negated = clause.operator;
                    negated.kind = opposite;
                    push(
                        "negate-operator",
                        name.clone(),
                        format!("replace `{}` with `{}` in {label}", clause.operator.name(), negated.name()),
                        &clause.operator_loc,
                        &|pol| {
                            let clause = &mut pol.statements[s].conditions[c];
                            let values: Vec<String> = clause.values.iter().map(|v| v.text.clone()).collect();
                            clause.operator = negated;
                            clause.values = values
                                .iter()
                                .map(|v| crate::policy::condition::ConditionValue::new(v, opposite, variables))
                                .collect();
                        },
                    );
                }
            }
            if statement.conditions.len() > 1 {
                push(
                    "drop-conditions",
                    String::new(),
                    format!("remove the whole Condition of {label}"),
                    &statement.loc,
                    &|pol| {
                        pol.statements[s].conditions.clear();
                    },
                );
            }

            let Some(resource) = &statement.resource else { continue };
            for (r, item) in resource.items.iter().enumerate() {
                if item.text() == "*" {
                    continue;
                }
                push(
                    "widen-resource",
                    r.to_string(),
                    format!("widen `{}` to `*` in {label}", item.text()),
                    &item.loc,
                    &|pol| {
                        set_resource(pol, s, r, "*", variables);
                    },
                );
                for (segment, widened) in widened_segments(item) {
                    push(
                        "widen-arn-segment",
                        format!("{r}:{segment}"),
                        format!("widen {segment} of `{}` to `*`: `{widened}` in {label}", item.text()),
                        &item.loc,
                        &|pol| set_resource(pol, s, r, &widened, variables),
                    );
                }
            }
        }
    }
    out
}

fn set_resource(policy: &mut Policy, statement: usize, item: usize, text: &str, variables: bool) {
    if let Some(resource) = &mut policy.statements[statement].resource {
        let loc = resource.items[item].loc.clone();
        resource.items[item] = Located { pattern: Pattern::new(text, Flavour::Arn, variables), loc };
    }
}

/// Each ARN segment (partition, service, region, account) and each component of the
/// resource part (split at `/` and `:`) replaced by `*`, where it is not `*` already.
fn widened_segments(item: &Located) -> Vec<(String, String)> {
    let text = item.text();
    let parts: Vec<&str> = text.splitn(6, ':').collect();
    if parts.len() < 6 {
        return Vec::new();
    }
    let mut out = Vec::new();
    for (i, name) in [(1, "partition"), (2, "service"), (3, "region"), (4, "account")] {
        if parts[i] != "*" {
            let mut widened = parts.clone();
            widened[i] = "*";
            out.push((format!("{name}={}", parts[i]), widened.join(":")));
        }
    }
    let prefix = parts[..5].join(":");
    let resource = parts[5];
    let components: Vec<&str> = resource.split(['/', ':']).collect();
    let separators: Vec<char> = resource.chars().filter(|c| *c == '/' || *c == ':').collect();
    for (k, component) in components.iter().enumerate() {
        if *component == "*" {
            continue;
        }
        let mut rebuilt = String::new();
        for (j, c) in components.iter().enumerate() {
            rebuilt.push_str(if j == k { "*" } else { c });
            if let Some(sep) = separators.get(j) {
                rebuilt.push(*sep);
            }
        }
        out.push((format!("resource[{k}]={component}"), format!("{prefix}:{rebuilt}")));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{PolicyKind, parse_policy};
    use crate::template::yaml;
    use std::sync::Arc;

    #[test]
    fn mutant_ids_and_edits() {
        let node = yaml::parse(
            "Version: 2012-10-17\nStatement:\n- Effect: Allow\n  Action: [iam:CreateServiceLinkedRole, iam:GetRole]\n  Resource: arn:*:iam::*:role/aws-service-role/x\n  Condition:\n    StringLike:\n      iam:AWSServiceName: x\n",
            &Arc::from("p.yaml"),
        )
        .unwrap();
        let p = parse_policy("pol", &node, PolicyKind::Identity).unwrap();
        let ms = mutants(std::slice::from_ref(&p));
        let ids: Vec<&str> = ms.iter().map(|m| m.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "drop-statement:pol@9b30b27f",
                "drop-action:pol@9b30b27f:iam:CreateServiceLinkedRole",
                "drop-action:pol@9b30b27f:iam:GetRole",
                "drop-condition:pol@9b30b27f:StringLike:iam:AWSServiceName",
                "negate-operator:pol@9b30b27f:StringLike:iam:AWSServiceName",
                "widen-resource:pol@9b30b27f:0",
                "widen-arn-segment:pol@9b30b27f:0:service=iam",
                "widen-arn-segment:pol@9b30b27f:0:region=",
                "widen-arn-segment:pol@9b30b27f:0:resource[0]=role",
                "widen-arn-segment:pol@9b30b27f:0:resource[1]=aws-service-role",
                "widen-arn-segment:pol@9b30b27f:0:resource[2]=x",
            ]
        );
        let widened = &ms[8].policies[0].statements[0].resource.as_ref().unwrap().items[0];
        assert_eq!(widened.text(), "arn:*:iam::*:*/aws-service-role/x");
        assert_eq!(ms[4].policies[0].statements[0].conditions[0].operator.name(), "StringNotLike");
        assert!(ms[0].policies[0].statements.is_empty());
        // The fingerprint follows content, not location.
        let moved = yaml::parse(
            "\n\nVersion: 2012-10-17\nStatement:\n- Effect: Allow\n  Action: [iam:CreateServiceLinkedRole, iam:GetRole]\n  Resource: arn:*:iam::*:role/aws-service-role/x\n  Condition:\n    StringLike:\n      iam:AWSServiceName: x\n",
            &Arc::from("q.yaml"),
        )
        .unwrap();
        let moved = parse_policy("pol", &moved, PolicyKind::Identity).unwrap();
        assert_eq!(fingerprint(&moved.statements[0]), "9b30b27f");
        let mut edited = p.clone();
        edited.statements[0].conditions[0].values[0] =
            crate::policy::condition::ConditionValue::new("*", edited.statements[0].conditions[0].operator.kind, true);
        assert_ne!(fingerprint(&edited.statements[0]), "9b30b27f");
        // The original is untouched.
        assert_eq!(p.statements[0].action.items.len(), 2);
    }
}
