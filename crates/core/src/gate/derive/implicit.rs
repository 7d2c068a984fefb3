//! The checks AWS makes on top of an operation's own action: iam:PassRole for a role the
//! call hands to a service, ec2:RunInstances (and what a launch template implies) for a
//! group that launches instances, each service's tagging action for tags on create, and
//! iam:CreateServiceLinkedRole while a service's linked role is missing
//! (docs/aws-facts.md, "Implicit authorization checks").

use std::collections::BTreeMap;

use serde_json::Value;

use super::resources::collect_strings;
use super::tags::{create_tags, tag_context, tagging_api, tags_of};
use super::{Call, Derivation, Derived, Directory, SERVICE_LINKED_ROLES, check, str_of};

/// The implicit checks of one call, by the operation called.
pub(super) fn checks(call: &Call<'_>) -> Derivation {
    let mut out = Derivation::default();
    match (call.service, call.operation) {
        ("ec2", "RunInstances") => run_instances(call, &mut out),
        ("autoscaling", "CreateLaunchConfiguration") => {
            // A launch configuration with a profile passes its role, as a launch does.
            if let Some(profile) = str_of(call.input, "IamInstanceProfile") {
                push_pass_role(call.dir, profile, &mut out);
            }
        }
        ("iam", "AddRoleToInstanceProfile") => {
            // Putting a role in a profile lets whoever uses the profile act as the role.
            if let Some(role) = str_of(call.input, "RoleName") {
                out.checks.push(check("iam:PassRole", call.role_arn(role), BTreeMap::new(), true));
            }
        }
        ("autoscaling", "CreateAutoScalingGroup" | "UpdateAutoScalingGroup") => auto_scaling_group(call, &mut out),
        ("elasticloadbalancing", "CreateLoadBalancer") => {
            let tags = tags_of(call.input.get("Tags"));
            if !tags.is_empty() {
                let name = str_of(call.input, "LoadBalancerName").unwrap_or("*");
                let lb = format!("{}:loadbalancer/{name}", call.arn_prefix);
                out.checks.push(check("elasticloadbalancing:AddTags", lb, tag_context(&tags), true));
            }
            out.checks.extend(slr_if_missing(call, "elasticloadbalancing.amazonaws.com"));
        }
        ("secretsmanager", "CreateSecret") => {
            let tags = tags_of(call.input.get("Tags"));
            if !tags.is_empty() {
                let secret = call.secret_arn(str_of(call.input, "Name").unwrap_or("*"));
                out.checks.push(check("secretsmanager:TagResource", secret, tag_context(&tags), true));
            }
        }
        ("tag", "TagResources" | "UntagResources") => tagging_api(call, &mut out),
        _ => {}
    }
    out
}

/// RunInstances passes its profile's role, needs the Spot service-linked role for a Spot
/// launch, and takes from a launch template what the request leaves out.
fn run_instances(call: &Call<'_>, out: &mut Derivation) {
    let input = call.input;
    if let Some(profile) = input.get("IamInstanceProfile").and_then(|p| str_of(p, "Arn").or_else(|| str_of(p, "Name")))
    {
        push_pass_role(call.dir, profile, out);
    }
    if input.get("InstanceMarketOptions").and_then(|m| str_of(m, "MarketType")) == Some("spot") {
        out.checks.extend(slr_if_missing(call, "spot.amazonaws.com"));
    }
    if let Some(lt) = input.get("LaunchTemplate") {
        launch_template(call, lt, input, out);
    }
}

/// A group with a launch template launches instances: ec2:RunInstances on what they are
/// made of, and what the template implies. The first group also needs Auto Scaling's
/// service-linked role.
fn auto_scaling_group(call: &Call<'_>, out: &mut Derivation) {
    let input = call.input;
    let lt = input.get("LaunchTemplate").or_else(|| {
        input
            .get("MixedInstancesPolicy")
            .and_then(|m| m.get("LaunchTemplate"))
            .and_then(|l| l.get("LaunchTemplateSpecification"))
    });
    if let Some(lt) = lt {
        let ec2 = call.ec2_prefix();
        let run = |r: String| check("ec2:RunInstances", r, BTreeMap::new(), true);
        for rtype in ["instance", "network-interface", "volume"] {
            out.checks.push(run(format!("{ec2}:{rtype}/*")));
        }
        let mut subnets = Vec::new();
        collect_strings(input.get("VPCZoneIdentifier").unwrap_or(&Value::Null), &mut subnets);
        subnets.iter().for_each(|s| out.checks.push(run(format!("{ec2}:subnet/{s}"))));
        // What the instances get comes from the template: without it, the checks it
        // implies (PassRole above all) cannot be known, so the gate refuses.
        launch_template(call, lt, &Value::Null, out);
    }
    if call.operation == "CreateAutoScalingGroup" {
        out.checks.extend(slr_if_missing(call, "autoscaling.amazonaws.com"));
    }
}

/// What the instances launched from a template imply: RunInstances on the template and
/// on the image, groups and key it supplies, CreateTags for its tags, PassRole for its
/// profile's role. `given` names the members the request sets itself (they win).
fn launch_template(call: &Call<'_>, lt: &Value, given: &Value, out: &mut Derivation) {
    let key = str_of(lt, "LaunchTemplateId").or_else(|| str_of(lt, "LaunchTemplateName")).unwrap_or_default();
    let version = str_of(lt, "Version").unwrap_or("$Default");
    let info = match call.dir.launch_template(key, version) {
        Ok(info) => info,
        Err(e) => {
            out.unresolved.push(format!("launch template `{key}` version `{version}`: {e}"));
            return;
        }
    };
    let (partition, region) = (&call.target.partition, &call.target.region);
    let ec2 = call.ec2_prefix();
    let run = |r: String| check("ec2:RunInstances", r, BTreeMap::new(), true);
    out.checks.push(run(format!("{ec2}:launch-template/{}", info.id)));
    if let Some(image) = info.image_id.as_ref().filter(|_| given.get("ImageId").is_none()) {
        out.checks.push(run(format!("arn:{partition}:ec2:{region}::image/{image}")));
    }
    info.security_group_ids.iter().for_each(|g| out.checks.push(run(format!("{ec2}:security-group/{g}"))));
    if let Some(k) = info.key_name.as_ref().filter(|_| given.get("KeyName").is_none()) {
        out.checks.push(run(format!("{ec2}:key-pair/{k}")));
    }
    for (rtype, tags) in &info.tag_specifications {
        out.checks.push(create_tags(&ec2, rtype, tags, "RunInstances"));
    }
    if let Some(profile) = info.instance_profile.as_ref().filter(|_| given.get("IamInstanceProfile").is_none()) {
        push_pass_role(call.dir, profile, out);
    }
}

/// Adds the PassRole of an instance profile's role (to EC2), or notes why it cannot be
/// named.
fn push_pass_role(dir: &dyn Directory, profile: &str, out: &mut Derivation) {
    let Some(role) = dir.instance_profile_role(profile) else {
        out.unresolved.push(format!(
            "instance profile `{profile}` does not resolve to a role, so iam:PassRole cannot be checked"
        ));
        return;
    };
    let context = BTreeMap::from([("iam:PassedToService".to_string(), vec!["ec2.amazonaws.com".to_string()])]);
    out.checks.push(check("iam:PassRole", role, context, true));
}

/// iam:CreateServiceLinkedRole for `service`'s linked role, while it does not exist.
fn slr_if_missing(call: &Call<'_>, service: &str) -> Option<Derived> {
    if call.dir.service_linked_role_exists(service) {
        return None;
    }
    let name = SERVICE_LINKED_ROLES.iter().find(|(s, _)| *s == service).map(|(_, n)| *n).unwrap_or_default();
    Some(check(
        "iam:CreateServiceLinkedRole",
        call.role_arn(&format!("aws-service-role/{service}/{name}")),
        BTreeMap::from([("iam:AWSServiceName".to_string(), vec![service.to_string()])]),
        true,
    ))
}
