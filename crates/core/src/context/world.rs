//! The world model: which resources exist and what tags they carry, as the profile's own
//! calls build them. Statically, the fixtures and then the scenarios a scenario needs
//! (transitively, in dependency order) are replayed on an in-memory map: a create with
//! `TagSpecifications` gives what it `produces` those tags, `CreateTags` adds, `DeleteTags`
//! removes. A scenario sees what the calls it needs made; a resource no call created (an
//! AMI from a lookup, a resource named by id alone) is not known, so its tags are not
//! modelled. Only EC2 resources are tracked, by their id.
//!
//! Live, the gate looks a resource's tags up in the emulator when a policy reads them
//! (`crates/live/src/gate_server.rs`).

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::Value;

use super::ResourceTags;
use crate::scenario::{Fixture, Profile, Scenario};

/// The tags of the EC2 resources known, by id.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Snapshot {
    tags: BTreeMap<String, Vec<(String, String)>>,
}

impl Snapshot {
    /// Whether nothing is known.
    pub fn is_empty(&self) -> bool {
        self.tags.is_empty()
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
                    let rtype = crate::gate::derive::ec2_type_of_id(id);
                    let tags = specs.iter().filter(|(t, _)| t == rtype).flat_map(|(_, tags)| tags.clone()).collect();
                    self.tags.insert(id.clone(), tags);
                }
            }
            _ => {}
        }
    }
}

fn is_create(operation: &str) -> bool {
    ["Create", "Run", "Allocate", "Import", "Copy"].iter().any(|p| operation.starts_with(p))
}

impl ResourceTags for Snapshot {
    fn tags(&self, resource: &str) -> Option<Vec<(String, String)>> {
        let parts: Vec<&str> = resource.splitn(6, ':').collect();
        if parts.len() < 6 || parts[2] != "ec2" {
            return None;
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
