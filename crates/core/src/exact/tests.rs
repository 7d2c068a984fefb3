use super::*;
use crate::analysis::test_support::policies;
use crate::policy::wildcard::Flavour;
use proptest::prelude::*;

fn action(name: &str) -> ActionRef<'static> {
    Catalog::embedded().action(name).unwrap_or_else(|| panic!("{name} in the catalog"))
}

fn compare(name: &str, a: &str, b: &str) -> Comparison {
    let target = Target::default();
    let mut exact = Exact::new(Catalog::embedded(), &target);
    exact.compare(&[action(name)], &policies(a), &policies(b))
}

fn allows(p: &[Policy], w: &Witness) -> bool {
    decide(p, &Request { action: &w.action, resource: &w.resource, context: &w.context() }).outcome.is_allowed()
}

fn statement(action: &str, resource: &str) -> String {
    format!("- Effect: Allow\n  Action: {action}\n  Resource: '{resource}'\n")
}

const ASG: &str = "arn:*:autoscaling:*:*:autoScalingGroup:*:autoScalingGroupName/*";

#[test]
fn widening_a_segment_the_arn_format_fixes_is_proven_equal() {
    for widened in [
        "arn:*:*:*:*:autoScalingGroup:*:autoScalingGroupName/*",
        "arn:*:autoscaling:*:*:*:*:autoScalingGroupName/*",
        "arn:*:autoscaling:*:*:autoScalingGroup:*:*/*",
    ] {
        let got = compare(
            "autoscaling:UpdateAutoScalingGroup",
            &statement("autoscaling:UpdateAutoScalingGroup", ASG),
            &statement("autoscaling:UpdateAutoScalingGroup", widened),
        );
        let Comparison::Equal(compared) = got else { panic!("{widened}: {got:?}") };
        assert_eq!(compared.len(), 1);
        // Every ARN of the format matches both: one class.
        assert_eq!(compared[0].resource_cells, 1, "{compared:?}");
    }
}

#[test]
fn widened_name_patterns_differ_with_a_witness_only_the_wider_allows() {
    let secret = "arn:*:secretsmanager:*:*:secret:aws.cluster.x-k8s.io/*";
    let role = "arn:*:iam::*:role/*.cluster-api-provider-aws.sigs.k8s.io";
    let cases = [
        // A prefix without its trailing slash.
        ("secretsmanager:CreateSecret", secret, "arn:*:secretsmanager:*:*:secret:aws.cluster.x-k8s.io*"),
        // A dropped separator.
        ("iam:PassRole", role, "arn:*:iam::*:role/*cluster-api-provider-aws.sigs.k8s.io"),
        // A wildcard appended to a suffix.
        ("iam:PassRole", role, "arn:*:iam::*:role/*.cluster-api-provider-aws.sigs.k8s.io*"),
    ];
    for (name, original, widened) in cases {
        let (a, b) = (policies(&statement(name, original)), policies(&statement(name, widened)));
        let target = Target::default();
        let mut exact = Exact::new(Catalog::embedded(), &target);
        match exact.compare(&[action(name)], &a, &b) {
            Comparison::Differs { witness, first_allows } => {
                assert!(!first_allows, "{widened}: the wider allows it");
                assert!(allows(&b, &witness) && !allows(&a, &witness), "{witness:?}");
                assert!(witness.resource.starts_with("arn:aws:"), "the target's partition: {witness:?}");
            }
            other => panic!("{widened}: {other:?}"),
        }
    }
}

#[test]
fn the_service_linked_role_key_is_read_from_the_resource() {
    let slr = "\
- Effect: Allow
  Action: iam:CreateServiceLinkedRole
  Resource: 'arn:*:iam::*:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling*'
  Condition:
    StringLike:
      iam:AWSServiceName: autoscaling.amazonaws.com
";
    let without = "\
- Effect: Allow
  Action: iam:CreateServiceLinkedRole
  Resource: 'arn:*:iam::*:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling*'
";
    // The resource already pins the service: the condition changes nothing.
    let got = compare("iam:CreateServiceLinkedRole", slr, without);
    assert!(matches!(got, Comparison::Equal(_)), "{got:?}");
    // Widening the service's part of the path is caught by the condition.
    let widened = slr.replace("aws-service-role/autoscaling.amazonaws.com/", "aws-service-role/*/");
    assert!(matches!(compare("iam:CreateServiceLinkedRole", slr, &widened), Comparison::Equal(_)));
    // Widening the role name admits a suffix the original refuses.
    let named = slr.replace("AWSServiceRoleForAutoScaling*", "AWSServiceRoleForAutoScaling");
    let Comparison::Differs { witness, first_allows } = compare("iam:CreateServiceLinkedRole", &named, slr) else {
        panic!()
    };
    assert!(!first_allows);
    assert_eq!(
        witness.context.get("iam:awsservicename").map(Vec::as_slice),
        Some(&["autoscaling.amazonaws.com".to_string()][..])
    );
    assert!(witness.resource.contains("/AWSServiceRoleForAutoScaling"), "{witness:?}");
}

#[test]
fn a_condition_on_a_global_key_is_decided_over_its_values() {
    let plain = statement("ec2:CreateVolume", "*");
    let tls = format!("{plain}  Condition:\n    Bool:\n      aws:SecureTransport: 'true'\n");
    let Comparison::Differs { witness, first_allows } = compare("ec2:CreateVolume", &plain, &tls) else { panic!() };
    assert!(first_allows);
    assert_eq!(witness.context.get("aws:securetransport"), Some(&vec!["false".to_string()]), "{witness:?}");

    let region = "\
- Effect: Deny
  NotAction: [iam:*, sts:*]
  Resource: '*'
  Condition:
    StringNotEquals:
      aws:RequestedRegion: us-west-2
";
    let Comparison::Differs { witness, .. } = compare("ec2:CreateVolume", &plain, &format!("{plain}{region}")) else {
        panic!()
    };
    assert_ne!(witness.context.get("aws:requestedregion"), Some(&vec!["us-west-2".to_string()]));
}

#[test]
fn numeric_date_and_ip_bounds_are_decided_at_their_edges() {
    let base = statement("ec2:CreateVolume", "*");
    let cond = |op: &str, key: &str, value: &str| format!("{base}  Condition:\n    {op}:\n      {key}: '{value}'\n");
    let pairs = [
        (
            cond("NumericLessThan", "aws:MultiFactorAuthAge", "3600"),
            cond("NumericLessThanEquals", "aws:MultiFactorAuthAge", "3600"),
        ),
        (
            cond("DateLessThan", "aws:CurrentTime", "2027-01-01T00:00:00Z"),
            cond("DateLessThanEquals", "aws:CurrentTime", "2027-01-01T00:00:00Z"),
        ),
        (cond("IpAddress", "aws:SourceIp", "10.0.0.0/8"), cond("IpAddress", "aws:SourceIp", "10.0.0.0/9")),
    ];
    for (a, b) in &pairs {
        let Comparison::Differs { witness, first_allows } = compare("ec2:CreateVolume", a, b) else { panic!("{a}") };
        let (pa, pb) = (policies(a), policies(b));
        assert_eq!(allows(&pa, &witness), first_allows);
        assert_ne!(allows(&pa, &witness), allows(&pb, &witness));
    }
    // The same bound written twice is equal.
    let a = cond("IpAddress", "aws:SourceIp", "10.0.0.0/8");
    assert!(matches!(compare("ec2:CreateVolume", &a, &a.replace("10.0.0.0/8", "10.1.2.3/8")), Comparison::Equal(_)));
}

#[test]
fn multivalued_keys_range_over_sets_of_values() {
    let base = statement("ec2:CreateTags", "*");
    let any = format!("{base}  Condition:\n    ForAnyValue:StringEquals:\n      aws:TagKeys: [a, b]\n");
    let all = format!("{base}  Condition:\n    ForAllValues:StringEquals:\n      aws:TagKeys: [a, b]\n");
    let Comparison::Differs { witness, .. } = compare("ec2:CreateTags", &any, &all) else { panic!() };
    assert_ne!(allows(&policies(&any), &witness), allows(&policies(&all), &witness));
}

#[test]
fn a_service_key_the_action_does_not_take_is_absent() {
    // ec2:InstanceType is not a key of ec2:DescribeVpcs: the condition can never hold.
    let none = "- Effect: Deny\n  Action: ec2:DescribeVpcs\n  Resource: '*'\n";
    let cond = format!(
        "{}  Condition:\n    StringEquals:\n      ec2:InstanceType: t3.micro\n",
        statement("ec2:DescribeVpcs", "*")
    );
    let target = Target::default();
    let mut exact = Exact::new(Catalog::embedded(), &target);
    let found = exact.allowed_outside(&action("ec2:DescribeVpcs"), &policies(&cond), &[]).unwrap();
    assert_eq!(found, None);
    assert!(exact.allowed_outside(&action("ec2:DescribeVpcs"), &policies(none), &[]).unwrap().is_none());
}

#[test]
fn allowed_outside_a_scope_names_a_request_beyond_it() {
    let scope = [Pattern::new("arn:*:secretsmanager:*:*:secret:aws.cluster.x-k8s.io/*", Flavour::Arn, false)];
    let target = Target::default();
    let mut exact = Exact::new(Catalog::embedded(), &target);
    let tight =
        policies(&statement("secretsmanager:DeleteSecret", "arn:*:secretsmanager:*:*:secret:aws.cluster.x-k8s.io/*"));
    assert_eq!(exact.allowed_outside(&action("secretsmanager:DeleteSecret"), &tight, &scope).unwrap(), None);
    let wide =
        policies(&statement("secretsmanager:DeleteSecret", "arn:*:secretsmanager:*:*:secret:aws.cluster.x-k8s.io*"));
    let w = exact.allowed_outside(&action("secretsmanager:DeleteSecret"), &wide, &scope).unwrap().unwrap();
    assert!(allows(&wide, &w) && !scope[0].matches(&w.resource), "{w:?}");
}

#[test]
fn a_policy_variable_leaves_the_question_undecided() {
    let var = "- Effect: Allow\n  Action: iam:PassRole\n  Resource: 'arn:aws:iam::*:role/${aws:username}'\n";
    let got = compare("iam:PassRole", var, &statement("iam:PassRole", "*"));
    let Comparison::Undecided(u) = got else { panic!("{got:?}") };
    assert!(u.reason.contains("policy variable"), "{u:?}");
}

// Property tests: random policies of the fragment (globs over a small alphabet, string
// and numeric conditions, Allow and Deny).

fn glob() -> impl Strategy<Value = String> {
    proptest::collection::vec(prop_oneof![Just("a"), Just("b"), Just("/"), Just("*"), Just("?"), Just(".")], 0..5)
        .prop_map(|parts| parts.concat())
}

fn random_statement() -> impl Strategy<Value = String> {
    (any::<bool>(), glob(), proptest::option::of((0..3usize, glob())), proptest::option::of(0..20u32)).prop_map(
        |(deny, name, cond, age)| {
            let effect = if deny { "Deny" } else { "Allow" };
            let mut s = format!(
                "- Effect: {effect}\n  Action: secretsmanager:DeleteSecret\n  Resource: 'arn:*:secretsmanager:*:*:secret:{name}'\n"
            );
            if cond.is_some() || age.is_some() {
                s.push_str("  Condition:\n");
            }
            if let Some((op, value)) = cond {
                let op = ["StringLike", "StringNotLike", "StringEquals"][op];
                s.push_str(&format!("    {op}:\n      aws:ResourceTag/team: '{value}'\n"));
            }
            if let Some(n) = age {
                s.push_str(&format!("    NumericLessThan:\n      aws:MultiFactorAuthAge: '{n}'\n"));
            }
            s
        },
    )
}

fn random_request() -> impl Strategy<Value = (String, Option<String>, Option<u32>)> {
    ("[ab/.x]{1,6}", proptest::option::of("[ab/.x*]{0,4}"), proptest::option::of(0..25u32))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn witnesses_are_confirmed_and_equal_answers_survive_sampling(
        a in proptest::collection::vec(random_statement(), 1..3),
        b in proptest::collection::vec(random_statement(), 1..3),
        samples in proptest::collection::vec(random_request(), 200),
    ) {
        let (pa, pb) = (policies(&a.concat()), policies(&b.concat()));
        let target = Target::default();
        let mut exact = Exact::new(Catalog::embedded(), &target);
        match exact.compare(&[action("secretsmanager:DeleteSecret")], &pa, &pb) {
            Comparison::Differs { witness, first_allows } => {
                prop_assert_eq!(allows(&pa, &witness), first_allows);
                prop_assert_ne!(allows(&pa, &witness), allows(&pb, &witness));
            }
            Comparison::Equal(_) => {
                for (name, team, age) in samples {
                    let w = Witness {
                        action: "secretsmanager:DeleteSecret".into(),
                        resource: format!("arn:aws:secretsmanager:us-west-2:000000000000:secret:{name}-AbCdEf"),
                        context: team.map(|t| ("aws:resourcetag/team".to_string(), vec![t]))
                            .into_iter()
                            .chain(age.map(|n| ("aws:multifactorauthage".to_string(), vec![n.to_string()])))
                            .collect(),
                    };
                    prop_assert_eq!(allows(&pa, &w), allows(&pb, &w), "{:?}", w);
                }
            }
            Comparison::Undecided(u) => prop_assert!(false, "undecided: {:?}", u),
        }
    }
}

/// The assumption per ARN position (catalog/request-space.toml): each grammar holds the
/// values real requests carry (the seed's scenarios, AWS's documented forms) and refuses
/// what AWS refuses. A grammar that refused a real value could prove a false equivalence.
#[test]
fn each_placeholder_grammar_holds_real_values_and_refuses_forbidden_ones() {
    let facts = Facts::embedded();
    let cases: &[(&str, &str, &[&str], &[&str])] = &[
        ("", "Partition", &["aws", "aws-cn", "aws-us-gov", "aws-iso-b"], &["", "a:b", "AWS"]),
        ("", "Region", &["us-west-2", "eu-central-1", "us-gov-west-1", ""], &["us:west", "US-WEST-2"]),
        ("", "Account", &["000000000000", "123456789012", "aws", ""], &["12345", "1234567890123", "a:b"]),
        (
            "iam",
            "RoleName",
            &["nodes.cluster-api-provider-aws.sigs.k8s.io", "AWSServiceRoleForAutoScaling_dkp"],
            &["a/b", "a:b", ""],
        ),
        (
            "iam",
            "RoleNameWithPath",
            &[
                "dkp-bootstrapper-role",
                "team-a/pool-a.cluster-api-provider-aws.sigs.k8s.io",
                "capa:x/colon.cluster-api-provider-aws.sigs.k8s.io",
                "aws-service-role/spot.amazonaws.com/AWSServiceRoleForEC2Spot",
            ],
            &["", "a b"],
        ),
        ("autoscaling", "GroupFriendlyName", &["dkp-demo-md-0", "a group with spaces"], &["a:b", ""]),
        (
            "secretsmanager",
            "SecretId",
            &["aws.cluster.x-k8s.io/5f2c9b4e-8a1d-4c3f-9e7b-2d6a1f0c8e53-1-AbCdEf", "rds!db-1234-abcdef"],
            &["nosuffixatall", "a:b-AbCdEf"],
        ),
    ];
    for (service, name, good, bad) in cases {
        let p = facts.placeholder(service, name).unwrap_or_else(|| panic!("{service} {name}"));
        let lang = lang::Lang::new(&p.pattern).unwrap();
        for v in *good {
            assert!(lang.contains(v), "{name} must hold `{v}` ({})", p.source);
        }
        for v in *bad {
            assert!(!lang.contains(v), "{name} must refuse `{v}` ({})", p.source);
        }
    }
    // The link of CreateServiceLinkedRole: the service part of the path is the key's value.
    let link = facts.link("iam:CreateServiceLinkedRole").expect("the link");
    let key = lang::Lang::new(&link.key_pattern).unwrap();
    assert!(key.contains("elasticloadbalancing.amazonaws.com") && !key.contains("a/b"));
}
