//! The operation's own action: on the resources its parameters name, with the condition
//! keys its request carries (tags set or removed, the service asked for, a Spot launch).

use std::collections::BTreeMap;

use serde_json::Value;

use super::ec2_type_of_id;
use super::resources::{catalog_resources, collect_strings};
use super::{Call, Derivation, SERVICE_LINKED_ROLES, check, str_of, tags};

/// The own action's checks: one per resource, each with the request's context.
pub(super) fn checks(call: &Call<'_>) -> Derivation {
    let mut out = Derivation::default();
    let resources = own_resources(call, &mut out);
    let context = own_context(call);
    // A Spot launch says so on the instance it creates.
    let market = call.input.get("InstanceMarketOptions").and_then(|m| str_of(m, "MarketType"));
    // Tagging and untagging calls already carry what they set or remove; every other call
    // that carries tags (a create) gets them on its own check(s) as well.
    let tagging_call = tags::is_tagging_call(call);
    for r in resources {
        let mut ctx = context.clone();
        if let (true, Some(m)) = (call.is("ec2", "RunInstances"), market)
            && r.ends_with(":instance/*")
        {
            ctx.insert("ec2:InstanceMarketType".into(), vec![m.to_string()]);
        }
        if !tagging_call {
            ctx.extend(tags::request_tags_on_create(call, &r));
        }
        out.checks.push(check(&call.action, r, ctx, false));
    }
    out
}

/// The resources the own action is on. Where the catalog's ARN formats cannot name them
/// from the input (a group's id, what an association ties), the directory is asked.
fn own_resources(call: &Call<'_>, out: &mut Derivation) -> Vec<String> {
    let input = call.input;
    match (call.service, call.operation) {
        ("iam", "CreateServiceLinkedRole") => vec![service_linked_role_arn(call)],
        ("secretsmanager", "CreateSecret") => vec![call.secret_arn(str_of(input, "Name").unwrap_or("*"))],
        ("secretsmanager", _) if input.get("SecretId").is_some() => {
            let id = str_of(input, "SecretId").unwrap_or("*");
            vec![if id.starts_with("arn:") { id.to_string() } else { call.secret_arn(id) }]
        }
        ("autoscaling", "CreateOrUpdateTags" | "DeleteTags") => tagged_groups(call, out),
        ("autoscaling", op) if op != "CreateAutoScalingGroup" && names_a_group(call) => {
            vec![group_arn(call, str_of(input, "AutoScalingGroupName").unwrap_or("*"))]
        }
        ("ec2", "DisassociateRouteTable" | "DisassociateAddress") if input.get("AssociationId").is_some() => {
            let found = call.dir.association_resources(str_of(input, "AssociationId").unwrap_or_default());
            if found.is_empty() { catalog_resources(call) } else { found }
        }
        ("autoscaling", "TerminateInstanceInAutoScalingGroup") => instance_group(call, out),
        ("ec2", "RunInstances") => {
            let mut r = catalog_resources(call);
            // AWS authorizes the instance's volumes even when the request names none.
            let volume = format!("{}:volume/*", call.arn_prefix);
            if !r.contains(&volume) {
                r.push(volume);
            }
            r
        }
        ("ec2", "CreateTags" | "DeleteTags") => tagged_ec2_resources(call, out),
        _ => catalog_resources(call),
    }
}

/// The condition keys of the own action's request, on every one of its checks.
fn own_context(call: &Call<'_>) -> BTreeMap<String, Vec<String>> {
    if call.is("iam", "CreateServiceLinkedRole") {
        let service = str_of(call.input, "AWSServiceName").unwrap_or_default();
        return BTreeMap::from([("iam:AWSServiceName".to_string(), vec![service.to_string()])]);
    }
    tags::own_tag_context(call)
}

/// The role CreateServiceLinkedRole creates: `aws-service-role/<principal>/<name>`, with
/// `_<CustomSuffix>` when given (docs/aws-facts.md, "Service-linked roles").
fn service_linked_role_arn(call: &Call<'_>) -> String {
    let svc = str_of(call.input, "AWSServiceName").unwrap_or_default();
    let name = SERVICE_LINKED_ROLES
        .iter()
        .find(|(s, _)| *s == svc)
        .map(|(_, n)| n.to_string())
        .unwrap_or_else(|| slr_name_guess(svc));
    let suffix = str_of(call.input, "CustomSuffix").map(|s| format!("_{s}")).unwrap_or_default();
    call.role_arn(&format!("aws-service-role/{svc}/{name}{suffix}"))
}

/// AWS names most service-linked roles `AWSServiceRoleFor<Service>`; the gate only needs
/// a faithful name for the services in [`SERVICE_LINKED_ROLES`], and a plausible one
/// otherwise.
fn slr_name_guess(principal: &str) -> String {
    let svc = principal.split('.').next().unwrap_or_default();
    let mut name = String::from("AWSServiceRoleFor");
    let mut chars = svc.chars();
    if let Some(c) = chars.next() {
        name.extend(c.to_uppercase());
        name.push_str(chars.as_str());
    }
    name
}

/// An Auto Scaling group's ARN: the directory's (it holds an id the request lacks), else
/// one with that id left as `*`.
fn group_arn(call: &Call<'_>, name: &str) -> String {
    call.dir
        .auto_scaling_group_arn(name)
        .unwrap_or_else(|| format!("{}:autoScalingGroup:*:autoScalingGroupName/{name}", call.arn_prefix))
}

/// Whether the input names a group the catalog says the action is on.
fn names_a_group(call: &Call<'_>) -> bool {
    call.input.get("AutoScalingGroupName").is_some()
        && call
            .catalog
            .action(&call.action)
            .is_some_and(|a| a.action.resources.iter().any(|r| r.resource_type == "autoScalingGroup"))
}

/// The groups an Auto Scaling tagging call names (`Tags[].ResourceId`).
fn tagged_groups(call: &Call<'_>, out: &mut Derivation) -> Vec<String> {
    let mut groups: Vec<String> = call
        .input
        .get("Tags")
        .and_then(Value::as_array)
        .map(|t| t.iter().filter_map(|t| str_of(t, "ResourceId").map(str::to_string)).collect())
        .unwrap_or_default();
    groups.dedup();
    if groups.is_empty() {
        out.unresolved
            .push(format!("{} names no group (no Tags[].ResourceId): nothing to check it against", call.operation));
    }
    groups.iter().map(|g| group_arn(call, g)).collect()
}

/// The group TerminateInstanceInAutoScalingGroup acts on: the instance's, by the directory.
fn instance_group(call: &Call<'_>, out: &mut Derivation) -> Vec<String> {
    let instance = str_of(call.input, "InstanceId").unwrap_or_default();
    match call.dir.instance_group(instance) {
        Some(group) => vec![group_arn(call, &group)],
        None => {
            out.unresolved.push(format!(
                "instance `{instance}` belongs to no Auto Scaling group the emulator knows, so the group the action is on cannot be named"
            ));
            Vec::new()
        }
    }
}

/// The resources an EC2 tagging call names, typed by their id's prefix.
fn tagged_ec2_resources(call: &Call<'_>, out: &mut Derivation) -> Vec<String> {
    let mut ids = Vec::new();
    collect_strings(call.input.get("Resources").unwrap_or(&Value::Null), &mut ids);
    if ids.is_empty() {
        out.unresolved.push(format!("{} names no resource: nothing to check it against", call.operation));
    }
    ids.iter().map(|id| format!("{}:{}/{id}", call.arn_prefix, ec2_type_of_id(id))).collect()
}
