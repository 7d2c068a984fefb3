//! HTTP request body → (operation, JSON input): the reverse of [`super::serialize`],
//! used to understand a request independently of the scenario that produced it.

use serde_json::{Map, Number, Value};

use super::model::{MemberRef, Protocol, ServiceModel, ShapeType};
use super::serialize::expected;
use super::{WireError, base64_decode, kind, path_index, path_key, path_member, show_path, url_decode};

/// Reads a request to `service`: on ec2/query, the form body's `Action` and parameters
/// (member names restored from the model, lists in index order, booleans and numbers
/// typed per the shape); on json, the operation from `x-amz-target` and the body JSON.
/// Header names compare case-insensitively. The input follows the conventions of the
/// module docs, so `parse_request(serialize(x))` gives back `x` (see `tests.rs` for the
/// few cases where the wire cannot carry a difference).
pub fn parse_request(
    service: &ServiceModel,
    headers: &[(String, String)],
    body: &[u8],
) -> Result<(String, Value), WireError> {
    match service.protocol {
        Protocol::Ec2 | Protocol::Query => parse_form(service, body),
        Protocol::Json => parse_json(service, headers, body),
    }
}

fn unknown_operation(service: &ServiceModel, operation: &str) -> WireError {
    WireError::UnknownOperation { service: service.prefix.clone(), operation: operation.to_string() }
}

fn parse_json(service: &ServiceModel, headers: &[(String, String)], body: &[u8]) -> Result<(String, Value), WireError> {
    let mut targets = headers.iter().filter(|(k, _)| k.eq_ignore_ascii_case("x-amz-target"));
    let target = match (targets.next(), targets.next()) {
        (Some((_, v)), None) => v.trim(),
        (None, _) => return Err(WireError::Malformed("no x-amz-target header".into())),
        (Some(_), Some(_)) => return Err(WireError::Malformed("more than one x-amz-target header".into())),
    };
    let prefix = service.target_prefix.as_deref().unwrap_or_default();
    let operation = target
        .strip_prefix(prefix)
        .and_then(|rest| rest.strip_prefix('.'))
        .ok_or_else(|| WireError::Malformed(format!("x-amz-target {target:?} is not {prefix}.<Operation>")))?;
    let op = service.operations.get(operation).ok_or_else(|| unknown_operation(service, operation))?;
    let value: Value = if body.iter().all(u8::is_ascii_whitespace) {
        Value::Object(Map::new())
    } else {
        serde_json::from_slice(body).map_err(|e| WireError::Malformed(format!("body is not JSON: {e}")))?
    };
    let Value::Object(obj) = value else {
        return Err(WireError::Malformed(format!("body is {}, not a JSON object", kind(&value))));
    };
    let input = match &op.input {
        Some(shape) => json_structure(service, shape, &obj, "")?,
        None => {
            if let Some(k) = obj.keys().next() {
                return Err(WireError::UnknownMember {
                    path: k.clone(),
                    member: k.clone(),
                    shape: format!("{operation} (no input)"),
                    known: String::new(),
                });
            }
            Map::new()
        }
    };
    Ok((operation.to_string(), Value::Object(input)))
}

fn json_structure(
    svc: &ServiceModel,
    shape_name: &str,
    obj: &Map<String, Value>,
    path: &str,
) -> Result<Map<String, Value>, WireError> {
    let shape = svc.shape(shape_name);
    let mut out = Map::new();
    for (wire, value) in obj {
        let found = shape.members.iter().find(|(name, r)| svc.member_wire_name(name, r) == wire.as_str());
        let Some((name, r)) = found else {
            return Err(WireError::UnknownMember {
                path: path_member(path, wire),
                member: wire.clone(),
                shape: shape_name.to_string(),
                known: shape.members.keys().cloned().collect::<Vec<_>>().join(", "),
            });
        };
        out.insert(name.clone(), json_value(svc, r, value, &path_member(path, name))?);
    }
    Ok(out)
}

fn json_value(svc: &ServiceModel, r: &MemberRef, value: &Value, path: &str) -> Result<Value, WireError> {
    let shape = svc.shape(&r.shape);
    let ok = match (shape.kind, value) {
        (ShapeType::Structure, Value::Object(obj)) => {
            return Ok(Value::Object(json_structure(svc, &r.shape, obj, path)?));
        }
        (ShapeType::List, Value::Array(items)) => {
            let element = shape.member.as_ref().expect("checked list");
            return items
                .iter()
                .enumerate()
                .map(|(i, v)| json_value(svc, element, v, &path_index(path, i)))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array);
        }
        (ShapeType::Map, Value::Object(entries)) => {
            let vref = shape.value.as_ref().expect("checked map");
            let mut out = Map::new();
            for (k, v) in entries {
                out.insert(k.clone(), json_value(svc, vref, v, &path_key(path, k))?);
            }
            return Ok(Value::Object(out));
        }
        (ShapeType::Blob, Value::String(s)) => return blob_text(s, path).map(Value::String),
        (ShapeType::String, Value::String(_)) | (ShapeType::Boolean, Value::Bool(_)) => true,
        (ShapeType::Integer | ShapeType::Long, Value::Number(n)) => n.is_i64() || n.is_u64(),
        (ShapeType::Float | ShapeType::Double, Value::Number(_)) => true,
        (ShapeType::Timestamp, Value::String(_) | Value::Number(_)) => true,
        _ => false,
    };
    if ok {
        Ok(value.clone())
    } else {
        Err(WireError::Type {
            path: show_path(path),
            expected: expected(shape.kind).into(),
            shape: r.shape.clone(),
            found: kind(value),
        })
    }
}

fn blob_text(s: &str, key: &str) -> Result<String, WireError> {
    let bytes = base64_decode(s)
        .ok_or_else(|| WireError::Parameter { key: key.to_string(), reason: "blob is not base64".into() })?;
    String::from_utf8(bytes)
        .map_err(|_| WireError::Parameter { key: key.to_string(), reason: "blob is not UTF-8 text".into() })
}

/// The form parameters as a tree of key segments (`A.1.B` → A → 1 → B), children in
/// order of first appearance.
#[derive(Default)]
struct Node {
    /// The full key of this node, for error messages.
    key: String,
    value: Option<String>,
    children: Vec<(String, Node)>,
}

impl Node {
    fn insert(&mut self, key: &str, value: String) -> Result<(), WireError> {
        let mut node = self;
        for seg in key.split('.') {
            if seg.is_empty() {
                return Err(WireError::Parameter { key: key.into(), reason: "empty key segment".into() });
            }
            let i = match node.children.iter().position(|(s, _)| s == seg) {
                Some(i) => i,
                None => {
                    let full = if node.key.is_empty() { seg.to_string() } else { format!("{}.{seg}", node.key) };
                    node.children.push((seg.to_string(), Node { key: full, ..Node::default() }));
                    node.children.len() - 1
                }
            };
            node = &mut node.children[i].1;
        }
        if node.value.is_some() {
            return Err(WireError::Parameter { key: key.into(), reason: "repeated".into() });
        }
        node.value = Some(value);
        Ok(())
    }

    fn error(&self, reason: impl Into<String>) -> WireError {
        WireError::Parameter { key: self.key.clone(), reason: reason.into() }
    }

    fn no_value(&self) -> Result<(), WireError> {
        match &self.value {
            None => Ok(()),
            Some(_) => Err(self.error("has a value but is a structure, list or map prefix")),
        }
    }

    fn child(&self, seg: &str) -> Option<&Node> {
        self.children.iter().find(|(s, _)| s == seg).map(|(_, n)| n)
    }

    /// The elements of a list/map level: children named 1..=n, in index order.
    fn indexed(&self) -> Result<Vec<&Node>, WireError> {
        self.no_value()?;
        let mut items = Vec::with_capacity(self.children.len());
        for (seg, n) in &self.children {
            let i: usize = match seg.parse() {
                Ok(i) if i >= 1 && !seg.starts_with('0') => i,
                _ => return Err(n.error("expected a list index 1, 2, ...")),
            };
            items.push((i, n));
        }
        items.sort_by_key(|(i, _)| *i);
        for (want, (i, n)) in items.iter().enumerate() {
            if *i != want + 1 {
                return Err(n.error(format!("list indices must run 1..{} without gaps", items.len())));
            }
        }
        Ok(items.into_iter().map(|(_, n)| n).collect())
    }
}

fn parse_form(service: &ServiceModel, body: &[u8]) -> Result<(String, Value), WireError> {
    let text = std::str::from_utf8(body).map_err(|_| WireError::Malformed("form body is not UTF-8".into()))?;
    let mut root = Node::default();
    let (mut action, mut version) = (None, None);
    for pair in text.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let (k, v) = (url_decode(k)?, url_decode(v)?);
        let slot = match k.as_str() {
            "Action" => &mut action,
            "Version" => &mut version,
            _ => {
                root.insert(&k, v)?;
                continue;
            }
        };
        if slot.replace(v).is_some() {
            return Err(WireError::Parameter { key: k, reason: "repeated".into() });
        }
    }
    let action = action.ok_or_else(|| WireError::Malformed("no Action parameter".into()))?;
    let op = service.operations.get(&action).ok_or_else(|| unknown_operation(service, &action))?;
    match version {
        Some(v) if v == service.api_version => {}
        Some(v) => {
            return Err(WireError::Parameter {
                key: "Version".into(),
                reason: format!("{v} is not the model's API version {}", service.api_version),
            });
        }
        None => return Err(WireError::Malformed("no Version parameter".into())),
    }
    let input = match &op.input {
        Some(shape) => form_structure(service, shape, &root, "")?,
        None => {
            if let Some((_, n)) = root.children.first() {
                return Err(n.error(format!("{action} takes no parameters")));
            }
            Map::new()
        }
    };
    Ok((action, Value::Object(input)))
}

fn form_structure(
    svc: &ServiceModel,
    shape_name: &str,
    node: &Node,
    path: &str,
) -> Result<Map<String, Value>, WireError> {
    node.no_value()?;
    let shape = svc.shape(shape_name);
    let mut out = Map::new();
    for (seg, child) in &node.children {
        let found = shape.members.iter().find(|(name, r)| svc.member_segment(name, r) == seg.as_str());
        let Some((name, r)) = found else {
            return Err(child.error(format!(
                "{shape_name} has no member sent as {seg:?} (members: {})",
                shape.members.keys().cloned().collect::<Vec<_>>().join(", ")
            )));
        };
        out.insert(name.clone(), form_value(svc, r, child, &path_member(path, name))?);
    }
    Ok(out)
}

fn form_value(svc: &ServiceModel, r: &MemberRef, node: &Node, path: &str) -> Result<Value, WireError> {
    let shape = svc.shape(&r.shape);
    match shape.kind {
        ShapeType::Structure => form_structure(svc, &r.shape, node, path).map(Value::Object),
        ShapeType::List => {
            let element = shape.member.as_ref().expect("checked list");
            let level = match svc.protocol {
                Protocol::Ec2 => node,
                _ if node.children.is_empty() && node.value.as_deref() == Some("") => {
                    return Ok(Value::Array(Vec::new()));
                }
                _ if r.flattened => node,
                _ => {
                    node.no_value()?;
                    let name = element.location_name.as_deref().unwrap_or("member");
                    match node.children.as_slice() {
                        [(seg, n)] if seg == name => n,
                        _ => return Err(node.error(format!("expected {}.{name}.N", node.key))),
                    }
                }
            };
            level
                .indexed()?
                .into_iter()
                .enumerate()
                .map(|(i, n)| form_value(svc, element, n, &path_index(path, i)))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array)
        }
        ShapeType::Map => {
            let (kref, vref) = (shape.key.as_ref().expect("checked map"), shape.value.as_ref().expect("checked map"));
            let level = if r.flattened {
                node
            } else {
                node.no_value()?;
                match node.children.as_slice() {
                    [(seg, n)] if seg == "entry" => n,
                    _ => return Err(node.error(format!("expected {}.entry.N", node.key))),
                }
            };
            let (ks, vs) = (svc.member_wire_name("key", kref), svc.member_wire_name("value", vref));
            let mut out = Map::new();
            for entry in level.indexed()? {
                entry.no_value()?;
                if let Some((seg, n)) = entry.children.iter().find(|(s, _)| *s != ks && *s != vs) {
                    return Err(n.error(format!("unexpected {seg:?} in a map entry")));
                }
                let knode = entry.child(&ks).ok_or_else(|| entry.error(format!("map entry without {ks}")))?;
                let Value::String(k) = form_value(svc, kref, knode, path)? else {
                    return Err(knode.error("map key is not a string"));
                };
                let vnode = entry.child(&vs).ok_or_else(|| entry.error(format!("map entry without {vs}")))?;
                let v = form_value(svc, vref, vnode, &path_key(path, &k))?;
                if out.insert(k, v).is_some() {
                    return Err(knode.error("repeated map key"));
                }
            }
            Ok(Value::Object(out))
        }
        kind => {
            if let Some((_, n)) = node.children.first() {
                return Err(n.error(format!("{} is a {} and has no parts", r.shape, kind.name())));
            }
            let text = node.value.as_deref().expect("a childless node has a value");
            scalar(kind, text, node)
        }
    }
}

/// A form scalar as JSON, typed by its shape.
fn scalar(kind: ShapeType, text: &str, node: &Node) -> Result<Value, WireError> {
    let bad = || node.error(format!("{text:?} is not a valid {}", kind.name()));
    match kind {
        ShapeType::String | ShapeType::Timestamp => Ok(Value::String(text.to_string())),
        ShapeType::Boolean => match text {
            "true" => Ok(Value::Bool(true)),
            "false" => Ok(Value::Bool(false)),
            _ => Err(bad()),
        },
        ShapeType::Integer | ShapeType::Long => {
            if let Ok(i) = text.parse::<i64>() {
                Ok(Value::from(i))
            } else {
                text.parse::<u64>().map(Value::from).map_err(|_| bad())
            }
        }
        // The number's own text, so `1` stays an integer and `0.5` a float.
        ShapeType::Float | ShapeType::Double => {
            serde_json::from_str::<Number>(text).map(Value::Number).map_err(|_| bad())
        }
        ShapeType::Blob => blob_text(text, &node.key).map(Value::String),
        ShapeType::Structure | ShapeType::List | ShapeType::Map => unreachable!("not a scalar"),
    }
}
