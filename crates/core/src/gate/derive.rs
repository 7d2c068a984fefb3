//! What a request asks AWS to authorize, derived from the request alone (never from
//! the scenario file): the operation's own action on the resources its parameters name
//! (ARN formats from the action catalog), and the implicit checks AWS makes on top of it.
//!
//! Implicit checks (docs/aws-facts.md, "Implicit authorization checks"; EC2 User Guide,
//! "Grant permission to tag Amazon EC2 resources during creation"): ec2:CreateTags for
//! TagSpecifications (with ec2:CreateAction), iam:PassRole
//! for an instance profile's role, ec2:RunInstances (and what the launch template
//! implies) for CreateAutoScalingGroup, elasticloadbalancing:AddTags for CreateLoadBalancer
//! with Tags, secretsmanager:TagResource for CreateSecret with Tags, and
//! iam:CreateServiceLinkedRole when a service's linked role does not exist yet. A request
//! that carries tags also has them (aws:RequestTag/…, aws:TagKeys) on the create action's
//! own check(s), where the catalog lists those keys (`request_tags_on_create`).

use std::collections::BTreeMap;

use serde_json::Value;

use crate::catalog::{Catalog, fill_format};
use crate::template::render::Target;

/// One authorization check the gate derived.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct Derived {
    pub action: String,
    pub resource: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub context: BTreeMap<String, Vec<String>>,
    pub implicit: bool,
}

/// What the gate knows of a launch template, from the emulator.
#[derive(Clone, Debug, Default)]
pub struct LaunchTemplateInfo {
    pub id: String,
    pub image_id: Option<String>,
    pub key_name: Option<String>,
    pub security_group_ids: Vec<String>,
    /// Instance profile name or ARN.
    pub instance_profile: Option<String>,
    /// (resource type, tags) of the template's TagSpecifications.
    pub tag_specifications: Vec<(String, Vec<(String, String)>)>,
}

/// Lookups into the emulator's state that a derivation needs. Implemented over HTTP by
/// the gate and by plain maps in tests.
pub trait Directory {
    /// The ARN of the role in an instance profile (given by name or ARN).
    fn instance_profile_role(&self, profile: &str) -> Option<String>;
    /// The launch template's data at `version` (`$Latest`, `$Default` or a number); `Err`
    /// says why it cannot be read.
    fn launch_template(&self, id_or_name: &str, version: &str) -> Result<LaunchTemplateInfo, String>;
    /// Whether the service-linked role of a service principal exists.
    fn service_linked_role_exists(&self, service_principal: &str) -> bool;
    /// The ARN of an existing Auto Scaling group (its ARN holds an id the request lacks).
    fn auto_scaling_group_arn(&self, name: &str) -> Option<String>;
    /// The resources an EC2 association id ties together, as ARNs: the route table and
    /// subnet of a `rtbassoc-`, the Elastic IP of an `eipassoc-`.
    fn association_resources(&self, association_id: &str) -> Vec<String>;
    /// The Auto Scaling group an instance belongs to.
    fn instance_group(&self, instance_id: &str) -> Option<String>;
}

/// Service principal → the name AWS gives its service-linked role.
pub const SERVICE_LINKED_ROLES: &[(&str, &str)] = &[
    ("autoscaling.amazonaws.com", "AWSServiceRoleForAutoScaling"),
    ("elasticloadbalancing.amazonaws.com", "AWSServiceRoleForElasticLoadBalancing"),
    ("spot.amazonaws.com", "AWSServiceRoleForEC2Spot"),
    ("spotfleet.amazonaws.com", "AWSServiceRoleForEC2SpotFleet"),
    ("ecs.amazonaws.com", "AWSServiceRoleForECS"),
];

/// The suffix AWS appends to a new secret's name in its ARN is random; the gate
/// evaluates with this stand-in (matching what scenario files use).
pub const SECRET_SUFFIX: &str = "-AbCdEf";

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

fn collect_strings(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.extend(s.split(',').map(|p| p.trim().to_string()).filter(|p| !p.is_empty())),
        Value::Number(n) => out.push(n.to_string()),
        Value::Array(items) => items.iter().for_each(|i| collect_strings(i, out)),
        // ELB `Instances: [{InstanceId: …}]`: take the structure's only string.
        Value::Object(map) if map.len() == 1 => map.values().for_each(|i| collect_strings(i, out)),
        _ => {}
    }
}

fn str_of<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

fn tags_of(v: Option<&Value>) -> Vec<(String, String)> {
    v.and_then(Value::as_array)
        .map(|tags| {
            tags.iter()
                .filter_map(|t| {
                    Some((str_of(t, "Key")?.to_string(), str_of(t, "Value").unwrap_or_default().to_string()))
                })
                .collect()
        })
        .unwrap_or_default()
}

fn tag_context(tags: &[(String, String)]) -> BTreeMap<String, Vec<String>> {
    let mut ctx = BTreeMap::new();
    for (k, v) in tags {
        ctx.insert(format!("aws:RequestTag/{k}"), vec![v.clone()]);
    }
    if !tags.is_empty() {
        ctx.insert("aws:TagKeys".into(), tags.iter().map(|(k, _)| k.clone()).collect());
    }
    ctx
}

/// `aws:RequestTag/<key>` and `aws:TagKeys` on a create action's own check, from the tags
/// the request carries.
///
/// AWS evaluates these keys on the resource-creating action itself, not only on the
/// implicit tagging check: EC2 User Guide, "Grant permission to tag resources during
/// creation" § "Controlling access to specific tags" ("These condition keys can be applied
/// to resource-creating actions that support tagging, as well as the ec2:CreateTags and
/// ec2:DeleteTags actions"; "To force users to specify tags when they create a resource,
/// you must use the aws:RequestTag condition key or the aws:TagKeys condition key with the
/// ForAnyValue modifier on the resource-creating action. The ec2:CreateTags action is not
/// evaluated if a user does not specify tags"); EC2 User Guide, "Example policies …",
/// "Create a volume with tags" (aws:RequestTag on ec2:CreateVolume, volume/*). Which keys
/// an action (or, for EC2, which resource type of an action) accepts is the Service
/// Authorization Reference's condition-key column, here the embedded catalog: the keys are
/// added only where it lists `aws:RequestTag/${TagKey}` (resp. `aws:TagKeys`) — for
/// elasticloadbalancing:CreateLoadBalancer, autoscaling:CreateAutoScalingGroup and
/// secretsmanager:CreateSecret on the action (Auto Scaling User Guide, "Tags for
/// security": aws:RequestTag "to require that a specific tag be present (or not present)
/// in a request"), for EC2 on the created resource type's row (CreateVpc: vpc;
/// RunInstances: instance, volume, network-interface).
///
/// EC2 tags are per resource type (`TagSpecifications[].ResourceType`): a check gets the
/// tags of the specifications that name its own resource type, nothing from the others.
/// That is how the EC2 User Guide's RunInstances example ("Tag instances and volumes on
/// creation with specific tags") is written: the aws:RequestTag condition sits on
/// instance/* and volume/*, while image, subnet, network-interface, security-group and
/// key-pair are allowed without it — a network interface the request does not tag carries
/// no request tags, and "the tag must be applied to both instances and volumes". Other
/// services' tags (`Tags`) are one set for the one resource created.
fn request_tags_on_create(
    catalog: &Catalog,
    action: &str,
    service: &str,
    input: &Value,
    resource: &str,
) -> BTreeMap<String, Vec<String>> {
    let Some(a) = catalog.action(action) else { return BTreeMap::new() };
    let types = catalog.classify(&a, resource);
    let listed = |key: &str| {
        a.action.condition_keys.iter().any(|k| k == key)
            || a.action
                .resources
                .iter()
                .filter(|r| types.contains(&r.resource_type))
                .any(|r| r.condition_keys.iter().any(|k| k == key))
    };
    let tags: Vec<(String, String)> = if service == "ec2" {
        input
            .get("TagSpecifications")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter(|spec| str_of(spec, "ResourceType").is_some_and(|t| types.iter().any(|x| x == t)))
            .flat_map(|spec| tags_of(spec.get("Tags")))
            .collect()
    } else {
        tags_of(input.get("Tags"))
    };
    let mut ctx = tag_context(&tags);
    if !listed("aws:RequestTag/${TagKey}") {
        ctx.retain(|k, _| !k.starts_with("aws:RequestTag/"));
    }
    if !listed("aws:TagKeys") {
        ctx.remove("aws:TagKeys");
    }
    ctx
}

fn check(action: &str, resource: String, context: BTreeMap<String, Vec<String>>, implicit: bool) -> Derived {
    Derived { action: action.to_string(), resource, context, implicit }
}

/// The resources the catalog says `action` is authorized on, filled from the input.
/// Required types always appear (`*` for what the request does not name, such as the
/// resource being created); optional types only when the input names them.
fn catalog_resources(catalog: &Catalog, action: &str, input: &Value, target: &Target) -> Vec<String> {
    let Some(a) = catalog.action(action) else { return vec!["*".into()] };
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
        let Some(t) = catalog.resource_type(a.service, &r.resource_type) else { continue };
        let placeholders: Vec<&str> = t
            .arn
            .split("${")
            .skip(1)
            .filter_map(|p| p.split('}').next())
            .filter(|p| !matches!(*p, "Partition" | "Region" | "Account"))
            .collect();
        // Each placeholder's values; a request naming several (security groups) gets one
        // check per value.
        let values: Vec<Vec<String>> = placeholders.iter().map(|p| placeholder_values(input, p)).collect();
        let named = placeholders.iter().zip(&values).any(|(_, v)| !v.is_empty());
        let explicit = r.required || named;
        if !explicit {
            continue;
        }
        // An input that already is an ARN of this type (PolicyArn, a secret ARN) is the resource.
        if let Some(first) = values.first().and_then(|v| v.first()).filter(|v| v.starts_with("arn:")) {
            out.push(first.clone());
            continue;
        }
        let count = values.iter().map(Vec::len).max().unwrap_or(0).max(1);
        for i in 0..count {
            let arn = fill_format(&t.arn, &|name| match name {
                "Partition" => target.partition.clone(),
                "Region" => target.region.clone(),
                "Account" => target.account_id.clone(),
                other => {
                    let idx = placeholders.iter().position(|p| *p == other);
                    idx.and_then(|k| values[k].get(i).or_else(|| values[k].first()))
                        .cloned()
                        .unwrap_or_else(|| "*".into())
                }
            });
            if !out.contains(&arn) {
                out.push(arn);
            }
        }
    }
    if out.is_empty() { vec!["*".into()] } else { out }
}

/// Calls AWS answers without any authorization check. sts:GetCallerIdentity: "No
/// permissions are required to perform this operation. If an administrator attaches a
/// policy to your identity that explicitly denies access to the sts:GetCallerIdentity
/// action, you can still perform this operation." (STS API Reference, GetCallerIdentity).
pub const NO_AUTHORIZATION: &[(&str, &str)] = &[("sts", "GetCallerIdentity")];

/// Derives every check of one request. `Err` says why the checks cannot be known (an
/// instance profile the emulator cannot resolve to a role): the gate then refuses the
/// request rather than skip a check.
pub fn derive(
    catalog: &Catalog,
    service: &str,
    operation: &str,
    input: &Value,
    target: &Target,
    dir: &dyn Directory,
) -> Derivation {
    let mut unresolved: Vec<String> = Vec::new();
    let checks = derive_into(catalog, service, operation, input, target, dir, &mut unresolved);
    Derivation { checks, unresolved }
}

/// What a request implies: the checks the gate could derive, and what it could not
/// resolve (an instance profile, a launch template, a group…). The gate denies when a
/// derived check is denied, and otherwise refuses when anything is unresolved.
#[derive(Clone, Debug, Default)]
pub struct Derivation {
    pub checks: Vec<Derived>,
    pub unresolved: Vec<String>,
}

fn derive_into(
    catalog: &Catalog,
    service: &str,
    operation: &str,
    input: &Value,
    target: &Target,
    dir: &dyn Directory,
    unresolved: &mut Vec<String>,
) -> Vec<Derived> {
    let action = format!("{service}:{operation}");
    let arn_prefix = format!("arn:{}:{}:{}:{}", target.partition, service, target.region, target.account_id);
    let mut out: Vec<Derived> = Vec::new();

    // The operation's own action.
    let own_resources = match (service, operation) {
        ("iam", "CreateServiceLinkedRole") => {
            let svc = str_of(input, "AWSServiceName").unwrap_or_default();
            let name = SERVICE_LINKED_ROLES
                .iter()
                .find(|(s, _)| *s == svc)
                .map(|(_, n)| n.to_string())
                .unwrap_or_else(|| slr_name_guess(svc));
            let suffix = str_of(input, "CustomSuffix").map(|s| format!("_{s}")).unwrap_or_default();
            vec![format!(
                "arn:{}:iam::{}:role/aws-service-role/{svc}/{name}{suffix}",
                target.partition, target.account_id
            )]
        }
        ("secretsmanager", "CreateSecret") => {
            vec![format!("{arn_prefix}:secret:{}{SECRET_SUFFIX}", str_of(input, "Name").unwrap_or("*"))]
        }
        ("secretsmanager", _) if input.get("SecretId").is_some() => {
            let id = str_of(input, "SecretId").unwrap_or("*");
            vec![if id.starts_with("arn:") {
                id.to_string()
            } else {
                format!("{arn_prefix}:secret:{id}{SECRET_SUFFIX}")
            }]
        }
        ("autoscaling", "CreateOrUpdateTags" | "DeleteTags") => {
            let mut groups: Vec<String> = input
                .get("Tags")
                .and_then(Value::as_array)
                .map(|t| t.iter().filter_map(|t| str_of(t, "ResourceId").map(str::to_string)).collect())
                .unwrap_or_default();
            groups.dedup();
            if groups.is_empty() {
                unresolved
                    .push(format!("{operation} names no group (no Tags[].ResourceId): nothing to check it against"));
            }
            groups
                .iter()
                .map(|g| {
                    dir.auto_scaling_group_arn(g)
                        .unwrap_or_else(|| format!("{arn_prefix}:autoScalingGroup:*:autoScalingGroupName/{g}"))
                })
                .collect()
        }
        ("autoscaling", op)
            if op != "CreateAutoScalingGroup"
                && input.get("AutoScalingGroupName").is_some()
                && catalog
                    .action(&action)
                    .is_some_and(|a| a.action.resources.iter().any(|r| r.resource_type == "autoScalingGroup")) =>
        {
            let name = str_of(input, "AutoScalingGroupName").unwrap_or("*");
            vec![
                dir.auto_scaling_group_arn(name)
                    .unwrap_or_else(|| format!("{arn_prefix}:autoScalingGroup:*:autoScalingGroupName/{name}")),
            ]
        }
        ("ec2", "DisassociateRouteTable" | "DisassociateAddress") if input.get("AssociationId").is_some() => {
            let found = dir.association_resources(str_of(input, "AssociationId").unwrap_or_default());
            if found.is_empty() { catalog_resources(catalog, &action, input, target) } else { found }
        }
        ("autoscaling", "TerminateInstanceInAutoScalingGroup") => {
            let instance = str_of(input, "InstanceId").unwrap_or_default();
            match dir.instance_group(instance) {
                Some(group) => vec![
                    dir.auto_scaling_group_arn(&group)
                        .unwrap_or_else(|| format!("{arn_prefix}:autoScalingGroup:*:autoScalingGroupName/{group}")),
                ],
                None => {
                    unresolved.push(format!(
                        "instance `{instance}` belongs to no Auto Scaling group the emulator knows, so the group the action is on cannot be named"
                    ));
                    Vec::new()
                }
            }
        }
        ("ec2", "RunInstances") => {
            let mut r = catalog_resources(catalog, &action, input, target);
            // AWS authorizes the instance's volumes even when the request names none.
            let volume = format!("{arn_prefix}:volume/*");
            if !r.contains(&volume) {
                r.push(volume);
            }
            r
        }
        ("ec2", "CreateTags" | "DeleteTags") => {
            let mut ids = Vec::new();
            collect_strings(input.get("Resources").unwrap_or(&Value::Null), &mut ids);
            if ids.is_empty() {
                unresolved.push(format!("{operation} names no resource: nothing to check it against"));
            }
            ids.iter().map(|id| format!("{arn_prefix}:{}/{id}", ec2_type_of_id(id))).collect()
        }
        _ => catalog_resources(catalog, &action, input, target),
    };
    let own_context = match (service, operation) {
        ("iam", "CreateServiceLinkedRole") => BTreeMap::from([(
            "iam:AWSServiceName".to_string(),
            vec![str_of(input, "AWSServiceName").unwrap_or_default().to_string()],
        )]),
        // Tagging calls carry the tags they set (aws:RequestTag/…, aws:TagKeys), untagging
        // calls the keys they remove (aws:TagKeys).
        ("ec2", "CreateTags")
        | ("elasticloadbalancing", "AddTags")
        | ("autoscaling", "CreateOrUpdateTags")
        | ("secretsmanager", "TagResource") => tag_context(&tags_of(input.get("Tags"))),
        ("ec2", "DeleteTags") | ("elasticloadbalancing", "RemoveTags") | ("autoscaling", "DeleteTags") => {
            let keys: Vec<String> = input
                .get("Tags")
                .and_then(Value::as_array)
                .map(|t| t.iter().filter_map(|t| str_of(t, "Key").map(str::to_string)).collect())
                .unwrap_or_default();
            if keys.is_empty() { BTreeMap::new() } else { BTreeMap::from([("aws:TagKeys".to_string(), keys)]) }
        }
        ("secretsmanager", "UntagResource") => {
            let mut keys = Vec::new();
            collect_strings(input.get("TagKeys").unwrap_or(&Value::Null), &mut keys);
            if keys.is_empty() { BTreeMap::new() } else { BTreeMap::from([("aws:TagKeys".to_string(), keys)]) }
        }
        _ => BTreeMap::new(),
    };
    // A Spot launch says so on the instance it creates.
    let market = input.get("InstanceMarketOptions").and_then(|m| str_of(m, "MarketType"));
    // The tagging and untagging calls above already carry what they set or remove; every
    // other call that carries tags (a create) gets them on its own check(s) as well.
    let tagging_call = matches!(
        (service, operation),
        ("ec2", "CreateTags" | "DeleteTags")
            | ("elasticloadbalancing", "AddTags" | "RemoveTags")
            | ("autoscaling", "CreateOrUpdateTags" | "DeleteTags")
            | ("secretsmanager", "TagResource" | "UntagResource")
    );
    for r in own_resources {
        let mut ctx = own_context.clone();
        if let (("ec2", "RunInstances"), Some(m)) = ((service, operation), market)
            && r.ends_with(":instance/*")
        {
            ctx.insert("ec2:InstanceMarketType".into(), vec![m.to_string()]);
        }
        if !tagging_call {
            ctx.extend(request_tags_on_create(catalog, &action, service, input, &r));
        }
        out.push(check(&action, r, ctx, false));
    }

    // Tags on create.
    if service == "ec2"
        && let Some(specs) = input.get("TagSpecifications").and_then(Value::as_array)
    {
        for spec in specs {
            let rtype = str_of(spec, "ResourceType").unwrap_or("*");
            let tags = tags_of(spec.get("Tags"));
            let mut ctx = tag_context(&tags);
            ctx.insert("ec2:CreateAction".into(), vec![operation.to_string()]);
            out.push(check("ec2:CreateTags", format!("{arn_prefix}:{rtype}/*"), ctx, true));
        }
    }
    match (service, operation) {
        ("ec2", "RunInstances") => {
            if let Some(profile) =
                input.get("IamInstanceProfile").and_then(|p| str_of(p, "Arn").or_else(|| str_of(p, "Name")))
            {
                push_pass_role(dir, profile, &mut out, unresolved);
            }
            let spot = input.get("InstanceMarketOptions").and_then(|m| str_of(m, "MarketType")) == Some("spot");
            if spot {
                out.extend(slr_if_missing(dir, "spot.amazonaws.com", target));
            }
            // A launch template supplies what the request leaves out.
            if let Some(lt) = input.get("LaunchTemplate") {
                push_launch_template(dir, lt, input, target, &mut out, unresolved);
            }
        }
        ("autoscaling", "CreateLaunchConfiguration") => {
            // A launch configuration with a profile passes its role, as a launch does.
            if let Some(profile) = str_of(input, "IamInstanceProfile") {
                push_pass_role(dir, profile, &mut out, unresolved);
            }
        }
        ("iam", "AddRoleToInstanceProfile") => {
            // Putting a role in a profile lets whoever uses the profile act as the role.
            if let Some(role) = str_of(input, "RoleName") {
                out.push(check(
                    "iam:PassRole",
                    format!("arn:{}:iam::{}:role/{role}", target.partition, target.account_id),
                    BTreeMap::new(),
                    true,
                ));
            }
        }
        ("autoscaling", "CreateAutoScalingGroup" | "UpdateAutoScalingGroup") => {
            if let Some(lt) = input.get("LaunchTemplate").or_else(|| {
                input
                    .get("MixedInstancesPolicy")
                    .and_then(|m| m.get("LaunchTemplate"))
                    .and_then(|l| l.get("LaunchTemplateSpecification"))
            }) {
                let ec2 = format!("arn:{}:ec2:{}:{}", target.partition, target.region, target.account_id);
                let run = |r: String| check("ec2:RunInstances", r, BTreeMap::new(), true);
                out.push(run(format!("{ec2}:instance/*")));
                out.push(run(format!("{ec2}:network-interface/*")));
                out.push(run(format!("{ec2}:volume/*")));
                let mut subnets = Vec::new();
                collect_strings(input.get("VPCZoneIdentifier").unwrap_or(&Value::Null), &mut subnets);
                subnets.iter().for_each(|s| out.push(run(format!("{ec2}:subnet/{s}"))));
                // What the instances get comes from the template: without it, the checks
                // it implies (PassRole above all) cannot be known, so the gate refuses.
                push_launch_template(dir, lt, &Value::Null, target, &mut out, unresolved);
            }
            if operation == "CreateAutoScalingGroup" {
                out.extend(slr_if_missing(dir, "autoscaling.amazonaws.com", target));
            }
        }
        ("elasticloadbalancing", "CreateLoadBalancer") => {
            let tags = tags_of(input.get("Tags"));
            if !tags.is_empty() {
                let name = str_of(input, "LoadBalancerName").unwrap_or("*");
                out.push(check(
                    "elasticloadbalancing:AddTags",
                    format!("{arn_prefix}:loadbalancer/{name}"),
                    tag_context(&tags),
                    true,
                ));
            }
            out.extend(slr_if_missing(dir, "elasticloadbalancing.amazonaws.com", target));
        }
        ("secretsmanager", "CreateSecret") => {
            let tags = tags_of(input.get("Tags"));
            if !tags.is_empty() {
                let name = str_of(input, "Name").unwrap_or("*");
                out.push(check(
                    "secretsmanager:TagResource",
                    format!("{arn_prefix}:secret:{name}{SECRET_SUFFIX}"),
                    tag_context(&tags),
                    true,
                ));
            }
        }
        ("tag", "TagResources") => {
            // The tagging API also needs the owning service's own tagging permission.
            let mut arns = Vec::new();
            collect_strings(input.get("ResourceARNList").unwrap_or(&Value::Null), &mut arns);
            let tags: Vec<(String, String)> = input
                .get("Tags")
                .and_then(Value::as_object)
                .map(|m| m.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string())).collect())
                .unwrap_or_default();
            for arn in arns {
                let owner = arn.split(':').nth(2).unwrap_or_default();
                let tag_action = match owner {
                    "ec2" => "ec2:CreateTags",
                    "elasticloadbalancing" => "elasticloadbalancing:AddTags",
                    "autoscaling" => "autoscaling:CreateOrUpdateTags",
                    "secretsmanager" => "secretsmanager:TagResource",
                    other => {
                        unresolved.push(format!("tagging a `{other}` resource needs that service's own permission, which the gate does not model"));
                        continue;
                    }
                };
                out.push(check(tag_action, arn, tag_context(&tags), true));
            }
        }
        ("tag", "UntagResources") => {
            let mut arns = Vec::new();
            collect_strings(input.get("ResourceARNList").unwrap_or(&Value::Null), &mut arns);
            let mut keys = Vec::new();
            collect_strings(input.get("TagKeys").unwrap_or(&Value::Null), &mut keys);
            let ctx =
                if keys.is_empty() { BTreeMap::new() } else { BTreeMap::from([("aws:TagKeys".to_string(), keys)]) };
            for arn in arns {
                let untag_action = match arn.split(':').nth(2).unwrap_or_default() {
                    "ec2" => "ec2:DeleteTags",
                    "elasticloadbalancing" => "elasticloadbalancing:RemoveTags",
                    "autoscaling" => "autoscaling:DeleteTags",
                    "secretsmanager" => "secretsmanager:UntagResource",
                    other => {
                        unresolved.push(format!("untagging a `{other}` resource needs that service's own permission, which the gate does not model"));
                        continue;
                    }
                };
                out.push(check(untag_action, arn, ctx.clone(), true));
            }
        }
        _ => {}
    }
    out.sort();
    out.dedup();
    out
}

/// Adds the PassRole of an instance profile's role, or notes why it cannot be named.
fn push_pass_role(dir: &dyn Directory, profile: &str, out: &mut Vec<Derived>, unresolved: &mut Vec<String>) {
    match pass_role(dir, profile) {
        Ok(c) => out.push(c),
        Err(e) => unresolved.push(e),
    }
}

/// What the instances launched from a template imply: RunInstances on the template and
/// on the image, groups and key it supplies, CreateTags for its tags, PassRole for its
/// profile's role. `given` names the members the request sets itself (they win).
fn push_launch_template(
    dir: &dyn Directory,
    lt: &Value,
    given: &Value,
    target: &Target,
    out: &mut Vec<Derived>,
    unresolved: &mut Vec<String>,
) {
    let key = str_of(lt, "LaunchTemplateId").or_else(|| str_of(lt, "LaunchTemplateName")).unwrap_or_default();
    let version = str_of(lt, "Version").unwrap_or("$Default");
    let ec2 = format!("arn:{}:ec2:{}:{}", target.partition, target.region, target.account_id);
    let run = |r: String| check("ec2:RunInstances", r, BTreeMap::new(), true);
    let info = match dir.launch_template(key, version) {
        Ok(info) => info,
        Err(e) => {
            unresolved.push(format!("launch template `{key}` version `{version}`: {e}"));
            return;
        }
    };
    out.push(run(format!("{ec2}:launch-template/{}", info.id)));
    if let Some(image) = info.image_id.as_ref().filter(|_| given.get("ImageId").is_none()) {
        out.push(run(format!("arn:{}:ec2:{}::image/{image}", target.partition, target.region)));
    }
    info.security_group_ids.iter().for_each(|g| out.push(run(format!("{ec2}:security-group/{g}"))));
    if let Some(k) = info.key_name.as_ref().filter(|_| given.get("KeyName").is_none()) {
        out.push(run(format!("{ec2}:key-pair/{k}")));
    }
    for (rtype, tags) in &info.tag_specifications {
        let mut ctx = tag_context(tags);
        ctx.insert("ec2:CreateAction".into(), vec!["RunInstances".into()]);
        out.push(check("ec2:CreateTags", format!("{ec2}:{rtype}/*"), ctx, true));
    }
    if let Some(profile) = info.instance_profile.as_ref().filter(|_| given.get("IamInstanceProfile").is_none()) {
        push_pass_role(dir, profile, out, unresolved);
    }
}

fn pass_role(dir: &dyn Directory, profile: &str) -> Result<Derived, String> {
    let role = dir.instance_profile_role(profile).ok_or_else(|| {
        format!("instance profile `{profile}` does not resolve to a role, so iam:PassRole cannot be checked")
    })?;
    Ok(check(
        "iam:PassRole",
        role,
        BTreeMap::from([("iam:PassedToService".to_string(), vec!["ec2.amazonaws.com".to_string()])]),
        true,
    ))
}

fn slr_if_missing(dir: &dyn Directory, service: &str, target: &Target) -> Vec<Derived> {
    if dir.service_linked_role_exists(service) {
        return Vec::new();
    }
    let name = SERVICE_LINKED_ROLES.iter().find(|(s, _)| *s == service).map(|(_, n)| *n).unwrap_or_default();
    vec![check(
        "iam:CreateServiceLinkedRole",
        format!("arn:{}:iam::{}:role/aws-service-role/{service}/{name}", target.partition, target.account_id),
        BTreeMap::from([("iam:AWSServiceName".to_string(), vec![service.to_string()])]),
        true,
    )]
}

/// AWS names most service-linked roles `AWSServiceRoleFor<Service>`; the gate only needs
/// a faithful name for the three services it knows, and a plausible one otherwise.
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

/// The ARN resource type of an EC2 id, by its prefix.
pub fn ec2_type_of_id(id: &str) -> &'static str {
    match id.split('-').next().unwrap_or_default() {
        "vpc" => "vpc",
        "subnet" => "subnet",
        "sg" => "security-group",
        "i" => "instance",
        "rtb" => "route-table",
        "igw" => "internet-gateway",
        "nat" => "natgateway",
        "eipalloc" => "elastic-ip",
        "eni" => "network-interface",
        "lt" => "launch-template",
        "vol" => "volume",
        "ami" => "image",
        "snap" => "snapshot",
        "key" => "key-pair",
        _ => "*",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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
        fn launch_template(&self, id: &str, _: &str) -> Result<LaunchTemplateInfo, String> {
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
        assert!(
            ar.contains(&("ec2:CreateSubnet".into(), "arn:aws:ec2:us-west-2:000000000000:subnet/*".into())),
            "{ar:?}"
        );
        assert!(
            ar.contains(&("ec2:CreateSubnet".into(), "arn:aws:ec2:us-west-2:000000000000:vpc/vpc-1".into())),
            "{ar:?}"
        );
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
            fn launch_template(&self, _: &str, _: &str) -> Result<LaunchTemplateInfo, String> {
                Err("unknown".into())
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
        assert_eq!(
            gate_outcome(&deny_untagged, "ec2", "CreateVpc", &create_vpc(&[("owner", "team-a")])),
            Outcome::Allowed
        );
        assert_eq!(gate_outcome(&deny_untagged, "ec2", "CreateVpc", &create_vpc(&[])), Outcome::ExplicitDeny);
        assert_eq!(
            gate_outcome(&deny_untagged, "ec2", "CreateVpc", &create_vpc(&[("Name", "x")])),
            Outcome::ExplicitDeny
        );
        let deny_value = format!(
            "Version: 2012-10-17\nStatement:\n- Effect: Allow\n  Action: ec2:CreateVpc\n  Resource: '*'\n- Effect: Deny\n  Action: ec2:CreateVpc\n  Resource: arn:aws:ec2:*:*:vpc/*\n  Condition:\n    StringEquals:\n      aws:RequestTag/owner: intruder{tag_on_create}"
        );
        assert_eq!(
            gate_outcome(&deny_value, "ec2", "CreateVpc", &create_vpc(&[("owner", "intruder")])),
            Outcome::ExplicitDeny
        );
        assert_eq!(
            gate_outcome(&deny_value, "ec2", "CreateVpc", &create_vpc(&[("owner", "team-a")])),
            Outcome::Allowed
        );
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
}
