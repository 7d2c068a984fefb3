//! Reading one answer with a botocore waiter's acceptors (`botocore/waiter.py`); the
//! caller polls on its own schedule and asks [`waiter_state`] after each answer.

use serde_json::Value;

use super::model::{AcceptorState, Matcher, Waiter};
use super::search::json_eq;

/// What one answer means for a wait.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WaitState {
    /// Done: an acceptor in state `success` matched.
    Success,
    /// It will not happen: a `failure` acceptor matched, or the answer is an error no
    /// acceptor expects. `reason` says which, as botocore does.
    Failure {
        /// Which acceptor matched, or the error answered.
        reason: String,
    },
    /// Not yet: a `retry` acceptor matched, or none did and the answer is no error.
    Retry,
}

/// The state of the wait after one answer of the waiter's operation: `reply` is the
/// parsed output ([`super::parse_response`]) or the error code of an error answer,
/// `status` its HTTP status. The acceptors are tried in order and the first that matches
/// decides: `path` (the argument's value equals `expected`), `pathAll` / `pathAny` (the
/// argument gives a non-empty list of which all / any element equals `expected`; never
/// on an error), `status`, `error` (`true`: any error, `false`: none, else that code).
pub fn waiter_state(waiter: &Waiter, status: u16, reply: Result<&Value, &str>) -> WaitState {
    for a in &waiter.acceptors {
        let matched = match (a.matcher, reply) {
            (Matcher::Status, _) => a.expected.as_u64() == Some(u64::from(status)),
            (Matcher::Error, Err(code)) => match &a.expected {
                Value::Bool(any) => *any,
                expected => expected.as_str() == Some(code),
            },
            (Matcher::Error, Ok(_)) => a.expected == Value::Bool(false),
            (Matcher::Path | Matcher::PathAll | Matcher::PathAny, Err(_)) => false,
            (matcher, Ok(output)) => {
                // Compiled when the model loads; a waiter built otherwise is compiled here.
                let parsed;
                let expression = match (&a.compiled, &a.argument) {
                    (Some(e), _) => e,
                    (None, Some(text)) => match super::search::Expression::parse(text) {
                        Ok(e) => {
                            parsed = e;
                            &parsed
                        }
                        Err(_) => continue,
                    },
                    (None, None) => continue,
                };
                let found = expression.search(output);
                match (matcher, &found) {
                    (Matcher::Path, found) => json_eq(found, &a.expected),
                    (Matcher::PathAll, Value::Array(items)) => {
                        !items.is_empty() && items.iter().all(|i| json_eq(i, &a.expected))
                    }
                    (Matcher::PathAny, Value::Array(items)) => items.iter().any(|i| json_eq(i, &a.expected)),
                    _ => false,
                }
            }
        };
        if matched {
            return match a.state {
                AcceptorState::Success => WaitState::Success,
                AcceptorState::Retry => WaitState::Retry,
                AcceptorState::Failure => {
                    WaitState::Failure { reason: explain(a.matcher, a.argument.as_deref(), &a.expected) }
                }
            };
        }
    }
    match reply {
        Err(code) => WaitState::Failure { reason: format!("an error no acceptor expects ({code})") },
        Ok(_) => WaitState::Retry,
    }
}

/// botocore's explanation of a matched acceptor.
fn explain(matcher: Matcher, argument: Option<&str>, expected: &Value) -> String {
    let arg = argument.unwrap_or_default();
    let shown = match expected {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    match matcher {
        Matcher::Path => format!("{arg} is {shown}"),
        Matcher::PathAll => format!("every {arg} is {shown}"),
        Matcher::PathAny => format!("some {arg} is {shown}"),
        Matcher::Status => format!("HTTP status {shown}"),
        Matcher::Error => format!("error {shown}"),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::models;
    use super::*;

    fn waiter(service: &str, name: &str) -> &'static Waiter {
        models().service(service).unwrap().waiter(name).unwrap_or_else(|| panic!("{service} {name}"))
    }

    #[test]
    fn stack_delete_complete() {
        let w = waiter("cloudformation", "StackDeleteComplete");
        assert_eq!((w.operation.as_str(), w.delay, w.max_attempts), ("DescribeStacks", 30, 120));
        let stacks =
            |states: &[&str]| json!({"Stacks": states.iter().map(|s| json!({"StackStatus": s})).collect::<Vec<_>>()});
        assert_eq!(waiter_state(w, 200, Ok(&stacks(&["DELETE_COMPLETE"]))), WaitState::Success);
        assert_eq!(waiter_state(w, 200, Ok(&stacks(&["DELETE_IN_PROGRESS"]))), WaitState::Retry);
        assert_eq!(waiter_state(w, 200, Ok(&stacks(&[]))), WaitState::Retry, "pathAll needs a non-empty list");
        assert_eq!(waiter_state(w, 200, Ok(&json!({}))), WaitState::Retry);
        assert_eq!(
            waiter_state(w, 200, Ok(&stacks(&["DELETE_FAILED"]))),
            WaitState::Failure { reason: "some Stacks[].StackStatus is DELETE_FAILED".into() }
        );
        assert_eq!(waiter_state(w, 400, Err("ValidationError")), WaitState::Success, "the stack is gone");
        assert_eq!(
            waiter_state(w, 400, Err("Throttling")),
            WaitState::Failure { reason: "an error no acceptor expects (Throttling)".into() }
        );
    }

    #[test]
    fn instance_terminated_reads_nested_lists() {
        let w = waiter("ec2", "InstanceTerminated");
        let reservations = |states: &[&[&str]]| {
            json!({"Reservations": states.iter().map(|r| json!({"Instances":
                r.iter().map(|s| json!({"State": {"Name": s}})).collect::<Vec<_>>()})).collect::<Vec<_>>()})
        };
        assert_eq!(waiter_state(w, 200, Ok(&reservations(&[&["terminated"], &["terminated"]]))), WaitState::Success);
        assert_eq!(waiter_state(w, 200, Ok(&reservations(&[&["terminated"], &["shutting-down"]]))), WaitState::Retry);
        assert!(matches!(waiter_state(w, 200, Ok(&reservations(&[&["stopping"]]))), WaitState::Failure { .. }));
        assert!(matches!(waiter_state(w, 400, Err("InvalidInstanceID.NotFound")), WaitState::Failure { .. }));
    }

    #[test]
    fn nat_gateway_deleted_accepts_not_found() {
        let w = waiter("ec2", "NatGatewayDeleted");
        assert_eq!(waiter_state(w, 200, Ok(&json!({"NatGateways": [{"State": "deleted"}]}))), WaitState::Success);
        assert_eq!(waiter_state(w, 200, Ok(&json!({"NatGateways": [{"State": "deleting"}]}))), WaitState::Retry);
        assert_eq!(waiter_state(w, 400, Err("NatGatewayNotFound")), WaitState::Success);
    }

    #[test]
    fn stack_create_complete_and_every_kept_waiter_compiles() {
        let w = waiter("cloudformation", "StackCreateComplete");
        let one = |s: &str| json!({"Stacks": [{"StackStatus": s}]});
        assert_eq!(waiter_state(w, 200, Ok(&one("CREATE_COMPLETE"))), WaitState::Success);
        assert_eq!(waiter_state(w, 200, Ok(&one("CREATE_IN_PROGRESS"))), WaitState::Retry);
        assert_eq!(waiter_state(w, 200, Ok(&one("ROLLBACK_IN_PROGRESS"))), WaitState::Retry);
        assert!(matches!(waiter_state(w, 200, Ok(&one("ROLLBACK_COMPLETE"))), WaitState::Failure { .. }));
        assert!(matches!(waiter_state(w, 400, Err("ValidationError")), WaitState::Failure { .. }));
        let names: Vec<(String, &str)> =
            models().services().flat_map(|s| s.waiters().map(move |(n, _)| (s.prefix.clone(), n))).collect();
        assert_eq!(
            names,
            [
                ("cloudformation".to_string(), "StackCreateComplete"),
                ("cloudformation".to_string(), "StackDeleteComplete"),
                ("ec2".to_string(), "InstanceTerminated"),
                ("ec2".to_string(), "NatGatewayDeleted"),
            ]
        );
        for s in models().services() {
            for (_, w) in s.waiters() {
                assert!(s.reads(&w.operation));
                for a in &w.acceptors {
                    assert_eq!(a.argument.is_some(), a.compiled.is_some());
                }
            }
        }
    }

    #[test]
    fn status_and_error_matchers() {
        // A waiter of botocore's shape built here: VpcExists (status 200, or retry on NotFound).
        let w: Waiter = serde_json::from_value(json!({"operation": "DescribeVpcs", "delay": 1, "maxAttempts": 5,
            "acceptors": [{"matcher": "status", "expected": 200, "state": "success"},
                          {"matcher": "error", "expected": "InvalidVpcID.NotFound", "state": "retry"},
                          {"matcher": "error", "expected": true, "state": "failure"}]}))
        .unwrap();
        assert_eq!(waiter_state(&w, 200, Ok(&json!({}))), WaitState::Success);
        assert_eq!(waiter_state(&w, 400, Err("InvalidVpcID.NotFound")), WaitState::Retry);
        assert_eq!(waiter_state(&w, 400, Err("Other")), WaitState::Failure { reason: "error true".into() });
        // Built outside the model (not compiled at load): its arguments are read here.
        let w: Waiter = serde_json::from_value(json!({"operation": "DescribeVpcs", "delay": 1, "maxAttempts": 5,
            "acceptors": [{"matcher": "path", "argument": "length(Vpcs[]) > `0`", "expected": true, "state": "success"},
                          {"matcher": "pathAny", "argument": "Vpcs[?bad]", "expected": "x", "state": "failure"}]}))
        .unwrap();
        assert_eq!(waiter_state(&w, 200, Ok(&json!({"Vpcs": [{}]}))), WaitState::Success);
        assert_eq!(
            waiter_state(&w, 200, Ok(&json!({"Vpcs": []}))),
            WaitState::Retry,
            "an unreadable argument matches nothing"
        );
    }
}
