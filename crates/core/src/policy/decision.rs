//! Combining statement answers into a decision, per the IAM evaluation logic for
//! identity policies: an explicit Deny beats any Allow, an Allow beats the implicit
//! deny. The decision names the statements that made it.

use super::document::{Effect, Policy};
use super::eval::{Request, statement_applies};

/// What IAM answers for one request; the two denies are told apart because reports name the statement of an explicit one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// An Allow matches and no Deny does.
    Allowed,
    /// A Deny statement matches.
    ExplicitDeny,
    /// No statement allows it.
    ImplicitDeny,
}

impl Outcome {
    /// Whether the request goes through.
    pub fn is_allowed(self) -> bool {
        self == Outcome::Allowed
    }
}

/// A statement by position: the policy's index in the set, the statement's index in it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StatementId {
    /// The policy's index in the set.
    pub policy: usize,
    /// The statement's index in its policy.
    pub statement: usize,
}

/// The answer for one request, with the statements that gave it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    /// Allowed, or which deny.
    pub outcome: Outcome,
    /// The Deny statements that matched (explicit deny), or the Allow statements that
    /// matched (allowed); empty for the implicit deny.
    pub because: Vec<StatementId>,
}

/// Decides one request against every statement of every policy.
pub fn decide(policies: &[Policy], request: &Request<'_>) -> Decision {
    let mut allows = Vec::new();
    let mut denies = Vec::new();
    for (p, policy) in policies.iter().enumerate() {
        for (s, statement) in policy.statements.iter().enumerate() {
            if statement_applies(statement, request) {
                let id = StatementId { policy: p, statement: s };
                match statement.effect {
                    Effect::Allow => allows.push(id),
                    Effect::Deny => denies.push(id),
                }
            }
        }
    }
    combine(allows, denies)
}

/// A decision with what it read: the condition keys (and policy variables) of the
/// statements whose Action and Resource match the request, and the keys the request
/// context does not model that the outcome depends on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Traced {
    /// The decision, reading not-modelled keys as absent (what [`decide`] gives).
    pub decision: Decision,
    /// Every condition key and policy variable read, lowercased.
    pub read: std::collections::BTreeSet<String>,
    /// The not-modelled keys the outcome depends on; empty when it is decided.
    pub undecided: std::collections::BTreeSet<String>,
}

/// [`decide`], for a context that may mark keys as not modelled. The outcome is decided
/// when a Deny applies on known keys alone (explicit deny), or else no Deny may apply and
/// an Allow applies on known keys alone (allowed), or else neither a Deny nor an Allow may
/// apply (implicit deny). Otherwise it depends on the keys in [`Traced::undecided`].
pub fn decide_traced(policies: &[Policy], request: &Request<'_>) -> Traced {
    use super::eval::{Applies, statement_applies_traced};
    let mut read = std::collections::BTreeSet::new();
    let (mut allows, mut denies) = (Vec::new(), Vec::new());
    let (mut allow_open, mut deny_open) = (std::collections::BTreeSet::new(), std::collections::BTreeSet::new());
    for (p, policy) in policies.iter().enumerate() {
        for (s, statement) in policy.statements.iter().enumerate() {
            let mut unknown = std::collections::BTreeSet::new();
            let applies = statement_applies_traced(statement, request, &mut read, &mut unknown);
            let id = StatementId { policy: p, statement: s };
            match (applies, statement.effect) {
                (Applies::Yes, Effect::Allow) => allows.push(id),
                (Applies::Yes, Effect::Deny) => denies.push(id),
                (Applies::Unknown, Effect::Allow) => allow_open.extend(unknown),
                (Applies::Unknown, Effect::Deny) => deny_open.extend(unknown),
                (Applies::No, _) => {}
            }
        }
    }
    let undecided = if !denies.is_empty() {
        Default::default()
    } else if !deny_open.is_empty() {
        deny_open.into_iter().chain(if allows.is_empty() { allow_open } else { Default::default() }).collect()
    } else if !allows.is_empty() {
        Default::default()
    } else {
        allow_open
    };
    Traced { decision: decide(policies, request), read, undecided }
}

/// The combining rule on its own, so it can be tested apart from matching.
pub fn combine(allows: Vec<StatementId>, denies: Vec<StatementId>) -> Decision {
    if !denies.is_empty() {
        Decision { outcome: Outcome::ExplicitDeny, because: denies }
    } else if !allows.is_empty() {
        Decision { outcome: Outcome::Allowed, because: allows }
    } else {
        Decision { outcome: Outcome::ImplicitDeny, because: Vec::new() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::condition::Context;
    use crate::policy::document::{PolicyKind, parse_policy};
    use crate::template::yaml;
    use proptest::prelude::*;
    use std::sync::Arc;

    fn policy(text: &str) -> Policy {
        parse_policy("p", &yaml::parse(text, &Arc::from("p.yaml")).unwrap(), PolicyKind::Identity).unwrap()
    }

    fn outcome(p: &Policy, action: &str, resource: &str, ctx: &Context) -> Outcome {
        decide(std::slice::from_ref(p), &Request { action, resource, context: ctx }).outcome
    }

    #[test]
    fn deny_beats_allow_beats_implicit() {
        let p = policy(
            "Version: 2012-10-17\nStatement:\n- Effect: Allow\n  Action: ec2:*\n  Resource: '*'\n- Effect: Deny\n  Action: ec2:TerminateInstances\n  Resource: '*'\n",
        );
        let c = Context::new();
        assert_eq!(outcome(&p, "ec2:CreateVpc", "*", &c), Outcome::Allowed);
        assert_eq!(outcome(&p, "ec2:TerminateInstances", "*", &c), Outcome::ExplicitDeny);
        assert_eq!(outcome(&p, "iam:PassRole", "*", &c), Outcome::ImplicitDeny);
        let d =
            decide(std::slice::from_ref(&p), &Request { action: "ec2:TerminateInstances", resource: "*", context: &c });
        assert_eq!(d.because, vec![StatementId { policy: 0, statement: 1 }]);
    }

    #[test]
    fn not_action_and_not_resource() {
        let p = policy(
            "Version: 2012-10-17\nStatement:\n- Effect: Allow\n  NotAction: iam:*\n  NotResource: 'arn:aws:s3:::secret*'\n",
        );
        let c = Context::new();
        assert_eq!(outcome(&p, "ec2:CreateVpc", "arn:aws:ec2:us-west-2:1:vpc/*", &c), Outcome::Allowed);
        assert_eq!(outcome(&p, "iam:PassRole", "arn:aws:iam::1:role/x", &c), Outcome::ImplicitDeny);
        assert_eq!(outcome(&p, "s3:GetObject", "arn:aws:s3:::secret-bucket", &c), Outcome::ImplicitDeny);
    }

    #[test]
    fn resource_variables_need_the_key() {
        let p = policy(
            "Version: 2012-10-17\nStatement:\n- Effect: Allow\n  Action: iam:*\n  Resource: 'arn:aws:iam::1:user/${aws:username}'\n",
        );
        let bob = Context::new().with("aws:username", "bob");
        assert_eq!(outcome(&p, "iam:GetUser", "arn:aws:iam::1:user/bob", &bob), Outcome::Allowed);
        assert_eq!(outcome(&p, "iam:GetUser", "arn:aws:iam::1:user/eve", &bob), Outcome::ImplicitDeny);
        assert_eq!(outcome(&p, "iam:GetUser", "arn:aws:iam::1:user/bob", &Context::new()), Outcome::ImplicitDeny);
        // Version 2008-10-17 reads the same text literally.
        let old = policy(
            "Version: 2008-10-17\nStatement:\n- Effect: Allow\n  Action: iam:*\n  Resource: 'arn:aws:iam::1:user/${aws:username}'\n",
        );
        assert_eq!(outcome(&old, "iam:GetUser", "arn:aws:iam::1:user/bob", &bob), Outcome::ImplicitDeny);
    }

    /// IAM User Guide, "IAM policy elements: Variables and tags", "Policy variables with no
    /// value", its own example: "`aws:principaltag/Team` must be equal to
    /// `s3:ExistingObjectTag/Team` to allow access. Access is explicitly denied when
    /// `aws:principaltag/Team` is not set."
    #[test]
    fn a_negated_condition_on_a_variable_with_no_value_denies() {
        let p = policy(
            "Version: 2012-10-17\nStatement:\n- Effect: Allow\n  Action: s3:GetObject\n  Resource: '*'\n- Effect: Deny\n  Action: s3:GetObject\n  Resource: 'arn:aws:s3:::amzn-s3-demo-bucket/*'\n  Condition:\n    StringNotEquals:\n      s3:ExistingObjectTag/Team: '${aws:PrincipalTag/Team}'\n",
        );
        let object = "arn:aws:s3:::amzn-s3-demo-bucket/report";
        let untagged = Context::new().with("s3:ExistingObjectTag/Team", "red");
        assert_eq!(outcome(&p, "s3:GetObject", object, &untagged), Outcome::ExplicitDeny, "no principal tag");
        let red = untagged.clone().with("aws:PrincipalTag/Team", "red");
        assert_eq!(outcome(&p, "s3:GetObject", object, &red), Outcome::Allowed, "tags equal");
        let blue = untagged.with("aws:PrincipalTag/Team", "blue");
        assert_eq!(outcome(&p, "s3:GetObject", object, &blue), Outcome::ExplicitDeny, "tags differ");
    }

    /// IAM User Guide, "IAM JSON policy elements: Action": "The prefix and the action name are
    /// case insensitive."
    #[test]
    fn an_action_written_in_any_case_is_granted() {
        let p = policy(
            "Version: 2012-10-17\nStatement:\n- Effect: Allow\n  Action: [IAM:listaccesskeys, EC2:describevpcs]\n  Resource: '*'\n",
        );
        let c = Context::new();
        assert_eq!(outcome(&p, "iam:ListAccessKeys", "*", &c), Outcome::Allowed);
        assert_eq!(outcome(&p, "ec2:DescribeVpcs", "*", &c), Outcome::Allowed);
        assert_eq!(outcome(&p, "ec2:DescribeSubnets", "*", &c), Outcome::ImplicitDeny);
    }

    /// A decision that depends on a not-modelled key is undecided unless a Deny on known
    /// keys decides it; the keys read are those of the statements whose Action and Resource
    /// match.
    #[test]
    fn traced_decisions_name_what_they_depend_on() {
        let p = policy(
            "Version: 2012-10-17\nStatement:\n- Effect: Allow\n  Action: ec2:*\n  Resource: '*'\n  Condition:\n    StringEquals:\n      aws:userid: x\n- Effect: Deny\n  Action: ec2:DeleteVpc\n  Resource: '*'\n  Condition:\n    Bool:\n      aws:SecureTransport: 'false'\n- Effect: Allow\n  Action: iam:*\n  Resource: '*'\n  Condition:\n    StringEquals:\n      aws:username: bob\n",
        );
        let mut c = Context::new().with("aws:SecureTransport", "true");
        c.mark_unknown("aws:userid");
        let traced = |action: &str, c: &Context| {
            decide_traced(std::slice::from_ref(&p), &Request { action, resource: "*", context: c })
        };
        let t = traced("ec2:CreateVpc", &c);
        assert_eq!(t.undecided.iter().collect::<Vec<_>>(), ["aws:userid"]);
        assert_eq!(t.read.iter().collect::<Vec<_>>(), ["aws:userid"]);
        let t = traced("ec2:DeleteVpc", &c);
        assert_eq!(t.read.iter().collect::<Vec<_>>(), ["aws:securetransport", "aws:userid"]);
        assert!(!t.undecided.is_empty(), "no Deny applies on known keys");
        // A Deny that applies on known keys decides, whatever the unknown key.
        let plain = Context::new().with("aws:SecureTransport", "false");
        let mut denied = plain.clone();
        denied.mark_unknown("aws:userid");
        let t = traced("ec2:DeleteVpc", &denied);
        assert!(t.undecided.is_empty());
        assert_eq!(t.decision.outcome, Outcome::ExplicitDeny);
        // Absent (not unknown) keys are decided: username is absent for roles.
        let t = traced("iam:GetRole", &plain);
        assert!(t.undecided.is_empty());
        assert_eq!(t.decision.outcome, Outcome::ImplicitDeny);
    }

    proptest! {
        /// The combiner alone: any deny wins, else any allow, else implicit deny.
        #[test]
        fn combiner_laws(allows in proptest::collection::vec(0usize..5, 0..4), denies in proptest::collection::vec(0usize..5, 0..4)) {
            let ids = |v: &Vec<usize>| v.iter().map(|&s| StatementId { policy: 0, statement: s }).collect::<Vec<_>>();
            let d = combine(ids(&allows), ids(&denies));
            let want = if !denies.is_empty() { Outcome::ExplicitDeny } else if !allows.is_empty() { Outcome::Allowed } else { Outcome::ImplicitDeny };
            prop_assert_eq!(d.outcome, want);
            prop_assert_eq!(d.because.is_empty(), want == Outcome::ImplicitDeny);
        }
    }
}
