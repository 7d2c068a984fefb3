//! The policy language: documents, statements and their elements, parsed strictly from
//! located nodes (`crate::tree`). Every element keeps its location for findings and errors.

use super::condition::{ConditionValue, Operator, operator_names};
use super::wildcard::{Flavour, Pattern};
use crate::loc::Loc;
use crate::tree::{Node, Value};

/// What a policy document is used for; it decides which elements are allowed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PolicyKind {
    /// Attached to a principal: needs Resource, forbids Principal.
    Identity,
    /// A role's trust policy: needs Principal, forbids Resource.
    Trust,
}

/// Whether a statement grants or forbids what it matches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum Effect {
    /// Grants, unless a Deny also matches.
    Allow,
    /// Forbids, whatever else allows.
    Deny,
}

/// A pattern with the place it was written.
#[derive(Clone, Debug, PartialEq)]
pub struct Located {
    /// The compiled wildcard pattern.
    pub pattern: Pattern,
    /// Where the entry is written.
    pub loc: Loc,
}

impl Located {
    /// The entry as written.
    pub fn text(&self) -> &str {
        self.pattern.text()
    }
}

/// `Action` or `NotAction`, `Resource` or `NotResource`: the list and whether it is negated.
#[derive(Clone, Debug, PartialEq)]
pub struct Element {
    /// `NotAction` / `NotResource`: the statement applies to what the list does not match.
    pub negated: bool,
    /// The entries, each located.
    pub items: Vec<Located>,
    /// Where the element's key is written.
    pub loc: Loc,
}

/// One `operator: { key: [values] }` clause of a Condition block.
#[derive(Clone, Debug, PartialEq)]
pub struct Clause {
    /// The operator, with qualifier and `IfExists`.
    pub operator: Operator,
    /// Where the operator is written.
    pub operator_loc: Loc,
    /// The condition key, as written.
    pub key: String,
    /// Where the key is written.
    pub key_loc: Loc,
    /// The values, any of which may match (all must fail for a negated operator).
    pub values: Vec<ConditionValue>,
}

/// A principal entry of a trust policy (`{"AWS": [...]}`, `{"Service": ...}` or `"*"`).
#[derive(Clone, Debug, PartialEq)]
pub struct Principal {
    /// `AWS`, `Service`, `Federated`, `CanonicalUser`, or `*`.
    pub kind: String,
    /// The principals named.
    pub values: Vec<String>,
    /// Where its values are written.
    pub loc: Loc,
}

/// One statement of a policy, every element located.
#[derive(Clone, Debug, PartialEq)]
pub struct Statement {
    /// The Sid, which names the statement in findings and mutant ids.
    pub sid: Option<String>,
    /// Allow or Deny.
    pub effect: Effect,
    /// `Action` or `NotAction`.
    pub action: Element,
    /// `Resource` or `NotResource`; absent in trust policies.
    pub resource: Option<Element>,
    /// `Principal` (false) or `NotPrincipal` (true) with its entries; trust policies only.
    pub principal: Option<(bool, Vec<Principal>)>,
    /// Every clause of the Condition block, all of which must hold.
    pub conditions: Vec<Clause>,
    /// Where the statement begins.
    pub loc: Loc,
}

/// A parsed policy document and the name it is known by in the template.
#[derive(Clone, Debug, PartialEq)]
pub struct Policy {
    /// The name the template gives it, which labels its statements in reports.
    pub name: String,
    /// Identity or trust policy.
    pub kind: PolicyKind,
    /// The `Version`, which decides whether policy variables are read.
    pub version: String,
    /// The statements, in order.
    pub statements: Vec<Statement>,
    /// Where the document is written.
    pub loc: Loc,
}

impl Policy {
    /// Whether policy variables are interpreted (only in version 2012-10-17).
    pub fn has_variables(&self) -> bool {
        self.version == "2012-10-17"
    }
}

/// `policy#Sid`, or `policy#index` without a Sid: how reports and the gate's records name
/// a statement.
pub fn statement_label(policy: &str, index: usize, sid: Option<&str>) -> String {
    match sid {
        Some(sid) => format!("{policy}#{sid}"),
        None => format!("{policy}#{index}"),
    }
}

/// A policy element that is not what AWS accepts. Always located.
#[derive(Debug, thiserror::Error)]
#[error("{loc}: {message}")]
pub struct PolicyError {
    /// The element to fix.
    pub loc: Loc,
    /// What is wrong and what AWS accepts.
    pub message: String,
}

fn err(loc: &Loc, message: impl Into<String>) -> PolicyError {
    PolicyError { loc: loc.clone(), message: message.into() }
}

const DOCUMENT_KEYS: &[&str] = &["Version", "Id", "Statement"];
const STATEMENT_KEYS: &[&str] =
    &["Sid", "Effect", "Action", "NotAction", "Resource", "NotResource", "Condition", "Principal", "NotPrincipal"];

fn unknown_key(key: &str, allowed: &[&str], loc: &Loc, what: &str) -> PolicyError {
    let hint = allowed
        .iter()
        .find(|a| a.eq_ignore_ascii_case(key) || edit_distance(a, key) <= 2)
        .map(|a| format!("; did you mean `{a}`?"))
        .unwrap_or_default();
    err(loc, format!("unknown {what} element `{key}` (expected one of {}){hint}", allowed.join(", ")))
}

/// Levenshtein distance, for "did you mean" hints on misspelt element names.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

/// Parses a policy document.
pub fn parse_policy(name: &str, node: &Node, kind: PolicyKind) -> Result<Policy, PolicyError> {
    let entries = node
        .as_map()
        .ok_or_else(|| err(&node.loc, format!("a policy document is a mapping, found {}", node.kind())))?;
    for e in entries {
        if !DOCUMENT_KEYS.contains(&e.key.as_str()) {
            return Err(unknown_key(&e.key, DOCUMENT_KEYS, &e.key_loc, "policy"));
        }
    }
    let version = match node.get("Version") {
        None => "2008-10-17".to_string(),
        Some(v) => match v.as_str() {
            Some(s @ ("2012-10-17" | "2008-10-17")) => s.to_string(),
            _ => {
                return Err(err(
                    &v.loc,
                    format!("`Version` must be \"2012-10-17\" or \"2008-10-17\", found {}", describe(v)),
                ));
            }
        },
    };
    let variables = version == "2012-10-17";
    let stmt_node = node.get("Statement").ok_or_else(|| err(&node.loc, "the policy has no `Statement`"))?;
    let list: Vec<&Node> = match &stmt_node.value {
        Value::Seq(items) => items.iter().collect(),
        Value::Map(_) => vec![stmt_node],
        _ => {
            return Err(err(
                &stmt_node.loc,
                format!("`Statement` is a statement or a list of them, found {}", stmt_node.kind()),
            ));
        }
    };
    let mut statements = Vec::new();
    for s in list {
        statements.push(parse_statement(s, kind, variables)?);
    }
    let mut seen = std::collections::HashSet::new();
    for s in &statements {
        if let Some(sid) = &s.sid
            && !seen.insert(sid.clone())
        {
            return Err(err(&s.loc, format!("duplicate `Sid` \"{sid}\"")));
        }
    }
    Ok(Policy { name: name.to_string(), kind, version, statements, loc: node.loc.clone() })
}

fn describe(node: &Node) -> String {
    match &node.value {
        Value::String(s) => format!("\"{s}\""),
        _ => node.kind().to_string(),
    }
}

fn parse_statement(node: &Node, kind: PolicyKind, variables: bool) -> Result<Statement, PolicyError> {
    let entries =
        node.as_map().ok_or_else(|| err(&node.loc, format!("a statement is a mapping, found {}", node.kind())))?;
    for e in entries {
        if !STATEMENT_KEYS.contains(&e.key.as_str()) {
            return Err(unknown_key(&e.key, STATEMENT_KEYS, &e.key_loc, "statement"));
        }
    }
    let sid = match node.get("Sid") {
        None => None,
        Some(v) => Some(
            v.as_str()
                .filter(|s| s.chars().all(|c| c.is_ascii_alphanumeric() || c == ' ' || c == '_' || c == '-'))
                .ok_or_else(|| err(&v.loc, "`Sid` must be a string of letters and digits"))?
                .to_string(),
        ),
    };
    let effect = match node.get("Effect") {
        Some(v) => match v.as_str() {
            Some("Allow") => Effect::Allow,
            Some("Deny") => Effect::Deny,
            _ => return Err(err(&v.loc, format!("`Effect` must be \"Allow\" or \"Deny\", found {}", describe(v)))),
        },
        None => return Err(err(&node.loc, "the statement has no `Effect`")),
    };
    let action = one_of(node, "Action", "NotAction")?
        .ok_or_else(|| err(&node.loc, "the statement needs `Action` or `NotAction`"))?;
    let action = element(action.0, action.1, &|text, loc| parse_action(text, loc))?;
    let resource = match one_of(node, "Resource", "NotResource")? {
        Some((n, negated)) => {
            if kind == PolicyKind::Trust {
                return Err(err(&n.loc, "a trust policy must not have `Resource`/`NotResource`"));
            }
            Some(element(n, negated, &|text, loc| parse_resource(text, loc, variables))?)
        }
        None if kind == PolicyKind::Identity => {
            return Err(err(&node.loc, "the statement needs `Resource` or `NotResource`"));
        }
        None => None,
    };
    let principal = match one_of(node, "Principal", "NotPrincipal")? {
        Some((n, negated)) => {
            if kind == PolicyKind::Identity {
                return Err(err(&n.loc, "an identity policy must not have `Principal`/`NotPrincipal`"));
            }
            Some((negated, parse_principal(n)?))
        }
        None if kind == PolicyKind::Trust => return Err(err(&node.loc, "a trust policy statement needs `Principal`")),
        None => None,
    };
    let conditions = match node.get("Condition") {
        Some(c) => parse_conditions(c, variables)?,
        None => Vec::new(),
    };
    Ok(Statement { sid, effect, action, resource, principal, conditions, loc: node.loc.clone() })
}

fn one_of<'a>(node: &'a Node, plain: &str, negated: &str) -> Result<Option<(&'a Node, bool)>, PolicyError> {
    match (node.get(plain), node.get(negated)) {
        (Some(_), Some(n)) => Err(err(&n.loc, format!("a statement has either `{plain}` or `{negated}`, not both"))),
        (Some(p), None) => Ok(Some((p, false))),
        (None, Some(n)) => Ok(Some((n, true))),
        (None, None) => Ok(None),
    }
}

fn strings(node: &Node) -> Result<Vec<(&str, &Loc)>, PolicyError> {
    match &node.value {
        Value::String(s) => Ok(vec![(s.as_str(), &node.loc)]),
        Value::Seq(items) if !items.is_empty() => items
            .iter()
            .map(|i| {
                i.as_str()
                    .map(|s| (s, &i.loc))
                    .ok_or_else(|| err(&i.loc, format!("expected a string, found {}", i.kind())))
            })
            .collect(),
        Value::Seq(_) => Err(err(&node.loc, "expected a string or a non-empty list of strings, found an empty list")),
        _ => Err(err(&node.loc, format!("expected a string or a list of strings, found {}", node.kind()))),
    }
}

fn element(
    node: &Node,
    negated: bool,
    parse: &dyn Fn(&str, &Loc) -> Result<Pattern, PolicyError>,
) -> Result<Element, PolicyError> {
    let mut items = Vec::new();
    for (text, loc) in strings(node)? {
        items.push(Located { pattern: parse(text, loc)?, loc: loc.clone() });
    }
    Ok(Element { negated, items, loc: node.loc.clone() })
}

/// `*` or `service:Action` (with wildcards); the service prefix is letters, digits and
/// dashes, in either case. IAM User Guide, "IAM JSON policy elements: Action": "The prefix
/// and the action name are case insensitive. For example, `iam:ListAccessKeys` is the same
/// as `IAM:listaccesskeys`." The pattern keeps the text as written (findings point at it)
/// and matches case-insensitively ([`Flavour::Action`]); the catalog gives the canonical
/// spelling (`crate::catalog::Catalog::action`).
pub fn parse_action(text: &str, loc: &Loc) -> Result<Pattern, PolicyError> {
    if text != "*" {
        let Some((service, action)) = text.split_once(':') else {
            return Err(err(loc, format!("action `{text}` must have the form service:Action")));
        };
        let service_ok = !service.is_empty()
            && service.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '*' || c == '?');
        let action_ok =
            !action.is_empty() && action.chars().all(|c| c.is_ascii_alphanumeric() || c == '*' || c == '?' || c == '-');
        if !service_ok || !action_ok {
            return Err(err(
                loc,
                format!("action `{text}` must have the form service:Action (letters, digits, `*`, `?`)"),
            ));
        }
    }
    Ok(Pattern::new(text, Flavour::Action, false))
}

/// `*` or an ARN `arn:partition:service:region:account:resource`.
pub fn parse_resource(text: &str, loc: &Loc, variables: bool) -> Result<Pattern, PolicyError> {
    if text != "*" {
        let parts: Vec<&str> = text.splitn(6, ':').collect();
        if parts.len() < 6 || parts[0] != "arn" || parts[1].is_empty() || parts[2].is_empty() {
            return Err(err(
                loc,
                format!(
                    "resource `{text}` is not `*` or an ARN of the form arn:partition:service:region:account:resource"
                ),
            ));
        }
    }
    Ok(Pattern::new(text, Flavour::Arn, variables))
}

fn parse_principal(node: &Node) -> Result<Vec<Principal>, PolicyError> {
    if node.as_str() == Some("*") {
        return Ok(vec![Principal { kind: "*".into(), values: vec!["*".into()], loc: node.loc.clone() }]);
    }
    let entries = node
        .as_map()
        .ok_or_else(|| err(&node.loc, format!("`Principal` is \"*\" or a mapping, found {}", node.kind())))?;
    let mut out = Vec::new();
    for e in entries {
        if !["AWS", "Service", "Federated", "CanonicalUser"].contains(&e.key.as_str()) {
            return Err(err(
                &e.key_loc,
                format!("unknown principal type `{}` (expected AWS, Service, Federated or CanonicalUser)", e.key),
            ));
        }
        let values = strings(&e.value)?.into_iter().map(|(s, _)| s.to_string()).collect();
        out.push(Principal { kind: e.key.clone(), values, loc: e.value.loc.clone() });
    }
    Ok(out)
}

fn parse_conditions(node: &Node, variables: bool) -> Result<Vec<Clause>, PolicyError> {
    let ops = node
        .as_map()
        .ok_or_else(|| err(&node.loc, format!("`Condition` is a mapping of operators, found {}", node.kind())))?;
    let mut out = Vec::new();
    for op in ops {
        let operator = Operator::parse(&op.key).ok_or_else(|| {
            err(
                &op.key_loc,
                format!(
                    "unknown condition operator `{}` (known: {}, each optionally with IfExists and ForAnyValue:/ForAllValues:)",
                    op.key,
                    operator_names().collect::<Vec<_>>().join(", ")
                ),
            )
        })?;
        let keys = op.value.as_map().ok_or_else(|| {
            err(&op.value.loc, format!("`{}` takes a mapping of condition keys, found {}", op.key, op.value.kind()))
        })?;
        for k in keys {
            let raw: Vec<&Node> = match &k.value.value {
                Value::Seq(items) if !items.is_empty() => items.iter().collect(),
                Value::Seq(_) => return Err(err(&k.value.loc, "a condition key needs at least one value")),
                _ => vec![&k.value],
            };
            let mut values = Vec::new();
            for v in raw {
                let text = match &v.value {
                    Value::String(s) | Value::Number(s) => s.clone(),
                    Value::Bool(b) => b.to_string(),
                    _ => {
                        return Err(err(
                            &v.loc,
                            format!("a condition value is a string, number or boolean, found {}", v.kind()),
                        ));
                    }
                };
                if let Err(expected) = crate::policy::condition::validate_value(operator.kind, &text, variables) {
                    return Err(err(
                        &v.loc,
                        format!("`{text}` is not a valid value for `{}`: expected {expected}", op.key),
                    ));
                }
                values.push(ConditionValue::new(&text, operator.kind, variables));
            }
            out.push(Clause {
                operator,
                operator_loc: op.key_loc.clone(),
                key: k.key.clone(),
                key_loc: k.key_loc.clone(),
                values,
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::template::yaml;
    use std::sync::Arc;

    fn parse(text: &str, kind: PolicyKind) -> Result<Policy, PolicyError> {
        let node = yaml::parse(text, &Arc::from("p.yaml")).unwrap();
        parse_policy("p", &node, kind)
    }

    #[test]
    fn parses_statement_forms() {
        let p = parse(
            "Version: 2012-10-17\nStatement:\n  Sid: A1\n  Effect: Allow\n  Action: ec2:*\n  Resource: '*'\n  Condition:\n    StringLike:\n      iam:AWSServiceName: [a, b]\n",
            PolicyKind::Identity,
        )
        .unwrap();
        assert_eq!(p.statements.len(), 1);
        let s = &p.statements[0];
        assert_eq!(s.sid.as_deref(), Some("A1"));
        assert_eq!(s.conditions[0].values.len(), 2);
        assert_eq!(s.action.items[0].loc.line, 5);
    }

    #[test]
    fn rejects_with_location() {
        let cases = [
            (
                "Version: 2012-10-17\nStatement:\n- Effect: Allow\n  Actions: ec2:*\n  Resource: '*'\n",
                4,
                "did you mean",
            ),
            ("Version: 2012-10-17\nStatement:\n- Effect: allow\n  Action: ec2:*\n  Resource: '*'\n", 3, "Effect"),
            (
                "Version: 2012-10-17\nStatement:\n- Effect: Allow\n  Action: ec2:*\n  Resource: 'arn:aws:ec2'\n",
                5,
                "ARN",
            ),
            (
                "Version: 2012-10-17\nStatement:\n- Effect: Allow\n  Action: CreateVpc\n  Resource: '*'\n",
                4,
                "service:Action",
            ),
            (
                "Version: 2012-10-17\nStatement:\n- Effect: Allow\n  Action: ec2:*\n  Resource: '*'\n  Condition:\n    StringLikes: {a: b}\n",
                7,
                "operator",
            ),
            ("Version: 2012-10-18\nStatement: []\n", 1, "Version"),
            ("Version: 2012-10-17\nStatement:\n- Effect: Allow\n  Action: ec2:*\n", 3, "Resource"),
            (
                "Version: 2012-10-17\nStatement:\n- Effect: Allow\n  Action: ec2:*\n  Resource: '*'\n  Principal: '*'\n",
                6,
                "identity",
            ),
            (
                "Version: 2012-10-17\nStatement:\n- Effect: Allow\n  Action: ec2:*\n  NotAction: ec2:*\n  Resource: '*'\n",
                5,
                "not both",
            ),
            (
                "Version: 2012-10-17\nStatement:\n- Effect: Allow\n  Action: ec2:*\n  Resource: '*'\n  Condition:\n    IpAddress:\n      aws:SourceIp: 10.0.0.0/abc\n",
                8,
                "CIDR",
            ),
            (
                "Version: 2012-10-17\nStatement:\n- Effect: Allow\n  Action: ec2:*\n  Resource: '*'\n  Condition:\n    NumericLessThan:\n      k: [1, abc]\n",
                8,
                "a number",
            ),
            (
                "Version: 2012-10-17\nStatement:\n- Effect: Allow\n  Action: ec2:*\n  Resource: '*'\n  Condition:\n    'Null':\n      k: maybe\n",
                8,
                "`true` or `false`",
            ),
        ];
        for (text, line, needle) in cases {
            let e = parse(text, PolicyKind::Identity).unwrap_err();
            assert_eq!(e.loc.line, line, "{text}\n{e}");
            assert!(e.message.contains(needle), "{e}");
        }
    }

    /// IAM User Guide, "IAM JSON policy elements: Action": "The prefix and the action name
    /// are case insensitive. For example, `iam:ListAccessKeys` is the same as
    /// `IAM:listaccesskeys`."
    #[test]
    fn action_prefix_and_name_are_case_insensitive() {
        let loc = Loc { file: Arc::from("p.yaml"), line: 1, column: 1 };
        // (as written, a request action it must match, one it must not)
        let accepted = [
            ("IAM:listaccesskeys", "iam:ListAccessKeys", "iam:ListAccessKey"),
            ("EC2:describevpcs", "ec2:DescribeVpcs", "ec2:DescribeVpc"),
            ("Ec2:Describe*", "ec2:DescribeVpcs", "ec2:CreateVpc"),
            ("ElasticLoadBalancing:*", "elasticloadbalancing:CreateLoadBalancer", "ec2:CreateVpc"),
            ("SECRETSMANAGER:GetSecret?alue", "secretsmanager:GetSecretValue", "secretsmanager:GetSecretValues"),
            // What worked before.
            ("iam:ListAccessKeys", "IAM:listaccesskeys", "iam:ListAccessKeysX"),
            ("ec2:*", "ec2:CreateVpc", "iam:PassRole"),
            ("*", "sts:AssumeRole", ""),
            ("elastic-inference:Connect", "elastic-inference:connect", "elastic-inference:Disconnect"),
        ];
        for (text, yes, no) in accepted {
            let p = parse_action(text, &loc).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(p.text(), text, "the pattern keeps the text as written");
            assert!(p.matches(yes), "{text} matches {yes}");
            assert!(!p.matches(no) || no.is_empty(), "{text} does not match {no}");
        }
        for bad in ["CreateVpc", "ec2:", ":CreateVpc", "e c2:CreateVpc", "ec2:Create Vpc", "ec2_x:CreateVpc"] {
            assert!(parse_action(bad, &loc).is_err(), "{bad} is refused");
        }
        // Through the whole statement parser, as a template writes it.
        let p = parse(
            "Version: 2012-10-17\nStatement:\n- Effect: Allow\n  Action: [EC2:describevpcs, IAM:listaccesskeys]\n  Resource: '*'\n",
            PolicyKind::Identity,
        )
        .unwrap();
        let items: Vec<&str> = p.statements[0].action.items.iter().map(|i| i.text()).collect();
        assert_eq!(items, ["EC2:describevpcs", "IAM:listaccesskeys"]);
    }

    /// Date values of every W3C form pass the loader (IAM User Guide, "IAM JSON policy
    /// elements: Condition operators": "You must specify date/time values with one of the
    /// W3C implementations of the ISO 8601 date formats or in epoch (UNIX) time.").
    #[test]
    fn date_values_of_reduced_precision_load() {
        for value in [
            "'2020'",
            "'2020-02'",
            "'2020-02-01'",
            "'2020-02-01T12:00Z'",
            "'2020-02-01T12:00:00.5+01:00'",
            "1700000000",
        ] {
            let text = format!(
                "Version: 2012-10-17\nStatement:\n- Effect: Allow\n  Action: ec2:*\n  Resource: '*'\n  Condition:\n    DateLessThan:\n      aws:CurrentTime: {value}\n"
            );
            assert!(parse(&text, PolicyKind::Identity).is_ok(), "{value}");
        }
        let text = "Version: 2012-10-17\nStatement:\n- Effect: Allow\n  Action: ec2:*\n  Resource: '*'\n  Condition:\n    DateLessThan:\n      aws:CurrentTime: '2020-2'\n";
        let e = parse(text, PolicyKind::Identity).unwrap_err();
        assert_eq!(e.loc.line, 8);
        assert!(e.message.contains("W3C ISO 8601"), "{e}");
    }

    #[test]
    fn trust_policies_need_principals() {
        let ok = parse(
            "Version: 2012-10-17\nStatement:\n- Effect: Allow\n  Action: sts:AssumeRole\n  Principal:\n    Service: [ec2.amazonaws.com]\n",
            PolicyKind::Trust,
        )
        .unwrap();
        let (negated, principals) = ok.statements[0].principal.as_ref().unwrap();
        assert!(!negated);
        assert_eq!(principals[0].values, ["ec2.amazonaws.com"]);
        let e =
            parse("Version: 2012-10-17\nStatement:\n- Effect: Allow\n  Action: sts:AssumeRole\n", PolicyKind::Trust)
                .unwrap_err();
        assert!(e.message.contains("Principal"));
    }
}
