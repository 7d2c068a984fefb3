//! The model's facts, each against its page.

use std::collections::BTreeSet;

use super::*;
use crate::catalog::Catalog;
use crate::policy::Context;

fn model() -> Model {
    Model::statically(&Target::default()).with_principal(Principal::harness_session(
        "arn:aws:iam::000000000000:role/dkp-bootstrapper-role",
        Some(vec![("team".into(), "platform".into())]),
        STATIC_INSTANT,
    ))
}

fn value(m: &Model, key: &str, service: &str, action: &str, resource: &str) -> Value {
    let declared = Context::new();
    let site = Site { service, action, resource, declared: &declared, input: None };
    m.resolve(key, &site, Catalog::embedded(), &NoWorld).value
}

fn provided(v: &[&str]) -> Value {
    Value::Provided(v.iter().map(|s| s.to_string()).collect())
}

/// IAM User Guide, "AWS global condition context keys", for a role session calling EC2.
#[test]
fn a_role_session_calling_directly() {
    let m = model();
    let at = |key: &str| value(&m, key, "ec2", "ec2:CreateVpc", "arn:aws:ec2:us-west-2:000000000000:vpc/*");
    // "For IAM roles, the request context returns the ARN of the role".
    assert_eq!(at("aws:PrincipalArn"), provided(&["arn:aws:iam::000000000000:role/dkp-bootstrapper-role"]));
    assert_eq!(at("aws:principalaccount"), provided(&["000000000000"]));
    assert_eq!(at("aws:PrincipalType"), provided(&["AssumedRole"]));
    // The role id is assigned at creation: not known statically.
    assert_eq!(at("aws:userid"), Value::NotModelled);
    // "requests that are made using ... IAM roles do not include this key"
    assert_eq!(at("aws:username"), Value::Absent);
    assert_eq!(at("aws:PrincipalTag/team"), provided(&["platform"]));
    assert_eq!(at("aws:PrincipalTag/other"), Value::Absent);
    assert_eq!(at("aws:RequestedRegion"), provided(&["us-west-2"]));
    assert_eq!(at("aws:SecureTransport"), provided(&["true"]));
    assert_eq!(at("aws:CurrentTime"), provided(&["2026-12-01T12:00:00Z"]));
    assert_eq!(at("aws:EpochTime"), provided(&["1796126400"]));
    assert_eq!(at("aws:TokenIssueTime"), provided(&["2026-12-01T12:00:00Z"]));
    // Temporary credentials: present, false without MFA; the age only with MFA.
    assert_eq!(at("aws:MultiFactorAuthPresent"), provided(&["false"]));
    assert_eq!(at("aws:MultiFactorAuthAge"), Value::Absent);
    assert_eq!(at("aws:SourceIp"), provided(&[DEFAULT_SOURCE_IP]));
    assert_eq!(at("aws:ViaAWSService"), provided(&["false"]));
    assert_eq!(at("aws:CalledVia"), Value::Absent);
    assert_eq!(at("aws:SourceVpce"), Value::Absent);
    assert_eq!(at("aws:ResourceAccount"), provided(&["000000000000"]));
    assert_eq!(at("aws:PrincipalOrgID"), Value::NotModelled);
    assert_eq!(at("aws:UserAgent"), Value::NotModelled);
    assert_eq!(at("ec2:Region"), provided(&["us-west-2"]));
    // A key the SAR does not list for the action is not in its context.
    assert_eq!(at("iam:AWSServiceName"), Value::Absent);
    assert_eq!(at("ec2:InstanceType"), Value::Absent, "CreateVpc takes no ec2:InstanceType");
    // Listed but not modelled.
    assert_eq!(
        value(&m, "ec2:InstanceType", "ec2", "ec2:RunInstances", "arn:aws:ec2:us-west-2:000000000000:instance/*"),
        Value::NotModelled
    );
}

/// "IAM calls are always made to the us-east-1 Region"; EC2's ResourceAccount exceptions.
#[test]
fn global_services_and_exceptions() {
    let m = model();
    assert_eq!(
        value(&m, "aws:RequestedRegion", "iam", "iam:CreateServiceLinkedRole", "arn:aws:iam::000000000000:role/x"),
        provided(&["us-east-1"])
    );
    // An implicit check inside an EC2 call is made in that call's region.
    assert_eq!(
        value(&m, "aws:RequestedRegion", "ec2", "iam:PassRole", "arn:aws:iam::000000000000:role/x"),
        provided(&["us-west-2"])
    );
    assert_eq!(
        value(&m, "aws:ResourceAccount", "ec2", "ec2:CreateVolume", "arn:aws:ec2:us-west-2:000000000000:volume/*"),
        Value::Absent
    );
    assert_eq!(
        value(&m, "aws:ResourceAccount", "ec2", "ec2:RunInstances", "arn:aws:ec2:us-west-2::image/ami-1"),
        Value::NotModelled
    );
    // Without a principal, every principal key is not modelled.
    let anonymous = Model::statically(&Target::default());
    assert_eq!(value(&anonymous, "aws:PrincipalArn", "ec2", "ec2:CreateVpc", "*"), Value::NotModelled);
}

#[test]
fn resource_tags_come_from_the_world_or_the_request() {
    let m = model();
    let mut world = world::Snapshot::default();
    world.apply(
        "ec2",
        "RunInstances",
        &serde_json::json!({"TagSpecifications": [{"ResourceType": "instance", "Tags": [{"Key": "role", "Value": "node"}]}]}),
        &[("i-1".to_string(), "instanceId".to_string())].into_iter().collect(),
    );
    let declared = Context::new();
    let site = |resource: &'static str| Site {
        service: "ec2",
        action: "ec2:TerminateInstances",
        resource,
        declared: &declared,
        input: None,
    };
    let arn = "arn:aws:ec2:us-west-2:000000000000:instance/i-1";
    let get = |w: &world::Snapshot, k: &str, r| m.resolve(k, &site(r), Catalog::embedded(), w).value;
    assert_eq!(get(&world, "ec2:ResourceTag/role", arn), provided(&["node"]));
    assert_eq!(get(&world, "aws:ResourceTag/Role", arn), provided(&["node"]), "tag keys are not case-sensitive");
    assert_eq!(get(&world, "ec2:ResourceTag/other", arn), Value::Absent);
    assert_eq!(
        get(&world, "ec2:ResourceTag/role", "arn:aws:ec2:us-west-2:000000000000:instance/i-2"),
        Value::NotModelled
    );
    world.apply(
        "ec2",
        "DeleteTags",
        &serde_json::json!({"Resources": ["i-1"], "Tags": [{"Key": "role"}]}),
        &Default::default(),
    );
    assert_eq!(get(&world, "ec2:ResourceTag/role", arn), Value::Absent);
    // On a resource being created, the request's tags.
    let mut tagged = Context::new();
    tagged.insert("aws:RequestTag/role", vec!["node".into()]);
    let site = Site {
        service: "ec2",
        action: "ec2:RunInstances",
        resource: "arn:aws:ec2:us-west-2:000000000000:instance/*",
        declared: &tagged,
        input: None,
    };
    assert_eq!(m.resolve("aws:ResourceTag/role", &site, Catalog::embedded(), &NoWorld).value, provided(&["node"]));
}

#[test]
fn completing_a_context_keeps_what_the_check_states() {
    let m = model();
    let mut ctx = Context::new();
    ctx.insert("aws:RequestedRegion", vec!["eu-west-1".into()]);
    let needed: BTreeSet<String> = ["aws:requestedregion", "aws:principalarn", "aws:userid", "aws:username"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let at = At { service: "ec2", action: "ec2:CreateVpc", resource: "*", input: None };
    m.complete(&mut ctx, at, &needed, Catalog::embedded(), &NoWorld);
    assert_eq!(ctx.get("aws:requestedregion").unwrap(), ["eu-west-1"], "declared wins");
    assert_eq!(ctx.get("aws:principalarn").unwrap(), ["arn:aws:iam::000000000000:role/dkp-bootstrapper-role"]);
    assert!(ctx.is_unknown("aws:userid"));
    assert!(ctx.get("aws:username").is_none() && !ctx.is_unknown("aws:username"));
}

#[test]
fn variants_change_only_what_they_say() {
    let m = model();
    assert_eq!(m.variant(Variant::OtherRegion).region, "eu-central-1");
    assert!(!m.variant(Variant::NoTls).secure_transport);
    let other = m.variant(Variant::OtherPrincipal).principal.unwrap();
    assert_ne!(other.account, "000000000000");
    let needed: BTreeSet<String> = ["aws:securetransport".to_string(), "iam:awsservicename".to_string()].into();
    assert_eq!(Variant::relevant(&needed), [Variant::NoTls]);
    assert!(Variant::relevant(&["iam:awsservicename".to_string()].into()).is_empty());
}

#[test]
fn iso_times() {
    assert_eq!(iso8601(0), "1970-01-01T00:00:00Z");
    assert_eq!(iso8601(STATIC_INSTANT), "2026-12-01T12:00:00Z");
}

#[test]
fn keys_of_the_requests_own_parameters_come_from_its_input() {
    let m = Model::statically(&Target::default());
    let declared = Context::new();
    let input = serde_json::json!({
        "InstanceType": "t3.large",
        "SubnetId": "subnet-1",
        "IamInstanceProfile": {"Arn": "arn:aws:iam::000000000000:instance-profile/nodes"},
    });
    let at = |action: &'static str, resource: &'static str| Site {
        service: "ec2",
        action,
        resource,
        declared: &declared,
        input: Some(&input),
    };
    let instance = at("ec2:RunInstances", "arn:aws:ec2:us-west-2:000000000000:instance/*");
    let got = |key: &str, site: &Site<'_>| m.resolve(key, site, Catalog::embedded(), &NoWorld);
    assert_eq!(got("ec2:InstanceType", &instance).value, provided(&["t3.large"]));
    assert!(got("ec2:InstanceType", &instance).source.contains("Service Authorization Reference"));
    assert_eq!(
        got("ec2:InstanceProfile", &instance).value,
        provided(&["arn:aws:iam::000000000000:instance-profile/nodes"])
    );
    let eni = at("ec2:RunInstances", "arn:aws:ec2:us-west-2:000000000000:network-interface/*");
    assert_eq!(got("ec2:Subnet", &eni).value, provided(&["arn:aws:ec2:us-west-2:000000000000:subnet/subnet-1"]));
    // Without the member AWS may fill the key from a default: not modelled, never guessed.
    assert_eq!(got("ec2:Tenancy", &instance).value, Value::NotModelled);
    // On another resource type the row does not apply.
    let volume = at("ec2:RunInstances", "arn:aws:ec2:us-west-2:000000000000:volume/*");
    assert_eq!(got("ec2:InstanceType", &volume).value, Value::NotModelled);
}

/// A classic load balancer's and an Auto Scaling group's tags, by name in their ARNs, as
/// their create and tagging calls leave them (world.rs `apply_named`).
#[test]
fn load_balancer_and_group_tags_follow_their_calls() {
    let m = model();
    let mut world = world::Snapshot::default();
    let none = Default::default();
    let tags = serde_json::json!([{"Key": "owner", "Value": "capa"}]);
    world.apply(
        "elasticloadbalancing",
        "CreateLoadBalancer",
        &serde_json::json!({"LoadBalancerName": "lb", "Tags": tags}),
        &none,
    );
    world.apply(
        "autoscaling",
        "CreateAutoScalingGroup",
        &serde_json::json!({"AutoScalingGroupName": "g", "Tags": [{"ResourceId": "g", "Key": "owner", "Value": "capa"}]}),
        &none,
    );
    let declared = Context::new();
    let get = |w: &world::Snapshot, service: &'static str, action: &'static str, resource: &'static str| {
        let site = Site { service, action, resource, declared: &declared, input: None };
        m.resolve("aws:ResourceTag/owner", &site, Catalog::embedded(), w).value
    };
    let lb = "arn:aws:elasticloadbalancing:us-west-2:000000000000:loadbalancer/lb";
    let group = "arn:aws:autoscaling:us-west-2:000000000000:autoScalingGroup:1-2:autoScalingGroupName/g";
    let delete_lb = ("elasticloadbalancing", "elasticloadbalancing:DeleteLoadBalancer");
    let delete_group = ("autoscaling", "autoscaling:DeleteAutoScalingGroup");
    assert_eq!(get(&world, delete_lb.0, delete_lb.1, lb), provided(&["capa"]));
    assert_eq!(get(&world, delete_group.0, delete_group.1, group), provided(&["capa"]));
    // Another balancer, and ELBv2's ARN shape, are not known.
    let other = "arn:aws:elasticloadbalancing:us-west-2:000000000000:loadbalancer/other";
    assert_eq!(get(&world, delete_lb.0, delete_lb.1, other), Value::NotModelled);
    let v2 = "arn:aws:elasticloadbalancing:us-west-2:000000000000:loadbalancer/app/lb/1";
    assert_eq!(get(&world, delete_lb.0, delete_lb.1, v2), Value::NotModelled);
    // Tags changed and removed, then the resources deleted.
    world.apply(
        "elasticloadbalancing",
        "AddTags",
        &serde_json::json!({"LoadBalancerNames": ["lb"], "Tags": [{"Key": "owner", "Value": "other"}]}),
        &none,
    );
    assert_eq!(get(&world, delete_lb.0, delete_lb.1, lb), provided(&["other"]));
    world.apply(
        "elasticloadbalancing",
        "RemoveTags",
        &serde_json::json!({"LoadBalancerNames": ["lb"], "Tags": [{"Key": "owner"}]}),
        &none,
    );
    assert_eq!(get(&world, delete_lb.0, delete_lb.1, lb), Value::Absent);
    world.apply(
        "autoscaling",
        "DeleteTags",
        &serde_json::json!({"Tags": [{"ResourceId": "g", "Key": "owner"}]}),
        &none,
    );
    assert_eq!(get(&world, delete_group.0, delete_group.1, group), Value::Absent);
    world.apply("elasticloadbalancing", "DeleteLoadBalancer", &serde_json::json!({"LoadBalancerName": "lb"}), &none);
    world.apply("autoscaling", "DeleteAutoScalingGroup", &serde_json::json!({"AutoScalingGroupName": "g"}), &none);
    assert_eq!(get(&world, delete_lb.0, delete_lb.1, lb), Value::NotModelled);
    assert_eq!(get(&world, delete_group.0, delete_group.1, group), Value::NotModelled);

    // A secret, by the name before its ARN's six random characters; named by name or ARN.
    let secret = "arn:aws:secretsmanager:us-west-2:000000000000:secret:a/b-AbCdEf";
    let delete_secret = ("secretsmanager", "secretsmanager:DeleteSecret");
    world.apply("secretsmanager", "CreateSecret", &serde_json::json!({"Name": "a/b", "Tags": tags}), &none);
    assert_eq!(get(&world, delete_secret.0, delete_secret.1, secret), provided(&["capa"]));
    let site = Site {
        service: "secretsmanager",
        action: "secretsmanager:DeleteSecret",
        resource: secret,
        declared: &declared,
        input: None,
    };
    let service_key = m.resolve("secretsmanager:ResourceTag/owner", &site, Catalog::embedded(), &world).value;
    assert_eq!(service_key, provided(&["capa"]), "the SAR spells this one `secretsmanager:ResourceTag/tag-key`");
    world.apply(
        "secretsmanager",
        "UntagResource",
        &serde_json::json!({"SecretId": secret, "TagKeys": ["owner"]}),
        &none,
    );
    assert_eq!(get(&world, delete_secret.0, delete_secret.1, secret), Value::Absent);
    world.apply(
        "secretsmanager",
        "TagResource",
        &serde_json::json!({"SecretId": "a/b", "Tags": [{"Key": "owner", "Value": "x"}]}),
        &none,
    );
    assert_eq!(get(&world, delete_secret.0, delete_secret.1, secret), provided(&["x"]));
    world.apply("secretsmanager", "DeleteSecret", &serde_json::json!({"SecretId": "a/b"}), &none);
    assert_eq!(get(&world, delete_secret.0, delete_secret.1, secret), Value::NotModelled);
    let named = |arn: &str| world::NamedResource::of_arn(arn);
    assert_eq!(named(secret), Some(world::NamedResource::Secret("a/b".into())));
    assert_eq!(named("arn:aws:secretsmanager:us-west-2:000000000000:secret:short"), None);

    // An IAM role, by its name whatever its path (a PassRole's resource).
    let role = "arn:aws:iam::000000000000:role/team-a/nodes";
    let pass = ("ec2", "iam:PassRole");
    world.apply(
        "iam",
        "CreateRole",
        &serde_json::json!({"RoleName": "nodes", "Path": "/team-a/", "Tags": tags}),
        &none,
    );
    assert_eq!(get(&world, pass.0, pass.1, role), provided(&["capa"]));
    world.apply("iam", "UntagRole", &serde_json::json!({"RoleName": "nodes", "TagKeys": ["owner"]}), &none);
    assert_eq!(get(&world, pass.0, pass.1, role), Value::Absent);
    world.apply(
        "iam",
        "TagRole",
        &serde_json::json!({"RoleName": "nodes", "Tags": [{"Key": "owner", "Value": "y"}]}),
        &none,
    );
    assert_eq!(get(&world, pass.0, pass.1, role), provided(&["y"]));
    world.apply("iam", "DeleteRole", &serde_json::json!({"RoleName": "nodes"}), &none);
    assert_eq!(get(&world, pass.0, pass.1, role), Value::NotModelled);
}
