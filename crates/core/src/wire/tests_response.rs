//! `parse_response` against botocore: every answer in `fixtures/responses.json` (moto's,
//! and a few written from the API reference for what moto lacks) must read exactly as
//! botocore's own parser read it (`catalog/capture_responses.py`); and the protocol
//! rules moto's answers do not exercise, on a synthetic model.

use std::collections::BTreeSet;

use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;

const FIXTURES: &str = include_str!("fixtures/responses.json");

/// Where two values differ, as a path (`Reservations[0].Instances`), if they do.
fn difference(path: &str, ours: &Value, theirs: &Value) -> Option<String> {
    match (ours, theirs) {
        (Value::Object(a), Value::Object(b)) => {
            let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            keys.into_iter().find_map(|k| match (a.get(k), b.get(k)) {
                (Some(x), Some(y)) => difference(&format!("{path}.{k}"), x, y),
                (x, y) => Some(format!("{path}.{k}: ours {x:?}, botocore {y:?}")),
            })
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            a.iter().zip(b).enumerate().find_map(|(i, (x, y))| difference(&format!("{path}[{i}]"), x, y))
        }
        (Value::Number(a), Value::Number(b)) if a.as_f64() == b.as_f64() => None,
        (a, b) if a == b => None,
        (a, b) => Some(format!("{path}: ours {a}, botocore {b}")),
    }
}

#[test]
fn every_fixture_reads_as_botocore_reads_it() {
    let fixtures: Value = serde_json::from_str(FIXTURES).unwrap();
    assert_eq!(fixtures["source"]["botocore"], models().source.version.as_str(), "same botocore as the model");
    let cases = fixtures["cases"].as_array().unwrap();
    let mut covered = BTreeSet::new();
    let mut problems = Vec::new();
    for case in cases {
        let (service, operation) = (case["service"].as_str().unwrap(), case["operation"].as_str().unwrap());
        let status = case["status"].as_u64().unwrap() as u16;
        let body = case["body"].as_str().unwrap();
        let what = format!("{service}:{operation} ({})", case["note"].as_str().unwrap());
        match output(service, operation, status, body) {
            Ok(ours) => {
                if let Some(d) = difference("", &ours, &case["botocore"]) {
                    problems.push(format!("{what}: {d}"));
                }
            }
            Err(e) => problems.push(format!("{what}: {e}")),
        }
        covered.insert((service.to_string(), operation.to_string()));
    }
    assert!(problems.is_empty(), "{} of {} answers differ:\n{}", problems.len(), cases.len(), problems.join("\n"));
    // Every operation whose answer the project reads has an answer here.
    for s in models().services() {
        for op in s.read_operations() {
            assert!(covered.contains(&(s.prefix.clone(), op.to_string())), "no fixture for {}:{op}", s.prefix);
        }
    }
}

#[test]
fn moto_answers_read_as_the_sweep_needs_them() {
    let fixtures: Value = serde_json::from_str(FIXTURES).unwrap();
    let find = |op: &str, note: &str| {
        let case = fixtures["cases"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["operation"] == op && c["note"].as_str().unwrap().contains(note))
            .unwrap_or_else(|| panic!("no {op} {note}"));
        output(case["service"].as_str().unwrap(), op, 200, case["body"].as_str().unwrap()).unwrap()
    };
    // EC2: `item` lists, lowerCamel locationNames, booleans and integers typed.
    let groups = find("DescribeSecurityGroups", "referencing");
    let rule = &groups["SecurityGroups"][0]["IpPermissions"][0];
    assert!(rule["IpProtocol"].is_string());
    let routes = find("DescribeRouteTables", "tag-key");
    let main = routes["RouteTables"][0]["Associations"].as_array().unwrap();
    assert!(main.iter().all(|a| a["Main"].is_boolean()));
    let terminated = find("DescribeInstances", "terminated");
    assert_eq!(terminated["Reservations"][0]["Instances"][0]["State"]["Name"], "terminated");
    assert_eq!(terminated["Reservations"][0]["Instances"][0]["State"]["Code"], 48);
    let launch = terminated["Reservations"][0]["Instances"][0]["LaunchTime"].as_str().unwrap();
    assert!(launch.ends_with('Z') && launch.len() >= 20, "{launch}");
    // Query: result wrapper, `member` lists, IsTruncated a boolean.
    let page = find("ListRoles", "page of one");
    assert_eq!((page["IsTruncated"].as_bool(), page["Roles"].as_array().map(Vec::len)), (Some(true), Some(1)));
    assert!(page["Marker"].is_string());
    let inline = find("ListRolePolicies", "");
    assert_eq!(inline["PolicyNames"], json!(["inline & more"]));
    // JSON: ListSecrets' tags and timestamps.
    let secrets = find("ListSecrets", "");
    assert_eq!(secrets["SecretList"][0]["Tags"][0]["Key"], "iam-conformance:run-id");
}

/// A model with what the real ones lack (maps, flattened lists and maps, renamed
/// members, every scalar type), reading `Op`'s output `Out` under `OpResult` on query.
fn synthetic(protocol: &str) -> ServiceModel {
    let m = json!({
        "botocore": "x", "apiVersion": "2020-01-01", "protocol": protocol,
        "targetPrefix": if protocol == "json" { json!("X_20200101") } else { Value::Null },
        "jsonVersion": if protocol == "json" { json!("1.0") } else { Value::Null },
        "signingName": "x", "endpointPrefix": "x",
        "operations": {
            "Op": {"input": null, "output": "Out", "read": true,
                   "resultWrapper": if protocol == "query" { json!("OpResult") } else { Value::Null }},
            "Unread": {"input": null, "output": "Out"},
            "Nothing": {"input": null, "output": null}
        },
        "shapes": {
            "Out": {"type": "structure", "members": {
                "Attrs": {"shape": "Attrs"}, "Named": {"shape": "Named"},
                "Flat": {"shape": "FlatList", "flattened": true, "locationName": "Ignored"},
                "FlatPlain": {"shape": "PlainList", "flattened": true},
                "Items": {"shape": "ItemList", "locationName": "itemSet"},
                "FlatMap": {"shape": "Attrs", "flattened": true},
                "Renamed": {"shape": "S", "locationName": "Other"},
                "Num": {"shape": "D"}, "Int": {"shape": "I"}, "Big": {"shape": "L"}, "Yes": {"shape": "Bool"},
                "When": {"shape": "T"}, "Data": {"shape": "B"}, "Nested": {"shape": "NestedList"},
                "Inner": {"shape": "Inner"}, "Empty": {"shape": "S"}}},
            "Inner": {"type": "structure", "members": {"A": {"shape": "S"}}},
            "Attrs": {"type": "map", "key": {"shape": "S"}, "value": {"shape": "S"}},
            "Named": {"type": "map", "key": {"shape": "S", "locationName": "Name"},
                      "value": {"shape": "I", "locationName": "Val"}},
            "FlatList": {"type": "list", "member": {"shape": "S", "locationName": "Item"}},
            "PlainList": {"type": "list", "member": {"shape": "S"}},
            "ItemList": {"type": "list", "member": {"shape": "Inner", "locationName": "item"}},
            "NestedList": {"type": "list", "member": {"shape": "PlainList"}},
            "S": {"type": "string"}, "D": {"type": "double"}, "I": {"type": "integer"}, "L": {"type": "long"},
            "Bool": {"type": "boolean"}, "T": {"type": "timestamp"}, "B": {"type": "blob"}
        }
    });
    let mut svc: ServiceModel = serde_json::from_value(m).unwrap();
    svc.prefix = "x".into();
    svc
}

const QUERY_BODY: &str = r#"<?xml version="1.0"?>
<OpResponse xmlns="https://x.amazonaws.com/doc/2020-01-01/">
 <OpResult>
  <Attrs><entry><key>a</key><value>1</value></entry><entry><key>b</key><value></value></entry></Attrs>
  <Named><entry><Name>n</Name><Val>7</Val></entry></Named>
  <Item>f1</Item><Item>f2</Item>
  <FlatPlain>p1</FlatPlain>
  <itemSet><item><A>x</A></item><item><A>y</A><Unknown>z</Unknown></item></itemSet>
  <FlatMap><key>k1</key><value>v1</value></FlatMap><FlatMap><key>k2</key><value>v2</value></FlatMap>
  <Other>renamed &amp; escaped</Other>
  <Num>0.5</Num><Int> 42 </Int><Big>9007199254740993</Big><Yes>true</Yes>
  <When>2026-11-29T01:31:50.120+02:00</When>
  <Data>aGVsbG8=</Data>
  <Nested><member><member>a</member><member>b</member></member><member/></Nested>
  <Inner><A>first</A></Inner><Inner><A>second</A></Inner>
  <Empty/>
  <NotInTheModel>ignored</NotInTheModel>
 </OpResult>
 <ResponseMetadata><RequestId>r</RequestId></ResponseMetadata>
</OpResponse>"#;

fn query_expected() -> Value {
    json!({
        "Attrs": {"a": "1", "b": ""}, "Named": {"n": 7}, "Flat": ["f1", "f2"], "FlatPlain": ["p1"],
        "Items": [{"A": "x"}, {"A": "y"}], "FlatMap": {"k1": "v1", "k2": "v2"},
        "Renamed": "renamed & escaped", "Num": 0.5, "Int": 42, "Big": 9_007_199_254_740_993_u64, "Yes": true,
        "When": "2026-11-28T23:31:50.12Z", "Data": "hello", "Nested": [["a", "b"], []],
        "Inner": {"A": "first"}, "Empty": ""
    })
}

#[test]
fn query_reads_maps_flattened_lists_and_scalars() {
    let svc = synthetic("query");
    assert_eq!(parse_response(&svc, "Op", 200, QUERY_BODY.as_bytes()).unwrap(), query_expected());
    // EC2 has no result wrapper: the root's children are the members.
    let ec2 = synthetic("ec2");
    let body = QUERY_BODY.replace("<OpResult>", "").replace("</OpResult>", "");
    assert_eq!(parse_response(&ec2, "Op", 200, body.as_bytes()).unwrap(), query_expected());
}

#[test]
fn xml_scalars_are_typed_strictly_where_botocore_is() {
    let svc = synthetic("ec2");
    let read = |inner: &str| parse_response(&svc, "Op", 200, format!("<OpResponse>{inner}</OpResponse>").as_bytes());
    assert_eq!(read("<Yes>True</Yes>").unwrap(), json!({"Yes": false}), "only `true` is true, as botocore");
    assert_eq!(read("<Yes/>").unwrap(), json!({"Yes": false}));
    for bad in ["<Int>4.5</Int>", "<Int/>", "<Num>x</Num>", "<When>soon</When>", "<Data>***</Data>"] {
        let e = read(bad).unwrap_err();
        assert!(matches!(e, WireError::Response { .. }), "{bad}: {e}");
    }
    assert_eq!(
        read("<itemSet><item><A>x</A></item><item><A>1</A></item></itemSet><Int>x</Int>").unwrap_err().to_string(),
        "answer member `Int`: \"x\" is not an integer"
    );
    let e = read("<Named><entry><Name>n</Name><Val>x</Val></entry></Named>").unwrap_err();
    assert_eq!(e.to_string(), "answer member `Named[\"n\"]`: \"x\" is not an integer");
    let e = read("<Named><entry><Key>n</Key></entry></Named>").unwrap_err();
    assert!(e.to_string().contains("unknown <Key>"), "{e}");
}

#[test]
fn timestamps_become_rfc3339_utc() {
    for (wire, want) in [
        ("2026-11-28T23:31:50Z", "2026-11-28T23:31:50Z"),
        ("2026-11-28T23:31:50.000Z", "2026-11-28T23:31:50Z"),
        ("2026-11-28T23:31:50.1234567Z", "2026-11-28T23:31:50.123456Z"),
        ("2026-11-28 23:31:50", "2026-11-28T23:31:50Z"),
        ("2026-11-28T20:31:50-0300", "2026-11-28T23:31:50Z"),
        ("2026-11-29T00:01:50+00:30", "2026-11-28T23:31:50Z"),
        ("1795908710", "2026-11-28T23:31:50Z"),
        ("1795908710.5", "2026-11-28T23:31:50.5Z"),
        ("0", "1970-01-01T00:00:00Z"),
        ("1969-12-31T23:59:59Z", "1969-12-31T23:59:59Z"),
        ("2024-02-29T00:00:00Z", "2024-02-29T00:00:00Z"),
        ("253402300799", "9999-12-31T23:59:59Z"),
    ] {
        assert_eq!(response::timestamp_text(wire).as_deref(), Some(want), "{wire}");
    }
    for bad in [
        "2026-02-30T00:00:00Z",
        "2026-11-28T24:00:00Z",
        "2026-11-28",
        "2026-11-28T23:31:50+2",
        "nan",
        "x",
        "253402300800",
        "1e300",
        "2026-11-28T23:31:5\u{e9}",
    ] {
        assert_eq!(response::timestamp_text(bad), None, "{bad}");
    }
}

#[test]
fn json_reads_by_location_name_and_converts_timestamps_and_blobs() {
    let svc = synthetic("json");
    let body = json!({
        "Other": "r", "When": 1795908710.25, "Data": "aGVsbG8=", "Attrs": {"a": "1", "n": null},
        "itemSet": [{"A": "x", "Extra": 1}, null], "Items": "not the wire name", "Int": 3, "Yes": false, "Renamed": "not the wire name",
        "Inner": null, "Unknown": [1]
    });
    let got = parse_response(&svc, "Op", 200, body.to_string().as_bytes()).unwrap();
    assert_eq!(
        got,
        json!({"Renamed": "r", "When": "2026-11-28T23:31:50.25Z", "Data": "hello", "Attrs": {"a": "1", "n": null},
               "Items": [{"A": "x"}, null], "Int": 3, "Yes": false})
    );
    assert_eq!(parse_response(&svc, "Op", 200, b"").unwrap(), json!({}), "an empty body is an empty output");
    assert_eq!(parse_response(&svc, "Op", 200, b" \n").unwrap(), json!({}));
    let e = parse_response(&svc, "Op", 200, br#"{"itemSet": {"A": "x"}}"#).unwrap_err();
    assert_eq!(e.to_string(), "answer member `Items`: expected array for ItemList, found object");
    assert!(matches!(parse_response(&svc, "Op", 200, b"<html>"), Err(WireError::Malformed(_))));
    assert!(matches!(parse_response(&svc, "Op", 200, b"[1]"), Err(WireError::Response { .. })));
}

#[test]
fn what_is_not_a_readable_success_is_an_error() {
    let svc = synthetic("query");
    assert_eq!(parse_response(&svc, "Op", 400, QUERY_BODY.as_bytes()), Err(WireError::NotSuccess { status: 400 }));
    assert_eq!(
        parse_response(&svc, "Unread", 200, QUERY_BODY.as_bytes()),
        Err(WireError::NotRead { service: "x".into(), operation: "Unread".into() })
    );
    assert_eq!(parse_response(&svc, "Nothing", 200, b"<NothingResponse/>").unwrap(), json!({}));
    assert!(matches!(parse_response(&svc, "Missing", 200, b""), Err(WireError::UnknownOperation { .. })));
    let e = parse_response(&svc, "Op", 200, b"<OpResponse><Other>x</Other></OpResponse>").unwrap_err();
    assert_eq!(e.to_string(), "malformed: <OpResponse> holds no <OpResult> element");
    for bad in [&b""[..], b"<OpResponse>", b"\xff", b"<a></b>"] {
        assert!(matches!(parse_response(&svc, "Op", 200, bad), Err(WireError::Malformed(_))), "{bad:?}");
    }
    assert!(matches!(output("nope", "Op", 200, ""), Err(WireError::UnknownOperation { .. })));
}

#[test]
fn the_difference_finder_finds_differences() {
    assert_eq!(difference("", &json!({"a": [1, {"b": 2}]}), &json!({"a": [1.0, {"b": 2}]})), None);
    assert!(difference("", &json!({"a": 1}), &json!({"a": 2})).is_some());
    assert!(difference("", &json!({"a": 1}), &json!({"a": 1, "b": null})).is_some());
    assert!(difference("", &json!([1]), &json!([1, 2])).is_some());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Whatever a service answers, reading it returns (a value or an error), never panics.
    #[test]
    fn any_answer_reads_without_panicking(case in 0usize..65, cut in 0usize..4000, byte in any::<u8>(), at in 0usize..4000) {
        let fixtures: Value = serde_json::from_str(FIXTURES).unwrap();
        let cases = fixtures["cases"].as_array().unwrap();
        let c = &cases[case % cases.len()];
        let (service, operation) = (c["service"].as_str().unwrap(), c["operation"].as_str().unwrap());
        let mut body = c["body"].as_str().unwrap().as_bytes().to_vec();
        body.truncate(cut.max(1).min(body.len()));
        if !body.is_empty() {
            let i = at % body.len();
            body[i] = byte;
        }
        let model = models().service(service).unwrap();
        let _ = parse_response(model, operation, 200, &body);
        let _ = crate::xml::parse(&String::from_utf8_lossy(&body));
    }

    #[test]
    fn any_text_reads_without_panicking(text in ".{0,200}") {
        let _ = crate::xml::parse(&text);
        let _ = response::timestamp_text(&text);
        let _ = search::Expression::parse(&text);
        for s in models().services() {
            for op in s.read_operations() {
                let _ = parse_response(s, op, 200, text.as_bytes());
            }
        }
    }
}

#[test]
fn the_model_check_refuses_paginators_and_waiters_that_do_not_fit() {
    let model = |operations: Value, waiters: Value| -> WireModels {
        let mut m: WireModels = serde_json::from_value(json!({
            "source": {"package": "botocore", "version": "1.44.8", "license": "Apache-2.0", "files": {},
                       "paginators": {}, "waiters": {}, "generator": "test"},
            "services": {"x": {
                "botocore": "x", "apiVersion": "2020-01-01", "protocol": "query", "targetPrefix": null,
                "jsonVersion": null, "signingName": "x", "endpointPrefix": "x",
                "operations": operations,
                "shapes": {"In": {"type": "structure", "members": {"NextToken": {"shape": "S"}}},
                           "Out": {"type": "structure", "members": {"NextToken": {"shape": "S"}, "Items": {"shape": "L"}}},
                           "L": {"type": "list", "member": {"shape": "S"}}, "S": {"type": "string"}},
                "waiters": waiters
            }}
        }))
        .unwrap();
        for (prefix, s) in &mut m.services {
            s.prefix = prefix.clone();
        }
        m
    };
    let paginator = |input: &str, result: &str| json!({"input_token": [input], "output_token": ["NextToken"], "result_key": [result]});
    let ok = model(
        json!({"Op": {"input": "In", "output": "Out", "read": true, "paginator": paginator("NextToken", "Items")}}),
        json!({}),
    );
    assert_eq!(ok.check(), Ok(()));
    let problems = |m: WireModels| m.check().unwrap_err().join("\n");
    let bad = model(
        json!({"Op": {"input": "In", "output": "Out", "read": true, "paginator": paginator("Token", "Things")}}),
        json!({}),
    );
    let p = problems(bad);
    assert!(p.contains("paginator input member Token") && p.contains("paginator output member Things"), "{p}");
    let unread =
        model(json!({"Op": {"input": "In", "output": "Out", "paginator": paginator("NextToken", "Items")}}), json!({}));
    assert!(problems(unread).contains("not read"));
    let not_structure = model(json!({"Op": {"input": "In", "output": "L", "read": true}}), json!({}));
    assert!(problems(not_structure).contains("output L is not a structure"));
    let waiter = json!({"W": {"operation": "Op", "delay": 1, "maxAttempts": 1,
        "acceptors": [{"matcher": "status", "expected": 200, "state": "success", "argument": "Items"}]}});
    let p = problems(model(json!({"Op": {"input": "In", "output": "Out"}}), waiter));
    assert!(p.contains("waiter W polls Op, which is not a read operation") && p.contains("with argument"), "{p}");
    let uncompiled = json!({"W": {"operation": "Op", "delay": 1, "maxAttempts": 1,
        "acceptors": [{"matcher": "pathAll", "expected": "x", "state": "success", "argument": "Items[0]"}]}});
    let mut m = model(json!({"Op": {"input": "In", "output": "Out", "read": true}}), uncompiled);
    assert_eq!(m.check(), Ok(()));
    assert!(m.compile().unwrap_err()[0].contains("Items[0]"));
}
