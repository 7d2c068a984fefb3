//! The world model: which resources exist and what tags they carry, as the profile's own
//! calls build them. Statically, the fixtures and then the scenarios a scenario needs
//! (transitively, in dependency order) are replayed on an in-memory map: a create with
//! `TagSpecifications` gives what it `produces` those tags, `CreateTags` adds, `DeleteTags`
//! removes. A scenario sees what the calls it needs made; a resource no call created (an
//! AMI from a lookup, a resource named by id alone) is not known, so its tags are not
//! modelled. Only EC2 resources are tracked, by their id.
//!
//! Live, the gate looks a resource's tags up in the emulator when a policy reads them
//! (`crates/live/src/gate_server.rs`). Its other lookups (an instance profile's role, a
//! launch template's data, a service-linked role, a group's ARN) it answers from
//! [`Observed`], its record of what passed through it, where that record knows.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::Value;

use super::ResourceTags;
use crate::scenario::{Fixture, Profile, Scenario};

/// The tags of the resources known: EC2's by id; classic load balancers, Auto Scaling
/// groups, secrets and IAM roles by name ([`NamedResource`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Snapshot {
    tags: BTreeMap<String, Vec<(String, String)>>,
    named: BTreeMap<NamedResource, Vec<(String, String)>>,
}

impl Snapshot {
    /// Whether nothing is known.
    pub fn is_empty(&self) -> bool {
        self.tags.is_empty() && self.named.is_empty()
    }

    /// The tags of the resource with EC2 id `id`, when it is known.
    pub fn tags_of_id(&self, id: &str) -> Option<&[(String, String)]> {
        self.tags.get(id).map(Vec::as_slice)
    }

    /// Applies one call's effect on tags: what it creates (its `produces` ids) with the
    /// tags its `TagSpecifications` give their type, and what `CreateTags` and `DeleteTags`
    /// change on known resources.
    pub fn apply(&mut self, service: &str, operation: &str, input: &Value, produces: &BTreeMap<String, String>) {
        if service != "ec2" {
            self.apply_named(service, operation, input);
            return;
        }
        match operation {
            "CreateTags" => {
                let tags = pairs(input.get("Tags"));
                for id in strings(input.get("Resources")) {
                    if let Some(known) = self.tags.get_mut(&id) {
                        for (k, v) in &tags {
                            known.retain(|(x, _)| x != k);
                            known.push((k.clone(), v.clone()));
                        }
                    }
                }
            }
            "DeleteTags" => {
                let removed: Vec<(String, Option<String>)> = input
                    .get("Tags")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|t| {
                        Some((
                            t.get("Key")?.as_str()?.to_string(),
                            t.get("Value").and_then(Value::as_str).map(str::to_string),
                        ))
                    })
                    .collect();
                for id in strings(input.get("Resources")) {
                    if let Some(known) = self.tags.get_mut(&id) {
                        known.retain(|(k, v)| {
                            !removed.iter().any(|(rk, rv)| rk == k && rv.as_ref().is_none_or(|rv| rv == v))
                        });
                    }
                }
            }
            // Lookups name resources that exist already; only creating calls make them.
            op if is_create(op) => {
                let specs: Vec<(String, Vec<(String, String)>)> = input
                    .get("TagSpecifications")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .map(|s| {
                        (
                            s.get("ResourceType").and_then(Value::as_str).unwrap_or_default().to_string(),
                            pairs(s.get("Tags")),
                        )
                    })
                    .collect();
                for id in produces.keys() {
                    let rtype = ec2_type_of_id(id);
                    let tags = specs.iter().filter(|(t, _)| t == rtype).flat_map(|(_, tags)| tags.clone()).collect();
                    self.tags.insert(id.clone(), tags);
                }
            }
            _ => {}
        }
    }
}

impl Snapshot {
    /// Applies what a call does to the tags of the [`NamedResource`]s it names.
    fn apply_named(&mut self, service: &str, operation: &str, input: &Value) {
        for (resource, change) in named_changes(service, operation, input) {
            match change {
                TagChange::Create(tags) => {
                    self.named.insert(resource, tags);
                }
                TagChange::Delete => {
                    self.named.remove(&resource);
                }
                TagChange::Set(set) => {
                    let Some(known) = self.named.get_mut(&resource) else { continue };
                    for (key, value) in set {
                        known.retain(|(k, _)| *k != key);
                        known.extend(value.map(|v| (key, v)));
                    }
                }
            }
        }
    }
}

/// A resource that its ARN names rather than an EC2 id, by its name. The ARN formats:
/// Service Authorization Reference, "Resource types" of Elastic Load Balancing, Amazon EC2
/// Auto Scaling, AWS Secrets Manager and IAM.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum NamedResource {
    /// A classic load balancer: `loadbalancer/<name>` (ELBv2's `loadbalancer/app/…` is not).
    LoadBalancer(String),
    /// An Auto Scaling group: `autoScalingGroup:<id>:autoScalingGroupName/<name>`.
    Group(String),
    /// A secret: `secret:<name>-<six characters>` (AWS Secrets Manager API Reference,
    /// CreateSecret: "The ARN includes the name of the secret followed by six random
    /// characters").
    Secret(String),
    /// An IAM role: `role/<path><name>`; names are unique in an account whatever the path.
    Role(String),
}

impl NamedResource {
    /// The resource `arn` names, when it is one of these.
    pub fn of_arn(arn: &str) -> Option<NamedResource> {
        let parts: Vec<&str> = arn.splitn(6, ':').collect();
        let (service, resource) = (*parts.get(2)?, *parts.get(5)?);
        let named = match service {
            "elasticloadbalancing" => {
                NamedResource::LoadBalancer(resource.strip_prefix("loadbalancer/").filter(|n| !n.contains('/'))?.into())
            }
            "autoscaling" => {
                let (_, name) = resource.strip_prefix("autoScalingGroup:")?.split_once(":autoScalingGroupName/")?;
                NamedResource::Group(name.into())
            }
            "secretsmanager" => {
                let with_suffix = resource.strip_prefix("secret:")?;
                let (name, suffix) = with_suffix.split_at_checked(with_suffix.len().checked_sub(7)?)?;
                let random = suffix.strip_prefix('-').filter(|r| r.bytes().all(|b| b.is_ascii_alphanumeric()));
                (random.is_some() && !name.is_empty()).then(|| NamedResource::Secret(name.into()))?
            }
            "iam" => NamedResource::Role(resource.strip_prefix("role/")?.rsplit('/').next()?.into()),
            _ => return None,
        };
        Some(named)
    }
}

/// What a call does to a named resource's tags.
enum TagChange {
    /// Made, with these tags.
    Create(Vec<(String, String)>),
    /// Each key set to its value, or removed (`None`).
    Set(Vec<(String, Option<String>)>),
    /// Deleted.
    Delete,
}

/// The tag changes of one call (Elastic Load Balancing API Reference 2012-06-01:
/// CreateLoadBalancer `Tags`, AddTags, RemoveTags, DeleteLoadBalancer; Amazon EC2 Auto
/// Scaling API Reference: CreateAutoScalingGroup `Tags`, CreateOrUpdateTags, DeleteTags,
/// whose `Tag` names its group by `ResourceId`, DeleteAutoScalingGroup; AWS Secrets Manager
/// API Reference: CreateSecret `Tags`, TagResource, UntagResource `TagKeys`, DeleteSecret,
/// each naming its secret by `SecretId`, a name or an ARN; IAM API Reference: CreateRole
/// `Tags`, TagRole, UntagRole `TagKeys`, DeleteRole).
fn named_changes(service: &str, operation: &str, input: &Value) -> Vec<(NamedResource, TagChange)> {
    use NamedResource::{Group, LoadBalancer, Role, Secret};
    let text = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
    let name = |k: &str| text(input, k);
    let secret = || {
        let id = name("SecretId")?;
        if id.starts_with("arn:") {
            NamedResource::of_arn(&id).filter(|r| matches!(r, Secret(_)))
        } else {
            Some(Secret(id))
        }
    };
    let created = || TagChange::Create(pairs(input.get("Tags")));
    let tagged = || TagChange::Set(pairs(input.get("Tags")).into_iter().map(|(k, v)| (k, Some(v))).collect());
    let untagged = || TagChange::Set(strings(input.get("TagKeys")).into_iter().map(|k| (k, None)).collect());
    // Tag entries with their key, and their value when the call sets them.
    let entries = |sets: bool| {
        input
            .get("Tags")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(move |t| Some((t, text(t, "Key")?, sets.then(|| text(t, "Value").unwrap_or_default()))))
    };
    let one =
        |resource: Option<NamedResource>, change: TagChange| resource.map(|r| vec![(r, change)]).unwrap_or_default();
    match (service, operation) {
        ("iam", "CreateRole") => one(name("RoleName").map(Role), created()),
        ("iam", "TagRole") => one(name("RoleName").map(Role), tagged()),
        ("iam", "UntagRole") => one(name("RoleName").map(Role), untagged()),
        ("iam", "DeleteRole") => one(name("RoleName").map(Role), TagChange::Delete),
        ("secretsmanager", "CreateSecret") => one(name("Name").map(Secret), created()),
        ("secretsmanager", "TagResource") => one(secret(), tagged()),
        ("secretsmanager", "UntagResource") => one(secret(), untagged()),
        ("secretsmanager", "DeleteSecret") => one(secret(), TagChange::Delete),
        ("elasticloadbalancing", "CreateLoadBalancer") => one(name("LoadBalancerName").map(LoadBalancer), created()),
        ("elasticloadbalancing", "AddTags" | "RemoveTags") => {
            let set: Vec<(String, Option<String>)> = entries(operation == "AddTags").map(|(_, k, v)| (k, v)).collect();
            let names = strings(input.get("LoadBalancerNames"));
            names.into_iter().map(|n| (LoadBalancer(n), TagChange::Set(set.clone()))).collect()
        }
        ("elasticloadbalancing", "DeleteLoadBalancer") => {
            one(name("LoadBalancerName").map(LoadBalancer), TagChange::Delete)
        }
        ("autoscaling", "CreateAutoScalingGroup") => one(name("AutoScalingGroupName").map(Group), created()),
        ("autoscaling", "CreateOrUpdateTags" | "DeleteTags") => entries(operation == "CreateOrUpdateTags")
            .filter_map(|(t, k, v)| Some((Group(text(t, "ResourceId")?), TagChange::Set(vec![(k, v)]))))
            .collect(),
        ("autoscaling", "DeleteAutoScalingGroup") => one(name("AutoScalingGroupName").map(Group), TagChange::Delete),
        _ => Vec::new(),
    }
}

fn is_create(operation: &str) -> bool {
    ["Create", "Run", "Allocate", "Import", "Copy"].iter().any(|p| operation.starts_with(p))
}

impl ResourceTags for Snapshot {
    fn tags(&self, resource: &str) -> Option<Vec<(String, String)>> {
        let parts: Vec<&str> = resource.splitn(6, ':').collect();
        if parts.len() < 6 {
            return None;
        }
        if parts[2] != "ec2" {
            return self.named.get(&NamedResource::of_arn(resource)?).cloned();
        }
        let id = parts[5].rsplit('/').next()?;
        self.tags.get(id).cloned()
    }
}

/// `Key`/`Value` pairs of a tag list.
fn pairs(v: Option<&Value>) -> Vec<(String, String)> {
    v.and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|t| {
            Some((
                t.get("Key")?.as_str()?.to_string(),
                t.get("Value").and_then(Value::as_str).unwrap_or_default().to_string(),
            ))
        })
        .collect()
}

fn strings(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a.iter().filter_map(|x| x.as_str().map(str::to_string)).collect(),
        _ => Vec::new(),
    }
}

/// The world each scenario of a profile sees: the fixtures', then those of the scenarios
/// it needs (transitively), in dependency order.
pub fn replay(profile: &Profile) -> HashMap<String, Snapshot> {
    replay_calls(&profile.fixtures, &profile.scenarios)
}

/// [`replay`] of `fixtures`, then `scenarios`.
pub fn replay_calls(fixtures: &[Fixture], scenarios: &[Scenario]) -> HashMap<String, Snapshot> {
    let mut base = Snapshot::default();
    for f in fixtures {
        base.apply(&f.service, &f.operation, &f.input, &f.produces);
    }
    let by_id: HashMap<&str, usize> = scenarios.iter().enumerate().map(|(i, s)| (s.id.as_str(), i)).collect();
    // Dependency order: each scenario after everything it needs.
    let mut order = Vec::new();
    let mut seen = HashSet::new();
    fn visit(
        i: usize,
        scenarios: &[Scenario],
        by_id: &HashMap<&str, usize>,
        seen: &mut HashSet<usize>,
        order: &mut Vec<usize>,
    ) {
        if !seen.insert(i) {
            return;
        }
        for n in &scenarios[i].needs {
            if let Some(&j) = by_id.get(n.as_str()) {
                visit(j, scenarios, by_id, seen, order);
            }
        }
        order.push(i);
    }
    for i in 0..scenarios.len() {
        visit(i, scenarios, &by_id, &mut seen, &mut order);
    }
    let position: HashMap<usize, usize> = order.iter().enumerate().map(|(p, &i)| (i, p)).collect();
    let mut out = HashMap::new();
    for s in scenarios {
        // Everything it needs, transitively.
        let mut closure = HashSet::new();
        let mut stack: Vec<usize> = s.needs.iter().filter_map(|n| by_id.get(n.as_str()).copied()).collect();
        while let Some(j) = stack.pop() {
            if closure.insert(j) {
                stack.extend(scenarios[j].needs.iter().filter_map(|n| by_id.get(n.as_str()).copied()));
            }
        }
        let mut before: Vec<usize> = closure.into_iter().collect();
        before.sort_by_key(|j| position[j]);
        let mut world = base.clone();
        for j in before {
            let n = &scenarios[j];
            world.apply(&n.service, &n.operation, &n.input, &n.produces);
        }
        out.insert(s.id.clone(), world);
    }
    out
}

/// The gate's record of what the successful calls that passed through it established in
/// the emulator, so that its lookups (`gate::derive::Directory`) can be answered without
/// asking the emulator again. It knows only what it saw created (and forgets what it saw
/// deleted); anything else is `None` ("not known"), and the gate then asks the emulator.
/// Each answer is the one the emulator's own lookup would give (moto's semantics: one role
/// per instance profile; launch template versions numbered from 1, `$Latest` the last,
/// `$Default` the first until `ModifyLaunchTemplate`, which makes the template unknown).
/// Live only: the gate feeds it the request's input and the answer's body
/// (`crates/live/src/gate_server.rs`).
#[derive(Clone, Debug, Default)]
pub struct Observed {
    /// Role name → ARN (with its path), from `CreateRole` answers.
    roles: HashMap<String, String>,
    /// Instance profile name → the ARNs of its roles, for profiles created through the gate.
    profiles: HashMap<String, Vec<String>>,
    /// Launch template id → its versions, for templates created through the gate.
    templates: HashMap<String, TemplateRecord>,
    /// Launch template name → id.
    template_ids: HashMap<String, String>,
    /// Service-linked role names known to exist.
    service_linked: HashSet<String>,
    /// Auto Scaling group name → ARN, as the emulator answered it.
    groups: HashMap<String, String>,
    /// Associations, group members and absent service-linked roles.
    links: super::links::Links,
    /// Bumped by every call that may end what a lookup learnt: a lookup answered before
    /// such a call finished is not kept.
    epoch: u64,
}

/// One launch template: the data of each version (version `n` at index `n - 1`).
#[derive(Clone, Debug)]
struct TemplateRecord {
    versions: Vec<LaunchTemplateInfo>,
}

impl Observed {
    /// Records what a call that the emulator answered with 2xx established: `input` is the
    /// request's input as the wire model read it, `answer` the body of the answer. A call
    /// the record cannot follow exactly makes what it touches unknown.
    /// Returns what the gate should read again now (see [`super::links::Refresh`]).
    pub fn observe(
        &mut self,
        service: &str,
        operation: &str,
        input: &Value,
        answer: &str,
    ) -> Vec<super::links::Refresh> {
        let change = self.links.observe(service, operation, input, answer);
        if change.ends {
            self.epoch += 1;
        }
        self.record(service, operation, input, answer);
        change.refresh
    }

    fn record(&mut self, service: &str, operation: &str, input: &Value, answer: &str) {
        let s = |k: &str| input.get(k).and_then(Value::as_str);
        match (service, operation) {
            // A stack may create, replace or delete anything: forget everything.
            ("cloudformation", op)
                if !["Describe", "List", "Get", "Validate", "Estimate"].iter().any(|p| op.starts_with(p)) =>
            {
                *self = Observed { epoch: self.epoch + 1, ..Observed::default() };
            }
            ("iam", "CreateRole") => {
                if let (Some(name), Some(arn)) =
                    (s("RoleName"), crate::wire::answer_text("iam", operation, answer, "/Role/Arn"))
                    && arn.contains(":role/")
                    && arn.ends_with(&format!("/{name}"))
                {
                    self.roles.insert(name.to_string(), arn);
                }
            }
            ("iam", "DeleteRole" | "DeleteServiceLinkedRole") => {
                self.epoch += 1;
                if let Some(name) = s("RoleName") {
                    self.forget_role(name);
                }
            }
            ("iam", "CreateServiceLinkedRole") => {
                if let Some(name) = crate::wire::answer_text("iam", operation, answer, "/Role/RoleName") {
                    self.links.forget_absent_service_linked(&name);
                    self.service_linked.insert(name);
                }
            }
            ("iam", "CreateInstanceProfile") => {
                let profile_arn =
                    crate::wire::answer_text("iam", operation, answer, "/InstanceProfile/Arn").unwrap_or_default();
                // The emulator's lookup takes the first ARN with `:role/` in it: a profile
                // whose own ARN has one would be read differently.
                if let Some(name) = s("InstanceProfileName")
                    && !profile_arn.is_empty()
                    && !profile_arn.contains(":role/")
                {
                    self.profiles.insert(name.to_string(), Vec::new());
                }
            }
            ("iam", "DeleteInstanceProfile") => {
                if let Some(name) = s("InstanceProfileName") {
                    self.profiles.remove(name);
                }
            }
            ("iam", "AddRoleToInstanceProfile") => {
                let (Some(profile), Some(role)) = (s("InstanceProfileName"), s("RoleName")) else { return };
                match (self.roles.get(role).cloned(), self.profiles.get_mut(profile)) {
                    (Some(arn), Some(roles)) => roles.push(arn),
                    // A role whose ARN (path) the record does not know: the profile is unknown.
                    (None, Some(_)) => {
                        self.profiles.remove(profile);
                    }
                    _ => {}
                }
            }
            ("iam", "RemoveRoleFromInstanceProfile") => {
                let (Some(profile), Some(role)) = (s("InstanceProfileName"), s("RoleName")) else { return };
                if let Some(roles) = self.profiles.get_mut(profile) {
                    match roles.iter().position(|arn| role_name(arn) == role) {
                        Some(i) => {
                            roles.remove(i);
                        }
                        None => {
                            self.profiles.remove(profile);
                        }
                    }
                }
            }
            ("ec2", "CreateLaunchTemplate") => self.create_launch_template(input, answer),
            ("ec2", "CreateLaunchTemplateVersion") => self.create_launch_template_version(input, answer),
            ("ec2", "DeleteLaunchTemplate" | "ModifyLaunchTemplate" | "DeleteLaunchTemplateVersions") => {
                let id = s("LaunchTemplateId")
                    .map(str::to_string)
                    .or_else(|| s("LaunchTemplateName").and_then(|n| self.template_ids.get(n).cloned()));
                if let Some(id) = id {
                    self.forget_template(&id);
                }
                // The answer names the template too (ids and names are never reused for
                // another template while one is recorded). Searched as text: three calls'
                // answers, and forgetting more than needed is safe.
                if let Some(id) = crate::xml::first(answer, "launchTemplateId") {
                    self.forget_template(&id);
                }
            }
            ("autoscaling", "DeleteAutoScalingGroup") => {
                self.epoch += 1;
                if let Some(name) = s("AutoScalingGroupName") {
                    self.groups.remove(name);
                }
            }
            _ => {}
        }
    }

    fn forget_role(&mut self, name: &str) {
        self.roles.remove(name);
        self.service_linked.remove(name);
        self.profiles.retain(|_, roles| !roles.iter().any(|arn| role_name(arn) == name));
    }

    fn forget_template(&mut self, id: &str) {
        self.templates.remove(id);
        self.template_ids.retain(|_, v| v != id);
    }

    fn create_launch_template(&mut self, input: &Value, answer: &str) {
        let read = |pointer: &str| crate::wire::answer_text("ec2", "CreateLaunchTemplate", answer, pointer);
        let (Some(name), Some(id)) =
            (input.get("LaunchTemplateName").and_then(Value::as_str), read("/LaunchTemplate/LaunchTemplateId"))
        else {
            return;
        };
        // The emulator adds the template's own TagSpecifications to its data; only those
        // of the template itself (`launch-template`) are left out of what is launched.
        let own_tags_only = input
            .get("TagSpecifications")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .all(|t| t.get("ResourceType").and_then(Value::as_str) == Some("launch-template"));
        let numbers = (read("/LaunchTemplate/DefaultVersionNumber"), read("/LaunchTemplate/LatestVersionNumber"));
        let first_version =
            numbers.0.as_deref().is_none_or(|n| n == "1") && numbers.1.as_deref().is_none_or(|n| n == "1");
        match template_info(&id, input.get("LaunchTemplateData")) {
            Some(info) if own_tags_only && first_version => {
                self.template_ids.insert(name.to_string(), id.clone());
                self.templates.insert(id, TemplateRecord { versions: vec![info] });
            }
            _ => self.forget_template(&id),
        }
    }

    fn create_launch_template_version(&mut self, input: &Value, answer: &str) {
        let read = |pointer: &str| crate::wire::answer_text("ec2", "CreateLaunchTemplateVersion", answer, pointer);
        let Some(id) = read("/LaunchTemplateVersion/LaunchTemplateId") else { return };
        let number = read("/LaunchTemplateVersion/VersionNumber").and_then(|n| n.parse::<usize>().ok());
        let Some(template) = self.templates.get_mut(&id) else { return };
        // AWS builds a version from `SourceVersion` plus the changes; the emulator may not:
        // the record does not guess.
        let info = if input.get("SourceVersion").is_some() {
            None
        } else {
            template_info(&id, input.get("LaunchTemplateData"))
        };
        match (info, number) {
            (Some(info), Some(n)) if n == template.versions.len() + 1 => template.versions.push(info),
            _ => self.forget_template(&id),
        }
    }

    /// The role ARN in an instance profile (given by name or ARN): `Some(None)` when the
    /// profile is known to hold no role, `None` when the record does not know the profile.
    pub fn instance_profile_role(&self, profile: &str) -> Option<Option<String>> {
        let name = profile.rsplit('/').next().unwrap_or(profile);
        self.profiles.get(name).map(|roles| roles.first().cloned())
    }

    /// A launch template version's data, when the record knows it: by id (`lt-…`) or name,
    /// at `$Latest`, `$Default` or a version number that exists.
    pub fn launch_template(&self, id_or_name: &str, version: &str) -> Option<LaunchTemplateInfo> {
        let id = if id_or_name.starts_with("lt-") { id_or_name } else { self.template_ids.get(id_or_name)? };
        let template = self.templates.get(id)?;
        let index = match version.to_ascii_lowercase().as_str() {
            "$latest" => template.versions.len().checked_sub(1)?,
            "$default" => 0,
            n if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => n.parse::<usize>().ok()?.checked_sub(1)?,
            _ => return None,
        };
        template.versions.get(index).cloned()
    }

    /// Whether the service-linked role `name` is known to exist (`false`: not known).
    pub fn service_linked_role_exists(&self, name: &str) -> bool {
        self.service_linked.contains(name)
    }

    /// Whether the service-linked role `name` exists: `None` when the record does not know.
    pub fn service_linked_role(&self, name: &str) -> Option<bool> {
        if self.service_linked.contains(name) {
            Some(true)
        } else if self.links.service_linked_absent(name) {
            Some(false)
        } else {
            None
        }
    }

    /// Notes what the emulator said (in a lookup begun at `epoch`) of the service-linked
    /// role `name`.
    /// role `name`; `false` when something ended since, so the answer is not kept.
    pub fn learn_service_linked_role_state(&mut self, name: &str, exists: bool, epoch: u64) -> bool {
        if epoch != self.epoch {
            return false;
        }
        if exists {
            self.service_linked.insert(name.to_string());
        } else {
            self.links.learn_absent_service_linked(name);
        }
        true
    }

    /// Learns from a description the emulator gave (as `wire::output` reads it) in a call
    /// or lookup begun at `epoch`: Auto Scaling groups' ARNs and instances. Other
    /// operations teach nothing (an instance profile's roles, say: the record keeps only
    /// profiles it saw created, whose every change it sees). `false` when something ended since
    /// `epoch`, so nothing is learnt.
    pub fn learn_read(&mut self, service: &str, operation: &str, output: &Value, epoch: u64) -> bool {
        if epoch != self.epoch {
            return false;
        }
        if service == "autoscaling" {
            for (name, arn) in self.links.learn_groups(operation, output) {
                self.groups.insert(name, arn);
            }
        }
        true
    }

    /// Whether [`Self::learn_read`] learns from this operation's answers.
    pub fn learns_from(service: &str, operation: &str) -> bool {
        matches!(
            (service, operation),
            ("autoscaling", "DescribeAutoScalingGroups" | "DescribeAutoScalingInstances")
                | ("iam", "GetInstanceProfile")
        )
    }

    /// What an association id links, when the record knows.
    pub fn association(&self, id: &str) -> Option<super::links::Association> {
        self.links.association(id)
    }

    /// The Auto Scaling group holding `instance`, when the record knows.
    pub fn instance_group(&self, instance: &str) -> Option<String> {
        self.links.instance_group(instance)
    }

    /// The current epoch, read before a lookup whose answer is to be learnt.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// Notes that the emulator said (in a lookup begun at `epoch`) that the service-linked
    /// role `name` exists.
    pub fn learn_service_linked_role(&mut self, name: &str, epoch: u64) {
        if epoch == self.epoch {
            self.service_linked.insert(name.to_string());
        }
    }

    /// The ARN of the Auto Scaling group `name`, when the emulator gave it and no deletion
    /// of the group has passed since.
    pub fn auto_scaling_group_arn(&self, name: &str) -> Option<String> {
        self.groups.get(name).cloned()
    }

    /// Notes the ARN the emulator gave (in a lookup begun at `epoch`) for the Auto Scaling
    /// group `name`.
    pub fn learn_auto_scaling_group_arn(&mut self, name: &str, arn: &str, epoch: u64) {
        if epoch == self.epoch {
            self.groups.insert(name.to_string(), arn.to_string());
        }
    }
}

/// The name at the end of a role ARN.
fn role_name(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

/// What the emulator's `DescribeLaunchTemplateVersions` would give for a version created
/// with `data`, as the gate reads that answer; `None` when a value would not read back as
/// written (not a string, empty, surrounding spaces or control characters: the emulator's
/// answer is trimmed and re-escaped), so the record stays out of it.
fn template_info(id: &str, data: Option<&Value>) -> Option<LaunchTemplateInfo> {
    fn plain(v: &Value, empty_ok: bool) -> Option<String> {
        let s = v.as_str()?;
        let clean = s.trim() == s && !s.chars().any(char::is_control) && (empty_ok || !s.is_empty());
        clean.then(|| s.to_string())
    }
    let data = match data {
        None => &Value::Null,
        Some(d) if d.is_object() => d,
        Some(_) => return None,
    };
    // `Some(None)`: absent; `None`: present but not read back as written.
    let field = |k: &str| match data.get(k) {
        None => Some(None),
        Some(v) => plain(v, false).map(Some),
    };
    let image_id = field("ImageId")?;
    let key_name = field("KeyName")?;
    let mut security_group_ids = Vec::new();
    match data.get("SecurityGroupIds") {
        None => {}
        Some(Value::Array(items)) => {
            for g in items {
                security_group_ids.push(plain(g, false)?);
            }
        }
        Some(_) => return None,
    }
    let instance_profile = match data.get("IamInstanceProfile") {
        None => None,
        Some(p) if p.is_object() => match (p.get("Arn"), p.get("Name")) {
            (Some(arn), _) => Some(plain(arn, false)?),
            (None, Some(name)) => Some(plain(name, false)?),
            (None, None) => None,
        },
        Some(_) => return None,
    };
    let mut tag_specifications = Vec::new();
    match data.get("TagSpecifications") {
        None => {}
        Some(Value::Array(specs)) => {
            for spec in specs {
                let rtype = match spec.get("ResourceType") {
                    None => continue,
                    Some(t) => plain(t, true)?,
                };
                let mut tags = Vec::new();
                match spec.get("Tags") {
                    None => {}
                    Some(Value::Array(items)) => {
                        for t in items {
                            let key = plain(t.get("Key")?, false)?;
                            let value = match t.get("Value") {
                                None => String::new(),
                                Some(v) => plain(v, true)?,
                            };
                            tags.push((key, value));
                        }
                    }
                    Some(_) => return None,
                }
                if rtype.is_empty() || rtype == "launch-template" {
                    continue;
                }
                tag_specifications.push((rtype, tags));
            }
        }
        Some(_) => return None,
    }
    Some(LaunchTemplateInfo {
        id: id.to_string(),
        image_id,
        key_name,
        security_group_ids,
        instance_profile,
        tag_specifications,
    })
}

/// What the gate knows of a launch template, from the emulator.
#[derive(Clone, Debug, Default)]
pub struct LaunchTemplateInfo {
    /// The template id (`lt-…`), the resource its RunInstances check is on.
    pub id: String,
    /// The image the template launches, checked unless the request names its own.
    pub image_id: Option<String>,
    /// The key pair the template names, checked unless the request names its own.
    pub key_name: Option<String>,
    /// The security groups every launched instance joins, each checked.
    pub security_group_ids: Vec<String>,
    /// Instance profile name or ARN.
    pub instance_profile: Option<String>,
    /// (resource type, tags) of the template's TagSpecifications.
    pub tag_specifications: Vec<(String, Vec<(String, String)>)>,
}

/// The ARN resource type of an EC2 id, by its prefix, for calls that name resources by
/// id alone (CreateTags).
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
mod observed_tests {
    use serde_json::json;

    use super::Observed;

    const ROLE_ANSWER: &str = "<CreateRoleResponse><CreateRoleResult><Role><Path>/team-a/</Path><RoleName>node</RoleName><Arn>arn:aws:iam::123456789012:role/team-a/node</Arn></Role></CreateRoleResult></CreateRoleResponse>";
    const PROFILE_ANSWER: &str = "<CreateInstanceProfileResponse><CreateInstanceProfileResult><InstanceProfile><InstanceProfileName>p</InstanceProfileName><Arn>arn:aws:iam::123456789012:instance-profile/p</Arn><Roles/></InstanceProfile></CreateInstanceProfileResult></CreateInstanceProfileResponse>";

    fn with_profile() -> Observed {
        let mut w = Observed::default();
        w.observe("iam", "CreateRole", &json!({"RoleName": "node", "Path": "/team-a/"}), ROLE_ANSWER);
        w.observe("iam", "CreateInstanceProfile", &json!({"InstanceProfileName": "p"}), PROFILE_ANSWER);
        w
    }

    #[test]
    fn instance_profiles_follow_add_and_remove() {
        let mut w = with_profile();
        assert_eq!(w.instance_profile_role("p"), Some(None), "created empty");
        assert_eq!(w.instance_profile_role("other"), None, "never seen: not known");
        let add = json!({"InstanceProfileName": "p", "RoleName": "node"});
        w.observe("iam", "AddRoleToInstanceProfile", &add, "");
        let arn = Some(Some("arn:aws:iam::123456789012:role/team-a/node".to_string()));
        assert_eq!(w.instance_profile_role("p"), arn);
        assert_eq!(w.instance_profile_role("arn:aws:iam::123456789012:instance-profile/p"), arn, "by ARN");
        w.observe("iam", "RemoveRoleFromInstanceProfile", &add, "");
        assert_eq!(w.instance_profile_role("p"), Some(None));
        w.observe("iam", "DeleteInstanceProfile", &json!({"InstanceProfileName": "p"}), "");
        assert_eq!(w.instance_profile_role("p"), None, "deleted: asked again");
    }

    #[test]
    fn unknown_roles_and_stacks_make_profiles_unknown() {
        let mut w = with_profile();
        // A role created elsewhere (its path is not known): the profile is not answered.
        w.observe(
            "iam",
            "AddRoleToInstanceProfile",
            &json!({"InstanceProfileName": "p", "RoleName": "stack-role"}),
            "",
        );
        assert_eq!(w.instance_profile_role("p"), None);
        let mut w = with_profile();
        w.observe("cloudformation", "CreateStack", &json!({"StackName": "s"}), "");
        assert_eq!(w.instance_profile_role("p"), None, "a stack change forgets everything");
        let mut w = with_profile();
        w.observe("cloudformation", "DescribeStacks", &json!({}), "");
        assert_eq!(w.instance_profile_role("p"), Some(None), "reads change nothing");
    }

    fn template_answer(id: &str) -> String {
        format!(
            "<CreateLaunchTemplateResponse><launchTemplate><launchTemplateId>{id}</launchTemplateId><launchTemplateName>t</launchTemplateName><defaultVersionNumber>1</defaultVersionNumber><latestVersionNumber>1</latestVersionNumber></launchTemplate></CreateLaunchTemplateResponse>"
        )
    }

    fn with_template() -> Observed {
        let mut w = Observed::default();
        let input = json!({
            "LaunchTemplateName": "t",
            "LaunchTemplateData": {
                "ImageId": "ami-1", "KeyName": "k", "SecurityGroupIds": ["sg-1", "sg-2"],
                "IamInstanceProfile": {"Arn": "arn:aws:iam::123456789012:instance-profile/p", "Name": "p"},
                "TagSpecifications": [
                    {"ResourceType": "instance", "Tags": [{"Key": "a", "Value": "1"}, {"Key": "b"}]},
                    {"ResourceType": "launch-template", "Tags": [{"Key": "own", "Value": "x"}]},
                ],
            },
            "TagSpecifications": [{"ResourceType": "launch-template", "Tags": [{"Key": "own", "Value": "x"}]}],
        });
        w.observe("ec2", "CreateLaunchTemplate", &input, &template_answer("lt-1"));
        w
    }

    #[test]
    fn launch_templates_read_back_as_the_emulator_describes_them() {
        let w = with_template();
        let info = w.launch_template("t", "$Default").expect("known by name");
        assert_eq!(info.id, "lt-1");
        assert_eq!(info.image_id.as_deref(), Some("ami-1"));
        assert_eq!(info.key_name.as_deref(), Some("k"));
        assert_eq!(info.security_group_ids, ["sg-1", "sg-2"]);
        assert_eq!(info.instance_profile.as_deref(), Some("arn:aws:iam::123456789012:instance-profile/p"), "Arn first");
        let tags = vec![("a".to_string(), "1".to_string()), ("b".to_string(), String::new())];
        assert_eq!(info.tag_specifications, vec![("instance".to_string(), tags)], "the template's own tags left out");
        assert!(w.launch_template("lt-1", "1").is_some());
        assert!(w.launch_template("lt-1", "$latest").is_some(), "as the emulator, any case");
        assert!(w.launch_template("lt-1", "2").is_none(), "no such version: asked");
        assert!(w.launch_template("lt-1", "0").is_none(), "moto reads 0 as the last: asked");
        assert!(w.launch_template("lt-2", "1").is_none());
        assert!(w.launch_template("lt-1x", "$Latest").is_none());
    }

    #[test]
    fn versions_latest_and_default() {
        let mut w = with_template();
        let answer = "<CreateLaunchTemplateVersionResponse><launchTemplateVersion><launchTemplateId>lt-1</launchTemplateId><versionNumber>2</versionNumber></launchTemplateVersion></CreateLaunchTemplateVersionResponse>";
        w.observe(
            "ec2",
            "CreateLaunchTemplateVersion",
            &json!({"LaunchTemplateName": "t", "LaunchTemplateData": {"ImageId": "ami-2"}}),
            answer,
        );
        assert_eq!(w.launch_template("lt-1", "$Latest").unwrap().image_id.as_deref(), Some("ami-2"));
        assert_eq!(w.launch_template("lt-1", "2").unwrap().key_name, None);
        assert_eq!(w.launch_template("t", "$Default").unwrap().image_id.as_deref(), Some("ami-1"));
        // A new default version: the record no longer answers for the template.
        let mut m = w.clone();
        m.observe("ec2", "ModifyLaunchTemplate", &json!({"LaunchTemplateId": "lt-1", "DefaultVersion": "2"}), "");
        assert!(m.launch_template("lt-1", "$Default").is_none() && m.launch_template("t", "1").is_none());
        // A version built from another (SourceVersion) is not guessed.
        let mut s = w.clone();
        let answer3 = answer.replace(">2<", ">3<");
        s.observe(
            "ec2",
            "CreateLaunchTemplateVersion",
            &json!({"LaunchTemplateId": "lt-1", "SourceVersion": "1", "LaunchTemplateData": {}}),
            &answer3,
        );
        assert!(s.launch_template("lt-1", "1").is_none());
        // A version number the record did not expect (one made elsewhere): unknown.
        let mut n = w.clone();
        n.observe(
            "ec2",
            "CreateLaunchTemplateVersion",
            &json!({"LaunchTemplateId": "lt-1", "LaunchTemplateData": {}}),
            &answer.replace(">2<", ">4<"),
        );
        assert!(n.launch_template("lt-1", "1").is_none());
        w.observe("ec2", "DeleteLaunchTemplate", &json!({"LaunchTemplateName": "t"}), "");
        assert!(w.launch_template("lt-1", "1").is_none() && w.launch_template("t", "1").is_none());
    }

    #[test]
    fn templates_that_would_not_read_back_as_written_are_not_recorded() {
        for data in [
            json!({"ImageId": " ami-1"}),
            json!({"KeyName": ""}),
            json!({"SecurityGroupIds": "sg-1"}),
            json!({"TagSpecifications": [{"ResourceType": "instance", "Tags": [{"Key": "a", "Value": "x\n"}]}]}),
        ] {
            let mut w = Observed::default();
            w.observe(
                "ec2",
                "CreateLaunchTemplate",
                &json!({"LaunchTemplateName": "t", "LaunchTemplateData": data}),
                &template_answer("lt-1"),
            );
            assert!(w.launch_template("lt-1", "1").is_none(), "{data}");
        }
        // Outer tags for another resource type join the data in moto: not recorded.
        let mut w = Observed::default();
        let input = json!({"LaunchTemplateName": "t", "LaunchTemplateData": {}, "TagSpecifications": [{"ResourceType": "instance", "Tags": []}]});
        w.observe("ec2", "CreateLaunchTemplate", &input, &template_answer("lt-1"));
        assert!(w.launch_template("lt-1", "1").is_none());
    }

    #[test]
    fn service_linked_roles_and_groups_until_deleted() {
        let mut w = Observed::default();
        w.observe(
            "iam",
            "CreateServiceLinkedRole",
            &json!({"AWSServiceName": "autoscaling.amazonaws.com"}),
            concat!(
                "<CreateServiceLinkedRoleResponse><CreateServiceLinkedRoleResult><Role>",
                "<RoleName>AWSServiceRoleForAutoScaling</RoleName>",
                "</Role></CreateServiceLinkedRoleResult></CreateServiceLinkedRoleResponse>"
            ),
        );
        assert!(w.service_linked_role_exists("AWSServiceRoleForAutoScaling"));
        w.observe("iam", "DeleteServiceLinkedRole", &json!({"RoleName": "AWSServiceRoleForAutoScaling"}), "");
        assert!(!w.service_linked_role_exists("AWSServiceRoleForAutoScaling"));

        let epoch = w.epoch();
        w.learn_auto_scaling_group_arn("g", "arn:g:1", epoch);
        assert_eq!(w.auto_scaling_group_arn("g").as_deref(), Some("arn:g:1"));
        w.observe("autoscaling", "DeleteAutoScalingGroup", &json!({"AutoScalingGroupName": "g"}), "");
        assert_eq!(w.auto_scaling_group_arn("g"), None);
        // A lookup answered before a deletion finished is not kept.
        w.learn_auto_scaling_group_arn("g", "arn:g:1", epoch);
        w.learn_service_linked_role("AWSServiceRoleForECS", epoch);
        assert_eq!(w.auto_scaling_group_arn("g"), None);
        assert!(!w.service_linked_role_exists("AWSServiceRoleForECS"));
    }
}
