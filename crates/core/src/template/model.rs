//! The IAM model of a rendered template: roles (trust policy, inline policies, managed
//! policy ARNs), managed and inline policy resources, instance profiles, and which
//! policies reach which role.

use crate::loc::Loc;
use crate::policy::{Policy, PolicyError, PolicyKind, parse_policy};
use crate::tree::Node;

/// An `AWS::IAM::Role` of the template, with what its own properties attach.
#[derive(Clone, Debug)]
pub struct Role {
    /// The role's logical id, as profiles name it.
    pub logical_id: String,
    /// Its `RoleName` (or the name CloudFormation would generate).
    pub name: String,
    /// Its ARN in the target account.
    pub arn: String,
    /// Its trust policy.
    pub trust: Policy,
    /// Its inline `Policies`.
    pub inline: Vec<Policy>,
    /// `ManagedPolicyArns` as rendered, with their locations.
    pub managed_policy_arns: Vec<(String, Loc)>,
    /// Where the resource is written.
    pub loc: Loc,
}

/// An `AWS::IAM::ManagedPolicy` or `AWS::IAM::Policy` resource.
#[derive(Clone, Debug)]
pub struct PolicyResource {
    /// The resource's logical id.
    pub logical_id: String,
    /// `AWS::IAM::ManagedPolicy` or `AWS::IAM::Policy`.
    pub resource_type: String,
    /// The policy's name (or the one CloudFormation would generate).
    pub name: String,
    /// The ARN for managed policies; `None` for inline `AWS::IAM::Policy`.
    pub arn: Option<String>,
    /// The policy document.
    pub document: Policy,
    /// The role names of its `Roles`, each located.
    pub roles: Vec<(String, Loc)>,
    /// Where the resource is written.
    pub loc: Loc,
}

/// An `AWS::IAM::InstanceProfile`, which passes its role to EC2.
#[derive(Clone, Debug)]
pub struct InstanceProfile {
    /// The resource's logical id.
    pub logical_id: String,
    /// Its `InstanceProfileName` (or the generated one).
    pub name: String,
    /// The role names of its `Roles`, each located.
    pub roles: Vec<(String, Loc)>,
    /// Where the resource is written.
    pub loc: Loc,
}

/// The IAM resources of a rendered template, from which the policies of a role are found.
#[derive(Clone, Debug, Default)]
pub struct IamModel {
    /// Every role.
    pub roles: Vec<Role>,
    /// Every managed and inline policy resource.
    pub policies: Vec<PolicyResource>,
    /// Every instance profile.
    pub instance_profiles: Vec<InstanceProfile>,
}

/// The identity policies that apply to one role.
#[derive(Clone, Debug)]
pub struct RolePolicies {
    /// The role.
    pub role: Role,
    /// Its inline policies and every policy resource of the template that names it.
    pub policies: Vec<Policy>,
    /// Attached policy ARNs that are not defined in the template: their content is
    /// unknown here, so a verdict that depends on them cannot be proven.
    pub external: Vec<(String, Loc)>,
}

/// Largest managed policy document, in characters without white space: "Managed policy size", 6,144 characters ("IAM and AWS STS quotas", IAM User Guide).
pub const MAX_MANAGED_POLICY_CHARS: usize = 6_144;

/// Largest sum of a role's inline policies, in characters without white space: "Role policy size", 10,240 characters (same page).
pub const MAX_ROLE_INLINE_CHARS: usize = 10_240;

/// A policy document's size as IAM counts it against its quotas: the characters of its
/// JSON text, white space not counted ("IAM does not count white space when calculating
/// the size of a policy against this quota"). A document written as a JSON string is
/// counted as written; a structured one as CloudFormation sends it, serialized.
pub fn policy_size(document: &Node) -> usize {
    let count = |text: &str| text.chars().filter(|c| !matches!(c, ' ' | '\t' | '\n' | '\r')).count();
    match document.as_str() {
        Some(text) => count(text),
        None => count(&document.to_json().to_string()),
    }
}

fn err(loc: &Loc, message: impl Into<String>) -> PolicyError {
    PolicyError { loc: loc.clone(), message: message.into() }
}

fn string_prop(props: &Node, key: &str) -> Result<Option<String>, PolicyError> {
    match props.get(key) {
        None => Ok(None),
        Some(n) => n
            .as_str()
            .map(|s| Some(s.to_string()))
            .ok_or_else(|| err(&n.loc, format!("`{key}` must be a string here, found {}", n.kind()))),
    }
}

fn string_list(props: &Node, key: &str) -> Result<Vec<(String, Loc)>, PolicyError> {
    match props.get(key) {
        None => Ok(Vec::new()),
        Some(n) => n
            .as_seq()
            .ok_or_else(|| err(&n.loc, format!("`{key}` must be a list, found {}", n.kind())))?
            .iter()
            .map(|i| {
                i.as_str()
                    .map(|s| (s.to_string(), i.loc.clone()))
                    .ok_or_else(|| err(&i.loc, format!("`{key}` entries must be strings here, found {}", i.kind())))
            })
            .collect(),
    }
}

fn required<'a>(props: &'a Node, key: &str, logical: &str) -> Result<&'a Node, PolicyError> {
    props.get(key).ok_or_else(|| err(&props.loc, format!("resource `{logical}` has no `{key}`")))
}

/// Extracts the IAM model from a template rendered with [`super::render::RefMode::ResolveAll`].
pub fn extract(rendered: &Node, partition: &str, account: &str, stack: &str) -> Result<IamModel, PolicyError> {
    let mut model = IamModel::default();
    // Each role's inline policy characters, and each policy resource's (in `model.policies` order).
    let mut inline_sizes: Vec<(String, usize)> = Vec::new();
    let mut policy_sizes: Vec<(Loc, usize)> = Vec::new();
    let resources = rendered.get("Resources").and_then(Node::as_map).unwrap_or(&[]);
    for r in resources {
        let kind = r.value.get("Type").and_then(Node::as_str).unwrap_or_default();
        let empty = Node::new(super::Value::Map(Vec::new()), r.value.loc.clone());
        let props = r.value.get("Properties").unwrap_or(&empty);
        let generated = format!("{stack}-{}", r.key);
        match kind {
            "AWS::IAM::Role" => {
                let name = string_prop(props, "RoleName")?.unwrap_or(generated);
                let path = string_prop(props, "Path")?.unwrap_or_else(|| "/".into());
                let trust = parse_policy(
                    &format!("{name} trust policy"),
                    required(props, "AssumeRolePolicyDocument", &r.key)?,
                    PolicyKind::Trust,
                )?;
                let mut inline = Vec::new();
                let mut inline_size = 0;
                if let Some(list) = props.get("Policies") {
                    for p in list.as_seq().ok_or_else(|| err(&list.loc, "`Policies` must be a list"))? {
                        let pname = string_prop(p, "PolicyName")?
                            .ok_or_else(|| err(&p.loc, "inline policy has no `PolicyName`"))?;
                        let document = required(p, "PolicyDocument", &r.key)?;
                        inline_size += policy_size(document);
                        if inline_size > MAX_ROLE_INLINE_CHARS {
                            return Err(role_inline_too_large(&document.loc, &name, inline_size));
                        }
                        inline.push(parse_policy(&pname, document, PolicyKind::Identity)?);
                    }
                }
                inline_sizes.push((name.clone(), inline_size));
                model.roles.push(Role {
                    logical_id: r.key.clone(),
                    arn: format!("arn:{partition}:iam::{account}:role{path}{name}"),
                    name,
                    trust,
                    inline,
                    managed_policy_arns: string_list(props, "ManagedPolicyArns")?,
                    loc: r.value.loc.clone(),
                });
            }
            "AWS::IAM::ManagedPolicy" | "AWS::IAM::Policy" => {
                let managed = kind == "AWS::IAM::ManagedPolicy";
                let name_key = if managed { "ManagedPolicyName" } else { "PolicyName" };
                let name = string_prop(props, name_key)?.unwrap_or(generated);
                let path = string_prop(props, "Path")?.unwrap_or_else(|| "/".into());
                let document_node = required(props, "PolicyDocument", &r.key)?;
                // Checked before parsing: a document IAM would refuse is not worth reading.
                let size = policy_size(document_node);
                if managed && size > MAX_MANAGED_POLICY_CHARS {
                    return Err(err(
                        &document_node.loc,
                        format!(
                            "managed policy `{name}` is {size} characters, not counting white space; IAM allows at most {MAX_MANAGED_POLICY_CHARS} in a managed policy (\"Managed policy size\")"
                        ),
                    ));
                }
                // The largest inline aggregate IAM allows any entity is a role's.
                if !managed && size > MAX_ROLE_INLINE_CHARS {
                    return Err(err(
                        &document_node.loc,
                        format!(
                            "inline policy `{name}` is {size} characters, not counting white space; IAM allows at most {MAX_ROLE_INLINE_CHARS} for a role's inline policies together (\"Role policy size\")"
                        ),
                    ));
                }
                policy_sizes.push((document_node.loc.clone(), size));
                let document = parse_policy(&name, document_node, PolicyKind::Identity)?;
                model.policies.push(PolicyResource {
                    logical_id: r.key.clone(),
                    resource_type: kind.to_string(),
                    arn: managed.then(|| format!("arn:{partition}:iam::{account}:policy{path}{name}")),
                    name,
                    document,
                    roles: string_list(props, "Roles")?,
                    loc: r.value.loc.clone(),
                });
            }
            "AWS::IAM::InstanceProfile" => {
                model.instance_profiles.push(InstanceProfile {
                    logical_id: r.key.clone(),
                    name: string_prop(props, "InstanceProfileName")?.unwrap_or(generated),
                    roles: string_list(props, "Roles")?,
                    loc: r.value.loc.clone(),
                });
            }
            _ => {}
        }
    }
    // Every role name that a policy or profile attaches to must be a role we know, or
    // the model would silently miss a grant.
    for (roles, what, loc) in model
        .policies
        .iter()
        .map(|p| (&p.roles, p.logical_id.as_str(), &p.loc))
        .chain(model.instance_profiles.iter().map(|p| (&p.roles, p.logical_id.as_str(), &p.loc)))
    {
        for (role, role_loc) in roles {
            if !model.roles.iter().any(|r| &r.name == role) {
                let _ = loc;
                return Err(err(
                    role_loc,
                    format!("`{what}` attaches to role `{role}`, which is not a role of this template"),
                ));
            }
        }
    }
    // An `AWS::IAM::Policy` is an inline policy of each role it names: it counts against
    // that role's aggregate with the role's own `Policies`.
    for (role, size) in &mut inline_sizes {
        for (p, (loc, p_size)) in model.policies.iter().zip(&policy_sizes) {
            if p.arn.is_none() && p.roles.iter().any(|(n, _)| n == role) {
                *size += p_size;
                if *size > MAX_ROLE_INLINE_CHARS {
                    return Err(role_inline_too_large(loc, role, *size));
                }
            }
        }
    }
    Ok(model)
}

fn role_inline_too_large(loc: &Loc, what: &str, size: usize) -> PolicyError {
    err(
        loc,
        format!(
            "the inline policies of `{what}` reach {size} characters here, not counting white space; IAM allows at most {MAX_ROLE_INLINE_CHARS} for a role's inline policies together (\"Role policy size\")"
        ),
    )
}

impl IamModel {
    /// The policies that reach the role with this logical id.
    pub fn policies_for_role(&self, logical_id: &str) -> Option<RolePolicies> {
        let role = self.roles.iter().find(|r| r.logical_id == logical_id)?.clone();
        let mut policies = role.inline.clone();
        for p in &self.policies {
            let by_roles = p.roles.iter().any(|(n, _)| n == &role.name);
            let by_arn = p.arn.as_ref().is_some_and(|a| role.managed_policy_arns.iter().any(|(m, _)| m == a));
            if by_roles || by_arn {
                policies.push(p.document.clone());
            }
        }
        let external = role
            .managed_policy_arns
            .iter()
            .filter(|(arn, _)| !self.policies.iter().any(|p| p.arn.as_deref() == Some(arn)))
            .cloned()
            .collect();
        Some(RolePolicies { role, policies, external })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::template::Template;
    use crate::template::render::{RefMode, Target, render};

    const SEED: &str = include_str!("../../../../scenarios/dkp-bootstrapper/template.yaml");

    fn model_of(text: &str) -> Result<IamModel, PolicyError> {
        let t = Template::parse(text, "t.yaml").unwrap();
        let target = Target::default();
        let rendered = render(&t, &target, RefMode::ResolveAll).unwrap();
        extract(&rendered, "aws", &target.account_id, &target.stack_name)
    }

    #[test]
    fn seed_model() {
        let m = model_of(SEED).unwrap();
        assert_eq!(m.roles.len(), 1);
        assert_eq!(m.roles[0].name, "dkp-bootstrapper-role");
        assert_eq!(m.instance_profiles[0].name, "DKPBootstrapInstanceProfile");
        let rp = m.policies_for_role("DKPBootstrapRole").unwrap();
        assert_eq!(rp.policies.len(), 1);
        assert_eq!(rp.policies[0].name, "dkp-bootstrapper-policy");
        assert_eq!(rp.policies[0].statements.len(), 7);
        let actions: usize = rp.policies[0].statements.iter().map(|s| s.action.items.len()).sum();
        assert_eq!(actions, 80, "78 distinct actions, CreateServiceLinkedRole in three statements");
        assert!(rp.external.is_empty());
        // The trust policy's placeholder became the target account.
        let (_, principals) = m.roles[0].trust.statements[1].principal.as_ref().unwrap();
        assert_eq!(principals[0].values, ["arn:aws:iam::000000000000:root"]);
    }

    #[test]
    fn attachments_by_arn_and_external_policies() {
        let m = model_of(
            "Resources:\n  R:\n    Type: AWS::IAM::Role\n    Properties:\n      RoleName: r\n      AssumeRolePolicyDocument: {Version: 2012-10-17, Statement: [{Effect: Allow, Principal: {Service: ec2.amazonaws.com}, Action: sts:AssumeRole}]}\n      ManagedPolicyArns: [!Ref P, arn:aws:iam::aws:policy/ReadOnlyAccess]\n      Policies:\n      - PolicyName: inline\n        PolicyDocument: {Version: 2012-10-17, Statement: [{Effect: Allow, Action: s3:GetObject, Resource: '*'}]}\n  P:\n    Type: AWS::IAM::ManagedPolicy\n    Properties:\n      PolicyDocument: {Version: 2012-10-17, Statement: [{Effect: Allow, Action: ec2:*, Resource: '*'}]}\n",
        )
        .unwrap();
        let rp = m.policies_for_role("R").unwrap();
        assert_eq!(rp.policies.len(), 2);
        assert_eq!(rp.external.len(), 1);
        assert_eq!(rp.external[0].0, "arn:aws:iam::aws:policy/ReadOnlyAccess");
    }

    #[test]
    fn attaching_to_an_unknown_role_is_an_error() {
        let e = model_of(
            "Resources:\n  P:\n    Type: AWS::IAM::ManagedPolicy\n    Properties:\n      Roles: [ghost]\n      PolicyDocument: {Version: 2012-10-17, Statement: [{Effect: Allow, Action: ec2:*, Resource: '*'}]}\n",
        )
        .unwrap_err();
        assert_eq!(e.loc.line, 5);
        assert!(e.message.contains("ghost"));
    }

    /// A managed policy whose document is `size` characters as IAM counts them.
    fn managed_of_size(size: usize) -> String {
        let empty = policy_size(
            &crate::template::json::parse(
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"","Resource":"*"}]}"#,
                &std::sync::Arc::from("x"),
            )
            .unwrap(),
        );
        let action = format!("s3:{}", "a".repeat(size - empty - 3));
        format!(
            "Resources:\n  P:\n    Type: AWS::IAM::ManagedPolicy\n    Properties:\n      PolicyDocument:\n        Version: '2012-10-17'\n        Statement:\n        - Effect: Allow\n          Action: '{action}'\n          Resource: '*'\n"
        )
    }

    #[test]
    fn managed_policies_larger_than_iam_takes_are_refused() {
        if let Err(e) = model_of(&managed_of_size(MAX_MANAGED_POLICY_CHARS)) {
            panic!("exactly the limit is allowed: {e}")
        }
        let e = model_of(&managed_of_size(MAX_MANAGED_POLICY_CHARS + 1)).unwrap_err();
        assert_eq!((e.loc.line, e.loc.column), (6, 9), "{e}");
        assert!(e.message.starts_with("managed policy `iam-conformance-P` is 6145 characters, not counting white space; IAM allows at most 6144"), "{e}");
        // A 5 MB action name is refused the same way (the file bound comes first in the shell).
        let e = model_of(&managed_of_size(5_000_000)).unwrap_err();
        assert_eq!(e.loc.line, 6, "{e}");
    }

    #[test]
    fn white_space_is_not_counted() {
        let tight = Node::new(super::super::Value::String(r#"{"Version":"2012-10-17"}"#.into()), Loc::builtin("t"));
        let loose =
            Node::new(super::super::Value::String("{\n  \"Version\" :\t\"2012-10-17\"\r\n}".into()), Loc::builtin("t"));
        assert_eq!(policy_size(&tight), 24);
        assert_eq!(policy_size(&loose), 24);
    }

    #[test]
    fn a_roles_inline_policies_together_are_bounded() {
        let statement = |n: usize| format!("{{Effect: Allow, Action: 's3:{}', Resource: '*'}}", "a".repeat(n));
        let role = |n: usize| {
            format!(
                "Resources:\n  R:\n    Type: AWS::IAM::Role\n    Properties:\n      RoleName: r\n      AssumeRolePolicyDocument: {{Version: 2012-10-17, Statement: [{{Effect: Allow, Principal: {{Service: ec2.amazonaws.com}}, Action: sts:AssumeRole}}]}}\n      Policies:\n      - PolicyName: a\n        PolicyDocument: {{Version: 2012-10-17, Statement: [{}]}}\n  I:\n    Type: AWS::IAM::Policy\n    Properties:\n      PolicyName: i\n      Roles: [r]\n      PolicyDocument: {{Version: 2012-10-17, Statement: [{}]}}\n",
                statement(n),
                statement(n)
            )
        };
        if let Err(e) = model_of(&role(4_000)) {
            panic!("{e}")
        }
        // Each is under 10,240; together they are not: refused at the one that crosses.
        let e = model_of(&role(6_000)).unwrap_err();
        assert_eq!(e.loc.line, 15, "{e}");
        assert!(e.message.contains("inline policies of `r` reach") && e.message.contains("at most 10240"), "{e}");
    }
}
