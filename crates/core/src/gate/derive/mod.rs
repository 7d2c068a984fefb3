//! What a request asks AWS to authorize, derived from the request alone (never from the
//! scenario file), so that the gate and the scenarios are two independent models of AWS.
//!
//! One file per rule family: `own` (the operation's own action and its context),
//! `resources` (the resources the catalog's ARN formats and the input name), `implicit`
//! (the checks AWS adds on other actions) and `tags` (tags on create and the tagging
//! calls). The facts behind them are in docs/aws-facts.md, "Implicit authorization
//! checks" and "Condition keys".

mod implicit;
mod own;
mod resources;
mod tags;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use serde_json::Value;

use crate::catalog::Catalog;
use crate::template::render::Target;

pub use crate::context::world::{LaunchTemplateInfo, ec2_type_of_id};

/// One authorization check the gate derived.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct Derived {
    /// The action AWS authorizes, `service:Operation`.
    pub action: String,
    /// The ARN it is authorized on (`*` where the request names none).
    pub resource: String,
    /// The condition keys the request supplies for this check.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub context: BTreeMap<String, Vec<String>>,
    /// Whether AWS makes the check on top of the operation's own action.
    pub implicit: bool,
    /// The condition keys the gate's decision of this check read (set when deciding).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keys_read: Vec<String>,
}

/// Why a launch template's data could not be read (the check it implies stays unresolved).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TemplateUnread {
    /// The emulator's Describe call did not answer, or not readably.
    #[error("the emulator did not describe it")]
    NotDescribed,
    /// The emulator knows no such template, or not at that version.
    #[error("the emulator knows no such template version")]
    NoSuchVersion,
}

/// Lookups into the emulator's state that a derivation needs. Implemented over HTTP by
/// the gate and by plain maps in tests.
pub trait Directory {
    /// The ARN of the role in an instance profile (given by name or ARN).
    fn instance_profile_role(&self, profile: &str) -> Option<String>;
    /// The launch template's data at `version` (`$Latest`, `$Default` or a number); `Err`
    /// says why it cannot be read.
    fn launch_template(&self, id_or_name: &str, version: &str) -> Result<LaunchTemplateInfo, TemplateUnread>;
    /// Whether the service-linked role of a service principal exists.
    fn service_linked_role_exists(&self, service_principal: &str) -> bool;
    /// The ARN of an existing Auto Scaling group (its ARN holds an id the request lacks).
    fn auto_scaling_group_arn(&self, name: &str) -> Option<String>;
    /// The resources an EC2 association id ties together, as ARNs: the route table and
    /// subnet of a `rtbassoc-`, the Elastic IP of an `eipassoc-`.
    fn association_resources(&self, association_id: &str) -> Vec<String>;
    /// The Auto Scaling group an instance belongs to.
    fn instance_group(&self, instance_id: &str) -> Option<String>;
    /// The tags a resource (an ARN) carries now, for the request context's
    /// `aws:ResourceTag/*` keys; `None` when it cannot be looked up.
    fn resource_tags(&self, _resource: &str) -> Option<Vec<(String, String)>> {
        None
    }
    /// The tags IAM holds for a role (by name), for `aws:PrincipalTag/*`; `None` when they
    /// cannot be looked up.
    fn role_tags(&self, _role_name: &str) -> Option<Vec<(String, String)>> {
        None
    }
}

/// Service principal → the name AWS gives its service-linked role (docs/aws-facts.md,
/// "Service-linked roles").
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

/// Calls AWS answers without any authorization check, so the gate lets them through:
/// sts:GetCallerIdentity needs no permission and no Deny stops it (STS API Reference,
/// GetCallerIdentity).
pub const NO_AUTHORIZATION: &[(&str, &str)] = &[("sts", "GetCallerIdentity")];

/// What a request implies: the checks the gate could derive, and what it could not
/// resolve (an instance profile, a launch template, a group…). The gate denies when a
/// derived check is denied, and otherwise refuses when anything is unresolved.
#[derive(Clone, Debug, Default)]
pub struct Derivation {
    /// Every check derived, sorted, without duplicates.
    pub checks: Vec<Derived>,
    /// Why some checks cannot be known, one sentence each, in the order met.
    pub unresolved: Vec<String>,
}

impl Derivation {
    /// Appends another family's checks and unresolved lookups (kept in order).
    fn merge(&mut self, other: Derivation) {
        self.checks.extend(other.checks);
        self.unresolved.extend(other.unresolved);
    }
}

/// Derives every check of one request. What it cannot know (an instance profile the
/// emulator cannot resolve to a role) is listed as unresolved, so that the gate refuses
/// the request rather than skip a check.
pub fn derive(
    catalog: &Catalog,
    service: &str,
    operation: &str,
    input: &Value,
    target: &Target,
    dir: &dyn Directory,
) -> Derivation {
    let call = Call {
        catalog,
        service,
        operation,
        action: format!("{service}:{operation}"),
        input,
        target,
        dir,
        arn_prefix: format!("arn:{}:{}:{}:{}", target.partition, service, target.region, target.account_id),
    };
    let mut out = own::checks(&call);
    out.checks.extend(tags::ec2_tags_on_create(&call));
    out.merge(implicit::checks(&call));
    out.checks.sort();
    out.checks.dedup();
    out
}

/// One request as the rule families see it.
struct Call<'a> {
    catalog: &'a Catalog,
    service: &'a str,
    operation: &'a str,
    /// `service:Operation`, the operation's own action.
    action: String,
    input: &'a Value,
    target: &'a Target,
    dir: &'a dyn Directory,
    /// `arn:<partition>:<service>:<region>:<account>`, how the service's own ARNs begin.
    arn_prefix: String,
}

impl Call<'_> {
    fn is(&self, service: &str, operation: &str) -> bool {
        self.service == service && self.operation == operation
    }

    /// How EC2 ARNs begin in the target, for checks other services' calls imply.
    fn ec2_prefix(&self) -> String {
        format!("arn:{}:ec2:{}:{}", self.target.partition, self.target.region, self.target.account_id)
    }

    /// The ARN of a role of the target's account.
    fn role_arn(&self, path_and_name: &str) -> String {
        format!("arn:{}:iam::{}:role/{path_and_name}", self.target.partition, self.target.account_id)
    }

    /// The ARN the gate gives a secret by name (with the stand-in suffix).
    fn secret_arn(&self, name: &str) -> String {
        format!("{}:secret:{name}{SECRET_SUFFIX}", self.arn_prefix)
    }
}

fn str_of<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

fn check(action: &str, resource: String, context: BTreeMap<String, Vec<String>>, implicit: bool) -> Derived {
    Derived { action: action.to_string(), resource, context, implicit, keys_read: Vec::new() }
}
