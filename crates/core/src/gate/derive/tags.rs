//! Tags in requests: the CreateTags check of EC2's tags on create, the tags a create
//! action's own check carries, what tagging and untagging calls set or remove, and the
//! Resource Groups Tagging API's checks on each owning service (docs/aws-facts.md,
//! "Implicit authorization checks" and "Condition keys").

use std::collections::BTreeMap;

use serde_json::Value;

use super::resources::collect_strings;
use super::{Call, Derivation, Derived, check, str_of};

/// Where an untagging request names the keys it removes.
#[derive(Clone, Copy)]
enum UntagKeys {
    /// `Tags: [{Key, …}]`.
    TagsKey,
    /// `TagKeys: [key, …]`.
    TagKeys,
}

/// Each service's own tagging calls: (service, tagging operation, untagging operation,
/// where the untagging call names its keys).
const TAGGING: &[(&str, &str, &str, UntagKeys)] = &[
    ("ec2", "CreateTags", "DeleteTags", UntagKeys::TagsKey),
    ("elasticloadbalancing", "AddTags", "RemoveTags", UntagKeys::TagsKey),
    ("autoscaling", "CreateOrUpdateTags", "DeleteTags", UntagKeys::TagsKey),
    ("secretsmanager", "TagResource", "UntagResource", UntagKeys::TagKeys),
];

/// Whether the call is one of its service's own tagging or untagging calls.
pub(super) fn is_tagging_call(call: &Call<'_>) -> bool {
    TAGGING.iter().any(|(s, tag, untag, _)| *s == call.service && (*tag == call.operation || *untag == call.operation))
}

/// What a tagging call sets (`aws:RequestTag/…`, `aws:TagKeys`) or an untagging call
/// removes (`aws:TagKeys`); nothing for other calls.
pub(super) fn own_tag_context(call: &Call<'_>) -> BTreeMap<String, Vec<String>> {
    let Some((_, tag, untag, keys)) = TAGGING.iter().find(|(s, ..)| *s == call.service) else {
        return BTreeMap::new();
    };
    if call.operation == *tag {
        tag_context(&tags_of(call.input.get("Tags")))
    } else if call.operation == *untag {
        key_context(untag_keys(call.input, *keys))
    } else {
        BTreeMap::new()
    }
}

fn untag_keys(input: &Value, keys: UntagKeys) -> Vec<String> {
    match keys {
        UntagKeys::TagsKey => input
            .get("Tags")
            .and_then(Value::as_array)
            .map(|t| t.iter().filter_map(|t| str_of(t, "Key").map(str::to_string)).collect())
            .unwrap_or_default(),
        UntagKeys::TagKeys => {
            let mut out = Vec::new();
            collect_strings(input.get("TagKeys").unwrap_or(&Value::Null), &mut out);
            out
        }
    }
}

/// EC2's tags on create: one implicit ec2:CreateTags per `TagSpecifications` entry, with
/// `ec2:CreateAction` naming the creating operation.
pub(super) fn ec2_tags_on_create(call: &Call<'_>) -> Vec<Derived> {
    if call.service != "ec2" {
        return Vec::new();
    }
    let Some(specs) = call.input.get("TagSpecifications").and_then(Value::as_array) else { return Vec::new() };
    specs
        .iter()
        .map(|spec| {
            let rtype = str_of(spec, "ResourceType").unwrap_or("*");
            create_tags(&call.arn_prefix, rtype, &tags_of(spec.get("Tags")), call.operation)
        })
        .collect()
}

/// The implicit ec2:CreateTags check of tagging resources of `rtype` while `create_action`
/// creates them.
pub(super) fn create_tags(ec2_prefix: &str, rtype: &str, tags: &[(String, String)], create_action: &str) -> Derived {
    let mut ctx = tag_context(tags);
    ctx.insert("ec2:CreateAction".into(), vec![create_action.to_string()]);
    check("ec2:CreateTags", format!("{ec2_prefix}:{rtype}/*"), ctx, true)
}

/// `aws:RequestTag/<key>` and `aws:TagKeys` on a create action's own check, from the
/// tags the request carries for that check's resource type (EC2's `TagSpecifications`,
/// else `Tags`), and only the keys the catalog lists for the action or that type
/// (docs/aws-facts.md, "Condition keys").
pub(super) fn request_tags_on_create(call: &Call<'_>, resource: &str) -> BTreeMap<String, Vec<String>> {
    let Some(a) = call.catalog.action(&call.action) else { return BTreeMap::new() };
    let types = call.catalog.classify(&a, resource);
    let listed = |key: &str| {
        a.action.condition_keys.iter().any(|k| k == key)
            || a.action
                .resources
                .iter()
                .filter(|r| types.contains(&r.resource_type))
                .any(|r| r.condition_keys.iter().any(|k| k == key))
    };
    let tags: Vec<(String, String)> = if call.service == "ec2" {
        call.input
            .get("TagSpecifications")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter(|spec| str_of(spec, "ResourceType").is_some_and(|t| types.iter().any(|x| x == t)))
            .flat_map(|spec| tags_of(spec.get("Tags")))
            .collect()
    } else {
        tags_of(call.input.get("Tags"))
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

/// tag:TagResources and tag:UntagResources also need each owning service's own tagging
/// permission on every resource they name; a service the gate does not model is unresolved.
pub(super) fn tagging_api(call: &Call<'_>, out: &mut Derivation) {
    let tagging = call.operation == "TagResources";
    let mut arns = Vec::new();
    collect_strings(call.input.get("ResourceARNList").unwrap_or(&Value::Null), &mut arns);
    let ctx = if tagging {
        let tags: Vec<(String, String)> = call
            .input
            .get("Tags")
            .and_then(Value::as_object)
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string())).collect())
            .unwrap_or_default();
        tag_context(&tags)
    } else {
        key_context(untag_keys(call.input, UntagKeys::TagKeys))
    };
    for arn in arns {
        let owner = arn.split(':').nth(2).unwrap_or_default();
        match TAGGING.iter().find(|(s, ..)| *s == owner) {
            Some((_, tag, untag, _)) => {
                let action = format!("{owner}:{}", if tagging { tag } else { untag });
                out.checks.push(check(&action, arn, ctx.clone(), true));
            }
            None => out.unresolved.push(format!(
                "{} a `{owner}` resource needs that service's own permission, which the gate does not model",
                if tagging { "tagging" } else { "untagging" }
            )),
        }
    }
}

/// `Key`/`Value` pairs of a `Tags` list.
pub(super) fn tags_of(v: Option<&Value>) -> Vec<(String, String)> {
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

/// The condition keys a request setting `tags` supplies.
pub(super) fn tag_context(tags: &[(String, String)]) -> BTreeMap<String, Vec<String>> {
    let mut ctx = BTreeMap::new();
    for (k, v) in tags {
        ctx.insert(format!("aws:RequestTag/{k}"), vec![v.clone()]);
    }
    if !tags.is_empty() {
        ctx.insert("aws:TagKeys".into(), tags.iter().map(|(k, _)| k.clone()).collect());
    }
    ctx
}

/// The condition key a request removing `keys` supplies (none when it names none).
fn key_context(keys: Vec<String>) -> BTreeMap<String, Vec<String>> {
    if keys.is_empty() { BTreeMap::new() } else { BTreeMap::from([("aws:TagKeys".to_string(), keys)]) }
}
