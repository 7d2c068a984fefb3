//! (service, operation, JSON input) → HTTP request body.

use serde_json::{Map, Value};

use super::model::{MemberRef, Protocol, ServiceModel, Shape, ShapeType};
use super::{WireError, base64_encode, kind, path_index, path_key, path_member, show_path, url_encode};

/// An AWS API request: always `POST /`; `headers` holds `content-type` (and
/// `x-amz-target` on json services), lowercase names. Signing is not done here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireRequest {
    /// The headers to send, lowercase names.
    pub headers: Vec<(String, String)>,
    /// The encoded body.
    pub body: Vec<u8>,
}

/// The input with a fresh token (from `token`, the caller's: the core reads no clock) for
/// every top-level idempotency-token member it leaves out, as the AWS SDKs do (`serialize`
/// itself stays deterministic).
pub fn with_idempotency_tokens(
    service: &ServiceModel,
    operation: &str,
    input: &Value,
    token: &mut dyn FnMut() -> String,
) -> Value {
    let shape = service.operations.get(operation).and_then(|op| op.input.as_deref());
    fill_idempotency_tokens(service, shape, input, token).unwrap_or_else(|| input.clone())
}

fn fill_idempotency_tokens(
    service: &ServiceModel,
    input_shape: Option<&str>,
    input: &Value,
    token: &mut dyn FnMut() -> String,
) -> Option<Value> {
    let shape = service.shape(input_shape?);
    let obj = input.as_object();
    let missing: Vec<&String> = shape
        .members
        .iter()
        .filter(|(name, r)| r.idempotency_token && obj.is_none_or(|o| !o.contains_key(*name)))
        .map(|(name, _)| name)
        .collect();
    if missing.is_empty() {
        return None;
    }
    let mut out = obj.cloned().unwrap_or_default();
    for name in missing {
        out.insert(name.clone(), Value::String(token()));
    }
    Some(Value::Object(out))
}

/// Serializes `input` (API member names, see the module docs) for `operation` of `service`.
/// Parameters keep the order of the members in the input (recursively).
pub fn serialize(service: &ServiceModel, operation: &str, input: &Value) -> Result<WireRequest, WireError> {
    let op = service.operations.get(operation).ok_or_else(|| WireError::UnknownOperation {
        service: service.prefix.clone(),
        operation: operation.to_string(),
    })?;
    let empty = Map::new();
    let obj = match input {
        Value::Object(m) => m,
        Value::Null => &empty,
        other => {
            return Err(WireError::Type {
                path: show_path(""),
                expected: "object".into(),
                shape: op.input.clone().unwrap_or_else(|| format!("{operation} input")),
                found: kind(other),
            });
        }
    };
    let content_type = ("content-type".to_string(), service.content_type());
    match service.protocol {
        Protocol::Ec2 | Protocol::Query => {
            let mut params = vec![
                ("Action".to_string(), operation.to_string()),
                ("Version".to_string(), service.api_version.clone()),
            ];
            match &op.input {
                Some(shape) => form_structure(service, shape, obj, "", "", &mut params)?,
                None => no_members(operation, obj)?,
            }
            let body = params
                .iter()
                .map(|(k, v)| format!("{}={}", url_encode(k), url_encode(v)))
                .collect::<Vec<_>>()
                .join("&");
            Ok(WireRequest { headers: vec![content_type], body: body.into_bytes() })
        }
        Protocol::Json => {
            let body = match &op.input {
                Some(shape) => json_structure(service, shape, obj, "")?,
                None => {
                    no_members(operation, obj)?;
                    Map::new()
                }
            };
            let target = format!("{}.{operation}", service.target_prefix.as_deref().unwrap_or_default());
            let body = serde_json::to_vec(&Value::Object(body)).expect("JSON values serialize");
            Ok(WireRequest { headers: vec![content_type, ("x-amz-target".to_string(), target)], body })
        }
    }
}

fn no_members(operation: &str, obj: &Map<String, Value>) -> Result<(), WireError> {
    match obj.keys().next() {
        None => Ok(()),
        Some(k) => Err(WireError::UnknownMember {
            path: k.clone(),
            member: k.clone(),
            shape: format!("{operation} (no input)"),
            known: String::new(),
        }),
    }
}

/// Looks up a structure member by API member name.
fn member<'s>(shape_name: &str, shape: &'s Shape, name: &str, path: &str) -> Result<&'s MemberRef, WireError> {
    shape.members.get(name).ok_or_else(|| WireError::UnknownMember {
        path: path_member(path, name),
        member: name.to_string(),
        shape: shape_name.to_string(),
        known: shape.members.keys().cloned().collect::<Vec<_>>().join(", "),
    })
}

fn type_error(path: &str, expected: &str, shape: &str, found: &Value) -> WireError {
    WireError::Type {
        path: show_path(path),
        expected: expected.to_string(),
        shape: shape.to_string(),
        found: kind(found),
    }
}

fn join(key: &str, seg: &str) -> String {
    if key.is_empty() { seg.to_string() } else { format!("{key}.{seg}") }
}

fn form_structure(
    svc: &ServiceModel,
    shape_name: &str,
    obj: &Map<String, Value>,
    key: &str,
    path: &str,
    out: &mut Vec<(String, String)>,
) -> Result<(), WireError> {
    let shape = svc.shape(shape_name);
    for (name, value) in obj {
        let r = member(shape_name, shape, name, path)?;
        let seg = svc.member_segment(name, r);
        form_value(svc, r, value, &join(key, &seg), &path_member(path, name), out)?;
    }
    Ok(())
}

fn form_value(
    svc: &ServiceModel,
    r: &MemberRef,
    value: &Value,
    key: &str,
    path: &str,
    out: &mut Vec<(String, String)>,
) -> Result<(), WireError> {
    let shape = svc.shape(&r.shape);
    match shape.kind {
        ShapeType::Structure => match value {
            Value::Object(obj) => form_structure(svc, &r.shape, obj, key, path, out),
            other => Err(type_error(path, "object", &r.shape, other)),
        },
        ShapeType::List => {
            let Value::Array(items) = value else {
                return Err(type_error(path, "array", &r.shape, value));
            };
            let element = shape.member.as_ref().expect("checked list");
            let prefix = match svc.protocol {
                Protocol::Ec2 => key.to_string(),
                _ if items.is_empty() => {
                    // The query protocol sends an empty list as `Name=`.
                    out.push((key.to_string(), String::new()));
                    return Ok(());
                }
                _ if r.flattened => key.to_string(),
                _ => format!("{key}.{}", element.location_name.as_deref().unwrap_or("member")),
            };
            for (i, item) in items.iter().enumerate() {
                form_value(svc, element, item, &format!("{prefix}.{}", i + 1), &path_index(path, i), out)?;
            }
            Ok(())
        }
        ShapeType::Map => {
            let Value::Object(entries) = value else {
                return Err(type_error(path, "object", &r.shape, value));
            };
            let (kref, vref) = (shape.key.as_ref().expect("checked map"), shape.value.as_ref().expect("checked map"));
            let prefix = if r.flattened { key.to_string() } else { format!("{key}.entry") };
            let ksuffix = svc.member_wire_name("key", kref);
            let vsuffix = svc.member_wire_name("value", vref);
            for (i, (k, v)) in entries.iter().enumerate() {
                let entry = format!("{prefix}.{}", i + 1);
                let kpath = path_key(path, k);
                form_value(svc, kref, &Value::String(k.clone()), &format!("{entry}.{ksuffix}"), &kpath, out)?;
                form_value(svc, vref, v, &format!("{entry}.{vsuffix}"), &kpath, out)?;
            }
            Ok(())
        }
        kind => {
            out.push((key.to_string(), scalar_text(kind, &r.shape, value, path)?));
            Ok(())
        }
    }
}

/// The wire text of a scalar (ec2/query).
fn scalar_text(kind: ShapeType, shape: &str, value: &Value, path: &str) -> Result<String, WireError> {
    match (kind, value) {
        (ShapeType::String, Value::String(s)) => Ok(s.clone()),
        (ShapeType::Boolean, Value::Bool(b)) => Ok(b.to_string()),
        (ShapeType::Integer | ShapeType::Long, Value::Number(n)) if n.is_i64() || n.is_u64() => Ok(n.to_string()),
        (ShapeType::Float | ShapeType::Double, Value::Number(n)) => Ok(n.to_string()),
        (ShapeType::Timestamp, Value::String(s)) => Ok(s.clone()),
        (ShapeType::Timestamp, Value::Number(n)) => Ok(n.to_string()),
        (ShapeType::Blob, Value::String(s)) => Ok(base64_encode(s.as_bytes())),
        (kind, other) => Err(type_error(path, expected(kind), shape, other)),
    }
}

pub(crate) fn expected(kind: ShapeType) -> &'static str {
    match kind {
        ShapeType::Structure | ShapeType::Map => "object",
        ShapeType::List => "array",
        ShapeType::String => "string",
        ShapeType::Boolean => "boolean",
        ShapeType::Integer | ShapeType::Long => "integer",
        ShapeType::Float | ShapeType::Double => "number",
        ShapeType::Timestamp => "string or number (timestamp)",
        ShapeType::Blob => "string (blob text)",
    }
}

fn json_structure(
    svc: &ServiceModel,
    shape_name: &str,
    obj: &Map<String, Value>,
    path: &str,
) -> Result<Map<String, Value>, WireError> {
    let shape = svc.shape(shape_name);
    let mut out = Map::new();
    for (name, value) in obj {
        let r = member(shape_name, shape, name, path)?;
        let wire = svc.member_wire_name(name, r).into_owned();
        out.insert(wire, json_value(svc, r, value, &path_member(path, name))?);
    }
    Ok(out)
}

fn json_value(svc: &ServiceModel, r: &MemberRef, value: &Value, path: &str) -> Result<Value, WireError> {
    let shape = svc.shape(&r.shape);
    match (shape.kind, value) {
        (ShapeType::Structure, Value::Object(obj)) => Ok(Value::Object(json_structure(svc, &r.shape, obj, path)?)),
        (ShapeType::List, Value::Array(items)) => {
            let element = shape.member.as_ref().expect("checked list");
            items
                .iter()
                .enumerate()
                .map(|(i, v)| json_value(svc, element, v, &path_index(path, i)))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array)
        }
        (ShapeType::Map, Value::Object(entries)) => {
            let (kref, vref) = (shape.key.as_ref().expect("checked map"), shape.value.as_ref().expect("checked map"));
            let mut out = Map::new();
            for (k, v) in entries {
                let kpath = path_key(path, k);
                json_value(svc, kref, &Value::String(k.clone()), &kpath)?;
                out.insert(k.clone(), json_value(svc, vref, v, &kpath)?);
            }
            Ok(Value::Object(out))
        }
        (ShapeType::Blob, Value::String(s)) => Ok(Value::String(base64_encode(s.as_bytes()))),
        (ShapeType::Structure | ShapeType::List | ShapeType::Map | ShapeType::Blob, other) => {
            Err(type_error(path, expected(shape.kind), &r.shape, other))
        }
        (kind, other) => {
            // Scalars go through unchanged once their JSON type fits.
            scalar_text(kind, &r.shape, other, path)?;
            Ok(other.clone())
        }
    }
}
