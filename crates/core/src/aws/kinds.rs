//! The facts of each resource kind a run creates and `sweep` deletes — its label, service,
//! SAR resource type, id prefix, listing, tag call, deletion calls, what creates it — read
//! strictly from `catalog/resource-kinds.toml` (embedded: no I/O), one row per
//! [`Kind`] in deletion order. The rules that use them are in [`super::sweep`].

use std::ops::Range;
use std::sync::{Arc, OnceLock};

use serde::Deserialize;
use serde_json::{Map, Value};
use toml::Spanned;

use super::sweep::Kind;
use crate::loc::Loc;

/// The data file, as errors name it.
pub const FILE: &str = "catalog/resource-kinds.toml";

const EMBEDDED: &str = include_str!("../../../../catalog/resource-kinds.toml");

/// The facts of one kind: a `[[kind]]` of `catalog/resource-kinds.toml`.
#[derive(Clone, Debug, PartialEq)]
pub struct KindRow {
    /// The kind.
    pub kind: Kind,
    /// How reports name it ("internet gateway").
    pub label: String,
    /// The service whose API creates, tags, lists and deletes it.
    pub service: String,
    /// Its resource type in the Service Authorization Reference.
    pub arn_type: String,
    /// The prefix of its EC2 id (`vpc-`).
    pub id_prefix: Option<String>,
    /// The start of the resource part of its ARN (`secret:`).
    pub arn_resource_prefix: Option<String>,
    /// The CloudFormation resource type by which a stack's resources name it, for the
    /// kinds a sweep leaves to the stack that manages them.
    pub stack_resource_type: Option<String>,
    /// The calls that create it, `service:Operation`.
    pub creates: Vec<String>,
    /// How `sweep` finds it.
    pub listing: Listing,
    /// How a run tags it after creating it (`None`: the create call tags it).
    pub tag: Option<TagTemplate>,
    /// The call made before the delete for each entry of what it is attached to.
    pub detach: Option<CallTemplate>,
    /// The call that deletes it.
    pub delete: CallTemplate,
    /// The call that deletes it when its listing showed its name.
    pub delete_by_name: Option<CallTemplate>,
    /// How the end of AWS's asynchronous deletion is seen.
    pub confirm: Option<Confirm>,
    /// The AWS pages the facts come from.
    pub source: String,
}

/// How `sweep` lists a kind.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Listing {
    /// The listing operation.
    pub operation: String,
    /// The input member of its `tag-key` filter.
    pub filter: Option<String>,
    /// Where the resources are in its answer (a `wire::search` path).
    pub items: Option<String>,
    /// The member of an item holding the id deletion takes.
    pub id: Option<String>,
    /// The operation listing one resource's tags.
    pub tags: Option<String>,
    /// Its input member naming the resource.
    pub tags_member: Option<String>,
}

/// One call, its input and its report text as templates (see the file's header).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallTemplate {
    /// The operation.
    pub operation: String,
    /// The input, with placeholders.
    #[serde(deserialize_with = "in_order")]
    pub input: Map<String, Value>,
    /// What reports show after `service:Operation`, with placeholders.
    pub what: String,
}

/// How a run tags a kind.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TagTemplate {
    /// The tagging operation.
    pub operation: String,
    /// The input, with placeholders (`{tags}` the run's tags).
    #[serde(deserialize_with = "in_order")]
    pub input: Map<String, Value>,
    /// One tag's form in `{tags}` (default `{ Key = "{key}", Value = "{value}" }`).
    #[serde(default, deserialize_with = "in_order_optional")]
    pub each_tag: Option<Map<String, Value>>,
}

/// How the end of AWS's asynchronous deletion of a kind is seen.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Confirm {
    /// The listing that shows what is left.
    pub operation: String,
    /// Its input (`{ids}` the ids followed).
    #[serde(deserialize_with = "in_order")]
    pub input: Map<String, Value>,
    /// The botocore waiter that reads its answers, where botocore has one.
    pub waiter: Option<String>,
    /// Where the resources are in the answer (a `wire::search` path).
    pub items: String,
    /// The member holding an item's id.
    pub id: String,
    /// The dotted member path of an item's state.
    pub state: String,
    /// The state of an item that shows none.
    #[serde(default)]
    pub state_if_absent: String,
    /// The state of a resource that is gone; `None`: one still listed is not gone.
    pub gone: Option<String>,
}

/// A TOML value as JSON, each table's members in the file's order: `toml` sorts a
/// table's keys, but a call's input keeps its members' order on the wire
/// (`wire::serialize`), so the keys are read with their positions and put back in order.
struct InOrder(Value);

impl<'de> Deserialize<'de> for InOrder {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Value;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string, number, boolean, array or table")
            }
            fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
                Ok(Value::Bool(v))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
                Ok(Value::from(v))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
                Ok(Value::from(v))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
                Ok(Value::from(v))
            }
            fn visit_str<E>(self, v: &str) -> Result<Value, E> {
                Ok(Value::from(v))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
                let mut out = Vec::new();
                while let Some(InOrder(v)) = seq.next_element()? {
                    out.push(v);
                }
                Ok(Value::Array(out))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
                let mut entries: Vec<(Spanned<String>, Value)> = Vec::new();
                while let Some(key) = map.next_key::<Spanned<String>>()? {
                    let InOrder(v) = map.next_value()?;
                    entries.push((key, v));
                }
                entries.sort_by_key(|(k, _)| k.span().start);
                Ok(Value::Object(entries.into_iter().map(|(k, v)| (k.into_inner(), v)).collect()))
            }
        }
        deserializer.deserialize_any(Visitor).map(InOrder)
    }
}

/// A table, its members in the file's order.
fn in_order<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Map<String, Value>, D::Error> {
    match InOrder::deserialize(deserializer)?.0 {
        Value::Object(map) => Ok(map),
        other => Err(serde::de::Error::custom(format!("expected a table, found {other}"))),
    }
}

fn in_order_optional<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Map<String, Value>>, D::Error> {
    in_order(deserializer).map(Some)
}

/// A resource-kinds file that is not what its header says.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{loc}: {message}")]
pub struct KindsError {
    /// Where it is wrong.
    pub loc: Loc,
    /// What is wrong, and what was expected.
    pub message: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    kind: Vec<Row>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Row {
    name: Spanned<String>,
    label: String,
    service: String,
    arn_type: String,
    id_prefix: Option<Spanned<String>>,
    arn_resource_prefix: Option<String>,
    stack_resource_type: Option<String>,
    creates: Spanned<Vec<String>>,
    listing: Spanned<Listing>,
    tag: Option<Spanned<TagTemplate>>,
    detach: Option<Spanned<CallTemplate>>,
    delete: Spanned<CallTemplate>,
    delete_by_name: Option<Spanned<CallTemplate>>,
    confirm: Option<Spanned<Confirm>>,
    source: String,
}

/// The placeholders each template may use.
const IN_TAG: &[&str] = &["id", "iam_name", "tags"];
const IN_EACH_TAG: &[&str] = &["id", "iam_name", "key", "value"];
const IN_DELETE: &[&str] = &["id", "iam_name"];
const IN_DELETE_BY_NAME: &[&str] = &["id", "iam_name", "name"];
const IN_DETACH: &[&str] = &["id", "iam_name", "attached"];
const IN_CONFIRM: &[&str] = &["ids"];

/// Every row of the embedded file, in deletion order (the order of [`Kind::ALL`]).
pub fn rows() -> &'static [KindRow] {
    static ROWS: OnceLock<Vec<KindRow>> = OnceLock::new();
    ROWS.get_or_init(|| {
        // The file is checked in and covered by tests; failing here is a build defect.
        parse(EMBEDDED, FILE).unwrap_or_else(|e| panic!("embedded resource kinds: {e}"))
    })
}

/// The row of `kind`.
pub fn row(kind: Kind) -> &'static KindRow {
    // Rows are validated to be in the order of `Kind::ALL`, which is the declaration order.
    &rows()[kind as usize]
}

/// The kind named `name` (its variant's name), if any.
pub fn kind_named(name: &str) -> Option<Kind> {
    Kind::ALL.into_iter().find(|k| format!("{k:?}") == name)
}

/// Reads a resource-kinds file (`file` names it in errors) strictly: every kind of
/// [`Kind::ALL`] exactly once, in that order, each template using only its placeholders.
pub fn parse(text: &str, file: &str) -> Result<Vec<KindRow>, KindsError> {
    let file: Arc<str> = Arc::from(file);
    let line_of = |offset: usize| text[..offset.min(text.len())].matches('\n').count() + 1;
    let error = |span: Option<Range<usize>>, message: String| {
        let start = span.map_or(0, |s| s.start.min(text.len()));
        let before = &text[..start];
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        KindsError { loc: Loc::new(&file, line_of(start), column), message }
    };
    let raw: File = toml::from_str(text).map_err(|e| error(e.span(), e.message().trim().to_string()))?;
    let order = || Kind::ALL.map(|k| format!("`{k:?}`")).join(", ");
    let mut out: Vec<KindRow> = Vec::new();
    let mut seen: Vec<(Kind, usize)> = Vec::new();
    for (i, row) in raw.kind.iter().enumerate() {
        let name = row.name.get_ref();
        let span = Some(row.name.span());
        let Some(kind) = kind_named(name) else {
            return Err(error(span, format!("unknown kind `{name}`: expected one of {}", order())));
        };
        if let Some((_, first)) = seen.iter().find(|(k, _)| *k == kind) {
            return Err(error(
                span,
                format!("kind `{name}` is listed twice (first at line {first}): expected each kind once"),
            ));
        }
        seen.push((kind, line_of(row.name.span().start)));
        let Some(&expected) = Kind::ALL.get(i) else {
            // Unreachable: more rows than kinds means a repeat or an unknown name, both caught above.
            return Err(error(span, format!("expected {} kinds", Kind::ALL.len())));
        };
        if kind != expected {
            let listed = raw.kind.iter().any(|r| r.name.get_ref() == &format!("{expected:?}"));
            let message = if listed {
                format!(
                    "kind `{name}` is out of deletion order: expected `{expected:?}` here (the order is {})",
                    order()
                )
            } else {
                format!("kind `{expected:?}` is missing: expected it here, before `{name}` (the order is {})", order())
            };
            return Err(error(span, message));
        }
        out.push(check(kind, row).map_err(|(span, message)| error(Some(span), format!("kind `{name}`: {message}")))?);
    }
    if let Some(missing) = Kind::ALL.get(out.len()..).filter(|m| !m.is_empty()) {
        let names = missing.iter().map(|k| format!("`{k:?}`")).collect::<Vec<_>>().join(", ");
        return Err(error(
            Some(text.len()..text.len()),
            format!("kinds missing at the end: {names}: expected one [[kind]] per kind, in the order {}", order()),
        ));
    }
    Ok(out)
}

/// One row's own checks; the error is at a span of the row.
fn check(kind: Kind, row: &Row) -> Result<KindRow, (Range<usize>, String)> {
    let at = |span: Range<usize>| move |message: String| (span.clone(), message);
    let name_span = row.name.span();
    if row.label.is_empty() || row.service.is_empty() || row.arn_type.is_empty() || row.source.is_empty() {
        return Err((name_span, "`label`, `service`, `arn_type` and `source` must not be empty".into()));
    }
    if let Some(prefix) = &row.id_prefix
        && (!prefix.get_ref().ends_with('-') || prefix.get_ref().matches('-').count() != 1)
    {
        return Err((
            prefix.span(),
            format!("`id_prefix` must be letters then one `-` (`vpc-`), not `{}`", prefix.get_ref()),
        ));
    }
    let creates = row.creates.get_ref();
    if creates.is_empty() || creates.iter().any(|c| c.split_once(':').is_none_or(|(s, o)| s.is_empty() || o.is_empty()))
    {
        return Err((row.creates.span(), "`creates` must list `service:Operation` calls, at least one".into()));
    }
    let listing = row.listing.get_ref();
    if row.service == "ec2" && (listing.filter.is_none() || listing.items.is_none() || listing.id.is_none()) {
        return Err((row.listing.span(), "an EC2 listing needs `filter`, `items` and `id`".into()));
    }
    if listing.tags.is_some() != listing.tags_member.is_some() {
        return Err((row.listing.span(), "`tags` and `tags_member` go together".into()));
    }
    if let Some(tag) = &row.tag {
        let t = tag.get_ref();
        check_input(&t.input, IN_TAG).map_err(at(tag.span()))?;
        if let Some(each) = &t.each_tag {
            check_input(each, IN_EACH_TAG).map_err(at(tag.span()))?;
        }
    }
    for (template, allowed, field) in [
        (Some(&row.delete), IN_DELETE, "delete"),
        (row.delete_by_name.as_ref(), IN_DELETE_BY_NAME, "delete_by_name"),
        (row.detach.as_ref(), IN_DETACH, "detach"),
    ] {
        let Some(template) = template else { continue };
        let t = template.get_ref();
        check_input(&t.input, allowed)
            .and_then(|()| check_text(&t.what, allowed))
            .map_err(|m| (template.span(), format!("`{field}`: {m}")))?;
    }
    if let Some(confirm) = &row.confirm {
        check_input(&confirm.get_ref().input, IN_CONFIRM).map_err(|m| (confirm.span(), format!("`confirm`: {m}")))?;
    }
    Ok(KindRow {
        kind,
        label: row.label.clone(),
        service: row.service.clone(),
        arn_type: row.arn_type.clone(),
        id_prefix: row.id_prefix.as_ref().map(|p| p.get_ref().clone()),
        arn_resource_prefix: row.arn_resource_prefix.clone(),
        stack_resource_type: row.stack_resource_type.clone(),
        creates: creates.clone(),
        listing: listing.clone(),
        tag: row.tag.as_ref().map(|t| t.get_ref().clone()),
        detach: row.detach.as_ref().map(|t| t.get_ref().clone()),
        delete: row.delete.get_ref().clone(),
        delete_by_name: row.delete_by_name.as_ref().map(|t| t.get_ref().clone()),
        confirm: row.confirm.as_ref().map(|t| t.get_ref().clone()),
        source: row.source.clone(),
    })
}

/// Every string of an input template that holds a brace is exactly one allowed placeholder.
fn check_input(input: &Map<String, Value>, allowed: &[&str]) -> Result<(), String> {
    fn walk(v: &Value, allowed: &[&str]) -> Result<(), String> {
        match v {
            Value::String(s) if s.contains(['{', '}']) => match placeholder(s) {
                Some(p) if allowed.contains(&p) => Ok(()),
                _ => Err(format!("`{s}` is not a placeholder here: expected one of {}", list(allowed))),
            },
            Value::Array(a) => a.iter().try_for_each(|v| walk(v, allowed)),
            Value::Object(o) => o.values().try_for_each(|v| walk(v, allowed)),
            _ => Ok(()),
        }
    }
    input.values().try_for_each(|v| walk(v, allowed))
}

/// Every `{…}` of a `what` template is an allowed placeholder.
fn check_text(what: &str, allowed: &[&str]) -> Result<(), String> {
    let mut rest = what;
    while let Some(open) = rest.find(['{', '}']) {
        let close = rest[open..].find('}').map(|c| open + c);
        match close {
            Some(close) if rest.as_bytes()[open] == b'{' && allowed.contains(&&rest[open + 1..close]) => {
                rest = &rest[close + 1..];
            }
            _ => return Err(format!("`what` = `{what}`: expected only the placeholders {}", list(allowed))),
        }
    }
    Ok(())
}

fn list(allowed: &[&str]) -> String {
    allowed.iter().map(|p| format!("`{{{p}}}`")).collect::<Vec<_>>().join(", ")
}

/// The name of a whole-string placeholder (`{id}` → `id`).
fn placeholder(s: &str) -> Option<&str> {
    s.strip_prefix('{')?.strip_suffix('}').filter(|p| !p.contains(['{', '}']))
}

/// The values placeholders stand for, by name.
pub type Vars<'a> = [(&'a str, Value)];

/// A template's input with its placeholders filled from `vars`.
pub fn fill(template: &Map<String, Value>, vars: &Vars) -> Value {
    fn walk(v: &Value, vars: &Vars) -> Value {
        match v {
            Value::String(s) => placeholder(s)
                .and_then(|p| vars.iter().find(|(name, _)| *name == p))
                .map_or_else(|| v.clone(), |(_, value)| value.clone()),
            Value::Array(a) => Value::Array(a.iter().map(|v| walk(v, vars)).collect()),
            Value::Object(o) => Value::Object(o.iter().map(|(k, v)| (k.clone(), walk(v, vars))).collect()),
            other => other.clone(),
        }
    }
    Value::Object(template.iter().map(|(k, v)| (k.clone(), walk(v, vars))).collect())
}

/// A `what` template with its placeholders filled from `vars` (a list as its items
/// joined by `,`).
pub fn fill_text(what: &str, vars: &Vars) -> String {
    let mut out = what.to_string();
    for (name, value) in vars {
        let text = match value {
            Value::String(s) => s.clone(),
            Value::Array(a) => a.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(","),
            other => other.to_string(),
        };
        out = out.replace(&format!("{{{name}}}"), &text);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed() -> Vec<KindRow> {
        parse(EMBEDDED, FILE).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn the_file_loads_one_complete_row_per_kind_in_deletion_order() {
        let rows = parsed();
        assert_eq!(rows.iter().map(|r| r.kind).collect::<Vec<_>>(), Kind::ALL);
        let catalog = crate::catalog::Catalog::embedded();
        let models = crate::wire::models();
        for r in &rows {
            let what = format!("{:?}", r.kind);
            assert!(!r.label.is_empty() && !r.source.is_empty(), "{what}");
            assert!(catalog.resource_type(&r.service, &r.arn_type).is_some(), "{what}: SAR type {}", r.arn_type);
            for c in &r.creates {
                assert!(catalog.action(c).is_some(), "{what}: {c} is no IAM action");
                assert!(c.starts_with(&format!("{}:", r.service)), "{what}: {c}");
            }
            let model = models.service(&r.service).unwrap_or_else(|| panic!("{what}: no model {}", r.service));
            let mut operations = vec![r.listing.operation.as_str(), r.delete.operation.as_str()];
            operations.extend(r.listing.tags.as_deref());
            operations.extend(r.tag.as_ref().map(|t| t.operation.as_str()));
            operations.extend(r.detach.as_ref().map(|t| t.operation.as_str()));
            operations.extend(r.delete_by_name.as_ref().map(|t| t.operation.as_str()));
            operations.extend(r.confirm.as_ref().map(|t| t.operation.as_str()));
            for op in operations {
                assert!(model.has_operation(op), "{what}: {} has no operation {op}", r.service);
            }
            if let Some(filter) = &r.listing.filter {
                assert!(model.input_has_member(&r.listing.operation, filter), "{what}: {filter}");
            }
            if let Some(w) = r.confirm.as_ref().and_then(|c| c.waiter.as_deref()) {
                assert!(model.waiter(w).is_some(), "{what}: no waiter {w}");
            }
            // The paths of the listing's answer is in the wire::search subset.
            for path in [r.listing.items.as_deref(), r.confirm.as_ref().map(|c| c.items.as_str())].into_iter().flatten()
            {
                crate::wire::search(path, &Value::Null).unwrap_or_else(|e| panic!("{what}: {path}: {e}"));
            }
            // Every kind but a stack (tagged by CreateStack) is tagged after it is made.
            assert_eq!(r.tag.is_none(), r.kind == Kind::Stack, "{what}");
            assert_eq!(r.id_prefix.is_some(), r.service == "ec2", "{what}");
        }
        assert_eq!(rows.iter().map(|r| row(r.kind)).cloned().collect::<Vec<_>>(), rows);
    }

    #[test]
    fn what_creates_a_named_kind_agrees_with_created_named() {
        // `aws::created_named` recognises the non-EC2 kinds by their create call.
        let input = serde_json::json!({"LoadBalancerName": "n", "AutoScalingGroupName": "n", "RoleName": "n",
                                       "InstanceProfileName": "n"});
        for r in parsed().iter().filter(|r| r.service != "ec2" && r.kind != Kind::Stack) {
            for c in &r.creates {
                let (service, operation) = c.split_once(':').unwrap();
                let body = match r.kind {
                    Kind::Secret => r#"{"ARN": "arn:aws:secretsmanager:us-east-1:1:secret:s-AbCdEf"}"#,
                    _ => concat!(
                        "<CreateServiceLinkedRoleResponse><CreateServiceLinkedRoleResult><Role>",
                        "<Arn>arn:aws:iam::1:role/aws-service-role/x.amazonaws.com/R</Arn>",
                        "</Role></CreateServiceLinkedRoleResult></CreateServiceLinkedRoleResponse>"
                    ),
                };
                let made = super::super::created_named(service, operation, &input, body);
                assert_eq!(made.iter().map(|(k, _)| *k).collect::<Vec<_>>(), [r.kind], "{c}");
            }
        }
    }

    /// The embedded file with `from` replaced by `to` (which must occur).
    fn edited(from: &str, to: &str) -> String {
        assert!(EMBEDDED.contains(from), "{from}");
        EMBEDDED.replacen(from, to, 1)
    }

    fn line_of(text: &str, needle: &str) -> u32 {
        (text[..text.find(needle).unwrap()].matches('\n').count() + 1) as u32
    }

    #[test]
    fn an_unknown_field_is_an_error_at_its_line() {
        let text = edited("label = \"VPC\"\n", "label = \"VPC\"\ncolour = \"blue\"\n");
        let e = parse(&text, "copy.toml").unwrap_err();
        assert_eq!((&*e.loc.file, e.loc.line), ("copy.toml", line_of(&text, "colour")), "{e}");
        assert!(e.message.contains("unknown field `colour`") && e.message.contains("expected"), "{e}");
        // In a call template too.
        let text = edited("input = { VpcId = \"{id}\" }", "input = { VpcId = \"{id}\" }, retries = 3");
        let e = parse(&text, "copy.toml").unwrap_err();
        assert_eq!(e.loc.line, line_of(&text, "retries"), "{e}");
        assert!(e.message.contains("unknown field `retries`"), "{e}");
    }

    #[test]
    fn a_repeated_missing_unknown_or_misordered_kind_is_an_error_at_its_line() {
        let text = edited("name = \"Subnet\"", "name = \"Vpc\"");
        let e = parse(&text, "copy.toml").unwrap_err();
        assert_eq!(e.loc.line, line_of(&text, "name = \"Vpc\""), "{e}");
        assert!(e.message.contains("kind `Subnet` is missing: expected it here, before `Vpc`"), "{e}");

        // A copy of Vpc's row at the end: listed twice.
        let vpc = &EMBEDDED[EMBEDDED.find("[[kind]]\nname = \"Vpc\"").unwrap()..];
        let vpc = &vpc[..vpc[1..].find("[[kind]]").unwrap() + 1];
        let text = format!("{EMBEDDED}\n{vpc}");
        let e = parse(&text, "copy.toml").unwrap_err();
        let copy = text.rfind("name = \"Vpc\"").unwrap();
        assert_eq!(e.loc.line as usize, text[..copy].matches('\n').count() + 1, "{e}");
        assert!(
            e.message.starts_with(&format!(
                "kind `Vpc` is listed twice (first at line {})",
                line_of(EMBEDDED, "name = \"Vpc\"")
            )),
            "{e}"
        );

        let text = edited("name = \"Volume\"", "name = \"Disk\"");
        let e = parse(&text, "copy.toml").unwrap_err();
        assert_eq!(e.loc.line, line_of(&text, "Disk"), "{e}");
        assert!(e.message.starts_with("unknown kind `Disk`: expected one of `AutoScalingGroup`, "), "{e}");

        // Subnet and SecurityGroup swapped.
        let text = edited("name = \"Subnet\"", "name = \"SecurityGroup\"");
        let swapped = {
            let sg = text.rfind("name = \"SecurityGroup\"").unwrap();
            format!("{}name = \"Subnet\"{}", &text[..sg], &text[sg + "name = \"SecurityGroup\"".len()..])
        };
        let e = parse(&swapped, "copy.toml").unwrap_err();
        assert_eq!(e.loc.line, line_of(&swapped, "name = \"SecurityGroup\""), "{e}");
        assert!(e.message.starts_with("kind `SecurityGroup` is out of deletion order: expected `Subnet` here"), "{e}");

        let stack = EMBEDDED.rfind("[[kind]]").unwrap();
        let e = parse(&EMBEDDED[..stack], "copy.toml").unwrap_err();
        assert_eq!(e.loc.line, line_of(EMBEDDED, "[[kind]]\nname = \"Stack\""), "{e}");
        assert!(e.message.starts_with("kinds missing at the end: `Stack`: expected one [[kind]] per kind"), "{e}");
    }

    #[test]
    fn a_template_uses_only_its_placeholders() {
        let text = edited("input = { VpcId = \"{id}\" }", "input = { VpcId = \"{vpc}\" }");
        let e = parse(&text, "copy.toml").unwrap_err();
        assert_eq!(e.loc.line, line_of(&text, "{vpc}"), "{e}");
        assert_eq!(
            e.message,
            "kind `Vpc`: `delete`: `{vpc}` is not a placeholder here: expected one of `{id}`, `{iam_name}`"
        );
        let text = edited("what = \"{id}/{attached}\"", "what = \"{id}/{attachment}\"");
        let e = parse(&text, "copy.toml").unwrap_err();
        assert!(e.message.contains("`detach`: `what` = `{id}/{attachment}`: expected only the placeholders"), "{e}");
        let text = edited("id_prefix = \"vpc-\"", "id_prefix = \"vpc\"");
        assert!(parse(&text, "copy.toml").unwrap_err().message.contains("`id_prefix` must be"));
    }

    #[test]
    fn template_members_keep_the_files_order() {
        let asg = &parsed()[0];
        let keys = |m: &Map<String, Value>| m.keys().cloned().collect::<Vec<_>>();
        assert_eq!(keys(&asg.delete.input), ["AutoScalingGroupName", "ForceDelete"]);
        assert_eq!(
            keys(asg.tag.as_ref().unwrap().each_tag.as_ref().unwrap()),
            ["ResourceId", "ResourceType", "Key", "Value", "PropagateAtLaunch"]
        );
    }

    #[test]
    fn templates_fill() {
        let vars = [("id", Value::from("a")), ("ids", serde_json::json!(["a", "b"]))];
        let t: Map<String, Value> =
            serde_json::from_str(r#"{"X": "{id}", "Y": ["{ids}"], "Z": true, "W": "{id}x"}"#).unwrap();
        assert_eq!(fill(&t, &vars), serde_json::json!({"X": "a", "Y": [["a", "b"]], "Z": true, "W": "{id}x"}));
        assert_eq!(fill_text("{id}/{ids}", &vars), "a/a,b");
    }
}
