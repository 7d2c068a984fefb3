//! `--target aws`: a real (sandbox) account. The pure parts live here — which account
//! may be touched, where each service answers, what a run costs, how denials and the
//! policy simulator are read, what a sweep deletes and in which order; the calls
//! themselves are made by `cli_aws.rs` and `run.rs`.

pub mod authz;
pub mod cost;
pub use crate::errors;
pub mod guard;
pub mod kinds;
pub mod retry;
pub mod sweep;

/// The HTTPS endpoint of `service` in `region` (the `aws` partition). IAM answers on one
/// global endpoint; every other service used here is regional.
pub fn endpoint(service: &str, region: &str) -> String {
    match service {
        "iam" => "https://iam.amazonaws.com/".to_string(),
        // The Resource Groups Tagging API's host is `tagging`, its action prefix `tag`.
        "tag" => format!("https://tagging.{region}.amazonaws.com/"),
        other => format!("https://{other}.{region}.amazonaws.com/"),
    }
}

/// Whether a call accepts EC2's `DryRun` flag (AWS then checks authorization and answers
/// `DryRunOperation` or `UnauthorizedOperation` without doing anything). Read from the
/// botocore model: only EC2 operations whose input has a `DryRun` member.
pub fn accepts_dry_run(service: &str, operation: &str) -> bool {
    service == "ec2" && crate::wire::models().service("ec2").is_some_and(|m| m.input_has_member(operation, "DryRun"))
}

/// What a successful create call made that is known by name or by an ARN in its answer
/// rather than by an EC2 id (those come from the scenario's `produces`): a load balancer,
/// Auto Scaling group, IAM role or instance profile (its name, from the input), a secret
/// (its ARN), a service-linked role (its ARN). The run tags these too, so teardown and
/// `sweep` find them.
pub fn created_named(
    service: &str,
    operation: &str,
    input: &serde_json::Value,
    body: &str,
) -> Vec<(sweep::Kind, String)> {
    let field = |name: &str| input.get(name).and_then(|v| v.as_str()).map(str::to_string);
    let answered = |body: &str, pointer: &str| crate::wire::answer_text(service, operation, body, pointer);
    let made = match (service, operation) {
        ("elasticloadbalancing", "CreateLoadBalancer") => {
            field("LoadBalancerName").map(|n| (sweep::Kind::LoadBalancer, n))
        }
        ("autoscaling", "CreateAutoScalingGroup") => {
            field("AutoScalingGroupName").map(|n| (sweep::Kind::AutoScalingGroup, n))
        }
        ("secretsmanager", "CreateSecret") => answered(body, "/ARN").map(|arn| (sweep::Kind::Secret, arn)),
        ("iam", "CreateRole") => field("RoleName").map(|n| (sweep::Kind::Role, n)),
        ("iam", "CreateInstanceProfile") => field("InstanceProfileName").map(|n| (sweep::Kind::InstanceProfile, n)),
        ("iam", "CreateServiceLinkedRole") => {
            answered(body, "/Role/Arn").map(|arn| (sweep::Kind::ServiceLinkedRole, arn))
        }
        _ => None,
    };
    made.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::{accepts_dry_run, created_named, endpoint, sweep::Kind};
    use serde_json::json;

    #[test]
    fn creations_known_by_name_or_arn_are_found() {
        let cases = [
            (
                "elasticloadbalancing",
                "CreateLoadBalancer",
                json!({"LoadBalancerName": "dkp-apiserver"}),
                "",
                Some((Kind::LoadBalancer, "dkp-apiserver")),
            ),
            (
                "autoscaling",
                "CreateAutoScalingGroup",
                json!({"AutoScalingGroupName": "md-0"}),
                "",
                Some((Kind::AutoScalingGroup, "md-0")),
            ),
            (
                "secretsmanager",
                "CreateSecret",
                json!({"Name": "aws.cluster.x-k8s.io/a"}),
                r#"{"ARN":"arn:aws:secretsmanager:us-west-2:123456789012:secret:aws.cluster.x-k8s.io/a-AbCdEf","Name":"aws.cluster.x-k8s.io/a"}"#,
                Some((
                    Kind::Secret,
                    "arn:aws:secretsmanager:us-west-2:123456789012:secret:aws.cluster.x-k8s.io/a-AbCdEf",
                )),
            ),
            (
                "iam",
                "CreateServiceLinkedRole",
                json!({"AWSServiceName": "autoscaling.amazonaws.com"}),
                "<CreateServiceLinkedRoleResponse><CreateServiceLinkedRoleResult><Role><Arn>arn:aws:iam::123456789012:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling</Arn></Role></CreateServiceLinkedRoleResult></CreateServiceLinkedRoleResponse>",
                Some((
                    Kind::ServiceLinkedRole,
                    "arn:aws:iam::123456789012:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling",
                )),
            ),
            (
                "iam",
                "CreateRole",
                json!({"RoleName": "nodes.cluster-api-provider-aws.sigs.k8s.io", "Path": "/team-a/",
                       "AssumeRolePolicyDocument": "{}"}),
                // The fixture's answer is not read: the name comes from the input.
                "",
                Some((Kind::Role, "nodes.cluster-api-provider-aws.sigs.k8s.io")),
            ),
            (
                "iam",
                "CreateInstanceProfile",
                json!({"InstanceProfileName": "pool-a.cluster-api-provider-aws.sigs.k8s.io", "Path": "/team-a/"}),
                "<CreateInstanceProfileResponse><CreateInstanceProfileResult><InstanceProfile><Arn>arn:aws:iam::123456789012:instance-profile/team-a/pool-a.cluster-api-provider-aws.sigs.k8s.io</Arn></InstanceProfile></CreateInstanceProfileResult></CreateInstanceProfileResponse>",
                Some((Kind::InstanceProfile, "pool-a.cluster-api-provider-aws.sigs.k8s.io")),
            ),
            // Without the name (a malformed input), nothing is known to tag.
            ("iam", "CreateRole", json!({"AssumeRolePolicyDocument": "{}"}), "", None),
            ("iam", "AddRoleToInstanceProfile", json!({"InstanceProfileName": "p", "RoleName": "r"}), "", None),
            ("ec2", "CreateVpc", json!({}), "<vpcId>vpc-1</vpcId>", None),
            ("secretsmanager", "CreateSecret", json!({}), "not json", None),
        ];
        for (service, operation, input, body, expected) in cases {
            let got = created_named(service, operation, &input, body);
            let expected: Vec<(Kind, String)> = expected.into_iter().map(|(k, id)| (k, id.to_string())).collect();
            assert_eq!(got, expected, "{service}:{operation}");
        }
    }

    #[test]
    fn dry_run_support_comes_from_the_ec2_model() {
        // docs/aws-facts.md, "Denial shapes per protocol" (EC2 DryRun): of the policy's EC2
        // actions only ModifySubnetAttribute and ModifyVpcAttribute take no DryRun.
        assert!(accepts_dry_run("ec2", "RunInstances"));
        assert!(accepts_dry_run("ec2", "CreateVpc"));
        assert!(!accepts_dry_run("ec2", "ModifySubnetAttribute"));
        assert!(!accepts_dry_run("ec2", "ModifyVpcAttribute"));
        assert!(!accepts_dry_run("elasticloadbalancing", "CreateLoadBalancer"));
        assert!(!accepts_dry_run("ec2", "NoSuchOperation"));
    }

    #[test]
    fn fifty_of_the_seeds_fifty_two_ec2_actions_accept_dry_run() {
        let template = include_str!("../../../../scenarios/dkp-bootstrapper/template.yaml");
        let mut actions: Vec<&str> =
            template.lines().filter_map(|l| l.trim().strip_prefix("- ec2:")).map(str::trim).collect();
        actions.sort_unstable();
        actions.dedup();
        let without: Vec<&str> = actions.iter().copied().filter(|a| !accepts_dry_run("ec2", a)).collect();
        assert_eq!(actions.len(), 52);
        assert_eq!(without, ["ModifySubnetAttribute", "ModifyVpcAttribute"]);
    }

    #[test]
    fn endpoints_follow_the_aws_partition_naming() {
        assert_eq!(endpoint("ec2", "us-west-2"), "https://ec2.us-west-2.amazonaws.com/");
        assert_eq!(endpoint("iam", "eu-west-1"), "https://iam.amazonaws.com/");
        assert_eq!(endpoint("tag", "us-east-1"), "https://tagging.us-east-1.amazonaws.com/");
        assert_eq!(
            endpoint("elasticloadbalancing", "ap-south-1"),
            "https://elasticloadbalancing.ap-south-1.amazonaws.com/"
        );
    }
}
