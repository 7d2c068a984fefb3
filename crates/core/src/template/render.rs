//! Rendering a template for one target: the seed's account placeholders, pseudo
//! parameters, parameters' defaults, mappings, conditions and the intrinsic functions
//! whose value is known before deployment.
//!
//! Two modes: [`RefMode::ResolveAll`] also replaces references between resources with
//! their physical names (needed to know which policy reaches which role);
//! [`RefMode::KeepResourceRefs`] leaves them for CloudFormation, which orders resource
//! creation by those references (the deploy would fail without them).

use std::collections::HashMap;

use super::{MAX_DEPTH, Template, TemplateError};
use crate::loc::Loc;
use crate::tree::{Entry, Node, Value};

/// The account and region a template is rendered for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// The account ARNs and `AWS::AccountId` resolve to.
    pub account_id: String,
    /// The region ARNs and `AWS::Region` resolve to.
    pub region: String,
    /// The partition ARNs and `AWS::Partition` resolve to.
    pub partition: String,
    /// The stack name `AWS::StackName` resolves to.
    pub stack_name: String,
}

impl Default for Target {
    fn default() -> Self {
        Target {
            account_id: "000000000000".into(),
            region: "us-west-2".into(),
            partition: "aws".into(),
            stack_name: "iam-conformance".into(),
        }
    }
}

/// Placeholders the seed page asks its readers to replace by hand, longest first so
/// that `MYAWSACCOUNTID` is not half-replaced as `MYAWSACCOUNT`.
pub const ACCOUNT_PLACEHOLDERS: &[&str] = &["MYAWSACCOUNTID", "MYAWSACCOUNT"];

/// What rendering does with references between resources.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefMode {
    /// Replace them with the names and ARNs the resources will have, for the static proof.
    ResolveAll,
    /// Leave them for CloudFormation, for the template a live run deploys.
    KeepResourceRefs,
}

/// Renders a template. Values that cannot be known before deployment
/// (`Fn::ImportValue`, `Fn::Cidr`, unknown attributes) are left as they are.
///
/// Resources that refer to each other in a cycle (`Ref`, `Fn::GetAtt`, `Fn::Sub` or
/// `DependsOn`) are refused, as CloudFormation refuses them ("Circular dependency between
/// resources"): they would otherwise render to names and be judged like any other.
pub fn render(template: &Template, target: &Target, mode: RefMode) -> Result<Node, TemplateError> {
    let root = replace_placeholders(&template.root, &target.account_id, 0)?;
    let mut ctx = Context {
        target,
        mode,
        parameters: HashMap::new(),
        mappings: root.get("Mappings").cloned(),
        conditions: HashMap::new(),
        resources: HashMap::new(),
    };
    if let Some(params) = root.get("Parameters").and_then(Node::as_map) {
        for p in params {
            if let Some(default) = p.value.get("Default") {
                ctx.parameters.insert(p.key.clone(), default.clone());
            }
        }
    }
    let resources = root.get("Resources").and_then(Node::as_map).unwrap_or(&[]);
    for r in resources {
        let kind = r.value.get("Type").and_then(Node::as_str).ok_or_else(|| {
            TemplateError::structure(&r.value.loc, format!("resource `{}` has no string `Type`", r.key))
        })?;
        ctx.resources.insert(
            r.key.clone(),
            ResourceInfo { kind: kind.to_string(), properties: r.value.get("Properties").map(names_only) },
        );
    }
    if let Some(conditions) = root.get("Conditions").and_then(Node::as_map) {
        // Conditions may refer to each other; resolve in order, looking up earlier ones.
        for c in conditions {
            let value = ctx.condition_value(&c.value, conditions, 0)?;
            ctx.conditions.insert(c.key.clone(), value);
        }
    }
    ctx.refuse_cycles(resources)?;
    // Physical names may themselves use intrinsics (`RoleName: !Sub ...`): resolve
    // properties of IAM resources once before anything refers to them. All of them are
    // resolved (so that their errors show here), one resource at a time, and only the
    // names are kept: a whole resolved copy of a large template is not held.
    let raw: HashMap<&str, &Node> =
        resources.iter().filter_map(|r| Some((r.key.as_str(), r.value.get("Properties")?))).collect();
    let names: Vec<String> = ctx.resources.keys().cloned().collect();
    for name in names {
        if let Some(props) = raw.get(name.as_str()) {
            let resolved = ctx.resolve(props, 0)?;
            if let Some(info) = ctx.resources.get_mut(&name) {
                info.properties = resolved.as_ref().map(names_only);
            }
        }
    }

    let mut out = Vec::new();
    for entry in root.as_map().unwrap_or(&[]) {
        let value = match entry.key.as_str() {
            "Resources" => {
                let mut kept = Vec::new();
                for r in resources {
                    if let Some(cond) = r.value.get("Condition").and_then(Node::as_str) {
                        match ctx.conditions.get(cond) {
                            Some(true) => {}
                            Some(false) => continue,
                            None => {
                                return Err(TemplateError::structure(
                                    &r.value.loc,
                                    format!("resource `{}` names unknown condition `{cond}`", r.key),
                                ));
                            }
                        }
                    }
                    let value = ctx.resolve(&r.value, 0)?.unwrap_or_else(|| r.value.clone());
                    kept.push(Entry { key: r.key.clone(), key_loc: r.key_loc.clone(), value });
                }
                Node::new(Value::Map(kept), entry.value.loc.clone())
            }
            "Outputs" => ctx.resolve(&entry.value, 0)?.unwrap_or_else(|| entry.value.clone()),
            _ => entry.value.clone(),
        };
        out.push(Entry { key: entry.key.clone(), key_loc: entry.key_loc.clone(), value });
    }
    Ok(Node::new(Value::Map(out), root.loc.clone()))
}

fn replace_placeholders(node: &Node, account: &str, depth: usize) -> Result<Node, TemplateError> {
    if depth > MAX_DEPTH {
        return Err(TemplateError::structure(&node.loc, format!("value nests deeper than {MAX_DEPTH} levels")));
    }
    let value = match &node.value {
        Value::String(s) => {
            let mut s = s.clone();
            for p in ACCOUNT_PLACEHOLDERS {
                s = s.replace(p, account);
            }
            Value::String(s)
        }
        Value::Seq(items) => {
            Value::Seq(items.iter().map(|n| replace_placeholders(n, account, depth + 1)).collect::<Result<_, _>>()?)
        }
        Value::Map(entries) => Value::Map(
            entries
                .iter()
                .map(|e| {
                    Ok(Entry {
                        key: e.key.clone(),
                        key_loc: e.key_loc.clone(),
                        value: replace_placeholders(&e.value, account, depth + 1)?,
                    })
                })
                .collect::<Result<_, TemplateError>>()?,
        ),
        other => other.clone(),
    };
    Ok(Node::new(value, node.loc.clone()))
}

struct ResourceInfo {
    kind: String,
    /// The properties [`Context::prop`] reads ([`NAME_PROPERTIES`]), once resolved.
    properties: Option<Node>,
}

/// The properties that name a resource or its path, the only ones [`Context::prop`] reads.
const NAME_PROPERTIES: &[&str] =
    &["RoleName", "InstanceProfileName", "ManagedPolicyName", "UserName", "GroupName", "Path"];

/// A resource's properties cut down to [`NAME_PROPERTIES`].
fn names_only(properties: &Node) -> Node {
    let kept = match properties.as_map() {
        Some(entries) => entries.iter().filter(|e| NAME_PROPERTIES.contains(&e.key.as_str())).cloned().collect(),
        None => Vec::new(),
    };
    Node::new(Value::Map(kept), properties.loc.clone())
}

struct Context<'a> {
    target: &'a Target,
    mode: RefMode,
    parameters: HashMap<String, Node>,
    mappings: Option<Node>,
    conditions: HashMap<String, bool>,
    resources: HashMap<String, ResourceInfo>,
}

impl Context<'_> {
    fn pseudo(&self, name: &str) -> Option<String> {
        let t = self.target;
        Some(match name {
            "AWS::AccountId" => t.account_id.clone(),
            "AWS::Partition" => t.partition.clone(),
            "AWS::Region" => t.region.clone(),
            "AWS::StackName" => t.stack_name.clone(),
            "AWS::URLSuffix" => "amazonaws.com".into(),
            "AWS::StackId" => format!(
                "arn:{}:cloudformation:{}:{}:stack/{}/00000000-0000-0000-0000-000000000000",
                t.partition, t.region, t.account_id, t.stack_name
            ),
            _ => return None,
        })
    }

    fn prop(&self, logical: &str, key: &str) -> Option<String> {
        self.resources.get(logical)?.properties.as_ref()?.get(key)?.as_str().map(str::to_string)
    }

    /// The name CloudFormation would give a resource with no explicit name property.
    fn generated_name(&self, logical: &str) -> String {
        format!("{}-{}", self.target.stack_name, logical)
    }

    /// `Ref` to a resource of the template: the physical id CloudFormation returns.
    fn resource_ref(&self, logical: &str) -> Option<String> {
        let info = self.resources.get(logical)?;
        let t = self.target;
        Some(match info.kind.as_str() {
            "AWS::IAM::Role" => self.prop(logical, "RoleName").unwrap_or_else(|| self.generated_name(logical)),
            "AWS::IAM::InstanceProfile" => {
                self.prop(logical, "InstanceProfileName").unwrap_or_else(|| self.generated_name(logical))
            }
            "AWS::IAM::ManagedPolicy" => format!(
                "arn:{}:iam::{}:policy{}{}",
                t.partition,
                t.account_id,
                self.prop(logical, "Path").unwrap_or_else(|| "/".into()),
                self.prop(logical, "ManagedPolicyName").unwrap_or_else(|| self.generated_name(logical))
            ),
            "AWS::IAM::User" => self.prop(logical, "UserName").unwrap_or_else(|| self.generated_name(logical)),
            "AWS::IAM::Group" => self.prop(logical, "GroupName").unwrap_or_else(|| self.generated_name(logical)),
            _ => self.generated_name(logical),
        })
    }

    fn resource_attribute(&self, logical: &str, attribute: &str) -> Option<String> {
        let info = self.resources.get(logical)?;
        let t = self.target;
        let path = self.prop(logical, "Path").unwrap_or_else(|| "/".into());
        let name = self.resource_ref(logical)?;
        match (info.kind.as_str(), attribute) {
            ("AWS::IAM::Role", "Arn") => Some(format!("arn:{}:iam::{}:role{path}{name}", t.partition, t.account_id)),
            ("AWS::IAM::InstanceProfile", "Arn") => {
                Some(format!("arn:{}:iam::{}:instance-profile{path}{name}", t.partition, t.account_id))
            }
            ("AWS::IAM::ManagedPolicy", "PolicyArn") => Some(name),
            ("AWS::IAM::User", "Arn") => Some(format!("arn:{}:iam::{}:user{path}{name}", t.partition, t.account_id)),
            ("AWS::IAM::Group", "Arn") => Some(format!("arn:{}:iam::{}:group{path}{name}", t.partition, t.account_id)),
            _ => None,
        }
    }

    /// Refuses resources that depend on each other in a cycle, naming every reference of
    /// the cycle with its location. Only resources whose condition holds take part, and
    /// of an `Fn::If` only the branch its condition chooses.
    fn refuse_cycles(&self, resources: &[Entry]) -> Result<(), TemplateError> {
        let kept: Vec<&Entry> = resources
            .iter()
            .filter(|r| {
                let cond = r.value.get("Condition").and_then(Node::as_str);
                cond.is_none_or(|c| self.conditions.get(c) != Some(&false))
            })
            .collect();
        let index: HashMap<&str, usize> = kept.iter().enumerate().map(|(i, r)| (r.key.as_str(), i)).collect();
        let mut edges: Vec<Vec<(usize, Loc)>> = Vec::with_capacity(kept.len());
        for r in &kept {
            let mut found = Vec::new();
            if let Some(props) = r.value.get("Properties") {
                self.references(props, &mut found, 0)?;
            }
            if let Some(depends) = r.value.get("DependsOn") {
                for d in depends.as_seq().unwrap_or(std::slice::from_ref(depends)) {
                    if let Some(name) = d.as_str() {
                        found.push((name.to_string(), d.loc.clone()));
                    }
                }
            }
            edges.push(found.into_iter().filter_map(|(name, loc)| Some((*index.get(name.as_str())?, loc))).collect());
        }
        let Some(cycle) = find_cycle(&edges) else { return Ok(()) };
        let name = |i: usize| kept[i].key.as_str();
        let step =
            |(from, to, loc): &(usize, usize, Loc)| format!("`{}` refers to `{}` at {loc}", name(*from), name(*to));
        let (_, _, first_loc) = &cycle[0];
        let message = match cycle.as_slice() {
            [(from, _, _)] => format!(
                "resource `{}` refers to itself; CloudFormation refuses a circular dependency between resources",
                name(*from)
            ),
            _ => format!(
                "circular dependency between resources {}: {}; CloudFormation refuses such a template",
                cycle.iter().map(|(from, _, _)| format!("`{}`", name(*from))).collect::<Vec<_>>().join(", "),
                cycle.iter().map(step).collect::<Vec<_>>().join(", ")
            ),
        };
        Err(TemplateError::structure(first_loc, message))
    }

    /// Collects the resources a value refers to (`Ref`, `Fn::GetAtt`, `Fn::Sub`), with
    /// where each reference is written. Names that resolve to pseudo parameters or
    /// parameters are not resources, as in [`Context::resolve`].
    fn references(&self, node: &Node, out: &mut Vec<(String, Loc)>, depth: usize) -> Result<(), TemplateError> {
        if depth > MAX_DEPTH {
            return Err(TemplateError::structure(&node.loc, format!("value nests deeper than {MAX_DEPTH} levels")));
        }
        let is_resource = |name: &str| {
            self.pseudo(name).is_none() && !self.parameters.contains_key(name) && self.resources.contains_key(name)
        };
        if let Some((name, arg)) = node.intrinsic() {
            match name {
                "Ref" => {
                    if let Some(target) = arg.as_str().filter(|t| is_resource(t)) {
                        out.push((target.to_string(), arg.loc.clone()));
                    }
                    return Ok(());
                }
                "Fn::GetAtt" => {
                    let logical = match (arg.as_str(), arg.as_seq()) {
                        (Some(s), _) => s.split('.').next(),
                        (_, Some([logical, ..])) => logical.as_str(),
                        _ => None,
                    };
                    if let Some(logical) = logical.filter(|l| self.resources.contains_key(*l)) {
                        out.push((logical.to_string(), arg.loc.clone()));
                    }
                    return Ok(());
                }
                "Fn::Sub" => {
                    let (text, vars) = match (&arg.value, arg.as_seq()) {
                        (Value::String(_), _) => (arg, None),
                        (_, Some([text, vars])) => (text, Some(vars)),
                        _ => return Ok(()),
                    };
                    let mut rest = text.as_str().unwrap_or_default();
                    while let Some(start) = rest.find("${") {
                        let after = &rest[start + 2..];
                        let Some(end) = after.find('}') else { break };
                        let name = &after[..end];
                        rest = &after[end + 1..];
                        let logical = name.split('.').next().unwrap_or_default();
                        let local = vars.is_some_and(|v| v.get(name).is_some());
                        if !name.starts_with('!') && !local && is_resource(logical) {
                            out.push((logical.to_string(), text.loc.clone()));
                        }
                    }
                    if let Some(vars) = vars {
                        self.references(vars, out, depth + 1)?;
                    }
                    return Ok(());
                }
                "Fn::If" => {
                    if let Some([cond, yes, no]) = arg.as_seq() {
                        match cond.as_str().and_then(|c| self.conditions.get(c)) {
                            Some(true) => return self.references(yes, out, depth + 2),
                            Some(false) => return self.references(no, out, depth + 2),
                            None => {}
                        }
                    }
                }
                _ => {}
            }
        }
        match &node.value {
            Value::Seq(items) => items.iter().try_for_each(|i| self.references(i, out, depth + 1)),
            Value::Map(entries) => entries.iter().try_for_each(|e| self.references(&e.value, out, depth + 1)),
            _ => Ok(()),
        }
    }

    fn condition_value(&self, node: &Node, all: &[Entry], depth: usize) -> Result<bool, TemplateError> {
        if depth > MAX_DEPTH {
            return Err(TemplateError::structure(&node.loc, "conditions refer to each other in a cycle"));
        }
        let Some((name, arg)) = node.intrinsic() else {
            return match &node.value {
                Value::Bool(b) => Ok(*b),
                Value::String(s) if s == "true" || s == "false" => Ok(s == "true"),
                _ => Err(TemplateError::structure(
                    &node.loc,
                    format!("expected a condition function, found {}", node.kind()),
                )),
            };
        };
        let args = || arg.as_seq().unwrap_or(std::slice::from_ref(arg));
        match name {
            "Condition" => {
                let other = arg
                    .as_str()
                    .ok_or_else(|| TemplateError::structure(&arg.loc, "`Condition` takes a condition name"))?;
                if let Some(v) = self.conditions.get(other) {
                    return Ok(*v);
                }
                let def = all
                    .iter()
                    .find(|e| e.key == other)
                    .ok_or_else(|| TemplateError::structure(&arg.loc, format!("unknown condition `{other}`")))?;
                self.condition_value(&def.value, all, depth + 1)
            }
            "Fn::Equals" => match args() {
                [a, b] => {
                    let a = self.resolve(a, depth + 1)?.unwrap_or_else(|| a.clone());
                    let b = self.resolve(b, depth + 1)?.unwrap_or_else(|| b.clone());
                    Ok(a.to_json() == b.to_json())
                }
                _ => Err(TemplateError::structure(&arg.loc, "`Fn::Equals` takes two values")),
            },
            "Fn::Not" => match args() {
                [a] => Ok(!self.condition_value(a, all, depth + 1)?),
                _ => Err(TemplateError::structure(&arg.loc, "`Fn::Not` takes one condition")),
            },
            "Fn::And" | "Fn::Or" => {
                let mut values = Vec::new();
                for a in args() {
                    values.push(self.condition_value(a, all, depth + 1)?);
                }
                Ok(if name == "Fn::And" { values.iter().all(|v| *v) } else { values.iter().any(|v| *v) })
            }
            _ => Err(TemplateError::structure(&node.loc, format!("`{name}` is not a condition function"))),
        }
    }

    /// Resolves a node. `Ok(None)` means "drop this value" (`AWS::NoValue`).
    fn resolve(&self, node: &Node, depth: usize) -> Result<Option<Node>, TemplateError> {
        if depth > MAX_DEPTH {
            return Err(TemplateError::structure(&node.loc, format!("value nests deeper than {MAX_DEPTH} levels")));
        }
        let loc = &node.loc;
        let string = |s: String| Ok(Some(Node::new(Value::String(s), loc.clone())));
        if let Some((name, arg)) = node.intrinsic() {
            match name {
                "Ref" => {
                    let target =
                        arg.as_str().ok_or_else(|| TemplateError::structure(&arg.loc, "`Ref` takes a name"))?;
                    if target == "AWS::NoValue" {
                        return Ok(None);
                    }
                    if let Some(v) = self.pseudo(target) {
                        return string(v);
                    }
                    if let Some(v) = self.parameters.get(target) {
                        return Ok(Some(v.clone()));
                    }
                    if self.resources.contains_key(target) {
                        return match self.mode {
                            RefMode::KeepResourceRefs => Ok(Some(node.clone())),
                            RefMode::ResolveAll => string(self.resource_ref(target).unwrap_or_default()),
                        };
                    }
                    return Err(TemplateError::structure(
                        &arg.loc,
                        format!(
                            "`Ref` to `{target}`, which is no parameter with a default, resource or pseudo parameter"
                        ),
                    ));
                }
                "Fn::Sub" => return self.sub(node, arg, depth),
                "Fn::GetAtt" => {
                    let parts: Vec<&str> = arg.as_seq().unwrap_or(&[]).iter().filter_map(Node::as_str).collect();
                    let [logical, attribute] = parts.as_slice() else {
                        return Err(TemplateError::structure(&arg.loc, "`Fn::GetAtt` takes [Resource, Attribute]"));
                    };
                    if !self.resources.contains_key(*logical) {
                        return Err(TemplateError::structure(
                            &arg.loc,
                            format!("`Fn::GetAtt` of unknown resource `{logical}`"),
                        ));
                    }
                    return match (self.mode, self.resource_attribute(logical, attribute)) {
                        (RefMode::ResolveAll, Some(v)) => string(v),
                        _ => Ok(Some(node.clone())),
                    };
                }
                "Fn::Join" => {
                    let resolved = self.resolve(arg, depth + 1)?;
                    if let Some([sep, list]) = resolved.as_ref().and_then(Node::as_seq) {
                        if let (Some(sep), Some(items)) = (sep.as_str(), list.as_seq()) {
                            let parts: Option<Vec<&str>> = items.iter().map(Node::as_str).collect();
                            if let Some(parts) = parts {
                                return string(parts.join(sep));
                            }
                        }
                        return Ok(Some(node.clone()));
                    }
                    return Err(TemplateError::structure(&arg.loc, "`Fn::Join` takes [separator, [values]]"));
                }
                "Fn::Select" => {
                    let resolved = self.resolve(arg, depth + 1)?;
                    if let Some([index, list]) = resolved.as_ref().and_then(Node::as_seq) {
                        let i = match &index.value {
                            Value::Number(n) | Value::String(n) => n.parse::<usize>().ok(),
                            _ => None,
                        };
                        if let (Some(i), Some(items)) = (i, list.as_seq()) {
                            return items.get(i).cloned().map(Some).ok_or_else(|| {
                                TemplateError::structure(&arg.loc, format!("`Fn::Select` index {i} is out of range"))
                            });
                        }
                        return Ok(Some(node.clone()));
                    }
                    return Err(TemplateError::structure(&arg.loc, "`Fn::Select` takes [index, [values]]"));
                }
                "Fn::Split" => {
                    let resolved = self.resolve(arg, depth + 1)?;
                    if let Some([sep, text]) = resolved.as_ref().and_then(Node::as_seq) {
                        if let (Some(sep), Some(text)) = (sep.as_str(), text.as_str()) {
                            let items =
                                text.split(sep).map(|s| Node::new(Value::String(s.into()), loc.clone())).collect();
                            return Ok(Some(Node::new(Value::Seq(items), loc.clone())));
                        }
                        return Ok(Some(node.clone()));
                    }
                    return Err(TemplateError::structure(&arg.loc, "`Fn::Split` takes [separator, text]"));
                }
                "Fn::FindInMap" => {
                    let resolved = self.resolve(arg, depth + 1)?;
                    let keys: Option<Vec<&str>> =
                        resolved.as_ref().and_then(Node::as_seq).map(|s| s.iter().filter_map(Node::as_str).collect());
                    let Some([map, top, second]) = keys.as_deref() else {
                        return Err(TemplateError::structure(
                            &arg.loc,
                            "`Fn::FindInMap` takes [MapName, TopKey, SecondKey]",
                        ));
                    };
                    let found = self
                        .mappings
                        .as_ref()
                        .and_then(|m| m.get(map))
                        .and_then(|m| m.get(top))
                        .and_then(|m| m.get(second));
                    return found.cloned().map(Some).ok_or_else(|| {
                        TemplateError::structure(
                            &arg.loc,
                            format!("`Fn::FindInMap` finds nothing at {map}/{top}/{second}"),
                        )
                    });
                }
                "Fn::If" => {
                    let Some([cond, yes, no]) = arg.as_seq() else {
                        return Err(TemplateError::structure(
                            &arg.loc,
                            "`Fn::If` takes [Condition, ValueIfTrue, ValueIfFalse]",
                        ));
                    };
                    let name = cond.as_str().unwrap_or_default();
                    let chosen = match self.conditions.get(name) {
                        Some(true) => yes,
                        Some(false) => no,
                        None => {
                            return Err(TemplateError::structure(
                                &cond.loc,
                                format!("`Fn::If` names unknown condition `{name}`"),
                            ));
                        }
                    };
                    return self.resolve(chosen, depth + 1);
                }
                "Fn::GetAZs" => {
                    let azs = ["a", "b", "c"]
                        .iter()
                        .map(|z| Node::new(Value::String(format!("{}{z}", self.target.region)), loc.clone()))
                        .collect();
                    return Ok(Some(Node::new(Value::Seq(azs), loc.clone())));
                }
                "Fn::Base64" => {
                    let resolved = self.resolve(arg, depth + 1)?;
                    return match resolved.as_ref().and_then(Node::as_str) {
                        Some(text) => string(base64(text.as_bytes())),
                        None => Ok(Some(node.clone())),
                    };
                }
                // Known only after deployment or in other stacks: left for CloudFormation.
                _ => {}
            }
        }
        let value = match &node.value {
            Value::Seq(items) => {
                let mut out = Vec::new();
                for item in items {
                    if let Some(v) = self.resolve(item, depth + 1)? {
                        out.push(v);
                    }
                }
                Value::Seq(out)
            }
            Value::Map(entries) => {
                let mut out = Vec::new();
                for e in entries {
                    if let Some(v) = self.resolve(&e.value, depth + 1)? {
                        out.push(Entry { key: e.key.clone(), key_loc: e.key_loc.clone(), value: v });
                    }
                }
                Value::Map(out)
            }
            other => other.clone(),
        };
        Ok(Some(Node::new(value, loc.clone())))
    }

    fn sub(&self, node: &Node, arg: &Node, depth: usize) -> Result<Option<Node>, TemplateError> {
        let (text, vars) = match (&arg.value, arg.as_seq()) {
            (Value::String(s), _) => (s.as_str(), None),
            (_, Some([text, vars])) if text.as_str().is_some() => (text.as_str().unwrap_or_default(), Some(vars)),
            _ => return Err(TemplateError::structure(&arg.loc, "`Fn::Sub` takes a string or [string, {variables}]")),
        };
        let mut out = String::new();
        let mut rest = text;
        let mut complete = true;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let Some(end) = after.find('}') else {
                return Err(TemplateError::structure(&arg.loc, "`Fn::Sub` has an unclosed `${`"));
            };
            let name = &after[..end];
            rest = &after[end + 1..];
            if let Some(literal) = name.strip_prefix('!') {
                out.push_str("${");
                out.push_str(literal);
                out.push('}');
                continue;
            }
            let local = vars.and_then(|v| v.get(name));
            let value = if let Some(v) = local {
                self.resolve(v, depth + 1)?.and_then(|n| n.as_str().map(str::to_string))
            } else if let Some(v) = self.pseudo(name) {
                Some(v)
            } else if let Some(v) = self.parameters.get(name) {
                v.as_str().map(str::to_string).or_else(|| match &v.value {
                    Value::Number(n) => Some(n.clone()),
                    _ => None,
                })
            } else if let Some((logical, attribute)) = name.split_once('.') {
                if !self.resources.contains_key(logical) {
                    return Err(TemplateError::structure(
                        &arg.loc,
                        format!("`Fn::Sub` refers to unknown resource `{logical}`"),
                    ));
                }
                match self.mode {
                    RefMode::ResolveAll => self.resource_attribute(logical, attribute),
                    RefMode::KeepResourceRefs => None,
                }
            } else if self.resources.contains_key(name) {
                match self.mode {
                    RefMode::ResolveAll => self.resource_ref(name),
                    RefMode::KeepResourceRefs => None,
                }
            } else {
                return Err(TemplateError::structure(&arg.loc, format!("`Fn::Sub` refers to unknown name `{name}`")));
            };
            match value {
                Some(v) => out.push_str(&v),
                None => {
                    complete = false;
                    out.push_str("${");
                    out.push_str(name);
                    out.push('}');
                }
            }
        }
        out.push_str(rest);
        if complete {
            return Ok(Some(Node::new(Value::String(out), node.loc.clone())));
        }
        // Something is only known at deploy time: hand CloudFormation a narrower Sub.
        let key_loc =
            node.as_map().and_then(|m| m.first()).map(|e| e.key_loc.clone()).unwrap_or_else(|| node.loc.clone());
        Ok(Some(Node::new(
            Value::Map(vec![Entry {
                key: "Fn::Sub".into(),
                key_loc,
                value: Node::new(Value::String(out), arg.loc.clone()),
            }]),
            node.loc.clone(),
        )))
    }
}

/// The first cycle of a graph given as edge lists (`edges[from]` = `(to, where)`), as its
/// edges in order, starting from the lowest-numbered node on it. Iterative, so a chain of
/// thousands of resources cannot overflow the stack.
fn find_cycle(edges: &[Vec<(usize, Loc)>]) -> Option<Vec<(usize, usize, Loc)>> {
    #[derive(Clone, Copy, PartialEq)]
    enum State {
        New,
        OnPath,
        Done,
    }
    let mut state = vec![State::New; edges.len()];
    for start in 0..edges.len() {
        if state[start] != State::New {
            continue;
        }
        // The current path: each node with the index of the next edge to follow.
        let mut path: Vec<(usize, usize)> = vec![(start, 0)];
        state[start] = State::OnPath;
        while let Some(&(node, next)) = path.last() {
            let Some((to, _)) = edges[node].get(next) else {
                state[node] = State::Done;
                path.pop();
                continue;
            };
            if let Some(top) = path.last_mut() {
                top.1 += 1;
            }
            match state[*to] {
                State::New => {
                    state[*to] = State::OnPath;
                    path.push((*to, 0));
                }
                State::OnPath => {
                    let from = path.iter().position(|(n, _)| n == to).unwrap_or(0);
                    // Each node on the cycle with the edge it was left by (the last one taken).
                    let mut cycle: Vec<(usize, usize, Loc)> = path[from..]
                        .iter()
                        .map(|&(n, taken)| {
                            let (t, loc) = &edges[n][taken - 1];
                            (n, *t, loc.clone())
                        })
                        .collect();
                    let lowest = cycle.iter().enumerate().min_by_key(|(_, (n, _, _))| *n).map_or(0, |(i, _)| i);
                    cycle.rotate_left(lowest);
                    return Some(cycle);
                }
                State::Done => {}
            }
        }
    }
    None
}

fn base64(bytes: &[u8]) -> String {
    const TABLE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(TABLE[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A located string for the rendered value at `loc`; used by callers that need to
/// report where a rendered value came from.
pub fn located(text: &str, loc: &Loc) -> Node {
    Node::new(Value::String(text.into()), loc.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn render_yaml(text: &str, mode: RefMode) -> serde_json::Value {
        let t = Template::parse(text, "t.yaml").unwrap();
        render(&t, &Target { account_id: "111122223333".into(), ..Target::default() }, mode).unwrap().to_json()
    }

    #[test]
    fn replaces_placeholders_and_pseudo_parameters() {
        let out = render_yaml(
            "Resources:\n  R:\n    Type: X::Y\n    Properties:\n      A: arn:aws:iam::MYAWSACCOUNT:root\n      B: arn:aws:sts::MYAWSACCOUNTID:x\n      C: !Sub 'arn:${AWS::Partition}:ec2:${AWS::Region}:${AWS::AccountId}:vpc/*'\n      D: !Ref AWS::AccountId\n      E: !Sub '${!Literal}'\n",
            RefMode::ResolveAll,
        );
        let p = &out["Resources"]["R"]["Properties"];
        assert_eq!(p["A"], json!("arn:aws:iam::111122223333:root"));
        assert_eq!(p["B"], json!("arn:aws:sts::111122223333:x"));
        assert_eq!(p["C"], json!("arn:aws:ec2:us-west-2:111122223333:vpc/*"));
        assert_eq!(p["D"], json!("111122223333"));
        assert_eq!(p["E"], json!("${Literal}"));
    }

    #[test]
    fn resource_refs_resolve_or_stay_by_mode() {
        let text = "Resources:\n  Role:\n    Type: AWS::IAM::Role\n    Properties:\n      RoleName: r\n  P:\n    Type: AWS::IAM::ManagedPolicy\n    Properties:\n      Roles: [!Ref Role]\n      Other: !GetAtt Role.Arn\n";
        let all = render_yaml(text, RefMode::ResolveAll);
        assert_eq!(all["Resources"]["P"]["Properties"]["Roles"], json!(["r"]));
        assert_eq!(all["Resources"]["P"]["Properties"]["Other"], json!("arn:aws:iam::111122223333:role/r"));
        let kept = render_yaml(text, RefMode::KeepResourceRefs);
        assert_eq!(kept["Resources"]["P"]["Properties"]["Roles"], json!([{"Ref": "Role"}]));
    }

    #[test]
    fn conditions_mappings_and_functions() {
        let out = render_yaml(
            "Parameters:\n  Env:\n    Type: String\n    Default: prod\nConditions:\n  IsProd: !Equals [!Ref Env, prod]\n  NotProd: !Not [!Condition IsProd]\nMappings:\n  M:\n    prod:\n      Size: big\nResources:\n  A:\n    Type: X::Y\n    Condition: NotProd\n  B:\n    Type: X::Y\n    Properties:\n      S: !FindInMap [M, !Ref Env, Size]\n      I: !If [IsProd, yes, !Ref AWS::NoValue]\n      J: !Join ['-', [a, !Select [1, !Split [',', 'x,y']]]]\n      Z: !GetAZs ''\n      L: [a, !If [NotProd, b, !Ref AWS::NoValue]]\n      Q: !Base64 'hi!'\n",
            RefMode::ResolveAll,
        );
        assert!(out["Resources"].get("A").is_none());
        let p = &out["Resources"]["B"]["Properties"];
        assert_eq!(p["S"], json!("big"));
        assert_eq!(p["I"], json!("yes"));
        assert_eq!(p["J"], json!("a-y"));
        assert_eq!(p["Z"], json!(["us-west-2a", "us-west-2b", "us-west-2c"]));
        assert_eq!(p["L"], json!(["a"]));
        assert_eq!(p["Q"], json!("aGkh"));
    }

    #[test]
    fn unknown_refs_are_errors_with_location() {
        let t = Template::parse("Resources:\n  R:\n    Type: X::Y\n    Properties:\n      A: !Ref Nope\n", "t.yaml")
            .unwrap();
        let err = render(&t, &Target::default(), RefMode::ResolveAll).unwrap_err();
        assert!(err.to_string().starts_with("t.yaml:5:"), "{err}");
    }

    fn render_err(text: &str) -> String {
        let t = Template::parse(text, "t.yaml").unwrap();
        for mode in [RefMode::KeepResourceRefs, RefMode::ResolveAll] {
            if let Err(e) = render(&t, &Target::default(), mode) {
                return e.to_string();
            }
        }
        panic!("rendered: {text}")
    }

    const ROLE_POLICY_CYCLE: &str = "Resources:\n  Role:\n    Type: AWS::IAM::Role\n    Properties:\n      RoleName: r\n      ManagedPolicyArns:\n      - !Ref Policy\n  Policy:\n    Type: AWS::IAM::ManagedPolicy\n    Properties:\n      Roles:\n      - !Ref Role\n";

    #[test]
    fn circular_references_are_refused_naming_both_sides() {
        let err = render_err(ROLE_POLICY_CYCLE);
        assert!(
            err.starts_with("t.yaml:7:9: circular dependency between resources `Role`, `Policy`: `Role` refers to `Policy` at t.yaml:7:9, `Policy` refers to `Role` at t.yaml:12:9;"),
            "{err}"
        );
        // The same cycle through GetAtt, Sub and DependsOn, and a longer one.
        let err = render_err(
            "Resources:\n  A:\n    Type: X::Y\n    Properties:\n      P: !GetAtt B.Arn\n  B:\n    Type: X::Y\n    Properties:\n      P: !Sub '${C}-x'\n  C:\n    Type: X::Y\n    DependsOn: [A]\n",
        );
        assert!(
            err.starts_with("t.yaml:5:10: circular dependency between resources `A`, `B`, `C`: `A` refers to `B` at t.yaml:5:10, `B` refers to `C` at t.yaml:9:10, `C` refers to `A` at t.yaml:12:17;"),
            "{err}"
        );
        let err = render_err("Resources:\n  A:\n    Type: X::Y\n    Properties:\n      P: !Sub '${A.Arn}'\n");
        assert!(err.starts_with("t.yaml:5:10: resource `A` refers to itself"), "{err}");
    }

    #[test]
    fn references_that_are_no_cycle_render() {
        for text in [
            // A chain, not a cycle.
            "Resources:\n  A:\n    Type: X::Y\n    Properties:\n      P: !Ref B\n  B:\n    Type: X::Y\n    Properties:\n      P: !GetAtt C.Arn\n  C:\n    Type: X::Y\n",
            // The branch that would close the cycle is not chosen.
            "Conditions:\n  No: !Equals [a, b]\nResources:\n  A:\n    Type: X::Y\n    Properties:\n      P: !If [No, !Ref B, x]\n  B:\n    Type: X::Y\n    Properties:\n      P: !Ref A\n",
            // The resource that would close it is not created.
            "Conditions:\n  No: !Equals [a, b]\nResources:\n  A:\n    Type: X::Y\n    Properties:\n      P: !Ref B\n  B:\n    Type: X::Y\n    Condition: No\n    Properties:\n      P: !Ref A\n",
            // A name a parameter takes, a literal and a local variable of Sub are no references.
            "Parameters:\n  B:\n    Type: String\n    Default: b\nResources:\n  A:\n    Type: X::Y\n    Properties:\n      P: !Sub '${!A}-${B}'\n      Q: !Sub ['${A}', {A: x}]\n",
        ] {
            let t = Template::parse(text, "t.yaml").unwrap();
            render(&t, &Target::default(), RefMode::ResolveAll).unwrap_or_else(|e| panic!("{e}\n{text}"));
        }
    }

    #[test]
    fn a_long_chain_of_resources_is_searched_without_recursion() {
        let n = 5_000;
        let mut text = String::from("Resources:\n");
        for i in 0..n {
            text.push_str(&format!("  R{i}:\n    Type: X::Y\n    DependsOn: R{}\n", (i + 1) % n));
        }
        let err = render_err(&text);
        assert!(err.starts_with("t.yaml:4:16: circular dependency between resources `R0`, `R1`"), "{}", &err[..200]);
    }

    #[test]
    fn trees_deeper_than_the_readers_allow_are_refused_not_overflowed() {
        // Built by hand, as no reader would build it.
        let loc = Loc::builtin("test");
        let mut deep = Node::new(Value::String("x".into()), loc.clone());
        for _ in 0..1_000 {
            deep = Node::new(Value::Seq(vec![deep]), loc.clone());
        }
        let mut t = Template::parse("Resources:\n  R:\n    Type: X::Y\n", "t.yaml").unwrap();
        if let Value::Map(entries) = &mut t.root.value {
            entries.push(Entry { key: "Deep".into(), key_loc: loc.clone(), value: deep });
        }
        let err = render(&t, &Target::default(), RefMode::ResolveAll).unwrap_err();
        assert!(err.to_string().contains(&format!("value nests deeper than {MAX_DEPTH} levels")), "{err}");
    }
}
