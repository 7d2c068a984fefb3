//! The resources an action is on, filled into the catalog's ARN formats from the input.

use serde_json::Value;

use super::Call;
use crate::catalog::fill_format;
use crate::template::render::Target;

/// Input members whose values fill a placeholder of a catalog ARN format, besides the
/// member of the same name.
const ALIASES: &[(&str, &[&str])] = &[
    ("SecurityGroupId", &["GroupId", "SecurityGroupIds", "SecurityGroupId", "GroupIds", "Groups", "SecurityGroups"]),
    ("InstanceId", &["InstanceId", "InstanceIds", "Instances"]),
    ("KeyPairName", &["KeyName", "KeyNames"]),
    ("SubnetId", &["SubnetId", "SubnetIds", "Subnets"]),
    ("VpcId", &["VpcId", "VpcIds"]),
    ("VolumeId", &["VolumeId", "VolumeIds"]),
    ("RouteTableId", &["RouteTableId", "RouteTableIds"]),
    ("InternetGatewayId", &["InternetGatewayId", "InternetGatewayIds"]),
    ("NatGatewayId", &["NatGatewayId", "NatGatewayIds"]),
    ("AllocationId", &["AllocationId", "AllocationIds"]),
    ("NetworkInterfaceId", &["NetworkInterfaceId", "NetworkInterfaceIds"]),
    ("LaunchTemplateId", &["LaunchTemplateId", "LaunchTemplateIds"]),
    ("ImageId", &["ImageId", "ImageIds"]),
    ("LoadBalancerName", &["LoadBalancerName", "LoadBalancerNames"]),
    ("GroupFriendlyName", &["AutoScalingGroupName", "AutoScalingGroupNames"]),
    ("RoleNameWithPath", &["RoleArn", "RoleName"]),
    ("TargetGroupName", &["Name"]),
    ("InstanceProfileNameWithPath", &["InstanceProfileName"]),
    ("PolicyNameWithPath", &["PolicyArn"]),
    ("SecretId", &["SecretId", "Name"]),
    ("LaunchConfigurationName", &["LaunchConfigurationName"]),
];

/// The resources the catalog says the call's action is authorized on, filled from the
/// input. Required types always appear (`*` for what the request does not name, such as
/// the resource being created); optional types only when the input names them.
pub(super) fn catalog_resources(call: &Call<'_>) -> Vec<String> {
    let Some(a) = call.catalog.action(&call.action) else { return vec!["*".into()] };
    if a.action.resources.is_empty() {
        return vec!["*".into()];
    }
    // The gate speaks the classic ELB API: when an action is on both ELB pages, only the
    // classic `loadbalancer` type applies.
    let classic_elb =
        a.service == "elasticloadbalancing" && a.action.resources.iter().any(|r| r.resource_type == "loadbalancer");
    let mut out = Vec::new();
    for r in &a.action.resources {
        if classic_elb && r.resource_type != "loadbalancer" {
            continue;
        }
        let Some(t) = call.catalog.resource_type(a.service, &r.resource_type) else { continue };
        for arn in arns_of_type(&t.arn, r.required, call.input, call.target) {
            if !out.contains(&arn) {
                out.push(arn);
            }
        }
    }
    if out.is_empty() { vec!["*".into()] } else { out }
}

/// The ARNs of one resource type (ARN `format`) the input names; none for an optional
/// type it does not name. A request naming several (security groups) gets one per value.
fn arns_of_type(format: &str, required: bool, input: &Value, target: &Target) -> Vec<String> {
    let placeholders: Vec<&str> = format
        .split("${")
        .skip(1)
        .filter_map(|p| p.split('}').next())
        .filter(|p| !matches!(*p, "Partition" | "Region" | "Account"))
        .collect();
    let values: Vec<Vec<String>> = placeholders.iter().map(|p| placeholder_values(input, p)).collect();
    if !required && values.iter().all(Vec::is_empty) {
        return Vec::new();
    }
    // An input that already is an ARN of this type (PolicyArn, a secret ARN) is the resource.
    if let Some(first) = values.first().and_then(|v| v.first()).filter(|v| v.starts_with("arn:")) {
        return vec![first.clone()];
    }
    let count = values.iter().map(Vec::len).max().unwrap_or(0).max(1);
    (0..count)
        .map(|i| {
            fill_format(format, &|name| match name {
                "Partition" => target.partition.clone(),
                "Region" => target.region.clone(),
                "Account" => target.account_id.clone(),
                other => {
                    let idx = placeholders.iter().position(|p| *p == other);
                    idx.and_then(|k| values[k].get(i).or_else(|| values[k].first()))
                        .cloned()
                        .unwrap_or_else(|| "*".into())
                }
            })
        })
        .collect()
}

/// Values of the first member that fills `placeholder`, as strings (lists flattened;
/// `Instances: [{InstanceId}]` as in ELB registration).
fn placeholder_values(input: &Value, placeholder: &str) -> Vec<String> {
    let members: Vec<&str> =
        ALIASES.iter().find(|(p, _)| *p == placeholder).map(|(_, m)| m.to_vec()).unwrap_or_else(|| vec![placeholder]);
    for m in members {
        let Some(v) = input.get(m) else { continue };
        let mut out = Vec::new();
        collect_strings(v, &mut out);
        if !out.is_empty() {
            return out;
        }
    }
    Vec::new()
}

/// The strings of a member, however the wire shapes it: comma-separated text, numbers,
/// lists, a one-member structure.
pub(super) fn collect_strings(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.extend(s.split(',').map(|p| p.trim().to_string()).filter(|p| !p.is_empty())),
        Value::Number(n) => out.push(n.to_string()),
        Value::Array(items) => items.iter().for_each(|i| collect_strings(i, out)),
        // ELB `Instances: [{InstanceId: …}]`: take the structure's only string.
        Value::Object(map) if map.len() == 1 => map.values().for_each(|i| collect_strings(i, out)),
        _ => {}
    }
}
