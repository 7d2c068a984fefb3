//! Unit tests of the derivation, with plain-map directories.

use std::collections::BTreeMap;

use serde_json::Value;

use super::*;
use crate::catalog::Catalog;
use crate::template::render::Target;
use serde_json::json;

impl Derivation {
    /// The checks, asserting nothing was left unresolved.
    fn complete(self) -> Vec<Derived> {
        assert!(self.unresolved.is_empty(), "{:?}", self.unresolved);
        self.checks
    }
}

struct Fixed;
impl Directory for Fixed {
    fn instance_profile_role(&self, profile: &str) -> Option<String> {
        let name = profile.rsplit('/').next()?;
        Some(format!("arn:aws:iam::000000000000:role/{name}"))
    }
    fn launch_template(&self, id: &str, _: &str) -> Result<LaunchTemplateInfo, TemplateUnread> {
        Ok(LaunchTemplateInfo {
            id: id.into(),
            image_id: Some("ami-1".into()),
            key_name: None,
            security_group_ids: vec!["sg-1".into()],
            instance_profile: Some("nodes.x".into()),
            tag_specifications: vec![("instance".into(), vec![("Name".into(), "n".into())])],
        })
    }
    fn service_linked_role_exists(&self, s: &str) -> bool {
        s != "autoscaling.amazonaws.com"
    }
    fn auto_scaling_group_arn(&self, _: &str) -> Option<String> {
        None
    }
    fn association_resources(&self, _: &str) -> Vec<String> {
        Vec::new()
    }
    fn instance_group(&self, _: &str) -> Option<String> {
        None
    }
}

fn actions_resources(d: &[Derived]) -> Vec<(String, String)> {
    d.iter().map(|c| (c.action.clone(), c.resource.clone())).collect()
}

#[test]
fn create_subnet_names_the_vpc_and_tags() {
    let d = derive(
        Catalog::embedded(),
        "ec2",
        "CreateSubnet",
        &json!({"VpcId": "vpc-1", "CidrBlock": "10.0.0.0/20", "TagSpecifications": [{"ResourceType": "subnet", "Tags": [{"Key": "Name", "Value": "s"}]}]}),
        &Target::default(),
        &Fixed,
    )
    .complete();
    let ar = actions_resources(&d);
    assert!(ar.contains(&("ec2:CreateSubnet".into(), "arn:aws:ec2:us-west-2:000000000000:subnet/*".into())), "{ar:?}");
    assert!(ar.contains(&("ec2:CreateSubnet".into(), "arn:aws:ec2:us-west-2:000000000000:vpc/vpc-1".into())), "{ar:?}");
    let tags = d.iter().find(|c| c.action == "ec2:CreateTags").unwrap();
    assert_eq!(tags.context["ec2:CreateAction"], ["CreateSubnet"]);
    assert_eq!(tags.context["aws:TagKeys"], ["Name"]);
    assert!(tags.implicit);
}

#[test]
fn run_instances_passes_the_profile_role_and_checks_every_group() {
    let d = derive(
        Catalog::embedded(),
        "ec2",
        "RunInstances",
        &json!({"ImageId": "ami-1", "SubnetId": "subnet-1", "SecurityGroupIds": ["sg-1", "sg-2"], "KeyName": "k", "MinCount": 1, "MaxCount": 1, "IamInstanceProfile": {"Name": "nodes.x"}}),
        &Target::default(),
        &Fixed,
    )
    .complete();
    let ar = actions_resources(&d);
    for r in [
        "instance/*",
        "security-group/sg-1",
        "security-group/sg-2",
        "subnet/subnet-1",
        "network-interface/*",
        "volume/*",
        "key-pair/k",
    ] {
        assert!(
            ar.contains(&("ec2:RunInstances".into(), format!("arn:aws:ec2:us-west-2:000000000000:{r}"))),
            "{r}: {ar:?}"
        );
    }
    assert!(ar.contains(&("ec2:RunInstances".into(), "arn:aws:ec2:us-west-2::image/ami-1".into())));
    assert!(ar.contains(&("iam:PassRole".into(), "arn:aws:iam::000000000000:role/nodes.x".into())));
}

#[test]
fn implicit_checks_of_asg_elb_secret_and_slr() {
    let cat = Catalog::embedded();
    let t = Target::default();
    let asg = derive(cat, "autoscaling", "CreateAutoScalingGroup", &json!({"AutoScalingGroupName": "g", "LaunchTemplate": {"LaunchTemplateId": "lt-1"}, "VPCZoneIdentifier": "subnet-1,subnet-2", "MinSize": 1, "MaxSize": 1}), &t, &Fixed).complete();
    let ar = actions_resources(&asg);
    assert!(
        ar.contains(&(
            "autoscaling:CreateAutoScalingGroup".into(),
            "arn:aws:autoscaling:us-west-2:000000000000:autoScalingGroup:*:autoScalingGroupName/g".into()
        )),
        "{ar:?}"
    );
    assert!(ar.contains(&("ec2:RunInstances".into(), "arn:aws:ec2:us-west-2:000000000000:subnet/subnet-2".into())));
    assert!(ar.contains(&("iam:PassRole".into(), "arn:aws:iam::000000000000:role/nodes.x".into())));
    assert!(ar.iter().any(|(a, _)| a == "iam:CreateServiceLinkedRole"), "autoscaling SLR is missing in Fixed");
    let elb = derive(
        cat,
        "elasticloadbalancing",
        "CreateLoadBalancer",
        &json!({"LoadBalancerName": "lb", "Tags": [{"Key": "k", "Value": "v"}]}),
        &t,
        &Fixed,
    )
    .complete();
    assert!(actions_resources(&elb).contains(&(
        "elasticloadbalancing:AddTags".into(),
        "arn:aws:elasticloadbalancing:us-west-2:000000000000:loadbalancer/lb".into()
    )));
    assert!(!elb.iter().any(|c| c.action == "iam:CreateServiceLinkedRole"), "the ELB SLR exists in Fixed");
    let secret = derive(
        cat,
        "secretsmanager",
        "CreateSecret",
        &json!({"Name": "aws.cluster.x-k8s.io/a", "Tags": [{"Key": "k", "Value": "v"}]}),
        &t,
        &Fixed,
    )
    .complete();
    assert_eq!(
        actions_resources(&secret),
        [
            (
                "secretsmanager:CreateSecret".to_string(),
                "arn:aws:secretsmanager:us-west-2:000000000000:secret:aws.cluster.x-k8s.io/a-AbCdEf".to_string()
            ),
            (
                "secretsmanager:TagResource".to_string(),
                "arn:aws:secretsmanager:us-west-2:000000000000:secret:aws.cluster.x-k8s.io/a-AbCdEf".to_string()
            ),
        ]
    );
    let slr =
        derive(cat, "iam", "CreateServiceLinkedRole", &json!({"AWSServiceName": "spot.amazonaws.com"}), &t, &Fixed)
            .complete();
    assert_eq!(
        slr[0].resource,
        "arn:aws:iam::000000000000:role/aws-service-role/spot.amazonaws.com/AWSServiceRoleForEC2Spot"
    );
    assert_eq!(slr[0].context["iam:AWSServiceName"], ["spot.amazonaws.com"]);
}

#[test]
fn an_unresolved_profile_keeps_the_other_checks() {
    struct NoProfiles;
    impl Directory for NoProfiles {
        fn instance_profile_role(&self, _: &str) -> Option<String> {
            None
        }
        fn launch_template(&self, _: &str, _: &str) -> Result<LaunchTemplateInfo, TemplateUnread> {
            Err(TemplateUnread::NoSuchVersion)
        }
        fn service_linked_role_exists(&self, _: &str) -> bool {
            true
        }
        fn auto_scaling_group_arn(&self, _: &str) -> Option<String> {
            None
        }
        fn association_resources(&self, _: &str) -> Vec<String> {
            Vec::new()
        }
        fn instance_group(&self, _: &str) -> Option<String> {
            None
        }
    }
    let d = derive(
        Catalog::embedded(),
        "ec2",
        "RunInstances",
        &json!({"ImageId": "ami-1", "MinCount": 1, "MaxCount": 1, "IamInstanceProfile": {"Name": "ghost"}, "LaunchTemplate": {"LaunchTemplateId": "lt-9"}}),
        &Target::default(),
        &NoProfiles,
    );
    // What could be derived stays (the gate can still deny on it); what could not is named.
    assert!(d.checks.iter().any(|c| c.action == "ec2:RunInstances" && c.resource.ends_with(":instance/*")));
    assert_eq!(d.unresolved.len(), 2, "{:?}", d.unresolved);
    assert!(d.unresolved.iter().any(|u| u.contains("ghost")) && d.unresolved.iter().any(|u| u.contains("lt-9")));
}

/// What the gate answers for a request: its derived checks decided one by one against
/// the policy, as the proxy does (any denied check denies the call; an explicit deny
/// is reported over an implicit one).
fn gate_outcome(policy: &str, service: &str, operation: &str, input: &Value) -> crate::policy::Outcome {
    use crate::policy::{Context, Outcome, PolicyKind, Request, decide, parse_policy};
    let node = crate::template::yaml::parse(policy, &std::sync::Arc::from("p.yaml")).unwrap();
    let policies = [parse_policy("p", &node, PolicyKind::Identity).unwrap()];
    let checks = derive(Catalog::embedded(), service, operation, input, &Target::default(), &Fixed).complete();
    let outcomes: Vec<Outcome> = checks
        .iter()
        .map(|c| {
            let mut ctx = Context::new();
            c.context.iter().for_each(|(k, v)| ctx.insert(k, v.clone()));
            decide(&policies, &Request { action: &c.action, resource: &c.resource, context: &ctx }).outcome
        })
        .collect();
    [Outcome::ExplicitDeny, Outcome::ImplicitDeny]
        .into_iter()
        .find(|o| outcomes.contains(o))
        .unwrap_or(Outcome::Allowed)
}

fn create_vpc(tags: &[(&str, &str)]) -> Value {
    let tags: Vec<Value> = tags.iter().map(|(k, v)| json!({"Key": k, "Value": v})).collect();
    if tags.is_empty() {
        json!({"CidrBlock": "10.0.0.0/16"})
    } else {
        json!({"CidrBlock": "10.0.0.0/16", "TagSpecifications": [{"ResourceType": "vpc", "Tags": tags}]})
    }
}

#[test]
fn request_tag_conditions_on_a_create_action_are_enforced_by_the_gate() {
    use crate::policy::Outcome;
    let tag_on_create = "\n- Effect: Allow\n  Action: ec2:CreateTags\n  Resource: '*'\n  Condition:\n    StringEquals:\n      ec2:CreateAction: CreateVpc\n";
    // Allowed only with the tag owner=team-a (the EC2 User Guide's "require tags" form).
    let allow_only_tagged = format!(
        "Version: 2012-10-17\nStatement:\n- Effect: Allow\n  Action: ec2:CreateVpc\n  Resource: '*'\n  Condition:\n    StringEquals:\n      aws:RequestTag/owner: team-a{tag_on_create}"
    );
    assert_eq!(
        gate_outcome(&allow_only_tagged, "ec2", "CreateVpc", &create_vpc(&[("owner", "team-a")])),
        Outcome::Allowed
    );
    assert_eq!(gate_outcome(&allow_only_tagged, "ec2", "CreateVpc", &create_vpc(&[])), Outcome::ImplicitDeny);
    assert_eq!(
        gate_outcome(&allow_only_tagged, "ec2", "CreateVpc", &create_vpc(&[("owner", "team-b")])),
        Outcome::ImplicitDeny
    );
    // An explicit Deny on the create action when the tag is missing (Null) or has a
    // forbidden value: before the own check carried the request's tags, the first denied
    // every VPC (tagged or not) and the second none.
    let deny_untagged = format!(
        "Version: 2012-10-17\nStatement:\n- Effect: Allow\n  Action: ec2:CreateVpc\n  Resource: '*'\n- Effect: Deny\n  Action: ec2:CreateVpc\n  Resource: '*'\n  Condition:\n    'Null':\n      aws:RequestTag/owner: 'true'{tag_on_create}"
    );
    assert_eq!(gate_outcome(&deny_untagged, "ec2", "CreateVpc", &create_vpc(&[("owner", "team-a")])), Outcome::Allowed);
    assert_eq!(gate_outcome(&deny_untagged, "ec2", "CreateVpc", &create_vpc(&[])), Outcome::ExplicitDeny);
    assert_eq!(gate_outcome(&deny_untagged, "ec2", "CreateVpc", &create_vpc(&[("Name", "x")])), Outcome::ExplicitDeny);
    let deny_value = format!(
        "Version: 2012-10-17\nStatement:\n- Effect: Allow\n  Action: ec2:CreateVpc\n  Resource: '*'\n- Effect: Deny\n  Action: ec2:CreateVpc\n  Resource: arn:aws:ec2:*:*:vpc/*\n  Condition:\n    StringEquals:\n      aws:RequestTag/owner: intruder{tag_on_create}"
    );
    assert_eq!(
        gate_outcome(&deny_value, "ec2", "CreateVpc", &create_vpc(&[("owner", "intruder")])),
        Outcome::ExplicitDeny
    );
    assert_eq!(gate_outcome(&deny_value, "ec2", "CreateVpc", &create_vpc(&[("owner", "team-a")])), Outcome::Allowed);
    // aws:TagKeys too: only the keys listed may be set on create.
    let only_owner = format!(
        "Version: 2012-10-17\nStatement:\n- Effect: Allow\n  Action: ec2:CreateVpc\n  Resource: '*'\n- Effect: Deny\n  Action: ec2:CreateVpc\n  Resource: '*'\n  Condition:\n    ForAnyValue:StringNotEquals:\n      aws:TagKeys: owner{tag_on_create}"
    );
    assert_eq!(
        gate_outcome(&only_owner, "ec2", "CreateVpc", &create_vpc(&[("owner", "a"), ("Name", "n")])),
        Outcome::ExplicitDeny
    );
    assert_eq!(gate_outcome(&only_owner, "ec2", "CreateVpc", &create_vpc(&[("owner", "a")])), Outcome::Allowed);
}

#[test]
fn request_tags_go_on_the_create_check_of_the_type_they_tag() {
    let cat = Catalog::embedded();
    let t = Target::default();
    let ctx_of = |d: &[Derived], action: &str, suffix: &str| -> BTreeMap<String, Vec<String>> {
        d.iter()
            .find(|c| c.action == action && c.resource.ends_with(suffix))
            .unwrap_or_else(|| panic!("{action} on …{suffix}: {d:?}"))
            .context
            .clone()
    };
    // RunInstances: instance tags on instance/*, volume tags on volume/*; the network
    // interface, subnet and image the request does not tag carry no request tags.
    let run = derive(
        cat,
        "ec2",
        "RunInstances",
        &json!({"ImageId": "ami-1", "SubnetId": "subnet-1", "MinCount": 1, "MaxCount": 1, "TagSpecifications": [
            {"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": "i"}, {"Key": "role", "Value": "node"}]},
            {"ResourceType": "volume", "Tags": [{"Key": "Name", "Value": "v"}]}]}),
        &t,
        &Fixed,
    )
    .complete();
    let instance = ctx_of(&run, "ec2:RunInstances", ":instance/*");
    assert_eq!(instance["aws:RequestTag/Name"], ["i"]);
    assert_eq!(instance["aws:RequestTag/role"], ["node"]);
    assert_eq!(instance["aws:TagKeys"], ["Name", "role"]);
    let volume = ctx_of(&run, "ec2:RunInstances", ":volume/*");
    assert_eq!(volume["aws:RequestTag/Name"], ["v"]);
    assert_eq!(volume["aws:TagKeys"], ["Name"]);
    for untagged in [":network-interface/*", ":subnet/subnet-1", ":image/ami-1"] {
        assert!(ctx_of(&run, "ec2:RunInstances", untagged).is_empty(), "{untagged}");
    }
    // CreateSubnet: the subnet it creates carries the tags, the VPC it names does not.
    let subnet = derive(
        cat,
        "ec2",
        "CreateSubnet",
        &json!({"VpcId": "vpc-1", "CidrBlock": "10.0.0.0/20", "TagSpecifications": [{"ResourceType": "subnet", "Tags": [{"Key": "Name", "Value": "s"}]}]}),
        &t,
        &Fixed,
    )
    .complete();
    assert_eq!(ctx_of(&subnet, "ec2:CreateSubnet", ":subnet/*")["aws:RequestTag/Name"], ["s"]);
    assert!(ctx_of(&subnet, "ec2:CreateSubnet", ":vpc/vpc-1").is_empty());
    // Classic ELB, Auto Scaling and Secrets Manager list the keys on the action.
    let tags = json!([{"Key": "k", "Value": "v"}]);
    for (service, operation, input, suffix) in [
        (
            "elasticloadbalancing",
            "CreateLoadBalancer",
            json!({"LoadBalancerName": "lb", "Tags": tags}),
            ":loadbalancer/lb",
        ),
        (
            "autoscaling",
            "CreateAutoScalingGroup",
            json!({"AutoScalingGroupName": "g", "MinSize": 1, "MaxSize": 1, "Tags": [{"Key": "k", "Value": "v", "ResourceId": "g", "ResourceType": "auto-scaling-group", "PropagateAtLaunch": true}]}),
            "autoScalingGroupName/g",
        ),
        ("secretsmanager", "CreateSecret", json!({"Name": "s", "Tags": tags}), ":secret:s-AbCdEf"),
    ] {
        let d = derive(cat, service, operation, &input, &t, &Fixed).complete();
        let own = ctx_of(&d, &format!("{service}:{operation}"), suffix);
        assert_eq!(own["aws:RequestTag/k"], ["v"], "{operation}");
        assert_eq!(own["aws:TagKeys"], ["k"], "{operation}");
    }
    // Untagging calls keep only the keys they remove.
    let untag = derive(
        cat,
        "ec2",
        "DeleteTags",
        &json!({"Resources": ["vpc-1"], "Tags": [{"Key": "k", "Value": "v"}]}),
        &t,
        &Fixed,
    )
    .complete();
    assert_eq!(untag[0].context, BTreeMap::from([("aws:TagKeys".to_string(), vec!["k".to_string()])]));
    // No tags, no keys.
    let bare = derive(cat, "ec2", "CreateVpc", &create_vpc(&[]), &t, &Fixed).complete();
    assert!(bare[0].context.is_empty(), "{bare:?}");
}

#[test]
fn actions_without_resource_types_are_star() {
    let d = derive(Catalog::embedded(), "ec2", "DescribeVpcs", &json!({}), &Target::default(), &Fixed).complete();
    assert_eq!(actions_resources(&d), [("ec2:DescribeVpcs".to_string(), "*".to_string())]);
}

#[test]
fn the_tagging_api_needs_each_owning_services_own_permission() {
    let cat = Catalog::embedded();
    let t = Target::default();
    let vpc = "arn:aws:ec2:us-west-2:000000000000:vpc/vpc-1";
    let secret = "arn:aws:secretsmanager:us-west-2:000000000000:secret:s-AbCdEf";
    let arns = json!([vpc, secret, "arn:aws:s3:::bucket"]);
    let tag = derive(cat, "tag", "TagResources", &json!({"ResourceARNList": arns, "Tags": {"k": "v"}}), &t, &Fixed);
    let implied: Vec<(String, String)> =
        tag.checks.iter().filter(|c| c.implicit).map(|c| (c.action.clone(), c.resource.clone())).collect();
    assert_eq!(
        implied,
        [
            ("ec2:CreateTags".to_string(), vpc.to_string()),
            ("secretsmanager:TagResource".to_string(), secret.to_string())
        ]
    );
    assert!(tag.checks.iter().filter(|c| c.implicit).all(|c| c.context["aws:RequestTag/k"] == ["v"]));
    assert_eq!(
        tag.unresolved,
        ["tagging a `s3` resource needs that service's own permission, which the gate does not model"]
    );
    let untag = derive(cat, "tag", "UntagResources", &json!({"ResourceARNList": arns, "TagKeys": ["k"]}), &t, &Fixed);
    let implied: Vec<&str> = untag.checks.iter().filter(|c| c.implicit).map(|c| c.action.as_str()).collect();
    assert_eq!(implied, ["ec2:DeleteTags", "secretsmanager:UntagResource"]);
    assert!(untag.checks.iter().filter(|c| c.implicit).all(|c| c.context["aws:TagKeys"] == ["k"]));
    assert!(untag.unresolved[0].starts_with("untagging a `s3` resource"), "{:?}", untag.unresolved);
}
