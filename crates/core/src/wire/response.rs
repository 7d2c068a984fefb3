//! HTTP answer body → JSON output, driven by the operation's output shape as botocore's
//! response parsers are (`botocore/parsers.py`): the same member names, lists and maps,
//! scalar types, and the same leniencies (unknown elements and keys are left out).

use serde_json::{Map, Number, Value};

use super::model::{MemberRef, Protocol, ServiceModel, Shape, ShapeType};
use super::{WireError, base64_decode, path_index, path_key, path_member, show_path};
use crate::xml::{self, Element};

/// Reads a successful answer (`status` 2xx) of `operation` into a JSON object keyed by
/// API member names, as botocore's parsers give it (without `ResponseMetadata`):
///
/// - `ec2`: the root element's children are the output's members, by locationName
///   (`reservationSet`); a list is its element's children (`<item>`).
/// - `query`: the same under the operation's result wrapper (`<DescribeStacksResult>`);
///   lists are `<member>` children, or repeated elements when flattened; maps `<entry>`
///   with `<key>`/`<value>` (or their locationNames).
/// - `json`: the body's keys by locationName, else member name.
///
/// Scalars are typed by their shape: booleans (XML `true`, anything else false, as
/// botocore), integers and longs as JSON integers, floats and doubles as numbers,
/// strings as they are (an empty element is `""`), blobs base64-decoded to text,
/// timestamps (ISO 8601, epoch seconds) as RFC 3339 UTC (`2026-11-28T23:31:50Z`, with
/// the fraction when there is one, to the microsecond). A member absent from the answer
/// is absent from the output. An operation without an output shape gives `{}`.
///
/// Error answers (any other status) are not read here — `aws::errors::service_error`
/// reads their code and message — and give [`WireError::NotSuccess`].
pub fn parse_response(service: &ServiceModel, operation: &str, status: u16, body: &[u8]) -> Result<Value, WireError> {
    let op = service.operations.get(operation).ok_or_else(|| WireError::UnknownOperation {
        service: service.prefix.clone(),
        operation: operation.to_string(),
    })?;
    if !(200..300).contains(&status) {
        return Err(WireError::NotSuccess { status });
    }
    let Some(output) = &op.output else { return Ok(Value::Object(Map::new())) };
    if !op.read {
        return Err(WireError::NotRead { service: service.prefix.clone(), operation: operation.to_string() });
    }
    let text = std::str::from_utf8(body).map_err(|_| WireError::Malformed("the answer is not UTF-8".into()))?;
    match service.protocol {
        Protocol::Json => {
            let value: Value = if text.trim().is_empty() {
                Value::Object(Map::new())
            } else {
                serde_json::from_str(text).map_err(|e| WireError::Malformed(format!("the answer is not JSON: {e}")))?
            };
            json_structure(service, output, &value, "")
        }
        Protocol::Ec2 | Protocol::Query => {
            let root = xml::parse(text).map_err(|e| WireError::Malformed(e.to_string()))?;
            let start = match &op.result_wrapper {
                Some(wrapper) => root
                    .child(wrapper)
                    .ok_or_else(|| WireError::Malformed(format!("<{}> holds no <{wrapper}> element", root.name)))?,
                None => &root,
            };
            xml_structure(service, output, start, "")
        }
    }
}

/// [`parse_response`] by service prefix (`ec2`, `iam`, …), for callers holding an
/// answer's status and body text.
pub fn output(service: &str, operation: &str, status: u16, body: &str) -> Result<Value, WireError> {
    let model = super::models().service(service).ok_or_else(|| WireError::UnknownOperation {
        service: service.to_string(),
        operation: operation.to_string(),
    })?;
    parse_response(model, operation, status, body.as_bytes())
}

/// The text (a string, or a number as written) at `pointer` in a successful (200) answer
/// of `operation`, as [`output`] reads it; `None` when unreadable or absent.
pub fn answer_text(service: &str, operation: &str, body: &str, pointer: &str) -> Option<String> {
    match output(service, operation, 200, body).ok()?.pointer(pointer)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn bad(path: &str, reason: impl Into<String>) -> WireError {
    WireError::Response { path: show_path(path), reason: reason.into() }
}

// --- XML (ec2, query) ----------------------------------------------------------------

/// The element name a member is read from: the locationName of a flattened list's
/// element when it has one, else the member's locationName, else its name.
fn xml_name<'a>(svc: &'a ServiceModel, member: &'a str, r: &'a MemberRef) -> &'a str {
    let target = svc.shape(&r.shape);
    if target.kind == ShapeType::List
        && r.flattened
        && let Some(name) = target.member.as_ref().and_then(|m| m.location_name.as_deref())
    {
        return name;
    }
    r.location_name.as_deref().unwrap_or(member)
}

fn xml_structure(svc: &ServiceModel, shape_name: &str, node: &Element, path: &str) -> Result<Value, WireError> {
    let shape = svc.shape(shape_name);
    let mut out = Map::new();
    for (name, r) in &shape.members {
        let wire = xml_name(svc, name, r);
        let mut nodes = node.children.iter().filter(|c| c.name == wire).peekable();
        if nodes.peek().is_none() {
            continue;
        }
        let path = path_member(path, name);
        let value = if r.flattened && matches!(svc.shape(&r.shape).kind, ShapeType::List | ShapeType::Map) {
            // A flattened list or map: every repeated element is one item or entry.
            xml_items(svc, r, &nodes.collect::<Vec<_>>(), &path)?
        } else {
            // Repeated where one is expected: botocore reads the first.
            xml_value(svc, r, nodes.next().expect("peeked"), &path)?
        };
        out.insert(name.clone(), value);
    }
    Ok(Value::Object(out))
}

fn xml_value(svc: &ServiceModel, r: &MemberRef, node: &Element, path: &str) -> Result<Value, WireError> {
    let shape = svc.shape(&r.shape);
    match shape.kind {
        ShapeType::Structure => xml_structure(svc, &r.shape, node, path),
        // Not flattened: the list's or map's element holds one child per item or entry.
        ShapeType::List | ShapeType::Map => xml_items(svc, r, &node.children.iter().collect::<Vec<_>>(), path),
        kind => xml_scalar(kind, &node.text, path),
    }
}

/// A list's items or a map's entries, one per element (whatever their names, as botocore).
fn xml_items(svc: &ServiceModel, r: &MemberRef, nodes: &[&Element], path: &str) -> Result<Value, WireError> {
    let shape = svc.shape(&r.shape);
    if shape.kind == ShapeType::Map {
        return xml_map(svc, shape, nodes, path);
    }
    let element = shape.member.as_ref().expect("checked list");
    nodes
        .iter()
        .enumerate()
        .map(|(i, n)| xml_value(svc, element, n, &path_index(path, i)))
        .collect::<Result<Vec<_>, _>>()
        .map(Value::Array)
}

fn xml_map(svc: &ServiceModel, shape: &Shape, entries: &[&Element], path: &str) -> Result<Value, WireError> {
    let (kref, vref) = (shape.key.as_ref().expect("checked map"), shape.value.as_ref().expect("checked map"));
    let (kname, vname) =
        (kref.location_name.as_deref().unwrap_or("key"), vref.location_name.as_deref().unwrap_or("value"));
    let mut out = Map::new();
    for entry in entries {
        let (mut key, mut value) = (None, None);
        for part in &entry.children {
            if part.name == kname {
                key = Some(part);
            } else if part.name == vname {
                value = Some(part);
            } else {
                return Err(bad(path, format!("unknown <{}> in a map entry", part.name)));
            }
        }
        let key = match key.map(|k| xml_value(svc, kref, k, path)).transpose()? {
            Some(Value::String(k)) => k,
            _ => return Err(bad(path, "a map entry without a text key")),
        };
        let kpath = path_key(path, &key);
        let value = match value {
            Some(v) => xml_value(svc, vref, v, &kpath)?,
            None => return Err(bad(&kpath, "a map entry without a value")),
        };
        out.insert(key, value);
    }
    Ok(Value::Object(out))
}

fn xml_scalar(kind: ShapeType, text: &str, path: &str) -> Result<Value, WireError> {
    let not = |what: &str| bad(path, format!("{text:?} is not {what}"));
    Ok(match kind {
        ShapeType::String => Value::String(text.to_string()),
        ShapeType::Boolean => Value::Bool(text == "true"),
        ShapeType::Integer | ShapeType::Long => {
            let t = text.trim();
            t.parse::<i64>()
                .map(Value::from)
                .or_else(|_| t.parse::<u64>().map(Value::from))
                .map_err(|_| not("an integer"))?
        }
        ShapeType::Float | ShapeType::Double => {
            let f: f64 = text.trim().parse().map_err(|_| not("a number"))?;
            Value::Number(Number::from_f64(f).ok_or_else(|| not("a finite number"))?)
        }
        ShapeType::Timestamp => Value::String(timestamp_text(text).ok_or_else(|| not("a timestamp"))?),
        ShapeType::Blob => Value::String(blob(text).ok_or_else(|| not("base64 of UTF-8 text"))?),
        ShapeType::Structure | ShapeType::List | ShapeType::Map => unreachable!("not a scalar"),
    })
}

// --- JSON ----------------------------------------------------------------------------

fn json_structure(svc: &ServiceModel, shape_name: &str, value: &Value, path: &str) -> Result<Value, WireError> {
    let Value::Object(obj) = value else {
        return Err(bad(path, format!("expected an object for {shape_name}, found {}", super::kind(value))));
    };
    let shape = svc.shape(shape_name);
    let mut out = Map::new();
    for (name, r) in &shape.members {
        let wire = r.location_name.as_deref().unwrap_or(name);
        match obj.get(wire) {
            None | Some(Value::Null) => {}
            Some(v) => {
                out.insert(name.clone(), json_value(svc, r, v, &path_member(path, name))?);
            }
        }
    }
    Ok(Value::Object(out))
}

fn json_value(svc: &ServiceModel, r: &MemberRef, value: &Value, path: &str) -> Result<Value, WireError> {
    let shape = svc.shape(&r.shape);
    match (shape.kind, value) {
        (ShapeType::Structure, _) => json_structure(svc, &r.shape, value, path),
        (ShapeType::List, Value::Array(items)) => {
            let element = shape.member.as_ref().expect("checked list");
            items
                .iter()
                .enumerate()
                .map(
                    |(i, v)| {
                        if v.is_null() { Ok(Value::Null) } else { json_value(svc, element, v, &path_index(path, i)) }
                    },
                )
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array)
        }
        (ShapeType::Map, Value::Object(entries)) => {
            let vref = shape.value.as_ref().expect("checked map");
            let mut out = Map::new();
            for (k, v) in entries {
                let v = if v.is_null() { Value::Null } else { json_value(svc, vref, v, &path_key(path, k))? };
                out.insert(k.clone(), v);
            }
            Ok(Value::Object(out))
        }
        (ShapeType::List | ShapeType::Map, other) => Err(bad(
            path,
            format!(
                "expected {} for {}, found {}",
                super::serialize::expected(shape.kind),
                r.shape,
                super::kind(other)
            ),
        )),
        (ShapeType::Timestamp, Value::Number(n)) => {
            let text = n.as_f64().and_then(epoch_text).ok_or_else(|| bad(path, format!("{n} is not a timestamp")))?;
            Ok(Value::String(text))
        }
        (ShapeType::Timestamp, Value::String(s)) => {
            Ok(Value::String(timestamp_text(s).ok_or_else(|| bad(path, format!("{s:?} is not a timestamp")))?))
        }
        (ShapeType::Blob, Value::String(s)) => {
            Ok(Value::String(blob(s).ok_or_else(|| bad(path, format!("{s:?} is not base64 of UTF-8 text")))?))
        }
        // botocore hands other JSON scalars over as they are.
        (_, other) => Ok(other.clone()),
    }
}

// --- scalars -------------------------------------------------------------------------

fn blob(text: &str) -> Option<String> {
    String::from_utf8(base64_decode(text.trim())?).ok()
}

/// A timestamp as RFC 3339 UTC: from ISO 8601 (`2026-11-28T23:31:50.123+02:00`, a space
/// for the `T`, no offset meaning UTC) or epoch seconds (`1795908710.5`), as botocore's
/// default timestamp parser reads them.
pub(crate) fn timestamp_text(text: &str) -> Option<String> {
    let t = text.trim();
    if let Ok(secs) = t.parse::<f64>() {
        return epoch_text(secs);
    }
    let b = t.as_bytes();
    if b.len() < 19
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't' | b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let n = |range: std::ops::Range<usize>| -> Option<i64> {
        let s = t.get(range)?;
        if s.bytes().all(|c| c.is_ascii_digit()) { s.parse().ok() } else { None }
    };
    let (y, mo, d, h, mi, s) = (n(0..4)?, n(5..7)?, n(8..10)?, n(11..13)?, n(14..16)?, n(17..19)?);
    let mut rest = &t[19..];
    let mut micros = 0i64;
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let padded = format!("{:0<6}", &frac[..digits.min(6)]);
        micros = padded.parse().ok()?;
        rest = &frac[digits..];
    }
    let offset = match rest {
        "" | "Z" | "z" => 0,
        _ => {
            let sign = match rest.as_bytes()[0] {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let hm = rest[1..].replace(':', "");
            if hm.len() != 4 || !hm.bytes().all(|c| c.is_ascii_digit()) {
                return None;
            }
            let (oh, om): (i64, i64) = (hm[..2].parse().ok()?, hm[2..].parse().ok()?);
            if oh > 23 || om > 59 {
                return None;
            }
            sign * (oh * 3600 + om * 60)
        }
    };
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let month_days = [31, if leap { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    if !(1..=12).contains(&mo) || d < 1 || d > month_days[mo as usize - 1] || h > 23 || mi > 59 || s > 59 {
        return None;
    }
    let days = crate::calendar::days_from_civil(y, mo as u32, d as u32);
    Some(format_utc(days * 86_400 + h * 3600 + mi * 60 + s - offset, micros))
}

fn epoch_text(secs: f64) -> Option<String> {
    // Years 1 to 9999, as Python's datetime (botocore's) holds them.
    if !secs.is_finite() || !(-62_135_596_800.0..253_402_300_800.0).contains(&secs) {
        return None;
    }
    let total = (secs * 1e6).round() as i64;
    Some(format_utc(total.div_euclid(1_000_000), total.rem_euclid(1_000_000)))
}

/// `YYYY-MM-DDTHH:MM:SS[.ffffff, trailing zeros dropped]Z`.
fn format_utc(secs: i64, micros: i64) -> String {
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = crate::calendar::civil_from_days(days);
    let mut out = format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}", rem / 3600, rem / 60 % 60, rem % 60);
    if micros != 0 {
        let frac = format!("{micros:06}");
        out.push('.');
        out.push_str(frac.trim_end_matches('0'));
    }
    out.push('Z');
    out
}
