//! `--target aws`: a real (sandbox) account. The pure parts live here — which account
//! may be touched, where each service answers, what a run costs, how denials and the
//! policy simulator are read, what a sweep deletes and in which order; the calls
//! themselves are made by `cli_aws.rs` and `run.rs`.

pub mod authz;
pub mod cost;
pub mod guard;
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

#[cfg(test)]
mod tests {
    use super::{accepts_dry_run, endpoint};

    #[test]
    fn dry_run_support_comes_from_the_ec2_model() {
        // The research notes: of the policy's EC2 actions only ModifySubnetAttribute and
        // ModifyVpcAttribute take no DryRun.
        assert!(accepts_dry_run("ec2", "RunInstances"));
        assert!(accepts_dry_run("ec2", "CreateVpc"));
        assert!(!accepts_dry_run("ec2", "ModifySubnetAttribute"));
        assert!(!accepts_dry_run("ec2", "ModifyVpcAttribute"));
        assert!(!accepts_dry_run("elasticloadbalancing", "CreateLoadBalancer"));
        assert!(!accepts_dry_run("ec2", "NoSuchOperation"));
    }

    #[test]
    fn fifty_of_the_seeds_fifty_two_ec2_actions_accept_dry_run() {
        let template = include_str!("../../scenarios/dkp-bootstrapper/template.yaml");
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
